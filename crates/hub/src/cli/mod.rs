//! The command line: `supplyhub serve | sync | sandbox | migrate`.

mod progress;
mod region;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use progress::BarProgress;

use crate::calllog::{self, CallLog};
use crate::catalog::parse_stock_region;
use crate::config::{Config, LogFormat};
use crate::http::{self, AppState};
use crate::jobs::Worker;
use crate::orders::OrderService;
use crate::store::Db;
use crate::store::sync_runs::SyncRun;
use crate::sync::{RunKind, SyncOptions, Syncer};
use crate::types::UtcTime;

/// supplyhub: mirrors a supplier's catalog, prices and regional stock, and serves them.
#[derive(Debug, Parser)]
#[command(name = "supplyhub", version, about)]
pub struct Cli {
    /// Configuration file (default: supplyhub.toml when it exists). Environment
    /// variables `SUPPLYHUB_…` override it (`__` nests: `SUPPLYHUB_HAIER__BASE_URL`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API; with --sandbox, start a sandbox supplier in-process, point the
    /// hub at it and run a full sync first.
    Serve(ServeArgs),
    /// Run one sync of the supplier's catalog into the store.
    Sync(SyncArgs),
    /// Run the supplier sandbox: a simulator of the Haier Open Platform.
    Sandbox(sandbox::Args),
    /// Apply the database migrations and exit.
    Migrate,
    /// Resolve Chinese addresses to GB/T 2260 county codes.
    Region(region::RegionArgs),
}

/// Options of `supplyhub serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Start an in-process sandbox supplier on a free port and sync from it.
    #[arg(long)]
    pub sandbox: bool,
    /// Listen address (default from the configuration: 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Options of `supplyhub sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Only what changed since the last run (stock only for changed products).
    #[arg(long)]
    pub incremental: bool,
    /// Only these product codes (comma-separated, repeatable).
    #[arg(long, value_name = "CODES", value_delimiter = ',', value_parser = parse_product_code)]
    pub product_codes: Vec<haier::ProductCode>,
    /// Only products of this product group (productGroupNamd), e.g. 冰箱.
    #[arg(long, value_name = "NAME")]
    pub category: Option<String>,
    /// Only products of this brand (productBrandName), e.g. 海尔.
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,
    /// Sync the catalog and prices. With neither --prices nor --stock, both are synced.
    #[arg(long)]
    pub prices: bool,
    /// Sync the catalog and regional stock. With neither --prices nor --stock, both are synced.
    #[arg(long)]
    pub stock: bool,
    /// County code for regional stock (repeatable; default: sync.counties).
    #[arg(long = "county", value_name = "CODE", value_parser = parse_county)]
    pub counties: Vec<String>,
    /// Print the run's summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_product_code(s: &str) -> Result<haier::ProductCode, String> {
    haier::ProductCode::parse(s.trim()).map_err(|e| e.to_string())
}

fn parse_county(s: &str) -> Result<String, String> {
    parse_stock_region(s.trim()).map(|c| c.to_string())
}

/// Parses the command line and runs the command; the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sandbox(args) => {
            init_tracing(LogFormat::Text, "info");
            sandbox::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref(), &[])?;
            init_tracing(config.log.format, "warn");
            let db = open_db(&config).await?;
            println!("migrations applied to {}", redact_url(&config.database_url));
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync(args) => {
            let config = Config::load(cli.config.as_deref(), &[])?;
            init_tracing(config.log.format, "warn");
            sync_command(config, args).await
        }
        Command::Serve(args) => serve_command(cli.config, args).await,
        Command::Region(args) => {
            let config = Config::load(cli.config.as_deref(), &[])?;
            let resolver = ::region::Resolver::new(config.region.clone())?;
            region::run(args, &resolver)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_tracing(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},sqlx=warn")));
    // Colour codes only for a terminal: a file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..s + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            redact_url(&config.database_url)
        )
    })?;
    db.migrate().await.context("cannot apply the migrations")?;
    Ok(db)
}

/// The Open Platform client for `config`, recording every attempt in `log`; `None` when
/// no supplier is configured.
fn open_platform(
    config: &Config,
    log: &Arc<CallLog>,
) -> anyhow::Result<Option<Arc<haier::OpenPlatform>>> {
    let Some(haier) = config.haier.clone() else {
        return Ok(None);
    };
    let observer: Arc<dyn haier::CallObserver> = log.clone();
    let client = haier::OpenPlatform::builder(haier)
        .observer(observer)
        .build()
        .context("the Haier client configuration is invalid")?;
    Ok(Some(Arc::new(client)))
}

fn syncer(
    config: &Config,
    db: &Db,
    client: Option<Arc<haier::OpenPlatform>>,
) -> anyhow::Result<Syncer> {
    let Some(client) = client else {
        bail!(
            "no supplier is configured: set [haier] in supplyhub.toml or SUPPLYHUB_HAIER__* \
             (try `supplyhub sandbox --print-env`), or run `supplyhub serve --sandbox`"
        );
    };
    Ok(Syncer::new(db.clone(), client, config.sync.concurrency))
}

fn sync_options(config: &Config, args: &SyncArgs) -> SyncOptions {
    let (prices, stock) = if args.prices || args.stock {
        (args.prices, args.stock)
    } else {
        (true, true)
    };
    SyncOptions {
        kind: if args.incremental {
            RunKind::Incremental
        } else {
            RunKind::Full
        },
        product_codes: args.product_codes.clone(),
        category: args.category.clone(),
        brand: args.brand.clone(),
        prices,
        stock,
        counties: if args.counties.is_empty() {
            config.sync.counties.clone()
        } else {
            args.counties.clone()
        },
    }
}

async fn sync_command(config: Config, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&config).await?;
    let log = CallLog::start(db.clone(), calllog::OPEN_PLATFORM);
    let syncer = syncer(&config, &db, open_platform(&config, &log)?)?;
    let opts = sync_options(&config, &args);
    let run = syncer.run(&opts, &BarProgress::new()).await?;
    log.flush().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print_run(&run);
    }
    db.close().await;
    Ok(if run.status == "failed" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_run(run: &SyncRun) {
    let c = &run.counts;
    println!(
        "sync {} {} ({} run) in {:.1} s: {} read, {} created, {} updated, {} unchanged, {} failed; \
         {} stock levels written; {} calls, {} retries, {} rate-limited",
        run.id,
        run.status,
        run.kind,
        run.duration_ms.unwrap_or(0) as f64 / 1000.0,
        c.read,
        c.created,
        c.updated,
        c.unchanged,
        c.failed,
        c.stock_written,
        c.calls,
        c.retries,
        c.rate_limited
    );
    if let Some(summary) = &run.error_summary {
        println!("  {summary}");
    }
}

async fn serve_command(config_file: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    // With --sandbox, the sandbox's settings override the [haier] section.
    let (sandbox, overrides) = if args.sandbox {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the sandbox")?;
        let sb = sandbox::start(sandbox::SandboxConfig::default(), listener)
            .await
            .context("cannot start the sandbox")?;
        let env = sb.env();
        (Some(sb), env)
    } else {
        (None, Vec::new())
    };
    let config = Config::load(config_file.as_deref(), &overrides)?;
    init_tracing(config.log.format, "info");
    let db = open_db(&config).await?;

    let listen = args.listen.unwrap_or(config.listen);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let log = CallLog::start(db.clone(), calllog::OPEN_PLATFORM);
    let supplier = open_platform(&config, &log)?;
    let ylh = match config.ylh.clone() {
        Some(c) => Some(Arc::new(
            haier::Ylh::new(c).context("the YLH client configuration is invalid")?,
        )),
        None => None,
    };
    let resolver = Arc::new(::region::Resolver::new(config.region.clone())?);
    let orders = OrderService::new(
        db.clone(),
        Arc::clone(&resolver),
        supplier.clone(),
        config.orders.clone(),
    );
    let state = AppState {
        db: db.clone(),
        admin_token: config.admin_token.clone().map(Arc::new),
        resolver,
        callback: config.haier_callback.clone().map(Arc::new),
        orders: orders.clone(),
        ylh: ylh.clone(),
        supplier: supplier.clone(),
        http: config.http,
    };
    if let Some(sb) = &sandbox {
        sb.set_callback_url(format!("http://{addr}/callbacks/haier"));
    }
    let owner = format!(
        "{}-{}",
        std::process::id(),
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    tokio::spawn(
        Worker::new(db.clone(), ylh, config.orders.clone(), owner)
            .run(Duration::from_millis(200), shutdown.clone()),
    );
    tokio::spawn(sweep_expired_holds(orders, shutdown.clone()));
    tokio::spawn(prune_recorded_calls(
        db.clone(),
        config.sync.call_retention_days,
        shutdown.clone(),
    ));
    let app = http::router(state);
    let server_shutdown = shutdown.clone();
    let http_config = config.http;
    let server = tokio::spawn(async move {
        http::serve(
            listener,
            app,
            http_config,
            server_shutdown.cancelled_owned(),
        )
        .await
    });
    let signal_shutdown = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal_shutdown.cancel();
    });

    if let Some(sb) = &sandbox {
        eprintln!(
            "sandbox supplier at {}; running a full sync…",
            sb.base_url()
        );
        let syncer = syncer(&config, &db, supplier.clone())?;
        let opts = sync_options(
            &config,
            &SyncArgs {
                incremental: false,
                product_codes: Vec::new(),
                category: None,
                brand: None,
                prices: false,
                stock: false,
                counties: Vec::new(),
                json: false,
            },
        );
        let progress = BarProgress::new();
        tokio::select! {
            run = syncer.run(&opts, &progress) => print_run(&run?),
            () = shutdown.cancelled() => {}
        }
    }
    print_where_to_look(addr, &config, sandbox.as_ref());

    let served = server.await.context("the server task failed")?;
    log.flush().await;
    if let Some(sb) = sandbox {
        sb.shutdown()
            .await
            .context("the sandbox did not stop cleanly")?;
    }
    db.close().await;
    served.context("the server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what service managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Deletes recorded calls that belong to no order once they are older than
/// `retention_days` (0 keeps them), at start and then hourly, until `shutdown`.
async fn prune_recorded_calls(db: Db, retention_days: u32, shutdown: CancellationToken) {
    if retention_days == 0 {
        return;
    }
    let keep = Duration::from_secs(u64::from(retention_days) * 86_400);
    loop {
        let cutoff = UtcTime::now().as_micros() - i64::try_from(keep.as_micros()).unwrap_or(0);
        let before = UtcTime::from_micros(cutoff).unwrap_or_else(UtcTime::now);
        match crate::store::calls::prune_calls(&db, before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                retention_days,
                "pruned recorded supplier calls"
            ),
            Err(e) => tracing::warn!(error = ?e, "pruning recorded calls failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Expires unpaid orders whose holds ran out, every few seconds until `shutdown`.
async fn sweep_expired_holds(orders: OrderService, shutdown: CancellationToken) {
    loop {
        match orders.sweep_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "released the holds of unpaid orders"),
            Err(e) => tracing::warn!(error = ?e, "sweeping expired holds failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

fn print_where_to_look(addr: SocketAddr, config: &Config, sandbox: Option<&sandbox::Sandbox>) {
    let base = format!("http://{addr}");
    println!();
    println!("supplyhub is serving on {base}");
    println!("  health      {base}/healthz");
    println!("  products    {base}/api/v1/products");
    println!("  sync runs   {base}/api/v1/sync-runs");
    println!("  orders      {base}/api/v1/orders (POST to check out)");
    println!("  callbacks   {base}/callbacks/haier");
    println!("  OpenAPI     {base}/openapi.json");
    if let Some(sb) = sandbox {
        println!(
            "  sandbox     {} (its truth: {}/_sandbox/catalog)",
            sb.base_url(),
            sb.base_url()
        );
    }
    if config.admin_token.is_some() {
        println!("  auth        send `Authorization: Bearer $SUPPLYHUB_ADMIN_TOKEN` to /api/v1");
    } else {
        println!(
            "  auth        none: set SUPPLYHUB_ADMIN_TOKEN to require a bearer token on /api/v1"
        );
    }
    println!("  database    {}", redact_url(&config.database_url));
    println!("Press Ctrl-C to stop.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://supplyhub.db"), "sqlite://supplyhub.db");
    }

    #[test]
    fn bad_flags_are_named() {
        let err = Cli::try_parse_from(["supplyhub", "sync", "--county", "999999"]).unwrap_err();
        assert!(err.to_string().contains("999999"), "{err}");
        let err = Cli::try_parse_from(["supplyhub", "sync", "--product-codes", "A B"]).unwrap_err();
        assert!(err.to_string().contains("--product-codes"), "{err}");
    }
}
