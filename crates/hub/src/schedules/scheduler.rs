//! The scheduler: claims due schedules and starts their sync runs in the background.
//!
//! Every `serve` runs one ([`Scheduler::run`]); each look for due schedules
//! ([`Scheduler::fire_due`]) is given the time it acts as of, so tests drive it with
//! any clock. Run-now goes through the same firing ([`Scheduler::run_now`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::plan::{plan_stock, read_demand};
use super::{Cadence, FiringOutcome, ScheduleKind};
use crate::calllog::CallLog;
use crate::config::{SchedulesConfig, SyncConfig};
use crate::http::ApiError;
use crate::status::RunStatus;
use crate::store::schedules::{self as store, Schedule};
use crate::store::systems::SystemRow;
use crate::store::{Db, StoreResult, Tx, new_id, sync_runs};
use crate::sync::{NoProgress, RunKind, SyncOptions, Syncer};
use crate::systems::crypto::KeyRing;
use crate::types::UtcTime;

/// Schedules fired per look, at most (the rest wait for the next look).
const FIRINGS_PER_LOOK: usize = 100;

/// What the scheduler needs besides the database: its settings and the sync's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[schedules]`.
    pub config: SchedulesConfig,
    /// `[sync] counties`: the configured counties when the supplier system names none.
    pub counties: Vec<String>,
    /// `[sync] concurrency`.
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::new(SchedulesConfig::default(), &SyncConfig::default())
    }
}

impl Settings {
    /// From the `[schedules]` and `[sync]` sections.
    pub fn new(config: SchedulesConfig, sync: &SyncConfig) -> Settings {
        Settings {
            config,
            counties: sync.counties.clone(),
            concurrency: sync.concurrency,
        }
    }
}

/// One firing of a schedule (by the clock, or run-now).
#[derive(Debug)]
pub struct Fired {
    /// The schedule.
    pub schedule_id: String,
    /// What it starts.
    pub kind: ScheduleKind,
    /// `started`, `skipped` or `failed`.
    pub outcome: FiringOutcome,
    /// Why (the active run, the failure), or what was started.
    pub detail: String,
    /// The run it started or found active.
    pub run_id: Option<String>,
    /// The system it syncs.
    pub system_id: Option<String>,
    /// The run in the background, to await (tests, shutdown); absent when none started.
    pub run: Option<JoinHandle<()>>,
}

/// A run ready to start: its system, options, scope and client.
struct Prepared {
    system_id: String,
    opts: SyncOptions,
    scope: serde_json::Value,
    client: Arc<haier::OpenPlatform>,
    log: Arc<CallLog>,
    /// The counties the run covers when it ends well.
    covers: Vec<String>,
}

/// Claims due schedules and starts their runs.
#[derive(Clone)]
pub struct Scheduler {
    db: Db,
    ring: Arc<KeyRing>,
    settings: Settings,
    shutdown: CancellationToken,
    budgets: crate::budget::Budgets,
    health: crate::systems::health::HealthWatch,
}

impl Scheduler {
    /// A scheduler over `db`, opening the systems' secrets with `ring`. Runs it starts
    /// end (recorded as interrupted) when `shutdown` is cancelled.
    pub fn new(
        db: Db,
        ring: Arc<KeyRing>,
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Scheduler {
        Scheduler {
            db,
            ring,
            settings,
            shutdown,
            budgets: crate::budget::Budgets::default(),
            health: crate::systems::health::HealthWatch::default(),
        }
    }

    /// Paces the runs' supplier calls by the instance's `budgets` (default: budgets of
    /// the scheduler's own).
    pub fn with_budgets(mut self, budgets: crate::budget::Budgets) -> Scheduler {
        self.budgets = budgets;
        self
    }

    /// Reports the runs' supplier calls to the instance's failure-rate monitor (default:
    /// a watch of the scheduler's own, which moves nothing).
    pub fn with_health(mut self, health: crate::systems::health::HealthWatch) -> Scheduler {
        self.health = health;
        self
    }

    /// Looks for due schedules every `[schedules] poll_secs` until `shutdown`.
    pub async fn run(self) {
        let poll = Duration::from_secs(self.settings.config.poll_secs.max(1));
        info!("scheduler started");
        let mut running: Vec<JoinHandle<()>> = Vec::new();
        while !self.shutdown.is_cancelled() {
            let now = UtcTime::now();
            // A run whose process died holds its supplier's schedules back until it is
            // ended: end it here too, not only when an instance starts.
            let age =
                i64::try_from(crate::sync::RUN_ABANDONED_AFTER.as_micros()).unwrap_or(i64::MAX / 2);
            if let Some(stale) = UtcTime::from_micros(now.as_micros() - age) {
                match sync_runs::mark_abandoned_runs(&self.db, stale).await {
                    Ok(ended) if !ended.is_empty() => {
                        warn!(runs = ?ended, "sync runs of a dead process ended as abandoned");
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = ?e, "scheduler: cannot end abandoned runs"),
                }
            }
            if let Err(e) = self.plan_unplanned(now).await {
                warn!(error = ?e, "scheduler: cannot plan new schedules");
            }
            running.retain(|run| !run.is_finished());
            match self.fire_due(now).await {
                Ok(fired) => {
                    for f in fired {
                        info!(schedule = %f.schedule_id, outcome = %f.outcome, detail = %f.detail, "schedule fired");
                        running.extend(f.run);
                    }
                }
                Err(e) => warn!(error = ?e, "scheduler: store error"),
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = self.shutdown.cancelled() => {}
            }
        }
        // The runs it started end at shutdown ("interrupted by shutdown"): wait until
        // they are recorded, so that the database is closed after them.
        for run in running {
            let _ = run.await;
        }
        info!("scheduler stopped");
    }

    /// Gives every enabled schedule without a `next_run_at` its first one after `now`;
    /// the number planned.
    pub async fn plan_unplanned(&self, now: UtcTime) -> StoreResult<usize> {
        let mut planned = 0;
        for s in store::unplanned_schedules(&self.db).await? {
            let next = match Cadence::parse(&s.cron, &s.time_zone) {
                Ok(c) => c.next_after(now),
                Err(e) => {
                    warn!(schedule = %s.id, error = %e, "a stored schedule does not parse");
                    continue;
                }
            };
            if store::plan_first_run(&self.db, &s.id, next).await? {
                planned += 1;
            }
        }
        Ok(planned)
    }

    /// Fires every schedule due at `now` that no other scheduler has claimed: each in
    /// its own transaction that claims it, moves its `next_run_at` past `now` (a schedule
    /// that missed several firings fires once) and records the run it starts.
    pub async fn fire_due(&self, now: UtcTime) -> StoreResult<Vec<Fired>> {
        let mut fired = Vec::new();
        while fired.len() < FIRINGS_PER_LOOK {
            let mut tx = self.db.begin().await?;
            let Some(s) = store::claim_due_schedule(&mut tx, now).await? else {
                tx.commit().await?;
                break;
            };
            let next = Cadence::parse(&s.cron, &s.time_zone)
                .ok()
                .and_then(|c| c.next_after(now));
            store::advance_schedule(&mut tx, &s.id, next).await?;
            fired.push(self.fire(tx, &s, now, false).await?);
        }
        Ok(fired)
    }

    /// Fires schedule `id` now, whatever its cadence, without moving its `next_run_at`.
    /// `None` when there is no such schedule. A run-now that starts nothing (a run is
    /// active, the system cannot sync) leaves the schedule's record as it was.
    pub async fn run_now(&self, id: &str) -> StoreResult<Option<Fired>> {
        let mut tx = self.db.begin().await?;
        let Some(s) = store::lock_schedule(&mut tx, id).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        Ok(Some(self.fire(tx, &s, UtcTime::now(), true).await?))
    }

    /// Prepares, records and starts one firing of `s` inside `tx`, which it commits.
    async fn fire(
        &self,
        mut tx: Tx,
        s: &Schedule,
        fired_at: UtcTime,
        manual: bool,
    ) -> StoreResult<Fired> {
        let mut fired = Fired {
            schedule_id: s.id.clone(),
            kind: s.kind,
            outcome: FiringOutcome::Failed,
            detail: String::new(),
            run_id: None,
            system_id: None,
            run: None,
        };
        let mut prepared = match self.prepare(s, fired_at).await? {
            Ok(p) => p,
            Err((outcome, detail)) => {
                fired.outcome = outcome;
                fired.detail = detail;
                if !manual {
                    store::record_firing(&mut tx, &s.id, fired_at, None, outcome, &fired.detail)
                        .await?;
                }
                tx.commit().await?;
                crate::metrics::schedule_firing(s.kind.as_str(), outcome.as_str());
                return Ok(fired);
            }
        };
        // A firing by the clock names the time it was due: with the schedule, that is
        // which firing the run is (`fired_at` is when an instance got to it). A run-now
        // is no firing of the expression and names none.
        if !manual && let (Some(due), Some(scope)) = (s.next_run_at, prepared.scope.as_object_mut())
        {
            scope.insert("due_at".to_owned(), json!(due));
        }
        fired.system_id = Some(prepared.system_id.clone());
        let run_id = new_id("run");
        let kind = prepared.opts.kind.as_str();
        if sync_runs::insert_system_run_if_idle(
            &mut tx,
            &run_id,
            kind,
            &prepared.scope,
            &prepared.system_id,
        )
        .await?
        {
            fired.outcome = FiringOutcome::Started;
            fired.detail = format!("started {run_id}");
            fired.run_id = Some(run_id.clone());
            store::record_firing(
                &mut tx,
                &s.id,
                fired_at,
                Some(&run_id),
                fired.outcome,
                &fired.detail,
            )
            .await?;
            tx.commit().await?;
            fired.run = Some(self.launch(s, run_id, fired_at, prepared));
        } else {
            let active = sync_runs::active_run_of_system_in(&mut tx, &prepared.system_id)
                .await?
                .unwrap_or_default();
            fired.outcome = FiringOutcome::Skipped;
            fired.detail = format!("skipped: {active} is active");
            fired.run_id = Some(active);
            if !manual {
                store::record_firing(&mut tx, &s.id, fired_at, None, fired.outcome, &fired.detail)
                    .await?;
            }
            tx.commit().await?;
        }
        crate::metrics::schedule_firing(s.kind.as_str(), fired.outcome.as_str());
        Ok(fired)
    }

    /// The system a firing of `s` syncs, or why it cannot.
    async fn target(
        &self,
        s: &Schedule,
    ) -> StoreResult<Result<SystemRow, (FiringOutcome, String)>> {
        let failed = |d: String| Ok(Err((FiringOutcome::Failed, d)));
        let row = match (&s.kind, &s.system_id) {
            (ScheduleKind::SystemSync, Some(id)) => {
                match crate::store::systems::get(&self.db, id).await? {
                    Some(row) => row,
                    None => return failed(format!("system {id} no longer exists")),
                }
            }
            (ScheduleKind::SystemSync, None) => {
                return failed("the schedule names no system".to_owned());
            }
            _ => match crate::store::systems::active_supplier(&self.db).await? {
                Some(row) => row,
                None => {
                    return failed(
                        "no active supplier system: register one (or serve --sandbox)".to_owned(),
                    );
                }
            },
        };
        if row.archived_at.is_some() {
            return failed(format!("system {} is archived", row.id));
        }
        if row.kind != crate::systems::Kind::Supplier.as_str() {
            return failed(format!(
                "system {} is a {} system: no connector syncs it yet",
                row.id, row.kind
            ));
        }
        if row.status == crate::systems::Status::Inactive.as_str() {
            return Ok(Err((
                FiringOutcome::Skipped,
                format!("skipped: system {} is inactive", row.id),
            )));
        }
        Ok(Ok(row))
    }

    /// What a firing of `s` at `fired_at` would run, or why it runs nothing.
    async fn prepare(
        &self,
        s: &Schedule,
        fired_at: UtcTime,
    ) -> StoreResult<Result<Prepared, (FiringOutcome, String)>> {
        let row = match self.target(s).await? {
            Ok(row) => row,
            Err(why) => return Ok(Err(why)),
        };
        let sync: crate::systems::SyncSettings =
            serde_json::from_str(&row.sync_settings).unwrap_or_default();
        let configured = if sync.counties.is_empty() {
            self.settings.counties.clone()
        } else {
            sync.counties.clone()
        };
        let base = SyncOptions {
            kind: RunKind::Full,
            product_codes: Vec::new(),
            category: None,
            brand: None,
            prices: true,
            stock: true,
            counties: configured.clone(),
        };
        let mut plan_json = None;
        let (opts, covers) = match s.kind {
            ScheduleKind::Prices => (
                SyncOptions {
                    kind: RunKind::Incremental,
                    stock: false,
                    counties: Vec::new(),
                    ..base
                },
                Vec::new(),
            ),
            ScheduleKind::Catalog => (base, configured),
            ScheduleKind::SystemSync => (
                SyncOptions {
                    kind: RunKind::Incremental,
                    ..base
                },
                Vec::new(),
            ),
            ScheduleKind::Stock => {
                let budget = self.settings.config.stock_calls_per_firing;
                let days = i64::from(self.settings.config.demand_days.max(1));
                let since = UtcTime::from_micros(fired_at.as_micros() - days * 86_400_000_000)
                    .unwrap_or(fired_at);
                let demand = read_demand(&self.db, since, budget).await?;
                let plan = plan_stock(&demand, &configured, budget, fired_at);
                if plan.counties.is_empty() {
                    return Ok(Err((
                        FiringOutcome::Skipped,
                        if plan.products.is_empty() {
                            "skipped: no procurable product yet (the catalog schedule fills them)"
                                .to_owned()
                        } else {
                            "skipped: no county has demand or is due for coverage".to_owned()
                        },
                    )));
                }
                let counties: Vec<String> =
                    plan.counties.iter().map(|c| c.county.clone()).collect();
                let product_codes = plan
                    .products
                    .iter()
                    .filter_map(|p| haier::ProductCode::parse(&p.code).ok())
                    .collect();
                plan_json = serde_json::to_value(&plan).ok();
                (
                    SyncOptions {
                        product_codes,
                        prices: false,
                        counties: counties.clone(),
                        ..base
                    },
                    counties,
                )
            }
        };
        let log = CallLog::start(self.db.clone(), crate::calllog::OPEN_PLATFORM);
        let client = match crate::systems::http::open_platform_client_with(
            &self.ring,
            &row,
            Some(log.clone()),
            &self.budgets,
            &self.health,
        ) {
            Ok(c) => c,
            Err(e) => {
                let why = match e {
                    ApiError::Unprocessable { detail, .. } => detail,
                    _ => {
                        "the system's secrets cannot be opened with this instance's key".to_owned()
                    }
                };
                return Ok(Err((
                    FiringOutcome::Failed,
                    format!("system {} cannot sync: {why}", row.id),
                )));
            }
        };
        let mut scope = serde_json::to_value(&opts).unwrap_or_else(|_| json!({}));
        if let Some(map) = scope.as_object_mut() {
            map.insert("schedule".to_owned(), json!(s.id));
            map.insert("fired_at".to_owned(), json!(fired_at));
            if let Some(plan) = plan_json {
                map.insert("plan".to_owned(), plan);
            }
        }
        Ok(Ok(Prepared {
            system_id: row.id,
            opts,
            scope,
            client: Arc::new(client),
            log,
            covers,
        }))
    }

    /// Starts the recorded run `run_id` in the background; when it ends, records its
    /// outcome on the schedule and, unless it failed, the counties it covered.
    fn launch(
        &self,
        s: &Schedule,
        run_id: String,
        fired_at: UtcTime,
        p: Prepared,
    ) -> JoinHandle<()> {
        let db = self.db.clone();
        let schedule_id = s.id.clone();
        let shutdown = self.shutdown.clone();
        let syncer = Syncer::new(db.clone(), p.client, self.settings.concurrency);
        let handle = tokio::runtime::Handle::current();
        // As for runs started through the API: the run's future is not provably Send, so
        // it is driven on a blocking thread of this runtime.
        tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                let ended = syncer
                    .run_recorded(run_id.clone(), &p.opts, &NoProgress, &shutdown)
                    .await;
                p.log.flush().await;
                let (outcome, detail) = match &ended {
                    Ok(run) => (
                        match run.status {
                            RunStatus::Success => FiringOutcome::Success,
                            RunStatus::Partial => FiringOutcome::Partial,
                            _ => FiringOutcome::Failed,
                        },
                        run.error_summary
                            .clone()
                            .unwrap_or_else(|| format!("{run_id} {}", run.status)),
                    ),
                    Err(e) => (FiringOutcome::Failed, format!("{run_id}: {e}")),
                };
                if let Err(e) = store::record_run_end(&db, &schedule_id, &run_id, outcome, &detail).await {
                    warn!(schedule = %schedule_id, error = ?e, "cannot record how a scheduled run ended");
                }
                if matches!(outcome, FiringOutcome::Success | FiringOutcome::Partial)
                    && !p.covers.is_empty()
                    && let Err(e) = store::record_coverage(&db, &p.covers, fired_at, &run_id).await
                {
                    warn!(run = %run_id, error = ?e, "cannot record the counties a run covered");
                }
            });
        })
    }
}
