//! The call log: every HTTP attempt a supplier client makes, written to `external_calls`.
//!
//! A [`CallLog`] is the client's [`haier::CallObserver`]. It never blocks the caller: a
//! record goes into a bounded queue, and one writer task stores the queue in batches (one
//! transaction per batch). When the queue is full a record is dropped and counted
//! ([`CallLog::dropped`]) rather than slowing the call down. Calls made inside
//! [`in_sync_run`] carry that run's id, so a run's calls can be listed
//! (`GET /api/v1/sync-runs/{id}/calls`) even while checkouts call the same client.
//!
//! Whole client calls made for an order or a checkout (YLH create, cancel, logistics,
//! a stock check, …) are recorded with their request and answer through [`record`].
//!
//! Either way a call becomes a row through one type, [`SupplierCall`], which redacts the
//! request as it is turned into a row: the only way a supplier call is recorded.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::store::calls::{ExternalCall, insert_calls};
use crate::store::{Db, StoreResult};
use crate::types::UtcTime;

/// The `system` of the YLH order centre's calls.
pub const YLH: &str = "ylh";

/// A supplier call about to be recorded. Built from a client call's result
/// ([`SupplierCall::ended`]) or from one HTTP attempt a client reports; turned into a
/// row only by [`record`] or the [`CallLog`], which redact its request on the way.
#[derive(Debug, Clone)]
pub struct SupplierCall {
    system: String,
    endpoint: String,
    order_id: Option<String>,
    job_id: Option<String>,
    sync_run_id: Option<String>,
    attempt: Option<i64>,
    request: Option<serde_json::Value>,
    response: Option<String>,
    status: Option<u16>,
    outcome: String,
    latency: Duration,
}

impl SupplierCall {
    /// A whole client call to `endpoint` of `system` (`ylh`, `haier_open_platform`) that
    /// began at `started` and ended with `result`: HTTP status 200 or the failure's,
    /// outcome `ok` or the failure's class, the failure's message as the response.
    pub fn ended<T>(
        system: &str,
        endpoint: &str,
        result: &Result<T, haier::Error>,
        started: Instant,
    ) -> SupplierCall {
        SupplierCall {
            system: system.to_owned(),
            endpoint: endpoint.to_owned(),
            order_id: None,
            job_id: None,
            sync_run_id: SYNC_RUN.try_with(Clone::clone).ok(),
            attempt: None,
            request: None,
            response: result.as_ref().err().map(ToString::to_string),
            status: status_of(result),
            outcome: result
                .as_ref()
                .map_or_else(error_class, |_| "ok")
                .to_owned(),
            latency: started.elapsed(),
        }
    }

    /// The request as sent (personal data and secrets are masked when recorded).
    pub fn request(mut self, request: serde_json::Value) -> SupplierCall {
        self.request = Some(request);
        self
    }

    /// The answer, as text, in place of the default (the failure's message, if any).
    pub fn response(mut self, response: impl Into<String>) -> SupplierCall {
        self.response = Some(response.into());
        self
    }

    /// An outcome more precise than `ok` (e.g. `created`, `already_exists`).
    pub fn outcome(mut self, outcome: &str) -> SupplierCall {
        self.outcome = outcome.to_owned();
        self
    }

    /// The order the call was made for.
    pub fn order(mut self, order_id: &str) -> SupplierCall {
        self.order_id = Some(order_id.to_owned());
        self
    }

    /// The outbox job that made the call.
    pub fn job(mut self, job_id: &str) -> SupplierCall {
        self.job_id = Some(job_id.to_owned());
        self
    }

    /// One HTTP attempt a client reported (no request body: nothing to redact).
    fn attempt(system: &str, record: &haier::CallRecord) -> SupplierCall {
        SupplierCall {
            system: system.to_owned(),
            endpoint: record.endpoint.to_owned(),
            order_id: None,
            job_id: None,
            sync_run_id: SYNC_RUN.try_with(Clone::clone).ok(),
            attempt: Some(i64::from(record.attempt)),
            request: None,
            response: None,
            status: record.status,
            outcome: record.outcome.as_str().to_owned(),
            latency: record.latency,
        }
    }

    /// The row, its request redacted.
    fn into_row(self) -> ExternalCall {
        ExternalCall {
            system: self.system,
            endpoint: self.endpoint,
            order_id: self.order_id,
            job_id: self.job_id,
            sync_run_id: self.sync_run_id,
            attempt: self.attempt,
            request: self.request.map(|mut r| {
                redact(&mut r);
                r.to_string()
            }),
            response: self.response,
            status: self.status.map(i64::from),
            outcome: self.outcome,
            latency_ms: i64::try_from(self.latency.as_millis()).unwrap_or(i64::MAX),
            created_at: UtcTime::now(),
        }
    }
}

/// Records one whole supplier call, its request redacted, before returning.
pub async fn record(db: &Db, call: SupplierCall) -> StoreResult<()> {
    insert_calls(db, &[call.into_row()]).await
}

/// Request fields holding a consignee's personal data (the vendor's names).
const PERSONAL: [&str; 3] = ["consigneeName", "consigneeMobile", "detailAddress"];

/// Whether a request field holds a credential, by its name in any casing: passwords
/// (`passWord`, `sellerPassword`), secrets (`client_secret`), tokens, signatures.
fn is_credential(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "signature", "authorization"]
        .iter()
        .any(|word| key.contains(word))
}

/// Masks personal data and credentials anywhere in a request, as `***`.
pub fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if PERSONAL.contains(&key.as_str()) || is_credential(key) {
                    *field = serde_json::Value::String("***".to_owned());
                } else {
                    redact(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The HTTP status of a call's answer: 200 for success, the failure's status otherwise
/// (none when no answer came).
pub fn status_of<T>(result: &Result<T, haier::Error>) -> Option<u16> {
    match result {
        Ok(_) => Some(200),
        Err(e) => e.http_status(),
    }
}

/// The class of a failure, as recorded with a call.
pub fn error_class(e: &haier::Error) -> &'static str {
    if e.is_ambiguous() {
        "ambiguous"
    } else {
        crate::sync::error_kind(e)
    }
}

/// The `system` of the Open Platform's calls.
pub const OPEN_PLATFORM: &str = "haier_open_platform";

/// Records queued at most before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 20_000;

/// Records written in one transaction at most.
const BATCH: usize = 500;

tokio::task_local! {
    static SYNC_RUN: String;
}

/// Runs `fut` with every call it makes attributed to sync run `run_id`.
pub async fn in_sync_run<F: Future>(run_id: String, fut: F) -> F::Output {
    SYNC_RUN.scope(run_id, fut).await
}

#[allow(
    clippy::large_enum_variant,
    reason = "nearly every message is a call: boxing would add an allocation to each"
)]
enum Message {
    Call(ExternalCall),
    Flush(oneshot::Sender<()>),
}

/// Observer that records each HTTP attempt of a client as a row of `external_calls`.
pub struct CallLog {
    system: &'static str,
    tx: mpsc::Sender<Message>,
    dropped: AtomicU64,
}

impl CallLog {
    /// A call log for `system` (`haier_open_platform` or `ylh`) writing to `db`. Its
    /// writer task ends once the log is dropped and the queue is written; [`flush`]
    /// waits for what is queued. Must be called inside a Tokio runtime.
    ///
    /// [`flush`]: CallLog::flush
    pub fn start(db: Db, system: &'static str) -> Arc<CallLog> {
        crate::metrics::handle();
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(write(db, rx));
        Arc::new(CallLog {
            system,
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    /// Waits until every record queued before this call is written (or failed to be).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl haier::CallObserver for CallLog {
    fn on_call(&self, record: &haier::CallRecord) {
        crate::metrics::supplier_attempt(self.system, record);
        let call = SupplierCall::attempt(self.system, record).into_row();
        if self.tx.try_send(Message::Call(call)).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                warn!(
                    dropped = n,
                    "call log queue full: call records are being dropped"
                );
            }
        }
    }
}

async fn write(db: Db, mut rx: mpsc::Receiver<Message>) {
    let mut messages = Vec::with_capacity(BATCH);
    let mut calls = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut messages, BATCH).await > 0 {
        let mut waiting = Vec::new();
        for m in messages.drain(..) {
            match m {
                Message::Call(c) => calls.push(c),
                Message::Flush(done) => waiting.push(done),
            }
        }
        if let Err(e) = insert_calls(&db, &calls).await {
            warn!(error = %e, lost = calls.len(), "cannot record supplier calls");
        }
        calls.clear();
        for done in waiting {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_lose_personal_data_and_credentials() {
        let request = serde_json::json!({
            "soId": "SO1",
            "consigneeName": "张三",
            "consigneeMobile": "13900001111",
            "detailAddress": "北京西路1号",
            "town": "宁海路街道",
            "passWord": "p1",
            "nested": [{"sellerPassword": "p2", "client_secret": "p3", "access_token": "t"}],
        });
        let result: Result<(), haier::Error> = Ok(());
        let row = SupplierCall::ended(YLH, "y1_create", &result, Instant::now())
            .request(request)
            .order("ord_1")
            .into_row();
        let text = row.request.unwrap();
        for hidden in [
            "张三",
            "13900001111",
            "北京西路1号",
            "p1",
            "p2",
            "p3",
            "\"t\"",
        ] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert!(
            text.contains("宁海路街道") && text.contains("SO1"),
            "{text}"
        );
        assert_eq!((row.status, row.outcome.as_str()), (Some(200), "ok"));
        assert_eq!(row.order_id.as_deref(), Some("ord_1"));
    }
}
