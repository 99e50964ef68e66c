//! Metrics and health: `/metrics` parses with the Prometheus client's own parser and its
//! counters move when work happens; `/healthz` is liveness; `/readyz` follows the
//! database, its migrations and shutdown.

use std::collections::BTreeMap;

use serde_json::Value;
use supplyhub::store::Db;

use crate::helpers::{TestApp, TestDb, TestSandbox, catalog_only, run_python};

/// Parses the text format with `prometheus_client.parser` (the reference client's parser):
/// every sample as `name{label="value",…}` (labels sorted) → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let code = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let out = run_python(code, text.as_bytes());
    let parsed: BTreeMap<String, Value> = serde_json::from_str(&out).expect("parser output");
    parsed
        .into_iter()
        .map(|(k, v)| (k, v.as_f64().expect("a number")))
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> (String, BTreeMap<String, f64>) {
    let r = app.get_raw("/metrics", Some("metrics-admin-token")).await;
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    (text.clone(), parse(&text))
}

/// The counters of a sync, of HTTP requests and of jobs move with the work; the
/// database gauges show the queue and its oldest due job.
async fn counters_move(db: &Db) {
    let sandbox = TestSandbox::start(12, 5).await;
    let config = sandbox.config(&[]);
    let app = TestApp::spawn(db, Some("metrics-admin-token")).await;
    let (_, before) = scrape(&app).await;

    let (syncer, log) = sandbox.logged_syncer(db, &config);
    let run = syncer
        .run(&catalog_only(true), &supplyhub::sync::NoProgress)
        .await
        .unwrap();
    log.flush().await;
    for _ in 0..3 {
        let (status, _) = app.get("/api/v1/products?limit=2").await;
        assert_eq!(status, 200);
    }
    let mut tx = db.begin().await.unwrap();
    let due = supplyhub::types::UtcTime::now();
    let kind = format!("metrics_probe_{}", uuid::Uuid::now_v7().simple());
    supplyhub::store::jobs::enqueue(&mut tx, &kind, &serde_json::json!({}), &kind, 3, due)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (text, after) = scrape(&app).await;
    let delta = |key: &str| value(&after, key) - value(&before, key);
    assert!(
        delta(r#"supplyhub_sync_runs_total{kind="full",status="success"}"#) >= 1.0,
        "{text}"
    );
    assert_eq!(run.status.as_str(), "success");
    let h1 = r#"supplyhub_supplier_calls_total{endpoint="h1_procurable",outcome="ok",system="haier_open_platform"}"#;
    assert!(delta(h1) >= 1.0, "{text}");
    let histogram = r#"supplyhub_supplier_call_duration_seconds_count{endpoint="h1_procurable",system="haier_open_platform"}"#;
    assert!(delta(histogram) >= 1.0, "{text}");
    let products =
        r#"supplyhub_http_requests_total{method="GET",route="/api/v1/products",status="200"}"#;
    assert!(delta(products) >= 3.0, "{text}");
    // Refused before routing: counted, by no route.
    let r = app
        .get_raw("/no/such/route", Some("metrics-admin-token"))
        .await;
    assert_eq!(r.status(), 404);
    let (_, later) = scrape(&app).await;
    let unmatched = r#"supplyhub_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert!(value(&later, unmatched) - value(&after, unmatched) >= 1.0);
    // The gauges read from this database at the scrape.
    let queued = format!(r#"supplyhub_jobs{{kind="{kind}",status="queued"}}"#);
    assert_eq!(value(&after, &queued), 1.0, "{text}");
    let age = format!(r#"supplyhub_job_oldest_due_age_seconds{{kind="{kind}"}}"#);
    assert!(after.contains_key(&age), "{text}");
    assert_eq!(value(&after, "supplyhub_database_up{}"), 1.0);
}

/// `/metrics` needs an operator's credentials when the hub has any.
async fn metrics_need_an_operator(db: &Db) {
    let app = TestApp::spawn(db, Some("metrics-admin-token")).await;
    let r = app.get_raw("/metrics", None).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
}

/// Liveness stays up when the database is gone; readiness follows the database, the
/// migrations and shutdown.
async fn health_and_readiness(db: &Db) {
    let mut state = supplyhub::http::AppState::new(db.clone());
    let shutdown = state.shutdown.clone();
    state.admin_token = None;
    let app = TestApp::spawn_state(state, None).await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["migrations"], "current");

    // A migration the database lacks: not ready.
    let mut tx = db.begin().await.unwrap();
    let newest: i64 = match &mut tx {
        supplyhub::store::Tx::Sqlite(t) => {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(&mut **t)
                .await
                .unwrap()
        }
        supplyhub::store::Tx::Postgres(t) => {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(&mut **t)
                .await
                .unwrap()
        }
    };
    let hide = format!("UPDATE _sqlx_migrations SET success = false WHERE version = {newest}");
    match &mut tx {
        supplyhub::store::Tx::Sqlite(t) => {
            sqlx::query(sqlx::AssertSqlSafe(hide.clone()))
                .execute(&mut **t)
                .await
                .unwrap();
        }
        supplyhub::store::Tx::Postgres(t) => {
            sqlx::query(sqlx::AssertSqlSafe(hide.clone()))
                .execute(&mut **t)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    let (status, body) = app.get("/readyz").await;
    assert_eq!(
        (status, body["migrations"].as_str()),
        (503, Some("pending")),
        "{body}"
    );
    assert_eq!(body["pending_migrations"], 1);
    let show = format!("UPDATE _sqlx_migrations SET success = true WHERE version = {newest}");
    let mut tx = db.begin().await.unwrap();
    match &mut tx {
        supplyhub::store::Tx::Sqlite(t) => {
            sqlx::query(sqlx::AssertSqlSafe(show.clone()))
                .execute(&mut **t)
                .await
                .unwrap();
        }
        supplyhub::store::Tx::Postgres(t) => {
            sqlx::query(sqlx::AssertSqlSafe(show.clone()))
                .execute(&mut **t)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    assert_eq!(app.get("/readyz").await.0, 200);

    // Shutting down: not ready, still alive.
    shutdown.cancel();
    let (status, body) = app.get("/readyz").await;
    assert_eq!(
        (status, body["shutting_down"].as_bool()),
        (503, Some(true)),
        "{body}"
    );
    assert_eq!(app.get("/healthz").await.0, 200);
}

/// With its database closed, the hub is alive but not ready, and `/metrics` still
/// answers, saying the database is down.
#[tokio::test]
async fn a_closed_database_leaves_the_hub_alive_but_not_ready() {
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(&t.db, Some("metrics-admin-token")).await;
    t.db.close().await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get("/readyz").await;
    assert_eq!(
        (status, body["database"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    let (_, samples) = scrape(&app).await;
    assert_eq!(value(&samples, "supplyhub_database_up{}"), 0.0);
    t.cleanup().await;
}

crate::on_both_backends! {
    counters_move_when_work_happens => counters_move;
    metrics_need_an_operator_role => metrics_need_an_operator;
    health_and_readiness_follow_the_database_and_shutdown => health_and_readiness;
}

/// The sample alert rules and dashboard in `deploy/` name only metrics the hub exports
/// (the table of `crates/hub/src/metrics.rs`), and the dashboard is valid JSON.
#[test]
fn the_deploy_samples_name_only_exported_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let names = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("supplyhub_"))
            .map(|w| {
                ["_bucket", "_count", "_sum"]
                    .iter()
                    .fold(w.to_owned(), |w, s| {
                        w.strip_suffix(s).map_or(w.clone(), str::to_owned)
                    })
            })
            .collect()
    };
    let exported = names(&read("crates/hub/src/metrics.rs"));
    let dashboard = read("deploy/grafana-dashboard.json");
    let parsed: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()));
    for (file, text) in [
        ("deploy/alerts.yml", read("deploy/alerts.yml")),
        ("deploy/grafana-dashboard.json", dashboard),
    ] {
        let used = names(&text);
        assert!(!used.is_empty(), "{file} names no metric");
        let unknown: Vec<&String> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the hub does not export: {unknown:?}"
        );
    }
}
