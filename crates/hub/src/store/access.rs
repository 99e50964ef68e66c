//! Users, API keys and sessions.
//!
//! Nothing here holds a secret in clear: a password is stored as its argon2id hash, an
//! API key and a session token as their SHA-256 (see [`crate::access`]).

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, new_id, on_db};
use crate::types::UtcTime;

/// A user as the API shows it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct User {
    /// Id (`usr_…`).
    pub id: String,
    /// Login name, unique.
    pub username: String,
    /// `admin`, `store_manager`, `warehouse_manager`, `customer_manager`, `staff` or
    /// `storefront`.
    pub role: String,
    /// A disabled user cannot sign in; its sessions are ended.
    pub disabled: bool,
    /// Consecutive failed logins since the last success.
    pub failed_logins: i64,
    /// Until when the account is locked after too many failed logins.
    pub locked_until: Option<UtcTime>,
    /// The last successful login.
    pub last_login_at: Option<UtcTime>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

/// What a login needs to know about a user.
#[derive(Debug, Clone, FromRow)]
pub struct LoginRecord {
    /// Id (`usr_…`).
    pub id: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role name.
    pub role: String,
    /// Disabled users cannot sign in.
    pub disabled: bool,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// The last failed login.
    pub last_failed_login_at: Option<UtcTime>,
    /// Until when the account is locked.
    pub locked_until: Option<UtcTime>,
}

const USER_COLUMNS: &str = "id, username, role, disabled, failed_logins, locked_until, \
                            last_login_at, created_at, updated_at";

/// Creates a user. A taken username is a [`super::StoreError::Conflict`].
pub async fn create_user(
    db: &Db,
    username: &str,
    password_hash: &str,
    role: &str,
) -> StoreResult<User> {
    let id = new_id("usr");
    let now = UtcTime::now();
    let sql = format!(
        "INSERT INTO users (id, username, password_hash, role, disabled, failed_logins, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6) RETURNING {USER_COLUMNS}"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(&id).bind(username).bind(password_hash).bind(role).bind(false).bind(now)
        .fetch_one(p).await)?,
    )
}

/// Users by id (creation order), after the cursor `after`, at most `limit`.
pub async fn list_users(db: &Db, after: Option<&str>, limit: u32) -> StoreResult<Vec<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(after).bind(i64::from(limit)).fetch_all(p).await)?,
    )
}

/// One user by id.
pub async fn get_user(db: &Db, id: &str) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?,
    )
}

/// The login record of `username`.
pub async fn login_record(db: &Db, username: &str) -> StoreResult<Option<LoginRecord>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, LoginRecord>(
        "SELECT id, password_hash, role, disabled, failed_logins, last_failed_login_at, \
         locked_until FROM users WHERE username = $1")
        .bind(username).fetch_optional(p).await)?)
}

/// Counts a failed login of user `id` at `now`; when the count reaches `lock_after`, locks
/// the account until `lock_until`. The new count and lock.
pub async fn record_login_failure(
    db: &Db,
    id: &str,
    now: UtcTime,
    lock_after: i64,
    lock_until: UtcTime,
) -> StoreResult<(i64, Option<UtcTime>)> {
    Ok(on_db!(db, p => sqlx::query_as::<_, (i64, Option<UtcTime>)>(
        "UPDATE users SET failed_logins = failed_logins + 1, last_failed_login_at = $2, \
         locked_until = CASE WHEN failed_logins + 1 >= $3 THEN $4 ELSE locked_until END \
         WHERE id = $1 RETURNING failed_logins, locked_until")
        .bind(id).bind(now).bind(lock_after).bind(lock_until)
        .fetch_one(p).await)?)
}

/// A successful login of user `id`: clears the failures and the lock.
pub async fn record_login_success(db: &Db, id: &str, now: UtcTime) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE users SET failed_logins = 0, last_failed_login_at = NULL, locked_until = NULL, \
         last_login_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Changes what is given of a user's role, disabled flag and password hash; a new
/// password or a disabled account also clears failures and ends its sessions. The user
/// after the change, `None` if there is no such user.
pub async fn update_user(
    db: &Db,
    id: &str,
    role: Option<&str>,
    disabled: Option<bool>,
    password_hash: Option<&str>,
) -> StoreResult<Option<User>> {
    let now = UtcTime::now();
    let sql = format!(
        "UPDATE users SET role = COALESCE($2, role), disabled = COALESCE($3, disabled), \
         password_hash = COALESCE($4, password_hash), \
         failed_logins = CASE WHEN $4 IS NULL THEN failed_logins ELSE 0 END, \
         locked_until = CASE WHEN $4 IS NULL THEN locked_until ELSE NULL END, \
         updated_at = $5 WHERE id = $1 RETURNING {USER_COLUMNS}"
    );
    let user = on_db!(db, p => sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(id).bind(role).bind(disabled).bind(password_hash).bind(now)
        .fetch_optional(p).await)?;
    if user.is_some() && (disabled == Some(true) || password_hash.is_some() || role.is_some()) {
        delete_user_sessions(db, id).await?;
    }
    Ok(user)
}

/// Whether any user or unrevoked API key exists (then the API requires credentials).
pub async fn any_credentials(db: &Db) -> StoreResult<bool> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM users) + \
         (SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL)")
        .fetch_one(p).await)?;
    Ok(n > 0)
}

/// An API key as the API shows it (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct ApiKey {
    /// Id (`key_…`).
    pub id: String,
    /// What the key is for, e.g. `storefront-prod`.
    pub name: String,
    /// The role it acts with.
    pub role: String,
    /// The visible part of the key: it starts `shk_<prefix>_`.
    pub prefix: String,
    /// Who created it (`user:alice`, `admin_token`, `cli`).
    pub created_by: Option<String>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<UtcTime>,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<UtcTime>,
}

const KEY_COLUMNS: &str =
    "id, name, role, prefix, created_by, created_at, last_used_at, revoked_at";

/// Stores a new key by its prefix and hash.
pub async fn create_api_key(
    db: &Db,
    name: &str,
    role: &str,
    prefix: &str,
    secret_hash: &str,
    created_by: &str,
) -> StoreResult<ApiKey> {
    let id = new_id("key");
    let sql = format!(
        "INSERT INTO api_keys (id, name, role, prefix, secret_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {KEY_COLUMNS}"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, ApiKey>(sqlx::AssertSqlSafe(sql))
        .bind(&id).bind(name).bind(role).bind(prefix).bind(secret_hash).bind(created_by)
        .bind(UtcTime::now())
        .fetch_one(p).await)?,
    )
}

/// Keys by id (creation order), after the cursor `after`, at most `limit`.
pub async fn list_api_keys(db: &Db, after: Option<&str>, limit: u32) -> StoreResult<Vec<ApiKey>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, ApiKey>(sqlx::AssertSqlSafe(sql))
        .bind(after).bind(i64::from(limit)).fetch_all(p).await)?,
    )
}

/// The key with `prefix` and its stored hash.
pub async fn api_key_by_prefix(db: &Db, prefix: &str) -> StoreResult<Option<(ApiKey, String)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        key: ApiKey,
        secret_hash: String,
    }
    let sql = format!("SELECT {KEY_COLUMNS}, secret_hash FROM api_keys WHERE prefix = $1");
    let row = on_db!(db, p => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(prefix).fetch_optional(p).await)?;
    Ok(row.map(|r| (r.key, r.secret_hash)))
}

/// The key whose id or prefix is `id_or_prefix`.
pub async fn get_api_key(db: &Db, id_or_prefix: &str) -> StoreResult<Option<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 OR prefix = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, ApiKey>(sqlx::AssertSqlSafe(sql))
        .bind(id_or_prefix).fetch_optional(p).await)?,
    )
}

/// Records that key `id` was used at `now`.
pub async fn touch_api_key(db: &Db, id: &str, now: UtcTime) -> StoreResult<()> {
    on_db!(db, p => sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Revokes the key whose id or prefix is `id_or_prefix` (a revoked key stays revoked at
/// its first time). The key, `None` if there is none.
pub async fn revoke_api_key(db: &Db, id_or_prefix: &str) -> StoreResult<Option<ApiKey>> {
    let sql = format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) \
         WHERE id = $1 OR prefix = $1 RETURNING {KEY_COLUMNS}"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, ApiKey>(sqlx::AssertSqlSafe(sql))
        .bind(id_or_prefix).bind(UtcTime::now()).fetch_optional(p).await)?,
    )
}

/// A session of the admin page.
#[derive(Debug, Clone, FromRow)]
pub struct Session {
    /// SHA-256 of the cookie's token, hex.
    pub id: String,
    /// The signed-in user.
    pub user_id: String,
    /// The token a state-changing request must echo in `X-CSRF-Token`.
    pub csrf_token: String,
    /// When it was opened.
    pub created_at: UtcTime,
    /// The last request seen (to the minute).
    pub last_seen_at: UtcTime,
    /// The absolute end.
    pub expires_at: UtcTime,
}

/// Stores a new session.
pub async fn create_session(db: &Db, s: &Session) -> StoreResult<()> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&s.id).bind(&s.user_id).bind(&s.csrf_token).bind(s.created_at)
        .bind(s.last_seen_at).bind(s.expires_at).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// The session `id` with its user.
pub async fn session_with_user(db: &Db, id: &str) -> StoreResult<Option<(Session, User)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        session: Session,
        username: String,
        role: String,
        disabled: bool,
        failed_logins: i64,
        locked_until: Option<UtcTime>,
        last_login_at: Option<UtcTime>,
        user_created_at: UtcTime,
        updated_at: UtcTime,
    }
    let row = on_db!(db, p => sqlx::query_as::<_, Row>(
        "SELECT s.id, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, \
         u.username, u.role, u.disabled, u.failed_logins, u.locked_until, u.last_login_at, \
         u.created_at AS user_created_at, u.updated_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1")
        .bind(id).fetch_optional(p).await)?;
    Ok(row.map(|r| {
        let user = User {
            id: r.session.user_id.clone(),
            username: r.username,
            role: r.role,
            disabled: r.disabled,
            failed_logins: r.failed_logins,
            locked_until: r.locked_until,
            last_login_at: r.last_login_at,
            created_at: r.user_created_at,
            updated_at: r.updated_at,
        };
        (r.session, user)
    }))
}

/// Records a request on session `id` at `now`.
pub async fn touch_session(db: &Db, id: &str, now: UtcTime) -> StoreResult<()> {
    on_db!(db, p => sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Ends session `id`.
pub async fn delete_session(db: &Db, id: &str) -> StoreResult<()> {
    on_db!(db, p => sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Ends every session of user `user_id`.
pub async fn delete_user_sessions(db: &Db, user_id: &str) -> StoreResult<()> {
    on_db!(db, p => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Deletes sessions whose absolute end is before `now`; how many.
pub async fn delete_expired_sessions(db: &Db, now: UtcTime) -> StoreResult<u64> {
    let n = on_db!(db, p => sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n)
}
