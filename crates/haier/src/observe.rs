//! Counters and a per-attempt hook for every HTTP request to the vendor.
//!
//! [`CallStats`] are cumulative counters a health page can show. A
//! [`CallObserver`] sees one [`CallRecord`] per HTTP attempt (token fetches
//! included), which is enough to log every external call and to export
//! latency histograms and outcome counters.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Error;

/// Cumulative counters of one client since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallStats {
    /// HTTP requests sent (every attempt, retries and token fetches included).
    pub calls: u64,
    /// Repeated attempts: backoff retries, and the one repeat after a token
    /// refresh on HTTP 401.
    pub retries: u64,
    /// HTTP 429 answers received.
    pub rate_limited: u64,
    /// Client method calls that sent requests and still ended in an error
    /// after all their attempts (calls refused before sending anything,
    /// such as a malformed county code, are not counted).
    pub failures: u64,
}

/// How one HTTP attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// HTTP 2xx with a reply we could decode (and, for business calls, that
    /// was not `success:false`).
    Ok,
    /// No answer within the timeout.
    Timeout,
    /// No HTTP answer (connection, DNS, TLS, broken body).
    Transport,
    /// HTTP 5xx.
    Server,
    /// HTTP 429.
    RateLimited,
    /// HTTP 401 (or 401/403 from the token endpoint).
    Auth,
    /// Another HTTP 4xx.
    Rejected,
    /// HTTP 200 with `success:false`.
    Business,
    /// A reply we could not decode.
    Decode,
}

impl Outcome {
    /// A stable lower-case label (for logs and metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Transport => "transport",
            Outcome::Server => "server",
            Outcome::RateLimited => "rate_limited",
            Outcome::Auth => "auth",
            Outcome::Rejected => "rejected",
            Outcome::Business => "business",
            Outcome::Decode => "decode",
        }
    }

    /// Whether the attempt failed in a way a retry may fix.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Outcome::Timeout | Outcome::Transport | Outcome::Server | Outcome::RateLimited
        )
    }

    /// The outcome of an attempt that failed with `err`.
    pub(crate) fn of_error(err: &Error) -> Outcome {
        match err {
            Error::Timeout { .. } => Outcome::Timeout,
            Error::Transport { .. } => Outcome::Transport,
            Error::Server { .. } => Outcome::Server,
            Error::RateLimited { .. } => Outcome::RateLimited,
            Error::Auth { .. } => Outcome::Auth,
            Error::Business { .. } => Outcome::Business,
            Error::Rejected { .. } => Outcome::Rejected,
            Error::Ambiguous { cause, .. } => Outcome::of_error(cause),
            // The remaining errors never come from an HTTP attempt; decode is
            // the honest label for "the exchange did not give a usable reply".
            Error::Decode { .. }
            | Error::CircuitOpen { .. }
            | Error::InvalidRequest(_)
            | Error::Config(_) => Outcome::Decode,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HTTP attempt to the vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Short endpoint name: `"token"`, `"h1_procurable"`, `"h2_prices"`,
    /// `"h3_stock"`, `"h4_logistics"`, `"h5_balance"` (Open Platform);
    /// `"ylh_token"`, `"y1_create"`, `"y2_cancel"`, `"y3_reschedule"`,
    /// `"y4_photos"`, `"y5_logistics"` (YLH).
    pub endpoint: &'static str,
    /// 1 for the first attempt of a client method call, then 2, 3, … for its
    /// retries (token fetches count their own attempts: 2 is the fallback
    /// token URL).
    pub attempt: u32,
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// How the attempt ended.
    pub outcome: Outcome,
    /// Time from sending the request to having read (and decoded) the reply;
    /// the wait for the rate limiter is not included.
    pub latency: Duration,
}

/// Receives a [`CallRecord`] after every HTTP attempt.
///
/// Called on the task that made the request: keep it quick and never block
/// (push to a channel or bump a metric).
pub trait CallObserver: Send + Sync {
    /// One attempt has ended.
    fn on_call(&self, record: &CallRecord);
}

/// The counters and the observer of one client, shared by its parts.
#[derive(Default)]
pub(crate) struct Telemetry {
    calls: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    failures: AtomicU64,
    observer: Option<Arc<dyn CallObserver>>,
}

impl Telemetry {
    pub(crate) fn new(observer: Option<Arc<dyn CallObserver>>) -> Self {
        Self {
            observer,
            ..Self::default()
        }
    }

    /// Counts and reports one HTTP attempt.
    pub(crate) fn attempt(&self, record: CallRecord) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if record.status == Some(429) {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(
            endpoint = record.endpoint,
            attempt = record.attempt,
            status = record.status,
            outcome = record.outcome.as_str(),
            latency_ms = u64::try_from(record.latency.as_millis()).unwrap_or(u64::MAX),
            "haier call"
        );
        if let Some(observer) = &self.observer {
            observer.on_call(&record);
        }
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> CallStats {
        CallStats {
            calls: self.calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<CallRecord>>);

    impl CallObserver for Collect {
        fn on_call(&self, record: &CallRecord) {
            self.0.lock().unwrap().push(record.clone());
        }
    }

    #[test]
    fn counts_attempts_and_429s_and_reports_each() {
        let seen = Arc::new(Collect::default());
        let t = Telemetry::new(Some(seen.clone()));
        for status in [Some(200), Some(429), None] {
            t.attempt(CallRecord {
                endpoint: "h3_stock",
                attempt: 1,
                status,
                outcome: Outcome::Ok,
                latency: Duration::ZERO,
            });
        }
        t.retry();
        t.failure();
        assert_eq!(
            t.stats(),
            CallStats {
                calls: 3,
                retries: 1,
                rate_limited: 1,
                failures: 1
            }
        );
        assert_eq!(seen.0.lock().unwrap().len(), 3);
    }

    #[test]
    fn outcome_of_errors() {
        let server = Error::Server {
            endpoint: "x",
            status: 502,
        };
        assert_eq!(Outcome::of_error(&server), Outcome::Server);
        assert!(Outcome::of_error(&server).is_transient());
        let business = Error::Business {
            endpoint: "x",
            code: None,
            err_code: None,
            message: String::new(),
        };
        assert_eq!(Outcome::of_error(&business).as_str(), "business");
        let ambiguous = Error::Ambiguous {
            endpoint: "y1_create",
            cause: Box::new(server),
        };
        assert_eq!(Outcome::of_error(&ambiguous), Outcome::Server);
        assert!(!Outcome::Business.is_transient());
    }
}
