//! The receiver of the hub's outbound webhooks: `POST /_sandbox/webhooks/{system_id}`.
//! Verifies on the raw body before reading it, deduplicates by `webhook-id`, records what
//! it accepted, and can play a failing endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{MAX_RECORDS, bump};
use crate::clock::now_ms;
use crate::standard_webhooks::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, VerifyError, verify,
};
use crate::state::{AppState, lock};

/// A failure mode: answer `status` to the next `remaining` verified deliveries (all of
/// them when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) remaining: Option<u32>,
    pub(crate) retry_after: Option<u32>,
}

/// A verified, accepted delivery.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Received {
    pub(crate) id: String,
    /// The body's `type`, when it is a JSON object that has one.
    #[serde(rename = "type")]
    pub(crate) type_name: Option<String>,
    pub(crate) timestamp: i64,
    /// The body as JSON, or as text when it is not JSON.
    pub(crate) body: Value,
    pub(crate) received_at_ms: i64,
}

/// One request the receiver answered.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Attempt {
    pub(crate) id: Option<String>,
    pub(crate) status: u16,
    /// `received`, `duplicate`, `failure_mode`, or why it was refused.
    pub(crate) outcome: &'static str,
    pub(crate) at_ms: i64,
}

/// What a system's receiver holds.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    pub(crate) received: Vec<Received>,
    /// The SHA-256 of the body of every id accepted.
    seen: HashMap<String, [u8; 32]>,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) failure: Option<Failure>,
}

impl Inbox {
    fn attempt(&mut self, id: Option<&str>, status: StatusCode, outcome: &'static str) {
        if self.attempts.len() >= MAX_RECORDS {
            self.attempts.drain(..MAX_RECORDS / 10);
        }
        self.attempts.push(Attempt {
            id: id.map(str::to_owned),
            status: status.as_u16(),
            outcome,
            at_ms: now_ms(),
        });
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn refusal(status: StatusCode, code: &str, detail: String) -> Response {
    answer(status, json!({ "code": code, "detail": detail }))
}

/// `POST /_sandbox/webhooks/{system_id}`.
pub(super) async fn receive(
    State(s): State<Arc<AppState>>,
    Path(system_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stats = &s.store.stats;
    let mut systems = lock(&s.store.systems);
    let Some(system) = systems.get_mut(&system_id) else {
        return refusal(
            StatusCode::NOT_FOUND,
            "unknown_system",
            format!("no system {system_id:?}"),
        );
    };
    let id = header(&headers, HEADER_ID);
    let timestamp = header(&headers, HEADER_TIMESTAMP);
    let now = now_ms().div_euclid(1000);
    let checked = verify(
        &system.receive_secrets,
        id,
        timestamp,
        header(&headers, HEADER_SIGNATURE),
        &body,
        now,
    );
    if let Err(e) = checked {
        let (status, code, counter) = match e {
            VerifyError::Stale => (
                StatusCode::BAD_REQUEST,
                "stale_timestamp",
                &stats.refused_stale,
            ),
            ref e if e.is_signature() => (
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                &stats.refused_signature,
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "malformed_delivery",
                &stats.refused_malformed,
            ),
        };
        bump(counter);
        system.inbox.attempt(id, status, code);
        tracing::debug!(%system_id, error = %e, "webhook delivery refused");
        return refusal(status, code, e.to_string());
    }
    // verify() refuses a missing id or timestamp, so both are here.
    let (id, timestamp) = (id.unwrap_or_default(), timestamp.unwrap_or_default());
    let digest: [u8; 32] = Sha256::digest(&body).into();
    let inbox = &mut system.inbox;
    if inbox.seen.get(id).is_some_and(|seen| *seen != digest) {
        bump(&stats.refused_conflict);
        inbox.attempt(Some(id), StatusCode::CONFLICT, "conflicting_id");
        return refusal(
            StatusCode::CONFLICT,
            "conflicting_id",
            format!("webhook-id {id:?} was received before with another body"),
        );
    }
    if let Some(f) = inbox.failure {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        inbox.failure = match f.remaining {
            Some(n) if n <= 1 => None,
            Some(n) => Some(Failure {
                remaining: Some(n - 1),
                ..f
            }),
            None => Some(f),
        };
        bump(&stats.failures_played);
        inbox.attempt(Some(id), status, "failure_mode");
        let mut r = refusal(
            status,
            "failure_mode",
            format!("answering {} as told", f.status),
        );
        if let Some(secs) = f.retry_after {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        return r;
    }
    if inbox.seen.contains_key(id) {
        bump(&stats.received_duplicates);
        inbox.attempt(Some(id), StatusCode::OK, "duplicate");
        return answer(
            StatusCode::OK,
            json!({ "received": true, "duplicate": true }),
        );
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let type_name = parsed
        .as_ref()
        .and_then(|v| v.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let body = parsed.unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned()));
    inbox.seen.insert(id.to_owned(), digest);
    if inbox.received.len() >= MAX_RECORDS {
        inbox.received.drain(..MAX_RECORDS / 10);
    }
    inbox.received.push(Received {
        id: id.to_owned(),
        type_name,
        timestamp: timestamp.parse().unwrap_or_default(),
        body,
        received_at_ms: now_ms(),
    });
    inbox.attempt(Some(id), StatusCode::OK, "received");
    bump(&stats.received);
    answer(
        StatusCode::OK,
        json!({ "received": true, "duplicate": false }),
    )
}
