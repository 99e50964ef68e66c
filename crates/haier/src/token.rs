//! A cached OAuth access token with single-flight refresh.
//!
//! A [`TokenProvider`] asks its [`TokenSource`] for a token only when it has
//! none that is still fresh, and only one fetch runs at a time: callers that
//! arrive during a fetch wait for it and share its result (its error too, so
//! a failing token endpoint is not hammered once per waiting caller).
//!
//! # When a token is refreshed
//!
//! A token obtained with lifetime `L` (the vendor's `expires_in`) is used
//! until `L − margin`, where `margin = min(600 s, L / 10)`
//! ([`refresh_margin`]). The lifetime is counted from the moment the token
//! request was *sent*, so network time only makes us more careful.
//!
//! The original client used the token until `max(L − 600, 300)` seconds.
//! For the usual `L = 3600` that is the same kind of margin, but it breaks
//! for short-lived tokens: with `L = 300` the token is used until the very
//! second it dies, so calls race its expiry; with `L = 120` it is used for
//! three minutes after it died, and every call in that window is refused.
//! A margin proportional to the lifetime is never longer than the lifetime
//! and never zero, whatever the vendor sends. If the vendor revokes a token
//! early anyway, the client drops it on HTTP 401, fetches a new one and
//! repeats the call once.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;

use crate::Error;

/// The longest refresh margin: 10 minutes.
pub const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(600);

/// How long before its end a token of `lifetime` is replaced:
/// `min(600 s, lifetime / 10)`.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_REFRESH_MARGIN)
}

/// A bearer credential and the `Authorization` header made from it.
///
/// The token never shows in `Debug` output.
#[derive(Clone)]
pub struct AccessToken {
    header: HeaderValue,
    token_type: String,
    lifetime: Duration,
    obtained_at: Instant,
}

impl AccessToken {
    /// Wraps `token` of `token_type` (for example "Bearer"), valid for
    /// `lifetime` from `obtained_at` (take the instant *before* sending the
    /// token request). The `Authorization` header is
    /// `"{token_type} {token}"`, or the bare token if `token_type` is empty.
    ///
    /// Fails if the token is empty or holds characters an HTTP header
    /// cannot carry.
    pub fn new(
        token: &str,
        token_type: &str,
        lifetime: Duration,
        obtained_at: Instant,
    ) -> Result<Self, InvalidToken> {
        let token = token.trim();
        let token_type = token_type.trim();
        if token.is_empty() {
            return Err(InvalidToken::Empty);
        }
        let value = if token_type.is_empty() {
            token.to_owned()
        } else {
            format!("{token_type} {token}")
        };
        let mut header = HeaderValue::from_str(&value).map_err(|_| InvalidToken::NotAHeader)?;
        header.set_sensitive(true);
        Ok(Self {
            header,
            token_type: token_type.to_owned(),
            lifetime,
            obtained_at,
        })
    }

    /// The value of the `Authorization` header, marked sensitive.
    pub fn authorization(&self) -> &HeaderValue {
        &self.header
    }

    /// The token type ("Bearer" unless the vendor said otherwise).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The lifetime the vendor granted.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The instant from which the token is replaced before use.
    pub fn refresh_at(&self) -> Instant {
        let usable = self.lifetime.saturating_sub(refresh_margin(self.lifetime));
        self.obtained_at + usable
    }

    /// Whether the token may still be used at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// Why a token reply cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    /// No token, or only whitespace.
    #[error("the token is empty")]
    Empty,
    /// The token (or its type) holds characters an HTTP header cannot carry.
    #[error("the token holds characters not allowed in an HTTP header")]
    NotAHeader,
}

/// Fetches a new token from a vendor's token endpoint.
pub trait TokenSource: Send + Sync {
    /// Makes one token request (plus any documented fallback) and returns
    /// the token, or the error that explains why there is none.
    fn fetch(&self) -> impl Future<Output = Result<AccessToken, Error>> + Send;
}

#[derive(Default)]
struct Cache {
    token: Option<Arc<AccessToken>>,
    /// How many fetches have finished.
    fetches: u64,
    /// The error of the last fetch, if it failed.
    last_error: Option<Error>,
}

/// Caches the token of one [`TokenSource`] and refreshes it single-flight.
pub struct TokenProvider<S> {
    source: S,
    cache: Mutex<Cache>,
    refresh: tokio::sync::Mutex<()>,
}

impl<S: TokenSource> TokenProvider<S> {
    /// A provider with no token yet: the first call to
    /// [`token`](Self::token) fetches one.
    pub fn new(source: S) -> Self {
        Self {
            source,
            cache: Mutex::new(Cache::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The token source.
    pub fn source(&self) -> &S {
        &self.source
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached token if it is still fresh, else a new one.
    ///
    /// At most one fetch runs at a time. Callers that waited for a fetch get
    /// its token, or its error if it failed.
    pub async fn token(&self) -> Result<Arc<AccessToken>, Error> {
        let seen = {
            let cache = self.cache();
            if let Some(token) = cache.token.as_ref().filter(|t| t.is_fresh(Instant::now())) {
                return Ok(token.clone());
            }
            cache.fetches
        };

        let _flight = self.refresh.lock().await;
        {
            let cache = self.cache();
            if let Some(token) = cache.token.as_ref().filter(|t| t.is_fresh(Instant::now())) {
                return Ok(token.clone());
            }
            if cache.fetches != seen
                && let Some(err) = &cache.last_error
            {
                // A fetch finished (and failed) while we waited: share it.
                return Err(err.clone());
            }
        }

        let result = self.source.fetch().await.map(Arc::new);
        let mut cache = self.cache();
        cache.fetches += 1;
        match &result {
            Ok(token) => {
                cache.token = Some(token.clone());
                cache.last_error = None;
            }
            Err(err) => {
                cache.token = None;
                cache.last_error = Some(err.clone());
            }
        }
        result
    }

    /// Drops `stale` (a token the vendor refused) if it is still the cached
    /// one, so the next [`token`](Self::token) fetches a new one. A token
    /// another caller already replaced is left alone.
    pub fn invalidate(&self, stale: &Arc<AccessToken>) {
        let mut cache = self.cache();
        if cache.token.as_ref().is_some_and(|t| Arc::ptr_eq(t, stale)) {
            cache.token = None;
        }
    }
}

impl<S> fmt::Debug for TokenProvider<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn margin_is_a_tenth_capped_at_ten_minutes() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(360)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(7200)),
            Duration::from_secs(600)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(86400)),
            Duration::from_secs(600)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(120)),
            Duration::from_secs(12)
        );
        assert_eq!(refresh_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn short_lived_tokens_are_replaced_before_they_die() {
        let t0 = Instant::now();
        let token = AccessToken::new("abc", "Bearer", Duration::from_secs(120), t0).unwrap();
        assert!(token.is_fresh(t0 + Duration::from_secs(107)));
        assert!(!token.is_fresh(t0 + Duration::from_secs(108)));
        // The original rule would have used it until t0 + 300 s.
        assert!(token.refresh_at() < t0 + Duration::from_secs(120));
    }

    #[test]
    fn header_and_debug() {
        let t0 = Instant::now();
        let token = AccessToken::new("eyJsecret", "Bearer", Duration::from_secs(60), t0).unwrap();
        assert_eq!(token.authorization(), "Bearer eyJsecret");
        assert!(token.authorization().is_sensitive());
        assert!(!format!("{token:?}").contains("eyJsecret"));
        let bare = AccessToken::new("eyJ", "", Duration::from_secs(60), t0).unwrap();
        assert_eq!(bare.authorization(), "eyJ");
        assert_eq!(
            AccessToken::new("  ", "Bearer", Duration::from_secs(60), t0).unwrap_err(),
            InvalidToken::Empty
        );
        assert_eq!(
            AccessToken::new("a\nb", "Bearer", Duration::from_secs(60), t0).unwrap_err(),
            InvalidToken::NotAHeader
        );
    }

    struct Counting {
        fetches: AtomicU32,
        fail: bool,
        delay: Duration,
    }

    impl TokenSource for Counting {
        async fn fetch(&self) -> Result<AccessToken, Error> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.delay).await;
            if self.fail {
                return Err(Error::Server {
                    endpoint: "token",
                    status: 503,
                });
            }
            Ok(AccessToken::new(
                &format!("t{n}"),
                "Bearer",
                Duration::from_secs(3600),
                Instant::now(),
            )
            .unwrap())
        }
    }

    fn counting(fail: bool) -> Arc<TokenProvider<Counting>> {
        Arc::new(TokenProvider::new(Counting {
            fetches: AtomicU32::new(0),
            fail,
            delay: Duration::from_millis(50),
        }))
    }

    #[tokio::test]
    async fn caches_and_invalidates() {
        let p = counting(false);
        let a = p.token().await.unwrap();
        let b = p.token().await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(p.source().fetches.load(Ordering::SeqCst), 1);

        p.invalidate(&a);
        let c = p.token().await.unwrap();
        assert_eq!(c.authorization(), "Bearer t2");
        // Invalidating an already replaced token is a no-op.
        p.invalidate(&a);
        let d = p.token().await.unwrap();
        assert!(Arc::ptr_eq(&c, &d));
        assert_eq!(p.source().fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let p = counting(false);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let p = p.clone();
            tasks.spawn(async move { p.token().await.map(|t| t.authorization().clone()) });
        }
        while let Some(r) = tasks.join_next().await {
            assert_eq!(r.unwrap().unwrap(), "Bearer t1");
        }
        assert_eq!(p.source().fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn waiters_share_a_failed_fetch_then_the_next_call_tries_again() {
        let p = counting(true);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..5 {
            let p = p.clone();
            tasks.spawn(async move { p.token().await.map(|_| ()) });
        }
        while let Some(r) = tasks.join_next().await {
            assert!(matches!(r.unwrap(), Err(Error::Server { status: 503, .. })));
        }
        assert_eq!(p.source().fetches.load(Ordering::SeqCst), 1);
        assert!(p.token().await.is_err());
        assert_eq!(p.source().fetches.load(Ordering::SeqCst), 2);
    }
}
