//! Schedules: each firing claimed by one of several schedulers, missed firings run once,
//! disabled schedules never fire, the stock schedule's choice of counties and why, the
//! API (bad input named, run-now 202 then 409), and system intervals kept in step.
//!
//! No test waits for a clock: the scheduler is handed the time it acts as of.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use supplyhub::config::{SchedulesConfig, SyncConfig};
use supplyhub::http::AppState;
use supplyhub::schedules::scheduler::Settings;
use supplyhub::schedules::{Fired, FiringOutcome, Scheduler};
use supplyhub::status::{OrderStatus, SupplierStatus};
use supplyhub::store::Db;
use supplyhub::store::orders::{Order, OrderLine, insert_line, insert_order};
use supplyhub::store::schedules as store;
use supplyhub::systems::crypto::KeyRing;
use supplyhub::types::{Money, UtcTime};
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, TestSandbox, call};

const ADMIN_TOKEN: &str = "schedules-admin-token-5c1b";

fn later(t: UtcTime, minutes: i64) -> UtcTime {
    UtcTime::from_micros(t.as_micros() + minutes * 60_000_000).unwrap()
}

/// Another pool on the same database: another instance.
async fn reopen(db: &Db) -> Db {
    match db {
        Db::Sqlite(p) => Db::Sqlite(
            sqlx::SqlitePool::connect_with((*p.connect_options()).clone())
                .await
                .unwrap(),
        ),
        Db::Postgres(p) => Db::Postgres(
            sqlx::PgPool::connect_with((*p.connect_options()).clone())
                .await
                .unwrap(),
        ),
    }
}

fn settings(counties: &[&str]) -> Settings {
    Settings::new(
        SchedulesConfig::default(),
        &SyncConfig {
            counties: counties.iter().map(|c| (*c).to_owned()).collect(),
            ..SyncConfig::default()
        },
    )
}

fn scheduler(db: &Db, ring: &Arc<KeyRing>, settings: Settings) -> Scheduler {
    Scheduler::new(
        db.clone(),
        Arc::clone(ring),
        settings,
        CancellationToken::new(),
    )
}

/// Waits for the runs the firings started.
async fn settle(fired: &mut [Fired]) {
    for f in fired {
        if let Some(run) = f.run.take() {
            run.await.unwrap();
        }
    }
}

/// Three schedulers on three pools of one database race for the due schedules: each is
/// fired by exactly one of them, once; one run starts for the supplier and the other
/// firings find it active. Five hours later each overdue schedule fires once, not once
/// per missed firing, and `next_run_at` moves past the time of the firing.
async fn each_firing_is_claimed_once(db: &Db) {
    let sandbox = TestSandbox::start(10, 11).await;
    let ring = Arc::new(KeyRing::ephemeral());
    let system =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
            .await
            .unwrap();
    let now = UtcTime::now();
    let a = scheduler(db, &ring, settings(&["370212"]));
    assert_eq!(a.plan_unplanned(now).await.unwrap(), 3);
    assert!(
        a.fire_due(now).await.unwrap().is_empty(),
        "nothing is due yet"
    );

    // When each is due: the firing that claims it names this time in its run.
    let mut due = std::collections::BTreeMap::new();
    for s in store::list_schedules(db, None, 10).await.unwrap() {
        due.insert(s.id.clone(), s.next_run_at.unwrap());
    }
    let pools = [reopen(db).await, reopen(db).await, reopen(db).await];
    let [s1, s2, s3] =
        [&pools[0], &pools[1], &pools[2]].map(|p| scheduler(p, &ring, settings(&["370212"])));
    let at = later(now, 2 * 24 * 60);
    let (r1, r2, r3) = tokio::join!(s1.fire_due(at), s2.fire_due(at), s3.fire_due(at));
    let mut fired: Vec<Fired> = [r1.unwrap(), r2.unwrap(), r3.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    let ids: Vec<&str> = fired.iter().map(|f| f.schedule_id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 3, "{fired:?}");
    assert_eq!(
        unique,
        BTreeSet::from(["sch_catalog", "sch_prices", "sch_stock"])
    );
    // Every run started is recorded once, for the supplier, by the schedule that
    // started it; a firing that found a run active names one of them (which runs the
    // others find depends on how fast each ends, so no count of them is fixed here).
    let started: BTreeSet<String> = fired
        .iter()
        .filter(|f| f.outcome == FiringOutcome::Started)
        .map(|f| f.run_id.clone().unwrap())
        .collect();
    assert!(!started.is_empty(), "{fired:?}");
    let runs = supplyhub::store::sync_runs::list_runs(db, None, 50)
        .await
        .unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.clone()).collect::<BTreeSet<_>>(),
        started
    );
    for f in &fired {
        match f.outcome {
            FiringOutcome::Started => {
                let run = runs
                    .iter()
                    .find(|r| Some(&r.id) == f.run_id.as_ref())
                    .unwrap();
                assert_eq!(run.system_id.as_deref(), Some(system.as_str()));
                assert_eq!(run.scope["schedule"], f.schedule_id.as_str());
                assert_eq!(run.scope["due_at"], json!(due[&f.schedule_id]), "{run:?}");
                assert_eq!(run.scope["fired_at"], json!(at), "{run:?}");
            }
            FiringOutcome::Skipped => match &f.run_id {
                Some(active) => {
                    assert!(started.contains(active), "{f:?}");
                    assert_eq!(f.detail, format!("skipped: {active} is active"));
                }
                // The store was still empty: the stock schedule had nothing to check.
                None => assert_eq!(f.schedule_id, "sch_stock", "{f:?}"),
            },
            other => panic!("{other:?}: {f:?}"),
        }
    }
    settle(&mut fired).await;
    for f in fired.iter().filter(|f| f.outcome == FiringOutcome::Started) {
        let s = store::get_schedule(db, &f.schedule_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.last_run_id, f.run_id);
        assert_eq!(s.last_outcome, Some(FiringOutcome::Success), "{s:?}");
    }

    // Claimed: nobody fires them again at the same time.
    let (r1, r2, r3) = tokio::join!(s1.fire_due(at), s2.fire_due(at), s3.fire_due(at));
    assert!(r1.unwrap().is_empty() && r2.unwrap().is_empty() && r3.unwrap().is_empty());
    for id in ["sch_stock", "sch_prices", "sch_catalog"] {
        let s = store::get_schedule(db, id).await.unwrap().unwrap();
        assert!(s.next_run_at.unwrap() > at, "{s:?}");
        assert_eq!(s.last_run_at, Some(at));
    }

    // Five hours of missed firings (twenty of the stock schedule): each fires once.
    let much_later = later(at, 5 * 60 + 1);
    let mut fired = s2.fire_due(much_later).await.unwrap();
    settle(&mut fired).await;
    let ids: BTreeSet<&str> = fired.iter().map(|f| f.schedule_id.as_str()).collect();
    assert_eq!(ids.len(), fired.len(), "{fired:?}");
    assert!(
        ids.contains("sch_stock") && ids.contains("sch_prices"),
        "{ids:?}"
    );
    assert!(s1.fire_due(much_later).await.unwrap().is_empty());
    let stock = store::get_schedule(db, "sch_stock").await.unwrap().unwrap();
    let next = stock.next_run_at.unwrap();
    assert!(
        next > much_later && next.millis_since(much_later) <= 15 * 60 * 1000,
        "{stock:?}"
    );

    for p in pools {
        p.close().await;
    }
}

/// A disabled schedule never fires, however late it is; enabled again, it is planned
/// from the time it was enabled.
async fn a_disabled_schedule_never_fires(db: &Db) {
    supplyhub::metrics::handle().expect("the metrics recorder");
    let ring = Arc::new(KeyRing::ephemeral());
    let s = scheduler(db, &ring, settings(&["370212"]));
    let now = UtcTime::now();
    s.plan_unplanned(now).await.unwrap();
    store::update_schedule(
        db,
        "sch_stock",
        "*/15 * * * *",
        "Asia/Shanghai",
        false,
        None,
    )
    .await
    .unwrap();
    for days in [1, 30, 400] {
        let fired = s.fire_due(later(now, days * 24 * 60)).await.unwrap();
        assert!(
            fired.iter().all(|f| f.schedule_id != "sch_stock"),
            "{fired:?}"
        );
    }
    let stock = store::get_schedule(db, "sch_stock").await.unwrap().unwrap();
    assert_eq!((stock.next_run_at, stock.last_run_at), (None, None));
    // The others fired (and failed: there is no supplier system), recorded.
    let prices = store::get_schedule(db, "sch_prices")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prices.last_outcome, Some(FiringOutcome::Failed));
    assert!(
        prices
            .last_detail
            .unwrap()
            .contains("no active supplier system"),
        "named"
    );
    // Counted by kind and outcome.
    let text = supplyhub::metrics::render(db).await;
    let counted = text
        .lines()
        .find(|l| {
            l.starts_with("supplyhub_schedule_firings_total{")
                && l.contains("kind=\"prices\"")
                && l.contains("outcome=\"failed\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok());
    assert!(counted.is_some_and(|n| n >= 3.0), "{text}");
}

fn order(id: &str, county: &str) -> Order {
    let now = UtcTime::now();
    Order {
        id: id.to_owned(),
        order_number: format!("N-{id}"),
        so_id: format!("SO-{id}"),
        request_hash: String::new(),
        status: OrderStatus::Paid,
        supplier_status: SupplierStatus::Pushed,
        retail_order_no: None,
        supplier_message: None,
        consignee_name: "张三".to_owned(),
        consignee_mobile: "13800000000".to_owned(),
        province: "山东省".to_owned(),
        city: "青岛市".to_owned(),
        district: "崂山区".to_owned(),
        town: None,
        detail_address: "海尔路1号".to_owned(),
        county_code: county.to_owned(),
        distribution_time: None,
        install_time: None,
        government_order: false,
        remark: None,
        total_qty: 1,
        total_amount: Money::ZERO,
        hold_expires_at: now,
        created_at: now,
        updated_at: now,
        paid_at: Some(now),
        cancelled_at: None,
        created_by: None,
    }
}

async fn place(db: &Db, id: &str, county: &str, lines: &[(&str, i64)]) {
    let mut tx = db.begin().await.unwrap();
    insert_order(&mut tx, &order(id, county)).await.unwrap();
    for (i, (code, qty)) in lines.iter().enumerate() {
        let line = OrderLine {
            line_no: i64::try_from(i).unwrap() + 1,
            product_code: (*code).to_owned(),
            source: "haier".to_owned(),
            quantity: *qty,
            retail_price: Money::ZERO,
            discount_amount: Money::ZERO,
            actual_price: Money::ZERO,
            is_gift: false,
            receive_qty: None,
            return_qty: None,
            reject_qty: None,
        };
        insert_line(&mut tx, id, &line).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn chosen(scope: &Value) -> Vec<(String, String)> {
    scope["plan"]["counties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["county"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Fires the stock schedule at `at` and waits for its run; the run's scope.
async fn fire_stock(db: &Db, s: &Scheduler, at: UtcTime) -> Value {
    let mut fired = s.fire_due(at).await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].outcome, FiringOutcome::Started, "{fired:?}");
    let run_id = fired[0].run_id.clone().unwrap();
    settle(&mut fired).await;
    let run = supplyhub::store::sync_runs::get_run(db, &run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status.as_str(), "success", "{run:?}");
    run.scope
}

/// The stock schedule checks the counties with recent checkouts first, most first, and a
/// configured county with no demand once a day, saying why in the run's scope; its
/// products are those in demand, most first.
async fn stock_goes_where_customers_are(db: &Db) {
    let sandbox = TestSandbox::start(12, 21).await;
    let config = sandbox.config(&[]);
    sandbox
        .syncer(db, &config)
        .run(
            &crate::helpers::catalog_only(false),
            &supplyhub::sync::NoProgress,
        )
        .await
        .unwrap();
    let codes: Vec<String> = supplyhub::store::schedules::procurable_codes(db, 3)
        .await
        .unwrap();
    assert_eq!(codes.len(), 3);
    place(db, "ord_s1", "440305", &[(&codes[0], 1)]).await;
    place(db, "ord_s2", "440305", &[(&codes[0], 2), (&codes[1], 1)]).await;
    place(db, "ord_s3", "440305", &[(&codes[1], 1)]).await;
    place(db, "ord_s4", "370212", &[(&codes[0], 4)]).await;

    let ring = Arc::new(KeyRing::ephemeral());
    supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
        .await
        .unwrap();
    let s = scheduler(db, &ring, settings(&["370212", "110101"]));
    let now = UtcTime::now();
    s.plan_unplanned(now).await.unwrap();
    for id in ["sch_prices", "sch_catalog"] {
        store::update_schedule(db, id, "0 0 * * *", "UTC", false, None)
            .await
            .unwrap();
    }

    let first = later(now, 16);
    let scope = fire_stock(db, &s, first).await;
    assert_eq!(
        chosen(&scope),
        vec![
            ("440305".to_owned(), "demand: 3 orders".to_owned()),
            ("370212".to_owned(), "demand: 1 order".to_owned()),
            ("110101".to_owned(), "daily coverage".to_owned()),
        ],
        "{scope}"
    );
    let products: Vec<(&str, &str)> = scope["plan"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["code"].as_str().unwrap(), p["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        products,
        vec![
            (codes[0].as_str(), "demand: 7 units"),
            (codes[1].as_str(), "demand: 2 units"),
        ]
    );
    assert_eq!(scope["plan"]["stock_calls"], 6);
    assert_eq!(scope["counties"], json!(["440305", "370212", "110101"]));
    let covered: Vec<String> = store::stock_coverage(db)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(covered, ["110101", "370212", "440305"]);

    // A quarter of an hour later the covered county is not due; a day later it is.
    let scope = fire_stock(db, &s, later(first, 15)).await;
    assert_eq!(
        chosen(&scope)
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>(),
        ["440305", "370212"]
    );
    let scope = fire_stock(db, &s, later(first, 24 * 60)).await;
    assert_eq!(
        chosen(&scope).last().unwrap(),
        &("110101".to_owned(), "daily coverage".to_owned())
    );
}

fn state(db: &Db, ring: KeyRing) -> AppState {
    crate::helpers::guarded_state(db, ring, ADMIN_TOKEN)
}

fn assert_error(status: u16, body: &Value, want: u16, code: &str, names: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains(names),
        "{body} should name {names}"
    );
}

/// The API: the defaults are listed and paged; PUT sets cron, time zone and enabled and
/// refuses a bad cron or time zone with 422 naming it; every bad input is a 4xx with
/// `{code, detail}`; run-now answers 202 with the run's Location, and a second run-now
/// while that run is in progress 409 naming it.
async fn schedules_api(db: &Db) {
    let sandbox = TestSandbox::start_with(sandbox::SandboxConfig {
        products: 10,
        seed: 3,
        rate_limit: 4,
        ..sandbox::SandboxConfig::default()
    })
    .await;
    let ring = KeyRing::ephemeral();
    let system =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
            .await
            .unwrap();
    let app = TestApp::spawn_state(state(db, ring), Some(ADMIN_TOKEN)).await;

    let (status, page) = call(&app, Method::GET, "/api/v1/schedules", None).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sch_catalog", "sch_prices", "sch_stock"]);
    assert_eq!(page["items"][2]["cron"], "*/15 * * * *");
    assert_eq!(page["items"][2]["time_zone"], "Asia/Shanghai");
    let (_, first) = call(&app, Method::GET, "/api/v1/schedules?limit=2", None).await;
    let (_, rest) = call(
        &app,
        Method::GET,
        &format!(
            "/api/v1/schedules?limit=2&after={}",
            first["next"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(rest["items"][0]["id"], "sch_stock");
    assert!(rest["next"].is_null());

    let (status, s) = call(
        &app,
        Method::PUT,
        "/api/v1/schedules/sch_prices",
        Some(json!({"cron": "30 */2 * * MON-FRI", "time_zone": "UTC", "enabled": true})),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["cron"].as_str(), s["time_zone"].as_str()),
        (Some("30 */2 * * MON-FRI"), Some("UTC"))
    );
    assert!(s["next_run_at"].as_str().unwrap().contains(":30:00"), "{s}");
    let (_, s) = call(
        &app,
        Method::PUT,
        "/api/v1/schedules/sch_prices",
        Some(json!({"cron": "7 * * * *", "enabled": false})),
    )
    .await;
    assert_eq!(
        (s["enabled"].as_bool(), s["time_zone"].as_str()),
        (Some(false), Some("Asia/Shanghai"))
    );
    assert!(s["next_run_at"].is_null(), "{s}");
    let (status, log) = call(
        &app,
        Method::GET,
        "/api/v1/audit-log?action=schedule.update",
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == "sch_prices"),
        "{log}"
    );

    for (body, code, names) in [
        (
            json!({"cron": "61 * * * *", "enabled": true}),
            "invalid_cron",
            "cron",
        ),
        (
            json!({"cron": "* * *", "enabled": true}),
            "invalid_cron",
            "cron",
        ),
        (
            json!({"cron": "0 0 30 2 *", "enabled": true}),
            "invalid_cron",
            "names no time",
        ),
        (
            json!({"cron": "*/5 * * * * *", "enabled": true}),
            "invalid_cron",
            "cron",
        ),
        (json!({"cron": "", "enabled": true}), "invalid_cron", "cron"),
        (
            json!({"cron": "x".repeat(101), "enabled": true}),
            "invalid_cron",
            "cron",
        ),
        (
            json!({"cron": "0 * * * *", "time_zone": "Mars/Olympus", "enabled": true}),
            "invalid_time_zone",
            "time_zone",
        ),
        (
            json!({"cron": "0 * * * *", "time_zone": "", "enabled": true}),
            "invalid_time_zone",
            "time_zone",
        ),
    ] {
        let (status, err) = call(
            &app,
            Method::PUT,
            "/api/v1/schedules/sch_stock",
            Some(body.clone()),
        )
        .await;
        assert_error(status, &err, 422, code, names);
    }
    for body in [
        json!({"enabled": true}),
        json!({"cron": "0 * * * *"}),
        json!({"cron": "0 * * * *", "enabled": "yes"}),
        json!({"cron": 5, "enabled": true}),
        json!({"cron": "0 * * * *", "enabled": true, "every": 5}),
    ] {
        let (status, err) = call(
            &app,
            Method::PUT,
            "/api/v1/schedules/sch_stock",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {err}");
        assert!(
            err["code"].is_string() && err["detail"].is_string(),
            "{err}"
        );
    }
    let resp = app
        .http
        .put(format!("{}/api/v1/schedules/sch_stock", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    for (method, path, want) in [
        (Method::GET, "/api/v1/schedules?limit=0", 400),
        (Method::GET, "/api/v1/schedules?limit=x", 400),
        (Method::GET, "/api/v1/schedules?after=", 400),
        (Method::GET, "/api/v1/schedules/sch_nope", 404),
        (Method::POST, "/api/v1/schedules/sch_nope/run", 404),
        (Method::DELETE, "/api/v1/schedules/sch_stock", 405),
    ] {
        let (status, err) = call(&app, method.clone(), path, None).await;
        assert_eq!(status, want, "{method} {path}: {err}");
        assert!(
            err["code"].is_string() && err["detail"].is_string(),
            "{err}"
        );
    }
    let (status, err) = call(
        &app,
        Method::PUT,
        "/api/v1/schedules/sch_nope",
        Some(json!({"cron": "0 * * * *", "enabled": true})),
    )
    .await;
    assert_error(status, &err, 404, "not_found", "sch_nope");

    // Run now: 202 with the run; again while it runs: 409 naming it.
    let resp = app
        .http
        .post(format!("{}/api/v1/schedules/sch_catalog/run", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let started: Value = resp.json().await.unwrap();
    let run = started["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/sync-runs/{run}"));
    assert_eq!(started["system_id"], system.as_str());
    let (status, err) = call(&app, Method::POST, "/api/v1/schedules/sch_prices/run", None).await;
    assert_error(status, &err, 409, "run_in_progress", &run);
    let (_, s) = call(&app, Method::GET, "/api/v1/schedules/sch_catalog", None).await;
    assert_eq!(
        (s["last_run_id"].as_str(), s["last_outcome"].as_str()),
        (Some(run.as_str()), Some("started"))
    );

    let mut finished = Value::Null;
    for _ in 0..1200 {
        let (_, r) = call(&app, Method::GET, &location, None).await;
        if !matches!(r["status"].as_str(), Some("pending" | "processing")) {
            finished = r;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["scope"]["schedule"], "sch_catalog");
    assert!(
        finished["scope"].get("due_at").is_none(),
        "a run-now is no firing of the expression: {finished}"
    );
    let mut s = Value::Null;
    for _ in 0..200 {
        s = call(&app, Method::GET, "/api/v1/schedules/sch_catalog", None)
            .await
            .1;
        if s["last_outcome"] != "started" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(s["last_outcome"], "success", "{s}");
}

/// A system's sync interval makes its schedule, changed with it and removed with it; a
/// firing of a system no connector syncs says so.
async fn system_intervals_make_schedules(db: &Db) {
    let ring = KeyRing::ephemeral();
    let app = TestApp::spawn_state(state(db, ring), Some(ADMIN_TOKEN)).await;
    let (status, pos) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(json!({"name": "Front POS", "kind": "pos", "sync": {"interval_minutes": 45}})),
    )
    .await;
    assert_eq!(status, 201, "{pos}");
    let id = pos["id"].as_str().unwrap().to_owned();
    let (_, page) = call(&app, Method::GET, "/api/v1/schedules", None).await;
    let mine: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["system_id"] == id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{page}");
    assert_eq!(mine[0]["kind"], "system_sync");
    assert_eq!(mine[0]["cron"], "*/30 * * * *");
    let sid = mine[0]["id"].as_str().unwrap().to_owned();

    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{id}"),
        Some(json!({"sync": {"interval_minutes": 180}})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, s) = call(&app, Method::GET, &format!("/api/v1/schedules/{sid}"), None).await;
    assert_eq!(s["cron"], "0 */3 * * *");
    // An operator's expression outlives a save that keeps the interval; the name follows.
    let (status, _) = call(
        &app,
        Method::PUT,
        &format!("/api/v1/schedules/{sid}"),
        Some(json!({"cron": "15 */3 * * *", "time_zone": "UTC", "enabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{id}"),
        Some(json!({"name": "Back POS"})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, s) = call(&app, Method::GET, &format!("/api/v1/schedules/{sid}"), None).await;
    assert_eq!(
        (
            s["cron"].as_str(),
            s["time_zone"].as_str(),
            s["name"].as_str()
        ),
        (Some("15 */3 * * *"), Some("UTC"), Some("Sync Back POS"))
    );

    let (status, err) = call(
        &app,
        Method::POST,
        &format!("/api/v1/schedules/{sid}/run"),
        None,
    )
    .await;
    assert_error(status, &err, 409, "not_syncable", "no connector");

    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{id}"),
        Some(json!({"sync": {}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, Method::GET, &format!("/api/v1/schedules/{sid}"), None).await;
    assert_eq!(status, 404);
}

crate::on_both_backends! {
    each_firing_is_claimed_once => each_firing_is_claimed_once;
    a_disabled_schedule_never_fires => a_disabled_schedule_never_fires;
    stock_goes_where_customers_are => stock_goes_where_customers_are;
    schedules_api => schedules_api;
    system_intervals_make_schedules => system_intervals_make_schedules;
}
