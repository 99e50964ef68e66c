//! Schedules, their claims, and the stock schedule's inputs (demand and coverage).
//!
//! A due schedule is claimed like a job: `FOR UPDATE SKIP LOCKED` on PostgreSQL, the
//! single writer of SQLite inside `BEGIN IMMEDIATE`; the claimer moves `next_run_at` in
//! the same transaction, so a firing is claimed by exactly one instance.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, Tx, on_db, on_tx};
use crate::status::{FiringOutcome, ScheduleKind};
use crate::types::UtcTime;

/// A schedule as stored (and as the API shows it).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct Schedule {
    /// Id (`sch_…`; the defaults are `sch_stock`, `sch_prices` and `sch_catalog`).
    pub id: String,
    /// What it is called.
    pub name: String,
    /// What it starts.
    pub kind: ScheduleKind,
    /// The external system it syncs (`system_sync` only).
    pub system_id: Option<String>,
    /// A five-field cron expression (minute hour day-of-month month day-of-week).
    pub cron: String,
    /// The IANA time zone the expression is read in (default `Asia/Shanghai`).
    pub time_zone: String,
    /// Whether it fires.
    pub enabled: bool,
    /// When it fires next: absent while disabled, and for a new schedule until a
    /// scheduler first sees it.
    pub next_run_at: Option<UtcTime>,
    /// Its last firing (or run-now).
    pub last_run_at: Option<UtcTime>,
    /// The run its last firing started (`run_…`).
    pub last_run_id: Option<String>,
    /// What its last firing came to.
    pub last_outcome: Option<FiringOutcome>,
    /// Why: the active run that made it skip, the reason it failed, the run's summary.
    pub last_detail: Option<String>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

macro_rules! select_schedules {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, kind, system_id, cron, time_zone, enabled, next_run_at, last_run_at, \
             last_run_id, last_outcome, last_detail, created_at, updated_at FROM schedules ",
            $tail
        )
    };
}

/// One schedule.
pub async fn get_schedule(db: &Db, id: &str) -> StoreResult<Option<Schedule>> {
    const SQL: &str = select_schedules!("WHERE id = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)?)
}

/// The schedule of system `system_id`, if it has one.
pub async fn schedule_of_system(db: &Db, system_id: &str) -> StoreResult<Option<Schedule>> {
    const SQL: &str = select_schedules!("WHERE system_id = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(system_id).fetch_optional(p).await)?)
}

/// A page of schedules by id, after the cursor `after`.
pub async fn list_schedules(
    db: &Db,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Schedule>> {
    const SQL: &str = select_schedules!("WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(after).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Enabled schedules that have no `next_run_at` yet (new ones, and those just enabled).
pub async fn unplanned_schedules(db: &Db) -> StoreResult<Vec<Schedule>> {
    const SQL: &str = select_schedules!("WHERE enabled AND next_run_at IS NULL ORDER BY id");
    Ok(on_db!(db, p => sqlx::query_as(SQL).fetch_all(p).await)?)
}

/// Sets the first `next_run_at` of a schedule that has none; false when another
/// instance set it first.
pub async fn plan_first_run(db: &Db, id: &str, next: Option<UtcTime>) -> StoreResult<bool> {
    let n = on_db!(db, p => sqlx::query(
        "UPDATE schedules SET next_run_at = $2 WHERE id = $1 AND next_run_at IS NULL AND enabled")
        .bind(id).bind(next).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Claims the enabled schedule due longest (`next_run_at <= now`) in `tx`, locking it
/// (`FOR UPDATE SKIP LOCKED` on PostgreSQL; `tx` is `BEGIN IMMEDIATE` on SQLite). The
/// caller moves its `next_run_at` with [`advance_schedule`] before committing.
pub async fn claim_due_schedule(tx: &mut Tx, now: UtcTime) -> StoreResult<Option<Schedule>> {
    Ok(match tx {
        Tx::Postgres(t) => {
            const SQL: &str = select_schedules!(
                "WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED"
            );
            sqlx::query_as(SQL)
                .bind(now)
                .fetch_optional(&mut **t)
                .await?
        }
        Tx::Sqlite(t) => {
            const SQL: &str = select_schedules!(
                "WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT 1"
            );
            sqlx::query_as(SQL)
                .bind(now)
                .fetch_optional(&mut **t)
                .await?
        }
    })
}

/// Locks schedule `id` in `tx` for a run-now (waits for a claim in progress).
pub async fn lock_schedule(tx: &mut Tx, id: &str) -> StoreResult<Option<Schedule>> {
    Ok(match tx {
        Tx::Postgres(t) => {
            const SQL: &str = select_schedules!("WHERE id = $1 FOR UPDATE");
            sqlx::query_as(SQL)
                .bind(id)
                .fetch_optional(&mut **t)
                .await?
        }
        Tx::Sqlite(t) => {
            const SQL: &str = select_schedules!("WHERE id = $1");
            sqlx::query_as(SQL)
                .bind(id)
                .fetch_optional(&mut **t)
                .await?
        }
    })
}

/// Moves a claimed schedule's `next_run_at` to `next` (none: its expression names no
/// later time).
pub async fn advance_schedule(tx: &mut Tx, id: &str, next: Option<UtcTime>) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query("UPDATE schedules SET next_run_at = $2 WHERE id = $1")
        .bind(id).bind(next).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a firing of schedule `id` at `fired_at`: the run it started (if any), its
/// outcome and why.
pub async fn record_firing(
    tx: &mut Tx,
    id: &str,
    fired_at: UtcTime,
    run_id: Option<&str>,
    outcome: FiringOutcome,
    detail: &str,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE schedules SET last_run_at = $2, last_run_id = $3, last_outcome = $4, \
         last_detail = $5 WHERE id = $1")
        .bind(id).bind(fired_at).bind(run_id).bind(outcome).bind(detail)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records how the run a schedule started ended, unless a later firing has replaced it
/// as the schedule's last run.
pub async fn record_run_end(
    db: &Db,
    id: &str,
    run_id: &str,
    outcome: FiringOutcome,
    detail: &str,
) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE schedules SET last_outcome = $3, last_detail = $4 WHERE id = $1 AND last_run_id = $2")
        .bind(id).bind(run_id).bind(outcome).bind(detail)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Changes a schedule's expression, time zone and enabled flag, and its next firing
/// (`None` when disabled); false when there is no such schedule.
pub async fn update_schedule(
    db: &Db,
    id: &str,
    cron: &str,
    time_zone: &str,
    enabled: bool,
    next: Option<UtcTime>,
) -> StoreResult<bool> {
    let now = UtcTime::now();
    let n = on_db!(db, p => sqlx::query(
        "UPDATE schedules SET cron = $2, time_zone = $3, enabled = $4, next_run_at = $5, \
         updated_at = $6 WHERE id = $1")
        .bind(id).bind(cron).bind(time_zone).bind(enabled).bind(next).bind(now)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Creates the schedule of system `system_id`, or changes its name and expression.
pub async fn upsert_system_schedule(
    db: &Db,
    id: &str,
    name: &str,
    system_id: &str,
    cron: &str,
    time_zone: &str,
    next: Option<UtcTime>,
) -> StoreResult<()> {
    let now = UtcTime::now();
    on_db!(db, p => sqlx::query(
        "INSERT INTO schedules (id, name, kind, system_id, cron, time_zone, enabled, next_run_at, \
         created_at, updated_at) VALUES ($1, $2, 'system_sync', $3, $4, $5, TRUE, $6, $7, $7) \
         ON CONFLICT (system_id) DO UPDATE SET name = excluded.name, cron = excluded.cron, \
         next_run_at = CASE WHEN schedules.enabled THEN excluded.next_run_at ELSE NULL END, \
         updated_at = excluded.updated_at")
        .bind(id).bind(name).bind(system_id).bind(cron).bind(time_zone).bind(next).bind(now)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the schedule of system `system_id` (its interval was removed).
pub async fn delete_system_schedule(db: &Db, system_id: &str) -> StoreResult<()> {
    on_db!(db, p => sqlx::query("DELETE FROM schedules WHERE system_id = $1")
        .bind(system_id).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Counties by recent checkouts: orders created at or after `since` with at least one
/// supplier line, counted per county, most first (then by code), at most `limit`.
pub async fn county_demand(db: &Db, since: UtcTime, limit: u32) -> StoreResult<Vec<(String, i64)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT o.county_code, COUNT(*) FROM orders o WHERE o.created_at >= $1 \
         AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.source = 'haier') \
         GROUP BY o.county_code ORDER BY COUNT(*) DESC, o.county_code LIMIT $2")
        .bind(since).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Products by recent demand: units of the supplier lines of orders created at or after
/// `since`, per product that is still procurable, most first (then by code), at most
/// `limit`.
pub async fn product_demand(
    db: &Db,
    since: UtcTime,
    limit: u32,
) -> StoreResult<Vec<(String, i64)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT l.product_code, CAST(SUM(l.quantity) AS BIGINT) FROM order_lines l \
         JOIN orders o ON o.id = l.order_id JOIN products p ON p.code = l.product_code \
         WHERE o.created_at >= $1 AND l.source = 'haier' AND p.is_procurable \
         GROUP BY l.product_code ORDER BY SUM(l.quantity) DESC, l.product_code LIMIT $2")
        .bind(since).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Procurable supplier products by code, at most `limit` (the stock schedule's products
/// when nothing was ordered recently).
pub async fn procurable_codes(db: &Db, limit: u32) -> StoreResult<Vec<String>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT code FROM products WHERE source = 'haier' AND is_procurable ORDER BY code LIMIT $1")
        .bind(i64::from(limit)).fetch_all(p).await)?)
}

/// When each county was last covered by a stock sync.
pub async fn stock_coverage(db: &Db) -> StoreResult<Vec<(String, UtcTime)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT county_code, covered_at FROM stock_coverage ORDER BY county_code")
        .fetch_all(p).await)?)
}

/// Records that run `run_id` covered `counties` as of `covered_at` (a later coverage is
/// kept).
pub async fn record_coverage(
    db: &Db,
    counties: &[String],
    covered_at: UtcTime,
    run_id: &str,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    for county in counties {
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO stock_coverage (county_code, covered_at, run_id) VALUES ($1, $2, $3) \
             ON CONFLICT (county_code) DO UPDATE SET covered_at = excluded.covered_at, \
             run_id = excluded.run_id WHERE stock_coverage.covered_at < excluded.covered_at")
            .bind(county).bind(covered_at).bind(run_id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await
}
