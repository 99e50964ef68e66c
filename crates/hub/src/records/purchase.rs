//! Supplier purchase orders and returns, of a `supplier` system: lines, delivery
//! details, and a state `pending → confirmed → shipped → delivered`, or `cancelled` from
//! `pending` or `confirmed`, with the time each state was reached. The state changes
//! only through [`transition`], a compare-and-set on the state it starts from, so of
//! concurrent transitions one wins and the others are refused naming both states.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ExternalId, MAX_LINES, Outcome, RecordError, content_hash, repeat};
use crate::input::{DateTime, Text};
pub use crate::status::{SupplierOrderKind, SupplierOrderState};
use crate::store::supplier_orders::{self as store, SupplierOrderRow};
use crate::store::systems::SystemRow;
use crate::store::{Db, StoreError};
use crate::types::{Money, UtcTime};

/// A line of a supplier order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierOrderLine {
    /// The SKU (product code), 1 to 64 characters.
    #[schema(value_type = String, min_length = 1, max_length = 64)]
    pub sku: Text<1, 64>,
    /// The product's name, 1 to 200 characters.
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub name: Text<1, 200>,
    /// Units, 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: u32,
    /// Price of one unit, yuan, not negative.
    pub unit_price: Money,
}

/// Where and when the goods go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// The receiving warehouse or store.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub warehouse: Option<Text<1, 100>>,
    /// The address.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 300)]
    pub address: Option<Text<1, 300>>,
    /// Who receives.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub contact: Option<Text<1, 100>>,
    /// Their phone.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 30)]
    pub phone: Option<Text<1, 30>>,
    /// When the goods are expected, RFC 3339.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expected_at: Option<DateTime>,
}

/// A supplier order in the canonical schema: what `POST /supplier-orders/{id}` takes.
/// `total` must equal the sum of the lines' quantity × unit price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierOrderInput {
    /// The order's id at the supplier (or in the purchasing system), unique per system:
    /// the idempotency key.
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub external_id: ExternalId,
    /// A purchase (default) or a return.
    #[serde(default = "purchase")]
    pub kind: SupplierOrderKind,
    /// 1 to 1000 lines.
    #[schema(min_items = 1, max_items = 1000)]
    pub lines: Vec<SupplierOrderLine>,
    /// The total, yuan: the sum of the lines.
    pub total: Money,
    /// Delivery details.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// A note, up to 1000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub note: Option<Text<0, 1000>>,
}

fn purchase() -> SupplierOrderKind {
    SupplierOrderKind::Purchase
}

/// `POST /supplier-orders/{id}/transitions`: the state to move to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    /// `confirmed`, `shipped`, `delivered` or `cancelled`.
    pub to: SupplierOrderState,
}

/// A supplier order event in the canonical schema, as a supplier system's webhook
/// carries it when the system has no mapping: `{"action": "create", …order}` or
/// `{"action": "transition", "external_id": "…", "to": "shipped"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SupplierOrderEvent {
    /// A new order (idempotent on its external id).
    Create(SupplierOrderInput),
    /// A state change of the order with this external id; a change to the state it is
    /// in is "already recorded".
    Transition {
        /// The order's external id.
        #[schema(value_type = String, min_length = 1, max_length = 100)]
        external_id: ExternalId,
        /// The state to move to.
        to: SupplierOrderState,
    },
}

/// A supplier order as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SupplierOrder {
    /// Id (`spo_…`).
    pub id: String,
    /// The supplier system (`sys_…`).
    pub system_id: String,
    /// Its external id.
    pub external_id: String,
    /// Purchase or return.
    pub kind: SupplierOrderKind,
    /// Where it stands.
    pub state: SupplierOrderState,
    /// The lines.
    pub lines: Vec<SupplierOrderLine>,
    /// The total, yuan.
    pub total: Money,
    /// Delivery details.
    pub delivery: Option<Delivery>,
    /// A note.
    #[schema(value_type = Option<String>)]
    pub note: Option<String>,
    /// When it was pending (created).
    pub pending_at: Option<UtcTime>,
    /// When it was confirmed.
    pub confirmed_at: Option<UtcTime>,
    /// When it shipped.
    pub shipped_at: Option<UtcTime>,
    /// When it was delivered.
    pub delivered_at: Option<UtcTime>,
    /// When it was cancelled.
    pub cancelled_at: Option<UtcTime>,
    /// When it was recorded.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

impl TryFrom<SupplierOrderRow> for SupplierOrder {
    type Error = RecordError;

    fn try_from(r: SupplierOrderRow) -> Result<SupplierOrder, RecordError> {
        let internal = |what: &str, e: serde_json::Error| {
            RecordError::Store(StoreError::Database(sqlx::Error::Decode(
                format!("supplier order {}: {what}: {e}", r.id).into(),
            )))
        };
        let lines = serde_json::from_str(&r.lines).map_err(|e| internal("lines", e))?;
        let delivery = match &r.delivery {
            Some(d) => Some(serde_json::from_str(d).map_err(|e| internal("delivery", e))?),
            None => None,
        };
        Ok(SupplierOrder {
            id: r.id,
            system_id: r.system_id,
            external_id: r.external_id,
            kind: r.kind,
            state: r.state,
            lines,
            total: r.total,
            delivery,
            note: r.note,
            pending_at: r.pending_at,
            confirmed_at: r.confirmed_at,
            shipped_at: r.shipped_at,
            delivered_at: r.delivered_at,
            cancelled_at: r.cancelled_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn check(input: &SupplierOrderInput) -> Result<(), RecordError> {
    let invalid = |detail: String| RecordError::invalid(detail);
    if input.lines.is_empty() || input.lines.len() > MAX_LINES {
        return Err(invalid(format!(
            "lines: 1 to {MAX_LINES}, got {}",
            input.lines.len()
        )));
    }
    let mut sum = Decimal::ZERO;
    for (i, line) in input.lines.iter().enumerate() {
        if line.quantity == 0 || line.quantity > super::pos::MAX_QUANTITY {
            return Err(invalid(format!(
                "lines[{i}].quantity: 1 to {}, got {}",
                super::pos::MAX_QUANTITY,
                line.quantity
            )));
        }
        let price = line.unit_price.amount();
        if price.is_sign_negative() {
            return Err(invalid(format!(
                "lines[{i}].unit_price: must not be negative, got {price}"
            )));
        }
        sum = price
            .checked_mul(Decimal::from(line.quantity))
            .and_then(|amount| sum.checked_add(amount))
            .ok_or_else(|| invalid(format!("lines[{i}]: the amount is too large")))?;
    }
    if sum != input.total.amount() {
        return Err(invalid(format!(
            "total: must be the sum of the lines' quantity × unit_price ({sum}), got {}",
            input.total
        )));
    }
    Ok(())
}

/// Records a new order, `pending`, from supplier system `system`: created, or already
/// recorded (the same external id with the same content).
///
/// Errors: 422 `invalid_record` (lines, total); 409 `external_id_reused`.
#[tracing::instrument(skip_all, fields(system = %system.id, external_id = %input.external_id), err(level = "info"))]
pub async fn create(
    db: &Db,
    system: &SystemRow,
    input: SupplierOrderInput,
) -> Result<(Outcome, SupplierOrderRow), RecordError> {
    check(&input)?;
    let hash = content_hash(&input);
    let external_id = input.external_id.as_str();
    if let Some(existing) = store::by_external_id(db, &system.id, external_id).await? {
        let outcome = repeat("supplier order", external_id, &existing.content_hash, &hash)?;
        return Ok((outcome, existing));
    }
    let now = UtcTime::now();
    let row = SupplierOrderRow {
        id: store::new_supplier_order_id(),
        system_id: system.id.clone(),
        external_id: external_id.to_owned(),
        kind: input.kind,
        state: SupplierOrderState::Pending,
        lines: serde_json::to_string(&input.lines).unwrap_or_default(),
        total: input.total,
        delivery: input
            .delivery
            .as_ref()
            .map(|d| serde_json::to_string(d).unwrap_or_default()),
        note: input.note.as_ref().map(|n| n.as_str().to_owned()),
        content_hash: hash.clone(),
        pending_at: Some(now),
        confirmed_at: None,
        shipped_at: None,
        delivered_at: None,
        cancelled_at: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.begin().await?;
    match store::record_order(&mut tx, &row).await {
        Ok(()) => {
            emit_state_changed(&mut tx, &row, None, SupplierOrderState::Pending).await?;
            tx.commit().await?;
            Ok((Outcome::Created, row))
        }
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            let existing = store::by_external_id(db, &system.id, external_id)
                .await?
                .ok_or_else(|| {
                    RecordError::Store(StoreError::Conflict(format!(
                        "supplier order {external_id:?} conflicts and cannot be read"
                    )))
                })?;
            let outcome = repeat("supplier order", external_id, &existing.content_hash, &hash)?;
            Ok((outcome, existing))
        }
        Err(e) => Err(e.into()),
    }
}

/// How many times a transition that lost a race is re-read before it is answered.
const TRANSITION_RETRIES: usize = 3;

/// Moves order `order` (as last read) to `to`: the one function that changes a supplier
/// order's state. The order as it is after the change.
///
/// Errors: 409 `invalid_transition` naming both states when the order's state (re-read
/// after a concurrent change) cannot go to `to`; 409 `concurrent_change` when it still
/// could but lost every one of a few compare-and-sets to concurrent changes.
#[tracing::instrument(skip_all, fields(order = %order.id, to = %to), err(level = "info"))]
pub async fn transition(
    db: &Db,
    mut order: SupplierOrderRow,
    to: SupplierOrderState,
) -> Result<SupplierOrderRow, RecordError> {
    for _ in 0..TRANSITION_RETRIES {
        let from = order.state;
        if !from.can_go_to(to) {
            break;
        }
        let mut tx = db.begin().await?;
        if store::change_state(&mut tx, &order.id, from, to).await? {
            emit_state_changed(&mut tx, &order, Some(from), to).await?;
            tx.commit().await?;
            return reread(db, &order.id).await;
        }
        drop(tx);
        order = reread(db, &order.id).await?;
    }
    if order.state.can_go_to(to) {
        return Err(RecordError::Conflict {
            code: "concurrent_change",
            detail: format!(
                "supplier order {} changed state concurrently {TRANSITION_RETRIES} times; \
                 it is {} now, try again",
                order.id, order.state
            ),
        });
    }
    Err(RecordError::Conflict {
        code: "invalid_transition",
        detail: format!(
            "supplier order {} is {}; it cannot go from {} to {to}",
            order.id, order.state, order.state
        ),
    })
}

/// `supplier_order.state_changed`, in the transaction of the change, to every subscriber
/// but the supplier system the order belongs to: `{id, system_id, external_id, kind,
/// from, to}` (`from` null for a new order).
async fn emit_state_changed(
    tx: &mut crate::store::Tx,
    order: &SupplierOrderRow,
    from: Option<SupplierOrderState>,
    to: SupplierOrderState,
) -> Result<(), RecordError> {
    let payload = serde_json::json!({
        "id": order.id,
        "system_id": order.system_id,
        "external_id": order.external_id,
        "kind": order.kind,
        "from": from,
        "to": to,
    });
    crate::webhooks::outbound::emit_from(
        tx,
        crate::webhooks::outbound::EventType::SupplierOrderStateChanged,
        payload,
        Some(&order.system_id),
    )
    .await?;
    Ok(())
}

async fn reread(db: &Db, id: &str) -> Result<SupplierOrderRow, RecordError> {
    store::get(db, id)
        .await?
        .ok_or_else(|| RecordError::NotFound(format!("no supplier order with id {id:?}")))
}

/// Applies a canonical supplier order event from `system`: a creation ([`create`]) or a
/// transition of the order with that external id ([`transition`]; to the state it is
/// in: already recorded).
///
/// Errors: those of [`create`] and [`transition`]; 422 `order_not_found` when a
/// transition names no order of the system.
pub async fn apply_event(
    db: &Db,
    system: &SystemRow,
    event: SupplierOrderEvent,
) -> Result<(Outcome, SupplierOrderRow), RecordError> {
    match event {
        SupplierOrderEvent::Create(input) => create(db, system, input).await,
        SupplierOrderEvent::Transition { external_id, to } => {
            let external_id = external_id.as_str();
            let order = store::by_external_id(db, &system.id, external_id)
                .await?
                .ok_or_else(|| RecordError::Unprocessable {
                    code: "order_not_found",
                    detail: format!(
                        "external_id: system {} has no supplier order {external_id:?}",
                        system.id
                    ),
                })?;
            if order.state == to {
                return Ok((Outcome::AlreadyRecorded, order));
            }
            let order = transition(db, order, to).await?;
            Ok((Outcome::Transitioned, order))
        }
    }
}
