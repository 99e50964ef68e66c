//! `POST {auth}/oauth/token`: YLH's password grant, form-encoded, with the client in a
//! Basic `Authorization` header and the `system-name` header.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::config::credentials as c;
use crate::gateway::Reply;
use crate::state::{AppState, lock};
use crate::stats::Service;

/// The form fields of the token call.
#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The token reply.
#[derive(Serialize)]
struct TokenReply<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

/// A refused token call: the envelope plus an OAuth error name.
#[derive(Serialize)]
struct TokenFailure<'a> {
    success: bool,
    code: &'a str,
    message: &'a str,
    error: &'a str,
    error_description: &'a str,
}

fn refuse(status: StatusCode, error: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &TokenFailure {
            success: false,
            code: status.as_str(),
            message,
            error,
            error_description: message,
        },
    )
}

/// Decodes standard base64 (with or without padding); `None` if it is not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(b: u8) -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let text = text.trim_end_matches('=').as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut acc = 0u32;
        for &b in chunk {
            acc = (acc << 6) | sextet(b)?;
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The `client_id:client_secret` of a Basic `Authorization` header.
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Issues a YLH token to the sandbox's client and user.
pub(crate) fn handle(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Reply {
    let system = headers.get("system-name").and_then(|v| v.to_str().ok());
    if system.map(str::trim) != Some(c::YLH_SYSTEM_NAME) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "请求头 system-name 缺失或错误",
        );
    }
    match basic_client(headers) {
        Some((id, secret)) if id == c::YLH_CLIENT_ID && secret == c::YLH_CLIENT_SECRET => {}
        _ => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "客户端认证失败（Authorization: Basic client_id:client_secret）",
            );
        }
    }
    let Ok(Form(form)) = form else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "请求体必须为 application/x-www-form-urlencoded 表单",
        );
    };
    let Some(grant) = form.grant_type.as_deref().filter(|g| !g.is_empty()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "缺少 grant_type",
        );
    };
    if grant != "password" {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unsupported_grant_type",
            &format!("不支持的 grant_type: {grant}"),
        );
    }
    if form.username.as_deref() != Some(c::YLH_USERNAME)
        || form.password.as_deref() != Some(c::YLH_PASSWORD)
    {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "用户名或密码错误",
        );
    }
    let ttl = state.config.token_ttl;
    let token = lock(state.tokens(Service::Ylh)).issue(ttl);
    state.stats.token_issued(Service::Ylh);
    Reply::json(
        StatusCode::OK,
        &TokenReply {
            access_token: &token,
            token_type: "Bearer",
            expires_in: ttl.as_secs(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_vendors_basic_example() {
        let decoded = base64_decode("b3Blbl9hcGlfZXJwOjEyMzQ1Njc4").unwrap();
        assert_eq!(decoded, b"open_api_erp:12345678");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert_eq!(base64_decode(""), Some(Vec::new()));
        assert_eq!(base64_decode("Y"), None);
        assert_eq!(base64_decode("Y!=="), None);
    }
}
