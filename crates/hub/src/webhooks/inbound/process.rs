//! Processing a stored event: the `webhook.process` job.
//!
//! An attempt reads the event's raw body as JSON, maps it into our canonical record with
//! the system's mapping (none: the body is the record), and applies it to the records
//! for the system's kind. Applying is idempotent (on the record's external id per
//! system), so a retry, a replay, or a worker that died mid-attempt changes nothing
//! twice. A body that is not JSON, and a record that conflicts with what is recorded,
//! can never succeed and are dead at once; any other failure (a mapping that does not
//! fit, a record refused as invalid, a refund whose sale has not arrived yet) is retried
//! with the outbox's backoff until the job's attempts run out, then dead-lettered with
//! the error. The event's status follows each attempt in the
//! attempt's own transaction ([`after_attempt`]).

use serde_json::Value;

use crate::jobs::Verdict;
use crate::status::{JobStatus, WebhookEventStatus};
use crate::store::jobs::Job;
use crate::store::webhooks_in as store;
use crate::store::{Db, StoreError, Tx};

/// The job kind.
pub const JOB_KIND: &str = "webhook.process";

/// The canonical record a system's payload stands for: mapped by the system's mapping,
/// or the payload itself without one. The errors name each field that failed.
pub fn canonical(settings: &Value, payload: Value) -> Result<Value, Vec<String>> {
    let mapping = settings
        .get("mapping")
        .filter(|m| !m.is_null())
        .map(|m| serde_json::from_value::<super::mapping::Mapping>(m.clone()))
        .transpose()
        .map_err(|e| vec![format!("settings.mapping: {e}")])?;
    match mapping {
        Some(m) => m.apply(&payload),
        None => Ok(payload),
    }
}

/// Runs one attempt of a `webhook.process` job.
pub async fn execute(db: &Db, job: &Job) -> Result<Verdict, StoreError> {
    let Some(event_id) = job.payload["event_id"].as_str() else {
        return Ok(Verdict::Dead("the job names no event".to_owned()));
    };
    let Some(event) = store::get_event(db, event_id).await? else {
        return Ok(Verdict::Dead(format!("no event {event_id}")));
    };
    let Some(system) = crate::store::systems::get(db, &event.system_id).await? else {
        return Ok(Verdict::Dead(format!("no system {}", event.system_id)));
    };
    let payload: Value = match serde_json::from_slice(event.body.as_deref().unwrap_or_default()) {
        Ok(v) => v,
        Err(e) => return Ok(Verdict::Dead(format!("the body is not JSON: {e}"))),
    };
    let settings: Value = serde_json::from_str(&system.settings).unwrap_or(Value::Null);
    let record = match canonical(&settings, payload) {
        Ok(r) => r,
        Err(errors) => {
            return Ok(Verdict::Retry(format!(
                "the mapping does not fit: {}",
                errors.join("; ")
            )));
        }
    };
    apply_record(db, &system, record).await
}

/// Applies a canonical record through the records of the system's kind
/// ([`crate::records::apply`]). Done with what it came to (JSON); a conflict with what is
/// recorded (an external id reused with other content, a void of a refunded sale) is
/// dead at once, as waiting cannot change it; a record refused as invalid, or naming one
/// not recorded yet (a refund before its sale), and a store failure are retried.
async fn apply_record(
    db: &Db,
    system: &crate::store::systems::SystemRow,
    record: Value,
) -> Result<Verdict, StoreError> {
    use crate::records::RecordError;
    Ok(match crate::records::apply(db, system, record).await {
        Ok(applied) => Verdict::Done(serde_json::to_string(&applied).unwrap_or_default()),
        Err(e @ RecordError::Conflict { .. }) => Verdict::Dead(format!("{}: {e}", e.code())),
        Err(RecordError::Store(e)) => Verdict::Retry(format!("store: {e}")),
        Err(e) => Verdict::Retry(format!("{}: {e}", e.code())),
    })
}

/// Follows a `webhook.process` job's attempt in its transaction: the event becomes
/// `processed` (with what the attempt did), `failed` (a retry is queued) or `dead`,
/// its attempts counted and its last error kept.
pub async fn after_attempt(
    tx: &mut Tx,
    job: &Job,
    status: JobStatus,
    detail: &str,
) -> Result<(), StoreError> {
    let Some(event_id) = job.payload["event_id"].as_str() else {
        return Ok(());
    };
    let (event_status, error, result) = match status {
        JobStatus::Done => (WebhookEventStatus::Processed, None, Some(detail)),
        JobStatus::Dead => (WebhookEventStatus::Dead, Some(detail), None),
        JobStatus::Queued | JobStatus::Running => (WebhookEventStatus::Failed, Some(detail), None),
    };
    store::end_event_attempt(tx, event_id, event_status, error, result).await
}
