//! POS transactions (`pos_transactions`): sales, refunds and voids. A refund or void is
//! recorded in the same transaction that changes its sale, while the sale's row is
//! locked ([`lock_sale`]), so concurrent refunds are applied one after the other.

use sqlx::FromRow;

use super::{Db, StoreResult, Tx, new_id, on_db, on_tx};
use crate::status::{PosKind, PosStatus};
use crate::types::{Money, UtcTime};

/// A POS transaction as stored.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct PosRow {
    /// Id (`ptx_…`).
    pub id: String,
    /// The POS system (`sys_…`).
    pub system_id: String,
    /// The POS's own id of it, unique per system.
    pub external_id: String,
    /// Sale, refund or void.
    pub kind: PosKind,
    /// Where it stands.
    pub status: PosStatus,
    /// A refund's or void's sale (`ptx_…`).
    pub sale_id: Option<String>,
    /// The store it was made in.
    pub store_code: Option<String>,
    /// The customer, JSON.
    pub customer: Option<String>,
    /// How it was paid.
    pub payment_method: Option<String>,
    /// The lines, a JSON array.
    pub lines: String,
    /// Its total, yuan.
    pub total: Money,
    /// A sale: what has been refunded of it, yuan.
    pub refunded_amount: Money,
    /// A sale: quantities refunded per SKU, a JSON object.
    pub refunded_quantities: String,
    /// SHA-256 of its canonical input, hex.
    pub content_hash: String,
    /// When it happened at the POS.
    pub occurred_at: UtcTime,
    /// When it was recorded here.
    pub created_at: UtcTime,
    /// When it last changed (a sale's refunds or void).
    pub updated_at: UtcTime,
}

const COLUMNS: &str = "id, system_id, external_id, kind, status, sale_id, store_code, customer, \
    payment_method, lines, total, refunded_amount, refunded_quantities, content_hash, \
    occurred_at, created_at, updated_at";

/// A new id for a POS transaction.
pub fn new_pos_id() -> String {
    new_id("ptx")
}

/// Records a transaction: the one place a POS transaction is created (an event about it
/// belongs in the same transaction `tx`). A reused (system, external id) is a
/// [`super::StoreError::Conflict`].
pub async fn record_transaction(tx: &mut Tx, row: &PosRow) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO pos_transactions (id, system_id, external_id, kind, status, sale_id, \
         store_code, customer, payment_method, lines, total, refunded_amount, \
         refunded_quantities, content_hash, occurred_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)")
        .bind(&row.id).bind(&row.system_id).bind(&row.external_id).bind(row.kind)
        .bind(row.status).bind(&row.sale_id).bind(&row.store_code).bind(&row.customer)
        .bind(&row.payment_method).bind(&row.lines).bind(row.total).bind(row.refunded_amount)
        .bind(&row.refunded_quantities).bind(&row.content_hash).bind(row.occurred_at)
        .bind(row.created_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The transaction with external id `external_id` of system `system_id`, if any.
pub async fn by_external_id(
    db: &Db,
    system_id: &str,
    external_id: &str,
) -> StoreResult<Option<PosRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM pos_transactions WHERE system_id = $1 AND external_id = $2");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, PosRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(external_id).fetch_optional(p).await)?,
    )
}

/// As [`by_external_id`], inside `tx`.
pub async fn by_external_id_in(
    tx: &mut Tx,
    system_id: &str,
    external_id: &str,
) -> StoreResult<Option<PosRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM pos_transactions WHERE system_id = $1 AND external_id = $2");
    Ok(
        on_tx!(tx, c => sqlx::query_as::<_, PosRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(external_id).fetch_optional(&mut *c).await)?,
    )
}

/// Locks the transaction with external id `external_id` of system `system_id` (the sale
/// a refund or void names) for the rest of `tx`, and reads it as it is once locked: a
/// write to its row, which on PostgreSQL waits for a concurrent writer to commit and then
/// sees what it wrote (SQLite's `BEGIN IMMEDIATE` already serialises writers).
pub async fn lock_sale(
    tx: &mut Tx,
    system_id: &str,
    external_id: &str,
) -> StoreResult<Option<PosRow>> {
    let sql = format!(
        "UPDATE pos_transactions SET lock_seq = lock_seq + 1 \
         WHERE system_id = $1 AND external_id = $2 RETURNING {COLUMNS}"
    );
    Ok(
        on_tx!(tx, c => sqlx::query_as::<_, PosRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(external_id).fetch_optional(&mut *c).await)?,
    )
}

/// Writes what has been refunded of sale `id` and its status; call it only with the sale
/// locked by [`lock_sale`] in the same `tx`.
pub async fn set_sale_refunds(
    tx: &mut Tx,
    id: &str,
    status: PosStatus,
    refunded_amount: Money,
    refunded_quantities: &str,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE pos_transactions SET status = $2, refunded_amount = $3, \
         refunded_quantities = $4, updated_at = $5 WHERE id = $1")
        .bind(id).bind(status).bind(refunded_amount).bind(refunded_quantities)
        .bind(UtcTime::now())
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// One transaction by id.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<PosRow>> {
    let sql = format!("SELECT {COLUMNS} FROM pos_transactions WHERE id = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, PosRow>(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?,
    )
}

/// The refunds and voids of sale `sale_id`, oldest first.
pub async fn of_sale(db: &Db, sale_id: &str) -> StoreResult<Vec<PosRow>> {
    let sql = format!("SELECT {COLUMNS} FROM pos_transactions WHERE sale_id = $1 ORDER BY id");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, PosRow>(sqlx::AssertSqlSafe(sql))
        .bind(sale_id).fetch_all(p).await)?,
    )
}

/// What to list of the POS transactions; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct PosFilter {
    /// Of this system.
    pub system_id: Option<String>,
    /// Of this kind.
    pub kind: Option<PosKind>,
    /// In this status.
    pub status: Option<PosStatus>,
    /// Happened at or after.
    pub since: Option<UtcTime>,
    /// Happened before.
    pub until: Option<UtcTime>,
}

/// A filtered page of transactions, newest recorded first, after the cursor `before`
/// (an id).
pub async fn list(
    db: &Db,
    filter: &PosFilter,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<PosRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM pos_transactions WHERE ($1 IS NULL OR system_id = $1) \
         AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR status = $3) \
         AND ($4 IS NULL OR occurred_at >= $4) AND ($5 IS NULL OR occurred_at < $5) \
         AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, PosRow>(sqlx::AssertSqlSafe(sql))
        .bind(filter.system_id.as_deref()).bind(filter.kind).bind(filter.status)
        .bind(filter.since).bind(filter.until).bind(before).bind(i64::from(limit))
        .fetch_all(p).await)?,
    )
}

/// Whether system `system_id` has any record (POS transaction, supplier order or member
/// mapping): such a system is archived, not deleted.
pub async fn system_has_records(db: &Db, system_id: &str) -> StoreResult<bool> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM pos_transactions WHERE system_id = $1) \
         + (SELECT COUNT(*) FROM supplier_orders WHERE system_id = $1) \
         + (SELECT COUNT(*) FROM member_mappings WHERE system_id = $1)")
        .bind(system_id).fetch_one(p).await)?;
    Ok(n > 0)
}
