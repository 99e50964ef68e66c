//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>), both ways.
//!
//! A delivery carries three headers: `webhook-id` (the message id, the same on every
//! retry), `webhook-timestamp` (Unix seconds when it was signed) and `webhook-signature`
//! (a space-separated list of `v1,<base64 HMAC-SHA256>` entries). The signed content is
//! `{id}.{timestamp}.{body}` over the raw body bytes. Secrets are written `whsec_` followed
//! by the base64 of the key bytes; several may be active at once (rotation), and a
//! delivery is accepted when any `v1` entry matches any active secret.
//!
//! Verification works on the raw bytes before anything parses them, compares in constant
//! time (`hmac`'s `verify_slice`), and refuses timestamps outside the tolerance either way
//! (stale deliveries, replays and clocks set ahead).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

/// The header that carries the message id.
pub const HEADER_ID: &str = "webhook-id";
/// The header that carries the signing time, in Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header that carries the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// The default tolerance between the signing time and ours: five minutes either way.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// The longest message id accepted, in bytes.
pub const MAX_ID_LEN: usize = 255;
/// Bytes of key in a secret the hub generates (the specification asks for 24 to 64).
const GENERATED_KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A signing key. Its `Debug` shows nothing of the key.
pub struct WebhookSecret(SecretBox<Vec<u8>>);

impl WebhookSecret {
    /// A new random secret of 32 bytes.
    pub fn generate() -> WebhookSecret {
        let key: [u8; GENERATED_KEY_BYTES] = rand::random();
        WebhookSecret(SecretBox::new(Box::new(key.to_vec())))
    }

    /// Reads a secret in its text form, `whsec_<base64>`. The prefix may be left out, as
    /// the official libraries allow.
    ///
    /// # Errors
    /// [`SecretError`] when the base64 is invalid or the key is empty or longer than
    /// 1,024 bytes. The error never repeats the text.
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let key = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        if key.is_empty() || key.len() > 1024 {
            return Err(SecretError::Length);
        }
        Ok(WebhookSecret(SecretBox::new(Box::new(key))))
    }

    /// The text form, `whsec_<base64>`: what a system is given once.
    pub fn to_text(&self) -> SecretString {
        SecretString::from(format!(
            "{SECRET_PREFIX}{}",
            BASE64.encode(self.0.expose_secret())
        ))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length.
        HmacSha256::new_from_slice(self.0.expose_secret()).unwrap_or_else(|_| unreachable!())
    }

    /// The signature entry (`v1,<base64>`) of a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        signed_content(&mut mac, id, timestamp, body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }

    /// Whether `signature` (the raw bytes of a `v1` entry) signs the message; compared
    /// in constant time.
    fn verifies(&self, id: &str, timestamp: i64, body: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac();
        signed_content(&mut mac, id, timestamp, body);
        mac.verify_slice(signature).is_ok()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

fn signed_content(mac: &mut HmacSha256, id: &str, timestamp: i64, body: &[u8]) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
}

/// Why a secret's text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// After `whsec_`, the text is not standard base64.
    #[error("a webhook secret is `whsec_` followed by standard base64")]
    NotBase64,
    /// The key is empty or longer than 1,024 bytes.
    #[error("a webhook secret's key is 1 to 1024 bytes")]
    Length,
}

/// The three headers of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`: one `v1,` entry per secret, space-separated.
    pub signature: String,
}

/// Signs a message with every given secret (a receiver accepts it while it knows any of
/// them).
pub fn sign(secrets: &[&WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let signature = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    SignedHeaders {
        id: id.to_owned(),
        timestamp,
        signature,
    }
}

/// Why a delivery was refused. Each names what was wrong without echoing a secret or a
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header is missing or not visible ASCII text.
    #[error("the {0} header is missing or not text")]
    MissingHeader(&'static str),
    /// `webhook-id` is empty, longer than 255 bytes, or holds other than visible ASCII.
    #[error("webhook-id must be 1 to 255 visible ASCII characters")]
    BadId,
    /// `webhook-timestamp` is not an integer number of seconds.
    #[error("webhook-timestamp must be Unix seconds")]
    BadTimestamp,
    /// The timestamp is older than the tolerance.
    #[error("webhook-timestamp is more than {0} s in the past")]
    TooOld(i64),
    /// The timestamp is further ahead than the tolerance.
    #[error("webhook-timestamp is more than {0} s in the future")]
    TooNew(i64),
    /// No `v1` entry of the signature header matches any active secret.
    #[error("no signature matches")]
    NoMatch,
    /// The system has no active secret to verify with.
    #[error("the system has no active webhook secret")]
    NoSecret,
}

/// Verifies a delivery: the id's form, the timestamp within `tolerance_secs` of `now`
/// (Unix seconds), then each `v1` entry against each secret. Entries of other versions
/// and malformed entries are skipped, as the specification asks.
///
/// # Errors
/// [`VerifyError`], checked in that order.
pub fn verify(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(VerifyError::BadId);
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if ts < now.saturating_sub(tolerance_secs) {
        return Err(VerifyError::TooOld(tolerance_secs));
    }
    if ts > now.saturating_add(tolerance_secs) {
        return Err(VerifyError::TooNew(tolerance_secs));
    }
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    for entry in signature.split(' ') {
        let Some(encoded) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(raw) = BASE64.decode(encoded) else {
            continue;
        };
        if secrets.iter().any(|s| s.verifies(id, ts, body, &raw)) {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification's reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specifications_example() {
        let secret = WebhookSecret::parse(SECRET).expect("secret");
        assert_eq!(secret.sign(ID, TS, BODY), EXPECTED);
    }

    #[test]
    fn verifies_within_the_window_and_refuses_outside_it() {
        let secret = WebhookSecret::parse(SECRET).expect("secret");
        let ok = verify(
            &[&secret],
            ID,
            &TS.to_string(),
            EXPECTED,
            BODY,
            TS + 299,
            300,
        );
        assert_eq!(ok, Ok(()));
        let stale = verify(
            &[&secret],
            ID,
            &TS.to_string(),
            EXPECTED,
            BODY,
            TS + 301,
            300,
        );
        assert_eq!(stale, Err(VerifyError::TooOld(300)));
        let ahead = verify(
            &[&secret],
            ID,
            &TS.to_string(),
            EXPECTED,
            BODY,
            TS - 301,
            300,
        );
        assert_eq!(ahead, Err(VerifyError::TooNew(300)));
    }

    #[test]
    fn refuses_tampering_and_accepts_any_rotated_secret() {
        let secret = WebhookSecret::parse(SECRET).expect("secret");
        let other = WebhookSecret::generate();
        let ts = TS.to_string();
        let tampered = br#"{"test": 2432232315}"#;
        assert_eq!(
            verify(&[&secret], ID, &ts, EXPECTED, tampered, TS, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&[&secret], "msg_other", &ts, EXPECTED, BODY, TS, 300),
            Err(VerifyError::NoMatch)
        );
        // The old secret among the active ones: accepted; a header with entries of
        // other versions and garbage before the good one: accepted.
        let header = format!("v1a,abc v1,!!! v2,xyz {EXPECTED}");
        assert_eq!(
            verify(&[&other, &secret], ID, &ts, &header, BODY, TS, 300),
            Ok(())
        );
        assert_eq!(
            verify(&[&other], ID, &ts, EXPECTED, BODY, TS, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&[], ID, &ts, EXPECTED, BODY, TS, 300),
            Err(VerifyError::NoSecret)
        );
    }

    #[test]
    fn refuses_malformed_headers() {
        let secret = WebhookSecret::parse(SECRET).expect("secret");
        let ts = TS.to_string();
        for id in ["", "has space", &"x".repeat(256)] {
            assert_eq!(
                verify(&[&secret], id, &ts, EXPECTED, BODY, TS, 300),
                Err(VerifyError::BadId)
            );
        }
        for ts in ["", "1614265330.5", "soon", "99999999999999999999"] {
            assert_eq!(
                verify(&[&secret], ID, ts, EXPECTED, BODY, TS, 300),
                Err(VerifyError::BadTimestamp)
            );
        }
    }

    #[test]
    fn generated_secrets_round_trip_and_never_print() {
        let secret = WebhookSecret::generate();
        let text = secret.to_text();
        assert!(text.expose_secret().starts_with(SECRET_PREFIX));
        let again = WebhookSecret::parse(text.expose_secret()).expect("own text");
        assert_eq!(secret.sign(ID, TS, BODY), again.sign(ID, TS, BODY));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
        assert_eq!(
            WebhookSecret::parse("whsec_%%%").err(),
            Some(SecretError::NotBase64)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_").err(),
            Some(SecretError::Length)
        );
        let signed = sign(&[&secret, &again], ID, TS, BODY);
        assert_eq!(signed.signature.split(' ').count(), 2);
    }
}
