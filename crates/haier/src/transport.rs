//! The road every request to a vendor system takes: rate limiter, circuit
//! breaker, token, HTTP, classification, retries and telemetry.
//!
//! Kept apart from the endpoints so that every vendor system (the Open
//! Platform, the YLH order centre) uses it with its own token source.
//!
//! One transport serves one client: one rate limiter and one set of
//! counters for all its hosts, and one circuit breaker per host (scheme,
//! host and port), so that a failing host does not stop calls to the
//! others.
//!
//! Each attempt also tells whether its request may have reached the vendor
//! ([`Delivery`]); a call that is not idempotent ([`Idempotency`]) retries
//! only attempts that certainly did not, and turns any other transient
//! failure into [`Error::Ambiguous`].

use std::collections::HashMap;
use std::error::Error as _;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::Retryable;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::Error;
use crate::breaker::{Breaker, BreakerState};
use crate::budget::Budget;
use crate::observe::{CallObserver, CallRecord, CallStats, Outcome, Telemetry};
use crate::retry::{self, RetryPolicy, parse_retry_after};
use crate::token::{AccessToken, TokenProvider, TokenSource};
use crate::wire::vendor_message;

/// Settings of a [`Transport`].
pub(crate) struct TransportSettings {
    /// Whole-request timeout of business calls.
    pub timeout: Duration,
    /// Paces every request (the account's budget, or this client's own).
    pub budget: Budget,
    /// Consecutive transient failures that open the breaker (0: never).
    pub breaker_threshold: u32,
    /// How long the breaker stays open.
    pub breaker_cooldown: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Receives a record of every HTTP attempt.
    pub observer: Option<Arc<dyn CallObserver>>,
}

/// What a client's builder sets besides its configuration: an observer and the retry
/// delays. Shared by the clients of every vendor system.
pub(crate) struct ClientExtras {
    /// Receives a record of every HTTP attempt.
    pub observer: Option<Arc<dyn CallObserver>>,
    /// Base delay of the first retry.
    pub min_delay: Duration,
    /// Cap of later retries.
    pub max_delay: Duration,
    /// The account's shared budget; `None`: a budget of the client's own at its
    /// configured rate limit.
    pub budget: Option<Budget>,
}

impl Default for ClientExtras {
    fn default() -> Self {
        ClientExtras {
            observer: None,
            min_delay: RetryPolicy::DEFAULT_MIN_DELAY,
            max_delay: RetryPolicy::DEFAULT_MAX_DELAY,
            budget: None,
        }
    }
}

/// The limits every client configuration carries, named by its section (`haier`, `ylh`).
pub(crate) struct ClientLimits {
    /// The configuration section, for error messages.
    pub section: &'static str,
    /// Whole-request timeout of business calls.
    pub timeout: Duration,
    /// Requests per second; 0 is refused.
    pub rate_limit: u32,
    /// Consecutive transient failures that open the breaker (0: never).
    pub breaker_threshold: u32,
    /// How long the breaker stays open.
    pub breaker_cooldown: Duration,
    /// Retries of transient failures.
    pub max_retries: u32,
}

impl ClientExtras {
    /// The transport of a client with `limits`: requests paced by the shared budget if
    /// one was given (its limit, not `limits.rate_limit`, applies), else spread evenly at
    /// the configured rate (no bursts); the breaker and the retry policy as configured.
    pub(crate) fn transport(self, limits: ClientLimits) -> Result<Transport, Error> {
        let rate_limit = NonZeroU32::new(limits.rate_limit).ok_or_else(|| {
            Error::Config(format!("{}.rate_limit must be at least 1", limits.section))
        })?;
        Transport::new(TransportSettings {
            timeout: limits.timeout,
            budget: self.budget.unwrap_or_else(|| Budget::new(rate_limit)),
            breaker_threshold: limits.breaker_threshold,
            breaker_cooldown: limits.breaker_cooldown,
            retry: RetryPolicy {
                max_retries: limits.max_retries,
                min_delay: self.min_delay,
                max_delay: self.max_delay,
            },
            observer: self.observer,
        })
    }
}

/// Whether a business call may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Repeating the request is harmless (queries, cancellation, rescheduling):
    /// every transient failure is retried.
    Idempotent,
    /// The request changes the vendor's state and a repeat may duplicate it
    /// (order creation): only attempts whose request certainly did not reach
    /// the vendor are retried; a transient failure after sending ends the
    /// call at once with [`Error::Ambiguous`].
    NotIdempotent,
}

/// Whether a failed attempt's request may have reached the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Certainly not: no connection could be made (refused, DNS, TLS, connect
    /// timeout), the circuit was open, the request could not be built, or
    /// the token could not be had.
    NotSent,
    /// Possibly: the connection was made, so bytes of the request may have
    /// gone out (and an answer, if any, came back).
    MaybeSent,
}

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct Failed {
    pub error: Error,
    pub delivery: Delivery,
}

impl Failed {
    fn not_sent(error: Error) -> Self {
        Self {
            error,
            delivery: Delivery::NotSent,
        }
    }

    fn maybe_sent(error: Error) -> Self {
        Self {
            error,
            delivery: Delivery::MaybeSent,
        }
    }
}

/// An HTTP answer, whatever its status.
pub(crate) struct Reply {
    pub status: StatusCode,
    /// The parsed `Retry-After` header, if any.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// The shared machinery of one client; cheap to clone.
#[derive(Clone)]
pub(crate) struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    budget: Budget,
    breakers: Breakers,
    retry: RetryPolicy,
    telemetry: Telemetry,
}

/// One breaker per host, made on first use.
struct Breakers {
    threshold: u32,
    cooldown: Duration,
    by_origin: Mutex<HashMap<String, Arc<Breaker>>>,
}

impl Breakers {
    fn for_url(&self, url: &Url) -> Arc<Breaker> {
        let origin = url.origin().ascii_serialization();
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(origin)
            .or_insert_with(|| Arc::new(Breaker::new(self.threshold, self.cooldown)))
            .clone()
    }

    /// The most severe state over all hosts (open, then half-open).
    fn worst(&self, now: Instant) -> BreakerState {
        let map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        let states: Vec<BreakerState> = map.values().map(|b| b.state(now)).collect();
        if states.contains(&BreakerState::Open) {
            BreakerState::Open
        } else if states.contains(&BreakerState::HalfOpen) {
            BreakerState::HalfOpen
        } else {
            BreakerState::Closed
        }
    }
}

impl Transport {
    pub(crate) fn new(settings: TransportSettings) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("supplyhub-haier/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                budget: settings.budget,
                breakers: Breakers {
                    threshold: settings.breaker_threshold,
                    cooldown: settings.breaker_cooldown,
                    by_origin: Mutex::new(HashMap::new()),
                },
                retry: settings.retry,
                telemetry: Telemetry::new(settings.observer),
            }),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn stats(&self) -> CallStats {
        self.inner.telemetry.stats()
    }

    /// The most severe breaker state over the hosts called so far (closed if
    /// none).
    pub(crate) fn breaker_state(&self) -> BreakerState {
        self.inner.breakers.worst(Instant::now())
    }

    /// Sends one request after waiting for the rate limiter, and reports it.
    ///
    /// `classify` turns the answer into the attempt's result; the result's
    /// outcome, the status and the latency (without the limiter wait) go to
    /// the telemetry.
    pub(crate) async fn exchange<T>(
        &self,
        endpoint: &'static str,
        attempt: u32,
        request: reqwest::RequestBuilder,
        classify: impl FnOnce(Reply) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.exchange_tracked(endpoint, attempt, request, classify)
            .await
            .map_err(|failed| failed.error)
    }

    /// [`exchange`](Self::exchange), also telling whether a failed request
    /// may have reached the vendor.
    async fn exchange_tracked<T>(
        &self,
        endpoint: &'static str,
        attempt: u32,
        request: reqwest::RequestBuilder,
        classify: impl FnOnce(Reply) -> Result<T, Error>,
    ) -> Result<T, Failed> {
        self.inner.budget.until_ready().await;
        let started = Instant::now();
        let (status, result) = match send(endpoint, request).await {
            Ok(reply) => (
                Some(reply.status.as_u16()),
                classify(reply).map_err(Failed::maybe_sent),
            ),
            Err(failed) => (None, Err(failed)),
        };
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(failed) => Outcome::of_error(&failed.error),
        };
        self.inner.telemetry.attempt(CallRecord {
            endpoint,
            attempt,
            status,
            outcome,
            latency: started.elapsed(),
        });
        result
    }

    /// One business call: `POST url` with the JSON `body`, authorized by
    /// `tokens`, decoded by `decode`, with the breaker of the URL's host, the
    /// one token refresh on HTTP 401, and retries as `idempotency` allows.
    ///
    /// Every occurrence of a `private` value (personal data of the request
    /// that the vendor may echo) is blotted out of the errors before they are
    /// logged or returned.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call<T, S, D>(
        &self,
        tokens: &TokenProvider<S>,
        endpoint: &'static str,
        url: &Url,
        body: &[u8],
        idempotency: Idempotency,
        private: &[&str],
        decode: D,
    ) -> Result<T, Error>
    where
        S: TokenSource,
        D: Fn(&[u8]) -> Result<T, Error>,
    {
        let call = Call {
            transport: self,
            tokens,
            endpoint,
            url,
            body,
            decode: &decode,
            private,
            breaker: self.inner.breakers.for_url(url),
            attempts: AtomicU32::new(0),
            refreshed: AtomicBool::new(false),
        };
        let result = (|| call.attempt())
            .retry(self.inner.retry.backoff())
            .when(|failed: &Failed| match idempotency {
                Idempotency::Idempotent => failed.error.is_retryable(),
                Idempotency::NotIdempotent => {
                    failed.delivery == Delivery::NotSent && failed.error.is_retryable()
                }
            })
            .adjust(|failed: &Failed, computed| retry::next_delay(&failed.error, computed))
            .notify(|failed: &Failed, wait| {
                self.inner.telemetry.retry();
                tracing::info!(
                    endpoint,
                    error = %failed.error,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "retrying haier call"
                );
            })
            .await
            .map_err(|failed| match idempotency {
                Idempotency::NotIdempotent
                    if failed.delivery == Delivery::MaybeSent
                        && failed.error.leaves_outcome_unknown() =>
                {
                    Error::Ambiguous {
                        endpoint,
                        cause: Box::new(failed.error),
                    }
                }
                _ => failed.error,
            });
        if let Err(err) = &result {
            self.inner.telemetry.failure();
            match err {
                Error::Business { .. } => {
                    tracing::info!(endpoint, error = %err, "haier call rejected")
                }
                _ => tracing::warn!(endpoint, error = %err, "haier call failed"),
            }
        }
        result
    }
}

/// The state of one business call across its attempts.
struct Call<'a, S, D> {
    transport: &'a Transport,
    tokens: &'a TokenProvider<S>,
    endpoint: &'static str,
    url: &'a Url,
    body: &'a [u8],
    decode: &'a D,
    /// Values to blot out of error texts.
    private: &'a [&'a str],
    /// The breaker of the URL's host.
    breaker: Arc<Breaker>,
    /// HTTP attempts made so far.
    attempts: AtomicU32,
    /// Whether the token was already refreshed after a 401 in this call.
    refreshed: AtomicBool,
}

impl<S, D, T> Call<'_, S, D>
where
    S: TokenSource,
    D: Fn(&[u8]) -> Result<T, Error>,
{
    /// One attempt as the breaker sees it (a 401 refresh and its repeat
    /// included).
    async fn attempt(&self) -> Result<T, Failed> {
        let Some(permit) = self.breaker.try_acquire(Instant::now()) else {
            return Err(Failed::not_sent(Error::CircuitOpen {
                endpoint: self.endpoint,
            }));
        };
        let result = self.authorized().await;
        let transient = result
            .as_ref()
            .err()
            .is_some_and(|f| f.error.is_retryable());
        permit.record(transient, Instant::now());
        result
    }

    async fn authorized(&self) -> Result<T, Failed> {
        let token = self.tokens.token().await.map_err(Failed::not_sent)?;
        match self.post(&token).await {
            Err(Failed {
                error: Error::Auth { .. },
                ..
            }) if !self.refreshed.swap(true, Ordering::SeqCst) => {
                tracing::info!(
                    endpoint = self.endpoint,
                    "token refused with HTTP 401; fetching a new one"
                );
                self.tokens.invalidate(&token);
                self.transport.inner.telemetry.retry();
                let token = self.tokens.token().await.map_err(Failed::not_sent)?;
                self.post(&token).await
            }
            other => other,
        }
    }

    async fn post(&self, token: &AccessToken) -> Result<T, Failed> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let request = self
            .transport
            .http()
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(AUTHORIZATION, token.authorization().clone())
            .body(self.body.to_vec());
        let endpoint = self.endpoint;
        let decode = self.decode;
        self.transport
            .exchange_tracked(endpoint, attempt, request, |reply| {
                classify_business(endpoint, reply, decode)
            })
            .await
            .map_err(|failed| Failed {
                error: failed.error.redact(self.private),
                delivery: failed.delivery,
            })
    }
}

/// The result of a business call's HTTP answer.
fn classify_business<T>(
    endpoint: &'static str,
    reply: Reply,
    decode: impl Fn(&[u8]) -> Result<T, Error>,
) -> Result<T, Error> {
    let status = reply.status.as_u16();
    match status {
        200..=299 => decode(&reply.body),
        401 => Err(Error::Auth {
            endpoint,
            detail: format!("HTTP 401: {}", vendor_message(&reply.body)),
        }),
        _ => Err(classify_failure(endpoint, &reply)),
    }
}

/// The error for a non-2xx answer other than 401: 429, 5xx, other 4xx.
pub(crate) fn classify_failure(endpoint: &'static str, reply: &Reply) -> Error {
    let status = reply.status.as_u16();
    match status {
        429 => Error::RateLimited {
            endpoint,
            retry_after: reply.retry_after,
        },
        500..=599 => Error::Server { endpoint, status },
        _ => Error::Rejected {
            endpoint,
            status,
            message: vendor_message(&reply.body),
        },
    }
}

/// Sends `request` and reads the whole answer.
///
/// A failure to connect (refused, DNS, TLS handshake, connect timeout) or to
/// build the request is [`Delivery::NotSent`]: no byte of the HTTP request
/// was written. Anything later is [`Delivery::MaybeSent`].
async fn send(endpoint: &'static str, request: reqwest::RequestBuilder) -> Result<Reply, Failed> {
    let response = request.send().await.map_err(|e| {
        let delivery = if e.is_connect() || e.is_builder() {
            Delivery::NotSent
        } else {
            Delivery::MaybeSent
        };
        Failed {
            error: transport_error(endpoint, e),
            delivery,
        }
    })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
    let body = response
        .bytes()
        .await
        .map_err(|e| Failed::maybe_sent(transport_error(endpoint, e)))?
        .to_vec();
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// Maps a reqwest error to ours: the message chain without the URL (the
/// request body is never part of it).
fn transport_error(endpoint: &'static str, err: reqwest::Error) -> Error {
    if err.is_timeout() {
        return Error::Timeout { endpoint };
    }
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    if err.is_builder() {
        return Error::InvalidRequest(format!("{endpoint}: {detail}"));
    }
    Error::Transport { endpoint, detail }
}
