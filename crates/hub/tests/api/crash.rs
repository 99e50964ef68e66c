//! The hub process is killed at random points while it pushes 200 orders, and restarted;
//! afterwards every paid order exists at the supplier exactly once and every order's
//! status agrees with the supplier's.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use supplyhub::sync::NoProgress;

use crate::helpers::{TestDb, TestSandbox, catalog_only};

const ORDERS: usize = 200;
const COUNTY: &str = "320106";

struct Hub {
    child: Option<Child>,
    env: Vec<(String, String)>,
    addr: String,
    starts: usize,
}

impl Hub {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_supplyhub"))
            .args(["serve", "--listen", &self.addr])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the hub");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: no shutdown, no cleanup, whatever it was doing.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether the supplier holds a create call it has not yet answered: counted on arrival,
/// not yet recorded as an order, refused as a duplicate or refused for its token.
async fn create_in_flight(http: &reqwest::Client, stats_url: &str) -> bool {
    let Ok(resp) = http.get(stats_url).send().await else {
        return false;
    };
    let Ok(stats) = resp.json::<Value>().await else {
        return false;
    };
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    n(&stats["calls"]["ylh_create_order"])
        > n(&stats["orders_received"]) + n(&stats["duplicates_refused"]) + n(&stats["unauthorized"])
}

/// Sends until the hub answers (it may be down or restarting); fails when no hub has
/// answered for two minutes (one that cannot start, say), rather than waiting for ever.
async fn send(http: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "no hub answered {url} for two minutes"
        );
        if let Ok(resp) = http
            .post(url)
            .json(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            let status = resp.status().as_u16();
            if let Ok(v) = resp.json::<Value>().await
                && status < 500
            {
                return (status, v);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The database URL is handed to the hub's processes, so these tests take the whole
/// [`TestDb`] rather than the `on_both_backends!` pool.
mod killed_hubs_push_every_paid_order_exactly_once {
    use crate::helpers::TestDb;

    /// The variants run one at a time: each starts and kills hub processes, which is
    /// heavy enough on a small machine.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let _one = ONE_AT_A_TIME.lock().await;
        let t = TestDb::sqlite().await;
        super::killed_hubs_push_every_paid_order_exactly_once(&t).await;
        t.cleanup().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let _one = ONE_AT_A_TIME.lock().await;
        let t = TestDb::postgres().await;
        super::killed_hubs_push_every_paid_order_exactly_once(&t).await;
        t.cleanup().await;
    }
}

async fn killed_hubs_push_every_paid_order_exactly_once(t: &TestDb) {
    let sb = TestSandbox::start_with(sandbox::SandboxConfig {
        products: 30,
        seed: 17,
        rate_limit: 5000,
        callback_delay: Duration::from_millis(50),
        callback_attempts: 60,
        callback_retry_backoff: Duration::from_millis(100),
        logistics_step: Duration::from_secs(3600),
        hang: Duration::from_millis(300),
        ..sandbox::SandboxConfig::default()
    })
    .await;
    // Most creates take 300 ms at the supplier, which records them even when the caller
    // is gone: kills land mid-push, where only reconciliation prevents a duplicate.
    sb.post(
        "/_sandbox/faults/next",
        json!({"fault": "hang", "endpoint": "ylh_create_order", "count": 150}),
    )
    .await;
    // The supplier refuses a repeated soId in words unlike any default pattern; the
    // hub is told them in its configuration, and must still push each order once.
    sb.post(
        "/_sandbox/orders/config",
        json!({"duplicate_message": "单据{soId}已推送过，请勿再次提交"}),
    )
    .await;
    let mut settings: Vec<(String, String)> = sb.sandbox.env();
    settings.extend(
        [
            ("SUPPLYHUB_DATABASE_URL", t.url.as_str()),
            ("SUPPLYHUB_ORDERS__LEASE_SECS", "1"),
            ("SUPPLYHUB_ORDERS__RETRY_BASE_MS", "50"),
            // Each claim of an orphaned job counts as an attempt; here that is the point,
            // not a reason to dead-letter.
            ("SUPPLYHUB_ORDERS__PUSH_MAX_ATTEMPTS", "1000"),
            ("SUPPLYHUB_YLH__DUPLICATE_PATTERNS", r#"["已推送过"]"#),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let config = supplyhub::config::Config::from_settings(&settings).unwrap();
    let opts = catalog_only(false);
    sb.syncer(&t.db, &config)
        .run(&opts, &NoProgress)
        .await
        .unwrap();
    let sku = sb.saleable_with_stock(COUNTY, 100_000).await;

    let port = crate::helpers::free_port();
    let addr = format!("127.0.0.1:{port}");
    sb.sandbox
        .set_callback_url(format!("http://{addr}/callbacks/haier"));
    let mut hub = Hub {
        child: None,
        env: settings,
        addr: addr.clone(),
        starts: 0,
    };
    hub.start();

    // Check out and pay 200 orders while a killer restarts the hub at random moments.
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    // It goes on killing after the last payment, while pushes and callbacks are in
    // flight, until it has killed at least 15 times. Each hub is killed only once it
    // serves, so every life makes some progress however slow the machine is. Every
    // other kill is aimed: it waits until the supplier holds a create in flight (the
    // call arrived, the order is not yet recorded), so the supplier records an order
    // whose sender died; the others land at a random moment.
    let probe = http.clone();
    let health = format!("{base}/healthz");
    let stats_url = sb.url("/_sandbox/stats");
    let killer = tokio::spawn(async move {
        let mut kills = 0;
        let mut aimed = 0;
        let mut done = false;
        while !(done && kills >= 15) && kills < 80 {
            while probe
                .get(&health)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let moment = async {
                if kills % 2 == 1 {
                    let deadline = Instant::now() + Duration::from_secs(3);
                    while Instant::now() < deadline {
                        if create_in_flight(&probe, &stats_url).await {
                            return true;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    false
                } else {
                    let pause = Duration::from_millis(rand::random_range(40..400));
                    tokio::time::sleep(pause).await;
                    false
                }
            };
            tokio::select! {
                hit = moment => {
                    hub.kill();
                    kills += 1;
                    aimed += usize::from(hit);
                    hub.start();
                }
                _ = &mut done_rx, if !done => done = true,
            }
        }
        (hub, kills, aimed)
    });
    for i in 0..ORDERS {
        let body = json!({
            "order_number": format!("K{i:04}"),
            "lines": [{"sku": sku, "quantity": 1 + (i % 2), "retail_price": "2999.00", "discount_amount": "99.00"}],
            "consignee": {"name": "李四", "mobile": "13800002222"},
            "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "detail": "中山路1号"},
        });
        let (status, order) = send(&http, &format!("{base}/api/v1/orders"), &body).await;
        assert!(status == 200 || status == 201, "{status}: {order}");
        let id = order["id"].as_str().unwrap();
        let (status, paid) =
            send(&http, &format!("{base}/api/v1/orders/{id}/pay"), &json!({})).await;
        assert_eq!(status, 200, "{paid}");
    }
    let _ = done_tx.send(());
    let (mut hub, kills, aimed) = killer.await.unwrap();
    assert!(kills >= 15, "the hub was killed only {kills} times");
    assert!(aimed > 0, "no kill landed while a create was in flight");

    // Let the last hub finish: every push done and every callback applied.
    let deadline = Instant::now() + Duration::from_secs(300);
    let (ours, theirs) = loop {
        let ours = supplyhub::store::orders::all_orders(&t.db).await.unwrap();
        let theirs: Vec<Value> = sb.get("/_sandbox/orders").await["orders"]
            .as_array()
            .unwrap()
            .clone();
        let settled = ours.iter().all(|o| {
            matches!(
                o.supplier_status.as_str(),
                "confirmed" | "rejected" | "out_of_stock"
            )
        });
        if settled && theirs.len() >= ORDERS {
            break (ours, theirs);
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {:?}",
            ours.iter()
                .map(|o| &o.supplier_status)
                .collect::<BTreeSet<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    hub.kill();

    assert_eq!(ours.len(), ORDERS);
    assert!(
        ours.iter().all(|o| o.status != "held"),
        "every order was paid"
    );
    let by_so_id: BTreeMap<&str, &Value> = theirs
        .iter()
        .map(|o| (o["soId"].as_str().unwrap(), o))
        .collect();
    assert_eq!(theirs.len(), ORDERS, "no order twice at the supplier");
    assert_eq!(by_so_id.len(), ORDERS, "every soId once");
    for o in &ours {
        let t = by_so_id
            .get(o.so_id.as_str())
            .unwrap_or_else(|| panic!("{} never reached the supplier", o.so_id));
        assert_eq!(
            o.retail_order_no.as_deref(),
            t["retailOrderNo"].as_str(),
            "{} ({})",
            o.so_id,
            o.supplier_status
        );
        let expected = match t["status"].as_str().unwrap() {
            "confirmed" | "shipped" | "delivered" => "confirmed",
            other => other,
        };
        assert_eq!(o.supplier_status, expected, "{}", o.so_id);
    }
    // No hold is left behind: every paid order's holds were settled or released.
    let pool = supplyhub::store::holds::get_pool(&t.db, &sku, COUNTY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pool.held, 0, "holds left committed: {pool:?}");
    let stats = sb.stats().await;
    assert_eq!(stats["orders_received"].as_u64().unwrap() as usize, ORDERS);
    // Orders whose sender died mid-push were reconciled: by the supplier's callback
    // reaching the next hub first, or by re-sending the soId and being told the
    // supplier already held it.
    let mut by_callback = 0;
    let mut by_so_id = 0;
    for o in &ours {
        for job in supplyhub::store::jobs::jobs_of_order(&t.db, &o.id)
            .await
            .unwrap()
        {
            let attempts = supplyhub::store::jobs::attempts_of_job(&t.db, &job.id)
                .await
                .unwrap();
            let last = attempts
                .last()
                .and_then(|a| a.detail.as_deref())
                .unwrap_or("");
            assert_eq!(
                job.status, "done",
                "{}: a refused resend must read as already there, not fail",
                o.so_id
            );
            if last.starts_with("already ") {
                by_callback += 1;
            } else if last.starts_with("the supplier already held it") {
                by_so_id += 1;
            }
        }
    }
    assert!(
        by_so_id <= stats["duplicates_refused"].as_u64().unwrap() as usize,
        "a reconciliation by soId without a refused duplicate: {stats}"
    );
    assert!(
        by_callback + by_so_id > 0,
        "no push was reconciled after a kill: {stats}"
    );
    eprintln!(
        "crash test: {kills} kills ({aimed} aimed at a create in flight); \
         {by_callback} pushes settled by an earlier callback, {by_so_id} by a refused duplicate"
    );
    sb.sandbox.shutdown().await.unwrap();
}
