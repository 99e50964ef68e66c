//! Standard Webhooks (<https://www.standardwebhooks.com/>) signing and verification,
//! written from the specification for the sandbox's simulated store systems. It shares
//! nothing with the hub's implementation on purpose: the two sides must agree through the
//! protocol alone.
//!
//! A delivery carries `webhook-id` (the message id, the same on every retry),
//! `webhook-timestamp` (Unix seconds when it was signed) and `webhook-signature` (one or
//! more space-separated `v1,<base64 HMAC-SHA256>` entries). The signed content is
//! `{webhook-id}.{webhook-timestamp}.{raw body}`. A secret is written `whsec_` followed by
//! the standard base64 of its key bytes.
//!
//! Verification here is stricter than the specification asks where it leaves room: all
//! three headers are required, the id must be visible ASCII of at most 255 bytes, the
//! timestamp must be plain decimal seconds within [`TOLERANCE_SECS`] of now either way,
//! and signatures are compared in constant time (`hmac`'s `verify_slice`).
//!
//! ```
//! use sandbox::standard_webhooks::{Secret, sign};
//! // The specification's test vector.
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let signature = sign(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
//! assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The message id header.
pub const HEADER_ID: &str = "webhook-id";
/// The signing time header, in Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The signature header.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a timestamp may be from now, either way, in seconds (five minutes).
pub const TOLERANCE_SECS: i64 = 300;
/// The longest `webhook-id` accepted, in bytes.
pub const MAX_ID_LEN: usize = 255;

type HmacSha256 = Hmac<Sha256>;

/// A signing key. Neither `Debug` nor any error shows the key.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

/// Why a secret's text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("a webhook secret starts with whsec_")]
    Prefix,
    /// After `whsec_`, the text is not standard base64.
    #[error("a webhook secret is whsec_ followed by standard base64")]
    NotBase64,
    /// The key is shorter than 16 or longer than 1,024 bytes.
    #[error("a webhook secret's key is 16 to 1024 bytes")]
    Length,
}

impl Secret {
    /// Reads `whsec_<base64>` (the prefix is required here, stricter than the official
    /// libraries).
    ///
    /// # Errors
    /// [`SecretError`]; the error never repeats the text.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let key = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        if !(16..=1024).contains(&key.len()) {
            return Err(SecretError::Length);
        }
        Ok(Secret(key))
    }

    /// A secret from raw key bytes (any length).
    pub fn from_bytes(key: &[u8]) -> Secret {
        Secret(key.to_vec())
    }

    /// The text form, `whsec_<base64>`.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `v1,<base64>` entry of a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let digest = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", BASE64.encode(digest))
    }

    fn verifies(&self, id: &str, timestamp: i64, body: &[u8], signature: &[u8]) -> bool {
        self.mac(id, timestamp, body)
            .verify_slice(signature)
            .is_ok()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The `webhook-signature` header of a message: one `v1` entry per secret, separated by
/// spaces (a receiver accepts it while it knows any of them).
pub fn sign(secrets: &[&Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header is missing, empty or not text.
    #[error("the {0} header is missing or not text")]
    MissingHeader(&'static str),
    /// `webhook-id` is longer than 255 bytes or holds other than visible ASCII.
    #[error("webhook-id must be 1 to 255 visible ASCII characters")]
    BadId,
    /// `webhook-timestamp` is not decimal Unix seconds.
    #[error("webhook-timestamp must be decimal Unix seconds")]
    BadTimestamp,
    /// The timestamp is more than [`TOLERANCE_SECS`] from now.
    #[error("webhook-timestamp is more than {TOLERANCE_SECS} s from now")]
    Stale,
    /// No key to verify with.
    #[error("no webhook secret is set")]
    NoSecret,
    /// No `v1` entry matches any secret.
    #[error("no signature matches")]
    NoMatch,
}

impl VerifyError {
    /// Whether the refusal is about the signature itself (answered 401) rather than the
    /// form or age of the delivery (answered 400).
    pub fn is_signature(&self) -> bool {
        matches!(self, VerifyError::NoSecret | VerifyError::NoMatch)
    }
}

/// Verifies a delivery from its three header values (`None` when absent) and raw body,
/// with `now` in Unix seconds. Checks, in this order: every header present, the id's form,
/// the timestamp's form and age, then each `v1` entry against each secret (entries of
/// other versions or not base64 are skipped).
///
/// # Errors
/// The first [`VerifyError`] found.
pub fn verify(
    secrets: &[Secret],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    fn present<'a>(v: Option<&'a str>, name: &'static str) -> Result<&'a str, VerifyError> {
        v.filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingHeader(name))
    }
    let id = present(id, HEADER_ID)?;
    let timestamp = present(timestamp, HEADER_TIMESTAMP)?;
    let signature = present(signature, HEADER_SIGNATURE)?;
    if id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(VerifyError::BadId);
    }
    if timestamp.len() > 12 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (ts - now).abs() > TOLERANCE_SECS {
        return Err(VerifyError::Stale);
    }
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let entries = signature
        .split(' ')
        .filter_map(|e| e.strip_prefix("v1,"))
        .filter_map(|b| BASE64.decode(b).ok());
    for entry in entries {
        if secrets.iter().any(|s| s.verifies(id, ts, body, &entry)) {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

/// A new `webhook-id`: `msg_` and 26 characters of a 128-bit value in Crockford base32.
pub fn message_id(bits: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut id = String::with_capacity(30);
    id.push_str("msg_");
    for i in (0..26).rev() {
        let digit = (bits >> (i * 5)) & 31;
        id.push(char::from(ALPHABET[digit as usize]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> Secret {
        Secret::parse(SECRET).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn signs_the_specification_test_vector() {
        assert_eq!(sign(&[&secret()], ID, TS, BODY), EXPECTED);
        assert_eq!(secret().to_text(), SECRET);
    }

    #[test]
    fn verifies_any_entry_and_refuses_changes() {
        let s = vec![secret()];
        let ok = |sig: &str, body: &[u8], now: i64| {
            verify(&s, Some(ID), Some("1614265330"), Some(sig), body, now)
        };
        assert_eq!(ok(EXPECTED, BODY, TS), Ok(()));
        assert_eq!(ok(&format!("v2,abc v1,!!! {EXPECTED}"), BODY, TS), Ok(()));
        assert_eq!(
            ok(EXPECTED, b"{\"test\": 2432232315}", TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(ok(EXPECTED, BODY, TS + 301), Err(VerifyError::Stale));
        assert_eq!(ok(EXPECTED, BODY, TS - 301), Err(VerifyError::Stale));
        assert_eq!(ok(EXPECTED, BODY, TS + 300), Ok(()));
        let none: Vec<Secret> = Vec::new();
        assert_eq!(
            verify(
                &none,
                Some(ID),
                Some("1614265330"),
                Some(EXPECTED),
                BODY,
                TS
            ),
            Err(VerifyError::NoSecret)
        );
        assert_eq!(
            verify(&s, None, Some("1614265330"), Some(EXPECTED), BODY, TS),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
        assert_eq!(
            verify(&s, Some(ID), Some("+1614265330"), Some(EXPECTED), BODY, TS),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(
                &s,
                Some("msg 1"),
                Some("1614265330"),
                Some(EXPECTED),
                BODY,
                TS
            ),
            Err(VerifyError::BadId)
        );
    }

    #[test]
    fn secrets_need_the_prefix_and_base64_and_hide_in_debug() {
        let refused = |t: &str| Secret::parse(t).err();
        assert_eq!(
            refused("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Some(SecretError::Prefix)
        );
        assert_eq!(refused("whsec_***"), Some(SecretError::NotBase64));
        assert_eq!(refused("whsec_YWJj"), Some(SecretError::Length));
        assert_eq!(format!("{:?}", secret()), "Secret(..)");
    }

    #[test]
    fn message_ids_are_prefixed_and_distinct() {
        let a = message_id(1);
        assert_eq!(a.len(), 30);
        assert!(a.starts_with("msg_"));
        assert_ne!(a, message_id(2));
    }
}
