//! Orders and their lines.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, Tx, on_db, on_tx};
use crate::status::{OrderStatus, SupplierStatus};
use crate::types::{Money, UtcTime};

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct Order {
    /// Id (`ord_…`).
    pub id: String,
    /// The storefront's order number (sent as `onlineNo`).
    pub order_number: String,
    /// Our sub-order number at the supplier (`soId`), its idempotency key.
    pub so_id: String,
    /// Hash of the create request, so a retried create is recognised.
    #[serde(skip)]
    pub request_hash: String,
    /// `held` (stock held, awaiting payment), `paid`, `cancelled` or `expired`.
    pub status: OrderStatus,
    /// Where the order stands at the supplier: `none` (nothing to push), `push_pending`,
    /// `pushed`, `push_failed`, `confirmed`, `rejected`, `out_of_stock`,
    /// `out_of_stock_failed`, `cancel_pending`, `cancelled`, `partially_cancelled`,
    /// `cancel_failed`, `failed`.
    pub supplier_status: SupplierStatus,
    /// The supplier's order number (`retailOrderNo`, `ExtOrderNo`).
    pub retail_order_no: Option<String>,
    /// The supplier's last failure message (`FailMsg`, or a rejection's message).
    pub supplier_message: Option<String>,
    /// Consignee name (`consigneeName`).
    pub consignee_name: String,
    /// Consignee mobile (`consigneeMobile`).
    pub consignee_mobile: String,
    /// Province as given (`province`).
    pub province: String,
    /// City as given (`city`).
    pub city: String,
    /// District as given (`area`).
    pub district: String,
    /// Town or street (`town`).
    pub town: Option<String>,
    /// The rest of the address, without the region (`detailAddress`).
    pub detail_address: String,
    /// The resolved GB/T 2260 county code: the key of regional stock.
    pub county_code: String,
    /// Requested delivery date (`distributionTime`).
    pub distribution_time: Option<UtcTime>,
    /// Requested installation date (`installTime`).
    pub install_time: Option<UtcTime>,
    /// Government-subsidy order (`governmentOrder`).
    pub government_order: bool,
    /// Free remark (`remark`).
    pub remark: Option<String>,
    /// Units in all lines (`totalQty`).
    pub total_qty: i64,
    /// Σ actual price × quantity, in yuan (`totalAmt`).
    pub total_amount: Money,
    /// When unpaid holds expire.
    pub hold_expires_at: UtcTime,
    /// When the order was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
    /// When it was paid.
    pub paid_at: Option<UtcTime>,
    /// When it was cancelled.
    pub cancelled_at: Option<UtcTime>,
    /// Who created it: the API key (`key_…`) or user (`usr_…`) of the caller; null when
    /// created with the bootstrap admin token or on a hub open to all. A storefront
    /// caller sees and acts on its own orders only.
    pub created_by: Option<String>,
}

/// One line of an order: one SKU, prices per unit.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct OrderLine {
    /// 1-based line number.
    pub line_no: i64,
    /// SKU (`productCode`).
    pub product_code: String,
    /// `haier` or `local`.
    pub source: String,
    /// Units (`itemQty`).
    pub quantity: i64,
    /// Retail price per unit (`retailPrice`).
    pub retail_price: Money,
    /// Discount per unit (`discountAmount`).
    pub discount_amount: Money,
    /// Deal price per unit: retail − discount (`actualPrice`).
    pub actual_price: Money,
    /// A gift (`isGift`).
    pub is_gift: bool,
    /// Units signed for, from the supplier's cancel callback (`receiveQty`).
    pub receive_qty: Option<i64>,
    /// Units returned (`returnQty`).
    pub return_qty: Option<i64>,
    /// Units rejected or intercepted (`rejectQty`).
    pub reject_qty: Option<i64>,
}

/// `SELECT` of every order column, followed by the rest of the query.
macro_rules! select_orders {
    ($tail:literal) => {
        concat!(
            "SELECT id, order_number, so_id, request_hash, status, supplier_status, retail_order_no, \
             supplier_message, consignee_name, consignee_mobile, province, city, district, town, \
             detail_address, county_code, distribution_time, install_time, government_order, remark, \
             total_qty, total_amount, hold_expires_at, created_at, updated_at, paid_at, cancelled_at, \
             created_by FROM orders ",
            $tail
        )
    };
}

/// Inserts a new order (its lines go in with [`insert_line`]).
pub async fn insert_order(tx: &mut Tx, o: &Order) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO orders (id, order_number, so_id, request_hash, status, supplier_status, \
         retail_order_no, supplier_message, consignee_name, consignee_mobile, province, city, district, \
         town, detail_address, county_code, distribution_time, install_time, government_order, remark, \
         total_qty, total_amount, hold_expires_at, created_at, updated_at, paid_at, cancelled_at, \
         created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
         $20, $21, $22, $23, $24, $25, $26, $27, $28)")
        .bind(&o.id).bind(&o.order_number).bind(&o.so_id).bind(&o.request_hash).bind(o.status)
        .bind(o.supplier_status).bind(&o.retail_order_no).bind(&o.supplier_message)
        .bind(&o.consignee_name).bind(&o.consignee_mobile).bind(&o.province).bind(&o.city)
        .bind(&o.district).bind(&o.town).bind(&o.detail_address).bind(&o.county_code)
        .bind(o.distribution_time).bind(o.install_time).bind(o.government_order).bind(&o.remark)
        .bind(o.total_qty).bind(o.total_amount).bind(o.hold_expires_at).bind(o.created_at)
        .bind(o.updated_at).bind(o.paid_at).bind(o.cancelled_at).bind(&o.created_by)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Inserts one line of an order.
pub async fn insert_line(tx: &mut Tx, order_id: &str, l: &OrderLine) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO order_lines (order_id, line_no, product_code, source, quantity, retail_price, \
         discount_amount, actual_price, is_gift, receive_qty, return_qty, reject_qty) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
        .bind(order_id).bind(l.line_no).bind(&l.product_code).bind(&l.source).bind(l.quantity)
        .bind(l.retail_price).bind(l.discount_amount).bind(l.actual_price).bind(l.is_gift)
        .bind(l.receive_qty).bind(l.return_qty).bind(l.reject_qty)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// One order by id.
pub async fn get_order(db: &Db, id: &str) -> StoreResult<Option<Order>> {
    const SQL: &str = select_orders!("WHERE id = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)?)
}

/// One order by id, read inside a write transaction.
pub async fn get_order_in(tx: &mut Tx, id: &str) -> StoreResult<Option<Order>> {
    const SQL: &str = select_orders!("WHERE id = $1");
    Ok(on_tx!(tx, c => sqlx::query_as(SQL).bind(id).fetch_optional(&mut *c).await)?)
}

/// One order by the storefront's order number.
pub async fn get_order_by_number(db: &Db, order_number: &str) -> StoreResult<Option<Order>> {
    const SQL: &str = select_orders!("WHERE order_number = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(order_number).fetch_optional(p).await)?)
}

/// One order by the storefront's order number, read inside a write transaction.
pub async fn get_order_by_number_in(tx: &mut Tx, order_number: &str) -> StoreResult<Option<Order>> {
    const SQL: &str = select_orders!("WHERE order_number = $1");
    Ok(on_tx!(tx, c => sqlx::query_as(SQL).bind(order_number).fetch_optional(&mut *c).await)?)
}

/// A page of orders, newest first, after the cursor `before` (an order id; from the
/// newest when `None`); with `created_by`, only the orders that principal created. Ids
/// compare bytewise on both backends (migration 0004).
pub async fn list_orders(
    db: &Db,
    created_by: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Order>> {
    const SQL: &str = select_orders!(
        "WHERE ($1 IS NULL OR created_by = $1) AND ($2 IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    );
    Ok(
        on_db!(db, p => sqlx::query_as(SQL).bind(created_by).bind(before)
        .bind(i64::from(limit)).fetch_all(p).await)?,
    )
}

/// A page of orders at `supplier_status`, newest first, after the cursor `before` (an
/// order id); with `updated_before`, only those last changed before it (for `pushed`:
/// pushed then, and no callback since); with `created_by`, only the orders that
/// principal created.
pub async fn list_orders_by_supplier_status(
    db: &Db,
    created_by: Option<&str>,
    supplier_status: &str,
    updated_before: Option<UtcTime>,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Order>> {
    const SQL: &str = select_orders!(
        "WHERE supplier_status = $1 AND updated_at < $2 AND id < $3 \
         AND ($5 IS NULL OR created_by = $5) ORDER BY id DESC LIMIT $4"
    );
    let before = before.unwrap_or("ord_~");
    // Without a bound, any time up to far in the future.
    let updated_before = updated_before.unwrap_or_else(|| {
        UtcTime::from(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365 * 100))
    });
    Ok(on_db!(db, p => sqlx::query_as(SQL)
        .bind(supplier_status).bind(updated_before).bind(before).bind(i64::from(limit))
        .bind(created_by).fetch_all(p).await)?)
}

/// Every order, oldest first (for reconciliation and tests).
pub async fn all_orders(db: &Db) -> StoreResult<Vec<Order>> {
    const SQL: &str = select_orders!("ORDER BY id");
    Ok(on_db!(db, p => sqlx::query_as(SQL).fetch_all(p).await)?)
}

/// Orders still `held` whose holds expired before `now`, at most `limit`.
pub async fn expired_held_orders(db: &Db, now: UtcTime, limit: u32) -> StoreResult<Vec<String>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'held' AND hold_expires_at < $1 ORDER BY hold_expires_at LIMIT $2")
        .bind(now).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// The lines of an order, by line number.
pub async fn lines_of_order(db: &Db, order_id: &str) -> StoreResult<Vec<OrderLine>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT line_no, product_code, source, quantity, retail_price, discount_amount, actual_price, \
         is_gift, receive_qty, return_qty, reject_qty FROM order_lines WHERE order_id = $1 ORDER BY line_no")
        .bind(order_id).fetch_all(p).await)?)
}

/// The lines of an order, read inside a write transaction.
pub async fn lines_of_order_in(tx: &mut Tx, order_id: &str) -> StoreResult<Vec<OrderLine>> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT line_no, product_code, source, quantity, retail_price, discount_amount, actual_price, \
         is_gift, receive_qty, return_qty, reject_qty FROM order_lines WHERE order_id = $1 ORDER BY line_no")
        .bind(order_id).fetch_all(&mut *c).await)?)
}

/// One order by id, locked until the transaction ends (`FOR UPDATE` on PostgreSQL;
/// SQLite's `BEGIN IMMEDIATE` already makes the transaction the only writer), so that
/// what is decided from it still holds when it is written.
pub async fn lock_order_in(tx: &mut Tx, id: &str) -> StoreResult<Option<Order>> {
    Ok(match tx {
        Tx::Postgres(t) => {
            const SQL: &str = select_orders!("WHERE id = $1 FOR UPDATE");
            sqlx::query_as(SQL)
                .bind(id)
                .fetch_optional(&mut **t)
                .await?
        }
        Tx::Sqlite(t) => {
            const SQL: &str = select_orders!("WHERE id = $1");
            sqlx::query_as(SQL)
                .bind(id)
                .fetch_optional(&mut **t)
                .await?
        }
    })
}

/// Moves an order from one of `from` to `to` (and sets `paid_at` / `cancelled_at` when
/// `to` is `paid` / `cancelled`/`expired`): the one way an order's status changes, and
/// only along [`OrderStatus::can_become`]. False when the order was in no status of
/// `from` (someone else moved it first) or may not become `to`: nothing is written.
pub async fn transition_order(
    tx: &mut Tx,
    id: &str,
    from: &[OrderStatus],
    to: OrderStatus,
    now: UtcTime,
) -> StoreResult<bool> {
    // `from` is a short fixed list; it is matched in Rust, and the update is conditional
    // on the status read, so that one statement serves both backends and a concurrent
    // change in between (PostgreSQL re-checks the condition after the row lock) makes
    // it a no-op.
    let current: Option<OrderStatus> = on_tx!(tx, c => sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(id).fetch_optional(&mut *c).await)?;
    let Some(current) = current else {
        return Ok(false);
    };
    if !from.contains(&current) || !current.can_become(to) {
        return Ok(false);
    }
    let paid_at = (to == OrderStatus::Paid).then_some(now);
    let cancelled_at = matches!(to, OrderStatus::Cancelled | OrderStatus::Expired).then_some(now);
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE orders SET status = $2, updated_at = $3, paid_at = COALESCE($4, paid_at), \
         cancelled_at = COALESCE($5, cancelled_at) WHERE id = $1 AND status = $6")
        .bind(id).bind(to).bind(now).bind(paid_at).bind(cancelled_at).bind(current)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Moves where the order stands at the supplier from one of `from` to `to`, setting
/// `retail_order_no` and `message` unless `None` (then kept): the one way a supplier
/// status changes. False when the order stood at no status of `from` (someone else moved
/// it first): nothing is written. A change emits `order.supplier_status_changed` in the
/// same transaction.
#[allow(clippy::too_many_arguments)]
pub async fn transition_supplier_status(
    tx: &mut Tx,
    id: &str,
    from: &[SupplierStatus],
    to: SupplierStatus,
    retail_order_no: Option<&str>,
    message: Option<&str>,
    now: UtcTime,
) -> StoreResult<bool> {
    // As in `transition_order`: matched in Rust, written conditionally on what was read.
    let current: Option<SupplierStatus> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT supplier_status FROM orders WHERE id = $1")
        .bind(id).fetch_optional(&mut *c).await)?;
    let Some(current) = current else {
        return Ok(false);
    };
    if !from.contains(&current) {
        return Ok(false);
    }
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE orders SET supplier_status = $2, retail_order_no = COALESCE($3, retail_order_no), \
         supplier_message = COALESCE($4, supplier_message), updated_at = $5 \
         WHERE id = $1 AND supplier_status = $6")
        .bind(id).bind(to).bind(retail_order_no).bind(message).bind(now).bind(current)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 1 && current != to {
        crate::webhooks::outbound::emit(
            tx,
            crate::webhooks::outbound::EventType::OrderSupplierStatusChanged,
            serde_json::json!({
                "order_id": id,
                "previous_status": current,
                "status": to,
                "retail_order_no": retail_order_no,
                "message": message,
                "changed_at": now,
            }),
        )
        .await?;
    }
    Ok(n == 1)
}

/// Sets the requested delivery and installation dates.
pub async fn set_order_times(
    tx: &mut Tx,
    id: &str,
    distribution_time: Option<UtcTime>,
    install_time: Option<UtcTime>,
    now: UtcTime,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE orders SET distribution_time = COALESCE($2, distribution_time), \
         install_time = COALESCE($3, install_time), updated_at = $4 WHERE id = $1")
        .bind(id).bind(distribution_time).bind(install_time).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets (never adds) a line's quantities from a cancel callback.
pub async fn set_line_quantities(
    tx: &mut Tx,
    order_id: &str,
    product_code: &str,
    receive_qty: Option<i64>,
    return_qty: Option<i64>,
    reject_qty: Option<i64>,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE order_lines SET receive_qty = $3, return_qty = $4, reject_qty = $5 \
         WHERE order_id = $1 AND product_code = $2")
        .bind(order_id).bind(product_code).bind(receive_qty).bind(return_qty).bind(reject_qty)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
