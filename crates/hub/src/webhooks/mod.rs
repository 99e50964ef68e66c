//! Webhooks: signed deliveries from external systems (in) and to them (out), on the
//! Standard Webhooks scheme.
//!
//! Inbound: a system is given signing secrets ([`secrets`]); `POST /webhooks/{system_id}`
//! verifies a delivery on its raw bytes, stores it raw and answers at once
//! ([`inbound`]); a job applies it to the records, mapped from the system's own shape
//! when it has a mapping ([`mapping`], [`process`]); operators list, read and replay
//! events ([`http`]).

pub mod http;
pub mod inbound;
pub mod mapping;
pub mod process;
pub mod secrets;
pub mod signature;

use serde::Deserialize;

/// Inbound webhook settings (`[webhooks]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
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

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            secret_overlap_secs: 86_400,
            tolerance_secs: signature::DEFAULT_TOLERANCE_SECS.unsigned_abs(),
            max_body_bytes: 256 * 1024,
            max_attempts: 8,
        }
    }
}

impl WebhooksConfig {
    /// Checks the ranges; the error names the bad setting and what it must be.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let checks: [(&'static str, u64, u64, u64); 4] = [
            (
                "webhooks.secret_overlap_secs",
                self.secret_overlap_secs,
                0,
                2_592_000,
            ),
            ("webhooks.tolerance_secs", self.tolerance_secs, 1, 3600),
            (
                "webhooks.max_body_bytes",
                self.max_body_bytes as u64,
                1024,
                16 * 1024 * 1024,
            ),
            (
                "webhooks.max_attempts",
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
