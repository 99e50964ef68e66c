//! The REST API: routes, authentication, OpenAPI.
//!
//! `/healthz` and `/openapi.json` are open; `/api/v1` requires
//! `Authorization: Bearer <admin_token>` when an admin token is configured.

mod body;
mod callbacks;
mod error;
mod jobs;
mod orders;
mod pagination;
mod products;
mod regions;
mod request_log;
mod server;
mod stock;
mod sync_runs;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};
pub use pagination::Page;
pub use regions::RegionResolution;
pub use server::{HttpConfig, serve};

use crate::store::Db;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub db: Db,
    /// The admin bearer token, if `/api/v1` is protected.
    pub admin_token: Option<Arc<SecretString>>,
    /// The address resolver, built once from `[region]`.
    pub resolver: Arc<region::Resolver>,
    /// The supplier's callback credentials; callbacks are refused without them.
    pub callback: Option<Arc<crate::config::CallbackConfig>>,
    /// Checkout and orders.
    pub orders: crate::orders::OrderService,
    /// The YLH order centre, for live logistics and photos.
    pub ylh: Option<Arc<haier::Ylh>>,
    /// The Haier Open Platform, for live logistics (H4).
    pub supplier: Option<Arc<haier::OpenPlatform>>,
    /// Request limits and timeouts (`[http]`).
    pub http: HttpConfig,
}

impl AppState {
    /// A state over `db` with no token, no supplier and default settings; set the other
    /// fields as needed.
    pub fn new(db: Db) -> AppState {
        let resolver = Arc::new(region::Resolver::default());
        AppState {
            orders: crate::orders::OrderService::new(
                db.clone(),
                Arc::clone(&resolver),
                None,
                crate::config::OrdersConfig::default(),
            ),
            db,
            admin_token: None,
            resolver,
            callback: None,
            ylh: None,
            supplier: None,
            http: HttpConfig::default(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "supplyhub",
        description = "An integration hub between a retailer's systems and its suppliers.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Documents the refusals of [`server::limit_head`] and [`server::read_body`] on the operations they can
/// reach: 414 and 431 on every operation, 408 and 413 on those that take a body.
/// Applied once every route is in the document.
struct LimitResponses;

impl utoipa::Modify for LimitResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if operation.request_body.is_some() {
                    responses
                        .entry("408".to_owned())
                        .or_insert_with(|| error("The body did not arrive in time").into());
                    responses
                        .entry("413".to_owned())
                        .or_insert_with(|| error("The body is over the size limit").into());
                }
                responses
                    .entry("414".to_owned())
                    .or_insert_with(|| error("The request target is over the length limit").into());
                responses
                    .entry("431".to_owned())
                    .or_insert_with(|| error("Too many request headers, or too large").into());
            }
        }
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(callbacks::haier_callback))
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .routes(routes!(
                    products::list_products,
                    stock::create_local_product
                ))
                .routes(routes!(products::get_product))
                .routes(routes!(stock::adjust_local_stock))
                .routes(routes!(stock::get_stock_pool))
                .routes(routes!(orders::create_order, orders::list_orders))
                .routes(routes!(orders::get_order))
                .routes(routes!(orders::list_order_calls))
                .routes(routes!(orders::pay_order))
                .routes(routes!(orders::cancel_order))
                .routes(routes!(orders::reschedule_order))
                .routes(routes!(orders::order_logistics))
                .routes(routes!(orders::order_delivery_photos))
                .routes(routes!(jobs::list_jobs))
                .routes(routes!(jobs::get_job))
                .routes(routes!(jobs::redrive_job))
                .routes(routes!(sync_runs::list_sync_runs))
                .routes(routes!(sync_runs::get_sync_run))
                .routes(routes!(sync_runs::list_sync_run_calls))
                .routes(routes!(regions::resolve_region)),
        )
}

/// The OpenAPI document of the API (also served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().into_openapi();
    utoipa::Modify::modify(&LimitResponses, &mut doc);
    doc
}

/// The application: every route with its middleware.
pub fn router(state: AppState) -> Router {
    let (router, mut openapi) = api_router().split_for_parts();
    utoipa::Modify::modify(&LimitResponses, &mut openapi);
    let openapi = Arc::new(openapi);
    let request_id = HeaderName::from_static("x-request-id");
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&openapi);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::MethodNotAllowed(format!("this route does not accept {method}"))
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            server::read_body,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_bearer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            server::limit_head,
        ))
        .layer(middleware::from_fn(error::json_errors))
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(request_log::layer())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Requires the admin bearer token on `/api/v1` when one is configured.
async fn require_bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(expected) = &state.admin_token
        && request.uri().path().starts_with("/api/")
    {
        let given = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let ok = given
            .is_some_and(|g| constant_time_eq(g.as_bytes(), expected.expose_secret().as_bytes()));
        if !ok {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Health of the service.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", operation_id = "health", tag = "meta",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database does not answer", body = Health)
    ))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database: "ok",
            }),
        ),
        Err(e) => {
            tracing::warn!(error = ?e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "degraded",
                    database: "unavailable",
                }),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
