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
    /// When set, `/api/v1` requires `Authorization: Bearer <admin_token>`.
    #[serde(default)]
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
}

/// The supplier's callback credentials (`[haier_callback]`).
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackConfig {
    /// The `AppKey` the supplier signs with; any other is refused.
    pub app_key: String,
    /// The shared signing secret.
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
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            counties: default_counties(),
            concurrency: default_concurrency(),
            call_retention_days: default_call_retention_days(),
        }
    }
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
    /// The sources could not be read or did not fit the shape above.
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A setting has a bad value.
    #[error("configuration: {key}: {detail}")]
    Invalid {
        /// The setting, e.g. `sync.counties`.
        key: &'static str,
        /// What is wrong with it.
        detail: String,
    },
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
            figment = figment.merge(Serialized::default(&key, setting_value(raw)));
        }
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
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
