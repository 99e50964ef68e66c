//! Time and the outside world for the order book: the scheduler that fires each
//! order's pending step when it is due, and the delivery of the callbacks those steps
//! emit, signed, with retries and occasional duplicates. Everything runs on spawned
//! tasks, never on a request's path, and stops when the sandbox shuts down.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::callback::sign;
use crate::clock::{ChinaTime, now_ms};
use crate::orders::{Delivery, FireError, Fired, Outgoing, Step};
use crate::state::{AppState, lock, read};

/// A pending step due at a time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Instant,
    so_id: String,
    generation: u64,
}

/// The pending steps of every order, soonest first.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    heap: Mutex<BinaryHeap<Reverse<Due>>>,
    wake: Notify,
}

impl Scheduler {
    /// Schedules generation `generation` of the order's pending step at `at`.
    fn schedule(&self, at: Instant, so_id: &str, generation: u64) {
        lock(&self.heap).push(Reverse(Due {
            at,
            so_id: so_id.to_owned(),
            generation,
        }));
        self.wake.notify_one();
    }

    fn next_due(&self) -> Option<Instant> {
        lock(&self.heap).peek().map(|Reverse(d)| d.at)
    }

    fn pop_due(&self, now: Instant) -> Vec<Due> {
        let mut heap = lock(&self.heap);
        let mut due = Vec::new();
        while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
            if let Some(Reverse(d)) = heap.pop() {
                due.push(d);
            }
        }
        due
    }
}

/// Schedules an order's pending step after the delay the current settings give it.
pub(crate) fn schedule(state: &AppState, so_id: &str, next: Option<(Step, u64)>) {
    if let Some((step, generation)) = next {
        let delay = read(&state.order_settings).delay(step);
        state
            .scheduler
            .schedule(Instant::now() + delay, so_id, generation);
    }
}

/// Fires the order's pending step now (`generation` `None`) or as scheduled, schedules
/// what follows and starts delivering the callbacks it emitted.
pub(crate) fn fire(
    state: &Arc<AppState>,
    so_id: &str,
    generation: Option<u64>,
) -> Result<(), FireError> {
    let settings = read(&state.order_settings).clone();
    let Fired { outgoing, next } =
        lock(&state.orders).fire(so_id, generation, &settings, now_ms())?;
    schedule(state, so_id, next);
    for out in outgoing {
        let (state, so_id) = (Arc::clone(state), so_id.to_owned());
        tokio::spawn(async move { deliver(&state, &so_id, out).await });
    }
    Ok(())
}

/// Fires due steps until the sandbox shuts down.
pub(crate) async fn run_scheduler(state: Arc<AppState>) {
    loop {
        let sleep = match state.scheduler.next_due() {
            Some(at) => tokio::time::sleep_until(at),
            None => tokio::time::sleep(Duration::from_secs(3600)),
        };
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = state.scheduler.wake.notified() => continue,
            () = sleep => {}
        }
        for due in state.scheduler.pop_due(Instant::now()) {
            match fire(&state, &due.so_id, Some(due.generation)) {
                Ok(()) | Err(FireError::Stale) => {}
                Err(e) => tracing::debug!(so_id = %due.so_id, ?e, "scheduled step not fired"),
            }
        }
    }
}

/// Whether a receiver's answer acknowledges the callback: HTTP 200 and the reply of
/// the vendor's document v1.0.9+ (protocol §0.4): `success: true`, a `timeStamp` of 14
/// digits (`yyyyMMddHHmmss`, required) and `data.statusCode` a **number**. A reply
/// that breaks that shape is counted as not acknowledged.
fn acknowledged(status: reqwest::StatusCode, body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let stamped = v
        .get("timeStamp")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()));
    let numeric_status = v
        .get("data")
        .and_then(|d| d.get("statusCode"))
        .is_some_and(serde_json::Value::is_number);
    status == reqwest::StatusCode::OK
        && v.get("success") == Some(&serde_json::Value::Bool(true))
        && stamped
        && numeric_status
}

/// One HTTP attempt; true if acknowledged.
async fn attempt(state: &AppState, url: &str, form: &[(&str, &str)]) -> bool {
    state.stats.callback_attempt();
    let sent = state.http.post(url).form(form).send().await;
    match sent {
        Ok(response) => {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            let ok = acknowledged(status, &body);
            if !ok {
                tracing::debug!(%url, %status, "callback not acknowledged");
            }
            ok
        }
        Err(e) => {
            tracing::debug!(%url, error = %e, "callback delivery failed");
            false
        }
    }
}

/// Delivers one emitted callback (twice if so drawn), each delivery with retries and
/// doubling backoff, recording the outcome on the order.
async fn deliver(state: &AppState, so_id: &str, out: Outgoing) {
    let url = read(&state.order_settings).callback_url.clone();
    let Some(url) = url else {
        for &r in &out.records {
            state.stats.callback_unsent();
            lock(&state.orders).record_delivery(so_id, r, 0, Delivery::NoCallbackUrl);
        }
        return;
    };
    let app_key = state.config.callback_app_key.as_str();
    let time_stamp = ChinaTime::now().compact();
    let method = out.method.name();
    let mut form = vec![
        ("AppKey", app_key),
        ("TimeStamp", time_stamp.as_str()),
        ("Method", method),
        ("Data", out.data.as_str()),
    ];
    let signature = sign(&form, &state.config.callback_secret);
    form.push(("Sign", signature.as_str()));
    let attempts = state.config.callback_attempts.max(1);
    for (n, &record) in out.records.iter().enumerate() {
        let duplicate = n > 0;
        if duplicate {
            // A sender's repeat comes a moment later.
            let pause = Duration::from_millis(20);
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
        state.stats.callback_sent(out.method, duplicate);
        let mut backoff = state.config.callback_retry_backoff;
        let mut outcome = Delivery::Failed;
        for tried in 1..=attempts {
            let ok = tokio::select! {
                () = state.shutdown.cancelled() => {
                    lock(&state.orders).record_delivery(so_id, record, tried, Delivery::Abandoned);
                    return;
                }
                ok = attempt(state, &url, &form) => ok,
            };
            if ok {
                outcome = Delivery::Delivered;
                lock(&state.orders).record_delivery(so_id, record, tried, outcome);
                break;
            }
            let last = tried == attempts;
            let now = if last {
                Delivery::Failed
            } else {
                Delivery::Pending
            };
            lock(&state.orders).record_delivery(so_id, record, tried, now);
            if !last {
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = backoff.saturating_mul(2);
            }
        }
        if outcome == Delivery::Failed {
            state.stats.callback_failed();
            tracing::info!(%so_id, method, "callback delivery failed on every attempt");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_200_with_the_documented_reply_acknowledges() {
        let ok = reqwest::StatusCode::OK;
        let good = r#"{"success":true,"code":"success","description":"成功","timeStamp":"20260115120000","data":{"statusCode":200,"message":"成功","platformOrderNo":"PO1"}}"#.as_bytes();
        assert!(acknowledged(ok, good));
        // §0.4: statusCode is a number, and timeStamp is required.
        assert!(!acknowledged(
            ok,
            br#"{"success":true,"code":"success","timeStamp":"20260115120000","data":{"statusCode":"200"}}"#
        ));
        assert!(!acknowledged(
            ok,
            br#"{"success":true,"code":"success","data":{"statusCode":200}}"#
        ));
        assert!(!acknowledged(ok, br#"{"success":true,"code":"success"}"#));
        assert!(!acknowledged(ok, br#"{"success":"true"}"#));
        assert!(!acknowledged(ok, br#"{"success":false}"#));
        assert!(!acknowledged(ok, b"OK"));
        let err = reqwest::StatusCode::INTERNAL_SERVER_ERROR;
        assert!(!acknowledged(err, good));
    }
}
