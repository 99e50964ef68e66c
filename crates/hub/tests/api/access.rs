//! Access control: the permission matrix, logins and their throttling, sessions with
//! CSRF, API keys, and the command line that creates them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use supplyhub::access::AccessState;
use supplyhub::config::AccessConfig;
use supplyhub::http::AppState;
use supplyhub::store::Db;
use supplyhub::types::UtcTime;

use crate::helpers::{TestApp, TestDb};

const ADMIN_TOKEN: &str = "bootstrap-admin-token-7f3a";

/// Who may call each route, written from the roles of the issue, not from the code's
/// table: A admin, S store_manager, W warehouse_manager, C customer_manager, T staff,
/// F storefront; `public` needs no credentials; `any` is any authenticated caller.
const MATRIX: &str = "
GET    /healthz                                    public
GET    /readyz                                     public
GET    /metrics                                    A S W C T
GET    /openapi.json                               public
GET    /docs                                       public
GET    /docs/app.js                                public
POST   /callbacks/haier                            public
POST   /webhooks/{system_id}                       public
POST   /api/v1/auth/login                          public
POST   /api/v1/auth/logout                         any
GET    /api/v1/auth/me                             any
GET    /api/v1/users                               A
POST   /api/v1/users                               A
GET    /api/v1/users/{id}                          A
PATCH  /api/v1/users/{id}                          A
GET    /api/v1/api-keys                            A
POST   /api/v1/api-keys                            A
DELETE /api/v1/api-keys/{id}                       A
GET    /api/v1/audit-log                           A
GET    /api/v1/systems                             A S
POST   /api/v1/systems                             A S
GET    /api/v1/systems/{id}                        A S
PUT    /api/v1/systems/{id}                        A S
PATCH  /api/v1/systems/{id}                        A S
DELETE /api/v1/systems/{id}                        A S
POST   /api/v1/systems/{id}/test                   A S
GET    /api/v1/systems/{id}/endpoints              A S
POST   /api/v1/systems/{id}/endpoints              A S
GET    /api/v1/systems/{id}/endpoints/{endpoint_id} A S
PATCH  /api/v1/systems/{id}/endpoints/{endpoint_id} A S
DELETE /api/v1/systems/{id}/endpoints/{endpoint_id} A S
POST   /api/v1/systems/{id}/endpoints/{endpoint_id}/rotate-secret A S
GET    /api/v1/webhook-deliveries                  A S
GET    /api/v1/webhook-deliveries/{id}             A S
POST   /api/v1/webhook-deliveries/{id}/retry       A S
GET    /api/v1/systems/{id}/webhook-secrets        A S
POST   /api/v1/systems/{id}/webhook-secrets        A S
POST   /api/v1/systems/{id}/mapping/preview        A S
GET    /api/v1/webhook-events                      A S W C T
GET    /api/v1/webhook-events/{id}                 A S W C T
POST   /api/v1/webhook-events/{id}/replay          A S
POST   /api/v1/webhook-events/replay               A S
GET    /api/v1/webhook-refusals                    A S W C T
GET    /api/v1/systems/{id}/supplier/products      A S W
GET    /api/v1/systems/{id}/supplier/prices        A S W
GET    /api/v1/systems/{id}/supplier/stock         A S W
GET    /api/v1/systems/{id}/supplier/balance       A S
GET    /api/v1/systems/{id}/supplier/logistics     A S W
GET    /api/v1/products                            A S W C T F
POST   /api/v1/products                            A S W
GET    /api/v1/products/{code}                     A S W C T F
POST   /api/v1/products/{code}/stock-adjustments   A S W
GET    /api/v1/products/{code}/stock-pool          A S W C T F
GET    /api/v1/regions/resolve                     A S W C T F
POST   /api/v1/orders                              A S F
GET    /api/v1/orders                              A S W C T F
GET    /api/v1/orders/{id}                         A S W C T F
GET    /api/v1/orders/{id}/calls                   A S W C T F
POST   /api/v1/orders/{id}/pay                     A S F
POST   /api/v1/orders/{id}/cancel                  A S F
POST   /api/v1/orders/{id}/reschedule              A S F
GET    /api/v1/orders/{id}/logistics               A S W C T F
GET    /api/v1/orders/{id}/delivery-photos         A S W C T F
GET    /api/v1/jobs                                A S W C T
GET    /api/v1/jobs/{id}                           A S W C T
POST   /api/v1/jobs/{id}/redrive                   A S W
GET    /api/v1/sync-runs                           A S W C T
POST   /api/v1/sync-runs                           A S W
GET    /api/v1/sync-runs/{id}                      A S W C T
GET    /api/v1/sync-runs/{id}/calls                A S W C T
GET    /api/v1/schedules                           A S W C T
GET    /api/v1/schedules/{id}                      A S W C T
PUT    /api/v1/schedules/{id}                      A S W
POST   /api/v1/schedules/{id}/run                  A S W
POST   /api/v1/pos/{system_id}/transactions        any
GET    /api/v1/pos/transactions                    any
GET    /api/v1/pos/transactions/{id}               any
GET    /api/v1/supplier-orders                     A S W
POST   /api/v1/supplier-orders/{id}                A S W
GET    /api/v1/supplier-orders/{id}                A S W
POST   /api/v1/supplier-orders/{id}/transitions    A S W
POST   /api/v1/members/{system_id}/sync            A S C
GET    /api/v1/members                             A S C
GET    /api/v1/members/{id}                        A S C
GET    /admin/login                                public
POST   /admin/login                                public
GET    /admin/assets/htmx.min.js                   public
GET    /admin/assets/admin.css                     public
GET    /admin/assets/favicon.svg                   public
POST   /admin/logout                               any
GET    /admin                                      A S W C T
GET    /admin/sync-runs                            A S W C T
POST   /admin/sync-runs                            A S W
GET    /admin/sync-runs/{id}                       A S W C T
GET    /admin/sync-runs/{id}/progress              A S W C T
GET    /admin/jobs                                 A S W C T
POST   /admin/jobs/{id}/redrive                    A S W
GET    /admin/orders                               A S W C T
GET    /admin/orders/{id}                          A S W C T
GET    /admin/stock                                A S W C T
GET    /admin/schedules                            A S W C T
POST   /admin/schedules/{id}                       A S W
POST   /admin/schedules/{id}/run                   A S W
GET    /admin/webhook-events                       A S W C T
POST   /admin/webhook-events/{id}/replay           A S
GET    /admin/webhook-deliveries                   A S
GET    /admin/webhook-deliveries/{id}              A S
POST   /admin/webhook-deliveries/{id}/retry        A S
GET    /admin/users                                A
POST   /admin/users                                A
POST   /admin/users/{id}                           A
GET    /admin/api-keys                             A
POST   /admin/api-keys                             A
POST   /admin/api-keys/{id}/revoke                 A
GET    /admin/audit-log                            A
";

const ROLES: [(&str, &str); 6] = [
    ("A", "admin"),
    ("S", "store_manager"),
    ("W", "warehouse_manager"),
    ("C", "customer_manager"),
    ("T", "staff"),
    ("F", "storefront"),
];

struct Row {
    method: Method,
    path: String,
    public: bool,
    roles: BTreeSet<&'static str>,
}

fn matrix() -> Vec<Row> {
    MATRIX
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let method: Method = parts.next().unwrap().parse().unwrap();
            let path = parts.next().unwrap().to_owned();
            let who: Vec<&str> = parts.collect();
            let (public, roles) = match who.as_slice() {
                ["public"] => (true, ROLES.iter().map(|r| r.1).collect()),
                ["any"] => (false, ROLES.iter().map(|r| r.1).collect()),
                letters => (
                    false,
                    letters
                        .iter()
                        .map(|l| ROLES.iter().find(|r| r.0 == *l).unwrap().1)
                        .collect(),
                ),
            };
            Row {
                method,
                path,
                public,
                roles,
            }
        })
        .collect()
}

/// The app with the admin token, over `db`, and its base URL.
async fn spawn(db: &Db, config: AccessConfig) -> TestApp {
    let mut state = AppState::new(db.clone());
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(ADMIN_TOKEN)));
    state.access = AccessState::new(config, true);
    TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, format!("{}{path}", app.base));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn create_key(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/v1/api-keys",
        Some(ADMIN_TOKEN),
        Some(json!({"name": name, "role": role})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["key"].as_str().unwrap().to_owned(),
        body["id"].as_str().unwrap().to_owned(),
    )
}

/// Every route × every role (an API key of each), a revoked key, no credentials and the
/// admin token give the status the matrix above expects; the routes of the matrix are
/// exactly the routes of the OpenAPI document.
async fn permission_matrix(db: &Db) {
    let app = spawn(db, AccessConfig::default()).await;
    let mut keys = BTreeMap::new();
    for (_, role) in ROLES {
        keys.insert(
            role,
            create_key(&app, &format!("matrix-{role}"), role).await.0,
        );
    }
    let (revoked, revoked_id) = create_key(&app, "matrix-revoked", "admin").await;
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/api-keys/{revoked_id}"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);

    let rows = matrix();
    let (_, doc) = call(&app, Method::GET, "/openapi.json", None, None).await;
    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    for served in ["/openapi.json", "/docs", "/docs/app.js"] {
        documented.insert(("GET".to_owned(), served.to_owned()));
    }
    // The admin page's HTML routes are served beside the document, not in it.
    for row in rows.iter().filter(|r| r.path.starts_with("/admin")) {
        documented.insert((row.method.to_string(), row.path.clone()));
    }
    let expected: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    assert_eq!(documented, expected, "the matrix covers every route");

    for row in &rows {
        let path = row
            .path
            .replace("{code}", "NOPE0001")
            .replace("{endpoint_id}", "zz_nope")
            .replace("{id}", "zz_nope")
            .replace("{system_id}", "zz_nope");
        let body = (row.method != Method::GET && row.method != Method::DELETE).then(|| json!({}));
        let admin_page = row.path.starts_with("/admin");
        let denied = |status: u16, body: &Value| {
            status == 401 || status == 403 || body["code"] == "forbidden"
        };
        for (_, role) in ROLES {
            let (status, resp) = call(
                &app,
                row.method.clone(),
                &path,
                Some(&keys[role]),
                body.clone(),
            )
            .await;
            if row.roles.contains(role) {
                assert!(
                    !denied(status, &resp),
                    "{role} may {} {}: got {status} {resp}",
                    row.method,
                    row.path
                );
            } else if admin_page {
                // An HTML page saying so.
                assert_eq!(status, 403, "{role} may not {} {}", row.method, row.path);
                assert!(resp.to_string().contains("forbidden"), "{resp}");
            } else {
                assert_eq!(
                    (status, resp["code"].as_str()),
                    (403, Some("forbidden")),
                    "{role} may not {} {}: {resp}",
                    row.method,
                    row.path
                );
            }
        }
        let (status, resp) = call(
            &app,
            row.method.clone(),
            &path,
            Some(ADMIN_TOKEN),
            body.clone(),
        )
        .await;
        assert!(
            !denied(status, &resp),
            "the admin token may {} {}: {status} {resp}",
            row.method,
            row.path
        );
        for (who, bearer) in [
            ("no credentials", None),
            ("a revoked key", Some(revoked.as_str())),
        ] {
            let (status, resp) = call(&app, row.method.clone(), &path, bearer, body.clone()).await;
            if row.public {
                assert!(
                    !denied(status, &resp),
                    "{who} may {} {}: {status} {resp}",
                    row.method,
                    row.path
                );
            } else if admin_page {
                // Sent (and followed) to the sign-in page.
                assert_eq!(status, 200, "{who} on {} {}", row.method, row.path);
                assert!(
                    resp.to_string().contains(r#"action=\"/admin/login\""#),
                    "{who} on {} {}: {resp}",
                    row.method,
                    row.path
                );
            } else {
                assert_eq!(status, 401, "{who} on {} {}: {resp}", row.method, row.path);
                assert!(resp["detail"].is_string(), "{resp}");
            }
        }
    }
}

/// A key is shown once, listed by its prefix without its secret, records its last use,
/// and authenticates nothing once revoked; neither the key nor its secret is stored.
async fn api_keys_are_shown_once_and_revocable(db: &Db) {
    let app = spawn(db, AccessConfig::default()).await;
    let (key, id) = create_key(&app, "storefront-prod", "storefront").await;
    assert!(key.starts_with("shk_"), "{key}");
    let (status, me) = call(&app, Method::GET, "/api/v1/auth/me", Some(&key), None).await;
    assert_eq!(status, 200);
    assert_eq!(me["role"], "storefront");
    assert_eq!(me["principal"]["kind"], "api_key");
    assert_eq!(me["principal"]["name"], "storefront-prod");
    let (status, list) = call(
        &app,
        Method::GET,
        "/api/v1/api-keys",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let text = list.to_string();
    let secret = key.rsplit('_').next().unwrap();
    assert!(!text.contains(secret), "the secret is never listed: {text}");
    let listed = &list["items"][0];
    assert_eq!(listed["id"], id.as_str());
    assert!(key.starts_with(&format!("shk_{}_", listed["prefix"].as_str().unwrap())));
    assert!(
        listed["last_used_at"].is_string(),
        "last use recorded: {listed}"
    );
    assert!(listed.get("key").is_none() && listed.get("secret_hash").is_none());
    assert_eq!(listed["created_by"], "admin_token");

    // The store holds only the hash.
    let stored: Vec<String> = match db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT secret_hash FROM api_keys")
            .fetch_all(p)
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar("SELECT secret_hash FROM api_keys")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    assert_eq!(stored, vec![supplyhub::access::sha256_hex(&key)]);

    // A wrong secret with a right prefix is refused.
    let forged = format!("{}{}", &key[..13], "0".repeat(64));
    let (status, body) = call(&app, Method::GET, "/api/v1/products", Some(&forged), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));

    let (status, revoked) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/api-keys/{id}"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = call(&app, Method::GET, "/api/v1/products", Some(&key), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    assert!(!body.to_string().contains(secret));
    let (status, _) = call(
        &app,
        Method::DELETE,
        "/api/v1/api-keys/key_nope",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

fn cookie_of(resp: &reqwest::Response) -> (String, String) {
    let set = resp
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, set)
}

async fn login(app: &TestApp, username: &str, password: &str, https: bool) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": username, "password": password}));
    if https {
        req = req.header("x-forwarded-proto", "https");
    }
    req.send().await.unwrap()
}

async fn create_user(app: &TestApp, username: &str, password: &str, role: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/v1/users",
        Some(ADMIN_TOKEN),
        Some(json!({"username": username, "password": password, "role": role})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("password_hash").is_none(), "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// A login opens a cookie session (HttpOnly, SameSite, Secure behind TLS) acting with the
/// user's role; a state-changing request on it needs the CSRF token; logout ends it.
async fn sessions_carry_the_role_and_need_csrf(db: &Db) {
    let app = spawn(db, AccessConfig::default()).await;
    create_user(&app, "mei", "a long enough password", "store_manager").await;
    let resp = login(&app, "mei", "a long enough password", true).await;
    assert_eq!(resp.status().as_u16(), 200);
    let (cookie, set) = cookie_of(&resp);
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    let body: Value = resp.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(body["user"]["role"], "store_manager");
    let plain = login(&app, "mei", "a long enough password", false).await;
    assert!(
        !cookie_of(&plain).1.contains("Secure"),
        "no Secure without TLS"
    );

    let with_cookie = |method: Method, path: &str| {
        app.http
            .request(method, format!("{}{path}", app.base))
            .header("cookie", &cookie)
    };
    let me: Value = with_cookie(Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["principal"]["username"], "mei");
    assert_eq!(me["role"], "store_manager");
    let users = with_cookie(Method::GET, "/api/v1/users")
        .send()
        .await
        .unwrap();
    assert_eq!(users.status().as_u16(), 403, "a store manager is no admin");

    // A POST on the session without its CSRF token is refused, with it carried out.
    let body = json!({"code": "LOCAL-1", "name": "Local kettle"});
    let refused = with_cookie(Method::POST, "/api/v1/products")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["code"], "csrf_failed");
    let wrong = with_cookie(Method::POST, "/api/v1/auth/logout")
        .header("x-csrf-token", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let out = with_cookie(Method::POST, "/api/v1/auth/logout")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    assert!(cookie_of(&out).1.contains("Max-Age=0"));
    let after = with_cookie(Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 401);
    let after: Value = after.json().await.unwrap();
    assert_eq!(after["code"], "session_expired");

    // Disabling a user ends its sessions.
    let resp = login(&app, "mei", "a long enough password", false).await;
    let (cookie, _) = cookie_of(&resp);
    let (_, list) = call(&app, Method::GET, "/api/v1/users", Some(ADMIN_TOKEN), None).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(ADMIN_TOKEN),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let me = app
        .http
        .get(format!("{}/api/v1/auth/me", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 401);
    let again = login(&app, "mei", "a long enough password", false).await;
    assert_eq!(
        again.status().as_u16(),
        401,
        "a disabled user cannot sign in"
    );
}

async fn rewind_failures(db: &Db) {
    let long_ago = UtcTime::from_micros(UtcTime::now().as_micros() - 600_000_000).unwrap();
    match db {
        Db::Sqlite(p) => sqlx::query("UPDATE users SET last_failed_login_at = $1")
            .bind(long_ago)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query("UPDATE users SET last_failed_login_at = $1")
            .bind(long_ago)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

/// Failed logins slow an account down (429 login_throttled, whatever the password), then
/// lock it (429 account_locked); an admin's new password unlocks it.
async fn failed_logins_slow_down_then_lock(db: &Db) {
    let config = AccessConfig {
        login_slowdown_after: 2,
        login_lock_after: 4,
        login_lock_minutes: 15,
        ..AccessConfig::default()
    };
    let app = spawn(db, config).await;
    let id = create_user(&app, "lin", "the right password", "staff").await;
    for _ in 0..2 {
        let r = login(&app, "lin", "a wrong password", false).await;
        assert_eq!(r.status().as_u16(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_credentials");
    }
    // The third attempt comes too soon: refused without looking at the password.
    let r = login(&app, "lin", "the right password", false).await;
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "login_throttled");
    // Once the wait is over, failures go on counting until the lock.
    for _ in 0..2 {
        rewind_failures(db).await;
        let r = login(&app, "lin", "a wrong password", false).await;
        assert_eq!(r.status().as_u16(), 401);
    }
    rewind_failures(db).await;
    let r = login(&app, "lin", "the right password", false).await;
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 14 * 60, "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "account_locked");
    let (_, user) = call(
        &app,
        Method::GET,
        &format!("/api/v1/users/{id}"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(user["failed_logins"], 4);
    assert!(user["locked_until"].is_string());
    // An unknown user is answered like a wrong password.
    let r = login(&app, "nobody", "the right password", false).await;
    assert_eq!(r.status().as_u16(), 401);
    // A new password from an admin clears the lock.
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(ADMIN_TOKEN),
        Some(json!({"password": "a brand new password"})),
    )
    .await;
    assert_eq!(status, 200);
    let r = login(&app, "lin", "a brand new password", false).await;
    assert_eq!(r.status().as_u16(), 200);
}

/// A hub with no credentials at all is open (the quick start); the first key created
/// closes it.
async fn the_first_credential_closes_an_open_hub(db: &Db) {
    let app = TestApp::spawn(db, None).await;
    let (status, me) = call(&app, Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(me["principal"]["kind"], "open");
    let (status, created) = call(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        None,
        Some(json!({"name": "first", "role": "admin"})),
    )
    .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap();
    let (status, _) = call(&app, Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = call(&app, Method::GET, "/api/v1/products", Some(key), None).await;
    assert_eq!(status, 200);
    assert!(supplyhub::store::access::any_credentials(db).await.unwrap());
}

/// Bad input to the access routes is a 4xx `{code, detail}` naming what is wrong.
async fn bad_input_is_named(db: &Db) {
    let app = spawn(db, AccessConfig::default()).await;
    let id = create_user(&app, "zhao", "a long enough password", "staff").await;
    let user_path = format!("/api/v1/users/{id}");
    let cases: Vec<(Method, &str, Option<Value>, u16, &str)> = vec![
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "a", "password": "short", "role": "staff"})),
            422,
            "password",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"username": "bad name!", "password": "a long enough password", "role": "staff"}),
            ),
            422,
            "username",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "b", "password": "a long enough password", "role": "root"})),
            422,
            "role",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"username": "zhao", "password": "a long enough password", "role": "staff"}),
            ),
            409,
            "zhao",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"username": "c", "password": "a long enough password", "role": "staff", "admin": true}),
            ),
            422,
            "admin",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!("not an object")),
            422,
            "invalid type",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!(["c", "a long enough password", "staff"])),
            422,
            "a JSON object",
        ),
        (
            Method::PATCH,
            &user_path,
            Some(json!([null, true, null])),
            422,
            "a JSON object",
        ),
        (
            Method::PATCH,
            &user_path,
            Some(json!({"role": "owner"})),
            422,
            "role",
        ),
        (
            Method::PATCH,
            &user_path,
            Some(json!({"password": "short"})),
            422,
            "password",
        ),
        (
            Method::PATCH,
            "/api/v1/users/usr_nope",
            Some(json!({"disabled": true})),
            404,
            "usr_nope",
        ),
        (Method::GET, "/api/v1/users/usr_nope", None, 404, "usr_nope"),
        (Method::GET, "/api/v1/users?limit=0", None, 400, "limit"),
        (Method::GET, "/api/v1/api-keys?limit=x", None, 400, "limit"),
        (
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": " ", "role": "staff"})),
            422,
            "name",
        ),
        (
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "k", "role": "superuser"})),
            422,
            "role",
        ),
        (
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"role": "staff"})),
            422,
            "name",
        ),
        (
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "", "password": "x"})),
            422,
            "username",
        ),
        (
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "zhao"})),
            422,
            "password",
        ),
    ];
    for (method, path, body, want, names) in cases {
        let (status, resp) = call(&app, method.clone(), path, Some(ADMIN_TOKEN), body).await;
        assert_eq!(status, want, "{method} {path}: {resp}");
        assert!(resp["code"].is_string(), "{method} {path}: {resp}");
        let detail = resp["detail"].as_str().unwrap();
        assert!(
            detail.contains(names),
            "{method} {path}: {detail:?} names {names:?}"
        );
    }
    // A body that is not JSON at all.
    let resp = app
        .http
        .post(format!("{}/api/v1/api-keys", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // A malformed Authorization header.
    let resp = app
        .http
        .get(format!("{}/api/v1/products", app.base))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
}

crate::on_both_backends! {
    matrix => permission_matrix;
    api_keys => api_keys_are_shown_once_and_revocable;
    sessions => sessions_carry_the_role_and_need_csrf;
    lockout => failed_logins_slow_down_then_lock;
    open_hub => the_first_credential_closes_an_open_hub;
    bad_input => bad_input_is_named;
}

/// `supplyhub user create` and `supplyhub apikey create|revoke` work on the store the
/// server reads; the key printed once authenticates until it is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_creates_users_and_keys() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let t = TestDb::sqlite().await;
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_supplyhub"));
        cmd.current_dir(std::env::temp_dir());
        for (name, _) in std::env::vars() {
            if name.starts_with("SUPPLYHUB_") {
                cmd.env_remove(name);
            }
        }
        let mut child = cmd
            .args(args)
            .env("SUPPLYHUB_DATABASE_URL", &t.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    };
    let out = cli(
        &[
            "user",
            "create",
            "--username",
            "root-admin",
            "--role",
            "admin",
        ],
        Some("a long enough password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        &["user", "create", "--username", "x", "--role", "owner"],
        Some("a long enough password\n"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("owner"));
    let out = cli(
        &[
            "apikey",
            "create",
            "--role",
            "warehouse_manager",
            "--name",
            "wms",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(supplyhub::access::key_prefix(&key).is_some(), "{key}");

    let enforced = supplyhub::store::access::any_credentials(&t.db)
        .await
        .unwrap();
    let mut state = AppState::new(t.db.clone());
    state.access = AccessState::new(AccessConfig::default(), enforced);
    let app = TestApp::spawn_state(state, None).await;
    let (status, _) = call(&app, Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(status, 401, "users and keys close the hub");
    let (status, me) = call(&app, Method::GET, "/api/v1/auth/me", Some(&key), None).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (200, Some("warehouse_manager"))
    );
    let r = login(&app, "root-admin", "a long enough password", false).await;
    assert_eq!(r.status().as_u16(), 200);

    let prefix = supplyhub::access::key_prefix(&key).unwrap().to_owned();
    let out = cli(&["apikey", "revoke", &prefix], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _) = call(&app, Method::GET, "/api/v1/auth/me", Some(&key), None).await;
    assert_eq!(status, 401);
    let out = cli(&["apikey", "list"], None);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains(&prefix) && !listed.contains(&key[13..]),
        "{listed}"
    );
    let recorded: Vec<String> = match &t.db {
        Db::Sqlite(p) => {
            sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'cli' ORDER BY id")
                .fetch_all(p)
                .await
                .unwrap()
        }
        Db::Postgres(_) => unreachable!("the CLI test runs on SQLite"),
    };
    assert_eq!(
        recorded,
        ["user.create", "api_key.create", "api_key.revoke"]
    );
    t.cleanup().await;
}

/// `/docs` is served from the binary, open, and loads nothing from another host.
#[tokio::test]
async fn the_docs_page_is_embedded() {
    let t = TestDb::sqlite().await;
    let app = spawn(&t.db, AccessConfig::default()).await;
    for (path, kind, needle) in [
        ("/docs", "text/html", "/docs/app.js"),
        ("/docs/app.js", "text/javascript", "/openapi.json"),
    ] {
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ctype.starts_with(kind), "{path}: {ctype}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(needle), "{path}");
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "{path} loads nothing from another host"
        );
    }
    t.cleanup().await;
}
