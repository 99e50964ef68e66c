//! `/api/v1/schedules`: list, read, change (cron, time zone, enabled) and run now.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CRON_MAX_LEN, Cadence, CadenceError, DEFAULT_TIME_ZONE, FiringOutcome, Scheduler};
use crate::audit::{AuditEntry, with_entry};
use crate::http::body::{JsonBody, PathParam, QueryParams};
use crate::http::pagination::{Page, PageParams};
use crate::http::{ApiError, AppState, ErrorBody};
use crate::store::schedules::{self as store, Schedule};
use crate::types::UtcTime;

/// `PUT /api/v1/schedules/{id}`: the schedule's cadence and whether it fires.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// A five-field cron expression: minute hour day-of-month month day-of-week (names
    /// such as `MON` and `@daily` are taken; seconds and years are not), at most 100
    /// characters.
    #[schema(min_length = 1, max_length = 100, example = "*/15 * * * *")]
    pub cron: String,
    /// The IANA time zone the expression is read in (default `Asia/Shanghai`).
    #[schema(min_length = 1, max_length = 64, example = "Asia/Shanghai")]
    pub time_zone: Option<String>,
    /// Whether it fires. A disabled schedule never fires (run-now still runs it).
    pub enabled: bool,
}

/// A run started by run-now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleRun {
    /// The run's id (`run_…`): follow it at `Location`.
    pub id: String,
    /// `pending`.
    pub status: String,
    /// The schedule.
    pub schedule_id: String,
    /// The system it syncs.
    pub system_id: Option<String>,
}

async fn load(state: &AppState, id: &str) -> Result<Schedule, ApiError> {
    store::get_schedule(&state.db, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no schedule {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })
}

/// Lists the schedules by id: the defaults (`sch_catalog`, `sch_prices`, `sch_stock`)
/// and one per external system with a sync interval.
#[utoipa::path(get, path = "/schedules", operation_id = "list_schedules", tag = "schedules",
    params(PageParams),
    responses(
        (status = 200, description = "A page of schedules", body = Page<Schedule>),
        (status = 400, description = "A bad parameter, named", body = ErrorBody)
    ))]
pub async fn list_schedules(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<Schedule>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let limit = page.limit();
    let items = store::list_schedules(&state.db, page.after.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |s| s.id.clone())))
}

/// One schedule, with its next firing and what its last one came to.
#[utoipa::path(get, path = "/schedules/{id}", operation_id = "get_schedule", tag = "schedules",
    params(("id" = String, Path, description = "Schedule id (sch_…)")),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 404, description = "No such schedule", body = ErrorBody)
    ))]
pub async fn get_schedule(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(load(&state, &id).await?))
}

/// Sets a schedule's cron expression, time zone and enabled flag; its next firing is the
/// first time the expression names after now (none while disabled).
#[utoipa::path(put, path = "/schedules/{id}", operation_id = "replace_schedule", tag = "schedules",
    params(("id" = String, Path, description = "Schedule id (sch_…)")),
    request_body = ScheduleInput,
    responses(
        (status = 200, description = "The schedule after the change", body = Schedule),
        (status = 404, description = "No such schedule", body = ErrorBody),
        (status = 422, description = "A bad cron expression (`invalid_cron`) or time zone (`invalid_time_zone`), named", body = ErrorBody)
    ))]
pub async fn replace_schedule(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(input): JsonBody<ScheduleInput>,
) -> Result<Response, ApiError> {
    let (after, entry) = change_schedule(&state, &id, input).await?;
    Ok(with_entry(Json(after), entry))
}

/// Sets schedule `id`'s cron expression, time zone (none: `Asia/Shanghai`) and enabled
/// flag, and plans its next firing (the one path of the API and the admin page). The
/// schedule after the change and the audit entry `schedule.update`. Nothing is saved when
/// it fails: 404 for no such schedule, 422 `invalid_cron` or `invalid_time_zone` naming
/// what is wrong.
pub async fn change_schedule(
    state: &AppState,
    id: &str,
    input: ScheduleInput,
) -> Result<(Schedule, AuditEntry), ApiError> {
    let before = load(state, id).await?;
    let time_zone = input
        .time_zone
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
    let cron = input.cron.trim().to_owned();
    if cron.is_empty() || cron.chars().count() > CRON_MAX_LEN {
        return Err(ApiError::Unprocessable {
            code: "invalid_cron",
            detail: format!("cron: 1 to {CRON_MAX_LEN} characters"),
        });
    }
    let cadence = Cadence::parse(&cron, &time_zone).map_err(|e| ApiError::Unprocessable {
        code: match e {
            CadenceError::Cron(_) => "invalid_cron",
            CadenceError::TimeZone(_) => "invalid_time_zone",
        },
        detail: e.to_string(),
    })?;
    let next = if input.enabled {
        cadence.next_after(UtcTime::now())
    } else {
        None
    };
    if !store::update_schedule(&state.db, id, &cron, &time_zone, input.enabled, next).await? {
        return Err(ApiError::NotFound(format!("no schedule {id:?}")));
    }
    let after = load(state, id).await?;
    let entry = AuditEntry::new("schedule.update", id, Some(&before), Some(&after));
    Ok((after, entry))
}

/// Runs a schedule now, whatever its cadence and even while disabled: 202 with the run's
/// id and its `Location`. While its supplier system has a run in progress, 409
/// `run_in_progress` naming it; when the schedule cannot sync (no active supplier
/// system, an archived or misconfigured one), 409 `not_syncable` saying why.
#[utoipa::path(post, path = "/schedules/{id}/run", operation_id = "run_schedule", tag = "schedules",
    params(("id" = String, Path, description = "Schedule id (sch_…)")),
    responses(
        (status = 202, description = "Started; follow it at Location", body = ScheduleRun,
            headers(("Location" = String, description = "/api/v1/sync-runs/{id}"))),
        (status = 404, description = "No such schedule", body = ErrorBody),
        (status = 409, description = "A run is in progress (named), or the schedule cannot sync now (why)", body = ErrorBody)
    ))]
pub async fn run_schedule(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (started, entry) = run_now(&state, &id).await?;
    let location = format!("/api/v1/sync-runs/{}", started.id);
    let mut response = (StatusCode::ACCEPTED, Json(started)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(with_entry(response, entry))
}

/// Runs schedule `id` now, whatever its cadence and even while disabled (the one path of
/// the API and the admin page): the run started and the audit entry `schedule.run`.
/// 404 for no such schedule; 409 `run_in_progress` naming the active run of its system,
/// or `not_syncable` saying why it cannot sync.
pub async fn run_now(state: &AppState, id: &str) -> Result<(ScheduleRun, AuditEntry), ApiError> {
    let scheduler = Scheduler::new(
        state.db.clone(),
        state.secrets.clone(),
        state.schedules.clone(),
        state.shutdown.clone(),
    )
    .with_budgets(state.supplier.budgets().clone())
    .with_health(state.supplier.health().clone());
    let fired = scheduler.run_now(id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no schedule {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })?;
    match fired.outcome {
        FiringOutcome::Started => {}
        FiringOutcome::Skipped if fired.run_id.is_some() => {
            return Err(ApiError::ConflictWith {
                code: "run_in_progress",
                detail: format!(
                    "system {} has a run in progress: {}",
                    fired.system_id.unwrap_or_default(),
                    fired.run_id.unwrap_or_default()
                ),
            });
        }
        _ => {
            return Err(ApiError::ConflictWith {
                code: "not_syncable",
                detail: fired.detail,
            });
        }
    }
    let started = ScheduleRun {
        id: fired.run_id.unwrap_or_default(),
        status: "pending".to_owned(),
        schedule_id: fired.schedule_id,
        system_id: fired.system_id,
    };
    let entry = AuditEntry::new("schedule.run", id, None::<&ScheduleRun>, Some(&started));
    Ok((started, entry))
}
