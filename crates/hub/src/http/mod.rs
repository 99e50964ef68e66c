//! The REST API: routes, access control, OpenAPI.
//!
//! Every routed request passes the authorization layer of [`crate::access`], which reads
//! the permission table: `/healthz`, `/openapi.json`, login and the supplier's callbacks
//! are public; the rest needs the admin token, an API key or a session whose role the
//! table allows.

pub(crate) mod body;
mod callbacks;
mod error;
pub(crate) mod jobs;
mod members;
pub(crate) mod orders;
pub(crate) mod pagination;
mod pos;
mod products;
mod regions;
mod request_log;
mod server;
mod stock;
mod supplier_orders;
mod sync_runs;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};
pub use pagination::Page;
pub use regions::RegionResolution;
pub use server::{HttpConfig, serve};

use crate::access::http as access;
use crate::store::Db;
use crate::systems::http as systems;
use crate::webhooks::http as webhooks;
use crate::webhooks::inbound::http as webhooks_in;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub db: Db,
    /// The bootstrap admin bearer token; when set, credentials are always required.
    pub admin_token: Option<Arc<SecretString>>,
    /// Access control: login settings, and whether credentials are required.
    pub access: crate::access::AccessState,
    /// The keys that seal the external systems' secrets.
    pub secrets: Arc<crate::systems::crypto::KeyRing>,
    /// The address resolver, built once from `[region]`.
    pub resolver: Arc<region::Resolver>,
    /// Checkout and orders.
    pub orders: crate::orders::OrderService,
    /// The supplier as it is now: the Open Platform (live logistics, H4), the YLH order
    /// centre (live logistics and photos) and the callback credentials (callbacks are
    /// refused without them), following the active supplier system. The registry
    /// refreshes it after each change of a system.
    pub supplier: crate::systems::live::LiveSupplier,
    /// Request limits and timeouts (`[http]`).
    pub http: HttpConfig,
    /// Outbound webhooks (`[webhooks]`): which endpoint URLs are accepted.
    pub webhooks: crate::config::WebhooksConfig,
    /// Inbound webhook settings (`[webhooks_in]`).
    pub webhooks_in: crate::webhooks::inbound::InboundConfig,
    /// Cancelled when the instance begins to shut down (`/readyz` then answers 503).
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The scheduler's settings, for run-now (`[schedules]`, `[sync]` counties).
    pub schedules: crate::schedules::scheduler::Settings,
}

impl AppState {
    /// A state over `db` with no token, no supplier and default settings; set the other
    /// fields as needed.
    pub fn new(db: Db) -> AppState {
        let resolver = Arc::new(region::Resolver::default());
        let supplier = crate::systems::live::LiveSupplier::none();
        AppState {
            orders: crate::orders::OrderService::new(
                db.clone(),
                Arc::clone(&resolver),
                supplier.clone(),
                crate::config::OrdersConfig::default(),
            ),
            db,
            admin_token: None,
            access: crate::access::AccessState::default(),
            secrets: Arc::new(crate::systems::crypto::KeyRing::ephemeral()),
            resolver,
            supplier,
            http: HttpConfig::default(),
            webhooks: crate::config::WebhooksConfig::default(),
            webhooks_in: crate::webhooks::inbound::InboundConfig::default(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            schedules: crate::schedules::scheduler::Settings::default(),
        }
    }

    /// This state with `supplier` as its supplier, for the order service too.
    pub fn with_supplier(mut self, supplier: crate::systems::live::LiveSupplier) -> AppState {
        self.orders = crate::orders::OrderService::new(
            self.db.clone(),
            Arc::clone(&self.resolver),
            supplier.clone(),
            self.orders.config().clone(),
        );
        self.supplier = supplier;
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "supplyhub",
        description = "An integration hub between a retailer's systems and its suppliers.",
        license(name = "Apache-2.0")
    ),
    components(schemas(
        ErrorBody,
        crate::records::purchase::SupplierOrderEvent,
        crate::records::Applied
    )),
    tags(
        (name = "access", description = "Sign-in, users and API keys. Credentials: \
            `Authorization: Bearer <SUPPLYHUB_ADMIN_TOKEN or API key>`, or the \
            `supplyhub_session` cookie from /api/v1/auth/login (whose state-changing \
            requests carry `X-CSRF-Token`)."),
        (name = "records", description = "Records the retailer's other systems send: POS \
            transactions, supplier purchase orders and returns, members. Each kind's \
            canonical schema (`PosTransactionInput`, `MemberUpdate`, \
            `SupplierOrderEvent`) is also what a system's webhook carries when the system \
            has no mapping of its own.")
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Documents the refusals every operation of a kind can answer: 414 and 431 on every
/// operation ([`server::limit_head`]), 408 and 413 on those that take a body
/// ([`server::read_body`]), 401 on those behind the bearer token, 400 / 415 / 422 on
/// those that take a JSON body ([`body::JsonBody`]), and 400 on those with a path
/// parameter, which may not be UTF-8 once percent-decoded ([`body::PathParam`]).
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
                let json_body = matches!(
                    &operation.request_body,
                    Some(utoipa::openapi::RefOr::T(body))
                        if body.content.len() == 1 && body.content.contains_key("application/json")
                );
                let bearer = operation
                    .security
                    .as_ref()
                    .is_some_and(|requirements| !requirements.is_empty());
                let mut path_parameter = false;
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let utoipa::openapi::RefOr::T(parameter) = parameter {
                        non_empty_query_text(parameter);
                        path_parameter |=
                            parameter.parameter_in == utoipa::openapi::path::ParameterIn::Path;
                    }
                }
                let responses = &mut operation.responses.responses;
                if path_parameter {
                    let unreadable = "a path parameter that cannot be read (not UTF-8 once \
                                      percent-decoded)";
                    let description = if json_body {
                        format!("The body is not JSON, or {unreadable}")
                    } else {
                        format!("A{}", &unreadable[1..])
                    };
                    responses
                        .entry("400".to_owned())
                        .or_insert_with(|| error(&description).into());
                }
                if bearer {
                    responses.entry("401".to_owned()).or_insert_with(|| {
                        error("No bearer token, or not the configured one").into()
                    });
                }
                if json_body {
                    responses
                        .entry("400".to_owned())
                        .or_insert_with(|| error("The body is not JSON").into());
                    responses.entry("415".to_owned()).or_insert_with(|| {
                        error("The body is not sent as application/json").into()
                    });
                    responses.entry("422".to_owned()).or_insert_with(|| {
                        error("The body is JSON but a field is missing, mistyped or out of range")
                            .into()
                    });
                }
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

/// A free-text query parameter (a string with no length, pattern, format or choices of
/// its own) is given `minLength: 1`: the handlers read `?name=` as a value, and an empty
/// one is refused with a 400 naming it.
fn non_empty_query_text(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    if parameter.parameter_in != ParameterIn::Query {
        return;
    }
    if let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema {
        let text = match &object.schema_type {
            SchemaType::Type(Type::String) => true,
            SchemaType::Array(types) => types.contains(&Type::String),
            _ => false,
        };
        if text
            && object.min_length.is_none()
            && object.pattern.is_none()
            && object.format.is_none()
            && object.enum_values.is_none()
        {
            object.min_length = Some(1);
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
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::new(crate::access::http::SESSION_COOKIE),
            )),
        );
    }
}

/// Writes each operation's roles from the permission table into its description, and
/// its 401 and 403 answers.
fn document_access(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use crate::access::permissions::{Allow, rule_for};
    use utoipa::openapi::security::SecurityRequirement;
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
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in [
            ("GET", item.get.as_mut()),
            ("POST", item.post.as_mut()),
            ("PUT", item.put.as_mut()),
            ("PATCH", item.patch.as_mut()),
            ("DELETE", item.delete.as_mut()),
        ] {
            let Some(op) = op else { continue };
            let allow = rule_for(method, path).map(|r| r.allow);
            let roles = allow.map_or_else(
                || "Roles: none (no entry in the permission table).".to_owned(),
                |a| a.describe(),
            );
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{roles}"),
                _ => roles,
            });
            if allow == Some(Allow::Public) {
                continue;
            }
            op.security = Some(vec![
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("session", Vec::<String>::new()),
            ]);
            let responses = &mut op.responses.responses;
            responses.entry("401".to_owned()).or_insert_with(|| {
                error("No credentials, or wrong, revoked or expired ones").into()
            });
            responses.entry("403".to_owned()).or_insert_with(|| {
                error("The caller's role may not do this (or a session's CSRF token is missing)")
                    .into()
            });
        }
    }
    doc
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(callbacks::haier_callback))
        .routes(routes!(webhooks_in::receive_webhook))
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .routes(routes!(access::login))
                .routes(routes!(access::logout))
                .routes(routes!(access::me))
                .routes(routes!(access::list_users, access::create_user))
                .routes(routes!(access::get_user, access::update_user))
                .routes(routes!(access::list_api_keys, access::create_api_key))
                .routes(routes!(access::revoke_api_key))
                .routes(routes!(crate::audit::http::list_audit_log))
                .routes(routes!(systems::create_system, systems::list_systems))
                .routes(routes!(
                    systems::get_system,
                    systems::replace_system,
                    systems::update_system,
                    systems::delete_system
                ))
                .routes(routes!(systems::test_system))
                .routes(routes!(webhooks::create_endpoint, webhooks::list_endpoints))
                .routes(routes!(
                    webhooks::get_endpoint,
                    webhooks::update_endpoint,
                    webhooks::delete_endpoint
                ))
                .routes(routes!(webhooks::rotate_secret))
                .routes(routes!(webhooks::list_deliveries))
                .routes(routes!(webhooks::get_delivery))
                .routes(routes!(webhooks::retry_delivery))
                .routes(routes!(
                    webhooks_in::create_webhook_secret,
                    webhooks_in::list_webhook_secrets
                ))
                .routes(routes!(webhooks_in::preview_mapping))
                .routes(routes!(webhooks_in::list_webhook_events))
                .routes(routes!(webhooks_in::get_webhook_event))
                .routes(routes!(webhooks_in::replay_webhook_event))
                .routes(routes!(webhooks_in::replay_webhook_events))
                .routes(routes!(webhooks_in::list_webhook_refusals))
                .routes(routes!(crate::systems::supplier::supplier_products))
                .routes(routes!(crate::systems::supplier::supplier_prices))
                .routes(routes!(crate::systems::supplier::supplier_stock))
                .routes(routes!(crate::systems::supplier::supplier_balance))
                .routes(routes!(crate::systems::supplier::supplier_logistics))
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
                .routes(routes!(
                    sync_runs::list_sync_runs,
                    crate::systems::runs::start_sync_run
                ))
                .routes(routes!(sync_runs::get_sync_run))
                .routes(routes!(crate::schedules::http::list_schedules))
                .routes(routes!(
                    crate::schedules::http::get_schedule,
                    crate::schedules::http::replace_schedule
                ))
                .routes(routes!(crate::schedules::http::run_schedule))
                .routes(routes!(pos::record_pos_transactions))
                .routes(routes!(pos::list_pos_transactions))
                .routes(routes!(pos::get_pos_transaction))
                .routes(routes!(supplier_orders::list_supplier_orders))
                .routes(routes!(
                    supplier_orders::create_supplier_order,
                    supplier_orders::get_supplier_order
                ))
                .routes(routes!(supplier_orders::transition_supplier_order))
                .routes(routes!(members::sync_members))
                .routes(routes!(members::list_members))
                .routes(routes!(members::get_member))
                .routes(routes!(sync_runs::list_sync_run_calls))
                .routes(routes!(regions::resolve_region)),
        )
}

/// The OpenAPI document of the API (also served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().into_openapi();
    utoipa::Modify::modify(&LimitResponses, &mut doc);
    document_access(doc)
}

/// The application: every route with its middleware.
pub fn router(state: AppState) -> Router {
    // The recorder exists before anything counts: a count made earlier would be lost.
    crate::metrics::handle();
    let (router, mut openapi) = api_router().split_for_parts();
    utoipa::Modify::modify(&LimitResponses, &mut openapi);
    let openapi = Arc::new(document_access(openapi));
    let request_id = HeaderName::from_static("x-request-id");
    router
        .route("/docs", axum::routing::get(crate::docs::page))
        .route("/docs/app.js", axum::routing::get(crate::docs::script))
        .merge(crate::admin::routes())
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&openapi);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route_layer(middleware::from_fn(crate::metrics::route_layer))
        // The audit layer runs inside the authorization layer, which finds the caller.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::audit::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::http::authorize,
        ))
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::MethodNotAllowed(format!("this route does not accept {method}"))
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            server::read_body,
        ))
        // Who the caller is, before its body is read; what it may do is checked by the
        // authorization layer above, once the route is known.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::http::authenticate_layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            server::limit_head,
        ))
        .layer(middleware::from_fn(error::json_errors))
        // Counts every request, refused ones included, by the route it matched.
        .layer(middleware::from_fn(crate::metrics::http_layer))
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(request_log::layer())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Liveness: the process serves requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness: answers while the process serves requests, whatever the state of the
/// database (a restart would not mend it; see `/readyz`).
#[utoipa::path(get, path = "/healthz", operation_id = "health", tag = "meta",
    responses((status = 200, description = "Alive", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness of the instance to take traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, or `not_ready` when any of the checks below fails.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
    /// `current`, `pending` (this binary carries migrations the database lacks) or
    /// `unknown` (the database did not answer).
    pub migrations: &'static str,
    /// Migrations this binary carries that the database has not applied.
    pub pending_migrations: Option<usize>,
    /// Whether the instance has begun to shut down.
    pub shutting_down: bool,
}

/// Readiness: the database answers, its schema is current, and the instance is not
/// shutting down. A load balancer sends traffic only to instances that answer 200.
#[utoipa::path(get, path = "/readyz", operation_id = "ready", tag = "meta",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: the body says which check failed", body = Readiness)
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let pending = state.db.pending_migrations().await;
    let shutting_down = state.shutdown.is_cancelled();
    let (database, migrations, pending_migrations) = match pending {
        Ok(0) => ("ok", "current", Some(0)),
        Ok(n) => ("ok", "pending", Some(n)),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness: database unavailable");
            ("unavailable", "unknown", None)
        }
    };
    let ready = database == "ok" && migrations == "current" && !shutting_down;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database,
        migrations,
        pending_migrations,
        shutting_down,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The hub's metrics in the Prometheus text format (see [`crate::metrics`] for every
/// name and label). Scrape with a bearer API key of an operator role.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format 0.0.4",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    // The breakers of the clients in use now.
    let supplier = state.supplier.snapshot();
    if let Some(client) = &supplier.open_platform {
        crate::metrics::supplier_breaker(crate::calllog::OPEN_PLATFORM, client.breaker_state());
    }
    if let Some(client) = &supplier.ylh {
        crate::metrics::supplier_breaker(crate::calllog::YLH, client.breaker_state());
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&state.db).await,
    )
}
