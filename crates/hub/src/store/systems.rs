//! External systems. Secrets are stored only sealed (see [`crate::systems::crypto`]):
//! the key id, nonce and ciphertext of the JSON object of all of a system's secrets,
//! and beside them the names that are set.

use sqlx::FromRow;

use super::{Db, StoreResult, Tx, new_id, on_db, on_tx};
use crate::types::UtcTime;

/// A system as stored.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct SystemRow {
    /// Id (`sys_…`).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `pos`, `supplier`, `member`, `payment`, `delivery` or `erp`.
    pub kind: String,
    /// `active`, `inactive`, `error` or `testing`.
    pub status: String,
    /// Connection settings, JSON, no secret.
    pub settings: String,
    /// Sync settings, JSON.
    pub sync_settings: String,
    /// Names of the secrets set, a JSON array.
    pub secrets_set: String,
    /// Id of the key that sealed the secrets.
    pub secrets_key_id: Option<String>,
    /// Nonce, hex.
    pub secrets_nonce: Option<String>,
    /// Ciphertext, hex.
    pub secrets_ciphertext: Option<String>,
    /// When it was last tested.
    pub last_test_at: Option<UtcTime>,
    /// The last test's outcome, JSON.
    pub last_test_result: Option<String>,
    /// When a test or call last succeeded.
    pub last_success_at: Option<UtcTime>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was archived (deleted while it had records).
    pub archived_at: Option<UtcTime>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

const COLUMNS: &str = "id, name, kind, status, settings, sync_settings, secrets_set, \
    secrets_key_id, secrets_nonce, secrets_ciphertext, last_test_at, last_test_result, \
    last_success_at, last_error, archived_at, created_at, updated_at";

/// A new id for a system.
pub fn new_system_id() -> String {
    new_id("sys")
}

/// Inserts `row` (its id already chosen, so that the secrets can be bound to it). A
/// taken name is a [`super::StoreError::Conflict`].
pub async fn insert(db: &Db, row: &SystemRow) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO external_systems (id, name, kind, status, settings, sync_settings, \
         secrets_set, secrets_key_id, secrets_nonce, secrets_ciphertext, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)")
        .bind(&row.id).bind(&row.name).bind(&row.kind).bind(&row.status)
        .bind(&row.settings).bind(&row.sync_settings).bind(&row.secrets_set)
        .bind(&row.secrets_key_id).bind(&row.secrets_nonce).bind(&row.secrets_ciphertext)
        .bind(row.created_at)
        .execute(p).await.map(|_| ()))?;
    Ok(())
}

/// One system by id.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<SystemRow>> {
    let sql = format!("SELECT {COLUMNS} FROM external_systems WHERE id = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SystemRow>(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?,
    )
}

/// Systems by id, filtered by kind and status, archived ones only when asked.
pub async fn list(
    db: &Db,
    kind: Option<&str>,
    status: Option<&str>,
    archived: bool,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<SystemRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM external_systems WHERE ($1 IS NULL OR kind = $1) \
         AND ($2 IS NULL OR status = $2) AND ((archived_at IS NULL) = $3) \
         AND id > $4 ORDER BY id LIMIT $5"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SystemRow>(sqlx::AssertSqlSafe(sql))
        .bind(kind).bind(status).bind(!archived).bind(after.unwrap_or(""))
        .bind(i64::from(limit)).fetch_all(p).await)?,
    )
}

/// Writes the changeable fields of `row`. False when there is no such system. A change
/// of status emits `system.status_changed` in the same transaction.
pub async fn update(db: &Db, row: &SystemRow) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let Some(before) = status_in(&mut tx, &row.id).await? else {
        return Ok(false);
    };
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE external_systems SET name = $2, status = $3, settings = $4, sync_settings = $5, \
         secrets_set = $6, secrets_key_id = $7, secrets_nonce = $8, secrets_ciphertext = $9, \
         updated_at = $10 WHERE id = $1")
        .bind(&row.id).bind(&row.name).bind(&row.status).bind(&row.settings)
        .bind(&row.sync_settings).bind(&row.secrets_set).bind(&row.secrets_key_id)
        .bind(&row.secrets_nonce).bind(&row.secrets_ciphertext).bind(UtcTime::now())
        .execute(&mut *c).await.map(|_| ()))?;
    status_changed(&mut tx, &row.id, &before, &row.status, None).await?;
    tx.commit().await?;
    Ok(true)
}

/// A system's status, if it exists.
pub async fn status_in(tx: &mut Tx, id: &str) -> StoreResult<Option<String>> {
    Ok(
        on_tx!(tx, c => sqlx::query_scalar("SELECT status FROM external_systems WHERE id = $1")
        .bind(id).fetch_optional(&mut *c).await)?,
    )
}

/// Sets a system's status and, when given, its last error (the caller emits the event
/// that tells of it). The status before, if the system exists.
pub async fn set_status_in(
    tx: &mut Tx,
    id: &str,
    status: &str,
    error: Option<&str>,
) -> StoreResult<Option<String>> {
    let Some(before) = status_in(tx, id).await? else {
        return Ok(None);
    };
    on_tx!(tx, c => sqlx::query(
        "UPDATE external_systems SET status = $2, last_error = COALESCE($3, last_error), \
         updated_at = $4 WHERE id = $1")
        .bind(id).bind(status).bind(error).bind(UtcTime::now())
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(Some(before))
}

/// Moves system `id` from status `from` to `to` if it is in `from`, unarchived, and (with
/// `error_prefix`) its `last_error` begins with that; sets `last_error` when `error` is
/// given. A compare-and-set: of several callers one moves it, and `system.status_changed`
/// is emitted once, in the same transaction, with `error` (or `calls succeed again`) as
/// its reason. Whether this call moved it.
pub async fn change_status_if(
    db: &Db,
    id: &str,
    from: &str,
    to: &str,
    error: Option<&str>,
    error_prefix: Option<&str>,
) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let moved = on_tx!(&mut tx, c => sqlx::query(
        "UPDATE external_systems SET status = $3, last_error = COALESCE($4, last_error), \
         updated_at = $5 WHERE id = $1 AND status = $2 AND archived_at IS NULL \
         AND ($6 IS NULL OR substr(COALESCE(last_error, ''), 1, length($6)) = $6)")
        .bind(id).bind(from).bind(to).bind(error).bind(UtcTime::now()).bind(error_prefix)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if moved == 0 {
        return Ok(false);
    }
    status_changed(
        &mut tx,
        id,
        from,
        to,
        Some(error.unwrap_or("calls succeed again")),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Emits `system.status_changed` when `before` and `after` differ.
async fn status_changed(
    tx: &mut Tx,
    id: &str,
    before: &str,
    after: &str,
    reason: Option<&str>,
) -> StoreResult<()> {
    if before == after {
        return Ok(());
    }
    crate::webhooks::outbound::emit(
        tx,
        crate::webhooks::outbound::EventType::SystemStatusChanged,
        serde_json::json!({
            "system_id": id,
            "previous_status": before,
            "status": after,
            "reason": reason,
        }),
    )
    .await?;
    Ok(())
}

/// Records a test's outcome: the status it leaves, its result, and the time of success
/// or the error.
pub async fn record_test(
    db: &Db,
    id: &str,
    status: &str,
    result: &str,
    error: Option<&str>,
) -> StoreResult<()> {
    let now = UtcTime::now();
    let mut tx = db.begin().await?;
    let Some(before) = status_in(&mut tx, id).await? else {
        return Ok(());
    };
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE external_systems SET status = $2, last_test_at = $3, last_test_result = $4, \
         last_success_at = CASE WHEN $5 IS NULL THEN $3 ELSE last_success_at END, \
         last_error = COALESCE($5, last_error), updated_at = $3 WHERE id = $1")
        .bind(id).bind(status).bind(now).bind(result).bind(error)
        .execute(&mut *c).await.map(|_| ()))?;
    status_changed(
        &mut tx,
        id,
        &before,
        status,
        error.map(|_| "its test failed"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Archives a system: out of use and out of the default list, its records kept.
pub async fn archive(db: &Db, id: &str) -> StoreResult<()> {
    let now = UtcTime::now();
    let mut tx = db.begin().await?;
    let Some(before) = status_in(&mut tx, id).await? else {
        return Ok(());
    };
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE external_systems SET archived_at = COALESCE(archived_at, $2), status = 'inactive', \
         updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    status_changed(&mut tx, id, &before, "inactive", Some("archived")).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a system.
pub async fn delete(db: &Db, id: &str) -> StoreResult<()> {
    on_db!(db, p => sqlx::query("DELETE FROM external_systems WHERE id = $1")
        .bind(id).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// The supplier system in use: the unarchived supplier system most recently changed
/// among the `active` ones, else among those in `error` (a failing supplier is still the
/// supplier: its calls show when it works again). `inactive` takes a system out of use.
pub async fn active_supplier(db: &Db) -> StoreResult<Option<SystemRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM external_systems WHERE kind = 'supplier' \
         AND status IN ('active', 'error') AND archived_at IS NULL \
         ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, updated_at DESC, id DESC LIMIT 1"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SystemRow>(sqlx::AssertSqlSafe(sql))
        .fetch_optional(p).await)?,
    )
}

/// The revision of the active supplier system (the one [`active_supplier`] reads): its
/// id and when it last changed; `None` when no supplier system is active. A cheap read,
/// made every few seconds by each instance to notice another's change.
pub async fn active_supplier_revision(db: &Db) -> StoreResult<Option<(String, UtcTime)>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, (String, UtcTime)>(
        "SELECT id, updated_at FROM external_systems WHERE kind = 'supplier' \
         AND status IN ('active', 'error') AND archived_at IS NULL \
         ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, updated_at DESC, id DESC LIMIT 1")
        .fetch_optional(p).await)?)
}

/// Every system with sealed secrets: id, key id, nonce, ciphertext (for rotation).
pub async fn sealed(db: &Db) -> StoreResult<Vec<(String, String, String, String)>> {
    Ok(
        on_db!(db, p => sqlx::query_as::<_, (String, String, String, String)>(
        "SELECT id, secrets_key_id, secrets_nonce, secrets_ciphertext FROM external_systems \
         WHERE secrets_ciphertext IS NOT NULL ORDER BY id")
        .fetch_all(p).await)?,
    )
}

/// Replaces the sealed secrets of system `id` (rotation; the names do not change).
pub async fn reseal(
    db: &Db,
    id: &str,
    key_id: &str,
    nonce: &str,
    ciphertext: &str,
) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE external_systems SET secrets_key_id = $2, secrets_nonce = $3, \
         secrets_ciphertext = $4 WHERE id = $1")
        .bind(id).bind(key_id).bind(nonce).bind(ciphertext).execute(p).await.map(|_| ()))?;
    Ok(())
}
