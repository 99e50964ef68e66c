//! A small circuit breaker in front of one vendor host.
//!
//! - **Closed**: calls pass; consecutive transient failures (of attempts,
//!   so one call with retries may count several times) are counted, and
//!   any healthy answer (success, business rejection, 4xx: the host works)
//!   resets the count. At `threshold` failures the breaker opens.
//! - **Open**: calls fail at once with [`Error::CircuitOpen`](crate::Error)
//!   until `cooldown` has passed.
//! - **Half-open**: one probe is let through; its success closes the
//!   breaker, its transient failure opens it for another cool-down. Other
//!   calls fail fast while the probe runs. A probe that is dropped without a
//!   verdict (its future cancelled) frees the slot for the next caller.
//!
//! A threshold of 0 disables the breaker.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The state of a breaker, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls fail fast until the cool-down ends.
    Open,
    /// One probe call may pass.
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The breaker of one client.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

/// Leave to make one call; report its verdict with [`Permit::record`].
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a plain value, valid even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state at `now` (an open breaker whose cool-down has passed shows
    /// as half-open).
    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if now >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call at `now`; `None` means fail fast.
    pub(crate) fn try_acquire(&self, now: Instant) -> Option<Permit<'_>> {
        if self.threshold == 0 {
            return Some(self.permit(false));
        }
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Some(self.permit(false)),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probing: true };
                Some(self.permit(true))
            }
            State::Open { .. } | State::HalfOpen { probing: true } => None,
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Some(self.permit(true))
            }
        }
    }

    fn permit(&self, probe: bool) -> Permit<'_> {
        Permit {
            breaker: self,
            probe,
            recorded: false,
        }
    }
}

impl Permit<'_> {
    /// Reports how the call went: `transient_failure` is true for a timeout,
    /// transport error, 429 or 5xx, false for any answer that shows the
    /// host is working.
    pub(crate) fn record(mut self, transient_failure: bool, now: Instant) {
        self.recorded = true;
        let breaker = self.breaker;
        if breaker.threshold == 0 {
            return;
        }
        let mut state = breaker.lock();
        if !transient_failure {
            *state = State::Closed { failures: 0 };
            return;
        }
        let open = State::Open {
            until: now + breaker.cooldown,
        };
        match *state {
            State::Closed { failures } => {
                let failures = failures.saturating_add(1);
                *state = if failures >= breaker.threshold {
                    tracing::warn!(
                        failures,
                        cooldown_ms =
                            u64::try_from(breaker.cooldown.as_millis()).unwrap_or(u64::MAX),
                        "haier circuit breaker opened"
                    );
                    open
                } else {
                    State::Closed { failures }
                };
            }
            State::HalfOpen { .. } if self.probe => *state = open,
            // A call that started before the breaker opened; the breaker
            // already knows.
            State::HalfOpen { .. } | State::Open { .. } => {}
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            let mut state = self.breaker.lock();
            if let State::HalfOpen { probing: true } = *state {
                *state = State::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let b = Breaker::new(3, COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..2 {
            b.try_acquire(t0).unwrap().record(true, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.try_acquire(t0).unwrap().record(true, t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert!(b.try_acquire(t0 + Duration::from_secs(29)).is_none());
    }

    #[test]
    fn healthy_answers_reset_the_count() {
        let b = Breaker::new(3, COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..2 {
            b.try_acquire(t0).unwrap().record(true, t0);
        }
        b.try_acquire(t0).unwrap().record(false, t0);
        for _ in 0..2 {
            b.try_acquire(t0).unwrap().record(true, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
    }

    #[test]
    fn half_open_lets_one_probe_through() {
        let b = Breaker::new(1, COOLDOWN);
        let t0 = Instant::now();
        b.try_acquire(t0).unwrap().record(true, t0);
        let later = t0 + COOLDOWN;
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        let probe = b.try_acquire(later).unwrap();
        assert!(b.try_acquire(later).is_none(), "only one probe at a time");
        probe.record(false, later);
        assert_eq!(b.state(later), BreakerState::Closed);
        assert!(b.try_acquire(later).is_some());
    }

    #[test]
    fn failed_probe_reopens_for_another_cooldown() {
        let b = Breaker::new(1, COOLDOWN);
        let t0 = Instant::now();
        b.try_acquire(t0).unwrap().record(true, t0);
        let t1 = t0 + COOLDOWN;
        b.try_acquire(t1).unwrap().record(true, t1);
        assert!(b.try_acquire(t1 + Duration::from_secs(29)).is_none());
        assert!(b.try_acquire(t1 + COOLDOWN).is_some());
    }

    #[test]
    fn dropped_probe_frees_the_slot() {
        let b = Breaker::new(1, COOLDOWN);
        let t0 = Instant::now();
        b.try_acquire(t0).unwrap().record(true, t0);
        let t1 = t0 + COOLDOWN;
        drop(b.try_acquire(t1).unwrap());
        assert!(b.try_acquire(t1).is_some());
    }

    #[test]
    fn threshold_zero_never_opens() {
        let b = Breaker::new(0, COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..100 {
            b.try_acquire(t0).unwrap().record(true, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
    }
}
