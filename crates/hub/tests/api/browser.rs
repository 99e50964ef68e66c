//! The admin page in headless Chromium, driven over WebDriver (`chromedriver`) with
//! fantoccini: sign in, read the dashboard, start a sync and watch a run's progress
//! change without a reload, redrive a dead letter, look up stock by address. Each step
//! saves a screenshot under `<target>/tmp/admin-browser/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them when missing). Without them the test fails
//! and says so. `SUPPLYHUB_CHROMIUM` and `SUPPLYHUB_CHROMEDRIVER` name other binaries.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use supplyhub::access::AccessState;
use supplyhub::config::AccessConfig;
use supplyhub::store::Db;
use supplyhub::sync::NoProgress;
use supplyhub::systems::crypto::KeyRing;

use crate::helpers::{TestApp, TestSandbox, catalog_only};

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
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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

async fn the_admin_page_in_a_browser(db: &Db) {
    let backend = match db {
        Db::Sqlite(_) => "sqlite",
        Db::Postgres(_) => "postgres",
    };
    let driver = start_driver();

    // A hub over the sandbox: a synced catalog, a supplier system, an admin user, stock
    // in one county, and a dead letter.
    let sb = TestSandbox::start(10, 9).await;
    let config = sb.config(&[]);
    let run = sb
        .syncer(db, &config)
        .run(&catalog_only(true), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success");
    let ring = KeyRing::ephemeral();
    let system =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sb.sandbox.env())
            .await
            .unwrap();
    let mut state = sb.app_state(db, &config);
    state.secrets = Arc::new(ring);
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
    form.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys("ada")
        .await
        .unwrap();
    form.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

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
    assert_eq!(dead, "1");
    screenshot(&client, &format!("{backend}-2-dashboard")).await;

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

    // Run now: the page follows the new run to its end.
    client
        .goto(&format!("{}/admin/sync-runs", app.base))
        .await
        .unwrap();
    let run_now = wait_for(&client, "form#run-now").await;
    run_now
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&client, "#progress").await;
    let url = client.current_url().await.unwrap();
    assert!(url.path().starts_with("/admin/sync-runs/run_"), "{url}");
    wait_for(&client, "#progress[data-status='success']").await;
    let read = wait_for(&client, "#count-read").await.text().await.unwrap();
    assert!(read.parse::<i64>().unwrap() > 0, "{read}");
    screenshot(&client, &format!("{backend}-5-run-now")).await;

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

    // Stock by address: the matched pieces marked, the pool of the county.
    client
        .goto(&format!("{}/admin/stock", app.base))
        .await
        .unwrap();
    let lookup = wait_for(&client, "form#stock-lookup").await;
    lookup
        .find(Locator::Css("input[name=address]"))
        .await
        .unwrap()
        .send_keys("南京市鼓楼区北京西路1号")
        .await
        .unwrap();
    lookup
        .find(Locator::Css("input[name=product]"))
        .await
        .unwrap()
        .send_keys(&sku)
        .await
        .unwrap();
    lookup
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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

    // Sign out: back to the sign-in page, and the dashboard is closed again.
    client.goto(&format!("{}/admin", app.base)).await.unwrap();
    wait_for(&client, "#sign-out").await.click().await.unwrap();
    wait_for(&client, "form#login").await;
    client.goto(&format!("{}/admin", app.base)).await.unwrap();
    wait_for(&client, "form#login").await;
    client.close().await.unwrap();
}

crate::on_both_backends! {
    the_admin_page_in_a_browser => the_admin_page_in_a_browser;
}
