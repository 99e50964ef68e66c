//! The audit log: operators' changes with who, what, when, before and after, secrets
//! masked; filtered and paged.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use supplyhub::access::AccessState;
use supplyhub::config::AccessConfig;
use supplyhub::http::AppState;
use supplyhub::store::Db;

use crate::helpers::TestApp;

const ADMIN_TOKEN: &str = "audit-admin-token-51c2";

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(bearer);
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

async fn log(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = call(
        app,
        Method::GET,
        &format!("/api/v1/audit-log{query}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn changes_are_recorded_with_before_and_after(db: &Db) {
    let mut state = AppState::new(db.clone());
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(ADMIN_TOKEN)));
    state.access = AccessState::new(AccessConfig::default(), true);
    let app = TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await;

    let password = "pw-that-must-not-leak-9";
    let (status, user) = call(
        &app,
        Method::POST,
        "/api/v1/users",
        ADMIN_TOKEN,
        Some(json!({"username": "qian", "password": password, "role": "staff"})),
    )
    .await;
    assert_eq!(status, 201);
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{user_id}"),
        ADMIN_TOKEN,
        Some(json!({"role": "store_manager", "password": "another secret password"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, created) = call(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        ADMIN_TOKEN,
        Some(json!({"name": "wms", "role": "warehouse_manager"})),
    )
    .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();
    let (status, front) = call(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        ADMIN_TOKEN,
        Some(json!({"name": "shop", "role": "storefront"})),
    )
    .await;
    assert_eq!(status, 201);
    let front = front["key"].as_str().unwrap().to_owned();

    // A change through a route with no audit description of its own: the request's body.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/products",
        &key,
        Some(json!({"code": "LOCAL-7", "name": "Kettle"})),
    )
    .await;
    assert_eq!(status, 201);
    // Refused changes, reads and the storefront's doings are not recorded.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/products",
        &key,
        Some(json!({"code": "", "name": "x"})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = call(&app, Method::GET, "/api/v1/products", &key, None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, Method::GET, "/api/v1/auth/me", &front, None).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/api-keys/{key_id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);

    let all = log(&app, "").await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "api_key.revoke",
            "POST /api/v1/products",
            "api_key.create",
            "api_key.create",
            "user.update",
            "user.create"
        ],
        "newest first"
    );
    let text = serde_json::to_string(&all).unwrap();
    for secret in [
        password,
        "another secret password",
        &key,
        &front,
        &key[13..],
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the audit log");
    }
    let update = &all[4];
    assert_eq!(update["actor"], "admin_token");
    assert_eq!(update["role"], "admin");
    assert_eq!(update["target"], user_id.as_str());
    assert_eq!(update["before_state"]["role"], "staff");
    assert_eq!(update["after_state"]["role"], "store_manager");
    assert_eq!(
        update["after_state"]["password"], "***",
        "the change of password shows, masked"
    );
    assert!(update["occurred_at"].is_string());
    let product = &all[1];
    assert_eq!(product["actor"], format!("api_key:{key_id}"));
    assert_eq!(product["role"], "warehouse_manager");
    assert_eq!(product["target"], "/api/v1/products");
    assert_eq!(product["after_state"]["code"], "LOCAL-7");
    let revoke = &all[0];
    assert!(revoke["before_state"]["revoked_at"].is_null());
    assert!(revoke["after_state"]["revoked_at"].is_string());

    // Filters and pages.
    assert_eq!(log(&app, "?action=api_key.").await.len(), 3);
    assert_eq!(log(&app, &format!("?target={user_id}")).await.len(), 2);
    assert_eq!(
        log(&app, &format!("?actor=api_key:{key_id}")).await.len(),
        1
    );
    let first = all.last().unwrap()["occurred_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = all[0]["occurred_at"].as_str().unwrap().to_owned();
    assert_eq!(log(&app, &format!("?since={first}")).await.len(), 6);
    assert_eq!(log(&app, &format!("?until={first}")).await.len(), 0);
    assert!(!log(&app, &format!("?since={last}")).await.is_empty());
    let (_, page) = call(
        &app,
        Method::GET,
        "/api/v1/audit-log?limit=4",
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    let next = page["next"].as_str().unwrap();
    let rest = log(&app, &format!("?limit=4&after={next}")).await;
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[1]["action"], "user.create");

    for (query, names) in [
        ("?since=yesterday", "since"),
        ("?until=2026-13-01T00:00:00Z", "until"),
        (
            "?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
            "since",
        ),
        ("?limit=0", "limit"),
        ("?actor=", "actor"),
    ] {
        let (status, body) = call(
            &app,
            Method::GET,
            &format!("/api/v1/audit-log{query}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{query}: {body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains(names),
            "{query}: {body}"
        );
    }
}

crate::on_both_backends! {
    recorded => changes_are_recorded_with_before_and_after;
}
