//! The state of the simulated store systems and the events they produce: a POS that
//! sells, refunds and voids; a member system whose members change with increasing
//! versions; a supplier whose purchase orders move along
//! `pending → confirmed → shipped → delivered` or end `cancelled`. Synchronous; the
//! caller renders each [`Event`] in a payload shape and delivers it.

use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::rng::Rng;

/// What a simulated system is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A point-of-sale system: sales, refunds, voids.
    Pos,
    /// A member system: members created and updated.
    Member,
    /// A supplier sending purchase-order updates.
    Supplier,
}

/// What the control API may ask a system to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    /// A realistic mix for the system's kind.
    Any,
    /// POS: a new sale.
    Sale,
    /// POS: a refund of part of a sale that has something left.
    Refund,
    /// POS: a void of a sale with no refund.
    Void,
    /// Member: a new member (version 1).
    Create,
    /// Member: a change to an existing member (next version).
    Update,
    /// Supplier: a purchase order moves one step on (`pending → confirmed → shipped →
    /// delivered`).
    Advance,
    /// Supplier: a pending or confirmed purchase order is cancelled.
    Cancel,
}

impl Action {
    /// Whether a system of `kind` can produce this.
    pub(crate) fn fits(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Action::Any, _)
                | (Action::Sale | Action::Refund | Action::Void, Kind::Pos)
                | (Action::Create | Action::Update, Kind::Member)
                | (
                    Action::Create | Action::Advance | Action::Cancel,
                    Kind::Supplier
                )
        )
    }
}

/// Why an event could not be produced (nothing to refund, void, update, advance…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nothing to {0}: no record is in a state that allows it")]
pub(crate) struct Nothing(pub(crate) &'static str);

/// A sold (or refunded, or voided) line. Amounts in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) sku: String,
    pub(crate) name: String,
    pub(crate) quantity: u32,
    pub(crate) unit_price: Money,
    /// The discount on the whole line.
    pub(crate) discount: Money,
}

impl Line {
    /// `quantity × unit_price − discount`.
    pub(crate) fn total(&self) -> Money {
        Money(i64::from(self.quantity) * self.unit_price.0 - self.discount.0)
    }
}

/// What a POS transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TxKind {
    /// A sale.
    Sale,
    /// A partial or full refund of a sale.
    Refund,
    /// The cancellation of a whole sale that has no refund.
    Void,
}

/// A POS transaction as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transaction {
    pub(crate) kind: TxKind,
    pub(crate) external_id: String,
    /// The sale a refund or void names.
    pub(crate) sale_id: Option<String>,
    pub(crate) store: String,
    /// The member's external id, when the customer is a member.
    pub(crate) customer: Option<String>,
    pub(crate) payment_method: &'static str,
    pub(crate) lines: Vec<Line>,
    pub(crate) total: Money,
    pub(crate) at_ms: i64,
}

/// A sale and what is left of it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sale {
    pub(crate) external_id: String,
    pub(crate) total: Money,
    pub(crate) refunded: Money,
    pub(crate) remaining: Money,
    pub(crate) voided: bool,
    /// The refund ids, in order.
    pub(crate) refunds: Vec<String>,
    pub(crate) void_id: Option<String>,
    #[serde(skip)]
    pub(crate) tx: Transaction,
    /// Per line: quantity and amount refunded so far.
    #[serde(skip)]
    refunded_lines: Vec<(u32, Money)>,
}

/// Member levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Level {
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl Level {
    fn up(self) -> Level {
        match self {
            Level::Bronze => Level::Silver,
            Level::Silver => Level::Gold,
            Level::Gold | Level::Platinum => Level::Platinum,
        }
    }
}

/// A member at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Member {
    pub(crate) external_id: String,
    /// 1 at creation, one more at each change.
    pub(crate) version: u64,
    pub(crate) name: String,
    pub(crate) mobile: String,
    pub(crate) level: Level,
    pub(crate) points: u64,
    pub(crate) balance: Money,
    /// When this version was made, in ms since the epoch; strictly increasing per member.
    pub(crate) updated_at_ms: i64,
}

/// A purchase order's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PoState {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl PoState {
    /// The state the normal path leads to next.
    fn next(self) -> Option<PoState> {
        match self {
            PoState::Pending => Some(PoState::Confirmed),
            PoState::Confirmed => Some(PoState::Shipped),
            PoState::Shipped => Some(PoState::Delivered),
            PoState::Delivered | PoState::Cancelled => None,
        }
    }

    fn cancellable(self) -> bool {
        matches!(self, PoState::Pending | PoState::Confirmed)
    }

    /// The name as written in payloads.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PoState::Pending => "pending",
            PoState::Confirmed => "confirmed",
            PoState::Shipped => "shipped",
            PoState::Delivered => "delivered",
            PoState::Cancelled => "cancelled",
        }
    }
}

/// A purchase-order line. `unit_cost` in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PoLine {
    pub(crate) sku: String,
    pub(crate) name: String,
    pub(crate) quantity: u32,
    pub(crate) unit_cost: Money,
}

/// Where a purchase order goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DeliveryInfo {
    pub(crate) warehouse: String,
    pub(crate) address: String,
    pub(crate) contact: String,
    pub(crate) mobile: String,
    /// `YYYY-MM-DD`.
    pub(crate) expected_date: String,
}

/// A purchase order now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PurchaseOrder {
    pub(crate) external_id: String,
    pub(crate) state: PoState,
    pub(crate) lines: Vec<PoLine>,
    pub(crate) delivery: DeliveryInfo,
    /// Each state reached and when (ms since the epoch), in order.
    pub(crate) times: Vec<(PoState, i64)>,
}

/// One produced event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A POS transaction.
    Pos(Transaction),
    /// A member's new version.
    Member(Member),
    /// A purchase order after its change.
    Supplier(PurchaseOrder),
}

impl Event {
    /// The sandbox's name of the event, as deliveries are recorded: `pos.sale`,
    /// `pos.refund`, `pos.void`, `member.created`, `member.updated`,
    /// `supplier_order.pending|confirmed|shipped|delivered|cancelled`.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Event::Pos(t) => match t.kind {
                TxKind::Sale => "pos.sale",
                TxKind::Refund => "pos.refund",
                TxKind::Void => "pos.void",
            },
            Event::Member(m) if m.version == 1 => "member.created",
            Event::Member(_) => "member.updated",
            Event::Supplier(o) => match o.state {
                PoState::Pending => "supplier_order.pending",
                PoState::Confirmed => "supplier_order.confirmed",
                PoState::Shipped => "supplier_order.shipped",
                PoState::Delivered => "supplier_order.delivered",
                PoState::Cancelled => "supplier_order.cancelled",
            },
        }
    }
}

const PRODUCTS: [(&str, &str, i64); 10] = [
    ("GA0SZC00U", "海尔冰箱 BCD-470WGHTDE9S9U1", 599_900),
    ("GB0WM7C1K", "海尔滚筒洗衣机 EG100MATE28S", 329_900),
    ("GC0AC2M9P", "海尔空调 KFR-35GW/B1KBB81U1", 289_900),
    ("GD0TV5E3R", "海尔电视 LU65C61", 369_900),
    ("GE0WH1F7Q", "海尔电热水器 EC6002-PD3(U1)", 149_900),
    ("GF0DW8B2L", "海尔洗碗机 EYW13028D", 399_900),
    ("GG0MW4K6T", "海尔微波炉 MZK-2380EGCZ", 49_900),
    ("GH0RH3D5N", "海尔油烟机 CXW-219-E900C2", 259_900),
    ("GJ0AP9H1V", "海尔空气净化器 KJ500F-HY01", 129_900),
    ("GK0FS6J8W", "海尔冷柜 BC/BD-200GHPT", 109_900),
];
const STORES: [&str; 4] = ["SH-PD-001", "SH-XH-002", "BJ-CY-003", "QD-SN-004"];
const PAYMENTS: [&str; 4] = ["wechat", "alipay", "card", "cash"];
const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳"];
const WAREHOUSES: [(&str, &str); 3] = [
    ("WH-SH-01", "上海市浦东新区川沙路 1688 号"),
    ("WH-BJ-02", "北京市朝阳区东坝中路 38 号"),
    ("WH-QD-03", "青岛市崂山区海尔路 1 号"),
];

fn mobile(rng: &mut Rng) -> String {
    let prefix = rng.pick(&["138", "139", "150", "186", "177"]);
    format!("{prefix}{:08}", rng.below(100_000_000))
}

/// The POS's sales and what has happened to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PosBook {
    pub(crate) sales: Vec<Sale>,
    seq: u64,
}

impl PosBook {
    fn sale(&mut self, tag: &str, rng: &mut Rng, now: i64) -> Transaction {
        self.seq += 1;
        let n = rng.range(1, 3) as usize;
        let mut lines: Vec<Line> = Vec::with_capacity(n);
        for _ in 0..n {
            let (sku, name, price) = *rng.pick(&PRODUCTS);
            if lines.iter().any(|l| l.sku == sku) {
                continue;
            }
            let quantity = rng.range(1, 4) as u32;
            let discount = if rng.chance(300) {
                Money(i64::from(quantity) * rng.range(1, 20) as i64 * 100)
            } else {
                Money(0)
            };
            lines.push(Line {
                sku: sku.to_owned(),
                name: name.to_owned(),
                quantity,
                unit_price: Money(price),
                discount,
            });
        }
        let total = Money(lines.iter().map(|l| l.total().0).sum());
        let tx = Transaction {
            kind: TxKind::Sale,
            external_id: format!("{tag}-S{:06}", self.seq),
            sale_id: None,
            store: (*rng.pick(&STORES)).to_owned(),
            customer: rng
                .chance(600)
                .then(|| format!("{tag}-M{:05}", rng.range(1, 500))),
            payment_method: PAYMENTS[rng.below(PAYMENTS.len() as u64) as usize],
            lines,
            total,
            at_ms: now,
        };
        self.sales.push(Sale {
            external_id: tx.external_id.clone(),
            total,
            refunded: Money(0),
            remaining: total,
            voided: false,
            refunds: Vec::new(),
            void_id: None,
            refunded_lines: vec![(0, Money(0)); tx.lines.len()],
            tx: tx.clone(),
        });
        tx
    }

    /// A refund of part of a sale that has something left: one or more lines, each for
    /// at most its units not yet refunded, each for at most its amount not yet refunded.
    fn refund(&mut self, tag: &str, rng: &mut Rng, now: i64) -> Result<Transaction, Nothing> {
        let open: Vec<usize> = (0..self.sales.len())
            .filter(|&i| !self.sales[i].voided && self.sales[i].remaining.0 > 0)
            .collect();
        if open.is_empty() {
            return Err(Nothing("refund"));
        }
        let i = *rng.pick(&open);
        self.seq += 1;
        let sale = &mut self.sales[i];
        let mut lines = Vec::new();
        for (l, line) in sale.tx.lines.iter().enumerate() {
            let (done_qty, done_amt) = sale.refunded_lines[l];
            let left_qty = line.quantity - done_qty;
            if left_qty == 0 || (!lines.is_empty() && rng.chance(500)) {
                continue;
            }
            let qty = rng.range(1, u64::from(left_qty)) as u32;
            let amount = if qty == left_qty {
                Money(line.total().0 - done_amt.0)
            } else {
                Money(line.total().0 * i64::from(qty) / i64::from(line.quantity))
            };
            sale.refunded_lines[l] = (done_qty + qty, Money(done_amt.0 + amount.0));
            lines.push(Line {
                sku: line.sku.clone(),
                name: line.name.clone(),
                quantity: qty,
                unit_price: line.unit_price,
                discount: Money(i64::from(qty) * line.unit_price.0 - amount.0),
            });
        }
        let total = Money(lines.iter().map(|l| l.total().0).sum());
        sale.refunded = Money(sale.refunded.0 + total.0);
        sale.remaining = Money(sale.total.0 - sale.refunded.0);
        let tx = Transaction {
            kind: TxKind::Refund,
            external_id: format!("{tag}-R{:06}", self.seq),
            sale_id: Some(sale.external_id.clone()),
            store: sale.tx.store.clone(),
            customer: sale.tx.customer.clone(),
            payment_method: sale.tx.payment_method,
            lines,
            total,
            at_ms: now,
        };
        sale.refunds.push(tx.external_id.clone());
        Ok(tx)
    }

    /// A void of a whole sale that has had no refund and no void.
    fn void(&mut self, tag: &str, rng: &mut Rng, now: i64) -> Result<Transaction, Nothing> {
        let open: Vec<usize> = (0..self.sales.len())
            .filter(|&i| !self.sales[i].voided && self.sales[i].refunded.0 == 0)
            .collect();
        if open.is_empty() {
            return Err(Nothing("void"));
        }
        let i = *rng.pick(&open);
        self.seq += 1;
        let sale = &mut self.sales[i];
        sale.voided = true;
        sale.remaining = Money(0);
        let tx = Transaction {
            kind: TxKind::Void,
            external_id: format!("{tag}-V{:06}", self.seq),
            sale_id: Some(sale.external_id.clone()),
            lines: sale.tx.lines.clone(),
            total: sale.total,
            at_ms: now,
            ..sale.tx.clone()
        };
        sale.void_id = Some(tx.external_id.clone());
        Ok(tx)
    }
}

/// The member system's members at their newest versions.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberBook {
    pub(crate) members: Vec<Member>,
    seq: u64,
}

impl MemberBook {
    fn create(&mut self, tag: &str, rng: &mut Rng, now: i64) -> Member {
        self.seq += 1;
        let m = Member {
            external_id: format!("{tag}-M{:05}", self.seq),
            version: 1,
            name: format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN)),
            mobile: mobile(rng),
            level: Level::Bronze,
            points: rng.range(0, 500),
            balance: Money(rng.range(0, 200) as i64 * 100),
            updated_at_ms: now,
        };
        self.members.push(m.clone());
        m
    }

    fn update(&mut self, rng: &mut Rng, now: i64) -> Result<Member, Nothing> {
        if self.members.is_empty() {
            return Err(Nothing("update"));
        }
        let i = rng.below(self.members.len() as u64) as usize;
        let m = &mut self.members[i];
        m.version += 1;
        m.updated_at_ms = now.max(m.updated_at_ms + 1);
        match rng.below(6) {
            0 => {
                m.name = format!(
                    "{}{}{}",
                    rng.pick(&SURNAMES),
                    rng.pick(&GIVEN),
                    rng.pick(&GIVEN)
                )
            }
            1 => m.mobile = mobile(rng),
            2 => m.level = m.level.up(),
            3 => m.balance = Money(m.balance.0 + rng.range(1, 100) as i64 * 100),
            4 => m.balance = Money((m.balance.0 - rng.range(1, 50) as i64 * 100).max(0)),
            _ => {}
        }
        // Every change moves the points, so no two versions have the same content.
        m.points += rng.range(1, 300);
        Ok(m.clone())
    }
}

/// The supplier's purchase orders.
#[derive(Debug, Clone, Default)]
pub(crate) struct SupplierBook {
    pub(crate) orders: Vec<PurchaseOrder>,
    seq: u64,
}

fn date(ms: i64) -> String {
    let (y, m, d) = crate::clock::civil_from_days(ms.div_euclid(crate::clock::DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

impl SupplierBook {
    fn create(&mut self, tag: &str, rng: &mut Rng, now: i64) -> PurchaseOrder {
        self.seq += 1;
        let n = rng.range(1, 4) as usize;
        let mut lines: Vec<PoLine> = Vec::new();
        for _ in 0..n {
            let (sku, name, price) = *rng.pick(&PRODUCTS);
            if lines.iter().any(|l| l.sku == sku) {
                continue;
            }
            lines.push(PoLine {
                sku: sku.to_owned(),
                name: name.to_owned(),
                quantity: rng.range(5, 60) as u32,
                unit_cost: Money(price * 72 / 100),
            });
        }
        let (warehouse, address) = *rng.pick(&WAREHOUSES);
        let o = PurchaseOrder {
            external_id: format!("{tag}-PO{:06}", self.seq),
            state: PoState::Pending,
            lines,
            delivery: DeliveryInfo {
                warehouse: warehouse.to_owned(),
                address: address.to_owned(),
                contact: format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN)),
                mobile: mobile(rng),
                expected_date: date(now + rng.range(3, 14) as i64 * crate::clock::DAY_MS),
            },
            times: vec![(PoState::Pending, now)],
        };
        self.orders.push(o.clone());
        o
    }

    fn change(&mut self, rng: &mut Rng, now: i64, cancel: bool) -> Result<PurchaseOrder, Nothing> {
        let open: Vec<usize> = (0..self.orders.len())
            .filter(|&i| {
                let s = self.orders[i].state;
                if cancel {
                    s.cancellable()
                } else {
                    s.next().is_some()
                }
            })
            .collect();
        if open.is_empty() {
            return Err(Nothing(if cancel { "cancel" } else { "advance" }));
        }
        let o = &mut self.orders[*rng.pick(&open)];
        let to = if cancel {
            PoState::Cancelled
        } else {
            o.state.next().ok_or(Nothing("advance"))?
        };
        let at = now.max(o.times.last().map_or(now, |t| t.1 + 1));
        o.state = to;
        o.times.push((to, at));
        Ok(o.clone())
    }
}

/// A system's records: the sandbox's truth of what the hub should end with.
#[derive(Debug, Clone)]
pub(crate) enum Book {
    Pos(PosBook),
    Member(MemberBook),
    Supplier(SupplierBook),
}

impl Book {
    /// An empty book for a kind.
    pub(crate) fn new(kind: Kind) -> Book {
        match kind {
            Kind::Pos => Book::Pos(PosBook::default()),
            Kind::Member => Book::Member(MemberBook::default()),
            Kind::Supplier => Book::Supplier(SupplierBook::default()),
        }
    }

    /// Produces one event; `tag` prefixes external ids, `now` is ms since the epoch.
    ///
    /// # Errors
    /// [`Nothing`] when the action asked for has no record to act on.
    pub(crate) fn produce(
        &mut self,
        action: Action,
        tag: &str,
        rng: &mut Rng,
        now: i64,
    ) -> Result<Event, Nothing> {
        match self {
            Book::Pos(b) => {
                let action = match action {
                    Action::Any => match rng.weighted(&[6, 3, 1]) {
                        1 if b.refund_possible() => Action::Refund,
                        2 if b.void_possible() => Action::Void,
                        _ => Action::Sale,
                    },
                    a => a,
                };
                match action {
                    Action::Refund => b.refund(tag, rng, now).map(Event::Pos),
                    Action::Void => b.void(tag, rng, now).map(Event::Pos),
                    _ => Ok(Event::Pos(b.sale(tag, rng, now))),
                }
            }
            Book::Member(b) => {
                let create = match action {
                    Action::Any => b.members.len() < 5 || rng.chance(250),
                    a => a == Action::Create,
                };
                if create {
                    Ok(Event::Member(b.create(tag, rng, now)))
                } else {
                    b.update(rng, now).map(Event::Member)
                }
            }
            Book::Supplier(b) => {
                let action = match action {
                    Action::Any if b.orders.iter().all(|o| o.state.next().is_none()) => {
                        Action::Create
                    }
                    Action::Any => match rng.weighted(&[35, 55, 10]) {
                        0 => Action::Create,
                        2 if b.orders.iter().any(|o| o.state.cancellable()) => Action::Cancel,
                        _ => Action::Advance,
                    },
                    a => a,
                };
                match action {
                    Action::Create => Ok(Event::Supplier(b.create(tag, rng, now))),
                    Action::Cancel => b.change(rng, now, true).map(Event::Supplier),
                    _ => b.change(rng, now, false).map(Event::Supplier),
                }
            }
        }
    }
}

impl PosBook {
    fn refund_possible(&self) -> bool {
        self.sales.iter().any(|s| !s.voided && s.remaining.0 > 0)
    }

    fn void_possible(&self) -> bool {
        self.sales.iter().any(|s| !s.voided && s.refunded.0 == 0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn refunds_never_exceed_what_a_sale_has_left_and_voids_need_no_refund() {
        let mut rng = Rng::new(5, 1);
        let mut book = Book::new(Kind::Pos);
        let mut refunded: HashMap<String, i64> = HashMap::new();
        for i in 0..3000 {
            let action = if i % 3 == 0 {
                Action::Sale
            } else {
                Action::Any
            };
            let Ok(Event::Pos(tx)) = book.produce(action, "T", &mut rng, 1_000 + i) else {
                continue;
            };
            assert!(tx.total.0 >= 0);
            assert!(tx.lines.iter().all(|l| l.quantity > 0 && l.discount.0 >= 0));
            if let Some(sale) = &tx.sale_id {
                *refunded.entry(sale.clone()).or_default() += tx.total.0;
            }
        }
        let Book::Pos(b) = &book else { unreachable!() };
        assert!(b.sales.iter().any(|s| s.remaining.0 == 0 && !s.voided));
        assert!(b.sales.iter().any(|s| s.voided));
        for s in &b.sales {
            let done = refunded.get(&s.external_id).copied().unwrap_or(0);
            if s.voided {
                assert!(s.refunds.is_empty());
                assert_eq!(done, s.total.0, "a void returns the whole sale");
            } else {
                assert_eq!(done, s.refunded.0);
                assert!(
                    done <= s.total.0,
                    "{} refunded {done} of {}",
                    s.external_id,
                    s.total.0
                );
                assert_eq!(s.remaining.0, s.total.0 - done);
            }
        }
    }

    #[test]
    fn members_get_increasing_versions_and_times() {
        let mut rng = Rng::new(9, 1);
        let mut book = Book::new(Kind::Member);
        let mut last: HashMap<String, (u64, i64)> = HashMap::new();
        for _ in 0..500 {
            // A clock that stands still: times must still increase per member.
            let Ok(Event::Member(m)) = book.produce(Action::Any, "T", &mut rng, 5_000) else {
                panic!("a member system can always produce")
            };
            if let Some((v, t)) = last.get(&m.external_id) {
                assert_eq!(m.version, v + 1);
                assert!(m.updated_at_ms > *t);
            } else {
                assert_eq!(m.version, 1);
            }
            last.insert(m.external_id.clone(), (m.version, m.updated_at_ms));
        }
        assert!(
            Book::new(Kind::Member)
                .produce(Action::Update, "T", &mut rng, 1)
                .is_err()
        );
    }

    #[test]
    fn purchase_orders_move_only_along_the_allowed_paths() {
        let mut rng = Rng::new(3, 1);
        let mut book = Book::new(Kind::Supplier);
        for _ in 0..400 {
            book.produce(Action::Any, "T", &mut rng, 1)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let Book::Supplier(b) = &book else {
            unreachable!()
        };
        assert!(b.orders.iter().any(|o| o.state == PoState::Delivered));
        assert!(b.orders.iter().any(|o| o.state == PoState::Cancelled));
        for o in &b.orders {
            let states: Vec<PoState> = o.times.iter().map(|t| t.0).collect();
            let allowed = [
                PoState::Pending,
                PoState::Confirmed,
                PoState::Shipped,
                PoState::Delivered,
            ];
            let path_len = states
                .iter()
                .take_while(|s| **s != PoState::Cancelled)
                .count();
            assert_eq!(states[..path_len], allowed[..path_len]);
            if path_len < states.len() {
                assert_eq!(states.len(), path_len + 1, "cancelled is final");
                assert!(
                    path_len <= 2,
                    "only pending or confirmed orders are cancelled"
                );
            }
        }
    }
}
