//! The outbox worker: leases due jobs and runs each by its kind — the order push (Y1),
//! cancel (Y2) and reschedule (Y3), retrying only transient failures with jittered
//! backoff; the processing of inbound webhook events
//! ([`crate::webhooks::inbound::process`]); and outbound webhook deliveries
//! (`webhook.deliver`), which keep their own schedule ([`crate::webhooks::outbound`]).
//! Due times and leases are read from the worker's [`Clock`].
//!
//! **Exactly-once push.** The push job is enqueued in the payment's transaction, keyed
//! by the order (`push_order:{id}`), and sends the order with its `soId`, the supplier's
//! idempotency key. A business rejection (`success:false`) is final: the job is
//! dead-lettered with the supplier's message (redrive after fixing the cause). A
//! transient failure is retried. An *ambiguous* failure — the request may have reached
//! the supplier (a timeout after sending, a 5xx, a cut connection) — is never followed by
//! a blind resend: the next attempt first reconciles with the supplier. The YLH protocol
//! offers no query by `soId`; what it offers is that a create with a `soId` it already
//! holds is refused *with the existing order's number* (code 20001). So the reconciling
//! attempt re-sends the identical order under the same `soId` and reads that answer: the
//! supplier reports the order it took (`AlreadyExists`), or takes it now (`Created`) —
//! either way it holds the order exactly once. A worker that dies mid-push loses its
//! lease; the job is claimed again (counting as an attempt) and reconciles the same way.
//!
//! **Cancel sent twice.** A cancel (Y2) can reach the supplier twice: its worker died
//! after sending it and the job was claimed again, or the client re-sent a request whose
//! answer was lost. The supplier refuses the repeat of a cancel it holds; that refusal
//! (recognised, as for the push, by `[ylh] duplicate_patterns`) means the request is in
//! its hands: the job is done and the order stays `cancel_pending` until the callback.

use std::time::Duration;

use haier::ylh::{CreateOrderRequest, CreateOutcome, OrderItem, Ylh};
use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::calllog::{self, SupplierCall};
use crate::catalog::SOURCE_LOCAL;
use crate::clock::Clock;
use crate::config::OrdersConfig;
use crate::status::{JobStatus, SupplierStatus};
use crate::store::jobs::{Job, claim_due_at, end_attempt, extend_lease, record_attempt};
use crate::store::orders::{
    Order, get_order, get_order_in, lines_of_order, set_order_times, transition_supplier_status,
};
use crate::store::{Db, StoreError};
use crate::systems::live::LiveSupplier;
use crate::types::UtcTime;
use crate::webhooks::outbound::Deliverer;

/// Job kinds of the outbox. (The order service enqueues them; the worker runs them and
/// depends on no service.)
pub mod job_kind {
    /// Push a paid order to the supplier (Y1).
    pub const PUSH: &str = "push_order";
    /// Ask the supplier to cancel a pushed order (Y2).
    pub const CANCEL: &str = "cancel_order";
    /// Move a pushed order's delivery or installation day (Y3).
    pub const RESCHEDULE: &str = "reschedule_order";
}

/// What one attempt of a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Finished.
    Done(String),
    /// Failed transiently: try again later (the worker's backoff).
    Retry(String),
    /// Failed transiently: try again at the given time (the job's own schedule).
    RetryAt(String, UtcTime),
    /// Failed for good: dead-letter it.
    Dead(String),
}

/// Runs outbox jobs.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    supplier: LiveSupplier,
    config: OrdersConfig,
    owner: String,
    clock: Clock,
    webhooks: Option<std::sync::Arc<Deliverer>>,
}

impl Worker {
    /// A worker over `db` talking to the YLH order centre through the client `supplier`
    /// holds when each job runs (jobs fail transiently without one), identified as
    /// `owner` in leases.
    pub fn new(
        db: Db,
        supplier: LiveSupplier,
        config: OrdersConfig,
        owner: impl Into<String>,
    ) -> Self {
        crate::metrics::handle();
        Worker {
            db,
            supplier,
            config,
            owner: owner.into(),
            clock: Clock::system(),
            webhooks: None,
        }
    }

    /// The worker reading `clock` for due times and leases (tests move it forward).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The worker delivering outbound webhooks (`webhook.deliver` jobs) with
    /// `deliverer`; without one those jobs wait.
    pub fn with_webhooks(mut self, deliverer: std::sync::Arc<Deliverer>) -> Self {
        self.webhooks = Some(deliverer);
        self
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.config.lease_secs.max(1))
    }

    /// Claims and runs due jobs until `shutdown`; polls every `poll`.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        info!(owner = %self.owner, "outbox worker started");
        while !shutdown.is_cancelled() {
            match self.run_once().await {
                Ok(0) => {
                    tokio::select! {
                        () = tokio::time::sleep(poll) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error = ?e, "outbox worker: store error");
                    tokio::select! {
                        () = tokio::time::sleep(poll * 4) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
            }
        }
        info!(owner = %self.owner, "outbox worker stopped");
    }

    /// Claims one batch of due jobs and runs them concurrently; the number run.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let until = self.clock.later(self.lease());
        let limit = u32::try_from(self.config.worker_concurrency.max(1)).unwrap_or(8);
        let jobs = claim_due_at(&self.db, &self.owner, until, limit, self.clock.now()).await?;
        let n = jobs.len();
        let runs = jobs.into_iter().map(|job| self.process(job));
        for result in futures::future::join_all(runs).await {
            result?;
        }
        Ok(n)
    }

    async fn process(&self, job: Job) -> Result<(), StoreError> {
        let started = UtcTime::now();
        let heartbeat = CancellationToken::new();
        // Stops the heartbeat however this attempt ends, a store error included: a lease
        // extended for ever would keep the job from ever being claimed again.
        let stop_beating = heartbeat.clone().drop_guard();
        let beat = {
            let (db, id, owner, lease, stop, clock) = (
                self.db.clone(),
                job.id.clone(),
                self.owner.clone(),
                self.lease(),
                heartbeat.clone(),
                self.clock.clone(),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(lease / 3) => {
                            if !matches!(extend_lease(&db, &id, &owner, clock.later(lease)).await, Ok(true)) {
                                return;
                            }
                        }
                        () = stop.cancelled() => return,
                    }
                }
            })
        };
        let verdict = if job.attempts > job.max_attempts {
            Verdict::Dead(format!(
                "{} attempts used (the last claim found the job orphaned)",
                job.max_attempts
            ))
        } else {
            self.execute(&job).await?
        };
        drop(stop_beating);
        let _ = beat.await;

        let (status, run_at, outcome, detail) = match &verdict {
            Verdict::Done(d) => (JobStatus::Done, None, "done", d.clone()),
            Verdict::Retry(e) | Verdict::RetryAt(e, _) if job.attempts >= job.max_attempts => (
                JobStatus::Dead,
                None,
                "dead",
                format!("attempts exhausted: {e}"),
            ),
            Verdict::Retry(e) => (
                JobStatus::Queued,
                Some(self.clock.later(self.backoff(job.attempts))),
                "retry",
                e.clone(),
            ),
            Verdict::RetryAt(e, at) => (JobStatus::Queued, Some(*at), "retry", e.clone()),
            Verdict::Dead(e) => (JobStatus::Dead, None, "dead", e.clone()),
        };
        let mut tx = self.db.begin().await?;
        let error = (status != JobStatus::Done).then_some(detail.as_str());
        if !end_attempt(&mut tx, &job.id, &self.owner, status, run_at, error).await? {
            record_attempt(
                &mut tx,
                &job.id,
                job.attempts,
                "lease_lost",
                Some(&detail),
                started,
            )
            .await?;
            tx.commit().await?;
            crate::metrics::job_attempt(&job.kind, "lease_lost");
            warn!(job = %job.id, "lease lost before the attempt ended; another worker has the job");
            return Ok(());
        }
        record_attempt(
            &mut tx,
            &job.id,
            job.attempts,
            outcome,
            Some(&detail),
            started,
        )
        .await?;
        if job.kind == crate::webhooks::inbound::process::JOB_KIND {
            crate::webhooks::inbound::process::after_attempt(&mut tx, &job, status, &detail)
                .await?;
        }
        if status == JobStatus::Dead
            && job.kind == job_kind::PUSH
            && let Some(order_id) = job.payload["order_id"].as_str()
        {
            transition_supplier_status(
                &mut tx,
                order_id,
                &[SupplierStatus::PushPending],
                SupplierStatus::PushFailed,
                None,
                Some(&detail),
                UtcTime::now(),
            )
            .await?;
        }
        if status == JobStatus::Dead
            && job.kind == crate::webhooks::outbound::JOB_KIND
            && let Some(delivery_id) = job.payload["delivery_id"].as_str()
        {
            crate::store::webhooks::mark_delivery_dead(
                &mut tx,
                delivery_id,
                &detail,
                self.clock.now(),
            )
            .await?;
        }
        tx.commit().await?;
        crate::metrics::job_attempt(&job.kind, outcome);
        if status == JobStatus::Dead {
            warn!(job = %job.id, kind = %job.kind, detail = %detail, "job dead-lettered");
        }
        Ok(())
    }

    /// Jittered exponential backoff after `attempts` attempts: base × 2^(n−1), capped at
    /// five minutes, scaled by a random factor in [0.5, 1).
    fn backoff(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
        let base = self
            .config
            .retry_base_ms
            .saturating_mul(1u64 << exp)
            .min(300_000);
        Duration::from_millis((base as f64 * rand::random_range(0.5..1.0)) as u64)
    }

    /// Runs one attempt of `job`, by its kind.
    async fn execute(&self, job: &Job) -> Result<Verdict, StoreError> {
        match job.kind.as_str() {
            job_kind::PUSH | job_kind::CANCEL | job_kind::RESCHEDULE => {
                self.execute_order(job).await
            }
            crate::webhooks::inbound::process::JOB_KIND => {
                crate::webhooks::inbound::process::execute(&self.db, job).await
            }
            crate::webhooks::outbound::JOB_KIND => match &self.webhooks {
                Some(deliverer) => deliverer.deliver(job).await,
                None => Ok(Verdict::Retry(
                    "this worker does not deliver webhooks".to_owned(),
                )),
            },
            other => Ok(Verdict::Dead(format!("unknown job kind {other}"))),
        }
    }

    /// The order jobs: push, cancel, reschedule.
    async fn execute_order(&self, job: &Job) -> Result<Verdict, StoreError> {
        let Some(order_id) = job.payload["order_id"].as_str() else {
            return Ok(Verdict::Dead("the job names no order".to_owned()));
        };
        let Some(order) = get_order(&self.db, order_id).await? else {
            return Ok(Verdict::Dead(format!("no order {order_id}")));
        };
        // The client of the supplier settings in force now.
        let Some(ylh) = self.supplier.current().await.ylh.clone() else {
            return Ok(Verdict::Retry(
                "the YLH order centre is not configured".to_owned(),
            ));
        };
        match job.kind.as_str() {
            job_kind::PUSH => self.push(&ylh, job, &order).await,
            job_kind::CANCEL => self.cancel(&ylh, job, &order).await,
            job_kind::RESCHEDULE => self.reschedule(&ylh, job, &order).await,
            other => Ok(Verdict::Dead(format!("unknown job kind {other}"))),
        }
    }

    async fn push(&self, ylh: &Ylh, job: &Job, order: &Order) -> Result<Verdict, StoreError> {
        if !matches!(
            order.supplier_status,
            SupplierStatus::PushPending | SupplierStatus::PushFailed
        ) {
            // A callback got here first (the push's own answer was lost): the supplier
            // has the order. Its callback settled the holds it took, or released them if
            // it refused; do it here too in case the order is in between.
            let mut tx = self.db.begin().await?;
            crate::callbacks::follow_holds(
                &mut tx,
                &order.id,
                order.supplier_status,
                UtcTime::now(),
            )
            .await?;
            tx.commit().await?;
            return Ok(Verdict::Done(format!(
                "already {} at the supplier",
                order.supplier_status
            )));
        }
        let request = match self.build_request(ylh, order).await? {
            Ok(r) => r,
            Err(e) => return Ok(Verdict::Dead(e)),
        };
        let reconciling = job.attempts > 1;
        let started = std::time::Instant::now();
        let result = ylh.create_order(&request).await;
        let mut call = SupplierCall::ended(
            calllog::YLH,
            haier::ylh::endpoints::CREATE,
            &result,
            started,
        )
        .request(serde_json::to_value(&request).unwrap_or_default());
        match &result {
            Ok(CreateOutcome::Created { retail_order_no }) => {
                call = call.outcome("created");
                if let Some(no) = retail_order_no {
                    call = call.response(serde_json::json!({"retailOrderNo": no}).to_string());
                }
            }
            Ok(CreateOutcome::AlreadyExists {
                retail_order_no, ..
            }) => {
                call = call.outcome("already_exists");
                if let Some(no) = retail_order_no {
                    call = call.response(serde_json::json!({"retailOrderNo": no}).to_string());
                }
            }
            Err(_) => {}
        }
        self.record(job, order, call).await?;
        match result {
            Ok(outcome) => {
                let retail_order_no = outcome.retail_order_no().map(str::to_owned);
                let now = UtcTime::now();
                let mut tx = self.db.begin().await?;
                // Only from where the push started: a callback that got here first (a
                // confirmation, a rejection) is kept.
                let pushed = transition_supplier_status(
                    &mut tx,
                    &order.id,
                    &[SupplierStatus::PushPending, SupplierStatus::PushFailed],
                    SupplierStatus::Pushed,
                    retail_order_no.as_deref(),
                    None,
                    now,
                )
                .await?;
                // Accepted is not confirmed (protocol §0.3): the product, price and
                // customer are checked afterwards, so the holds stay committed until the
                // confirm callback settles them (or its refusal releases them). When that
                // callback got here first, the holds follow where it left the order.
                if !pushed && let Some(current) = get_order_in(&mut tx, &order.id).await? {
                    crate::callbacks::follow_holds(
                        &mut tx,
                        &order.id,
                        current.supplier_status,
                        now,
                    )
                    .await?;
                }
                tx.commit().await?;
                let how = match (&outcome, reconciling) {
                    (CreateOutcome::AlreadyExists { .. }, _) => {
                        "the supplier already held it (reconciled by soId)"
                    }
                    (_, true) => "created on a reconciling attempt",
                    _ => "created",
                };
                Ok(Verdict::Done(format!(
                    "{how}: {}",
                    retail_order_no.unwrap_or_default()
                )))
            }
            Err(e) if e.is_ambiguous() => Ok(Verdict::Retry(format!(
                "ambiguous ({e}); the next attempt reconciles by re-sending soId {}",
                order.so_id
            ))),
            Err(e) if e.is_transient() => Ok(Verdict::Retry(e.to_string())),
            Err(e) => {
                let mut tx = self.db.begin().await?;
                transition_supplier_status(
                    &mut tx,
                    &order.id,
                    &[SupplierStatus::PushPending, SupplierStatus::PushFailed],
                    SupplierStatus::PushFailed,
                    None,
                    Some(&e.to_string()),
                    UtcTime::now(),
                )
                .await?;
                tx.commit().await?;
                Ok(Verdict::Dead(e.to_string()))
            }
        }
    }

    /// The Y1 body of an order's supplier lines (per-unit prices, one item per line,
    /// `createTime` in ms, `detailAddress` without the region, `town` filled).
    async fn build_request(
        &self,
        ylh: &Ylh,
        order: &Order,
    ) -> Result<Result<CreateOrderRequest, String>, StoreError> {
        let lines = lines_of_order(&self.db, &order.id).await?;
        let mut items = Vec::new();
        for l in lines.iter().filter(|l| l.source != SOURCE_LOCAL) {
            let Ok(code) = haier::ProductCode::parse(&l.product_code) else {
                return Ok(Err(format!(
                    "{} is not a supplier product code",
                    l.product_code
                )));
            };
            let qty = u32::try_from(l.quantity).unwrap_or(u32::MAX);
            let mut item = OrderItem::new(
                code,
                qty,
                l.retail_price.amount(),
                l.discount_amount.amount(),
            );
            item.is_gift = l.is_gift;
            items.push(item);
        }
        if items.is_empty() {
            return Ok(Err("the order has no supplier lines".to_owned()));
        }
        let total_qty = items.iter().map(|i| i.item_qty).sum();
        let total_amt: Decimal = items.iter().map(OrderItem::line_amount).sum();
        let c = ylh.config();
        Ok(Ok(CreateOrderRequest {
            source_system: c.source_system.clone(),
            shop_name: c.shop_name.clone(),
            seller_code: c.seller_code.clone(),
            consignee_name: order.consignee_name.clone(),
            consignee_mobile: order.consignee_mobile.clone(),
            online_no: order.order_number.clone(),
            so_id: order.so_id.clone(),
            remark: order.remark.clone(),
            province: order.province.clone(),
            city: order.city.clone(),
            area: order.district.clone(),
            town: order.town.clone(),
            detail_address: order.detail_address.clone(),
            total_qty,
            total_amt,
            create_time: order.created_at.timestamp(),
            distribution_time: order.distribution_time.map(UtcTime::timestamp),
            install_time: order.install_time.map(UtcTime::timestamp),
            government_order: order.government_order,
            item_list: items,
        }))
    }

    async fn cancel(&self, ylh: &Ylh, job: &Job, order: &Order) -> Result<Verdict, StoreError> {
        if order.supplier_status != SupplierStatus::CancelPending {
            return Ok(Verdict::Done(format!(
                "nothing to do: the order is {} at the supplier",
                order.supplier_status
            )));
        }
        let reason = job.payload["reason"].as_str().unwrap_or("customer request");
        let request = serde_json::json!({"soId": order.so_id, "cancelReason": reason});
        let result = self
            .call_recorded(
                job,
                order,
                haier::ylh::endpoints::CANCEL,
                request,
                ylh.cancel_order(&order.so_id, reason, None),
            )
            .await?;
        match result {
            Ok(()) => Ok(Verdict::Done(
                "the supplier took the cancel request; the result comes by callback".to_owned(),
            )),
            // A repeat of a request the supplier holds (this job's earlier claim died
            // after sending it, or the client re-sent a lost answer): it is in hand.
            Err(haier::Error::Business {
                err_code, message, ..
            }) if ylh
                .config()
                .is_duplicate_refusal(err_code.as_deref(), &message) =>
            {
                Ok(Verdict::Done(format!(
                    "the supplier already held the cancel request (it refused a repeat: \
                     {message}); the result comes by callback"
                )))
            }
            Err(e) if e.is_transient() => Ok(Verdict::Retry(e.to_string())),
            Err(e) => {
                let mut tx = self.db.begin().await?;
                transition_supplier_status(
                    &mut tx,
                    &order.id,
                    &[SupplierStatus::CancelPending],
                    SupplierStatus::CancelFailed,
                    None,
                    Some(&e.to_string()),
                    UtcTime::now(),
                )
                .await?;
                tx.commit().await?;
                Ok(Verdict::Dead(e.to_string()))
            }
        }
    }

    async fn reschedule(&self, ylh: &Ylh, job: &Job, order: &Order) -> Result<Verdict, StoreError> {
        let time = |key: &str| {
            job.payload[key]
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        };
        let (distribution, install) = (time("distribution_time"), time("install_time"));
        let Some(retail_order_no) = order.retail_order_no.as_deref() else {
            return Ok(Verdict::Dead(
                "the supplier has not given the order a number".to_owned(),
            ));
        };
        // Y3 always carries both times (protocol §0.3): the one that does not change goes
        // with its original value; an order that never had one takes the other day.
        let original = |t: Option<UtcTime>| t.map(UtcTime::timestamp);
        let sent_distribution = distribution
            .or(original(order.distribution_time))
            .or(install);
        let sent_install = install.or(original(order.install_time)).or(distribution);
        let (Some(sent_distribution), Some(sent_install)) = (sent_distribution, sent_install)
        else {
            return Ok(Verdict::Dead("no time to reschedule to".to_owned()));
        };
        let request = serde_json::json!({"retailOrderNo": retail_order_no, "distributionTime": sent_distribution, "installTime": sent_install});
        let result = self
            .call_recorded(
                job,
                order,
                haier::ylh::endpoints::RESCHEDULE,
                request,
                ylh.reschedule(retail_order_no, sent_distribution, sent_install),
            )
            .await?;
        match result {
            Ok(()) => {
                let mut tx = self.db.begin().await?;
                set_order_times(
                    &mut tx,
                    &order.id,
                    distribution.map(UtcTime::from),
                    install.map(UtcTime::from),
                    UtcTime::now(),
                )
                .await?;
                tx.commit().await?;
                Ok(Verdict::Done("rescheduled".to_owned()))
            }
            Err(e) if e.is_transient() => Ok(Verdict::Retry(e.to_string())),
            Err(e) => Ok(Verdict::Dead(e.to_string())),
        }
    }

    /// Makes a call that only acknowledges (Y2, Y3) and records it with its request.
    async fn call_recorded(
        &self,
        job: &Job,
        order: &Order,
        endpoint: &str,
        request: serde_json::Value,
        call: impl Future<Output = Result<(), haier::Error>>,
    ) -> Result<Result<(), haier::Error>, StoreError> {
        let started = std::time::Instant::now();
        let result = call.await;
        let recorded =
            SupplierCall::ended(calllog::YLH, endpoint, &result, started).request(request);
        self.record(job, order, recorded).await?;
        Ok(result)
    }

    /// Records a call this job made for `order`.
    async fn record(&self, job: &Job, order: &Order, call: SupplierCall) -> Result<(), StoreError> {
        calllog::record(&self.db, call.order(&order.id).job(&job.id)).await
    }
}
