//! Delivering a batch of produced events to the hub: signed, with the faults drawn for
//! each, retries with doubling backoff, a bounded concurrency, and every HTTP attempt
//! recorded on the system and counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::{DeliveryRecord, bump};
use crate::clock::now_ms;
use crate::standard_webhooks::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret, sign};
use crate::state::{AppState, lock};

/// How far in the past a stale copy is signed.
const STALE_BY_SECS: i64 = 600;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The faults drawn for one message.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Plan {
    pub(super) duplicate: bool,
    pub(super) bad_signature: bool,
    pub(super) stale: bool,
}

/// One message to deliver.
#[derive(Debug)]
pub(super) struct Job {
    /// Its place in the order the events were produced.
    pub(super) index: usize,
    pub(super) id: String,
    pub(super) type_name: &'static str,
    pub(super) body: Vec<u8>,
    pub(super) plan: Plan,
}

/// A batch of messages of one system, in the order they are to be sent.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) system_id: String,
    pub(super) url: String,
    pub(super) secrets: Vec<Secret>,
    pub(super) attempts: u32,
    pub(super) backoff: Duration,
    pub(super) concurrency: usize,
    pub(super) jobs: Vec<Job>,
}

/// A copy a fault sent, and what the hub answered it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FaultCopy {
    pub(super) fault: &'static str,
    pub(super) status: Option<u16>,
}

/// What became of one message.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Outcome {
    pub(super) id: String,
    #[serde(rename = "type")]
    pub(super) type_name: &'static str,
    /// The hub's answer to the genuine message's last attempt (`None`: no answer).
    pub(super) status: Option<u16>,
    /// Whether that answer was 2xx.
    pub(super) delivered: bool,
    /// HTTP attempts of the genuine message.
    pub(super) attempts: u32,
    /// Copies sent by faults (before the genuine message, or after it for a duplicate).
    pub(super) faults: Vec<FaultCopy>,
}

/// The hub's answer to one request.
struct Answer {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<u64>,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s >= 500 || s == 408 || s == 429,
        }
    }
}

async fn post(
    state: &AppState,
    url: &str,
    id: &str,
    ts: i64,
    signature: &str,
    body: &[u8],
) -> Answer {
    let sent = state
        .http
        .post(url)
        .header("content-type", "application/json")
        .header(HEADER_ID, id)
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(HEADER_SIGNATURE, signature)
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(r) => {
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let status = r.status().as_u16();
            // Read the answer so the connection can be reused.
            let _ = r.bytes().await;
            Answer {
                status: Some(status),
                error: None,
                retry_after,
            }
        }
        Err(e) => Answer {
            status: None,
            error: Some(e.to_string()),
            retry_after: None,
        },
    }
}

/// Records an attempt on the system (if it still exists) and counts it.
fn record(
    state: &AppState,
    batch: &Batch,
    job: &Job,
    attempt: u32,
    fault: Option<&'static str>,
    a: &Answer,
) {
    state.store.stats.answered(a.status);
    if let Some(system) = lock(&state.store.systems).get_mut(&batch.system_id) {
        system.record(DeliveryRecord {
            id: job.id.clone(),
            type_name: job.type_name,
            attempt,
            status: a.status,
            error: a.error.clone(),
            fault,
            at_ms: now_ms(),
        });
    }
}

fn now_secs() -> i64 {
    now_ms().div_euclid(1000)
}

/// Sends one message with its faults and retries; `None` if the sandbox shut down.
async fn deliver(state: &AppState, batch: &Batch, job: &Job) -> Option<Outcome> {
    let stats = &state.store.stats;
    let secrets: Vec<&Secret> = batch.secrets.iter().collect();
    let mut faults = Vec::new();
    let stop = &state.shutdown;
    if job.plan.stale {
        let ts = now_secs() - STALE_BY_SECS;
        let sig = sign(&secrets, &job.id, ts, &job.body);
        let a = tokio::select! {
            () = stop.cancelled() => return None,
            a = post(state, &batch.url, &job.id, ts, &sig, &job.body) => a,
        };
        bump(&stats.stale_sent);
        record(state, batch, job, 1, Some("stale_timestamp"), &a);
        faults.push(FaultCopy {
            fault: "stale_timestamp",
            status: a.status,
        });
    }
    if job.plan.bad_signature {
        let ts = now_secs();
        // A key nobody was given: the form is right, the signature is not.
        let wrong = Secret::from_bytes(format!("not-the-key-{}", job.id).as_bytes());
        let sig = wrong.sign(&job.id, ts, &job.body);
        let a = tokio::select! {
            () = stop.cancelled() => return None,
            a = post(state, &batch.url, &job.id, ts, &sig, &job.body) => a,
        };
        bump(&stats.bad_signatures_sent);
        record(state, batch, job, 1, Some("bad_signature"), &a);
        faults.push(FaultCopy {
            fault: "bad_signature",
            status: a.status,
        });
    }
    let attempts = batch.attempts.max(1);
    let mut backoff = batch.backoff;
    let mut last = None;
    let mut tried = 0;
    let mut signed = (0, String::new());
    for n in 1..=attempts {
        tried = n;
        let ts = now_secs();
        let sig = sign(&secrets, &job.id, ts, &job.body);
        let a = tokio::select! {
            () = stop.cancelled() => return None,
            a = post(state, &batch.url, &job.id, ts, &sig, &job.body) => a,
        };
        record(state, batch, job, n, None, &a);
        signed = (ts, sig);
        let (ok, retry) = (a.ok(), a.retryable());
        let wait = backoff
            .max(Duration::from_secs(a.retry_after.unwrap_or(0)))
            .min(MAX_BACKOFF);
        last = Some(a);
        if ok || !retry || n == attempts {
            break;
        }
        bump(&stats.retries);
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(wait) => {}
        }
        backoff = backoff.saturating_mul(2);
    }
    let status = last.as_ref().and_then(|a| a.status);
    let delivered = last.as_ref().is_some_and(Answer::ok);
    bump(if delivered {
        &stats.delivered
    } else {
        &stats.failed
    });
    if delivered && job.plan.duplicate {
        // The very same request again, as a network or a sender's bug would repeat it.
        let (ts, sig) = signed;
        let a = tokio::select! {
            () = stop.cancelled() => return None,
            a = post(state, &batch.url, &job.id, ts, &sig, &job.body) => a,
        };
        bump(&stats.duplicates_sent);
        record(state, batch, job, tried, Some("duplicate"), &a);
        faults.push(FaultCopy {
            fault: "duplicate",
            status: a.status,
        });
    }
    Some(Outcome {
        id: job.id.clone(),
        type_name: job.type_name,
        status,
        delivered,
        attempts: tried,
        faults,
    })
}

/// Delivers a batch, `concurrency` messages at a time, taking them in the batch's order;
/// answers the outcomes in the order the events were produced (messages cut short by
/// shutdown are left out).
pub(super) async fn run(state: Arc<AppState>, batch: Batch) -> Vec<Outcome> {
    let n = batch.jobs.len();
    let workers = batch.concurrency.clamp(1, n.max(1));
    let batch = Arc::new(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let results: Arc<Mutex<Vec<Option<Outcome>>>> = Arc::new(Mutex::new(vec![None; n]));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (state, batch, next, results) = (
            Arc::clone(&state),
            Arc::clone(&batch),
            Arc::clone(&next),
            Arc::clone(&results),
        );
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = batch.jobs.get(i) else { return };
                let Some(outcome) = deliver(&state, &batch, job).await else {
                    return;
                };
                lock(&results)[job.index] = Some(outcome);
            }
        });
    }
    while set.join_next().await.is_some() {}
    let mut results = lock(&results);
    results.drain(..).flatten().collect()
}
