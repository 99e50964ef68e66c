//! Operating the hub: configuration from the environment, start-up and shutdown of the
//! binary, retention of history, indexes, and paging of an order's calls.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use supplyhub::config::{Config, RetentionConfig};
use supplyhub::status::RunStatus;
use supplyhub::store::Db;
use supplyhub::store::callbacks::{SupplierCallback, SupplierEvent, insert_callback, record_event};
use supplyhub::store::calls::{ExternalCall, insert_calls};
use supplyhub::store::jobs::{attempts_of_job, enqueue, get_job, jobs_of_order, record_attempt};
use supplyhub::store::orders::{Order, insert_order};
use supplyhub::store::sync_runs::{
    RunCounts, SyncFailure, finish_run, get_run, insert_failure, insert_run, mark_abandoned_runs,
    mark_run_processing, touch_run,
};
use supplyhub::sync::NoProgress;
use supplyhub::types::{Money, UtcTime};

use crate::helpers::{TestApp, TestDb, TestSandbox, catalog_only};

const DAY: i64 = 86_400_000_000;
const COUNTY: &str = "320106";

fn ago(now: UtcTime, days: i64) -> UtcTime {
    UtcTime::from_micros(now.as_micros() - days * DAY).unwrap()
}

/// Runs one statement with its binds on whichever backend `db` is.
macro_rules! exec {
    ($db:expr, $sql:expr $(, $bind:expr)*) => {
        match $db {
            Db::Sqlite(p) => sqlx::query($sql)$(.bind($bind))*.execute(p).await.map(|r| r.rows_affected()),
            Db::Postgres(p) => sqlx::query($sql)$(.bind($bind))*.execute(p).await.map(|r| r.rows_affected()),
        }
        .unwrap()
    };
}

macro_rules! count {
    ($db:expr, $sql:expr $(, $bind:expr)*) => {
        match $db {
            Db::Sqlite(p) => sqlx::query_scalar::<_, i64>($sql)$(.bind($bind))*.fetch_one(p).await,
            Db::Postgres(p) => sqlx::query_scalar::<_, i64>($sql)$(.bind($bind))*.fetch_one(p).await,
        }
        .unwrap()
    };
}

fn order(id: &str, status: &str, updated_at: UtcTime) -> Order {
    Order {
        id: id.to_owned(),
        order_number: format!("N-{id}"),
        so_id: format!("SO-{id}"),
        request_hash: "h".to_owned(),
        status: status.parse().expect("an order status"),
        supplier_status: supplyhub::status::SupplierStatus::None,
        retail_order_no: None,
        supplier_message: None,
        consignee_name: "张三".to_owned(),
        consignee_mobile: "13900001111".to_owned(),
        province: "江苏省".to_owned(),
        city: "南京市".to_owned(),
        district: "鼓楼区".to_owned(),
        town: None,
        detail_address: "北京西路1号".to_owned(),
        county_code: COUNTY.to_owned(),
        distribution_time: None,
        install_time: None,
        government_order: false,
        remark: None,
        total_qty: 1,
        total_amount: Money::new(rust_decimal::Decimal::ONE),
        hold_expires_at: updated_at,
        created_at: updated_at,
        updated_at,
        paid_at: None,
        cancelled_at: None,
        created_by: None,
    }
}

async fn insert_orders(db: &Db, orders: &[Order]) {
    let mut tx = db.begin().await.unwrap();
    for o in orders {
        insert_order(&mut tx, o).await.unwrap();
    }
    tx.commit().await.unwrap();
}

// ---------------------------------------------------------------- calls of an order

fn call(order_id: &str, n: usize) -> ExternalCall {
    ExternalCall {
        system: "ylh".to_owned(),
        endpoint: format!("e{n:03}"),
        order_id: Some(order_id.to_owned()),
        job_id: None,
        sync_run_id: None,
        attempt: None,
        request: None,
        response: None,
        status: Some(200),
        outcome: "ok".to_owned(),
        latency_ms: 1,
        created_at: UtcTime::now(),
    }
}

async fn an_orders_calls_are_paged(db: &Db) {
    let now = UtcTime::now();
    insert_orders(
        db,
        &[order("ord_a", "paid", now), order("ord_b", "paid", now)],
    )
    .await;
    let mut calls: Vec<ExternalCall> = (0..120).map(|n| call("ord_a", n)).collect();
    calls.insert(60, call("ord_b", 999));
    insert_calls(db, &calls).await.unwrap();
    let app = TestApp::spawn(db, None).await;

    // The order view holds the first page and the cursor of the next.
    let (status, detail) = app.get("/api/v1/orders/ord_a").await;
    assert_eq!(status, 200, "{detail}");
    let endpoints = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["endpoint"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = endpoints(&detail["calls"]);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], "e000");
    assert_eq!(first[49], "e049");
    let mut next = detail["calls_next"].as_str().unwrap().to_owned();

    // The rest, page by page, oldest first, only this order's.
    let mut rest = Vec::new();
    loop {
        let (status, page) = app
            .get(&format!("/api/v1/orders/ord_a/calls?limit=30&after={next}"))
            .await;
        assert_eq!(status, 200, "{page}");
        rest.extend(endpoints(&page["items"]));
        match page["next"].as_str() {
            Some(n) => next = n.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = (50..120).map(|n| format!("e{n:03}")).collect();
    assert_eq!(rest, expected);

    let (status, page) = app.get("/api/v1/orders/ord_a/calls?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(endpoints(&page["items"]), ["e000", "e001"]);
    let (status, page) = app.get("/api/v1/orders/ord_b/calls").await;
    assert_eq!(
        (status, endpoints(&page["items"])),
        (200, vec!["e999".to_owned()])
    );
    assert!(page["next"].is_null());

    let (status, body) = app.get("/api/v1/orders/ord_x/calls").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order_not_found")),
        "{body}"
    );
    let (status, body) = app.get("/api/v1/orders/ord_a/calls?after=abc").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("after"), "{body}");
}

// ---------------------------------------------------------------- retention

async fn old_history_is_pruned_but_live_orders_and_jobs_keep_theirs(db: &Db) {
    let now = UtcTime::now();
    let old = ago(now, 100);
    // Done and untouched for 100 days; a dead job awaiting redrive; changed today; held.
    insert_orders(
        db,
        &[
            order("ord_done", "paid", old),
            order("ord_dead_job", "paid", old),
            order("ord_recent", "paid", now),
            order("ord_held", "held", old),
        ],
    )
    .await;

    // Jobs: a done one per order but ord_dead_job's, which is dead; each with an old
    // attempt. ord_recent's job finished today.
    let mut tx = db.begin().await.unwrap();
    for o in ["ord_done", "ord_dead_job", "ord_recent"] {
        let payload = json!({"order_id": o});
        enqueue(
            &mut tx,
            "push_order",
            &payload,
            &format!("push_order:{o}"),
            8,
            old,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    for (o, status, at) in [
        ("ord_done", "done", old),
        ("ord_dead_job", "dead", old),
        ("ord_recent", "done", now),
    ] {
        let job = jobs_of_order(db, o).await.unwrap().remove(0);
        exec!(
            db,
            "UPDATE jobs SET status = $2, updated_at = $3 WHERE id = $1",
            &job.id,
            status,
            at
        );
        let mut tx = db.begin().await.unwrap();
        record_attempt(&mut tx, &job.id, 1, "done", None, old)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        exec!(
            db,
            "UPDATE job_attempts SET finished_at = $2 WHERE job_id = $1",
            &job.id,
            old
        );
    }

    // Callbacks: old and handled, old and never handled, recent.
    for (id, at, outcome) in [
        ("cb_old", old, "applied"),
        ("cb_unhandled", old, "received"),
        ("cb_new", now, "applied"),
    ] {
        insert_callback(
            db,
            &SupplierCallback {
                id: id.to_owned(),
                received_at: at,
                content_type: None,
                body: "{}".to_owned(),
                method: None,
                outcome: outcome.to_owned(),
                clock_skew_secs: None,
            },
        )
        .await
        .unwrap();
    }
    // Events: an old one per order, and a recent one of ord_done.
    let mut tx = db.begin().await.unwrap();
    for (key, o, at) in [
        ("e_done_old", "ord_done", old),
        ("e_dead_job_old", "ord_dead_job", old),
        ("e_recent_old", "ord_recent", old),
        ("e_held_old", "ord_held", old),
        ("e_done_new", "ord_done", now),
    ] {
        let e = SupplierEvent {
            dedupe_key: key.to_owned(),
            order_id: o.to_owned(),
            method: "confirm".to_owned(),
            state: 1,
            callback_id: "cb_old".to_owned(),
            applied_at: at,
        };
        assert!(record_event(&mut tx, &e).await.unwrap());
    }
    tx.commit().await.unwrap();

    // Inventory log: old without an order, old of ord_done, old of ord_dead_job, recent.
    for (o, at) in [
        (None, old),
        (Some("ord_done"), old),
        (Some("ord_dead_job"), old),
        (None, now),
    ] {
        exec!(
            db,
            "INSERT INTO inventory_log (product_code, county_code, change, quantity, \
             capacity_after, held_after, order_id, reason, created_at) \
             VALUES ('P1', '', 'adjust', 1, 1, 0, $1, NULL, $2)",
            o,
            at
        );
    }

    // Sync runs: one ended 100 days ago, one ended today, one still processing; each
    // with failures recorded 100 days ago.
    for id in ["run_old", "run_new", "run_open"] {
        insert_run(db, id, "full", &json!({})).await.unwrap();
        mark_run_processing(db, id, old).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        for item in ["A", "B"] {
            let f = SyncFailure {
                item: item.to_owned(),
                stage: "stock".to_owned(),
                error_kind: "timeout".to_owned(),
                detail: "timed out".to_owned(),
                occurred_at: old,
            };
            insert_failure(&mut tx, id, &f).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let counts = RunCounts::default();
    finish_run(db, "run_old", RunStatus::Partial, &counts, old, 1, None)
        .await
        .unwrap();
    finish_run(db, "run_new", RunStatus::Partial, &counts, now, 1, None)
        .await
        .unwrap();

    // Inbound webhook events: only those processed long ago go.
    let ring = supplyhub::systems::crypto::KeyRing::ephemeral();
    let pos = supplyhub::systems::http::register_supplier(
        db,
        &ring,
        "events",
        &[
            ("SUPPLYHUB_HAIER__BASE_URL", "http://127.0.0.1:9"),
            ("SUPPLYHUB_HAIER__CLIENT_ID", "c"),
            ("SUPPLYHUB_HAIER__CLIENT_SECRET", "s"),
            ("SUPPLYHUB_HAIER__CUSTOMER_CODE", "1"),
            ("SUPPLYHUB_HAIER__PASSWORD", "p"),
            ("SUPPLYHUB_HAIER__SELLER_PASSWORD", "sp"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
    .await
    .unwrap();
    for (id, status, at, processed) in [
        ("whe_old_done", "processed", old, Some(old)),
        ("whe_old_dead", "dead", old, None),
        ("whe_old_received", "received", old, None),
        ("whe_new_done", "processed", now, Some(now)),
    ] {
        const SQL: &str = "INSERT INTO webhook_events (id, system_id, webhook_id, \
            webhook_timestamp, webhook_signature, body, received_at, status, attempts, \
            processed_at, replays, updated_at) VALUES ($1, $2, $1, 0, 'v1,x', $3, $4, $5, 1, $6, 0, $4)";
        let body = b"{}".to_vec();
        match db {
            Db::Sqlite(p) => sqlx::query(SQL)
                .bind(id)
                .bind(&pos)
                .bind(body)
                .bind(at)
                .bind(status)
                .bind(processed)
                .execute(p)
                .await
                .map(|_| ()),
            Db::Postgres(p) => sqlx::query(SQL)
                .bind(id)
                .bind(&pos)
                .bind(body)
                .bind(at)
                .bind(status)
                .bind(processed)
                .execute(p)
                .await
                .map(|_| ()),
        }
        .unwrap();
    }

    let retention = RetentionConfig::default();
    let pruned = supplyhub::retention::prune_once(db, 30, &retention, now)
        .await
        .unwrap();
    assert_eq!(
        pruned,
        supplyhub::retention::Pruned {
            calls: 0,
            callbacks: 1,
            supplier_events: 1,
            inventory_log: 2,
            job_attempts: 1,
            sync_failures: 2,
            webhook_deliveries: 0,
            webhook_events: 1,
        }
    );
    let again = supplyhub::retention::prune_once(db, 30, &retention, now)
        .await
        .unwrap();
    assert_eq!(again.total(), 0, "{again:?}");

    let ids = |sql: &'static str| async move {
        let rows: Vec<String> = match db {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        }
        .unwrap();
        rows.into_iter().collect::<BTreeSet<String>>()
    };
    assert_eq!(
        ids("SELECT id FROM supplier_callbacks").await,
        BTreeSet::from(["cb_unhandled".to_owned(), "cb_new".to_owned()])
    );
    assert_eq!(
        ids("SELECT dedupe_key FROM supplier_events").await,
        ["e_dead_job_old", "e_recent_old", "e_held_old", "e_done_new"]
            .map(str::to_owned)
            .into()
    );
    assert_eq!(
        ids("SELECT COALESCE(order_id, '-') FROM inventory_log").await,
        ["ord_dead_job", "-"].map(str::to_owned).into()
    );
    assert_eq!(count!(db, "SELECT COUNT(*) FROM inventory_log"), 2);
    for (o, left) in [("ord_done", 0), ("ord_dead_job", 1), ("ord_recent", 1)] {
        let job = jobs_of_order(db, o).await.unwrap().remove(0);
        assert_eq!(
            attempts_of_job(db, &job.id).await.unwrap().len(),
            left,
            "{o}"
        );
    }
    assert_eq!(
        ids("SELECT run_id FROM sync_failures").await,
        ["run_new", "run_open"].map(str::to_owned).into()
    );
    assert_eq!(count!(db, "SELECT COUNT(*) FROM sync_failures"), 4);
    assert_eq!(
        ids("SELECT id FROM webhook_events").await,
        ["whe_old_dead", "whe_old_received", "whe_new_done"]
            .map(str::to_owned)
            .into()
    );

    // 0 days keeps everything.
    let keep = RetentionConfig {
        callbacks_days: 0,
        inventory_log_days: 0,
        job_attempts_days: 0,
        sync_failures_days: 0,
        webhook_deliveries_days: 0,
        webhook_events_days: 0,
    };
    let later = ago(now, -1000);
    let pruned = supplyhub::retention::prune_once(db, 0, &keep, later)
        .await
        .unwrap();
    assert_eq!(pruned.total(), 0);
}

// ---------------------------------------------------------------- abandoned runs

async fn runs_left_processing_by_a_dead_process_are_abandoned(db: &Db) {
    let now = UtcTime::now();
    let hour_ago = UtcTime::from_micros(now.as_micros() - 3_600_000_000).unwrap();
    for id in ["run_dead", "run_alive", "run_done", "run_pending"] {
        insert_run(db, id, "full", &json!({})).await.unwrap();
    }
    // Its process died an hour ago.
    mark_run_processing(db, "run_dead", hour_ago).await.unwrap();
    // Started an hour ago, and its process (another instance) still beats.
    mark_run_processing(db, "run_alive", hour_ago)
        .await
        .unwrap();
    touch_run(db, "run_alive", now).await.unwrap();
    mark_run_processing(db, "run_done", hour_ago).await.unwrap();
    finish_run(
        db,
        "run_done",
        RunStatus::Success,
        &RunCounts::default(),
        hour_ago,
        1,
        None,
    )
    .await
    .unwrap();

    let stale_before = UtcTime::from_micros(now.as_micros() - 300_000_000).unwrap();
    assert_eq!(
        mark_abandoned_runs(db, stale_before).await.unwrap(),
        ["run_dead"]
    );
    let dead = get_run(db, "run_dead").await.unwrap().unwrap();
    assert_eq!(
        (dead.status.as_str(), dead.error_summary.as_deref()),
        ("failed", Some("abandoned"))
    );
    assert!(dead.finished_at.is_some());
    for (id, status) in [
        ("run_alive", "processing"),
        ("run_done", "success"),
        ("run_pending", "pending"),
    ] {
        assert_eq!(
            get_run(db, id).await.unwrap().unwrap().status,
            status,
            "{id}"
        );
    }
    assert!(
        mark_abandoned_runs(db, stale_before)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------- indexes

enum Param {
    Text(&'static str),
    Time,
}

/// The lookups the store runs, each of which must be answered through an index.
const INDEXED_QUERIES: &[(&str, &[Param])] = &[
    (
        "SELECT id FROM orders WHERE retail_order_no = $1 ORDER BY id LIMIT 2",
        &[Param::Text("R1")],
    ),
    (
        "SELECT dedupe_key FROM supplier_events WHERE order_id = $1 ORDER BY applied_at",
        &[Param::Text("ord_a")],
    ),
    (
        "SELECT product_code FROM stock_levels WHERE county_code = $1",
        &[Param::Text(COUNTY)],
    ),
    (
        "SELECT id FROM jobs WHERE order_id = $1 ORDER BY id",
        &[Param::Text("ord_a")],
    ),
    (
        "SELECT code FROM products WHERE source = $1",
        &[Param::Text("local")],
    ),
    (
        "SELECT id FROM external_calls WHERE order_id = $1 AND id > 0 ORDER BY id LIMIT 10",
        &[Param::Text("ord_a")],
    ),
    (
        "SELECT id FROM supplier_callbacks WHERE received_at < $1 ORDER BY received_at LIMIT 10",
        &[Param::Time],
    ),
    (
        "SELECT dedupe_key FROM supplier_events WHERE applied_at < $1 ORDER BY applied_at LIMIT 10",
        &[Param::Time],
    ),
    (
        "SELECT id FROM inventory_log WHERE created_at < $1 ORDER BY created_at LIMIT 10",
        &[Param::Time],
    ),
    (
        "SELECT id FROM job_attempts WHERE finished_at < $1 ORDER BY finished_at LIMIT 10",
        &[Param::Time],
    ),
    (
        "SELECT id FROM sync_failures WHERE occurred_at < $1 ORDER BY occurred_at LIMIT 10",
        &[Param::Time],
    ),
    (
        "SELECT id FROM sync_runs WHERE status = $1",
        &[Param::Text("processing")],
    ),
];

async fn the_stores_lookups_use_indexes(db: &Db) {
    for (sql, params) in INDEXED_QUERIES {
        let plan: Vec<String> = match db {
            Db::Sqlite(p) => {
                let text = format!("EXPLAIN QUERY PLAN {sql}");
                let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(text));
                for param in *params {
                    q = match param {
                        Param::Text(s) => q.bind(*s),
                        Param::Time => q.bind(UtcTime::now()),
                    };
                }
                q.fetch_all(p)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.3)
                    .collect()
            }
            Db::Postgres(p) => {
                let mut conn = p.acquire().await.unwrap();
                // Without a sequential scan to fall back on, a plan shows whether an
                // index can answer the query at all.
                sqlx::query("SET enable_seqscan = off")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                let text = format!("EXPLAIN {sql}");
                let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(text));
                for param in *params {
                    q = match param {
                        Param::Text(s) => q.bind(*s),
                        Param::Time => q.bind(UtcTime::now()),
                    };
                }
                let plan = q.fetch_all(&mut *conn).await.unwrap();
                sqlx::query("RESET enable_seqscan")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                plan
            }
        };
        let scans_a_table = plan.iter().any(|line| {
            (line.starts_with("SCAN ") && !line.contains("INDEX")) || line.contains("Seq Scan")
        });
        assert!(!scans_a_table, "{sql}: {plan:#?}");
    }
}

crate::on_both_backends! {
    order_calls_paged => an_orders_calls_are_paged;
    retention => old_history_is_pruned_but_live_orders_and_jobs_keep_theirs;
    abandoned_runs => runs_left_processing_by_a_dead_process_are_abandoned;
    indexes => the_stores_lookups_use_indexes;
}

/// The twin migrations create the same indexes.
#[tokio::test]
async fn migrations_agree_on_indexes() {
    let lite = TestDb::sqlite().await;
    let pg = TestDb::postgres().await;
    let mut sqlite_idx = BTreeSet::new();
    let mut pg_idx = BTreeSet::new();
    if let Db::Sqlite(pool) = &lite.db {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' \
             AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        sqlite_idx.extend(rows);
    }
    if let Db::Postgres(pool) = &pg.db {
        // Primary keys and unique constraints are indexes of their own on PostgreSQL
        // (`…_pkey`, `…_key`) and automatic ones on SQLite.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT tablename::text, indexname::text FROM pg_indexes WHERE schemaname = 'public' \
             AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' \
             AND tablename NOT LIKE '\\_sqlx%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        pg_idx.extend(rows);
    }
    assert!(
        sqlite_idx.contains(&("orders".to_owned(), "orders_retail_order_no".to_owned())),
        "{sqlite_idx:?}"
    );
    assert_eq!(sqlite_idx, pg_idx);
    lite.cleanup().await;
    pg.cleanup().await;
}

// ---------------------------------------------------------------- the binary

fn supplyhub() -> Command {
    crate::helpers::supplyhub_command()
}

#[test]
fn numeric_secrets_start_the_hub_and_no_error_shows_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    for secret in ["918273645", "0918273645", "s3cr3t-Pa55word"] {
        let secrets = [
            ("SUPPLYHUB_ADMIN_TOKEN", secret),
            ("SUPPLYHUB_HAIER_CALLBACK__APP_KEY", "918273645"),
            ("SUPPLYHUB_HAIER_CALLBACK__SECRET", secret),
        ];
        let out = supplyhub()
            .arg("migrate")
            .env("SUPPLYHUB_DATABASE_URL", &url)
            .envs(secrets)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{secret}: {stderr}");
        // A bad setting next to the secrets: the error names it, and shows no secret.
        for (name, value, key) in [
            ("SUPPLYHUB_LISTEN", "nowhere", "listen"),
            ("SUPPLYHUB_DATABASE_URL", "mysql://x", "database_url"),
            ("SUPPLYHUB_LISTEN", secret, "listen"),
        ] {
            let out = supplyhub()
                .arg("migrate")
                .env("SUPPLYHUB_DATABASE_URL", &url)
                .envs(secrets)
                .env(name, value)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(!out.status.success(), "{stderr}");
            assert!(stderr.contains(key), "{stderr}");
            assert!(
                !stderr.contains(secret) && !stdout.contains(secret),
                "{stderr}"
            );
        }
    }
}

#[test]
fn an_unlimited_sandboxs_printed_environment_is_accepted_by_the_hub() {
    for rate in ["0", "7"] {
        let out = supplyhub()
            .args([
                "sandbox",
                "--rate-limit",
                rate,
                "--print-env",
                "--listen",
                "127.0.0.1:7781",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        let settings: Vec<(String, String)> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let config = Config::from_settings(&settings).unwrap();
        let haier = config.haier.clone().unwrap();
        let expected = if rate == "0" { 100 } else { 7 };
        assert_eq!(
            haier.rate_limit, expected,
            "the hub's own pace when the sandbox has none"
        );
        haier::OpenPlatform::builder(haier).build().unwrap();
        haier::Ylh::new(config.ylh.clone().unwrap()).unwrap();
    }
}

/// Whether the sandbox holds a create call it has not answered yet.
async fn create_in_flight(sb: &TestSandbox) -> bool {
    let stats = sb.stats().await;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    n(&stats["calls"]["ylh_create_order"])
        > n(&stats["orders_received"]) + n(&stats["duplicates_refused"]) + n(&stats["unauthorized"])
}

async fn sigterm_releases_leased_work_and_exits_cleanly(t: &TestDb) {
    let sb = TestSandbox::start_with(sandbox::SandboxConfig {
        products: 20,
        seed: 23,
        rate_limit: 5000,
        hang: Duration::from_secs(600),
        ..sandbox::SandboxConfig::default()
    })
    .await;
    let mut settings = sb.sandbox.env();
    settings.extend(
        [
            ("SUPPLYHUB_DATABASE_URL", t.url.as_str()),
            ("SUPPLYHUB_ORDERS__LEASE_SECS", "120"),
            ("SUPPLYHUB_SHUTDOWN_GRACE_SECS", "2"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let config = Config::from_settings(&settings).unwrap();
    sb.syncer(&t.db, &config)
        .run(&catalog_only(false), &NoProgress)
        .await
        .unwrap();
    let sku = sb.saleable_with_stock(COUNTY, 10).await;
    // A run whose process died an hour ago: the next start ends it.
    let hour_ago = UtcTime::from_micros(UtcTime::now().as_micros() - 3_600_000_000).unwrap();
    insert_run(&t.db, "run_dead", "full", &json!({}))
        .await
        .unwrap();
    mark_run_processing(&t.db, "run_dead", hour_ago)
        .await
        .unwrap();
    // The push hangs at the supplier far longer than the grace period.
    sb.post(
        "/_sandbox/faults/next",
        json!({"fault": "hang", "endpoint": "ylh_create_order", "count": 1}),
    )
    .await;

    let port = crate::helpers::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = supplyhub()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .envs(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let bound = Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < bound, "the hub never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dead = get_run(&t.db, "run_dead").await.unwrap().unwrap();
    assert_eq!(
        (dead.status.as_str(), dead.error_summary.as_deref()),
        ("failed", Some("abandoned"))
    );

    let body = json!({
        "order_number": "T1",
        "lines": [{"sku": sku, "quantity": 1, "retail_price": "1999.00", "discount_amount": "0"}],
        "consignee": {"name": "张三", "mobile": "13900001111"},
        "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "detail": "北京西路1号"},
    });
    let created: Value = http
        .post(format!("{base}/api/v1/orders"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let paid = http
        .post(format!("{base}/api/v1/orders/{id}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 200);
    // Wait until the worker holds the job and its create hangs at the supplier.
    while !create_in_flight(&sb).await {
        assert!(
            Instant::now() < bound,
            "the push never reached the supplier"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let job = jobs_of_order(&t.db, &id).await.unwrap().remove(0);
    assert_eq!(job.status, "running");
    assert!(job.lease_owner.is_some());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < bound, "the hub did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");

    // The leased job went back to the queue, due now, with the attempt recorded.
    let job = get_job(&t.db, &job.id).await.unwrap().unwrap();
    assert_eq!(job.status, "queued");
    assert_eq!(job.lease_owner, None);
    assert!(job.run_at <= UtcTime::now());
    let attempts = attempts_of_job(&t.db, &job.id).await.unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.outcome.as_str())
            .collect::<Vec<_>>(),
        ["released"]
    );
    sb.sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_leased_work_on_sqlite() {
    let t = TestDb::sqlite().await;
    sigterm_releases_leased_work_and_exits_cleanly(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_leased_work_on_postgres() {
    let t = TestDb::postgres().await;
    sigterm_releases_leased_work_and_exits_cleanly(&t).await;
    t.cleanup().await;
}

async fn sigterm_ends_a_sync_run_as_interrupted(t: &TestDb) {
    let sb = TestSandbox::start_with(sandbox::SandboxConfig {
        products: 20,
        seed: 29,
        rate_limit: 5000,
        hang: Duration::from_secs(600),
        ..sandbox::SandboxConfig::default()
    })
    .await;
    let mut settings = sb.sandbox.env();
    settings.push(("SUPPLYHUB_DATABASE_URL".to_owned(), t.url.clone()));
    // The listing hangs at the supplier: the run is stuck in its first call.
    sb.post(
        "/_sandbox/faults/next",
        json!({"fault": "hang", "endpoint": "procurable_products", "count": 1}),
    )
    .await;
    let mut child = supplyhub()
        .arg("sync")
        .envs(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let bound = Instant::now() + Duration::from_secs(60);
    let run_id = loop {
        let stats = sb.stats().await;
        let runs = match Db::connect(&t.url).await {
            Ok(db) => {
                let runs = supplyhub::store::sync_runs::list_runs(&db, None, 5)
                    .await
                    .unwrap_or_default();
                db.close().await;
                runs
            }
            Err(_) => Vec::new(),
        };
        if stats["calls"]["procurable_products"].as_u64().unwrap_or(0) >= 1
            && let Some(run) = runs.iter().find(|r| r.status == "processing")
        {
            break run.id.clone();
        }
        assert!(Instant::now() < bound, "the run never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < bound, "sync did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(1), "a failed run exits 1");
    let run = get_run(&t.db, &run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "failed");
    assert!(
        run.error_summary
            .as_deref()
            .unwrap_or("")
            .contains("interrupted by shutdown"),
        "{run:?}"
    );
    assert!(run.finished_at.is_some());
    sb.sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_sync_run_as_interrupted_on_sqlite() {
    let t = TestDb::sqlite().await;
    sigterm_ends_a_sync_run_as_interrupted(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_sync_run_as_interrupted_on_postgres() {
    let t = TestDb::postgres().await;
    sigterm_ends_a_sync_run_as_interrupted(&t).await;
    t.cleanup().await;
}

/// `supplyhub sync` reads through the active supplier system, as `serve` does: with the
/// configuration pointing nowhere, the run reads the sandbox the system names; without
/// the key that seals the system's secrets it fails, naming the system, rather than
/// falling back to the configuration.
async fn sync_reads_through_the_active_supplier_system(t: &TestDb) {
    let sb = TestSandbox::start(5, 43).await;
    let key = supplyhub::systems::crypto::generate_key_hex();
    let ring = supplyhub::systems::crypto::KeyRing::new(&key, &[]).unwrap();
    let system =
        supplyhub::systems::http::register_supplier(&t.db, &ring, "sandbox", &sb.sandbox.env())
            .await
            .unwrap();
    // A configured supplier that cannot be reached (port 9, discard).
    let nowhere = [
        ("SUPPLYHUB_HAIER__BASE_URL", "http://127.0.0.1:9"),
        ("SUPPLYHUB_HAIER__CLIENT_ID", "configured"),
        ("SUPPLYHUB_HAIER__CLIENT_SECRET", "configured-secret"),
        ("SUPPLYHUB_HAIER__CUSTOMER_CODE", "1"),
        ("SUPPLYHUB_HAIER__PASSWORD", "configured-password"),
        ("SUPPLYHUB_HAIER__SELLER_PASSWORD", "configured-seller"),
        ("SUPPLYHUB_HAIER__MAX_RETRIES", "0"),
    ];
    let sync = |key: Option<&str>| {
        let mut cmd = supplyhub();
        cmd.args(["sync", "--json", "--prices"])
            .envs(nowhere)
            .env("SUPPLYHUB_DATABASE_URL", &t.url)
            .env("RUST_LOG", "error");
        if let Some(k) = key {
            cmd.env("SUPPLYHUB_SECRET_KEY", k);
        }
        cmd.output().unwrap()
    };
    let out = sync(Some(&key));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&system), "{stderr}");
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["read"], 5, "{run}");

    assert_eq!(
        run["system_id"],
        json!(system),
        "the run is the system's: {run}"
    );

    let out = sync(None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&system), "{stderr}");

    // One run of a system at a time: the command line does not start a second.
    supplyhub::store::sync_runs::insert_system_run(&t.db, "run_busy", "full", &json!({}), &system)
        .await
        .unwrap();
    let out = sync(Some(&key));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("run_busy"), "{stderr}");
    sb.sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reads_through_the_active_supplier_system_on_sqlite() {
    let t = TestDb::sqlite().await;
    sync_reads_through_the_active_supplier_system(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reads_through_the_active_supplier_system_on_postgres() {
    let t = TestDb::postgres().await;
    sync_reads_through_the_active_supplier_system(&t).await;
    t.cleanup().await;
}
