//! Sync runs and their per-item failures.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, Tx, on_db, on_tx};
use crate::status::RunStatus;
use crate::types::UtcTime;

/// The counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow, Serialize, Deserialize, ToSchema)]
pub struct RunCounts {
    /// Products read from the supplier.
    #[sqlx(rename = "read_count")]
    pub read: i64,
    /// Products created.
    #[sqlx(rename = "created_count")]
    pub created: i64,
    /// Products whose content changed and was written.
    #[sqlx(rename = "updated_count")]
    pub updated: i64,
    /// Products read whose content had not changed (nothing written).
    #[sqlx(rename = "unchanged_count")]
    pub unchanged: i64,
    /// Products with at least one failed step.
    #[sqlx(rename = "failed_count")]
    pub failed: i64,
    /// Stock level rows inserted, changed or deleted.
    pub stock_written: i64,
    /// HTTP calls to the supplier (attempts, retries included).
    pub calls: i64,
    /// Retries among those calls.
    pub retries: i64,
    /// HTTP 429 answers received.
    pub rate_limited: i64,
}

/// A sync run as recorded.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct SyncRun {
    /// Id (`run_…`, time-ordered).
    pub id: String,
    /// `full` or `incremental`.
    pub kind: String,
    /// `pending`, `processing`, `success`, `failed` or `partial`.
    pub status: RunStatus,
    /// The options the run was started with.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub scope: serde_json::Value,
    /// Counters.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub counts: RunCounts,
    /// When the run started processing.
    pub started_at: Option<UtcTime>,
    /// When it ended.
    pub finished_at: Option<UtcTime>,
    /// Duration in milliseconds.
    pub duration_ms: Option<i64>,
    /// A short summary of what failed, if anything.
    pub error_summary: Option<String>,
    /// When the run was created.
    pub created_at: UtcTime,
    /// The external system it was started for (`sys_…`), if any.
    pub system_id: Option<String>,
}

/// One item that failed during a run.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct SyncFailure {
    /// The product code (or a chunk's first code).
    pub item: String,
    /// `catalog`, `prices` or `stock`.
    pub stage: String,
    /// The error class: `auth`, `transport`, `timeout`, `rate_limited`, `server`,
    /// `rejected`, `business`, `decode`, `circuit_open`, `store`…
    pub error_kind: String,
    /// The error message (never holds secrets).
    pub detail: String,
    /// When it happened.
    pub occurred_at: UtcTime,
}

/// `SELECT` of every run column, followed by the rest of the query.
macro_rules! select_runs {
    ($tail:literal) => {
        concat!(
            "SELECT id, kind, status, scope, read_count, created_count, updated_count, \
             unchanged_count, failed_count, stock_written, calls, retries, rate_limited, started_at, \
             finished_at, duration_ms, error_summary, created_at, system_id FROM sync_runs ",
            $tail
        )
    };
}

/// Records a new run in status `pending`.
pub async fn insert_run(
    db: &Db,
    id: &str,
    kind: &str,
    scope: &serde_json::Value,
) -> StoreResult<()> {
    let now = UtcTime::now();
    let scope = sqlx::types::Json(scope);
    on_db!(db, p => sqlx::query(
        "INSERT INTO sync_runs (id, kind, status, scope, created_at) VALUES ($1, $2, 'pending', $3, $4)")
        .bind(id).bind(kind).bind(scope).bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Moves a run from `pending` to `processing` (its first heartbeat).
pub async fn mark_run_processing(db: &Db, id: &str, started_at: UtcTime) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE sync_runs SET status = 'processing', started_at = $2, heartbeat_at = $2 \
         WHERE id = $1 AND status = 'pending'")
        .bind(id).bind(started_at).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records that a run's process is still working on it (see [`mark_abandoned_runs`]).
pub async fn touch_run(db: &Db, id: &str, now: UtcTime) -> StoreResult<()> {
    on_db!(db, p => sqlx::query("UPDATE sync_runs SET heartbeat_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends as `failed`, with the summary `abandoned`, every run still `pending` or
/// `processing` whose last heartbeat (or start) is older than `stale_before`: the
/// process running it died. A live run's process touches it far more often than that,
/// so runs of other live instances sharing the database are left alone. The runs
/// ended, by id.
pub async fn mark_abandoned_runs(db: &Db, stale_before: UtcTime) -> StoreResult<Vec<String>> {
    let now = UtcTime::now();
    Ok(on_db!(db, p => sqlx::query_scalar(
        "UPDATE sync_runs SET status = 'failed', error_summary = 'abandoned', finished_at = $2 \
         WHERE status IN ('pending', 'processing') \
         AND COALESCE(heartbeat_at, started_at, created_at) < $1 RETURNING id")
        .bind(stale_before).bind(now).fetch_all(p).await)?)
}

/// Writes a run's counters (while it runs, and at its end).
pub async fn update_run_counts(db: &Db, id: &str, c: &RunCounts) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE sync_runs SET read_count = $2, created_count = $3, updated_count = $4, \
         unchanged_count = $5, failed_count = $6, stock_written = $7, calls = $8, retries = $9, \
         rate_limited = $10 WHERE id = $1")
        .bind(id).bind(c.read).bind(c.created).bind(c.updated).bind(c.unchanged).bind(c.failed)
        .bind(c.stock_written).bind(c.calls).bind(c.retries).bind(c.rate_limited)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends a run that has not ended (`pending` or `processing`) with its final status,
/// counters, duration and summary; an ended run is left as it is.
pub async fn finish_run(
    db: &Db,
    id: &str,
    status: RunStatus,
    counts: &RunCounts,
    finished_at: UtcTime,
    duration_ms: i64,
    error_summary: Option<&str>,
) -> StoreResult<()> {
    update_run_counts(db, id, counts).await?;
    on_db!(db, p => sqlx::query(
        "UPDATE sync_runs SET status = $2, finished_at = $3, duration_ms = $4, error_summary = $5 \
         WHERE id = $1 AND status IN ('pending', 'processing')")
        .bind(id).bind(status).bind(finished_at).bind(duration_ms).bind(error_summary)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// One run by id.
pub async fn get_run(db: &Db, id: &str) -> StoreResult<Option<SyncRun>> {
    const SQL: &str = select_runs!("WHERE id = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)?)
}

/// A page of runs, newest first, starting after the cursor `before` (a run id; from the
/// newest when `None`). Ids compare bytewise on both backends (migration 0004).
pub async fn list_runs(db: &Db, before: Option<&str>, limit: u32) -> StoreResult<Vec<SyncRun>> {
    const SQL: &str = select_runs!("WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(before).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// What to list of the sync runs; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// `full` or `incremental`.
    pub kind: Option<String>,
    /// A run status.
    pub status: Option<String>,
    /// Runs started for this system.
    pub system_id: Option<String>,
    /// Created at or after.
    pub since: Option<UtcTime>,
    /// Created before.
    pub until: Option<UtcTime>,
}

/// A filtered page of runs, newest first, after the cursor `before` (a run id).
pub async fn list_runs_filtered(
    db: &Db,
    filter: &RunFilter,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<SyncRun>> {
    const SQL: &str = select_runs!(
        "WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR system_id = $3) AND ($4 IS NULL OR created_at >= $4) \
         AND ($5 IS NULL OR created_at < $5) AND ($6 IS NULL OR id < $6) \
         ORDER BY id DESC LIMIT $7"
    );
    Ok(on_db!(db, p => sqlx::query_as(SQL)
        .bind(filter.kind.as_deref()).bind(filter.status.as_deref())
        .bind(filter.system_id.as_deref()).bind(filter.since).bind(filter.until)
        .bind(before).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Records a new `pending` run started for system `system_id`. While another run of the
/// system is pending or processing, a [`super::StoreError::Conflict`].
pub async fn insert_system_run(
    db: &Db,
    id: &str,
    kind: &str,
    scope: &serde_json::Value,
    system_id: &str,
) -> StoreResult<()> {
    let now = UtcTime::now();
    let scope = sqlx::types::Json(scope);
    on_db!(db, p => sqlx::query(
        "INSERT INTO sync_runs (id, kind, status, scope, created_at, system_id) \
         VALUES ($1, $2, 'pending', $3, $4, $5)")
        .bind(id).bind(kind).bind(scope).bind(now).bind(system_id)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The pending or processing run of system `system_id`, if any.
pub async fn active_run_of_system(db: &Db, system_id: &str) -> StoreResult<Option<String>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT id FROM sync_runs WHERE system_id = $1 AND status IN ('pending', 'processing') \
         ORDER BY id DESC LIMIT 1")
        .bind(system_id).fetch_optional(p).await)?)
}

/// The newest run that ended with `success` or `partial`, if any.
pub async fn last_completed_run(db: &Db) -> StoreResult<Option<SyncRun>> {
    const SQL: &str =
        select_runs!("WHERE status IN ('success', 'partial') ORDER BY id DESC LIMIT 1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).fetch_optional(p).await)?)
}

/// Records a per-item failure of a run.
pub async fn insert_failure(tx: &mut Tx, run_id: &str, f: &SyncFailure) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO sync_failures (run_id, item, stage, error_kind, detail, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(run_id).bind(&f.item).bind(&f.stage).bind(&f.error_kind).bind(&f.detail).bind(f.occurred_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The failures of a run, oldest first, at most `limit`.
pub async fn list_failures(db: &Db, run_id: &str, limit: u32) -> StoreResult<Vec<SyncFailure>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT item, stage, error_kind, detail, occurred_at FROM sync_failures \
         WHERE run_id = $1 ORDER BY id LIMIT $2")
        .bind(run_id).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Records a new `pending` run started for system `system_id` in `tx`, unless the system
/// has a pending or processing run: then nothing is written and the answer is false (the
/// partial unique index of migration 0011 decides, so two instances racing cannot both
/// start one; PostgreSQL waits for the other transaction before it answers).
pub async fn insert_system_run_if_idle(
    tx: &mut Tx,
    id: &str,
    kind: &str,
    scope: &serde_json::Value,
    system_id: &str,
) -> StoreResult<bool> {
    let now = UtcTime::now();
    let scope = sqlx::types::Json(scope);
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO sync_runs (id, kind, status, scope, created_at, system_id) \
         VALUES ($1, $2, 'pending', $3, $4, $5) ON CONFLICT DO NOTHING")
        .bind(id).bind(kind).bind(scope).bind(now).bind(system_id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// [`active_run_of_system`] inside `tx`.
pub async fn active_run_of_system_in(tx: &mut Tx, system_id: &str) -> StoreResult<Option<String>> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM sync_runs WHERE system_id = $1 AND status IN ('pending', 'processing') \
         ORDER BY id DESC LIMIT 1")
        .bind(system_id).fetch_optional(&mut *c).await)?)
}
