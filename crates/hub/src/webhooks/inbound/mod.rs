//! Inbound webhooks. Receiving a delivery: verify on the raw bytes, store raw, enqueue
//! its processing, answer at once; the signing secrets ([`secrets`]), the processing job
//! ([`process`]), mappings of foreign payloads ([`mapping`]) and the routes ([`http`]).
//!
//! **Order of checks.** The system is looked up first (it is needed to count a refusal
//! under it); then the three headers are read, the body's size checked, and
//! [`super::signature::verify`] checks the id's form, the timestamp window and the
//! signature against the system's active secrets. Nothing parses the body here.
//!
//! **Probing.** A delivery to an id that names no system, to an archived system, to a
//! system with no active secret, and one whose signature does not match are answered
//! alike: 401 `invalid_signature` with one and the same detail. Only a caller that holds
//! a valid secret learns that a system exists. The checks that come before the secrets
//! (headers, window, size) do not depend on the system, so they tell nothing either.
//! What remains is timing: a known system costs an HMAC per secret more. Refusals are
//! counted by their true reason (an unknown system under the empty id) and logged.
//!
//! **Deduplication.** The event is inserted under a unique index on
//! `(system_id, webhook_id)`: a repeat, even a concurrent one, inserts nothing, enqueues
//! nothing and is answered 200 with the stored event's id.

pub mod http;
pub mod mapping;
pub mod process;
pub mod secrets;

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};

use super::signature::{self, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, VerifyError};
use crate::store::webhooks_in::{self as store, NewEvent};
use crate::store::{Db, StoreError, jobs};
use crate::systems::crypto::KeyRing;
use crate::types::UtcTime;
use process::JOB_KIND;

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A header is missing or not visible ASCII.
    MissingHeader(&'static str),
    /// `webhook-id` or `webhook-timestamp` is malformed.
    BadHeader(String),
    /// The timestamp is older than the tolerance.
    Stale,
    /// The timestamp is further ahead than the tolerance.
    Future,
    /// The body is over `[webhooks_in] max_body_bytes`.
    TooLarge(usize),
    /// No system has this id.
    UnknownSystem,
    /// The system is archived.
    ArchivedSystem,
    /// The system has no active secret.
    NoSecret,
    /// No signature matches an active secret.
    BadSignature,
}

impl Refusal {
    /// The reason as counted and logged.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::MissingHeader(_) => "missing_header",
            Refusal::BadHeader(_) => "bad_header",
            Refusal::Stale => "stale_timestamp",
            Refusal::Future => "future_timestamp",
            Refusal::TooLarge(_) => "body_too_large",
            Refusal::UnknownSystem => "unknown_system",
            Refusal::ArchivedSystem => "archived_system",
            Refusal::NoSecret => "no_active_secret",
            Refusal::BadSignature => "bad_signature",
        }
    }
}

/// What an accepted delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The stored event's id.
    pub event_id: String,
    /// True when the system had sent this `webhook-id` before: nothing was stored.
    pub duplicate: bool,
}

/// Why a delivery was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// Refused (counted and logged).
    #[error("refused: {}", .0.reason())]
    Refused(Refusal),
    /// The store failed: the sender should retry.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored secret does not open.
    #[error(transparent)]
    Secrets(#[from] secrets::SecretsError),
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Refusal> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::MissingHeader(name))
}

/// The system ids we look up: at most 64 bytes of visible ASCII (others name no system).
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Receives one delivery to `system_id` at `now`.
///
/// # Errors
/// [`ReceiveError::Refused`] (counted under the system and reason, and logged),
/// or a store or secrets failure.
pub async fn receive(
    db: &Db,
    ring: &KeyRing,
    config: &InboundConfig,
    system_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: UtcTime,
) -> Result<Receipt, ReceiveError> {
    let system = if plausible_id(system_id) {
        crate::store::systems::get(db, system_id).await?
    } else {
        None
    };
    let counted_under = system.as_ref().map_or("", |s| s.id.as_str());
    match check(db, ring, config, system.as_ref(), headers, body, now).await? {
        Ok(signed) => {
            let Some(system) = system else {
                // `check` refuses a delivery without a system.
                return Err(ReceiveError::Refused(Refusal::UnknownSystem));
            };
            store_event(db, config, &system.id, &signed, body, now).await
        }
        Err(refusal) => {
            store::count_refusal(db, counted_under, refusal.reason()).await?;
            warn!(
                system = %system_id.chars().take(64).collect::<String>(),
                reason = refusal.reason(),
                "webhook delivery refused"
            );
            Err(ReceiveError::Refused(refusal))
        }
    }
}

async fn check(
    db: &Db,
    ring: &KeyRing,
    config: &InboundConfig,
    system: Option<&crate::store::systems::SystemRow>,
    headers: &HeaderMap,
    body: &[u8],
    now: UtcTime,
) -> Result<Result<signature::SignedHeaders, Refusal>, ReceiveError> {
    let (id, timestamp, sig) = match (
        header(headers, HEADER_ID),
        header(headers, HEADER_TIMESTAMP),
        header(headers, HEADER_SIGNATURE),
    ) {
        (Ok(i), Ok(t), Ok(s)) => (i, t, s),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return Ok(Err(r)),
    };
    if body.len() > config.max_body_bytes {
        return Ok(Err(Refusal::TooLarge(config.max_body_bytes)));
    }
    let usable = system.filter(|s| s.archived_at.is_none());
    let secrets = match usable {
        Some(s) => secrets::active(db, ring, &s.id, now).await?,
        None => Vec::new(),
    };
    let refs: Vec<_> = secrets.iter().collect();
    let tolerance = i64::try_from(config.tolerance_secs).unwrap_or(300);
    let unix_now = now.timestamp().as_second();
    match signature::verify(&refs, id, timestamp, sig, body, unix_now, tolerance) {
        Ok(()) => Ok(Ok(signature::SignedHeaders {
            id: id.to_owned(),
            timestamp: timestamp.trim().parse().unwrap_or_default(),
            signature: sig.to_owned(),
        })),
        Err(e) => Ok(Err(match e {
            VerifyError::MissingHeader(h) => Refusal::MissingHeader(h),
            VerifyError::BadId | VerifyError::BadTimestamp => Refusal::BadHeader(e.to_string()),
            VerifyError::TooOld(_) => Refusal::Stale,
            VerifyError::TooNew(_) => Refusal::Future,
            VerifyError::NoSecret | VerifyError::NoMatch => match system {
                None => Refusal::UnknownSystem,
                Some(s) if s.archived_at.is_some() => Refusal::ArchivedSystem,
                Some(_) if secrets.is_empty() => Refusal::NoSecret,
                Some(_) => Refusal::BadSignature,
            },
        })),
    }
}

async fn store_event(
    db: &Db,
    config: &InboundConfig,
    system_id: &str,
    signed: &signature::SignedHeaders,
    body: &[u8],
    now: UtcTime,
) -> Result<Receipt, ReceiveError> {
    let id = store::new_event_id();
    let mut tx = db.begin().await?;
    let stored = store::insert_event(
        &mut tx,
        &NewEvent {
            id: &id,
            system_id,
            webhook_id: &signed.id,
            webhook_timestamp: signed.timestamp,
            webhook_signature: &signed.signature,
            body,
            received_at: now,
        },
    )
    .await?;
    if stored {
        enqueue(&mut tx, &id, 0, config.max_attempts).await?;
    }
    tx.commit().await?;
    if stored {
        info!(system = %system_id, event = %id, "webhook event received");
        return Ok(Receipt {
            event_id: id,
            duplicate: false,
        });
    }
    let existing = store::event_id_of(db, system_id, &signed.id)
        .await?
        .unwrap_or_default();
    Ok(Receipt {
        event_id: existing,
        duplicate: true,
    })
}

/// Enqueues the processing of event `event_id` (its `replay`-th, 0 for the first) in
/// `tx`. The job's dedupe key names the event and the replay, so a replay is queued
/// once however often it is asked for.
pub async fn enqueue(
    tx: &mut crate::store::Tx,
    event_id: &str,
    replay: i64,
    max_attempts: i64,
) -> Result<bool, StoreError> {
    jobs::enqueue(
        tx,
        JOB_KIND,
        &json!({"event_id": event_id}),
        &format!("webhook_event:{event_id}:{replay}"),
        max_attempts,
        UtcTime::now(),
    )
    .await
}

/// Inbound webhook settings (`[webhooks_in]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboundConfig {
    /// How long a system's older secrets keep verifying after a newer one is added, in
    /// seconds (default 86400: 24 hours; 0 to 2592000).
    pub secret_overlap_secs: u64,
    /// How far a delivery's `webhook-timestamp` may be from our clock either way, in
    /// seconds (default 300; 1 to 3600).
    pub tolerance_secs: u64,
    /// Largest delivery body in bytes (default 256 KiB; 1 KiB to 16 MiB); a larger one
    /// is refused with 413 and counted. (`[http] max_body_bytes` refuses bodies over it
    /// before the route is reached, uncounted.)
    pub max_body_bytes: usize,
    /// Processing attempts of an event before it is dead-lettered (default 8; 1 to 100).
    pub max_attempts: i64,
}

impl Default for InboundConfig {
    fn default() -> Self {
        InboundConfig {
            secret_overlap_secs: 86_400,
            tolerance_secs: super::signature::DEFAULT_TOLERANCE_SECS.unsigned_abs(),
            max_body_bytes: 256 * 1024,
            max_attempts: 8,
        }
    }
}

impl InboundConfig {
    /// Checks the ranges; the error names the bad setting and what it must be.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let checks: [(&'static str, u64, u64, u64); 4] = [
            (
                "webhooks_in.secret_overlap_secs",
                self.secret_overlap_secs,
                0,
                2_592_000,
            ),
            ("webhooks_in.tolerance_secs", self.tolerance_secs, 1, 3600),
            (
                "webhooks_in.max_body_bytes",
                self.max_body_bytes as u64,
                1024,
                16 * 1024 * 1024,
            ),
            (
                "webhooks_in.max_attempts",
                u64::try_from(self.max_attempts).unwrap_or(0),
                1,
                100,
            ),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err((key, format!("must be {min} to {max}, got {value}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_are_read_and_checked() {
        let config = crate::config::Config::from_settings(&[
            (
                "SUPPLYHUB_WEBHOOKS_IN__SECRET_OVERLAP_SECS".to_owned(),
                "3600".to_owned(),
            ),
            (
                "SUPPLYHUB_WEBHOOKS_IN__MAX_ATTEMPTS".to_owned(),
                "3".to_owned(),
            ),
        ])
        .expect("config");
        assert_eq!(config.webhooks_in.secret_overlap_secs, 3600);
        assert_eq!(config.webhooks_in.max_attempts, 3);
        assert_eq!(config.webhooks_in.tolerance_secs, 300);
        let err = crate::config::Config::from_settings(&[(
            "SUPPLYHUB_WEBHOOKS_IN__TOLERANCE_SECS".to_owned(),
            "0".to_owned(),
        )])
        .expect_err("a zero tolerance");
        assert!(
            err.to_string().contains("webhooks_in.tolerance_secs"),
            "{err}"
        );
    }
}
