//! The admin page in headless Chromium, driven over WebDriver (`chromedriver`) with
//! fantoccini: sign in, read the dashboard, start a sync and watch a run's progress
//! change without a reload, redrive a dead letter, look up stock by address, replay a
//! webhook event and resend a delivery, create and disable a user, create and revoke an
//! API key, edit a schedule (a bad cron expression said on the page). Each step saves a
//! screenshot under `<target>/tmp/admin-browser/`.
//!
//! Every page works without JavaScript errors: the session keeps the browser's log
//! (`goog:loggingPrefs`), read through chromedriver's log command, and each step fails
//! on any error the page logged (a script error, `console.error`, a load or request that
//! failed, a Content-Security-Policy violation). The test first proves the collector
//! sees each of those kinds, then visits every admin page.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them when missing). Without them the test fails
//! and says so. `SUPPLYHUB_CHROMIUM` and `SUPPLYHUB_CHROMEDRIVER` name other binaries.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::json;
use supplyhub::access::AccessState;
use supplyhub::clock::Clock;
use supplyhub::config::{AccessConfig, OrdersConfig};
use supplyhub::jobs::Worker;
use supplyhub::store::Db;
use supplyhub::sync::NoProgress;
use supplyhub::systems::crypto::KeyRing;
use supplyhub::systems::live::LiveSupplier;
use supplyhub::webhooks::outbound::{Deliverer, EventType};

use crate::helpers::{TestApp, TestSandbox, catalog_only};
use crate::webhooks as inbound;
use crate::webhooks_out as outbound;

const ADMIN_TOKEN: &str = "browser-test-bootstrap-token-93d1";
const PASSWORD: &str = "correct horse battery";
/// How long the browser waits for the page to show something.
const PATIENCE: Duration = Duration::from_secs(30);

/// The first of `names` found on `PATH` (or `/usr/lib/chromium/`), or `env`'s value.
fn binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/lib/chromium"));
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// A chromedriver this test started, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let missing = "the admin page's browser test needs headless Chromium and chromedriver: \
                   install them (Debian: apt-get install chromium chromium-driver; .ci/run \
                   does this) or name them in SUPPLYHUB_CHROMIUM and SUPPLYHUB_CHROMEDRIVER";
    let driver = binary("SUPPLYHUB_CHROMEDRIVER", &["chromedriver"])
        .unwrap_or_else(|| panic!("chromedriver not found: {missing}"));
    let port = crate::helpers::free_port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} could not start: {e}: {missing}", driver.display()));
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver) -> Client {
    let chromium = binary(
        "SUPPLYHUB_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .unwrap_or_else(|| {
        panic!(
            "chromium not found: the admin page's browser test needs headless Chromium \
             (Debian: apt-get install chromium chromium-driver)"
        )
    });
    let caps = json!({
        // Keep the page's console and errors for `browser_log`.
        "goog:loggingPrefs": {"browser": "ALL"},
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-US"]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    // chromedriver takes a moment to listen.
    let mut last = None;
    for _ in 0..100 {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return client,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no WebDriver session from chromedriver: {last:?}");
}

/// Saves what the browser shows as `<target>/tmp/admin-browser/<name>.png`.
async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-browser");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    match client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let source = client.source().await.unwrap_or_default();
            panic!("the page never showed {css}: {e}\n{source}");
        }
    }
}

/// htmx loaded under the page's Content-Security-Policy.
async fn assert_scripts_ok(client: &Client) {
    let kind = client
        .execute("return typeof window.htmx", vec![])
        .await
        .unwrap();
    assert_eq!(kind, "object", "htmx is loaded");
}

/// chromedriver's command for a log: `POST /session/{id}/se/log` with `{"type":
/// "browser"}` answers the entries of the browser's log since the last read (the
/// session must ask for them with `goog:loggingPrefs`).
#[derive(Debug)]
struct ReadBrowserLog;

impl WebDriverCompatibleCommand for ReadBrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// An entry of the browser's log.
#[derive(Debug, Clone, Deserialize)]
struct LogEntry {
    /// `SEVERE` (errors), `WARNING`, `INFO`, `DEBUG`.
    level: String,
    /// `javascript`, `console-api`, `network`, `security`, …
    #[serde(default)]
    source: String,
    message: String,
}

impl LogEntry {
    fn is_error(&self) -> bool {
        self.level == "SEVERE"
    }
}

/// The entries the browser logged since the last read (and they are gone from it).
async fn browser_log(client: &Client) -> Vec<LogEntry> {
    let value = client
        .issue_cmd(ReadBrowserLog)
        .await
        .expect("chromedriver hands out the browser's log");
    serde_json::from_value(value).expect("a list of log entries")
}

/// Fails when the page logged an error since the last read: a script error,
/// `console.error`, a failed load or request, a Content-Security-Policy violation.
async fn assert_no_js_errors(client: &Client, step: &str) {
    let errors: Vec<LogEntry> = browser_log(client)
        .await
        .into_iter()
        .filter(LogEntry::is_error)
        .collect();
    assert!(
        errors.is_empty(),
        "{step}: the page logged errors: {errors:#?}"
    );
}

/// Reads the log until an error containing each of `expected` has been logged; fails
/// on any other error. The entries seen.
async fn expect_js_errors(client: &Client, step: &str, expected: &[&str]) -> Vec<LogEntry> {
    let mut seen: Vec<LogEntry> = Vec::new();
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        seen.extend(
            browser_log(client)
                .await
                .into_iter()
                .filter(LogEntry::is_error),
        );
        let missing: Vec<&&str> = expected
            .iter()
            .filter(|e| !seen.iter().any(|s| s.message.contains(**e)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{step}: the browser's log never showed {missing:?}; it has {seen:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let others: Vec<&LogEntry> = seen
        .iter()
        .filter(|s| !expected.iter().any(|e| s.message.contains(e)))
        .collect();
    assert!(others.is_empty(), "{step}: other errors: {others:#?}");
    seen
}

/// Opens `path` and checks that it rendered, htmx loaded, and nothing logged an error.
async fn visit(client: &Client, base: &str, path: &str, ready: &str) {
    client.goto(&format!("{base}{path}")).await.unwrap();
    wait_for(client, ready).await;
    assert_scripts_ok(client).await;
    assert_no_js_errors(client, path).await;
}

/// The collector catches what it must: `console.error`, an uncaught exception, an
/// inline script the Content-Security-Policy refuses, and a request that fails; and
/// once read, it is clear.
async fn the_collector_sees_errors(client: &Client, base: &str) {
    assert_no_js_errors(client, "before the probes").await;
    client
        .execute("console.error('probe: console.error')", vec![])
        .await
        .unwrap();
    client
        .execute(
            "setTimeout(() => { throw new Error('probe: uncaught'); }, 0)",
            vec![],
        )
        .await
        .unwrap();
    client
        .execute(
            "const s = document.createElement('script'); \
             s.textContent = 'window.probeRan = true'; document.body.appendChild(s);",
            vec![],
        )
        .await
        .unwrap();
    client
        .execute(
            &format!("fetch('{base}/admin/no-such-page').catch(() => {{}})"),
            vec![],
        )
        .await
        .unwrap();
    let seen = expect_js_errors(
        client,
        "the probes",
        &[
            "probe: console.error",
            "probe: uncaught",
            "Content Security Policy",
            "/admin/no-such-page",
        ],
    )
    .await;
    let sources: std::collections::BTreeSet<&str> =
        seen.iter().map(|e| e.source.as_str()).collect();
    assert!(
        sources.contains("console-api") && sources.contains("javascript"),
        "{seen:#?}"
    );
    let ran = client
        .execute("return window.probeRan === true", vec![])
        .await
        .unwrap();
    assert_eq!(ran, false, "the CSP refused the inline script");
    assert_no_js_errors(client, "after the probes").await;
}

async fn the_admin_page_in_a_browser(db: &Db) {
    let backend = match db {
        Db::Sqlite(_) => "sqlite",
        Db::Postgres(_) => "postgres",
    };
    let driver = start_driver();

    // A hub over the sandbox: a synced catalog, a supplier system, an admin user, stock
    // in one county, and a dead letter (with the webhook event below, two).
    let sb = TestSandbox::start(10, 9).await;
    let config = sb.config(&[]);
    let run = sb
        .syncer(db, &config)
        .run(&catalog_only(true), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success");
    let ring = Arc::new(KeyRing::ephemeral());
    let system =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sb.sandbox.env())
            .await
            .unwrap();
    let mut state = sb.app_state(db, &config);
    state.secrets = Arc::clone(&ring);
    state.webhooks = outbound::settings(false);
    state.webhooks_in = inbound::small();
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(ADMIN_TOKEN)));
    state.access = AccessState::new(AccessConfig::default(), true);
    let app = TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await;
    let (status, body) = app
        .post(
            "/api/v1/users",
            json!({"username": "ada", "password": PASSWORD, "role": "admin"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A webhook event that died (its mapping reads a field the system does not send),
    // and a delivery to an endpoint that took it.
    let pos = inbound::system(
        &app,
        "pos-browser",
        "pos",
        json!({"mapping": inbound::sale_mapping("$.order.total")}),
    )
    .await;
    let secret = inbound::add_secret(&app, &pos).await;
    let (status, accepted) = inbound::deliver(
        &app,
        &pos,
        &secret,
        "msg_browser_1",
        inbound::now(),
        &inbound::foreign_sale("B-1"),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let event = accepted["id"].as_str().unwrap().to_owned();
    inbound::drain(db).await;
    let clock = Clock::system();
    let worker = Worker::new(
        db.clone(),
        LiveSupplier::none(),
        OrdersConfig::default(),
        "browser-webhook-worker",
    )
    .with_clock(clock.clone())
    .with_webhooks(Arc::new(
        Deliverer::new(
            db.clone(),
            Arc::clone(&ring),
            outbound::settings(false),
            clock.clone(),
        )
        .unwrap(),
    ));
    let receiver = outbound::Receiver::start(&clock, 200).await;
    let (status, member) = app
        .post(
            "/api/v1/systems",
            json!({"name": "Members", "kind": "member"}),
        )
        .await;
    assert_eq!(status, 201, "{member}");
    let (status, endpoint) = app
        .post(
            &format!(
                "/api/v1/systems/{}/endpoints",
                member["id"].as_str().unwrap()
            ),
            json!({"url": receiver.url, "event_types": ["member.updated"]}),
        )
        .await;
    assert_eq!(status, 201, "{endpoint}");
    outbound::emit_now(db, EventType::MemberUpdated, json!({"member_id": "m-1"}))
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let delivery = supplyhub::store::webhooks::list_deliveries(db, &Default::default(), None, 1)
        .await
        .unwrap()
        .remove(0)
        .id;

    let (_, products) = app.list_products("?limit=50").await;
    let sku = products["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["is_procurable"] == true)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.post(
        "/_sandbox/stock",
        json!({"productCode": sku, "countyCode": "320106",
               "warehouses": [{"secCode": "NJ01", "stock": 9, "warehouseGrade": "0"}]}),
    )
    .await;
    let (status, order) = app
        .post(
            "/api/v1/orders",
            json!({
                "order_number": format!("WEB-{backend}"),
                "lines": [{"sku": sku, "quantity": 2, "retail_price": "1999.00", "discount_amount": "0"}],
                "consignee": {"name": "张三", "mobile": "13900001111"},
                "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "detail": "北京西路1号"},
            }),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let order = order["id"].as_str().unwrap().to_owned();
    let mut tx = db.begin().await.unwrap();
    supplyhub::store::jobs::enqueue(
        &mut tx,
        "push_order",
        &json!({"order_id": "ord_browser_dead"}),
        "push_order:ord_browser_dead",
        3,
        supplyhub::types::UtcTime::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let job = supplyhub::store::jobs::jobs_of_order(db, "ord_browser_dead")
        .await
        .unwrap()
        .remove(0);
    match db {
        Db::Sqlite(p) => sqlx::query("UPDATE jobs SET status = 'dead' WHERE id = $1")
            .bind(&job.id)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query("UPDATE jobs SET status = 'dead' WHERE id = $1")
            .bind(&job.id)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();

    let client = browser(&driver).await;

    // Sign in: the dashboard sends an unknown browser to the sign-in page.
    client.goto(&format!("{}/admin", app.base)).await.unwrap();
    let form = wait_for(&client, "form#login").await;
    assert!(client.current_url().await.unwrap().path() == "/admin/login");
    screenshot(&client, &format!("{backend}-1-sign-in")).await;
    fill_and_submit(&form, &[("username", "ada"), ("password", PASSWORD)]).await;

    // The dashboard: the system, the queue with its dead letter.
    let who = wait_for(&client, "#who").await;
    assert_eq!(who.text().await.unwrap(), "ada (admin)");
    assert_scripts_ok(&client).await;
    let systems = wait_for(&client, "#systems").await.text().await.unwrap();
    assert!(
        systems.contains("sandbox") && systems.contains("supplier"),
        "{systems}"
    );
    let dead = wait_for(&client, "#dead-letters")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(dead, "2", "the push job and the webhook event's processing");
    screenshot(&client, &format!("{backend}-2-dashboard")).await;
    the_collector_sees_errors(&client, &app.base).await;

    // A run in progress: its page polls, and shows the run's end without a reload.
    supplyhub::store::sync_runs::insert_system_run(
        db,
        "run_0_browser",
        "full",
        &json!({}),
        &system,
    )
    .await
    .unwrap();
    client
        .goto(&format!("{}/admin/sync-runs/run_0_browser", app.base))
        .await
        .unwrap();
    wait_for(&client, "#progress[data-status='pending']").await;
    client
        .execute("document.body.dataset.marker = 'same page'", vec![])
        .await
        .unwrap();
    screenshot(&client, &format!("{backend}-3-run-pending")).await;
    supplyhub::store::sync_runs::finish_run(
        db,
        "run_0_browser",
        supplyhub::status::RunStatus::Partial,
        &Default::default(),
        supplyhub::types::UtcTime::now(),
        0,
        Some("ended while the page watched"),
    )
    .await
    .unwrap();
    wait_for(&client, "#progress[data-status='partial']").await;
    let marker = client
        .execute("return document.body.dataset.marker", vec![])
        .await
        .unwrap();
    assert_eq!(
        marker, "same page",
        "the progress changed in place, not by a reload"
    );
    screenshot(&client, &format!("{backend}-4-run-ended-live")).await;
    assert_no_js_errors(&client, "a run's progress").await;

    // Run now: the page follows the new run to its end.
    client
        .goto(&format!("{}/admin/sync-runs", app.base))
        .await
        .unwrap();
    let run_now = wait_for(&client, "form#run-now").await;
    fill_and_submit(&run_now, &[]).await;
    wait_for(&client, "#progress").await;
    let url = client.current_url().await.unwrap();
    assert!(url.path().starts_with("/admin/sync-runs/run_"), "{url}");
    wait_for(&client, "#progress[data-status='success']").await;
    let read = wait_for(&client, "#count-read").await.text().await.unwrap();
    assert!(read.parse::<i64>().unwrap() > 0, "{read}");
    screenshot(&client, &format!("{backend}-5-run-now")).await;
    assert_no_js_errors(&client, "run now").await;

    // Redrive the dead letter: its row comes back queued.
    client
        .goto(&format!("{}/admin/jobs?status=dead", app.base))
        .await
        .unwrap();
    let button = wait_for(&client, &format!("#job-{} button.redrive", job.id)).await;
    screenshot(&client, &format!("{backend}-6-dead-letters")).await;
    button.click().await.unwrap();
    wait_for(&client, &format!("#job-{} .status.queued", job.id)).await;
    let status = supplyhub::store::jobs::get_job(db, &job.id)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status.as_str(), "queued");
    screenshot(&client, &format!("{backend}-7-redriven")).await;
    assert_no_js_errors(&client, "redrive").await;

    // Stock by address: the matched pieces marked, the pool of the county.
    client
        .goto(&format!("{}/admin/stock", app.base))
        .await
        .unwrap();
    let lookup = wait_for(&client, "form#stock-lookup").await;
    fill_and_submit(
        &lookup,
        &[("address", "南京市鼓楼区北京西路1号"), ("product", &sku)],
    )
    .await;
    let code = wait_for(&client, "#county-code")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(code, "320106");
    let marks = client
        .find_all(Locator::Css("#address-spans mark"))
        .await
        .unwrap();
    let mut marked = Vec::new();
    for m in &marks {
        marked.push(m.text().await.unwrap());
    }
    assert!(marked.iter().any(|m| m == "鼓楼区"), "{marked:?}");
    let pool = wait_for(&client, "#pool").await.text().await.unwrap();
    assert!(pool.contains("capacity 9, held 2"), "{pool}");
    assert_scripts_ok(&client).await;
    screenshot(&client, &format!("{backend}-8-stock")).await;
    assert_no_js_errors(&client, "stock").await;

    // Webhooks in: the dead event replayed, its row back as received.
    visit(
        &client,
        &app.base,
        "/admin/webhook-events",
        &format!("#event-{event}"),
    )
    .await;
    wait_for(&client, &format!("#event-{event} button.replay"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, &format!("#event-{event} .status.received")).await;
    let replayed = supplyhub::store::webhooks_in::get_event(db, &event)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replayed.replays, 1);
    screenshot(&client, &format!("{backend}-9-event-replayed")).await;
    assert_no_js_errors(&client, "replay").await;

    // Webhooks out: the delivery resent, and the worker's second attempt on its page.
    visit(
        &client,
        &app.base,
        "/admin/webhook-deliveries",
        &format!("#delivery-{delivery}"),
    )
    .await;
    wait_for(&client, &format!("#delivery-{delivery} button.resend"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, &format!("#delivery-{delivery} .status.pending")).await;
    // The worker also runs the redriven job and the replayed event.
    assert!(worker.run_once().await.unwrap() >= 1);
    assert_eq!(receiver.got().len(), 2, "sent again");
    visit(
        &client,
        &app.base,
        &format!("/admin/webhook-deliveries/{delivery}"),
        "#attempts",
    )
    .await;
    let attempts = client
        .find_all(Locator::Css("#attempts tbody tr"))
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2);
    screenshot(&client, &format!("{backend}-10-delivery-resent")).await;
    assert_no_js_errors(&client, "resend").await;

    // Users: one created with the form (the page reloads with it), then disabled.
    visit(&client, &app.base, "/admin/users", "form#create-user").await;
    let form = wait_for(&client, "form#create-user").await;
    fill_and_submit(&form, &[("username", "bea"), ("password", PASSWORD)]).await;
    let bea = user_id(&app, "bea").await;
    wait_for(&client, &format!("#user-{bea}")).await;
    wait_for(&client, &format!("#user-{bea} form.toggle button"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, &format!("#user-{bea} .status.inactive")).await;
    screenshot(&client, &format!("{backend}-11-users")).await;
    assert_no_js_errors(&client, "users").await;

    // API keys: one created, its secret shown once and good against the API; revoked.
    visit(&client, &app.base, "/admin/api-keys", "form#create-key").await;
    let form = wait_for(&client, "form#create-key").await;
    fill_and_submit(&form, &[("name", "browser-key")]).await;
    let key = wait_for(&client, "#new-key-secret")
        .await
        .text()
        .await
        .unwrap();
    crate::leaks::learn(&key);
    screenshot(&client, &format!("{backend}-12-key-created")).await;
    let me = app.get_raw("/api/v1/auth/me", Some(&key)).await;
    assert_eq!(me.status().as_u16(), 200);
    wait_for(&client, "#new-key-done")
        .await
        .click()
        .await
        .unwrap();
    let (_, keys) = app.get("/api/v1/api-keys").await;
    let key_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "browser-key")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for(&client, &format!("#key-{key_id} button.revoke"))
        .await
        .click()
        .await
        .unwrap();
    client.accept_alert().await.unwrap();
    wait_for(&client, &format!("#key-{key_id} .status.failed")).await;
    let me = app.get_raw("/api/v1/auth/me", Some(&key)).await;
    assert_eq!(me.status().as_u16(), 401);
    screenshot(&client, &format!("{backend}-13-key-revoked")).await;
    assert_no_js_errors(&client, "API keys").await;

    // Schedules: a bad cron expression is said on the page and saves nothing (the
    // refused request is all the log shows); a good one is saved; then disabled.
    visit(
        &client,
        &app.base,
        "/admin/schedules",
        "#schedule-sch_prices",
    )
    .await;
    let cron_before = schedule_cron(&app).await;
    set_cron(&client, "61 * * * *").await;
    let flash = wait_for(&client, "#flash .flash.error")
        .await
        .text()
        .await
        .unwrap();
    assert!(flash.contains("invalid_cron"), "{flash}");
    expect_js_errors(
        &client,
        "a refused cron",
        &[
            "the server responded with a status of 422",
            "Response Status Error Code 422",
        ],
    )
    .await;
    assert_eq!(schedule_cron(&app).await, cron_before, "nothing saved");
    screenshot(&client, &format!("{backend}-14-bad-cron")).await;
    set_cron(&client, "*/10 * * * *").await;
    let mut shown = String::new();
    for _ in 0..300 {
        shown = wait_for(&client, "#schedule-sch_prices td:nth-child(4) code")
            .await
            .text()
            .await
            .unwrap_or_default();
        if shown == "*/10 * * * *" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown, "*/10 * * * *");
    assert_eq!(schedule_cron(&app).await, "*/10 * * * *");
    wait_for(&client, "#schedule-sch_prices form.toggle button")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, "#schedule-sch_prices .status.inactive").await;
    screenshot(&client, &format!("{backend}-15-schedules")).await;
    assert_no_js_errors(&client, "schedules").await;

    // Every page of the admin page, as an admin sees it: no error logged on any.
    let stock = format!(
        "/admin/stock?address={}&product={sku}",
        "南京市鼓楼区北京西路1号"
    );
    let pages: Vec<(&str, String, &str)> = vec![
        ("/admin", "/admin".to_owned(), "#job-counts"),
        (
            "/admin/sync-runs",
            "/admin/sync-runs".to_owned(),
            "table.runs",
        ),
        (
            "/admin/sync-runs/{id}",
            "/admin/sync-runs/run_0_browser".to_owned(),
            "#progress",
        ),
        ("/admin/jobs", "/admin/jobs?status=dead".to_owned(), "#jobs"),
        ("/admin/orders", "/admin/orders".to_owned(), "#orders"),
        (
            "/admin/orders/{id}",
            format!("/admin/orders/{order}"),
            "#lines",
        ),
        ("/admin/stock", stock, "#resolution"),
        (
            "/admin/schedules",
            "/admin/schedules".to_owned(),
            "#schedules",
        ),
        (
            "/admin/webhook-events",
            "/admin/webhook-events".to_owned(),
            "#webhook-events",
        ),
        (
            "/admin/webhook-deliveries",
            "/admin/webhook-deliveries".to_owned(),
            "#webhook-deliveries",
        ),
        (
            "/admin/webhook-deliveries/{id}",
            format!("/admin/webhook-deliveries/{delivery}"),
            "#attempts",
        ),
        ("/admin/users", "/admin/users".to_owned(), "#users"),
        ("/admin/api-keys", "/admin/api-keys".to_owned(), "#api-keys"),
        ("/admin/audit-log", "/admin/audit-log".to_owned(), "#audit"),
    ];
    for (_, path, ready) in &pages {
        visit(&client, &app.base, path, ready).await;
    }
    // The list is every page the hub serves (the sign-in page is visited below; the
    // assets and the progress fragment are no pages).
    let served: std::collections::BTreeSet<&str> = supplyhub::access::permissions::RULES
        .iter()
        .filter(|r| r.method == "GET" && supplyhub::admin::is_admin_path(r.path))
        .map(|r| r.path)
        .filter(|p| {
            !p.starts_with("/admin/assets/")
                && *p != "/admin/login"
                && *p != "/admin/sync-runs/{id}/progress"
        })
        .collect();
    let visited: std::collections::BTreeSet<&str> = pages.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(visited, served, "every admin page is visited");

    // Sign out: back to the sign-in page, and the dashboard is closed again.
    client.goto(&format!("{}/admin", app.base)).await.unwrap();
    wait_for(&client, "#sign-out").await.click().await.unwrap();
    wait_for(&client, "form#login").await;
    client.goto(&format!("{}/admin", app.base)).await.unwrap();
    wait_for(&client, "form#login").await;
    assert_no_js_errors(&client, "the sign-in page").await;
    client.close().await.unwrap();
}

/// The id of the user named `username`.
async fn user_id(app: &TestApp, username: &str) -> String {
    for _ in 0..300 {
        let (_, users) = app.get("/api/v1/users?limit=100").await;
        if let Some(u) = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == username)
        {
            return u["id"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no user {username} was created");
}

/// The cron expression of `sch_prices`, as the API reads it.
async fn schedule_cron(app: &TestApp) -> String {
    let (status, s) = app.get("/api/v1/schedules/sch_prices").await;
    assert_eq!(status, 200, "{s}");
    s["cron"].as_str().unwrap().to_owned()
}

/// Types `cron` into the row of `sch_prices` and saves it.
async fn set_cron(client: &Client, cron: &str) {
    let form = wait_for(client, "#schedule-sch_prices form.edit-cron").await;
    let input = form.find(Locator::Css("input[name=cron]")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(cron).await.unwrap();
    fill_and_submit(&form, &[]).await;
}

/// Types each `(name, value)` into the input of that name in `form`, then submits it.
async fn fill_and_submit(form: &fantoccini::elements::Element, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        form.find(Locator::Css(&format!("input[name={name}]")))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

crate::on_both_backends! {
    the_admin_page_in_a_browser => the_admin_page_in_a_browser;
}
