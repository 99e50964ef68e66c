//! `supplyhub user …` and `supplyhub apikey …`: credentials from the command line, for
//! the first admin and for keys handed to other systems.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use secrecy::ExposeSecret;

use crate::access::{self, Role};
use crate::audit::{self, AuditEntry};
use crate::config::Config;
use crate::store::Db;
use crate::store::access as store;
use crate::systems::crypto::{self, KeyRing};

/// `supplyhub user`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: UserCommand,
}

/// The `user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from the first line of standard input
    /// (`printf '%s\n' "$PASSWORD" | supplyhub user create --username alice --role admin`).
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// admin, store_manager, warehouse_manager, customer_manager, staff or storefront.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
}

/// `supplyhub apikey`.
#[derive(Debug, clap::Args)]
pub struct ApiKeyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ApiKeyCommand,
}

/// The `apikey` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it once on standard output.
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// The role the key acts with.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Revoke a key by its id (key_…) or its prefix.
    Revoke {
        /// Key id or prefix.
        key: String,
    },
    /// List the keys (never their secrets), one JSON object a line.
    List,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

/// Runs `supplyhub user …`.
pub async fn user(db: &Db, args: UserArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        UserCommand::Create { username, role } => {
            access::check_username(&username).map_err(anyhow::Error::msg)?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            access::check_password_rules(password).map_err(anyhow::Error::msg)?;
            let hash = access::hash_password(password)?;
            let user = match store::create_user(db, &username, &hash, role.as_str()).await {
                Ok(u) => u,
                Err(crate::store::StoreError::Conflict(_)) => {
                    bail!("a user named {username:?} exists")
                }
                Err(e) => return Err(e.into()),
            };
            let entry = AuditEntry::new("user.create", &user.id, None::<&store::User>, Some(&user));
            audit::record(db, "cli", None, &entry).await?;
            println!(
                "created user {} ({}) with role {}",
                user.username, user.id, user.role
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `supplyhub apikey …`.
pub async fn api_key(db: &Db, args: ApiKeyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ApiKeyCommand::Create { name, role } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                bail!("--name must be 1 to 100 characters");
            }
            let created = access::generate_key();
            let key = store::create_api_key(
                db,
                name,
                role.as_str(),
                &created.prefix,
                &created.hash,
                "cli",
            )
            .await?;
            let entry = AuditEntry::new(
                "api_key.create",
                &key.id,
                None::<&store::ApiKey>,
                Some(&key),
            );
            audit::record(db, "cli", None, &entry).await?;
            eprintln!(
                "created API key {} ({name}, role {}); it is shown this once:",
                key.id, key.role
            );
            println!("{}", created.key);
            Ok(ExitCode::SUCCESS)
        }
        ApiKeyCommand::Revoke { key } => match store::revoke_api_key(db, &key).await? {
            Some(k) => {
                let entry =
                    AuditEntry::new("api_key.revoke", &k.id, None::<&store::ApiKey>, Some(&k));
                audit::record(db, "cli", None, &entry).await?;
                println!("revoked API key {} ({}, prefix {})", k.id, k.name, k.prefix);
                Ok(ExitCode::SUCCESS)
            }
            None => bail!("no API key with id or prefix {key:?}"),
        },
        ApiKeyCommand::List => {
            let mut after: Option<String> = None;
            loop {
                let page = store::list_api_keys(db, after.as_deref(), 500).await?;
                for k in &page {
                    println!("{}", serde_json::to_string(k)?);
                }
                match page.last() {
                    Some(k) if page.len() == 500 => after = Some(k.id.clone()),
                    _ => break,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `supplyhub secrets`.
#[derive(Debug, clap::Args)]
pub struct SecretsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SecretsCommand,
}

/// The `secrets` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Reseal every system's secrets under `secret_key` (SUPPLYHUB_SECRET_KEY); the keys
    /// they were sealed under must be `secret_key` or in `secret_keys_previous`.
    Rotate,
}

/// The data directory: the SQLite file's directory, else the working directory.
pub fn data_dir(config: &Config) -> PathBuf {
    let url = config.database_url.as_str();
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.starts_with(":memory:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The key ring of the configuration: `secret_key` and `secret_keys_previous`; without
/// a key, the key file of the data directory, generated when `generate` (and said so).
pub fn key_ring(config: &Config, generate: bool) -> anyhow::Result<KeyRing> {
    let previous: Vec<String> = config
        .secret_keys_previous
        .as_ref()
        .map(|s| {
            s.expose_secret()
                .split(',')
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
    let current = match &config.secret_key {
        Some(k) => k.expose_secret().to_owned(),
        None => {
            let dir = data_dir(config);
            let path = dir.join(crypto::KEY_FILE);
            if !generate && !path.exists() {
                bail!(
                    "no secret_key is configured and {} does not exist",
                    path.display()
                );
            }
            let (key, created) = crypto::load_or_generate_key_file(&dir)
                .with_context(|| format!("cannot read or write {}", path.display()))?;
            if created {
                tracing::warn!(
                    path = %path.display(),
                    "no secret_key configured: generated one (keep the file: the systems' secrets open only with it)"
                );
            }
            key
        }
    };
    Ok(KeyRing::new(&current, &previous)?)
}

/// Runs `supplyhub secrets …`.
pub async fn secrets(db: &Db, config: &Config, args: SecretsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SecretsCommand::Rotate => {
            let ring = key_ring(config, false)?;
            let mut resealed = 0;
            for (id, key_id, nonce, ciphertext) in crate::store::systems::sealed(db).await? {
                if key_id == ring.current_id() {
                    continue;
                }
                let sealed = crypto::Sealed {
                    key_id,
                    nonce,
                    ciphertext,
                };
                let plain = ring
                    .open(&sealed, &id)
                    .with_context(|| format!("system {id}"))?;
                let new = ring.seal(&plain, &id);
                crate::store::systems::reseal(db, &id, &new.key_id, &new.nonce, &new.ciphertext)
                    .await?;
                resealed += 1;
            }
            println!(
                "resealed the secrets of {resealed} system(s) under key {}",
                ring.current_id()
            );
            let mut endpoints = 0;
            for mut sealed in crate::store::webhooks::sealed_secrets(db).await? {
                if crate::webhooks::outbound::reseal_secrets(&ring, &mut sealed)
                    .with_context(|| format!("webhook endpoint {}", sealed.id))?
                {
                    crate::store::webhooks::reseal_secrets(db, &sealed).await?;
                    endpoints += 1;
                }
            }
            println!(
                "resealed the signing secrets of {endpoints} webhook endpoint(s) under key {}",
                ring.current_id()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
