//! The Haier Open Platform (海尔开放平台): token endpoint and business calls H1 to H5,
//! at the vendor's paths, with the vendor's field names.

mod balance;
mod logistics;
mod prices;
mod products;
pub(crate) mod stock;
mod token;
pub(crate) mod views;
pub(crate) mod wire;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde::de::DeserializeOwned;

use crate::gateway::{self, Reply};
use crate::state::AppState;
use crate::stats::Endpoint;

/// The vendor's paths.
pub(crate) mod paths {
    /// The token URL.
    pub(crate) const TOKEN: &str = "/oauth2/auth";
    /// The alternative token URL.
    pub(crate) const TOKEN_ALT: &str = "/oauth2/token";
    /// H1.
    pub(crate) const PROCURABLE_PRODUCTS: &str = "/yilihuo/jsh-service-goods-mall-search/api/product-info/procurable-products-out/check-procurable-products";
    /// H2.
    pub(crate) const PRICES: &str = "/yilihuo/jsh-service-goods-price/api/goods-price/price-daily-sales/price-query/pt-out-list-price";
    /// H3.
    pub(crate) const STOCK: &str =
        "/yilihuo/jsh-service-stock-mall/api/page/stock/get-available-stock-open";
    /// H4.
    pub(crate) const LOGISTICS: &str = "/yilihuo/ylh-cloud-service-stock/api/page/stock/logistics/sass/get-thirdparty-logistics-info-by-order-code-auth";
    /// H5.
    pub(crate) const BALANCE: &str = "/yilihuo/jsh-service-finance-mall/api/page/account/account-balance-manager/get-payer-account-balance-by-customer-code";
}

/// Runs one call through the gateway, parses its body and hands it to `handle`.
async fn serve<T, F>(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: &[u8],
    authenticated: bool,
    handle: F,
) -> Response
where
    T: DeserializeOwned,
    F: FnOnce(&AppState, T) -> Reply,
{
    let admission = match gateway::admit(state, endpoint, headers, authenticated).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let reply = match gateway::parse_json::<T>(headers, body) {
        Ok(req) => handle(state, req),
        Err(reply) => reply,
    };
    admission.finish(reply)
}

async fn token(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&s, Endpoint::Token, &headers, &body, false, token::handle).await
}

async fn procurable_products(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &s,
        Endpoint::ProcurableProducts,
        &headers,
        &body,
        true,
        products::handle,
    )
    .await
}

async fn prices(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&s, Endpoint::Prices, &headers, &body, true, prices::handle).await
}

async fn stock(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&s, Endpoint::Stock, &headers, &body, true, stock::handle).await
}

async fn logistics(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(
        &s,
        Endpoint::Logistics,
        &headers,
        &body,
        true,
        logistics::handle,
    )
    .await
}

async fn balance(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(
        &s,
        Endpoint::Balance,
        &headers,
        &body,
        true,
        balance::handle,
    )
    .await
}

/// The platform's routes.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(paths::TOKEN, post(token))
        .route(paths::TOKEN_ALT, post(token))
        .route(paths::PROCURABLE_PRODUCTS, post(procurable_products))
        .route(paths::PRICES, post(prices))
        .route(paths::STOCK, post(stock))
        .route(paths::LOGISTICS, post(logistics))
        .route(paths::BALANCE, post(balance))
}
