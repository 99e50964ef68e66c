//! The pruner: deletes old history at start and then hourly, as configured by
//! `sync.call_retention_days` (recorded calls outside orders) and `[retention]`
//! (callbacks, inventory log, job attempts, sync failures, webhook deliveries and
//! events). What is deleted, and what is kept for live orders and jobs, is decided in
//! [`crate::store::retention`].

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::RetentionConfig;
use crate::store::{Db, StoreResult, calls, retention as store};
use crate::types::UtcTime;

/// How often the pruner runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What one pass deleted, per history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Recorded supplier calls outside orders.
    pub calls: u64,
    /// Raw supplier callbacks.
    pub callbacks: u64,
    /// Applied callback events.
    pub supplier_events: u64,
    /// Inventory log entries.
    pub inventory_log: u64,
    /// Attempts of finished jobs.
    pub job_attempts: u64,
    /// Per-item failures of ended sync runs.
    pub sync_failures: u64,
    /// Succeeded outbound webhook deliveries.
    pub webhook_deliveries: u64,
    /// Processed inbound webhook events.
    pub webhook_events: u64,
}

impl Pruned {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.calls
            + self.callbacks
            + self.supplier_events
            + self.inventory_log
            + self.job_attempts
            + self.sync_failures
            + self.webhook_deliveries
            + self.webhook_events
    }
}

/// `days` days before `now`; `None` for 0 (kept forever).
fn cutoff(now: UtcTime, days: u32) -> Option<UtcTime> {
    if days == 0 {
        return None;
    }
    UtcTime::from_micros(now.as_micros() - i64::from(days) * 86_400_000_000)
}

/// One pass of the pruner as of `now`: each history older than its retention is
/// deleted (a retention of 0 days keeps it).
pub async fn prune_once(
    db: &Db,
    call_retention_days: u32,
    retention: &RetentionConfig,
    now: UtcTime,
) -> StoreResult<Pruned> {
    let mut pruned = Pruned::default();
    if let Some(before) = cutoff(now, call_retention_days) {
        pruned.calls = calls::prune_calls(db, before).await?;
    }
    if let Some(before) = cutoff(now, retention.callbacks_days) {
        pruned.supplier_events = store::prune_supplier_events(db, before).await?;
        pruned.callbacks = store::prune_callbacks(db, before).await?;
    }
    if let Some(before) = cutoff(now, retention.inventory_log_days) {
        pruned.inventory_log = store::prune_inventory_log(db, before).await?;
    }
    if let Some(before) = cutoff(now, retention.job_attempts_days) {
        pruned.job_attempts = store::prune_job_attempts(db, before).await?;
    }
    if let Some(before) = cutoff(now, retention.sync_failures_days) {
        pruned.sync_failures = store::prune_sync_failures(db, before).await?;
    }
    if let Some(before) = cutoff(now, retention.webhook_deliveries_days) {
        pruned.webhook_deliveries = store::prune_webhook_deliveries(db, before).await?;
    }
    if let Some(before) = cutoff(now, retention.webhook_events_days) {
        pruned.webhook_events = store::prune_webhook_events(db, before).await?;
    }
    Ok(pruned)
}

/// Prunes at start and then every [`PRUNE_EVERY`] until `shutdown`.
pub async fn run(
    db: Db,
    call_retention_days: u32,
    retention: RetentionConfig,
    shutdown: CancellationToken,
) {
    loop {
        let pass = prune_once(&db, call_retention_days, &retention, UtcTime::now());
        let result = tokio::select! {
            r = pass => r,
            () = shutdown.cancelled() => return,
        };
        match result {
            Ok(p) if p.total() == 0 => {}
            Ok(p) => tracing::info!(pruned = ?p, "pruned old history"),
            Err(e) => tracing::warn!(error = ?e, "pruning old history failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
