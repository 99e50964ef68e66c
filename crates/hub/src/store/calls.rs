//! The record of external calls: those made for orders (one row per client call, with its
//! redacted request and answer) and every HTTP attempt to the supplier outside them,
//! such as a sync run's (one row per attempt, attributed to its run).

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, on_db, on_tx};
use crate::types::UtcTime;

/// One call to an external system, redacted: no secrets, no consignee's name, phone or
/// street address.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct ExternalCall {
    /// `ylh` or `haier_open_platform`.
    pub system: String,
    /// The endpoint's short name, e.g. `y1_create`.
    pub endpoint: String,
    /// The order concerned.
    pub order_id: Option<String>,
    /// The job that made the call.
    pub job_id: Option<String>,
    /// The sync run that made the call.
    pub sync_run_id: Option<String>,
    /// For a row per HTTP attempt: 1 for the first attempt of a client call, 2, 3, … for
    /// its retries. `None` for a row that sums up a whole client call.
    pub attempt: Option<i64>,
    /// The request as sent, redacted (JSON text).
    pub request: Option<String>,
    /// The answer or the failure, redacted.
    pub response: Option<String>,
    /// HTTP status, when there was one.
    pub status: Option<i64>,
    /// `ok`, `created`, `already_exists`, or the failure class (`timeout`, `transport`,
    /// `server`, `rate_limited`, `auth`, `rejected`, `business`, `decode`).
    pub outcome: String,
    /// Milliseconds from sending to the answer (retries inside the call included).
    pub latency_ms: i64,
    /// When the call ended.
    pub created_at: UtcTime,
}

/// A recorded call with its row id (the cursor of a page of calls).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct CallEntry {
    /// Row id, increasing in the order calls were recorded.
    pub id: i64,
    /// The call.
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub call: ExternalCall,
}

const INSERT: &str = "INSERT INTO external_calls (system, endpoint, order_id, job_id, \
    sync_run_id, attempt, request, response, status, outcome, latency_ms, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// Stores recorded calls in one transaction (all or none). Calls are recorded through
/// [`crate::calllog`] (its [`SupplierCall`](crate::calllog::SupplierCall) redacts them);
/// this is its storage step, public for the storage conformance tests.
pub async fn insert_calls(db: &Db, calls: &[ExternalCall]) -> StoreResult<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for c in calls {
        on_tx!(&mut tx, t => sqlx::query(INSERT)
            .bind(&c.system).bind(&c.endpoint).bind(&c.order_id).bind(&c.job_id)
            .bind(&c.sync_run_id).bind(c.attempt).bind(&c.request).bind(&c.response)
            .bind(c.status).bind(&c.outcome).bind(c.latency_ms).bind(c.created_at)
            .execute(&mut *t).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(())
}

/// A page of the calls made for an order, oldest first: at most `limit` with an id
/// above `after`.
pub async fn calls_of_order(
    db: &Db,
    order_id: &str,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<CallEntry>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, system, endpoint, order_id, job_id, sync_run_id, attempt, request, response, \
         status, outcome, latency_ms, created_at FROM external_calls \
         WHERE order_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        .bind(order_id).bind(after.unwrap_or(0)).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// A page of a sync run's calls, oldest first: at most `limit` with an id above `after`.
pub async fn calls_of_sync_run(
    db: &Db,
    run_id: &str,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<CallEntry>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, system, endpoint, order_id, job_id, sync_run_id, attempt, request, response, \
         status, outcome, latency_ms, created_at FROM external_calls \
         WHERE sync_run_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        .bind(run_id).bind(after.unwrap_or(0)).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Rows deleted by one statement of [`prune_calls`], at most: short transactions, so
/// checkouts are not held up behind a long delete on SQLite's single writer.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes the recorded calls that belong to no order and were recorded before `before`
/// (sync runs' calls, stock checks at checkout), in batches; the number deleted. Calls
/// made for an order are never deleted.
pub async fn prune_calls(db: &Db, before: UtcTime) -> StoreResult<u64> {
    let mut total = 0;
    loop {
        let n = on_db!(db, p => sqlx::query(
            "DELETE FROM external_calls WHERE id IN (SELECT id FROM external_calls \
             WHERE created_at < $1 AND order_id IS NULL ORDER BY created_at LIMIT $2)")
            .bind(before).bind(PRUNE_BATCH).execute(p).await.map(|r| r.rows_affected()))?;
        total += n;
        if n < PRUNE_BATCH as u64 {
            return Ok(total);
        }
    }
}
