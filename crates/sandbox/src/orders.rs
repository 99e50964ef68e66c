//! The YLH order book: every order received through Y1, its life (decision, shipping,
//! delivery, cancellation) and the callbacks that life produces.
//!
//! An order moves one step at a time. Each order has at most one pending step, tagged
//! with a generation number; the scheduler fires it when it is due, and
//! `/_sandbox/orders/{soId}/advance` fires it at once (the scheduled firing then finds a
//! newer generation and does nothing). Everything here is synchronous and runs under
//! the book's lock; sending the callbacks happens elsewhere, on spawned tasks.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::ChinaTime;
use crate::money::Money;
use crate::rng::Rng;

/// A callback method (`Method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallbackMethod {
    /// `hmm.scm_heorder.confirm`.
    Confirm,
    /// `hmm.scm_heorder.cancel`: the result of a cancel request, or a rejection.
    Cancel,
    /// `hmm.scm_heorder.oostock`.
    OutOfStock,
}

impl CallbackMethod {
    /// Every method, in stats order.
    pub(crate) const ALL: [CallbackMethod; 3] = [
        CallbackMethod::Confirm,
        CallbackMethod::Cancel,
        CallbackMethod::OutOfStock,
    ];

    /// The `Method` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CallbackMethod::Confirm => "hmm.scm_heorder.confirm",
            CallbackMethod::Cancel => "hmm.scm_heorder.cancel",
            CallbackMethod::OutOfStock => "hmm.scm_heorder.oostock",
        }
    }

    /// The position in [`CallbackMethod::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Accepted by Y1; the decision is pending.
    Received,
    /// Confirmed by Haier.
    Confirmed,
    /// Rejected by Haier (a `cancel` callback nobody asked for).
    Rejected,
    /// Refused as out of stock.
    OutOfStock,
    /// On its way.
    Shipped,
    /// Signed for.
    Delivered,
    /// A cancel request awaits its result.
    CancelRequested,
    /// Cancelled on request.
    Cancelled,
    /// Some lines were intercepted, the rest go on.
    PartiallyCancelled,
    /// The cancel request came too late; the goods go on.
    CancelFailed,
}

impl Status {
    /// Whether nothing can happen to the order any more (logistics aside).
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            Status::Rejected | Status::OutOfStock | Status::Cancelled
        )
    }
}

/// Where the goods are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stage {
    /// Still in the warehouse.
    NotShipped,
    /// Handed to the carrier.
    Shipped,
    /// Signed for.
    Delivered,
}

/// One order line, as received, with how much of it was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Item {
    /// `productCode`.
    pub(crate) product_code: String,
    /// `itemQty`.
    pub(crate) item_qty: u32,
    /// `retailPrice` (per unit).
    pub(crate) retail_price: Money,
    /// `discountAmount` (per unit).
    pub(crate) discount_amount: Money,
    /// `actualPrice` (per unit).
    pub(crate) actual_price: Money,
    /// `isGift`.
    pub(crate) is_gift: bool,
    /// Units intercepted by a cancel.
    pub(crate) cancelled_qty: u32,
}

/// A validated Y1 order, before it gets its number.
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    /// `soId`.
    pub(crate) so_id: String,
    /// `onlineNo`: the platform (our) order number.
    pub(crate) online_no: String,
    /// `sourceSystem`.
    pub(crate) source_system: String,
    /// `itemList`.
    pub(crate) items: Vec<Item>,
    /// `totalQty`.
    pub(crate) total_qty: u64,
    /// `totalAmt`.
    pub(crate) total_amt: Money,
    /// `createTime` (ms).
    pub(crate) create_time: i64,
    /// `distributionTime` (ms).
    pub(crate) distribution_time: Option<i64>,
    /// `installTime` (ms).
    pub(crate) install_time: Option<i64>,
    /// `deliveryInstall == "true"`.
    pub(crate) delivery_install: bool,
    /// The whole received body.
    pub(crate) payload: Value,
    /// Why the order fails the checks made after the push (unknown product, wrong
    /// price or customer): its confirm callback refuses it (`State` 0, `FailMsg`).
    pub(crate) late_refusal: Option<String>,
}

/// The next thing that happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Step {
    /// Confirm, reject or refuse for stock.
    Decide,
    /// Hand to the carrier.
    Ship,
    /// Deliver (photos appear).
    Deliver,
    /// Answer the cancel request.
    ResolveCancel,
}

/// A cancel request (Y2).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CancelRequest {
    /// `cancelReason`.
    pub(crate) reason: String,
    /// `cancelTime`, as sent.
    pub(crate) cancel_time: String,
    /// When it arrived (ms).
    pub(crate) requested_at: i64,
    /// The status before the request.
    pub(crate) prior_status: Status,
    /// The `State` it was answered with, once answered.
    pub(crate) result_state: Option<u8>,
}

/// One parcel line of Y5's `logisticsList`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Parcel {
    /// The product in it.
    pub(crate) product_code: String,
    /// `logisticsCompany`.
    pub(crate) logistics_company: &'static str,
    /// `logisticsNo`.
    pub(crate) logistics_no: String,
    /// `snCode`: the unit's serial number.
    pub(crate) sn_code: String,
}

/// A delivery or installation photo (Y4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Photo {
    /// `imgUrl`.
    pub(crate) img_url: String,
    /// `type`: "delivery" or "install".
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// `uploadTime` (ms).
    pub(crate) uploaded_at: i64,
}

/// How a callback's delivery went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Delivery {
    /// Being delivered.
    Pending,
    /// The receiver answered HTTP 200 with `success: true`.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// No callback URL was set.
    NoCallbackUrl,
    /// The sandbox shut down first.
    Abandoned,
}

/// One callback emitted for an order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallbackRecord {
    /// `Method`.
    pub(crate) method: &'static str,
    /// `Data`, parsed back for reading.
    pub(crate) data: Value,
    /// When it was emitted (ms).
    pub(crate) emitted_at: i64,
    /// Whether this is the repeated delivery of the previous record.
    pub(crate) duplicate: bool,
    /// HTTP attempts so far.
    pub(crate) attempts: u32,
    /// How delivery went.
    pub(crate) delivery: Delivery,
}

/// A callback to send: its method and its `Data` text.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// `Method`.
    pub(crate) method: CallbackMethod,
    /// `Data`.
    pub(crate) data: String,
    /// The indices of its records in [`Order::callbacks`]: one per delivery (two when
    /// it is delivered twice).
    pub(crate) records: Vec<usize>,
}

/// One order and everything that happened to it.
#[derive(Debug, Clone)]
pub(crate) struct Order {
    /// `soId`.
    pub(crate) so_id: String,
    /// The YLH order number, `SO.YYYYMMDD.NNNNNN`.
    pub(crate) retail_order_no: String,
    /// The received order.
    pub(crate) new: NewOrder,
    /// The order's status.
    pub(crate) status: Status,
    /// Where the goods are.
    pub(crate) stage: Stage,
    /// When the order arrived (ms).
    pub(crate) received_at: i64,
    /// When Haier decided (ms).
    pub(crate) decided_at: Option<i64>,
    /// When the goods left (ms).
    pub(crate) shipped_at: Option<i64>,
    /// When the goods were signed for (ms).
    pub(crate) delivered_at: Option<i64>,
    /// When the times were last changed by Y3 (ms).
    pub(crate) rescheduled_at: Option<i64>,
    /// The last cancel request.
    pub(crate) cancel: Option<CancelRequest>,
    /// The `FailMsg` of the last failure callback.
    pub(crate) fail_msg: Option<String>,
    /// `deliveryRecordCode`, once shipped.
    pub(crate) delivery_record_code: Option<String>,
    /// The parcels, once shipped.
    pub(crate) parcels: Vec<Parcel>,
    /// The photos, once delivered.
    pub(crate) photos: Vec<Photo>,
    /// Every callback emitted.
    pub(crate) callbacks: Vec<CallbackRecord>,
    /// The pending step and its generation.
    pub(crate) next: Option<(Step, u64)>,
    generation: u64,
}

/// The order-side settings that can change at run time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderSettings {
    /// Where callbacks go.
    pub(crate) callback_url: Option<String>,
    /// Outcome shares: confirm, reject, out of stock (adding up to 1).
    pub(crate) confirm_rate: f64,
    /// See `confirm_rate`.
    pub(crate) reject_rate: f64,
    /// See `confirm_rate`.
    pub(crate) oos_rate: f64,
    /// The chance a callback is delivered twice.
    pub(crate) duplicate_callback_rate: f64,
    /// The chance a cancel of a confirmed multi-line order only partly succeeds.
    pub(crate) partial_cancel_rate: f64,
    /// Receipt (or cancel request) to decision.
    pub(crate) callback_delay: Duration,
    /// Each logistics step.
    pub(crate) logistics_step: Duration,
    /// The `errorMsg` of Y1's refusal of a repeated `soId` (`{soId}` is replaced).
    pub(crate) duplicate_message: String,
}

/// The default [`OrderSettings::duplicate_message`].
pub(crate) const DEFAULT_DUPLICATE_MESSAGE: &str = "子订单号 {soId} 已存在";

/// A rate in [0, 1] as per-mille.
fn per_mille(rate: f64) -> u64 {
    (rate.clamp(0.0, 1.0) * 1000.0).round() as u64
}

impl OrderSettings {
    /// How long until `step` is due once it is set.
    pub(crate) fn delay(&self, step: Step) -> Duration {
        match step {
            Step::Decide | Step::ResolveCancel => self.callback_delay,
            Step::Ship | Step::Deliver => self.logistics_step,
        }
    }
}

/// `State`: a number mostly, sometimes a string, as real senders do.
#[derive(Serialize)]
#[serde(untagged)]
enum StateValue {
    Number(u8),
    Text(String),
}

/// A line of a cancel callback's `itemList`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelLine<'a> {
    product_code: &'a str,
    total_qty: u32,
    receive_qty: u32,
    return_qty: u32,
    reject_qty: u32,
}

/// A callback's `Data`.
#[derive(Serialize)]
struct Data<'a> {
    #[serde(rename = "ExtOrderNo")]
    ext_order_no: &'a str,
    #[serde(rename = "PlatformOrderNo")]
    platform_order_no: &'a str,
    #[serde(rename = "State")]
    state: StateValue,
    #[serde(rename = "FailMsg", skip_serializing_if = "Option::is_none")]
    fail_msg: Option<&'a str>,
    #[serde(rename = "itemList", skip_serializing_if = "Option::is_none")]
    item_list: Option<Vec<CancelLine<'a>>>,
}

/// The carriers, with the prefix of their waybill numbers.
const CARRIERS: &[(&str, &str)] = &[
    ("日日顺物流", "RRS"),
    ("顺丰速运", "SF"),
    ("京东物流", "JDX"),
    ("中通快递", "ZT"),
];

/// The code of a carrier of [`CARRIERS`] (its waybill prefix); "OTHER" for any other.
pub(crate) fn carrier_code(name: &str) -> &'static str {
    CARRIERS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("OTHER", |(_, code)| code)
}

/// The photo host: a reserved `.invalid` name, so nothing ever fetches from it.
const PHOTO_HOST: &str = "https://img.ylh-sandbox.invalid";

/// At most this many units get their own parcel line.
const MAX_PARCELS: usize = 50;

/// Why a step could not be fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FireError {
    /// No such order.
    Unknown,
    /// The order has nothing left to do.
    Idle,
    /// The scheduled step was superseded.
    Stale,
}

/// What firing a step did.
#[derive(Debug)]
pub(crate) struct Fired {
    /// The callbacks to send.
    pub(crate) outgoing: Vec<Outgoing>,
    /// The next step and its generation, to schedule.
    pub(crate) next: Option<(Step, u64)>,
}

impl Order {
    fn sets_next(&mut self, step: Option<Step>) -> Option<(Step, u64)> {
        self.generation += 1;
        self.next = step.map(|s| (s, self.generation));
        self.next
    }

    /// Whether the order will (or did) get an installation photo.
    fn installs(&self) -> bool {
        self.new.delivery_install || self.new.install_time.is_some()
    }

    /// Units of a line still to be delivered.
    fn remaining(item: &Item) -> u32 {
        item.item_qty - item.cancelled_qty
    }

    fn emit(
        &mut self,
        method: CallbackMethod,
        data: String,
        twice: bool,
        now: i64,
        out: &mut Vec<Outgoing>,
    ) {
        let parsed = serde_json::from_str(&data).unwrap_or(Value::Null);
        let first = self.callbacks.len();
        let copies = if twice { 2 } else { 1 };
        for i in 0..copies {
            self.callbacks.push(CallbackRecord {
                method: method.name(),
                data: parsed.clone(),
                emitted_at: now,
                duplicate: i > 0,
                attempts: 0,
                delivery: Delivery::Pending,
            });
        }
        out.push(Outgoing {
            method,
            data,
            records: (first..first + copies).collect(),
        });
    }

    /// The `Data` of a callback about this order.
    fn data(
        &self,
        state: u8,
        as_text: bool,
        fail_msg: Option<&str>,
        lines: Option<Vec<CancelLine<'_>>>,
    ) -> String {
        let data = Data {
            ext_order_no: &self.retail_order_no,
            platform_order_no: &self.new.online_no,
            state: if as_text {
                StateValue::Text(state.to_string())
            } else {
                StateValue::Number(state)
            },
            fail_msg,
            item_list: lines,
        };
        serde_json::to_string(&data).unwrap_or_default()
    }
}

/// Every order, by arrival, with its indexes and the draws that decide their fate.
#[derive(Debug)]
pub(crate) struct OrderBook {
    orders: Vec<Order>,
    by_so_id: HashMap<String, usize>,
    by_number: HashMap<String, usize>,
    serial: u64,
    rng: Rng,
}

impl OrderBook {
    /// An empty book whose draws follow `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        OrderBook {
            orders: Vec::new(),
            by_so_id: HashMap::new(),
            by_number: HashMap::new(),
            serial: 0,
            rng: Rng::new(seed, 0x0D_E5),
        }
    }

    /// Every order, by arrival.
    pub(crate) fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// The order with this `soId`.
    pub(crate) fn by_so_id(&self, so_id: &str) -> Option<&Order> {
        self.by_so_id.get(so_id).map(|&i| &self.orders[i])
    }

    /// The order with this YLH number.
    pub(crate) fn by_number(&self, number: &str) -> Option<&Order> {
        self.by_number.get(number).map(|&i| &self.orders[i])
    }

    /// The order with this YLH number, to change.
    pub(crate) fn by_number_mut(&mut self, number: &str) -> Option<&mut Order> {
        self.by_number.get(number).map(|&i| &mut self.orders[i])
    }

    /// The order with this `soId`, to change.
    pub(crate) fn by_so_id_mut(&mut self, so_id: &str) -> Option<&mut Order> {
        self.by_so_id.get(so_id).map(|&i| &mut self.orders[i])
    }

    /// Records a new order, numbered `SO.<China date>.<serial>`, with its decision
    /// pending; `Err` is the order that already has this `soId`.
    pub(crate) fn insert(&mut self, new: NewOrder, now: i64) -> Result<&Order, &Order> {
        if let Some(&i) = self.by_so_id.get(&new.so_id) {
            return Err(&self.orders[i]);
        }
        self.serial += 1;
        // Six digits, more once a million orders were numbered: never reused.
        let number = format!(
            "SO.{}.{:06}",
            ChinaTime::from_ms(now).date_compact(),
            self.serial
        );
        let mut order = Order {
            so_id: new.so_id.clone(),
            retail_order_no: number.clone(),
            new,
            status: Status::Received,
            stage: Stage::NotShipped,
            received_at: now,
            decided_at: None,
            shipped_at: None,
            delivered_at: None,
            rescheduled_at: None,
            cancel: None,
            fail_msg: None,
            delivery_record_code: None,
            parcels: Vec::new(),
            photos: Vec::new(),
            callbacks: Vec::new(),
            next: None,
            generation: 0,
        };
        order.sets_next(Some(Step::Decide));
        let i = self.orders.len();
        self.by_so_id.insert(order.so_id.clone(), i);
        self.by_number.insert(number, i);
        self.orders.push(order);
        Ok(&self.orders[i])
    }

    /// Records a cancel request: the order's pending step becomes answering it.
    pub(crate) fn request_cancel(
        &mut self,
        so_id: &str,
        reason: String,
        cancel_time: String,
        now: i64,
    ) -> Option<(Step, u64)> {
        let order = self.by_so_id_mut(so_id)?;
        order.cancel = Some(CancelRequest {
            reason,
            cancel_time,
            requested_at: now,
            prior_status: order.status,
            result_state: None,
        });
        order.status = Status::CancelRequested;
        order.sets_next(Some(Step::ResolveCancel))
    }

    /// Fires the pending step of the order `so_id`: only if its generation is still
    /// `generation` when given (a scheduled firing), at once otherwise (an advance).
    pub(crate) fn fire(
        &mut self,
        so_id: &str,
        generation: Option<u64>,
        settings: &OrderSettings,
        now: i64,
    ) -> Result<Fired, FireError> {
        let i = *self.by_so_id.get(so_id).ok_or(FireError::Unknown)?;
        let OrderBook { orders, rng, .. } = self;
        let order = &mut orders[i];
        let Some((step, current)) = order.next else {
            return Err(if generation.is_some() {
                FireError::Stale
            } else {
                FireError::Idle
            });
        };
        if generation.is_some_and(|g| g != current) {
            return Err(FireError::Stale);
        }
        let mut out = Vec::new();
        let following = match step {
            Step::Decide => decide(order, rng, settings, now, &mut out),
            Step::Ship => {
                ship(order, rng, now);
                Some(Step::Deliver)
            }
            Step::Deliver => {
                deliver(order, now);
                None
            }
            Step::ResolveCancel => resolve_cancel(order, rng, settings, now, &mut out),
        };
        let next = order.sets_next(following);
        Ok(Fired {
            outgoing: out,
            next,
        })
    }

    /// Updates a callback record after a delivery attempt or outcome.
    pub(crate) fn record_delivery(
        &mut self,
        so_id: &str,
        record: usize,
        attempts: u32,
        delivery: Delivery,
    ) {
        if let Some(r) = self
            .by_so_id_mut(so_id)
            .and_then(|o| o.callbacks.get_mut(record))
        {
            r.attempts = attempts;
            r.delivery = delivery;
        }
    }
}

/// Whether `State` goes as a string this time (one callback in five).
fn state_as_text(rng: &mut Rng) -> bool {
    rng.chance(200)
}

fn decide(
    order: &mut Order,
    rng: &mut Rng,
    settings: &OrderSettings,
    now: i64,
    out: &mut Vec<Outgoing>,
) -> Option<Step> {
    let weights = [
        per_mille(settings.confirm_rate),
        per_mille(settings.reject_rate),
        per_mille(settings.oos_rate),
    ];
    let outcome = if weights.iter().all(|&w| w == 0) {
        0
    } else {
        rng.weighted(&weights)
    };
    let text = state_as_text(rng);
    let twice = rng.chance(per_mille(settings.duplicate_callback_rate));
    order.decided_at = Some(now);
    if let Some(why) = order.new.late_refusal.clone() {
        // The checks after the push failed: the confirm callback refuses the order.
        order.status = Status::Rejected;
        for item in &mut order.new.items {
            item.cancelled_qty = item.item_qty;
        }
        // Only what §0.4 requires of a failure: no ExtOrderNo (required on success
        // only), our number, State 0 and FailMsg.
        let state = if text { json!("0") } else { json!(0) };
        let data = json!({
            "PlatformOrderNo": order.new.online_no,
            "State": state,
            "FailMsg": why,
        })
        .to_string();
        order.fail_msg = Some(why);
        order.emit(CallbackMethod::Confirm, data, twice, now, out);
        return None;
    }
    match outcome {
        0 => {
            order.status = Status::Confirmed;
            let data = order.data(1, text, None, None);
            order.emit(CallbackMethod::Confirm, data, twice, now, out);
            Some(Step::Ship)
        }
        1 => {
            order.status = Status::Rejected;
            for item in &mut order.new.items {
                item.cancelled_qty = item.item_qty;
            }
            let lines = order
                .new
                .items
                .iter()
                .map(|i| CancelLine {
                    product_code: &i.product_code,
                    total_qty: i.item_qty,
                    receive_qty: 0,
                    return_qty: 0,
                    reject_qty: i.item_qty,
                })
                .collect();
            let data = order.data(1, text, None, Some(lines));
            order.emit(CallbackMethod::Cancel, data, twice, now, out);
            None
        }
        _ => {
            order.status = Status::OutOfStock;
            let codes: Vec<&str> = order
                .new
                .items
                .iter()
                .map(|i| i.product_code.as_str())
                .collect();
            let msg = format!("商品库存不足: {}", codes.join(","));
            let mut data = order.data(1, text, Some(&msg), None);
            // The vendor's own out-of-stock example spells it `failMsg` (§0.4): so
            // does the sandbox, one time in two.
            if rng.chance(500) {
                data = data.replace("\"FailMsg\"", "\"failMsg\"");
            }
            order.fail_msg = Some(msg);
            order.emit(CallbackMethod::OutOfStock, data, twice, now, out);
            None
        }
    }
}

fn ship(order: &mut Order, rng: &mut Rng, now: i64) {
    order.stage = Stage::Shipped;
    order.shipped_at = Some(now);
    if order.status == Status::Confirmed {
        order.status = Status::Shipped;
    }
    order.delivery_record_code = Some(format!("{}.F1", order.retail_order_no));
    let &(company, prefix) = rng.pick(CARRIERS);
    let year = ChinaTime::from_ms(now).date_compact();
    let year = year.get(2..4).unwrap_or("26");
    let mut parcels = Vec::new();
    for item in &order.new.items {
        let waybill = format!("{prefix}{:012}", rng.below(1_000_000_000_000));
        for _ in 0..Order::remaining(item) {
            if parcels.len() >= MAX_PARCELS {
                break;
            }
            parcels.push(Parcel {
                product_code: item.product_code.clone(),
                logistics_company: company,
                logistics_no: waybill.clone(),
                sn_code: format!(
                    "{:X<9.9}{year}{:09}",
                    item.product_code,
                    rng.below(1_000_000_000)
                ),
            });
        }
    }
    order.parcels = parcels;
}

fn deliver(order: &mut Order, now: i64) {
    order.stage = Stage::Delivered;
    order.delivered_at = Some(now);
    if order.status == Status::Shipped {
        order.status = Status::Delivered;
    }
    let base = format!("{PHOTO_HOST}/delivery/{}", order.retail_order_no);
    order.photos = vec![Photo {
        img_url: format!("{base}/delivery-1.jpg"),
        kind: "delivery",
        uploaded_at: now,
    }];
    if order.installs() {
        order.photos.push(Photo {
            img_url: format!("{base}/install-1.jpg"),
            kind: "install",
            uploaded_at: now + 1000,
        });
    }
}

fn resolve_cancel(
    order: &mut Order,
    rng: &mut Rng,
    settings: &OrderSettings,
    now: i64,
    out: &mut Vec<Outgoing>,
) -> Option<Step> {
    let prior = order
        .cancel
        .as_ref()
        .map_or(Status::Received, |c| c.prior_status);
    let text = state_as_text(rng);
    let twice = rng.chance(per_mille(settings.duplicate_callback_rate));
    let open: Vec<usize> = (0..order.new.items.len())
        .filter(|&i| Order::remaining(&order.new.items[i]) > 0)
        .collect();
    let (state, following, msg) = if order.stage != Stage::NotShipped {
        let delivered = order.stage == Stage::Delivered;
        order.status = Status::CancelFailed;
        let msg = if delivered {
            "订单已签收，无法取消"
        } else {
            "订单已发货，无法取消"
        };
        (0, (!delivered).then_some(Step::Deliver), Some(msg))
    } else if prior == Status::Confirmed
        && open.len() >= 2
        && rng.chance(per_mille(settings.partial_cancel_rate))
    {
        // Intercept a strict, non-empty part of the open lines.
        let cut = rng.range(1, open.len() as u64 - 1) as usize;
        for &i in &open[..cut] {
            let item = &mut order.new.items[i];
            item.cancelled_qty = item.item_qty;
        }
        order.status = Status::PartiallyCancelled;
        (2, Some(Step::Ship), Some("部分商品已出库，仅拦截部分商品"))
    } else {
        for item in &mut order.new.items {
            item.cancelled_qty = item.item_qty;
        }
        order.status = Status::Cancelled;
        (1, None, None)
    };
    let delivered = order.stage == Stage::Delivered;
    let lines = order
        .new
        .items
        .iter()
        .map(|i| CancelLine {
            product_code: &i.product_code,
            total_qty: i.item_qty,
            receive_qty: if delivered { Order::remaining(i) } else { 0 },
            return_qty: 0,
            reject_qty: i.cancelled_qty,
        })
        .collect();
    let data = order.data(state, text, msg, Some(lines));
    order.fail_msg = msg.map(str::to_owned);
    if let Some(c) = order.cancel.as_mut() {
        c.result_state = Some(state);
    }
    order.decided_at.get_or_insert(now);
    order.emit(CallbackMethod::Cancel, data, twice, now, out);
    following
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OrderSettings {
        OrderSettings {
            callback_url: None,
            confirm_rate: 1.0,
            reject_rate: 0.0,
            oos_rate: 0.0,
            duplicate_callback_rate: 0.0,
            partial_cancel_rate: 0.0,
            callback_delay: Duration::from_millis(10),
            logistics_step: Duration::from_millis(10),
            duplicate_message: DEFAULT_DUPLICATE_MESSAGE.to_owned(),
        }
    }

    fn new_order(so_id: &str, lines: u32) -> NewOrder {
        let items: Vec<Item> = (0..lines)
            .map(|i| Item {
                product_code: format!("BS01U00{i}N"),
                item_qty: 2,
                retail_price: Money(100_000),
                discount_amount: Money(5000),
                actual_price: Money(95_000),
                is_gift: false,
                cancelled_qty: 0,
            })
            .collect();
        NewOrder {
            so_id: so_id.to_owned(),
            online_no: format!("PO-{so_id}"),
            source_system: "supplyhub".to_owned(),
            total_qty: u64::from(lines) * 2,
            total_amt: Money(190_000 * i64::from(lines)),
            items,
            create_time: 1_763_700_000_000,
            distribution_time: None,
            install_time: None,
            delivery_install: false,
            payload: Value::Null,
            late_refusal: None,
        }
    }

    const NOW: i64 = 1_763_700_000_000; // 2025-11-21 12:40 in China

    #[test]
    fn numbers_run_and_duplicates_are_refused() {
        let mut book = OrderBook::new(1);
        let a = book
            .insert(new_order("A", 1), NOW)
            .unwrap()
            .retail_order_no
            .clone();
        let b = book
            .insert(new_order("B", 1), NOW)
            .unwrap()
            .retail_order_no
            .clone();
        assert_eq!(a, "SO.20251121.000001");
        assert_eq!(b, "SO.20251121.000002");
        let dup = book.insert(new_order("A", 3), NOW).unwrap_err();
        assert_eq!(dup.retail_order_no, a);
        assert_eq!(book.orders().len(), 2);
        assert_eq!(book.by_number(&b).map(|o| o.so_id.as_str()), Some("B"));
    }

    #[test]
    fn a_confirmed_order_ships_then_delivers_and_stale_firings_do_nothing() {
        let mut book = OrderBook::new(1);
        let s = settings();
        let generation = book.insert(new_order("A", 2), NOW).unwrap().next.unwrap().1;
        let fired = book.fire("A", Some(generation), &s, NOW).unwrap();
        assert_eq!(fired.outgoing.len(), 1);
        assert_eq!(fired.outgoing[0].method, CallbackMethod::Confirm);
        let data: Value = serde_json::from_str(&fired.outgoing[0].data).unwrap();
        assert_eq!(data["ExtOrderNo"], "SO.20251121.000001");
        assert_eq!(data["PlatformOrderNo"], "PO-A");
        assert!(data["State"] == 1 || data["State"] == "1");
        assert_eq!(
            book.fire("A", Some(generation), &s, NOW).unwrap_err(),
            FireError::Stale
        );
        book.fire("A", None, &s, NOW).unwrap();
        let o = book.by_so_id("A").unwrap();
        assert_eq!((o.status, o.stage), (Status::Shipped, Stage::Shipped));
        assert_eq!(o.parcels.len(), 4);
        assert_eq!(
            o.delivery_record_code.as_deref(),
            Some("SO.20251121.000001.F1")
        );
        assert!(o.parcels.iter().all(|p| p.sn_code.len() == 20));
        book.fire("A", None, &s, NOW).unwrap();
        let o = book.by_so_id("A").unwrap();
        assert_eq!(o.status, Status::Delivered);
        assert_eq!(o.photos.len(), 1);
        assert_eq!(book.fire("A", None, &s, NOW).unwrap_err(), FireError::Idle);
    }

    #[test]
    fn cancels_depend_on_where_the_goods_are() {
        let mut book = OrderBook::new(3);
        let s = settings();
        book.insert(new_order("early", 1), NOW).unwrap();
        book.request_cancel("early", "不要了".into(), NOW.to_string(), NOW);
        let fired = book.fire("early", None, &s, NOW).unwrap();
        let data: Value = serde_json::from_str(&fired.outgoing[0].data).unwrap();
        assert!(data["State"] == 1 || data["State"] == "1");
        assert_eq!(data["itemList"][0]["rejectQty"], 2);
        assert!(fired.next.is_none());
        assert_eq!(book.by_so_id("early").unwrap().status, Status::Cancelled);

        book.insert(new_order("late", 1), NOW).unwrap();
        for _ in 0..3 {
            book.fire("late", None, &s, NOW).unwrap();
        }
        book.request_cancel("late", "不要了".into(), NOW.to_string(), NOW);
        let fired = book.fire("late", None, &s, NOW).unwrap();
        let data: Value = serde_json::from_str(&fired.outgoing[0].data).unwrap();
        assert!(data["State"] == 0 || data["State"] == "0");
        assert_eq!(data["FailMsg"], "订单已签收，无法取消");
        assert_eq!(data["itemList"][0]["receiveQty"], 2);
        let o = book.by_so_id("late").unwrap();
        assert_eq!(
            (o.status, o.stage),
            (Status::CancelFailed, Stage::Delivered)
        );

        // A partial cancel intercepts some lines and ships the others.
        let partial = OrderSettings {
            partial_cancel_rate: 1.0,
            ..settings()
        };
        book.insert(new_order("multi", 3), NOW).unwrap();
        book.fire("multi", None, &partial, NOW).unwrap();
        book.request_cancel("multi", "部分不要".into(), NOW.to_string(), NOW);
        let fired = book.fire("multi", None, &partial, NOW).unwrap();
        let data: Value = serde_json::from_str(&fired.outgoing[0].data).unwrap();
        assert!(data["State"] == 2 || data["State"] == "2");
        let rejected: Vec<u64> = data["itemList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["rejectQty"].as_u64().unwrap())
            .collect();
        assert!(
            rejected.contains(&0) && rejected.contains(&2),
            "{rejected:?}"
        );
        assert_eq!(fired.next.map(|n| n.0), Some(Step::Ship));
        book.fire("multi", None, &partial, NOW).unwrap();
        let o = book.by_so_id("multi").unwrap();
        let shipped = o.parcels.len() as u64;
        assert_eq!(
            shipped,
            rejected.iter().filter(|&&r| r == 0).count() as u64 * 2
        );
    }

    #[test]
    fn outcomes_follow_the_rates_and_state_is_sometimes_text() {
        let mut book = OrderBook::new(9);
        let s = OrderSettings {
            confirm_rate: 0.5,
            reject_rate: 0.25,
            oos_rate: 0.25,
            duplicate_callback_rate: 0.5,
            ..settings()
        };
        let mut methods = HashMap::new();
        let (mut text, mut twice) = (0, 0);
        for i in 0..400 {
            let so = format!("S{i}");
            book.insert(new_order(&so, 1), NOW).unwrap();
            let fired = book.fire(&so, None, &s, NOW).unwrap();
            let out = &fired.outgoing[0];
            *methods.entry(out.method.name()).or_insert(0) += 1;
            let data: Value = serde_json::from_str(&out.data).unwrap();
            if data["State"].is_string() {
                text += 1;
            }
            if out.records.len() == 2 {
                twice += 1;
            }
        }
        assert!(
            (150..250).contains(&methods["hmm.scm_heorder.confirm"]),
            "{methods:?}"
        );
        assert!(
            (60..140).contains(&methods["hmm.scm_heorder.cancel"]),
            "{methods:?}"
        );
        assert!(
            (60..140).contains(&methods["hmm.scm_heorder.oostock"]),
            "{methods:?}"
        );
        assert!((40..130).contains(&text), "{text}");
        assert!((150..250).contains(&twice), "{twice}");
    }
}
