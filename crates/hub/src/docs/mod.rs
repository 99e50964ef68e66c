//! `/docs`: a page that renders the OpenAPI document: every operation by tag with its
//! roles, parameters, body and answers. The page and its script are embedded in the
//! binary and load nothing from elsewhere.

use axum::http::header;
use axum::response::IntoResponse;

/// The page.
pub const INDEX: &str = include_str!("index.html");
/// Its script.
pub const APP_JS: &str = include_str!("app.js");

/// `GET /docs`.
pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'",
            ),
        ],
        INDEX,
    )
}

/// `GET /docs/app.js`.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}
