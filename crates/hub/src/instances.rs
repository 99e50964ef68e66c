//! The registry of live instances, and the supplier budget they divide.
//!
//! Every `serve` and every `supplyhub sync` sharing a database registers in `instances`
//! ([`Membership::join`]) and heartbeats every `[instances] heartbeat_millis`. An instance
//! is live while its last heartbeat is younger than `expire_after_millis`. At each
//! heartbeat an instance counts the live ones, `n`, and divides its supplier budgets by
//! `n` ([`Budgets::set_share`]): together they stay within each account's limit.
//!
//! The moves are ordered so that the sum never passes the limit:
//! - An instance that joins spends nothing until every other live instance has applied a
//!   share of at least the new count (each records the count it applies, after applying
//!   it); it waits at most `expire_after_millis` plus two heartbeats, then goes on with a
//!   warning (an instance that does not answer for that long is gone).
//! - An instance that stops ([`Membership::leave`]) deletes its row after its own work
//!   has ended; the others take its share at their next heartbeat. One that dies keeps
//!   its row until it expires, so the others wait for the expiry before they take its
//!   share: they under-spend, never over-spend.
//!
//! Rows of instances dead for a day are deleted. The instance's id is also the owner of
//! its job leases, so the registry tells which process holds which job.

use std::num::NonZeroU32;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::budget::Budgets;
use crate::config::InstancesConfig;
use crate::store::instances::{self as store, InstanceRow};
use crate::store::{Db, StoreResult};
use crate::types::UtcTime;

/// Rows of instances without a heartbeat for this long are deleted.
const FORGET_AFTER: Duration = Duration::from_secs(86_400);

/// Heartbeats between two deletions of long-dead rows.
const PRUNE_EVERY: u32 = 600;

/// What an instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `supplyhub serve`.
    Serve,
    /// `supplyhub sync`.
    Sync,
}

impl Role {
    /// As stored: `serve` or `sync`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Serve => "serve",
            Role::Sync => "sync",
        }
    }
}

/// This instance's registration (see the module documentation).
pub struct Membership {
    db: Db,
    row: InstanceRow,
    budgets: Budgets,
    settings: InstancesConfig,
}

/// What one heartbeat saw.
#[derive(Debug, Clone)]
pub struct Beat {
    /// The live instances, this one included, by id.
    pub live: Vec<InstanceRow>,
    /// The share this instance applies now: the number of live instances.
    pub share: NonZeroU32,
}

fn before(at: UtcTime, span: Duration) -> UtcTime {
    let micros = i64::try_from(span.as_micros()).unwrap_or(i64::MAX);
    UtcTime::from_micros(at.as_micros().saturating_sub(micros)).unwrap_or(at)
}

impl Membership {
    /// Registers this instance as `id` (also the owner of its job leases) in the role
    /// `role`, divides `budgets` between the live instances, and waits until the others
    /// apply the new share (see the module documentation). Fails when the database
    /// cannot be written.
    pub async fn join(
        db: Db,
        id: String,
        role: Role,
        budgets: Budgets,
        settings: InstancesConfig,
    ) -> StoreResult<Membership> {
        let now = UtcTime::now();
        let row = InstanceRow {
            id,
            role: role.as_str().to_owned(),
            host: hostname(),
            pid: i64::from(std::process::id()),
            started_at: now,
            heartbeat_at: now,
            budget_share: 0,
        };
        store::register(&db, &row).await?;
        store::prune(&db, before(now, FORGET_AFTER)).await?;
        let membership = Membership {
            db,
            row,
            budgets,
            settings,
        };
        let heartbeat = membership.heartbeat();
        let patience =
            Duration::from_millis(membership.settings.expire_after_millis) + 2 * heartbeat;
        let poll = (heartbeat / 4).max(Duration::from_millis(25));
        let waited = std::time::Instant::now();
        loop {
            let beat = membership.beat().await?;
            let behind: Vec<&InstanceRow> = beat
                .live
                .iter()
                .filter(|r| r.id != membership.row.id)
                .filter(|r| u32::try_from(r.budget_share).unwrap_or(0) < beat.share.get())
                .collect();
            if behind.is_empty() {
                info!(
                    instance = %membership.row.id,
                    live = beat.share.get(),
                    "joined the live instances: the supplier budget is divided between them"
                );
                return Ok(membership);
            }
            if waited.elapsed() >= patience {
                warn!(
                    instance = %membership.row.id,
                    behind = ?behind.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                    "live instances did not take the new share of the supplier budget in time; going on"
                );
                return Ok(membership);
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// This instance's id.
    pub fn id(&self) -> &str {
        &self.row.id
    }

    fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.settings.heartbeat_millis)
    }

    /// One heartbeat: records it (registering again if the row was deleted), counts the
    /// live instances, applies their share to the budgets and records that it did.
    pub async fn beat(&self) -> StoreResult<Beat> {
        let now = UtcTime::now();
        if !store::heartbeat(&self.db, &self.row.id, now).await? {
            warn!(instance = %self.row.id, "this instance's registration was gone: registering again");
            let row = InstanceRow {
                heartbeat_at: now,
                budget_share: i32::try_from(self.budgets.share().get()).unwrap_or(i32::MAX),
                ..self.row.clone()
            };
            store::register(&self.db, &row).await?;
        }
        let expire = Duration::from_millis(self.settings.expire_after_millis);
        let live = store::live(&self.db, before(now, expire)).await?;
        let count = u32::try_from(live.len()).unwrap_or(u32::MAX);
        let share = NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
        if share != self.budgets.share() {
            info!(
                instance = %self.row.id,
                live = share.get(),
                "the number of live instances changed: the supplier budget is divided again"
            );
        }
        // Applied first, recorded after: a joining instance trusts the record.
        self.budgets.set_share(share);
        store::set_budget_share(
            &self.db,
            &self.row.id,
            i32::try_from(share.get()).unwrap_or(i32::MAX),
        )
        .await?;
        crate::metrics::instances_live(live.len());
        Ok(Beat { live, share })
    }

    /// Heartbeats until `shutdown`. A failed heartbeat keeps the current share and is
    /// tried again at the next one.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut beats: u32 = 0;
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.heartbeat()) => {}
                () = shutdown.cancelled() => return,
            }
            if let Err(e) = self.beat().await {
                warn!(error = ?e, "cannot record this instance's heartbeat");
            }
            beats = beats.wrapping_add(1);
            if beats.is_multiple_of(PRUNE_EVERY)
                && let Err(e) = store::prune(&self.db, before(UtcTime::now(), FORGET_AFTER)).await
            {
                warn!(error = ?e, "cannot delete the rows of long-dead instances");
            }
        }
    }

    /// Deletes this instance's registration: call it once its work has ended.
    pub async fn leave(&self) {
        if let Err(e) = store::deregister(&self.db, &self.row.id).await {
            warn!(error = ?e, "cannot deregister this instance; it expires on its own");
        }
    }
}

/// A joined instance whose heartbeat runs in the background until [`Registration::end`].
pub struct Registration {
    membership: std::sync::Arc<Membership>,
    stop: CancellationToken,
    heart: tokio::task::JoinHandle<()>,
}

impl Registration {
    /// [`Membership::join`], then heartbeats in a task of its own. The heartbeat is not
    /// tied to the caller's shutdown: work still in flight spends budget, so the instance
    /// counts until [`end`](Registration::end).
    pub async fn start(
        db: Db,
        id: String,
        role: Role,
        budgets: Budgets,
        settings: InstancesConfig,
    ) -> StoreResult<Registration> {
        let membership =
            std::sync::Arc::new(Membership::join(db, id, role, budgets, settings).await?);
        let stop = CancellationToken::new();
        let heart = tokio::spawn({
            let (membership, stop) = (std::sync::Arc::clone(&membership), stop.clone());
            async move { membership.run(stop).await }
        });
        Ok(Registration {
            membership,
            stop,
            heart,
        })
    }

    /// Stops the heartbeat and deregisters: call it once the instance's work has ended.
    pub async fn end(self) {
        self.stop.cancel();
        let _ = self.heart.await;
        self.membership.leave().await;
    }
}

/// The host name, from the environment or the kernel; `unknown` when neither tells.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
