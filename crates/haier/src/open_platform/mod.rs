//! The Haier Open Platform (海尔开放平台): configuration, wire types and
//! the [`OpenPlatform`] client for the queries H1, H2, H3, H4 and H5.
//!
//! All five are `POST` queries with a JSON body, so every one of them is
//! safe to retry. Every HTTP request (token fetches included) is paced by a
//! per-client rate limiter, guarded by a circuit breaker, counted in
//! [`CallStats`] and reported to the optional [`CallObserver`].

mod config;
mod token;
pub mod types;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Serialize;

pub use config::OpenPlatformConfig;
pub use token::ENDPOINT as TOKEN_ENDPOINT;
pub use types::{
    BalanceRequest, CourierNode, CourierShipment, DeliveryItem, DeliveryLogistics, LogisticsInfo,
    LogisticsRequest, LogisticsState, OutboundLogistics, PayerBalance, Price, PricesRequest,
    ProcurableProduct, ProcurableProductsRequest, RebatePolicy, StockDeliveryRecord,
    StockLogisticsNode, StockReply, StockRequest, ThirdPartyDeliveryRecord, Timeliness, TokenReply,
    TokenRequest, WarehouseStock,
};

use crate::breaker::BreakerState;
use crate::observe::{CallObserver, CallStats};
use crate::product_code::ProductCode;
use crate::token::TokenProvider;
use crate::transport::{ClientExtras, ClientLimits, Idempotency, Transport};
use crate::wire::Records;
use crate::{Error, wire};
use token::OpenPlatformTokens;

/// The most product codes one H1 or H2 request may carry (vendor limit).
pub const MAX_CODES_PER_CALL: usize = 20;

/// Paths of the endpoints, relative to `base_url`.
pub mod paths {
    /// H1 procurable products.
    pub const PROCURABLE_PRODUCTS: &str = "/yilihuo/jsh-service-goods-mall-search/api/product-info/procurable-products-out/check-procurable-products";
    /// H2 prices.
    pub const PRICES: &str = "/yilihuo/jsh-service-goods-price/api/goods-price/price-daily-sales/price-query/pt-out-list-price";
    /// H3 stock.
    pub const STOCK: &str =
        "/yilihuo/jsh-service-stock-mall/api/page/stock/get-available-stock-open";
    /// H4 logistics.
    pub const LOGISTICS: &str = "/yilihuo/ylh-cloud-service-stock/api/page/stock/logistics/sass/get-thirdparty-logistics-info-by-order-code-auth";
    /// H5 payer balance.
    pub const BALANCE: &str = "/yilihuo/jsh-service-finance-mall/api/page/account/account-balance-manager/get-payer-account-balance-by-customer-code";
    /// The default token endpoint.
    pub const TOKEN: &str = "/oauth2/auth";
    /// The token endpoint tried when [`TOKEN`] fails.
    pub const TOKEN_FALLBACK: &str = "/oauth2/token";
}

/// Short endpoint names used in errors and [`CallRecord`](crate::CallRecord)s.
pub mod endpoints {
    /// H1 procurable products.
    pub const PROCURABLE_PRODUCTS: &str = "h1_procurable";
    /// H2 prices.
    pub const PRICES: &str = "h2_prices";
    /// H3 stock.
    pub const STOCK: &str = "h3_stock";
    /// H4 logistics.
    pub const LOGISTICS: &str = "h4_logistics";
    /// H5 payer balance.
    pub const BALANCE: &str = "h5_balance";
    /// Token requests.
    pub const TOKEN: &str = super::token::ENDPOINT;
}

/// The Open Platform client. Cheap to clone: clones share the token, the
/// rate limiter, the breaker and the counters.
#[derive(Clone)]
pub struct OpenPlatform {
    inner: Arc<Inner>,
}

struct Inner {
    config: OpenPlatformConfig,
    transport: Transport,
    tokens: TokenProvider<OpenPlatformTokens>,
    urls: Urls,
}

struct Urls {
    procurable: Url,
    prices: Url,
    stock: Url,
    logistics: Url,
    balance: Url,
}

impl fmt::Debug for OpenPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenPlatform")
            .field("base_url", &self.inner.config.base())
            .field("customer_code", &self.inner.config.customer_code)
            .finish_non_exhaustive()
    }
}

/// Builds an [`OpenPlatform`] with optional extras.
pub struct OpenPlatformBuilder {
    config: OpenPlatformConfig,
    extras: ClientExtras,
}

impl OpenPlatformBuilder {
    /// Sends a [`CallRecord`](crate::CallRecord) of every HTTP attempt to
    /// `observer`.
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.extras.observer = Some(observer);
        self
    }

    /// Paces every request by `budget`, the account's request budget shared with the
    /// other clients of the account (see [`Budget`](crate::budget::Budget)); its limit
    /// applies instead of the configured `rate_limit`. Without it the client paces
    /// itself at its configured `rate_limit`.
    pub fn budget(mut self, budget: crate::budget::Budget) -> Self {
        self.extras.budget = Some(budget);
        self
    }

    /// Sets the base delay of the first retry and the cap of later ones
    /// (defaults: [`RetryPolicy::DEFAULT_MIN_DELAY`](crate::retry::RetryPolicy::DEFAULT_MIN_DELAY),
    /// [`RetryPolicy::DEFAULT_MAX_DELAY`](crate::retry::RetryPolicy::DEFAULT_MAX_DELAY)); jitter adds up to as much again.
    pub fn retry_delays(mut self, min: Duration, max: Duration) -> Self {
        self.extras.min_delay = min;
        self.extras.max_delay = max;
        self
    }

    /// Checks the configuration and builds the client. No request is sent.
    pub fn build(self) -> Result<OpenPlatform, Error> {
        let config = self.config;
        config.validate()?;
        let transport = self.extras.transport(ClientLimits {
            section: "haier",
            timeout: config.timeout(),
            rate_limit: config.rate_limit,
            breaker_threshold: config.breaker_threshold,
            breaker_cooldown: config.breaker_cooldown(),
            max_retries: config.max_retries,
        })?;
        let url = |path: &str| {
            Url::parse(&format!("{}{path}", config.base()))
                .map_err(|e| Error::Config(format!("haier.base_url: {e}")))
        };
        let urls = Urls {
            procurable: url(paths::PROCURABLE_PRODUCTS)?,
            prices: url(paths::PRICES)?,
            stock: url(paths::STOCK)?,
            logistics: url(paths::LOGISTICS)?,
            balance: url(paths::BALANCE)?,
        };
        let token_url = Url::parse(&config.effective_token_url())
            .map_err(|e| Error::Config(format!("haier.token_url: {e}")))?;
        let tokens = TokenProvider::new(OpenPlatformTokens::new(
            transport.clone(),
            config.client_id.clone(),
            config.client_secret.clone(),
            token_url,
            config.effective_auth_scheme().to_owned(),
            config.token_timeout(),
        ));
        Ok(OpenPlatform {
            inner: Arc::new(Inner {
                config,
                transport,
                tokens,
                urls,
            }),
        })
    }
}

impl OpenPlatform {
    /// A client with `config` and no observer. No request is sent until the
    /// first query.
    pub fn new(config: OpenPlatformConfig) -> Result<Self, Error> {
        Self::builder(config).build()
    }

    /// A builder for a client with an observer or other retry delays.
    pub fn builder(config: OpenPlatformConfig) -> OpenPlatformBuilder {
        OpenPlatformBuilder {
            config,
            extras: ClientExtras::default(),
        }
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &OpenPlatformConfig {
        &self.inner.config
    }

    /// Cumulative counters since the client was built.
    pub fn stats(&self) -> CallStats {
        self.inner.transport.stats()
    }

    /// The circuit breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.transport.breaker_state()
    }

    /// H1: which products we may buy (可采商品).
    ///
    /// With no codes, one request without `productCodes` returns every
    /// procurable model. Otherwise the codes (duplicates dropped, order
    /// kept) go out in requests of at most [`MAX_CODES_PER_CALL`], one after
    /// the other; the first failing request ends the call with its error.
    /// To run chunks concurrently and keep per-chunk failures, call
    /// [`procurable_products_chunk`](Self::procurable_products_chunk) on
    /// `codes.chunks(MAX_CODES_PER_CALL)`.
    pub async fn procurable_products(
        &self,
        codes: &[ProductCode],
    ) -> Result<Records<ProcurableProduct>, Error> {
        if codes.is_empty() {
            return self.procurable_products_chunk(&[]).await;
        }
        let mut all = Records::default();
        for chunk in distinct(codes).chunks(MAX_CODES_PER_CALL) {
            all.extend(self.procurable_products_chunk(chunk).await?);
        }
        Ok(all)
    }

    /// H1 for one request: at most [`MAX_CODES_PER_CALL`] codes
    /// ([`Error::InvalidRequest`] otherwise, with nothing sent); no codes
    /// asks for every procurable model.
    ///
    /// Records are decoded one by one: one the client cannot read is a
    /// [`BadRecord`](crate::BadRecord) in [`Records::bad`] with its reason,
    /// and the others go through.
    pub async fn procurable_products_chunk(
        &self,
        codes: &[ProductCode],
    ) -> Result<Records<ProcurableProduct>, Error> {
        check_chunk(codes)?;
        let config = &self.inner.config;
        let request = ProcurableProductsRequest {
            customer_code: config.customer_code.clone(),
            send_to_code: config.send_to_code.clone(),
            product_codes: (!codes.is_empty()).then(|| codes.to_vec()),
            supplier_code: config.supplier_code.clone(),
            search_type: types::SEARCH_TYPE.to_owned(),
            password: config.password.clone(),
        };
        self.query(
            endpoints::PROCURABLE_PRODUCTS,
            &self.inner.urls.procurable,
            &request,
            |body| wire::decode_records(endpoints::PROCURABLE_PRODUCTS, body),
        )
        .await
    }

    /// H2: prices of `codes` (`priceType` "PT").
    ///
    /// Codes (duplicates dropped) go out in requests of at most
    /// [`MAX_CODES_PER_CALL`]; no codes means no request and no prices.
    /// Needs `send_to_code` in the configuration ([`Error::Config`]
    /// otherwise). The vendor only prices products that pass the H1 check.
    pub async fn prices(&self, codes: &[ProductCode]) -> Result<Records<Price>, Error> {
        let mut all = Records::default();
        for chunk in distinct(codes).chunks(MAX_CODES_PER_CALL) {
            all.extend(self.prices_chunk(chunk).await?);
        }
        Ok(all)
    }

    /// H2 for one request of at most [`MAX_CODES_PER_CALL`] codes
    /// ([`Error::InvalidRequest`] otherwise); no codes gives no prices
    /// without a request. Records are decoded one by one (a price the
    /// client cannot read, such as 价格未生效 where a number belongs, is a
    /// [`BadRecord`](crate::BadRecord) and the others go through).
    pub async fn prices_chunk(&self, codes: &[ProductCode]) -> Result<Records<Price>, Error> {
        check_chunk(codes)?;
        let config = &self.inner.config;
        let send_to_code = config
            .send_to_code
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| Error::Config("haier.send_to_code is required for prices".into()))?;
        if codes.is_empty() {
            return Ok(Records::default());
        }
        let request = PricesRequest {
            customer_code: config.customer_code.clone(),
            send_to_code,
            product_codes: codes.to_vec(),
            price_type: types::PRICE_TYPE.to_owned(),
            password: config.password.clone(),
        };
        self.query(
            endpoints::PRICES,
            &self.inner.urls.prices,
            &request,
            |body| wire::decode_records(endpoints::PRICES, body),
        )
        .await
    }

    /// H3: the stock of one product for delivery to `county_code`, the
    /// 6-digit GB/T 2260 county code of the address (e.g. "110101";
    /// [`Error::InvalidRequest`] if it is not 6 ASCII digits).
    ///
    /// The reply lists every warehouse that can serve the county; see
    /// [`StockReply::total`] and [`StockReply::best_warehouse`].
    pub async fn stock(
        &self,
        product_code: &ProductCode,
        county_code: &str,
    ) -> Result<StockReply, Error> {
        if county_code.len() != 6 || !county_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidRequest(format!(
                "county code must be 6 digits, got {county_code:?}"
            )));
        }
        let config = &self.inner.config;
        let request = StockRequest {
            sales_code: config.customer_code.clone(),
            sender_code: config.send_to_code.clone(),
            product_code: product_code.clone(),
            county_code: county_code.to_owned(),
            source: types::STOCK_SOURCE.to_owned(),
            seller_password: config.seller_password.clone(),
        };
        let warehouses = self
            .query(endpoints::STOCK, &self.inner.urls.stock, &request, |body| {
                wire::decode_list(endpoints::STOCK, body)
            })
            .await?;
        Ok(StockReply { warehouses })
    }

    /// H4: the logistics of the vendor's order `order_code` (e.g.
    /// "SO.20190106.000003"), optionally narrowed to one delivery record
    /// (`deliveryRecordCode`, e.g. "SO.20190106.000003.F1") and a `memberId`.
    ///
    /// Sends `sellerCode` (our customer code) and `sellerPassword`. The reply
    /// holds three lists with undocumented items, kept as raw JSON (see
    /// [`LogisticsInfo`]); it may come bare or as an envelope's `data`.
    pub async fn logistics(
        &self,
        order_code: &str,
        delivery_record_code: Option<&str>,
        member_id: Option<i64>,
    ) -> Result<LogisticsInfo, Error> {
        if order_code.trim().is_empty() {
            return Err(Error::InvalidRequest(
                "h4_logistics: orderCode is empty".into(),
            ));
        }
        let config = &self.inner.config;
        let request = LogisticsRequest {
            order_code: order_code.to_owned(),
            delivery_record_code: delivery_record_code.map(str::to_owned),
            member_id,
            seller_code: config.customer_code.clone(),
            seller_password: config.seller_password.clone(),
        };
        self.query(
            endpoints::LOGISTICS,
            &self.inner.urls.logistics,
            &request,
            |body| wire::decode_object(endpoints::LOGISTICS, body),
        )
        .await
    }

    /// H5: our payer accounts and their balances. The vendor may answer
    /// with one object or a list; both give a list.
    pub async fn balance(&self) -> Result<Vec<PayerBalance>, Error> {
        let config = &self.inner.config;
        let request = BalanceRequest {
            customer_code: config.customer_code.clone(),
            customer_password: config.effective_customer_password().clone(),
        };
        self.query(
            endpoints::BALANCE,
            &self.inner.urls.balance,
            &request,
            |body| wire::decode_one_or_list(endpoints::BALANCE, body),
        )
        .await
    }

    async fn query<R, T>(
        &self,
        endpoint: &'static str,
        url: &Url,
        request: &R,
        decode: impl Fn(&[u8]) -> Result<T, Error>,
    ) -> Result<T, Error>
    where
        R: Serialize,
    {
        // The body holds passwords: it is never logged or put in an error.
        let body = serde_json::to_vec(request).map_err(|e| {
            Error::InvalidRequest(format!("{endpoint}: cannot encode the request: {e}"))
        })?;
        self.inner
            .transport
            .call(
                &self.inner.tokens,
                endpoint,
                url,
                &body,
                Idempotency::Idempotent,
                &[],
                decode,
            )
            .await
    }
}

fn check_chunk(codes: &[ProductCode]) -> Result<(), Error> {
    if codes.len() > MAX_CODES_PER_CALL {
        return Err(Error::InvalidRequest(format!(
            "{} product codes in one request; the vendor takes at most {MAX_CODES_PER_CALL}",
            codes.len()
        )));
    }
    Ok(())
}

/// `codes` without repeats, in their first order.
fn distinct(codes: &[ProductCode]) -> Vec<ProductCode> {
    let mut seen = HashSet::with_capacity(codes.len());
    codes
        .iter()
        .filter(|c| seen.insert(c.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keeps_first_order() {
        let codes: Vec<ProductCode> = ["B", "A", "B", "C", "A"]
            .iter()
            .map(|c| ProductCode::parse(c).unwrap())
            .collect();
        let got: Vec<String> = distinct(&codes).into_iter().map(String::from).collect();
        assert_eq!(got, ["B", "A", "C"]);
    }

    #[test]
    fn urls_join_base_and_path() {
        let mut config = OpenPlatformConfig::new(
            "https://openplat-test.haier.net/",
            "id",
            "x".into(),
            "8800633175",
            "p".into(),
            "s".into(),
        );
        let client = OpenPlatform::new(config.clone()).unwrap();
        assert_eq!(
            client.inner.urls.stock.as_str(),
            "https://openplat-test.haier.net/yilihuo/jsh-service-stock-mall/api/page/stock/get-available-stock-open"
        );
        config.rate_limit = 0;
        assert!(matches!(OpenPlatform::new(config), Err(Error::Config(_))));
    }
}
