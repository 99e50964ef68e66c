//! The command line: `supplyhub sandbox [OPTIONS]`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::{SandboxConfig, env_vars};
use crate::faults::FaultMode;
use crate::server::{base_url_for, start};

/// Options of `supplyhub sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7780")]
    pub listen: String,
    /// How many products the generated catalog holds.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub products: usize,
    /// The seed of the catalog, stock levels, churn and faults.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// How much the platform misbehaves.
    #[arg(long, value_enum, default_value_t = FaultMode::None)]
    pub faults: FaultMode,
    /// Requests per second over all business and token endpoints (0: unlimited).
    #[arg(long, value_name = "RPS", default_value_t = 100)]
    pub rate_limit: u32,
    /// Token lifetime in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub token_ttl: u64,
    /// How long a hang fault holds a call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 35_000)]
    pub hang_ms: u64,
    /// Where order callbacks are POSTed (none are sent without it).
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// How long after an order or cancel request its callback comes, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub callback_delay_ms: u64,
    /// How long each logistics step (shipped, delivered) takes, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub logistics_step_ms: u64,
    /// Also accept `Authorization: Bearer <token>` on the Open Platform (the vendor's
    /// gateway takes the bare token; some operators' gateways take both).
    #[arg(long)]
    pub accept_bearer: bool,
    /// Print the client settings (`NAME=value` lines) and exit.
    #[arg(long)]
    pub print_env: bool,
}

impl Args {
    /// The sandbox configuration these options describe.
    pub fn config(&self) -> SandboxConfig {
        SandboxConfig {
            products: self.products,
            seed: self.seed,
            faults: self.faults,
            rate_limit: self.rate_limit,
            token_ttl: Duration::from_secs(self.token_ttl),
            hang: Duration::from_millis(self.hang_ms),
            callback_url: self.callback_url.clone(),
            callback_delay: Duration::from_millis(self.callback_delay_ms),
            logistics_step: Duration::from_millis(self.logistics_step_ms),
            accept_bearer: self.accept_bearer,
            ..SandboxConfig::default()
        }
    }
}

/// Why the sandbox command failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while starting, running or stopping.
    #[error("sandbox server failed")]
    Serve(#[source] std::io::Error),
    /// Waiting for Ctrl-C failed.
    #[error("cannot wait for Ctrl-C")]
    Signal(#[source] std::io::Error),
}

/// Serves until Ctrl-C, or with `--print-env` prints the client settings and returns.
pub async fn run(args: Args) -> Result<(), RunError> {
    if args.print_env {
        let base_url = match args.listen.parse::<SocketAddr>() {
            Ok(addr) => base_url_for(addr),
            Err(_) => format!("http://{}", args.listen),
        };
        for (name, value) in env_vars(&base_url, &args.config()) {
            println!("{name}={value}");
        }
        return Ok(());
    }
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|source| RunError::Bind {
            addr: args.listen.clone(),
            source,
        })?;
    let sandbox = start(args.config(), listener)
        .await
        .map_err(RunError::Serve)?;
    for (name, value) in sandbox.env() {
        tracing::info!("{name}={value}");
    }
    let waited = tokio::signal::ctrl_c().await;
    tracing::info!("sandbox shutting down");
    sandbox.shutdown().await.map_err(RunError::Serve)?;
    waited.map_err(RunError::Signal)
}
