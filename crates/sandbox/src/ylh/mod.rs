//! The YLH order centre (易理货): its password-grant token and the order calls Y1–Y5,
//! under the vendor's service prefixes for the dev environment.

mod cancel;
mod create;
mod logistics;
mod photos;
mod reschedule;
mod token;
mod wire;

use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use crate::gateway::{self, Reply};
use crate::state::AppState;
use crate::stats::Endpoint;

/// The vendor's paths (`{env}` = `-dev`).
pub(crate) mod paths {
    /// The token URL.
    pub(crate) const TOKEN: &str = "/ylh-cloud-mgt-auth-dev/oauth/token";
    /// Y1.
    pub(crate) const CREATE: &str =
        "/ylh-cloud-service-jst-order-dev/api/page/hmm/retailorder/receive-hmm-retail-order";
    /// Y2.
    pub(crate) const CANCEL: &str =
        "/ylh-cloud-service-jst-order-dev/api/page/hmm/retailorder/cancel-hmm-retail-order";
    /// Y3.
    pub(crate) const RESCHEDULE: &str =
        "/ylh-cloud-service-order-dev/api/page/retailorder/hmm/update-distribution-time";
    /// Y4.
    pub(crate) const PHOTOS: &str =
        "/ylh-cloud-service-order-dev/api/page/retailorder/search/get-retail-order-delivery-img";
    /// Y5.
    pub(crate) const STORE_LOGISTICS: &str = "/ylh-cloud-service-stock-dev/api/composite/stock/logistics/get-store-logistics-by-order-code";
}

/// Runs a business call through the gateway, parses its JSON body and hands it on.
async fn serve(
    state: &Arc<AppState>,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: &[u8],
    handle: fn(&Arc<AppState>, Value) -> Reply,
) -> Response {
    let admission = match gateway::admit(state, endpoint, headers, true).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let reply = match gateway::parse_json::<Value>(headers, body) {
        Ok(v) => handle(state, v),
        Err(reply) => reply,
    };
    admission.finish(reply)
}

async fn token(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<token::TokenForm>, FormRejection>,
) -> Response {
    match gateway::admit(&s, Endpoint::YlhToken, &headers, false).await {
        Ok(admission) => admission.finish(token::handle(&s, &headers, form)),
        Err(response) => response,
    }
}

/// Y1 runs on its own task: a client that gives up (a timeout during a hang) does not
/// stop the order from being processed, just as at the vendor. A server error may come
/// before or after the order is recorded.
async fn create(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let task = tokio::spawn(async move {
        let endpoint = Endpoint::YlhCreateOrder;
        let admission = match gateway::admit_ambiguous(&s, endpoint, &headers).await {
            Ok(a) => a,
            Err(response) => return response,
        };
        let reply = match gateway::parse_json::<Value>(&headers, &body) {
            Ok(v) => create::handle(&s, v),
            Err(reply) => reply,
        };
        admission.finish(reply)
    });
    match task.await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "order creation task failed");
            Reply::failure(StatusCode::INTERNAL_SERVER_ERROR, "系统内部错误").into_response()
        }
    }
}

async fn cancel(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(
        &s,
        Endpoint::YlhCancelOrder,
        &headers,
        &body,
        cancel::handle,
    )
    .await
}

async fn reschedule(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(
        &s,
        Endpoint::YlhReschedule,
        &headers,
        &body,
        reschedule::handle,
    )
    .await
}

async fn photos(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    serve(
        &s,
        Endpoint::YlhDeliveryPhotos,
        &headers,
        &body,
        photos::handle,
    )
    .await
}

async fn store_logistics(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &s,
        Endpoint::YlhStoreLogistics,
        &headers,
        &body,
        logistics::handle,
    )
    .await
}

/// The order centre's routes.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(paths::TOKEN, post(token))
        .route(paths::CREATE, post(create))
        .route(paths::CANCEL, post(cancel))
        .route(paths::RESCHEDULE, post(reschedule))
        .route(paths::PHOTOS, post(photos))
        .route(paths::STORE_LOGISTICS, post(store_logistics))
}
