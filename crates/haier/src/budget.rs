//! The request budget of one vendor account, shared by every client of it in a process
//! and, through [`Budget::set_share`], divided between the processes that use it.
//!
//! The vendor's rate limit belongs to the account (protocol §1.3: requests per second per
//! `client_id`), not to a client object or a process. A [`Budget`] paces every request
//! of the clients built with it ([`OpenPlatformBuilder::budget`], [`YlhBuilder::budget`])
//! at `limit / share` requests a second, spread evenly (no bursts), where `share` is the
//! number of processes known to use the account at the same time: each takes an equal
//! part. Who counts the processes is up to the caller (the hub keeps a registry of live
//! instances with heartbeats).
//!
//! Calls made inside [`in_background`] (sync runs) are paced a second time, at
//! `(1 - reserve)` of that rate, so that background work never takes the part kept for
//! calls a customer waits on (a checkout's stock check). Foreground calls may use the
//! whole rate.
//!
//! A change of the limit, the share or the reserve takes effect on the next request
//! that starts waiting; requests already waiting keep the pace they started with.
//!
//! [`OpenPlatformBuilder::budget`]: crate::OpenPlatformBuilder::budget
//! [`YlhBuilder::budget`]: crate::YlhBuilder::budget

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The largest part of the rate a [`Budget`] may keep for foreground calls: background
/// work always keeps a tenth.
pub const MAX_RESERVE: f64 = 0.9;

tokio::task_local! {
    static BACKGROUND: ();
}

/// Runs `fut` with every vendor request it makes (in its own task) paced as background
/// work: it leaves the budget's reserve to foreground calls.
pub async fn in_background<F: Future>(fut: F) -> F::Output {
    BACKGROUND.scope((), fut).await
}

/// Whether the current task runs inside [`in_background`].
pub fn is_background() -> bool {
    BACKGROUND.try_with(|()| ()).is_ok()
}

/// A shared, adjustable request budget (see the module documentation). Cheap to clone:
/// clones share the pacing.
#[derive(Clone)]
pub struct Budget {
    inner: Arc<RwLock<Pace>>,
}

/// The settings and the limiters they make.
struct Pace {
    limit: NonZeroU32,
    share: NonZeroU32,
    reserve: f64,
    /// Every request waits here: `limit / share` a second.
    all: Arc<DefaultDirectRateLimiter>,
    /// Background requests wait here first: `(1 - reserve)` of that; `None` when the
    /// reserve is 0.
    background: Option<Arc<DefaultDirectRateLimiter>>,
}

/// A limiter of `per_second` requests a second (possibly fractional), one at a time.
fn limiter(per_second: f64) -> Arc<DefaultDirectRateLimiter> {
    let period = Duration::from_secs_f64(1.0 / per_second.max(1e-3));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(quota))
}

impl Pace {
    fn new(limit: NonZeroU32, share: NonZeroU32, reserve: f64) -> Pace {
        let reserve = if reserve.is_finite() {
            reserve.clamp(0.0, MAX_RESERVE)
        } else {
            0.0
        };
        let rate = f64::from(limit.get()) / f64::from(share.get());
        Pace {
            limit,
            share,
            reserve,
            all: limiter(rate),
            background: (reserve > 0.0).then(|| limiter(rate * (1.0 - reserve))),
        }
    }
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pace = self.read();
        f.debug_struct("Budget")
            .field("limit", &pace.limit)
            .field("share", &pace.share)
            .field("reserve", &pace.reserve)
            .finish()
    }
}

impl Budget {
    /// The whole of an account's `limit` (requests a second) for this process, with no
    /// reserve.
    pub fn new(limit: NonZeroU32) -> Budget {
        Budget {
            inner: Arc::new(RwLock::new(Pace::new(limit, NonZeroU32::MIN, 0.0))),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Pace> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn change(&self, f: impl FnOnce(&Pace) -> Pace) {
        let mut pace = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *pace = f(&pace);
    }

    /// The account's limit, in requests a second.
    pub fn limit(&self) -> NonZeroU32 {
        self.read().limit
    }

    /// Sets the account's limit (requests a second); unchanged settings keep the pacing
    /// as it is.
    pub fn set_limit(&self, limit: NonZeroU32) {
        if self.read().limit != limit {
            self.change(|p| Pace::new(limit, p.share, p.reserve));
        }
    }

    /// The number of processes the limit is divided between.
    pub fn share(&self) -> NonZeroU32 {
        self.read().share
    }

    /// Divides the limit between `share` processes: this one takes `limit / share`.
    pub fn set_share(&self, share: NonZeroU32) {
        if self.read().share != share {
            self.change(|p| Pace::new(p.limit, share, p.reserve));
        }
    }

    /// The part of this process's rate kept for foreground calls, 0 to [`MAX_RESERVE`].
    pub fn reserve(&self) -> f64 {
        self.read().reserve
    }

    /// Keeps `reserve` (a fraction, clamped to 0–[`MAX_RESERVE`]; not a number counts as
    /// 0) of this process's rate for foreground calls.
    pub fn set_reserve(&self, reserve: f64) {
        if self.read().reserve.to_bits() != reserve.to_bits() {
            self.change(|p| Pace::new(p.limit, p.share, reserve));
        }
    }

    /// This process's rate for foreground calls, in requests a second: `limit / share`.
    pub fn per_second(&self) -> f64 {
        let pace = self.read();
        f64::from(pace.limit.get()) / f64::from(pace.share.get())
    }

    /// This process's rate for background calls, in requests a second.
    pub fn background_per_second(&self) -> f64 {
        let reserve = self.read().reserve;
        self.per_second() * (1.0 - reserve)
    }

    /// Waits until one request may be sent by the current task (background inside
    /// [`in_background`], else foreground).
    pub async fn until_ready(&self) {
        let (all, background) = {
            let pace = self.read();
            (Arc::clone(&pace.all), pace.background.clone())
        };
        if let Some(background) = background.filter(|_| is_background()) {
            background.until_ready().await;
        }
        all.until_ready().await;
    }
}

#[cfg(test)]
impl Budget {
    /// Takes one request's place in the current lane if one is free now.
    fn try_ready(&self) -> bool {
        let pace = self.read();
        if let Some(background) = pace.background.as_ref().filter(|_| is_background())
            && background.check().is_err()
        {
            return false;
        }
        pace.all.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn settings_are_kept_and_clamped() {
        let b = Budget::new(nz(100));
        assert_eq!(b.per_second(), 100.0);
        b.set_share(nz(4));
        assert_eq!(b.share(), nz(4));
        assert_eq!(b.per_second(), 25.0);
        b.set_reserve(0.2);
        assert!((b.background_per_second() - 20.0).abs() < 1e-9);
        b.set_reserve(5.0);
        assert_eq!(b.reserve(), MAX_RESERVE);
        b.set_reserve(f64::NAN);
        assert_eq!(b.reserve(), 0.0);
        b.set_limit(nz(40));
        assert_eq!(b.per_second(), 10.0);
        assert_eq!(b.share(), nz(4));
        // Clones share the settings and the pacing.
        let clone = b.clone();
        clone.set_share(nz(1));
        assert_eq!(b.share(), nz(1));
    }

    #[tokio::test]
    async fn the_lane_is_the_task_scope() {
        assert!(!is_background());
        assert!(in_background(async { is_background() }).await);
        assert!(!is_background());
    }

    // Requests go one at a time at the share's pace: with 2 a second divided between 2
    // processes, one passes, the next must wait a second.
    #[test]
    fn a_share_paces_one_request_at_a_time() {
        let b = Budget::new(nz(2));
        b.set_share(nz(2));
        assert!(b.try_ready());
        assert!(!b.try_ready(), "a second request passed within the period");
        // A clone draws on the same pacing.
        assert!(!b.clone().try_ready());
        std::thread::sleep(Duration::from_millis(1_100));
        assert!(b.try_ready());
    }

    // With a reserve of 0.9 the background lane gets a tenth of the rate: after one
    // background request at 1 a second, the foreground may go again within the second,
    // the background only after ten.
    #[tokio::test]
    async fn background_work_leaves_the_reserve() {
        let b = Budget::new(nz(1));
        b.set_reserve(0.9);
        assert!(in_background(async { b.try_ready() }).await);
        std::thread::sleep(Duration::from_millis(1_100));
        assert!(!in_background(async { b.try_ready() }).await);
        assert!(
            b.try_ready(),
            "the foreground was held back by background work"
        );
        // A change of the settings makes new limiters: the new pace applies at once.
        b.set_reserve(0.0);
        assert!(in_background(async { b.try_ready() }).await);
    }
}
