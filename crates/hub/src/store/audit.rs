//! The audit log of operators' changes.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, new_id, on_db};
use crate::types::UtcTime;

/// One change as recorded.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize, ToSchema)]
pub struct AuditRecord {
    /// Id (`aud_…`), time-ordered.
    pub id: String,
    /// When the change was made.
    pub occurred_at: UtcTime,
    /// Who made it: `user:<username>`, `api_key:<key id>`, `admin_token`, `open` or `cli`.
    pub actor: String,
    /// The role it acted with.
    pub role: Option<String>,
    /// What was done: `user.create`, `api_key.revoke`, or `<METHOD> <route>`.
    pub action: String,
    /// What it was done to (an id, or the request's path).
    pub target: String,
    /// The state before, secrets masked.
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub before_state: Option<serde_json::Value>,
    /// The state after (for a generic entry, the request's body), secrets masked.
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub after_state: Option<serde_json::Value>,
}

/// Records a change.
pub async fn insert(
    db: &Db,
    actor: &str,
    role: Option<&str>,
    action: &str,
    target: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> StoreResult<()> {
    let id = new_id("aud");
    let json = |v: Option<&serde_json::Value>| v.map(ToString::to_string);
    match db {
        Db::Sqlite(p) => {
            sqlx::query(
                "INSERT INTO audit_log (id, occurred_at, actor, role, action, target, \
                 before_state, after_state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(UtcTime::now())
            .bind(actor)
            .bind(role)
            .bind(action)
            .bind(target)
            .bind(json(before))
            .bind(json(after))
            .execute(p)
            .await?;
        }
        Db::Postgres(p) => {
            sqlx::query(
                "INSERT INTO audit_log (id, occurred_at, actor, role, action, target, \
                 before_state, after_state) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)",
            )
            .bind(&id)
            .bind(UtcTime::now())
            .bind(actor)
            .bind(role)
            .bind(action)
            .bind(target)
            .bind(json(before))
            .bind(json(after))
            .execute(p)
            .await?;
        }
    }
    Ok(())
}

/// What to list of the audit log; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Actions starting with this (`user.` lists every change of users).
    pub action_prefix: Option<String>,
    /// Exactly this target.
    pub target: Option<String>,
    /// At or after this instant.
    pub since: Option<UtcTime>,
    /// Before this instant.
    pub until: Option<UtcTime>,
}

/// Entries newest first, before the cursor `before` (an id), at most `limit`.
pub async fn list(
    db: &Db,
    filter: &AuditFilter,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<AuditRecord>> {
    const SQL: &str = "SELECT id, occurred_at, actor, role, action, target, before_state, \
        after_state FROM audit_log WHERE ($1 IS NULL OR actor = $1) \
        AND ($2 IS NULL OR substr(action, 1, length($2)) = $2) \
        AND ($3 IS NULL OR target = $3) AND ($4 IS NULL OR occurred_at >= $4) \
        AND ($5 IS NULL OR occurred_at < $5) AND id < $6 ORDER BY id DESC LIMIT $7";
    let before = before.unwrap_or("aud_~");
    Ok(on_db!(db, p => sqlx::query_as::<_, AuditRecord>(SQL)
        .bind(filter.actor.as_deref())
        .bind(filter.action_prefix.as_deref())
        .bind(filter.target.as_deref())
        .bind(filter.since)
        .bind(filter.until)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(p).await)?)
}
