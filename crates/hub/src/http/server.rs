//! Serving the router: connection settings and the limits every request meets before a
//! handler sees it.
//!
//! Limits are enforced in two places. hyper reads the request head and closes a
//! connection whose head does not arrive within `header_read_timeout_secs` (a client
//! that never finishes its headers holds nothing for long). Everything else is checked by
//! middleware, so that the answer is a `{code, detail}` body like every other error:
//! [`limit_head`] refuses a URI longer than `max_uri_bytes` (414), more than
//! `max_headers` headers or more than `max_header_bytes` of them (431); [`read_body`] a
//! body over `max_body_bytes` (413) or one that does not arrive within
//! `body_read_timeout_secs` (408). hyper's own limits are set
//! well above ours and only answer (with an empty 414/431) what is far past them.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::TcpListener;

use super::{ApiError, AppState};

/// HTTP server settings (`[http]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client has to send a request's headers (default 10); the connection
    /// is closed after that.
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a request's body once its headers are in
    /// (default 30); 408 after that.
    pub body_read_timeout_secs: u64,
    /// Largest request body in bytes (default 1 MiB); 413 above it.
    pub max_body_bytes: usize,
    /// Longest request target (path and query) in bytes (default 8 KiB); 414 above it.
    pub max_uri_bytes: usize,
    /// Most request headers (default 100); 431 above it.
    pub max_headers: usize,
    /// Most bytes of request header names and values together (default 32 KiB); 431
    /// above it.
    pub max_header_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 8 * 1024,
            max_headers: 100,
            max_header_bytes: 32 * 1024,
        }
    }
}

impl HttpConfig {
    /// Checks the ranges; the error names the bad setting and what it must be.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let checks: [(&'static str, u64, u64, u64); 6] = [
            (
                "http.header_read_timeout_secs",
                self.header_read_timeout_secs,
                1,
                3600,
            ),
            (
                "http.body_read_timeout_secs",
                self.body_read_timeout_secs,
                1,
                3600,
            ),
            (
                "http.max_body_bytes",
                self.max_body_bytes as u64,
                1024,
                64 * 1024 * 1024,
            ),
            (
                "http.max_uri_bytes",
                self.max_uri_bytes as u64,
                256,
                32 * 1024,
            ),
            ("http.max_headers", self.max_headers as u64, 16, 1000),
            (
                "http.max_header_bytes",
                self.max_header_bytes as u64,
                1024,
                256 * 1024,
            ),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err((key, format!("must be {min} to {max}, got {value}")));
            }
        }
        Ok(())
    }

    fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }
}

/// Serves `app` on `listener` with the settings of `config` until `shutdown` resolves,
/// then lets the requests in flight finish.
///
/// # Errors
/// Never for a client's behaviour: failed accepts and broken connections are logged and
/// serving goes on. The `io::Result` is for the signature's future use.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout())
        // hyper's own limits are the backstop, far above ours (see the module docs).
        .max_headers(config.max_headers.saturating_mul(4));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(
            u32::try_from(config.max_header_bytes.saturating_mul(4)).unwrap_or(u32::MAX),
        );
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Refuses a request head over the limits of [`HttpConfig`] (target length, header
/// count and size) with a `{code, detail}` error before anything else looks at it.
pub(super) async fn limit_head(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let config = state.http;
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > config.max_uri_bytes {
        return closing(ApiError::UriTooLong(format!(
            "the request target is {uri_len} bytes; at most {} are accepted",
            config.max_uri_bytes
        )));
    }
    let headers = request.headers();
    if headers.len() > config.max_headers {
        return closing(ApiError::HeadersTooLarge(format!(
            "{} request headers; at most {} are accepted",
            headers.len(),
            config.max_headers
        )));
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > config.max_header_bytes {
        return closing(ApiError::HeadersTooLarge(format!(
            "{header_bytes} bytes of request headers; at most {} are accepted",
            config.max_header_bytes
        )));
    }
    next.run(request).await
}

/// Reads the body within its size and time limits before any handler runs (after the
/// bearer check: an unauthorised client's body is never read), so that no extractor
/// ever meets a body that is too large or stalled.
pub(super) async fn read_body(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let config = state.http;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes as u64) {
        return closing(too_large(config.max_body_bytes));
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, config.max_body_bytes);
    let bytes = match tokio::time::timeout(config.body_read_timeout(), limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return closing(too_large(config.max_body_bytes));
        }
        Ok(Err(e)) => {
            return closing(ApiError::InvalidBody(format!(
                "the request body could not be read: {e}"
            )));
        }
        Err(_) => {
            return closing(ApiError::RequestTimeout(format!(
                "the request body did not arrive within {} s",
                config.body_read_timeout_secs
            )));
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large(max: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("the request body is over {max} bytes"))
}

/// The error, and the connection closed after it: what is left of the request is not
/// worth reading.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::HttpConfig;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        assert_eq!(HttpConfig::default().validate(), Ok(()));
        let bad = HttpConfig {
            header_read_timeout_secs: 0,
            ..HttpConfig::default()
        };
        let (key, detail) = bad.validate().unwrap_err();
        assert_eq!(key, "http.header_read_timeout_secs");
        assert!(detail.contains("got 0"), "{detail}");
    }

    #[test]
    fn settings_reach_the_http_section() {
        let settings = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let config = crate::config::Config::from_settings(&settings(&[(
            "SUPPLYHUB_HTTP__BODY_READ_TIMEOUT_SECS",
            "5",
        )]))
        .unwrap();
        assert_eq!(config.http.body_read_timeout_secs, 5);
        assert_eq!(config.http.max_headers, 100, "the rest keep their defaults");
        let err = crate::config::Config::from_settings(&settings(&[(
            "SUPPLYHUB_HTTP__MAX_HEADERS",
            "5",
        )]))
        .unwrap_err();
        assert!(err.to_string().contains("http.max_headers"), "{err}");
    }
}
