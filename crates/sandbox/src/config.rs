//! How a sandbox is configured, and the fixed credentials it accepts.

use std::time::Duration;

use crate::faults::FaultMode;

/// The settings of one sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// How many products the generated catalog holds.
    pub products: usize,
    /// The seed of everything random: catalog, stock levels, churn, fault draws and
    /// order decisions.
    pub seed: u64,
    /// How much the platform misbehaves (switchable later through `/_sandbox/faults`).
    pub faults: FaultMode,
    /// Requests per second for each simulated service (the Open Platform, the YLH order
    /// centre), with a burst of one second's worth; 0 disables the limit. The vendor
    /// documents 100.
    pub rate_limit: u32,
    /// How long an issued token stays valid (Open Platform and YLH alike).
    pub token_ttl: Duration,
    /// How long a "hang" fault holds a call before answering (longer than the vendor's
    /// suggested 30 s client timeout by default).
    pub hang: Duration,
    /// Where order callbacks are POSTed; `None` sends none (orders still progress).
    pub callback_url: Option<String>,
    /// The `AppKey` of the callbacks.
    pub callback_app_key: String,
    /// The secret the callbacks are signed with.
    pub callback_secret: String,
    /// How long after an order (or a cancel request) arrives its outcome is decided and
    /// called back.
    pub callback_delay: Duration,
    /// How long each logistics step (confirmed → shipped → delivered) takes.
    pub logistics_step: Duration,
    /// The share of orders confirmed. The three outcome rates must add up to 1.
    pub confirm_rate: f64,
    /// The share of orders Haier rejects (a `cancel` callback nobody asked for).
    pub reject_rate: f64,
    /// The share of orders refused as out of stock.
    pub oos_rate: f64,
    /// The chance that a callback is delivered twice.
    pub duplicate_callback_rate: f64,
    /// The chance that cancelling a confirmed multi-line order only partly succeeds.
    pub partial_cancel_rate: f64,
    /// The wait before the first retry of a failed callback delivery; it doubles for
    /// each later one.
    pub callback_retry_backoff: Duration,
    /// How many times one callback delivery is attempted in all.
    pub callback_attempts: u32,
    /// Whether the Open Platform also accepts `Authorization: Bearer <token>`. The
    /// vendor's gateway takes the bare token only (protocol §0.2): off by default.
    pub accept_bearer: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            products: 5000,
            seed: 1,
            faults: FaultMode::None,
            rate_limit: 100,
            token_ttl: Duration::from_secs(3600),
            hang: Duration::from_secs(35),
            callback_url: None,
            callback_app_key: credentials::CALLBACK_APP_KEY.to_owned(),
            callback_secret: credentials::CALLBACK_SECRET.to_owned(),
            callback_delay: Duration::from_millis(1500),
            logistics_step: Duration::from_millis(3000),
            confirm_rate: 0.90,
            reject_rate: 0.05,
            oos_rate: 0.05,
            duplicate_callback_rate: 0.10,
            partial_cancel_rate: 0.20,
            callback_retry_backoff: Duration::from_millis(500),
            callback_attempts: 4,
            accept_bearer: false,
        }
    }
}

/// The sandbox's fixed credentials. They are sandbox values, not secrets: printing them
/// (see [`crate::Sandbox::env`]) is how a client gets configured. Every password differs
/// from the others so that a client sending the wrong one is caught.
pub mod credentials {
    /// `client_id` of the token endpoint.
    pub const CLIENT_ID: &str = "supplyhub-sandbox";
    /// `client_secret` of the token endpoint.
    pub const CLIENT_SECRET: &str = "sandbox-client-secret";
    /// 售达方编码: `customerCode` (H1, H2, H5), `salesCode` (H3), `sellerCode` (H4, Y1).
    pub const CUSTOMER_CODE: &str = "8800633175";
    /// 送达方编码: `sendToCode` (H1, H2) and `senderCode` (H3).
    pub const SEND_TO_CODE: &str = "8800633188";
    /// 供货方编码: `supplierCode` (H1); "1001" is 海尔智家.
    pub const SUPPLIER_CODE: &str = "1001";
    /// 约定密码: `passWord` (H1, H2).
    pub const PASSWORD: &str = "sandbox-agreed-password";
    /// `sellerPassword` (H3, H4).
    pub const SELLER_PASSWORD: &str = "sandbox-seller-password";
    /// `customerPassword` (H5).
    pub const CUSTOMER_PASSWORD: &str = "sandbox-customer-password";
    /// The payer account behind the customer (H5).
    pub const PAYER_ACCOUNT_CODE: &str = "8800633175";
    /// YLH `client_id` (the user part of the token call's Basic authorization).
    pub const YLH_CLIENT_ID: &str = "supplyhub-ylh-sandbox";
    /// YLH `client_secret` (the password part of the Basic authorization).
    pub const YLH_CLIENT_SECRET: &str = "sandbox-ylh-client-secret";
    /// YLH `username` of the password grant.
    pub const YLH_USERNAME: &str = "supplyhub-erp";
    /// YLH `password` of the password grant.
    pub const YLH_PASSWORD: &str = "sandbox-ylh-password";
    /// `sourceSystem` (Y1, Y2): the order source YLH knows us by.
    pub const YLH_SOURCE_SYSTEM: &str = "supplyhub";
    /// `shopName` (Y1).
    pub const YLH_SHOP_NAME: &str = "沙盒家电旗舰店";
    /// The `system-name` header the YLH token call needs.
    pub const YLH_SYSTEM_NAME: &str = "ylh-open-api";
    /// The default `AppKey` of the callbacks.
    pub const CALLBACK_APP_KEY: &str = "0f3c5a9e-6b2d-4e71-8a4c-2d9e7b1f6c30";
    /// The default secret the callbacks are signed with.
    pub const CALLBACK_SECRET: &str = "3b9f0c7e2a6d4e18b5c1f7a9d0e2c4b6";
}

/// The `{env}` suffix of the YLH service prefixes (the dev environment).
pub(crate) const YLH_ENV: &str = "-dev";

/// The client settings for a sandbox at `base_url`: `SUPPLYHUB_HAIER__*`,
/// `SUPPLYHUB_YLH__*` and `SUPPLYHUB_HAIER_CALLBACK__*` variables, every one a value the
/// hub accepts. `SUPPLYHUB_HAIER__RATE_LIMIT` is the sandbox's limit, left out when the
/// sandbox has none (0).
pub(crate) fn env_vars(base_url: &str, config: &SandboxConfig) -> Vec<(String, String)> {
    use credentials as c;
    let token_url = format!("{base_url}/oauth2/auth");
    let rate_limit = config.rate_limit.to_string();
    let haier = [
        ("BASE_URL", base_url),
        ("TOKEN_URL", token_url.as_str()),
        ("CLIENT_ID", c::CLIENT_ID),
        ("CLIENT_SECRET", c::CLIENT_SECRET),
        ("CUSTOMER_CODE", c::CUSTOMER_CODE),
        ("SEND_TO_CODE", c::SEND_TO_CODE),
        ("SUPPLIER_CODE", c::SUPPLIER_CODE),
        ("PASSWORD", c::PASSWORD),
        ("SELLER_PASSWORD", c::SELLER_PASSWORD),
        ("CUSTOMER_PASSWORD", c::CUSTOMER_PASSWORD),
        ("RATE_LIMIT", rate_limit.as_str()),
    ];
    // A sandbox without a limit (0) asks nothing of the client's pace: the client keeps
    // its own, the vendor's documented budget. (The client has no "unlimited": it is
    // configured for the real supplier, and 0 there is refused.)
    let haier = haier
        .into_iter()
        .filter(|(k, _)| !(*k == "RATE_LIMIT" && config.rate_limit == 0));
    let service = |name: &str| format!("{base_url}/{name}{YLH_ENV}");
    let (auth, order, retail, stock) = (
        service("ylh-cloud-mgt-auth"),
        service("ylh-cloud-service-jst-order"),
        service("ylh-cloud-service-order"),
        service("ylh-cloud-service-stock"),
    );
    let ylh = [
        ("AUTH_BASE_URL", auth.as_str()),
        ("ORDER_BASE_URL", order.as_str()),
        ("RETAIL_ORDER_BASE_URL", retail.as_str()),
        ("STOCK_BASE_URL", stock.as_str()),
        ("CLIENT_ID", c::YLH_CLIENT_ID),
        ("CLIENT_SECRET", c::YLH_CLIENT_SECRET),
        ("USERNAME", c::YLH_USERNAME),
        ("PASSWORD", c::YLH_PASSWORD),
        ("SOURCE_SYSTEM", c::YLH_SOURCE_SYSTEM),
        ("SHOP_NAME", c::YLH_SHOP_NAME),
        ("SELLER_CODE", c::CUSTOMER_CODE),
    ];
    let callback = [
        ("APP_KEY", config.callback_app_key.as_str()),
        ("SECRET", config.callback_secret.as_str()),
    ];
    let named = |prefix: &'static str| {
        move |(k, v): (&str, &str)| (format!("SUPPLYHUB_{prefix}__{k}"), v.to_owned())
    };
    haier
        .map(named("HAIER"))
        .chain(ylh.into_iter().map(named("YLH")))
        .chain(callback.into_iter().map(named("HAIER_CALLBACK")))
        .collect()
}
