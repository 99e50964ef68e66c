//! Access control: who may call the API, and what each caller may do.
//!
//! A caller proves who it is with one of
//! - the bootstrap admin token (`SUPPLYHUB_ADMIN_TOKEN`), as `Authorization: Bearer …`;
//! - an API key (`shk_<prefix>_<secret>`), as `Authorization: Bearer …`: the prefix is
//!   visible and finds the key, the whole key is stored only as its SHA-256;
//! - a session cookie of the admin page, opened by `POST /api/v1/auth/login` with a
//!   user's password (argon2id); a state-changing request on a cookie session also
//!   carries the session's CSRF token in `X-CSRF-Token`.
//!
//! What a caller may do depends on its [`Role`] only, through the one table of
//! [`permissions::RULES`].

pub mod http;
pub mod permissions;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::AccessConfig;

/// A role: what a user or an API key may do (see [`permissions::RULES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, API keys and the audit log.
    Admin,
    /// The store: systems, catalog, stock, orders and their pushes to the supplier.
    StoreManager,
    /// Stock and the supplier purchase orders (pushes, redrives).
    WarehouseManager,
    /// Members and their sync; reads the rest.
    CustomerManager,
    /// Reads what operators read; changes nothing.
    Staff,
    /// The storefront backend: catalog and stock reads, checkout, its orders.
    Storefront,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::StoreManager,
        Role::WarehouseManager,
        Role::CustomerManager,
        Role::Staff,
        Role::Storefront,
    ];

    /// The role's name as written in the API and on the command line (`store_manager`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::StoreManager => "store_manager",
            Role::WarehouseManager => "warehouse_manager",
            Role::CustomerManager => "customer_manager",
            Role::Staff => "staff",
            Role::Storefront => "storefront",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, thiserror::Error)]
#[error(
    "role must be one of admin, store_manager, warehouse_manager, customer_manager, staff, storefront; got {0:?}"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.chars().take(40).collect()))
    }
}

/// Who is calling, and with what role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// The holder of the bootstrap admin token.
    AdminToken,
    /// A user signed in with a session cookie.
    User {
        /// User id (`usr_…`).
        id: String,
        /// Login name.
        username: String,
        /// The user's role.
        role: Role,
    },
    /// An API key.
    ApiKey {
        /// Key id (`key_…`).
        id: String,
        /// The key's name.
        name: String,
        /// The key's role.
        role: Role,
    },
    /// Anyone, on a hub with no credentials configured at all (no admin token, no user,
    /// no API key): the quick start. Acts as an admin.
    Open,
}

impl Principal {
    /// The role the caller acts with.
    pub fn role(&self) -> Role {
        match self {
            Principal::AdminToken | Principal::Open => Role::Admin,
            Principal::User { role, .. } | Principal::ApiKey { role, .. } => *role,
        }
    }

    /// A short label for logs and the audit log: `user:alice`, `api_key:key_…`,
    /// `admin_token`, `open`.
    pub fn label(&self) -> String {
        match self {
            Principal::AdminToken => "admin_token".to_owned(),
            Principal::User { username, .. } => format!("user:{username}"),
            Principal::ApiKey { id, .. } => format!("api_key:{id}"),
            Principal::Open => "open".to_owned(),
        }
    }
}

/// What access control needs at run time.
#[derive(Clone, Debug, Default)]
pub struct AccessState {
    /// Login throttling and session lifetimes.
    pub config: AccessConfig,
    /// Whether credentials are required. Set at start when an admin token, a user or an
    /// API key exists, and as soon as one is created; never cleared while running.
    enforced: Arc<AtomicBool>,
}

impl AccessState {
    /// A state with `config`, enforcing credentials when `enforced`.
    pub fn new(config: AccessConfig, enforced: bool) -> AccessState {
        AccessState {
            config,
            enforced: Arc::new(AtomicBool::new(enforced)),
        }
    }

    /// Whether the API requires credentials.
    pub fn enforced(&self) -> bool {
        self.enforced.load(Ordering::Relaxed)
    }

    /// Requires credentials from now on (a user or key was just created).
    pub fn enforce(&self) {
        self.enforced.store(true, Ordering::Relaxed);
    }
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes), in PHC
/// string form.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC `hash`; a malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash of no password, verified against when a login names no user, so that an
/// unknown name takes as long as a wrong password.
pub fn dummy_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("no such user").unwrap_or_default())
}

/// Checks a new password: 12 to 256 characters.
pub fn check_password_rules(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(12..=256).contains(&n) {
        return Err(format!(
            "password must be 12 to 256 characters long, got {n}"
        ));
    }
    Ok(())
}

/// Checks a username: 1 to 64 characters of ASCII letters, digits, `.`, `_`, `-`, `@`.
pub fn check_username(username: &str) -> Result<(), String> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if username.is_empty() || username.chars().count() > 64 || !ok_chars {
        return Err(format!(
            "username must be 1 to 64 letters, digits or . _ - @, got {:?}",
            username.chars().take(40).collect::<String>()
        ));
    }
    Ok(())
}

/// A new API key: the whole key (shown once), its visible prefix and the SHA-256 of the
/// whole key (stored).
pub struct NewKey {
    /// `shk_<prefix>_<secret>`: given to the caller once, never stored.
    pub key: String,
    /// The visible part, 8 hex digits.
    pub prefix: String,
    /// SHA-256 of `key`, hex.
    pub hash: String,
}

/// Generates an API key: an 8-hex-digit prefix and 256 bits of secret.
pub fn generate_key() -> NewKey {
    let prefix: [u8; 4] = rand::random();
    let secret: [u8; 32] = rand::random();
    let prefix = hex::encode(prefix);
    let key = format!("shk_{prefix}_{}", hex::encode(secret));
    let hash = sha256_hex(&key);
    NewKey { key, prefix, hash }
}

/// The prefix of something that looks like an API key (`shk_<8 hex>_<64 hex>`).
pub fn key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("shk_")?;
    let (prefix, secret) = rest.split_once('_')?;
    let hexy = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexy(prefix, 8) && hexy(secret, 64)).then_some(prefix)
}

/// A random token of 256 bits, hex (session tokens, CSRF tokens).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// SHA-256 of `text`, hex. Used for API keys and session tokens, which are random and
/// long, so a fast hash is enough (a password needs argon2id).
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_by_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
            assert_eq!(
                serde_json::to_value(role).ok(),
                Some(serde_json::Value::from(role.as_str()))
            );
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn keys_have_a_visible_prefix_and_are_stored_hashed() {
        let k = generate_key();
        assert_eq!(key_prefix(&k.key), Some(k.prefix.as_str()));
        assert_eq!(k.hash, sha256_hex(&k.key));
        assert!(!k.hash.contains(&k.key[13..]));
        assert_eq!(key_prefix("shk_zz_00"), None);
        assert_eq!(key_prefix("Bearer"), None);
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
