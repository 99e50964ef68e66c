//! The Open Platform's token endpoint (client credentials).

use std::time::{Duration, Instant};

use reqwest::Url;
use secrecy::SecretString;

use super::types::{GRANT_TYPE, TokenReply, TokenRequest};
use crate::Error;
use crate::token::{AccessToken, TokenSource};
use crate::transport::{Reply, Transport, classify_failure};
use crate::wire::vendor_message;

/// Endpoint name of token requests in errors and call records.
pub const ENDPOINT: &str = "token";

/// Fetches Open Platform tokens: `POST {token_url}` with
/// `{"client_id","client_secret","grant_type":"client_credentials"}`.
///
/// The reply is `{"expires_at","expires_in","token"}` (protocol §0.2, no
/// `token_type`); the token is used with the configured scheme, by default
/// none: business calls carry the bare token. Only HTTP 200 with a token
/// counts. 401 and 403 are
/// [`Error::Auth`]. Any other status from a URL ending in `/oauth2/auth`
/// makes one more try at the same URL ending in `/oauth2/token` (the
/// vendor's gateway form).
pub(crate) struct OpenPlatformTokens {
    transport: Transport,
    client_id: String,
    client_secret: SecretString,
    url: Url,
    fallback: Option<Url>,
    scheme: String,
    timeout: Duration,
}

impl OpenPlatformTokens {
    pub(crate) fn new(
        transport: Transport,
        client_id: String,
        client_secret: SecretString,
        url: Url,
        scheme: String,
        timeout: Duration,
    ) -> Self {
        let fallback = url
            .as_str()
            .strip_suffix("/oauth2/auth")
            .and_then(|base| Url::parse(&format!("{base}/oauth2/token")).ok());
        Self {
            transport,
            client_id,
            client_secret,
            url,
            fallback,
            scheme,
            timeout,
        }
    }

    /// One token request. The flag says whether the fallback URL may be
    /// tried: the endpoint answered with a status other than 200/401/403.
    async fn fetch_at(&self, url: &Url, attempt: u32) -> (Result<AccessToken, Error>, bool) {
        let body = TokenRequest {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            grant_type: GRANT_TYPE.to_owned(),
        };
        let request = self
            .transport
            .http()
            .post(url.clone())
            .timeout(self.timeout)
            .json(&body);
        let sent_at = Instant::now();
        let mut status = None;
        let result = self
            .transport
            .exchange(ENDPOINT, attempt, request, |reply| {
                status = Some(reply.status.as_u16());
                classify(reply, &self.scheme, sent_at)
            })
            .await;
        let fallback_allowed = matches!(status, Some(s) if s != 200 && s != 401 && s != 403);
        (result, fallback_allowed)
    }
}

impl TokenSource for OpenPlatformTokens {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let (result, fallback_allowed) = self.fetch_at(&self.url, 1).await;
        match (&result, &self.fallback) {
            (Err(err), Some(fallback)) if fallback_allowed => {
                tracing::warn!(error = %err, "token endpoint failed; trying /oauth2/token");
                self.fetch_at(fallback, 2).await.0
            }
            _ => result,
        }
    }
}

fn classify(reply: Reply, scheme: &str, sent_at: Instant) -> Result<AccessToken, Error> {
    let status = reply.status.as_u16();
    match status {
        200 => {}
        401 | 403 => {
            return Err(Error::Auth {
                endpoint: ENDPOINT,
                detail: format!("HTTP {status}: {}", vendor_message(&reply.body)),
            });
        }
        _ => return Err(classify_failure(ENDPOINT, &reply)),
    }
    let value: serde_json::Value =
        serde_json::from_slice(&reply.body).map_err(|e| Error::decode(ENDPOINT, e.to_string()))?;
    if value.get("success") == Some(&serde_json::Value::Bool(false)) {
        return Err(Error::Auth {
            endpoint: ENDPOINT,
            detail: format!("token refused: {}", vendor_message(&reply.body)),
        });
    }
    let parsed: TokenReply =
        serde_json::from_value(value).map_err(|e| Error::decode(ENDPOINT, e.to_string()))?;
    let token = parsed
        .token()
        .ok_or_else(|| Error::decode(ENDPOINT, "no token in the reply"))?;
    AccessToken::new(
        token,
        scheme,
        Duration::from_secs(parsed.expires_in()),
        sent_at,
    )
    .map_err(|e| Error::decode(ENDPOINT, e.to_string()))
}
