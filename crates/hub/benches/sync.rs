//! Full-sync benchmark: 5,000 products with prices and stock for one county, from an
//! in-process sandbox over real HTTP, into a fresh database.
//!
//! ```sh
//! cargo bench -p supplyhub --bench sync                       # SQLite in a temp dir
//! SUPPLYHUB_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/bench cargo bench -p supplyhub --bench sync
//! cargo bench -p supplyhub --bench sync -- --products 1000 --rate-limit 200
//! ```
//!
//! Reports SKUs per second, the share of the sandbox's rate limit the run used (calls per
//! second over the limit), and the 429s counted by the client and by the sandbox.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use supplyhub::calllog::CallLog;
use supplyhub::config::Config;
use supplyhub::store::Db;
use supplyhub::store::calls::calls_of_sync_run;
use supplyhub::sync::{NoProgress, RunKind, SyncOptions, Syncer};

struct Args {
    products: usize,
    rate_limit: u32,
    county: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        products: 5000,
        rate_limit: 100,
        county: "370212".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--products" => args.products = value().parse().expect("--products N"),
            "--rate-limit" => args.rate_limit = value().parse().expect("--rate-limit RPS"),
            "--county" => args.county = value(),
            _ => {} // cargo passes --bench
        }
    }
    args
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sandbox = sandbox::start(
        sandbox::SandboxConfig {
            products: args.products,
            rate_limit: args.rate_limit,
            ..sandbox::SandboxConfig::default()
        },
        listener,
    )
    .await?;

    let dir = tempfile::tempdir()?;
    let url = std::env::var("SUPPLYHUB_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let mut settings = sandbox.env();
    settings.push(("SUPPLYHUB_DATABASE_URL".to_owned(), url.clone()));
    let config = Config::from_settings(&settings)?;
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    // As in `serve` and `sync`: every attempt is recorded in the call log.
    let log = CallLog::start(db.clone(), supplyhub::calllog::OPEN_PLATFORM);
    let observer: Arc<dyn haier::CallObserver> = log.clone();
    let client = haier::OpenPlatform::builder(config.haier.clone().expect("sandbox settings"))
        .observer(observer)
        .build()?;
    let syncer = Syncer::new(db.clone(), Arc::new(client), config.sync.concurrency);
    let opts = SyncOptions {
        kind: RunKind::Full,
        product_codes: Vec::new(),
        category: None,
        brand: None,
        prices: true,
        stock: true,
        counties: vec![args.county.clone()],
    };

    let backend = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!(
        "full sync: {} products in the sandbox, prices and stock for county {}, rate limit {} req/s, {backend}",
        args.products, args.county, args.rate_limit
    );
    let started = Instant::now();
    let run = syncer.run(&opts, &NoProgress).await?;
    let secs = started.elapsed().as_secs_f64();
    let stats: serde_json::Value = reqwest::get(format!("{}/_sandbox/stats", sandbox.base_url()))
        .await?
        .json()
        .await?;

    let c = &run.counts;
    let calls_per_sec = c.calls as f64 / secs;
    println!("  status              {}", run.status);
    println!("  duration            {secs:.1} s");
    println!("  SKUs read           {}", c.read);
    println!("  SKUs per second     {:.1}", c.read as f64 / secs);
    println!("  supplier calls      {} ({} retries)", c.calls, c.retries);
    println!("  calls per second    {calls_per_sec:.1}");
    println!(
        "  rate limit used     {:.1} % of {} req/s",
        100.0 * calls_per_sec / f64::from(args.rate_limit),
        args.rate_limit
    );
    println!(
        "  429s                {} seen by the client, {} served by the sandbox",
        c.rate_limited, stats["too_many_requests"]
    );
    println!(
        "  rows written        {} products, {} stock levels",
        c.created + c.updated,
        c.stock_written
    );
    log.flush().await;
    let recorded = calls_of_sync_run(&db, &run.id, None, u32::MAX).await?.len();
    println!(
        "  calls recorded      {recorded} ({} dropped)",
        log.dropped()
    );

    // An incremental run over the unchanged catalog: what "only what changed" costs.
    let opts = SyncOptions {
        kind: RunKind::Incremental,
        ..opts
    };
    let started = Instant::now();
    let again = syncer.run(&opts, &NoProgress).await?;
    println!(
        "incremental re-sync of the unchanged catalog: {:.1} s, {} calls, {} products and {} stock levels written",
        started.elapsed().as_secs_f64(),
        again.counts.calls,
        again.counts.created + again.counts.updated,
        again.counts.stock_written
    );
    db.close().await;
    sandbox.shutdown().await?;
    Ok(())
}
