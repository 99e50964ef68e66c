//! The registry of live instances (`serve` and `supplyhub sync` processes) that share the
//! database and divide the supplier's request budget (see [`crate::instances`]).

use serde::Serialize;
use sqlx::FromRow;

use super::{Db, StoreResult, on_db};
use crate::types::UtcTime;

/// An instance as registered.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct InstanceRow {
    /// Its id (also the owner name of its job leases).
    pub id: String,
    /// `serve` or `sync`.
    pub role: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id on that host.
    pub pid: i64,
    /// When it registered.
    pub started_at: UtcTime,
    /// Its last heartbeat.
    pub heartbeat_at: UtcTime,
    /// The number of live instances whose share of the budget it applies (0: none yet).
    pub budget_share: i32,
}

/// Registers `row` (or replaces the row of the same id).
pub async fn register(db: &Db, row: &InstanceRow) -> StoreResult<()> {
    const DELETE: &str = "DELETE FROM instances WHERE id = $1";
    const INSERT: &str = "INSERT INTO instances \
        (id, role, host, pid, started_at, heartbeat_at, budget_share) \
        VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let mut tx = db.begin().await?;
    super::on_tx!(&mut tx, c => sqlx::query(DELETE).bind(&row.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    super::on_tx!(&mut tx, c => sqlx::query(INSERT)
        .bind(&row.id).bind(&row.role).bind(&row.host).bind(row.pid)
        .bind(row.started_at).bind(row.heartbeat_at).bind(row.budget_share)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(())
}

/// Records a heartbeat of instance `id` at `at`; false when its row is gone (deleted as
/// dead after a long stall), so that the caller registers again.
pub async fn heartbeat(db: &Db, id: &str, at: UtcTime) -> StoreResult<bool> {
    const SQL: &str = "UPDATE instances SET heartbeat_at = $2 WHERE id = $1";
    let n = on_db!(db, p => sqlx::query(SQL).bind(id).bind(at).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Records that instance `id` now applies the share of `share` live instances.
pub async fn set_budget_share(db: &Db, id: &str, share: i32) -> StoreResult<()> {
    const SQL: &str = "UPDATE instances SET budget_share = $2 WHERE id = $1";
    on_db!(db, p => sqlx::query(SQL).bind(id).bind(share).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The instances whose last heartbeat is at or after `since`, by id.
pub async fn live(db: &Db, since: UtcTime) -> StoreResult<Vec<InstanceRow>> {
    const SQL: &str = "SELECT id, role, host, pid, started_at, heartbeat_at, budget_share \
        FROM instances WHERE heartbeat_at >= $1 ORDER BY id";
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(since).fetch_all(p).await)?)
}

/// Deletes instance `id` (it stops).
pub async fn deregister(db: &Db, id: &str) -> StoreResult<()> {
    const SQL: &str = "DELETE FROM instances WHERE id = $1";
    on_db!(db, p => sqlx::query(SQL).bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the rows of instances whose last heartbeat is before `before`; how many.
pub async fn prune(db: &Db, before: UtcTime) -> StoreResult<u64> {
    const SQL: &str = "DELETE FROM instances WHERE heartbeat_at < $1";
    Ok(on_db!(db, p => sqlx::query(SQL).bind(before).execute(p).await.map(|r| r.rows_affected()))?)
}
