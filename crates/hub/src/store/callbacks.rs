//! The supplier's callbacks: every one kept raw for audit (`supplier_callbacks`), and each
//! event applied once (`supplier_events`, keyed by a unique `dedupe_key`).

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, Tx, on_db, on_tx};
use crate::types::UtcTime;

/// A callback as received, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct SupplierCallback {
    /// Id (`cb_…`).
    pub id: String,
    /// When it arrived.
    pub received_at: UtcTime,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
    /// `Method`, once the body could be read.
    pub method: Option<String>,
    /// `received` (not yet handled), `applied`, `replayed`, `order_not_found`,
    /// `ignored: <why>` or `refused: <why>` (a verified callback whose `Data` could not
    /// be read; callbacks that fail verification are not stored).
    pub outcome: String,
    /// `TimeStamp` (China time) minus our clock at arrival, in seconds; positive when
    /// the supplier's clock is ahead.
    pub clock_skew_secs: Option<i64>,
}

/// One event of a callback, applied (or deliberately ignored) once.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct SupplierEvent {
    /// `Method` + `:` + hex MD5 of the raw `Data` text: the same event sent twice has
    /// the same key.
    pub dedupe_key: String,
    /// The order it is about.
    pub order_id: String,
    /// `Method`.
    pub method: String,
    /// `State`: 1 ok, 0 failed, 2 partial.
    pub state: i64,
    /// The callback that first carried it.
    pub callback_id: String,
    /// When it was recorded.
    pub applied_at: UtcTime,
}

/// Keeps a callback as received, before anything is done with it.
pub async fn insert_callback(db: &Db, cb: &SupplierCallback) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO supplier_callbacks (id, received_at, content_type, body, method, outcome, \
         clock_skew_secs) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&cb.id).bind(cb.received_at).bind(&cb.content_type).bind(&cb.body)
        .bind(&cb.method).bind(&cb.outcome).bind(cb.clock_skew_secs)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records what became of a callback (and its `Method`, kept when `None`).
pub async fn finish_callback(
    db: &Db,
    id: &str,
    method: Option<&str>,
    outcome: &str,
) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE supplier_callbacks SET method = COALESCE($2, method), outcome = $3 WHERE id = $1")
        .bind(id).bind(method).bind(outcome)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records what became of a callback inside the transaction that applied it, so the
/// outcome and the change commit together.
pub async fn finish_callback_in(
    tx: &mut Tx,
    id: &str,
    method: Option<&str>,
    outcome: &str,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE supplier_callbacks SET method = COALESCE($2, method), outcome = $3 WHERE id = $1")
        .bind(id).bind(method).bind(outcome)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// One callback by id.
pub async fn get_callback(db: &Db, id: &str) -> StoreResult<Option<SupplierCallback>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, received_at, content_type, body, method, outcome, clock_skew_secs FROM supplier_callbacks WHERE id = $1")
        .bind(id).fetch_optional(p).await)?)
}

/// Every callback, oldest first (ids are time-ordered).
pub async fn all_callbacks(db: &Db) -> StoreResult<Vec<SupplierCallback>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, received_at, content_type, body, method, outcome, clock_skew_secs FROM supplier_callbacks ORDER BY id")
        .fetch_all(p).await)?)
}

/// Records an event unless its key is taken. True when it was recorded (first time),
/// false for a replay.
pub async fn record_event(tx: &mut Tx, e: &SupplierEvent) -> StoreResult<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO supplier_events (dedupe_key, order_id, method, state, callback_id, applied_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING")
        .bind(&e.dedupe_key).bind(&e.order_id).bind(&e.method).bind(e.state)
        .bind(&e.callback_id).bind(e.applied_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The events of an order, in the order they were recorded.
pub async fn order_events(db: &Db, order_id: &str) -> StoreResult<Vec<SupplierEvent>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT dedupe_key, order_id, method, state, callback_id, applied_at FROM supplier_events \
         WHERE order_id = $1 ORDER BY applied_at, callback_id")
        .bind(order_id).fetch_all(p).await)?)
}

/// The orders whose supplier order number (`retail_order_no`) is `retail_order_no`, at
/// most two: more than one means the number does not identify an order.
pub async fn order_ids_by_retail_order_no(
    tx: &mut Tx,
    retail_order_no: &str,
) -> StoreResult<Vec<String>> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM orders WHERE retail_order_no = $1 ORDER BY id LIMIT 2")
        .bind(retail_order_no).fetch_all(&mut *c).await)?)
}

/// Takes the write lock on an order's row for the rest of the transaction (a no-op
/// update: PostgreSQL locks the row; SQLite's `BEGIN IMMEDIATE` already serializes
/// writers), so two callbacks about one order are applied one after the other, each
/// seeing the other's result. False if there is no such order.
pub async fn lock_order(tx: &mut Tx, order_id: &str) -> StoreResult<bool> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE orders SET updated_at = updated_at WHERE id = $1")
        .bind(order_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
