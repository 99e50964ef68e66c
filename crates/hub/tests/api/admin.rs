//! The admin page over HTTP, as a browser without JavaScript and as htmx use it: sign-in
//! and sign-out through the cookie session, the pages' content, their access rules
//! (a redirect to sign in, the roles of the API routes the actions mirror, the CSRF
//! token), and HTML escaping of everything shown.

use std::sync::Arc;

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::json;
use supplyhub::access::AccessState;
use supplyhub::config::AccessConfig;
use supplyhub::http::AppState;
use supplyhub::store::Db;
use supplyhub::sync::NoProgress;
use supplyhub::systems::crypto::KeyRing;

use crate::helpers::{TestApp, TestSandbox, catalog_only};

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
}
