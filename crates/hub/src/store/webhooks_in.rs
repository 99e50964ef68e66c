//! Inbound webhooks: systems' signing secrets (sealed), verified deliveries stored raw
//! with their processing state, and refused deliveries counted per system and reason.

use sqlx::FromRow;

use super::{Db, StoreResult, Tx, new_id, on_db, on_tx};
use crate::status::WebhookEventStatus;
use crate::types::UtcTime;

/// A signing secret as stored: sealed, never in clear.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SecretRow {
    /// Id (`whs_…`); the sealed value is bound to it.
    pub id: String,
    /// The system it signs for.
    pub system_id: String,
    /// Id of the key that sealed it.
    pub key_id: String,
    /// Nonce, hex.
    pub nonce: String,
    /// Ciphertext, hex.
    pub ciphertext: String,
    /// When it was added.
    pub created_at: UtcTime,
    /// When it stops verifying; none while it is the newest.
    pub expires_at: Option<UtcTime>,
}

/// A new id for a secret.
pub fn new_secret_id() -> String {
    new_id("whs")
}

/// A new id for an event.
pub fn new_event_id() -> String {
    new_id("whe")
}

const SECRET_COLUMNS: &str = "id, system_id, key_id, nonce, ciphertext, created_at, expires_at";

/// Adds a secret, and gives every older secret of the system that has no earlier
/// expiry `expires_at = overlap_until` (they keep verifying until then).
pub async fn add_secret(tx: &mut Tx, row: &SecretRow, overlap_until: UtcTime) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE webhook_secrets SET expires_at = $2 WHERE system_id = $1 \
         AND (expires_at IS NULL OR expires_at > $2)")
        .bind(&row.system_id).bind(overlap_until).execute(&mut *c).await.map(|_| ()))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO webhook_secrets (id, system_id, key_id, nonce, ciphertext, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&row.id).bind(&row.system_id).bind(&row.key_id).bind(&row.nonce)
        .bind(&row.ciphertext).bind(row.created_at).bind(row.expires_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The secrets of a system that verify at `now`, newest first.
pub async fn active_secrets(db: &Db, system_id: &str, now: UtcTime) -> StoreResult<Vec<SecretRow>> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM webhook_secrets WHERE system_id = $1 \
         AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SecretRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(now).fetch_all(p).await)?,
    )
}

/// Every secret of a system (expired ones too), newest first.
pub async fn secrets_of_system(db: &Db, system_id: &str) -> StoreResult<Vec<SecretRow>> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM webhook_secrets WHERE system_id = $1 ORDER BY id DESC"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, SecretRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).fetch_all(p).await)?,
    )
}

/// Counts one refused delivery for `system_id` (empty: an unknown system) and `reason`.
pub async fn count_refusal(db: &Db, system_id: &str, reason: &str) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO webhook_refusals (system_id, reason, count, last_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (system_id, reason) DO UPDATE SET count = webhook_refusals.count + 1, \
         last_at = excluded.last_at")
        .bind(system_id).bind(reason).bind(UtcTime::now()).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Refused deliveries counted for one reason of one system.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RefusalRow {
    /// The system (empty: deliveries to ids that name no system).
    pub system_id: String,
    /// Why they were refused.
    pub reason: String,
    /// How many.
    pub count: i64,
    /// When the last one came.
    pub last_at: UtcTime,
}

/// Refusal counts, of one system or of all, by system and reason.
pub async fn refusals(db: &Db, system_id: Option<&str>) -> StoreResult<Vec<RefusalRow>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, RefusalRow>(
        "SELECT system_id, reason, count, last_at FROM webhook_refusals \
         WHERE ($1 IS NULL OR system_id = $1) ORDER BY system_id, reason")
        .bind(system_id).fetch_all(p).await)?)
}

/// A verified delivery to store.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// Id (`whe_…`).
    pub id: &'a str,
    /// The system it came from.
    pub system_id: &'a str,
    /// `webhook-id`.
    pub webhook_id: &'a str,
    /// `webhook-timestamp`, Unix seconds.
    pub webhook_timestamp: i64,
    /// `webhook-signature`, as sent.
    pub webhook_signature: &'a str,
    /// The raw body.
    pub body: &'a [u8],
    /// When it arrived.
    pub received_at: UtcTime,
}

/// Stores a delivery as `received` unless the system already has one with its
/// `webhook-id`; true when stored. Concurrent duplicates meet the unique index, and all
/// but one insert nothing.
pub async fn insert_event(tx: &mut Tx, e: &NewEvent<'_>) -> StoreResult<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO webhook_events (id, system_id, webhook_id, webhook_timestamp, \
         webhook_signature, body, received_at, status, attempts, replays, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', 0, 0, $7) \
         ON CONFLICT (system_id, webhook_id) DO NOTHING")
        .bind(e.id).bind(e.system_id).bind(e.webhook_id).bind(e.webhook_timestamp)
        .bind(e.webhook_signature).bind(e.body).bind(e.received_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The id of the event a system sent with `webhook_id`, if stored.
pub async fn event_id_of(
    db: &Db,
    system_id: &str,
    webhook_id: &str,
) -> StoreResult<Option<String>> {
    Ok(on_db!(db, p => sqlx::query_scalar::<_, String>(
        "SELECT id FROM webhook_events WHERE system_id = $1 AND webhook_id = $2")
        .bind(system_id).bind(webhook_id).fetch_optional(p).await)?)
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EventRow {
    /// Id (`whe_…`).
    pub id: String,
    /// The system that sent it.
    pub system_id: String,
    /// `webhook-id`.
    pub webhook_id: String,
    /// `webhook-timestamp`, Unix seconds.
    pub webhook_timestamp: i64,
    /// `webhook-signature`, as sent.
    pub webhook_signature: String,
    /// The raw body (none in lists).
    pub body: Option<Vec<u8>>,
    /// When it arrived.
    pub received_at: UtcTime,
    /// Where its processing stands.
    pub status: WebhookEventStatus,
    /// Processing attempts, replays included.
    pub attempts: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was last processed.
    pub processed_at: Option<UtcTime>,
    /// What the last successful processing did, JSON.
    pub result: Option<String>,
    /// Times it was replayed.
    pub replays: i64,
    /// When it last changed.
    pub updated_at: UtcTime,
}

macro_rules! event_columns {
    ($body:literal) => {
        concat!(
            "id, system_id, webhook_id, webhook_timestamp, webhook_signature, ",
            $body,
            " AS body, received_at, status, attempts, last_error, processed_at, result, \
             replays, updated_at"
        )
    };
}

/// One event, with its body.
pub async fn get_event(db: &Db, id: &str) -> StoreResult<Option<EventRow>> {
    const SQL: &str = concat!(
        "SELECT ",
        event_columns!("body"),
        " FROM webhook_events WHERE id = $1"
    );
    Ok(on_db!(db, p => sqlx::query_as::<_, EventRow>(SQL).bind(id).fetch_optional(p).await)?)
}

/// What a list of events is filtered by.
#[derive(Debug, Clone, Default)]
pub struct EventFilter<'a> {
    /// Of this system.
    pub system_id: Option<&'a str>,
    /// In this state.
    pub status: Option<WebhookEventStatus>,
    /// Received at or after.
    pub from: Option<UtcTime>,
    /// Received before.
    pub to: Option<UtcTime>,
}

/// A page of events (bodies left out), newest first, after the cursor `before`.
pub async fn list_events(
    db: &Db,
    f: &EventFilter<'_>,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<EventRow>> {
    const SQL: &str = concat!(
        "SELECT ",
        event_columns!("NULL"),
        " FROM webhook_events WHERE ($1 IS NULL OR system_id = $1) \
         AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR received_at >= $3) \
         AND ($4 IS NULL OR received_at < $4) AND ($5 IS NULL OR id < $5) \
         ORDER BY id DESC LIMIT $6"
    );
    Ok(on_db!(db, p => sqlx::query_as::<_, EventRow>(SQL)
        .bind(f.system_id).bind(f.status).bind(f.from).bind(f.to).bind(before)
        .bind(i64::from(limit)).fetch_all(p).await)?)
}

/// Records the end of one processing attempt: the event's new status, its error (kept
/// when `None`), and on success what it came to.
pub async fn end_event_attempt(
    tx: &mut Tx,
    id: &str,
    status: WebhookEventStatus,
    error: Option<&str>,
    result: Option<&str>,
) -> StoreResult<()> {
    let now = UtcTime::now();
    let processed = status == WebhookEventStatus::Processed;
    on_tx!(tx, c => sqlx::query(
        "UPDATE webhook_events SET status = $2, attempts = attempts + 1, \
         last_error = CASE WHEN $6 THEN NULL ELSE COALESCE($3, last_error) END, \
         result = COALESCE($4, result), \
         processed_at = CASE WHEN $6 THEN $5 ELSE processed_at END, updated_at = $5 WHERE id = $1")
        .bind(id).bind(status).bind(error).bind(result).bind(now).bind(processed)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Puts a settled event (`processed` or `dead`) back to `received` for a replay; its
/// replay number, or `None` when it is not settled (its processing is queued already).
pub async fn start_replay(tx: &mut Tx, id: &str) -> StoreResult<Option<i64>> {
    let now = UtcTime::now();
    Ok(on_tx!(tx, c => sqlx::query_scalar::<_, i64>(
        "UPDATE webhook_events SET status = 'received', replays = replays + 1, updated_at = $2 \
         WHERE id = $1 AND status IN ('processed', 'dead') RETURNING replays")
        .bind(id).bind(now).fetch_optional(&mut *c).await)?)
}

/// Ids of the settled events (`processed` or `dead`, or only `status`) of a system
/// received in `[from, to)`, oldest first, at most `limit`.
pub async fn settled_events(
    db: &Db,
    system_id: &str,
    status: Option<WebhookEventStatus>,
    from: Option<UtcTime>,
    to: Option<UtcTime>,
    limit: u32,
) -> StoreResult<Vec<String>> {
    Ok(on_db!(db, p => sqlx::query_scalar::<_, String>(
        "SELECT id FROM webhook_events WHERE system_id = $1 \
         AND status IN ('processed', 'dead') AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR received_at >= $3) AND ($4 IS NULL OR received_at < $4) \
         ORDER BY id LIMIT $5")
        .bind(system_id).bind(status).bind(from).bind(to).bind(i64::from(limit))
        .fetch_all(p).await)?)
}

/// Events by status, for tests and metrics: `(status, count)`.
pub async fn count_events_by_status(db: &Db, system_id: &str) -> StoreResult<Vec<(String, i64)>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, (String, i64)>(
        "SELECT status, COUNT(*) FROM webhook_events WHERE system_id = $1 \
         GROUP BY status ORDER BY status")
        .bind(system_id).fetch_all(p).await)?)
}

/// When the system's last verified delivery arrived, if it sent any.
pub async fn last_received_at(db: &Db, system_id: &str) -> StoreResult<Option<UtcTime>> {
    Ok(on_db!(db, p => sqlx::query_scalar::<_, UtcTime>(
        "SELECT received_at FROM webhook_events WHERE system_id = $1 \
         ORDER BY received_at DESC LIMIT 1")
        .bind(system_id).fetch_optional(p).await)?)
}
