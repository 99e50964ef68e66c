//! The record of external calls made for orders.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, on_db};
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
    /// The request as sent, redacted (JSON text).
    pub request: Option<String>,
    /// The answer or the failure, redacted.
    pub response: Option<String>,
    /// HTTP status, when there was one.
    pub status: Option<i64>,
    /// `ok`, `created`, `already_exists`, or the failure class.
    pub outcome: String,
    /// Milliseconds from sending to the answer (retries inside the call included).
    pub latency_ms: i64,
    /// When the call ended.
    pub created_at: UtcTime,
}

/// Records a call.
pub async fn insert_call(db: &Db, c: &ExternalCall) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO external_calls (system, endpoint, order_id, job_id, request, response, status, \
         outcome, latency_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&c.system).bind(&c.endpoint).bind(&c.order_id).bind(&c.job_id).bind(&c.request)
        .bind(&c.response).bind(c.status).bind(&c.outcome).bind(c.latency_ms).bind(c.created_at)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The calls made for an order, oldest first.
pub async fn calls_of_order(db: &Db, order_id: &str) -> StoreResult<Vec<ExternalCall>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT system, endpoint, order_id, job_id, request, response, status, outcome, latency_ms, \
         created_at FROM external_calls WHERE order_id = $1 ORDER BY id")
        .bind(order_id).fetch_all(p).await)?)
}
