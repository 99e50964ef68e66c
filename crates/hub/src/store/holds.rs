//! Stock pools, holds and the inventory log.
//!
//! A stock pool is what can be held of one SKU: for supplier products, per county, with
//! `capacity` = the supplier's last seen stock there; for local products, with county `''`
//! and `capacity` = stock on hand. `held` counts units reserved and not yet settled.
//! A hold is taken by ONE conditional statement,
//! `UPDATE … SET held = held + q WHERE … AND held + q <= capacity`, which no interleaving
//! of concurrent checkouts can push past the capacity, on SQLite (one writer) and on
//! PostgreSQL (the row lock re-checks the condition).

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, Tx, on_db, on_tx};
use crate::status::HoldStatus;
use crate::types::UtcTime;

/// The county code of local stock pools (local stock is not regional).
pub const LOCAL_POOL: &str = "";

/// What can be held of one SKU in one county.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct StockPool {
    /// SKU.
    pub product_code: String,
    /// County code, or `""` for local stock.
    pub county_code: String,
    /// Units there are: the supplier's last seen stock, or local stock on hand.
    pub capacity: i64,
    /// Units held and not yet settled.
    pub held: i64,
    /// When `capacity` was last read from the supplier (or adjusted).
    pub refreshed_at: UtcTime,
}

/// A hold: one SKU reserved for one order until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct Hold {
    /// Id (`hld_…`).
    pub id: String,
    /// The order.
    pub order_id: String,
    /// SKU.
    pub product_code: String,
    /// The pool's county code (`""` for local stock).
    pub county_code: String,
    /// Units.
    pub quantity: i64,
    /// `active` (awaiting payment), `committed` (paid, awaiting the supplier), `settled`
    /// (the supplier or local stock took it), `released` (cancelled) or `expired`.
    pub status: HoldStatus,
    /// When an active hold expires.
    pub expires_at: UtcTime,
    /// When it was taken.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

/// One change to a stock pool.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct InventoryChange {
    /// SKU.
    pub product_code: String,
    /// County code, or `""` for local stock.
    pub county_code: String,
    /// `lock`, `release`, `expire`, `commit`, `settle`, `adjust` or `refresh`.
    pub change: String,
    /// Units (signed for `adjust` and `refresh`: the change of capacity).
    pub quantity: i64,
    /// Capacity after the change.
    pub capacity_after: i64,
    /// Held after the change.
    pub held_after: i64,
    /// The order concerned, if any.
    pub order_id: Option<String>,
    /// Why (adjustments).
    pub reason: Option<String>,
    /// When.
    pub created_at: UtcTime,
}

/// One pool.
pub async fn get_pool(
    db: &Db,
    product_code: &str,
    county_code: &str,
) -> StoreResult<Option<StockPool>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT product_code, county_code, capacity, held, refreshed_at FROM stock_pools \
         WHERE product_code = $1 AND county_code = $2")
        .bind(product_code).bind(county_code).fetch_optional(p).await)?)
}

/// One pool, read inside a write transaction. (Never read through the pool while a
/// transaction is open: with every connection taken by waiting writers, that waits forever.)
pub async fn get_pool_in(
    tx: &mut Tx,
    product_code: &str,
    county_code: &str,
) -> StoreResult<Option<StockPool>> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT product_code, county_code, capacity, held, refreshed_at FROM stock_pools \
         WHERE product_code = $1 AND county_code = $2")
        .bind(product_code).bind(county_code).fetch_optional(&mut *c).await)?)
}

#[allow(clippy::too_many_arguments)]
async fn log(
    tx: &mut Tx,
    product_code: &str,
    county_code: &str,
    change: &str,
    quantity: i64,
    after: (i64, i64),
    order_id: Option<&str>,
    reason: Option<&str>,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO inventory_log (product_code, county_code, change, quantity, capacity_after, \
         held_after, order_id, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(product_code).bind(county_code).bind(change).bind(quantity).bind(after.0).bind(after.1)
        .bind(order_id).bind(reason).bind(UtcTime::now())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets a pool's capacity to what the supplier says now (creating the pool), logging a
/// `refresh` when the capacity changed. Returns the pool.
pub async fn refresh_pool(
    tx: &mut Tx,
    product_code: &str,
    county_code: &str,
    capacity: i64,
    now: UtcTime,
) -> StoreResult<StockPool> {
    let before: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT capacity FROM stock_pools WHERE product_code = $1 AND county_code = $2")
        .bind(product_code).bind(county_code).fetch_optional(&mut *c).await)?;
    let pool: StockPool = on_tx!(tx, c => sqlx::query_as(
        "INSERT INTO stock_pools (product_code, county_code, capacity, held, refreshed_at) \
         VALUES ($1, $2, $3, 0, $4) ON CONFLICT (product_code, county_code) \
         DO UPDATE SET capacity = excluded.capacity, refreshed_at = excluded.refreshed_at \
         RETURNING product_code, county_code, capacity, held, refreshed_at")
        .bind(product_code).bind(county_code).bind(capacity).bind(now)
        .fetch_one(&mut *c).await)?;
    if before != Some(capacity) {
        let delta = capacity - before.unwrap_or(0);
        log(
            tx,
            product_code,
            county_code,
            "refresh",
            delta,
            (pool.capacity, pool.held),
            None,
            None,
        )
        .await?;
    }
    Ok(pool)
}

/// Changes a local pool's stock on hand by `delta` (creating the pool), refusing to go
/// below what is held. Returns the pool, or `None` when refused.
pub async fn adjust_pool(
    tx: &mut Tx,
    product_code: &str,
    county_code: &str,
    delta: i64,
    reason: &str,
    now: UtcTime,
) -> StoreResult<Option<StockPool>> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO stock_pools (product_code, county_code, capacity, held, refreshed_at) \
         VALUES ($1, $2, 0, 0, $3) ON CONFLICT (product_code, county_code) DO NOTHING")
        .bind(product_code).bind(county_code).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let pool: Option<StockPool> = on_tx!(tx, c => sqlx::query_as(
        "UPDATE stock_pools SET capacity = capacity + $3, refreshed_at = $4 \
         WHERE product_code = $1 AND county_code = $2 AND capacity + $3 >= held \
         RETURNING product_code, county_code, capacity, held, refreshed_at")
        .bind(product_code).bind(county_code).bind(delta).bind(now)
        .fetch_optional(&mut *c).await)?;
    if let Some(p) = &pool {
        log(
            tx,
            product_code,
            county_code,
            "adjust",
            delta,
            (p.capacity, p.held),
            None,
            Some(reason),
        )
        .await?;
    }
    Ok(pool)
}

/// Holds `quantity` units if `held + quantity <= capacity` (one conditional UPDATE) and
/// logs the `lock`. False when there is not enough.
pub async fn reserve(
    tx: &mut Tx,
    product_code: &str,
    county_code: &str,
    quantity: i64,
    order_id: &str,
) -> StoreResult<bool> {
    let after: Option<(i64, i64)> = on_tx!(tx, c => sqlx::query_as(
        "UPDATE stock_pools SET held = held + $3 \
         WHERE product_code = $1 AND county_code = $2 AND held + $3 <= capacity \
         RETURNING capacity, held")
        .bind(product_code).bind(county_code).bind(quantity)
        .fetch_optional(&mut *c).await)?;
    match after {
        Some(after) => {
            log(
                tx,
                product_code,
                county_code,
                "lock",
                quantity,
                after,
                Some(order_id),
                None,
            )
            .await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Gives back held units (`release` on cancel, `expire` on timeout), or takes them out of
/// the pool for good (`commit`: local stock leaves on payment; `settle`: the supplier took
/// the order, so its next stock figure already excludes them). Only through
/// [`move_hold`], so units move with their hold and at most once.
async fn unreserve(
    tx: &mut Tx,
    product_code: &str,
    county_code: &str,
    quantity: i64,
    change: &str,
    order_id: &str,
) -> StoreResult<()> {
    let consume = i64::from(matches!(change, "commit" | "settle"));
    let after: (i64, i64) = on_tx!(tx, c => sqlx::query_as(
        "UPDATE stock_pools SET held = held - $3, capacity = capacity - $3 * $4 \
         WHERE product_code = $1 AND county_code = $2 RETURNING capacity, held")
        .bind(product_code).bind(county_code).bind(quantity).bind(consume)
        .fetch_one(&mut *c).await)?;
    log(
        tx,
        product_code,
        county_code,
        change,
        quantity,
        after,
        Some(order_id),
        None,
    )
    .await
}

/// Records a hold.
pub async fn insert_hold(tx: &mut Tx, h: &Hold) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO holds (id, order_id, product_code, county_code, quantity, status, expires_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&h.id).bind(&h.order_id).bind(&h.product_code).bind(&h.county_code).bind(h.quantity)
        .bind(h.status).bind(h.expires_at).bind(h.created_at).bind(h.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The holds of an order in `status`, read inside a write transaction.
pub async fn holds_of_order_in(
    tx: &mut Tx,
    order_id: &str,
    status: HoldStatus,
) -> StoreResult<Vec<Hold>> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT id, order_id, product_code, county_code, quantity, status, expires_at, created_at, \
         updated_at FROM holds WHERE order_id = $1 AND status = $2 ORDER BY id")
        .bind(order_id).bind(status).fetch_all(&mut *c).await)?)
}

/// Every hold of an order.
pub async fn holds_of_order(db: &Db, order_id: &str) -> StoreResult<Vec<Hold>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, order_id, product_code, county_code, quantity, status, expires_at, created_at, \
         updated_at FROM holds WHERE order_id = $1 ORDER BY id")
        .bind(order_id).fetch_all(p).await)?)
}

/// Ends or advances one hold: moves it from the status it was read in (`hold.status`)
/// to `to`, and changes its pool as `change` says (`release` / `expire` give the units
/// back; `commit` / `settle` take them out of the pool for good; `None` leaves the pool
/// as it is). The one path by which holds move: the move is a compare-and-set on the
/// hold's status, so a hold is released or settled at most once however many callers
/// race, and only along [`HoldStatus::can_become`]. False when the hold had already
/// moved or may not become `to`: nothing is changed.
pub async fn move_hold(
    tx: &mut Tx,
    hold: &Hold,
    to: HoldStatus,
    change: Option<&str>,
    now: UtcTime,
) -> StoreResult<bool> {
    if !hold.status.can_become(to) {
        return Ok(false);
    }
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE holds SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4")
        .bind(&hold.id).bind(to).bind(now).bind(hold.status)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n != 1 {
        return Ok(false);
    }
    if let Some(change) = change {
        unreserve(
            tx,
            &hold.product_code,
            &hold.county_code,
            hold.quantity,
            change,
            &hold.order_id,
        )
        .await?;
    }
    Ok(true)
}

/// Moves every hold of an order in status `from` to `to` through [`move_hold`]; the
/// number moved.
pub async fn move_holds(
    tx: &mut Tx,
    order_id: &str,
    from: HoldStatus,
    to: HoldStatus,
    change: Option<&str>,
    now: UtcTime,
) -> StoreResult<usize> {
    let mut moved = 0;
    for hold in holds_of_order_in(tx, order_id, from).await? {
        if move_hold(tx, &hold, to, change, now).await? {
            moved += 1;
        }
    }
    Ok(moved)
}

/// The newest changes of a pool, newest first.
pub async fn inventory_log(
    db: &Db,
    product_code: &str,
    county_code: &str,
    limit: u32,
) -> StoreResult<Vec<InventoryChange>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT product_code, county_code, change, quantity, capacity_after, held_after, order_id, \
         reason, created_at FROM inventory_log WHERE product_code = $1 AND county_code = $2 \
         ORDER BY id DESC LIMIT $3")
        .bind(product_code).bind(county_code).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Holds active now (not yet committed, released or expired).
pub async fn count_active(db: &Db) -> StoreResult<i64> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM holds WHERE status = 'active'")
        .fetch_one(p).await)?)
}
