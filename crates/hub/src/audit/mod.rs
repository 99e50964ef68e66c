//! The audit log: every change an operator makes through the API (or the command line),
//! with who, what, when, and the state before and after, secrets masked.
//!
//! The audit layer of the router records every successful POST, PUT, PATCH and DELETE of
//! an operator (any caller but the storefront, whose checkouts are its customers'
//! doings, and but signing in and out). A handler that knows the states before and after its change
//! puts an [`AuditEntry`] in its response's extensions ([`with_entry`]); otherwise the
//! entry is the route with the request's body as `after`.

pub mod http;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::access::Principal;
use crate::http::{ApiError, AppState};
use crate::store::Db;
use crate::store::audit as store;

/// What a change was, as a handler describes it.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    /// What was done, `<thing>.<verb>`: `user.create`, `api_key.revoke`, `system.update`.
    pub action: String,
    /// What it was done to: an id (`usr_…`, `key_…`, `sys_…`).
    pub target: String,
    /// The state before (absent for a creation), secrets masked.
    pub before: Option<Value>,
    /// The state after (absent for a deletion), secrets masked.
    pub after: Option<Value>,
}

impl AuditEntry {
    /// An entry of `action` on `target` with the states serialized and masked.
    pub fn new(
        action: &str,
        target: &str,
        before: Option<&impl serde::Serialize>,
        after: Option<&impl serde::Serialize>,
    ) -> AuditEntry {
        fn state<T: serde::Serialize>(v: Option<&T>) -> Option<Value> {
            v.and_then(|v| serde_json::to_value(v).ok()).map(|mut v| {
                mask(&mut v);
                v
            })
        }
        AuditEntry {
            action: action.to_owned(),
            target: target.to_owned(),
            before: state(before),
            after: state(after),
        }
    }
}

/// `response` carrying `entry` for the audit layer.
pub fn with_entry(response: impl IntoResponse, entry: AuditEntry) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(entry);
    response
}

/// Whether an object key names a secret: `password`, `secret`, `key` (an API key),
/// `token`, and names ending in `_secret`, `_password`, `_token`, `_key` (but not
/// `app_key`-like identifiers that the supplier sends in clear: those are listed here
/// as exceptions), and the write-only `secrets` objects.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "password" | "secret" | "secrets" | "key" | "token" | "csrf_token" | "authorization"
    ) || name.ends_with("_secret")
        || name.ends_with("_password")
        || name.ends_with("_token")
        || name.ends_with("_hash")
}

/// Replaces every value under a secret-looking key (see [`is_secret_name`]) with `"***"`;
/// a `secrets` object keeps its names, with each value masked.
pub fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k.eq_ignore_ascii_case("secrets")
                    && let Value::Object(inner) = v
                {
                    for s in inner.values_mut() {
                        *s = Value::from("***");
                    }
                } else if is_secret_name(k) {
                    if !v.is_null() {
                        *v = Value::from("***");
                    }
                } else {
                    mask(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// Records an entry by `actor` (a [`Principal::label`], or `cli`) with role `role`.
pub async fn record(
    db: &Db,
    actor: &str,
    role: Option<&str>,
    entry: &AuditEntry,
) -> crate::store::StoreResult<()> {
    store::insert(
        db,
        actor,
        role,
        &entry.action,
        &entry.target,
        entry.before.as_ref(),
        entry.after.as_ref(),
    )
    .await
}

/// The audit layer: records the successful changes of authenticated callers.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    // Public routes (login, the supplier's callbacks) and the storefront's checkouts
    // are not operators' changes; signing out changes nothing.
    let Some(principal) = request
        .extensions()
        .get::<Principal>()
        .filter(|p| p.role() != crate::access::Role::Storefront)
        .cloned()
    else {
        return next.run(request).await;
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    if route.starts_with("/api/v1/auth/") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let target = request.uri().path().to_owned();
    let (parts, body) = request.into_parts();
    // The body was read and limited (`http.max_body_bytes`) before routing.
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::InvalidBody(format!("the body could not be read: {e}"))
                .into_response();
        }
    };
    let asked = serde_json::from_slice::<Value>(&bytes).ok().map(|mut v| {
        mask(&mut v);
        v
    });
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !response.status().is_success() {
        return response;
    }
    let entry = response
        .extensions()
        .get::<AuditEntry>()
        .cloned()
        .unwrap_or_else(|| AuditEntry {
            action: format!("{method} {route}"),
            target,
            before: None,
            after: asked,
        });
    let role = principal.role();
    if let Err(e) = record(&state.db, &principal.label(), Some(role.as_str()), &entry).await {
        tracing::error!(error = ?e, action = %entry.action, "the audit log could not be written");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let mut v = json!({
            "name": "haier",
            "password": "p",
            "settings": {"client_id": "id", "client_secret": "s", "seller_password": "x"},
            "secrets": {"client_secret": "s", "sign_key": "k"},
            "items": [{"token": "t", "ok": 1}],
            "revoked_at": null
        });
        mask(&mut v);
        assert_eq!(
            v,
            json!({
                "name": "haier",
                "password": "***",
                "settings": {"client_id": "id", "client_secret": "***", "seller_password": "***"},
                "secrets": {"client_secret": "***", "sign_key": "***"},
                "items": [{"token": "***", "ok": 1}],
                "revoked_at": null
            })
        );
    }
}
