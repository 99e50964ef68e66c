//! The registry of external systems: typed settings, write-only secrets sealed at rest,
//! filters, archive on delete, key rotation, and bad input.

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use supplyhub::http::AppState;
use supplyhub::store::Db;
use supplyhub::systems::crypto::{KeyRing, generate_key_hex};

use crate::helpers::{TestApp, TestDb, call};

const ADMIN_TOKEN: &str = "systems-admin-token-0d9e";
const SECRETS: [(&str, &str); 4] = [
    ("client_secret", "op-client-secret-Z81"),
    ("password", "op-password-Q42"),
    ("seller_password", "op-seller-pw-K77"),
    ("callback_secret", "cb-signing-secret-M09"),
];

fn state(db: &Db, ring: KeyRing) -> AppState {
    crate::helpers::guarded_state(db, ring, ADMIN_TOKEN)
}

fn haier_system(name: &str) -> Value {
    json!({
        "name": name,
        "kind": "supplier",
        "settings": {
            "vendor": "haier",
            "open_platform": {"base_url": "http://127.0.0.1:9/op", "client_id": "cid-1", "customer_code": "8800539012"},
            "callback": {"app_key": "918273645"}
        },
        "sync": {"counties": ["370212"], "interval_minutes": 60},
        "secrets": SECRETS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()
    })
}

fn assert_no_secret(text: &str, what: &str) {
    for (_, secret) in SECRETS {
        assert!(!text.contains(secret), "{secret} in {what}: {text}");
    }
}

async fn systems_keep_secrets_write_only(db: &Db) {
    let state = state(db, KeyRing::ephemeral());
    let app = TestApp::spawn_state(state.clone(), Some(ADMIN_TOKEN)).await;
    let (status, created) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(haier_system("haier-prod")),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_no_secret(&created.to_string(), "the answer to POST");
    assert_eq!(
        created["secrets_set"],
        json!([
            "callback_secret",
            "client_secret",
            "password",
            "seller_password"
        ])
    );
    assert_eq!(created["status"], "inactive");
    assert_eq!(created["settings"]["open_platform"]["client_id"], "cid-1");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, pos) = call(&app, Method::POST, "/api/v1/systems", Some(json!({"name": "till-1", "kind": "pos", "status": "active", "settings": {"base_url": "https://pos.example"}, "secrets": {"signing_secret": "pos-sign-X1"}}))).await;
    assert_eq!(pos["secrets_set"], json!(["signing_secret"]));

    // The secrets open to what was sent, and build the hub's supplier settings.
    let row = supplyhub::store::systems::get(db, &id)
        .await
        .unwrap()
        .unwrap();
    let opened = supplyhub::systems::http::open_secrets(&state, &row).unwrap();
    let sent: BTreeMap<String, String> = SECRETS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(opened, sent);
    let settings: Value = serde_json::from_str(&row.settings).unwrap();
    let (op, ylh, callback) = supplyhub::systems::haier_configs(&settings, &opened).unwrap();
    let op = op.unwrap();
    assert_eq!(op.client_id, "cid-1");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&op.client_secret),
        "op-client-secret-Z81"
    );
    assert!(ylh.is_none());
    assert_eq!(callback.unwrap().app_key, "918273645");

    // Reads, filters.
    let (status, got) = call(&app, Method::GET, &format!("/api/v1/systems/{id}"), None).await;
    assert_eq!(status, 200);
    assert_no_secret(&got.to_string(), "GET");
    let (_, list) = call(&app, Method::GET, "/api/v1/systems?kind=supplier", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = call(&app, Method::GET, "/api/v1/systems?status=active", None).await;
    assert_eq!(list["items"][0]["name"], "till-1");
    let (_, list) = call(&app, Method::GET, "/api/v1/systems?limit=1", None).await;
    let next = list["next"].as_str().unwrap();
    let (_, rest) = call(
        &app,
        Method::GET,
        &format!("/api/v1/systems?limit=1&after={next}"),
        None,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next"].is_null());

    // PATCH: a merge patch of the settings, one secret removed, one changed.
    let (status, patched) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{id}"),
        Some(json!({
            "status": "testing",
            "settings": {"open_platform": {"client_id": "cid-2"}},
            "secrets": {"seller_password": null, "password": "op-password-NEW"}
        })),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["settings"]["open_platform"]["client_id"], "cid-2");
    assert_eq!(
        patched["settings"]["open_platform"]["customer_code"],
        "8800539012"
    );
    assert_eq!(
        patched["secrets_set"],
        json!(["callback_secret", "client_secret", "password"])
    );
    assert_eq!(patched["status"], "testing");
    let row = supplyhub::store::systems::get(db, &id)
        .await
        .unwrap()
        .unwrap();
    let opened = supplyhub::systems::http::open_secrets(&state, &row).unwrap();
    assert_eq!(opened["password"], "op-password-NEW");
    // PUT without secrets keeps them.
    let mut body = haier_system("haier-main");
    body.as_object_mut().unwrap().remove("secrets");
    let (status, put) = call(
        &app,
        Method::PUT,
        &format!("/api/v1/systems/{id}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["name"], "haier-main");
    assert_eq!(put["status"], "testing", "a PUT without status keeps it");
    assert_eq!(
        put["secrets_set"],
        json!(["callback_secret", "client_secret", "password"])
    );

    // The audit log records the changes without a secret.
    let (_, audit) = call(&app, Method::GET, "/api/v1/audit-log?action=system.", None).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 4);
    let audit_text = audit.to_string();
    assert_no_secret(&audit_text, "the audit log");
    assert!(!audit_text.contains("op-password-NEW") && !audit_text.contains("pos-sign-X1"));

    // No secret in clear in the database.
    let rows: Vec<String> = match db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT settings || secrets_set || COALESCE(secrets_ciphertext, '') FROM external_systems").fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar("SELECT settings || secrets_set || COALESCE(secrets_ciphertext, '') FROM external_systems").fetch_all(p).await.unwrap(),
    };
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_no_secret(r, "a stored row");
        assert!(!r.contains("op-password-NEW") && !r.contains("pos-sign-X1"));
    }

    // Delete: without records it goes; with records it is archived, and a hard delete
    // is refused.
    let pos_id = pos["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/systems/{pos_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/systems/{pos_id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    supplyhub::store::systems::record_test(db, &id, "active", "{\"ok\":true}", None)
        .await
        .unwrap();
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/systems/{id}?hard=true"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("system_has_records")),
        "{body}"
    );
    assert!(body["detail"].as_str().unwrap().contains("records"));
    let (status, archived) =
        call(&app, Method::DELETE, &format!("/api/v1/systems/{id}"), None).await;
    assert_eq!(status, 200);
    assert!(archived["archived_at"].is_string());
    assert_eq!(archived["status"], "inactive");
    let (_, list) = call(&app, Method::GET, "/api/v1/systems", None).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (_, list) = call(&app, Method::GET, "/api/v1/systems?archived=true", None).await;
    assert_eq!(list["items"][0]["id"], id.as_str());
}

async fn bad_input_is_named(db: &Db) {
    let app = TestApp::spawn_state(state(db, KeyRing::ephemeral()), Some(ADMIN_TOKEN)).await;
    let (_, created) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(haier_system("h")),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let one = format!("/api/v1/systems/{id}");
    let supplier = |settings: Value| json!({"name": "x", "kind": "supplier", "settings": settings});
    let cases: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "fax"})),
            422,
            "kind",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "", "kind": "pos"})),
            422,
            "name",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "pos", "status": "up"})),
            422,
            "status",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": " x", "kind": "pos"})),
            422,
            "whitespace",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x\u{3000}", "kind": "pos"})),
            422,
            "whitespace",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "pos", "secrets": {"sign": "é".repeat(4097)}})),
            422,
            "secrets.sign",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "erp", "sync": {"interval_minutes": 1.5}})),
            422,
            "interval_minutes",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "erp", "sync": {"counties": ["370200"]}})),
            422,
            "sync.counties",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(supplier(json!({}))),
            422,
            "vendor",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(supplier(json!({"vendor": "midea"}))),
            422,
            "vendor",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(supplier(
                json!({"vendor": "haier", "open_platform": {"client_secret": "s"}}),
            )),
            422,
            "settings.open_platform.client_secret",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(supplier(
                json!({"vendor": "haier", "open_platform": {"base_url": "ftp://x"}}),
            )),
            422,
            "base_url",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(supplier(json!({"vendor": "haier", "fax": 1}))),
            422,
            "fax",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(
                json!({"name": "x", "kind": "supplier", "settings": {"vendor": "haier"}, "secrets": {"api_key": "k"}}),
            ),
            422,
            "secrets.api_key",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "pos", "secrets": {"Bad-Name": "k"}})),
            422,
            "Bad-Name",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "pos", "secrets": {"sign": ""}})),
            422,
            "secrets.sign",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "erp", "settings": {"base_url": "gopher://x"}})),
            422,
            "base_url",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "erp", "sync": {"counties": ["999999"]}})),
            422,
            "sync.counties",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "erp", "sync": {"interval_minutes": 0}})),
            422,
            "interval_minutes",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "h", "kind": "erp"})),
            409,
            "\"h\"",
        ),
        (
            Method::GET,
            "/api/v1/systems?kind=fax".into(),
            None,
            400,
            "kind",
        ),
        (
            Method::GET,
            "/api/v1/systems?status=up".into(),
            None,
            400,
            "status",
        ),
        (
            Method::GET,
            "/api/v1/systems?archived=maybe".into(),
            None,
            400,
            "archived",
        ),
        (
            Method::GET,
            "/api/v1/systems?limit=9999".into(),
            None,
            400,
            "limit",
        ),
        (
            Method::GET,
            "/api/v1/systems/sys_nope".into(),
            None,
            404,
            "sys_nope",
        ),
        (
            Method::PUT,
            one.clone(),
            Some(json!({"name": "h", "kind": "pos"})),
            409,
            "kind",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"colour": "red"})),
            422,
            "colour",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"settings": {"vendor": "midea"}})),
            422,
            "vendor",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"secrets": {"sign_key": "x"}})),
            409,
            "sign_key",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"secrets": {"Sign-Key": "x"}})),
            422,
            "Sign-Key",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"settings": {"base_url": "http://x.invalid"}})),
            409,
            "settings.base_url",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"settings": {"ylh": {"url": null}}})),
            422,
            "url",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"settings": ["haier"]})),
            422,
            "settings must be an object",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "erp", "settings": [null]})),
            422,
            "settings must be an object",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"sync": [[], 5]})),
            422,
            "expected an object",
        ),
        (
            Method::POST,
            "/api/v1/systems".into(),
            Some(json!({"name": "x", "kind": "erp", "sync": [["370212"]]})),
            422,
            "expected an object",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"name": "h "})),
            422,
            "whitespace",
        ),
        (
            Method::PATCH,
            "/api/v1/systems/sys_nope".into(),
            Some(json!({"status": "active"})),
            404,
            "sys_nope",
        ),
        (Method::DELETE, format!("{one}?hard=yes"), None, 400, "hard"),
        (
            Method::GET,
            "/api/v1/systems/%FF".into(),
            None,
            400,
            "UTF-8",
        ),
    ];
    for (method, path, body, want, names) in cases {
        let (status, resp) = call(&app, method.clone(), &path, body).await;
        assert_eq!(status, want, "{method} {path}: {resp}");
        assert!(resp["code"].is_string(), "{method} {path}: {resp}");
        let detail = resp["detail"].as_str().unwrap();
        assert!(
            detail.contains(names),
            "{method} {path}: {detail:?} names {names:?}"
        );
    }

    // What the document allows is taken as given: a name with inner spaces is kept, a
    // secret is measured in characters, an interval may be written 60.0.
    let (status, resp) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(json!({
            "name": "front  till 1", "kind": "pos",
            "secrets": {"sign": "é".repeat(4096)},
            "sync": {"interval_minutes": 60.0}
        })),
    )
    .await;
    assert_eq!(status, 201, "{resp}");
    assert_eq!(resp["name"], "front  till 1");
    assert_eq!(resp["sync"]["interval_minutes"], 60);
    assert_eq!(resp["secrets_set"], json!(["sign"]));
}

/// The SQLite file holds no secret in plain text; `supplyhub secrets rotate` reseals
/// every system under the new key, after which the old key is no longer needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_sealed_in_the_file_and_rotate() {
    let t = TestDb::sqlite().await;
    let old = generate_key_hex();
    let new = generate_key_hex();
    let state = state(&t.db, KeyRing::new(&old, &[]).unwrap());
    let app = TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await;
    let (status, created) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(haier_system("haier")),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    // A webhook endpoint's signing secret is sealed by the same keys.
    let (status, endpoint) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{id}/endpoints"),
        Some(json!({"url": "https://hooks.example.com/in", "event_types": ["member.updated"]})),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let signing_secret = endpoint["secret"].as_str().unwrap().to_owned();
    let endpoint_id = endpoint["endpoint"]["id"].as_str().unwrap().to_owned();
    if let Db::Sqlite(p) = &t.db {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(p)
            .await
            .unwrap();
    }
    let path = t.url.strip_prefix("sqlite://").unwrap();
    let dir = std::path::Path::new(path).parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for (_, secret) in SECRETS {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} in clear in the database files");
        }
    }

    let rotate = |previous: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_supplyhub"));
        cmd.current_dir(std::env::temp_dir());
        for (name, _) in std::env::vars() {
            if name.starts_with("SUPPLYHUB_") {
                cmd.env_remove(name);
            }
        }
        cmd.args(["secrets", "rotate"])
            .env("SUPPLYHUB_DATABASE_URL", &t.url)
            .env("SUPPLYHUB_SECRET_KEY", &new);
        if let Some(p) = previous {
            cmd.env("SUPPLYHUB_SECRET_KEYS_PREVIOUS", p);
        }
        cmd.output().unwrap()
    };
    let out = rotate(None);
    assert!(!out.status.success(), "the old key is needed to open");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret_keys_previous") && !stderr.contains(&old),
        "{stderr}"
    );
    let out = rotate(Some(&old));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 system"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 webhook endpoint"));
    let mut only_new = AppState::new(t.db.clone());
    only_new.secrets = Arc::new(KeyRing::new(&new, &[]).unwrap());
    let row = supplyhub::store::systems::get(&t.db, &id)
        .await
        .unwrap()
        .unwrap();
    let opened = supplyhub::systems::http::open_secrets(&only_new, &row).unwrap();
    assert_eq!(opened["client_secret"], "op-client-secret-Z81");
    assert_eq!(
        row.secrets_key_id.as_deref(),
        Some(only_new.secrets.current_id())
    );
    let endpoint_row = supplyhub::store::webhooks::get_endpoint(&t.db, &endpoint_id)
        .await
        .unwrap()
        .unwrap();
    let opened = supplyhub::webhooks::outbound::signing_secrets(
        &only_new.secrets,
        &endpoint_row,
        supplyhub::types::UtcTime::now(),
    )
    .unwrap();
    let given = supplyhub::webhooks::signature::WebhookSecret::parse(&signing_secret).unwrap();
    assert_eq!(
        opened[0].sign("msg_1", 1, b"{}"),
        given.sign("msg_1", 1, b"{}")
    );
    t.cleanup().await;
}

/// Without a configured key, a key file is generated once into the data directory and
/// read back afterwards.
#[test]
fn a_key_file_is_generated_once() {
    let dir = tempfile::tempdir().unwrap();
    let (first, created) =
        supplyhub::systems::crypto::load_or_generate_key_file(dir.path()).unwrap();
    assert!(created);
    let (second, created) =
        supplyhub::systems::crypto::load_or_generate_key_file(dir.path()).unwrap();
    assert!(!created);
    assert_eq!(first, second);
    assert!(KeyRing::new(&first, &[]).is_ok());
}

/// `POST /systems/{id}/test` against the sandbox: right credentials make the system
/// active; a wrong secret makes it `error` with the supplier's reason, and the test's
/// calls are recorded like any supplier call. The sandbox registers itself as
/// `serve --sandbox` does.
async fn test_connection_against_the_sandbox(db: &Db) {
    let sandbox = crate::helpers::TestSandbox::start(20, 7).await;
    let ring = KeyRing::ephemeral();
    let id =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
            .await
            .unwrap();
    let app = TestApp::spawn_state(state(db, ring), Some(ADMIN_TOKEN)).await;
    let (_, system) = call(&app, Method::GET, &format!("/api/v1/systems/{id}"), None).await;
    assert_eq!(system["status"], "active");
    assert_eq!(system["kind"], "supplier");
    assert!(
        system["secrets_set"]
            .as_array()
            .unwrap()
            .contains(&json!("client_secret")),
        "{system}"
    );

    let calls_before = count_calls(db).await;
    let (status, tested) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["result"]["ok"], true, "{tested}");
    assert_eq!(tested["result"]["checked"], "token+balance");
    assert_eq!(tested["system"]["status"], "active");
    assert!(tested["system"]["last_success_at"].is_string());
    assert!(
        count_calls(db).await > calls_before,
        "the test's calls are recorded"
    );

    let wrong = "wrong-client-secret-P5";
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{id}"),
        Some(json!({"secrets": {"client_secret": wrong}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, tested) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["result"]["ok"], false);
    assert_eq!(tested["system"]["status"], "error");
    assert_eq!(tested["result"]["error_class"], "auth", "{tested}");
    let reason = tested["result"]["error"].as_str().unwrap();
    assert!(
        reason.contains("client_secret 错误") || reason.contains("invalid_client"),
        "the supplier's reason: {reason}"
    );
    assert_eq!(tested["system"]["last_error"].as_str(), Some(reason));
    assert!(!tested.to_string().contains(wrong));
    let (_, got) = call(&app, Method::GET, &format!("/api/v1/systems/{id}"), None).await;
    assert_eq!(got["last_test_result"]["ok"], false);

    // A second registration (a new sandbox port) updates the same system.
    let again = supplyhub::systems::http::register_supplier(
        db,
        &KeyRing::ephemeral(),
        "sandbox",
        &sandbox.sandbox.env(),
    )
    .await
    .unwrap();
    assert_eq!(again, id);
    // An archived system is not tested; a system of no known test says so.
    let (_, pos) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(json!({"name": "hooks", "kind": "payment", "settings": {"webhook_only": true}})),
    )
    .await;
    let (status, tested) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{}/test", pos["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tested["result"]["checked"], "webhook");
    assert!(tested["result"]["last_verified_delivery_at"].is_null());
    let (status, _) = call(&app, Method::POST, "/api/v1/systems/sys_nope/test", None).await;
    assert_eq!(status, 404);
}

async fn count_calls(db: &Db) -> i64 {
    match db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT COUNT(*) FROM external_calls")
            .fetch_one(p)
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar("SELECT COUNT(*) FROM external_calls")
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

crate::on_both_backends! {
    write_only_secrets => systems_keep_secrets_write_only;
    bad_input => bad_input_is_named;
    test_connection => test_connection_against_the_sandbox;
    operator_tools => operator_tools_read_the_supplier;
    sync_runs => sync_runs_start_in_the_background;
    active_supplier => the_active_supplier_system_sets_the_hubs_supplier;
}

/// The operator tools read the supplier live through a system's settings: validated
/// parameters, every call recorded, and the supplier's failures mapped to 502 (its
/// error), 502 `supplier_auth_failed` and 504.
async fn operator_tools_read_the_supplier(db: &Db) {
    let sandbox = crate::helpers::TestSandbox::start_with(sandbox::SandboxConfig {
        products: 20,
        seed: 11,
        rate_limit: 2000,
        hang: std::time::Duration::from_secs(3),
        ..sandbox::SandboxConfig::default()
    })
    .await;
    let ring = KeyRing::ephemeral();
    let mut vars = sandbox.sandbox.env();
    // Calls time out well before the sandbox's 3 s hang, with room to spare for a
    // loaded machine (a token fetch is never hung here).
    vars.extend([
        ("SUPPLYHUB_HAIER__MAX_RETRIES".to_owned(), "0".to_owned()),
        ("SUPPLYHUB_HAIER__TIMEOUT_MS".to_owned(), "2000".to_owned()),
        (
            "SUPPLYHUB_HAIER__TOKEN_TIMEOUT_MS".to_owned(),
            "5000".to_owned(),
        ),
    ]);
    let id = supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &vars)
        .await
        .unwrap();
    let app = TestApp::spawn_state(state(db, ring), Some(ADMIN_TOKEN)).await;
    let truth = sandbox.truth().await;
    let code = truth.keys().next().unwrap().clone();
    let base = format!("/api/v1/systems/{id}/supplier");

    let before = count_calls(db).await;
    let (status, products) = call(
        &app,
        Method::GET,
        &format!("{base}/products?codes={code}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{products}");
    assert_eq!(products["items"][0]["productCode"], code.as_str());
    let (status, prices) = call(
        &app,
        Method::GET,
        &format!("{base}/prices?codes={code}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{prices}");
    assert!(prices["items"].is_array());
    let (status, stock) = call(
        &app,
        Method::GET,
        &format!("{base}/stock?code={code}&county=370212"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{stock}");
    assert_eq!(stock["county"], "370212");
    let (status, stock) = call(
        &app,
        Method::GET,
        &format!("{base}/stock?code={code}&address=山东省青岛市崂山区松岭路"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{stock}");
    assert_eq!(stock["county"], "370212");
    let (status, balance) = call(&app, Method::GET, &format!("{base}/balance"), None).await;
    assert_eq!(status, 200, "{balance}");
    assert!(
        count_calls(db).await >= before + 4,
        "every call is recorded"
    );

    // Parameters are validated before any call.
    for (query, names) in [
        ("/products", "codes"),
        ("/products?codes=", "codes"),
        ("/prices?codes=%20", "codes"),
        ("/stock?county=370212", "code"),
        (&format!("/stock?code={code}") as &str, "county or address"),
        (&format!("/stock?code={code}&county=12"), "county"),
        (
            &format!("/stock?code={code}&county=370212&address=x"),
            "not both",
        ),
        ("/logistics", "order_code"),
        ("/logistics?order_code=%20SO1", "order_code"),
        (&format!("/products?codes={code},,{code}") as &str, "item 2"),
        (&format!("/products?codes={code},%20{code}"), "item 2"),
        (&format!("/products?codes={code},"), "item 2"),
        (
            &format!("/prices?codes={}", vec![code.as_str(); 101].join(",")),
            "1 to 100",
        ),
        (&format!("/stock?code=%20{code}&county=370212"), "code"),
        (&format!("/stock?code={code}&county=370200"), "county"),
        (&format!("/products?codes={code},%C3%A9"), "item 2"),
        (&format!("/stock?code={code}%2B&county=370212"), "code"),
        (&format!("/stock?code={code}&address=%20"), "address"),
    ] {
        let (status, body) = call(&app, Method::GET, &format!("{base}{query}"), None).await;
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
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("{base}/stock?code={code}&address=火星基地"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("address_unresolved")),
        "{body}"
    );
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/systems/sys_nope/supplier/balance",
        None,
    )
    .await;
    assert_eq!(status, 404);

    // A supplier system whose settings cannot make a client is not ready: 409, naming
    // the setting.
    let (status, bare) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(json!({"name": "bare", "kind": "supplier", "settings": {"vendor": "haier"}})),
    )
    .await;
    assert_eq!(status, 201, "{bare}");
    let bare_id = bare["id"].as_str().unwrap();
    for tool in [
        "balance".to_owned(),
        format!("products?codes={code}"),
        format!("stock?code={code}&county=370212"),
    ] {
        let (status, body) = call(
            &app,
            Method::GET,
            &format!("/api/v1/systems/{bare_id}/supplier/{tool}"),
            None,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("system_misconfigured")),
            "{tool}: {body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("open_platform"),
            "{body}"
        );
    }

    // The supplier's failures.
    sandbox
        .post(
            "/_sandbox/faults/next",
            json!({"fault": "server_error", "endpoint": "balance", "count": 1}),
        )
        .await;
    let (status, body) = call(&app, Method::GET, &format!("{base}/balance"), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("supplier_error")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("HTTP 5"),
        "{body}"
    );
    sandbox
        .post(
            "/_sandbox/faults/next",
            json!({"fault": "hang", "endpoint": "balance", "count": 1}),
        )
        .await;
    let (status, body) = call(&app, Method::GET, &format!("{base}/balance"), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (504, Some("supplier_timeout")),
        "{body}"
    );
    let wrong = "wrong-client-secret-T3";
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{id}"),
        Some(json!({"secrets": {"client_secret": wrong}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("{base}/products?codes={code}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("supplier_auth_failed")),
        "{body}"
    );
    assert!(!body.to_string().contains(wrong));
}

/// `POST /sync-runs` starts a run of a supplier system in the background (202 with its
/// id and Location); while the system has a run in progress a second start is 409
/// naming it; `GET /sync-runs` filters by kind, status, system and time.
async fn sync_runs_start_in_the_background(db: &Db) {
    let sandbox = crate::helpers::TestSandbox::start(20, 5).await;
    let ring = KeyRing::ephemeral();
    let id =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
            .await
            .unwrap();
    let app = TestApp::spawn_state(state(db, ring), Some(ADMIN_TOKEN)).await;

    // A run in progress blocks a second one, named.
    supplyhub::store::sync_runs::insert_system_run(db, "run_0_held", "full", &json!({}), &id)
        .await
        .unwrap();
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/sync-runs",
        Some(json!({"system_id": id})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("run_in_progress")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("run_0_held"),
        "{body}"
    );
    let now = supplyhub::types::UtcTime::now();
    supplyhub::store::sync_runs::finish_run(
        db,
        "run_0_held",
        supplyhub::status::RunStatus::Failed,
        &Default::default(),
        now,
        0,
        Some("test"),
    )
    .await
    .unwrap();

    let resp = app
        .http
        .post(format!("{}/api/v1/sync-runs", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"system_id": id, "stock": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let started: Value = resp.json().await.unwrap();
    let run = started["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/sync-runs/{run}"));
    let mut finished = Value::Null;
    for _ in 0..600 {
        let (_, r) = call(&app, Method::GET, &location, None).await;
        if !matches!(r["status"].as_str(), Some("pending" | "processing")) {
            finished = r;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["system_id"], id.as_str());
    let read = finished["read"].as_i64().unwrap();
    assert!(read > 0, "{finished}");
    assert_eq!(finished["created"].as_i64(), Some(read), "{finished}");

    let (_, page) = call(
        &app,
        Method::GET,
        &format!("/api/v1/sync-runs?system={id}"),
        None,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, page) = call(
        &app,
        Method::GET,
        &format!("/api/v1/sync-runs?system={id}&status=success&kind=full"),
        None,
    )
    .await;
    assert_eq!(page["items"][0]["id"], run.as_str());
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = call(
        &app,
        Method::GET,
        "/api/v1/sync-runs?kind=incremental",
        None,
    )
    .await;
    assert!(page["items"].as_array().unwrap().is_empty());
    let (_, page) = call(
        &app,
        Method::GET,
        "/api/v1/sync-runs?until=2000-01-01T00:00:00Z",
        None,
    )
    .await;
    assert!(page["items"].as_array().unwrap().is_empty());

    for (method, path, body, want, names) in [
        (
            Method::GET,
            "/api/v1/sync-runs?kind=nightly",
            None,
            400,
            "kind",
        ),
        (
            Method::GET,
            "/api/v1/sync-runs?status=done",
            None,
            400,
            "status",
        ),
        (
            Method::GET,
            "/api/v1/sync-runs?system=haier",
            None,
            400,
            "system",
        ),
        (
            Method::GET,
            "/api/v1/sync-runs?since=now",
            None,
            400,
            "since",
        ),
        (
            Method::GET,
            "/api/v1/sync-runs?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
            None,
            400,
            "since",
        ),
        (
            Method::POST,
            "/api/v1/sync-runs",
            Some(json!({"system_id": "sys_nope"})),
            404,
            "sys_nope",
        ),
        (
            Method::POST,
            "/api/v1/sync-runs",
            Some(json!({"system_id": id, "kind": "nightly"})),
            422,
            "kind",
        ),
        (
            Method::POST,
            "/api/v1/sync-runs",
            Some(json!({"system_id": id, "product_codes": ["bad code!"]})),
            422,
            "product_codes",
        ),
        (
            Method::POST,
            "/api/v1/sync-runs",
            Some(json!({})),
            422,
            "system_id",
        ),
    ] {
        let (status, resp) = call(&app, method.clone(), path, body).await;
        assert_eq!(status, want, "{method} {path}: {resp}");
        assert!(
            resp["detail"].as_str().unwrap().contains(names),
            "{method} {path}: {resp}"
        );
    }
}

/// A writer into a shared buffer, for capturing every log line of a test.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every configured secret (admin token, passwords, API keys, the supplier's secrets,
/// right and wrong) stays out of every response body and every log line (at TRACE) of
/// the access and systems scenarios: sign-in, keys, the registry, tests of the
/// connection, the operator tools and a sync run.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_any_answer_or_log_line() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = TestDb::sqlite().await;
    let sandbox = crate::helpers::TestSandbox::start(10, 3).await;
    let db = &t.db;
    let app = TestApp::spawn_state(state(db, KeyRing::ephemeral()), Some(ADMIN_TOKEN)).await;
    let mut bodies = String::new();
    let mut secrets: Vec<String> = vec![ADMIN_TOKEN.to_owned()];
    let mut record = |b: &Value| bodies.push_str(&b.to_string());

    // Users, sessions, keys.
    let password = "pass-word-never-logged-8";
    let (_, b) = call(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"username": "wu", "password": password, "role": "admin"})),
    )
    .await;
    record(&b);
    secrets.push(password.to_owned());
    for pw in [password, "a wrong password here"] {
        let r = app
            .http
            .post(format!("{}/api/v1/auth/login", app.base))
            .json(&json!({"username": "wu", "password": pw}))
            .send()
            .await
            .unwrap();
        if let Some(c) = r.headers().get("set-cookie") {
            let token = c
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .split('=')
                .nth(1)
                .unwrap()
                .to_owned();
            secrets.push(token);
        }
        let b: Value = r.json().await.unwrap();
        record(&b);
    }
    secrets.push("a wrong password here".to_owned());
    let (_, key) = call(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"name": "k", "role": "staff"})),
    )
    .await;
    let key_text = key["key"].as_str().unwrap().to_owned();
    let (_, b) = call(&app, Method::GET, "/api/v1/api-keys", None).await;
    record(&b);
    let r = app
        .http
        .get(format!("{}/api/v1/auth/me", app.base))
        .bearer_auth(&key_text)
        .send()
        .await
        .unwrap();
    record(&r.json().await.unwrap());
    let r = app
        .http
        .get(format!("{}/api/v1/products", app.base))
        .bearer_auth(format!("{}0", &key_text))
        .send()
        .await
        .unwrap();
    record(&r.json().await.unwrap());
    secrets.push(key_text[13..].to_owned());

    // The registry, tests, tools and a run.
    let (settings, supplier_secrets) =
        supplyhub::systems::supplier_from_env(&sandbox.sandbox.env());
    secrets.extend(supplier_secrets.values().filter(|v| v.len() >= 6).cloned());
    let (_, sys) = call(&app, Method::POST, "/api/v1/systems", Some(json!({"name": "sb", "kind": "supplier", "status": "active", "settings": settings, "secrets": supplier_secrets}))).await;
    record(&sys);
    let id = sys["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/api/v1/systems/{id}"),
        "/api/v1/systems".to_owned(),
        format!("/api/v1/systems/{id}/supplier/balance"),
        "/api/v1/audit-log".to_owned(),
    ] {
        let (_, b) = call(&app, Method::GET, &path, None).await;
        record(&b);
    }
    let (_, b) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{id}/test"),
        None,
    )
    .await;
    record(&b);
    let (_, b) = call(
        &app,
        Method::POST,
        "/api/v1/sync-runs",
        Some(json!({"system_id": id, "stock": false})),
    )
    .await;
    record(&b);
    let wrong = "wrong-secret-in-a-patch-4";
    secrets.push(wrong.to_owned());
    let (_, b) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{id}"),
        Some(json!({"secrets": {"client_secret": wrong, "password": wrong}})),
    )
    .await;
    record(&b);
    let (_, b) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{id}/test"),
        None,
    )
    .await;
    assert_eq!(b["system"]["status"], "error", "{b}");
    record(&b);
    let (_, b) = call(
        &app,
        Method::GET,
        &format!("/api/v1/systems/{id}/supplier/products?codes=X1"),
        None,
    )
    .await;
    record(&b);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.lines().count() > 20, "the logs were captured: {logs}");
    for secret in &secrets {
        assert!(
            !bodies.contains(secret.as_str()),
            "{secret:?} in a response body"
        );
        assert!(!logs.contains(secret.as_str()), "{secret:?} in a log line");
    }
    t.cleanup().await;
}

/// The hub's supplier settings come from the active supplier system when one exists,
/// else from the configuration.
async fn the_active_supplier_system_sets_the_hubs_supplier(db: &Db) {
    use supplyhub::systems::live::{LiveOptions, LiveSupplier, SupplierSettings};
    let sandbox = crate::helpers::TestSandbox::start(5, 2).await;
    let ring = Arc::new(KeyRing::ephemeral());
    let config = supplyhub::config::Config::from_settings(&[
        (
            "SUPPLYHUB_HAIER__BASE_URL".to_owned(),
            "http://127.0.0.1:9/configured".to_owned(),
        ),
        (
            "SUPPLYHUB_HAIER__CLIENT_ID".to_owned(),
            "configured".to_owned(),
        ),
        (
            "SUPPLYHUB_HAIER__CLIENT_SECRET".to_owned(),
            "configured-secret".to_owned(),
        ),
        ("SUPPLYHUB_HAIER__CUSTOMER_CODE".to_owned(), "1".to_owned()),
        ("SUPPLYHUB_HAIER__PASSWORD".to_owned(), "p".to_owned()),
        (
            "SUPPLYHUB_HAIER__SELLER_PASSWORD".to_owned(),
            "s".to_owned(),
        ),
    ])
    .unwrap();
    let live = |check_every| {
        LiveSupplier::from_registry(
            db.clone(),
            Arc::clone(&ring),
            SupplierSettings::from_config(&config),
            LiveOptions {
                check_every: Some(check_every),
                ..LiveOptions::default()
            },
        )
    };
    let before = live(std::time::Duration::ZERO).await.unwrap();
    let clients = before.current().await;
    assert!(clients.system.is_none());
    let op = clients.open_platform.clone().unwrap();
    assert_eq!(op.config().client_id, "configured");
    assert!(clients.ylh.is_none() && clients.callback.is_none());
    // Asked again with nothing changed, the same client (its token, limiter, breaker).
    assert!(Arc::ptr_eq(
        &op,
        before.current().await.open_platform.as_ref().unwrap()
    ));

    let id =
        supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sandbox.sandbox.env())
            .await
            .unwrap();
    // Another holder built now reads it; the first notices it at its next check.
    for holder in [live(std::time::Duration::ZERO).await.unwrap(), before] {
        let clients = holder.current().await;
        assert_eq!(clients.system, Some((id.clone(), "sandbox".to_owned())));
        let haier = clients.open_platform.clone().unwrap();
        assert!(
            haier
                .config()
                .base_url
                .starts_with(&sandbox.sandbox.base_url()),
            "{}",
            haier.config().base_url
        );
        assert_ne!(
            secrecy::ExposeSecret::expose_secret(&haier.config().client_secret),
            "configured-secret"
        );
        assert!(clients.ylh.is_some() && clients.callback.is_some());
        // The settings work: the client reads the sandbox.
        assert!(!haier.balance().await.unwrap().is_empty());
    }
    // An inactive system is not used.
    supplyhub::store::systems::record_test(db, &id, "inactive", "{}", None)
        .await
        .unwrap();
    let none = LiveSupplier::from_registry(
        db.clone(),
        Arc::clone(&ring),
        SupplierSettings::default(),
        LiveOptions::default(),
    )
    .await
    .unwrap();
    let clients = none.current().await;
    assert!(clients.system.is_none() && clients.open_platform.is_none());
}
