//! `/admin`: the operators' page, rendered on the server from the askama templates in
//! `templates/admin/` (HTML-escaped by default) with htmx, both embedded in the binary;
//! nothing is loaded from elsewhere.
//!
//! The handlers are thin: they call the store and services the REST API calls. Access is
//! the API's: every route has its line in [`crate::access::permissions::RULES`] and
//! passes [`crate::access::http::authorize`], which sends a browser without a session to
//! the sign-in page ([`refusal`]). A state-changing request on a session carries the
//! session's CSRF token in `X-CSRF-Token`, which htmx sends from the page's `hx-headers`.

mod pages;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::http::{ApiError, AppState};

/// htmx 2, vendored (see NOTICE).
pub const HTMX_JS: &str = include_str!("assets/htmx.min.js");
/// The page's stylesheet.
pub const STYLE_CSS: &str = include_str!("assets/admin.css");
/// The page's icon (SVG).
pub const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// The sign-in page's path.
pub const LOGIN_PATH: &str = "/admin/login";

/// What the page allows: scripts and styles from the hub only, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Whether `path` (a route template or a request path) belongs to the admin page.
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The admin page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::dashboard))
        .route("/admin/login", get(pages::login_form).post(pages::login))
        .route("/admin/logout", post(pages::logout))
        .route("/admin/assets/htmx.min.js", get(htmx_js))
        .route("/admin/assets/admin.css", get(style_css))
        .route("/admin/assets/favicon.svg", get(favicon_svg))
        .route(
            "/admin/sync-runs",
            get(pages::sync_runs).post(pages::start_sync_run),
        )
        .route("/admin/sync-runs/{id}", get(pages::sync_run))
        .route(
            "/admin/sync-runs/{id}/progress",
            get(pages::sync_run_progress),
        )
        .route("/admin/jobs", get(pages::jobs))
        .route("/admin/jobs/{id}/redrive", post(pages::redrive_job))
        .route("/admin/orders", get(pages::orders))
        .route("/admin/orders/{id}", get(pages::order))
        .route("/admin/stock", get(pages::stock))
        .route("/admin/schedules", get(pages::schedules))
        .route("/admin/schedules/{id}", post(pages::update_schedule))
        .route("/admin/schedules/{id}/run", post(pages::run_schedule))
        .route("/admin/webhook-events", get(webhooks::webhook_events))
        .route(
            "/admin/webhook-events/{id}/replay",
            post(webhooks::replay_webhook_event),
        )
        .route(
            "/admin/webhook-deliveries",
            get(webhooks::webhook_deliveries),
        )
        .route(
            "/admin/webhook-deliveries/{id}",
            get(webhooks::webhook_delivery),
        )
        .route(
            "/admin/webhook-deliveries/{id}/retry",
            post(webhooks::retry_webhook_delivery),
        )
        .route("/admin/users", get(pages::users).post(pages::create_user))
        .route("/admin/users/{id}", post(pages::update_user))
        .route(
            "/admin/api-keys",
            get(pages::api_keys).post(pages::create_api_key),
        )
        .route("/admin/api-keys/{id}/revoke", post(pages::revoke_api_key))
        .route("/admin/audit-log", get(pages::audit_log))
}

async fn htmx_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        HTMX_JS,
    )
        .into_response()
}

async fn style_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE_CSS,
    )
        .into_response()
}

async fn favicon_svg() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON_SVG,
    )
        .into_response()
}

/// Whether the request was made by htmx (it then swaps the answer into the page).
fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// A rendered page or fragment, with the page's security headers.
fn html(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => {
            let mut response = (status, body).into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "an admin template failed to render");
            ApiError::Internal(e.into()).into_response()
        }
    }
}

/// A redirect a browser and htmx both follow: 303 to `to`, or for htmx a 200 with
/// `HX-Redirect`.
fn redirect(headers: &HeaderMap, to: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(to) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if is_htmx(headers) {
        let mut response = StatusCode::OK.into_response();
        response.headers_mut().insert("hx-redirect", location);
        response
    } else {
        let mut response = StatusCode::SEE_OTHER.into_response();
        response.headers_mut().insert(header::LOCATION, location);
        response
    }
}

/// A refusal on the admin page: without a (valid) session, to the sign-in page;
/// otherwise the error as a small HTML page, or for htmx as a message in the page's
/// flash area (`HX-Retarget: #flash`), with the error's status.
pub fn refusal(headers: &HeaderMap, e: ApiError) -> Response {
    let (status, code) = e.status_and_code();
    if status == StatusCode::UNAUTHORIZED {
        return redirect(headers, LOGIN_PATH);
    }
    let detail = if status.is_server_error() {
        if let ApiError::Internal(cause) = &e {
            tracing::error!(error = ?cause, "an admin request failed");
        }
        "something went wrong on the hub; the log has the cause".to_owned()
    } else {
        e.to_string()
    };
    let page = pages::ErrorPage {
        status: status.as_u16(),
        code,
        detail,
    };
    if is_htmx(headers) {
        let mut response = html(status, &pages::Flash::error(&page));
        let h = response.headers_mut();
        h.insert("hx-retarget", HeaderValue::from_static("#flash"));
        h.insert("hx-reswap", HeaderValue::from_static("innerHTML"));
        response
    } else {
        html(status, &page)
    }
}
