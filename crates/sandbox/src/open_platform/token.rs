//! `POST /oauth2/auth` (and `/oauth2/token`): the client-credentials grant.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::config::credentials;
use crate::gateway::Reply;
use crate::state::{AppState, lock};
use crate::stats::Service;

/// The token request.
#[derive(Deserialize)]
pub(crate) struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
}

/// The token reply of the vendor's gateway (protocol §0.2):
/// `{"expires_at": <unix s>, "expires_in": 3600, "token": "<JWT>"}`, with no
/// `token_type`.
#[derive(Serialize)]
struct TokenReply<'a> {
    expires_at: i64,
    expires_in: u64,
    token: &'a str,
}

/// A refused token request: the platform envelope plus an OAuth error name.
#[derive(Serialize)]
struct TokenFailure<'a> {
    success: bool,
    code: &'a str,
    message: &'a str,
    error: &'a str,
}

fn refuse(status: StatusCode, error: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &TokenFailure {
            success: false,
            code: status.as_str(),
            message,
            error,
        },
    )
}

/// Issues a token to the sandbox's client.
pub(crate) fn handle(state: &AppState, req: TokenRequest) -> Reply {
    let (Some(id), Some(secret), Some(grant)) = (
        req.client_id.as_deref(),
        req.client_secret.as_deref(),
        req.grant_type.as_deref(),
    ) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "缺少 client_id、client_secret 或 grant_type",
        );
    };
    if grant != "client_credentials" {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("不支持的 grant_type: {grant}"),
        );
    }
    if id != credentials::CLIENT_ID || secret != credentials::CLIENT_SECRET {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id 或 client_secret 错误",
        );
    }
    let ttl = state.config.token_ttl;
    let token = lock(state.tokens(Service::OpenPlatform)).issue(ttl);
    state.stats.token_issued(Service::OpenPlatform);
    Reply::json(
        StatusCode::OK,
        &TokenReply {
            expires_at: crate::clock::now_ms() / 1000
                + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            expires_in: ttl.as_secs(),
            token: &token,
        },
    )
}
