//! The payload shapes the simulated store systems send, all in one place so the
//! canonical one can be aligned with the hub's documented schema.
//!
//! - `canonical` (any kind): a Standard Webhooks style envelope
//!   `{"type", "timestamp" (RFC 3339 UTC), "data"}` with snake_case fields, money as
//!   decimal strings in yuan (`"12.50"`), times as RFC 3339 UTC:
//!   - `pos.transaction.created`: `{external_id, kind: sale|refund|void,
//!     sale_external_id (null for a sale), store_code, occurred_at, customer_external_id
//!     (or null), payment_method, currency: "CNY", lines: [{sku, name, quantity,
//!     unit_price, discount}], total}`; `total = Σ (quantity × unit_price − discount)`;
//!   - `member.updated`: `{external_id, version (1 at creation), name, mobile, level:
//!     bronze|silver|gold|platinum, points, balance, updated_at}`;
//!   - `supplier_order.updated`: `{external_id, state: pending|confirmed|shipped|
//!     delivered|cancelled, occurred_at, lines: [{sku, name, quantity, unit_cost}],
//!     delivery: {warehouse, address, contact, mobile, expected_date (YYYY-MM-DD)},
//!     state_times: {state: RFC 3339}}`.
//! - `pos_cents` (POS): `{"eventType": "SALE"|"REFUND"|"VOID", "order": {orderNo,
//!   refOrderNo (or null), storeCode, paidAt (Unix seconds), payment: {method:
//!   WECHAT_PAY|ALIPAY|BANK_CARD|CASH}, member: {memberNo} (or null), items: [{sku,
//!   title, qty, price (fen, per unit), discount (fen, whole line)}], totalCents,
//!   currency}}`.
//! - `member_flat` (member): `{"memberNo", "fullName", "phone" (`138-0013-8000`),
//!   "tier": BRONZE|SILVER|GOLD|PLATINUM, "points", "balanceCents", "updatedAt" (RFC 3339
//!   with `+08:00` and milliseconds; the only ordering a receiver gets: no version)}`.
//! - `supplier_edi` (supplier): `{"messageType": "PO_STATUS", "poNumber", "status":
//!   PEND|CONF|SHIP|DLVD|CANC, "statusTime" (ms since the epoch), "lines": [{itemCode,
//!   description, orderedQty, unitCostCents}], "shipTo": {site, street, attention,
//!   phone}, "promisedDate" (YYYYMMDD)}`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::{Event, Kind, Level, Member, PoState, PurchaseOrder, Transaction, TxKind};
use crate::clock::{DAY_MS, civil_from_days};
use crate::money::Money;

/// A payload shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Shape {
    /// The hub's canonical schema (any kind).
    Canonical,
    /// A POS's own shape: nested order, amounts in fen.
    PosCents,
    /// A member system's own shape: flat, camelCase, ordered by `updatedAt` only.
    MemberFlat,
    /// A supplier's EDI-like shape: status codes, times in ms.
    SupplierEdi,
}

impl Shape {
    /// Whether a system of `kind` may send this shape.
    pub(crate) fn fits(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Shape::Canonical, _)
                | (Shape::PosCents, Kind::Pos)
                | (Shape::MemberFlat, Kind::Member)
                | (Shape::SupplierEdi, Kind::Supplier)
        )
    }

    /// The payload of an event in this shape, produced at `now` (ms since the epoch).
    pub(crate) fn render(self, event: &Event, now: i64) -> Value {
        match (self, event) {
            (Shape::PosCents, Event::Pos(t)) => pos_cents(t),
            (Shape::MemberFlat, Event::Member(m)) => member_flat(m),
            (Shape::SupplierEdi, Event::Supplier(o)) => supplier_edi(o),
            (_, e) => canonical(e, now),
        }
    }
}

/// `2026-12-02T06:00:00.123Z`, or with `offset_minutes` ≠ 0 `…+08:00` local time.
pub(crate) fn rfc3339(ms: i64, offset_minutes: i64) -> String {
    let local = ms + offset_minutes * 60_000;
    let (y, mo, d) = civil_from_days(local.div_euclid(DAY_MS));
    let t = local.rem_euclid(DAY_MS);
    let (h, mi, s, milli) = (t / 3_600_000, t / 60_000 % 60, t / 1000 % 60, t % 1000);
    let zone = if offset_minutes == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let o = offset_minutes.abs();
        format!("{sign}{:02}:{:02}", o / 60, o % 60)
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}{zone}")
}

fn yuan(m: Money) -> String {
    m.to_string()
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Bronze => "bronze",
        Level::Silver => "silver",
        Level::Gold => "gold",
        Level::Platinum => "platinum",
    }
}

fn tx_kind(k: TxKind) -> &'static str {
    match k {
        TxKind::Sale => "sale",
        TxKind::Refund => "refund",
        TxKind::Void => "void",
    }
}

/// The canonical envelope and data of an event.
pub(crate) fn canonical(event: &Event, now: i64) -> Value {
    let (kind, data) = match event {
        Event::Pos(t) => (
            "pos.transaction.created",
            json!({
                "external_id": t.external_id,
                "kind": tx_kind(t.kind),
                "sale_external_id": t.sale_id,
                "store_code": t.store,
                "occurred_at": rfc3339(t.at_ms, 0),
                "customer_external_id": t.customer,
                "payment_method": t.payment_method,
                "currency": "CNY",
                "lines": t.lines.iter().map(|l| json!({
                    "sku": l.sku,
                    "name": l.name,
                    "quantity": l.quantity,
                    "unit_price": yuan(l.unit_price),
                    "discount": yuan(l.discount),
                })).collect::<Vec<_>>(),
                "total": yuan(t.total),
            }),
        ),
        Event::Member(m) => (
            "member.updated",
            json!({
                "external_id": m.external_id,
                "version": m.version,
                "name": m.name,
                "mobile": m.mobile,
                "level": level(m.level),
                "points": m.points,
                "balance": yuan(m.balance),
                "updated_at": rfc3339(m.updated_at_ms, 0),
            }),
        ),
        Event::Supplier(o) => {
            let times: serde_json::Map<String, Value> = o
                .times
                .iter()
                .map(|(s, at)| (s.name().to_owned(), rfc3339(*at, 0).into()))
                .collect();
            (
                "supplier_order.updated",
                json!({
                    "external_id": o.external_id,
                    "state": o.state.name(),
                    "occurred_at": rfc3339(o.times.last().map_or(now, |t| t.1), 0),
                    "lines": o.lines.iter().map(|l| json!({
                        "sku": l.sku,
                        "name": l.name,
                        "quantity": l.quantity,
                        "unit_cost": yuan(l.unit_cost),
                    })).collect::<Vec<_>>(),
                    "delivery": o.delivery,
                    "state_times": times,
                }),
            )
        }
    };
    json!({ "type": kind, "timestamp": rfc3339(now, 0), "data": data })
}

fn pos_cents(t: &Transaction) -> Value {
    let method = match t.payment_method {
        "wechat" => "WECHAT_PAY",
        "alipay" => "ALIPAY",
        "card" => "BANK_CARD",
        _ => "CASH",
    };
    json!({
        "eventType": tx_kind(t.kind).to_uppercase(),
        "order": {
            "orderNo": t.external_id,
            "refOrderNo": t.sale_id,
            "storeCode": t.store,
            "paidAt": t.at_ms.div_euclid(1000),
            "payment": { "method": method },
            "member": t.customer.as_ref().map(|c| json!({ "memberNo": c })),
            "items": t.lines.iter().map(|l| json!({
                "sku": l.sku,
                "title": l.name,
                "qty": l.quantity,
                "price": l.unit_price.0,
                "discount": l.discount.0,
            })).collect::<Vec<_>>(),
            "totalCents": t.total.0,
            "currency": "CNY",
        }
    })
}

fn member_flat(m: &Member) -> Value {
    let phone = if m.mobile.len() == 11 {
        format!("{}-{}-{}", &m.mobile[..3], &m.mobile[3..7], &m.mobile[7..])
    } else {
        m.mobile.clone()
    };
    json!({
        "memberNo": m.external_id,
        "fullName": m.name,
        "phone": phone,
        "tier": level(m.level).to_uppercase(),
        "points": m.points,
        "balanceCents": m.balance.0,
        "updatedAt": rfc3339(m.updated_at_ms, 8 * 60),
    })
}

fn supplier_edi(o: &PurchaseOrder) -> Value {
    let status = match o.state {
        PoState::Pending => "PEND",
        PoState::Confirmed => "CONF",
        PoState::Shipped => "SHIP",
        PoState::Delivered => "DLVD",
        PoState::Cancelled => "CANC",
    };
    json!({
        "messageType": "PO_STATUS",
        "poNumber": o.external_id,
        "status": status,
        "statusTime": o.times.last().map_or(0, |t| t.1),
        "lines": o.lines.iter().map(|l| json!({
            "itemCode": l.sku,
            "description": l.name,
            "orderedQty": l.quantity,
            "unitCostCents": l.unit_cost.0,
        })).collect::<Vec<_>>(),
        "shipTo": {
            "site": o.delivery.warehouse,
            "street": o.delivery.address,
            "attention": o.delivery.contact,
            "phone": o.delivery.mobile,
        },
        "promisedDate": o.delivery.expected_date.replace('-', ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::store::model::{Action, Book};

    #[test]
    fn rfc3339_in_utc_and_china_time() {
        assert_eq!(rfc3339(1_694_489_728_123, 0), "2023-09-12T03:35:28.123Z");
        assert_eq!(
            rfc3339(1_694_489_728_123, 480),
            "2023-09-12T11:35:28.123+08:00"
        );
    }

    #[test]
    fn each_shape_carries_the_same_facts() {
        let mut rng = Rng::new(1, 1);
        let mut book = Book::new(Kind::Pos);
        let e = book
            .produce(Action::Sale, "T", &mut rng, 1_000_000)
            .unwrap_or_else(|e| panic!("{e}"));
        let Event::Pos(t) = &e else { unreachable!() };
        let c = Shape::Canonical.render(&e, 2_000_000);
        assert_eq!(c["type"], "pos.transaction.created");
        assert_eq!(c["data"]["external_id"], t.external_id.as_str());
        assert_eq!(c["data"]["total"], t.total.to_string());
        let f = Shape::PosCents.render(&e, 2_000_000);
        assert_eq!(f["eventType"], "SALE");
        assert_eq!(f["order"]["totalCents"], t.total.0);
        let sum: i64 = f["order"]["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| {
                        i["qty"].as_i64().unwrap_or(0) * i["price"].as_i64().unwrap_or(0)
                            - i["discount"].as_i64().unwrap_or(0)
                    })
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(sum, t.total.0);
        assert!(!Shape::PosCents.fits(Kind::Member));
        assert!(Shape::Canonical.fits(Kind::Supplier));
    }
}
