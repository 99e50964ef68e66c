//! The supplier's signed callbacks (protocol §3): receiving one, checking it, and applying
//! its event to the order it is about, exactly once.
//!
//! [`receive`] does the whole job for the HTTP layer:
//!
//! 1. the raw callback is stored first (`supplier_callbacks`, outcome `received`), so
//!    every delivery can be audited whatever happens next;
//! 2. the body is read as a form or as JSON, then its `AppKey`, signature and
//!    `TimeStamp` are checked against `[haier_callback]`;
//! 3. the `Method` is routed, the order found by `PlatformOrderNo` (our order number),
//!    or else by `ExtOrderNo` (the supplier's);
//! 4. in one write transaction the event is recorded under a unique key (`Method` + MD5
//!    of the raw `Data`): a key already taken is a replay and changes nothing;
//!    otherwise [`decide`] says what the event does to the order, and it is done;
//! 5. the callback's outcome is written at the end (in the same transaction when an
//!    event was recorded).
//!
//! The state rules never leave a terminal supplier status (`cancelled`, `rejected`,
//! `out_of_stock`) and never move an order back; an event that does not fit is recorded
//! and answered with success, so the supplier stops resending it.

use std::time::Duration;

use axum::http::StatusCode;
use haier::callback::{
    CallbackData, CallbackError, CallbackMethod, CallbackReply, CallbackRequest, CallbackState,
};
use md5::{Digest, Md5};
use secrecy::ExposeSecret;

use crate::config::CallbackConfig;
use crate::status::{HoldStatus, OrderStatus, SupplierStatus};
use crate::store::callbacks::{self as store, SupplierCallback, SupplierEvent};
use crate::store::holds::move_holds;
use crate::store::orders::{self, Order};
use crate::store::{Db, StoreError, StoreResult, Tx, new_id};
use crate::types::UtcTime;

/// How much of a body is kept for audit; real callbacks are a few hundred bytes.
const MAX_STORED_BODY: usize = 64 * 1024;

/// How much of a supplier-given text (a `Method`, a message) goes into an outcome or a
/// reply.
const MAX_ECHO_CHARS: usize = 64;

/// How much of `FailMsg` is kept on the order (the vendor allows 100 characters).
const MAX_MESSAGE_CHARS: usize = 500;

/// What became of one callback: the HTTP status and the vendor-format reply to send,
/// and the outcome recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The id of the stored callback (`cb_…`); `None` for a callback that failed
    /// verification, which is not stored.
    pub callback_id: Option<String>,
    /// Always 200: the vendor's protocol answers every callback with HTTP 200 and says
    /// in the body whether it was taken (protocol §0.4).
    pub status: StatusCode,
    /// The outcome (as recorded in `supplier_callbacks` when the callback was stored).
    pub outcome: String,
    /// The reply body, in the vendor's envelope (`success:false` with the reason and
    /// an HTTP-like `data.statusCode` when refused).
    pub reply: CallbackReply,
}

/// Callbacks refused before storing anything, by cause (`not_configured`,
/// `malformed`, `missing_parameter`, `unknown_app_key`, `bad_signature`,
/// `bad_timestamp`, `stale`), since the process started.
static REFUSED: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// How many callbacks this process refused before storing anything, by cause.
pub fn refused_callbacks() -> std::collections::BTreeMap<&'static str, u64> {
    REFUSED.lock().map(|m| m.clone()).unwrap_or_default()
}

fn count_refusal(kind: &'static str) {
    if let Ok(mut m) = REFUSED.lock() {
        *m.entry(kind).or_default() += 1;
    }
}

/// Receives one callback: verifies it, stores only what verifies, and applies its
/// event once.
///
/// A callback that cannot be read or verified (no configuration, a malformed body, an
/// unknown `AppKey`, a bad signature or `TimeStamp`) is not written anywhere: it is
/// counted by cause ([`refused_callbacks`]), logged without its values, and answered
/// `success:false`. Answers every input of the supplier (or of anyone else) with a
/// [`Receipt`]; only a failure of the store is an error.
#[tracing::instrument(skip_all, fields(callback_id, method, order_id, outcome))]
pub async fn receive(
    db: &Db,
    config: Option<&CallbackConfig>,
    content_type: Option<&str>,
    body: &[u8],
    now: jiff::Timestamp,
) -> StoreResult<Receipt> {
    let span = tracing::Span::current();
    let (request, skew_secs) = match check(config, content_type, body, now) {
        Err(refusal) => {
            count_refusal(refusal.kind);
            crate::metrics::callback(&format!("refused_{}", refusal.kind));
            span.record("outcome", refusal.outcome.as_str());
            // The cause only: no body, no Sign, no AppKey value.
            tracing::warn!(
                cause = refusal.kind,
                body_bytes = body.len(),
                "supplier callback refused before storing"
            );
            return Ok(Receipt {
                callback_id: None,
                status: StatusCode::OK,
                outcome: refusal.outcome,
                reply: refusal.reply.at(now),
            });
        }
        Ok(checked) => checked,
    };
    let received_at = UtcTime::from(now);
    let callback_id = new_id("cb");
    span.record("callback_id", callback_id.as_str());
    let method = request.method.as_str().to_owned();
    span.record("method", truncate(&method, MAX_ECHO_CHARS).as_str());
    store::insert_callback(
        db,
        &SupplierCallback {
            id: callback_id.clone(),
            received_at,
            content_type: content_type.map(|c| truncate(c, 200)),
            body: stored_body(body),
            method: Some(method),
            outcome: "received".to_owned(),
            clock_skew_secs: Some(skew_secs),
        },
    )
    .await?;
    let (outcome, reply) = route(db, &callback_id, &request, now).await?;
    span.record("outcome", outcome.as_str());
    crate::metrics::callback(&outcome);
    tracing::info!(clock_skew_secs = skew_secs, "supplier callback handled");
    Ok(Receipt {
        callback_id: Some(callback_id),
        status: StatusCode::OK,
        outcome,
        reply: reply.at(now),
    })
}

/// A callback answered without touching any order or the store.
struct Refusal {
    kind: &'static str,
    outcome: String,
    reply: CallbackReply,
}

/// Reads and verifies a callback; no I/O. Gives the request and its clock skew in
/// seconds.
fn check(
    config: Option<&CallbackConfig>,
    content_type: Option<&str>,
    body: &[u8],
    now: jiff::Timestamp,
) -> Result<(CallbackRequest, i64), Box<Refusal>> {
    let Some(config) = config else {
        return Err(Box::new(Refusal {
            kind: "not_configured",
            outcome: "refused: callbacks are not configured".to_owned(),
            reply: CallbackReply::error("callbacks are not configured").with_status(503),
        }));
    };
    let refuse = |e: CallbackError| {
        Box::new(Refusal {
            kind: e.kind(),
            outcome: format!("refused: {e}"),
            reply: e.reply(),
        })
    };
    let request = parse_body(content_type, body).map_err(refuse)?;
    let window = config.window_secs.map(Duration::from_secs);
    let skew = request
        .verify(&config.app_key, config.secret.expose_secret(), now, window)
        .map_err(refuse)?;
    Ok((request, skew))
}

/// The body's format: JSON when the media type says so, a form when it says so; with
/// no (or another) media type, JSON when the body is a JSON object, else a form (the
/// vendor's default).
fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<CallbackRequest, CallbackError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let is_json = match media.as_deref() {
        Some("application/x-www-form-urlencoded") => false,
        Some(m) if m == "application/json" || m.ends_with("+json") => true,
        _ => body.trim_ascii_start().starts_with(b"{"),
    };
    if is_json {
        CallbackRequest::from_json(body)
    } else {
        CallbackRequest::from_form(body)
    }
}

/// Routes a verified callback by `Method` and applies it.
async fn route(
    db: &Db,
    callback_id: &str,
    request: &CallbackRequest,
    now: jiff::Timestamp,
) -> StoreResult<(String, CallbackReply)> {
    let method = request.method.as_str();
    let kind = match &request.method {
        CallbackMethod::Confirm => EventKind::Confirm,
        CallbackMethod::Cancel => EventKind::Cancel,
        CallbackMethod::OutOfStock => EventKind::OutOfStock,
        CallbackMethod::Unknown(other) => {
            let shown = truncate(other, MAX_ECHO_CHARS);
            let outcome = format!("ignored: unknown method {shown}");
            store::finish_callback(db, callback_id, Some(method), &outcome).await?;
            return Ok((
                outcome,
                CallbackReply::error(format!("未知的回调方法: {shown}")),
            ));
        }
    };
    let data = match request.parse_data() {
        Ok(Some(data)) => data,
        Ok(None) => {
            return bad_data(db, callback_id, method, &CallbackError::Missing("Data")).await;
        }
        Err(e) => return bad_data(db, callback_id, method, &e).await,
    };
    // Parsed, so present.
    let raw_data = request.data.as_deref().unwrap_or_default();
    let event = Event {
        kind,
        dedupe_key: dedupe_key(method, &request.timestamp, raw_data),
        data: &data,
    };
    apply(db, callback_id, &event, now).await
}

/// A verified callback whose `Data` is missing or cannot be read: answered with the
/// vendor's error (`data.statusCode` 400) and recorded as refused.
async fn bad_data(
    db: &Db,
    callback_id: &str,
    method: &str,
    e: &CallbackError,
) -> StoreResult<(String, CallbackReply)> {
    let outcome = format!("refused: {e}");
    store::finish_callback(db, callback_id, Some(method), &outcome).await?;
    Ok((outcome, e.reply()))
}

/// The three events the supplier reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `hmm.scm_heorder.confirm`.
    Confirm,
    /// `hmm.scm_heorder.cancel`.
    Cancel,
    /// `hmm.scm_heorder.oostock`.
    OutOfStock,
}

impl EventKind {
    fn name(self) -> &'static str {
        match self {
            EventKind::Confirm => "confirm",
            EventKind::Cancel => "cancel",
            EventKind::OutOfStock => "oostock",
        }
    }
}

struct Event<'a> {
    kind: EventKind,
    dedupe_key: String,
    data: &'a CallbackData,
}

/// The key under which an event is applied once: `Method` + `:` + `TimeStamp` + `:` +
/// the hex MD5 of the raw `Data` text. The same delivery sent again is recognised; a
/// second event with the same `Data` but its own `TimeStamp` (a second cancel attempt
/// answered the same way) is a new event, and applying it again changes nothing when
/// the order is already where it says (the state rules are idempotent).
pub fn dedupe_key(method: &str, timestamp: &str, raw_data: &str) -> String {
    format!(
        "{method}:{timestamp}:{}",
        hex::encode(Md5::digest(raw_data.as_bytes()))
    )
}

/// Supplier statuses no event leaves.
pub const TERMINAL_SUPPLIER_STATUSES: [&str; 3] = ["cancelled", "rejected", "out_of_stock"];

/// What an event does to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Change the order.
    Apply {
        /// The new `supplier_status`.
        supplier_status: &'static str,
        /// Set `retail_order_no` (confirmations).
        retail_order_no: Option<String>,
        /// Set `supplier_message` (`FailMsg`).
        message: Option<String>,
        /// Cancel the order itself (`paid` → `cancelled`).
        cancel_order: bool,
        /// Set the lines' quantities from `itemList`.
        set_quantities: bool,
    },
    /// Leave the order as it is, for this reason.
    Ignore(String),
}

/// The state rules: what an event of `kind` reporting `data` does to an order whose
/// supplier status is `current`.
///
/// | event | from | to |
/// |---|---|---|
/// | confirm 1 | `push_pending` `pushed` `push_failed` `confirmed` | `confirmed`, `retail_order_no` ← `ExtOrderNo` |
/// | confirm 0 | `push_pending` `pushed` `push_failed` | `rejected` (the checks after the push failed), order `cancelled`, holds released, message ← `FailMsg` |
/// | cancel 1 | `cancel_pending` `cancel_failed` | `cancelled`, order `cancelled`, quantities set |
/// | cancel 1 | `push_pending` `pushed` `confirmed` `partially_cancelled` `out_of_stock_failed` | `rejected` (unasked), order `cancelled`, quantities set |
/// | cancel 2 | any live status (below) | `partially_cancelled`, quantities set |
/// | cancel 0 | `cancel_pending` `cancel_failed` | `cancel_failed`, message ← `FailMsg` |
/// | oostock 1 | any live status | `out_of_stock` |
/// | oostock 0 | `push_pending` `pushed` `confirmed` `out_of_stock_failed` | `out_of_stock_failed` |
///
/// Live statuses: `push_pending`, `pushed`, `confirmed`, `partially_cancelled`,
/// `cancel_pending`, `cancel_failed`, `out_of_stock_failed`. Anything else is ignored:
/// a terminal status (`cancelled`, `rejected`, `out_of_stock`) is never left, and no
/// event moves an order back. `FailMsg`, when present, is kept as the message.
pub fn decide(kind: EventKind, data: &CallbackData, current: &str) -> Effect {
    if TERMINAL_SUPPLIER_STATUSES.contains(&current) {
        return Effect::Ignore(format!("order is {current}"));
    }
    const LIVE: [&str; 7] = [
        "push_pending",
        "pushed",
        "confirmed",
        "partially_cancelled",
        "cancel_pending",
        "cancel_failed",
        "out_of_stock_failed",
    ];
    let message = data
        .fail_msg
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| truncate(m, MAX_MESSAGE_CHARS));
    let target: Option<(&'static str, bool, bool)> = match (kind, data.state) {
        (EventKind::Confirm, CallbackState::Ok) => {
            ["push_pending", "pushed", "push_failed", "confirmed"]
                .contains(&current)
                .then_some(("confirmed", false, false))
        }
        (EventKind::Confirm, CallbackState::Failed) => {
            // Y1 accepts before checking the product, price and customer (protocol
            // §0.3); a refusal here is final.
            ["push_pending", "pushed", "push_failed"]
                .contains(&current)
                .then_some(("rejected", true, false))
        }
        (EventKind::Cancel, CallbackState::Ok) => {
            if ["cancel_pending", "cancel_failed"].contains(&current) {
                Some(("cancelled", true, true))
            } else if [
                "push_pending",
                "pushed",
                "confirmed",
                "partially_cancelled",
                "out_of_stock_failed",
            ]
            .contains(&current)
            {
                Some(("rejected", true, true))
            } else {
                None
            }
        }
        (EventKind::Cancel, CallbackState::Partial) => {
            LIVE.contains(&current)
                .then_some(("partially_cancelled", false, true))
        }
        (EventKind::Cancel, CallbackState::Failed) => ["cancel_pending", "cancel_failed"]
            .contains(&current)
            .then_some(("cancel_failed", false, false)),
        (EventKind::OutOfStock, CallbackState::Ok) => {
            LIVE.contains(&current)
                .then_some(("out_of_stock", false, false))
        }
        (EventKind::OutOfStock, CallbackState::Failed) => {
            ["push_pending", "pushed", "confirmed", "out_of_stock_failed"]
                .contains(&current)
                .then_some(("out_of_stock_failed", false, false))
        }
        (EventKind::Confirm | EventKind::OutOfStock, CallbackState::Partial) => {
            return Effect::Ignore(format!("State 2 does not apply to {}", kind.name()));
        }
    };
    match target {
        Some((supplier_status, cancel_order, set_quantities)) => Effect::Apply {
            supplier_status,
            // ExtOrderNo is the supplier's order number whatever the method: a rejection
            // or an out-of-stock report may be the first the hub hears of it (when the
            // push's own answer was lost).
            retail_order_no: data
                .ext_order_no
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            message,
            cancel_order,
            set_quantities,
        },
        None => Effect::Ignore(format!(
            "{} with State {} does not apply to an order {current}",
            kind.name(),
            data.state.code()
        )),
    }
}

/// Brings an order's committed holds in line with its supplier status: settled once the
/// supplier confirmed the order (its next stock figure excludes those units), released
/// when it refused it (`rejected`, `out_of_stock`, `failed`). Other statuses leave them.
pub(crate) async fn follow_holds(
    tx: &mut Tx,
    order_id: &str,
    supplier_status: SupplierStatus,
    now: UtcTime,
) -> StoreResult<()> {
    use SupplierStatus as S;
    let (change, to) = match supplier_status {
        S::Confirmed
        | S::PartiallyCancelled
        | S::CancelPending
        | S::CancelFailed
        | S::OutOfStockFailed => ("settle", HoldStatus::Settled),
        // Cancelled before the supplier confirmed it: the units were never taken. (After
        // a confirmation nothing is committed any more, so this moves nothing.)
        S::Rejected | S::OutOfStock | S::Failed | S::Cancelled => ("release", HoldStatus::Released),
        _ => return Ok(()),
    };
    move_holds(tx, order_id, HoldStatus::Committed, to, Some(change), now).await?;
    Ok(())
}

/// Finds the order, records the event and applies it, all in one write transaction.
async fn apply(
    db: &Db,
    callback_id: &str,
    event: &Event<'_>,
    now: jiff::Timestamp,
) -> StoreResult<(String, CallbackReply)> {
    let now = UtcTime::from(now);
    let method = match event.kind {
        EventKind::Confirm => CallbackMethod::CONFIRM,
        EventKind::Cancel => CallbackMethod::CANCEL,
        EventKind::OutOfStock => CallbackMethod::OUT_OF_STOCK,
    };
    let data = event.data;
    let platform_order_no = data.platform_order_no.as_deref();
    let mut tx = db.begin().await?;
    let Some(order) = find_order(&mut tx, data).await? else {
        let outcome = "order_not_found".to_owned();
        store::finish_callback_in(&mut tx, callback_id, Some(method), &outcome).await?;
        tx.commit().await?;
        let named = platform_order_no
            .or(data.ext_order_no.as_deref())
            .map(|n| truncate(n, MAX_ECHO_CHARS))
            .unwrap_or_default();
        return Ok((
            outcome,
            CallbackReply::order_not_found(format!("订单不存在: {named}")),
        ));
    };
    tracing::Span::current().record("order_id", order.id.as_str());
    let reply = CallbackReply::success(
        platform_order_no.or(Some(order.order_number.as_str())),
        now.timestamp(),
    );

    let first = store::record_event(
        &mut tx,
        &SupplierEvent {
            dedupe_key: event.dedupe_key.clone(),
            order_id: order.id.clone(),
            method: method.to_owned(),
            state: i64::from(data.state.code()),
            callback_id: callback_id.to_owned(),
            applied_at: now,
        },
    )
    .await?;
    let outcome = if !first {
        "replayed".to_owned()
    } else {
        match decide(event.kind, data, order.supplier_status.as_str()) {
            Effect::Ignore(why) => format!("ignored: {why}"),
            Effect::Apply {
                supplier_status,
                retail_order_no,
                message,
                set_quantities: false,
                ..
            } if supplier_status == order.supplier_status.as_str()
                && retail_order_no
                    .as_deref()
                    .is_none_or(|n| order.retail_order_no.as_deref() == Some(n))
                && message
                    .as_deref()
                    .is_none_or(|m| order.supplier_message.as_deref() == Some(m)) =>
            {
                // A second event that says what the order already shows (the same
                // Data under a new TimeStamp): recorded, nothing to change.
                format!("unchanged: already {supplier_status}")
            }
            Effect::Apply {
                supplier_status,
                retail_order_no,
                message,
                cancel_order,
                set_quantities,
            } => {
                // The rules name statuses as text; each is a SupplierStatus.
                let to: SupplierStatus = supplier_status
                    .parse()
                    .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?;
                orders::transition_supplier_status(
                    &mut tx,
                    &order.id,
                    &[order.supplier_status],
                    to,
                    retail_order_no.as_deref(),
                    message.as_deref(),
                    now,
                )
                .await?;
                follow_holds(&mut tx, &order.id, to, now).await?;
                if cancel_order {
                    // Only a paid order is cancelled here; any other local status is
                    // left to its own flow.
                    orders::transition_order(
                        &mut tx,
                        &order.id,
                        &[OrderStatus::Paid],
                        OrderStatus::Cancelled,
                        now,
                    )
                    .await?;
                }
                if set_quantities {
                    for item in &data.item_list {
                        let Some(code) = item.product_code.as_deref() else {
                            continue;
                        };
                        orders::set_line_quantities(
                            &mut tx,
                            &order.id,
                            code.trim(),
                            item.receive_qty.map(i64::from),
                            item.return_qty.map(i64::from),
                            item.reject_qty.map(i64::from),
                        )
                        .await?;
                    }
                }
                "applied".to_owned()
            }
        }
    };
    store::finish_callback_in(&mut tx, callback_id, Some(method), &outcome).await?;
    tx.commit().await?;
    Ok((outcome, reply))
}

/// The order a callback is about, locked for the transaction: by `PlatformOrderNo`
/// (our order number), else by `ExtOrderNo` (the supplier's) when exactly one order has
/// it.
async fn find_order(tx: &mut Tx, data: &CallbackData) -> StoreResult<Option<Order>> {
    let nonblank = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut id = None;
    if let Some(number) = nonblank(&data.platform_order_no) {
        id = orders::get_order_by_number_in(tx, &number)
            .await?
            .map(|o| o.id);
    }
    if id.is_none()
        && let Some(ext) = nonblank(&data.ext_order_no)
    {
        let ids = store::order_ids_by_retail_order_no(tx, &ext).await?;
        if let [only] = ids.as_slice() {
            id = Some(only.clone());
        }
    }
    let Some(id) = id else { return Ok(None) };
    if !store::lock_order(tx, &id).await? {
        return Ok(None);
    }
    // Read after the lock, so a concurrent callback's change is seen.
    orders::get_order_in(tx, &id).await
}

/// The body as text for audit: invalid UTF-8 replaced, at most [`MAX_STORED_BODY`]
/// bytes of it.
fn stored_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= MAX_STORED_BODY {
        return text.into_owned();
    }
    let mut end = MAX_STORED_BODY;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated, {} bytes]", &text[..end], body.len())
}

/// At most `max` characters of `s`.
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(state: u8, fail_msg: Option<&str>) -> CallbackData {
        CallbackData::parse(
            &serde_json::json!({
                "ExtOrderNo": "SO.1", "PlatformOrderNo": "PO1", "State": state, "FailMsg": fail_msg,
            })
            .to_string(),
        )
        .expect("data")
    }

    fn to(effect: Effect) -> Option<&'static str> {
        match effect {
            Effect::Apply {
                supplier_status, ..
            } => Some(supplier_status),
            Effect::Ignore(_) => None,
        }
    }

    #[test]
    fn state_rules() {
        use EventKind::*;
        let cases: &[(EventKind, u8, &str, Option<&str>)] = &[
            (Confirm, 1, "pushed", Some("confirmed")),
            (Confirm, 1, "push_failed", Some("confirmed")),
            (Confirm, 1, "cancel_pending", None),
            (Confirm, 1, "cancelled", None),
            (Confirm, 0, "pushed", Some("rejected")),
            (Confirm, 0, "push_failed", Some("rejected")),
            (Confirm, 0, "confirmed", None),
            (Confirm, 2, "pushed", None),
            (Cancel, 1, "cancel_pending", Some("cancelled")),
            (Cancel, 1, "confirmed", Some("rejected")),
            (Cancel, 1, "none", None),
            (Cancel, 1, "rejected", None),
            (Cancel, 2, "confirmed", Some("partially_cancelled")),
            (
                Cancel,
                2,
                "partially_cancelled",
                Some("partially_cancelled"),
            ),
            (Cancel, 2, "failed", None),
            (Cancel, 0, "cancel_pending", Some("cancel_failed")),
            (Cancel, 0, "confirmed", None),
            (OutOfStock, 1, "confirmed", Some("out_of_stock")),
            (OutOfStock, 1, "cancelled", None),
            (OutOfStock, 0, "confirmed", Some("out_of_stock_failed")),
            (OutOfStock, 0, "out_of_stock", None),
        ];
        for &(kind, state, from, expected) in cases {
            assert_eq!(
                to(decide(kind, &data(state, None), from)),
                expected,
                "{kind:?} State {state} from {from}"
            );
        }
    }

    #[test]
    fn effects_carry_numbers_and_messages() {
        let Effect::Apply {
            retail_order_no,
            cancel_order,
            ..
        } = decide(EventKind::Confirm, &data(1, None), "pushed")
        else {
            panic!("applies")
        };
        assert_eq!(retail_order_no.as_deref(), Some("SO.1"));
        assert!(!cancel_order);
        let Effect::Apply {
            retail_order_no,
            message,
            cancel_order,
            set_quantities,
            ..
        } = decide(EventKind::Cancel, &data(1, Some("拦截")), "confirmed")
        else {
            panic!("applies")
        };
        assert_eq!(
            retail_order_no.as_deref(),
            Some("SO.1"),
            "ExtOrderNo is the supplier's number, whatever the method"
        );
        assert_eq!(message.as_deref(), Some("拦截"));
        assert!(cancel_order && set_quantities);
        assert_eq!(
            decide(EventKind::Confirm, &data(1, None), "out_of_stock"),
            Effect::Ignore("order is out_of_stock".to_owned())
        );
    }

    #[test]
    fn dedupe_keys() {
        let ts = "20230912113528";
        let a = dedupe_key("hmm.scm_heorder.confirm", ts, r#"{"State":1}"#);
        assert_eq!(
            a,
            "hmm.scm_heorder.confirm:20230912113528:".to_owned()
                + &hex::encode(Md5::digest(br#"{"State":1}"#))
        );
        assert_ne!(
            a,
            dedupe_key("hmm.scm_heorder.cancel", ts, r#"{"State":1}"#)
        );
        assert_ne!(
            a,
            dedupe_key("hmm.scm_heorder.confirm", ts, r#"{"State":"1"}"#)
        );
        assert_ne!(
            a,
            dedupe_key(
                "hmm.scm_heorder.confirm",
                "20230912113529",
                r#"{"State":1}"#
            ),
            "a second event with the same Data is its own event"
        );
    }

    #[test]
    fn body_format() {
        let form = b"AppKey=a&TimeStamp=20230912113528&Method=m&Sign=s";
        let json = br#" {"AppKey":"a","TimeStamp":"20230912113528","Method":"m","Sign":"s"}"#;
        for (ct, body) in [
            (
                Some("application/x-www-form-urlencoded; charset=UTF-8"),
                &form[..],
            ),
            (None, &form[..]),
            (Some("application/json;charset=utf-8"), &json[..]),
            (None, &json[..]),
            (Some("text/plain"), &json[..]),
        ] {
            let req = parse_body(ct, body).expect("parses");
            assert_eq!(req.app_key, "a", "{ct:?}");
        }
        assert!(parse_body(Some("application/json"), &form[..]).is_err());
    }

    #[test]
    fn stored_bodies_are_bounded() {
        assert_eq!(stored_body(b"a=\xffb"), "a=\u{fffd}b");
        let big = "好".repeat(MAX_STORED_BODY);
        let kept = stored_body(big.as_bytes());
        assert!(kept.len() < MAX_STORED_BODY + 64);
        assert!(kept.ends_with(&format!("[truncated, {} bytes]", big.len())));
    }
}
