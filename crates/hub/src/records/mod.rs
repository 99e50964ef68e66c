//! Records the retailer's other systems send: POS transactions ([`pos`]), supplier
//! purchase orders and returns ([`purchase`]) and members ([`members`]).
//!
//! Each record belongs to an external system of the registry, of the right kind (`pos`,
//! `supplier`, `member`), that exists and is not archived ([`usable_system`]). Each kind
//! has a canonical input type, the schema a foreign system sends when it has no mapping
//! of its own: [`pos::PosTransactionInput`], [`members::MemberUpdate`] and
//! [`purchase::SupplierOrderEvent`]. Every create is idempotent on (system, external id),
//! a unique index: a repeat with the same content is "already recorded", different
//! content under the same external id is refused (409 `external_id_reused`).
//!
//! [`apply`] is the one entry point for a canonical payload of any kind (the inbound
//! webhooks call it); the HTTP routes go through the same functions. Each state change
//! happens in one function, inside one database transaction, so that an outbound event
//! can be added beside it: [`pos::record`] (a transaction recorded), [`members::sync`]
//! (a member created or updated) and [`purchase::create`] / [`purchase::transition`] (a
//! supplier order created or its state changed).

pub mod members;
pub mod pos;
pub mod purchase;

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::store::systems::SystemRow;
use crate::store::{Db, StoreError};
use crate::systems::Kind;

/// An external id: the sending system's own id of a record, 1 to 100 characters without
/// control characters; unique per system and record kind.
pub type ExternalId = crate::input::Text<1, 100>;

/// The most items a batch may carry.
pub const MAX_BATCH: usize = 500;

/// The most lines a transaction or order may carry.
pub const MAX_LINES: usize = 1000;

/// Why a record was not applied. Each variant names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// 404 `not_found`: no such system, or no such record (by our id).
    #[error("{0}")]
    NotFound(String),
    /// 422 with a specific code: the input cannot be recorded as given
    /// (`invalid_record`, `wrong_system_kind`, `system_archived`, `sale_not_found`,
    /// `not_a_sale`, `member_not_found`).
    #[error("{detail}")]
    Unprocessable {
        /// The machine-readable code.
        code: &'static str,
        /// What is wrong, naming the field.
        detail: String,
    },
    /// 409 with a specific code: the input conflicts with what is recorded
    /// (`external_id_reused`, `refund_exceeds_sale`, `sale_voided`, `sale_refunded`,
    /// `invalid_transition`, `concurrent_change`, `mapping_conflict`).
    #[error("{detail}")]
    Conflict {
        /// The machine-readable code.
        code: &'static str,
        /// What conflicts, naming both sides.
        detail: String,
    },
    /// 500: the store failed.
    #[error("store error")]
    Store(#[from] StoreError),
}

impl RecordError {
    /// The HTTP status the error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            RecordError::NotFound(_) => 404,
            RecordError::Unprocessable { .. } => 422,
            RecordError::Conflict { .. } => 409,
            RecordError::Store(StoreError::Conflict(_)) => 409,
            RecordError::Store(_) => 500,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::NotFound(_) => "not_found",
            RecordError::Unprocessable { code, .. } | RecordError::Conflict { code, .. } => code,
            RecordError::Store(StoreError::Conflict(_)) => "conflict",
            RecordError::Store(_) => "internal",
        }
    }

    /// 422 `invalid_record` with `detail`.
    pub fn invalid(detail: impl Into<String>) -> RecordError {
        RecordError::Unprocessable {
            code: "invalid_record",
            detail: detail.into(),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::NotFound(detail) => ApiError::NotFound(detail),
            RecordError::Unprocessable { code, detail } => ApiError::Unprocessable { code, detail },
            RecordError::Conflict { code, detail } => ApiError::ConflictWith { code, detail },
            RecordError::Store(s) => s.into(),
        }
    }
}

/// What kind of record was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A POS transaction (`ptx_…`).
    PosTransaction,
    /// A member (`mem_…`).
    Member,
    /// A supplier order (`spo_…`).
    SupplierOrder,
}

/// What applying a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new record.
    Created,
    /// A member's newer update was applied.
    Updated,
    /// The same record (same external id, same content) was recorded before; nothing
    /// changed.
    AlreadyRecorded,
    /// A member update older than (or as old as) the one applied; nothing changed.
    StaleIgnored,
    /// A supplier order's state changed.
    Transitioned,
}

/// What [`apply`] did: the outcome and the record it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Applied {
    /// The kind of record.
    pub kind: RecordKind,
    /// What happened.
    pub outcome: Outcome,
    /// Our id of the record (`ptx_…`, `mem_…`, `spo_…`).
    pub id: String,
}

/// Applies a canonical payload from `system`, by the system's kind: a POS transaction
/// ([`pos::PosTransactionInput`]) from a `pos` system, a member update
/// ([`members::MemberUpdate`]) from a `member` system, a supplier order creation or
/// transition ([`purchase::SupplierOrderEvent`]) from a `supplier` system. Idempotent:
/// the external id per system is the key.
///
/// Errors: [`RecordError::Unprocessable`] for a payload that does not parse (naming the
/// field), a system of another kind or an archived one; the errors of each kind's
/// function otherwise.
#[tracing::instrument(skip_all, fields(system = %system.id, kind = %system.kind), err(level = "info"))]
pub async fn apply(
    db: &Db,
    system: &SystemRow,
    payload: serde_json::Value,
) -> Result<Applied, RecordError> {
    check_usable(system)?;
    let kind: Kind = system
        .kind
        .parse()
        .map_err(|e: String| RecordError::invalid(format!("system kind: {e}")))?;
    match kind {
        Kind::Pos => {
            let input = parse(payload)?;
            let (outcome, row) = pos::record(db, system, input).await?;
            Ok(Applied {
                kind: RecordKind::PosTransaction,
                outcome,
                id: row.id,
            })
        }
        Kind::Member => {
            let input = parse(payload)?;
            let (outcome, id) = members::sync(db, system, input).await?;
            Ok(Applied {
                kind: RecordKind::Member,
                outcome,
                id,
            })
        }
        Kind::Supplier => {
            let event = parse(payload)?;
            let (outcome, row) = purchase::apply_event(db, system, event).await?;
            Ok(Applied {
                kind: RecordKind::SupplierOrder,
                outcome,
                id: row.id,
            })
        }
        other => Err(RecordError::Unprocessable {
            code: "wrong_system_kind",
            detail: format!(
                "system {} is a {other} system, which sends no records",
                system.id
            ),
        }),
    }
}

/// Parses a canonical payload; the error names the field (`lines[2].quantity: …`).
pub fn parse<T: serde::de::DeserializeOwned>(payload: serde_json::Value) -> Result<T, RecordError> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            RecordError::invalid(inner.to_string())
        } else {
            RecordError::invalid(format!("{path}: {inner}"))
        }
    })
}

/// System `id` if it exists (404), is not archived and is of `kind` (422).
pub async fn usable_system(db: &Db, id: &str, kind: Kind) -> Result<SystemRow, RecordError> {
    let shown: String = id.chars().take(64).collect();
    let system = crate::store::systems::get(db, id)
        .await?
        .ok_or_else(|| RecordError::NotFound(format!("no system with id {shown:?}")))?;
    check_usable(&system)?;
    if system.kind != kind.as_str() {
        return Err(RecordError::Unprocessable {
            code: "wrong_system_kind",
            detail: format!(
                "system {} is a {} system; this takes a {kind} system",
                system.id, system.kind
            ),
        });
    }
    Ok(system)
}

fn check_usable(system: &SystemRow) -> Result<(), RecordError> {
    match system.archived_at {
        Some(at) => Err(RecordError::Unprocessable {
            code: "system_archived",
            detail: format!("system {} was archived at {at}", system.id),
        }),
        None => Ok(()),
    }
}

/// SHA-256 of the canonical form of an input, hex: equal for equal content, whatever the
/// order or spacing of the JSON it was read from.
pub(crate) fn content_hash(input: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(input).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The answer to a repeated external id: "already recorded" when the content is the
/// same, 409 `external_id_reused` otherwise.
pub(crate) fn repeat(
    what: &str,
    external_id: &str,
    stored_hash: &str,
    hash: &str,
) -> Result<Outcome, RecordError> {
    if stored_hash == hash {
        Ok(Outcome::AlreadyRecorded)
    } else {
        Err(RecordError::Conflict {
            code: "external_id_reused",
            detail: format!(
                "{what} {external_id:?} was recorded before with other content; \
                 an external id names one record"
            ),
        })
    }
}

/// A mobile number masked for lists: the first three and last four digits kept
/// (`138****5678`); a shorter number keeps only its last two.
pub fn mask_mobile(mobile: &str) -> String {
    let chars: Vec<char> = mobile.chars().collect();
    let n = chars.len();
    if n >= 8 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 7))
    } else {
        let keep = n.min(2);
        let tail: String = chars[n - keep..].iter().collect();
        format!("{}{tail}", "*".repeat(n - keep))
    }
}

/// How a body of records is sent: one record, or `{"items": [...]}`.
pub enum Batch {
    /// One record.
    One(serde_json::Value),
    /// 1 to [`MAX_BATCH`] records, each answered on its own.
    Many(Vec<serde_json::Value>),
}

impl Batch {
    /// Reads a body: an object whose only key is `items` is a batch (an array of 1 to
    /// [`MAX_BATCH`]); anything else is one record.
    pub fn of(body: serde_json::Value) -> Result<Batch, RecordError> {
        match body {
            serde_json::Value::Object(mut map) if map.len() == 1 && map.contains_key("items") => {
                match map.remove("items") {
                    Some(serde_json::Value::Array(items))
                        if !items.is_empty() && items.len() <= MAX_BATCH =>
                    {
                        Ok(Batch::Many(items))
                    }
                    Some(serde_json::Value::Array(items)) => Err(RecordError::invalid(format!(
                        "items: 1 to {MAX_BATCH} records, got {}",
                        items.len()
                    ))),
                    _ => Err(RecordError::invalid("items: must be an array of records")),
                }
            }
            other => Ok(Batch::One(other)),
        }
    }
}

/// The answer to one item of a batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    /// Its place in the batch, from 0.
    pub index: usize,
    /// The status it would have been answered alone: 201 created, 200 applied or already
    /// recorded, 4xx its error.
    pub status: u16,
    /// What happened, when it was applied.
    pub outcome: Option<Outcome>,
    /// Our id of its record, when it was applied.
    pub id: Option<String>,
    /// The error's code, when it was not.
    pub code: Option<String>,
    /// The error's explanation, when it was not.
    pub detail: Option<String>,
}

impl ItemResult {
    /// The answer for item `index` from its result.
    pub fn of(index: usize, result: Result<(Outcome, String), RecordError>) -> ItemResult {
        match result {
            Ok((outcome, id)) => ItemResult {
                index,
                status: if outcome == Outcome::Created {
                    201
                } else {
                    200
                },
                outcome: Some(outcome),
                id: Some(id),
                code: None,
                detail: None,
            },
            Err(e) => {
                if let RecordError::Store(cause) = &e {
                    tracing::error!(error = ?cause, index, "a batch item failed");
                }
                let detail = match &e {
                    RecordError::Store(_) => "internal error".to_owned(),
                    other => other.to_string(),
                };
                ItemResult {
                    index,
                    status: e.status(),
                    outcome: None,
                    id: None,
                    code: Some(e.code().to_owned()),
                    detail: Some(detail),
                }
            }
        }
    }
}

/// The answer to a batch: one result per item, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResult {
    /// One per item.
    pub items: Vec<ItemResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_are_masked_in_the_middle() {
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert_eq!(mask_mobile("+8613812345678"), "+86*******5678");
        assert_eq!(mask_mobile("12345"), "***45");
        assert_eq!(mask_mobile(""), "");
    }
}
