//! Runs the sandbox on its own: `cargo run -p sandbox --example serve -- --help`.
//! (The hub's CLI exposes the same options as `supplyhub sandbox`.)

use clap::Parser;

/// The Haier Open Platform sandbox.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: sandbox::Args,
}

#[tokio::main]
async fn main() -> Result<(), sandbox::RunError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    sandbox::run(Cli::parse().args).await
}
