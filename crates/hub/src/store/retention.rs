//! Retention: deleting the histories that grow with time once they are old, in short
//! batches, and never what a live order or job still needs.
//!
//! An order is *live* while it is held (awaiting payment), while one of its jobs is not
//! `done` (queued, running, or dead and awaiting a redrive), or while it changed after
//! the cutoff. The history of a live order is kept whatever its age.

use super::{Db, StoreResult, on_db};
use crate::types::UtcTime;

/// Rows deleted by one statement at most: short transactions, so that checkouts are not
/// held up behind a long delete on SQLite's single writer.
const BATCH: i64 = 5_000;

/// `order_id` (a column of the table pruned) belongs to no live order as of `$1`.
macro_rules! not_live {
    () => {
        "NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = order_id AND (o.updated_at >= $1 \
         OR o.status = 'held' OR EXISTS (SELECT 1 FROM jobs j WHERE j.order_id = o.id \
         AND j.status <> 'done')))"
    };
}

/// Runs `sql` (a delete of at most `$2` rows older than `$1`) until it deletes fewer
/// than a batch; the number deleted.
async fn in_batches(db: &Db, sql: &'static str, before: UtcTime) -> StoreResult<u64> {
    let mut total = 0;
    loop {
        let n = on_db!(db, p => sqlx::query(sql)
            .bind(before).bind(BATCH).execute(p).await.map(|r| r.rows_affected()))?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Deletes the raw callbacks received before `before` that were handled (not still
/// `received`); the number deleted. Replays of them are refused by the signature's time
/// window anyway.
pub async fn prune_callbacks(db: &Db, before: UtcTime) -> StoreResult<u64> {
    in_batches(
        db,
        "DELETE FROM supplier_callbacks WHERE id IN (SELECT id FROM supplier_callbacks \
         WHERE received_at < $1 AND outcome <> 'received' ORDER BY received_at LIMIT $2)",
        before,
    )
    .await
}

/// Deletes the applied callback events recorded before `before` whose order is not live;
/// the number deleted.
pub async fn prune_supplier_events(db: &Db, before: UtcTime) -> StoreResult<u64> {
    in_batches(
        db,
        concat!(
            "DELETE FROM supplier_events WHERE dedupe_key IN (SELECT dedupe_key FROM \
             supplier_events WHERE applied_at < $1 AND ",
            not_live!(),
            " ORDER BY applied_at LIMIT $2)"
        ),
        before,
    )
    .await
}

/// Deletes the inventory log entries written before `before` that concern no order or
/// an order that is not live; the number deleted. Stock pools keep their figures: the
/// log is their history, not their source.
pub async fn prune_inventory_log(db: &Db, before: UtcTime) -> StoreResult<u64> {
    in_batches(
        db,
        concat!(
            "DELETE FROM inventory_log WHERE id IN (SELECT id FROM inventory_log \
             WHERE created_at < $1 AND (order_id IS NULL OR ",
            not_live!(),
            ") ORDER BY created_at LIMIT $2)"
        ),
        before,
    )
    .await
}

/// Deletes the attempts, finished before `before`, of jobs that are `done` and have not
/// changed since `before`; the number deleted. Queued, running and dead jobs keep their
/// whole history (a dead job's is what its redrive is decided on).
pub async fn prune_job_attempts(db: &Db, before: UtcTime) -> StoreResult<u64> {
    in_batches(
        db,
        "DELETE FROM job_attempts WHERE id IN (SELECT a.id FROM job_attempts a \
         JOIN jobs j ON j.id = a.job_id WHERE a.finished_at < $1 AND j.status = 'done' \
         AND j.updated_at < $1 ORDER BY a.finished_at LIMIT $2)",
        before,
    )
    .await
}

/// Deletes the per-item failures, recorded before `before`, of sync runs that ended
/// before `before`; the number deleted. A run keeps its counters and summary.
pub async fn prune_sync_failures(db: &Db, before: UtcTime) -> StoreResult<u64> {
    in_batches(
        db,
        "DELETE FROM sync_failures WHERE id IN (SELECT f.id FROM sync_failures f \
         JOIN sync_runs r ON r.id = f.run_id WHERE f.occurred_at < $1 \
         AND r.finished_at IS NOT NULL AND r.finished_at < $1 ORDER BY f.occurred_at LIMIT $2)",
        before,
    )
    .await
}

/// Deletes the outbound webhook deliveries that succeeded and last changed before
/// `before`, with their attempts, then the messages left without a delivery; the number
/// of deliveries deleted. Pending and dead deliveries keep their whole history (a dead
/// one's is what a retry by hand is decided on).
pub async fn prune_webhook_deliveries(db: &Db, before: UtcTime) -> StoreResult<u64> {
    in_batches(
        db,
        "DELETE FROM webhook_attempts WHERE id IN (SELECT a.id FROM webhook_attempts a \
         JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.status = 'succeeded' \
         AND d.updated_at < $1 LIMIT $2)",
        before,
    )
    .await?;
    let deliveries = in_batches(
        db,
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
         WHERE status = 'succeeded' AND updated_at < $1 LIMIT $2)",
        before,
    )
    .await?;
    in_batches(
        db,
        "DELETE FROM webhook_messages WHERE id IN (SELECT m.id FROM webhook_messages m \
         WHERE m.created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
         WHERE d.message_id = m.id) LIMIT $2)",
        before,
    )
    .await?;
    Ok(deliveries)
}

/// Deletes the inbound webhook events processed before `before`; how many. Events still
/// to be processed, and dead ones (kept for a replay), are left.
pub async fn prune_webhook_events(db: &Db, before: UtcTime) -> StoreResult<u64> {
    in_batches(
        db,
        "DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events \
         WHERE status = 'processed' AND processed_at < $1 LIMIT $2)",
        before,
    )
    .await
}
