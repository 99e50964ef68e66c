//! The outbox: jobs leased by any instance.
//!
//! A job is enqueued in the same transaction as the business write it follows from, with a
//! unique `dedupe_key`, so it exists exactly when that write does. Workers claim due jobs
//! with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; the single writer of SQLite inside
//! `BEGIN IMMEDIATE`). A job whose lease ran out — its worker died — is claimed again by
//! itself, and that claim counts as an attempt.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, Tx, new_id, on_db, on_tx};
use crate::status::JobStatus;
use crate::types::UtcTime;

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct Job {
    /// Id (`job_…`).
    pub id: String,
    /// `push_order`, `cancel_order`, `reschedule_order` or `webhook.deliver`.
    pub kind: String,
    /// What to do, e.g. `{"order_id": "ord_…"}`.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Unique key: a second enqueue of the same work is a no-op.
    pub dedupe_key: String,
    /// `queued`, `running`, `done` or `dead`.
    pub status: JobStatus,
    /// Attempts so far (a claim is an attempt).
    pub attempts: i64,
    /// Attempts allowed before the job is dead-lettered.
    pub max_attempts: i64,
    /// When the job is due.
    pub run_at: UtcTime,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    pub lease_expires_at: Option<UtcTime>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

/// One attempt of a job.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct JobAttempt {
    /// The attempt's number (1-based).
    pub attempt: i64,
    /// `done`, `retry`, `dead`, `lease_lost`, `released` (at shutdown)…
    pub outcome: String,
    /// What happened.
    pub detail: Option<String>,
    /// When it started.
    pub started_at: UtcTime,
    /// When it ended.
    pub finished_at: UtcTime,
}

macro_rules! job_columns {
    () => {
        "id, kind, payload, dedupe_key, status, attempts, max_attempts, run_at, lease_owner, \
         lease_expires_at, last_error, created_at, updated_at"
    };
}

/// Enqueues a job unless one with `dedupe_key` exists; true when enqueued.
pub async fn enqueue(
    tx: &mut Tx,
    kind: &str,
    payload: &serde_json::Value,
    dedupe_key: &str,
    max_attempts: i64,
    run_at: UtcTime,
) -> StoreResult<bool> {
    let now = UtcTime::now();
    // The order a job is about is its payload's `order_id`, kept in a column of its own
    // so that an order's jobs are found by an index.
    let order_id = payload["order_id"].as_str();
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, status, attempts, max_attempts, run_at, \
         created_at, updated_at, order_id) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $7, $8) \
         ON CONFLICT (dedupe_key) DO NOTHING")
        .bind(new_id("job")).bind(kind).bind(sqlx::types::Json(payload)).bind(dedupe_key)
        .bind(max_attempts).bind(run_at).bind(now).bind(order_id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Claims up to `limit` due jobs (queued and due, or running with an expired lease) for
/// `owner` until `lease_until`, counting the claim as an attempt.
pub async fn claim_due(
    db: &Db,
    owner: &str,
    lease_until: UtcTime,
    limit: u32,
) -> StoreResult<Vec<Job>> {
    claim_due_at(db, owner, lease_until, limit, UtcTime::now()).await
}

/// [`claim_due`] with the time taken from the caller's clock: jobs due at or before
/// `now`, and leases expired before it.
pub async fn claim_due_at(
    db: &Db,
    owner: &str,
    lease_until: UtcTime,
    limit: u32,
    now: UtcTime,
) -> StoreResult<Vec<Job>> {
    match db {
        Db::Postgres(p) => Ok(sqlx::query_as(concat!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
             lease_expires_at = $2, updated_at = $3 WHERE id IN (SELECT id FROM jobs \
             WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND lease_expires_at < $3) \
             ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
            job_columns!()
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?),
        Db::Sqlite(p) => {
            let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
            let jobs = sqlx::query_as(concat!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
                 lease_expires_at = $2, updated_at = $3 WHERE id IN (SELECT id FROM jobs \
                 WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND lease_expires_at < $3) \
                 ORDER BY run_at LIMIT $4) RETURNING ",
                job_columns!()
            ))
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(jobs)
        }
    }
}

/// Extends `owner`'s lease; false when the lease was lost (another worker claimed the job).
pub async fn extend_lease(db: &Db, id: &str, owner: &str, until: UtcTime) -> StoreResult<bool> {
    let n = on_db!(db, p => sqlx::query(
        "UPDATE jobs SET lease_expires_at = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
        .bind(id).bind(owner).bind(until).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Ends `owner`'s attempt: `done`, `dead` (with `error`), or back to `queued` at `run_at`.
/// False when the lease was lost: the outcome is then not recorded here.
pub async fn end_attempt(
    tx: &mut Tx,
    id: &str,
    owner: &str,
    status: JobStatus,
    run_at: Option<UtcTime>,
    error: Option<&str>,
) -> StoreResult<bool> {
    let now = UtcTime::now();
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE jobs SET status = $3, run_at = COALESCE($4, run_at), last_error = COALESCE($5, last_error), \
         lease_owner = NULL, lease_expires_at = NULL, updated_at = $6 \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
        .bind(id).bind(owner).bind(status).bind(run_at).bind(error).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records the history of one attempt.
pub async fn record_attempt(
    tx: &mut Tx,
    job_id: &str,
    attempt: i64,
    outcome: &str,
    detail: Option<&str>,
    started_at: UtcTime,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO job_attempts (job_id, attempt, outcome, detail, started_at, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(job_id).bind(attempt).bind(outcome).bind(detail).bind(started_at).bind(UtcTime::now())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Puts a dead job back in the queue with fresh attempts; false unless it was dead.
pub async fn redrive(db: &Db, id: &str) -> StoreResult<bool> {
    let now = UtcTime::now();
    let n = on_db!(db, p => sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, updated_at = $2 \
         WHERE id = $1 AND status = 'dead'")
        .bind(id).bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// One job.
pub async fn get_job(db: &Db, id: &str) -> StoreResult<Option<Job>> {
    const SQL: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)?)
}

/// A page of jobs in `status` (any when `None`), newest first, after the cursor `before`
/// (from the newest when `None`). Ids compare bytewise on both backends (migration 0004).
pub async fn list_jobs(
    db: &Db,
    status: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Job>> {
    const SQL: &str = concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    );
    Ok(
        on_db!(db, p => sqlx::query_as(SQL).bind(status).bind(before).bind(i64::from(limit)).fetch_all(p).await)?,
    )
}

/// The jobs about `order_id` (their payload's `order_id`), oldest first.
pub async fn jobs_of_order(db: &Db, order_id: &str) -> StoreResult<Vec<Job>> {
    const SQL: &str = concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE order_id = $1 ORDER BY id"
    );
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(order_id).fetch_all(p).await)?)
}

/// The attempts of a job, oldest first.
pub async fn attempts_of_job(db: &Db, job_id: &str) -> StoreResult<Vec<JobAttempt>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT attempt, outcome, detail, started_at, finished_at FROM job_attempts \
         WHERE job_id = $1 ORDER BY id")
        .bind(job_id).fetch_all(p).await)?)
}

/// Jobs by status, for metrics and tests: `(status, count)`.
pub async fn count_jobs_by_status(db: &Db) -> StoreResult<Vec<(String, i64)>> {
    Ok(
        on_db!(db, p => sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")
        .fetch_all(p).await)?,
    )
}

/// The jobs of one kind in one status that are not done, for the queue-depth gauges.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct QueueDepth {
    /// The job kind (`push_order`, …).
    pub kind: String,
    /// `queued`, `running` or `dead`.
    pub status: String,
    /// How many.
    pub count: i64,
    /// For `queued`: the `run_at` of the oldest job that is due now, if any.
    pub oldest_due: Option<UtcTime>,
}

/// Jobs not done, by kind and status, with the oldest due time of the queued ones.
pub async fn queue_depth(db: &Db) -> StoreResult<Vec<QueueDepth>> {
    let now = UtcTime::now();
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT kind, status, COUNT(*) AS count, \
         MIN(CASE WHEN status = 'queued' AND run_at <= $1 THEN run_at END) AS oldest_due \
         FROM jobs WHERE status <> 'done' GROUP BY kind, status ORDER BY kind, status")
        .bind(now).fetch_all(p).await)?)
}

/// Gives back every job `owner` holds a lease on, at shutdown: each goes back to the
/// queue, due now, and its attempt is recorded as `released`. Another worker (or this
/// instance's next start) claims it at once instead of waiting out the lease; as for any
/// claim after the first, that attempt reconciles with the supplier before sending.
/// The jobs released.
pub async fn release_leases(db: &Db, owner: &str) -> StoreResult<Vec<String>> {
    let now = UtcTime::now();
    let mut tx = db.begin().await?;
    // A claim sets `updated_at` and nothing else does while the lease is held: it is
    // when the attempt started.
    let held: Vec<(String, i64, UtcTime)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT id, attempts, updated_at FROM jobs WHERE lease_owner = $1 AND status = 'running' \
         ORDER BY id")
        .bind(owner).fetch_all(&mut *c).await)?;
    for (id, attempt, started_at) in &held {
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE jobs SET status = 'queued', run_at = $3, lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = $3 \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
            .bind(id).bind(owner).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        record_attempt(
            &mut tx,
            id,
            *attempt,
            "released",
            Some("the instance shut down before the attempt ended"),
            *started_at,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(held.into_iter().map(|(id, _, _)| id).collect())
}
