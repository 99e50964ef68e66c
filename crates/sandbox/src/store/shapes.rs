//! The payload shapes the simulated store systems send, all in one place so that the
//! canonical one follows the hub's documented schema.
//!
//! A payload is the record itself, with no envelope: without a mapping the hub takes the
//! body as its canonical record; with one, JSONPath expressions pick each field out of
//! the system's own shape. So the foreign shapes differ from the canonical one in names
//! and nesting only, never in how a value is written (JSONPath selects, it does not
//! convert): money is a decimal string of yuan (`"12.50"`), a time is RFC 3339, an enum
//! value is the canonical word.
//!
//! - `canonical` (any kind), the hub's canonical records:
//!   - POS: `{external_id, kind: sale|refund|void, sale_external_id (refund, void),
//!     occurred_at, store, customer: {id} (or absent), payment_method, lines: [{sku,
//!     name, quantity, unit_price, discount}] (none for a void), total}`; `total = Σ
//!     (quantity × unit_price − discount)`, a void's total is its sale's;
//!   - member: `{external_id, version (1 at creation), updated_at, name, mobile, level,
//!     points, balance}`, the whole member every time;
//!   - supplier: `{"action": "create", external_id, kind: "purchase", lines: [{sku, name,
//!     quantity, unit_price}], total, delivery: {warehouse, address, contact, phone,
//!     expected_at}}` when an order is placed, then `{"action": "transition",
//!     external_id, to: confirmed|shipped|delivered|cancelled}` at each change.
//! - `pos_nested` (POS): `{"eventType": sale|refund|void, "order": {orderNo, refOrderNo
//!   (or null), storeCode, paidAt, payment: {method}, buyer: {id} (or null), items:
//!   [{sku, title, qty, price, discount}], amount}}`.
//! - `member_flat` (member): `{"memberNo", "fullName", "phone", "tier",
//!   "points", "balance", "updatedAt" (`+08:00`, milliseconds)}`: no version, only the
//!   time orders the updates.
//! - `supplier_edi` (supplier): `{"event": "create", "poNumber", "items": [{itemCode,
//!   description, orderedQty, unitCost}], "orderTotal", "shipTo": {site, street,
//!   attention, phone, promisedAt}}`, then `{"event": "transition", "poNumber",
//!   "status", "statusTime"}`. (`shipTo` has no counterpart a mapping can build: the
//!   canonical `delivery` is an object with other names.)
//!
//! [`Shape::mapping`] gives, for each foreign shape, the mapping in the hub's format
//! (`{"fields": {name: "$.path" | {"each", "fields"}}}`) that turns it into the
//! canonical record; the control API shows it with the system.

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
    /// A POS's own shape: an event around a nested order.
    PosNested,
    /// A member system's own shape: camelCase, ordered by `updatedAt` only.
    MemberFlat,
    /// A supplier's own shape: `event`, `poNumber`, `items`, `shipTo`.
    SupplierEdi,
}

impl Shape {
    /// Whether a system of `kind` may send this shape.
    pub(crate) fn fits(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Shape::Canonical, _)
                | (Shape::PosNested, Kind::Pos)
                | (Shape::MemberFlat, Kind::Member)
                | (Shape::SupplierEdi, Kind::Supplier)
        )
    }

    /// The JSONPath mapping, in the hub's format, that turns this shape into the
    /// canonical record; `None` for the canonical shape.
    pub(crate) fn mapping(self) -> Option<Value> {
        let fields = match self {
            Shape::Canonical => return None,
            Shape::PosNested => json!({
                "external_id": "$.order.orderNo",
                "kind": "$.eventType",
                "sale_external_id": "$.order.refOrderNo",
                "occurred_at": "$.order.paidAt",
                "store": "$.order.storeCode",
                "customer": "$.order.buyer",
                "payment_method": "$.order.payment.method",
                "lines": {
                    "each": "$.order.items[*]",
                    "fields": {
                        "sku": "$.sku",
                        "name": "$.title",
                        "quantity": "$.qty",
                        "unit_price": "$.price",
                        "discount": "$.discount",
                    },
                },
                "total": "$.order.amount",
            }),
            Shape::MemberFlat => json!({
                "external_id": "$.memberNo",
                "name": "$.fullName",
                "mobile": "$.phone",
                "level": "$.tier",
                "points": "$.points",
                "balance": "$.balance",
                "updated_at": "$.updatedAt",
            }),
            Shape::SupplierEdi => json!({
                "action": "$.event",
                "external_id": "$.poNumber",
                "to": "$.status",
                "lines": {
                    "each": "$.items[*]",
                    "fields": {
                        "sku": "$.itemCode",
                        "name": "$.description",
                        "quantity": "$.orderedQty",
                        "unit_price": "$.unitCost",
                    },
                },
                "total": "$.orderTotal",
            }),
        };
        Some(json!({ "fields": fields }))
    }

    /// The payload of an event in this shape.
    pub(crate) fn render(self, event: &Event) -> Value {
        match (self, event) {
            (Shape::PosNested, Event::Pos(t)) => pos_nested(t),
            (Shape::MemberFlat, Event::Member(m)) => member_flat(m),
            (Shape::SupplierEdi, Event::Supplier(o)) => supplier_edi(o),
            (_, e) => canonical(e),
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

/// Whether a purchase-order event is the order's creation (its first state).
fn is_creation(o: &PurchaseOrder) -> bool {
    o.state == PoState::Pending && o.times.len() == 1
}

fn po_total(o: &PurchaseOrder) -> Money {
    Money(
        o.lines
            .iter()
            .map(|l| i64::from(l.quantity) * l.unit_cost.0)
            .sum(),
    )
}

/// When goods are expected: the expected day (`YYYY-MM-DD`) at 18:00 China time.
fn expected_at(date: &str) -> String {
    format!("{date}T18:00:00+08:00")
}

/// The canonical record of an event.
pub(crate) fn canonical(event: &Event) -> Value {
    match event {
        Event::Pos(t) => {
            let mut v = json!({
                "external_id": t.external_id,
                "kind": tx_kind(t.kind),
                "occurred_at": rfc3339(t.at_ms, 0),
                "store": t.store,
                "payment_method": t.payment_method,
                "total": yuan(t.total),
            });
            if let Some(sale) = &t.sale_id {
                v["sale_external_id"] = sale.as_str().into();
            }
            if let Some(c) = &t.customer {
                v["customer"] = json!({ "id": c });
            }
            if t.kind != TxKind::Void {
                v["lines"] = t
                    .lines
                    .iter()
                    .map(|l| {
                        json!({
                            "sku": l.sku,
                            "name": l.name,
                            "quantity": l.quantity,
                            "unit_price": yuan(l.unit_price),
                            "discount": yuan(l.discount),
                        })
                    })
                    .collect();
            }
            v
        }
        Event::Member(m) => json!({
            "external_id": m.external_id,
            "version": m.version,
            "updated_at": rfc3339(m.updated_at_ms, 0),
            "name": m.name,
            "mobile": m.mobile,
            "level": level(m.level),
            "points": m.points,
            "balance": yuan(m.balance),
        }),
        Event::Supplier(o) if is_creation(o) => json!({
            "action": "create",
            "external_id": o.external_id,
            "kind": "purchase",
            "lines": o.lines.iter().map(|l| json!({
                "sku": l.sku,
                "name": l.name,
                "quantity": l.quantity,
                "unit_price": yuan(l.unit_cost),
            })).collect::<Vec<_>>(),
            "total": yuan(po_total(o)),
            "delivery": {
                "warehouse": o.delivery.warehouse,
                "address": o.delivery.address,
                "contact": o.delivery.contact,
                "phone": o.delivery.mobile,
                "expected_at": expected_at(&o.delivery.expected_date),
            },
        }),
        Event::Supplier(o) => json!({
            "action": "transition",
            "external_id": o.external_id,
            "to": o.state.name(),
        }),
    }
}

fn pos_nested(t: &Transaction) -> Value {
    json!({
        "eventType": tx_kind(t.kind),
        "order": {
            "orderNo": t.external_id,
            "refOrderNo": t.sale_id,
            "storeCode": t.store,
            "paidAt": rfc3339(t.at_ms, 8 * 60),
            "payment": { "method": t.payment_method },
            "buyer": t.customer.as_ref().map(|c| json!({ "id": c })),
            "items": if t.kind == TxKind::Void { Vec::new() } else {
                t.lines.iter().map(|l| json!({
                    "sku": l.sku,
                    "title": l.name,
                    "qty": l.quantity,
                    "price": yuan(l.unit_price),
                    "discount": yuan(l.discount),
                })).collect::<Vec<_>>()
            },
            "amount": yuan(t.total),
        }
    })
}

fn member_flat(m: &Member) -> Value {
    json!({
        "memberNo": m.external_id,
        "fullName": m.name,
        "phone": m.mobile,
        "tier": level(m.level),
        "points": m.points,
        "balance": yuan(m.balance),
        "updatedAt": rfc3339(m.updated_at_ms, 8 * 60),
    })
}

fn supplier_edi(o: &PurchaseOrder) -> Value {
    if is_creation(o) {
        return json!({
            "event": "create",
            "poNumber": o.external_id,
            "items": o.lines.iter().map(|l| json!({
                "itemCode": l.sku,
                "description": l.name,
                "orderedQty": l.quantity,
                "unitCost": yuan(l.unit_cost),
            })).collect::<Vec<_>>(),
            "orderTotal": yuan(po_total(o)),
            "shipTo": {
                "site": o.delivery.warehouse,
                "street": o.delivery.address,
                "attention": o.delivery.contact,
                "phone": o.delivery.mobile,
                "promisedAt": expected_at(&o.delivery.expected_date),
            },
        });
    }
    json!({
        "event": "transition",
        "poNumber": o.external_id,
        "status": o.state.name(),
        "statusTime": rfc3339(o.times.last().map_or(0, |t| t.1), 8 * 60),
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
        let c = Shape::Canonical.render(&e);
        assert_eq!(c["external_id"], t.external_id.as_str());
        assert_eq!(c["kind"], "sale");
        assert_eq!(c["total"], t.total.to_string());
        assert!(c.get("sale_external_id").is_none());
        let f = Shape::PosNested.render(&e);
        assert_eq!(f["eventType"], "sale");
        assert_eq!(f["order"]["amount"], t.total.to_string());
        assert_eq!(
            f["order"]["items"].as_array().map(Vec::len),
            c["lines"].as_array().map(Vec::len)
        );
        let v = book
            .produce(Action::Void, "T", &mut rng, 1_000_001)
            .unwrap_or_else(|e| panic!("{e}"));
        let c = Shape::Canonical.render(&v);
        assert_eq!(c["kind"], "void");
        assert_eq!(c["sale_external_id"], t.external_id.as_str());
        assert!(c.get("lines").is_none(), "a void has no lines");
        assert_eq!(c["total"], t.total.to_string());
        assert!(!Shape::PosNested.fits(Kind::Member));
        assert!(Shape::Canonical.fits(Kind::Supplier));
    }

    #[test]
    fn a_purchase_order_is_created_once_then_transitions() {
        let mut rng = Rng::new(2, 1);
        let mut book = Book::new(Kind::Supplier);
        let created = book
            .produce(Action::Create, "T", &mut rng, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let c = Shape::Canonical.render(&created);
        assert_eq!(c["action"], "create");
        assert!(c.get("to").is_none() && c.get("state").is_none());
        let moved = book
            .produce(Action::Advance, "T", &mut rng, 2)
            .unwrap_or_else(|e| panic!("{e}"));
        let c = Shape::Canonical.render(&moved);
        assert_eq!(
            c,
            json!({"action": "transition", "external_id": c["external_id"], "to": "confirmed"})
        );
        assert_eq!(Shape::SupplierEdi.render(&moved)["status"], "confirmed");
    }

    /// A tiny evaluator of the mappings' subset of JSONPath (`$.a.b`, `$.a[*]`).
    fn select<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
        let mut at = vec![v];
        for step in path
            .trim_start_matches('$')
            .split('.')
            .filter(|s| !s.is_empty())
        {
            let (name, all) = match step.strip_suffix("[*]") {
                Some(n) => (n, true),
                None => (step, false),
            };
            at = at
                .into_iter()
                .filter_map(|x| x.get(name))
                .flat_map(|x| match (all, x.as_array()) {
                    (true, Some(items)) => items.iter().collect(),
                    _ => vec![x],
                })
                .collect();
        }
        at
    }

    fn apply(fields: &Value, payload: &Value) -> Value {
        let mut out = serde_json::Map::new();
        for (name, rule) in fields.as_object().into_iter().flatten() {
            match rule {
                Value::String(path) => {
                    if let Some(v) = select(payload, path).first() {
                        out.insert(name.clone(), (*v).clone());
                    }
                }
                r => {
                    let each = select(payload, r["each"].as_str().unwrap_or_default());
                    let items = each.iter().map(|i| apply(&r["fields"], i)).collect();
                    out.insert(name.clone(), Value::Array(items));
                }
            }
        }
        Value::Object(out)
    }

    #[test]
    fn each_foreign_shape_maps_to_its_canonical_record() {
        for (kind, shape) in [
            (Kind::Pos, Shape::PosNested),
            (Kind::Member, Shape::MemberFlat),
            (Kind::Supplier, Shape::SupplierEdi),
        ] {
            let mut rng = Rng::new(4, 1);
            let mut book = Book::new(kind);
            let mapping = shape.mapping().unwrap_or_else(|| panic!("{shape:?}"));
            for i in 0..300 {
                let e = book
                    .produce(Action::Any, "T", &mut rng, 1_700_000_000_000 + i)
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut mapped = apply(&mapping["fields"], &shape.render(&e));
                let mut expected = canonical(&e);
                // Fields the foreign shape has no counterpart for, and nulls it writes
                // where the canonical record leaves a field out.
                for v in [&mut mapped, &mut expected] {
                    if let Some(m) = v.as_object_mut() {
                        m.retain(|_, x| !x.is_null());
                        for gone in ["version", "kind", "delivery"] {
                            if kind != Kind::Pos || gone != "kind" {
                                m.remove(gone);
                            }
                        }
                        if m.get("lines") == Some(&json!([])) {
                            m.remove("lines");
                        }
                    }
                }
                // Foreign times are China time: the same instant, written `+08:00`.
                for key in ["occurred_at", "updated_at"] {
                    if let (Some(local), Some(utc)) = (mapped[key].as_str(), expected[key].as_str())
                    {
                        assert!(local.ends_with("+08:00") && utc.ends_with('Z'));
                        mapped[key] = expected[key].clone();
                    }
                }
                assert_eq!(mapped, expected, "{shape:?} {}", e.type_name());
            }
        }
        assert!(Shape::Canonical.mapping().is_none());
    }
}
