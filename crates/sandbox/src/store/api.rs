//! The control API of the store side (`/_sandbox/store/…`) and the receiver's routes
//! (`/_sandbox/webhooks/…`); see the module docs of [`super`] for the table.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{Action, Kind};
use super::send::{self, Batch, Job, Plan};
use super::shapes::Shape;
use super::{MAX_SYSTEMS, System, bump, receive};
use crate::clock::now_ms;
use crate::control::{Problem, check_url, parse, problem};
use crate::standard_webhooks::{Secret, message_id};
use crate::state::{AppState, lock};

/// The most events one call produces.
const MAX_COUNT: usize = 10_000;
/// The most deliveries one call makes at a time.
const MAX_CONCURRENCY: usize = 256;
/// The most secrets a list may hold.
const MAX_SECRETS: usize = 10;

/// The routes, to be nested under `/_sandbox`.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/store/systems", get(list).post(register))
        .route("/store/systems/{id}", get(show).delete(forget))
        .route("/store/systems/{id}/secrets", post(set_secrets))
        .route("/store/systems/{id}/events", post(events))
        .route("/store/systems/{id}/burst", post(burst))
        .route("/store/systems/{id}/faults", get(faults).post(set_faults))
        .route("/store/systems/{id}/ledger", get(ledger))
        .route("/store/systems/{id}/deliveries", get(deliveries))
        .route("/webhooks/{id}", post(receive::receive))
        .route("/webhooks/{id}/received", get(received))
        .route("/webhooks/{id}/attempts", get(attempts))
        .route(
            "/webhooks/{id}/failures",
            post(set_failure).delete(clear_failure),
        )
}

fn unknown(id: &str) -> Problem {
    problem(
        StatusCode::NOT_FOUND,
        "unknown_system",
        format!("no system {id:?}"),
    )
}

/// Runs `f` on the system `id`, or answers 404.
fn with_system<T>(s: &AppState, id: &str, f: impl FnOnce(&mut System) -> T) -> Result<T, Problem> {
    lock(&s.store.systems)
        .get_mut(id)
        .map(f)
        .ok_or_else(|| unknown(id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    id: String,
    kind: Kind,
    shape: Option<Shape>,
    target_url: Option<String>,
    hub_url: Option<String>,
}

/// A system id: 1 to 128 visible ASCII characters, no `/`, `?` or `#`.
fn check_id(id: &str) -> Result<(), Problem> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/?#%".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "id must be 1 to 128 visible ASCII characters without / ? # %",
        ))
    }
}

/// `POST /_sandbox/store/systems`.
async fn register(State(s): State<Arc<AppState>>, body: Bytes) -> Result<Response, Problem> {
    let req: Register = parse(&body)?;
    check_id(&req.id)?;
    let shape = req.shape.unwrap_or(Shape::Canonical);
    if !shape.fits(req.kind) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_shape",
            "that shape is not one a system of this kind sends",
        ));
    }
    let bad_url = |e: String| problem(StatusCode::BAD_REQUEST, "invalid_url", e);
    let target_url = match (req.target_url, req.hub_url) {
        (Some(_), Some(_)) => {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "invalid_url",
                "give target_url or hub_url, not both",
            ));
        }
        (Some(url), None) => Some(url),
        (None, Some(hub)) => Some(format!("{}/webhooks/{}", hub.trim_end_matches('/'), req.id)),
        (None, None) => None,
    };
    if let Some(url) = &target_url {
        check_url(url).map_err(bad_url)?;
    }
    let mut systems = lock(&s.store.systems);
    if systems.contains_key(&req.id) {
        return Err(problem(
            StatusCode::CONFLICT,
            "system_exists",
            format!("system {:?} is registered already", req.id),
        ));
    }
    if systems.len() >= MAX_SYSTEMS {
        return Err(problem(
            StatusCode::CONFLICT,
            "too_many_systems",
            format!("at most {MAX_SYSTEMS} systems"),
        ));
    }
    let system = System::new(
        req.id.clone(),
        req.kind,
        shape,
        target_url,
        s.store.seed,
        s.store.salt,
        s.faults.mode(),
    );
    let view = system.view();
    tracing::info!(id = %req.id, kind = ?req.kind, "store system registered");
    systems.insert(req.id, system);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /_sandbox/store/systems`.
async fn list(State(s): State<Arc<AppState>>) -> Response {
    let systems = lock(&s.store.systems);
    let mut views: Vec<Value> = systems.values().map(System::view).collect();
    views.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Json(json!({ "count": views.len(), "systems": views })).into_response()
}

/// `GET /_sandbox/store/systems/{id}`.
async fn show(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, Problem> {
    with_system(&s, &id, |sys| Json(sys.view()).into_response())
}

/// `DELETE /_sandbox/store/systems/{id}`.
async fn forget(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    lock(&s.store.systems)
        .remove(&id)
        .ok_or_else(|| unknown(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetSecrets {
    send: Option<Vec<String>>,
    receive: Option<Vec<String>>,
}

fn secrets(list: Option<Vec<String>>) -> Result<Option<Vec<Secret>>, Problem> {
    let Some(list) = list else { return Ok(None) };
    if list.len() > MAX_SECRETS {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "too_many_secrets",
            format!("at most {MAX_SECRETS} secrets"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            Secret::parse(t).map_err(|e| {
                problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_secret",
                    format!("secret {i}: {e}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `POST /_sandbox/store/systems/{id}/secrets {"send"?, "receive"?}`: replaces the lists
/// given; answers how many each holds.
async fn set_secrets(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: SetSecrets = parse(&body)?;
    let (send, receive) = (secrets(req.send)?, secrets(req.receive)?);
    with_system(&s, &id, |sys| {
        if let Some(list) = send {
            sys.send_secrets = list;
        }
        if let Some(list) = receive {
            sys.receive_secrets = list;
        }
        Json(json!({
            "send_secrets": sys.send_secrets.len(),
            "receive_secrets": sys.receive_secrets.len(),
        }))
        .into_response()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Produce {
    count: Option<usize>,
    action: Option<Action>,
    concurrency: Option<usize>,
}

/// Produces the events (all or none), draws their faults and builds the batch.
fn prepare(
    s: &AppState,
    id: &str,
    req: &Produce,
    default_concurrency: usize,
) -> Result<Batch, Problem> {
    let count = req.count.unwrap_or(1);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_count",
            format!("count must be 1 to {MAX_COUNT}"),
        ));
    }
    let concurrency = req.concurrency.unwrap_or(default_concurrency);
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_concurrency",
            format!("concurrency must be 1 to {MAX_CONCURRENCY}"),
        ));
    }
    let action = req.action.unwrap_or(Action::Any);
    let mut systems = lock(&s.store.systems);
    let sys = systems.get_mut(id).ok_or_else(|| unknown(id))?;
    if !action.fits(sys.kind) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_action",
            "that action is not one a system of this kind takes",
        ));
    }
    let Some(url) = sys.target_url.clone() else {
        return Err(problem(
            StatusCode::CONFLICT,
            "no_target_url",
            "the system has no target URL",
        ));
    };
    if sys.send_secrets.is_empty() {
        return Err(problem(
            StatusCode::CONFLICT,
            "no_secret",
            "the system has no send secret",
        ));
    }
    let now = now_ms();
    let (mut book, mut rng) = (sys.book.clone(), sys.rng.clone());
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let e = book
            .produce(action, &sys.tag, &mut rng, now)
            .map_err(|e| problem(StatusCode::CONFLICT, "nothing_to_act_on", e.to_string()))?;
        events.push(e);
    }
    (sys.book, sys.rng) = (book, rng);
    let f = sys.faults;
    let draw = |rng: &mut crate::rng::Rng, rate: f64| {
        rate > 0.0 && rng.below(1_000_000) < (rate * 1e6) as u64
    };
    let mut jobs: Vec<Job> = events
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let r = &mut sys.fault_rng;
            let bits = (u128::from(r.next_u64()) << 64) | u128::from(r.next_u64());
            let plan = Plan {
                duplicate: draw(r, f.duplicate_rate),
                bad_signature: draw(r, f.bad_signature_rate),
                stale: draw(r, f.stale_timestamp_rate),
            };
            let body = serde_json::to_vec(&sys.shape.render(e)).unwrap_or_default();
            Job {
                index,
                id: message_id(bits),
                type_name: e.type_name(),
                body,
                plan,
            }
        })
        .collect();
    if f.out_of_order {
        // Fisher–Yates.
        for i in (1..jobs.len()).rev() {
            let j = sys.fault_rng.below(i as u64 + 1) as usize;
            jobs.swap(i, j);
        }
    }
    for _ in 0..count {
        bump(&s.store.stats.events);
    }
    Ok(Batch {
        system_id: id.to_owned(),
        url,
        secrets: sys.send_secrets.clone(),
        attempts: f.attempts,
        backoff: Duration::from_millis(f.retry_backoff_ms),
        concurrency,
        jobs,
    })
}

/// `POST /_sandbox/store/systems/{id}/events`.
async fn events(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: Produce = if body.is_empty() {
        Produce {
            count: None,
            action: None,
            concurrency: None,
        }
    } else {
        parse(&body)?
    };
    let batch = prepare(&s, &id, &req, 1)?;
    let order: Vec<String> = batch.jobs.iter().map(|j| j.id.clone()).collect();
    let outcomes = send::run(Arc::clone(&s), batch).await;
    let delivered = outcomes.iter().filter(|o| o.delivered).count();
    Ok(Json(json!({
        "count": outcomes.len(),
        "delivered": delivered,
        "failed": outcomes.len() - delivered,
        "sent_order": order,
        "events": outcomes,
    }))
    .into_response())
}

/// `POST /_sandbox/store/systems/{id}/burst`: answers counts by final status, the ids,
/// and how long the deliveries took (`elapsed_ms`, wall clock, retries included).
async fn burst(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: Produce = parse(&body)?;
    if req.count.is_none() {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_count",
            "count is required",
        ));
    }
    let batch = prepare(&s, &id, &req, 16)?;
    let concurrency = batch.concurrency;
    let started = std::time::Instant::now();
    let outcomes = send::run(Arc::clone(&s), batch).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let delivered = outcomes.iter().filter(|o| o.delivered).count();
    let mut statuses = serde_json::Map::new();
    for o in &outcomes {
        let key = o
            .status
            .map_or_else(|| "error".to_owned(), |s| s.to_string());
        let n = statuses.get(&key).and_then(Value::as_u64).unwrap_or(0);
        statuses.insert(key, (n + 1).into());
    }
    let ids: Vec<&str> = outcomes.iter().map(|o| o.id.as_str()).collect();
    Ok(Json(json!({
        "count": outcomes.len(),
        "concurrency": concurrency,
        "elapsed_ms": elapsed_ms,
        "delivered": delivered,
        "failed": outcomes.len() - delivered,
        "statuses": statuses,
        "ids": ids,
    }))
    .into_response())
}

/// `GET /_sandbox/store/systems/{id}/faults`.
async fn faults(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    with_system(&s, &id, |sys| Json(json!(sys.faults)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetFaults {
    duplicate_rate: Option<f64>,
    bad_signature_rate: Option<f64>,
    stale_timestamp_rate: Option<f64>,
    out_of_order: Option<bool>,
    attempts: Option<u32>,
    retry_backoff_ms: Option<u64>,
}

/// `POST /_sandbox/store/systems/{id}/faults`: changes the keys given (all or none).
async fn set_faults(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: SetFaults = parse(&body)?;
    let rate = |name: &str, r: Option<f64>| match r {
        Some(r) if !(0.0..=1.0).contains(&r) => Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_rate",
            format!("{name} must be between 0 and 1"),
        )),
        r => Ok(r),
    };
    let dup = rate("duplicate_rate", req.duplicate_rate)?;
    let bad = rate("bad_signature_rate", req.bad_signature_rate)?;
    let stale = rate("stale_timestamp_rate", req.stale_timestamp_rate)?;
    if req.attempts.is_some_and(|a| !(1..=10).contains(&a)) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_attempts",
            "attempts must be 1 to 10",
        ));
    }
    if req.retry_backoff_ms.is_some_and(|b| b > 60_000) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_backoff",
            "retry_backoff_ms must be at most 60000",
        ));
    }
    with_system(&s, &id, |sys| {
        let f = &mut sys.faults;
        f.duplicate_rate = dup.unwrap_or(f.duplicate_rate);
        f.bad_signature_rate = bad.unwrap_or(f.bad_signature_rate);
        f.stale_timestamp_rate = stale.unwrap_or(f.stale_timestamp_rate);
        f.out_of_order = req.out_of_order.unwrap_or(f.out_of_order);
        f.attempts = req.attempts.unwrap_or(f.attempts);
        f.retry_backoff_ms = req.retry_backoff_ms.unwrap_or(f.retry_backoff_ms);
        Json(json!(sys.faults)).into_response()
    })
}

/// `GET /_sandbox/store/systems/{id}/ledger`.
async fn ledger(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    with_system(&s, &id, |sys| Json(sys.ledger()).into_response())
}

/// `GET /_sandbox/store/systems/{id}/deliveries`.
async fn deliveries(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    with_system(&s, &id, |sys| {
        Json(json!({ "count": sys.deliveries.len(), "deliveries": sys.deliveries })).into_response()
    })
}

/// `GET /_sandbox/webhooks/{id}/received`.
async fn received(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    with_system(&s, &id, |sys| {
        let r = &sys.inbox.received;
        Json(json!({ "count": r.len(), "received": r })).into_response()
    })
}

/// `GET /_sandbox/webhooks/{id}/attempts`.
async fn attempts(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    with_system(&s, &id, |sys| {
        let a = &sys.inbox.attempts;
        Json(json!({ "count": a.len(), "attempts": a, "failure": sys.inbox.failure }))
            .into_response()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetFailure {
    status: u16,
    count: Option<u32>,
    retry_after: Option<u32>,
}

/// `POST /_sandbox/webhooks/{id}/failures {"status","count"?,"retry_after"?}`.
async fn set_failure(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: SetFailure = parse(&body)?;
    if !(400..=599).contains(&req.status) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_status",
            "status must be 400 to 599",
        ));
    }
    if req.count == Some(0) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_count",
            "count must be at least 1",
        ));
    }
    if req.retry_after.is_some_and(|r| r > 86_400) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_retry_after",
            "retry_after must be at most 86400 seconds",
        ));
    }
    with_system(&s, &id, |sys| {
        let f = super::receive::Failure {
            status: req.status,
            remaining: req.count,
            retry_after: req.retry_after,
        };
        sys.inbox.failure = Some(f);
        Json(json!({ "failure": f })).into_response()
    })
}

/// `DELETE /_sandbox/webhooks/{id}/failures`.
async fn clear_failure(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    with_system(&s, &id, |sys| {
        sys.inbox.failure = None;
        Json(json!({ "failure": null })).into_response()
    })
}
