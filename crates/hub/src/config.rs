//! Configuration: embedded defaults → `supplyhub.toml` (or `--config FILE`) → environment
//! variables prefixed `SUPPLYHUB_` (`__` nests: `SUPPLYHUB_HAIER__BASE_URL` is
//! `haier.base_url`) → settings given by the program itself (e.g. an in-process sandbox).

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::SecretString;
use serde::Deserialize;

/// Everything supplyhub can be told.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `sqlite://supplyhub.db` (default) or `postgres://user@host/db`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Address the HTTP server listens on (default `127.0.0.1:8080`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// When set, `/api/v1` requires `Authorization: Bearer <admin_token>`. Text, even
    /// when it is all digits.
    #[serde(default, deserialize_with = "haier::setting::opt_secret")]
    pub admin_token: Option<SecretString>,
    /// The Haier Open Platform connection; absent means no supplier is configured.
    #[serde(default)]
    pub haier: Option<haier::OpenPlatformConfig>,
    /// The YLH order centre (易理货): order push, cancel, reschedule, photos, logistics.
    #[serde(default)]
    pub ylh: Option<haier::ylh::YlhConfig>,
    /// The supplier's signed callbacks (`[haier_callback]`).
    #[serde(default)]
    pub haier_callback: Option<CallbackConfig>,
    /// Checkout and order settings.
    #[serde(default)]
    pub orders: OrdersConfig,
    /// Catalog sync settings.
    #[serde(default)]
    pub sync: SyncConfig,
    /// Address resolution (`[region]`): priors for bare ambiguous county names and the
    /// city fallbacks of municipalities and province-direct counties.
    #[serde(default)]
    pub region: region::ResolverConfig,
    /// Log output.
    #[serde(default)]
    pub log: LogConfig,
    /// How long the history tables are kept (`[retention]`).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The key that seals the external systems' secrets: 64 hex digits (32 bytes).
    /// Without it, `serve` uses the key file `supplyhub-secret.key` of the data directory
    /// (the SQLite file's directory, else the working directory), generating it on first
    /// start.
    #[serde(default, deserialize_with = "haier::setting::opt_secret")]
    pub secret_key: Option<SecretString>,
    /// Earlier keys, comma-separated, that still open secrets sealed before a rotation
    /// (`supplyhub secrets rotate` reseals them under `secret_key`).
    #[serde(default, deserialize_with = "haier::setting::opt_secret")]
    pub secret_keys_previous: Option<SecretString>,
    /// Logins, their throttling and sessions (`[access]`).
    #[serde(default)]
    pub access: AccessConfig,
    /// How long `serve` waits at shutdown (SIGTERM, Ctrl-C) for work in flight to finish,
    /// in seconds (default 30). Jobs still running then are released to the queue.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// HTTP server limits and timeouts (`[http]`).
    #[serde(default)]
    pub http: crate::http::HttpConfig,
    /// The scheduler (`[schedules]`).
    #[serde(default)]
    pub schedules: SchedulesConfig,
    /// Outbound webhooks (`[webhooks]`).
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// Inbound webhooks (`[webhooks_in]`).
    #[serde(default)]
    pub webhooks_in: crate::webhooks::inbound::InboundConfig,
    /// The registry of live instances that divide the supplier budget (`[instances]`).
    #[serde(default)]
    pub instances: InstancesConfig,
    /// The failure-rate monitor of external systems (`[system_health]`).
    #[serde(default)]
    pub system_health: crate::systems::health::HealthConfig,
}

/// The registry of live instances (`[instances]`, see [`crate::instances`]): every `serve`
/// and `supplyhub sync` sharing the database heartbeats there, and each takes an equal
/// share of every supplier account's rate limit.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstancesConfig {
    /// Milliseconds between heartbeats (default 1000, 100 to 60000).
    #[serde(default = "default_heartbeat_millis")]
    pub heartbeat_millis: u64,
    /// An instance without a heartbeat for this many milliseconds is gone, and the others
    /// take its share (default 5000; at least twice `heartbeat_millis`, at most 600000).
    #[serde(default = "default_expire_after_millis")]
    pub expire_after_millis: u64,
}

impl Default for InstancesConfig {
    fn default() -> Self {
        InstancesConfig {
            heartbeat_millis: default_heartbeat_millis(),
            expire_after_millis: default_expire_after_millis(),
        }
    }
}

fn default_heartbeat_millis() -> u64 {
    1_000
}

fn default_expire_after_millis() -> u64 {
    5_000
}

/// Outbound webhooks (`[webhooks]`): where deliveries may go and when an endpoint that
/// keeps failing is disabled.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct WebhooksConfig {
    /// Accept `http://` endpoint URLs (default false: `https://` only).
    #[serde(default)]
    pub allow_http: bool,
    /// Deliver to loopback, private, link-local, unspecified, multicast, shared,
    /// benchmarking and documentation addresses (default false). Checked on the URL and
    /// on every address a name resolves to, at connect time.
    #[serde(default)]
    pub allow_private_targets: bool,
    /// How long one delivery attempt may take, in seconds (default 15).
    #[serde(default = "default_webhook_timeout_secs")]
    pub timeout_secs: u64,
    /// An endpoint that has failed for this long without a success is disabled, in
    /// seconds (default 432000: 5 days).
    #[serde(default = "default_webhook_disable_after_secs")]
    pub disable_after_secs: u64,
    /// After a secret is rotated, how long deliveries are also signed with the previous
    /// one, in seconds (default 86400: 24 hours).
    #[serde(default = "default_webhook_rotation_overlap_secs")]
    pub rotation_overlap_secs: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allow_http: false,
            allow_private_targets: false,
            timeout_secs: default_webhook_timeout_secs(),
            disable_after_secs: default_webhook_disable_after_secs(),
            rotation_overlap_secs: default_webhook_rotation_overlap_secs(),
        }
    }
}

fn default_webhook_timeout_secs() -> u64 {
    15
}

fn default_webhook_disable_after_secs() -> u64 {
    5 * 86_400
}

fn default_webhook_rotation_overlap_secs() -> u64 {
    86_400
}

fn default_shutdown_grace_secs() -> u64 {
    30
}

/// Logins and sessions (`[access]`).
///
/// After `login_slowdown_after` consecutive failed logins of an account, each further
/// attempt must wait `2^(failures - login_slowdown_after)` seconds (at most 60) after the
/// last failure, or it is refused with 429 `login_throttled`; after `login_lock_after`
/// failures the account is locked for `login_lock_minutes` (429 `account_locked`). A
/// successful login clears the count.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessConfig {
    /// Failures allowed before attempts slow down (default 3).
    #[serde(default = "default_slowdown_after")]
    pub login_slowdown_after: u32,
    /// Failures that lock the account (default 10).
    #[serde(default = "default_lock_after")]
    pub login_lock_after: u32,
    /// How long a lock lasts, in minutes (default 15).
    #[serde(default = "default_lock_minutes")]
    pub login_lock_minutes: u32,
    /// A session ends after this many minutes without a request (default 30).
    #[serde(default = "default_session_idle_minutes")]
    pub session_idle_minutes: u32,
    /// A session ends this many hours after login whatever its use (default 12).
    #[serde(default = "default_session_absolute_hours")]
    pub session_absolute_hours: u32,
    /// Marks the session cookie `Secure` even when the request did not come through a
    /// TLS proxy (`X-Forwarded-Proto: https` always does). Default false.
    #[serde(default)]
    pub cookie_secure: bool,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            login_slowdown_after: default_slowdown_after(),
            login_lock_after: default_lock_after(),
            login_lock_minutes: default_lock_minutes(),
            session_idle_minutes: default_session_idle_minutes(),
            session_absolute_hours: default_session_absolute_hours(),
            cookie_secure: false,
        }
    }
}

fn default_slowdown_after() -> u32 {
    3
}
fn default_lock_after() -> u32 {
    10
}
fn default_lock_minutes() -> u32 {
    15
}
fn default_session_idle_minutes() -> u32 {
    30
}
fn default_session_absolute_hours() -> u32 {
    12
}

/// How many days each history is kept before `serve` deletes it (`[retention]`); 0
/// keeps it forever. Whatever its age, nothing a live order or job still needs is
/// deleted (see [`crate::store::retention`]). Recorded calls have their own setting,
/// `sync.call_retention_days`.
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionConfig {
    /// Raw supplier callbacks and their applied events (default 90).
    #[serde(default = "default_history_days")]
    pub callbacks_days: u32,
    /// The inventory log of stock pools (default 90).
    #[serde(default = "default_history_days")]
    pub inventory_log_days: u32,
    /// The attempts of finished (`done`) jobs (default 90).
    #[serde(default = "default_history_days")]
    pub job_attempts_days: u32,
    /// The per-item failures of ended sync runs (default 30).
    #[serde(default = "default_sync_failures_days")]
    pub sync_failures_days: u32,
    /// Succeeded outbound webhook deliveries with their attempts, and the messages no
    /// delivery needs any more (default 30). Pending and dead deliveries are kept.
    #[serde(default = "default_sync_failures_days")]
    pub webhook_deliveries_days: u32,
    /// Inbound webhook events processed this many days ago (default 30). Events not yet
    /// processed, and dead ones, are kept. A deleted event's id is no longer known, so
    /// keep this longer than any sender retries a delivery (Standard Webhooks senders
    /// retry for a few days at most).
    #[serde(default = "default_sync_failures_days")]
    pub webhook_events_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            callbacks_days: default_history_days(),
            inventory_log_days: default_history_days(),
            job_attempts_days: default_history_days(),
            sync_failures_days: default_sync_failures_days(),
            webhook_deliveries_days: default_sync_failures_days(),
            webhook_events_days: default_sync_failures_days(),
        }
    }
}

fn default_history_days() -> u32 {
    90
}

fn default_sync_failures_days() -> u32 {
    30
}

/// The supplier's callback credentials (`[haier_callback]`).
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackConfig {
    /// The `AppKey` the supplier signs with; any other is refused.
    #[serde(deserialize_with = "haier::setting::string")]
    pub app_key: String,
    /// The shared signing secret (text, even when it is all digits).
    #[serde(deserialize_with = "haier::setting::secret")]
    pub secret: SecretString,
    /// Accepted distance of `TimeStamp` from now, in seconds. Default none: the vendor
    /// documents no window and no time zone, and a callback the supplier re-sends late
    /// would otherwise be lost for ever (replays are harmless: each event applies once).
    /// The skew is recorded with every stored callback.
    #[serde(default)]
    pub window_secs: Option<u64>,
}

/// Checkout and order settings (`[orders]`).
#[derive(Debug, Clone, Deserialize)]
pub struct OrdersConfig {
    /// How long a hold lasts before payment, in seconds (default 900: 15 minutes).
    #[serde(default = "default_hold_ttl_secs")]
    pub hold_ttl_secs: u64,
    /// How long a regional stock figure read from the supplier is trusted at checkout,
    /// in seconds (default 30); `?fresh=true` on create bypasses it.
    #[serde(default = "default_stock_ttl_secs")]
    pub stock_ttl_secs: u64,
    /// Attempts of a push before it is dead-lettered (default 8).
    #[serde(default = "default_push_attempts")]
    pub push_max_attempts: i64,
    /// Workers' lease on a job, in seconds (default 60); a dead worker's job is claimed
    /// again after it.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// Jobs a worker runs at once (default 8).
    #[serde(default = "default_worker_concurrency")]
    pub worker_concurrency: usize,
    /// First retry delay of a failed job in milliseconds (default 2000); doubles per
    /// attempt up to five minutes, with jitter.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    /// How long an order may stay `pushed` without a callback before
    /// `GET /api/v1/orders?supplier_status=pushed&stale=true` lists it for review, in
    /// seconds (default 3600). The supplier confirms or refuses every accepted push by
    /// callback; one that never comes needs a person.
    #[serde(default = "default_pushed_stale_secs")]
    pub pushed_stale_secs: u64,
}

fn default_pushed_stale_secs() -> u64 {
    3600
}

fn default_retry_base_ms() -> u64 {
    2000
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            hold_ttl_secs: default_hold_ttl_secs(),
            stock_ttl_secs: default_stock_ttl_secs(),
            push_max_attempts: default_push_attempts(),
            lease_secs: default_lease_secs(),
            worker_concurrency: default_worker_concurrency(),
            retry_base_ms: default_retry_base_ms(),
            pushed_stale_secs: default_pushed_stale_secs(),
        }
    }
}

fn default_hold_ttl_secs() -> u64 {
    900
}

fn default_stock_ttl_secs() -> u64 {
    30
}

fn default_push_attempts() -> i64 {
    8
}

fn default_lease_secs() -> u64 {
    60
}

fn default_worker_concurrency() -> usize {
    8
}

/// Catalog sync settings (`[sync]`).
#[derive(Debug, Clone, Deserialize)]
pub struct SyncConfig {
    /// County codes (GB/T 2260) whose regional stock a run mirrors; default `["370212"]`
    /// (Qingdao Laoshan).
    #[serde(default = "default_counties")]
    pub counties: Vec<String>,
    /// Supplier calls a run keeps in flight at once (default 16). The client's rate
    /// limiter, not this number, sets the pace.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Days a recorded supplier call that belongs to no order (a sync run's, a stock
    /// check's) is kept before `serve` deletes it (default 30; 0 keeps them forever).
    /// Calls made for orders are their audit trail and are never deleted.
    #[serde(default = "default_call_retention_days")]
    pub call_retention_days: u32,
    /// The part of this instance's share of the supplier's rate limit that sync runs
    /// leave to calls a customer waits on (a checkout's stock check), 0 to 0.9 (default
    /// 0.1). Those calls may use the whole share; a run, at most `1 - checkout_reserve`.
    #[serde(default = "default_checkout_reserve")]
    pub checkout_reserve: f64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            counties: default_counties(),
            concurrency: default_concurrency(),
            call_retention_days: default_call_retention_days(),
            checkout_reserve: default_checkout_reserve(),
        }
    }
}

fn default_checkout_reserve() -> f64 {
    0.1
}

/// The scheduler (`[schedules]`): what `serve` fires on its own (see [`crate::schedules`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulesConfig {
    /// Whether this instance fires schedules (default true). Any number of instances may:
    /// each firing is claimed by one.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Seconds between the scheduler's looks for due schedules (default 15, 1 to 3600).
    #[serde(default = "default_schedule_poll_secs")]
    pub poll_secs: u64,
    /// Stock calls (H3, one per product and county) the stock schedule may spend per
    /// firing (default 2000, 1 to 1000000).
    #[serde(default = "default_stock_calls_per_firing")]
    pub stock_calls_per_firing: u32,
    /// Days of orders that count as recent demand (default 7, 1 to 90).
    #[serde(default = "default_demand_days")]
    pub demand_days: u32,
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        SchedulesConfig {
            enabled: true,
            poll_secs: default_schedule_poll_secs(),
            stock_calls_per_firing: default_stock_calls_per_firing(),
            demand_days: default_demand_days(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_schedule_poll_secs() -> u64 {
    15
}

fn default_stock_calls_per_firing() -> u32 {
    2000
}

fn default_demand_days() -> u32 {
    7
}

/// Log settings (`[log]`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The value of a `SUPPLYHUB_…` setting: TOML-like (`100` is a number, `[\"a\"]` a list,
/// `true` a boolean), except that digits with a leading zero stay text: no setting is a
/// number written that way, while codes and passwords (`0088…`) are.
fn setting_value(raw: &str) -> figment::value::Value {
    let parsed: figment::value::Value = raw.parse().unwrap_or_else(|e| match e {});
    let leading_zero = raw.len() > 1 && raw.starts_with('0') && !raw.starts_with("0.");
    if leading_zero && matches!(parsed, figment::value::Value::Num(..)) {
        figment::value::Value::from(raw.to_owned())
    } else {
        parsed
    }
}

/// Whether the setting `key` (dotted, e.g. `haier.password`) holds a secret, judged by
/// the last part of its name: `secret`, `password`, or a name ending in `_secret`,
/// `_password` or `_token` (`admin_token`, `client_secret`, `seller_password`…). A secret
/// is always text, whatever it looks like, and its value never appears in an error.
pub fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    matches!(
        last,
        "secret" | "password" | "secret_key" | "secret_keys_previous"
    ) || last.ends_with("_secret")
        || last.ends_with("_password")
        || last.ends_with("_token")
}

fn default_database_url() -> String {
    "sqlite://supplyhub.db".to_owned()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_counties() -> Vec<String> {
    vec!["370212".to_owned()]
}

fn default_concurrency() -> usize {
    16
}

fn default_call_retention_days() -> u32 {
    30
}

/// A configuration that cannot be used; the message names the bad setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The sources could not be read or did not fit the shape above. The message names
    /// the setting; the value of a secret is never part of it.
    #[error("configuration: {0}")]
    Load(String),
    /// A setting has a bad value.
    #[error("configuration: {key}: {detail}")]
    Invalid {
        /// The setting, e.g. `sync.counties`.
        key: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// The message of a figment error, each failure on its own: a failure at a secret
/// setting names the setting and what was expected, never the value found.
fn load_error_message(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            if is_secret_key(&key) {
                let expected = match &e.kind {
                    figment::error::Kind::InvalidType(_, expected)
                    | figment::error::Kind::InvalidValue(_, expected) => expected.clone(),
                    figment::error::Kind::Message(m) => m.clone(),
                    _ => "a text value".to_owned(),
                };
                format!("{key}: unusable value (expected {expected}; a secret is not shown)")
            } else if let figment::error::Kind::Message(m) = &e.kind
                && m.contains('\n')
            {
                // A parse error quotes the offending line of the file, which may hold a
                // secret: keep where it is and what is wrong, not the line.
                let mut lines = m.lines().map(str::trim).filter(|l| !l.is_empty());
                let first = lines.next().unwrap_or_default();
                let last = lines.next_back().unwrap_or_default();
                let source = e
                    .metadata
                    .as_ref()
                    .and_then(|md| md.source.as_ref())
                    .map(|s| format!(" in {s}"))
                    .unwrap_or_default();
                format!("{first}: {last}{source}")
            } else {
                e.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Config {
    /// Loads the configuration from `file` (default `supplyhub.toml` if it exists), the
    /// environment, and `overrides` (`SUPPLYHUB_…` names, as printed by
    /// `supplyhub sandbox --print-env`), then validates it.
    pub fn load(
        file: Option<&Path>,
        overrides: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let figment = Figment::new().merge(Toml::file(file.unwrap_or(Path::new("supplyhub.toml"))));
        let mut settings: Vec<(String, String)> = std::env::vars()
            .filter(|(name, _)| name.starts_with("SUPPLYHUB_"))
            .collect();
        settings.sort();
        settings.extend(overrides.iter().cloned());
        Self::extract(figment, &settings)
    }

    /// The defaults plus `settings` (`SUPPLYHUB_…` names) only: no file, no environment.
    /// For tests and benchmarks that must not depend on the machine.
    pub fn from_settings(settings: &[(String, String)]) -> Result<Config, ConfigError> {
        Self::extract(Figment::new(), settings)
    }

    fn extract(mut figment: Figment, settings: &[(String, String)]) -> Result<Config, ConfigError> {
        for (name, raw) in settings {
            let Some(key) = name.strip_prefix("SUPPLYHUB_") else {
                continue;
            };
            let key = key.to_lowercase().replace("__", ".");
            let value = if is_secret_key(&key) {
                figment::value::Value::from(raw.clone())
            } else {
                setting_value(raw)
            };
            figment = figment.merge(Serialized::default(&key, value));
        }
        let secrets: Vec<&str> = settings
            .iter()
            .filter(|(name, raw)| {
                !raw.is_empty()
                    && name
                        .strip_prefix("SUPPLYHUB_")
                        .is_some_and(|key| is_secret_key(&key.to_lowercase().replace("__", ".")))
            })
            .map(|(_, raw)| raw.as_str())
            .collect();
        let hide = |message: String| {
            secrets
                .iter()
                .fold(message, |m, secret| m.replace(secret, "***"))
        };
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(hide(load_error_message(e))))?;
        config.validate().map_err(|e| match e {
            ConfigError::Invalid { key, detail } => ConfigError::Invalid {
                key,
                detail: hide(detail),
            },
            ConfigError::Load(m) => ConfigError::Load(hide(m)),
        })?;
        Ok(config)
    }

    /// Checks the values that serde cannot: URL schemes and county codes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database_url.as_str();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(ConfigError::Invalid {
                key: "database_url",
                detail: "use sqlite://FILE or postgres://USER@HOST/DB".to_owned(),
            });
        }
        for county in &self.sync.counties {
            crate::catalog::parse_stock_region(county).map_err(|detail| ConfigError::Invalid {
                key: "sync.counties",
                detail,
            })?;
        }
        region::Resolver::new(self.region.clone()).map_err(|e| ConfigError::Invalid {
            key: "region",
            detail: e.to_string(),
        })?;
        if self.sync.concurrency == 0 || self.sync.concurrency > 256 {
            return Err(ConfigError::Invalid {
                key: "sync.concurrency",
                detail: format!("must be 1 to 256, got {}", self.sync.concurrency),
            });
        }
        let reserve = self.sync.checkout_reserve;
        if !(0.0..=haier::budget::MAX_RESERVE).contains(&reserve) {
            return Err(ConfigError::Invalid {
                key: "sync.checkout_reserve",
                detail: format!("must be 0 to {}, got {reserve}", haier::budget::MAX_RESERVE),
            });
        }
        self.system_health
            .validate()
            .map_err(|(key, detail)| ConfigError::Invalid { key, detail })?;
        let i = &self.instances;
        if !(100..=60_000).contains(&i.heartbeat_millis) {
            return Err(ConfigError::Invalid {
                key: "instances.heartbeat_millis",
                detail: format!("must be 100 to 60000, got {}", i.heartbeat_millis),
            });
        }
        if i.expire_after_millis < 2 * i.heartbeat_millis || i.expire_after_millis > 600_000 {
            return Err(ConfigError::Invalid {
                key: "instances.expire_after_millis",
                detail: format!(
                    "must be at least twice instances.heartbeat_millis ({}) and at most 600000, got {}",
                    i.heartbeat_millis, i.expire_after_millis
                ),
            });
        }
        let s = &self.schedules;
        for (key, range, ok, got) in [
            (
                "schedules.poll_secs",
                "1 to 3600",
                (1..=3600).contains(&s.poll_secs),
                s.poll_secs,
            ),
            (
                "schedules.stock_calls_per_firing",
                "1 to 1000000",
                (1..=1_000_000).contains(&s.stock_calls_per_firing),
                u64::from(s.stock_calls_per_firing),
            ),
            (
                "schedules.demand_days",
                "1 to 90",
                (1..=90).contains(&s.demand_days),
                u64::from(s.demand_days),
            ),
        ] {
            if !ok {
                return Err(ConfigError::Invalid {
                    key,
                    detail: format!("must be {range}, got {got}"),
                });
            }
        }
        self.http
            .validate()
            .map_err(|(key, detail)| ConfigError::Invalid { key, detail })?;
        if !(1..=300).contains(&self.webhooks.timeout_secs) {
            return Err(ConfigError::Invalid {
                key: "webhooks.timeout_secs",
                detail: format!("must be 1 to 300, got {}", self.webhooks.timeout_secs),
            });
        }
        if self.webhooks.disable_after_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "webhooks.disable_after_secs",
                detail: "must be at least 1".to_owned(),
            });
        }
        self.webhooks_in
            .validate()
            .map_err(|(key, detail)| ConfigError::Invalid { key, detail })?;
        if let Some(h) = &self.haier
            && !(h.base_url.starts_with("http://") || h.base_url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                key: "haier.base_url",
                detail: "must be an http:// or https:// URL".to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn settings_nest_and_keep_numeric_codes_as_text() {
        let config = Config::from_settings(&settings(&[
            ("SUPPLYHUB_DATABASE_URL", "postgres://u@h/db"),
            ("SUPPLYHUB_HAIER__BASE_URL", "http://127.0.0.1:1"),
            ("SUPPLYHUB_HAIER__CLIENT_ID", "c"),
            ("SUPPLYHUB_HAIER__CLIENT_SECRET", "s"),
            ("SUPPLYHUB_HAIER__CUSTOMER_CODE", "8800633175"),
            ("SUPPLYHUB_HAIER__PASSWORD", "0123456"),
            ("SUPPLYHUB_HAIER__SELLER_PASSWORD", "p"),
            ("SUPPLYHUB_HAIER__RATE_LIMIT", "250"),
        ]))
        .unwrap();
        assert_eq!(config.database_url, "postgres://u@h/db");
        let haier = config.haier.unwrap();
        assert_eq!(haier.customer_code, "8800633175");
        assert_eq!(haier.rate_limit, 250);
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&haier.password),
            "0123456",
            "a leading zero is kept"
        );
        assert_eq!(config.sync.counties, vec!["370212".to_owned()]);
    }

    /// Every secret setting, each set to `value`, plus what a usable `[haier]`, `[ylh]`
    /// and `[haier_callback]` need besides.
    fn with_secrets(value: &str) -> Vec<(String, String)> {
        settings(&[
            ("SUPPLYHUB_ADMIN_TOKEN", value),
            ("SUPPLYHUB_HAIER__BASE_URL", "http://127.0.0.1:1"),
            ("SUPPLYHUB_HAIER__CLIENT_ID", "c"),
            ("SUPPLYHUB_HAIER__CLIENT_SECRET", value),
            ("SUPPLYHUB_HAIER__CUSTOMER_CODE", "8800633175"),
            ("SUPPLYHUB_HAIER__PASSWORD", value),
            ("SUPPLYHUB_HAIER__SELLER_PASSWORD", value),
            ("SUPPLYHUB_HAIER__CUSTOMER_PASSWORD", value),
            ("SUPPLYHUB_YLH__AUTH_BASE_URL", "http://127.0.0.1:1/a"),
            ("SUPPLYHUB_YLH__ORDER_BASE_URL", "http://127.0.0.1:1/o"),
            (
                "SUPPLYHUB_YLH__RETAIL_ORDER_BASE_URL",
                "http://127.0.0.1:1/r",
            ),
            ("SUPPLYHUB_YLH__STOCK_BASE_URL", "http://127.0.0.1:1/s"),
            ("SUPPLYHUB_YLH__CLIENT_SECRET", value),
            ("SUPPLYHUB_YLH__USERNAME", "u"),
            ("SUPPLYHUB_YLH__PASSWORD", value),
            ("SUPPLYHUB_YLH__SHOP_NAME", "s"),
            ("SUPPLYHUB_YLH__SELLER_CODE", "8800633175"),
            ("SUPPLYHUB_HAIER_CALLBACK__APP_KEY", "918273645"),
            ("SUPPLYHUB_HAIER_CALLBACK__SECRET", value),
        ])
    }

    #[test]
    fn webhook_settings_default_strict_and_are_checked() {
        let strict = Config::from_settings(&settings(&[])).unwrap();
        assert_eq!(strict.webhooks, WebhooksConfig::default());
        assert!(!strict.webhooks.allow_http && !strict.webhooks.allow_private_targets);
        assert_eq!(strict.webhooks.disable_after_secs, 5 * 86_400);
        let open = Config::from_settings(&settings(&[
            ("SUPPLYHUB_WEBHOOKS__ALLOW_HTTP", "true"),
            ("SUPPLYHUB_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
            ("SUPPLYHUB_WEBHOOKS__DISABLE_AFTER_SECS", "60"),
        ]))
        .unwrap();
        assert!(open.webhooks.allow_http && open.webhooks.allow_private_targets);
        assert_eq!(open.webhooks.disable_after_secs, 60);
        let err = Config::from_settings(&settings(&[("SUPPLYHUB_WEBHOOKS__TIMEOUT_SECS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("webhooks.timeout_secs"), "{err}");
    }

    #[test]
    fn secrets_are_text_whatever_they_look_like() {
        use secrecy::ExposeSecret;
        for value in [
            "918273645",
            "0918273645",
            "-42",
            "3.14159",
            "1e3",
            "true",
            "[1, 2]",
            "{a = 1}",
            "99999999999999999999999999",
            "s3cr3t-Pa55word",
        ] {
            let config = Config::from_settings(&with_secrets(value))
                .unwrap_or_else(|e| panic!("{value}: {e}"));
            let token = config.admin_token.as_ref().expect("admin token");
            assert_eq!(token.expose_secret(), value);
            let haier = config.haier.as_ref().expect("haier");
            for s in [
                &haier.client_secret,
                &haier.password,
                &haier.seller_password,
                haier.customer_password.as_ref().expect("customer password"),
            ] {
                assert_eq!(s.expose_secret(), value);
            }
            let ylh = config.ylh.as_ref().expect("ylh");
            assert_eq!(ylh.client_secret.expose_secret(), value);
            assert_eq!(ylh.password.expose_secret(), value);
            let callback = config.haier_callback.as_ref().expect("callback");
            assert_eq!(callback.secret.expose_secret(), value);
            assert_eq!(callback.app_key, "918273645");
        }
    }

    #[test]
    fn errors_never_show_a_secret() {
        for value in ["918273645", "s3cr3t-Pa55word"] {
            for (bad, key) in [
                ("SUPPLYHUB_DATABASE_URL", "database_url"),
                ("SUPPLYHUB_LISTEN", "listen"),
                ("SUPPLYHUB_SYNC__CONCURRENCY", "sync.concurrency"),
                ("SUPPLYHUB_HAIER__BASE_URL", "haier.base_url"),
            ] {
                // The bad setting takes the secret's value: even then it is not shown.
                let mut s = with_secrets(value);
                s.push((bad.to_owned(), value.to_owned()));
                let err = Config::from_settings(&s).unwrap_err().to_string();
                assert!(err.contains(key), "{err}");
                assert!(!err.contains(value), "{err}");
            }
        }
    }

    #[test]
    fn file_errors_at_secrets_do_not_show_them() {
        let dir = tempfile::tempdir().unwrap();
        for (toml, key) in [
            ("admin_token = 3.14159\n", "admin_token"),
            (
                "[haier_callback]\napp_key = \"k\"\nsecret = 3.14159\n",
                "haier_callback.secret",
            ),
            (
                "[haier_callback]\napp_key = \"k\"\nsecret = \"3.14159\n",
                "line",
            ),
        ] {
            let path = dir.path().join("supplyhub.toml");
            std::fs::write(&path, toml).unwrap();
            let err = Config::extract(Figment::new().merge(Toml::file(&path)), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
            assert!(!err.contains("3.14159"), "{err}");
        }
        // Integers in a file are kept as the digits written.
        let path = dir.path().join("supplyhub.toml");
        std::fs::write(&path, "admin_token = 918273645\n").unwrap();
        let config = Config::extract(Figment::new().merge(Toml::file(&path)), &[]).unwrap();
        let token = config.admin_token.unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&token), "918273645");
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::from_settings(&settings(&[("SUPPLYHUB_DATABASE_URL", "mysql://x")]))
            .unwrap_err();
        assert!(err.to_string().contains("database_url"), "{err}");
        let err = Config::from_settings(&settings(&[("SUPPLYHUB_SYNC__COUNTIES", "[\"370200\"]")]))
            .unwrap_err();
        assert!(err.to_string().contains("370200"), "{err}");
        let err = Config::from_settings(&settings(&[("SUPPLYHUB_LISTEN", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }
}
