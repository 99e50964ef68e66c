//! Prometheus metrics: what the hub counts as it works, and the gauges read from the
//! database when `/metrics` is scraped.
//!
//! One process-wide recorder ([`handle`]) from `metrics-exporter-prometheus`, installed on
//! first use. Counters and histograms are recorded where the work happens, through the
//! functions here, so every name and label is written once:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `supplyhub_supplier_calls_total` | counter | `system`, `endpoint`, `outcome` (one per HTTP attempt) |
//! | `supplyhub_supplier_call_duration_seconds` | histogram | `system`, `endpoint` |
//! | `supplyhub_supplier_retries_total` | counter | `system`, `endpoint` (attempts after the first) |
//! | `supplyhub_supplier_rate_limited_total` | counter | `system`, `endpoint` (HTTP 429 answers) |
//! | `supplyhub_supplier_breaker_open` | gauge | `system` (1 open, 0.5 half-open, 0 closed) |
//! | `supplyhub_supplier_budget_per_second` | gauge | `system` (this instance's share of the account's rate limit, requests a second) |
//! | `supplyhub_instances_live` | gauge | | (instances sharing the database and the supplier budget, as this one last counted) |
//! | `supplyhub_system_status_changes_total` | counter | `status` (the new one: `error`, `active`), moves made by the failure-rate monitor |
//! | `supplyhub_sync_runs_total` | counter | `kind`, `status` |
//! | `supplyhub_sync_run_duration_seconds` | histogram | `kind`, `status` |
//! | `supplyhub_schedule_firings_total` | counter | `kind` (`stock`, `prices`, `catalog`, `system_sync`), `outcome` (`started`, `skipped`, `failed`) |
//! | `supplyhub_job_attempts_total` | counter | `kind`, `outcome` (`done`, `retry`, `dead`, `lease_lost`); the push success rate is `done` over all of `push_order` |
//! | `supplyhub_jobs` | gauge | `kind`, `status` (queue depth, dead letters included) |
//! | `supplyhub_job_oldest_due_age_seconds` | gauge | `kind` (the oldest queued job that is due) |
//! | `supplyhub_dead_letters` | gauge | `kind` |
//! | `supplyhub_holds_active` | gauge | |
//! | `supplyhub_database_up` | gauge | | (1 when the last scrape read the database) |
//! | `supplyhub_callbacks_total` | counter | `outcome` (the first word of the recorded outcome; `refused_<cause>` for one refused before storing) |
//! | `supplyhub_webhooks_in_total` | counter | `outcome` (`accepted`, `duplicate`, or the refusal's reason: `invalid_signature`, `stale_timestamp`, …) |
//! | `supplyhub_webhooks_out_total` | counter | `outcome` |
//! | `supplyhub_http_requests_total` | counter | `method`, `route` (the route template), `status` |
//! | `supplyhub_http_request_duration_seconds` | histogram | `method`, `route` |
//!
//! Durations are in seconds. Labels are bounded: endpoints, kinds and outcomes are the
//! hub's own names, routes are templates (`/api/v1/orders/{id}`), never raw paths.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::{Db, StoreResult};

/// Histogram buckets for latencies, in seconds: 5 ms to 60 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Histogram buckets for sync runs, in seconds: 1 s to 4 h.
const RUN_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0,
];

/// The process's recorder, installed on first use. `None` when another recorder was
/// installed first (then nothing is exported, and the hub says so once).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_run_duration_seconds".to_owned()),
                    RUN_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Suffix("_duration_seconds".to_owned()),
                        LATENCY_BUCKETS,
                    )
                })
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are not exported");
                    None
                }
            }
        })
        .as_ref()
}

/// One HTTP attempt to a supplier (every attempt: retries and token fetches included).
pub fn supplier_attempt(system: &'static str, record: &haier::CallRecord) {
    let endpoint = record.endpoint;
    counter!("supplyhub_supplier_calls_total",
        "system" => system, "endpoint" => endpoint, "outcome" => record.outcome.as_str())
    .increment(1);
    histogram!("supplyhub_supplier_call_duration_seconds",
        "system" => system, "endpoint" => endpoint)
    .record(record.latency.as_secs_f64());
    if record.attempt > 1 {
        counter!("supplyhub_supplier_retries_total", "system" => system, "endpoint" => endpoint)
            .increment(1);
    }
    if record.status == Some(429) {
        counter!("supplyhub_supplier_rate_limited_total",
            "system" => system, "endpoint" => endpoint)
        .increment(1);
    }
}

/// A [`haier::CallObserver`] that only counts: for a client whose attempts are not also
/// recorded one by one in the call log (the YLH client, whose calls are recorded whole
/// with their order).
#[derive(Debug, Clone, Copy)]
pub struct SupplierAttempts(pub &'static str);

impl haier::CallObserver for SupplierAttempts {
    fn on_call(&self, record: &haier::CallRecord) {
        supplier_attempt(self.0, record);
    }
}

/// The state of a supplier client's circuit breaker.
pub fn supplier_breaker(system: &'static str, state: haier::breaker::BreakerState) {
    let value = match state {
        haier::breaker::BreakerState::Closed => 0.0,
        haier::breaker::BreakerState::HalfOpen => 0.5,
        haier::breaker::BreakerState::Open => 1.0,
    };
    gauge!("supplyhub_supplier_breaker_open", "system" => system).set(value);
}

/// This instance's share of a supplier account's rate limit, in requests a second.
pub fn supplier_budget(system: &'static str, per_second: f64) {
    gauge!("supplyhub_supplier_budget_per_second", "system" => system).set(per_second);
}

/// The live instances this one counted at its last heartbeat.
pub fn instances_live(n: usize) {
    gauge!("supplyhub_instances_live").set(n as f64);
}

/// The failure-rate monitor moved a system to `status`.
pub fn system_status_change(status: &str) {
    counter!("supplyhub_system_status_changes_total", "status" => status.to_owned()).increment(1);
}

/// A sync run has ended.
pub fn sync_run(kind: &str, status: &str, duration: Duration) {
    let (kind, status) = (kind.to_owned(), status.to_owned());
    counter!("supplyhub_sync_runs_total", "kind" => kind.clone(), "status" => status.clone())
        .increment(1);
    histogram!("supplyhub_sync_run_duration_seconds", "kind" => kind, "status" => status)
        .record(duration.as_secs_f64());
}

/// A schedule has fired (by its clock, or run-now): `outcome` is `started`, `skipped`
/// or `failed`.
pub fn schedule_firing(kind: &'static str, outcome: &'static str) {
    counter!("supplyhub_schedule_firings_total", "kind" => kind, "outcome" => outcome).increment(1);
}

/// One attempt of a job has ended with `outcome`.
pub fn job_attempt(kind: &str, outcome: &'static str) {
    counter!("supplyhub_job_attempts_total", "kind" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// A supplier callback has been answered; `outcome` is the recorded outcome, whose first
/// word (`applied`, `refused`, `ignored`, …) is the label.
pub fn callback(outcome: &str) {
    counter!("supplyhub_callbacks_total", "outcome" => first_word(outcome)).increment(1);
}

/// An inbound webhook delivery has been answered (`accepted`, `duplicate`, or the reason
/// it was refused).
pub fn webhook_in(outcome: &'static str) {
    counter!("supplyhub_webhooks_in_total", "outcome" => outcome).increment(1);
}

/// An outbound webhook attempt has ended: `delivered`, or its error class
/// (`http_status`, `throttled`, `gone`, `timeout`, `connect`, `blocked_address`,
/// `url_refused`, `request`, `secret`); `endpoint_disabled` when it disabled its endpoint.
pub fn webhook_out(outcome: &'static str) {
    counter!("supplyhub_webhooks_out_total", "outcome" => outcome).increment(1);
}

fn first_word(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .filter(|w| !w.is_empty())
        .unwrap_or("other")
        .to_ascii_lowercase()
}

/// The route template a request matched, carried on its response from
/// [`route_layer`] (inside the router) to [`http_layer`] (outside it).
#[derive(Debug, Clone)]
struct MatchedRoute(String);

/// Inside the router: notes the matched route template on the response.
pub async fn route_layer(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(MatchedRoute(route));
    }
    response
}

/// Outside the router: counts every HTTP request by route template (`unmatched` for
/// none, and for requests refused before routing), method and status, and times it.
pub async fn http_layer(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.0.clone());
    let status = response.status().as_u16().to_string();
    counter!("supplyhub_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status)
    .increment(1);
    histogram!("supplyhub_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Renders every metric in the Prometheus text format (version 0.0.4): the process's
/// counters and histograms, then the gauges read from the database at this scrape (queue
/// depth by kind and status, the age of the oldest due job by kind, dead letters, active
/// holds). The database gauges are a snapshot written per scrape, not kept in the
/// process, so a kind whose queue emptied disappears rather than keeping a stale value.
/// When the database does not answer, `supplyhub_database_up` is 0 and its gauges are
/// left out: a scrape never fails for it.
pub async fn render(db: &Db) -> String {
    let mut text = match handle() {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    };
    let up = match database_gauges(db).await {
        Ok(gauges) => {
            text.push_str(&gauges);
            1
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database gauges are not available");
            0
        }
    };
    family(
        &mut text,
        "supplyhub_database_up",
        "1 when this scrape read the database.",
    );
    text.push_str(&format!("supplyhub_database_up {up}\n"));
    text
}

fn family(text: &mut String, name: &str, help: &str) {
    text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
}

/// A label value escaped for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn database_gauges(db: &Db) -> StoreResult<String> {
    let now = crate::types::UtcTime::now();
    let depth = crate::store::jobs::queue_depth(db).await?;
    let holds = crate::store::holds::count_active(db).await?;
    let mut text = String::new();
    family(
        &mut text,
        "supplyhub_jobs",
        "Jobs not done, by kind and status.",
    );
    for d in &depth {
        text.push_str(&format!(
            "supplyhub_jobs{{kind=\"{}\",status=\"{}\"}} {}\n",
            escape(&d.kind),
            escape(&d.status),
            d.count
        ));
    }
    family(
        &mut text,
        "supplyhub_dead_letters",
        "Dead-lettered jobs, by kind.",
    );
    for d in depth.iter().filter(|d| d.status == "dead") {
        text.push_str(&format!(
            "supplyhub_dead_letters{{kind=\"{}\"}} {}\n",
            escape(&d.kind),
            d.count
        ));
    }
    family(
        &mut text,
        "supplyhub_job_oldest_due_age_seconds",
        "Seconds since the oldest queued job of a kind fell due (0 when none is due).",
    );
    for d in depth.iter().filter(|d| d.status == "queued") {
        let age = d
            .oldest_due
            .map_or(0.0, |due| now.millis_since(due).max(0) as f64 / 1000.0);
        text.push_str(&format!(
            "supplyhub_job_oldest_due_age_seconds{{kind=\"{}\"}} {age}\n",
            escape(&d.kind)
        ));
    }
    family(
        &mut text,
        "supplyhub_holds_active",
        "Stock holds active now.",
    );
    text.push_str(&format!("supplyhub_holds_active {holds}\n"));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn callback_outcomes_are_labelled_by_their_first_word() {
        assert_eq!(first_word("refused: bad signature"), "refused");
        assert_eq!(first_word("applied"), "applied");
        assert_eq!(first_word("ignored: unknown method X"), "ignored");
        assert_eq!(first_word(""), "other");
    }
}
