//! Checkout, holds, payment and the exactly-once push, against the sandbox over HTTP.

use std::time::Duration;

use serde_json::{Value, json};
use supplyhub::config::Config;
use supplyhub::status::SupplierStatus;
use supplyhub::store::Db;
use supplyhub::store::holds::{LOCAL_POOL, get_pool, inventory_log};
use supplyhub::sync::NoProgress;

use crate::helpers::{TestApp, TestSandbox, catalog_only};

const COUNTY: &str = "320106"; // 南京市鼓楼区

fn settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SUPPLYHUB_ORDERS__RETRY_BASE_MS", "10"),
        ("SUPPLYHUB_ORDERS__LEASE_SECS", "5"),
    ]
}

/// A sandbox, a synced catalog (no stock) and the hub's API wired to both.
async fn setup(db: &Db, products: usize) -> (TestSandbox, Config, TestApp) {
    let (sb, config, app, _) = setup_with(db, products, 9, &[]).await;
    (sb, config, app)
}

/// [`setup`] with a seed and settings on top of [`settings`]; also the app's order
/// service.
async fn setup_with(
    db: &Db,
    products: usize,
    seed: u64,
    extra: &[(&'static str, &'static str)],
) -> (
    TestSandbox,
    Config,
    TestApp,
    supplyhub::orders::OrderService,
) {
    let sb = TestSandbox::start(products, seed).await;
    let mut s = settings();
    s.extend_from_slice(extra);
    let config = sb.config(&s);
    let run = sb
        .syncer(db, &config)
        .run(&catalog_only(true), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success", "{:?}", run.error_summary);
    let state = sb.app_state(db, &config);
    let orders = state.orders.clone();
    let app = TestApp::spawn_state(state, None).await;
    (sb, config, app, orders)
}

async fn procurable_skus(app: &TestApp, n: usize) -> Vec<String> {
    let (_, page) = app.list_products("?limit=200").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_procurable"] == true)
        .take(n)
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn set_supplier_stock(sb: &TestSandbox, sku: &str, units: u32) {
    sb.post(
        "/_sandbox/stock",
        json!({"productCode": sku, "countyCode": COUNTY,
               "warehouses": [{"secCode": "NJ01", "stock": units, "warehouseGrade": "0"}]}),
    )
    .await;
}

fn checkout(number: &str, lines: Value) -> Value {
    json!({
        "order_number": number,
        "lines": lines,
        "consignee": {"name": "张三", "mobile": "13900001111"},
        "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "town": "宁海路街道", "detail": "北京西路1号"},
    })
}

fn line(sku: &str, quantity: i64) -> Value {
    json!({"sku": sku, "quantity": quantity, "retail_price": "1999.00", "discount_amount": "100.50"})
}

/// Posts the checkout `body` to `app` in a task of its own; the status and the answer.
fn spawn_checkout(app: &TestApp, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let (http, base) = (app.http.clone(), app.base.clone());
    tokio::spawn(async move {
        let resp = http
            .post(format!("{base}/api/v1/orders"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap())
    })
}

async fn no_interleaving_oversells(db: &Db) {
    let (sb, _config, app) = setup(db, 40).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;

    let tasks: Vec<_> = (0..64)
        .map(|i| spawn_checkout(&app, checkout(&format!("C{i:03}"), json!([line(&sku, 1)]))))
        .collect();
    let mut held = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => held += 1,
            409 => {
                assert_eq!(body["code"], "insufficient_stock", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((held, refused), (10, 54), "exactly the stock is held");
    let pool = get_pool(db, &sku, COUNTY).await.unwrap().unwrap();
    assert_eq!((pool.capacity, pool.held), (10, 10));
    let log = inventory_log(db, &sku, COUNTY, 500).await.unwrap();
    assert_eq!(
        log.iter().filter(|c| c.change == "lock").count(),
        10,
        "one lock per hold"
    );
    assert!(
        log.iter().all(|c| c.held_after <= c.capacity_after),
        "never more held than there is"
    );
    sb.sandbox.shutdown().await.unwrap();
}

/// Three instances (each its own pool, supplier clients and stock cache, as separate
/// processes have) share one database: checkouts spread over them still hold exactly the
/// stock there is.
async fn three_instances_never_oversell(t: &crate::helpers::TestDb) {
    let (sb, config, first) = setup(&t.db, 40).await;
    let sku = procurable_skus(&first, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let mut apps = vec![first];
    for _ in 0..2 {
        let db = Db::connect(&t.url).await.unwrap();
        apps.push(TestApp::spawn_state(sb.app_state(&db, &config), None).await);
    }
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            spawn_checkout(
                &apps[i % apps.len()],
                checkout(&format!("M{i:03}"), json!([line(&sku, 1)])),
            )
        })
        .collect();
    let mut held_by = [0; 3];
    for (i, task) in tasks.into_iter().enumerate() {
        let (status, body) = task.await.unwrap();
        match status {
            201 => held_by[i % 3] += 1,
            409 => assert_eq!(body["code"], "insufficient_stock", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(held_by.iter().sum::<i32>(), 10, "{held_by:?}");
    let pool = get_pool(&t.db, &sku, COUNTY).await.unwrap().unwrap();
    assert_eq!((pool.capacity, pool.held), (10, 10));
    sb.sandbox.shutdown().await.unwrap();
}

mod three_instances_never_oversell {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let t = crate::helpers::TestDb::sqlite().await;
        super::three_instances_never_oversell(&t).await;
        t.cleanup().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let t = crate::helpers::TestDb::postgres().await;
        super::three_instances_never_oversell(&t).await;
        t.cleanup().await;
    }
}

async fn mixed_quantities_never_oversell(db: &Db) {
    let (sb, _config, app) = setup(db, 40).await;
    let skus = procurable_skus(&app, 2).await;
    for sku in &skus {
        set_supplier_stock(&sb, sku, 7).await;
    }
    // Orders of 1–3 units of both SKUs: one line fails, the whole order holds nothing.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let q = 1 + (i % 3);
            let body = checkout(
                &format!("M{i:03}"),
                json!([line(&skus[0], q), line(&skus[1], 1)]),
            );
            (spawn_checkout(&app, body), q)
        })
        .collect();
    let mut first = 0;
    let mut second = 0;
    for (t, q) in tasks {
        let (status, _) = t.await.unwrap();
        assert!(status == 201 || status == 409, "{status}");
        if status == 201 {
            first += q;
            second += 1;
        }
    }
    let p0 = get_pool(db, &skus[0], COUNTY).await.unwrap().unwrap();
    let p1 = get_pool(db, &skus[1], COUNTY).await.unwrap().unwrap();
    assert_eq!(
        (p0.held, p1.held),
        (first, second),
        "held equals what successful orders asked for"
    );
    assert!(p0.held <= 7 && p1.held <= 7);
    assert!(second > 0);
    sb.sandbox.shutdown().await.unwrap();
}

async fn checkout_validates_sums_and_is_idempotent(db: &Db) {
    let (sb, _config, app) = setup(db, 30).await;
    let skus = procurable_skus(&app, 2).await;
    set_supplier_stock(&sb, &skus[0], 50).await;

    // Lines of one SKU are summed into one line and one hold.
    let body = checkout("S1", json!([line(&skus[0], 2), line(&skus[0], 3)]));
    let (status, order) = app.post("/api/v1/orders", body.clone()).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["lines"].as_array().unwrap().len(), 1);
    assert_eq!(order["lines"][0]["quantity"], 5);
    assert_eq!(
        order["lines"][0]["actual_price"], "1898.50",
        "per-unit deal price"
    );
    assert_eq!(order["total_amount"], "9492.50");
    assert_eq!(order["county_code"], COUNTY);
    assert_eq!(order["holds"][0]["quantity"], 5);

    // The same request again answers the same order; other content under the number is refused.
    let (status, again) = app.post("/api/v1/orders", body).await;
    assert_eq!((status, &again["id"]), (200, &order["id"]));
    let (status, err) = app
        .post("/api/v1/orders", checkout("S1", json!([line(&skus[0], 1)])))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("duplicate_order"))
    );

    // Bad input names the field and holds nothing.
    let cases = [
        (
            checkout("S2", json!([line(&skus[0], 0)])),
            "lines[0].quantity",
        ),
        (
            checkout("S2", json!([line("NOSUCHSKU", 1)])),
            "lines[0].sku",
        ),
        (checkout("S2", json!([])), "lines"),
        (
            checkout("bad number!", json!([line(&skus[0], 1)])),
            "order_number",
        ),
        (
            checkout(
                "S2",
                json!([line(&skus[0], 1), {"sku": skus[0], "quantity": 1, "retail_price": "5.00"}]),
            ),
            "different prices",
        ),
    ];
    for (body, needle) in cases {
        let (status, err) = app.post("/api/v1/orders", body).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (422, Some("invalid_order")),
            "{needle}: {err}"
        );
        assert!(
            err["detail"].as_str().unwrap().contains(needle),
            "{needle}: {err}"
        );
    }
    let mut nowhere = checkout("S3", json!([line(&skus[0], 1)]));
    nowhere["address"] =
        json!({"province": "火星", "city": "乌托邦", "district": "无名区", "detail": "1号"});
    let (status, err) = app.post("/api/v1/orders", nowhere).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("address_unresolved")),
        "never a silent default: {err}"
    );
    let mut bad_phone = checkout("S3", json!([line(&skus[0], 1)]));
    bad_phone["consignee"]["mobile"] = json!("12345");
    let (status, err) = app.post("/api/v1/orders", bad_phone).await;
    assert_eq!(status, 422, "{err}");
    let resp = app
        .http
        .post(format!("{}/api/v1/orders", app.base))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = app
        .http
        .post(format!("{}/api/v1/orders", app.base))
        .json(&json!({"order_number": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "invalid_body");

    let pool = get_pool(db, &skus[0], COUNTY).await.unwrap().unwrap();
    assert_eq!(pool.held, 5, "failed checkouts held nothing");

    // Cancelling before payment releases the hold.
    let id = order["id"].as_str().unwrap();
    let (status, cancelled) = app
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            json!({"reason": "changed my mind"}),
        )
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled"))
    );
    assert_eq!(
        get_pool(db, &skus[0], COUNTY).await.unwrap().unwrap().held,
        0
    );
    let (status, err) = app
        .post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("invalid_state")));
    sb.sandbox.shutdown().await.unwrap();
}

async fn expired_holds_are_swept_and_cannot_be_paid(db: &Db) {
    let (sb, _config, app, orders) =
        setup_with(db, 20, 4, &[("SUPPLYHUB_ORDERS__HOLD_TTL_SECS", "0")]).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 3).await;

    let (_, a) = app
        .post("/api/v1/orders", checkout("E1", json!([line(&sku, 2)])))
        .await;
    let (_, b) = app
        .post("/api/v1/orders", checkout("E2", json!([line(&sku, 1)])))
        .await;
    assert_eq!(get_pool(db, &sku, COUNTY).await.unwrap().unwrap().held, 3);
    // Paying an expired order releases it and refuses.
    let (status, err) = app
        .post(
            &format!("/api/v1/orders/{}/pay", a["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("invalid_state")),
        "{err}"
    );
    assert_eq!(
        orders.sweep_expired().await.unwrap(),
        1,
        "the sweeper takes the other"
    );
    let (_, b) = app
        .get(&format!("/api/v1/orders/{}", b["id"].as_str().unwrap()))
        .await;
    assert_eq!(b["status"], "expired");
    assert_eq!(b["holds"][0]["status"], "expired");
    assert_eq!(
        get_pool(db, &sku, COUNTY).await.unwrap().unwrap().held,
        0,
        "all released"
    );
    sb.sandbox.shutdown().await.unwrap();
}

async fn local_stock_uses_the_same_holds_with_an_inventory_log(db: &Db) {
    let app = TestApp::spawn(db, None).await;
    let (status, p) = app
        .post(
            "/api/v1/products",
            json!({"code": "LOCAL-TV-1", "name": "展示样机电视"}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["source"], "local");
    let (status, pool) = app
        .post(
            "/api/v1/products/LOCAL-TV-1/stock-adjustments",
            json!({"delta": 5, "reason": "received"}),
        )
        .await;
    assert_eq!((status, pool["capacity"].as_i64()), (200, Some(5)));
    let (status, order) = app
        .post(
            "/api/v1/orders",
            checkout("L1", json!([line("LOCAL-TV-1", 3)])),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["holds"][0]["county_code"], "");
    let (status, _) = app
        .post(
            "/api/v1/orders",
            checkout("L2", json!([line("LOCAL-TV-1", 3)])),
        )
        .await;
    assert_eq!(status, 409, "only 2 left");
    let (status, err) = app
        .post(
            "/api/v1/products/LOCAL-TV-1/stock-adjustments",
            json!({"delta": -3, "reason": "damaged"}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("insufficient_stock")),
        "never below what is held"
    );
    let (status, paid) = app
        .post(
            &format!("/api/v1/orders/{}/pay", order["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, paid["supplier_status"].as_str()),
        (200, Some("none")),
        "nothing to push"
    );
    let pool = get_pool(db, "LOCAL-TV-1", LOCAL_POOL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (pool.capacity, pool.held),
        (2, 0),
        "paid local stock left the pool"
    );
    let (status, view) = app.get("/api/v1/products/LOCAL-TV-1/stock-pool").await;
    assert_eq!(status, 200);
    let changes: Vec<&str> = view["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        ["commit", "lock", "adjust", "adjust"],
        "newest first"
    );
    let (status, _) = app
        .post(
            "/api/v1/products/NOPE/stock-adjustments",
            json!({"delta": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(status, 404);
}

/// Runs the worker until no job is due or `rounds` passes end.
async fn drain(worker: &supplyhub::jobs::Worker, rounds: usize) {
    for _ in 0..rounds {
        if worker.run_once().await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            if worker.run_once().await.unwrap() == 0 {
                return;
            }
        }
    }
}

async fn sandbox_orders(sb: &TestSandbox) -> Vec<Value> {
    sb.get("/_sandbox/orders").await["orders"]
        .as_array()
        .unwrap()
        .clone()
}

async fn an_ambiguous_push_is_reconciled_not_duplicated(db: &Db) {
    let (sb, config, app) = setup(db, 30).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let (_, order) = app
        .post("/api/v1/orders", checkout("A1", json!([line(&sku, 2)])))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, paid) = app
        .post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    assert_eq!(
        (status, paid["supplier_status"].as_str()),
        (200, Some("push_pending"))
    );

    // The supplier records the order, then answers 503: the worker cannot know.
    sb.post(
        "/_sandbox/faults/next",
        json!({"fault": "server_error", "endpoint": "ylh_create_order", "after_processing": true}),
    )
    .await;
    let worker = sb.worker(db, &config);
    drain(&worker, 20).await;

    let orders = sandbox_orders(&sb).await;
    assert_eq!(orders.len(), 1, "exactly once at the supplier");
    let stats = sb.stats().await;
    assert_eq!(
        stats["duplicates_refused"], 1,
        "the second attempt reconciled by soId: {stats}"
    );
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "pushed");
    // Y1 answers `data: true` only: the number comes with the confirm callback, and
    // the holds stay committed until then.
    assert!(detail["retail_order_no"].is_null(), "{detail}");
    assert_eq!(detail["holds"][0]["status"], "committed");
    let job = &detail["jobs"][0];
    assert_eq!(
        (job["status"].as_str(), job["attempts"].as_i64()),
        (Some("done"), Some(2))
    );
    let outcomes: Vec<&str> = detail["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ambiguous", "already_exists"]);
    let statuses: Vec<Option<i64>> = detail["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_i64())
        .collect();
    assert_eq!(
        statuses,
        [Some(503), Some(200)],
        "the HTTP status of each call is kept"
    );
    let request = detail["calls"][0]["request"].as_str().unwrap();
    assert!(
        !request.contains("13900001111") && !request.contains("张三"),
        "personal data masked: {request}"
    );
    let sent: Value = serde_json::from_str(request).unwrap();
    assert_eq!(
        sent["itemList"][0]["discountAmount"],
        json!(100.5),
        "per-unit discount"
    );
    assert_eq!(sent["itemList"][0]["actualPrice"], json!(1898.5));
    assert_eq!(sent["town"], "宁海路街道");
    assert_eq!(sent["detailAddress"], "***");

    // The confirm callback brings the supplier's number and settles the holds.
    sb.sandbox
        .set_callback_url(format!("{}/callbacks/haier", app.base));
    sb.post(
        "/_sandbox/orders/config",
        json!({"confirm_rate": 1.0, "reject_rate": 0.0, "oos_rate": 0.0}),
    )
    .await;
    let so_id = orders[0]["soId"].as_str().unwrap();
    sb.post(&format!("/_sandbox/orders/{so_id}/advance"), json!({}))
        .await;
    let detail = wait_supplier_status(&app, &id, "confirmed").await;
    assert_eq!(detail["retail_order_no"], orders[0]["retailOrderNo"]);
    assert_eq!(detail["holds"][0]["status"], "settled");
    assert_eq!(
        get_pool(db, &sku, COUNTY).await.unwrap().unwrap().held,
        0,
        "settled holds leave the pool"
    );
    sb.sandbox.shutdown().await.unwrap();
}

async fn a_business_rejection_is_dead_lettered_and_can_be_redriven(db: &Db) {
    let (sb, wrong, app, _) = setup_with(
        db,
        20,
        6,
        &[("SUPPLYHUB_YLH__SOURCE_SYSTEM", "unregistered")],
    )
    .await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let (_, order) = app
        .post("/api/v1/orders", checkout("B1", json!([line(&sku, 1)])))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;

    drain(&sb.worker(db, &wrong), 10).await;
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "push_failed");
    assert!(
        detail["supplier_message"]
            .as_str()
            .unwrap()
            .contains("sourceSystem 订单来源未注册"),
        "the supplier's words: {detail}"
    );
    let job_id = detail["jobs"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        detail["jobs"][0]["attempts"], 1,
        "a business rejection is never retried"
    );
    let (_, dead) = app.get("/api/v1/jobs?status=dead").await;
    assert_eq!(dead["items"][0]["id"], job_id.as_str());
    let (_, job) = app.get(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(job["attempts_history"][0]["outcome"], "dead");
    assert_eq!(sandbox_orders(&sb).await.len(), 0);

    // Fixed configuration, redrive: pushed exactly once.
    let right = sb.config(&settings());
    let (status, requeued) = app
        .post(&format!("/api/v1/jobs/{job_id}/redrive"), json!({}))
        .await;
    assert_eq!((status, requeued["status"].as_str()), (200, Some("queued")));
    let (status, _) = app
        .post(&format!("/api/v1/jobs/{job_id}/redrive"), json!({}))
        .await;
    assert_eq!(status, 409, "only a dead job is redriven");
    drain(&sb.worker(db, &right), 10).await;
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "pushed", "{detail}");
    assert_eq!(sandbox_orders(&sb).await.len(), 1);
    sb.sandbox.shutdown().await.unwrap();
}

async fn the_supplier_callback_closes_the_loop(db: &Db) {
    let (sb, config, app) = setup(db, 30).await;
    sb.sandbox
        .set_callback_url(format!("{}/callbacks/haier", app.base));
    sb.post("/_sandbox/orders/config", json!({"callback_delay_ms": 20, "confirm_rate": 1.0, "reject_rate": 0.0, "oos_rate": 0.0, "duplicate_callback_rate": 1.0})).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let (_, order) = app
        .post("/api/v1/orders", checkout("CB1", json!([line(&sku, 1)])))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    drain(&sb.worker(db, &config), 10).await;

    wait_supplier_status(&app, &id, "confirmed").await;
    // The sender repeats itself; the replay is answered with success and changes nothing.
    let mut stats = sb.stats().await;
    for _ in 0..500 {
        if stats["callback_duplicates_sent"].as_i64().unwrap() >= 1
            && stats["callback_attempts"].as_i64().unwrap() >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = sb.stats().await;
    }
    assert_eq!(stats["callback_duplicates_sent"], 1, "{stats}");
    assert_eq!(
        stats["callback_deliveries_failed"], 0,
        "every delivery was answered with success"
    );
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "confirmed");
    sb.sandbox.shutdown().await.unwrap();
}

/// Polls the order until its supplier status is `want` (or gives up after ~10 s).
async fn wait_supplier_status(app: &TestApp, id: &str, want: &str) -> Value {
    let mut detail = Value::Null;
    for _ in 0..500 {
        detail = app.get(&format!("/api/v1/orders/{id}")).await.1;
        if detail["supplier_status"] == want {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("supplier status never became {want}: {detail}");
}

async fn following_an_order_reschedule_logistics_photos_and_cancel(db: &Db) {
    let (sb, config, app) = setup(db, 30).await;
    sb.sandbox
        .set_callback_url(format!("{}/callbacks/haier", app.base));
    sb.post("/_sandbox/orders/config", json!({"callback_delay_ms": 20, "confirm_rate": 1.0, "reject_rate": 0.0, "oos_rate": 0.0, "duplicate_callback_rate": 0.0, "partial_cancel_rate": 0.0, "logistics_step_ms": 3_600_000})).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let worker = sb.worker(db, &config);

    let mut ids = Vec::new();
    for n in ["F1", "F2"] {
        let (_, order) = app
            .post("/api/v1/orders", checkout(n, json!([line(&sku, 1)])))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/orders/{id}/pay"), json!({}))
            .await;
        ids.push(id);
    }
    drain(&worker, 10).await;
    for id in &ids {
        wait_supplier_status(&app, id, "confirmed").await;
    }

    // Reschedule: the vendor's 23:59:59 rule is checked before anything is queued.
    let (status, err) = app
        .post(
            &format!("/api/v1/orders/{}/reschedule", ids[0]),
            json!({"distribution_time": "2030-01-15T12:00:00+08:00"}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("invalid_order")),
        "{err}"
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/orders/{}/reschedule", ids[0]),
            json!({"distribution_time": "2030-01-15T23:59:59+08:00"}),
        )
        .await;
    assert_eq!(status, 202);
    drain(&worker, 10).await;
    let theirs = sb.get("/_sandbox/orders/F1").await;
    let expected_ms = "2030-01-15T23:59:59+08:00"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    assert_eq!(
        theirs["distributionTime"].as_i64(),
        Some(expected_ms),
        "{theirs}"
    );
    // Y3 always carries both times (protocol §0.3).
    assert!(theirs["installTime"].as_i64().is_some(), "{theirs}");
    let (_, ours) = app.get(&format!("/api/v1/orders/{}", ids[0])).await;
    assert_eq!(ours["distribution_time"], "2030-01-15T15:59:59Z");

    // Logistics and photos follow the supplier's progress.
    sb.post("/_sandbox/orders/F1/advance", json!({})).await;
    let (status, logistics) = app
        .get(&format!("/api/v1/orders/{}/logistics", ids[0]))
        .await;
    assert_eq!(status, 200, "{logistics}");
    let shipment = &logistics["store"][0]["shipments"][0];
    for key in ["carrier_code", "carrier_name", "tracking_number"] {
        assert!(
            shipment[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: {logistics}"
        );
    }
    assert!(
        !shipment["serial_barcodes"].as_array().unwrap().is_empty(),
        "{logistics}"
    );
    assert!(logistics["open_platform"]["getAllLogisticsInfoByOrderCode"].is_array());
    sb.post("/_sandbox/orders/F1/advance", json!({})).await;
    let (status, photos) = app
        .get(&format!("/api/v1/orders/{}/delivery-photos", ids[0]))
        .await;
    assert_eq!(status, 200);
    let record = &photos["records"][0];
    assert!(record["ylh_order_code"].as_str().is_some(), "{photos}");
    assert!(
        record["photos"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{photos}"
    );
    assert_eq!(record["photos"][0]["scene"], "delivery", "{photos}");

    // Cancel after payment goes to the supplier and waits for its callback.
    let (status, order) = app
        .post(
            &format!("/api/v1/orders/{}/cancel", ids[1]),
            json!({"reason": "客户取消"}),
        )
        .await;
    assert_eq!(
        (status, order["supplier_status"].as_str()),
        (200, Some("cancel_pending"))
    );
    drain(&worker, 10).await;
    let detail = wait_supplier_status(&app, &ids[1], "cancelled").await;
    assert_eq!(detail["status"], "cancelled");
    assert_eq!(
        sb.get("/_sandbox/orders/F2").await["cancel"]["reason"],
        "客户取消"
    );
    let endpoints: Vec<&str> = detail["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["y1_create", "y2_cancel"]);
    sb.sandbox.shutdown().await.unwrap();
}

/// POSTs to `path` `n` times at once; the answers.
async fn post_at_once(app: &TestApp, paths: &[String]) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = paths
        .iter()
        .map(|path| {
            let (http, url) = (app.http.clone(), format!("{}{path}", app.base));
            tokio::spawn(async move {
                let resp = http
                    .post(url)
                    .json(&json!({"reason": "race"}))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                (status, resp.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// Eight cancels of one paid local order at once put its units back on hand once.
async fn concurrent_cancels_restock_once(db: &Db) {
    let app = TestApp::spawn(db, None).await;
    let (status, _) = app
        .post(
            "/api/v1/products",
            json!({"code": "LOCAL-FRIDGE", "name": "冰箱"}),
        )
        .await;
    assert_eq!(status, 201);
    app.post(
        "/api/v1/products/LOCAL-FRIDGE/stock-adjustments",
        json!({"delta": 10, "reason": "received"}),
    )
    .await;
    let (_, order) = app
        .post(
            "/api/v1/orders",
            checkout("R1", json!([line("LOCAL-FRIDGE", 3)])),
        )
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    assert_eq!(status, 200);
    let pool = get_pool(db, "LOCAL-FRIDGE", LOCAL_POOL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pool.capacity, 7);

    let answers = post_at_once(&app, &vec![format!("/api/v1/orders/{id}/cancel"); 8]).await;
    for (status, body) in &answers {
        // A cancel that finds the order cancelled answers it, as it would one after
        // the other.
        assert_eq!(
            (*status, body["status"].as_str()),
            (200, Some("cancelled")),
            "{body}"
        );
    }
    let pool = get_pool(db, "LOCAL-FRIDGE", LOCAL_POOL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (pool.capacity, pool.held),
        (10, 0),
        "the 3 units came back once"
    );
    let restocks = inventory_log(db, "LOCAL-FRIDGE", LOCAL_POOL, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.change == "adjust" && c.quantity == 3)
        .count();
    assert_eq!(restocks, 1, "one restock in the inventory log");
}

/// A pay and a cancel of one held order at once: exactly one wins, the other is refused
/// with 409, and the order, its holds, its jobs and the stock agree with the winner.
async fn pay_racing_cancel_has_one_winner(db: &Db) {
    let (sb, _config, app) = setup(db, 20).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 50).await;
    let mut still_held = 0;
    for n in 0..8 {
        let (status, order) = app
            .post(
                "/api/v1/orders",
                checkout(&format!("PC{n}"), json!([line(&sku, 2)])),
            )
            .await;
        assert_eq!(status, 201, "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        let mut paths = vec![
            format!("/api/v1/orders/{id}/pay"),
            format!("/api/v1/orders/{id}/cancel"),
        ];
        if n % 2 == 1 {
            paths.reverse();
        }
        let answers = post_at_once(&app, &paths).await;
        let won: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
        let lost: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
        assert_eq!((won.len(), lost.len()), (1, 1), "{answers:?}");
        assert_eq!(lost[0].1["code"], "invalid_state", "{answers:?}");
        let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(
            won[0].1["status"], detail["status"],
            "the winner's answer is the order's state: {answers:?}"
        );
        match detail["status"].as_str().unwrap() {
            "paid" => {
                assert_eq!(detail["supplier_status"], "push_pending", "{detail}");
                assert_eq!(detail["holds"][0]["status"], "committed", "{detail}");
                assert_eq!(detail["jobs"].as_array().unwrap().len(), 1, "{detail}");
                still_held += 2;
            }
            "cancelled" => {
                assert_eq!(detail["supplier_status"], "none", "{detail}");
                assert_eq!(detail["holds"][0]["status"], "released", "{detail}");
                assert_eq!(detail["jobs"], json!([]), "{detail}");
            }
            other => panic!("{other}: {detail}"),
        }
    }
    let pool = get_pool(db, &sku, COUNTY).await.unwrap().unwrap();
    assert_eq!(pool.held, still_held, "held is what paid orders hold");
    sb.sandbox.shutdown().await.unwrap();
}

/// Runs `sql` on the test database (DDL that breaks or mends the store).
async fn execute(db: &Db, sql: &'static str) {
    match db {
        Db::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        Db::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

/// A checkout of one unit of a supplier product, paid: its push job is due.
async fn paid_supplier_order(sb: &TestSandbox, app: &TestApp, number: &str) -> String {
    let sku = procurable_skus(app, 1).await.remove(0);
    set_supplier_stock(sb, &sku, 10).await;
    let (_, order) = app
        .post("/api/v1/orders", checkout(number, json!([line(&sku, 1)])))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, paid) = app
        .post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    assert_eq!(
        (status, paid["supplier_status"].as_str()),
        (200, Some("push_pending"))
    );
    id
}

/// A confirmation committed while the worker ends its push is not overwritten by
/// `pushed`: the worker changes the supplier status only from the one it starts from.
async fn a_confirmation_during_the_push_is_kept(db: &Db) {
    let (sb, config, app) = setup(db, 20).await;
    let id = paid_supplier_order(&sb, &app, "CF1").await;

    // The confirmation is written and not yet committed when the worker's push returns.
    let mut confirm = db.begin().await.unwrap();
    supplyhub::store::orders::transition_supplier_status(
        &mut confirm,
        &id,
        &[SupplierStatus::PushPending],
        SupplierStatus::Confirmed,
        Some("RO-CONFIRMED"),
        None,
        supplyhub::types::UtcTime::now(),
    )
    .await
    .unwrap();
    let worker = sb.worker(db, &config);
    let push = tokio::spawn(async move { worker.run_once().await.unwrap() });
    if let Db::Postgres(p) = db {
        // Commit once the worker waits for the order's row: after whatever it read.
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(p)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(!push.is_finished(), "the worker never waited for the order");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // (SQLite has one writer: the worker waits for this commit before it writes.)
    confirm.commit().await.unwrap();
    assert_eq!(push.await.unwrap(), 1);
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "confirmed", "{detail}");
    assert_eq!(detail["retail_order_no"], "RO-CONFIRMED", "{detail}");
    assert_eq!(detail["holds"][0]["status"], "settled", "{detail}");
    sb.sandbox.shutdown().await.unwrap();
}

/// A store failure in the middle of a push stops the job's heartbeat: its lease runs
/// out, and the job is claimed again and pushed.
async fn a_store_failure_mid_job_lets_the_lease_expire(db: &Db) {
    let (sb, config, app, _) =
        setup_with(db, 20, 9, &[("SUPPLYHUB_ORDERS__LEASE_SECS", "1")]).await;
    assert_eq!(config.orders.lease_secs, 1);
    let id = paid_supplier_order(&sb, &app, "HB1").await;

    // Recording the supplier call fails: the job's attempt ends in a store error.
    execute(
        db,
        "ALTER TABLE external_calls RENAME TO external_calls_away",
    )
    .await;
    let first = sb.worker(db, &config);
    assert!(
        first.run_once().await.is_err(),
        "the store failure surfaces"
    );
    execute(
        db,
        "ALTER TABLE external_calls_away RENAME TO external_calls",
    )
    .await;

    // The lease is no longer extended: another worker claims the job once it runs out.
    let second = supplyhub::jobs::Worker::new(
        db.clone(),
        sb.live(&config),
        config.orders.clone(),
        "second-worker",
    );
    let mut claimed = 0;
    for _ in 0..300 {
        claimed = second.run_once().await.unwrap();
        if claimed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        claimed, 1,
        "the job was never claimed again: its lease is kept alive"
    );
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "pushed", "{detail}");
    assert_eq!(
        (
            detail["jobs"][0]["status"].as_str(),
            detail["jobs"][0]["attempts"].as_i64()
        ),
        (Some("done"), Some(2)),
        "{detail}"
    );
    assert_eq!(sandbox_orders(&sb).await.len(), 1, "pushed once");
    sb.sandbox.shutdown().await.unwrap();
}

crate::on_both_backends! {
    concurrent_checkouts_hold_exactly_the_stock => no_interleaving_oversells;
    concurrent_multi_line_checkouts_hold_all_or_nothing => mixed_quantities_never_oversell;
    checkout_validates_sums_and_is_idempotent => checkout_validates_sums_and_is_idempotent;
    expired_holds_are_swept_and_cannot_be_paid => expired_holds_are_swept_and_cannot_be_paid;
    local_stock_uses_the_same_holds_with_an_inventory_log => local_stock_uses_the_same_holds_with_an_inventory_log;
    an_ambiguous_push_is_reconciled_not_duplicated => an_ambiguous_push_is_reconciled_not_duplicated;
    a_business_rejection_is_dead_lettered_and_can_be_redriven => a_business_rejection_is_dead_lettered_and_can_be_redriven;
    the_supplier_callback_closes_the_loop => the_supplier_callback_closes_the_loop;
    following_an_order_reschedule_logistics_photos_and_cancel => following_an_order_reschedule_logistics_photos_and_cancel;
    concurrent_cancels_of_a_paid_local_order_restock_once => concurrent_cancels_restock_once;
    pay_racing_cancel_has_one_winner => pay_racing_cancel_has_one_winner;
    a_confirmation_during_the_push_is_kept => a_confirmation_during_the_push_is_kept;
    a_store_failure_mid_job_lets_the_lease_expire => a_store_failure_mid_job_lets_the_lease_expire;
    a_product_the_supplier_does_not_carry_is_accepted_then_rejected_by_callback => a_product_the_supplier_does_not_carry_is_accepted_then_rejected_by_callback;
    an_orphaned_push_refused_in_unknown_words_fails_then_the_callback_confirms_it => an_orphaned_push_refused_in_unknown_words_fails_then_the_callback_confirms_it;
    a_cancel_resent_after_its_worker_died_is_done_not_failed => a_cancel_resent_after_its_worker_died_is_done_not_failed;
}

/// A worker sends a cancel (Y2), the supplier takes it, and the worker dies before it
/// records anything. The job's next claim sends the cancel again and the supplier
/// refuses the repeat: the request is in its hands, so the job is done (not failed, not
/// dead-lettered) and the order waits at `cancel_pending` for the supplier's answer, as
/// after any cancel.
async fn a_cancel_resent_after_its_worker_died_is_done_not_failed(db: &Db) {
    let (sb, config, app) = setup(db, 30).await;
    sb.sandbox
        .set_callback_url(format!("{}/callbacks/haier", app.base));
    // The supplier decides only when asked to.
    sb.post("/_sandbox/orders/config", json!({"callback_delay_ms": 600_000, "confirm_rate": 1.0, "reject_rate": 0.0, "oos_rate": 0.0, "duplicate_callback_rate": 0.0, "partial_cancel_rate": 0.0})).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let (_, order) = app
        .post("/api/v1/orders", checkout("X1", json!([line(&sku, 1)])))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let so_id = order["so_id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    let worker = sb.worker(db, &config);
    drain(&worker, 10).await;
    let (status, order) = app
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            json!({"reason": "客户取消"}),
        )
        .await;
    assert_eq!(
        (status, order["supplier_status"].as_str()),
        (200, Some("cancel_pending")),
        "{order}"
    );

    // Another worker claims the cancel, sends it, and dies: its lease has run out.
    let lapsed = supplyhub::types::UtcTime::from_micros(
        supplyhub::types::UtcTime::now().as_micros() - 1_000_000,
    )
    .unwrap();
    let claimed = supplyhub::store::jobs::claim_due(db, "dead-worker", lapsed, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "cancel_order");
    sb.ylh(&config)
        .cancel_order(&so_id, "客户取消", None)
        .await
        .unwrap();

    drain(&worker, 10).await;
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "cancel_pending", "{detail}");
    let job = supplyhub::store::jobs::get_job(db, &claimed[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.status, job.attempts),
        (supplyhub::status::JobStatus::Done, 2),
        "{job:?}"
    );
    let attempts = supplyhub::store::jobs::attempts_of_job(db, &job.id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "the dead worker recorded nothing");
    assert_eq!(attempts[0].outcome, "done", "{attempts:?}");
    let stats = sb.stats().await;
    assert_eq!(stats["cancels_received"], 1, "{stats}");
    assert_eq!(stats["calls"]["ylh_cancel_order"], 2, "{stats}");

    // The supplier's answer settles the order.
    sb.post(&format!("/_sandbox/orders/{so_id}/advance"), json!({}))
        .await;
    let detail = wait_supplier_status(&app, &id, "cancelled").await;
    assert_eq!(detail["status"], "cancelled");
    sb.sandbox.shutdown().await.unwrap();
}

async fn a_product_the_supplier_does_not_carry_is_accepted_then_rejected_by_callback(db: &Db) {
    let (sb, config, app) = setup(db, 30).await;
    sb.sandbox
        .set_callback_url(format!("{}/callbacks/haier", app.base));
    sb.post("/_sandbox/orders/config", json!({"callback_delay_ms": 20, "confirm_rate": 1.0, "reject_rate": 0.0, "oos_rate": 0.0, "duplicate_callback_rate": 0.0})).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let (status, order) = app
        .post("/api/v1/orders", checkout("U1", json!([line(&sku, 2)])))
        .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    // The supplier stops carrying the product before the order reaches it.
    let r = sb
        .http
        .delete(sb.url(&format!("/_sandbox/catalog/{sku}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    app.post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    drain(&sb.worker(db, &config), 10).await;

    // Y1 accepted it (protocol §0.3: it checks the product afterwards)...
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    let calls: Vec<(&str, &str)> = detail["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["endpoint"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(calls, [("y1_create", "created")], "{detail}");
    // ...and the confirm callback refused it: rejected with FailMsg, holds released.
    let detail = wait_supplier_status(&app, &id, "rejected").await;
    assert_eq!(detail["status"], "cancelled");
    let message = detail["supplier_message"].as_str().unwrap();
    assert!(
        message.contains("商品不存在") && message.contains(&sku),
        "{message}"
    );
    assert!(detail["retail_order_no"].is_null(), "{detail}");
    let holds: Vec<&str> = detail["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(holds, ["released"]);
    assert_eq!(
        get_pool(db, &sku, COUNTY).await.unwrap().unwrap().held,
        0,
        "released holds leave nothing held"
    );
    // Nothing to follow at the supplier: no order number.
    let (status, err) = app
        .get(&format!("/api/v1/orders/{id}/delivery-photos"))
        .await;
    assert_eq!(status, 409, "{err}");
    sb.sandbox.shutdown().await.unwrap();
}

async fn an_orphaned_push_refused_in_unknown_words_fails_then_the_callback_confirms_it(db: &Db) {
    let (sb, config, app) = setup(db, 30).await;
    sb.sandbox
        .set_callback_url(format!("{}/callbacks/haier", app.base));
    // The supplier words its duplicate refusal in a way the hub is not told about, and
    // decides only when asked to.
    sb.post("/_sandbox/orders/config", json!({"callback_delay_ms": 600_000, "confirm_rate": 1.0, "reject_rate": 0.0, "oos_rate": 0.0, "duplicate_callback_rate": 0.0, "duplicate_message": "单据{soId}已推送过，请勿再次提交"})).await;
    let sku = procurable_skus(&app, 1).await.remove(0);
    set_supplier_stock(&sb, &sku, 10).await;
    let (_, order) = app
        .post("/api/v1/orders", checkout("W1", json!([line(&sku, 1)])))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    // Recorded, then answered 503: the push is orphaned; its resend is refused.
    sb.post(
        "/_sandbox/faults/next",
        json!({"fault": "server_error", "endpoint": "ylh_create_order", "after_processing": true}),
    )
    .await;
    drain(&sb.worker(db, &config), 20).await;
    let (_, detail) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail["supplier_status"], "push_failed", "{detail}");
    assert!(
        detail["supplier_message"]
            .as_str()
            .unwrap()
            .contains("已推送过"),
        "the supplier's words: {detail}"
    );
    assert_eq!(detail["jobs"][0]["status"], "dead");
    let theirs = sandbox_orders(&sb).await;
    assert_eq!(theirs.len(), 1, "once at the supplier");

    // The supplier's confirm callback is the truth: it still applies.
    let so_id = theirs[0]["soId"].as_str().unwrap();
    sb.post(&format!("/_sandbox/orders/{so_id}/advance"), json!({}))
        .await;
    let detail = wait_supplier_status(&app, &id, "confirmed").await;
    assert_eq!(detail["retail_order_no"], theirs[0]["retailOrderNo"]);
    assert_eq!(detail["holds"][0]["status"], "settled");
    sb.sandbox.shutdown().await.unwrap();
}
