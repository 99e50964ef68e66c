//! The admin page over HTTP, as a browser without JavaScript and as htmx use it: sign-in
//! and sign-out through the cookie session, the pages' content, their access rules
//! (a redirect to sign in, the roles of the API routes the actions mirror, the CSRF
//! token), the actions (each changes what the API would, and is audited), and HTML
//! escaping of everything shown.

use std::sync::Arc;

use reqwest::Method;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};
use supplyhub::access::AccessState;
use supplyhub::clock::Clock;
use supplyhub::config::{AccessConfig, OrdersConfig};
use supplyhub::http::AppState;
use supplyhub::jobs::Worker;
use supplyhub::store::Db;
use supplyhub::sync::NoProgress;
use supplyhub::systems::crypto::KeyRing;
use supplyhub::systems::live::LiveSupplier;
use supplyhub::webhooks::outbound::{Deliverer, EventType};

use crate::helpers::{TestApp, TestSandbox, call, catalog_only};
use crate::webhooks as inbound;
use crate::webhooks_out as outbound;

const ADMIN_TOKEN: &str = "admin-page-bootstrap-token-41c9";
const PASSWORD: &str = "correct horse battery";

macro_rules! exec {
    ($db:expr, $sql:expr $(, $bind:expr)*) => {
        match $db {
            Db::Sqlite(p) => sqlx::query($sql)$(.bind($bind))*.execute(p).await.map(|r| r.rows_affected()),
            Db::Postgres(p) => sqlx::query($sql)$(.bind($bind))*.execute(p).await.map(|r| r.rows_affected()),
        }
        .unwrap()
    };
}

/// `state` behind the bootstrap token, with credentials required.
async fn spawn(mut state: AppState) -> TestApp {
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(ADMIN_TOKEN)));
    state.access = AccessState::new(AccessConfig::default(), true);
    TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await
}

/// A client that does not follow redirects, so that the tests see them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An answer: status, headers, body.
struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    async fn of(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// A signed-in browser: its session cookie and the page's CSRF token.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn get(&self, path: &str) -> Page {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        Page::of(resp).await
    }

    /// A form post; with `csrf` the token rides in `X-CSRF-Token` as htmx sends it,
    /// with `HX-Request`.
    async fn post(&self, path: &str, form: &[(&str, &str)], csrf: bool) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form);
        if csrf {
            req = req
                .header("x-csrf-token", &self.csrf)
                .header("hx-request", "true");
        }
        Page::of(req.send().await.unwrap()).await
    }
}

async fn create_user(app: &TestApp, username: &str, role: &str) {
    let (status, body) = app
        .post(
            "/api/v1/users",
            json!({"username": username, "password": PASSWORD, "role": role}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn sign_in(app: &TestApp, username: &str) -> Browser {
    let http = client();
    let resp = http
        .post(format!("{}/admin/login", app.base))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let page = Page::of(resp).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), "/admin");
    let cookie = page
        .headers
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("supplyhub_session="), "{cookie}");
    let mut browser = Browser {
        base: app.base.clone(),
        http,
        cookie,
        csrf: String::new(),
    };
    let dashboard = browser.get("/admin").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    browser.csrf = csrf_of(&dashboard.body);
    browser
}

/// The CSRF token the page hands htmx in `hx-headers`.
fn csrf_of(body: &str) -> String {
    let start = body
        .find(r#""X-CSRF-Token": ""#)
        .expect("the page carries a CSRF token")
        + 17;
    let token: String = body[start..].chars().take_while(|c| *c != '"').collect();
    assert_eq!(token.len(), 64, "{token}");
    token
}

/// Without a session a browser is sent to the sign-in page (htmx by `HX-Redirect`); a
/// wrong password shows the form again; a good one sets the cookie and opens the
/// dashboard; signing out needs the CSRF token, then ends the session.
async fn signing_in_and_out(db: &Db) {
    let app = spawn(AppState::new(db.clone())).await;
    create_user(&app, "alice", "admin").await;
    let http = client();
    for path in [
        "/admin",
        "/admin/jobs?status=dead",
        "/admin/sync-runs/run_x",
    ] {
        let page = Page::of(
            http.get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (page.status, page.header("location")),
            (303, "/admin/login"),
            "{path}"
        );
    }
    let page = Page::of(
        http.get(format!("{}/admin/sync-runs/run_x/progress", app.base))
            .header("hx-request", "true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.header("hx-redirect"), "/admin/login");
    // A post without a session is sent to sign in too, and changes nothing.
    let page = Page::of(
        http.post(format!("{}/admin/jobs/job_x/redrive", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (page.status, page.header("location")),
        (303, "/admin/login")
    );

    let login = Page::of(
        http.get(format!("{}/admin/login", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(login.status, 200);
    assert!(login.header("content-type").starts_with("text/html"));
    assert!(
        login
            .header("content-security-policy")
            .contains("default-src 'self'")
    );
    assert!(
        login
            .body
            .contains(r#"<form method="post" action="/admin/login""#)
    );

    let wrong = Page::of(
        http.post(format!("{}/admin/login", app.base))
            .form(&[("username", "alice"), ("password", "not the password")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("wrong username or password"),
        "{}",
        wrong.body
    );
    assert!(wrong.headers.get(SET_COOKIE).is_none());

    let browser = sign_in(&app, "alice").await;
    let dashboard = browser.get("/admin").await;
    assert!(
        dashboard.body.contains("alice (admin)"),
        "{}",
        dashboard.body
    );
    assert!(dashboard.body.contains("<h1>Dashboard</h1>"));
    assert!(
        dashboard
            .body
            .contains(r#"<script src="/admin/assets/htmx.min.js">"#)
    );

    for (path, kind, needle) in [
        ("/admin/assets/htmx.min.js", "text/javascript", "htmx"),
        ("/admin/assets/admin.css", "text/css", "--accent"),
        ("/admin/assets/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let page = Page::of(
            http.get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.header("content-type").starts_with(kind), "{path}");
        assert!(page.body.contains(needle), "{path}");
    }

    // Signing out without the token is refused, and the session lives on.
    let refused = browser.post("/admin/logout", &[], false).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("csrf_failed"), "{}", refused.body);
    assert!(refused.header("content-type").starts_with("text/html"));
    assert_eq!(browser.get("/admin").await.status, 200);

    let out = browser.post("/admin/logout", &[], true).await;
    assert_eq!(out.header("hx-redirect"), "/admin/login");
    assert!(
        out.header("set-cookie").contains("Max-Age=0"),
        "{:?}",
        out.headers
    );
    let after = browser.get("/admin").await;
    assert_eq!(
        (after.status, after.header("location")),
        (303, "/admin/login")
    );
}

/// Everything shown is HTML-escaped: a system named like a script, an address typed into
/// the stock lookup.
async fn the_page_escapes_what_it_shows(db: &Db) {
    let mut state = AppState::new(db.clone());
    state.secrets = Arc::new(KeyRing::ephemeral());
    let app = spawn(state).await;
    let evil = r#"<script>alert("owned")</script>"#;
    let (status, body) = app
        .post(
            "/api/v1/systems",
            json!({"name": evil, "kind": "pos", "status": "active",
                   "settings": {"base_url": "https://pos.example"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    create_user(&app, "bob", "admin").await;
    let browser = sign_in(&app, "bob").await;
    let dashboard = browser.get("/admin").await;
    assert!(
        dashboard
            .body
            .contains("&#60;script&#62;alert(&#34;owned&#34;)&#60;/script&#62;"),
        "{}",
        dashboard.body
    );
    assert!(
        !dashboard.body.contains("<script>alert"),
        "{}",
        dashboard.body
    );

    let stock = browser
        .get("/admin/stock?address=%3Cimg%20src%3Dx%3E%E4%B8%8A%E6%B5%B7%E5%B8%82")
        .await;
    assert_eq!(stock.status, 200, "{}", stock.body);
    assert!(stock.body.contains("&#60;img src=x&#62;"), "{}", stock.body);
    assert!(!stock.body.contains("<img src=x>"), "{}", stock.body);

    // A schedule named like a script.
    exec!(
        db,
        "UPDATE schedules SET name = $1 WHERE id = $2",
        evil,
        "sch_stock"
    );
    let schedules = browser.get("/admin/schedules").await;
    assert!(
        schedules
            .body
            .contains("&#60;script&#62;alert(&#34;owned&#34;)&#60;/script&#62;"),
        "{}",
        schedules.body
    );
    assert!(
        !schedules.body.contains("<script>alert"),
        "{}",
        schedules.body
    );
}

/// A dead letter is listed; staff see it without a redrive button and are refused the
/// redrive; a post without the CSRF token is refused; an admin redrives it with htmx and
/// gets its row back, queued, and the audit log records it; a second redrive is a 409
/// shown in the flash area.
async fn dead_letters_are_redriven_within_the_rules(db: &Db) {
    let app = spawn(AppState::new(db.clone())).await;
    let mut tx = db.begin().await.unwrap();
    supplyhub::store::jobs::enqueue(
        &mut tx,
        "push_order",
        &json!({"order_id": "ord_admin_1"}),
        "push_order:ord_admin_1",
        3,
        supplyhub::types::UtcTime::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let job = supplyhub::store::jobs::jobs_of_order(db, "ord_admin_1")
        .await
        .unwrap()
        .remove(0);
    exec!(
        db,
        "UPDATE jobs SET status = 'dead', last_error = $2 WHERE id = $1",
        &job.id,
        "rejected: <b>no stock</b>"
    );
    let status_of = || async {
        supplyhub::store::jobs::get_job(db, &job.id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str()
            .to_owned()
    };
    let redrive = format!("/admin/jobs/{}/redrive", job.id);

    create_user(&app, "tess", "staff").await;
    let staff = sign_in(&app, "tess").await;
    let dead = staff.get("/admin/jobs?status=dead").await;
    assert_eq!(dead.status, 200);
    assert!(dead.body.contains(&job.id), "{}", dead.body);
    assert!(
        dead.body
            .contains("rejected: &#60;b&#62;no stock&#60;/b&#62;")
    );
    assert!(
        !dead.body.contains("hx-post=\"/admin/jobs/"),
        "{}",
        dead.body
    );
    let refused = staff.post(&redrive, &[], true).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("forbidden"), "{}", refused.body);
    assert_eq!(refused.header("hx-retarget"), "#flash");
    assert_eq!(status_of().await, "dead");

    create_user(&app, "ada", "admin").await;
    let admin = sign_in(&app, "ada").await;
    let dashboard = admin.get("/admin").await;
    assert!(
        dashboard.body.contains(r#"id="dead-letters"><b>1</b>"#),
        "{}",
        dashboard.body
    );
    let dead = admin.get("/admin/jobs?status=dead").await;
    assert!(
        dead.body.contains(&format!("hx-post=\"{redrive}\"")),
        "{}",
        dead.body
    );
    let no_token = admin.post(&redrive, &[], false).await;
    assert_eq!(no_token.status, 403);
    assert!(no_token.body.contains("csrf_failed"), "{}", no_token.body);
    assert_eq!(status_of().await, "dead");

    let row = admin.post(&redrive, &[], true).await;
    assert_eq!(row.status, 200, "{}", row.body);
    assert!(
        row.body.starts_with(&format!("<tr id=\"job-{}\">", job.id)),
        "{}",
        row.body
    );
    assert!(
        row.body
            .contains(r#"<span class="status queued">queued</span>"#)
    );
    assert_eq!(status_of().await, "queued");
    let (_, log) = app.get("/api/v1/audit-log").await;
    let entry = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "job.redrive")
        .unwrap_or_else(|| panic!("no job.redrive in {log}"));
    assert_eq!(entry["actor"], "user:ada", "{entry}");

    let again = admin.post(&redrive, &[], true).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.header("hx-retarget"), "#flash");
    assert!(
        again.body.contains("only a dead job can be redriven"),
        "{}",
        again.body
    );
}

/// "Run now" starts a run as the API does (refused while one is in progress, and to
/// staff); a run's page polls its progress while it runs and stops once it ended.
async fn sync_runs_start_and_show_progress(db: &Db) {
    let sandbox = TestSandbox::start(20, 5).await;
    let ring = KeyRing::ephemeral();
    let system =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
            .await
            .unwrap();
    let mut state = AppState::new(db.clone());
    state.secrets = Arc::new(ring);
    let app = spawn(state).await;
    create_user(&app, "sam", "store_manager").await;
    create_user(&app, "tess", "staff").await;
    let staff = sign_in(&app, "tess").await;
    let list = staff.get("/admin/sync-runs").await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains("run-now"), "{}", list.body);
    let refused = staff
        .post("/admin/sync-runs", &[("system_id", &system)], true)
        .await;
    assert_eq!(refused.status, 403);

    let manager = sign_in(&app, "sam").await;
    let list = manager.get("/admin/sync-runs").await;
    assert!(list.body.contains(r#"id="run-now""#), "{}", list.body);
    assert!(
        list.body.contains(&format!(r#"<option value="{system}">"#)),
        "{}",
        list.body
    );

    // A run in progress: its page polls; a second start is refused, named.
    supplyhub::store::sync_runs::insert_system_run(db, "run_0_held", "full", &json!({}), &system)
        .await
        .unwrap();
    let held = manager.get("/admin/sync-runs/run_0_held").await;
    assert_eq!(held.status, 200);
    assert!(
        held.body
            .contains(r#"hx-get="/admin/sync-runs/run_0_held/progress" hx-trigger="every 2s""#),
        "{}",
        held.body
    );
    let busy = manager
        .post(
            "/admin/sync-runs",
            &[("system_id", &system), ("kind", "full")],
            true,
        )
        .await;
    assert_eq!(busy.status, 409);
    assert!(busy.body.contains("run_in_progress") && busy.body.contains("run_0_held"));
    supplyhub::store::sync_runs::finish_run(
        db,
        "run_0_held",
        supplyhub::status::RunStatus::Failed,
        &Default::default(),
        supplyhub::types::UtcTime::now(),
        0,
        Some("stopped by the test"),
    )
    .await
    .unwrap();
    let ended = manager.get("/admin/sync-runs/run_0_held").await;
    assert!(!ended.body.contains("hx-trigger"), "{}", ended.body);
    assert!(ended.body.contains("stopped by the test"));

    let started = manager
        .post(
            "/admin/sync-runs",
            &[("system_id", &system), ("kind", "full")],
            true,
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let to = started.header("hx-redirect").to_owned();
    let run = to.strip_prefix("/admin/sync-runs/").unwrap().to_owned();
    assert!(run.starts_with("run_"), "{to}");
    let page = manager.get(&to).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&run));
    let mut fragment = String::new();
    for _ in 0..1200 {
        fragment = manager.get(&format!("{to}/progress")).await.body;
        if !fragment.contains("hx-trigger") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        fragment.starts_with(r#"<section id="progress" data-status="success""#),
        "{fragment}"
    );
    let read: i64 = fragment
        .split(r#"<dd id="count-read">"#)
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .parse()
        .unwrap();
    let (_, api) = app.get(&format!("/api/v1/sync-runs/{run}")).await;
    assert_eq!(api["status"], "success", "{api}");
    assert!(read > 0);
    assert_eq!(
        api["counts"]["read"].as_i64().or(api["read"].as_i64()),
        Some(read),
        "{api}"
    );
    let (_, log) = app.get("/api/v1/audit-log").await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "sync_run.start" && e["target"] == run.as_str()),
        "{log}"
    );
    let dashboard = manager.get("/admin").await;
    assert!(dashboard.body.contains(&format!("/admin/sync-runs/{run}")));
    assert!(
        dashboard.body.contains("sandbox"),
        "the registry is shown to a store manager"
    );
    let staff_dashboard = staff.get("/admin").await;
    assert!(
        !staff_dashboard.body.contains(r#"id="systems""#),
        "staff do not read the registry"
    );
}

/// An order's page shows its lines, holds, push job and supplier status; the stock
/// lookup marks what the resolver matched and shows the product's pool in the county.
async fn orders_and_stock_by_address(db: &Db) {
    let sb = TestSandbox::start(10, 9).await;
    let config = sb.config(&[]);
    let run = sb
        .syncer(db, &config)
        .run(&catalog_only(true), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success");
    let app = spawn(sb.app_state(db, &config)).await;
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
                "order_number": "WEB-7",
                "lines": [{"sku": sku, "quantity": 2, "retail_price": "1999.00", "discount_amount": "0"}],
                "consignee": {"name": "张三", "mobile": "13900001111"},
                "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "detail": "北京西路1号"},
            }),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();

    create_user(&app, "tess", "staff").await;
    let staff = sign_in(&app, "tess").await;
    let list = staff.get("/admin/orders").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body
            .contains(&format!(r#"<a href="/admin/orders/{id}">"#)),
        "{}",
        list.body
    );
    assert!(list.body.contains("WEB-7"), "{}", list.body);
    let page = staff.get(&format!("/admin/orders/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&sku));
    assert!(page.body.contains(r#"id="supplier-status""#));
    assert!(page.body.contains("320106"));
    assert!(
        page.body
            .contains(r#"<span class="status held">held</span>"#),
        "{}",
        page.body
    );
    let missing = staff.get("/admin/orders/ord_nope").await;
    assert_eq!(missing.status, 404);
    assert!(missing.header("content-type").starts_with("text/html"));

    let address = "南京市鼓楼区北京西路1号";
    let stock = staff
        .get(&format!(
            "/admin/stock?address={}&product={sku}",
            urlencode(address)
        ))
        .await;
    assert_eq!(stock.status, 200, "{}", stock.body);
    assert!(
        stock.body.contains(r#"<dd id="county-code">320106</dd>"#),
        "{}",
        stock.body
    );
    assert!(
        stock.body.contains("<mark title=\"320100"),
        "{}",
        stock.body
    );
    assert!(stock.body.contains(">鼓楼区</mark>"), "{}", stock.body);
    assert!(stock.body.contains("北京西路1号</p>"), "{}", stock.body);
    assert!(
        stock
            .body
            .contains(r#"<p id="pool">Pool: capacity 9, held 2"#),
        "{}",
        stock.body
    );
    let bad = staff.get("/admin/stock?address=x&product=a%20b").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

/// Users, API keys and the audit log are for admins: listed without secrets, with what
/// the users typed escaped; other operators are refused them and do not see the links.
async fn users_keys_and_the_audit_log_are_for_admins(db: &Db) {
    let app = spawn(AppState::new(db.clone())).await;
    create_user(&app, "ada", "admin").await;
    create_user(&app, "tess", "staff").await;
    let (status, key) = app
        .post(
            "/api/v1/api-keys",
            json!({"name": "till <b>1</b>", "role": "storefront"}),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let secret = key["key"].as_str().unwrap();

    let staff = sign_in(&app, "tess").await;
    let dashboard = staff.get("/admin").await;
    assert!(
        !dashboard.body.contains("/admin/users"),
        "{}",
        dashboard.body
    );
    for path in ["/admin/users", "/admin/api-keys", "/admin/audit-log"] {
        let page = staff.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.header("content-type").starts_with("text/html"));
    }

    let admin = sign_in(&app, "ada").await;
    let dashboard = admin.get("/admin").await;
    assert!(dashboard.body.contains(r#"<a href="/admin/users">"#));
    let users = admin.get("/admin/users").await;
    assert_eq!(users.status, 200);
    assert!(
        users.body.contains("<td>tess</td><td>staff</td>"),
        "{}",
        users.body
    );
    assert!(!users.body.contains("argon2"), "no password hash");
    let keys = admin.get("/admin/api-keys").await;
    assert!(
        keys.body.contains("till &#60;b&#62;1&#60;/b&#62;"),
        "{}",
        keys.body
    );
    assert!(keys.body.contains(key["prefix"].as_str().unwrap()));
    assert!(
        !keys.body.contains(secret),
        "a key's secret is never shown again"
    );
    let log = admin.get("/admin/audit-log?action=api_key.").await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("<td>api_key.create</td>"), "{}", log.body);
    assert!(
        !log.body.contains("<td>user.create</td>"),
        "filtered by action"
    );
    assert!(!log.body.contains(secret));
    let all = admin.get("/admin/audit-log").await;
    assert!(all.body.contains("<td>user.create</td>"), "{}", all.body);
    let bad = admin.get("/admin/audit-log?actor=%01").await;
    assert_eq!(bad.status, 400);

    // Schedules are for every operator: the defaults with their cadence.
    let schedules = staff.get("/admin/schedules").await;
    assert_eq!(schedules.status, 200, "{}", schedules.body);
    assert!(
        schedules.body.contains(r#"<tr id="schedule-sch_stock">"#),
        "{}",
        schedules.body
    );
    assert!(schedules.body.contains(r#"<tr id="schedule-sch_catalog">"#));
}

/// The audit log's entries whose action starts with `action`, newest first.
async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, log) = app.get(&format!("/api/v1/audit-log?action={action}")).await;
    assert_eq!(status, 200, "{log}");
    log["items"].as_array().unwrap().clone()
}

/// The text between `start` and the next `<` in `body`.
fn text_after<'a>(body: &'a str, start: &str) -> &'a str {
    let at = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {body}"))
        + start.len();
    body[at..].split('<').next().unwrap()
}

/// Events received are listed with their outcome to every operator, what a system sent
/// escaped and no signature shown; staff see no replay button and are refused the
/// replay; a store manager replays a dead event (its processing runs again: dead again
/// while its cause stands, processed into a record once the mapping is fixed), audited.
async fn webhook_events_are_listed_and_replayed(db: &Db) {
    let mut state = AppState::new(db.clone());
    state.webhooks_in = inbound::small();
    let app = spawn(state).await;
    let sys = inbound::system(
        &app,
        "pos-admin",
        "pos",
        json!({"mapping": inbound::sale_mapping("$.order.total")}),
    )
    .await;
    let secret = inbound::add_secret(&app, &sys).await;
    let (status, accepted) = inbound::deliver(
        &app,
        &sys,
        &secret,
        "msg_<b>1</b>",
        inbound::now(),
        &inbound::foreign_sale("A-1"),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let event = accepted["id"].as_str().unwrap().to_owned();
    inbound::drain(db).await;
    let stored = || async {
        supplyhub::store::webhooks_in::get_event(db, &event)
            .await
            .unwrap()
            .unwrap()
    };
    let dead = stored().await;
    assert_eq!(dead.status.as_str(), "dead");
    let replay = format!("/admin/webhook-events/{event}/replay");

    create_user(&app, "tess", "staff").await;
    let staff = sign_in(&app, "tess").await;
    let list = staff.get("/admin/webhook-events").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body
            .contains(r#"<a href="/admin/webhook-events">Webhooks in</a>"#),
        "{}",
        list.body
    );
    assert!(
        !list.body.contains("/admin/webhook-deliveries"),
        "staff do not read the deliveries"
    );
    assert!(
        list.body.contains(&format!(r#"<tr id="event-{event}">"#)),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("msg_&#60;b&#62;1&#60;/b&#62;"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("<b>1</b>"), "{}", list.body);
    assert!(
        list.body
            .contains(r#"<span class="status dead">dead</span>"#)
    );
    assert!(
        list.body.contains(dead.last_error.as_deref().unwrap()),
        "the error is shown: {}",
        list.body
    );
    assert!(!list.body.contains(&dead.webhook_signature), "no signature");
    assert!(
        !list.body.contains(r#"hx-post="/admin/webhook-events/"#),
        "staff may not replay: {}",
        list.body
    );
    let refused = staff.post(&replay, &[], true).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.header("hx-retarget"), "#flash");
    assert_eq!(stored().await.replays, 0);

    create_user(&app, "sam", "store_manager").await;
    let manager = sign_in(&app, "sam").await;
    let dead_list = manager.get("/admin/webhook-events?status=dead").await;
    assert!(
        dead_list.body.contains(&format!(r#"hx-post="{replay}""#)),
        "{}",
        dead_list.body
    );
    for (query, shown) in [
        ("?status=processed", false),
        ("?status=&system_id=", true),
        (&format!("?system_id={sys}") as &str, true),
        ("?system_id=sys_other", false),
    ] {
        let page = manager.get(&format!("/admin/webhook-events{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(page.body.contains(&event), shown, "{query}");
    }
    for bad in ["?status=lost", "?after=", "?system_id=%01"] {
        let page = manager.get(&format!("/admin/webhook-events{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
    let no_token = manager.post(&replay, &[], false).await;
    assert_eq!(no_token.status, 403);
    assert!(no_token.body.contains("csrf_failed"), "{}", no_token.body);
    assert_eq!(stored().await.replays, 0);

    // Replayed while the mapping is still wrong: processed again, and dead again.
    let row = manager.post(&replay, &[], true).await;
    assert_eq!(row.status, 200, "{}", row.body);
    assert!(
        row.body.starts_with(&format!(r#"<tr id="event-{event}">"#)),
        "{}",
        row.body
    );
    assert!(
        row.body
            .contains(r#"<span class="status received">received</span>"#),
        "{}",
        row.body
    );
    assert!(!row.body.contains("hx-post"), "queued: nothing to replay");
    let queued = stored().await;
    assert_eq!((queued.status.as_str(), queued.replays), ("received", 1));
    inbound::drain(db).await;
    let again = stored().await;
    assert_eq!(again.status.as_str(), "dead");
    assert!(again.attempts > dead.attempts, "processed again: {again:?}");

    // The mapping fixed, a replay from the page processes it into a record.
    let (status, fixed) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{sys}"),
        Some(json!({"settings": {"mapping": inbound::sale_mapping("$.order.sum")}})),
    )
    .await;
    assert_eq!(status, 200, "{fixed}");
    assert_eq!(manager.post(&replay, &[], true).await.status, 200);
    inbound::drain(db).await;
    let processed = stored().await;
    assert_eq!(
        (processed.status.as_str(), processed.replays),
        ("processed", 2)
    );
    let result: Value = serde_json::from_str(processed.result.as_deref().unwrap()).unwrap();
    assert_eq!(result["outcome"], "created");
    let sale = supplyhub::store::pos::by_external_id(db, &sys, "A-1")
        .await
        .unwrap()
        .expect("the replay recorded the sale");
    assert_eq!(sale.id, result["id"].as_str().unwrap());
    let list = manager.get("/admin/webhook-events").await;
    assert!(
        list.body
            .contains(r#"<span class="status processed">processed</span>"#),
        "{}",
        list.body
    );
    assert!(list.body.contains(&sale.id), "the outcome is shown");

    let replays = audited(&app, "webhook_event.replay").await;
    assert_eq!(replays.len(), 2, "{replays:?}");
    assert!(
        replays
            .iter()
            .all(|e| e["actor"] == "user:sam" && e["target"] == event.as_str()),
        "{replays:?}"
    );
    let missing = manager
        .post("/admin/webhook-events/whe_nope/replay", &[], true)
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("hx-retarget"), "#flash");
}

/// Deliveries to the systems' endpoints are for the systems' roles: listed with their
/// attempts and the body sent (escaped); a resend from the page queues one more attempt,
/// which the worker makes, of the same message; a second resend while it is pending is
/// refused, named; staff are refused all of it.
async fn webhook_deliveries_are_listed_and_resent(db: &Db) {
    let ring = Arc::new(KeyRing::ephemeral());
    let mut state = AppState::new(db.clone());
    state.secrets = Arc::clone(&ring);
    state.webhooks = outbound::settings(false);
    let app = spawn(state).await;
    let clock = Clock::system();
    let deliverer =
        Deliverer::new(db.clone(), ring, outbound::settings(false), clock.clone()).unwrap();
    let worker = Worker::new(
        db.clone(),
        LiveSupplier::none(),
        OrdersConfig::default(),
        "admin-webhook-worker",
    )
    .with_clock(clock.clone())
    .with_webhooks(Arc::new(deliverer));
    let receiver = outbound::Receiver::start(&clock, 200).await;
    let (status, created) = app
        .post(
            "/api/v1/systems",
            json!({"name": "Members", "kind": "member"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let system = created["id"].as_str().unwrap().to_owned();
    let (status, ep) = app
        .post(
            &format!("/api/v1/systems/{system}/endpoints"),
            json!({"url": receiver.url, "event_types": ["member.updated"]}),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    receiver.trust(&[ep["secret"].as_str().unwrap()]);
    let endpoint = ep["endpoint"]["id"].as_str().unwrap().to_owned();
    let message = outbound::emit_now(
        db,
        EventType::MemberUpdated,
        json!({"member_id": "<script>m1</script>"}),
    )
    .await
    .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let stored = || async {
        supplyhub::store::webhooks::list_deliveries(db, &Default::default(), None, 10)
            .await
            .unwrap()
            .remove(0)
    };
    let delivery = stored().await;
    assert_eq!(
        (delivery.status.as_str(), delivery.attempts),
        ("succeeded", 1)
    );
    let id = delivery.id;
    let retry = format!("/admin/webhook-deliveries/{id}/retry");

    create_user(&app, "tess", "staff").await;
    let staff = sign_in(&app, "tess").await;
    for path in [
        "/admin/webhook-deliveries".to_owned(),
        format!("/admin/webhook-deliveries/{id}"),
    ] {
        let page = staff.get(&path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("forbidden"), "{}", page.body);
    }
    assert_eq!(staff.post(&retry, &[], true).await.status, 403);
    assert_eq!(stored().await.attempts, 1);

    create_user(&app, "sam", "store_manager").await;
    let manager = sign_in(&app, "sam").await;
    let list = manager.get("/admin/webhook-deliveries").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body
            .contains(r#"<a href="/admin/webhook-deliveries">Webhooks out</a>"#)
    );
    assert!(
        list.body.contains(&format!(r#"<tr id="delivery-{id}">"#)),
        "{}",
        list.body
    );
    assert!(list.body.contains(&endpoint) && list.body.contains("member.updated"));
    assert!(
        list.body
            .contains(r#"<span class="status succeeded">succeeded</span>"#)
    );
    assert!(
        list.body.contains(&format!(r#"hx-post="{retry}""#)),
        "{}",
        list.body
    );
    for (query, shown) in [
        ("?status=dead", false),
        ("?status=succeeded", true),
        (&format!("?system_id={system}") as &str, true),
        ("?system_id=sys_other", false),
    ] {
        let page = manager
            .get(&format!("/admin/webhook-deliveries{query}"))
            .await;
        assert_eq!(page.status, 200, "{query}");
        assert_eq!(page.body.contains(&id), shown, "{query}");
    }
    assert_eq!(
        manager
            .get("/admin/webhook-deliveries?status=lost")
            .await
            .status,
        400
    );
    let detail = manager
        .get(&format!("/admin/webhook-deliveries/{id}"))
        .await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.body.contains(&message), "the webhook-id");
    assert!(
        detail.body.contains("&#60;script&#62;m1&#60;/script&#62;"),
        "{}",
        detail.body
    );
    assert!(!detail.body.contains("<script>m1"), "{}", detail.body);
    assert!(
        detail.body.contains("answer 200 from the receiver"),
        "the attempt's answer: {}",
        detail.body
    );
    assert_eq!(
        manager
            .get("/admin/webhook-deliveries/whd_nope")
            .await
            .status,
        404
    );

    let no_token = manager.post(&retry, &[], false).await;
    assert_eq!(no_token.status, 403);
    assert_eq!(stored().await.attempts, 1);
    let row = manager.post(&retry, &[], true).await;
    assert_eq!(row.status, 200, "{}", row.body);
    assert!(
        row.body.starts_with(&format!(r#"<tr id="delivery-{id}">"#)),
        "{}",
        row.body
    );
    assert!(
        row.body
            .contains(r#"<span class="status pending">pending</span>"#),
        "{}",
        row.body
    );
    assert!(!row.body.contains("hx-post"), "pending: nothing to resend");
    let again = manager.post(&retry, &[], true).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("delivery_pending"), "{}", again.body);
    assert_eq!(again.header("hx-retarget"), "#flash");

    // The worker makes the attempt: the same message, signed afresh, received.
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let resent = stored().await;
    assert_eq!((resent.status.as_str(), resent.attempts), ("succeeded", 2));
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.id == message && r.verified), "{got:?}");
    let detail = manager
        .get(&format!("/admin/webhook-deliveries/{id}"))
        .await;
    assert_eq!(
        detail.body.matches("answer 200 from the receiver").count(),
        2,
        "both attempts: {}",
        detail.body
    );
    let retries = audited(&app, "webhook_delivery.retry").await;
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0]["actor"], "user:sam");
    assert_eq!(retries[0]["target"], id.as_str());
}

/// An admin creates a user on the page (the password never shown back, bad input
/// refused and nothing created), changes its role (its session ends) and disables and
/// enables it (it cannot sign in meanwhile), each audited as through the API; others are
/// refused.
async fn users_are_created_and_changed_on_the_page(db: &Db) {
    let app = spawn(AppState::new(db.clone())).await;
    create_user(&app, "ada", "admin").await;
    create_user(&app, "tess", "staff").await;
    let admin = sign_in(&app, "ada").await;
    let page = admin.get("/admin/users").await;
    assert!(page.body.contains(r#"id="create-user""#), "{}", page.body);
    let users_named = |name: &'static str| {
        let app = &app;
        async move {
            let (_, list) = app.get("/api/v1/users?limit=100").await;
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|u| u["username"] == name)
                .cloned()
                .collect::<Vec<_>>()
        }
    };

    // Refused: a short password, an unknown role, a bad name, a taken one.
    for (form, code) in [
        (
            [
                ("username", "carol"),
                ("password", "short"),
                ("role", "staff"),
            ],
            "invalid_body",
        ),
        (
            [
                ("username", "carol"),
                ("password", PASSWORD),
                ("role", "root"),
            ],
            "invalid_body",
        ),
        (
            [
                ("username", "<carol>"),
                ("password", PASSWORD),
                ("role", "staff"),
            ],
            "invalid_body",
        ),
        (
            [
                ("username", "tess"),
                ("password", PASSWORD),
                ("role", "staff"),
            ],
            "username_taken",
        ),
    ] {
        let refused = admin.post("/admin/users", &form, true).await;
        assert!(
            refused.status == 422 || refused.status == 409,
            "{form:?}: {}",
            refused.body
        );
        assert!(refused.body.contains(code), "{form:?}: {}", refused.body);
        assert_eq!(refused.header("hx-retarget"), "#flash");
        assert!(!refused.body.contains("<carol>"), "{}", refused.body);
    }
    assert!(users_named("carol").await.is_empty(), "nothing created");

    let staff = sign_in(&app, "tess").await;
    let refused = staff
        .post(
            "/admin/users",
            &[
                ("username", "carol"),
                ("password", PASSWORD),
                ("role", "admin"),
            ],
            true,
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(users_named("carol").await.is_empty());

    let created = admin
        .post(
            "/admin/users",
            &[
                ("username", "carol"),
                ("password", PASSWORD),
                ("role", "warehouse_manager"),
            ],
            true,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.header("hx-redirect"), "/admin/users");
    assert!(!created.body.contains(PASSWORD));
    let carol = users_named("carol").await.remove(0);
    assert_eq!(carol["role"], "warehouse_manager");
    let carol_id = carol["id"].as_str().unwrap().to_owned();
    let page = admin.get("/admin/users").await;
    assert!(
        page.body
            .contains("<td>carol</td><td>warehouse_manager</td>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(PASSWORD) && !page.body.contains("argon2"));
    let entry = &audited(&app, "user.create").await[0];
    assert_eq!(
        (&entry["actor"], &entry["target"]),
        (&json!("user:ada"), &json!(carol_id))
    );
    assert!(!entry.to_string().contains(PASSWORD), "{entry}");

    // Her role changed: her session ends, the row shows the new role.
    let session = sign_in(&app, "carol").await;
    let change = format!("/admin/users/{carol_id}");
    assert_eq!(
        staff.post(&change, &[("role", "admin")], true).await.status,
        403
    );
    for bad in [
        [("role", "root")],
        [("disabled", "maybe")],
        [("other", "x")],
    ] {
        let refused = admin.post(&change, &bad, true).await;
        assert_eq!(refused.status, 422, "{bad:?}: {}", refused.body);
    }
    assert_eq!(users_named("carol").await[0]["role"], "warehouse_manager");
    assert_eq!(session.get("/admin").await.status, 200);
    let row = admin.post(&change, &[("role", "staff")], true).await;
    assert_eq!(row.status, 200, "{}", row.body);
    assert!(
        row.body
            .starts_with(&format!(r#"<tr id="user-{carol_id}">"#))
            && row.body.contains("<td>carol</td><td>staff</td>"),
        "{}",
        row.body
    );
    assert_eq!(users_named("carol").await[0]["role"], "staff");
    assert_eq!(
        session.get("/admin").await.header("location"),
        "/admin/login",
        "a new role ends the sessions"
    );

    // Disabled, she cannot sign in; enabled, she can.
    let row = admin.post(&change, &[("disabled", "true")], true).await;
    assert_eq!(row.status, 200, "{}", row.body);
    assert!(
        row.body
            .contains(r#"<span class="status inactive">disabled</span>"#)
            && row.body.contains(">Enable</button>"),
        "{}",
        row.body
    );
    let login = client()
        .post(format!("{}/admin/login", app.base))
        .form(&[("username", "carol"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 401);
    let row = admin.post(&change, &[("disabled", "false")], true).await;
    assert!(
        row.body
            .contains(r#"<span class="status active">active</span>"#),
        "{}",
        row.body
    );
    sign_in(&app, "carol").await;
    let updates = audited(&app, "user.update").await;
    assert_eq!(updates.len(), 3, "{updates:?}");
    assert!(updates.iter().all(|e| e["actor"] == "user:ada"));
    assert_eq!(updates[2]["before_state"]["role"], "warehouse_manager");
    assert_eq!(updates[2]["after_state"]["role"], "staff");
    let missing = admin
        .post("/admin/users/usr_nope", &[("role", "staff")], true)
        .await;
    assert_eq!(missing.status, 404);
}

/// An admin creates an API key on the page: its secret is shown once (escaped name,
/// no-store), works against the API with its role, is never listed; the key is revoked
/// on the page and authenticates nothing after. Audited; refused to others.
async fn api_keys_are_created_and_revoked_on_the_page(db: &Db) {
    let app = spawn(AppState::new(db.clone())).await;
    create_user(&app, "ada", "admin").await;
    create_user(&app, "tess", "staff").await;
    let admin = sign_in(&app, "ada").await;
    let staff = sign_in(&app, "tess").await;
    let page = admin.get("/admin/api-keys").await;
    assert!(page.body.contains(r#"id="create-key""#), "{}", page.body);
    let keys = || async {
        let (_, list) = app.get("/api/v1/api-keys").await;
        list["items"].as_array().unwrap().clone()
    };

    let refused = staff
        .post(
            "/admin/api-keys",
            &[("name", "sneaky"), ("role", "admin")],
            true,
        )
        .await;
    assert_eq!(refused.status, 403);
    for form in [
        [("name", " "), ("role", "storefront")],
        [("name", "till"), ("role", "root")],
    ] {
        let refused = admin.post("/admin/api-keys", &form, true).await;
        assert_eq!(refused.status, 422, "{form:?}: {}", refused.body);
        assert_eq!(refused.header("hx-retarget"), "#flash");
    }
    assert!(keys().await.is_empty(), "nothing created");

    let created = admin
        .post(
            "/admin/api-keys",
            &[("name", "till <i>2</i>"), ("role", "storefront")],
            true,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.header("cache-control"), "no-store");
    assert!(created.body.starts_with(r#"<section id="new-key">"#));
    assert!(
        created.body.contains("till &#60;i&#62;2&#60;/i&#62;"),
        "{}",
        created.body
    );
    let key = text_after(&created.body, r#"<code id="new-key-secret">"#).to_owned();
    assert!(key.starts_with("shk_"), "{key}");
    // From here on the key is a secret nothing may show again.
    crate::leaks::learn(&key);
    let listed = keys().await;
    assert_eq!(listed.len(), 1);
    let key_id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["created_by"], "user:ada");
    assert!(key.starts_with(&format!("shk_{}_", listed[0]["prefix"].as_str().unwrap())));

    // It works against the API, with its role.
    let me = app.get_raw("/api/v1/auth/me", Some(&key)).await;
    assert_eq!(me.status().as_u16(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["role"].as_str(), me["principal"]["name"].as_str()),
        (Some("storefront"), Some("till <i>2</i>"))
    );
    assert_eq!(
        app.get_raw("/api/v1/products", Some(&key))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        app.get_raw("/api/v1/users", Some(&key))
            .await
            .status()
            .as_u16(),
        403
    );

    let page = admin.get("/admin/api-keys").await;
    assert!(
        page.body.contains(&format!(r#"<tr id="key-{key_id}">"#)),
        "{}",
        page.body
    );
    assert!(page.body.contains("till &#60;i&#62;2&#60;/i&#62;"));
    let revoke = format!("/admin/api-keys/{key_id}/revoke");
    assert!(page.body.contains(&format!(r#"hx-post="{revoke}""#)));
    let entry = &audited(&app, "api_key.create").await[0];
    assert_eq!(
        (&entry["actor"], &entry["target"]),
        (&json!("user:ada"), &json!(key_id))
    );

    assert_eq!(staff.post(&revoke, &[], true).await.status, 403);
    assert_eq!(
        app.get_raw("/api/v1/auth/me", Some(&key))
            .await
            .status()
            .as_u16(),
        200
    );
    let row = admin.post(&revoke, &[], true).await;
    assert_eq!(row.status, 200, "{}", row.body);
    assert!(
        row.body.starts_with(&format!(r#"<tr id="key-{key_id}">"#))
            && row.body.contains(r#"<span class="status failed">"#)
            && !row.body.contains("hx-post"),
        "{}",
        row.body
    );
    assert_eq!(
        app.get_raw("/api/v1/auth/me", Some(&key))
            .await
            .status()
            .as_u16(),
        401,
        "a revoked key authenticates nothing"
    );
    let entry = &audited(&app, "api_key.revoke").await[0];
    assert_eq!(
        (&entry["actor"], &entry["target"]),
        (&json!("user:ada"), &json!(key_id))
    );
    assert_eq!(
        admin
            .post("/admin/api-keys/key_nope/revoke", &[], true)
            .await
            .status,
        404
    );

    // Asked without htmx (a bearer caller), the key comes on a whole page.
    let resp = client()
        .post(format!("{}/admin/api-keys", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .form(&[("name", "ops"), ("role", "staff")])
        .send()
        .await
        .unwrap();
    let whole = Page::of(resp).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert!(whole.body.starts_with("<!doctype html>"), "{}", whole.body);
    let second = text_after(&whole.body, r#"<code id="new-key-secret">"#).to_owned();
    crate::leaks::learn(&second);
    assert_eq!(
        app.get_raw("/api/v1/auth/me", Some(&second))
            .await
            .status()
            .as_u16(),
        200
    );
    let page = admin.get("/admin/api-keys").await;
    assert!(page.body.contains("<td>ops</td>"), "{}", page.body);
}

/// Schedules are changed on the page by the schedulers' roles as through the API: a bad
/// cron expression or time zone says what is wrong and saves nothing; a good one is
/// saved with its next firing; disabled, it has none; run now starts a run and shows it.
async fn schedules_are_edited_and_run_on_the_page(db: &Db) {
    let sandbox = TestSandbox::start(20, 5).await;
    let ring = Arc::new(KeyRing::ephemeral());
    let mut state = AppState::new(db.clone());
    state.secrets = Arc::clone(&ring);
    let app = spawn(state).await;
    create_user(&app, "tess", "staff").await;
    create_user(&app, "wendy", "warehouse_manager").await;
    let schedule = || async {
        let (status, s) = app.get("/api/v1/schedules/sch_prices").await;
        assert_eq!(status, 200, "{s}");
        s
    };
    let before = schedule().await;
    let edit = "/admin/schedules/sch_prices";
    let run = "/admin/schedules/sch_prices/run";

    let staff = sign_in(&app, "tess").await;
    let page = staff.get("/admin/schedules").await;
    assert!(
        !page.body.contains(r#"hx-post="/admin/schedules/"#),
        "{}",
        page.body
    );
    assert_eq!(
        staff.post(edit, &[("enabled", "false")], true).await.status,
        403
    );
    assert_eq!(staff.post(run, &[], true).await.status, 403);

    let manager = sign_in(&app, "wendy").await;
    let page = manager.get("/admin/schedules").await;
    assert!(
        page.body.contains(&format!(r#"hx-post="{edit}""#))
            && page.body.contains(&format!(r#"hx-post="{run}""#)),
        "{}",
        page.body
    );
    // Bad input: said on the page, nothing saved.
    for (form, code, says) in [
        (vec![("cron", "61 * * * *")], "invalid_cron", "cron: "),
        (vec![("cron", "")], "invalid_cron", "cron: "),
        (
            vec![("cron", "0 0 30 2 *")],
            "invalid_cron",
            "names no time",
        ),
        (
            vec![("cron", "*/5 * * * *"), ("time_zone", "Mars/Olympus")],
            "invalid_time_zone",
            "Mars/Olympus",
        ),
        (vec![("enabled", "perhaps")], "invalid_body", "enabled"),
    ] {
        let refused = manager.post(edit, &form, true).await;
        assert_eq!(refused.status, 422, "{form:?}: {}", refused.body);
        assert_eq!(refused.header("hx-retarget"), "#flash");
        assert!(
            refused.body.contains(code) && refused.body.contains(says),
            "{form:?}: {}",
            refused.body
        );
        assert_eq!(schedule().await, before, "{form:?} saved nothing");
    }

    let row = manager
        .post(edit, &[("cron", "*/5 * * * *"), ("time_zone", "UTC")], true)
        .await;
    assert_eq!(row.status, 200, "{}", row.body);
    assert!(
        row.body.starts_with(r#"<tr id="schedule-sch_prices">"#)
            && row.body.contains("<code>*/5 * * * *</code> UTC"),
        "{}",
        row.body
    );
    let saved = schedule().await;
    assert_eq!(
        (
            saved["cron"].as_str(),
            saved["time_zone"].as_str(),
            saved["enabled"].as_bool()
        ),
        (Some("*/5 * * * *"), Some("UTC"), Some(true))
    );
    assert!(saved["next_run_at"].is_string(), "{saved}");

    let row = manager.post(edit, &[("enabled", "false")], true).await;
    assert!(
        row.body
            .contains(r#"<span class="status inactive">disabled</span>"#)
            && row.body.contains(">Enable</button>"),
        "{}",
        row.body
    );
    let disabled = schedule().await;
    assert_eq!(
        (disabled["cron"].as_str(), disabled["enabled"].as_bool()),
        (Some("*/5 * * * *"), Some(false)),
        "the cron kept"
    );
    assert!(disabled["next_run_at"].is_null(), "{disabled}");
    let updates = audited(&app, "schedule.update").await;
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0]["actor"], "user:wendy");
    assert_eq!(updates[0]["after_state"]["enabled"], false);
    assert_eq!(updates[1]["before_state"]["cron"], before["cron"]);

    // Run now: without a supplier system it cannot sync, and says why; with one, it
    // starts a run (even while disabled) and shows it.
    let refused = manager.post(run, &[], true).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("not_syncable"), "{}", refused.body);
    supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
        .await
        .unwrap();
    let started = manager.post(run, &[], true).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let to = started.header("hx-redirect").to_owned();
    let run_id = to.strip_prefix("/admin/sync-runs/").unwrap().to_owned();
    assert!(run_id.starts_with("run_"), "{to}");
    let mut status = Value::Null;
    for _ in 0..1200 {
        let (_, r) = app.get(&format!("/api/v1/sync-runs/{run_id}")).await;
        status = r["status"].clone();
        if !matches!(status.as_str(), Some("pending" | "processing")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "success");
    let runs = audited(&app, "schedule.run").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["after_state"]["id"], run_id.as_str());
    assert_eq!(
        manager
            .post("/admin/schedules/sch_nope", &[("enabled", "true")], true)
            .await
            .status,
        404
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

crate::on_both_backends! {
    signing_in_and_out => signing_in_and_out;
    the_page_escapes_what_it_shows => the_page_escapes_what_it_shows;
    dead_letters_are_redriven_within_the_rules => dead_letters_are_redriven_within_the_rules;
    sync_runs_start_and_show_progress => sync_runs_start_and_show_progress;
    orders_and_stock_by_address => orders_and_stock_by_address;
    users_keys_and_the_audit_log_are_for_admins => users_keys_and_the_audit_log_are_for_admins;
    webhook_events_are_listed_and_replayed => webhook_events_are_listed_and_replayed;
    webhook_deliveries_are_listed_and_resent => webhook_deliveries_are_listed_and_resent;
    users_are_created_and_changed_on_the_page => users_are_created_and_changed_on_the_page;
    api_keys_are_created_and_revoked_on_the_page => api_keys_are_created_and_revoked_on_the_page;
    schedules_are_edited_and_run_on_the_page => schedules_are_edited_and_run_on_the_page;
    the_dashboard_lists_live_instances => the_dashboard_lists_live_instances;
}

/// The dashboard lists the instances with a recent heartbeat, with the share of the
/// supplier budget each applies; one silent for long is gone from it.
async fn the_dashboard_lists_live_instances(db: &Db) {
    use supplyhub::store::instances::{InstanceRow, register};
    use supplyhub::types::UtcTime;
    let now = UtcTime::now();
    let long_ago = UtcTime::from_micros(now.as_micros() - 3_600_000_000).unwrap();
    for (id, role, host, heartbeat_at, share) in [
        ("4242-livelive", "serve", "node-a", now, 2),
        ("4343-syncsync", "sync", "<b>node-b</b>", now, 2),
        ("4444-deaddead", "serve", "node-c", long_ago, 3),
    ] {
        register(
            db,
            &InstanceRow {
                id: id.to_owned(),
                role: role.to_owned(),
                host: host.to_owned(),
                pid: 4242,
                started_at: long_ago,
                heartbeat_at,
                budget_share: share,
            },
        )
        .await
        .unwrap();
    }
    let app = spawn(AppState::new(db.clone())).await;
    create_user(&app, "ops", "staff").await;
    let browser = sign_in(&app, "ops").await;
    let dashboard = browser.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    let body = &dashboard.body;
    assert!(body.contains(r#"id="instances""#), "{body}");
    assert!(
        body.contains("4242-livelive") && body.contains("4343-syncsync"),
        "{body}"
    );
    assert!(
        !body.contains("4444-deaddead"),
        "a dead instance is listed: {body}"
    );
    assert!(body.contains("&#60;b&#62;node-b&#60;/b&#62;"), "{body}");
    assert!(!body.contains("<b>node-b"), "{body}");
}
