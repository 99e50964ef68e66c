//! Configuration of the Open Platform client (the hub's `[haier]` table).

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::Error;
use crate::defaults::{
    default_breaker_cooldown_ms, default_breaker_threshold, default_max_retries,
    default_rate_limit, default_timeout_ms, default_token_timeout_ms,
};

/// Settings of the Haier Open Platform client, read from the hub's
/// configuration under `[haier]`.
///
/// Secrets are [`SecretString`]s: `Debug` shows `[REDACTED]` and they are
/// only exposed inside request bodies.
///
/// ```toml
/// [haier]
/// base_url = "https://openplat-test.haier.net"
/// client_id = "…"
/// client_secret = "…"
/// customer_code = "8800633175"
/// send_to_code = "8800633175"
/// password = "…"
/// seller_password = "…"
/// ```
#[derive(Debug, Clone, Deserialize)]
pub struct OpenPlatformConfig {
    /// The platform host, e.g. `https://openplat-test.haier.net` (test),
    /// `https://openplat-bj-aliyun-stage.haier.net` (pre-production) or
    /// `https://openplat-bj-aliyun.haier.net` (production). A trailing `/`
    /// is ignored.
    pub base_url: String,
    /// The token endpoint; `None` means `{base_url}/oauth2/auth`. If a URL
    /// ending in `/oauth2/auth` answers with a status other than 200, 401
    /// and 403, the same URL ending in `/oauth2/token` is tried once.
    #[serde(default)]
    pub token_url: Option<String>,
    /// OAuth `client_id`.
    #[serde(deserialize_with = "crate::setting::string")]
    pub client_id: String,
    /// OAuth `client_secret`.
    #[serde(deserialize_with = "crate::setting::secret")]
    pub client_secret: SecretString,
    /// Our sold-to code (售达方编码), sent as `customerCode` (H1, H2, H5),
    /// `salesCode` (H3) and `sellerCode` (H4), e.g. `"8800633175"`.
    #[serde(deserialize_with = "crate::setting::string")]
    pub customer_code: String,
    /// Our ship-to code (送达方编码), sent as `sendToCode` (H1, H2) and
    /// `senderCode` (H3). Required for prices (H2) and, by the vendor, for
    /// supplier 1001.
    #[serde(default, deserialize_with = "crate::setting::opt_string")]
    pub send_to_code: Option<String>,
    /// The supplier (供货方编码), sent as `supplierCode`; `"1001"` is 海尔智家.
    #[serde(
        default = "default_supplier_code",
        deserialize_with = "crate::setting::string"
    )]
    pub supplier_code: String,
    /// The agreed password (约定密码), sent as `passWord` (H1, H2).
    #[serde(deserialize_with = "crate::setting::secret")]
    pub password: SecretString,
    /// The customer password (客户密码), sent as `sellerPassword` (H3, H4).
    #[serde(deserialize_with = "crate::setting::secret")]
    pub seller_password: SecretString,
    /// The scheme put before the token in `Authorization` of business
    /// calls. `None` (the default) sends the bare token,
    /// `Authorization: <JWT>`, as the vendor's gateway wants (protocol
    /// §0.2); set `"Bearer"` only for a gateway that asks for it.
    #[serde(default, deserialize_with = "crate::setting::opt_string")]
    pub auth_scheme: Option<String>,
    /// The password of the balance query, sent as `customerPassword` (H5);
    /// `None` means [`password`](Self::password).
    #[serde(default, deserialize_with = "crate::setting::opt_secret")]
    pub customer_password: Option<SecretString>,
    /// Requests per second, counting every attempt and token fetch. Default
    /// 100: this project's default (from the original project's notes), not
    /// a limit in the vendor's document.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    /// Timeout of one business request, in milliseconds. Default 30 000
    /// (this project's default, not the vendor's).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Timeout of one token request, in milliseconds.
    #[serde(default = "default_token_timeout_ms")]
    pub token_timeout_ms: u64,
    /// Retries of a transient failure after the first attempt. Default 3
    /// (this project's default, not the vendor's).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Consecutive transient failures that open the circuit breaker; 0
    /// disables it.
    #[serde(default = "default_breaker_threshold")]
    pub breaker_threshold: u32,
    /// How long the open breaker refuses calls before it lets a probe
    /// through, in milliseconds.
    #[serde(default = "default_breaker_cooldown_ms")]
    pub breaker_cooldown_ms: u64,
}

fn default_supplier_code() -> String {
    OpenPlatformConfig::DEFAULT_SUPPLIER_CODE.to_owned()
}

impl OpenPlatformConfig {
    /// The default supplier: 海尔智家.
    pub const DEFAULT_SUPPLIER_CODE: &'static str = "1001";

    /// A configuration with the required settings and every default.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        customer_code: impl Into<String>,
        password: SecretString,
        seller_password: SecretString,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            token_url: None,
            client_id: client_id.into(),
            client_secret,
            customer_code: customer_code.into(),
            send_to_code: None,
            supplier_code: default_supplier_code(),
            password,
            seller_password,
            customer_password: None,
            auth_scheme: None,
            rate_limit: default_rate_limit(),
            timeout_ms: default_timeout_ms(),
            token_timeout_ms: default_token_timeout_ms(),
            max_retries: default_max_retries(),
            breaker_threshold: default_breaker_threshold(),
            breaker_cooldown_ms: default_breaker_cooldown_ms(),
        }
    }

    /// `base_url` without a trailing `/`.
    pub fn base(&self) -> &str {
        self.base_url.trim().trim_end_matches('/')
    }

    /// The token endpoint: [`token_url`](Self::token_url) or
    /// `{base_url}/oauth2/auth`.
    pub fn effective_token_url(&self) -> String {
        match self.token_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => format!("{}/oauth2/auth", self.base()),
        }
    }

    /// The scheme of business calls' `Authorization` header: the configured
    /// [`auth_scheme`](Self::auth_scheme) without blanks, `""` for the bare
    /// token.
    pub fn effective_auth_scheme(&self) -> &str {
        self.auth_scheme.as_deref().map(str::trim).unwrap_or("")
    }

    /// The password of the balance query (H5).
    pub fn effective_customer_password(&self) -> &SecretString {
        self.customer_password.as_ref().unwrap_or(&self.password)
    }

    /// [`timeout_ms`](Self::timeout_ms) as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// [`token_timeout_ms`](Self::token_timeout_ms) as a duration.
    pub fn token_timeout(&self) -> Duration {
        Duration::from_millis(self.token_timeout_ms)
    }

    /// [`breaker_cooldown_ms`](Self::breaker_cooldown_ms) as a duration.
    pub fn breaker_cooldown(&self) -> Duration {
        Duration::from_millis(self.breaker_cooldown_ms)
    }

    /// Checks what can be checked without calling the vendor.
    pub fn validate(&self) -> Result<(), Error> {
        check_url("base_url", self.base())?;
        check_url("token_url", &self.effective_token_url())?;
        if self.client_id.trim().is_empty() {
            return Err(Error::Config("haier.client_id is empty".into()));
        }
        if self.customer_code.trim().is_empty() {
            return Err(Error::Config("haier.customer_code is empty".into()));
        }
        if self.rate_limit == 0 {
            return Err(Error::Config("haier.rate_limit must be at least 1".into()));
        }
        if self.timeout_ms == 0 || self.token_timeout_ms == 0 {
            return Err(Error::Config(
                "haier.timeout_ms and haier.token_timeout_ms must be positive".into(),
            ));
        }
        Ok(())
    }
}

fn check_url(name: &str, url: &str) -> Result<(), Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Config(format!("haier.{name} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::Config(format!(
            "haier.{name} must be an http(s) URL with a host"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn numeric_codes_and_passwords_keep_their_digits() {
        let config: OpenPlatformConfig = serde_json::from_value(serde_json::json!({
            "base_url": "https://openplat-test.haier.net",
            "client_id": 42,
            "client_secret": "s",
            "customer_code": 8800633175u64,
            "send_to_code": 8800633175u64,
            "supplier_code": 1001,
            "password": 123456,
            "seller_password": "abc",
            "customer_password": 7,
        }))
        .unwrap();
        assert_eq!(config.customer_code, "8800633175");
        assert_eq!(config.send_to_code.as_deref(), Some("8800633175"));
        assert_eq!(config.supplier_code, "1001");
        assert_eq!(config.client_id, "42");
        assert_eq!(config.password.expose_secret(), "123456");
        assert_eq!(
            config
                .customer_password
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
            Some("7".to_owned())
        );
        let bad = serde_json::from_value::<OpenPlatformConfig>(serde_json::json!({
            "base_url": "x", "client_id": [1], "client_secret": "s", "customer_code": "c",
            "password": "p", "seller_password": "p"
        }));
        assert!(bad.is_err(), "a list is not a code");
    }
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_fill_in() {
        let config: OpenPlatformConfig = serde_json::from_value(serde_json::json!({
            "base_url": "https://openplat-test.haier.net/",
            "client_id": "id",
            "client_secret": "s3cret-client",
            "customer_code": "8800633175",
            "password": "s3cret-pw",
            "seller_password": "s3cret-seller",
        }))
        .unwrap();
        assert_eq!(config.base(), "https://openplat-test.haier.net");
        assert_eq!(
            config.effective_token_url(),
            "https://openplat-test.haier.net/oauth2/auth"
        );
        assert_eq!(config.supplier_code, "1001");
        assert_eq!(config.send_to_code, None);
        assert_eq!(config.rate_limit, 100);
        assert_eq!(config.timeout(), Duration::from_secs(30));
        assert_eq!(config.token_timeout(), Duration::from_secs(10));
        assert_eq!(config.max_retries, 3);
        assert_eq!(config.breaker_threshold, 10);
        assert_eq!(config.breaker_cooldown(), Duration::from_secs(30));
        assert_eq!(
            config.effective_customer_password().expose_secret(),
            "s3cret-pw"
        );
        config.validate().unwrap();

        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn explicit_values_win() {
        let config: OpenPlatformConfig = serde_json::from_value(serde_json::json!({
            "base_url": "https://openplat-test.haier.net",
            "token_url": "https://openplat.haier.net/gateway-test/oauth2/token",
            "client_id": "id",
            "client_secret": "x",
            "customer_code": "8800633175",
            "send_to_code": "8800633176",
            "supplier_code": "2002",
            "password": "p",
            "seller_password": "s",
            "customer_password": "c",
            "rate_limit": 5,
            "max_retries": 0,
        }))
        .unwrap();
        assert_eq!(
            config.effective_token_url(),
            "https://openplat.haier.net/gateway-test/oauth2/token"
        );
        assert_eq!(config.supplier_code, "2002");
        assert_eq!(config.rate_limit, 5);
        assert_eq!(config.max_retries, 0);
        assert_eq!(config.effective_customer_password().expose_secret(), "c");
    }

    #[test]
    fn validation() {
        let base = || {
            OpenPlatformConfig::new(
                "https://openplat-test.haier.net",
                "id",
                "x".into(),
                "8800633175",
                "p".into(),
                "s".into(),
            )
        };
        base().validate().unwrap();
        let mut c = base();
        c.base_url = "openplat-test.haier.net".into();
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        let mut c = base();
        c.base_url = "ftp://openplat-test.haier.net".into();
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        let mut c = base();
        c.rate_limit = 0;
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        let mut c = base();
        c.customer_code = " ".into();
        assert!(matches!(c.validate(), Err(Error::Config(_))));
    }
}
