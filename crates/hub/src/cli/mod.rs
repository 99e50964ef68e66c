//! The command line: `supplyhub serve | sync | sandbox | migrate | region | user | apikey`.

mod access;
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

use crate::budget::Budgets;
use crate::calllog::{self, CallLog};
use crate::catalog::parse_stock_region;
use crate::config::{Config, LogFormat};
use crate::http::{self, AppState};
use crate::instances::{Registration, Role};
use crate::jobs::Worker;
use crate::orders::OrderService;
use crate::store::Db;
use crate::store::sync_runs::SyncRun;
use crate::sync::{RunKind, SyncOptions, Syncer};
use crate::systems::live::{LiveOptions, LiveSupplier, SupplierSettings};
use crate::types::UtcTime;

/// supplyhub: mirrors a supplier's catalog, prices and regional stock, and serves them.
#[derive(Debug, Parser)]
#[command(name = "supplyhub", version, about)]
pub struct Cli {
    /// Configuration file (default: supplyhub.toml when it exists). Environment
    /// variables `SUPPLYHUB_…` override it (`__` nests: `SUPPLYHUB_HAIER__BASE_URL`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log line format on standard error: `text` or `json` (one object a line). Overrides
    /// the `[log] format` setting.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
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
    /// Manage users of the API and the admin page.
    User(access::UserArgs),
    /// Manage API keys.
    Apikey(access::ApiKeyArgs),
    /// Manage the key that seals the external systems' secrets.
    Secrets(access::SecretsArgs),
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

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("the log format is text or json, not {other:?}")),
    }
}

/// The `--log-format` of the command line, when given.
static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

fn parse_product_code(s: &str) -> Result<haier::ProductCode, String> {
    haier::ProductCode::parse(s.trim()).map_err(|e| e.to_string())
}

fn parse_county(s: &str) -> Result<String, String> {
    parse_stock_region(s.trim()).map(|c| c.to_string())
}

/// Parses the command line and runs the command; the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Some(format) = cli.log_format {
        let _ = LOG_FORMAT.set(format);
    }
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
        Command::User(args) => {
            let config = Config::load(cli.config.as_deref(), &[])?;
            init_tracing(config.log.format, "warn");
            let db = open_db(&config).await?;
            let code = access::user(&db, args).await;
            db.close().await;
            code
        }
        Command::Secrets(args) => {
            let config = Config::load(cli.config.as_deref(), &[])?;
            init_tracing(config.log.format, "warn");
            let db = open_db(&config).await?;
            let code = access::secrets(&db, &config, args).await;
            db.close().await;
            code
        }
        Command::Apikey(args) => {
            let config = Config::load(cli.config.as_deref(), &[])?;
            init_tracing(config.log.format, "warn");
            let db = open_db(&config).await?;
            let code = access::api_key(&db, args).await;
            db.close().await;
            code
        }
    }
}

fn init_tracing(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let format = LOG_FORMAT.get().copied().unwrap_or(format);
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

/// Ends the sync runs a dead process left `pending` or `processing` (no heartbeat for
/// [`crate::sync::RUN_ABANDONED_AFTER`]) as `failed`, summary `abandoned`.
async fn end_abandoned_runs(db: &Db) -> anyhow::Result<()> {
    let age = i64::try_from(crate::sync::RUN_ABANDONED_AFTER.as_micros()).unwrap_or(i64::MAX);
    let now = UtcTime::now();
    let stale_before = UtcTime::from_micros(now.as_micros() - age).unwrap_or(now);
    let ended = crate::store::sync_runs::mark_abandoned_runs(db, stale_before)
        .await
        .context("cannot end abandoned sync runs")?;
    if !ended.is_empty() {
        tracing::warn!(runs = ?ended, "sync runs left processing by a dead process ended as abandoned");
    }
    Ok(())
}

/// The Open Platform client for `config`, recording every attempt in `log`; `None` when
/// no supplier is configured.
fn open_platform(
    config: &Config,
    log: &Arc<CallLog>,
    budgets: &Budgets,
) -> anyhow::Result<Option<Arc<haier::OpenPlatform>>> {
    let Some(haier) = config.haier.clone() else {
        return Ok(None);
    };
    let observer: Arc<dyn haier::CallObserver> = log.clone();
    let mut builder = haier::OpenPlatform::builder(haier.clone()).observer(observer);
    if let Some(budget) = budgets.account(calllog::OPEN_PLATFORM, &haier.base_url, haier.rate_limit)
    {
        builder = builder.budget(budget);
    }
    let client = builder
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
    end_abandoned_runs(&db).await?;
    let log = CallLog::start(db.clone(), calllog::OPEN_PLATFORM);
    // The run takes part in the supplier budget like any instance: its share while it
    // runs, and the others' shares shrink to make room.
    let budgets = Budgets::new(config.sync.checkout_reserve);
    let (client, system) = sync_client(&config, &db, &log, &budgets).await?;
    let syncer = syncer(&config, &db, client)?;
    let registration = Registration::start(
        db.clone(),
        instance_id(),
        Role::Sync,
        budgets,
        config.instances,
    )
    .await
    .context("cannot register this run among the live instances")?;
    let opts = sync_options(&config, &args);
    // SIGTERM or Ctrl-C ends the run as failed ("interrupted by shutdown"), recorded.
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal.cancel();
    });
    let run = run_sync(
        &syncer,
        &db,
        system.as_deref(),
        &opts,
        &BarProgress::new(),
        &shutdown,
    )
    .await;
    registration.end().await;
    let run = match run? {
        Ok(run) => run,
        Err(active) => bail!(
            "the supplier system {} has a sync run in progress ({active}): one runs at a time; \
             follow it with `GET /api/v1/sync-runs/{active}`",
            system.unwrap_or_default()
        ),
    };
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

/// Records a run of `opts` (as a run of `system` when given: then it is refused while
/// the system has a run in progress, and the answer is that run's id) and runs it.
async fn run_sync(
    syncer: &Syncer,
    db: &Db,
    system: Option<&str>,
    opts: &SyncOptions,
    progress: &dyn crate::sync::Progress,
    shutdown: &CancellationToken,
) -> anyhow::Result<Result<SyncRun, String>> {
    let Some(system) = system else {
        return Ok(Ok(syncer.run_until(opts, progress, shutdown).await?));
    };
    let id = crate::store::new_id("run");
    let scope = serde_json::to_value(opts).unwrap_or_default();
    match crate::store::sync_runs::insert_system_run(db, &id, opts.kind.as_str(), &scope, system)
        .await
    {
        Ok(()) => Ok(Ok(syncer
            .run_recorded(id, opts, progress, shutdown)
            .await?)),
        Err(crate::store::StoreError::Conflict(_)) => Ok(Err(
            crate::store::sync_runs::active_run_of_system(db, system)
                .await?
                .unwrap_or_default(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The Open Platform client `supplyhub sync` reads through, and the supplier system it
/// comes from: that of the active supplier system, as `serve` uses, else the
/// configuration's (no system). Without the secret key an active system's secrets
/// cannot be opened, which is an error rather than a silent fallback.
async fn sync_client(
    config: &Config,
    db: &Db,
    log: &Arc<CallLog>,
    budgets: &Budgets,
) -> anyhow::Result<(Option<Arc<haier::OpenPlatform>>, Option<String>)> {
    let ring = match access::key_ring(config, false) {
        Ok(ring) => ring,
        Err(e) if config.secret_key.is_some() => return Err(e),
        Err(no_key) => {
            if let Some((id, _)) = crate::store::systems::active_supplier_revision(db).await? {
                return Err(no_key.context(format!(
                    "the active supplier system {id} is sealed with the secret key"
                )));
            }
            return Ok((open_platform(config, log, budgets)?, None));
        }
    };
    let live = LiveSupplier::from_registry(
        db.clone(),
        Arc::new(ring),
        SupplierSettings::from_config(config),
        LiveOptions {
            log: Some(log.clone()),
            budgets: Some(budgets.clone()),
            ..LiveOptions::default()
        },
    )
    .await?;
    let clients = live.snapshot();
    if let Some((id, name)) = &clients.system {
        eprintln!("supplier settings from the active supplier system {name} ({id})");
    }
    Ok((
        clients.open_platform.clone(),
        clients.system.as_ref().map(|(id, _)| id.clone()),
    ))
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
    end_abandoned_runs(&db).await?;

    // The supplier's settings come from the active supplier system when one exists.
    let key_ring = Arc::new(access::key_ring(&config, true)?);
    let sandbox_system = match &sandbox {
        Some(sb) => {
            let id = crate::systems::http::register_supplier(&db, &key_ring, "sandbox", &sb.env())
                .await
                .context("cannot register the sandbox as a supplier system")?;
            tracing::info!(system = %id, "the sandbox is registered as the active supplier system");
            Some(id)
        }
        None => None,
    };
    let listen = args.listen.unwrap_or(config.listen);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let log = CallLog::start(db.clone(), calllog::OPEN_PLATFORM);
    let budgets = Budgets::new(config.sync.checkout_reserve);
    let health = crate::systems::health::HealthWatch::new(config.system_health);
    // The supplier's clients follow the active supplier system while serving (else the
    // configuration's [haier], [ylh] and [haier_callback]).
    let supplier = LiveSupplier::from_registry(
        db.clone(),
        Arc::clone(&key_ring),
        SupplierSettings::from_config(&config),
        LiveOptions {
            log: Some(log.clone()),
            budgets: Some(budgets.clone()),
            health: Some(health.clone()),
            ..LiveOptions::default()
        },
    )
    .await?;
    if let Some((id, name)) = &supplier.snapshot().system {
        println!("supplier settings from the active supplier system {name} ({id})");
    }
    let resolver = Arc::new(::region::Resolver::new(config.region.clone())?);
    let orders = OrderService::new(
        db.clone(),
        Arc::clone(&resolver),
        supplier.clone(),
        config.orders.clone(),
    );
    let enforced =
        config.admin_token.is_some() || crate::store::access::any_credentials(&db).await?;
    let state = AppState {
        db: db.clone(),
        admin_token: config.admin_token.clone().map(Arc::new),
        access: crate::access::AccessState::new(config.access.clone(), enforced),
        resolver,
        orders: orders.clone(),
        supplier: supplier.clone(),
        http: config.http,
        webhooks_in: config.webhooks_in,
        secrets: Arc::clone(&key_ring),
        webhooks: config.webhooks,
        shutdown: shutdown.clone(),
        schedules: crate::schedules::scheduler::Settings::new(
            config.schedules.clone(),
            &config.sync,
        ),
    };
    if let Some(sb) = &sandbox {
        sb.set_callback_url(format!("http://{addr}/callbacks/haier"));
    }
    let owner = instance_id();
    // Registered among the live instances before any supplier call: from here on this
    // instance spends only its share of each supplier account's budget. The heartbeat
    // goes on through the shutdown's grace period (work in flight still spends), and the
    // registration ends after everything else.
    let registration = Registration::start(
        db.clone(),
        owner.clone(),
        Role::Serve,
        budgets.clone(),
        config.instances,
    )
    .await
    .context("cannot register this instance among the live instances")?;
    // One shutdown signal for all: the server stops taking requests, the worker stops
    // claiming jobs, the sweeper and the pruner stop; their handles are kept so that the
    // pool is closed only once they are done (or the grace period is over).
    let mut tasks = tokio::task::JoinSet::new();
    let deliverer = crate::webhooks::outbound::Deliverer::new(
        db.clone(),
        Arc::clone(&key_ring),
        config.webhooks,
        crate::clock::Clock::system(),
    )
    .context("the outbound webhooks' HTTP client")?;
    tasks.spawn(
        Worker::new(
            db.clone(),
            supplier.clone(),
            config.orders.clone(),
            owner.clone(),
        )
        .with_webhooks(Arc::new(deliverer))
        .run(Duration::from_millis(200), shutdown.clone()),
    );
    tasks.spawn(sweep_expired_holds(orders, shutdown.clone()));
    // Schedules: each firing is claimed by one instance; their runs end (recorded as
    // interrupted) at shutdown.
    if config.schedules.enabled {
        tasks.spawn(
            crate::schedules::Scheduler::new(
                db.clone(),
                Arc::clone(&key_ring),
                state.schedules.clone(),
                shutdown.clone(),
            )
            .with_budgets(budgets.clone())
            .with_health(health.clone())
            .run(),
        );
    }
    // A system whose calls keep failing goes to error, and back when they succeed.
    tasks.spawn(health.run(db.clone(), shutdown.clone()));
    tasks.spawn(crate::retention::run(
        db.clone(),
        config.sync.call_retention_days,
        config.retention.clone(),
        shutdown.clone(),
    ));
    let app = http::router(state);
    let server_shutdown = shutdown.clone();
    let http_config = config.http;
    let mut server = tokio::spawn(async move {
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
        tracing::info!(url = %sb.base_url(), "sandbox supplier started; running a full sync");
        let syncer = syncer(&config, &db, supplier.current().await.open_platform.clone())?;
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
        // A run of the sandbox's system: another instance's run of it is not doubled.
        match run_sync(
            &syncer,
            &db,
            sandbox_system.as_deref(),
            &opts,
            &progress,
            &shutdown,
        )
        .await?
        {
            Ok(run) => print_run(&run),
            Err(active) => println!("the sandbox is being synced already ({active})"),
        }
    }
    if !shutdown.is_cancelled() {
        print_where_to_look(addr, &config, sandbox.as_ref(), enforced);
    }

    // The server ends only at shutdown, unless it fails: then everything else stops too.
    let failed_early = tokio::select! {
        served = &mut server => {
            shutdown.cancel();
            Some(served)
        }
        () = shutdown.cancelled() => None,
    };
    // From the signal on, everything gets one grace period in all: requests in flight,
    // the worker's jobs, the sweeper and the pruner.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.shutdown_grace_secs);
    let served = match failed_early {
        Some(served) => served,
        None => match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(served) => served,
            Err(_) => {
                tracing::warn!("requests still in flight at the end of the grace period");
                server.abort();
                Ok(Ok(()))
            }
        },
    };
    let finished = tokio::time::timeout_at(deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !finished {
        tracing::warn!(
            grace_secs = config.shutdown_grace_secs,
            "work still in flight at the end of the grace period: releasing it"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    // Whatever the worker still held (its attempt was cut short) goes back to the queue
    // now rather than when its lease runs out.
    match crate::store::jobs::release_leases(&db, &owner).await {
        Ok(released) if released.is_empty() => {}
        Ok(released) => tracing::info!(jobs = ?released, "released leased jobs at shutdown"),
        Err(e) => tracing::warn!(error = ?e, "cannot release leased jobs at shutdown"),
    }
    registration.end().await;
    log.flush().await;
    if let Some(sb) = sandbox {
        sb.shutdown()
            .await
            .context("the sandbox did not stop cleanly")?;
    }
    db.close().await;
    served
        .context("the server task failed")?
        .context("the server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// A new instance id: the process id and a random suffix (`12345-9f1c2a7d3e4b`), also the
/// owner name of the instance's job leases.
fn instance_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
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

fn print_where_to_look(
    addr: SocketAddr,
    config: &Config,
    sandbox: Option<&sandbox::Sandbox>,
    enforced: bool,
) {
    let base = format!("http://{addr}");
    println!();
    println!("supplyhub is serving on {base}");
    println!("  health      {base}/healthz");
    println!("  products    {base}/api/v1/products");
    println!("  sync runs   {base}/api/v1/sync-runs");
    println!("  orders      {base}/api/v1/orders (POST to check out)");
    println!("  callbacks   {base}/callbacks/haier");
    println!("  OpenAPI     {base}/openapi.json");
    println!(
        "  admin page  {base}/admin (sign in as a user: printf '%s\\n' \"$PASSWORD\" | supplyhub user create --username alice --role admin)"
    );
    if let Some(sb) = sandbox {
        println!(
            "  sandbox     {} (its truth: {}/_sandbox/catalog)",
            sb.base_url(),
            sb.base_url()
        );
    }
    if config.admin_token.is_some() {
        println!(
            "  auth        `Authorization: Bearer $SUPPLYHUB_ADMIN_TOKEN` (admin), an API key, or a session from /api/v1/auth/login"
        );
    } else if enforced {
        println!(
            "  auth        an API key (`Authorization: Bearer shk_…`) or a session from /api/v1/auth/login"
        );
    } else {
        println!(
            "  auth        none: set SUPPLYHUB_ADMIN_TOKEN, or create a user or an API key, to require credentials on /api/v1"
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
