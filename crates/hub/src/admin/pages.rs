//! The admin page's handlers and the views their templates render. Every value is
//! shown through askama's HTML escaping; the views hold display text only.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{html, redirect, refusal};
use crate::access::http::{SessionCsrf, SessionId};
use crate::access::permissions::rule_for;
use crate::access::{Principal, Role};
use crate::audit::{AuditEntry, with_entry};
use crate::http::{ApiError, AppState};
use crate::store::jobs::Job;
use crate::store::sync_runs::SyncRun;
use crate::types::UtcTime;

/// Rows a list shows.
pub(super) const LIST_LIMIT: u32 = 50;
/// Runs the dashboard shows.
const DASHBOARD_RUNS: u32 = 10;
/// Longest address the stock lookup takes, in characters (as the API's resolver).
const MAX_ADDRESS_CHARS: usize = 512;

/// Who looks at the page: the caller the authorization layer found, and the CSRF token
/// of its session (empty for a bearer caller, whose requests need none).
pub struct Viewer {
    /// `alice (admin)`.
    pub label: String,
    role: Role,
    /// The caller, as the audit log and the records it creates name it.
    principal: Principal,
    /// The session's CSRF token, sent by htmx in `X-CSRF-Token`.
    pub csrf: String,
}

impl Viewer {
    /// Whether the viewer's role may `method` the route `path` (a template).
    pub fn may(&self, method: &str, path: &str) -> bool {
        rule_for(method, path).is_some_and(|r| r.allow.permits(self.role))
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Response> {
        let Some(principal) = parts.extensions.get::<Principal>().cloned() else {
            return Err(refusal(&parts.headers, ApiError::Unauthorized));
        };
        let csrf = parts
            .extensions
            .get::<SessionCsrf>()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        let role = principal.role();
        let who = match &principal {
            Principal::User { username, .. } => username.clone(),
            Principal::ApiKey { name, .. } => format!("key {name}"),
            Principal::AdminToken => "admin token".to_owned(),
            Principal::Open => "open".to_owned(),
        };
        Ok(Viewer {
            label: format!("{who} ({role})"),
            role,
            principal,
            csrf,
        })
    }
}

pub(super) fn opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

pub(super) fn when(t: UtcTime) -> String {
    // Second precision reads well in a table; the API gives the microseconds.
    let text = t.to_string();
    match text.split_once('.') {
        Some((head, _)) => format!("{head}Z"),
        None => text,
    }
}

pub(super) fn opt_when(t: Option<UtcTime>) -> String {
    t.map(when).unwrap_or_default()
}

/// The error page (and, in the flash area, the htmx fragment).
#[derive(Template)]
#[template(path = "admin/error.html")]
pub struct ErrorPage {
    /// The HTTP status.
    pub status: u16,
    /// The machine-readable code.
    pub code: &'static str,
    /// What went wrong.
    pub detail: String,
}

/// A message swapped into the page's flash area.
#[derive(Template)]
#[template(path = "admin/flash.html")]
pub struct Flash {
    /// `error` or `ok`.
    pub kind: &'static str,
    /// The message.
    pub message: String,
}

impl Flash {
    /// The flash of an error page.
    pub fn error(page: &ErrorPage) -> Flash {
        Flash {
            kind: "error",
            message: format!("{} ({}): {}", page.status, page.code, page.detail),
        }
    }
}

// ---- Sign in / sign out ----------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    error: String,
    username: String,
}

/// `GET /admin/login`.
pub async fn login_form() -> Response {
    html(
        StatusCode::OK,
        &LoginPage {
            error: String::new(),
            username: String::new(),
        },
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/login`: the API's login; on success the session cookie and a redirect
/// to the dashboard, otherwise the form again with the reason and the login's status.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    match crate::access::http::open_session(&state, &headers, &form.username, &form.password).await
    {
        Ok((_, cookie)) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response
                .headers_mut()
                .insert(header::LOCATION, header::HeaderValue::from_static("/admin"));
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => {
            let (status, _) = e.status_and_code();
            if status.is_server_error() {
                return refusal(&headers, e);
            }
            let mut response = html(
                status,
                &LoginPage {
                    error: e.to_string(),
                    username: form.username.chars().take(256).collect(),
                },
            );
            if let ApiError::TooManyRequests {
                retry_after_secs, ..
            } = e
            {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            response
        }
    }
}

/// `POST /admin/logout`: ends the session, clears its cookie, back to the sign-in page.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<axum::Extension<SessionId>>,
) -> Response {
    let mut response = redirect(&headers, super::LOGIN_PATH);
    if let Some(axum::Extension(SessionId(id))) = session {
        match crate::access::http::close_session(&state, &id).await {
            Ok(clear) => {
                response.headers_mut().insert(header::SET_COOKIE, clear);
            }
            Err(e) => return refusal(&headers, e),
        }
    }
    response
}

// ---- Dashboard -------------------------------------------------------------------

/// A system as the dashboard shows it (never its settings or secrets).
pub struct SystemView {
    name: String,
    kind: String,
    status: String,
    last_test: String,
    last_success: String,
    last_error: String,
}

/// A sync run in a list, or on its page.
pub struct RunView {
    id: String,
    kind: String,
    status: String,
    system: String,
    created: String,
    started: String,
    finished: String,
    duration_ms: String,
    read: i64,
    created_items: i64,
    updated: i64,
    unchanged: i64,
    failed: i64,
    stock_written: i64,
    calls: i64,
    retries: i64,
    rate_limited: i64,
    error: String,
    /// Pending or processing: its page polls its progress.
    active: bool,
}

impl From<SyncRun> for RunView {
    fn from(r: SyncRun) -> Self {
        let status = r.status.as_str().to_owned();
        RunView {
            active: status == "pending" || status == "processing",
            id: r.id,
            kind: r.kind,
            status,
            system: r.system_id.unwrap_or_default(),
            created: when(r.created_at),
            started: opt_when(r.started_at),
            finished: opt_when(r.finished_at),
            duration_ms: opt(r.duration_ms),
            read: r.counts.read,
            created_items: r.counts.created,
            updated: r.counts.updated,
            unchanged: r.counts.unchanged,
            failed: r.counts.failed,
            stock_written: r.counts.stock_written,
            calls: r.counts.calls,
            retries: r.counts.retries,
            rate_limited: r.counts.rate_limited,
            error: r.error_summary.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct Dashboard {
    viewer: Viewer,
    show_systems: bool,
    systems: Vec<SystemView>,
    job_counts: Vec<(String, i64)>,
    dead_letters: i64,
    runs: Vec<RunView>,
    show_instances: bool,
    instances: Vec<InstanceView>,
}

/// How long without a heartbeat an instance is still listed on the dashboard.
const INSTANCES_SEEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// A live instance as the dashboard shows it.
struct InstanceView {
    id: String,
    role: String,
    host: String,
    pid: i64,
    started: String,
    /// Milliseconds since its last heartbeat.
    heartbeat_ago_ms: i64,
    /// The number of instances whose share of the supplier budget it applies.
    budget_share: i32,
}

/// `GET /admin`: systems and their status, the queue by status, the latest runs, and the
/// instances sharing the database.
pub async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Response {
    let result: Result<Dashboard, ApiError> = async {
        // The registry is shown to whom the API shows it.
        let show_systems = viewer.may("GET", "/api/v1/systems");
        let systems = if show_systems {
            crate::store::systems::list(&state.db, None, None, false, None, 100)
                .await?
                .into_iter()
                .map(|s| SystemView {
                    name: s.name,
                    kind: s.kind,
                    status: s.status,
                    last_test: opt_when(s.last_test_at),
                    last_success: opt_when(s.last_success_at),
                    last_error: s.last_error.unwrap_or_default(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let job_counts = crate::store::jobs::count_jobs_by_status(state.orders.db()).await?;
        let dead_letters = job_counts
            .iter()
            .find(|(s, _)| s == "dead")
            .map_or(0, |(_, n)| *n);
        let runs = crate::store::sync_runs::list_runs(&state.db, None, DASHBOARD_RUNS)
            .await?
            .into_iter()
            .map(RunView::from)
            .collect();
        // Who sees the metrics sees the instances behind them.
        let show_instances = viewer.may("GET", "/metrics");
        let instances = if show_instances {
            let now = crate::types::UtcTime::now();
            let within = i64::try_from(INSTANCES_SEEN_WITHIN.as_micros()).unwrap_or(i64::MAX);
            let since = crate::types::UtcTime::from_micros(now.as_micros().saturating_sub(within))
                .unwrap_or(now);
            crate::store::instances::live(&state.db, since)
                .await?
                .into_iter()
                .map(|i| InstanceView {
                    heartbeat_ago_ms: now.millis_since(i.heartbeat_at).max(0),
                    started: when(i.started_at),
                    id: i.id,
                    role: i.role,
                    host: i.host,
                    pid: i.pid,
                    budget_share: i.budget_share,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Dashboard {
            viewer,
            show_systems,
            systems,
            job_counts,
            dead_letters,
            runs,
            show_instances,
            instances,
        })
    }
    .await;
    page(&headers, result)
}

/// The page, or the refusal of its error.
pub(super) fn page<T: Template>(headers: &HeaderMap, result: Result<T, ApiError>) -> Response {
    match result {
        Ok(t) => html(StatusCode::OK, &t),
        Err(e) => refusal(headers, e),
    }
}

// ---- Sync runs -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/sync_runs.html")]
struct SyncRunsPage {
    viewer: Viewer,
    can_start: bool,
    /// Unarchived supplier systems: (id, name).
    suppliers: Vec<(String, String)>,
    runs: Vec<RunView>,
    next: String,
}

/// The cursor of a list page (`?after=`), as the API reads it.
pub(super) fn after(query: &HashMap<String, String>) -> Result<Option<String>, ApiError> {
    match query.get("after") {
        None => Ok(None),
        Some(a) if a.is_empty() || a.len() > 100 || a.chars().any(char::is_control) => Err(
            ApiError::InvalidParameter("after must be an id from the previous page".to_owned()),
        ),
        Some(a) => Ok(Some(a.clone())),
    }
}

/// `GET /admin/sync-runs`: the runs, newest first, and the "run now" form.
pub async fn sync_runs(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<SyncRunsPage, ApiError> = async {
        let cursor = after(&query)?;
        let can_start = viewer.may("POST", "/api/v1/sync-runs");
        let suppliers = if can_start {
            crate::store::systems::list(&state.db, Some("supplier"), None, false, None, 100)
                .await?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect()
        } else {
            Vec::new()
        };
        let mut runs =
            crate::store::sync_runs::list_runs(&state.db, cursor.as_deref(), LIST_LIMIT + 1)
                .await?;
        let next = if runs.len() > LIST_LIMIT as usize {
            runs.truncate(LIST_LIMIT as usize);
            runs.last().map(|r| r.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(SyncRunsPage {
            viewer,
            can_start,
            suppliers,
            runs: runs.into_iter().map(RunView::from).collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

/// The "run now" form.
#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    system_id: String,
    #[serde(default)]
    kind: Option<String>,
}

/// `POST /admin/sync-runs`: starts a run as `POST /api/v1/sync-runs` does, then shows it.
pub async fn start_sync_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Response {
    let request = crate::systems::runs::StartRun {
        system_id: form.system_id,
        kind: form.kind.filter(|k| !k.is_empty()),
        product_codes: Vec::new(),
        prices: None,
        stock: None,
    };
    match crate::systems::runs::start_run(&state, request).await {
        Ok(started) => {
            let to = format!("/admin/sync-runs/{}", started.id);
            let entry = AuditEntry::new(
                "sync_run.start",
                &started.id,
                None::<&crate::systems::runs::StartedRun>,
                Some(&started),
            );
            // 200 so that the audit layer records it; htmx follows `HX-Redirect`.
            let mut response = html(
                StatusCode::OK,
                &Flash {
                    kind: "ok",
                    message: format!("started {}", started.id),
                },
            );
            if let Ok(v) = header::HeaderValue::from_str(&to) {
                response.headers_mut().insert("hx-redirect", v);
            }
            with_entry(response, entry)
        }
        Err(e) => refusal(&headers, e),
    }
}

#[derive(Template)]
#[template(path = "admin/sync_run.html")]
struct SyncRunPage {
    viewer: Viewer,
    run: RunView,
    failures: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin/progress.html")]
struct ProgressFragment {
    run: RunView,
}

async fn find_run(state: &AppState, id: &str) -> Result<SyncRun, ApiError> {
    crate::store::sync_runs::get_run(&state.db, id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no sync run {:?}",
                id.chars().take(64).collect::<String>()
            ))
        })
}

/// `GET /admin/sync-runs/{id}`: a run, its counts and failures; while it runs, its
/// progress refreshes every 2 s.
pub async fn sync_run(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result: Result<SyncRunPage, ApiError> = async {
        let run = find_run(&state, &id).await?;
        let failures = crate::store::sync_runs::list_failures(&state.db, &run.id, 200)
            .await?
            .into_iter()
            .map(|f| (f.item, f.stage, f.error_kind, f.detail))
            .collect();
        Ok(SyncRunPage {
            viewer,
            run: run.into(),
            failures,
        })
    }
    .await;
    page(&headers, result)
}

/// `GET /admin/sync-runs/{id}/progress`: the progress fragment htmx polls.
pub async fn sync_run_progress(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match find_run(&state, &id).await {
        Ok(run) => html(StatusCode::OK, &ProgressFragment { run: run.into() }),
        Err(e) => refusal(&headers, e),
    }
}

// ---- The queue and dead letters --------------------------------------------------

/// A job in the queue's table.
pub struct JobView {
    id: String,
    kind: String,
    status: String,
    attempts: String,
    run_at: String,
    last_error: String,
    payload: String,
    /// A dead job the viewer may redrive.
    redrivable: bool,
}

impl JobView {
    fn of(job: Job, may_redrive: bool) -> JobView {
        let status = job.status.as_str().to_owned();
        JobView {
            redrivable: may_redrive && status == "dead",
            id: job.id,
            kind: job.kind,
            attempts: format!("{} / {}", job.attempts, job.max_attempts),
            run_at: when(job.run_at),
            last_error: job.last_error.unwrap_or_default(),
            payload: job.payload.to_string(),
            status,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct JobsPage {
    viewer: Viewer,
    status: String,
    statuses: Vec<&'static str>,
    jobs: Vec<JobView>,
    next: String,
}

#[derive(Template)]
#[template(path = "admin/job_row.html")]
struct JobRow {
    job: JobView,
}

/// `GET /admin/jobs`: the outbox, newest first; `?status=dead` for the dead letters.
pub async fn jobs(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<JobsPage, ApiError> = async {
        let status = crate::http::pagination::status_param::<crate::status::JobStatus>(
            &query,
            "status",
            crate::status::JobStatus::names,
        )?;
        let cursor = after(&query)?;
        let may_redrive = viewer.may("POST", "/api/v1/jobs/{id}/redrive");
        let mut jobs = crate::store::jobs::list_jobs(
            state.orders.db(),
            status.map(crate::status::JobStatus::as_str),
            cursor.as_deref(),
            LIST_LIMIT + 1,
        )
        .await?;
        let next = if jobs.len() > LIST_LIMIT as usize {
            jobs.truncate(LIST_LIMIT as usize);
            jobs.last().map(|j| j.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(JobsPage {
            viewer,
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            statuses: vec!["queued", "running", "done", "dead"],
            jobs: jobs
                .into_iter()
                .map(|j| JobView::of(j, may_redrive))
                .collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

/// `POST /admin/jobs/{id}/redrive`: as `POST /api/v1/jobs/{id}/redrive`; answers the
/// job's row as it is now.
pub async fn redrive_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match crate::http::jobs::redrive_dead_job(&state, &id).await {
        Ok(job) => {
            let entry = AuditEntry::new("job.redrive", &job.id, None::<&Job>, Some(&job));
            with_entry(
                html(
                    StatusCode::OK,
                    &JobRow {
                        job: JobView::of(job, false),
                    },
                ),
                entry,
            )
        }
        Err(e) => refusal(&headers, e),
    }
}

// ---- Orders ----------------------------------------------------------------------

/// An order in the list.
pub struct OrderRow {
    id: String,
    number: String,
    status: String,
    supplier_status: String,
    retail_order_no: String,
    county: String,
    total: String,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage {
    viewer: Viewer,
    orders: Vec<OrderRow>,
    next: String,
}

/// `GET /admin/orders`: orders, newest first, with their supplier status.
pub async fn orders(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<OrdersPage, ApiError> = async {
        let cursor = after(&query)?;
        let mut orders = crate::store::orders::list_orders(
            state.orders.db(),
            None,
            cursor.as_deref(),
            LIST_LIMIT + 1,
        )
        .await?;
        let next = if orders.len() > LIST_LIMIT as usize {
            orders.truncate(LIST_LIMIT as usize);
            orders.last().map(|o| o.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(OrdersPage {
            viewer,
            orders: orders
                .into_iter()
                .map(|o| OrderRow {
                    number: o.order_number,
                    status: o.status.as_str().to_owned(),
                    supplier_status: o.supplier_status.as_str().to_owned(),
                    retail_order_no: o.retail_order_no.unwrap_or_default(),
                    county: o.county_code,
                    total: o.total_amount.to_string(),
                    created: when(o.created_at),
                    id: o.id,
                })
                .collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage {
    viewer: Viewer,
    order: OrderRow,
    supplier_message: String,
    consignee: String,
    address: String,
    hold_expires: String,
    /// (line, product, source, quantity, price, actual price)
    lines: Vec<(i64, String, String, i64, String, String)>,
    /// (product, county, quantity, status, expires)
    holds: Vec<(String, String, i64, String, String)>,
    jobs: Vec<JobView>,
    /// (when, system, endpoint, attempt, status, outcome, latency ms)
    calls: Vec<(String, String, String, String, String, String, i64)>,
}

/// `GET /admin/orders/{id}`: an order with its lines, holds, jobs and supplier calls.
pub async fn order(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result: Result<OrderPage, ApiError> = async {
        let view = state.orders.view(&id).await?;
        let may_redrive = viewer.may("POST", "/api/v1/jobs/{id}/redrive");
        let jobs = crate::store::jobs::jobs_of_order(state.orders.db(), &id)
            .await?
            .into_iter()
            .map(|j| JobView::of(j, may_redrive))
            .collect();
        let calls = crate::store::calls::calls_of_order(state.orders.db(), &id, None, 200)
            .await?
            .into_iter()
            .map(|c| {
                let c = c.call;
                (
                    when(c.created_at),
                    c.system,
                    c.endpoint,
                    opt(c.attempt),
                    opt(c.status),
                    c.outcome,
                    c.latency_ms,
                )
            })
            .collect();
        let o = view.order;
        Ok(OrderPage {
            viewer,
            supplier_message: o.supplier_message.clone().unwrap_or_default(),
            consignee: format!("{} {}", o.consignee_name, o.consignee_mobile),
            address: format!(
                "{} {} {} {} {}",
                o.province,
                o.city,
                o.district,
                o.town.clone().unwrap_or_default(),
                o.detail_address
            ),
            hold_expires: when(o.hold_expires_at),
            order: OrderRow {
                number: o.order_number,
                status: o.status.as_str().to_owned(),
                supplier_status: o.supplier_status.as_str().to_owned(),
                retail_order_no: o.retail_order_no.unwrap_or_default(),
                county: o.county_code,
                total: o.total_amount.to_string(),
                created: when(o.created_at),
                id: o.id,
            },
            lines: view
                .lines
                .into_iter()
                .map(|l| {
                    (
                        l.line_no,
                        l.product_code,
                        l.source,
                        l.quantity,
                        l.retail_price.to_string(),
                        l.actual_price.to_string(),
                    )
                })
                .collect(),
            holds: view
                .holds
                .into_iter()
                .map(|h| {
                    (
                        h.product_code,
                        h.county_code,
                        h.quantity,
                        h.status.as_str().to_owned(),
                        when(h.expires_at),
                    )
                })
                .collect(),
            jobs,
            calls,
        })
    }
    .await;
    page(&headers, result)
}

// ---- Stock by address ------------------------------------------------------------

/// A piece of the address as typed: matched by the resolver or not.
pub struct Segment {
    text: String,
    /// The division it was read as, when matched: `310115 浦东新区 (full)`.
    matched: Option<String>,
}

/// A warehouse's stock of the product in the county.
pub struct LevelView {
    warehouse: String,
    grade: String,
    stock: i64,
    cut_time: String,
    eta: String,
}

#[derive(Template)]
#[template(path = "admin/stock.html")]
struct StockPage {
    viewer: Viewer,
    address: String,
    product: String,
    resolved: bool,
    code: String,
    level: String,
    names: String,
    flags: String,
    segments: Vec<Segment>,
    looked_up: bool,
    levels: Vec<LevelView>,
    /// Capacity and held of the product's pool in the county, when there is one.
    pool: String,
}

/// Splits `address` at the resolver's matched spans (byte offsets into it).
fn segments(address: &str, spans: &[region::Span]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut spans: Vec<_> = spans
        .iter()
        .filter(|s| s.field == region::Field::Text)
        .collect();
    spans.sort_by_key(|s| s.start);
    for s in spans {
        if s.start < at || s.end <= s.start {
            continue;
        }
        let (Some(before), Some(matched)) = (address.get(at..s.start), address.get(s.start..s.end))
        else {
            continue;
        };
        if !before.is_empty() {
            out.push(Segment {
                text: before.to_owned(),
                matched: None,
            });
        }
        let kind = serde_json::to_value(s.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push(Segment {
            text: matched.to_owned(),
            matched: Some(format!("{} {} ({kind})", s.code, s.name)),
        });
        at = s.end;
    }
    if let Some(rest) = address.get(at..)
        && !rest.is_empty()
    {
        out.push(Segment {
            text: rest.to_owned(),
            matched: None,
        });
    }
    out
}

/// `GET /admin/stock?address=&product=`: the resolver's answer for an address, its
/// matched pieces marked, and the product's stock in the county reached.
pub async fn stock(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<StockPage, ApiError> = async {
        let address = query.get("address").map(|a| a.trim()).unwrap_or_default();
        let product = query.get("product").map(|p| p.trim()).unwrap_or_default();
        if address.chars().count() > MAX_ADDRESS_CHARS || address.chars().any(char::is_control) {
            return Err(ApiError::InvalidParameter(format!(
                "address must be at most {MAX_ADDRESS_CHARS} characters, without control characters"
            )));
        }
        let mut page = StockPage {
            viewer,
            address: address.to_owned(),
            product: product.chars().take(64).collect(),
            resolved: false,
            code: String::new(),
            level: String::new(),
            names: String::new(),
            flags: String::new(),
            segments: Vec::new(),
            looked_up: false,
            levels: Vec::new(),
            pool: String::new(),
        };
        if address.is_empty() {
            return Ok(page);
        }
        let r = state.resolver.resolve(address);
        page.resolved = true;
        page.segments = segments(address, &r.spans);
        page.level = serde_json::to_value(r.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        page.names = [r.province, r.city, r.county]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        page.flags = [
            (r.ambiguous, "ambiguous"),
            (r.conflict, "conflict: review it"),
        ]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect::<Vec<_>>()
        .join(", ");
        let county = r.code.map(|c| c.to_string());
        page.code = county.clone().unwrap_or_default();
        if product.is_empty() {
            return Ok(page);
        }
        let code = haier::ProductCode::parse(product).map_err(|e| {
            ApiError::InvalidParameter(format!("product is not a product code: {e}"))
        })?;
        let Some(county) = county.filter(|_| page.level == "county") else {
            return Ok(page);
        };
        page.looked_up = true;
        page.levels = crate::store::stock::stock_levels_of_product(&state.db, code.as_str())
            .await?
            .into_iter()
            .filter(|l| l.county_code == county)
            .map(|l| LevelView {
                warehouse: l.warehouse_code,
                grade: l.warehouse_grade,
                stock: l.stock,
                cut_time: l.cut_time.unwrap_or_default(),
                eta: l.eta.unwrap_or_default(),
            })
            .collect();
        if let Some(pool) =
            crate::store::holds::get_pool(state.orders.db(), code.as_str(), &county).await?
        {
            page.pool = format!(
                "capacity {}, held {}, refreshed {}",
                pool.capacity,
                pool.held,
                when(pool.refreshed_at)
            );
        }
        Ok(page)
    }
    .await;
    page(&headers, result)
}

// ---- Administration: users, API keys, the audit log ------------------------------

/// The role names, for the forms' choices.
fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}

/// A form's field that is refused: 422 `invalid_body`, as the API answers a bad field.
fn invalid(detail: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_body",
        detail,
    }
}

/// A role chosen in a form.
fn role_field(text: &str) -> Result<Role, ApiError> {
    text.trim()
        .parse::<Role>()
        .map_err(|e| invalid(e.to_string()))
}

/// A `true`/`false` field of a form.
fn flag_field(name: &str, text: &str) -> Result<bool, ApiError> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(invalid(format!(
            "{name} must be true or false, got {:?}",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// A 200 answer to an action that moves the page elsewhere: a flash message, and
/// `HX-Redirect` to `to`, which htmx follows (200, so that the audit layer records it).
fn done_and_go(message: String, to: &str) -> Response {
    let mut response = html(
        StatusCode::OK,
        &Flash {
            kind: "ok",
            message,
        },
    );
    if let Ok(v) = header::HeaderValue::from_str(to) {
        response.headers_mut().insert("hx-redirect", v);
    }
    response
}

/// A user as the page lists it (never its password hash).
pub struct UserView {
    id: String,
    username: String,
    role: String,
    disabled: bool,
    locked_until: String,
    last_login: String,
    created: String,
    /// The viewer may change it (role, disabled).
    editable: bool,
}

impl UserView {
    fn of(u: crate::store::access::User, editable: bool) -> UserView {
        UserView {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled,
            locked_until: opt_when(u.locked_until),
            last_login: opt_when(u.last_login_at),
            created: when(u.created_at),
            editable,
        }
    }

    /// The roles the user may be given.
    pub fn roles(&self) -> Vec<&'static str> {
        role_names()
    }

    /// Whether the user has the role `name`.
    pub fn is_role(&self, name: &str) -> bool {
        self.role == name
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    viewer: Viewer,
    may_create: bool,
    roles: Vec<&'static str>,
    users: Vec<UserView>,
    next: String,
}

#[derive(Template)]
#[template(path = "admin/user_row.html")]
struct UserRow {
    u: UserView,
}

/// `GET /admin/users`: users by creation, with the forms to create one and to change
/// one's role or disable it (admin).
pub async fn users(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<UsersPage, ApiError> = async {
        let cursor = after(&query)?;
        let may_create = viewer.may("POST", "/api/v1/users");
        let may_edit = viewer.may("PATCH", "/api/v1/users/{id}");
        let mut users =
            crate::store::access::list_users(&state.db, cursor.as_deref(), LIST_LIMIT + 1).await?;
        let next = if users.len() > LIST_LIMIT as usize {
            users.truncate(LIST_LIMIT as usize);
            users.last().map(|u| u.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(UsersPage {
            viewer,
            may_create,
            roles: role_names(),
            users: users
                .into_iter()
                .map(|u| UserView::of(u, may_edit))
                .collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

/// The "new user" form.
#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/users`: creates a user as `POST /api/v1/users` does (same checks, same
/// audit entry), then reloads the list. The password is never shown back.
pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NewUserForm>,
) -> Response {
    let result = async {
        let role = role_field(&form.role)?;
        crate::access::http::add_user(&state, &form.username, &form.password, role).await
    }
    .await;
    match result {
        Ok((user, entry)) => with_entry(
            done_and_go(
                format!("created the user {} ({})", user.username, user.role),
                "/admin/users",
            ),
            entry,
        ),
        Err(e) => refusal(&headers, e),
    }
}

/// A change of a user: what is given changes.
#[derive(Deserialize)]
pub struct UserChangeForm {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<String>,
}

/// `POST /admin/users/{id}`: changes a user's role or disables or enables it, as
/// `PATCH /api/v1/users/{id}` does (its sessions end); answers the user's row.
pub async fn update_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<UserChangeForm>,
) -> Response {
    let result = async {
        let role = form.role.as_deref().map(role_field).transpose()?;
        let disabled = form
            .disabled
            .as_deref()
            .map(|d| flag_field("disabled", d))
            .transpose()?;
        if role.is_none() && disabled.is_none() {
            return Err(invalid(
                "give a role, or disabled (true or false)".to_owned(),
            ));
        }
        let change = crate::access::http::UserChange {
            role,
            disabled,
            password: None,
        };
        crate::access::http::change_user(&state, &id, change).await
    }
    .await;
    match result {
        Ok((user, entry)) => with_entry(
            html(
                StatusCode::OK,
                &UserRow {
                    u: UserView::of(user, true),
                },
            ),
            entry,
        ),
        Err(e) => refusal(&headers, e),
    }
}

/// An API key as the page lists it: its prefix, never its secret.
pub struct KeyView {
    id: String,
    name: String,
    prefix: String,
    role: String,
    created_by: String,
    created: String,
    last_used: String,
    revoked: String,
    /// Not revoked, and the viewer may revoke it.
    revocable: bool,
}

impl KeyView {
    fn of(k: crate::store::access::ApiKey, may_revoke: bool) -> KeyView {
        KeyView {
            revocable: may_revoke && k.revoked_at.is_none(),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            created_by: k.created_by.unwrap_or_default(),
            created: when(k.created_at),
            last_used: opt_when(k.last_used_at),
            revoked: opt_when(k.revoked_at),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct KeysPage {
    viewer: Viewer,
    may_create: bool,
    roles: Vec<&'static str>,
    keys: Vec<KeyView>,
    next: String,
}

#[derive(Template)]
#[template(path = "admin/key_row.html")]
struct KeyRow {
    k: KeyView,
}

/// A key just created, its secret shown this once: the fragment htmx swaps in.
#[derive(Template)]
#[template(path = "admin/key_created.html")]
struct KeyCreated {
    name: String,
    role: String,
    key: String,
}

/// A key just created, as a whole page (for a request not made by htmx).
#[derive(Template)]
#[template(path = "admin/key_created_page.html")]
struct KeyCreatedPage {
    viewer: Viewer,
    name: String,
    role: String,
    key: String,
}

/// `GET /admin/api-keys`: API keys by creation, with the form to create one and their
/// revocation (admin).
pub async fn api_keys(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<KeysPage, ApiError> = async {
        let cursor = after(&query)?;
        let may_create = viewer.may("POST", "/api/v1/api-keys");
        let may_revoke = viewer.may("DELETE", "/api/v1/api-keys/{id}");
        let mut keys =
            crate::store::access::list_api_keys(&state.db, cursor.as_deref(), LIST_LIMIT + 1)
                .await?;
        let next = if keys.len() > LIST_LIMIT as usize {
            keys.truncate(LIST_LIMIT as usize);
            keys.last().map(|k| k.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(KeysPage {
            viewer,
            may_create,
            roles: role_names(),
            keys: keys
                .into_iter()
                .map(|k| KeyView::of(k, may_revoke))
                .collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

/// The "new API key" form.
#[derive(Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/api-keys`: creates a key as `POST /api/v1/api-keys` does (same checks,
/// same audit entry, created by the viewer) and shows its secret this once.
pub async fn create_api_key(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<NewKeyForm>,
) -> Response {
    let result = async {
        let name = crate::input::Text::<1, 100>::parse(form.name)
            .map_err(|e| invalid(format!("name: {e}")))?;
        let role = role_field(&form.role)?;
        crate::access::http::issue_api_key(&state, &viewer.principal, &name, role).await
    }
    .await;
    match result {
        Ok((created, entry)) => {
            let (name, role, key) = (created.api_key.name, created.api_key.role, created.key);
            let response = if super::is_htmx(&headers) {
                html(StatusCode::OK, &KeyCreated { name, role, key })
            } else {
                html(
                    StatusCode::OK,
                    &KeyCreatedPage {
                        viewer,
                        name,
                        role,
                        key,
                    },
                )
            };
            with_entry(response, entry)
        }
        Err(e) => refusal(&headers, e),
    }
}

/// `POST /admin/api-keys/{id}/revoke`: revokes a key as `DELETE /api/v1/api-keys/{id}`
/// does; answers its row.
pub async fn revoke_api_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match crate::access::http::revoke_key(&state, &id).await {
        Ok((key, entry)) => with_entry(
            html(
                StatusCode::OK,
                &KeyRow {
                    k: KeyView::of(key, false),
                },
            ),
            entry,
        ),
        Err(e) => refusal(&headers, e),
    }
}

/// An audit entry as the page lists it.
pub struct AuditView {
    at: String,
    actor: String,
    role: String,
    action: String,
    target: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin/audit_log.html")]
struct AuditPage {
    viewer: Viewer,
    actor: String,
    action: String,
    target: String,
    entries: Vec<AuditView>,
    next: String,
}

/// `GET /admin/audit-log?actor=&action=&target=`: the audit log, newest first (admin);
/// `action` matches a prefix, as in the API.
pub async fn audit_log(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<AuditPage, ApiError> = async {
        let cursor = after(&query)?;
        let field = |name: &str| -> Result<Option<String>, ApiError> {
            match query.get(name).map(|v| v.trim()) {
                None | Some("") => Ok(None),
                Some(v) if v.chars().count() > 200 || v.chars().any(char::is_control) => {
                    Err(ApiError::InvalidParameter(format!(
                        "{name} must be at most 200 characters, without control characters"
                    )))
                }
                Some(v) => Ok(Some(v.to_owned())),
            }
        };
        let filter = crate::store::audit::AuditFilter {
            actor: field("actor")?,
            action_prefix: field("action")?,
            target: field("target")?,
            since: None,
            until: None,
        };
        let mut entries =
            crate::store::audit::list(&state.db, &filter, cursor.as_deref(), LIST_LIMIT + 1)
                .await?;
        let next = if entries.len() > LIST_LIMIT as usize {
            entries.truncate(LIST_LIMIT as usize);
            entries.last().map(|e| e.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let json = |v: Option<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
        Ok(AuditPage {
            viewer,
            actor: filter.actor.clone().unwrap_or_default(),
            action: filter.action_prefix.clone().unwrap_or_default(),
            target: filter.target.clone().unwrap_or_default(),
            entries: entries
                .into_iter()
                .map(|e| AuditView {
                    at: when(e.occurred_at),
                    actor: e.actor,
                    role: e.role.unwrap_or_default(),
                    action: e.action,
                    target: e.target,
                    before: json(e.before_state),
                    after: json(e.after_state),
                })
                .collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

// ---- Schedules -------------------------------------------------------------------

/// A schedule as the page lists it.
pub struct ScheduleView {
    id: String,
    name: String,
    kind: String,
    system: String,
    cron: String,
    time_zone: String,
    enabled: bool,
    next_run: String,
    last_run: String,
    last_run_id: String,
    last_outcome: String,
    last_detail: String,
    /// The viewer may change it and run it now.
    editable: bool,
}

impl ScheduleView {
    fn of(s: crate::store::schedules::Schedule, editable: bool) -> ScheduleView {
        ScheduleView {
            id: s.id,
            name: s.name,
            kind: s.kind.as_str().to_owned(),
            system: s.system_id.unwrap_or_default(),
            cron: s.cron,
            time_zone: s.time_zone,
            enabled: s.enabled,
            next_run: opt_when(s.next_run_at),
            last_run: opt_when(s.last_run_at),
            last_run_id: s.last_run_id.unwrap_or_default(),
            last_outcome: s
                .last_outcome
                .map(|o| o.as_str().to_owned())
                .unwrap_or_default(),
            last_detail: s.last_detail.unwrap_or_default(),
            editable,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/schedules.html")]
struct SchedulesPage {
    viewer: Viewer,
    may_edit: bool,
    schedules: Vec<ScheduleView>,
}

#[derive(Template)]
#[template(path = "admin/schedule_row.html")]
struct ScheduleRow {
    s: ScheduleView,
}

/// Schedules the page lists, at most.
const SCHEDULES_SHOWN: u32 = 200;

/// `GET /admin/schedules`: every schedule with its cadence, next firing and the outcome
/// of its last; to whom may change them, the forms to edit the cron expression and time
/// zone, to enable or disable, and to run now.
pub async fn schedules(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Response {
    let result: Result<SchedulesPage, ApiError> = async {
        let may_edit = viewer.may("PUT", "/api/v1/schedules/{id}");
        let schedules =
            crate::store::schedules::list_schedules(&state.db, None, SCHEDULES_SHOWN).await?;
        Ok(SchedulesPage {
            viewer,
            may_edit,
            schedules: schedules
                .into_iter()
                .map(|s| ScheduleView::of(s, may_edit))
                .collect(),
        })
    }
    .await;
    page(&headers, result)
}

/// A change of a schedule: what is not given stays as it is.
#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    cron: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    enabled: Option<String>,
}

/// `POST /admin/schedules/{id}`: sets the cron expression, time zone or enabled flag as
/// `PUT /api/v1/schedules/{id}` does (what the form leaves out is kept); answers the
/// schedule's row. A bad expression or time zone saves nothing: 422 naming it.
pub async fn update_schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ScheduleForm>,
) -> Response {
    let result = async {
        let current = crate::store::schedules::get_schedule(&state.db, &id)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no schedule {:?}",
                    id.chars().take(64).collect::<String>()
                ))
            })?;
        let enabled = match form.enabled.as_deref() {
            Some(e) => flag_field("enabled", e)?,
            None => current.enabled,
        };
        let input = crate::schedules::http::ScheduleInput {
            cron: form.cron.unwrap_or(current.cron),
            time_zone: Some(
                form.time_zone
                    .map_or(current.time_zone, |t| t.trim().to_owned()),
            ),
            enabled,
        };
        crate::schedules::http::change_schedule(&state, &id, input).await
    }
    .await;
    match result {
        Ok((schedule, entry)) => with_entry(
            html(
                StatusCode::OK,
                &ScheduleRow {
                    s: ScheduleView::of(schedule, true),
                },
            ),
            entry,
        ),
        Err(e) => refusal(&headers, e),
    }
}

/// `POST /admin/schedules/{id}/run`: runs the schedule now as
/// `POST /api/v1/schedules/{id}/run` does, then shows the run (409 while its system has
/// one in progress, or when it cannot sync, saying why).
pub async fn run_schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match crate::schedules::http::run_now(&state, &id).await {
        Ok((started, entry)) => with_entry(
            done_and_go(
                format!("started {}", started.id),
                &format!("/admin/sync-runs/{}", started.id),
            ),
            entry,
        ),
        Err(e) => refusal(&headers, e),
    }
}
