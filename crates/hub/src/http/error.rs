//! The one error type of the HTTP layer: every failure becomes a status and a JSON body
//! `{"code": "...", "detail": "..."}`. 5xx are logged with their cause chain and never
//! show internals to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `invalid_parameter`, `not_found`.
    pub code: &'static str,
    /// A human-readable explanation naming the bad value, if any.
    pub detail: String,
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_parameter`: a query or path parameter is malformed.
    #[error("{0}")]
    InvalidParameter(String),
    /// 400 `invalid_body`: the body is not valid JSON.
    #[error("{0}")]
    InvalidBody(String),
    /// 415 `unsupported_media_type`: the body must be JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 with a specific code: the request is well-formed but cannot be carried out
    /// as given (`invalid_body`, `invalid_order`, `address_unresolved`).
    #[error("{detail}")]
    Unprocessable {
        /// The machine-readable code.
        code: &'static str,
        /// What is wrong, naming the field.
        detail: String,
    },
    /// 409 with a specific code (`insufficient_stock`, `duplicate_order`, `invalid_state`).
    #[error("{detail}")]
    ConflictWith {
        /// The machine-readable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// 401 `unauthorized`: a bearer token is required and missing or wrong.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 401 with a specific code (`invalid_credentials`, `session_expired`): the
    /// credentials given are wrong, expired or revoked.
    #[error("{detail}")]
    UnauthorizedWith {
        /// The machine-readable code.
        code: &'static str,
        /// What is wrong, never echoing a credential.
        detail: String,
    },
    /// 403 with a specific code (`forbidden`, `csrf_failed`): the caller is known and may
    /// not do this.
    #[error("{detail}")]
    Forbidden {
        /// The machine-readable code.
        code: &'static str,
        /// What was refused and why.
        detail: String,
    },
    /// 429 with a specific code (`login_throttled`, `account_locked`) and a
    /// `Retry-After` in seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// The machine-readable code.
        code: &'static str,
        /// What was refused and until when.
        detail: String,
        /// Seconds to wait before trying again.
        retry_after_secs: u64,
    },
    /// 502 with a specific code (`supplier_error`, `supplier_auth_failed`): the supplier
    /// failed or refused our credentials; the detail carries its reason.
    #[error("{detail}")]
    BadGateway {
        /// The machine-readable code.
        code: &'static str,
        /// The supplier's error, never a secret.
        detail: String,
    },
    /// 504 `supplier_timeout`: the supplier did not answer in time.
    #[error("{0}")]
    GatewayTimeout(String),
    /// 404 `not_found`: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 404 with a specific code (`address_unresolved`): what a query names does not
    /// exist.
    #[error("{detail}")]
    NotFoundWith {
        /// The machine-readable code.
        code: &'static str,
        /// What was not found.
        detail: String,
    },
    /// 404 `order_not_found`: no such order, or one the caller may not see (a storefront
    /// sees only the orders it created): the two answer alike.
    #[error("{0}")]
    OrderNotFound(String),
    /// 405 `method_not_allowed`: the route exists, not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 408 `request_timeout`: the request body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 413 `payload_too_large`: the request body is over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 414 `uri_too_long`: the request target is over the limit.
    #[error("{0}")]
    UriTooLong(String),
    /// 431 `headers_too_large`: too many request headers, or too many bytes of them.
    #[error("{0}")]
    HeadersTooLarge(String),
    /// 409 `conflict`: a unique constraint was violated.
    #[error("{0}")]
    Conflict(String),
    /// 503 `unavailable`: a dependency (the database) does not answer.
    #[error("{0}")]
    Unavailable(String),
    /// 500 `internal`: our fault; the cause is logged, not shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::orders::OrderError> for ApiError {
    fn from(e: crate::orders::OrderError) -> Self {
        use crate::orders::OrderError as E;
        let detail = e.to_string();
        match e {
            E::Invalid { .. } => ApiError::Unprocessable {
                code: "invalid_order",
                detail,
            },
            E::Unresolvable(_) => ApiError::Unprocessable {
                code: "address_unresolved",
                detail,
            },
            E::InsufficientStock { .. } => ApiError::ConflictWith {
                code: "insufficient_stock",
                detail,
            },
            E::Duplicate(_) => ApiError::ConflictWith {
                code: "duplicate_order",
                detail,
            },
            E::InvalidState(_) => ApiError::ConflictWith {
                code: "invalid_state",
                detail,
            },
            E::NotFound(_) => ApiError::OrderNotFound(detail),
            E::SupplierUnavailable(_) => ApiError::Unavailable(detail),
            E::SupplierAuth(_) => ApiError::BadGateway {
                code: "supplier_auth_failed",
                detail,
            },
            E::Store(s) => s.into(),
        }
    }
}

impl ApiError {
    /// The status and machine-readable code this error is answered with.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::ConflictWith { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::UnauthorizedWith { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::TooManyRequests { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NotFoundWith { code, .. } => (StatusCode::NOT_FOUND, code),
            ApiError::OrderNotFound(_) => (StatusCode::NOT_FOUND, "order_not_found"),
            ApiError::BadGateway { code, .. } => (StatusCode::BAD_GATEWAY, code),
            ApiError::GatewayTimeout(_) => (StatusCode::GATEWAY_TIMEOUT, "supplier_timeout"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            ApiError::HeadersTooLarge(_) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut response = (
            status,
            Json(ErrorBody {
                code,
                detail: self.to_string(),
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED
            && let Ok(v) = "Bearer".parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, v);
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The code of an error answered with `status` by something other than [`ApiError`].
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "invalid_body",
        431 => "headers_too_large",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// The last line of defence for the error shape: an error response that is not JSON
/// (an extractor's plain-text rejection, a layer's empty answer) becomes
/// `{code, detail}` with the same status and headers. The detail of a 4xx is the text
/// it carried (shortened); a 5xx shows only its status's name.
pub(super) async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The admin page answers its browser's errors as HTML pages of its own.
    let is_admin_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_admin_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let reason = status.canonical_reason().unwrap_or("error").to_owned();
    let detail = if status.is_server_error() {
        reason
    } else {
        match axum::body::to_bytes(body, 4096).await {
            Ok(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => {
                String::from_utf8_lossy(&bytes).chars().take(300).collect()
            }
            _ => reason,
        }
    };
    if status.is_server_error() {
        tracing::error!(%status, "a request failed outside the handlers");
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    let json = Json(ErrorBody {
        code: code_of(status),
        detail,
    })
    .into_response();
    let (json_parts, json_body) = json.into_parts();
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, json_body)
}
