//! What every business and token call goes through before it is processed: counting,
//! the rate limit, fault injection and the token check; and the [`Reply`] it ends with.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::faults::Fault;
use crate::state::{AppState, TokenError, lock};
use crate::stats::{Endpoint, Service};

/// A finished answer: status, JSON bytes, and maybe a `Retry-After`.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    content_type: &'static str,
    retry_after: Option<u64>,
}

const JSON: &str = "application/json;charset=UTF-8";

impl Reply {
    /// `value` as JSON with `status`.
    pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status,
                body,
                content_type: JSON,
                retry_after: None,
            },
            Err(e) => {
                tracing::error!(error = %e, "could not serialise a reply");
                Reply {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    body: br#"{"success":false,"code":1,"errCode":null,"errorMsg":"internal error","infoMsgs":[],"warningMsgs":[],"data":null}"#
                        .to_vec(),
                    content_type: JSON,
                    retry_after: None,
                }
            }
        }
    }

    /// The vendor's failure envelope (§0.1) with an HTTP status.
    pub(crate) fn failure(status: StatusCode, message: &str) -> Reply {
        Reply::json(status, &Envelope::failure(message, ()))
    }

    /// A 429 asking the client to wait `seconds`.
    fn throttled(seconds: u64) -> Reply {
        Reply {
            retry_after: Some(seconds),
            ..Reply::failure(StatusCode::TOO_MANY_REQUESTS, "请求过于频繁，请稍后再试")
        }
    }

    /// An injected 5xx: a gateway page for 502, the platform's envelope otherwise.
    pub(crate) fn server_error(code: u16) -> Reply {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::BAD_GATEWAY {
            Reply {
                status,
                body: b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>".to_vec(),
                content_type: "text/html",
                retry_after: None,
            }
        } else {
            Reply::failure(status, "系统繁忙，请稍后再试")
        }
    }

    /// The first half of the body: JSON that no parser accepts.
    fn truncated(mut self) -> Reply {
        let mut cut = (self.body.len() / 2).max(1).min(self.body.len());
        // Cut on a character boundary: the body stays UTF-8, just unfinished.
        while cut > 0 && cut < self.body.len() && (self.body[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        self.body.truncate(cut);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(s) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// The common reply envelope of the vendor's document v1.0.10 (protocol §0.1), for the
/// Open Platform and YLH alike: `{"success","code" (0 success, 1 failure),"errCode",
/// "errorMsg","infoMsgs","warningMsgs","data"}`. The document names no error codes, so
/// `errCode` stays null and the failure's text is in `errorMsg`.
#[derive(Serialize)]
pub(crate) struct Envelope<'a, T> {
    success: bool,
    code: u8,
    #[serde(rename = "errCode")]
    err_code: Option<&'a str>,
    #[serde(rename = "errorMsg")]
    error_msg: Option<&'a str>,
    #[serde(rename = "infoMsgs")]
    info_msgs: [&'a str; 0],
    #[serde(rename = "warningMsgs")]
    warning_msgs: [&'a str; 0],
    data: T,
}

impl<'a, T> Envelope<'a, T> {
    /// `success: true`, `code: 0`, with `data`.
    pub(crate) fn success(data: T) -> Self {
        Envelope {
            success: true,
            code: 0,
            err_code: None,
            error_msg: None,
            info_msgs: [],
            warning_msgs: [],
            data,
        }
    }

    /// `success: false`, `code: 1`, `errorMsg`, with `data`.
    pub(crate) fn failure(error_msg: &'a str, data: T) -> Self {
        Envelope {
            success: false,
            code: 1,
            err_code: None,
            error_msg: Some(error_msg),
            info_msgs: [],
            warning_msgs: [],
            data,
        }
    }
}

/// The message of a hanging call cut short by shutdown.
pub(crate) const SHUTTING_DOWN: &str = "服务正在停止";

/// A call let through the gateway; it may still have to be spoiled on the way out.
#[derive(Debug)]
#[must_use]
pub(crate) struct Admission {
    malformed: bool,
    /// A server error to answer although the call was processed.
    fail_after: Option<u16>,
}

impl Admission {
    /// The response for the processed call.
    pub(crate) fn finish(self, reply: Reply) -> Response {
        if let Some(status) = self.fail_after {
            Reply::server_error(status).into_response()
        } else if self.malformed {
            reply.truncated().into_response()
        } else {
            reply.into_response()
        }
    }
}

/// The token in an `Authorization` header. `None`: a header with the wrong scheme.
///
/// YLH: `Bearer <token>` (its token reply's `token_type`). Open Platform: the bare
/// token, as the vendor's gateway takes it (protocol §0.2); `Bearer <token>` only when
/// `accept_bearer` is set (for operators whose gateway accepts it).
fn bearer(headers: &HeaderMap, service: Service, accept_bearer: bool) -> Option<&str> {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Some("");
    };
    let value = value.trim();
    match (value.split_once(' '), service) {
        (Some((scheme, rest)), Service::Ylh) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(rest.trim())
        }
        (Some((scheme, rest)), Service::OpenPlatform)
            if accept_bearer && scheme.eq_ignore_ascii_case("bearer") =>
        {
            Some(rest.trim())
        }
        (Some(_), Service::OpenPlatform) => None,
        (None, Service::OpenPlatform) => Some(value),
        (_, Service::Ylh) if value.is_empty() => Some(""),
        (_, Service::Ylh) => None,
    }
}

/// Counts the call, applies the rate limit and the fault draw, and for business calls
/// (`authenticated`) checks the token. `Err` is the answer to send at once.
pub(crate) async fn admit(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    authenticated: bool,
) -> Result<Admission, Response> {
    admit_inner(state, endpoint, headers, authenticated, false).await
}

/// Like [`admit`], for a call whose failure must stay ambiguous: a drawn server error
/// may come after the call was processed ([`Admission::finish`] then answers it).
pub(crate) async fn admit_ambiguous(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
) -> Result<Admission, Response> {
    admit_inner(state, endpoint, headers, true, true).await
}

async fn admit_inner(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    authenticated: bool,
    ambiguous: bool,
) -> Result<Admission, Response> {
    let service = endpoint.service();
    state.stats.call(endpoint);
    if let Err(wait) = state.take_rate(service) {
        state.stats.rate_limited();
        tracing::debug!(endpoint = endpoint.name(), "rate limited");
        return Err(Reply::throttled(wait).into_response());
    }
    let mut malformed = false;
    let mut fail_after = None;
    if let Some(fault) = state.faults.draw(endpoint.name(), authenticated) {
        state.stats.fault(fault.kind());
        tracing::debug!(endpoint = endpoint.name(), ?fault, "injecting a fault");
        match fault {
            Fault::ServerError {
                status,
                after_processing: true,
            } if ambiguous => fail_after = Some(status),
            Fault::ServerError { status, .. } => {
                return Err(Reply::server_error(status).into_response());
            }
            Fault::Throttle => return Err(Reply::throttled(1).into_response()),
            Fault::Hang => {
                tokio::select! {
                    () = tokio::time::sleep(state.config.hang) => {}
                    () = state.shutdown.cancelled() => {
                        let reply = Reply::failure(StatusCode::SERVICE_UNAVAILABLE, SHUTTING_DOWN);
                        return Err(reply.into_response());
                    }
                }
            }
            Fault::MalformedJson => malformed = true,
            Fault::RevokeTokens => lock(state.tokens(service)).revoke_all(),
        }
    }
    if authenticated {
        let checked = match bearer(headers, service, state.config.accept_bearer) {
            Some(token) => lock(state.tokens(service)).check(token),
            None => Err(TokenError::Scheme),
        };
        if let Err(e) = checked {
            state.stats.unauthorized();
            let message = match e {
                TokenError::Missing => "未提供访问令牌",
                TokenError::Scheme => match service {
                    Service::Ylh => "Authorization 须为 Bearer 令牌",
                    Service::OpenPlatform => "Authorization 须为访问令牌本身，不带前缀",
                },
                TokenError::Unknown => "访问令牌无效",
                TokenError::Expired => "访问令牌已过期",
                TokenError::Revoked => "访问令牌已失效",
            };
            let reply = Reply::failure(StatusCode::UNAUTHORIZED, message);
            let admission = Admission {
                malformed,
                fail_after: None,
            };
            return Err(admission.finish(reply));
        }
    }
    Ok(Admission {
        malformed,
        fail_after,
    })
}

/// Parses a JSON request body, insisting on a JSON `Content-Type` as the vendor does.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Reply> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(Reply::failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type 必须为 application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Reply::failure(
            StatusCode::BAD_REQUEST,
            &format!("请求体不是合法的 JSON: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_never_parses() {
        let r = Reply::json(
            StatusCode::OK,
            &serde_json::json!({"message": "成功成功", "n": [1, 2]}),
        );
        let t = r.truncated();
        assert!(!t.body.is_empty());
        assert!(serde_json::from_slice::<serde_json::Value>(&t.body).is_err());
        assert!(std::str::from_utf8(&t.body).is_ok());
    }

    #[test]
    fn bearer_and_bare_tokens() {
        let op = Service::OpenPlatform;
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h, op, false), Some(""));
        assert_eq!(bearer(&h, Service::Ylh, false), Some(""));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        // The Open Platform takes the bare token only (§0.2), unless told otherwise.
        assert_eq!(bearer(&h, op, false), None);
        assert_eq!(bearer(&h, op, true), Some("abc"));
        assert_eq!(bearer(&h, Service::Ylh, false), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer(&h, op, true), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("abc"));
        assert_eq!(bearer(&h, op, false), Some("abc"));
        assert_eq!(bearer(&h, op, true), Some("abc"));
        // YLH wants the scheme.
        assert_eq!(bearer(&h, Service::Ylh, false), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h, Service::Ylh, false), None);
        assert_eq!(bearer(&h, op, true), None);
    }
}
