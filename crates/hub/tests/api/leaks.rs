//! The suite-wide secret guard: no secret the tests configure or are handed appears in
//! any response body or any log line, at TRACE, of any test.
//!
//! Every test hub is served behind [`guard`], and the first fixture a test makes installs
//! one global log subscriber ([`install`]) that formats every event of every crate at
//! TRACE, whatever thread or task emits it (background syncs, the outbox worker, the
//! sandbox, the call recorder). Secrets are learned as the suite runs:
//! - from requests: bearer tokens, cookie values, and the JSON fields that carry a
//!   secret (`password`, `new_password`, `secret`, `client_secret`, and every value of a
//!   `secrets` object);
//! - from the answers that hand one out once (`key` of a new API key, `secret` of a new
//!   webhook secret), after that answer is checked;
//! - from the sandbox's settings (every `…SECRET` and `…PASSWORD`).
//!
//! Values shorter than [`MIN_LEN`] are not learned: "pw" would match text everywhere.
//! A leak is recorded where it is seen and fails the test that next checks
//! ([`assert_clean`], called by every `TestApp` and `TestDb` as they end), naming the
//! secret by its length and first two characters only.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock, Mutex, Once, RwLock};

use aho_corasick::AhoCorasick;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::Value;

/// The shortest value learned as a secret.
pub const MIN_LEN: usize = 8;

#[derive(Default)]
struct Secrets {
    values: BTreeSet<String>,
    matcher: Option<Arc<AhoCorasick>>,
}

static SECRETS: LazyLock<RwLock<Secrets>> = LazyLock::new(Default::default);
static LEAKS: LazyLock<Mutex<Vec<Leak>>> = LazyLock::new(Default::default);

/// A secret seen where it must not be.
struct Leak {
    secret: String,
    /// Where, with the secret masked.
    message: String,
}

/// The prefix of the guard's own test secrets, which [`assert_clean`] leaves to the test
/// that planted them.
const CANARY: &str = "leak-canary-";

/// Learns `value` as a secret.
pub fn learn(value: &str) {
    if value.len() < MIN_LEN {
        return;
    }
    if SECRETS.read().unwrap().values.contains(value) {
        return;
    }
    let mut secrets = SECRETS.write().unwrap();
    if secrets.values.insert(value.to_owned()) {
        let matcher = AhoCorasick::new(&secrets.values).expect("secret matcher");
        secrets.matcher = Some(Arc::new(matcher));
    }
}

/// Learns every secret of a sandbox's settings.
pub fn learn_settings(settings: &[(String, String)]) {
    for (name, value) in settings {
        if name.ends_with("SECRET") || name.ends_with("PASSWORD") {
            learn(value);
        }
    }
}

/// Records a leak when `text` holds a known secret.
fn check(text: &[u8], place: &str) {
    let Some(matcher) = SECRETS.read().unwrap().matcher.clone() else {
        return;
    };
    if let Some(m) = matcher.find(text) {
        let secret = String::from_utf8_lossy(&text[m.start()..m.end()]).into_owned();
        let shown: String = secret.chars().take(2).collect();
        let context = String::from_utf8_lossy(text).replace(&secret, "<SECRET>");
        let context: String = context.chars().take(400).collect();
        let message = format!(
            "a secret ({} bytes, starting {shown:?}) in {place}: {context}",
            secret.len()
        );
        LEAKS.lock().unwrap().push(Leak { secret, message });
    }
}

/// Records a leak when `text`, output of `place` that the guard does not see as it is
/// written (another process's log, say), holds a known secret.
pub fn check_output(text: &[u8], place: &str) {
    check(text, place);
}

/// Fails when any secret has been seen in an answer or a log line.
pub fn assert_clean() {
    if std::thread::panicking() {
        return;
    }
    let leaks = LEAKS.lock().unwrap();
    let found: Vec<&str> = leaks
        .iter()
        .filter(|l| !l.secret.starts_with(CANARY))
        .map(|l| l.message.as_str())
        .collect();
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
}

/// Removes and returns where `canary` was seen.
fn take_leaks_of(canary: &str) -> Vec<String> {
    let mut leaks = LEAKS.lock().unwrap();
    let (taken, kept) = std::mem::take(&mut *leaks)
        .into_iter()
        .partition::<Vec<_>, _>(|l| l.secret == canary);
    *leaks = kept;
    taken.into_iter().map(|l| l.message).collect()
}

/// A log writer that checks each formatted line.
#[derive(Clone, Copy)]
struct LogCheck;

impl std::io::Write for LogCheck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        check(buf, "a log line");
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCheck {
    type Writer = LogCheck;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Installs the global subscriber once: every event at TRACE goes through the check,
/// and the hub's warnings and errors also show in the failing test's output.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let checked = tracing_subscriber::fmt::layer()
            .with_writer(LogCheck)
            .with_ansi(false)
            .with_filter(tracing_subscriber::filter::LevelFilter::TRACE);
        let shown = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(tracing_subscriber::EnvFilter::new("supplyhub=warn"));
        let subscriber = tracing_subscriber::registry().with(checked).with(shown);
        // Another global subscriber (none today) would leave the check out.
        tracing::subscriber::set_global_default(subscriber)
            .expect("the leak check is the suite's only global subscriber");
    });
}

/// The fields of a request body whose values are secrets.
const SECRET_FIELDS: &[&str] = &["password", "new_password", "secret", "client_secret"];
/// The fields of an answer that hand a secret out once.
const HANDED_OUT: &[&str] = &["key", "secret"];

fn learn_from_request(value: &Value) {
    match value {
        Value::Object(map) => {
            for (name, v) in map {
                match v {
                    Value::String(s) if SECRET_FIELDS.contains(&name.as_str()) => learn(s),
                    Value::Object(secrets) if name == "secrets" => {
                        for s in secrets.values() {
                            match s {
                                Value::String(s) => learn(s),
                                other => learn(&other.to_string()),
                            }
                        }
                    }
                    other => learn_from_request(other),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(learn_from_request),
        _ => {}
    }
}

/// The middleware every test hub is served behind: learns the request's secrets as its
/// body streams in (so the limits and timeouts of the server still apply), then checks
/// the answer's body before learning what it hands out.
pub async fn guard(request: Request, next: Next) -> Response {
    let headers = request.headers();
    for value in headers.get_all("authorization") {
        if let Ok(v) = value.to_str() {
            learn(v.strip_prefix("Bearer ").unwrap_or(v).trim());
        }
    }
    for value in headers.get_all("cookie") {
        if let Ok(v) = value.to_str() {
            for (_, cookie) in v.split(';').filter_map(|c| c.split_once('=')) {
                learn(cookie.trim());
            }
        }
    }
    let (parts, body) = request.into_parts();
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = Arc::clone(&seen);
    let body = body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            let mut seen = sink.lock().unwrap();
            if seen.len() < 1 << 20 {
                seen.extend_from_slice(data);
                if let Ok(value) = serde_json::from_slice::<Value>(&seen) {
                    learn_from_request(&value);
                }
            }
        }
        frame
    });
    let response = next.run(Request::from_parts(parts, Body::new(body))).await;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    check(&bytes, "a response body");
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) {
        for name in HANDED_OUT {
            if let Some(Value::String(s)) = map.get(*name) {
                learn(s);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The guard finds a secret in a log line written on another thread at TRACE, in an
/// answer's body, and learns the secrets of a request's body and of a handed-out key.
#[tokio::test]
async fn the_guard_sees_what_it_must() {
    install();
    // A log line from a background thread, at TRACE.
    let canary = format!("{CANARY}{}", uuid::Uuid::now_v7().simple());
    learn(&canary);
    let logged = canary.clone();
    std::thread::spawn(move || tracing::trace!(value = %logged, "a careless line"))
        .join()
        .unwrap();
    let seen = take_leaks_of(&canary);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("a log line") && !seen[0].contains(&canary));

    // A request body teaches a password, and an answer that echoes it is caught; an
    // answer handing out a key teaches it without being a leak itself.
    let password = format!("{CANARY}pw-{}", uuid::Uuid::now_v7().simple());
    let key = format!("{CANARY}key-{}", uuid::Uuid::now_v7().simple());
    let handed = key.clone();
    let app = axum::Router::new()
        .route(
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move { body }),
        )
        .route(
            "/key",
            axum::routing::post(
                move || async move { axum::Json(serde_json::json!({ "key": handed })) },
            ),
        )
        .layer(axum::middleware::from_fn(guard));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let body = serde_json::json!({"user": {"password": password}}).to_string();
    let echoed = http
        .post(format!("{base}/echo"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status(), 200);
    assert_eq!(take_leaks_of(&password).len(), 1);
    let r = http.post(format!("{base}/key")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        take_leaks_of(&key).is_empty(),
        "handing a key out once is no leak"
    );
    assert!(SECRETS.read().unwrap().values.contains(&key));
}
