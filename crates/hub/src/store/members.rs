//! Members (`members`) and their per-system mappings (`member_mappings`). An update
//! from a system is applied only if its version is newer than the mapping's
//! ([`advance_mapping`], a compare-and-set in SQL), so out-of-order deliveries converge.

use sqlx::FromRow;

use super::{Db, StoreResult, Tx, new_id, on_db, on_tx};
use crate::types::{Money, UtcTime};

/// A member as stored.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct MemberRow {
    /// Id (`mem_…`).
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Mobile number, whole.
    pub mobile: Option<String>,
    /// Level (tier), as the member system names it.
    pub level: Option<String>,
    /// Points.
    pub points: i64,
    /// Stored-value balance, yuan.
    pub balance: Money,
    /// When it was created.
    pub created_at: UtcTime,
    /// When an update last changed it.
    pub updated_at: UtcTime,
}

/// A mapping of a system's member id to ours.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct MappingRow {
    /// The member system (`sys_…`).
    pub system_id: String,
    /// The system's member id.
    pub external_id: String,
    /// Our member (`mem_…`).
    pub member_id: String,
    /// The version of the newest update applied from the system.
    pub version: i64,
    /// SHA-256 of that update's canonical input, hex.
    pub content_hash: String,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last advanced.
    pub updated_at: UtcTime,
}

const COLUMNS: &str = "id, name, mobile, level, points, balance, created_at, updated_at";
const MAPPING_COLUMNS: &str =
    "system_id, external_id, member_id, version, content_hash, created_at, updated_at";

/// A new id for a member.
pub fn new_member_id() -> String {
    new_id("mem")
}

/// Creates member `row`.
pub async fn insert_member(tx: &mut Tx, row: &MemberRow) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO members (id, name, mobile, level, points, balance, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
        .bind(&row.id).bind(&row.name).bind(&row.mobile).bind(&row.level).bind(row.points)
        .bind(row.balance).bind(row.created_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Maps a system's member id to member `row.member_id`. A mapping that exists is a
/// [`super::StoreError::Conflict`].
pub async fn insert_mapping(tx: &mut Tx, row: &MappingRow) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO member_mappings (system_id, external_id, member_id, version, content_hash, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
        .bind(&row.system_id).bind(&row.external_id).bind(&row.member_id).bind(row.version)
        .bind(&row.content_hash).bind(row.created_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Advances the mapping (`system_id`, `external_id`) to `version` if, and only if, it is
/// at an older version: the compare-and-set that keeps an older update from overwriting
/// a newer one. On PostgreSQL a concurrent update of the same mapping waits for this one
/// and is then compared with the version it wrote. The member id when it advanced.
pub async fn advance_mapping(
    tx: &mut Tx,
    system_id: &str,
    external_id: &str,
    version: i64,
    content_hash: &str,
) -> StoreResult<Option<String>> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE member_mappings SET version = $3, content_hash = $4, updated_at = $5 \
         WHERE system_id = $1 AND external_id = $2 AND version < $3 RETURNING member_id")
        .bind(system_id).bind(external_id).bind(version).bind(content_hash)
        .bind(UtcTime::now())
        .fetch_optional(&mut *c).await)?)
}

/// Writes the data of member `row.id`: the one place a member is updated (an event
/// about it belongs in the same transaction `tx`).
pub async fn update_member(tx: &mut Tx, row: &MemberRow) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE members SET name = $2, mobile = $3, level = $4, points = $5, balance = $6, \
         updated_at = $7 WHERE id = $1")
        .bind(&row.id).bind(&row.name).bind(&row.mobile).bind(&row.level).bind(row.points)
        .bind(row.balance).bind(row.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The mapping (`system_id`, `external_id`), inside `tx`.
pub async fn mapping_in(
    tx: &mut Tx,
    system_id: &str,
    external_id: &str,
) -> StoreResult<Option<MappingRow>> {
    let sql = format!(
        "SELECT {MAPPING_COLUMNS} FROM member_mappings WHERE system_id = $1 AND external_id = $2"
    );
    Ok(
        on_tx!(tx, c => sqlx::query_as::<_, MappingRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(external_id).fetch_optional(&mut *c).await)?,
    )
}

/// Whether member `id` exists, inside `tx`.
pub async fn member_exists_in(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM members WHERE id = $1")
        .bind(id).fetch_one(&mut *c).await)?;
    Ok(n > 0)
}

/// One member by id.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<MemberRow>> {
    let sql = format!("SELECT {COLUMNS} FROM members WHERE id = $1");
    Ok(
        on_db!(db, p => sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?,
    )
}

/// The mappings of member `member_id`, by system.
pub async fn mappings_of(db: &Db, member_id: &str) -> StoreResult<Vec<MappingRow>> {
    let sql = format!(
        "SELECT {MAPPING_COLUMNS} FROM member_mappings WHERE member_id = $1 \
         ORDER BY system_id, external_id"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, MappingRow>(sqlx::AssertSqlSafe(sql))
        .bind(member_id).fetch_all(p).await)?,
    )
}

/// The mapping (`system_id`, `external_id`).
pub async fn mapping(
    db: &Db,
    system_id: &str,
    external_id: &str,
) -> StoreResult<Option<MappingRow>> {
    let sql = format!(
        "SELECT {MAPPING_COLUMNS} FROM member_mappings WHERE system_id = $1 AND external_id = $2"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, MappingRow>(sqlx::AssertSqlSafe(sql))
        .bind(system_id).bind(external_id).fetch_optional(p).await)?,
    )
}

/// What to list of the members; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// With a mapping in this system.
    pub system_id: Option<String>,
    /// At this level.
    pub level: Option<String>,
    /// Updated at or after.
    pub since: Option<UtcTime>,
    /// Updated before.
    pub until: Option<UtcTime>,
}

/// A filtered page of members, newest first, after the cursor `before` (an id).
pub async fn list(
    db: &Db,
    filter: &MemberFilter,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<MemberRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM members WHERE ($1 IS NULL OR EXISTS (SELECT 1 FROM \
         member_mappings mm WHERE mm.member_id = members.id AND mm.system_id = $1)) \
         AND ($2 IS NULL OR level = $2) AND ($3 IS NULL OR updated_at >= $3) \
         AND ($4 IS NULL OR updated_at < $4) AND ($5 IS NULL OR id < $5) \
         ORDER BY id DESC LIMIT $6"
    );
    Ok(
        on_db!(db, p => sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
        .bind(filter.system_id.as_deref()).bind(filter.level.as_deref())
        .bind(filter.since).bind(filter.until).bind(before).bind(i64::from(limit))
        .fetch_all(p).await)?,
    )
}
