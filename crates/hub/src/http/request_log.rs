//! The request log: one `info` line per request, when its response is ready, with the
//! method, the path (never the query string, which may carry personal data such as an
//! address), the status, the latency in milliseconds and the request id
//! (`x-request-id`). Everything logged while the request is handled carries the same
//! span, so its lines can be found by request id.

use std::time::Duration;

use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

/// Longest path written to the log, in characters.
const MAX_LOGGED_PATH: usize = 256;

/// The tracing layer of the router.
pub(super) fn layer()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), LogResponse, (), (), ()> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogResponse)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Opens the `request` span: method, path and request id.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let path: String = request.uri().path().chars().take(MAX_LOGGED_PATH).collect();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %path,
            request_id = %request_id,
        )
    }
}

/// Writes the request's line when its response is ready.
#[derive(Debug, Clone, Copy)]
pub(super) struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            "request"
        );
    }
}
