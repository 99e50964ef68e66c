//! Fault injection: seeded draws that decide, per business or token call, whether the
//! platform misbehaves and how; plus faults queued through `/_sandbox/faults/next`,
//! served before any draw.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::rng::Rng;

/// How much the sandbox misbehaves.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    /// A well-behaved platform.
    #[default]
    None,
    /// A few percent of calls fail in some way.
    Flaky,
    /// About a fifth of calls fail; a client with retries still gets through.
    Hostile,
}

impl FaultMode {
    /// The name used on the command line and in `/_sandbox/faults`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultMode::None => "none",
            FaultMode::Flaky => "flaky",
            FaultMode::Hostile => "hostile",
        }
    }

    /// Per-mille chances of each kind, in [`FaultKind::ALL`] order.
    fn rates(self) -> [u64; 5] {
        match self {
            FaultMode::None => [0; 5],
            // 5xx, hang, 429 burst start, malformed, revocation: about 4 % of calls
            // affected once bursts (4–5 calls each) are counted.
            FaultMode::Flaky => [15, 2, 4, 5, 3],
            // About 21 % of calls affected.
            FaultMode::Hostile => [80, 10, 15, 40, 15],
        }
    }
}

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// HTTP 500, 502 or 503.
    ServerError,
    /// The answer comes only after the configured hang.
    Hang,
    /// A 429 with `Retry-After`, for this call and the next few.
    Burst429,
    /// HTTP 200 with a truncated JSON body.
    MalformedJson,
    /// Every issued token becomes invalid.
    TokenRevocation,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub(crate) const ALL: [FaultKind; 5] = [
        FaultKind::ServerError,
        FaultKind::Hang,
        FaultKind::Burst429,
        FaultKind::MalformedJson,
        FaultKind::TokenRevocation,
    ];

    /// The key in `/_sandbox/stats`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            FaultKind::ServerError => "server_error",
            FaultKind::Hang => "hang",
            FaultKind::Burst429 => "burst_429",
            FaultKind::MalformedJson => "malformed_json",
            FaultKind::TokenRevocation => "token_revocation",
        }
    }

    /// The kind named `name` in `/_sandbox/stats`.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub(crate) fn index(self) -> usize {
        match self {
            FaultKind::ServerError => 0,
            FaultKind::Hang => 1,
            FaultKind::Burst429 => 2,
            FaultKind::MalformedJson => 3,
            FaultKind::TokenRevocation => 4,
        }
    }
}

/// What to do to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer with this 5xx status. Most calls fail at once; an endpoint whose failure
    /// must stay ambiguous (order creation) processes the call first when
    /// `after_processing` is set, then fails anyway.
    ServerError {
        /// 500, 502 or 503.
        status: u16,
        /// Whether an ambiguity-preserving endpoint processes the call first.
        after_processing: bool,
    },
    /// Wait for the hang, then answer normally.
    Hang,
    /// Answer 429 (part of a burst).
    Throttle,
    /// Process normally, then truncate the body.
    MalformedJson,
    /// Revoke every token, then process (so this very call gets a 401).
    RevokeTokens,
}

impl Fault {
    /// The kind counted in stats.
    pub(crate) fn kind(self) -> FaultKind {
        match self {
            Fault::ServerError { .. } => FaultKind::ServerError,
            Fault::Hang => FaultKind::Hang,
            Fault::Throttle => FaultKind::Burst429,
            Fault::MalformedJson => FaultKind::MalformedJson,
            Fault::RevokeTokens => FaultKind::TokenRevocation,
        }
    }
}

/// A fault queued for one coming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    /// What to inject.
    pub(crate) kind: FaultKind,
    /// Only for calls to this endpoint (its stats name); any call if `None`.
    pub(crate) endpoint: Option<String>,
    /// For a server error: processed first or not; drawn if `None`.
    pub(crate) after_processing: Option<bool>,
}

#[derive(Debug)]
struct Inner {
    mode: FaultMode,
    rng: Rng,
    /// Calls still to be throttled by the current burst.
    burst_left: u32,
    /// Faults to serve before any draw, oldest first.
    queue: VecDeque<Queued>,
}

/// The most faults that may wait in the queue.
pub(crate) const MAX_QUEUED: usize = 1000;

/// The fault injector: the mode (switchable at run time) and its seeded draws.
#[derive(Debug)]
pub(crate) struct Faults {
    inner: Mutex<Inner>,
}

impl Faults {
    pub(crate) fn new(mode: FaultMode, seed: u64) -> Self {
        Faults {
            inner: Mutex::new(Inner {
                mode,
                rng: Rng::new(seed, 0xFA_017),
                burst_left: 0,
                queue: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn mode(&self) -> FaultMode {
        self.lock().mode
    }

    /// Switches the mode; a burst in progress ends.
    pub(crate) fn set_mode(&self, mode: FaultMode) {
        let mut inner = self.lock();
        inner.mode = mode;
        inner.burst_left = 0;
    }

    /// Queues faults for coming calls; false (and nothing queued) if the queue would
    /// grow past [`MAX_QUEUED`].
    pub(crate) fn enqueue(&self, faults: Vec<Queued>) -> bool {
        let mut inner = self.lock();
        if inner.queue.len() + faults.len() > MAX_QUEUED {
            return false;
        }
        inner.queue.extend(faults);
        true
    }

    /// How many queued faults wait.
    pub(crate) fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Drops every queued fault.
    pub(crate) fn clear_queue(&self) {
        self.lock().queue.clear();
    }

    /// Draws the fault for one call to `endpoint` (its stats name): the oldest queued
    /// fault for it if there is one, else a draw by the mode. `revocable` is false for
    /// token calls, which have no token to lose.
    pub(crate) fn draw(&self, endpoint: &str, revocable: bool) -> Option<Fault> {
        let mut inner = self.lock();
        let queued = inner
            .queue
            .iter()
            .position(|q| q.endpoint.as_deref().is_none_or(|e| e == endpoint));
        if let Some(i) = queued
            && let Some(q) = inner.queue.remove(i)
        {
            return inner.make(q.kind, q.after_processing, revocable);
        }
        if inner.mode == FaultMode::None {
            return None;
        }
        if inner.burst_left > 0 {
            inner.burst_left -= 1;
            return Some(Fault::Throttle);
        }
        let rates = inner.mode.rates();
        let mut x = inner.rng.below(1000);
        let mut drawn = None;
        for kind in FaultKind::ALL {
            let rate = rates[kind.index()];
            if x < rate {
                drawn = Some(kind);
                break;
            }
            x -= rate;
        }
        inner.make(drawn?, None, revocable)
    }
}

impl Inner {
    /// The fault of a kind, with its details drawn.
    fn make(&mut self, kind: FaultKind, after: Option<bool>, revocable: bool) -> Option<Fault> {
        match kind {
            FaultKind::ServerError => {
                let status = *self.rng.pick(&[500u16, 500, 502, 503]);
                let drawn = self.rng.chance(500);
                Some(Fault::ServerError {
                    status,
                    after_processing: after.unwrap_or(drawn),
                })
            }
            FaultKind::Hang => Some(Fault::Hang),
            FaultKind::Burst429 => {
                self.burst_left = self.rng.range(2, 5) as u32;
                Some(Fault::Throttle)
            }
            FaultKind::MalformedJson => Some(Fault::MalformedJson),
            FaultKind::TokenRevocation if revocable => Some(Fault::RevokeTokens),
            FaultKind::TokenRevocation => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_draws_nothing_and_hostile_draws_every_kind() {
        let f = Faults::new(FaultMode::None, 1);
        assert!((0..1000).all(|_| f.draw("stock", true).is_none()));
        f.set_mode(FaultMode::Hostile);
        let draws: Vec<Option<Fault>> = (0..2000).map(|_| f.draw("stock", true)).collect();
        let faulted = draws.iter().filter(|d| d.is_some()).count();
        assert!((250..=650).contains(&faulted), "{faulted}");
        for kind in FaultKind::ALL {
            assert!(draws.iter().flatten().any(|d| d.kind() == kind), "{kind:?}");
        }
        let after: Vec<bool> = draws
            .iter()
            .flatten()
            .filter_map(|d| match d {
                Fault::ServerError {
                    after_processing, ..
                } => Some(*after_processing),
                _ => None,
            })
            .collect();
        assert!(after.contains(&true) && after.contains(&false));
    }

    #[test]
    fn queued_faults_come_first_and_only_for_their_endpoint() {
        let f = Faults::new(FaultMode::None, 1);
        assert!(f.enqueue(vec![
            Queued {
                kind: FaultKind::Hang,
                endpoint: Some("ylh_create_order".to_owned()),
                after_processing: None,
            },
            Queued {
                kind: FaultKind::ServerError,
                endpoint: None,
                after_processing: Some(true),
            },
        ]));
        assert!(matches!(
            f.draw("stock", true),
            Some(Fault::ServerError {
                after_processing: true,
                ..
            })
        ));
        assert_eq!(f.draw("stock", true), None);
        assert_eq!(f.draw("ylh_create_order", true), Some(Fault::Hang));
        assert_eq!(f.queued(), 0);
        let many = vec![
            Queued {
                kind: FaultKind::Hang,
                endpoint: None,
                after_processing: None,
            };
            MAX_QUEUED + 1
        ];
        assert!(!f.enqueue(many));
        assert_eq!(f.queued(), 0);
    }

    #[test]
    fn token_calls_are_never_revoked() {
        let f = Faults::new(FaultMode::Hostile, 3);
        assert!((0..3000).all(|_| f.draw("token", false) != Some(Fault::RevokeTokens)));
    }
}
