//! POS transactions: sales, refunds and voids from a `pos` system.
//!
//! A sale's lines are checked against its total. A refund names its sale and never
//! takes more than the sale has left, per SKU in quantity and in amount; a void cancels
//! a sale nothing has been refunded of. Both are recorded while the sale's row is locked
//! ([`crate::store::pos::lock_sale`]), so concurrent refunds are applied one after the
//! other and cannot together exceed the sale.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ExternalId, MAX_LINES, Outcome, RecordError, content_hash, repeat};
use crate::input::{DateTime, Text};
pub use crate::status::{PosKind, PosStatus};
use crate::store::pos::{self as store, PosRow};
use crate::store::systems::SystemRow;
use crate::store::{Db, StoreError};
use crate::types::{Money, UtcTime};

/// The most units of one line.
pub const MAX_QUANTITY: u32 = 1_000_000;

/// A line of a transaction as a POS sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosLineInput {
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
    /// Discount on the line, yuan, from 0 to quantity × unit price (default 0).
    #[serde(default)]
    pub discount: Option<Money>,
}

/// The customer of a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosCustomer {
    /// The POS's customer or member id.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub id: Option<Text<1, 100>>,
    /// Name.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub name: Option<Text<1, 100>>,
    /// Mobile number (masked in lists).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^\+?[0-9]{5,20}$")]
    pub mobile: Option<super::members::Mobile>,
}

/// A POS transaction in the canonical schema: what `POST /pos/{system_id}/transactions`
/// takes, and what a POS system's webhook carries when the system has no mapping.
///
/// A `sale` has 1 to 1000 lines and no `sale_external_id`; a `refund` names its sale and
/// has 1 to 1000 lines of SKUs of that sale; a `void` names its sale, has no lines, and
/// its total is the sale's. `total` must equal the sum of the lines' quantity × unit
/// price − discount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosTransactionInput {
    /// The POS's id of the transaction, unique per system: the idempotency key.
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub external_id: ExternalId,
    /// Sale, refund or void.
    pub kind: PosKind,
    /// A refund's or void's sale: the sale's `external_id` in the same system.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub sale_external_id: Option<ExternalId>,
    /// When it happened, RFC 3339 (a year from 2000 to 2099).
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime,
    /// The store it was made in.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub store: Option<Text<1, 100>>,
    /// The customer.
    #[serde(default)]
    pub customer: Option<PosCustomer>,
    /// How it was paid (`cash`, `card`, `wechat`, `alipay`…), 1 to 40 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 40)]
    pub payment_method: Option<Text<1, 40>>,
    /// The lines (none for a void).
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub lines: Vec<PosLineInput>,
    /// The total, yuan: the sum of the lines.
    pub total: Money,
}

/// A line as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PosLine {
    /// The SKU.
    pub sku: String,
    /// The product's name.
    pub name: String,
    /// Units.
    pub quantity: u32,
    /// Price of one unit, yuan.
    pub unit_price: Money,
    /// Discount on the line, yuan.
    pub discount: Money,
    /// quantity × unit price − discount, yuan.
    pub amount: Money,
}

/// A POS transaction as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PosTransaction {
    /// Id (`ptx_…`).
    pub id: String,
    /// The POS system (`sys_…`).
    pub system_id: String,
    /// The POS's id of it.
    pub external_id: String,
    /// Sale, refund or void.
    pub kind: PosKind,
    /// Where it stands.
    pub status: PosStatus,
    /// A refund's or void's sale (`ptx_…`).
    pub sale_id: Option<String>,
    /// The store it was made in.
    pub store: Option<String>,
    /// The customer (the mobile masked in lists).
    pub customer: Option<PosCustomer>,
    /// How it was paid.
    pub payment_method: Option<String>,
    /// The lines.
    pub lines: Vec<PosLine>,
    /// The total, yuan.
    pub total: Money,
    /// A sale: what has been refunded of it, yuan.
    pub refunded_amount: Money,
    /// A sale: units refunded per SKU.
    pub refunded_quantities: BTreeMap<String, u32>,
    /// When it happened at the POS.
    pub occurred_at: UtcTime,
    /// When it was recorded.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

impl PosTransaction {
    /// The transaction of `row`; `masked` hides the middle of the customer's mobile.
    pub fn from_row(row: PosRow, masked: bool) -> Result<PosTransaction, RecordError> {
        let internal = |what: &str, e: serde_json::Error| {
            RecordError::Store(StoreError::Database(sqlx::Error::Decode(
                format!("pos transaction {}: {what}: {e}", row.id).into(),
            )))
        };
        let lines = serde_json::from_str(&row.lines).map_err(|e| internal("lines", e))?;
        let refunded_quantities = serde_json::from_str(&row.refunded_quantities)
            .map_err(|e| internal("refunded_quantities", e))?;
        let mut customer: Option<PosCustomer> = match &row.customer {
            Some(c) => Some(serde_json::from_str(c).map_err(|e| internal("customer", e))?),
            None => None,
        };
        if masked && let Some(mobile) = customer.as_mut().and_then(|c| c.mobile.as_mut()) {
            *mobile = mobile.masked();
        }
        Ok(PosTransaction {
            id: row.id,
            system_id: row.system_id,
            external_id: row.external_id,
            kind: row.kind,
            status: row.status,
            sale_id: row.sale_id,
            store: row.store_code,
            customer,
            payment_method: row.payment_method,
            lines,
            total: row.total,
            refunded_amount: row.refunded_amount,
            refunded_quantities,
            occurred_at: row.occurred_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Checks the lines and computes each line's amount; the total must be their sum.
fn check_lines(input: &PosTransactionInput) -> Result<Vec<PosLine>, RecordError> {
    let invalid = |detail: String| RecordError::invalid(detail);
    if input.lines.len() > MAX_LINES {
        return Err(invalid(format!(
            "lines: at most {MAX_LINES}, got {}",
            input.lines.len()
        )));
    }
    let mut lines = Vec::with_capacity(input.lines.len());
    let mut sum = Decimal::ZERO;
    for (i, line) in input.lines.iter().enumerate() {
        if line.quantity == 0 || line.quantity > MAX_QUANTITY {
            return Err(invalid(format!(
                "lines[{i}].quantity: 1 to {MAX_QUANTITY}, got {}",
                line.quantity
            )));
        }
        let price = line.unit_price.amount();
        if price.is_sign_negative() {
            return Err(invalid(format!(
                "lines[{i}].unit_price: must not be negative, got {price}"
            )));
        }
        let discount = line.discount.map(Money::amount).unwrap_or(Decimal::ZERO);
        let gross = price
            .checked_mul(Decimal::from(line.quantity))
            .ok_or_else(|| invalid(format!("lines[{i}]: quantity × unit_price is too large")))?;
        if discount.is_sign_negative() || discount > gross {
            return Err(invalid(format!(
                "lines[{i}].discount: from 0 to quantity × unit_price ({gross}), got {discount}"
            )));
        }
        let amount = gross - discount;
        sum = sum
            .checked_add(amount)
            .ok_or_else(|| invalid("lines: the sum is too large".to_owned()))?;
        lines.push(PosLine {
            sku: line.sku.as_str().to_owned(),
            name: line.name.as_str().to_owned(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            discount: Money::new(discount),
            amount: Money::new(amount),
        });
    }
    if input.kind != PosKind::Void && sum != input.total.amount() {
        return Err(invalid(format!(
            "total: must be the sum of the lines' quantity × unit_price − discount ({sum}), \
             got {}",
            input.total
        )));
    }
    Ok(lines)
}

/// Checks what can be checked of `input` alone: the sale reference, the lines and the
/// total.
fn check(input: &PosTransactionInput) -> Result<Vec<PosLine>, RecordError> {
    let invalid = |detail: String| RecordError::invalid(detail);
    match (input.kind, &input.sale_external_id) {
        (PosKind::Sale, Some(_)) => {
            return Err(invalid("sale_external_id: a sale names no sale".to_owned()));
        }
        (PosKind::Refund | PosKind::Void, None) => {
            return Err(invalid(format!(
                "sale_external_id: a {} names its sale",
                input.kind
            )));
        }
        _ => {}
    }
    if input.total.amount().is_sign_negative() {
        return Err(invalid(format!(
            "total: must not be negative, got {}",
            input.total
        )));
    }
    match input.kind {
        PosKind::Void if !input.lines.is_empty() => Err(invalid(
            "lines: a void has no lines (it cancels the whole sale)".to_owned(),
        )),
        PosKind::Sale | PosKind::Refund if input.lines.is_empty() => Err(invalid(format!(
            "lines: a {} has 1 to {MAX_LINES} lines",
            input.kind
        ))),
        _ => check_lines(input),
    }
}

/// Records a transaction from POS system `system`: created, or already recorded (the same
/// external id with the same content). A refund or void is recorded, and its sale
/// changed, while the sale is locked.
///
/// Errors (422): a bad line or total (`invalid_record`), a sale that does not exist
/// (`sale_not_found`) or is not a sale (`not_a_sale`), a void whose total is not the
/// sale's; (409): an external id reused with other content (`external_id_reused`), a
/// refund over what the sale has left (`refund_exceeds_sale`), a refund or void of a
/// voided sale (`sale_voided`), a void of a refunded sale (`sale_refunded`).
#[tracing::instrument(skip_all, fields(system = %system.id, external_id = %input.external_id, kind = %input.kind), err(level = "info"))]
pub async fn record(
    db: &Db,
    system: &SystemRow,
    input: PosTransactionInput,
) -> Result<(Outcome, PosRow), RecordError> {
    let lines = check(&input)?;
    let hash = content_hash(&input);
    let external_id = input.external_id.as_str();
    if let Some(existing) = store::by_external_id(db, &system.id, external_id).await? {
        let outcome = repeat("transaction", external_id, &existing.content_hash, &hash)?;
        return Ok((outcome, existing));
    }
    let now = UtcTime::now();
    let mut row = PosRow {
        id: store::new_pos_id(),
        system_id: system.id.clone(),
        external_id: external_id.to_owned(),
        kind: input.kind,
        status: if input.kind == PosKind::Sale {
            PosStatus::Completed
        } else {
            PosStatus::Recorded
        },
        sale_id: None,
        store_code: input.store.as_ref().map(|s| s.as_str().to_owned()),
        customer: input
            .customer
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default()),
        payment_method: input.payment_method.as_ref().map(|s| s.as_str().to_owned()),
        lines: serde_json::to_string(&lines).unwrap_or_default(),
        total: input.total,
        refunded_amount: Money::ZERO,
        refunded_quantities: "{}".to_owned(),
        content_hash: hash.clone(),
        occurred_at: UtcTime::from(input.occurred_at.timestamp()),
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.begin().await?;
    if let Some(sale_external_id) = &input.sale_external_id {
        let sale_external_id = sale_external_id.as_str();
        let sale = store::lock_sale(&mut tx, &system.id, sale_external_id)
            .await?
            .ok_or_else(|| RecordError::Unprocessable {
                code: "sale_not_found",
                detail: format!(
                    "sale_external_id: system {} has no transaction {sale_external_id:?}",
                    system.id
                ),
            })?;
        // A concurrent delivery of this same transaction may have been recorded while
        // this one waited for the lock.
        if let Some(existing) = store::by_external_id_in(&mut tx, &system.id, external_id).await? {
            drop(tx);
            let outcome = repeat("transaction", external_id, &existing.content_hash, &hash)?;
            return Ok((outcome, existing));
        }
        let (status, refunded_amount, refunded) = apply_to_sale(&sale, &input, &lines)?;
        row.sale_id = Some(sale.id.clone());
        store::set_sale_refunds(
            &mut tx,
            &sale.id,
            status,
            refunded_amount,
            &serde_json::to_string(&refunded).unwrap_or_default(),
        )
        .await?;
    }
    match store::record_transaction(&mut tx, &row).await {
        Ok(()) => {
            // `pos.transaction.recorded`, with the change, to every subscriber but the
            // POS it came from.
            let payload = serde_json::json!({
                "id": row.id,
                "system_id": row.system_id,
                "external_id": row.external_id,
                "kind": row.kind,
                "sale_id": row.sale_id,
                "store": row.store_code,
                "total": row.total,
                "occurred_at": row.occurred_at,
            });
            crate::webhooks::outbound::emit_from(
                &mut tx,
                crate::webhooks::outbound::EventType::PosTransactionRecorded,
                payload,
                Some(&system.id),
            )
            .await?;
            tx.commit().await?;
            Ok((Outcome::Created, row))
        }
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            let existing = store::by_external_id(db, &system.id, external_id)
                .await?
                .ok_or_else(|| {
                    RecordError::Store(StoreError::Conflict(format!(
                        "transaction {external_id:?} conflicts and cannot be read"
                    )))
                })?;
            let outcome = repeat("transaction", external_id, &existing.content_hash, &hash)?;
            Ok((outcome, existing))
        }
        Err(e) => Err(e.into()),
    }
}

/// What a refund or void (`input`, its lines `lines`) makes of its locked `sale`: the
/// sale's new status, refunded amount and refunded units per SKU; or why it is refused.
fn apply_to_sale(
    sale: &PosRow,
    input: &PosTransactionInput,
    lines: &[PosLine],
) -> Result<(PosStatus, Money, BTreeMap<String, u32>), RecordError> {
    if sale.kind != PosKind::Sale {
        return Err(RecordError::Unprocessable {
            code: "not_a_sale",
            detail: format!(
                "sale_external_id: {:?} is a {}, not a sale",
                sale.external_id, sale.kind
            ),
        });
    }
    if sale.status == PosStatus::Voided {
        return Err(RecordError::Conflict {
            code: "sale_voided",
            detail: format!(
                "sale {:?} is voided; a {} of it is refused",
                sale.external_id, input.kind
            ),
        });
    }
    let mut refunded: BTreeMap<String, u32> = serde_json::from_str(&sale.refunded_quantities)
        .map_err(|e| {
            RecordError::Store(StoreError::Database(sqlx::Error::Decode(
                format!("sale {}: refunded_quantities: {e}", sale.id).into(),
            )))
        })?;
    if input.kind == PosKind::Void {
        if sale.status != PosStatus::Completed || !sale.refunded_amount.amount().is_zero() {
            return Err(RecordError::Conflict {
                code: "sale_refunded",
                detail: format!(
                    "sale {:?} is {} ({} refunded); a void of it is refused",
                    sale.external_id, sale.status, sale.refunded_amount
                ),
            });
        }
        if input.total != sale.total {
            return Err(RecordError::invalid(format!(
                "total: a void's total is its sale's ({}), got {}",
                sale.total, input.total
            )));
        }
        return Ok((PosStatus::Voided, sale.refunded_amount, refunded));
    }
    let sold: Vec<PosLine> = serde_json::from_str(&sale.lines).map_err(|e| {
        RecordError::Store(StoreError::Database(sqlx::Error::Decode(
            format!("sale {}: lines: {e}", sale.id).into(),
        )))
    })?;
    let mut sold_per_sku: BTreeMap<&str, u64> = BTreeMap::new();
    for line in &sold {
        *sold_per_sku.entry(line.sku.as_str()).or_default() += u64::from(line.quantity);
    }
    let mut asked: BTreeMap<&str, u64> = BTreeMap::new();
    for line in lines {
        *asked.entry(line.sku.as_str()).or_default() += u64::from(line.quantity);
    }
    for (sku, quantity) in &asked {
        let Some(sold) = sold_per_sku.get(sku) else {
            return Err(RecordError::Unprocessable {
                code: "invalid_record",
                detail: format!("lines: SKU {sku:?} is not in sale {:?}", sale.external_id),
            });
        };
        let already = u64::from(refunded.get(*sku).copied().unwrap_or(0));
        let left = sold.saturating_sub(already);
        if *quantity > left {
            return Err(RecordError::Conflict {
                code: "refund_exceeds_sale",
                detail: format!(
                    "SKU {sku:?}: {quantity} to refund, {left} left of {sold} sold in sale {:?}",
                    sale.external_id
                ),
            });
        }
    }
    let left = sale.total.amount() - sale.refunded_amount.amount();
    if input.total.amount() > left {
        return Err(RecordError::Conflict {
            code: "refund_exceeds_sale",
            detail: format!(
                "a refund of {} exceeds the {left} left of sale {:?} (total {}, {} refunded)",
                input.total, sale.external_id, sale.total, sale.refunded_amount
            ),
        });
    }
    for (sku, quantity) in asked {
        let entry = refunded.entry(sku.to_owned()).or_default();
        *entry = entry.saturating_add(u32::try_from(quantity).unwrap_or(u32::MAX));
    }
    let refunded_amount = Money::new(sale.refunded_amount.amount() + input.total.amount());
    let all_units = sold_per_sku
        .iter()
        .all(|(sku, sold)| u64::from(refunded.get(*sku).copied().unwrap_or(0)) >= *sold);
    let status = if all_units || refunded_amount == sale.total {
        PosStatus::Refunded
    } else {
        PosStatus::PartiallyRefunded
    };
    Ok((status, refunded_amount, refunded))
}
