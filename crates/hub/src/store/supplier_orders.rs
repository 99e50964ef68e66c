//! Supplier purchase orders and returns (`supplier_orders`). The state changes only
//! through [`change_state`], a compare-and-set on the state it starts from.

use sqlx::FromRow;

use super::{Db, StoreResult, Tx, new_id, on_db, on_tx};
use crate::status::{SupplierOrderKind, SupplierOrderState};
use crate::types::{Money, UtcTime};

/// A supplier order as stored.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct SupplierOrderRow {
    /// Id (`spo_…`).
    pub id: String,
    /// The supplier system (`sys_…`).
    pub system_id: String,
    /// The supplier's or our purchasing system's id of it, unique per system.
    pub external_id: String,
    /// Purchase or return.
    pub kind: SupplierOrderKind,
    /// Where it stands.
    pub state: SupplierOrderState,
    /// The lines, a JSON array.
    pub lines: String,
    /// Its total, yuan.
    pub total: Money,
    /// Delivery details, JSON.
    pub delivery: Option<String>,
    /// A note.
    pub note: Option<String>,
    /// SHA-256 of its canonical input, hex.
    pub content_hash: String,
    /// When it was pending (created).
    pub pending_at: Option<UtcTime>,
    /// When it was confirmed.
    pub confirmed_at: Option<UtcTime>,
    /// When it shipped.
    pub shipped_at: Option<UtcTime>,
    /// When it was delivered.
    pub delivered_at: Option<UtcTime>,
    /// When it was cancelled.
    pub cancelled_at: Option<UtcTime>,
    /// When it was recorded.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

const COLUMNS: &str = "id, system_id, external_id, kind, state, lines, total, delivery, note, \
    content_hash, pending_at, confirmed_at, shipped_at, delivered_at, cancelled_at, \
    created_at, updated_at";

/// A new id for a supplier order.
pub fn new_supplier_order_id() -> String {
    new_id("spo")
}

/// Records a new order, `pending`: the one place a supplier order is created. A reused
/// (system, external id) is a [`super::StoreError::Conflict`].
pub async fn record_order(tx: &mut Tx, row: &SupplierOrderRow) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO supplier_orders (id, system_id, external_id, kind, state, lines, total, \
         delivery, note, content_hash, pending_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11)")
        .bind(&row.id).bind(&row.system_id).bind(&row.external_id).bind(row.kind)
        .bind(row.state).bind(&row.lines).bind(row.total).bind(&row.delivery)
        .bind(&row.note).bind(&row.content_hash).bind(row.created_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Moves order `id` from `from` to `to`, stamping the time `to` was reached: the one
/// function that changes a supplier order's state. False when the order is no longer in
/// `from` (a concurrent change won); the caller checks that `from → to` is allowed.
pub async fn change_state(
    tx: &mut Tx,
    id: &str,
    from: SupplierOrderState,
    to: SupplierOrderState,
) -> StoreResult<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE supplier_orders SET state = $3, updated_at = $4, \
         confirmed_at = CASE WHEN $3 = 'confirmed' THEN $4 ELSE confirmed_at END, \
         shipped_at = CASE WHEN $3 = 'shipped' THEN $4 ELSE shipped_at END, \
         delivered_at = CASE WHEN $3 = 'delivered' THEN $4 ELSE delivered_at END, \
         cancelled_at = CASE WHEN $3 = 'cancelled' THEN $4 ELSE cancelled_at END \
         WHERE id = $1 AND state = $2")
        .bind(id).bind(from).bind(to).bind(UtcTime::now())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// One order by id.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<SupplierOrderRow>> {
    let sql = format!("SELECT {COLUMNS} FROM supplier_orders WHERE id = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SupplierOrderRow>(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?,
    )
}

/// The order with external id `external_id` of system `system_id`, if any.
pub async fn by_external_id(
    db: &Db,
    system_id: &str,
    external_id: &str,
) -> StoreResult<Option<SupplierOrderRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM supplier_orders WHERE system_id = $1 AND external_id = $2");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SupplierOrderRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(external_id).fetch_optional(p).await)?,
    )
}

/// What to list of the supplier orders; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct SupplierOrderFilter {
    /// Of this supplier system.
    pub system_id: Option<String>,
    /// In this state.
    pub state: Option<SupplierOrderState>,
    /// Purchases or returns.
    pub kind: Option<SupplierOrderKind>,
    /// Recorded at or after.
    pub since: Option<UtcTime>,
    /// Recorded before.
    pub until: Option<UtcTime>,
}

/// A filtered page of orders, newest first, after the cursor `before` (an id).
pub async fn list(
    db: &Db,
    filter: &SupplierOrderFilter,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<SupplierOrderRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM supplier_orders WHERE ($1 IS NULL OR system_id = $1) \
         AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR kind = $3) \
         AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) \
         AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SupplierOrderRow>(sqlx::AssertSqlSafe(sql))
        .bind(filter.system_id.as_deref()).bind(filter.state).bind(filter.kind)
        .bind(filter.since).bind(filter.until).bind(before).bind(i64::from(limit))
        .fetch_all(p).await)?,
    )
}
