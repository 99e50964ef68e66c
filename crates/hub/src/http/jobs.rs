//! `/api/v1/jobs`: the outbox, its dead letters and redrive.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{PathParam, QueryParams};
use super::pagination::{Page, PageParams, status_param};
use super::{ApiError, AppState, ErrorBody};
use crate::status::JobStatus;
use crate::store::jobs::{self, Job, JobAttempt};

/// Lists jobs, newest first; `?status=dead` lists the dead letters.
#[utoipa::path(get, path = "/jobs", operation_id = "list_jobs", tag = "jobs",
    params(PageParams, ("status" = Option<crate::status::JobStatus>, Query, description = "queued, running, done or dead")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of jobs", body = Page<Job>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_jobs(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<Job>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let status = status_param::<JobStatus>(&query, "status", JobStatus::names)?;
    let limit = page.limit();
    let items = jobs::list_jobs(
        state.orders.db(),
        status.map(JobStatus::as_str),
        page.after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(Json(Page::from_overfetch(items, limit, |j| j.id.clone())))
}

/// A job with the history of its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Every attempt, oldest first.
    pub attempts_history: Vec<JobAttempt>,
}

/// One job with its attempts.
#[utoipa::path(get, path = "/jobs/{id}", operation_id = "get_job", tag = "jobs",
    params(("id" = String, Path, description = "Job id (job_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = JobDetail),
        (status = 404, description = "No such job", body = ErrorBody)
    ))]
pub async fn get_job(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<JobDetail>, ApiError> {
    let job = jobs::get_job(state.orders.db(), &id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no job {:?}",
                id.chars().take(64).collect::<String>()
            ))
        })?;
    let attempts_history = jobs::attempts_of_job(state.orders.db(), &id).await?;
    Ok(Json(JobDetail {
        job,
        attempts_history,
    }))
}

/// Puts a dead job back in the queue with fresh attempts.
#[utoipa::path(post, path = "/jobs/{id}/redrive", operation_id = "redrive_job", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Queued again", body = Job),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job is not dead", body = ErrorBody)
    ))]
pub async fn redrive_job(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<Job>, ApiError> {
    redrive_dead_job(&state, &id).await.map(Json)
}

/// Puts the dead job `id` back in the queue: the job as it is then. 404 when there is no
/// such job, 409 `invalid_state` when it is not dead. The one path of the API's redrive
/// and the admin page's.
pub(crate) async fn redrive_dead_job(state: &AppState, id: &str) -> Result<Job, ApiError> {
    let db = state.orders.db();
    let Some(job) = jobs::get_job(db, id).await? else {
        return Err(ApiError::NotFound(format!(
            "no job {:?}",
            id.chars().take(64).collect::<String>()
        )));
    };
    if !jobs::redrive(db, id).await? {
        return Err(ApiError::ConflictWith {
            code: "invalid_state",
            detail: format!(
                "only a dead job can be redriven; this one is {}",
                job.status
            ),
        });
    }
    jobs::get_job(db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(id.to_owned()))
}
