//! Sync runs: mirror the supplier's catalog, prices and regional stock into the store.
//!
//! A run reads the supplier and writes the store, and writes only what changed: a re-sync
//! of an unchanged catalog writes no product and no stock row. Per-item failures are
//! recorded and never abort the run; only a failure that leaves nothing to compare against
//! (the procurable listing itself) fails it.
//!
//! - **Full** run: every procurable product (H1 with no codes), prices for all of them
//!   (H2, 20 codes a call), and stock (H3) for every product in each configured county.
//! - **Incremental** run: the same listing and prices (the supplier has no change feed, and
//!   20 prices a call are cheap), but stock only for products that were created or changed
//!   in this run, or that have no stock level yet in that county.
//!
//! A product that was procurable and disappears from the listing is asked for by code: the
//! supplier's answer (usually `isSales` "0" with a reason) is applied, and a product the
//! supplier no longer returns at all is marked not procurable with
//! [`crate::catalog::NOT_LISTED_REASON`]. Nothing is deleted.

use crate::status::RunStatus;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use haier::{MAX_CODES_PER_CALL, OpenPlatform, Price, ProcurableProduct, ProductCode};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument};

use crate::catalog::{SOURCE_HAIER, apply_catalog, apply_price, mark_not_listed, stock_level};
use crate::store::catalog::{
    Product, ProductContent, ProductLinks, find_or_create_brand, find_or_create_category,
    load_products_of_source, upsert_product,
};
use crate::store::stock::{
    StockLevel, delete_stock_level, load_stock_levels_in_county, upsert_stock_level,
};
use crate::store::sync_runs::{
    RunCounts, SyncFailure, SyncRun, finish_run, get_run, insert_failure, insert_run,
    mark_run_processing, touch_run, update_run_counts,
};
use crate::store::{Db, StoreError, new_id};
use crate::types::UtcTime;

/// Products written per transaction.
const WRITE_BATCH: usize = 200;

/// How often a running sync run writes its heartbeat.
pub const RUN_HEARTBEAT: Duration = Duration::from_secs(30);

/// How long a run's heartbeat may be silent before the run counts as abandoned by a
/// dead process: ten heartbeats.
pub const RUN_ABANDONED_AFTER: Duration = Duration::from_secs(300);

/// Writes run `id`'s heartbeat every [`RUN_HEARTBEAT`], for as long as it is polled. A
/// failed write is only logged: the next one may succeed.
async fn heartbeat(db: &Db, id: &str) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(RUN_HEARTBEAT).await;
        if let Err(e) = touch_run(db, id, UtcTime::now()).await {
            tracing::warn!(run = %id, error = ?e, "cannot write the sync run's heartbeat");
        }
    }
}

/// Full or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Everything in scope.
    Full,
    /// Only what changed since the last run.
    Incremental,
}

impl RunKind {
    /// `full` or `incremental`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Full => "full",
            RunKind::Incremental => "incremental",
        }
    }
}

/// What a run covers. Recorded with the run as its `scope`.
#[derive(Debug, Clone, Serialize)]
pub struct SyncOptions {
    /// Full or incremental.
    pub kind: RunKind,
    /// Only these products (empty: every procurable product).
    pub product_codes: Vec<ProductCode>,
    /// Only products of this product group (`productGroupNamd`).
    pub category: Option<String>,
    /// Only products of this brand (`productBrandName`).
    pub brand: Option<String>,
    /// Fetch prices (H2).
    pub prices: bool,
    /// Fetch regional stock (H3) for `counties`.
    pub stock: bool,
    /// County codes for stock, already checked with
    /// [`crate::catalog::parse_stock_region`].
    pub counties: Vec<String>,
}

/// Receives a run's progress (a terminal progress bar, or nothing).
pub trait Progress: Send + Sync {
    /// A stage begins with `total` units of work.
    fn stage(&self, name: &'static str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The run is over.
    fn finish(&self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &'static str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// A run could not be recorded (the store failed). Supplier failures are not errors of
/// the run call: they are recorded in the run itself.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs syncs of one supplier into the store.
#[derive(Clone)]
pub struct Syncer {
    db: Db,
    client: Arc<OpenPlatform>,
    concurrency: usize,
}

/// What a run has done so far.
#[derive(Default)]
struct RunState {
    counts: RunCounts,
    /// The client's counters when the run began.
    baseline: haier::CallStats,
    failed: HashSet<String>,
    pending_failures: Vec<SyncFailure>,
    failures_by_kind: BTreeMap<String, usize>,
}

impl RunState {
    fn fail(&mut self, item: &str, stage: &str, e: &haier::Error) {
        self.fail_with(item, stage, error_kind(e), &e.to_string());
    }

    fn fail_with(&mut self, item: &str, stage: &str, kind: &str, detail: &str) {
        self.failed.insert(item.to_owned());
        *self
            .failures_by_kind
            .entry(format!("{stage}/{kind}"))
            .or_default() += 1;
        self.pending_failures.push(SyncFailure {
            item: item.to_owned(),
            stage: stage.to_owned(),
            error_kind: kind.to_owned(),
            detail: detail.to_owned(),
            occurred_at: UtcTime::now(),
        });
    }

    /// Sets the call counters from the client's counters now.
    fn refresh_calls(&mut self, now: &haier::CallStats) {
        let c = &mut self.counts;
        c.calls = delta(now.calls, self.baseline.calls);
        c.retries = delta(now.retries, self.baseline.retries);
        c.rate_limited = delta(now.rate_limited, self.baseline.rate_limited);
    }

    fn summary(&self) -> Option<String> {
        if self.failures_by_kind.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .failures_by_kind
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        Some(format!(
            "{} items failed: {}",
            self.failed.len(),
            parts.join(", ")
        ))
    }
}

/// A failure that ends the run: there is nothing to compare against.
struct Fatal(String);

impl Syncer {
    /// A syncer writing to `db` through `client`, keeping `concurrency` calls in flight.
    pub fn new(db: Db, client: Arc<OpenPlatform>, concurrency: usize) -> Self {
        Syncer {
            db,
            client,
            concurrency: concurrency.max(1),
        }
    }

    /// Runs one sync and returns the recorded run. Supplier failures end up in the run's
    /// status, counters and failures; only a store failure is an `Err`.
    pub async fn run(
        &self,
        opts: &SyncOptions,
        progress: &dyn Progress,
    ) -> Result<SyncRun, SyncError> {
        self.run_until(opts, progress, &CancellationToken::new())
            .await
    }

    /// [`Syncer::run`], stopped early when `shutdown` is cancelled: the run then ends
    /// `failed` ("interrupted by shutdown") with what it did so far. While it runs, its
    /// heartbeat is written every [`RUN_HEARTBEAT`], so that a run whose process died is
    /// told from one still working ([`crate::store::sync_runs::mark_abandoned_runs`]).
    #[instrument(skip_all, fields(kind = opts.kind.as_str()), err)]
    pub async fn run_until(
        &self,
        opts: &SyncOptions,
        progress: &dyn Progress,
        shutdown: &CancellationToken,
    ) -> Result<SyncRun, SyncError> {
        let id = new_id("run");
        let scope = serde_json::to_value(opts).unwrap_or_default();
        insert_run(&self.db, &id, opts.kind.as_str(), &scope).await?;
        self.run_recorded(id, opts, progress, shutdown).await
    }

    /// Like [`Syncer::run_until`], for a run already recorded as `pending` with id `id`
    /// (e.g. one started through the API, whose id was answered before it ran).
    pub async fn run_recorded(
        &self,
        id: String,
        opts: &SyncOptions,
        progress: &dyn Progress,
        shutdown: &CancellationToken,
    ) -> Result<SyncRun, SyncError> {
        let started = UtcTime::now();
        mark_run_processing(&self.db, &id, started).await?;
        let mut state = RunState {
            baseline: self.client.stats(),
            ..RunState::default()
        };
        let execution = async {
            tokio::select! {
                done = self.execute(&id, opts, progress, &mut state) => done,
                () = shutdown.cancelled() => Err(FatalOr::Fatal(Fatal(
                    "interrupted by shutdown".to_owned(),
                ))),
                never = heartbeat(&self.db, &id) => match never {},
            }
        };
        // A run's calls are background work: they leave the budget's checkout reserve.
        let fatal =
            match haier::in_background(crate::calllog::in_sync_run(id.clone(), execution)).await {
                Ok(()) => None,
                Err(FatalOr::Fatal(Fatal(why))) => Some(why),
                Err(FatalOr::Store(e)) => {
                    progress.finish();
                    // Best effort: the store just failed, so recording may fail too.
                    let now = UtcTime::now();
                    crate::metrics::sync_run(
                        opts.kind.as_str(),
                        RunStatus::Failed.as_str(),
                        std::time::Duration::from_millis(
                            u64::try_from(now.millis_since(started)).unwrap_or(0),
                        ),
                    );
                    let _ = finish_run(
                        &self.db,
                        &id,
                        RunStatus::Failed,
                        &state.counts,
                        now,
                        now.millis_since(started),
                        Some("store error"),
                    )
                    .await;
                    return Err(e.into());
                }
            };
        self.flush_failures(&id, &mut state).await?;
        progress.finish();

        state.refresh_calls(&self.client.stats());
        state.counts.failed = i64::try_from(state.failed.len()).unwrap_or(i64::MAX);
        let (status, summary) = match fatal {
            None if state.failed.is_empty() => (RunStatus::Success, None),
            None => (RunStatus::Partial, state.summary()),
            Some(why) => {
                let summary = match state.summary() {
                    Some(s) => format!("{why}; {s}"),
                    None => why,
                };
                (RunStatus::Failed, Some(summary))
            }
        };
        let finished = UtcTime::now();
        finish_run(
            &self.db,
            &id,
            status,
            &state.counts,
            finished,
            finished.millis_since(started),
            summary.as_deref(),
        )
        .await?;
        crate::metrics::sync_run(
            opts.kind.as_str(),
            status.as_str(),
            std::time::Duration::from_millis(
                u64::try_from(finished.millis_since(started)).unwrap_or(0),
            ),
        );
        info!(run = %id, %status, counts = ?state.counts, "sync run finished");
        get_run(&self.db, &id)
            .await?
            .ok_or_else(|| StoreError::Database(sqlx::Error::RowNotFound).into())
    }

    async fn execute(
        &self,
        id: &str,
        opts: &SyncOptions,
        progress: &dyn Progress,
        state: &mut RunState,
    ) -> Result<(), FatalOr> {
        let existing: HashMap<String, Product> = load_products_of_source(&self.db, SOURCE_HAIER)
            .await?
            .into_iter()
            .map(|p| (p.code.clone(), p))
            .collect();

        // 1. Catalog (H1).
        let (records, not_listed) = self.read_catalog(opts, &existing, progress, state).await?;
        state.counts.read = records.len() as i64;
        self.save_counts(id, state).await?;

        // 2. Prices (H2) for the procurable ones.
        let prices = if opts.prices {
            let codes: Vec<ProductCode> = records
                .iter()
                .filter(|(_, r)| r.procurable() != Some(false))
                .filter_map(|(_, r)| r.code())
                .collect();
            self.read_prices(&codes, progress, state).await
        } else {
            HashMap::new()
        };

        // 3. Compare and write products.
        let mut writes: Vec<(String, ProductContent, bool)> = Vec::new();
        for (code, record) in &records {
            let base = existing.get(code).map(|p| &p.content);
            let mut content = apply_catalog(base, code, record);
            if let Some(price) = prices.get(code) {
                apply_price(&mut content, price);
            }
            match base {
                None => writes.push((code.clone(), content, true)),
                Some(b) if *b != content => writes.push((code.clone(), content, false)),
                Some(_) => state.counts.unchanged += 1,
            }
        }
        for code in &not_listed {
            if let Some(p) = existing.get(code) {
                let content = mark_not_listed(&p.content);
                if content != p.content {
                    writes.push((code.clone(), content, false));
                } else {
                    state.counts.unchanged += 1;
                }
            }
        }
        let changed: HashSet<String> = writes.iter().map(|(c, _, _)| c.clone()).collect();
        self.write_products(&writes, state).await?;
        self.save_counts(id, state).await?;

        // 4. Regional stock (H3).
        if opts.stock {
            let procurable: Vec<&String> = records
                .iter()
                .filter(|(_, r)| r.procurable() != Some(false))
                .map(|(c, _)| c)
                .collect();
            for county in &opts.counties {
                let levels = load_stock_levels_in_county(&self.db, county).await?;
                let stocked: HashSet<&str> =
                    levels.iter().map(|l| l.product_code.as_str()).collect();
                let targets: Vec<String> = procurable
                    .iter()
                    .filter(|c| {
                        opts.kind == RunKind::Full
                            || changed.contains(c.as_str())
                            || !stocked.contains(c.as_str())
                    })
                    .map(|c| (*c).clone())
                    .collect();
                self.sync_stock(id, county, &targets, levels, progress, state)
                    .await?;
            }
        }
        Ok(())
    }

    /// Reads the catalog in scope: `(records by code, codes no longer returned at all)`.
    async fn read_catalog(
        &self,
        opts: &SyncOptions,
        existing: &HashMap<String, Product>,
        progress: &dyn Progress,
        state: &mut RunState,
    ) -> Result<(BTreeMap<String, ProcurableProduct>, Vec<String>), FatalOr> {
        let mut records = BTreeMap::new();
        let mut not_listed = Vec::new();
        if opts.product_codes.is_empty() {
            progress.stage("catalog", 1);
            let listing = self
                .client
                .procurable_products_chunk(&[])
                .await
                .map_err(|e| Fatal(format!("the procurable listing failed: {e}")))?;
            progress.advance(1);
            for bad in &listing.bad {
                state.fail_with(
                    bad.product_code.as_deref().unwrap_or("?"),
                    "catalog",
                    "decode",
                    &bad.error().to_string(),
                );
            }
            for p in listing.items {
                match p.code() {
                    Some(code) => {
                        let wanted = opts
                            .category
                            .as_deref()
                            .is_none_or(|c| p.product_group_name.as_deref() == Some(c))
                            && opts
                                .brand
                                .as_deref()
                                .is_none_or(|b| p.product_brand_name.as_deref() == Some(b));
                        if wanted {
                            records.insert(code.to_string(), p);
                        }
                    }
                    None => state.fail_with(
                        "?",
                        "catalog",
                        "decode",
                        "a listed product has no valid productCode",
                    ),
                }
            }
            // Procurable products in scope that the listing no longer has: ask by code.
            let missing: Vec<ProductCode> = existing
                .values()
                .filter(|p| p.content.is_procurable && !records.contains_key(&p.code))
                .filter(|p| {
                    opts.category
                        .as_deref()
                        .is_none_or(|c| p.content.product_group.as_deref() == Some(c))
                        && opts
                            .brand
                            .as_deref()
                            .is_none_or(|b| p.content.brand.as_deref() == Some(b))
                })
                .filter_map(|p| ProductCode::parse(&p.code).ok())
                .collect();
            if !missing.is_empty() {
                let found = self.read_by_codes(&missing, progress, state).await;
                for code in &missing {
                    let key = code.to_string();
                    match found.get(&key) {
                        Some(p) => {
                            records.insert(key, p.clone());
                        }
                        None if !state.failed.contains(&key) => not_listed.push(key),
                        None => {}
                    }
                }
            }
        } else {
            let found = self
                .read_by_codes(&opts.product_codes, progress, state)
                .await;
            for code in &opts.product_codes {
                let key = code.to_string();
                match found.get(&key) {
                    Some(p) => {
                        records.insert(key, p.clone());
                    }
                    None if !state.failed.contains(&key) && existing.contains_key(&key) => {
                        not_listed.push(key)
                    }
                    None => {}
                }
            }
        }
        Ok((records, not_listed))
    }

    /// H1 by code, 20 codes a call, calls in flight at once; failed chunks are recorded.
    async fn read_by_codes(
        &self,
        codes: &[ProductCode],
        progress: &dyn Progress,
        state: &mut RunState,
    ) -> HashMap<String, ProcurableProduct> {
        let client = &self.client;
        self.read_chunked(
            codes,
            "catalog",
            progress,
            state,
            |chunk| client.procurable_products_chunk(chunk),
            ProcurableProduct::code,
        )
        .await
    }

    /// H2 for `codes`, 20 a call; failed chunks are recorded and keep their old prices.
    async fn read_prices(
        &self,
        codes: &[ProductCode],
        progress: &dyn Progress,
        state: &mut RunState,
    ) -> HashMap<String, Price> {
        let client = &self.client;
        self.read_chunked(
            codes,
            "prices",
            progress,
            state,
            |chunk| client.prices_chunk(chunk),
            Price::code,
        )
        .await
    }

    /// Calls `fetch` for `codes` in chunks of 20 with `concurrency` calls in flight, and
    /// keys the records it returns by their code. A failed chunk is recorded as a failure
    /// of each of its codes at `stage`; a record that could not be read, as a failure of
    /// its code alone.
    async fn read_chunked<'c, T, F, Fut>(
        &self,
        codes: &'c [ProductCode],
        stage: &'static str,
        progress: &dyn Progress,
        state: &mut RunState,
        fetch: F,
        code_of: fn(&T) -> Option<ProductCode>,
    ) -> HashMap<String, T>
    where
        F: Fn(&'c [ProductCode]) -> Fut,
        Fut: Future<Output = Result<haier::Records<T>, haier::Error>>,
    {
        let chunks: Vec<&[ProductCode]> = codes.chunks(MAX_CODES_PER_CALL).collect();
        progress.stage(stage, chunks.len() as u64);
        let mut results = futures::stream::iter(chunks)
            .map(|chunk| {
                let call = fetch(chunk);
                async move { (chunk, call.await) }
            })
            .buffer_unordered(self.concurrency);
        let mut found = HashMap::new();
        while let Some((chunk, result)) = results.next().await {
            progress.advance(1);
            match result {
                Ok(records) => {
                    // A record the client could not read fails alone, with its reason.
                    for bad in &records.bad {
                        state.fail_with(
                            bad.product_code.as_deref().unwrap_or("?"),
                            stage,
                            "decode",
                            &bad.error().to_string(),
                        );
                    }
                    for record in records.items {
                        if let Some(code) = code_of(&record) {
                            found.insert(code.to_string(), record);
                        }
                    }
                }
                Err(e) => chunk.iter().for_each(|c| state.fail(c.as_ref(), stage, &e)),
            }
        }
        found
    }

    /// Writes created and changed products, `WRITE_BATCH` per transaction.
    async fn write_products(
        &self,
        writes: &[(String, ProductContent, bool)],
        state: &mut RunState,
    ) -> Result<(), StoreError> {
        let mut categories: HashMap<String, String> = HashMap::new();
        let mut brands: HashMap<String, String> = HashMap::new();
        for batch in writes.chunks(WRITE_BATCH) {
            let now = UtcTime::now();
            let mut tx = self.db.begin().await?;
            for (code, content, created) in batch {
                let mut links = ProductLinks::default();
                if let Some(name) = &content.category {
                    links.category_id = Some(match categories.get(name) {
                        Some(id) => id.clone(),
                        None => {
                            let id = find_or_create_category(&mut tx, name).await?;
                            categories.insert(name.clone(), id.clone());
                            id
                        }
                    });
                }
                if let Some(name) = &content.brand {
                    links.brand_id = Some(match brands.get(name) {
                        Some(id) => id.clone(),
                        None => {
                            let id = find_or_create_brand(&mut tx, name).await?;
                            brands.insert(name.clone(), id.clone());
                            id
                        }
                    });
                }
                upsert_product(&mut tx, code, SOURCE_HAIER, content, &links, now).await?;
                if *created {
                    state.counts.created += 1;
                } else {
                    state.counts.updated += 1;
                }
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// H3 for each target product in `county`; writes only levels that changed.
    async fn sync_stock(
        &self,
        id: &str,
        county: &str,
        targets: &[String],
        levels: Vec<StockLevel>,
        progress: &dyn Progress,
        state: &mut RunState,
    ) -> Result<(), StoreError> {
        let mut known: HashMap<String, Vec<StockLevel>> = HashMap::new();
        for level in levels {
            known
                .entry(level.product_code.clone())
                .or_default()
                .push(level);
        }
        progress.stage("stock", targets.len() as u64);
        let client = &self.client;
        let mut results = futures::stream::iter(targets)
            .map(|code| async move {
                let reply = match ProductCode::parse(code) {
                    Ok(pc) => client.stock(&pc, county).await,
                    Err(e) => Err(haier::Error::InvalidRequest(e.to_string())),
                };
                (code, reply)
            })
            .buffer_unordered(self.concurrency)
            .ready_chunks(WRITE_BATCH);
        while let Some(batch) = results.next().await {
            progress.advance(batch.len() as u64);
            let now = UtcTime::now();
            let mut upserts = Vec::new();
            let mut deletes = Vec::new();
            for (code, reply) in batch {
                let reply = match reply {
                    Ok(r) => r,
                    Err(e) => {
                        state.fail(code, "stock", &e);
                        continue;
                    }
                };
                let mut fresh = Vec::with_capacity(reply.warehouses.len());
                let mut keyless = false;
                for w in &reply.warehouses {
                    match stock_level(code, county, w, now) {
                        Some(l) => fresh.push(l),
                        None => keyless = true,
                    }
                }
                if keyless {
                    state.fail_with(code, "stock", "decode", "a warehouse entry has no secCode");
                    continue;
                }
                let old = known.remove(code.as_str()).unwrap_or_default();
                for level in &fresh {
                    let same = old
                        .iter()
                        .any(|o| o.warehouse_code == level.warehouse_code && o.same_content(level));
                    if !same {
                        upserts.push(level.clone());
                    }
                }
                for o in old {
                    if !fresh.iter().any(|l| l.warehouse_code == o.warehouse_code) {
                        deletes.push(o);
                    }
                }
            }
            if !upserts.is_empty() || !deletes.is_empty() {
                let mut tx = self.db.begin().await?;
                for level in &upserts {
                    upsert_stock_level(&mut tx, level).await?;
                }
                for level in &deletes {
                    delete_stock_level(&mut tx, &level.product_code, county, &level.warehouse_code)
                        .await?;
                }
                tx.commit().await?;
                state.counts.stock_written += (upserts.len() + deletes.len()) as i64;
            }
            self.flush_failures(id, state).await?;
            self.save_counts(id, state).await?;
        }
        Ok(())
    }

    async fn save_counts(&self, id: &str, state: &mut RunState) -> Result<(), StoreError> {
        state.refresh_calls(&self.client.stats());
        update_run_counts(&self.db, id, &state.counts).await
    }

    async fn flush_failures(&self, id: &str, state: &mut RunState) -> Result<(), StoreError> {
        if state.pending_failures.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        for f in state.pending_failures.drain(..) {
            debug!(run = %id, item = %f.item, stage = %f.stage, kind = %f.error_kind, detail = %f.detail, "sync item failed");
            insert_failure(&mut tx, id, &f).await?;
        }
        tx.commit().await
    }
}

/// Either a fatal supplier failure or a store failure.
enum FatalOr {
    Fatal(Fatal),
    Store(StoreError),
}

impl From<Fatal> for FatalOr {
    fn from(f: Fatal) -> Self {
        FatalOr::Fatal(f)
    }
}

impl From<StoreError> for FatalOr {
    fn from(e: StoreError) -> Self {
        FatalOr::Store(e)
    }
}

fn delta(after: u64, before: u64) -> i64 {
    i64::try_from(after.saturating_sub(before)).unwrap_or(i64::MAX)
}

/// The error class recorded with a failure.
pub fn error_kind(e: &haier::Error) -> &'static str {
    use haier::Error as E;
    match e {
        E::Auth { .. } => "auth",
        E::Transport { .. } => "transport",
        E::Timeout { .. } => "timeout",
        E::RateLimited { .. } => "rate_limited",
        E::Server { .. } => "server",
        E::Rejected { .. } => "rejected",
        E::Business { .. } => "business",
        E::Decode { .. } => "decode",
        E::CircuitOpen { .. } => "circuit_open",
        E::InvalidRequest(_) => "invalid_request",
        E::Config(_) => "config",
        _ => "other",
    }
}
