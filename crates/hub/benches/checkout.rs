//! Checkout benchmark: orders per second from create to hold, with p50 and p99 latency,
//! over real HTTP against an in-process hub and sandbox, on SQLite and on PostgreSQL.
//!
//! ```sh
//! cargo bench -p supplyhub --bench checkout                  # SQLite, then PostgreSQL if reachable
//! cargo bench -p supplyhub --bench checkout -- --orders 5000 --concurrency 32
//! ```
//!
//! Each checkout is `POST /api/v1/orders` with one line: the county is resolved, the
//! regional stock figure is read from the supplier (then cached for 30 s, as in
//! production) and the hold is taken with one conditional update. PostgreSQL is
//! `SUPPLYHUB_BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`,
//! where a scratch database is created and dropped).

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use supplyhub::config::Config;
use supplyhub::http::{AppState, router};
use supplyhub::orders::OrderService;
use supplyhub::store::Db;
use supplyhub::sync::{NoProgress, RunKind, SyncOptions, Syncer};
use supplyhub::systems::live::{LiveSupplier, SupplierClients};

mod common;
use common::percentile;

struct Args {
    orders: usize,
    concurrency: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        orders: 3000,
        concurrency: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--orders" => args.orders = value().parse().expect("--orders N"),
            "--concurrency" => args.concurrency = value().parse().expect("--concurrency N"),
            _ => {}
        }
    }
    args
}

async fn run(label: &str, url: &str, args: &Args) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sandbox = sandbox::start(
        sandbox::SandboxConfig {
            products: 200,
            rate_limit: 100,
            ..sandbox::SandboxConfig::default()
        },
        listener,
    )
    .await?;
    let mut settings = sandbox.env();
    settings.push(("SUPPLYHUB_DATABASE_URL".to_owned(), url.to_owned()));
    let config = Config::from_settings(&settings)?;
    let db = Db::connect(url).await?;
    db.migrate().await?;
    let supplier = Arc::new(haier::OpenPlatform::new(config.haier.clone().unwrap())?);
    let opts = SyncOptions {
        kind: RunKind::Full,
        product_codes: vec![],
        category: None,
        brand: None,
        prices: false,
        stock: false,
        counties: vec![],
    };
    Syncer::new(db.clone(), Arc::clone(&supplier), 8)
        .run(&opts, &NoProgress)
        .await?;

    // Plenty of stock for 20 SKUs in one county, so every checkout succeeds.
    let http = reqwest::Client::new();
    let catalog: serde_json::Value = http
        .get(format!("{}/_sandbox/catalog", sandbox.base_url()))
        .send()
        .await?
        .json()
        .await?;
    let skus: Vec<String> = catalog["products"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["isSales"] == "1")
        .take(20)
        .map(|p| p["productCode"].as_str().unwrap().to_owned())
        .collect();
    for sku in &skus {
        http.post(format!("{}/_sandbox/stock", sandbox.base_url()))
            .json(&json!({"productCode": sku, "countyCode": "320106", "warehouses": [{"secCode": "NJ01", "stock": 1_000_000, "warehouseGrade": "0"}]}))
            .send().await?.error_for_status()?;
    }

    let mut state = AppState::new(db.clone());
    state.orders = OrderService::new(
        db.clone(),
        Arc::clone(&state.resolver),
        LiveSupplier::fixed(SupplierClients {
            open_platform: Some(supplier),
            ..SupplierClients::default()
        }),
        config.orders.clone(),
    );
    let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", app_listener.local_addr()?);
    // Served as `supplyhub serve` serves it: with its limits and timeouts.
    let http_config = state.http;
    tokio::spawn(supplyhub::http::serve(
        app_listener,
        router(state),
        http_config,
        std::future::pending(),
    ));

    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(0..args.orders)
        .map(|i| {
            let (http, base, sku) = (http.clone(), base.clone(), skus[i % skus.len()].clone());
            async move {
                let body = json!({
                    "order_number": format!("B{i:06}"),
                    "lines": [{"sku": sku, "quantity": 1, "retail_price": "1999.00"}],
                    "consignee": {"name": "王五", "mobile": "13700003333"},
                    "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "detail": "湖南路1号"},
                });
                let t = Instant::now();
                let resp = http.post(format!("{base}/api/v1/orders")).json(&body).send().await.unwrap();
                assert_eq!(resp.status().as_u16(), 201, "{}", resp.text().await.unwrap_or_default());
                t.elapsed()
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "{label:<10} {:>6} checkouts  {:>8.1} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        args.orders,
        args.orders as f64 / secs,
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    db.close().await;
    sandbox.shutdown().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args();
    println!(
        "create → hold over HTTP, {} in flight, 20 SKUs, one county",
        args.concurrency
    );
    let args = &args;
    common::on_both_backends("supplyhub_bench", |label, url| async move {
        run(label, &url, args).await
    })
    .await
}
