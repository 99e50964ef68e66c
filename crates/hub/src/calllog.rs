//! The call log: every HTTP attempt a supplier client makes, written to `external_calls`.
//!
//! A [`CallLog`] is the client's [`haier::CallObserver`]. It never blocks the caller: a
//! record goes into a bounded queue, and one writer task stores the queue in batches (one
//! transaction per batch). When the queue is full a record is dropped and counted
//! ([`CallLog::dropped`]) rather than slowing the call down. Calls made inside
//! [`in_sync_run`] carry that run's id, so a run's calls can be listed
//! (`GET /api/v1/sync-runs/{id}/calls`) even while checkouts call the same client.
//!
//! Order calls (YLH create, cancel, …) are recorded by the outbox worker with their
//! redacted request and answer; the call log is for the Open Platform client, whose
//! records hold no request body and so nothing to redact.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::store::Db;
use crate::store::calls::{ExternalCall, insert_calls};
use crate::types::UtcTime;

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
        let call = ExternalCall {
            system: self.system.to_owned(),
            endpoint: record.endpoint.to_owned(),
            order_id: None,
            job_id: None,
            sync_run_id: SYNC_RUN.try_with(Clone::clone).ok(),
            attempt: Some(i64::from(record.attempt)),
            request: None,
            response: None,
            status: record.status.map(i64::from),
            outcome: record.outcome.as_str().to_owned(),
            latency_ms: i64::try_from(record.latency.as_millis()).unwrap_or(i64::MAX),
            created_at: UtcTime::now(),
        };
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
