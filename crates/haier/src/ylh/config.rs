//! Configuration of the YLH client (the hub's `[ylh]` table).

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::Error;
use crate::defaults::{
    default_breaker_cooldown_ms, default_breaker_threshold, default_max_retries,
    default_rate_limit, default_timeout_ms, default_token_timeout_ms,
};

/// Settings of the YLH order centre client (易理货), read from the hub's
/// configuration under `[ylh]`.
///
/// The vendor runs its services under separate paths (protocol §2), with
/// `{env}` = `-dev`, `-pre` or empty (production) and hosts
/// `http://dev.ylhtest.com`, `http://pre.yilihuo.com`,
/// `http://www.yilihuo.com`. Each service has its own base URL here: sending
/// every endpoint to one base, as the original client did, reaches the
/// wrong service for reschedule, photos and logistics.
///
/// Secrets are [`SecretString`]s: `Debug` shows `[REDACTED]`.
///
/// Codes and passwords are text. A configuration source that guesses types
/// (an environment variable `SUPPLYHUB_YLH__SELLER_CODE=8800539012`) may
/// hand them over as integers: they are accepted and kept as their digits.
/// Such a source also reads `0123` as the integer 123, so a value with a
/// leading zero must be quoted there (`SUPPLYHUB_YLH__PASSWORD='"0123"'`).
/// Numbers with a fraction or an exponent and booleans are refused rather
/// than guessed.
///
/// ```toml
/// [ylh]
/// auth_base_url = "http://dev.ylhtest.com/ylh-cloud-mgt-auth-dev"
/// order_base_url = "http://dev.ylhtest.com/ylh-cloud-service-jst-order-dev"
/// retail_order_base_url = "http://dev.ylhtest.com/ylh-cloud-service-order-dev"
/// stock_base_url = "https://dev.ylhtest.com/ylh-cloud-service-stock-dev"
/// client_secret = "…"
/// username = "erp"
/// password = "…"
/// shop_name = "…"
/// seller_code = "8800539012"
/// ```
#[derive(Debug, Clone, Deserialize)]
pub struct YlhConfig {
    /// The auth service (`/ylh-cloud-mgt-auth{env}`), e.g.
    /// `http://dev.ylhtest.com/ylh-cloud-mgt-auth-dev`; the token is fetched
    /// from `{auth_base_url}/oauth/token`. A trailing `/` is ignored.
    pub auth_base_url: String,
    /// The jst-order service (`/ylh-cloud-service-jst-order{env}`), for
    /// order creation (Y1) and cancellation (Y2), e.g.
    /// `http://dev.ylhtest.com/ylh-cloud-service-jst-order-dev`.
    pub order_base_url: String,
    /// The order service (`/ylh-cloud-service-order{env}`), for rescheduling
    /// (Y3) and delivery photos (Y4), e.g.
    /// `http://dev.ylhtest.com/ylh-cloud-service-order-dev`.
    pub retail_order_base_url: String,
    /// The stock service (`/ylh-cloud-service-stock{env}`), for logistics by
    /// SO codes (Y5). The vendor gives it with `https`, e.g.
    /// `https://dev.ylhtest.com/ylh-cloud-service-stock-dev`.
    pub stock_base_url: String,
    /// The OAuth client, sent in `Authorization: Basic
    /// base64(client_id:client_secret)` of the token request. Default
    /// `open_api_erp`.
    #[serde(
        default = "default_client_id",
        deserialize_with = "crate::setting::string"
    )]
    pub client_id: String,
    /// The OAuth client secret (no default: the vendor's test value is not
    /// a production secret).
    #[serde(deserialize_with = "crate::setting::secret")]
    pub client_secret: SecretString,
    /// `username` of the password grant (e.g. `erp`).
    #[serde(deserialize_with = "crate::setting::string")]
    pub username: String,
    /// `password` of the password grant.
    #[serde(deserialize_with = "crate::setting::secret")]
    pub password: SecretString,
    /// `sourceSystem` of Y1 and Y2: our order source, a value the vendor
    /// registers for each retailer (protocol §0.3). There is no default:
    /// [`validate`](Self::validate) refuses a configuration without it.
    #[serde(default, deserialize_with = "crate::setting::string")]
    pub source_system: String,
    /// Texts that mark a `success:false` answer as the vendor's refusal of a
    /// repeat: of a `soId` to Y1 ("the order is already there"), of a cancel
    /// request to Y2 ("already asked, do not submit again"). Matched as
    /// substrings of `errorMsg` (or `errCode`). The vendor does not document
    /// those answers, so their wording is configuration. Default
    /// [`DEFAULT_DUPLICATE_PATTERNS`](Self::DEFAULT_DUPLICATE_PATTERNS).
    #[serde(default = "default_duplicate_patterns")]
    pub duplicate_patterns: Vec<String>,
    /// `shopName` of Y1: our shop as the vendor knows it.
    #[serde(deserialize_with = "crate::setting::string")]
    pub shop_name: String,
    /// `sellerCode` of Y1: our 8-digit customer code (客户八码), e.g.
    /// `"8800539012"` (test).
    #[serde(deserialize_with = "crate::setting::string")]
    pub seller_code: String,
    /// Requests per second over all YLH services, counting every attempt and
    /// token fetch. Default 100: this project's default (from the original
    /// project's notes), not a limit the vendor documents.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    /// Timeout of one business request, in milliseconds. Default 30 000
    /// (this project's default, not the vendor's).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Timeout of one token request, in milliseconds. Default 10 000.
    #[serde(default = "default_token_timeout_ms")]
    pub token_timeout_ms: u64,
    /// Retries of a transient failure after the first attempt. Default 3
    /// (this project's default, not the vendor's). Order creation (Y1) only retries failures whose request certainly
    /// did not reach the vendor.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Consecutive transient failures of one host that open its circuit
    /// breaker; 0 disables it. Default 10.
    #[serde(default = "default_breaker_threshold")]
    pub breaker_threshold: u32,
    /// How long an open breaker refuses calls before it lets a probe
    /// through, in milliseconds. Default 30 000.
    #[serde(default = "default_breaker_cooldown_ms")]
    pub breaker_cooldown_ms: u64,
}

fn default_client_id() -> String {
    YlhConfig::DEFAULT_CLIENT_ID.to_owned()
}

fn default_duplicate_patterns() -> Vec<String> {
    YlhConfig::DEFAULT_DUPLICATE_PATTERNS
        .iter()
        .map(|p| (*p).to_owned())
        .collect()
}

impl YlhConfig {
    /// The default OAuth client: `open_api_erp`.
    pub const DEFAULT_CLIENT_ID: &'static str = "open_api_erp";
    /// The default [`duplicate_patterns`](Self::duplicate_patterns):
    /// 已存在 (already exists) and 重复 (duplicate).
    pub const DEFAULT_DUPLICATE_PATTERNS: [&'static str; 2] = ["已存在", "重复"];

    /// A configuration with the required settings and every default; the
    /// `sourceSystem` is left empty and must be set before
    /// [`validate`](Self::validate) accepts it. `base` is the vendor host with its environment, for example
    /// (`"http://dev.ylhtest.com"`, `"-dev"`): the four service URLs are
    /// derived from it as protocol §2 describes, the stock service with
    /// `https`.
    pub fn for_host(
        host: &str,
        env: &str,
        client_secret: SecretString,
        username: impl Into<String>,
        password: SecretString,
        shop_name: impl Into<String>,
        seller_code: impl Into<String>,
    ) -> Self {
        let host = host.trim().trim_end_matches('/');
        let https_host = match host.strip_prefix("http://") {
            Some(rest) => format!("https://{rest}"),
            None => host.to_owned(),
        };
        Self {
            auth_base_url: format!("{host}/ylh-cloud-mgt-auth{env}"),
            order_base_url: format!("{host}/ylh-cloud-service-jst-order{env}"),
            retail_order_base_url: format!("{host}/ylh-cloud-service-order{env}"),
            stock_base_url: format!("{https_host}/ylh-cloud-service-stock{env}"),
            client_id: default_client_id(),
            client_secret,
            username: username.into(),
            password,
            source_system: String::new(),
            duplicate_patterns: default_duplicate_patterns(),
            shop_name: shop_name.into(),
            seller_code: seller_code.into(),
            rate_limit: default_rate_limit(),
            timeout_ms: default_timeout_ms(),
            token_timeout_ms: default_token_timeout_ms(),
            max_retries: default_max_retries(),
            breaker_threshold: default_breaker_threshold(),
            breaker_cooldown_ms: default_breaker_cooldown_ms(),
        }
    }

    /// Whether a `success:false` answer with this `errorMsg` text and `errCode`
    /// is the refusal of a repeat (a `soId` to Y1, a cancel request to Y2): one
    /// of the [`duplicate_patterns`](Self::duplicate_patterns) occurs in either.
    pub fn is_duplicate_refusal(&self, err_code: Option<&str>, text: &str) -> bool {
        self.duplicate_patterns.iter().any(|p| {
            let p = p.trim();
            !p.is_empty() && (text.contains(p) || err_code.is_some_and(|c| c.contains(p)))
        })
    }

    /// The token endpoint: `{auth_base_url}/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", trim(&self.auth_base_url))
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
        for (name, url) in [
            ("auth_base_url", &self.auth_base_url),
            ("order_base_url", &self.order_base_url),
            ("retail_order_base_url", &self.retail_order_base_url),
            ("stock_base_url", &self.stock_base_url),
        ] {
            check_url(name, trim(url))?;
        }
        if self.source_system.trim().is_empty() {
            return Err(Error::Config(
                "ylh.source_system is missing: set it to the sourceSystem value the supplier \
                 registered for this retailer (there is no default)"
                    .into(),
            ));
        }
        if self.duplicate_patterns.iter().any(|p| p.trim().is_empty()) {
            return Err(Error::Config(
                "ylh.duplicate_patterns holds a blank pattern (it would match every refusal)"
                    .into(),
            ));
        }
        for (name, value) in [
            ("client_id", &self.client_id),
            ("username", &self.username),
            ("shop_name", &self.shop_name),
            ("seller_code", &self.seller_code),
        ] {
            if value.trim().is_empty() {
                return Err(Error::Config(format!("ylh.{name} is empty")));
            }
        }
        if self.rate_limit == 0 {
            return Err(Error::Config("ylh.rate_limit must be at least 1".into()));
        }
        if self.timeout_ms == 0 || self.token_timeout_ms == 0 {
            return Err(Error::Config(
                "ylh.timeout_ms and ylh.token_timeout_ms must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// `url` without surrounding whitespace and trailing `/`.
pub(super) fn trim(url: &str) -> &str {
    url.trim().trim_end_matches('/')
}

fn check_url(name: &str, url: &str) -> Result<(), Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Config(format!("ylh.{name} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::Config(format!(
            "ylh.{name} must be an http(s) URL with a host"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "auth_base_url": "http://dev.ylhtest.com/ylh-cloud-mgt-auth-dev/",
            "order_base_url": "http://dev.ylhtest.com/ylh-cloud-service-jst-order-dev",
            "retail_order_base_url": "http://dev.ylhtest.com/ylh-cloud-service-order-dev",
            "stock_base_url": "https://dev.ylhtest.com/ylh-cloud-service-stock-dev",
            "client_secret": "s3cret-client",
            "username": "erp",
            "password": "s3cret-pw",
            "shop_name": "测试店铺",
            "seller_code": "8800539012",
            "source_system": "registered-src",
        })
    }

    #[test]
    fn defaults_fill_in() {
        let config: YlhConfig = serde_json::from_value(minimal()).unwrap();
        assert_eq!(config.client_id, "open_api_erp");
        assert_eq!(config.source_system, "registered-src");
        assert_eq!(config.duplicate_patterns, ["已存在", "重复"]);
        assert!(config.is_duplicate_refusal(None, "子订单号 PO1 已存在"));
        assert!(config.is_duplicate_refusal(Some("500"), "订单重复推送"));
        assert!(!config.is_duplicate_refusal(Some("500"), "商品不可采"));
        assert!(!config.is_duplicate_refusal(None, ""));
        assert_eq!(config.rate_limit, 100);
        assert_eq!(config.timeout(), Duration::from_secs(30));
        assert_eq!(config.token_timeout(), Duration::from_secs(10));
        assert_eq!(config.max_retries, 3);
        assert_eq!(config.breaker_threshold, 10);
        assert_eq!(config.breaker_cooldown(), Duration::from_secs(30));
        assert_eq!(
            config.token_url(),
            "http://dev.ylhtest.com/ylh-cloud-mgt-auth-dev/oauth/token"
        );
        config.validate().unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn source_system_has_no_default() {
        let mut value = minimal();
        value.as_object_mut().unwrap().remove("source_system");
        let config: YlhConfig = serde_json::from_value(value).unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("ylh.source_system is missing"), "{err}");
    }

    #[test]
    fn duplicate_patterns_are_configurable() {
        let mut value = minimal();
        value["duplicate_patterns"] = serde_json::json!(["soId已推送"]);
        let config: YlhConfig = serde_json::from_value(value).unwrap();
        config.validate().unwrap();
        assert!(config.is_duplicate_refusal(None, "该soId已推送过, 请勿重复"));
        assert!(!config.is_duplicate_refusal(None, "订单重复"));
        let mut value = minimal();
        value["duplicate_patterns"] = serde_json::json!([" "]);
        let config: YlhConfig = serde_json::from_value(value).unwrap();
        assert!(config.validate().is_err());
    }

    #[test]
    fn numeric_codes_and_passwords_keep_their_digits() {
        let mut value = minimal();
        value["seller_code"] = serde_json::json!(8800539012u64);
        value["password"] = serde_json::json!(123456);
        value["username"] = serde_json::json!(-7);
        value["client_id"] = serde_json::json!(42);
        let config: YlhConfig = serde_json::from_value(value).unwrap();
        assert_eq!(config.seller_code, "8800539012");
        assert_eq!(config.password.expose_secret(), "123456");
        assert_eq!(config.username, "-7");
        assert_eq!(config.client_id, "42");

        for bad in [
            serde_json::json!(1.5),
            serde_json::json!(true),
            serde_json::json!([1]),
        ] {
            let mut value = minimal();
            value["seller_code"] = bad.clone();
            assert!(
                serde_json::from_value::<YlhConfig>(value).is_err(),
                "{bad} is not a code"
            );
        }
    }

    #[test]
    fn urls_per_service_from_one_host() {
        let c = YlhConfig::for_host(
            "http://dev.ylhtest.com/",
            "-dev",
            "x".into(),
            "erp",
            "p".into(),
            "店",
            "8800539012",
        );
        assert_eq!(
            c.auth_base_url,
            "http://dev.ylhtest.com/ylh-cloud-mgt-auth-dev"
        );
        assert_eq!(
            c.order_base_url,
            "http://dev.ylhtest.com/ylh-cloud-service-jst-order-dev"
        );
        assert_eq!(
            c.retail_order_base_url,
            "http://dev.ylhtest.com/ylh-cloud-service-order-dev"
        );
        assert_eq!(
            c.stock_base_url,
            "https://dev.ylhtest.com/ylh-cloud-service-stock-dev"
        );
        assert!(c.validate().is_err(), "no sourceSystem yet");
        let mut c = c;
        c.source_system = "registered-src".into();
        c.validate().unwrap();
        let prod = YlhConfig::for_host(
            "http://www.yilihuo.com",
            "",
            "x".into(),
            "erp",
            "p".into(),
            "店",
            "8800539012",
        );
        assert_eq!(
            prod.order_base_url,
            "http://www.yilihuo.com/ylh-cloud-service-jst-order"
        );
    }

    #[test]
    fn validation() {
        let ok: YlhConfig = serde_json::from_value(minimal()).unwrap();
        let mut c = ok.clone();
        c.stock_base_url = "dev.ylhtest.com/stock".into();
        assert!(matches!(c.validate(), Err(Error::Config(m)) if m.contains("stock_base_url")));
        let mut c = ok.clone();
        c.seller_code = " ".into();
        assert!(matches!(c.validate(), Err(Error::Config(m)) if m.contains("seller_code")));
        let mut c = ok;
        c.rate_limit = 0;
        assert!(matches!(c.validate(), Err(Error::Config(_))));
    }
}
