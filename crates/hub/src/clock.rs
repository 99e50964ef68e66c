//! The clock the outbox reads: the system's time plus an offset that only tests move.
//!
//! Retry schedules run for hours (the outbound webhooks' last retry is some 33 hours
//! after the first attempt). The worker computes every due time and claims due jobs by
//! this clock, so a test can step it forward to each due time and watch the attempts
//! happen at the schedule's offsets without waiting. In production the offset is zero and
//! the clock is the system's.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::types::UtcTime;

/// The system's time, shifted by an offset that only moves forward. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The system's time (offset zero).
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The current time by this clock.
    pub fn now(&self) -> UtcTime {
        let real = UtcTime::now();
        UtcTime::from_micros(
            real.as_micros()
                .saturating_add(self.offset_micros.load(Ordering::SeqCst)),
        )
        .unwrap_or(real)
    }

    /// `d` from now by this clock.
    pub fn later(&self, d: Duration) -> UtcTime {
        add(self.now(), d)
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4);
        self.offset_micros.fetch_add(micros, Ordering::SeqCst);
    }

    /// Moves the clock forward to `t`; a time already passed leaves it as it is.
    pub fn advance_to(&self, t: UtcTime) {
        let ahead = t.as_micros() - self.now().as_micros();
        if ahead > 0 {
            self.offset_micros.fetch_add(ahead, Ordering::SeqCst);
        }
    }
}

/// `t` plus `d` (saturating at the far future).
pub fn add(t: UtcTime, d: Duration) -> UtcTime {
    let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4);
    UtcTime::from_micros(t.as_micros().saturating_add(micros)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone_forward_only() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = UtcTime::now();
        clock.advance(Duration::from_secs(3600));
        assert!(other.now().millis_since(before) >= 3_600_000);
        let ahead = other.now();
        clock.advance_to(before);
        assert!(clock.now() >= ahead);
    }
}
