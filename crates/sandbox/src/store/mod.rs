//! Simulated store systems that talk to the hub through Standard Webhooks
//! ([`crate::standard_webhooks`]): a POS, a member system and a supplier that send signed
//! events with state, and a receiver for the hub's outbound webhooks.
//!
//! Each system is registered under the hub's external-system id, with a kind (`pos`,
//! `member`, `supplier`), a payload shape (see [`shapes`]: `canonical`, `pos_nested`,
//! `member_flat`, `supplier_edi`), a target URL (`{hub}/webhooks/{system_id}`) and the
//! `whsec_` secrets the hub handed out: `send` secrets sign what it sends (every one, as
//! space-separated `v1` entries, so rotation is exercised) and `receive` secrets verify
//! what the hub delivers to `POST /_sandbox/webhooks/{system_id}`.
//!
//! **Events.** The POS sells (1–3 lines, some discounted), refunds part of a sale that
//! has something left (never more units or money than remain) and voids sales with no
//! refund; the member system creates members (version 1) and changes them (version + 1,
//! `updated_at` strictly increasing); the supplier creates purchase orders (`pending`)
//! and moves them `pending → confirmed → shipped → delivered`, or cancels a pending or
//! confirmed one. The *ledger* is the truth the hub should converge to. Every event is
//! one Standard Webhooks message with its own `webhook-id` (`msg_` + 26 base32
//! characters); retries keep it.
//!
//! **Faults** (per system; the `--faults` profile sets the defaults at registration):
//! `duplicate_rate` (a delivered message is sent again, byte for byte: same id, same
//! timestamp, same signature), `bad_signature_rate` (a copy signed with a wrong key comes
//! first, then the genuine message), `stale_timestamp_rate` (a copy signed ten minutes in
//! the past comes first, then the genuine one), `out_of_order` (each batch is delivered
//! in a shuffled order; the ledger keeps the newest), `attempts` and `retry_backoff_ms`
//! (a 5xx, 408, 429 or transport failure is retried with doubling backoff, at least
//! `Retry-After`, at most 60 s, same `webhook-id`, fresh timestamp and signature).
//! Deliberately bad copies are never retried. Profiles: `none` (no faults, 3 attempts,
//! 200 ms), `flaky` (duplicates 5 %, bad signatures 2 %, stale 2 %), `hostile`
//! (duplicates 20 %, bad signatures 10 %, stale 5 %, out of order).
//!
//! **Receiver.** `POST /_sandbox/webhooks/{system_id}` verifies with the system's
//! `receive` secrets: a missing header, a malformed id or timestamp, or a timestamp more
//! than 5 minutes off → 400; no matching signature (or no secret) → 401; an id seen
//! before with another body → 409; an id seen with the same body → 200
//! `{"duplicate": true}` and not recorded again; otherwise the delivery is recorded and
//! answered 200 `{"received": true}` — unless a failure mode is set, in which case it
//! answers that status (with `Retry-After` if set) and records nothing.
//!
//! **Control API** (JSON; errors `{code, detail}`):
//!
//! | call | does |
//! |---|---|
//! | `POST /_sandbox/store/systems {"id","kind","shape"?,"target_url"? \| "hub_url"?}` | registers a system (201); `hub_url` gives `{hub_url}/webhooks/{id}`; 409 if the id is taken |
//! | `GET /_sandbox/store/systems`, `GET`/`DELETE /_sandbox/store/systems/{id}` | lists, shows or forgets systems (secrets are only counted; `mapping` is the JSONPath mapping, in the hub's format, from the system's shape to the canonical record) |
//! | `POST /_sandbox/store/systems/{id}/secrets {"send"?:[…],"receive"?:[…]}` | replaces either list of `whsec_` secrets |
//! | `POST /_sandbox/store/systems/{id}/events {"count"?,"action"?,"concurrency"?}` | produces and delivers `count` (1, at most 10,000) events now, `concurrency` (1, at most 256) at a time; waits for every attempt; answers each event's id, type, final status and attempts |
//! | `POST /_sandbox/store/systems/{id}/burst {"count","concurrency"?,"action"?}` | the same as fast as possible, 16 at a time by default; answers counts by status, the ids and `elapsed_ms` |
//! | `GET`/`POST /_sandbox/store/systems/{id}/faults {…}` | reads or changes the faults (only the keys given) |
//! | `GET /_sandbox/store/systems/{id}/ledger` | the truth: sales with refunded and remaining amounts, members at their newest version, purchase orders with state times |
//! | `GET /_sandbox/store/systems/{id}/deliveries` | every HTTP attempt: id, type, attempt, status (null on a transport error), fault |
//! | `GET /_sandbox/webhooks/{id}/received` | verified deliveries, once per id: id, type, timestamp, body |
//! | `GET /_sandbox/webhooks/{id}/attempts` | every request the receiver answered: id, status, reason |
//! | `POST /_sandbox/webhooks/{id}/failures {"status","count"?,"retry_after"?}`, `DELETE` | answer `status` (400–599) to the next `count` verified deliveries (always without `count`) |
//!
//! `action` is `any` (a realistic mix) or, per kind: POS `sale`, `refund`, `void`;
//! member `create`, `update`; supplier `create`, `advance`, `cancel`. An action with
//! nothing to act on (a refund before any sale) is 409 and produces nothing.

mod api;
pub(crate) mod model;
mod receive;
mod send;
pub(crate) mod shapes;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde_json::{Value, json};

pub(crate) use api::router;

use crate::faults::FaultMode;
use crate::rng::{Rng, fnv1a, mix};
use crate::standard_webhooks::Secret;
use crate::state::lock;
use model::{Book, Kind};
use receive::Inbox;
use shapes::Shape;

/// The most systems the sandbox keeps.
const MAX_SYSTEMS: usize = 1000;
/// The most delivery records kept per system; the oldest tenth goes when full.
const MAX_RECORDS: usize = 200_000;

/// A system's sender faults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct SendFaults {
    pub(crate) duplicate_rate: f64,
    pub(crate) bad_signature_rate: f64,
    pub(crate) stale_timestamp_rate: f64,
    pub(crate) out_of_order: bool,
    pub(crate) attempts: u32,
    pub(crate) retry_backoff_ms: u64,
}

impl SendFaults {
    /// The defaults a `--faults` profile gives new systems.
    pub(crate) fn profile(mode: FaultMode) -> SendFaults {
        let (duplicate_rate, bad_signature_rate, stale_timestamp_rate, out_of_order) = match mode {
            FaultMode::None => (0.0, 0.0, 0.0, false),
            FaultMode::Flaky => (0.05, 0.02, 0.02, false),
            FaultMode::Hostile => (0.20, 0.10, 0.05, true),
        };
        SendFaults {
            duplicate_rate,
            bad_signature_rate,
            stale_timestamp_rate,
            out_of_order,
            attempts: 3,
            retry_backoff_ms: 200,
        }
    }
}

/// One HTTP attempt a sender made.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeliveryRecord {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) type_name: &'static str,
    /// 1 for the first attempt of the genuine message; copies made by a fault carry the
    /// attempt they precede or follow.
    pub(crate) attempt: u32,
    /// What the hub answered; `None` when no answer came.
    pub(crate) status: Option<u16>,
    /// The transport error, when no answer came.
    pub(crate) error: Option<String>,
    /// `duplicate`, `bad_signature`, `stale_timestamp`, or `None` for the genuine one.
    pub(crate) fault: Option<&'static str>,
    pub(crate) at_ms: i64,
}

/// A simulated store system.
#[derive(Debug)]
pub(crate) struct System {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    pub(crate) shape: Shape,
    pub(crate) target_url: Option<String>,
    pub(crate) send_secrets: Vec<Secret>,
    pub(crate) receive_secrets: Vec<Secret>,
    pub(crate) faults: SendFaults,
    pub(crate) book: Book,
    /// Draws event contents.
    rng: Rng,
    /// Draws faults, ids and shuffles.
    fault_rng: Rng,
    /// Prefixes external ids, so two runs against one database do not collide.
    tag: String,
    pub(crate) deliveries: Vec<DeliveryRecord>,
    pub(crate) inbox: Inbox,
}

impl System {
    fn new(
        id: String,
        kind: Kind,
        shape: Shape,
        target_url: Option<String>,
        seed: u64,
        salt: u64,
        mode: FaultMode,
    ) -> System {
        let key = fnv1a(id.as_bytes());
        let tag_bits = mix(salt ^ key);
        let tag: String = (0..4)
            .map(|i| {
                char::from(
                    b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[((tag_bits >> (i * 5)) & 31) as usize],
                )
            })
            .collect();
        System {
            id,
            kind,
            shape,
            target_url,
            send_secrets: Vec::new(),
            receive_secrets: Vec::new(),
            faults: SendFaults::profile(mode),
            book: Book::new(kind),
            rng: Rng::new(seed ^ key, 0x5709E),
            fault_rng: Rng::new(seed ^ key ^ salt, 0xFA17),
            tag,
            deliveries: Vec::new(),
            inbox: Inbox::default(),
        }
    }

    fn record(&mut self, r: DeliveryRecord) {
        if self.deliveries.len() >= MAX_RECORDS {
            self.deliveries.drain(..MAX_RECORDS / 10);
        }
        self.deliveries.push(r);
    }

    /// What the control API shows of a system (never a secret).
    fn view(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind,
            "shape": self.shape,
            "mapping": self.shape.mapping(),
            "target_url": self.target_url,
            "send_secrets": self.send_secrets.len(),
            "receive_secrets": self.receive_secrets.len(),
            "faults": self.faults,
        })
    }

    /// The ledger: what the hub should end with.
    fn ledger(&self) -> Value {
        match &self.book {
            Book::Pos(b) => json!({ "kind": "pos", "sales": b.sales }),
            Book::Member(b) => json!({ "kind": "member", "members": b.members }),
            Book::Supplier(b) => {
                let orders: Vec<Value> = b
                    .orders
                    .iter()
                    .map(|o| {
                        let times: serde_json::Map<String, Value> = o
                            .times
                            .iter()
                            .map(|(s, at)| (s.name().to_owned(), (*at).into()))
                            .collect();
                        json!({
                            "external_id": o.external_id,
                            "state": o.state,
                            "lines": o.lines,
                            "delivery": o.delivery,
                            "state_times_ms": times,
                        })
                    })
                    .collect();
                json!({ "kind": "supplier", "orders": orders })
            }
        }
    }
}

/// Counters of the store side, shown under `store` in `/_sandbox/stats`.
#[derive(Debug, Default)]
pub(crate) struct StoreStats {
    events: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    duplicates_sent: AtomicU64,
    bad_signatures_sent: AtomicU64,
    stale_sent: AtomicU64,
    transport_errors: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
    received: AtomicU64,
    received_duplicates: AtomicU64,
    refused_malformed: AtomicU64,
    refused_stale: AtomicU64,
    refused_signature: AtomicU64,
    refused_conflict: AtomicU64,
    failures_played: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl StoreStats {
    fn answered(&self, status: Option<u16>) {
        bump(&self.attempts);
        match status {
            Some(s) => *lock(&self.by_status).entry(s).or_default() += 1,
            None => bump(&self.transport_errors),
        }
    }

    fn snapshot(&self, systems: usize) -> Value {
        let by_status: serde_json::Map<String, Value> = lock(&self.by_status)
            .iter()
            .map(|(s, n)| (s.to_string(), (*n).into()))
            .collect();
        json!({
            "systems": systems,
            "events": get(&self.events),
            "attempts": get(&self.attempts),
            "retries": get(&self.retries),
            "delivered": get(&self.delivered),
            "failed": get(&self.failed),
            "duplicates_sent": get(&self.duplicates_sent),
            "bad_signatures_sent": get(&self.bad_signatures_sent),
            "stale_timestamps_sent": get(&self.stale_sent),
            "transport_errors": get(&self.transport_errors),
            "answers_by_status": by_status,
            "received": get(&self.received),
            "received_duplicates": get(&self.received_duplicates),
            "refused_malformed": get(&self.refused_malformed),
            "refused_stale": get(&self.refused_stale),
            "refused_signature": get(&self.refused_signature),
            "refused_conflicting_id": get(&self.refused_conflict),
            "failures_played": get(&self.failures_played),
        })
    }
}

/// Every simulated store system, and the counters.
#[derive(Debug)]
pub(crate) struct Store {
    systems: Mutex<HashMap<String, System>>,
    pub(crate) stats: StoreStats,
    seed: u64,
    /// Differs on every start, so message and external ids of two runs never collide.
    salt: u64,
}

impl Store {
    /// An empty store side for `seed`.
    pub(crate) fn new(seed: u64) -> Store {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Store {
            systems: Mutex::new(HashMap::new()),
            stats: StoreStats::default(),
            seed,
            salt: mix(seed ^ nanos ^ 0x5703E),
        }
    }

    /// The JSON under `store` in `/_sandbox/stats`.
    pub(crate) fn stats_json(&self) -> Value {
        let n = lock(&self.systems).len();
        self.stats.snapshot(n)
    }
}
