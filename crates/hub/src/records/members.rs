//! Members from a `member` system: an external member id mapped to our member per
//! system (one member may have mappings in several systems), with name, mobile, level,
//! points and balance.
//!
//! Each update carries the whole member and its own version (or time). It is applied
//! only if it is newer than the last one applied from that system, by a compare-and-set
//! in SQL ([`crate::store::members::advance_mapping`]), so updates delivered out of
//! order, or concurrently, end at the newest.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use super::{ExternalId, Outcome, RecordError, content_hash};
use crate::input::{DateTime, Text};
use crate::store::members::{self as store, MappingRow, MemberRow};
use crate::store::systems::SystemRow;
use crate::store::{Db, StoreError};
use crate::types::{Money, UtcTime};

/// A mobile number: an optional `+` and 5 to 20 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

impl Mobile {
    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Mobile, String> {
        let digits = text.strip_prefix('+').unwrap_or(text);
        if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Mobile(text.to_owned()))
        } else {
            Err(format!(
                "a mobile number: an optional + and 5 to 20 digits, got {:?}",
                text.chars().take(30).collect::<String>()
            ))
        }
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle hidden (`138****5678`), for lists.
    pub fn masked(&self) -> Mobile {
        Mobile(super::mask_mobile(&self.0))
    }
}

impl Serialize for Mobile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Mobile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Mobile::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A member update in the canonical schema: what `POST /members/{system_id}/sync` takes,
/// and what a member system's webhook carries when the system has no mapping. It carries
/// the whole member (a field left out is cleared, points and balance become 0).
///
/// `version` (a whole number the system increases with each change) or, without one,
/// `updated_at` (its time) orders the updates of one member from one system: an update
/// not newer than the last one applied is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    /// The system's member id, unique per system.
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub external_id: ExternalId,
    /// Our member (`mem_…`) this system's member is, when it is first mapped: one member
    /// may be mapped from several systems. Without it, a new member is created.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub member_id: Option<Text<1, 100>>,
    /// The update's version, 0 to 2^53: newer updates have larger versions.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9_007_199_254_740_992_i64)]
    pub version: Option<i64>,
    /// When the member changed at the system, RFC 3339; orders the updates when there is
    /// no `version`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime>,
    /// Name, 1 to 100 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub name: Option<Text<1, 100>>,
    /// Mobile number: an optional `+` and 5 to 20 digits.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^\+?[0-9]{5,20}$")]
    pub mobile: Option<Mobile>,
    /// Level (tier) as the system names it, 1 to 40 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 40)]
    pub level: Option<Text<1, 40>>,
    /// Points, 0 or more (default 0).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub points: u32,
    /// Stored-value balance, yuan, not negative (default 0).
    #[serde(default)]
    pub balance: Option<Money>,
}

/// The largest version.
pub const MAX_VERSION: i64 = 1 << 53;

impl MemberUpdate {
    /// The version that orders this update: `version`, or `updated_at` in microseconds.
    fn effective_version(&self) -> Result<i64, RecordError> {
        match (self.version, self.updated_at) {
            (Some(v), _) if (0..=MAX_VERSION).contains(&v) => Ok(v),
            (Some(v), _) => Err(RecordError::invalid(format!(
                "version: 0 to {MAX_VERSION}, got {v}"
            ))),
            (None, Some(t)) => Ok(UtcTime::from(t.timestamp()).as_micros()),
            (None, None) => Err(RecordError::invalid(
                "version or updated_at: an update carries its version or its time",
            )),
        }
    }
}

/// A member as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    /// Id (`mem_…`).
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Mobile number: whole when read alone, masked (`138****5678`) in lists.
    pub mobile: Option<String>,
    /// Level.
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

impl Member {
    /// The member of `row`; `masked` hides the middle of the mobile.
    pub fn from_row(row: MemberRow, masked: bool) -> Member {
        Member {
            mobile: row
                .mobile
                .map(|m| if masked { super::mask_mobile(&m) } else { m }),
            id: row.id,
            name: row.name,
            level: row.level,
            points: row.points,
            balance: row.balance,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A mapping as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberMapping {
    /// The member system (`sys_…`).
    pub system_id: String,
    /// The system's member id.
    pub external_id: String,
    /// The version of the newest update applied from it.
    pub version: i64,
    /// When it was mapped.
    pub created_at: UtcTime,
    /// When an update from it was last applied.
    pub updated_at: UtcTime,
}

impl From<MappingRow> for MemberMapping {
    fn from(r: MappingRow) -> Self {
        MemberMapping {
            system_id: r.system_id,
            external_id: r.external_id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// How many times a creation that lost a race to a concurrent one is retried as an
/// update.
const CREATE_RETRIES: usize = 3;

/// Applies a member update from member system `system`: creates the member (and its
/// mapping), updates it if the update is newer than the last applied from the system,
/// or ignores it (already recorded: the same version and content; stale: older). The
/// member's id.
///
/// Errors: 422 `invalid_record` (no version nor time, a negative balance),
/// `member_not_found` (`member_id` names no member); 409 `mapping_conflict`
/// (`member_id` names another member than the one mapped).
#[tracing::instrument(skip_all, fields(system = %system.id, external_id = %input.external_id), err(level = "info"))]
pub async fn sync(
    db: &Db,
    system: &SystemRow,
    input: MemberUpdate,
) -> Result<(Outcome, String), RecordError> {
    let version = input.effective_version()?;
    let balance = input.balance.unwrap_or(Money::ZERO);
    if balance.amount().is_sign_negative() {
        return Err(RecordError::invalid(format!(
            "balance: must not be negative, got {balance}"
        )));
    }
    let hash = content_hash(&input);
    let external_id = input.external_id.as_str();
    let mut lost = 0;
    loop {
        let now = UtcTime::now();
        let data = |id: String| MemberRow {
            id,
            name: input.name.as_ref().map(|t| t.as_str().to_owned()),
            mobile: input.mobile.as_ref().map(|m| m.as_str().to_owned()),
            level: input.level.as_ref().map(|t| t.as_str().to_owned()),
            points: i64::from(input.points),
            balance,
            created_at: now,
            updated_at: now,
        };
        let mut tx = db.begin().await?;
        if let Some(existing) = store::mapping_in(&mut tx, &system.id, external_id).await?
            && let Some(asked) = &input.member_id
            && asked.as_str() != existing.member_id
        {
            return Err(RecordError::Conflict {
                code: "mapping_conflict",
                detail: format!(
                    "member_id: {external_id:?} of system {} is mapped to {}, not {}",
                    system.id,
                    existing.member_id,
                    asked.as_str()
                ),
            });
        }
        if let Some(member_id) =
            store::advance_mapping(&mut tx, &system.id, external_id, version, &hash).await?
        {
            store::update_member(&mut tx, &data(member_id.clone())).await?;
            emit_updated(&mut tx, system, &input, &member_id, version).await?;
            tx.commit().await?;
            return Ok((Outcome::Updated, member_id));
        }
        if let Some(existing) = store::mapping_in(&mut tx, &system.id, external_id).await? {
            drop(tx);
            let outcome = if existing.version == version && existing.content_hash == hash {
                Outcome::AlreadyRecorded
            } else {
                Outcome::StaleIgnored
            };
            return Ok((outcome, existing.member_id));
        }
        let member_id = match &input.member_id {
            Some(id) => {
                if !store::member_exists_in(&mut tx, id.as_str()).await? {
                    return Err(RecordError::Unprocessable {
                        code: "member_not_found",
                        detail: format!("member_id: no member {:?}", id.as_str()),
                    });
                }
                id.as_str().to_owned()
            }
            None => store::new_member_id(),
        };
        let created = async {
            if input.member_id.is_some() {
                store::update_member(&mut tx, &data(member_id.clone())).await?;
            } else {
                store::insert_member(&mut tx, &data(member_id.clone())).await?;
            }
            store::insert_mapping(
                &mut tx,
                &MappingRow {
                    system_id: system.id.clone(),
                    external_id: external_id.to_owned(),
                    member_id: member_id.clone(),
                    version,
                    content_hash: hash.clone(),
                    created_at: now,
                    updated_at: now,
                },
            )
            .await
        }
        .await;
        match created {
            Ok(()) => {
                emit_updated(&mut tx, system, &input, &member_id, version).await?;
                tx.commit().await?;
                return Ok((Outcome::Created, member_id));
            }
            // A concurrent delivery created the mapping first: apply this one as an
            // update of it.
            Err(StoreError::Conflict(_)) if lost < CREATE_RETRIES => {
                drop(tx);
                lost += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `member.updated`, in the transaction of the change, to every subscribed system but the
/// one the update came from: `{member_id, source: {system_id, external_id, version}, name,
/// mobile, level, points, balance}` (the record as it is now; the balance a decimal
/// string).
async fn emit_updated(
    tx: &mut crate::store::Tx,
    system: &SystemRow,
    input: &MemberUpdate,
    member_id: &str,
    version: i64,
) -> Result<(), RecordError> {
    let payload = serde_json::json!({
        "member_id": member_id,
        "source": {
            "system_id": system.id,
            "external_id": input.external_id.as_str(),
            "version": version,
        },
        "name": input.name.as_ref().map(|t| t.as_str()),
        "mobile": input.mobile.as_ref().map(|m| m.as_str()),
        "level": input.level.as_ref().map(|t| t.as_str()),
        "points": input.points,
        "balance": input.balance.unwrap_or(Money::ZERO),
    });
    crate::webhooks::outbound::emit_from(
        tx,
        crate::webhooks::outbound::EventType::MemberUpdated,
        payload,
        Some(&system.id),
    )
    .await?;
    Ok(())
}
