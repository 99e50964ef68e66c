//! Outbound webhooks: endpoints, messages, deliveries and their attempts.
//!
//! An endpoint's signing secret is stored only sealed (key id, nonce, ciphertext; see
//! [`crate::systems::crypto`]), with the secret before the last rotation beside it until
//! it expires. A message's body is kept exactly as it is signed and sent, so every retry
//! sends the same bytes under the same `webhook-id`.

use sqlx::FromRow;

use super::{Db, StoreResult, Tx, new_id, on_db, on_tx};
use crate::status::DeliveryStatus;
use crate::types::UtcTime;

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct EndpointRow {
    /// Id (`whep_…`).
    pub id: String,
    /// The external system it belongs to.
    pub system_id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// The event types it subscribes to, a JSON array of names.
    pub event_types: String,
    /// Whether deliveries go to it.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    pub disabled_at: Option<UtcTime>,
    /// Id of the key that sealed the secret.
    pub secret_key_id: String,
    /// Nonce, hex.
    pub secret_nonce: String,
    /// Ciphertext, hex.
    pub secret_ciphertext: String,
    /// The secret before the last rotation: key id.
    pub previous_secret_key_id: Option<String>,
    /// Its nonce.
    pub previous_secret_nonce: Option<String>,
    /// Its ciphertext.
    pub previous_secret_ciphertext: Option<String>,
    /// When deliveries stop being signed with it too.
    pub previous_secret_expires_at: Option<UtcTime>,
    /// The first failure since the last success.
    pub failing_since: Option<UtcTime>,
    /// The last success.
    pub last_success_at: Option<UtcTime>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

const ENDPOINT_COLUMNS: &str = "id, system_id, url, description, event_types, enabled, \
    disabled_reason, disabled_at, secret_key_id, secret_nonce, secret_ciphertext, \
    previous_secret_key_id, previous_secret_nonce, previous_secret_ciphertext, \
    previous_secret_expires_at, failing_since, last_success_at, created_at, updated_at";

/// A new endpoint id.
pub fn new_endpoint_id() -> String {
    new_id("whep")
}

/// Inserts an endpoint (its id already chosen: the secret is sealed to it).
pub async fn insert_endpoint(db: &Db, row: &EndpointRow) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO webhook_endpoints (id, system_id, url, description, event_types, enabled, \
         disabled_reason, disabled_at, secret_key_id, secret_nonce, secret_ciphertext, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)")
        .bind(&row.id).bind(&row.system_id).bind(&row.url).bind(&row.description)
        .bind(&row.event_types).bind(row.enabled).bind(&row.disabled_reason).bind(row.disabled_at)
        .bind(&row.secret_key_id).bind(&row.secret_nonce).bind(&row.secret_ciphertext)
        .bind(row.created_at)
        .execute(p).await.map(|_| ()))?;
    Ok(())
}

/// One endpoint.
pub async fn get_endpoint(db: &Db, id: &str) -> StoreResult<Option<EndpointRow>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?,
    )
}

/// A page of a system's endpoints by id, after the cursor `after`.
pub async fn list_endpoints_of_system(
    db: &Db,
    system_id: &str,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<EndpointRow>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE system_id = $1 AND id > $2 \
         ORDER BY id LIMIT $3"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(after.unwrap_or("")).bind(i64::from(limit)).fetch_all(p).await)?,
    )
}

/// Writes what an operator may change: URL, description, event types, and whether it is
/// enabled (with the reason, time and failure streak that go with it). False when there
/// is no such endpoint.
pub async fn update_endpoint(db: &Db, row: &EndpointRow) -> StoreResult<bool> {
    let n = on_db!(db, p => sqlx::query(
        "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, enabled = $5, \
         disabled_reason = $6, disabled_at = $7, failing_since = $8, updated_at = $9 WHERE id = $1")
        .bind(&row.id).bind(&row.url).bind(&row.description).bind(&row.event_types)
        .bind(row.enabled).bind(&row.disabled_reason).bind(row.disabled_at)
        .bind(row.failing_since).bind(UtcTime::now())
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Replaces the secret with a new one, keeping the old one (sealed again by the caller)
/// until `previous_expires_at`.
pub async fn rotate_endpoint_secret(db: &Db, row: &EndpointRow) -> StoreResult<bool> {
    let n = on_db!(db, p => sqlx::query(
        "UPDATE webhook_endpoints SET secret_key_id = $2, secret_nonce = $3, secret_ciphertext = $4, \
         previous_secret_key_id = $5, previous_secret_nonce = $6, previous_secret_ciphertext = $7, \
         previous_secret_expires_at = $8, updated_at = $9 WHERE id = $1")
        .bind(&row.id).bind(&row.secret_key_id).bind(&row.secret_nonce).bind(&row.secret_ciphertext)
        .bind(&row.previous_secret_key_id).bind(&row.previous_secret_nonce)
        .bind(&row.previous_secret_ciphertext).bind(row.previous_secret_expires_at)
        .bind(UtcTime::now())
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes an endpoint with its deliveries and their attempts. False when there was none.
pub async fn delete_endpoint(db: &Db, id: &str) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN \
         (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)")
        .bind(id).execute(&mut *c).await.map(|_| ()))?;
    on_tx!(&mut tx, c => sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id).execute(&mut *c).await.map(|_| ()))?;
    let n = on_tx!(&mut tx, c => sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n > 0)
}

/// The enabled endpoints: `(id, system_id, event_types)` (event types as stored, JSON).
pub async fn enabled_endpoints_in(tx: &mut Tx) -> StoreResult<Vec<(String, String, String)>> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT id, system_id, event_types FROM webhook_endpoints WHERE enabled = $1 ORDER BY id")
        .bind(true).fetch_all(&mut *c).await)?)
}

/// Inserts a message: the event and its body as sent.
pub async fn insert_message(
    tx: &mut Tx,
    id: &str,
    event_type: &str,
    body: &str,
    now: UtcTime,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO webhook_messages (id, event_type, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id).bind(event_type).bind(body).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeliveryRow {
    /// Id (`whd_…`).
    pub id: String,
    /// The message (the `webhook-id`).
    pub message_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's system.
    pub system_id: String,
    /// The event type.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<UtcTime>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<UtcTime>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

const DELIVERY_COLUMNS: &str = "id, message_id, endpoint_id, system_id, event_type, status, \
    attempts, next_attempt_at, last_attempt_at, last_error, created_at, updated_at";

/// Inserts a pending delivery of `message_id` to an endpoint; its id.
pub async fn insert_delivery(
    tx: &mut Tx,
    message_id: &str,
    endpoint_id: &str,
    system_id: &str,
    event_type: &str,
    now: UtcTime,
) -> StoreResult<String> {
    let id = new_id("whd");
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO webhook_deliveries (id, message_id, endpoint_id, system_id, event_type, \
         status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7, $7)")
        .bind(&id).bind(message_id).bind(endpoint_id).bind(system_id).bind(event_type)
        .bind(DeliveryStatus::Pending).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(id)
}

/// One delivery.
pub async fn get_delivery(db: &Db, id: &str) -> StoreResult<Option<DeliveryRow>> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, DeliveryRow>(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?,
    )
}

/// The body of a message, as sent.
pub async fn message_body(db: &Db, id: &str) -> StoreResult<Option<String>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT body FROM webhook_messages WHERE id = $1")
        .bind(id).fetch_optional(p).await)?,
    )
}

/// Filters of the delivery list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter<'a> {
    /// The endpoint's system.
    pub system_id: Option<&'a str>,
    /// The endpoint.
    pub endpoint_id: Option<&'a str>,
    /// The status.
    pub status: Option<DeliveryStatus>,
    /// The event type.
    pub event_type: Option<&'a str>,
    /// Created at or after.
    pub since: Option<UtcTime>,
    /// Created before.
    pub until: Option<UtcTime>,
}

/// A page of deliveries, newest first, after the cursor `before` (an id).
pub async fn list_deliveries(
    db: &Db,
    f: &DeliveryFilter<'_>,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<DeliveryRow>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ($1 IS NULL OR system_id = $1) \
         AND ($2 IS NULL OR endpoint_id = $2) AND ($3 IS NULL OR status = $3) \
         AND ($4 IS NULL OR event_type = $4) AND ($5 IS NULL OR created_at >= $5) \
         AND ($6 IS NULL OR created_at < $6) AND ($7 IS NULL OR id < $7) \
         ORDER BY id DESC LIMIT $8"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, DeliveryRow>(sqlx::AssertSqlSafe(sql))
        .bind(f.system_id).bind(f.endpoint_id).bind(f.status).bind(f.event_type)
        .bind(f.since).bind(f.until).bind(before).bind(i64::from(limit)).fetch_all(p).await)?,
    )
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AttemptRow {
    /// The attempt's number (1-based).
    pub attempt: i64,
    /// When it started.
    pub started_at: UtcTime,
    /// The HTTP status of the answer; none when no answer came.
    pub status_code: Option<i64>,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
    /// The first 1 KiB of the answer's body, as text.
    pub response_excerpt: Option<String>,
    /// The class of the failure; none on success.
    pub error_class: Option<String>,
    /// The failure.
    pub error: Option<String>,
}

/// Records an attempt.
pub async fn insert_attempt(tx: &mut Tx, delivery_id: &str, a: &AttemptRow) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status_code, latency_ms, \
         response_excerpt, error_class, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(delivery_id).bind(a.attempt).bind(a.started_at).bind(a.status_code)
        .bind(a.latency_ms).bind(&a.response_excerpt).bind(&a.error_class).bind(&a.error)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The attempts of a delivery, oldest first.
pub async fn attempts_of_delivery(db: &Db, delivery_id: &str) -> StoreResult<Vec<AttemptRow>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT attempt, started_at, status_code, latency_ms, response_excerpt, error_class, error \
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id")
        .bind(delivery_id).fetch_all(p).await)?)
}

/// Ends an attempt of a pending delivery: its count, its time, and where it stands now
/// (`pending` with the next attempt's time, `succeeded` or `dead`).
pub async fn end_delivery_attempt(
    tx: &mut Tx,
    id: &str,
    attempts: i64,
    at: UtcTime,
    status: DeliveryStatus,
    next_attempt_at: Option<UtcTime>,
    error: Option<&str>,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE webhook_deliveries SET attempts = $2, last_attempt_at = $3, status = $4, \
         next_attempt_at = $5, last_error = COALESCE($6, last_error), updated_at = $3 \
         WHERE id = $1 AND status = $7")
        .bind(id).bind(attempts).bind(at).bind(status).bind(next_attempt_at).bind(error)
        .bind(DeliveryStatus::Pending)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Dead-letters a pending delivery (its job ran out of attempts, or its endpoint is
/// gone or disabled). False when it was not pending.
pub async fn mark_delivery_dead(
    tx: &mut Tx,
    id: &str,
    error: &str,
    now: UtcTime,
) -> StoreResult<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, next_attempt_at = NULL, last_error = $3, \
         updated_at = $4 WHERE id = $1 AND status = $5")
        .bind(id).bind(DeliveryStatus::Dead).bind(error).bind(now).bind(DeliveryStatus::Pending)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Puts a delivery that is not pending back to pending, due `now` (a retry by hand).
/// False when it was already pending.
pub async fn requeue_delivery(tx: &mut Tx, id: &str, now: UtcTime) -> StoreResult<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3, updated_at = $3 \
         WHERE id = $1 AND status <> $2")
        .bind(id).bind(DeliveryStatus::Pending).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records an endpoint's success: its failure streak ends.
pub async fn endpoint_succeeded(tx: &mut Tx, id: &str, now: UtcTime) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = NULL, last_success_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Records an endpoint's failure; when its failure streak began (now, if this is the
/// first failure since a success).
pub async fn endpoint_failed(tx: &mut Tx, id: &str, now: UtcTime) -> StoreResult<UtcTime> {
    let since: Option<Option<UtcTime>> = on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1 \
         RETURNING failing_since")
        .bind(id).bind(now).fetch_optional(&mut *c).await)?;
    Ok(since.flatten().unwrap_or(now))
}

/// Disables an enabled endpoint with `reason`. False when it was already disabled.
pub async fn disable_endpoint(
    tx: &mut Tx,
    id: &str,
    reason: &str,
    now: UtcTime,
) -> StoreResult<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, disabled_at = $4, \
         updated_at = $4 WHERE id = $1 AND enabled = $5")
        .bind(id).bind(false).bind(reason).bind(now).bind(true)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// How many of a system's endpoints are enabled, and how many it has.
pub async fn count_endpoints_of_system(tx: &mut Tx, system_id: &str) -> StoreResult<(i64, i64)> {
    let (enabled, all): (Option<i64>, i64) = on_tx!(tx, c => sqlx::query_as(
        "SELECT SUM(CASE WHEN enabled = $2 THEN 1 ELSE 0 END), COUNT(*) FROM webhook_endpoints \
         WHERE system_id = $1")
        .bind(system_id).bind(true).fetch_one(&mut *c).await)?;
    Ok((enabled.unwrap_or(0), all))
}

/// Every endpoint's sealed secrets, for a key rotation: id, then key id, nonce and
/// ciphertext of the current secret and, when kept, of the previous one.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SealedSecrets {
    /// The endpoint.
    pub id: String,
    /// Current secret: key id.
    pub secret_key_id: String,
    /// Its nonce.
    pub secret_nonce: String,
    /// Its ciphertext.
    pub secret_ciphertext: String,
    /// Previous secret: key id.
    pub previous_secret_key_id: Option<String>,
    /// Its nonce.
    pub previous_secret_nonce: Option<String>,
    /// Its ciphertext.
    pub previous_secret_ciphertext: Option<String>,
}

/// Every endpoint's sealed secrets, by id.
pub async fn sealed_secrets(db: &Db) -> StoreResult<Vec<SealedSecrets>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT id, secret_key_id, secret_nonce, secret_ciphertext, previous_secret_key_id, \
         previous_secret_nonce, previous_secret_ciphertext FROM webhook_endpoints ORDER BY id")
        .fetch_all(p).await)?)
}

/// Replaces the sealed secrets of an endpoint (a key rotation; the secrets do not
/// change).
pub async fn reseal_secrets(db: &Db, s: &SealedSecrets) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE webhook_endpoints SET secret_key_id = $2, secret_nonce = $3, \
         secret_ciphertext = $4, previous_secret_key_id = $5, previous_secret_nonce = $6, \
         previous_secret_ciphertext = $7 WHERE id = $1")
        .bind(&s.id).bind(&s.secret_key_id).bind(&s.secret_nonce).bind(&s.secret_ciphertext)
        .bind(&s.previous_secret_key_id).bind(&s.previous_secret_nonce)
        .bind(&s.previous_secret_ciphertext)
        .execute(p).await.map(|_| ()))?;
    Ok(())
}
