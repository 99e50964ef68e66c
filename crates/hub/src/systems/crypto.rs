//! Secrets at rest: XChaCha20-Poly1305 under a key from configuration, with the key's id
//! stored beside each ciphertext so that the key can be rotated.
//!
//! The key is 32 bytes, given as 64 hex digits (`SUPPLYHUB_SECRET_KEY`); earlier keys
//! still needed to read old ciphertexts are listed in `secret_keys_previous`. A key's id
//! is the first 16 hex digits of the SHA-256 of the key, which tells which key sealed a
//! ciphertext without telling anything about the key.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A sealed value as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Id of the key that sealed it.
    pub key_id: String,
    /// The 24-byte nonce, hex.
    pub nonce: String,
    /// Ciphertext and tag, hex.
    pub ciphertext: String,
}

/// Why a secret cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A configured key is not 64 hex digits (the key itself is never shown).
    #[error("{0}: the secret key must be 64 hex digits (32 bytes)")]
    BadKey(&'static str),
    /// The ciphertext was sealed under a key that is not configured.
    #[error(
        "the secrets were sealed under key {0}, which is not configured (set secret_keys_previous)"
    )]
    UnknownKey(String),
    /// The ciphertext does not open under its key: corrupted or tampered with.
    #[error("the sealed secrets do not open: corrupted, or sealed for another record")]
    Corrupt,
}

/// The current key and the earlier ones.
#[derive(Clone)]
pub struct KeyRing {
    current: (String, [u8; 32]),
    previous: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.0)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn parse_key(hex_key: &str, setting: &'static str) -> Result<(String, [u8; 32]), CryptoError> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadKey(setting))?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey(setting))?;
    Ok((key_id(&key), key))
}

/// The id of `key`: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(key))[..16].to_owned()
}

/// A new random key, as 64 hex digits.
pub fn generate_key_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl KeyRing {
    /// A ring with `current` (64 hex digits) sealing, and `previous` opening only.
    pub fn new(current: &str, previous: &[&str]) -> Result<KeyRing, CryptoError> {
        Ok(KeyRing {
            current: parse_key(current, "secret_key")?,
            previous: previous
                .iter()
                .map(|k| parse_key(k, "secret_keys_previous"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A ring with a random key that lives as long as the process: for tests and
    /// programs that keep no secret across runs.
    pub fn ephemeral() -> KeyRing {
        let key: [u8; 32] = rand::random();
        KeyRing {
            current: (key_id(&key), key),
            previous: Vec::new(),
        }
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.0
    }

    /// Seals `plaintext`, bound to `context` (the record's id): a ciphertext moved to
    /// another record does not open.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Sealed {
        let (id, key) = &self.current;
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let nonce_bytes: [u8; 24] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let aad = format!("supplyhub:{id}:{context}");
        // Encryption with a valid key and nonce does not fail for inputs this small.
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        Sealed {
            key_id: id.clone(),
            nonce: hex::encode(nonce_bytes),
            ciphertext: hex::encode(ciphertext),
        }
    }

    /// Opens a sealed value of record `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<Vec<u8>, CryptoError> {
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(id, _)| *id == sealed.key_id)
            .map(|(_, k)| k)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; 24] = hex::decode(&sealed.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(CryptoError::Corrupt)?;
        let ciphertext = hex::decode(&sealed.ciphertext).map_err(|_| CryptoError::Corrupt)?;
        let aad = format!("supplyhub:{}:{context}", sealed.key_id);
        XChaCha20Poly1305::new(&(*key).into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Corrupt)
    }
}

/// The key file `serve` writes into the data directory when no key is configured.
pub const KEY_FILE: &str = "supplyhub-secret.key";

/// Reads the key in `dir`/[`KEY_FILE`], or writes a new one there (mode 0600 on Unix).
/// The key as hex, and whether it was just generated.
pub fn load_or_generate_key_file(dir: &Path) -> std::io::Result<(String, bool)> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((text.trim().to_owned(), false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_key_hex();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write;
            options
                .open(&path)?
                .write_all(format!("{key}\n").as_bytes())?;
            Ok((key, true))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_record() {
        let old = generate_key_hex();
        let new = generate_key_hex();
        let ring = KeyRing::new(&old, &[]).unwrap_or_else(|e| panic!("{e}"));
        let sealed = ring.seal(b"s3cret", "sys_1");
        assert!(!sealed.ciphertext.contains(&hex::encode(b"s3cret")));
        assert_eq!(ring.open(&sealed, "sys_1").ok(), Some(b"s3cret".to_vec()));
        assert!(matches!(
            ring.open(&sealed, "sys_2"),
            Err(CryptoError::Corrupt)
        ));
        let rotated = KeyRing::new(&new, &[&old]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rotated.open(&sealed, "sys_1").ok(),
            Some(b"s3cret".to_vec())
        );
        assert_ne!(rotated.seal(b"x", "sys_1").key_id, sealed.key_id);
        let only_new = KeyRing::new(&new, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            only_new.open(&sealed, "sys_1"),
            Err(CryptoError::UnknownKey(_))
        ));
        assert!(KeyRing::new("abc", &[]).is_err());
    }
}
