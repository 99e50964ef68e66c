//! `/api/v1/sync-runs`: the record of every sync run.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{PathParam, QueryParams};
use super::pagination::{CallPageParams, Page, PageParams};
use super::{ApiError, AppState, ErrorBody};
use crate::store::calls::{CallEntry, calls_of_sync_run};
use crate::store::sync_runs::{self, SyncFailure, SyncRun};

/// Failures listed with a run, at most.
const FAILURES_SHOWN: u32 = 200;

/// A run with its per-item failures.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: SyncRun,
    /// Its failures, oldest first (at most 200).
    pub failures: Vec<SyncFailure>,
}

/// Lists sync runs, newest first, filtered by kind, status, system and creation time.
#[utoipa::path(get, path = "/sync-runs", operation_id = "list_sync_runs", tag = "sync",
    params(
        PageParams,
        ("kind" = Option<crate::sync::RunKind>, Query, description = "full or incremental"),
        ("status" = Option<crate::status::RunStatus>, Query, description = "pending, processing, success, failed or partial"),
        ("system" = Option<String>, Query, pattern = r"^sys_[A-Za-z0-9_]{0,60}$", description = "Runs started for this system (sys_…)"),
        ("since" = Option<String>, Query, format = DateTime, description = "Created at or after this RFC 3339 instant"),
        ("until" = Option<String>, Query, format = DateTime, description = "Created before this RFC 3339 instant")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of runs", body = Page<SyncRun>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn list_sync_runs(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<SyncRun>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let filter = crate::systems::runs::run_filter(&query)?;
    let limit = page.limit();
    let items =
        sync_runs::list_runs_filtered(&state.db, &filter, page.after.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |r| r.id.clone())))
}

/// One run by id, with its failures.
#[utoipa::path(get, path = "/sync-runs/{id}", operation_id = "get_sync_run", tag = "sync",
    params(("id" = String, Path, description = "Run id (run_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The run", body = SyncRunDetail),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn get_sync_run(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<SyncRunDetail>, ApiError> {
    let run = find_run(&state, &id).await?;
    let failures = sync_runs::list_failures(&state.db, &run.id, FAILURES_SHOWN).await?;
    Ok(Json(SyncRunDetail { run, failures }))
}

async fn find_run(state: &AppState, id: &str) -> Result<SyncRun, ApiError> {
    sync_runs::get_run(&state.db, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no sync run with id {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })
}

/// The supplier calls a run made, one per HTTP attempt (token fetches and retries
/// included), oldest first. `after` is the `next` of the previous page.
#[utoipa::path(get, path = "/sync-runs/{id}/calls", operation_id = "list_sync_run_calls",
    tag = "sync",
    params(("id" = String, Path, description = "Run id (run_…)"), CallPageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of calls", body = Page<CallEntry>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn list_sync_run_calls(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<CallEntry>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let after = page.after_seq()?;
    let run = find_run(&state, &id).await?;
    let limit = page.limit();
    let items = calls_of_sync_run(&state.db, &run.id, after, limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |c| {
        c.id.to_string()
    })))
}
