//! The sandbox's shared state: catalog, stock overrides, tokens, rate limits, faults,
//! counters and the order book. Locks are held only for short synchronous work, never
//! across an await.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::config::SandboxConfig;
use crate::dispatch::Scheduler;
use crate::faults::Faults;
use crate::money::Money;
use crate::orders::{OrderBook, OrderSettings};
use crate::rng::mix;
use crate::stats::{Service, Stats};
use crate::stock::{self, Warehouse};

/// Reads through a poisoned lock: every writer leaves the data consistent.
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

/// Writes through a poisoned lock.
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Locks through a poisoned mutex.
pub(crate) fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// No `Authorization` header, or an empty one.
    Missing,
    /// A scheme other than `Bearer` where only that is accepted.
    Scheme,
    /// Never issued.
    Unknown,
    /// Past its TTL.
    Expired,
    /// Revoked by a fault.
    Revoked,
}

/// Issued tokens and their expiry.
#[derive(Debug)]
pub(crate) struct Tokens {
    live: HashMap<String, Instant>,
    revoked: HashSet<String>,
    counter: u64,
    salt: u64,
}

impl Tokens {
    fn new(seed: u64) -> Self {
        // Tokens differ across restarts, so a token kept from an earlier run is unknown.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Tokens {
            live: HashMap::new(),
            revoked: HashSet::new(),
            counter: 0,
            salt: mix(seed ^ nanos),
        }
    }

    /// A new opaque token valid for `ttl`.
    pub(crate) fn issue(&mut self, ttl: Duration) -> String {
        let now = Instant::now();
        if self.live.len() >= 10_000 {
            self.live.retain(|_, exp| *exp > now);
        }
        self.counter += 1;
        let a = mix(self.salt ^ self.counter);
        let b = mix(a ^ self.salt.rotate_left(17));
        let token = format!("sbx.{a:016x}{b:016x}");
        self.live.insert(token.clone(), now + ttl);
        token
    }

    /// Whether `token` may call now.
    pub(crate) fn check(&self, token: &str) -> Result<(), TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        match self.live.get(token) {
            Some(exp) if *exp > Instant::now() => Ok(()),
            Some(_) => Err(TokenError::Expired),
            None if self.revoked.contains(token) => Err(TokenError::Revoked),
            None => Err(TokenError::Unknown),
        }
    }

    /// Invalidates every issued token.
    pub(crate) fn revoke_all(&mut self) {
        if self.revoked.len() > 100_000 {
            self.revoked.clear();
        }
        let now = Instant::now();
        for (token, exp) in self.live.drain() {
            if exp > now {
                self.revoked.insert(token);
            }
        }
    }
}

/// A token bucket: `rate` per second, holding at most one second's worth.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Bucket {
            rate,
            tokens: rate.max(1.0),
            last: Instant::now(),
        }
    }

    /// Takes one request's worth, or says how many whole seconds to wait.
    fn take(&mut self) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The configuration the sandbox started with.
    pub(crate) config: SandboxConfig,
    /// Where the sandbox listens, e.g. `http://127.0.0.1:7780`.
    pub(crate) base_url: String,
    /// The product catalog.
    pub(crate) catalog: RwLock<Catalog>,
    /// Stock set through `/_sandbox/stock`, by (product code, county code).
    pub(crate) stock_overrides: RwLock<HashMap<(String, u32), Vec<Warehouse>>>,
    /// Tokens issued by the Open Platform.
    op_tokens: Mutex<Tokens>,
    /// Tokens issued by YLH.
    ylh_tokens: Mutex<Tokens>,
    op_limiter: Mutex<Bucket>,
    ylh_limiter: Mutex<Bucket>,
    /// The fault injector.
    pub(crate) faults: Faults,
    /// The counters.
    pub(crate) stats: Stats,
    /// The codes of [`region::stock_regions`].
    regions: HashSet<u32>,
    /// The payer account balance (H5).
    pub(crate) balance: Mutex<Money>,
    /// Cancelled when the sandbox shuts down (ends hangs early, stops callbacks).
    pub(crate) shutdown: CancellationToken,
    /// Every order received through Y1.
    pub(crate) orders: Mutex<OrderBook>,
    /// The order-side settings that can change at run time.
    pub(crate) order_settings: RwLock<OrderSettings>,
    /// When each order's pending step is due.
    pub(crate) scheduler: Scheduler,
    /// The HTTP client that delivers callbacks and store-system webhooks.
    pub(crate) http: reqwest::Client,
    /// The simulated store systems (POS, member system, supplier) and their receivers.
    pub(crate) store: crate::store::Store,
}

impl AppState {
    /// Builds the state, generating the catalog (a CPU-bound step).
    pub(crate) fn new(
        config: SandboxConfig,
        base_url: String,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let rate = f64::from(config.rate_limit);
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(AppState {
            catalog: RwLock::new(Catalog::generate(config.seed, config.products)),
            stock_overrides: RwLock::new(HashMap::new()),
            op_tokens: Mutex::new(Tokens::new(config.seed)),
            ylh_tokens: Mutex::new(Tokens::new(config.seed ^ 0x71_4E)),
            op_limiter: Mutex::new(Bucket::new(rate)),
            ylh_limiter: Mutex::new(Bucket::new(rate)),
            faults: Faults::new(config.faults, config.seed),
            stats: Stats::default(),
            regions: region::stock_regions().map(|d| d.code.get()).collect(),
            balance: Mutex::new(Money(128_645_000)),
            shutdown,
            orders: Mutex::new(OrderBook::new(config.seed)),
            order_settings: RwLock::new(OrderSettings {
                callback_url: config.callback_url.clone(),
                confirm_rate: config.confirm_rate,
                reject_rate: config.reject_rate,
                oos_rate: config.oos_rate,
                duplicate_callback_rate: config.duplicate_callback_rate,
                partial_cancel_rate: config.partial_cancel_rate,
                callback_delay: config.callback_delay,
                logistics_step: config.logistics_step,
                duplicate_message: crate::orders::DEFAULT_DUPLICATE_MESSAGE.to_owned(),
            }),
            scheduler: Scheduler::default(),
            http,
            store: crate::store::Store::new(config.seed),
            base_url,
            config,
        })
    }

    /// The tokens a service issued.
    pub(crate) fn tokens(&self, service: Service) -> &Mutex<Tokens> {
        match service {
            Service::OpenPlatform => &self.op_tokens,
            Service::Ylh => &self.ylh_tokens,
        }
    }

    /// Takes a rate-limit slot of a service, or says how many seconds to wait.
    pub(crate) fn take_rate(&self, service: Service) -> Result<(), u64> {
        match service {
            Service::OpenPlatform => lock(&self.op_limiter).take(),
            Service::Ylh => lock(&self.ylh_limiter).take(),
        }
    }

    /// Whether `county` keys regional stock.
    pub(crate) fn is_stock_region(&self, county: u32) -> bool {
        self.regions.contains(&county)
    }

    /// What H3 answers for a product in a stock region: nothing for an unknown or
    /// non-procurable product, else the override if one is set, else the computed stock.
    pub(crate) fn stock(&self, product_code: &str, county: u32) -> Vec<Warehouse> {
        let procurable = read(&self.catalog)
            .get(product_code)
            .is_some_and(|p| p.procurable());
        if !procurable {
            return Vec::new();
        }
        if let Some(w) = read(&self.stock_overrides).get(&(product_code.to_owned(), county)) {
            return w.clone();
        }
        stock::computed(self.config.seed, product_code, county)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_seconds_worth_then_asks_to_wait() {
        let mut b = Bucket::new(5.0);
        let ok = (0..5).filter(|_| b.take().is_ok()).count();
        assert_eq!(ok, 5);
        assert_eq!(b.take(), Err(1));
    }

    #[test]
    fn tokens_expire_and_revoke() {
        let mut t = Tokens::new(1);
        let a = t.issue(Duration::from_secs(60));
        let gone = t.issue(Duration::ZERO);
        assert_eq!(t.check(&a), Ok(()));
        assert_eq!(t.check(&gone), Err(TokenError::Expired));
        assert_eq!(t.check("nope"), Err(TokenError::Unknown));
        assert_eq!(t.check(""), Err(TokenError::Missing));
        t.revoke_all();
        assert_eq!(t.check(&a), Err(TokenError::Revoked));
        let b = t.issue(Duration::from_secs(60));
        assert_ne!(a, b);
        assert_eq!(t.check(&b), Ok(()));
    }
}
