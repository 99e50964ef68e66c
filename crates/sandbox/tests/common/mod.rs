//! The harness both sandbox test binaries share: a sandbox on a free port and a client
//! for its endpoints.

use std::time::Duration;

use reqwest::StatusCode;
use sandbox::{Sandbox, SandboxConfig, credentials as cred};
use serde_json::{Value, json};

/// A running sandbox and an HTTP client for it.
pub struct App {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
}

/// Starts a sandbox with `config` on a free local port.
pub async fn spawn(config: SandboxConfig) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = sandbox::start(config, listener).await.unwrap();
    App {
        sandbox,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .no_proxy()
            .build()
            .unwrap(),
    }
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    /// The Open Platform token endpoint's answer to `body`.
    pub async fn token_reply(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/oauth2/auth"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// An Open Platform token for the agreed credentials.
    pub async fn op_token(&self) -> String {
        let r = self
            .token_reply(json!({
                "client_id": cred::CLIENT_ID,
                "client_secret": cred::CLIENT_SECRET,
                "grant_type": "client_credentials",
            }))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    /// POSTs `body` as JSON, with `auth` as the Authorization header if given.
    pub async fn post(&self, path: &str, auth: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        req.send().await.unwrap()
    }

    /// A business call with a token, expected to answer HTTP 200; returns the body. The
    /// Open Platform (`/yilihuo/…`) takes the bare token (protocol §0.2), YLH `Bearer`.
    pub async fn call(&self, path: &str, token: &str, body: &Value) -> Value {
        let auth = if path.starts_with("/yilihuo/") {
            token.to_owned()
        } else {
            format!("Bearer {token}")
        };
        let r = self.post(path, Some(&auth), body).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    /// A GET expected to answer HTTP 200; returns the body.
    pub async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    /// POSTs `body` to a `/_sandbox` control endpoint.
    pub async fn control(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.get("/_sandbox/stats").await
    }
}
