//! The simulated store systems over real HTTP: their signed deliveries checked by a small
//! receiver that verifies Standard Webhooks on its own (no code of the sandbox's signer),
//! and the sandbox's receiver of outbound webhooks checked with our own signatures.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sandbox::SandboxConfig;
use serde_json::{Value, json};
use sha2::Sha256;

#[allow(
    dead_code,
    reason = "the harness is shared with the other test binaries"
)]
mod common;

use common::{App, spawn};

// ---------------------------------------------------------------------------------------
// An independent Standard Webhooks verifier.

const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TS: i64 = 1_614_265_330;
const VECTOR_BODY: &str = r#"{"test": 2432232314}"#;
const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn key_of(secret: &str) -> Vec<u8> {
    B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap()
}

fn mac(key: &[u8], id: &str, ts: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(format!("{id}.{ts}.").as_bytes());
    m.update(body);
    m
}

fn signature(key: &[u8], id: &str, ts: &str, body: &[u8]) -> String {
    format!(
        "v1,{}",
        B64.encode(mac(key, id, ts, body).finalize().into_bytes())
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    Missing,
    Stale,
    BadSignature,
}

/// Fen of a yuan amount written `"12.50"`.
fn cents(v: &Value) -> i64 {
    let (y, f) = v.as_str().unwrap().split_once('.').unwrap();
    assert_eq!(f.len(), 2, "{v}");
    y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn verify(keys: &[Vec<u8>], id: &str, ts: &str, sig: &str, body: &[u8], now: i64) -> Verdict {
    if id.is_empty() || ts.is_empty() || sig.is_empty() {
        return Verdict::Missing;
    }
    let Ok(t) = ts.parse::<i64>() else {
        return Verdict::Missing;
    };
    if (now - t).abs() > 300 {
        return Verdict::Stale;
    }
    for entry in sig.split(' ') {
        let Some(raw) = entry.strip_prefix("v1,").and_then(|b| B64.decode(b).ok()) else {
            continue;
        };
        if keys
            .iter()
            .any(|k| mac(k, id, ts, body).verify_slice(&raw).is_ok())
        {
            return Verdict::Valid;
        }
    }
    Verdict::BadSignature
}

#[test]
fn the_independent_verifier_agrees_with_the_official_test_vector() {
    let key = key_of(VECTOR_SECRET);
    let ts = VECTOR_TS.to_string();
    assert_eq!(
        signature(&key, VECTOR_ID, &ts, VECTOR_BODY.as_bytes()),
        VECTOR_SIGNATURE
    );
    let keys = [key];
    let v =
        |sig: &str, body: &str, now: i64| verify(&keys, VECTOR_ID, &ts, sig, body.as_bytes(), now);
    assert_eq!(v(VECTOR_SIGNATURE, VECTOR_BODY, VECTOR_TS), Verdict::Valid);
    assert_eq!(
        v(VECTOR_SIGNATURE, r#"{"test": 2432232315}"#, VECTOR_TS),
        Verdict::BadSignature
    );
    assert_eq!(
        v(VECTOR_SIGNATURE, VECTOR_BODY, VECTOR_TS + 301),
        Verdict::Stale
    );
    // The sandbox's own signer gives the same.
    let s = sandbox::standard_webhooks::Secret::parse(VECTOR_SECRET).unwrap();
    assert_eq!(
        sandbox::standard_webhooks::sign(&[&s], VECTOR_ID, VECTOR_TS, VECTOR_BODY.as_bytes()),
        VECTOR_SIGNATURE
    );
}

// ---------------------------------------------------------------------------------------
// A tiny receiver standing in for the hub.

#[derive(Debug, Clone)]
struct Got {
    id: String,
    ts: String,
    sig: String,
    body: Vec<u8>,
    verdict: Verdict,
    answered: u16,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
struct Hook {
    keys: Arc<Vec<Vec<u8>>>,
    log: Arc<Mutex<Vec<Got>>>,
    /// Statuses to answer valid deliveries with, first come first served; 202 after.
    script: Arc<Mutex<VecDeque<u16>>>,
}

async fn hook(State(h): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, ts, sig) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let verdict = verify(&h.keys, &id, &ts, &sig, &body, now_secs());
    let answered = match verdict {
        Verdict::Valid => h.script.lock().unwrap().pop_front().unwrap_or(202),
        Verdict::Missing | Verdict::Stale => 400,
        Verdict::BadSignature => 401,
    };
    h.log.lock().unwrap().push(Got {
        id,
        ts,
        sig,
        body: body.to_vec(),
        verdict,
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

impl Hook {
    /// Starts a receiver that knows `secrets`; answers its base URL.
    async fn start(secrets: &[&str]) -> (Hook, String) {
        let h = Hook {
            keys: Arc::new(secrets.iter().map(|s| key_of(s)).collect()),
            ..Hook::default()
        };
        let app = Router::new()
            .route("/webhooks/{system}", post(hook))
            .with_state(h.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (h, url)
    }

    fn got(&self) -> Vec<Got> {
        self.log.lock().unwrap().clone()
    }

    fn script(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
}

// ---------------------------------------------------------------------------------------
// Helpers for the control API.

const S1: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
const S2: &str = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

fn small() -> SandboxConfig {
    SandboxConfig {
        products: 20,
        rate_limit: 0,
        ..SandboxConfig::default()
    }
}

impl App {
    async fn send_json(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, path: &str, body: &Value) -> Value {
        let (status, v) = self.send_json(reqwest::Method::POST, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }

    /// Registers a system sending to `hub` in `shape`, signing with `secrets`.
    async fn system(&self, id: &str, kind: &str, shape: &str, hub: &str, secrets: &[&str]) {
        self.ok(
            "/_sandbox/store/systems",
            &json!({"id": id, "kind": kind, "shape": shape, "hub_url": hub}),
        )
        .await;
        self.ok(
            &format!("/_sandbox/store/systems/{id}/secrets"),
            &json!({ "send": secrets }),
        )
        .await;
    }

    async fn produce(&self, id: &str, body: Value) -> Value {
        self.ok(&format!("/_sandbox/store/systems/{id}/events"), &body)
            .await
    }

    async fn faults(&self, id: &str, body: Value) {
        self.ok(&format!("/_sandbox/store/systems/{id}/faults"), &body)
            .await;
    }

    async fn ledger(&self, id: &str) -> Value {
        self.get(&format!("/_sandbox/store/systems/{id}/ledger"))
            .await
    }
}

// ---------------------------------------------------------------------------------------
// Senders.

#[tokio::test]
async fn deliveries_are_signed_with_every_secret_and_carry_distinct_message_ids() {
    let app = spawn(small()).await;
    // The receiver knows only the newer secret: rotation works because every active
    // secret signs.
    let (hook, hub) = Hook::start(&[S2]).await;
    app.system("pos-1", "pos", "canonical", &hub, &[S1, S2])
        .await;
    let out = app.produce("pos-1", json!({"count": 25})).await;
    assert_eq!(out["count"], 25);
    assert_eq!(out["delivered"], 25);
    let got = hook.got();
    assert_eq!(got.len(), 25);
    let mut ids = HashSet::new();
    for g in &got {
        assert_eq!(g.verdict, Verdict::Valid, "{}", g.id);
        assert_eq!(g.sig.split(' ').count(), 2, "one entry per secret");
        assert!(g.id.starts_with("msg_") && g.id.len() == 30, "{}", g.id);
        assert!((now_secs() - g.ts.parse::<i64>().unwrap()).abs() < 60);
        assert!(ids.insert(g.id.clone()), "ids are distinct");
        let v = g.json();
        assert!(["sale", "refund", "void"].contains(&v["kind"].as_str().unwrap()));
        assert!(v["external_id"].is_string());
    }
    // The answer lists every event with what the hub said, in production order.
    let events = out["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .all(|e| e["status"] == 202 && e["attempts"] == 1)
    );
    let answered: HashSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(answered, ids);
    // Every attempt is recorded and counted.
    let d = app.get("/_sandbox/store/systems/pos-1/deliveries").await;
    assert_eq!(d["count"], 25);
    assert!(
        d["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == 202 && r["attempt"] == 1 && r["fault"].is_null())
    );
    let stats = app.stats().await;
    assert_eq!(stats["store"]["events"], 25);
    assert_eq!(stats["store"]["delivered"], 25);
    assert_eq!(stats["store"]["answers_by_status"]["202"], 25);
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn duplicates_repeat_the_same_request_byte_for_byte() {
    let app = spawn(small()).await;
    let (hook, hub) = Hook::start(&[S1]).await;
    app.system("mem-dup", "member", "canonical", &hub, &[S1])
        .await;
    app.faults("mem-dup", json!({"duplicate_rate": 1.0})).await;
    let out = app.produce("mem-dup", json!({"count": 6})).await;
    assert_eq!(out["delivered"], 6);
    let got = hook.got();
    assert_eq!(got.len(), 12);
    let mut by_id: HashMap<&str, Vec<&Got>> = HashMap::new();
    for g in &got {
        assert_eq!(g.verdict, Verdict::Valid);
        by_id.entry(&g.id).or_default().push(g);
    }
    assert_eq!(by_id.len(), 6);
    for copies in by_id.values() {
        assert_eq!(copies.len(), 2);
        assert_eq!(
            (&copies[0].ts, &copies[0].sig, &copies[0].body),
            (&copies[1].ts, &copies[1].sig, &copies[1].body)
        );
    }
    for e in out["events"].as_array().unwrap() {
        assert_eq!(e["faults"], json!([{"fault": "duplicate", "status": 202}]));
    }
    assert_eq!(app.stats().await["store"]["duplicates_sent"], 6);
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn out_of_order_batches_are_shuffled_yet_the_ledger_holds_the_newest_versions() {
    let app = spawn(small()).await;
    let (hook, hub) = Hook::start(&[S1]).await;
    app.system("mem-ooo", "member", "canonical", &hub, &[S1])
        .await;
    app.produce("mem-ooo", json!({"count": 10, "action": "create"}))
        .await;
    app.faults("mem-ooo", json!({"out_of_order": true})).await;
    let out = app
        .produce(
            "mem-ooo",
            json!({"count": 300, "action": "update", "concurrency": 4}),
        )
        .await;
    assert_eq!(out["delivered"], 300);
    let got = hook.got();
    assert_eq!(got.len(), 310);
    // Versions per member as they arrived, after the creations.
    let mut arrived: HashMap<String, Vec<u64>> = HashMap::new();
    for g in &got[10..] {
        assert_eq!(g.verdict, Verdict::Valid);
        let d = g.json();
        arrived
            .entry(d["external_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(d["version"].as_u64().unwrap());
    }
    let shuffled = arrived.values().any(|v| v.windows(2).any(|w| w[0] > w[1]));
    assert!(shuffled, "some member's updates arrive out of order");
    // The sent order differs from the production order the answer lists.
    let produced: Vec<&str> = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let sent: Vec<&str> = out["sent_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_ne!(produced, sent);
    // Every version from 2 up to the ledger's arrived once; the ledger holds the newest.
    let ledger = app.ledger("mem-ooo").await;
    let members = ledger["members"].as_array().unwrap();
    assert_eq!(members.len(), 10);
    let mut updates = 0;
    for m in members {
        let id = m["external_id"].as_str().unwrap();
        let newest = m["version"].as_u64().unwrap();
        let mut versions = arrived.get(id).cloned().unwrap_or_default();
        versions.sort_unstable();
        let expected: Vec<u64> = (2..=newest).collect();
        assert_eq!(versions, expected, "{id}");
        updates += versions.len();
    }
    assert_eq!(updates, 300);
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_signatures_and_stale_timestamps_fail_verification_and_the_genuine_message_follows() {
    let app = spawn(small()).await;
    let (hook, hub) = Hook::start(&[S1]).await;
    app.system("sup-bad", "supplier", "supplier_edi", &hub, &[S1])
        .await;
    app.faults(
        "sup-bad",
        json!({"bad_signature_rate": 1.0, "stale_timestamp_rate": 1.0}),
    )
    .await;
    let out = app.produce("sup-bad", json!({"count": 4})).await;
    assert_eq!(out["delivered"], 4);
    let got = hook.got();
    assert_eq!(got.len(), 12);
    for chunk in got.chunks(3) {
        assert!(
            chunk
                .iter()
                .all(|g| g.id == chunk[0].id && g.body == chunk[0].body)
        );
        assert_eq!(chunk[0].verdict, Verdict::Stale);
        assert!(now_secs() - chunk[0].ts.parse::<i64>().unwrap() > 300);
        assert_eq!(chunk[1].verdict, Verdict::BadSignature);
        assert_eq!(chunk[2].verdict, Verdict::Valid);
        assert!(chunk[2].json()["poNumber"].is_string());
    }
    for e in out["events"].as_array().unwrap() {
        assert_eq!(
            e["faults"],
            json!([
                {"fault": "stale_timestamp", "status": 400},
                {"fault": "bad_signature", "status": 401}
            ])
        );
        assert_eq!(e["status"], 202);
    }
    let s = app.stats().await;
    assert_eq!(s["store"]["bad_signatures_sent"], 4);
    assert_eq!(s["store"]["stale_timestamps_sent"], 4);
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn bursts_deliver_every_event() {
    let app = spawn(small()).await;
    let (hook, hub) = Hook::start(&[S1]).await;
    app.system("pos-burst", "pos", "pos_nested", &hub, &[S1])
        .await;
    let out = app
        .ok(
            "/_sandbox/store/systems/pos-burst/burst",
            &json!({"count": 400, "concurrency": 32}),
        )
        .await;
    assert_eq!(out["count"], 400);
    assert_eq!(out["delivered"], 400);
    assert_eq!(out["concurrency"], 32);
    assert!(out["elapsed_ms"].is_u64());
    assert_eq!(out["statuses"], json!({"202": 400}));
    let got = hook.got();
    assert_eq!(got.len(), 400);
    assert!(got.iter().all(|g| g.verdict == Verdict::Valid));
    let ids: HashSet<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids.len(), 400);
    // The system shows the mapping from its shape to the canonical record.
    let shown = app.get("/_sandbox/store/systems/pos-burst").await;
    assert_eq!(shown["mapping"]["fields"]["total"], "$.order.amount");
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_id_and_client_errors_are_not() {
    let app = spawn(small()).await;
    let (hook, hub) = Hook::start(&[S1]).await;
    app.system("mem-retry", "member", "member_flat", &hub, &[S1])
        .await;
    app.faults("mem-retry", json!({"attempts": 4, "retry_backoff_ms": 10}))
        .await;
    hook.script(&[503, 500, 429]);
    let out = app.produce("mem-retry", json!({"count": 1})).await;
    let e = &out["events"][0];
    assert_eq!(e["status"], 202);
    assert_eq!(e["attempts"], 4);
    let got = hook.got();
    assert_eq!(got.len(), 4);
    assert!(
        got.iter()
            .all(|g| g.id == got[0].id && g.verdict == Verdict::Valid)
    );
    assert_eq!(
        got.iter().map(|g| g.answered).collect::<Vec<_>>(),
        [503, 500, 429, 202]
    );
    let d = app
        .get("/_sandbox/store/systems/mem-retry/deliveries")
        .await;
    let attempts: Vec<(u64, u64)> = d["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["attempt"].as_u64().unwrap(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, 503), (2, 500), (3, 429), (4, 202)]);
    // A refusal for the content is final.
    hook.script(&[422]);
    let out = app.produce("mem-retry", json!({"count": 1})).await;
    assert_eq!(out["failed"], 1);
    assert_eq!(out["events"][0]["status"], 422);
    assert_eq!(out["events"][0]["attempts"], 1);
    // Attempts run out.
    hook.script(&[503, 503, 503, 503]);
    let out = app.produce("mem-retry", json!({"count": 1})).await;
    assert_eq!(out["events"][0]["status"], 503);
    assert_eq!(out["events"][0]["attempts"], 4);
    assert_eq!(hook.got().len(), 9);
    let s = app.stats().await["store"].clone();
    assert_eq!(s["retries"], 6);
    assert_eq!(s["failed"], 2);
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_pos_never_refunds_more_than_a_sale_has_left() {
    let app = spawn(small()).await;
    let (hook, hub) = Hook::start(&[S1]).await;
    app.system("pos-r", "pos", "pos_nested", &hub, &[S1]).await;
    app.produce("pos-r", json!({"count": 40, "action": "sale"}))
        .await;
    app.produce("pos-r", json!({"count": 60, "action": "refund"}))
        .await;
    app.produce("pos-r", json!({"count": 200})).await;
    let mut sales: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    let mut refunded: BTreeMap<String, i64> = BTreeMap::new();
    let mut voided: HashSet<String> = HashSet::new();
    for g in hook.got() {
        let v = g.json();
        let o = &v["order"];
        let items: i64 = o["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["qty"].as_i64().unwrap() * cents(&i["price"]) - cents(&i["discount"]))
            .sum();
        let total = cents(&o["amount"]);
        let no = o["orderNo"].as_str().unwrap().to_owned();
        let kind = v["eventType"].as_str().unwrap();
        if kind != "void" {
            assert_eq!(items, total, "the lines add up to the total");
        }
        match kind {
            "sale" => {
                sales.insert(no, (total, false));
            }
            "refund" => {
                let sale = o["refOrderNo"].as_str().unwrap();
                assert!(!voided.contains(sale), "no refund of a voided sale");
                *refunded.entry(sale.to_owned()).or_default() += total;
            }
            "void" => {
                let sale = o["refOrderNo"].as_str().unwrap().to_owned();
                assert!(!refunded.contains_key(&sale), "no void of a refunded sale");
                assert_eq!(o["items"], json!([]), "a void has no lines");
                assert_eq!(sales[&sale].0, total);
                assert!(voided.insert(sale));
            }
            other => panic!("{other}"),
        }
    }
    assert!(refunded.len() > 10);
    for (sale, amount) in &refunded {
        let (total, _) = sales[sale];
        assert!(*amount <= total, "{sale}: refunded {amount} of {total}");
    }
    assert!(
        refunded.iter().any(|(s, a)| *a == sales[s].0),
        "some sale is refunded in full"
    );
    // The ledger agrees.
    let ledger = app.ledger("pos-r").await;
    for s in ledger["sales"].as_array().unwrap() {
        let id = s["external_id"].as_str().unwrap();
        let cents = |k: &str| (s[k].as_f64().unwrap() * 100.0).round() as i64;
        assert_eq!(cents("total"), sales[id].0);
        assert_eq!(cents("refunded"), refunded.get(id).copied().unwrap_or(0));
        assert_eq!(s["voided"].as_bool().unwrap(), voided.contains(id));
        let left = if voided.contains(id) {
            0
        } else {
            cents("total") - cents("refunded")
        };
        assert_eq!(cents("remaining"), left);
    }
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn purchase_orders_are_created_then_move_along_the_allowed_states() {
    let app = spawn(small()).await;
    let (hook, hub) = Hook::start(&[S1]).await;
    app.system("sup-1", "supplier", "canonical", &hub, &[S1])
        .await;
    app.produce("sup-1", json!({"count": 120})).await;
    let mut states: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in hook.got() {
        let v = g.json();
        let id = v["external_id"].as_str().unwrap().to_owned();
        match v["action"].as_str().unwrap() {
            "create" => {
                assert!(states.insert(id, vec!["pending".to_owned()]).is_none());
                let lines = v["lines"].as_array().unwrap();
                let sum: i64 = lines
                    .iter()
                    .map(|l| l["quantity"].as_i64().unwrap() * cents(&l["unit_price"]))
                    .sum();
                assert_eq!(sum, cents(&v["total"]));
                assert!(v["delivery"]["expected_at"].is_string());
            }
            "transition" => {
                let to = v["to"].as_str().unwrap().to_owned();
                states.get_mut(&id).unwrap().push(to);
            }
            other => panic!("{other}"),
        }
    }
    let path = ["pending", "confirmed", "shipped", "delivered"];
    for (po, seen) in &states {
        let n = seen.iter().take_while(|s| *s != "cancelled").count();
        assert_eq!(seen[..n], path[..n], "{po}");
        assert!(
            n == seen.len() || (n <= 2 && seen.len() == n + 1),
            "{po}: {seen:?}"
        );
    }
    let ledger = app.ledger("sup-1").await;
    for o in ledger["orders"].as_array().unwrap() {
        let id = o["external_id"].as_str().unwrap();
        assert_eq!(o["state"], states[id].last().unwrap().as_str());
    }
    app.sandbox.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// The control API refuses what makes no sense.

#[tokio::test]
async fn the_control_api_refuses_bad_requests_with_code_and_detail() {
    let app = spawn(small()).await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        async move { app.send_json(reqwest::Method::POST, path, &body).await }
    };
    let cases = [
        (
            "/_sandbox/store/systems",
            json!({"id": "x", "kind": "till"}),
            400,
            "invalid_body",
        ),
        (
            "/_sandbox/store/systems",
            json!({"id": "a/b", "kind": "pos"}),
            400,
            "invalid_id",
        ),
        (
            "/_sandbox/store/systems",
            json!({"id": "x", "kind": "pos", "shape": "member_flat"}),
            400,
            "invalid_shape",
        ),
        (
            "/_sandbox/store/systems",
            json!({"id": "x", "kind": "pos", "target_url": "ftp://h/"}),
            400,
            "invalid_url",
        ),
        (
            "/_sandbox/store/systems",
            json!({"id": "x", "kind": "pos", "extra": 1}),
            400,
            "invalid_body",
        ),
    ];
    for (path, body, status, code) in cases {
        let (s, v) = post(path, body.clone()).await;
        assert_eq!((s, v["code"].as_str().unwrap()), (status, code), "{body}");
        assert!(v["detail"].is_string());
    }
    let (s, _) = post(
        "/_sandbox/store/systems",
        json!({"id": "p", "kind": "pos", "target_url": "http://127.0.0.1:9/webhooks/p"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = post("/_sandbox/store/systems", json!({"id": "p", "kind": "pos"})).await;
    assert_eq!((s, v["code"].as_str().unwrap()), (409, "system_exists"));
    let (s, v) = post("/_sandbox/store/systems/p/events", json!({})).await;
    assert_eq!((s, v["code"].as_str().unwrap()), (409, "no_secret"));
    let (s, v) = post(
        "/_sandbox/store/systems/p/secrets",
        json!({"send": ["nope"]}),
    )
    .await;
    assert_eq!((s, v["code"].as_str().unwrap()), (400, "invalid_secret"));
    assert!(
        !v["detail"].as_str().unwrap().contains("nope"),
        "secrets are not echoed"
    );
    let (s, v) = post("/_sandbox/store/systems/p/secrets", json!({"send": [S1]})).await;
    assert_eq!(s, 200);
    assert_eq!(v["send_secrets"], 1);
    let shown = app.get("/_sandbox/store/systems/p").await;
    assert!(
        !shown.to_string().contains(&S1[6..]),
        "secrets are not shown"
    );
    // A refund before any sale produces nothing.
    let (s, v) = post(
        "/_sandbox/store/systems/p/events",
        json!({"action": "refund", "count": 3}),
    )
    .await;
    assert_eq!((s, v["code"].as_str().unwrap()), (409, "nothing_to_act_on"));
    assert_eq!(app.ledger("p").await["sales"], json!([]));
    let (s, v) = post(
        "/_sandbox/store/systems/p/events",
        json!({"action": "update"}),
    )
    .await;
    assert_eq!((s, v["code"].as_str().unwrap()), (400, "invalid_action"));
    let (s, v) = post("/_sandbox/store/systems/p/events", json!({"count": 0})).await;
    assert_eq!((s, v["code"].as_str().unwrap()), (400, "invalid_count"));
    let (s, v) = post(
        "/_sandbox/store/systems/p/burst",
        json!({"count": 5, "concurrency": 0}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str().unwrap()),
        (400, "invalid_concurrency")
    );
    let (s, v) = post(
        "/_sandbox/store/systems/p/faults",
        json!({"duplicate_rate": 1.5}),
    )
    .await;
    assert_eq!((s, v["code"].as_str().unwrap()), (400, "invalid_rate"));
    let (s, v) = post("/_sandbox/store/systems/nobody/events", json!({})).await;
    assert_eq!((s, v["code"].as_str().unwrap()), (404, "unknown_system"));
    let (s, v) = post("/_sandbox/webhooks/p/failures", json!({"status": 200})).await;
    assert_eq!((s, v["code"].as_str().unwrap()), (400, "invalid_status"));
    // Nothing listens on port 9: the event is produced, its delivery fails and is recorded.
    app.ok("/_sandbox/store/systems/p/faults", &json!({"attempts": 1}))
        .await;
    let out = app.produce("p", json!({})).await;
    assert_eq!(out["failed"], 1);
    assert!(out["events"][0]["status"].is_null());
    let d = app.get("/_sandbox/store/systems/p/deliveries").await;
    assert!(d["deliveries"][0]["error"].is_string());
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_fault_profile_sets_the_defaults_of_new_systems() {
    let app = spawn(SandboxConfig {
        faults: sandbox::FaultMode::Hostile,
        ..small()
    })
    .await;
    app.ok(
        "/_sandbox/store/systems",
        &json!({"id": "h", "kind": "member"}),
    )
    .await;
    let f = app.get("/_sandbox/store/systems/h/faults").await;
    assert_eq!(f["out_of_order"], true);
    assert!(f["duplicate_rate"].as_f64().unwrap() > 0.0);
    assert!(f["bad_signature_rate"].as_f64().unwrap() > 0.0);
    app.sandbox.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// The receiver of outbound webhooks.

struct Delivery<'a> {
    id: &'a str,
    ts: i64,
    body: &'a str,
    secret: &'a str,
}

impl App {
    async fn deliver(&self, system: &str, d: &Delivery<'_>) -> reqwest::Response {
        let sig = signature(
            &key_of(d.secret),
            d.id,
            &d.ts.to_string(),
            d.body.as_bytes(),
        );
        self.http
            .post(self.url(&format!("/_sandbox/webhooks/{system}")))
            .header("content-type", "application/json")
            .header("webhook-id", d.id)
            .header("webhook-timestamp", d.ts.to_string())
            .header("webhook-signature", format!("v1,AAAA {sig}"))
            .body(d.body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn receiver_for(&self, id: &str) {
        self.ok(
            "/_sandbox/store/systems",
            &json!({"id": id, "kind": "member"}),
        )
        .await;
        self.ok(
            &format!("/_sandbox/store/systems/{id}/secrets"),
            &json!({"receive": [S2]}),
        )
        .await;
    }
}

#[tokio::test]
async fn the_receiver_records_verified_deliveries_once_and_refuses_the_rest() {
    let app = spawn(small()).await;
    app.receiver_for("m-out").await;
    let now = now_secs();
    let body = r#"{"type":"member.updated","data":{"id":"mem_1","version":3}}"#;
    let good = Delivery {
        id: "msg_good1",
        ts: now,
        body,
        secret: S2,
    };
    let r = app.deliver("m-out", &good).await;
    assert_eq!(r.status(), 200);
    // The same delivery again: acknowledged, not recorded twice.
    let r = app.deliver("m-out", &good).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["duplicate"], true);
    // The same id with another body.
    let other = Delivery {
        body: r#"{"type":"member.updated","data":{"id":"mem_1","version":4}}"#,
        ..good
    };
    let r = app.deliver("m-out", &other).await;
    assert_eq!(r.status(), 409);
    // Signed with a key it was not given.
    let wrong = Delivery {
        id: "msg_wrong",
        secret: S1,
        ..good
    };
    assert_eq!(app.deliver("m-out", &wrong).await.status(), 401);
    // Stale, and too far ahead.
    for ts in [now - 301, now + 301] {
        let stale = Delivery {
            id: "msg_stale",
            ts,
            ..good
        };
        let r = app.deliver("m-out", &stale).await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "stale_timestamp");
    }
    // Tampered after signing.
    let sig = signature(&key_of(S2), "msg_t", &now.to_string(), body.as_bytes());
    let tampered = app
        .http
        .post(app.url("/_sandbox/webhooks/m-out"))
        .header("webhook-id", "msg_t")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sig.clone())
        .body(body.replace("3}", "9}"))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    // A missing header.
    let headless = app
        .http
        .post(app.url("/_sandbox/webhooks/m-out"))
        .header("webhook-id", "msg_t")
        .header("webhook-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(headless.status(), 400);
    // An unknown system.
    assert_eq!(app.deliver("nobody", &good).await.status(), 404);

    let rec = app.get("/_sandbox/webhooks/m-out/received").await;
    assert_eq!(rec["count"], 1);
    assert_eq!(rec["received"][0]["id"], "msg_good1");
    assert_eq!(rec["received"][0]["type"], "member.updated");
    assert_eq!(rec["received"][0]["body"]["data"]["version"], 3);
    assert_eq!(rec["received"][0]["timestamp"], now);
    let attempts = app.get("/_sandbox/webhooks/m-out/attempts").await;
    let outcomes: Vec<&str> = attempts["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "received",
            "duplicate",
            "conflicting_id",
            "bad_signature",
            "stale_timestamp",
            "stale_timestamp",
            "bad_signature",
            "malformed_delivery"
        ]
    );
    let s = app.stats().await["store"].clone();
    assert_eq!(s["received"], 1);
    assert_eq!(s["received_duplicates"], 1);
    assert_eq!(s["refused_signature"], 2);
    assert_eq!(s["refused_stale"], 2);
    assert_eq!(s["refused_conflicting_id"], 1);
    app.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_receiver_plays_a_failing_endpoint() {
    let app = spawn(small()).await;
    app.receiver_for("m-fail").await;
    let now = now_secs();
    let body = r#"{"type":"supplier_order.state_changed"}"#;
    let d = |id: &'static str| Delivery {
        id,
        ts: now,
        body,
        secret: S2,
    };
    app.ok(
        "/_sandbox/webhooks/m-fail/failures",
        &json!({"status": 503, "count": 2, "retry_after": 7}),
    )
    .await;
    for _ in 0..2 {
        let r = app.deliver("m-fail", &d("msg_a")).await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "7");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "failure_mode");
    }
    // The third attempt of the same message gets through and is recorded once.
    assert_eq!(app.deliver("m-fail", &d("msg_a")).await.status(), 200);
    // Bad signatures are still refused as such while failing.
    app.ok(
        "/_sandbox/webhooks/m-fail/failures",
        &json!({"status": 410}),
    )
    .await;
    let forged = Delivery {
        secret: S1,
        ..d("msg_b")
    };
    assert_eq!(app.deliver("m-fail", &forged).await.status(), 401);
    for id in ["msg_b", "msg_c", "msg_d"] {
        let r = app.deliver("m-fail", &d(id)).await;
        assert_eq!(r.status(), 410, "always, without a count");
        assert!(r.headers().get("retry-after").is_none());
    }
    app.ok(
        "/_sandbox/webhooks/m-fail/failures",
        &json!({"status": 429, "count": 1}),
    )
    .await;
    assert_eq!(app.deliver("m-fail", &d("msg_e")).await.status(), 429);
    assert_eq!(app.deliver("m-fail", &d("msg_e")).await.status(), 200);
    app.ok(
        "/_sandbox/webhooks/m-fail/failures",
        &json!({"status": 500}),
    )
    .await;
    let (s, _) = app
        .send_json(
            reqwest::Method::DELETE,
            "/_sandbox/webhooks/m-fail/failures",
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.deliver("m-fail", &d("msg_f")).await.status(), 200);
    let rec = app.get("/_sandbox/webhooks/m-fail/received").await;
    let ids: Vec<&str> = rec["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["msg_a", "msg_e", "msg_f"]);
    assert_eq!(app.stats().await["store"]["failures_played"], 6);
    app.sandbox.shutdown().await.unwrap();
}
