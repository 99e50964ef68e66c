//! The order flow follows the active supplier system without a restart: checkout's
//! stock checks, the outbox's pushes and the callbacks' verification use the
//! credentials the registry holds now, against the sandbox over HTTP.

use std::sync::Arc;
use std::time::Duration;

use haier::callback::{CallbackMethod, format_timestamp, sign_callback_form};
use serde_json::{Value, json};
use supplyhub::http::AppState;
use supplyhub::jobs::Worker;
use supplyhub::orders::OrderService;
use supplyhub::store::Db;
use supplyhub::sync::NoProgress;
use supplyhub::systems::crypto::KeyRing;
use supplyhub::systems::live::{LiveOptions, LiveSupplier, SupplierSettings};

use crate::helpers::{TestApp, TestSandbox, catalog_only};
use crate::on_both_backends;

const ADMIN_TOKEN: &str = "live-supplier-admin-token";
const COUNTY: &str = "320106"; // 南京市鼓楼区

/// A hub over `db` whose supplier is the sandbox registered as the active supplier
/// system (the configuration has no supplier at all), with its outbox worker.
struct Hub {
    sb: TestSandbox,
    app: TestApp,
    worker: Worker,
    live: LiveSupplier,
    ring: Arc<KeyRing>,
    system: String,
    sku: String,
}

/// The live supplier of an instance over `db`: reads the revision only when asked to,
/// or on every call with `check_every` zero.
async fn live(db: &Db, ring: &Arc<KeyRing>, check_every: Duration) -> LiveSupplier {
    LiveSupplier::from_registry(
        db.clone(),
        Arc::clone(ring),
        SupplierSettings::default(),
        LiveOptions {
            log: None,
            retry_delays: Some((Duration::from_millis(5), Duration::from_millis(50))),
            check_every: Some(check_every),
            budgets: None,
            health: None,
        },
    )
    .await
    .unwrap()
}

async fn hub(db: &Db) -> Hub {
    let sb = TestSandbox::start(10, 31).await;
    let config = sb.config(&[
        ("SUPPLYHUB_ORDERS__RETRY_BASE_MS", "10"),
        ("SUPPLYHUB_ORDERS__LEASE_SECS", "5"),
    ]);
    let run = sb
        .syncer(db, &config)
        .run(&catalog_only(true), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success", "{:?}", run.error_summary);
    let ring = Arc::new(KeyRing::ephemeral());
    let system =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sb.sandbox.env())
            .await
            .unwrap();
    // A check interval far longer than the test: this instance follows its own changes
    // because its registry tells it, not because time passed.
    let live = live(db, &ring, Duration::from_secs(3600)).await;
    let mut state = AppState::new(db.clone()).with_supplier(live.clone());
    state.orders = OrderService::new(
        db.clone(),
        Arc::clone(&state.resolver),
        live.clone(),
        config.orders.clone(),
    );
    state.secrets = Arc::clone(&ring);
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(ADMIN_TOKEN)));
    let app = TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await;
    let worker = Worker::new(db.clone(), live.clone(), config.orders.clone(), "w1");
    let (_, page) = app.list_products("?limit=200").await;
    let sku = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["is_procurable"] == true)
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .unwrap();
    sb.post(
        "/_sandbox/stock",
        json!({"productCode": sku, "countyCode": COUNTY,
               "warehouses": [{"secCode": "NJ01", "stock": 100, "warehouseGrade": "0"}]}),
    )
    .await;
    Hub {
        sb,
        app,
        worker,
        live,
        ring,
        system,
        sku,
    }
}

impl Hub {
    /// The sandbox's own value of a supplier setting (`SUPPLYHUB_…`).
    fn env(&self, name: &str) -> String {
        self.sb
            .sandbox
            .env()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap()
    }

    async fn patch_secret(&self, name: &str, value: &str) {
        let resp = self
            .app
            .http
            .patch(format!("{}/api/v1/systems/{}", self.app.base, self.system))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"secrets": {name: value}}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            200,
            "{}",
            resp.text().await.unwrap()
        );
    }

    /// A checkout that reads the supplier's stock (`fresh=true`).
    async fn checkout(&self, number: &str) -> (u16, Value) {
        self.app
            .post(
                "/api/v1/orders?fresh=true",
                json!({
                    "order_number": number,
                    "lines": [{"sku": self.sku, "quantity": 1, "retail_price": "1999.00", "discount_amount": "0"}],
                    "consignee": {"name": "张三", "mobile": "13900001111"},
                    "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "town": "宁海路街道", "detail": "北京西路1号"},
                }),
            )
            .await
    }

    /// A paid order, its push job enqueued.
    async fn paid(&self, number: &str) -> String {
        let (status, order) = self.checkout(number).await;
        assert_eq!(status, 201, "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        let (status, paid) = self
            .app
            .post(&format!("/api/v1/orders/{id}/pay"), json!({}))
            .await;
        assert_eq!(status, 200, "{paid}");
        id
    }

    async fn order(&self, id: &str) -> Value {
        let (status, order) = self.app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(status, 200, "{order}");
        order
    }

    async fn run_jobs(&self) {
        while self.worker.run_once().await.unwrap() > 0 {}
    }

    async fn callback(&self, order: &Value, secret: &str) -> Value {
        let data = json!({
            "ExtOrderNo": format!("SO.{}", order["order_number"].as_str().unwrap()),
            "PlatformOrderNo": order["order_number"],
            "State": 1,
        });
        let form = sign_callback_form(
            &self.env("SUPPLYHUB_HAIER_CALLBACK__APP_KEY"),
            secret,
            CallbackMethod::CONFIRM,
            &data.to_string(),
            &format_timestamp(jiff::Timestamp::now()),
        );
        let resp = self
            .app
            .http
            .post(format!("{}/callbacks/haier", self.app.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.json().await.unwrap()
    }
}

/// Checkout's stock check uses the Open Platform secret the active system holds now: a
/// wrong one is refused by the supplier (502 `supplier_auth_failed`), the right one
/// works again; while nothing changes the client (and its token) is reused; another
/// instance over the same database notices the change through its revision check.
async fn checkout_follows_the_open_platform_secret(db: &Db) {
    let hub = hub(db).await;
    let right = hub.env("SUPPLYHUB_HAIER__CLIENT_SECRET");
    let tokens = |stats: &Value| stats["tokens_issued"].as_u64().unwrap();

    let issued = tokens(&hub.sb.stats().await);
    let (status, body) = hub.checkout("LIVE-1").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = hub.checkout("LIVE-2").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        tokens(&hub.sb.stats().await) - issued,
        1,
        "one client, one token, while nothing changes"
    );
    let before = hub.live.snapshot().open_platform.clone().unwrap();

    // Another instance, checking the revision on every call.
    let other = live(db, &hub.ring, Duration::ZERO).await;
    assert!(other.current().await.open_platform.is_some());

    hub.patch_secret("client_secret", "a-wrong-client-secret")
        .await;
    let (status, body) = hub.checkout("LIVE-3").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("supplier_auth_failed")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("a-wrong-client-secret"),
        "{body}"
    );
    assert!(!Arc::ptr_eq(
        &before,
        hub.live.snapshot().open_platform.as_ref().unwrap()
    ));
    let seen = other.current().await.open_platform.clone().unwrap();
    let err = seen
        .stock(&haier::ProductCode::parse(&hub.sku).unwrap(), COUNTY)
        .await
        .unwrap_err();
    assert!(matches!(err, haier::Error::Auth { .. }), "{err}");

    hub.patch_secret("client_secret", &right).await;
    let (status, body) = hub.checkout("LIVE-3").await;
    assert_eq!(status, 201, "{body}");
    let seen = other.current().await.open_platform.clone().unwrap();
    seen.stock(&haier::ProductCode::parse(&hub.sku).unwrap(), COUNTY)
        .await
        .unwrap();

    // A change to another system (not the active supplier) keeps the clients.
    let current = hub.live.snapshot().open_platform.clone().unwrap();
    let (status, body) = hub
        .app
        .post(
            "/api/v1/systems",
            json!({"name": "pos-1", "kind": "pos", "settings": {"base_url": "http://127.0.0.1:9"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = hub.checkout("LIVE-4").await;
    assert_eq!(status, 201, "{body}");
    assert!(Arc::ptr_eq(
        &current,
        hub.live.snapshot().open_platform.as_ref().unwrap()
    ));

    // With the active system set inactive, the hub falls back to its configuration,
    // which here has no supplier.
    let resp = hub
        .app
        .http
        .patch(format!("{}/api/v1/systems/{}", hub.app.base, hub.system))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"status": "inactive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, body) = hub.checkout("LIVE-5").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert!(other.current().await.open_platform.is_none());
}

/// The outbox pushes with the YLH credentials the active system holds when the job runs:
/// refused with a wrong client secret (the push fails), pushed once it is put right and
/// the job redriven, with no restart.
async fn the_push_follows_the_ylh_credentials(db: &Db) {
    let hub = hub(db).await;
    let right = hub.env("SUPPLYHUB_YLH__CLIENT_SECRET");

    hub.patch_secret("ylh_client_secret", "a-wrong-ylh-secret")
        .await;
    let id = hub.paid("PUSH-1").await;
    hub.run_jobs().await;
    let order = hub.order(&id).await;
    assert_eq!(order["supplier_status"], "push_failed", "{order}");
    let job = order["jobs"][0].clone();
    assert_eq!(job["status"], "dead", "{job}");
    assert!(!order.to_string().contains("a-wrong-ylh-secret"), "{order}");

    hub.patch_secret("ylh_client_secret", &right).await;
    let (status, body) = hub
        .app
        .post(
            &format!("/api/v1/jobs/{}/redrive", job["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    hub.run_jobs().await;
    let order = hub.order(&id).await;
    assert_eq!(order["supplier_status"], "pushed", "{order}");
    let created: Vec<&Value> = order["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["endpoint"] == "y1_create")
        .collect();
    assert_eq!(
        created
            .iter()
            .map(|c| c["outcome"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["auth", "created"],
        "refused with the wrong secret, taken with the right one: {order}"
    );

    // A new paid order is pushed straight away.
    let id = hub.paid("PUSH-2").await;
    hub.run_jobs().await;
    assert_eq!(hub.order(&id).await["supplier_status"], "pushed");
}

/// Callbacks are verified with the callback secret the active system holds now.
async fn callbacks_follow_the_callback_secret(db: &Db) {
    let hub = hub(db).await;
    let old = hub.env("SUPPLYHUB_HAIER_CALLBACK__SECRET");
    let id = hub.paid("CB-1").await;
    hub.run_jobs().await;
    let order = hub.order(&id).await;
    assert_eq!(order["supplier_status"], "pushed", "{order}");

    hub.patch_secret("callback_secret", "a-new-callback-secret")
        .await;
    let reply = hub.callback(&order, &old).await;
    assert_eq!(reply["success"], false, "{reply}");
    assert_eq!(reply["data"]["statusCode"], 401, "{reply}");
    assert_eq!(hub.order(&id).await["supplier_status"], "pushed");

    let reply = hub.callback(&order, "a-new-callback-secret").await;
    assert_eq!(reply["success"], true, "{reply}");
    assert_eq!(hub.order(&id).await["supplier_status"], "confirmed");
}

/// Calls made through the clients stay attributed across a rebuild: a sync run's calls
/// before and after a change of the active system are all recorded under the run, by
/// the one call log every client built reports to.
async fn rebuilt_clients_report_to_the_same_call_log(db: &Db) {
    let hub = hub(db).await;
    let log = supplyhub::calllog::CallLog::start(db.clone(), supplyhub::calllog::OPEN_PLATFORM);
    let logged = LiveSupplier::from_registry(
        db.clone(),
        Arc::clone(&hub.ring),
        SupplierSettings::default(),
        LiveOptions {
            log: Some(log.clone()),
            retry_delays: Some((Duration::from_millis(5), Duration::from_millis(50))),
            check_every: Some(Duration::ZERO),
            budgets: None,
            health: None,
        },
    )
    .await
    .unwrap();
    let code = haier::ProductCode::parse(&hub.sku).unwrap();
    let stock = || async {
        let client = logged.current().await.open_platform.clone().unwrap();
        supplyhub::calllog::in_sync_run("run_live".to_owned(), client.stock(&code, COUNTY)).await
    };
    stock().await.unwrap();
    hub.patch_secret("client_secret", "a-wrong-client-secret")
        .await;
    assert!(matches!(
        stock().await.unwrap_err(),
        haier::Error::Auth { .. }
    ));
    log.flush().await;
    let calls = supplyhub::store::calls::calls_of_sync_run(db, "run_live", None, 100)
        .await
        .unwrap();
    let seen: Vec<(String, String)> = calls
        .iter()
        .map(|c| (c.call.endpoint.clone(), c.call.outcome.clone()))
        .collect();
    assert!(
        seen.contains(&("h3_stock".to_owned(), "ok".to_owned())),
        "the first client's call: {seen:?}"
    );
    assert!(
        seen.iter().any(|(e, o)| e == "token" && o == "auth"),
        "the rebuilt client's refused token call: {seen:?}"
    );
    assert!(calls.iter().all(|c| c.call.system == "haier_open_platform"));
}

on_both_backends! {
    rebuilt_clients_report_to_the_same_call_log => rebuilt_clients_report_to_the_same_call_log;
    checkout_follows_the_open_platform_secret => checkout_follows_the_open_platform_secret;
    the_push_follows_the_ylh_credentials => the_push_follows_the_ylh_credentials;
    callbacks_follow_the_callback_secret => callbacks_follow_the_callback_secret;
}
