//! The YLH token endpoint (OAuth password grant).

use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;
use crate::open_platform::TokenReply;
use crate::token::{AccessToken, TokenSource};
use crate::transport::{Reply, Transport, classify_failure};
use crate::wire::vendor_message;

/// Endpoint name of YLH token requests in errors and call records.
pub const ENDPOINT: &str = "ylh_token";

/// The `system-name` header every token request carries.
pub const SYSTEM_NAME: &str = "ylh-open-api";

/// `grant_type` of the token request.
pub const GRANT_TYPE: &str = "password";

/// Fetches YLH tokens: `POST {auth_base_url}/oauth/token` with the
/// form-urlencoded body `grant_type=password&username=…&password=…` and the
/// headers `system-name: ylh-open-api` and
/// `Authorization: Basic base64(client_id:client_secret)`.
///
/// Only HTTP 200 with an `access_token` counts (`token_type` defaults to
/// Bearer, `expires_in` to 3600 s). HTTP 401 and 403, an HTTP 400 carrying
/// an OAuth `error` (such as `invalid_grant`: wrong username or password),
/// and a 200 with `success:false` are [`Error::Auth`].
pub(crate) struct YlhTokens {
    transport: Transport,
    url: Url,
    client_id: String,
    client_secret: SecretString,
    username: String,
    password: SecretString,
    timeout: Duration,
}

impl YlhTokens {
    pub(crate) fn new(
        transport: Transport,
        url: Url,
        client_id: String,
        client_secret: SecretString,
        username: String,
        password: SecretString,
        timeout: Duration,
    ) -> Self {
        Self {
            transport,
            url,
            client_id,
            client_secret,
            username,
            password,
            timeout,
        }
    }
}

impl TokenSource for YlhTokens {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let form = [
            ("grant_type", GRANT_TYPE),
            ("username", self.username.as_str()),
            ("password", self.password.expose_secret()),
        ];
        let request = self
            .transport
            .http()
            .post(self.url.clone())
            .timeout(self.timeout)
            .header("system-name", HeaderValue::from_static(SYSTEM_NAME))
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .form(&form);
        let sent_at = Instant::now();
        self.transport
            .exchange(ENDPOINT, 1, request, |reply| classify(reply, sent_at))
            .await
    }
}

fn classify(reply: Reply, sent_at: Instant) -> Result<AccessToken, Error> {
    let status = reply.status.as_u16();
    let auth = |detail: String| Error::Auth {
        endpoint: ENDPOINT,
        detail,
    };
    match status {
        200 => {}
        401 | 403 => {
            return Err(auth(format!(
                "HTTP {status}: {}",
                vendor_message(&reply.body)
            )));
        }
        _ => {
            return Err(match oauth_error(&reply.body) {
                Some(code) if status == 400 => {
                    auth(format!("HTTP 400 {code}: {}", vendor_message(&reply.body)))
                }
                _ => classify_failure(ENDPOINT, &reply),
            });
        }
    }
    let value: serde_json::Value =
        serde_json::from_slice(&reply.body).map_err(|e| Error::decode(ENDPOINT, e.to_string()))?;
    if matches!(value.get("success"), Some(serde_json::Value::Bool(false)))
        || value.get("success").and_then(serde_json::Value::as_str) == Some("false")
    {
        return Err(auth(format!(
            "token refused: {}",
            vendor_message(&reply.body)
        )));
    }
    let parsed: TokenReply =
        serde_json::from_value(value).map_err(|e| Error::decode(ENDPOINT, e.to_string()))?;
    let token = parsed
        .token()
        .ok_or_else(|| Error::decode(ENDPOINT, "no access_token in the reply"))?;
    AccessToken::new(
        token,
        parsed.token_type(),
        Duration::from_secs(parsed.expires_in()),
        sent_at,
    )
    .map_err(|e| Error::decode(ENDPOINT, e.to_string()))
}

/// The OAuth `error` code of a token error reply (`invalid_grant`,
/// `invalid_client`, …), if the body is one.
fn oauth_error(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.as_str()?.trim();
    (!code.is_empty()).then(|| code.chars().take(64).collect())
}
