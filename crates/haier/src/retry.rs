//! When and how long to wait before trying a call again.
//!
//! Only transient failures are retried: timeouts, transport errors, HTTP 5xx
//! and HTTP 429. A business rejection (`success:false`), a decode error, an
//! authentication failure and any other 4xx are final. The delays grow
//! exponentially from [`RetryPolicy::min_delay`] up to
//! [`RetryPolicy::max_delay`], each with random jitter so that many clients
//! failing together do not come back together. When the vendor sends
//! `Retry-After` with a 429, its wait replaces the computed one.

use std::time::Duration;

use backon::ExponentialBuilder;

use crate::Error;

/// The longest `Retry-After` we wait for inside one call. A vendor that asks
/// for more gets [`Error::RateLimited`] at once, carrying its wait, so the
/// caller can reschedule instead of holding a worker.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Retry settings of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1`
    /// attempts).
    pub max_retries: u32,
    /// The base delay, before jitter, of the first retry.
    pub min_delay: Duration,
    /// The cap of the base delay; jitter may add up to as much again.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The default base delay: 200 ms.
    pub const DEFAULT_MIN_DELAY: Duration = Duration::from_millis(200);
    /// The default cap: 3 s.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(3);

    /// A policy with the default delays and `max_retries` retries.
    pub fn new(max_retries: u32) -> Self {
        Self {
            max_retries,
            min_delay: Self::DEFAULT_MIN_DELAY,
            max_delay: Self::DEFAULT_MAX_DELAY,
        }
    }

    /// The backoff schedule: factor 2, jittered, capped.
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay.max(self.min_delay))
            .with_max_times(usize::try_from(self.max_retries).unwrap_or(usize::MAX))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new(3)
    }
}

/// The wait before the next attempt after `err`, given the wait the backoff
/// schedule `computed` (`None` once retries are used up).
///
/// A 429's `Retry-After` replaces the computed wait; one longer than
/// [`MAX_RETRY_AFTER`] ends the retries.
pub(crate) fn next_delay(err: &Error, computed: Option<Duration>) -> Option<Duration> {
    let computed = computed?;
    match err {
        Error::RateLimited {
            retry_after: Some(wait),
            ..
        } => (*wait <= MAX_RETRY_AFTER).then_some(*wait),
        _ => Some(computed),
    }
}

/// Parses an HTTP `Retry-After` value: either a number of seconds (`"120"`)
/// or an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`), which is measured
/// from `now` (a date in the past means "now": zero).
///
/// Returns `None` for anything else (negative or fractional numbers,
/// garbage), in which case the computed backoff applies.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // An absurd number of digits saturates rather than failing.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = now.duration_until(at);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2015-10-21T07:27:00Z".parse().unwrap()
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_http_date() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::from_secs(60))
        );
        // A date in the past means no wait.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage() {
        for bad in ["", "-5", "1.5", "soon", "Wed, 99 Oct 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_replaces_the_computed_delay() {
        let computed = Some(Duration::from_millis(400));
        let limited = |secs| Error::RateLimited {
            endpoint: "h2_prices",
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            next_delay(&limited(2), computed),
            Some(Duration::from_secs(2))
        );
        // Too long a wait ends the retries.
        assert_eq!(next_delay(&limited(3600), computed), None);
        // Exhausted retries stay exhausted.
        assert_eq!(next_delay(&limited(1), None), None);
        let server = Error::Server {
            endpoint: "h2_prices",
            status: 502,
        };
        assert_eq!(next_delay(&server, computed), computed);
        let no_header = Error::RateLimited {
            endpoint: "h2_prices",
            retry_after: None,
        };
        assert_eq!(next_delay(&no_header, computed), computed);
    }
}
