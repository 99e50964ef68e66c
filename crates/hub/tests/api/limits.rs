//! What the server does with requests that are too big, too slow or malformed before any
//! handler sees them, over raw TCP; and the request log of the real binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use supplyhub::http::{AppState, HttpConfig};

use crate::helpers::{TestApp, TestDb};

/// A raw HTTP/1.1 exchange: the status, the head and the body of the reply.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}\n{}", self.body, self.head))
    }

    /// The status and the `code` of a `{code, detail}` body.
    fn error(&self) -> (u16, String) {
        let body = self.json();
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a detail: {body}"
        );
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{}",
            self.head
        );
        (self.status, body["code"].as_str().unwrap_or("").to_owned())
    }
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Sends `head` then `body` on a new connection (writing in the background, so a server
/// that answers before reading everything does not block it) and reads the reply to the
/// end of the connection.
async fn exchange(addr: &str, head: String, body: Vec<u8>) -> Raw {
    let addr = addr.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(head.as_bytes());
            let _ = writer.write_all(&body);
        });
        let mut reply = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
                // A reset after the reply (the server closed with unread input) ends it too.
                Err(e) if !reply.is_empty() => {
                    let _ = e;
                    break;
                }
                Err(e) => panic!("no reply: {e}"),
            }
        }
        let _ = sender.join();
        let text = String::from_utf8_lossy(&reply).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {text:?}"));
        Raw {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        }
    })
    .await
    .unwrap()
}

async fn get(addr: &str, target: &str, extra_headers: &str) -> Raw {
    exchange(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: hub\r\n{extra_headers}Connection: close\r\n\r\n"),
        Vec::new(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_a_json_error_with_its_status() {
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(&t.db, None).await;
    let addr = addr(&app);

    // A query string that does not fit the parameters.
    let r = get(&addr, "/api/v1/regions/resolve?address=a&address=b", "").await;
    assert_eq!(
        r.error(),
        (400, "invalid_parameter".to_owned()),
        "{}",
        r.body
    );
    assert!(r.json()["detail"].as_str().unwrap().contains("address"));

    // A request target of 10,000 characters.
    let long = format!("/api/v1/products?after={}", "A".repeat(10_000));
    let r = get(&addr, &long, "").await;
    assert_eq!(r.error(), (414, "uri_too_long".to_owned()), "{}", r.body);

    // 200 headers.
    let many: String = (0..200).map(|i| format!("X-Extra-{i}: {i}\r\n")).collect();
    let r = get(&addr, "/healthz", &many).await;
    assert_eq!(
        r.error(),
        (431, "headers_too_large".to_owned()),
        "{}",
        r.body
    );

    // A 10 MB callback, announced by its length and sent.
    let body = vec![b'a'; 10 * 1024 * 1024];
    let r = exchange(
        &addr,
        format!(
            "POST /callbacks/haier HTTP/1.1\r\nHost: hub\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ),
        body,
    )
    .await;
    assert_eq!(
        r.error(),
        (413, "payload_too_large".to_owned()),
        "{}",
        r.body
    );

    // The same without a length: chunks until the limit is passed.
    let chunk = vec![b'a'; 256 * 1024];
    let mut chunked = Vec::new();
    for _ in 0..8 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = exchange(
        &addr,
        "POST /api/v1/orders HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
        chunked,
    )
    .await;
    assert_eq!(
        r.error(),
        (413, "payload_too_large".to_owned()),
        "{}",
        r.body
    );

    // Unknown routes and methods.
    let r = get(&addr, "/nowhere", "").await;
    assert_eq!(r.error(), (404, "not_found".to_owned()));
    let r = exchange(
        &addr,
        "DELETE /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n".to_owned(),
        Vec::new(),
    )
    .await;
    assert_eq!(r.error(), (405, "method_not_allowed".to_owned()));

    // A body that is not JSON where JSON is expected.
    let r = exchange(
        &addr,
        "POST /api/v1/products HTTP/1.1\r\nHost: hub\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n".to_owned(),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.error(), (415, "unsupported_media_type".to_owned()));
    t.cleanup().await;
}

/// Reads until the server closes the connection; panics if it is still open after 20 s
/// (the configured timeouts are 1 s).
fn read_until_closed(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the server kept a stalled connection open")
            }
            // Reset by the server: closed too.
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stalls_is_cut_off() {
    let t = TestDb::sqlite().await;
    let http = HttpConfig {
        header_read_timeout_secs: 1,
        body_read_timeout_secs: 1,
        ..HttpConfig::default()
    };
    let app = TestApp::spawn_state_with_http(AppState::new(t.db.clone()), None, http).await;
    let addr = addr(&app);

    // Half the headers, then nothing.
    let half_headers = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Partial: ")
                .unwrap();
            read_until_closed(stream)
        })
    };
    // All the headers, half the body, then nothing.
    let half_body = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream
                .write_all(
                    b"POST /api/v1/products HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\":",
                )
                .unwrap();
            read_until_closed(stream)
        })
    };
    let reply = half_headers.await.unwrap();
    assert!(
        !reply.contains(" 200 "),
        "no answer to half a request: {reply}"
    );
    let reply = half_body.await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"code\":\"request_timeout\""), "{reply}");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_has_one_plain_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supplyhub"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_clear()
        .env(
            "SUPPLYHUB_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("hub.db").display()),
        )
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the hub");
    // `serve` says where it listens on stdout; the rest of stdout is drained so that
    // the hub never writes into a closed pipe.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(base) = line.strip_prefix("supplyhub is serving on ") {
                let _ = tx.send(base.to_owned());
            }
        }
    });
    let base = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("serve says where it listens")
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{base}/healthz"))
        .header("x-request-id", "req-log-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = http
        .get(format!("{base}/api/v1/products/NOPE?secret=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let generated_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();

    assert!(
        !log.contains('\u{1b}'),
        "no colour codes in a pipe: {log:?}"
    );
    let lines_of = |id: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains(id) && l.contains("latency_ms"))
            .map(str::to_owned)
            .collect()
    };
    let health = lines_of("req-log-test-1");
    assert_eq!(health.len(), 1, "one line per request: {log}");
    for needle in ["INFO", "GET", "/healthz", "status=200"] {
        assert!(health[0].contains(needle), "{needle}: {}", health[0]);
    }
    let missing = lines_of(&generated_id);
    assert_eq!(missing.len(), 1, "{log}");
    for needle in ["/api/v1/products/NOPE", "status=404"] {
        assert!(missing[0].contains(needle), "{needle}: {}", missing[0]);
    }
    assert!(
        !missing[0].contains("secret"),
        "no query string: {}",
        missing[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorised_body_is_never_read() {
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(&t.db, Some("tok")).await;
    // Announces 5 MB and sends none of it: the bearer check answers first.
    let r = exchange(
        &addr(&app),
        "POST /api/v1/orders HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n".to_owned(),
        Vec::new(),
    )
    .await;
    assert_eq!(r.error(), (401, "unauthorized".to_owned()), "{}", r.body);
    t.cleanup().await;
}

/// `--log-format json`: every line on standard error is one JSON object, and a
/// request's line carries its fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supplyhub"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_clear()
        .env(
            "SUPPLYHUB_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("hub.db").display()),
        )
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the hub");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(base) = line.strip_prefix("supplyhub is serving on ") {
                let _ = tx.send(base.to_owned());
            }
        }
    });
    let base = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("serve says where it listens")
    })
    .await
    .unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .header("x-request-id", "req-json-log-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.lines().count() >= 2, "{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l.to_string().contains("req-json-log-1") && l.to_string().contains("latency_ms")
        })
        .collect();
    assert_eq!(request.len(), 1, "{log}");
    assert_eq!(request[0]["level"], "INFO", "{}", request[0]);
    assert_eq!(request[0]["fields"]["status"], 200, "{}", request[0]);
}
