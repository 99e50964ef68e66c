//! Failure-rate monitoring of external systems: a system whose calls keep failing goes to
//! `error`, and back to `active` when its calls succeed again.
//!
//! Every supplier client this instance builds for a system (the live supplier's Open
//! Platform and YLH clients, the scheduler's and the API's sync runs, the operator
//! tools) reports each HTTP attempt to the instance's [`HealthWatch`], named by the
//! system's id. An attempt counts as:
//! - a **failure** when the system did not work: a timeout, no HTTP answer, HTTP 5xx, an
//!   answer that cannot be decoded, or credentials it refuses (401);
//! - a **success** when it answered: HTTP 2xx, and also a business refusal or another 4xx
//!   (the system works; that one request was refused);
//! - **nothing** for HTTP 429: throttling is ours to avoid, not the system failing.
//!
//! Every `[system_health] check_secs` the watch looks at each system's attempts of the
//! last `window_secs`:
//! - an `active` system with at least `min_calls` of them, of which at least
//!   `failure_threshold` failed, and whose latest attempts are not `recover_after`
//!   successes in a row, goes to `error`; its `last_error` tells why (`failure
//!   rate: 62 % of 40 calls failed in the last 300 s`) and `system.status_changed` is
//!   emitted in the same transaction;
//! - a system in `error` for that reason whose last `recover_after` attempts all
//!   succeeded goes back to `active`, with the event too. A system put in `error` for
//!   another reason (a failed connection test, a disabled webhook endpoint) is left for
//!   the operator: only a new test or an edit brings it back.
//!
//! Each move is a compare-and-set on the stored status, so when several instances watch
//! the same system it happens, and is emitted, once. Each instance judges by its own
//! calls, and only by those that ended after the system last changed: an instance whose
//! failures predate another's recovery of the system does not move it back. A system in `error` stays in use (only `inactive` and archived take a supplier
//! out of use), so its calls can show that it works again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::store::{Db, StoreResult};
use crate::types::UtcTime;

/// How a `last_error` set by the watch begins; only such an `error` is lifted by it.
pub const REASON_PREFIX: &str = "failure rate: ";

/// `[system_health]`: the failure-rate monitor's settings.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Whether the monitor moves statuses (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The window the failure rate is taken over, in seconds (default 300, 10 to 86400).
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
    /// The failure rate, 0.01 to 1, at or above which a system goes to `error` (default
    /// 0.5).
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: f64,
    /// Counted attempts the window needs before the rate is judged (default 20, at least
    /// 1).
    #[serde(default = "default_min_calls")]
    pub min_calls: u32,
    /// Consecutive successful attempts that bring a system back to `active` (default 5,
    /// at least 1).
    #[serde(default = "default_recover_after")]
    pub recover_after: u32,
    /// Seconds between two looks (default 30, 1 to 3600).
    #[serde(default = "default_check_secs")]
    pub check_secs: u64,
}

fn default_true() -> bool {
    true
}
fn default_window_secs() -> u64 {
    300
}
fn default_failure_threshold() -> f64 {
    0.5
}
fn default_min_calls() -> u32 {
    20
}
fn default_recover_after() -> u32 {
    5
}
fn default_check_secs() -> u64 {
    30
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            enabled: true,
            window_secs: default_window_secs(),
            failure_threshold: default_failure_threshold(),
            min_calls: default_min_calls(),
            recover_after: default_recover_after(),
            check_secs: default_check_secs(),
        }
    }
}

impl HealthConfig {
    /// Checks the ranges; the setting at fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(10..=86_400).contains(&self.window_secs) {
            return Err((
                "system_health.window_secs",
                format!("must be 10 to 86400, got {}", self.window_secs),
            ));
        }
        if !(0.01..=1.0).contains(&self.failure_threshold) {
            return Err((
                "system_health.failure_threshold",
                format!("must be 0.01 to 1, got {}", self.failure_threshold),
            ));
        }
        if self.min_calls == 0 {
            return Err(("system_health.min_calls", "must be at least 1".to_owned()));
        }
        if self.recover_after == 0 {
            return Err((
                "system_health.recover_after",
                "must be at least 1".to_owned(),
            ));
        }
        if !(1..=3600).contains(&self.check_secs) {
            return Err((
                "system_health.check_secs",
                format!("must be 1 to 3600, got {}", self.check_secs),
            ));
        }
        Ok(())
    }
}

/// Whether an attempt that ended with `outcome` shows the system working (`Some(true)`),
/// failing (`Some(false)`), or neither (429).
pub fn verdict(outcome: haier::Outcome) -> Option<bool> {
    use haier::Outcome as O;
    match outcome {
        O::RateLimited => None,
        O::Timeout | O::Transport | O::Server | O::Decode | O::Auth => Some(false),
        _ => Some(true),
    }
}

/// The attempts of one system in the window.
#[derive(Default)]
struct Window {
    /// When each counted attempt ended and whether it succeeded, oldest first.
    calls: VecDeque<(UtcTime, bool)>,
}

/// What the attempts ended after a moment show: how many, how many failed, and how many
/// succeeded in a row at the end.
fn tally(calls: &VecDeque<(UtcTime, bool)>, after: UtcTime) -> (u32, u32, u32) {
    let recent = calls.iter().filter(|(t, _)| *t > after);
    let (mut counted, mut failed, mut streak) = (0u32, 0u32, 0u32);
    for (_, ok) in recent {
        counted = counted.saturating_add(1);
        if *ok {
            streak = streak.saturating_add(1);
        } else {
            failed = failed.saturating_add(1);
            streak = 0;
        }
    }
    (counted, failed, streak)
}

fn minus(at: UtcTime, span: Duration) -> UtcTime {
    let micros = i64::try_from(span.as_micros()).unwrap_or(i64::MAX);
    UtcTime::from_micros(at.as_micros().saturating_sub(micros)).unwrap_or(at)
}

/// A move the watch made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The system.
    pub system_id: String,
    /// `active` → `error`, or `error` → `active`.
    pub from: String,
    /// The new status.
    pub to: String,
    /// Why (the `last_error` set, or `calls succeed again`).
    pub reason: String,
}

/// This instance's record of its calls to each system (see the module documentation).
/// Cheap to clone: clones share the record.
#[derive(Clone)]
pub struct HealthWatch {
    inner: Arc<Inner>,
}

struct Inner {
    settings: HealthConfig,
    windows: Mutex<HashMap<String, Window>>,
}

impl Default for HealthWatch {
    fn default() -> Self {
        HealthWatch::new(HealthConfig::default())
    }
}

impl std::fmt::Debug for HealthWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthWatch")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Reports a client's attempts to the watch under a system's id.
struct Observer {
    watch: HealthWatch,
    system_id: String,
}

impl haier::CallObserver for Observer {
    fn on_call(&self, record: &haier::CallRecord) {
        self.watch
            .record(&self.system_id, record.outcome, UtcTime::now());
    }
}

/// Passes each attempt to several observers.
pub struct Tee(pub Vec<Arc<dyn haier::CallObserver>>);

impl haier::CallObserver for Tee {
    fn on_call(&self, record: &haier::CallRecord) {
        for o in &self.0 {
            o.on_call(record);
        }
    }
}

impl HealthWatch {
    /// A watch with `settings`.
    pub fn new(settings: HealthConfig) -> HealthWatch {
        HealthWatch {
            inner: Arc::new(Inner {
                settings,
                windows: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.inner
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An observer that reports a client's attempts as those of system `system_id`.
    pub fn observer(&self, system_id: &str) -> Arc<dyn haier::CallObserver> {
        Arc::new(Observer {
            watch: self.clone(),
            system_id: system_id.to_owned(),
        })
    }

    /// `observer` and this watch's observer for `system_id`, as one.
    pub fn tee(
        &self,
        system_id: &str,
        observer: Option<Arc<dyn haier::CallObserver>>,
    ) -> Arc<dyn haier::CallObserver> {
        match observer {
            Some(o) => Arc::new(Tee(vec![o, self.observer(system_id)])),
            None => self.observer(system_id),
        }
    }

    /// Records an attempt of system `system_id` that ended `at` with `outcome`.
    pub fn record(&self, system_id: &str, outcome: haier::Outcome, at: UtcTime) {
        let Some(ok) = verdict(outcome) else {
            return;
        };
        let oldest = minus(at, Duration::from_secs(self.inner.settings.window_secs));
        let mut windows = self.windows();
        let w = windows.entry(system_id.to_owned()).or_default();
        w.calls.push_back((at, ok));
        while w.calls.front().is_some_and(|(t, _)| *t < oldest) {
            w.calls.pop_front();
        }
    }

    /// Looks at every system's window as of `now` and makes the moves it calls for (see
    /// the module documentation). Only attempts that ended after the system's last change
    /// count: what an instance saw before another moved the system is not held against
    /// it again. The moves made; fails only when the database does.
    pub async fn check(&self, db: &Db, now: UtcTime) -> StoreResult<Vec<Transition>> {
        let s = self.inner.settings;
        let oldest = minus(now, Duration::from_secs(s.window_secs));
        let ids: Vec<String> = {
            let mut windows = self.windows();
            windows.retain(|_, w| {
                while w.calls.front().is_some_and(|(t, _)| *t < oldest) {
                    w.calls.pop_front();
                }
                !w.calls.is_empty()
            });
            windows.keys().cloned().collect()
        };
        // (system, counted, failed, streak) since the later of the window's start and
        // the system's last change.
        let mut looks = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(row) = crate::store::systems::get(db, &id).await? else {
                continue;
            };
            let after = if row.updated_at > oldest {
                row.updated_at
            } else {
                oldest
            };
            if let Some(w) = self.windows().get(&id) {
                let (counted, failed, streak) = tally(&w.calls, after);
                looks.push((id, counted, failed, streak));
            }
        }
        let mut moves = Vec::new();
        for (id, counted, failed, streak) in looks {
            let rate = f64::from(failed) / f64::from(counted.max(1));
            if streak >= s.recover_after {
                let reason = "calls succeed again".to_owned();
                if crate::store::systems::change_status_if(
                    db,
                    &id,
                    "error",
                    "active",
                    None,
                    Some(REASON_PREFIX),
                )
                .await?
                {
                    info!(system = %id, "the system's calls succeed again: its status is now active");
                    moves.push(Transition {
                        system_id: id,
                        from: "error".to_owned(),
                        to: "active".to_owned(),
                        reason,
                    });
                }
            } else if counted >= s.min_calls && rate >= s.failure_threshold {
                let reason = format!(
                    "{REASON_PREFIX}{:.0} % of {counted} calls failed in the last {} s",
                    rate * 100.0,
                    s.window_secs
                );
                if crate::store::systems::change_status_if(
                    db,
                    &id,
                    "active",
                    "error",
                    Some(&reason),
                    None,
                )
                .await?
                {
                    warn!(system = %id, reason = %reason, "the system is failing: its status is now error");
                    moves.push(Transition {
                        system_id: id,
                        from: "active".to_owned(),
                        to: "error".to_owned(),
                        reason,
                    });
                }
            }
        }
        for m in &moves {
            crate::metrics::system_status_change(&m.to);
        }
        Ok(moves)
    }

    /// Looks every `check_secs` until `shutdown` (nothing when disabled).
    pub async fn run(self, db: Db, shutdown: CancellationToken) {
        if !self.inner.settings.enabled {
            return;
        }
        let every = Duration::from_secs(self.inner.settings.check_secs);
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.cancelled() => return,
            }
            if let Err(e) = self.check(&db, UtcTime::now()).await {
                warn!(error = ?e, "cannot judge the external systems' failure rates");
            }
        }
    }
}
