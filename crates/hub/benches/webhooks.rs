//! Webhook ingest benchmark: deliveries per second from `POST /webhooks/{system_id}` to
//! the answer (headers read, signature verified on the raw body against the system's
//! secrets, event stored raw with its processing job in one transaction), with p50 and
//! p99 latency, at 1, 16 and 64 concurrent senders, on SQLite and on PostgreSQL.
//!
//! ```sh
//! cargo bench -p supplyhub --bench webhooks                  # SQLite, then PostgreSQL if reachable
//! cargo bench -p supplyhub --bench webhooks -- --events 5000 --concurrency 1,16,64
//! ```
//!
//! Every delivery is a distinct message (a new `webhook-id`), signed before the clock
//! starts, with a canonical POS sale as body (about 300 bytes). No worker runs: only
//! the ingest is measured. PostgreSQL is `SUPPLYHUB_BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, where a scratch database is created
//! and dropped).

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use supplyhub::http::{AppState, router};
use supplyhub::store::Db;
use supplyhub::webhooks::signature::{WebhookSecret, sign};

mod common;
use common::percentile;

struct Args {
    events: usize,
    concurrency: Vec<usize>,
}

fn parse_args() -> Args {
    let mut args = Args {
        events: 3000,
        concurrency: vec![1, 16, 64],
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--events" => args.events = value().parse().expect("--events N"),
            "--concurrency" => {
                args.concurrency = value()
                    .split(',')
                    .map(|c| c.parse().expect("--concurrency N,N,…"))
                    .collect();
            }
            _ => {}
        }
    }
    args
}

async fn run(label: &str, url: &str, args: &Args) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    db.migrate().await?;
    let state = AppState::new(db.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let http_config = state.http;
    tokio::spawn(supplyhub::http::serve(
        listener,
        router(state),
        http_config,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let system: serde_json::Value = http
        .post(format!("{base}/api/v1/systems"))
        .json(&json!({"name": "bench-pos", "kind": "pos", "status": "active"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let system_id = system["id"].as_str().unwrap().to_owned();
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/systems/{system_id}/webhook-secrets"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let secret = WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap();
    let url = format!("{base}/webhooks/{system_id}");

    for &concurrency in &args.concurrency {
        let ts = jiff::Timestamp::now().as_second();
        let deliveries: Vec<_> = (0..args.events)
            .map(|i| {
                let id = format!("msg_c{concurrency}_{i:07}");
                let body = json!({
                    "external_id": format!("S-{concurrency}-{i}"), "kind": "sale",
                    "occurred_at": "2026-12-01T08:00:00Z", "store": "Laoshan",
                    "lines": [{"sku": "K-100", "name": "Kettle", "quantity": 2, "unit_price": "10.00"}],
                    "total": "20.00"
                })
                .to_string();
                let signed = sign(&[&secret], &id, ts, body.as_bytes());
                (id, signed.signature, body)
            })
            .collect();
        let started = Instant::now();
        let mut latencies: Vec<Duration> = futures::stream::iter(deliveries)
            .map(|(id, signature, body)| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let t = Instant::now();
                    let resp = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("webhook-id", id)
                        .header("webhook-timestamp", ts.to_string())
                        .header("webhook-signature", signature)
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(
                        resp.status().as_u16(),
                        202,
                        "{}",
                        resp.text().await.unwrap_or_default()
                    );
                    t.elapsed()
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let secs = started.elapsed().as_secs_f64();
        latencies.sort();
        println!(
            "{label:<10} {concurrency:>3} senders {:>6} events  {:>8.1} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
            args.events,
            args.events as f64 / secs,
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3,
        );
    }
    db.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args();
    println!("webhook ingest over HTTP: verified, stored raw with its job, answered 202");
    let args = &args;
    common::on_both_backends("supplyhub_bench_webhooks", |label, url| async move {
        run(label, &url, args).await
    })
    .await
}
