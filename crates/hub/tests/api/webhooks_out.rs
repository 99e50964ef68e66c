//! Outbound webhooks: endpoints, signed deliveries to a local receiver, the retry
//! schedule by a controllable clock, dead letters and retries by hand, 410, Retry-After,
//! refused private addresses, and the official `standardwebhooks` package verifying our
//! signatures.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use supplyhub::clock::Clock;
use supplyhub::config::{OrdersConfig, RetentionConfig, WebhooksConfig};
use supplyhub::http::AppState;
use supplyhub::jobs::Worker;
use supplyhub::store::Db;
use supplyhub::systems::crypto::KeyRing;
use supplyhub::types::UtcTime;
use supplyhub::webhooks::outbound::{Deliverer, EventType, SCHEDULE, emit};
use supplyhub::webhooks::signature::{WebhookSecret, verify};

use crate::helpers::TestApp;

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    /// Whether the signature verified with the secret the receiver was given.
    pub(crate) verified: bool,
    /// When it arrived, by the worker's clock.
    at: UtcTime,
}

#[derive(Default)]
struct ReceiverState {
    /// The answers to give, in order; then `default`.
    answers: VecDeque<(u16, Vec<(&'static str, String)>)>,
    default: u16,
    secrets: Vec<String>,
    got: Vec<Received>,
}

/// A local webhook receiver on 127.0.0.1:0 that checks every delivery's signature with
/// the clock the worker reads.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    state: Arc<Mutex<ReceiverState>>,
}

async fn receive(
    State((state, clock)): State<(Arc<Mutex<ReceiverState>>, Clock)>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let got = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
        verified: false,
        at: clock.now(),
    };
    let mut s = state.lock().unwrap();
    let secrets: Vec<WebhookSecret> = s
        .secrets
        .iter()
        .map(|t| WebhookSecret::parse(t).unwrap())
        .collect();
    let now = clock.now().timestamp().as_second();
    let verified = !secrets.is_empty()
        && secrets.iter().all(|secret| {
            verify(
                &[secret],
                &got.id,
                &got.timestamp,
                &got.signature,
                &got.body,
                now,
                300,
            )
            .is_ok()
        });
    s.got.push(Received { verified, ..got });
    let (status, extra) = s.answers.pop_front().unwrap_or((s.default, Vec::new()));
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        format!("answer {status} from the receiver"),
    )
        .into_response();
    for (name, value) in extra {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

impl Receiver {
    pub(crate) async fn start(clock: &Clock, default: u16) -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState {
            default,
            ..ReceiverState::default()
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state((Arc::clone(&state), clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
        }
    }

    fn port(&self) -> u16 {
        self.url
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches("/hook")
            .parse()
            .unwrap()
    }

    pub(crate) fn trust(&self, secrets: &[&str]) {
        self.state.lock().unwrap().secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
    }

    fn answer(&self, status: u16, headers: Vec<(&'static str, String)>) {
        self.state
            .lock()
            .unwrap()
            .answers
            .push_back((status, headers));
    }

    pub(crate) fn set_default(&self, status: u16) {
        self.state.lock().unwrap().default = status;
    }

    pub(crate) fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }
}

/// The hub with outbound webhooks allowed to reach loopback over http (unless
/// `strict`), its worker on `clock`, and the key ring they share.
struct Hub {
    app: TestApp,
    worker: Worker,
    clock: Clock,
}

pub(crate) fn settings(strict: bool) -> WebhooksConfig {
    WebhooksConfig {
        allow_http: true,
        allow_private_targets: !strict,
        timeout_secs: 5,
        ..WebhooksConfig::default()
    }
}

impl Hub {
    async fn start(db: &Db, strict: bool) -> Hub {
        let ring = Arc::new(KeyRing::ephemeral());
        let mut state = AppState::new(db.clone());
        state.secrets = Arc::clone(&ring);
        state.webhooks = settings(strict);
        let app = TestApp::spawn_state(state, None).await;
        let clock = Clock::system();
        let deliverer = Deliverer::new(db.clone(), ring, settings(strict), clock.clone()).unwrap();
        let worker = Worker::new(
            db.clone(),
            supplyhub::systems::live::LiveSupplier::none(),
            OrdersConfig::default(),
            "webhook-worker",
        )
        .with_clock(clock.clone())
        .with_webhooks(Arc::new(deliverer));
        Hub { app, worker, clock }
    }

    async fn system(&self, name: &str, kind: &str) -> String {
        let (status, body) = self
            .app
            .post("/api/v1/systems", json!({"name": name, "kind": kind}))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Registers an endpoint; its id and secret.
    async fn endpoint(&self, system: &str, url: &str, types: &[&str]) -> (String, String) {
        let (status, body) = self
            .app
            .post(
                &format!("/api/v1/systems/{system}/endpoints"),
                json!({"url": url, "event_types": types}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let secret = body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{body}");
        (body["endpoint"]["id"].as_str().unwrap().to_owned(), secret)
    }

    /// Runs the worker once; the jobs it ran.
    async fn work(&self) -> usize {
        self.worker.run_once().await.unwrap()
    }

    async fn delivery(&self, id: &str) -> Value {
        let (status, body) = self
            .app
            .get(&format!("/api/v1/webhook-deliveries/{id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn deliveries(&self, query: &str) -> Vec<Value> {
        let (status, body) = self
            .app
            .get(&format!("/api/v1/webhook-deliveries{query}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }
}

pub(crate) async fn emit_now(db: &Db, event: EventType, data: Value) -> Option<String> {
    let mut tx = db.begin().await.unwrap();
    let id = emit(&mut tx, event, data).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn time(v: &Value) -> UtcTime {
    serde_json::from_value(v.clone()).unwrap()
}

/// A failing endpoint receives its attempts at the schedule's offsets (the clock is
/// stepped to each due time; nothing is attempted before it), all signed under the same
/// `webhook-id`; after the eighth the delivery is dead; a retry by hand succeeds.
async fn retries_on_the_schedule_then_dead_then_retry_by_hand(db: &Db) {
    let hub = Hub::start(db, false).await;
    let receiver = Receiver::start(&hub.clock, 500).await;
    let system = hub.system("Member system", "member").await;
    let (endpoint, secret) = hub
        .endpoint(&system, &receiver.url, &["member.updated"])
        .await;
    receiver.trust(&[&secret]);
    // An event nobody subscribes to writes nothing.
    assert_eq!(
        emit_now(db, EventType::PosTransactionRecorded, json!({})).await,
        None
    );
    let message = emit_now(
        db,
        EventType::MemberUpdated,
        json!({"member_id": "m1", "version": 3}),
    )
    .await
    .unwrap();
    assert_eq!(hub.work().await, 1);
    let list = hub.deliveries(&format!("?endpoint_id={endpoint}")).await;
    assert_eq!(list.len(), 1);
    let id = list[0]["id"].as_str().unwrap().to_owned();
    // The Standard Webhooks / Svix schedule, written out here rather than read from the
    // code: the wait before attempts 2 to 8, in seconds.
    let schedule_secs: [i64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
    assert_eq!(SCHEDULE.len(), 8);
    for attempt in 2..=8 {
        let d = hub.delivery(&id).await;
        assert_eq!(d["delivery"]["status"], "pending", "{d}");
        assert_eq!(d["delivery"]["attempts"], attempt - 1, "{d}");
        let last = time(&d["delivery"]["last_attempt_at"]);
        let next = time(&d["delivery"]["next_attempt_at"]);
        let base = schedule_secs[attempt - 2] * 1000;
        let waited = next.millis_since(last);
        assert!(
            waited >= base && waited <= base + base / 10 + 1,
            "attempt {attempt}: {waited} ms after the last, the schedule says {base} ms (+10 %)"
        );
        // Not due yet: nothing happens.
        hub.clock
            .advance_to(UtcTime::from_micros(next.as_micros() - 2_000_000).unwrap());
        assert_eq!(hub.work().await, 0, "attempt {attempt} ran early");
        assert_eq!(receiver.got().len(), attempt - 1);
        hub.clock.advance_to(next);
        assert_eq!(hub.work().await, 1, "attempt {attempt} is due");
        let got = receiver.got();
        assert_eq!(got.len(), attempt);
        // As the receiver saw it: the attempt came the schedule's wait (and its jitter)
        // after the one before, give or take the time the attempts themselves take.
        let apart = got[attempt - 1].at.millis_since(got[attempt - 2].at);
        assert!(
            apart >= base - 500 && apart <= base + base / 10 + 2_000,
            "attempt {attempt} arrived {apart} ms after the one before; the schedule says {base} ms"
        );
    }
    let d = hub.delivery(&id).await;
    assert_eq!(d["delivery"]["status"], "dead", "{d}");
    assert_eq!(d["delivery"]["attempts"], 8);
    assert!(d["delivery"]["next_attempt_at"].is_null());
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 8);
    for a in attempts {
        assert_eq!(a["status_code"], 500);
        assert_eq!(a["error_class"], "http_status");
        assert_eq!(a["response_excerpt"], "answer 500 from the receiver");
        assert!(a["latency_ms"].as_i64().unwrap() >= 0);
    }
    assert_eq!(d["body"]["type"], "member.updated");
    assert_eq!(d["body"]["data"], json!({"member_id": "m1", "version": 3}));
    assert_eq!(
        hub.deliveries("?status=dead&event_type=member.updated")
            .await
            .len(),
        1
    );
    assert_eq!(hub.deliveries("?status=pending").await.len(), 0);
    // The clock far ahead, the job stays dead.
    hub.clock.advance(Duration::from_secs(86_400));
    assert_eq!(hub.work().await, 0);

    receiver.set_default(200);
    let (status, body) = hub
        .app
        .post(&format!("/api/v1/webhook-deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    let (status, body) = hub
        .app
        .post(&format!("/api/v1/webhook-deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("delivery_pending"))
    );
    assert_eq!(hub.work().await, 1);
    let d = hub.delivery(&id).await;
    assert_eq!(d["delivery"]["status"], "succeeded", "{d}");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 9);
    assert_eq!(d["attempts"][8]["status_code"], 200);
    assert!(d["attempts"][8]["error_class"].is_null());
    let got = receiver.got();
    assert_eq!(got.len(), 9);
    assert!(got.iter().all(|r| r.verified), "every delivery verifies");
    assert!(
        got.iter().all(|r| r.id == message),
        "one webhook-id for all"
    );
    let body: Value = serde_json::from_slice(&got[8].body).unwrap();
    assert_eq!(body["type"], "member.updated");
    assert!(body["timestamp"].is_string());
    let (_, ep) = hub
        .app
        .get(&format!("/api/v1/systems/{system}/endpoints/{endpoint}"))
        .await;
    assert_eq!(ep["enabled"], true);
    assert!(
        ep["failing_since"].is_null(),
        "a success ends the streak: {ep}"
    );
    assert!(ep["last_success_at"].is_string());

    // A month on, the succeeded delivery is pruned with its attempts and message.
    let retention = RetentionConfig::default();
    let soon = hub.clock.later(Duration::from_secs(86_400));
    let kept = supplyhub::retention::prune_once(db, 0, &retention, soon)
        .await
        .unwrap();
    assert_eq!(kept.webhook_deliveries, 0);
    let later = hub.clock.later(Duration::from_secs(31 * 86_400));
    let pruned = supplyhub::retention::prune_once(db, 0, &retention, later)
        .await
        .unwrap();
    assert_eq!(pruned.webhook_deliveries, 1);
    let (status, _) = hub
        .app
        .get(&format!("/api/v1/webhook-deliveries/{id}"))
        .await;
    assert_eq!(status, 404);
}

/// A 410 disables the endpoint at once; the system, left with no enabled endpoint,
/// goes to `error`, and `system.status_changed` reaches the systems that subscribe to
/// it. A dead delivery of a disabled endpoint is retried only after re-enabling it.
async fn gone_disables_the_endpoint_and_tells_of_it(db: &Db) {
    let hub = Hub::start(db, false).await;
    let member_rx = Receiver::start(&hub.clock, 200).await;
    let monitor_rx = Receiver::start(&hub.clock, 200).await;
    let member = hub.system("Members", "member").await;
    let monitor = hub.system("Monitor", "erp").await;
    let (member_ep, member_secret) = hub
        .endpoint(&member, &member_rx.url, &["member.updated"])
        .await;
    let (_, monitor_secret) = hub
        .endpoint(&monitor, &monitor_rx.url, &["system.status_changed"])
        .await;
    member_rx.trust(&[&member_secret]);
    monitor_rx.trust(&[&monitor_secret]);
    member_rx.answer(410, vec![]);
    emit_now(db, EventType::MemberUpdated, json!({"member_id": "m2"})).await;
    assert_eq!(hub.work().await, 1);
    let (_, ep) = hub
        .app
        .get(&format!("/api/v1/systems/{member}/endpoints/{member_ep}"))
        .await;
    assert_eq!(ep["enabled"], false, "{ep}");
    assert!(
        ep["disabled_reason"].as_str().unwrap().contains("410"),
        "{ep}"
    );
    let (_, sys) = hub.app.get(&format!("/api/v1/systems/{member}")).await;
    assert_eq!(sys["status"], "error", "{sys}");
    assert!(
        sys["last_error"].as_str().unwrap().contains(&member_ep),
        "{sys}"
    );
    let dead = hub.deliveries(&format!("?system_id={member}")).await;
    assert_eq!(dead[0]["status"], "dead", "{dead:?}");
    assert_eq!(
        hub.delivery(dead[0]["id"].as_str().unwrap()).await["attempts"][0]["error_class"],
        "gone"
    );

    let metrics = hub
        .app
        .get_raw("/metrics", None)
        .await
        .text()
        .await
        .unwrap();
    for line in [
        "supplyhub_webhooks_out_total{outcome=\"gone\"}",
        "supplyhub_webhooks_out_total{outcome=\"endpoint_disabled\"}",
    ] {
        assert!(metrics.contains(line), "{line} in /metrics");
    }

    // The change reaches the monitor.
    assert_eq!(hub.work().await, 1);
    let got = monitor_rx.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].verified);
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "system.status_changed");
    assert_eq!(event["data"]["system_id"], member.as_str());
    assert_eq!(event["data"]["previous_status"], "inactive");
    assert_eq!(event["data"]["status"], "error");
    assert_eq!(event["data"]["endpoint_id"], member_ep.as_str());

    // No more deliveries to the disabled endpoint; a retry must wait for it.
    emit_now(db, EventType::MemberUpdated, json!({"member_id": "m3"})).await;
    assert_eq!(
        hub.deliveries(&format!("?endpoint_id={member_ep}"))
            .await
            .len(),
        1
    );
    let dead_id = dead[0]["id"].as_str().unwrap();
    let (status, body) = hub
        .app
        .post(
            &format!("/api/v1/webhook-deliveries/{dead_id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("endpoint_disabled")),
        "{body}"
    );
    let req = hub
        .app
        .http
        .patch(format!(
            "{}/api/v1/systems/{member}/endpoints/{member_ep}",
            hub.app.base
        ))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(req.status(), 200);
    let (status, _) = hub
        .app
        .post(
            &format!("/api/v1/webhook-deliveries/{dead_id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(hub.work().await, 1);
    assert_eq!(
        hub.delivery(dead_id).await["delivery"]["status"],
        "succeeded"
    );
    assert_eq!(member_rx.got().len(), 2);

    // A status set by an operator is told too, in the same transaction as the change.
    let req = hub
        .app
        .http
        .patch(format!("{}/api/v1/systems/{member}", hub.app.base))
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(req.status(), 200);
    assert_eq!(hub.work().await, 1);
    let got = monitor_rx.got();
    assert_eq!(got.len(), 2);
    let event: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(event["data"]["previous_status"], "error");
    assert_eq!(event["data"]["status"], "active");
}

/// An endpoint failing without a success for longer than `disable_after_secs` is
/// disabled at its next failure.
async fn failing_for_days_disables_the_endpoint(db: &Db) {
    let hub = Hub::start(db, false).await;
    let rx = Receiver::start(&hub.clock, 502).await;
    let system = hub.system("POS", "pos").await;
    let (endpoint, _) = hub
        .endpoint(&system, &rx.url, &["pos.transaction.recorded"])
        .await;
    emit_now(db, EventType::PosTransactionRecorded, json!({"n": 1})).await;
    assert_eq!(hub.work().await, 1);
    // Five days and a bit later, a second event fails again.
    hub.clock.advance(Duration::from_secs(5 * 86_400 + 60));
    emit_now(db, EventType::PosTransactionRecorded, json!({"n": 2})).await;
    // Both deliveries are due by now (the first one's retries, the second one's first
    // attempt): the first failure after five days disables the endpoint.
    hub.work().await;
    let (_, ep) = hub
        .app
        .get(&format!("/api/v1/systems/{system}/endpoints/{endpoint}"))
        .await;
    assert_eq!(ep["enabled"], false, "{ep}");
    assert!(
        ep["disabled_reason"].as_str().unwrap().contains("failing"),
        "{ep}"
    );
    let (_, sys) = hub.app.get(&format!("/api/v1/systems/{system}")).await;
    assert_eq!(sys["status"], "error");
    // Dead deliveries are kept whatever their age: a retry by hand needs them.
    let later = hub.clock.later(Duration::from_secs(365 * 86_400));
    let pruned = supplyhub::retention::prune_once(db, 0, &RetentionConfig::default(), later)
        .await
        .unwrap();
    assert_eq!(pruned.webhook_deliveries, 0);
    assert_eq!(hub.deliveries("?status=dead").await.len(), 2);
}

/// `Retry-After` on a 429 or 503 is honoured when longer than the schedule, never
/// sooner than it.
async fn retry_after_is_honoured(db: &Db) {
    let hub = Hub::start(db, false).await;
    let rx = Receiver::start(&hub.clock, 200).await;
    let system = hub.system("Throttled", "member").await;
    hub.endpoint(&system, &rx.url, &["member.updated"]).await;
    rx.answer(429, vec![("retry-after", "120".to_owned())]);
    rx.answer(503, vec![("retry-after", "1".to_owned())]);
    emit_now(db, EventType::MemberUpdated, json!({})).await;
    assert_eq!(hub.work().await, 1);
    let id = hub.deliveries("").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = hub.delivery(&id).await;
    assert_eq!(d["attempts"][0]["error_class"], "throttled");
    let last = time(&d["delivery"]["last_attempt_at"]);
    let next = time(&d["delivery"]["next_attempt_at"]);
    assert_eq!(
        next.millis_since(last),
        120_000,
        "Retry-After: 120 over the 5 s step"
    );
    hub.clock.advance_to(next);
    assert_eq!(hub.work().await, 1);
    let d = hub.delivery(&id).await;
    let last = time(&d["delivery"]["last_attempt_at"]);
    let next = time(&d["delivery"]["next_attempt_at"]);
    assert!(
        next.millis_since(last) >= 300_000,
        "Retry-After: 1 does not shorten the 5 min step"
    );
    hub.clock.advance_to(next);
    assert_eq!(hub.work().await, 1);
    assert_eq!(hub.delivery(&id).await["delivery"]["status"], "succeeded");
}

/// Without `allow_private_targets`, a loopback URL is refused when registered, and a
/// name that resolves to loopback is refused when the delivery connects.
async fn private_addresses_are_refused(db: &Db) {
    let hub = Hub::start(db, true).await;
    let rx = Receiver::start(&hub.clock, 200).await;
    let system = hub.system("Internal", "member").await;
    for url in [
        rx.url.clone(),
        "http://10.0.0.8/hook".to_owned(),
        "http://[::1]:8080/hook".to_owned(),
        "http://169.254.169.254/latest".to_owned(),
    ] {
        let (status, body) = hub
            .app
            .post(
                &format!("/api/v1/systems/{system}/endpoints"),
                json!({"url": url, "event_types": ["member.updated"]}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_body")),
            "{url}: {body}"
        );
    }
    // `localhost` passes as text; it is refused when resolved.
    let by_name = format!("http://localhost:{}/hook", rx.port());
    hub.endpoint(&system, &by_name, &["member.updated"]).await;
    emit_now(db, EventType::MemberUpdated, json!({})).await;
    assert_eq!(hub.work().await, 1);
    assert!(rx.got().is_empty(), "nothing reached the loopback receiver");
    let id = hub.deliveries("").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = hub.delivery(&id).await;
    assert_eq!(d["attempts"][0]["error_class"], "blocked_address", "{d}");
    assert!(d["attempts"][0]["status_code"].is_null());
    assert_eq!(
        d["delivery"]["status"], "pending",
        "retried on the schedule: {d}"
    );
}

/// The official `standardwebhooks` package (PyPI) verifies a delivery the hub signed,
/// and refuses it tampered; after a rotation, deliveries verify with the new and the
/// previous secret.
async fn the_official_library_verifies_our_signatures(db: &Db) {
    let hub = Hub::start(db, false).await;
    let rx = Receiver::start(&hub.clock, 204).await;
    let system = hub.system("Python receiver", "member").await;
    let (endpoint, secret) = hub.endpoint(&system, &rx.url, &["member.updated"]).await;
    emit_now(
        db,
        EventType::MemberUpdated,
        json!({"name": "张三", "points": 120}),
    )
    .await;
    assert_eq!(hub.work().await, 1);
    let (status, rotated) = hub
        .app
        .post(
            &format!("/api/v1/systems/{system}/endpoints/{endpoint}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert!(rotated["endpoint"]["previous_secret_expires_at"].is_string());
    emit_now(db, EventType::MemberUpdated, json!({"name": "李四"})).await;
    assert_eq!(hub.work().await, 1);
    let got = rx.got();
    assert_eq!(got.len(), 2);

    let python = crate::helpers::python();
    let dir = tempfile::tempdir().unwrap();
    let cases = json!([
        {"secret": secret, "delivery": 0, "tamper": false, "ok": true},
        {"secret": secret, "delivery": 0, "tamper": true, "ok": false},
        {"secret": new_secret, "delivery": 0, "tamper": false, "ok": false},
        {"secret": new_secret, "delivery": 1, "tamper": false, "ok": true},
        {"secret": secret, "delivery": 1, "tamper": false, "ok": true},
    ]);
    let deliveries: Vec<Value> = got
        .iter()
        .map(|r| {
            json!({
                "headers": {
                    "webhook-id": r.id,
                    "webhook-timestamp": r.timestamp,
                    "webhook-signature": r.signature,
                },
                "body": String::from_utf8(r.body.clone()).unwrap(),
            })
        })
        .collect();
    let input = dir.path().join("cases.json");
    std::fs::write(
        &input,
        json!({"cases": cases, "deliveries": deliveries}).to_string(),
    )
    .unwrap();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
doc = json.load(open(sys.argv[1]))
out = []
for case in doc["cases"]:
    d = doc["deliveries"][case["delivery"]]
    body = d["body"] + (" " if case["tamper"] else "")
    try:
        payload = Webhook(case["secret"]).verify(body.encode(), d["headers"])
        out.append({"ok": True, "type": payload["type"]})
    except WebhookVerificationError as e:
        out.append({"ok": False, "error": str(e)})
print(json.dumps(out))
"#;
    let run = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "verifier: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(results.len(), cases.as_array().unwrap().len());
    for (case, result) in cases.as_array().unwrap().iter().zip(&results) {
        assert_eq!(result["ok"], case["ok"], "{case} → {result}");
        if case["ok"] == true {
            assert_eq!(result["type"], "member.updated");
        }
    }
}

/// Bad input to every new route is a 4xx with `{code, detail}`; the secret is never
/// shown but at creation and rotation.
async fn bad_input_is_refused_and_secrets_stay_hidden(db: &Db) {
    let hub = Hub::start(db, false).await;
    let system = hub.system("Checked", "member").await;
    let endpoints = format!("/api/v1/systems/{system}/endpoints");
    let bodies = [
        json!({"url": "ftp://example.com/", "event_types": ["member.updated"]}),
        json!({"url": "not a url", "event_types": ["member.updated"]}),
        json!({"url": "https://u:p@example.com/", "event_types": ["member.updated"]}),
        json!({"url": "", "event_types": ["member.updated"]}),
        json!({"url": format!("https://example.com/{}", "x".repeat(2100)), "event_types": ["member.updated"]}),
        json!({"url": "https://example.com/"}),
        json!({"url": "https://example.com/", "event_types": []}),
        json!({"url": "https://example.com/", "event_types": ["member.deleted"]}),
        json!({"url": "https://example.com/", "event_types": ["member.updated", "member.updated"]}),
        json!({"url": "https://example.com/", "event_types": ["member.updated"], "secret": "whsec_x"}),
        json!({"url": "https://example.com/", "event_types": "member.updated"}),
        json!([]),
    ];
    for body in bodies {
        let (status, resp) = hub.app.post(&endpoints, body.clone()).await;
        assert_eq!(status, 422, "{body} → {resp}");
        assert!(
            resp["code"].is_string() && resp["detail"].is_string(),
            "{resp}"
        );
    }
    let raw = hub
        .app
        .http
        .post(format!("{}{endpoints}", hub.app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let (status, resp) = hub
        .app
        .post(
            "/api/v1/systems/sys_nope/endpoints",
            json!({"url": "https://example.com/", "event_types": ["member.updated"]}),
        )
        .await;
    assert_eq!((status, resp["code"].as_str()), (404, Some("not_found")));

    let (endpoint, _) = hub
        .endpoint(&system, "https://hooks.example.com/in", &["member.updated"])
        .await;
    let (status, one) = hub.app.get(&format!("{endpoints}/{endpoint}")).await;
    assert_eq!(status, 200);
    let (status, list) = hub.app.get(&endpoints).await;
    assert_eq!(status, 200);
    for shown in [&one, &list] {
        let text = shown.to_string();
        assert!(
            !text.contains("whsec_") && !text.contains("ciphertext"),
            "{text}"
        );
    }
    assert!(one.get("secret").is_none(), "{one}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let other = hub.system("Other", "pos").await;
    for path in [
        format!("/api/v1/systems/{other}/endpoints/{endpoint}"),
        format!("{endpoints}/whep_nope"),
        "/api/v1/webhook-deliveries/whd_nope".to_owned(),
    ] {
        let (status, resp) = hub.app.get(&path).await;
        assert_eq!(
            (status, resp["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    for path in [
        format!("/api/v1/systems/{other}/endpoints/{endpoint}/rotate-secret"),
        "/api/v1/webhook-deliveries/whd_nope/retry".to_owned(),
    ] {
        let (status, resp) = hub.app.post(&path, json!({})).await;
        assert_eq!(
            (status, resp["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    for patch in [
        json!({"url": "gopher://x/"}),
        json!({"event_types": []}),
        json!({"enabled": "yes"}),
        json!({"colour": "red"}),
    ] {
        let resp = hub
            .app
            .http
            .patch(format!("{}{endpoints}/{endpoint}", hub.app.base))
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422, "{patch}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["detail"].is_string());
    }
    for query in [
        "?status=lost",
        "?event_type=member.deleted",
        "?since=yesterday",
        "?until=2026-13-01T00:00:00Z",
        "?limit=0",
        "?system_id=",
        "?after=",
    ] {
        let (status, resp) = hub
            .app
            .get(&format!("/api/v1/webhook-deliveries{query}"))
            .await;
        assert_eq!(
            (status, resp["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{query}: {resp}"
        );
    }
    let (status, page) = hub
        .app
        .get("/api/v1/webhook-deliveries?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z")
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"], json!([]));
    let resp = hub
        .app
        .http
        .delete(format!("{}{endpoints}/{endpoint}", hub.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (status, _) = hub.app.get(&format!("{endpoints}/{endpoint}")).await;
    assert_eq!(status, 404);
}

/// An order's supplier status change emits `order.supplier_status_changed` in its own
/// transaction: committed, it is delivered; rolled back, nothing is left of it.
async fn supplier_status_changes_are_emitted_with_the_change(db: &Db) {
    use supplyhub::status::SupplierStatus;
    use supplyhub::store::orders::transition_supplier_status;
    let hub = Hub::start(db, false).await;
    let rx = Receiver::start(&hub.clock, 200).await;
    let shop = hub.system("Shop ERP", "erp").await;
    let (_, secret) = hub
        .endpoint(&shop, &rx.url, &["order.supplier_status_changed"])
        .await;
    rx.trust(&[&secret]);
    let order = crate::callbacks::seed_order(db, "PO-WH-1", "paid", "push_pending").await;
    let mut tx = db.begin().await.unwrap();
    assert!(
        transition_supplier_status(
            &mut tx,
            &order.id,
            &[SupplierStatus::PushPending],
            SupplierStatus::Pushed,
            Some("SO.1"),
            None,
            UtcTime::now(),
        )
        .await
        .unwrap()
    );
    drop(tx); // rolled back: no event either
    assert!(hub.deliveries("").await.is_empty());
    assert_eq!(hub.work().await, 0);
    let mut tx = db.begin().await.unwrap();
    transition_supplier_status(
        &mut tx,
        &order.id,
        &[SupplierStatus::PushPending],
        SupplierStatus::Pushed,
        Some("SO.1"),
        None,
        UtcTime::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(hub.work().await, 1);
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].verified);
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "order.supplier_status_changed");
    assert_eq!(event["data"]["order_id"], order.id.as_str());
    assert_eq!(event["data"]["previous_status"], "push_pending");
    assert_eq!(event["data"]["status"], "pushed");
    assert_eq!(event["data"]["retail_order_no"], "SO.1");
}

/// The records' changes reach every subscribed system but the one they came from, with
/// the change: `member.updated` (the bidirectional member sync: an update from one member
/// system reaches the other and the ERP, never its sender), `pos.transaction.recorded`
/// and `supplier_order.state_changed`; a repeated update emits nothing.
async fn records_changes_reach_the_other_subscribers(db: &Db) {
    let hub = Hub::start(db, false).await;
    let erp_rx = Receiver::start(&hub.clock, 200).await;
    let crm_rx = Receiver::start(&hub.clock, 200).await;
    let loyalty_rx = Receiver::start(&hub.clock, 200).await;
    let erp = hub.system("ERP", "erp").await;
    let crm = hub.system("CRM", "member").await;
    let loyalty = hub.system("Loyalty", "member").await;
    let pos = hub.system("Till", "pos").await;
    let (status, sup) = hub
        .app
        .post(
            "/api/v1/systems",
            json!({"name": "Haier B2B", "kind": "supplier", "settings": {"vendor": "haier"}}),
        )
        .await;
    assert_eq!(status, 201, "{sup}");
    let sup = sup["id"].as_str().unwrap().to_owned();
    let all = [
        "member.updated",
        "pos.transaction.recorded",
        "supplier_order.state_changed",
    ];
    let (_, secret) = hub.endpoint(&erp, &erp_rx.url, &all).await;
    erp_rx.trust(&[&secret]);
    let (_, secret) = hub.endpoint(&crm, &crm_rx.url, &["member.updated"]).await;
    crm_rx.trust(&[&secret]);
    let (_, secret) = hub
        .endpoint(&loyalty, &loyalty_rx.url, &["member.updated"])
        .await;
    loyalty_rx.trust(&[&secret]);

    let update = json!({"external_id": "M1", "version": 1, "name": "王芳",
        "mobile": "13812345678", "level": "gold", "points": 10, "balance": "1.50"});
    let (status, body) = hub
        .app
        .post(&format!("/api/v1/members/{crm}/sync"), update.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let member_id = body["member"]["id"].as_str().unwrap().to_owned();
    let (status, body) = hub
        .app
        .post(&format!("/api/v1/members/{crm}/sync"), update)
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("already_recorded"))
    );
    let (status, body) = hub
        .app
        .post(
            &format!("/api/v1/members/{loyalty}/sync"),
            json!({"external_id": "L-9", "member_id": member_id, "version": 1,
                "name": "王芳", "level": "platinum", "points": 99}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = hub
        .app
        .post(
            &format!("/api/v1/pos/{pos}/transactions"),
            json!({"external_id": "S1", "kind": "sale", "occurred_at": "2026-11-30T10:15:00+08:00",
                "lines": [{"sku": "SKU-A", "name": "A", "quantity": 2, "unit_price": "100.00"}],
                "total": "200.00"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, order) = hub
        .app
        .post(
            &format!("/api/v1/supplier-orders/{sup}"),
            json!({"external_id": "PO-1", "total": "2999.00",
                "lines": [{"sku": "BCD-470", "name": "冰箱", "quantity": 1, "unit_price": "2999.00"}]}),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let (status, body) = hub
        .app
        .post(
            &format!(
                "/api/v1/supplier-orders/{}/transitions",
                order["id"].as_str().unwrap()
            ),
            json!({"to": "confirmed"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    while hub.work().await > 0 {}

    let events = |rx: &Receiver| -> Vec<Value> {
        rx.got()
            .iter()
            .map(|r| {
                assert!(r.verified, "every delivery is signed");
                serde_json::from_slice(&r.body).unwrap()
            })
            .collect()
    };
    let erp_events = events(&erp_rx);
    let mut types: Vec<&str> = erp_events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "member.updated",
            "member.updated",
            "pos.transaction.recorded",
            "supplier_order.state_changed",
            "supplier_order.state_changed"
        ],
        "{erp_events:?}"
    );
    let states: Vec<(Value, Value)> = erp_events
        .iter()
        .filter(|e| e["type"] == "supplier_order.state_changed")
        .map(|e| (e["data"]["from"].clone(), e["data"]["to"].clone()))
        .collect();
    assert!(
        states.contains(&(Value::Null, json!("pending"))),
        "{states:?}"
    );
    assert!(
        states.contains(&(json!("pending"), json!("confirmed"))),
        "{states:?}"
    );
    let sale = erp_events
        .iter()
        .find(|e| e["type"] == "pos.transaction.recorded")
        .unwrap();
    assert_eq!(
        (&sale["data"]["external_id"], &sale["data"]["total"]),
        (&json!("S1"), &json!("200.00"))
    );
    // Each member system hears the other's update of the same member, not its own.
    let crm_events = events(&crm_rx);
    assert_eq!(crm_events.len(), 1, "{crm_events:?}");
    assert_eq!(
        crm_events[0]["data"]["source"]["system_id"],
        loyalty.as_str()
    );
    assert_eq!(crm_events[0]["data"]["member_id"], member_id.as_str());
    assert_eq!(crm_events[0]["data"]["level"], "platinum");
    let loyalty_events = events(&loyalty_rx);
    assert_eq!(loyalty_events.len(), 1, "{loyalty_events:?}");
    assert_eq!(
        loyalty_events[0]["data"]["source"]["system_id"],
        crm.as_str()
    );
    assert_eq!(loyalty_events[0]["data"]["mobile"], "13812345678");
}

crate::on_both_backends! {
    records_changes_reach_the_other_subscribers => records_changes_reach_the_other_subscribers;
    supplier_status_changes_are_emitted_with_the_change => supplier_status_changes_are_emitted_with_the_change;
    retries_on_the_schedule_then_dead_then_retry_by_hand => retries_on_the_schedule_then_dead_then_retry_by_hand;
    gone_disables_the_endpoint_and_tells_of_it => gone_disables_the_endpoint_and_tells_of_it;
    failing_for_days_disables_the_endpoint => failing_for_days_disables_the_endpoint;
    retry_after_is_honoured => retry_after_is_honoured;
    private_addresses_are_refused => private_addresses_are_refused;
    the_official_library_verifies_our_signatures => the_official_library_verifies_our_signatures;
    bad_input_is_refused_and_secrets_stay_hidden => bad_input_is_refused_and_secrets_stay_hidden;
}
