//! Counters behind `/_sandbox/stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use crate::faults::{FaultKind, FaultMode};
use crate::orders::CallbackMethod;

/// Which simulated service an endpoint belongs to: each has its own tokens and its own
/// rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// The Haier Open Platform (token, H1–H5).
    OpenPlatform,
    /// The YLH order centre (token, Y1–Y5).
    Ylh,
}

/// An endpoint of a simulated service, as counted in stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/oauth2/auth` and `/oauth2/token`.
    Token,
    /// H1, procurable products.
    ProcurableProducts,
    /// H2, prices.
    Prices,
    /// H3, regional stock.
    Stock,
    /// H4, logistics of an order.
    Logistics,
    /// H5, payer balance.
    Balance,
    /// YLH `/oauth/token`.
    YlhToken,
    /// Y1, order creation.
    YlhCreateOrder,
    /// Y2, cancellation.
    YlhCancelOrder,
    /// Y3, rescheduling.
    YlhReschedule,
    /// Y4, delivery photos.
    YlhDeliveryPhotos,
    /// Y5, logistics by order codes.
    YlhStoreLogistics,
}

impl Endpoint {
    const ALL: [Endpoint; 12] = [
        Endpoint::Token,
        Endpoint::ProcurableProducts,
        Endpoint::Prices,
        Endpoint::Stock,
        Endpoint::Logistics,
        Endpoint::Balance,
        Endpoint::YlhToken,
        Endpoint::YlhCreateOrder,
        Endpoint::YlhCancelOrder,
        Endpoint::YlhReschedule,
        Endpoint::YlhDeliveryPhotos,
        Endpoint::YlhStoreLogistics,
    ];

    /// The key in `/_sandbox/stats` (and in `/_sandbox/faults/next`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::ProcurableProducts => "procurable_products",
            Endpoint::Prices => "prices",
            Endpoint::Stock => "stock",
            Endpoint::Logistics => "logistics",
            Endpoint::Balance => "balance",
            Endpoint::YlhToken => "ylh_token",
            Endpoint::YlhCreateOrder => "ylh_create_order",
            Endpoint::YlhCancelOrder => "ylh_cancel_order",
            Endpoint::YlhReschedule => "ylh_reschedule",
            Endpoint::YlhDeliveryPhotos => "ylh_delivery_photos",
            Endpoint::YlhStoreLogistics => "ylh_store_logistics",
        }
    }

    /// Whether `name` is an endpoint's stats key.
    pub(crate) fn is_name(name: &str) -> bool {
        Endpoint::ALL.iter().any(|e| e.name() == name)
    }

    /// The service the endpoint belongs to.
    pub(crate) fn service(self) -> Service {
        match self {
            Endpoint::Token
            | Endpoint::ProcurableProducts
            | Endpoint::Prices
            | Endpoint::Stock
            | Endpoint::Logistics
            | Endpoint::Balance => Service::OpenPlatform,
            Endpoint::YlhToken
            | Endpoint::YlhCreateOrder
            | Endpoint::YlhCancelOrder
            | Endpoint::YlhReschedule
            | Endpoint::YlhDeliveryPhotos
            | Endpoint::YlhStoreLogistics => Service::Ylh,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Lock-free counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    calls: [AtomicU64; 12],
    too_many_requests: AtomicU64,
    rate_limited: AtomicU64,
    unauthorized: AtomicU64,
    tokens_issued: AtomicU64,
    ylh_tokens_issued: AtomicU64,
    faults: [AtomicU64; 5],
    orders_received: AtomicU64,
    duplicates_refused: AtomicU64,
    cancels_received: AtomicU64,
    callbacks_sent: [AtomicU64; 3],
    callback_duplicates_sent: AtomicU64,
    callback_attempts: AtomicU64,
    callback_deliveries_failed: AtomicU64,
    callbacks_unsent: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Stats {
    /// A call arrived (before any limit or fault).
    pub(crate) fn call(&self, e: Endpoint) {
        bump(&self.calls[e.index()]);
    }

    /// A 429 came from the rate limit.
    pub(crate) fn rate_limited(&self) {
        bump(&self.rate_limited);
        bump(&self.too_many_requests);
    }

    /// A fault was served.
    pub(crate) fn fault(&self, kind: FaultKind) {
        bump(&self.faults[kind.index()]);
        if kind == FaultKind::Burst429 {
            bump(&self.too_many_requests);
        }
    }

    /// A call was refused for its token.
    pub(crate) fn unauthorized(&self) {
        bump(&self.unauthorized);
    }

    /// A token was issued.
    pub(crate) fn token_issued(&self, service: Service) {
        match service {
            Service::OpenPlatform => bump(&self.tokens_issued),
            Service::Ylh => bump(&self.ylh_tokens_issued),
        }
    }

    /// An order was accepted (Y1).
    pub(crate) fn order_received(&self) {
        bump(&self.orders_received);
    }

    /// An order was refused for its already known `soId`.
    pub(crate) fn duplicate_refused(&self) {
        bump(&self.duplicates_refused);
    }

    /// A cancel request was accepted (Y2).
    pub(crate) fn cancel_received(&self) {
        bump(&self.cancels_received);
    }

    /// A callback delivery started; `duplicate` for the repeated delivery of one.
    pub(crate) fn callback_sent(&self, method: CallbackMethod, duplicate: bool) {
        bump(&self.callbacks_sent[method.index()]);
        if duplicate {
            bump(&self.callback_duplicates_sent);
        }
    }

    /// One HTTP attempt of a callback delivery was made.
    pub(crate) fn callback_attempt(&self) {
        bump(&self.callback_attempts);
    }

    /// A callback delivery failed on every attempt.
    pub(crate) fn callback_failed(&self) {
        bump(&self.callback_deliveries_failed);
    }

    /// A callback was due while no callback URL was set.
    pub(crate) fn callback_unsent(&self) {
        bump(&self.callbacks_unsent);
    }

    /// The JSON of `/_sandbox/stats`.
    pub(crate) fn snapshot(&self, mode: FaultMode) -> Value {
        let calls: Map<String, Value> = Endpoint::ALL
            .iter()
            .map(|e| (e.name().to_owned(), get(&self.calls[e.index()]).into()))
            .collect();
        let total: u64 = self.calls.iter().map(get).sum();
        let faults: Map<String, Value> = FaultKind::ALL
            .iter()
            .map(|k| (k.name().to_owned(), get(&self.faults[k.index()]).into()))
            .collect();
        let faults_total: u64 = self.faults.iter().map(get).sum();
        let callbacks: Map<String, Value> = CallbackMethod::ALL
            .iter()
            .map(|m| {
                let n = get(&self.callbacks_sent[m.index()]);
                (m.name().to_owned(), n.into())
            })
            .collect();
        json!({
            "calls": calls,
            "calls_total": total,
            "too_many_requests": get(&self.too_many_requests),
            "rate_limited": get(&self.rate_limited),
            "unauthorized": get(&self.unauthorized),
            "tokens_issued": get(&self.tokens_issued),
            "ylh_tokens_issued": get(&self.ylh_tokens_issued),
            "fault_mode": mode.as_str(),
            "faults": faults,
            "faults_total": faults_total,
            "orders_received": get(&self.orders_received),
            "duplicates_refused": get(&self.duplicates_refused),
            "cancels_received": get(&self.cancels_received),
            "callbacks_sent": callbacks,
            "callback_duplicates_sent": get(&self.callback_duplicates_sent),
            "callback_attempts": get(&self.callback_attempts),
            "callback_deliveries_failed": get(&self.callback_deliveries_failed),
            "callbacks_unsent": get(&self.callbacks_unsent),
        })
    }
}
