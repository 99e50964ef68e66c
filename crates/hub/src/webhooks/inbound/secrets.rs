//! A system's signing secrets: generated here, answered once, stored sealed with the
//! registry's key ring ([`crate::systems::crypto`]) and bound to the secret's id, never
//! returned again. Adding one gives the older ones an expiry `overlap` ahead (rotation:
//! the system switches to the new one while the old still verifies).

use secrecy::ExposeSecret;

use crate::store::webhooks_in::{self as store, SecretRow};
use crate::store::{Db, StoreError};
use crate::systems::crypto::{CryptoError, KeyRing, Sealed};
use crate::types::UtcTime;
use crate::webhooks::signature::WebhookSecret;

/// Why the active secrets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A sealed secret does not open (its key is not configured, or it was tampered
    /// with); never shows the secret.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Adds a new secret to system `system_id` at `now`; older ones expire `overlap_secs`
/// later. The stored row and the secret (to answer once).
pub async fn add(
    db: &Db,
    ring: &KeyRing,
    system_id: &str,
    overlap_secs: u64,
    now: UtcTime,
) -> Result<(SecretRow, WebhookSecret), StoreError> {
    let secret = WebhookSecret::generate();
    let id = store::new_secret_id();
    let sealed = ring.seal(secret.to_text().expose_secret().as_bytes(), &id);
    let row = SecretRow {
        id,
        system_id: system_id.to_owned(),
        key_id: sealed.key_id,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        created_at: now,
        expires_at: None,
    };
    let overlap = i64::try_from(overlap_secs.saturating_mul(1_000_000)).unwrap_or(i64::MAX / 2);
    let until = UtcTime::from_micros(now.as_micros().saturating_add(overlap)).unwrap_or(now);
    let mut tx = db.begin().await?;
    store::add_secret(&mut tx, &row, until).await?;
    tx.commit().await?;
    Ok((row, secret))
}

/// Opens a stored secret.
pub fn open(ring: &KeyRing, row: &SecretRow) -> Result<WebhookSecret, CryptoError> {
    let sealed = Sealed {
        key_id: row.key_id.clone(),
        nonce: row.nonce.clone(),
        ciphertext: row.ciphertext.clone(),
    };
    let plain = ring.open(&sealed, &row.id)?;
    let text = String::from_utf8(plain).map_err(|_| CryptoError::Corrupt)?;
    WebhookSecret::parse(&text).map_err(|_| CryptoError::Corrupt)
}

/// The secrets of system `system_id` that verify at `now`, opened.
pub async fn active(
    db: &Db,
    ring: &KeyRing,
    system_id: &str,
    now: UtcTime,
) -> Result<Vec<WebhookSecret>, SecretsError> {
    store::active_secrets(db, system_id, now)
        .await?
        .iter()
        .map(|row| open(ring, row).map_err(SecretsError::from))
        .collect()
}
