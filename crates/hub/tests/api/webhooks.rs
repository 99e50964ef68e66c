//! Inbound webhooks: deliveries signed by us and by the official `standardwebhooks`
//! package accepted; tampered, stale, future, oversized and misaddressed ones refused and
//! counted; repeats (100 at once) stored and processed once; secrets rotated; failing
//! events retried, dead-lettered and replayed; mappings validated and previewed.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use supplyhub::access::AccessState;
use supplyhub::config::{AccessConfig, OrdersConfig};
use supplyhub::http::AppState;
use supplyhub::store::Db;
use supplyhub::webhooks::inbound::InboundConfig;
use supplyhub::webhooks::signature::{WebhookSecret, sign};

use crate::helpers::TestApp;
use crate::helpers::call;

const ADMIN_TOKEN: &str = "webhooks-admin-token-5c1e";

async fn spawn(db: &Db, webhooks: InboundConfig) -> TestApp {
    let mut state = AppState::new(db.clone());
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(ADMIN_TOKEN)));
    state.access = AccessState::new(AccessConfig::default(), true);
    state.webhooks_in = webhooks;
    TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await
}

/// Registers a system of `kind` with `settings`; its id.
pub(crate) async fn system(app: &TestApp, name: &str, kind: &str, settings: Value) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/v1/systems",
        Some(json!({"name": name, "kind": kind, "status": "active", "settings": settings})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Adds a secret to `system_id`; its text.
pub(crate) async fn add_secret(app: &TestApp, system_id: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/api/v1/systems/{system_id}/webhook-secrets"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("whs_"), "{body}");
    secret
}

pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Posts `body` to `/webhooks/{system_id}` with the three headers as given (a `None`
/// header is left out), without credentials.
pub(crate) async fn deliver_raw(
    app: &TestApp,
    system_id: &str,
    headers: [Option<String>; 3],
    body: &[u8],
) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/webhooks/{system_id}", app.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .into_iter()
        .zip(headers)
    {
        if let Some(v) = value {
            req = req.header(name, v);
        }
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Signs `body` as message `id` at `ts` with `secret` and delivers it.
pub(crate) async fn deliver(
    app: &TestApp,
    system_id: &str,
    secret: &str,
    id: &str,
    ts: i64,
    body: &[u8],
) -> (u16, Value) {
    let key = WebhookSecret::parse(secret).unwrap();
    let signed = sign(&[&key], id, ts, body);
    deliver_raw(
        app,
        system_id,
        [
            Some(id.to_owned()),
            Some(ts.to_string()),
            Some(signed.signature),
        ],
        body,
    )
    .await
}

/// Runs the outbox until nothing is due.
pub(crate) async fn drain(db: &Db) {
    let worker = supplyhub::jobs::Worker::new(
        db.clone(),
        supplyhub::systems::live::LiveSupplier::none(),
        OrdersConfig {
            retry_base_ms: 0,
            ..OrdersConfig::default()
        },
        "webhook-test-worker",
    );
    for _ in 0..1000 {
        if worker.run_once().await.unwrap() == 0 {
            return;
        }
    }
    panic!("the outbox did not drain");
}

pub(crate) fn small() -> InboundConfig {
    InboundConfig {
        max_body_bytes: 1024,
        max_attempts: 3,
        ..InboundConfig::default()
    }
}

async fn refusal_count(app: &TestApp, system_id: Option<&str>, reason: &str) -> i64 {
    let (status, body) = call(app, Method::GET, "/api/v1/webhook-refusals", None).await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .find(|r| r["system_id"].as_str() == system_id && r["reason"] == reason)
        .map_or(0, |r| r["count"].as_i64().unwrap())
}

async fn deliveries_are_verified_stored_deduplicated_or_refused(db: &Db) {
    let app = spawn(db, small()).await;
    let sys = system(&app, "pos-main", "pos", json!({"webhook_only": true})).await;
    let secret = add_secret(&app, &sys).await;
    let mut seen = String::new();

    let body = br#"{"external_id":"T-1","type":"sale"}"#;
    let (status, first) = deliver(&app, &sys, &secret, "msg_1", now(), body).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["duplicate"], false);
    let event_id = first["id"].as_str().unwrap().to_owned();
    // The same message again, re-signed later as a sender's retry is: stored once.
    let (status, again) = deliver(&app, &sys, &secret, "msg_1", now(), body).await;
    assert_eq!(
        (status, &again["id"], &again["duplicate"]),
        (200, &first["id"], &json!(true))
    );

    // Tampered: the signature of one body on another.
    let key = WebhookSecret::parse(&secret).unwrap();
    let ts = now();
    let signed = sign(&[&key], "msg_2", ts, body);
    let (status, tampered) = deliver_raw(
        &app,
        &sys,
        [
            Some("msg_2".into()),
            Some(ts.to_string()),
            Some(signed.signature.clone()),
        ],
        br#"{"external_id":"T-1","type":"sale","total":"0.01"}"#,
    )
    .await;
    assert_eq!(
        (status, tampered["code"].as_str()),
        (401, Some("invalid_signature")),
        "{tampered}"
    );
    seen.push_str(&tampered.to_string());
    for (ts, what) in [(now() - 301, "stale"), (now() + 301, "future")] {
        let (status, resp) = deliver(&app, &sys, &secret, "msg_3", ts, body).await;
        assert_eq!(
            (status, resp["code"].as_str()),
            (401, Some("timestamp_out_of_window")),
            "{what}: {resp}"
        );
        seen.push_str(&resp.to_string());
    }
    let (status, resp) = deliver_raw(
        &app,
        &sys,
        [Some("msg_4".into()), Some(now().to_string()), None],
        body,
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (400, Some("invalid_parameter")),
        "{resp}"
    );
    assert!(
        resp["detail"]
            .as_str()
            .unwrap()
            .contains("webhook-signature"),
        "{resp}"
    );
    let big = vec![b' '; 2048];
    let (status, resp) = deliver(&app, &sys, &secret, "msg_5", now(), &big).await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (413, Some("payload_too_large")),
        "{resp}"
    );

    // An id that names no system is answered exactly as a bad signature is.
    let (status, unknown) = deliver(&app, "sys_0000nope", &secret, "msg_6", now(), body).await;
    assert_eq!((status, &unknown), (401, &tampered));

    // Counted by system and reason; the unknown system under none.
    assert_eq!(refusal_count(&app, Some(&sys), "bad_signature").await, 1);
    assert_eq!(refusal_count(&app, Some(&sys), "stale_timestamp").await, 1);
    assert_eq!(refusal_count(&app, Some(&sys), "future_timestamp").await, 1);
    assert_eq!(refusal_count(&app, Some(&sys), "missing_header").await, 1);
    assert_eq!(refusal_count(&app, Some(&sys), "body_too_large").await, 1);
    assert_eq!(refusal_count(&app, None, "unknown_system").await, 1);
    let (status, of_sys) = call(
        &app,
        Method::GET,
        &format!("/api/v1/webhook-refusals?system_id={sys}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(of_sys.as_array().unwrap().len(), 5, "{of_sys}");

    // Only the accepted delivery is stored, raw.
    let (status, list) = call(
        &app,
        Method::GET,
        &format!("/api/v1/webhook-events?system_id={sys}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["id"], event_id.as_str());
    assert_eq!(list["items"][0]["status"], "received");
    let (status, event) = call(
        &app,
        Method::GET,
        &format!("/api/v1/webhook-events/{event_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["body"], std::str::from_utf8(body).unwrap());
    assert_eq!(event["webhook_id"], "msg_1");
    assert!(
        event["webhook_signature"]
            .as_str()
            .unwrap()
            .starts_with("v1,")
    );

    // The secrets are listed without their values.
    let (status, secrets) = call(
        &app,
        Method::GET,
        &format!("/api/v1/systems/{sys}/webhook-secrets"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(secrets.as_array().unwrap().len(), 1);
    assert_eq!(secrets[0]["active"], true);
    seen.push_str(&secrets.to_string());
    seen.push_str(&event.to_string());
    let encoded = secret.trim_start_matches("whsec_");
    assert!(!seen.contains(encoded), "a secret in an answer: {seen}");

    // Its test reports the last verified delivery. Archived, it is answered like an
    // unknown system.
    let (status, tested) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{sys}/test"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&tested["result"]["ok"], &tested["result"]["checked"]),
        (&json!(true), &json!("webhook")),
        "{tested}"
    );
    assert!(
        tested["result"]["last_verified_delivery_at"].is_string(),
        "{tested}"
    );
    let (status, archived) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/systems/{sys}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "archived: {archived}");
    let (status, resp) = deliver(&app, &sys, &secret, "msg_7", now(), body).await;
    assert_eq!((status, &resp), (401, &tampered));
    assert_eq!(refusal_count(&app, Some(&sys), "archived_system").await, 1);
}

async fn secrets_rotate_with_an_overlap(db: &Db) {
    // No overlap: the older secret stops at once.
    let app = spawn(
        db,
        InboundConfig {
            secret_overlap_secs: 0,
            ..small()
        },
    )
    .await;
    let sys = system(&app, "pos-a", "pos", json!({})).await;
    let old = add_secret(&app, &sys).await;
    let new = add_secret(&app, &sys).await;
    let body = br#"{"n":1}"#;
    let (status, resp) = deliver(&app, &sys, &old, "rot_1", now(), body).await;
    assert_eq!(status, 401, "{resp}");
    let (status, resp) = deliver(&app, &sys, &new, "rot_1", now(), body).await;
    assert_eq!(status, 202, "{resp}");

    // The default overlap: both verify, the older with its expiry set.
    let app = spawn(db, InboundConfig::default()).await;
    let sys = system(&app, "pos-b", "pos", json!({})).await;
    let old = add_secret(&app, &sys).await;
    let new = add_secret(&app, &sys).await;
    for (i, secret) in [&old, &new].into_iter().enumerate() {
        let (status, resp) = deliver(&app, &sys, secret, &format!("rot_b{i}"), now(), body).await;
        assert_eq!(status, 202, "{resp}");
    }
    let (_, secrets) = call(
        &app,
        Method::GET,
        &format!("/api/v1/systems/{sys}/webhook-secrets"),
        None,
    )
    .await;
    let secrets = secrets.as_array().unwrap();
    assert_eq!(secrets.len(), 2);
    assert!(
        secrets[0]["expires_at"].is_null(),
        "the newest never expires: {secrets:?}"
    );
    assert!(secrets[1]["expires_at"].is_string(), "{secrets:?}");
    assert!(secrets.iter().all(|s| s["active"] == true));
}

/// The official package's signature of a delivery.
fn python_sign(secret: &str, id: &str, ts: i64, body: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let venv = std::process::Command::new(format!("{root}/scripts/python-venv.sh"))
        .output()
        .expect("scripts/python-venv.sh runs");
    assert!(
        venv.status.success(),
        "{}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let python = String::from_utf8(venv.stdout).unwrap().trim().to_owned();
    let script = "import sys, datetime\n\
        from standardwebhooks.webhooks import Webhook\n\
        secret, msg_id, ts, body = sys.argv[1:5]\n\
        when = datetime.datetime.fromtimestamp(int(ts), tz=datetime.timezone.utc)\n\
        print(Webhook(secret).sign(msg_id, when, body))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script, secret, id, &ts.to_string(), body])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn the_official_librarys_signatures_verify(db: &Db) {
    let app = spawn(db, small()).await;
    let sys = system(&app, "pos-py", "pos", json!({})).await;
    let secret = add_secret(&app, &sys).await;
    let body = r#"{"external_id":"PY-1","type":"sale","note":"签名"}"#;
    let ts = now();
    let signature = python_sign(&secret, "msg_py_1", ts, body);
    let headers = |id: &str, ts: i64, sig: &str| {
        [
            Some(id.to_owned()),
            Some(ts.to_string()),
            Some(sig.to_owned()),
        ]
    };
    let (status, resp) = deliver_raw(
        &app,
        &sys,
        headers("msg_py_1", ts, &signature),
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 202, "{resp}");
    // Replayed: deduplicated.
    let (status, resp) = deliver_raw(
        &app,
        &sys,
        headers("msg_py_1", ts, &signature),
        body.as_bytes(),
    )
    .await;
    assert_eq!((status, &resp["duplicate"]), (200, &json!(true)), "{resp}");
    // Tampered.
    let (status, resp) = deliver_raw(
        &app,
        &sys,
        headers("msg_py_2", ts, &signature),
        body.as_bytes(),
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (401, Some("invalid_signature")),
        "{resp}"
    );
    let (status, resp) = deliver_raw(
        &app,
        &sys,
        headers("msg_py_1", ts, &signature),
        body.replace("PY-1", "PY-2").as_bytes(),
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (401, Some("invalid_signature")),
        "a known id with another body is verified, not deduplicated: {resp}"
    );
    // Stale, signed by the package itself.
    let old = now() - 600;
    let stale = python_sign(&secret, "msg_py_3", old, body);
    let (status, resp) = deliver_raw(
        &app,
        &sys,
        headers("msg_py_3", old, &stale),
        body.as_bytes(),
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (401, Some("timestamp_out_of_window")),
        "{resp}"
    );
}

async fn a_hundred_concurrent_repeats_are_stored_and_processed_once(db: &Db) {
    let app = Arc::new(spawn(db, small()).await);
    let sys = system(&app, "pos-burst", "pos", json!({})).await;
    let secret = add_secret(&app, &sys).await;
    let body = json!({"external_id": "B-1", "kind": "sale", "occurred_at": "2026-12-01T08:00:00Z",
        "lines": [{"sku": "K-1", "name": "Kettle", "quantity": 1, "unit_price": "10.00"}],
        "total": "10.00"})
    .to_string()
    .into_bytes();
    let ts = now();
    let counted = |text: &str, outcome: &str| -> f64 {
        let key = format!("supplyhub_webhooks_in_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    };
    let (_, before) = call(&app, Method::GET, "/metrics", None).await;
    let before = before.as_str().unwrap().to_owned();
    let sends = (0..100).map(|_| {
        let (app, sys, secret, body) =
            (Arc::clone(&app), sys.clone(), secret.clone(), body.clone());
        tokio::spawn(async move { deliver(&app, &sys, &secret, "msg_burst", ts, &body).await })
    });
    let results: Vec<(u16, Value)> = futures_join(sends).await;
    let accepted = results.iter().filter(|(s, _)| *s == 202).count();
    let repeats = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((accepted, repeats), (1, 99), "{results:?}");
    let (_, after) = call(&app, Method::GET, "/metrics", None).await;
    let after = after.as_str().unwrap();
    // Other tests count too: at least this test's deliveries.
    assert!(counted(after, "accepted") - counted(&before, "accepted") >= 1.0);
    assert!(counted(after, "duplicate") - counted(&before, "duplicate") >= 99.0);
    let ids: std::collections::BTreeSet<_> = results
        .iter()
        .map(|(_, b)| b["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every answer names the one event: {ids:?}");
    let counts = supplyhub::store::webhooks_in::count_events_by_status(db, &sys)
        .await
        .unwrap();
    assert_eq!(counts, vec![("received".to_owned(), 1)]);
    let jobs: i64 = supplyhub::store::jobs::count_jobs_by_status(db)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(jobs, 1, "one processing job");
    drain(db).await;
    let event_id = ids.into_iter().next().unwrap();
    let (_, event) = call(
        &app,
        Method::GET,
        &format!("/api/v1/webhook-events/{event_id}"),
        None,
    )
    .await;
    assert_eq!(
        (event["status"].as_str(), event["attempts"].as_i64()),
        (Some("processed"), Some(1)),
        "{event}"
    );
    let result: Value = serde_json::from_str(event["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["outcome"], "created", "{event}");
    let row = supplyhub::store::pos::by_external_id(db, &sys, "B-1")
        .await
        .unwrap()
        .expect("the sale is recorded");
    assert_eq!(row.id, result["id"].as_str().unwrap());
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

/// A mapping that selects several values for one field cannot produce a record.
fn ambiguous_mapping() -> Value {
    json!({"fields": {"external_id": "$.items[*].id"}})
}

/// A POS's own shape of a sale.
pub(crate) fn foreign_sale(no: &str) -> Vec<u8> {
    json!({"order": {"no": no, "at": "2026-12-01T08:00:00Z", "shop": "Laoshan",
        "goods": [{"code": "K-100", "title": "Kettle", "n": 2, "price": "10.00"}],
        "sum": "20.00"}})
    .to_string()
    .into_bytes()
}

/// The mapping of [`foreign_sale`], its total read from `total_path`.
pub(crate) fn sale_mapping(total_path: &str) -> Value {
    json!({"fields": {
        "external_id": "$.order.no",
        "kind": {"const": "sale"},
        "occurred_at": "$.order.at",
        "store": "$.order.shop",
        "lines": {"each": "$.order.goods[*]", "fields": {
            "sku": "$.code", "name": "$.title", "quantity": "$.n", "unit_price": "$.price"}},
        "total": total_path
    }})
}

async fn event(app: &TestApp, id: &str) -> Value {
    let (status, event) = call(
        app,
        Method::GET,
        &format!("/api/v1/webhook-events/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{event}");
    event
}

async fn a_failing_event_retries_dies_and_is_replayed(db: &Db) {
    let app = spawn(db, small()).await;
    // The mapping reads the total from a field the POS does not send: the record is
    // refused on every attempt.
    let sys = system(
        &app,
        "pos-fail",
        "pos",
        json!({"mapping": sale_mapping("$.order.total")}),
    )
    .await;
    let secret = add_secret(&app, &sys).await;
    let (status, first) = deliver(&app, &sys, &secret, "msg_f1", now(), &foreign_sale("F-1")).await;
    assert_eq!(status, 202, "{first}");
    let (status, second) =
        deliver(&app, &sys, &secret, "msg_f2", now(), &foreign_sale("F-2")).await;
    assert_eq!(status, 202, "{second}");
    let id = first["id"].as_str().unwrap();
    drain(db).await;
    let dead_one = event(&app, id).await;
    assert_eq!(dead_one["status"], "dead", "{dead_one}");
    assert_eq!(
        dead_one["attempts"], 3,
        "three attempts, then the dead letter: {dead_one}"
    );
    assert!(
        dead_one["last_error"].as_str().unwrap().contains("total"),
        "the error names the field: {dead_one}"
    );
    let (_, dead) = call(
        &app,
        Method::GET,
        &format!("/api/v1/webhook-events?system_id={sys}&status=dead"),
        None,
    )
    .await;
    assert_eq!(dead["items"].as_array().unwrap().len(), 2, "{dead}");

    // Replay one before the cause is fixed: queued once however often it is asked, and
    // dead again.
    let replay = format!("/api/v1/webhook-events/{id}/replay");
    let (status, replayed) = call(&app, Method::POST, &replay, None).await;
    assert_eq!(
        (status, &replayed["queued"]),
        (202, &json!(true)),
        "{replayed}"
    );
    let (status, replayed) = call(&app, Method::POST, &replay, None).await;
    assert_eq!(
        (status, &replayed["queued"]),
        (200, &json!(false)),
        "{replayed}"
    );
    drain(db).await;
    let again = event(&app, id).await;
    assert_eq!(
        (
            again["status"].as_str(),
            again["attempts"].as_i64(),
            again["replays"].as_i64()
        ),
        (Some("dead"), Some(6), Some(1)),
        "{again}"
    );

    // Fix the mapping, replay: processed into a record.
    let (status, fixed) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{sys}"),
        Some(json!({"settings": {"mapping": sale_mapping("$.order.sum")}})),
    )
    .await;
    assert_eq!(status, 200, "{fixed}");
    let (status, _) = call(&app, Method::POST, &replay, None).await;
    assert_eq!(status, 202);
    drain(db).await;
    let processed = event(&app, id).await;
    assert_eq!(processed["status"], "processed", "{processed}");
    assert!(processed["last_error"].is_null(), "{processed}");
    let result: Value = serde_json::from_str(processed["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["outcome"], "created", "{processed}");
    let row = supplyhub::store::pos::by_external_id(db, &sys, "F-1")
        .await
        .unwrap()
        .expect("the sale is recorded");
    assert_eq!(row.id, result["id"].as_str().unwrap());

    // Bulk: the dead one left.
    let bulk_path = "/api/v1/webhook-events/replay";
    let (status, bulk) = call(
        &app,
        Method::POST,
        bulk_path,
        Some(json!({"system_id": sys, "since": "2000-01-01T00:00:00Z", "status": "dead"})),
    )
    .await;
    assert_eq!((status, &bulk["queued"]), (202, &json!(1)), "{bulk}");
    let (_, bulk) = call(
        &app,
        Method::POST,
        bulk_path,
        Some(json!({"system_id": sys, "status": "dead"})),
    )
    .await;
    assert_eq!(
        bulk["queued"], 0,
        "queued events are not queued twice: {bulk}"
    );
    drain(db).await;
    assert_eq!(
        event(&app, second["id"].as_str().unwrap()).await["status"],
        "processed"
    );
    // Everything again: applied idempotently, nothing recorded twice.
    let (_, bulk) = call(
        &app,
        Method::POST,
        bulk_path,
        Some(json!({"system_id": sys})),
    )
    .await;
    assert_eq!(bulk["queued"], 2, "{bulk}");
    let (_, none) = call(
        &app,
        Method::POST,
        bulk_path,
        Some(json!({"system_id": sys, "until": "2000-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(none["queued"], 0, "{none}");
    drain(db).await;
    for e in [&first, &second] {
        let e = event(&app, e["id"].as_str().unwrap()).await;
        let result: Value = serde_json::from_str(e["result"].as_str().unwrap()).unwrap();
        assert_eq!(
            (e["status"].as_str(), result["outcome"].as_str()),
            (Some("processed"), Some("already_recorded")),
            "{e}"
        );
    }
}

async fn mappings_are_validated_and_previewed(db: &Db) {
    let app = spawn(db, small()).await;
    let (status, resp) = call(
        &app,
        Method::POST,
        "/api/v1/systems",
        Some(
            json!({"name": "pos-bad", "kind": "pos", "settings": {"mapping": {"fields": {
            "lines": {"each": "$.items[", "fields": {"sku": "$.code"}}}}}}),
        ),
    )
    .await;
    assert_eq!(status, 422, "{resp}");
    assert!(
        resp["detail"]
            .as_str()
            .unwrap()
            .starts_with("settings.mapping.fields.lines.each"),
        "{resp}"
    );
    let mapping = json!({"fields": {
        "external_id": "$.txn.no",
        "type": {"const": "sale"},
        "lines": {"each": "$.txn.goods[*]", "fields": {"sku": "$.code", "quantity": "$.n"}}
    }});
    let sys = system(&app, "pos-mapped", "pos", json!({"mapping": mapping})).await;
    let (_, saved) = call(&app, Method::GET, &format!("/api/v1/systems/{sys}"), None).await;
    assert_eq!(saved["settings"]["mapping"], mapping, "{saved}");
    let (status, bad_patch) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{sys}"),
        Some(json!({"settings": {"mapping": {"fields": {"external_id": "txn.no"}}}})),
    )
    .await;
    assert_eq!(status, 422, "{bad_patch}");
    assert!(
        bad_patch["detail"]
            .as_str()
            .unwrap()
            .contains("external_id"),
        "{bad_patch}"
    );

    let sample = json!({"txn": {"no": "P-9", "goods": [{"code": "BCD-1", "n": 2}]}});
    let (status, preview) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{sys}/mapping/preview"),
        Some(json!({"payload": sample})),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["record"],
        json!({"external_id": "P-9", "type": "sale", "lines": [{"sku": "BCD-1", "quantity": 2}]})
    );
    assert_eq!(preview["mapped"], true);
    let (status, preview) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{sys}/mapping/preview"),
        Some(json!({"payload": {"items": [{"id": 1}, {"id": 2}]}, "mapping": ambiguous_mapping()})),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert!(preview["record"].is_null());
    assert!(
        preview["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("external_id"),
        "{preview}"
    );
    let (status, resp) = call(
        &app,
        Method::POST,
        &format!("/api/v1/systems/{sys}/mapping/preview"),
        Some(json!({"payload": {}, "mapping": {"fields": {"x": "nope"}}})),
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (422, Some("invalid_mapping")),
        "{resp}"
    );
}

async fn bad_input_to_every_route_is_a_4xx(db: &Db) {
    let app = spawn(db, small()).await;
    let sys = system(&app, "pos-input", "pos", json!({})).await;
    let cases: Vec<(Method, String, Option<Value>, u16)> = vec![
        (
            Method::POST,
            "/api/v1/systems/sys_nope/webhook-secrets".into(),
            None,
            404,
        ),
        (
            Method::GET,
            "/api/v1/systems/sys_nope/webhook-secrets".into(),
            None,
            404,
        ),
        (
            Method::POST,
            "/api/v1/systems/sys_nope/mapping/preview".into(),
            Some(json!({"payload": {}})),
            404,
        ),
        (
            Method::POST,
            format!("/api/v1/systems/{sys}/mapping/preview"),
            Some(json!({})),
            422,
        ),
        (
            Method::POST,
            format!("/api/v1/systems/{sys}/mapping/preview"),
            Some(json!({"payload": 1, "extra": 2})),
            422,
        ),
        (
            Method::GET,
            "/api/v1/webhook-events?status=bogus".into(),
            None,
            400,
        ),
        (
            Method::GET,
            "/api/v1/webhook-events?since=yesterday".into(),
            None,
            400,
        ),
        (
            Method::GET,
            "/api/v1/webhook-events?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z".into(),
            None,
            400,
        ),
        (
            Method::GET,
            "/api/v1/webhook-events?limit=0".into(),
            None,
            400,
        ),
        (
            Method::GET,
            "/api/v1/webhook-events?system_id=".into(),
            None,
            400,
        ),
        (
            Method::GET,
            "/api/v1/webhook-events/whe_nope".into(),
            None,
            404,
        ),
        (
            Method::POST,
            "/api/v1/webhook-events/whe_nope/replay".into(),
            None,
            404,
        ),
        (
            Method::POST,
            "/api/v1/webhook-events/replay".into(),
            Some(json!({})),
            422,
        ),
        (
            Method::POST,
            "/api/v1/webhook-events/replay".into(),
            Some(json!({"system_id": "sys_nope"})),
            404,
        ),
        (
            Method::POST,
            "/api/v1/webhook-events/replay".into(),
            Some(json!({"system_id": sys, "status": "received"})),
            422,
        ),
        (
            Method::POST,
            "/api/v1/webhook-events/replay".into(),
            Some(json!({"system_id": sys, "since": "soon"})),
            422,
        ),
        (
            Method::GET,
            "/api/v1/webhook-refusals?system_id=".into(),
            None,
            400,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, resp) = call(&app, method.clone(), &path, body).await;
        assert_eq!(status, expected, "{method} {path}: {resp}");
        assert!(
            resp["code"].is_string() && resp["detail"].is_string(),
            "{method} {path}: {resp}"
        );
    }
    let (status, resp) = deliver_raw(&app, &sys, [None, None, None], b"not json").await;
    assert_eq!(status, 400, "{resp}");
    let (status, resp) = deliver_raw(
        &app,
        &sys,
        [
            Some("has space".into()),
            Some("1".into()),
            Some("v1,x".into()),
        ],
        b"{}",
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (400, Some("invalid_parameter")),
        "{resp}"
    );
    let (status, resp) = deliver_raw(
        &app,
        &"x".repeat(300),
        [
            Some("m".into()),
            Some(now().to_string()),
            Some("v1,x".into()),
        ],
        b"{}",
    )
    .await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (401, Some("invalid_signature")),
        "{resp}"
    );
}

/// The sandbox's POS sends its own nested shape, signed with the secret the hub gave it,
/// with duplicates, bad signatures and stale copies mixed in; with the mapping the
/// sandbox publishes for that shape, every sale ends recorded once.
async fn the_sandbox_pos_shape_is_mapped_into_sales(db: &Db) {
    let sandbox = crate::helpers::TestSandbox::start(10, 7).await;
    let app = spawn(db, small()).await;
    let sys = system(&app, "pos-sandbox", "pos", json!({"webhook_only": true})).await;
    let registered = sandbox
        .post(
            "/_sandbox/store/systems",
            json!({"id": sys, "kind": "pos", "shape": "pos_nested", "hub_url": app.base}),
        )
        .await;
    let mapping = registered["mapping"].clone();
    assert!(mapping["fields"].is_object(), "{registered}");
    let (status, saved) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/systems/{sys}"),
        Some(json!({"settings": {"mapping": mapping}})),
    )
    .await;
    assert_eq!(status, 200, "the sandbox's mapping is valid here: {saved}");
    let secret = add_secret(&app, &sys).await;
    sandbox
        .post(
            &format!("/_sandbox/store/systems/{sys}/secrets"),
            json!({"send": [secret]}),
        )
        .await;
    sandbox
        .post(
            &format!("/_sandbox/store/systems/{sys}/faults"),
            json!({"duplicate_rate": 0.3, "bad_signature_rate": 0.2, "stale_timestamp_rate": 0.1}),
        )
        .await;
    let sent = sandbox
        .post(
            &format!("/_sandbox/store/systems/{sys}/events"),
            json!({"count": 20, "action": "sale", "concurrency": 4}),
        )
        .await;
    assert!(sent.to_string().contains("msg_"), "{sent}");
    drain(db).await;
    let ledger = sandbox
        .get(&format!("/_sandbox/store/systems/{sys}/ledger"))
        .await;
    let sales = ledger["sales"].as_array().unwrap();
    assert_eq!(sales.len(), 20, "{ledger}");
    for sale in sales {
        let external_id = sale["external_id"].as_str().unwrap();
        let row = supplyhub::store::pos::by_external_id(db, &sys, external_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("sale {external_id} recorded"));
        assert_eq!(row.external_id, external_id);
    }
    let counts = supplyhub::store::webhooks_in::count_events_by_status(db, &sys)
        .await
        .unwrap();
    assert_eq!(
        counts,
        vec![("processed".to_owned(), 20)],
        "one event per sale"
    );
}

crate::on_both_backends! {
    deliveries_verified_stored_deduplicated_or_refused => deliveries_are_verified_stored_deduplicated_or_refused;
    secrets_rotate => secrets_rotate_with_an_overlap;
    official_library_signatures => the_official_librarys_signatures_verify;
    hundred_concurrent_repeats => a_hundred_concurrent_repeats_are_stored_and_processed_once;
    failing_event_replayed => a_failing_event_retries_dies_and_is_replayed;
    mappings => mappings_are_validated_and_previewed;
    bad_input => bad_input_to_every_route_is_a_4xx;
    sandbox_pos_shape => the_sandbox_pos_shape_is_mapped_into_sales;
}
