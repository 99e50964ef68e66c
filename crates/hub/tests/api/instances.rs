//! Three `serve` processes share one PostgreSQL database while 1,000 jobs of every kind
//! go through it and schedules keep firing; one of them is SIGKILLed midway and not
//! restarted. Afterwards every job is done, by exactly one attempt; every push reached
//! the supplier once; every inbound event was applied once; every outbound delivery
//! arrived (a repeat only of one the dead instance had in flight); no firing of a
//! schedule ran twice; and each instance did part of the work.
//!
//! PostgreSQL only: it is the store several instances share. SQLite is a single-process
//! store (one file, one writer) that one `serve` owns.
//!
//! Everything goes through the paths it takes in production, over HTTP:
//! - `push_order`: 1,000 checkouts paid through the API;
//! - `reschedule_order`, `cancel_order`: once the supplier has confirmed an order (its
//!   callback), the test moves its delivery day through the API, and once that job is
//!   done, cancels the order;
//! - `webhook.process`: the sandbox's POS signs and sends 1,000 sales;
//! - `webhook.deliver`: each sale recorded is emitted to another system's endpoint,
//!   the sandbox's receiver.
//!
//! The test's requests and the POS's deliveries go to the two instances that stay up,
//! the supplier's callbacks to the first of them; the third works the queue and fires
//! schedules, and is killed while it holds jobs: once 40 % of them are done, at a moment
//! it holds a cancel the supplier has already taken when the test catches one (the
//! supplier answers a cancel 5 s later, after the job is claimed again). Its jobs are
//! claimed again by the others when their leases run out; each such claim is an attempt
//! with no recorded end, and nothing else is.
//!
//! **Schedules.** A cron expression has five fields (no seconds,
//! [`supplyhub::schedules::Cadence`]), so the finest cadence is once a minute. Three
//! supplier systems get a sync interval of one minute (`* * * * *`); to have them fire
//! every few seconds, the test moves each claimed schedule's `next_run_at` back to now,
//! as a hub that was down would find it: overdue, so it fires once (the missed-firing
//! policy) and is planned again for the next minute. Each run a firing starts names the
//! time it was due (`due_at` in its scope).
//!
//! The sandbox's rate limit is off here: staying under the supplier's budget is not what
//! this test is about.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use supplyhub::store::Db;
use supplyhub::sync::NoProgress;
use supplyhub::types::UtcTime;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestDb, TestSandbox, catalog_only};

/// Jobs of each kind.
const N: usize = 1000;
/// Where the orders go.
const COUNTY: &str = "320106";
/// Supplier systems with a schedule of their own.
const SCHEDULED: usize = 3;
/// The workers' lease, in seconds: a dead instance's jobs are claimed again after it.
const LEASE_SECS: u64 = 3;
/// Requests the test keeps in flight.
const CONCURRENCY: usize = 12;
/// The job kinds, as the outbox names them.
const KINDS: [&str; 5] = [
    "cancel_order",
    "push_order",
    "reschedule_order",
    "webhook.deliver",
    "webhook.process",
];

/// One `serve` process.
struct Instance {
    child: Option<Child>,
    pid: u32,
    base: String,
    log: PathBuf,
}

impl Instance {
    fn start(env: &[(String, String)], dir: &Path, name: &str) -> Instance {
        let port = crate::helpers::free_port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_supplyhub"))
            .args(["serve", "--listen", &addr])
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start an instance");
        Instance {
            pid: child.id(),
            child: Some(child),
            base: format!("http://{addr}"),
            log,
        }
    }

    /// The prefix of the worker id this process leases jobs under (`{pid}-…`).
    fn owner_prefix(&self) -> String {
        format!("{}-", self.pid)
    }

    /// SIGKILL: no shutdown, no lease given back, whatever it was doing.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http
                .get(format!("{}/readyz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "instance {} never became ready: {}",
                self.pid,
                log_tail(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A JSON request; the status and the body. The instances the test talks to stay up, so
/// a request that gets no answer fails the test.
async fn call(http: &reqwest::Client, method: Method, url: &str, body: &Value) -> (u16, Value) {
    let resp = http
        .request(method, url)
        .json(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Moves each claimed schedule's `next_run_at` back to now, every 1.5 s, until `stop`;
/// the due times it set, per schedule. Only a schedule whose last due time was claimed
/// (its next one is ahead) and whose system has no run open: each firing it makes due
/// must then start a run (a firing that finds its system's run still open is skipped).
async fn force_firings(
    pool: sqlx::PgPool,
    schedules: Vec<String>,
    stop: CancellationToken,
) -> BTreeMap<String, Vec<i64>> {
    let mut forced: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    while !stop.is_cancelled() {
        for id in &schedules {
            let now = UtcTime::now();
            let moved = sqlx::query(
                "UPDATE schedules s SET next_run_at = $1 WHERE s.id = $2 AND s.enabled \
                 AND s.next_run_at > $1 AND NOT EXISTS (SELECT 1 FROM sync_runs r \
                 WHERE r.system_id = s.system_id AND r.status IN ('pending', 'processing'))",
            )
            .bind(now)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
            if moved == 1 {
                forced.entry(id.clone()).or_default().push(now.as_micros());
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(1500)) => {}
            () = stop.cancelled() => {}
        }
    }
    forced
}

/// Samples the leases every 50 ms until `stop`: the jobs seen leased, per worker id.
async fn sample_leases(
    pool: sqlx::PgPool,
    stop: CancellationToken,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while !stop.is_cancelled() {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT lease_owner, id FROM jobs WHERE status = 'running' \
             AND lease_owner IS NOT NULL",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for (owner, id) in rows {
            seen.entry(owner).or_default().insert(id);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = stop.cancelled() => {}
        }
    }
    seen
}

/// A sync run a firing started.
#[derive(Debug, sqlx::FromRow)]
struct ScheduledRun {
    id: String,
    system_id: Option<String>,
    status: String,
    scope: sqlx::types::Json<Value>,
    created_at: UtcTime,
}

impl ScheduledRun {
    /// Not ended yet.
    fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "processing")
    }
}

/// Fails at once when a job was dead-lettered: nothing brings it back by itself.
async fn assert_none_dead(pool: &sqlx::PgPool) {
    let dead: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT kind, id, last_error FROM jobs WHERE status = 'dead' ORDER BY id LIMIT 5",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(dead.is_empty(), "jobs dead-lettered: {dead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_the_work_and_survive_a_kill() {
    let t = TestDb::postgres().await;
    let Db::Postgres(pool) = &t.db else {
        unreachable!("a PostgreSQL test database")
    };
    let pool = pool.clone();
    // The supplier decides on an order or a cancel request 5 s after it arrives: longer
    // than a lease, so a job the dead instance held is claimed again before then.
    let sb = TestSandbox::start_with(sandbox::SandboxConfig {
        products: 30,
        seed: 23,
        rate_limit: 0,
        callback_delay: Duration::from_secs(5),
        callback_attempts: 20,
        callback_retry_backoff: Duration::from_millis(100),
        logistics_step: Duration::from_secs(3600),
        confirm_rate: 1.0,
        reject_rate: 0.0,
        oos_rate: 0.0,
        duplicate_callback_rate: 0.0,
        partial_cancel_rate: 0.0,
        ..sandbox::SandboxConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    crate::leaks::learn(&key);
    let mut env = sb.sandbox.env();
    env.extend(
        [
            ("SUPPLYHUB_DATABASE_URL", t.url.as_str()),
            ("SUPPLYHUB_SECRET_KEY", key.as_str()),
            ("SUPPLYHUB_ORDERS__LEASE_SECS", &LEASE_SECS.to_string()),
            ("SUPPLYHUB_ORDERS__RETRY_BASE_MS", "100"),
            ("SUPPLYHUB_SCHEDULES__POLL_SECS", "1"),
            ("SUPPLYHUB_WEBHOOKS__ALLOW_HTTP", "true"),
            ("SUPPLYHUB_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let config = supplyhub::config::Config::from_settings(&env).unwrap();

    // The catalog, and stock enough for every order.
    sb.syncer(&t.db, &config)
        .run(&catalog_only(false), &NoProgress)
        .await
        .unwrap();
    let sku = sb.saleable_with_stock(COUNTY, 100_000).await;

    // Supplier systems syncing every minute (the last one is the active supplier, which
    // orders go to); the default schedules are left out, so each firing is one of these.
    let ring = supplyhub::systems::crypto::KeyRing::new(&key, &[]).unwrap();
    let mut schedules: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..SCHEDULED {
        let name = format!("supplier-{i}");
        let system =
            supplyhub::systems::http::register_supplier(&t.db, &ring, &name, &sb.sandbox.env())
                .await
                .unwrap();
        supplyhub::schedules::follow_system(&t.db, &system, &name, None, Some(1))
            .await
            .unwrap();
        let s = supplyhub::store::schedules::schedule_of_system(&t.db, &system)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.cron, "* * * * *");
        schedules.insert(s.id, system);
    }
    for id in ["sch_stock", "sch_prices", "sch_catalog"] {
        let s = supplyhub::store::schedules::get_schedule(&t.db, id)
            .await
            .unwrap()
            .unwrap();
        supplyhub::store::schedules::update_schedule(&t.db, id, &s.cron, &s.time_zone, false, None)
            .await
            .unwrap();
    }

    let http = reqwest::Client::new();
    let mut instances: Vec<Instance> = ["a", "b", "c"]
        .iter()
        .map(|name| Instance::start(&env, dir.path(), name))
        .collect();
    for i in &instances {
        i.wait_ready(&http).await;
    }
    let (a, b) = (instances[0].base.clone(), instances[1].base.clone());
    sb.sandbox.set_callback_url(format!("{a}/callbacks/haier"));

    // A POS that sends its sales, and a system that subscribes to them at the sandbox's
    // receiver.
    let (status, pos) = call(
        &http,
        Method::POST,
        &format!("{a}/api/v1/systems"),
        &json!({"name": "shop-pos", "kind": "pos", "status": "active", "settings": {"webhook_only": true}}),
    )
    .await;
    assert_eq!(status, 201, "{pos}");
    let pos = pos["id"].as_str().unwrap().to_owned();
    let (status, secret) = call(
        &http,
        Method::POST,
        &format!("{a}/api/v1/systems/{pos}/webhook-secrets"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 201, "{secret}");
    let pos_secret = secret["secret"].as_str().unwrap().to_owned();
    crate::leaks::learn(&pos_secret);
    let (status, sink) = call(
        &http,
        Method::POST,
        &format!("{a}/api/v1/systems"),
        &json!({"name": "members", "kind": "member"}),
    )
    .await;
    assert_eq!(status, 201, "{sink}");
    let sink = sink["id"].as_str().unwrap().to_owned();
    let (status, endpoint) = call(
        &http,
        Method::POST,
        &format!("{a}/api/v1/systems/{sink}/endpoints"),
        &json!({"url": sb.url(&format!("/_sandbox/webhooks/{sink}")), "event_types": ["pos.transaction.recorded"]}),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_secret = endpoint["secret"].as_str().unwrap().to_owned();
    crate::leaks::learn(&endpoint_secret);
    let endpoint = endpoint["endpoint"]["id"].as_str().unwrap().to_owned();
    sb.post(
        "/_sandbox/store/systems",
        json!({"id": pos, "kind": "pos", "shape": "canonical", "hub_url": b}),
    )
    .await;
    sb.post(
        &format!("/_sandbox/store/systems/{pos}/secrets"),
        json!({"send": [pos_secret]}),
    )
    .await;
    sb.post(
        &format!("/_sandbox/store/systems/{pos}/faults"),
        json!({"attempts": 8}),
    )
    .await;
    sb.post(
        "/_sandbox/store/systems",
        json!({"id": sink, "kind": "member"}),
    )
    .await;
    sb.post(
        &format!("/_sandbox/store/systems/{sink}/secrets"),
        json!({"receive": [endpoint_secret]}),
    )
    .await;

    let stop = CancellationToken::new();
    let forcer = tokio::spawn(force_firings(
        pool.clone(),
        schedules.keys().cloned().collect(),
        stop.clone(),
    ));
    let sampler = tokio::spawn(sample_leases(pool.clone(), stop.clone()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);

    // The delivery day every order is moved to: 23:59:59 China time, a month ahead.
    let china = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
    let day = jiff::Timestamp::now()
        .to_zoned(china)
        .date()
        .checked_add(jiff::Span::new().days(30))
        .unwrap();
    let new_day = format!("{day}T23:59:59+08:00");
    let new_day_ms = new_day.parse::<jiff::Timestamp>().unwrap().as_millisecond();

    let bases = [a.clone(), b.clone()];
    let orders = async {
        futures::stream::iter(0..N)
            .map(|i| {
                let (http, base, sku) = (&http, &bases[i % 2], &sku);
                async move {
                    let body = json!({
                        "order_number": format!("M{i:04}"),
                        "lines": [{"sku": sku, "quantity": 1, "retail_price": "2999.00", "discount_amount": "99.00"}],
                        "consignee": {"name": "王五", "mobile": "13800003333"},
                        "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "detail": "中山路2号"},
                    });
                    let (status, order) =
                        call(http, Method::POST, &format!("{base}/api/v1/orders"), &body).await;
                    assert_eq!(status, 201, "{order}");
                    let id = order["id"].as_str().unwrap();
                    let (status, paid) = call(
                        http,
                        Method::POST,
                        &format!("{base}/api/v1/orders/{id}/pay"),
                        &json!({}),
                    )
                    .await;
                    assert_eq!(status, 200, "{paid}");
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
    };
    // Confirmed orders are rescheduled; rescheduled ones cancelled.
    let follow_ups = async {
        let (mut rescheduled, mut cancelled) = (BTreeSet::new(), BTreeSet::new());
        while cancelled.len() < N {
            assert!(
                Instant::now() < deadline,
                "follow-ups: {} rescheduled, {} cancelled",
                rescheduled.len(),
                cancelled.len()
            );
            let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
                "SELECT o.id, o.supplier_status, \
                 COUNT(j.id) FILTER (WHERE j.kind = 'reschedule_order' AND j.status = 'done'), \
                 COUNT(j.id) FILTER (WHERE j.kind = 'cancel_order') \
                 FROM orders o LEFT JOIN jobs j ON j.order_id = o.id \
                 GROUP BY o.id, o.supplier_status",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let mut todo = Vec::new();
            for (id, supplier_status, reschedule_done, cancels) in rows {
                if supplier_status == "confirmed" && !rescheduled.contains(&id) {
                    todo.push((id, "reschedule"));
                } else if reschedule_done > 0 && cancels == 0 && !cancelled.contains(&id) {
                    todo.push((id, "cancel"));
                }
            }
            if todo.is_empty() {
                assert_none_dead(&pool).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let done: Vec<(String, &str)> = futures::stream::iter(todo.into_iter().enumerate())
                .map(|(n, (id, what))| {
                    let (http, base, new_day) = (&http, &bases[n % 2], &new_day);
                    async move {
                        let url = format!("{base}/api/v1/orders/{id}/{what}");
                        let body = if what == "reschedule" {
                            json!({"distribution_time": new_day})
                        } else {
                            json!({"reason": "客户取消"})
                        };
                        let (status, answer) = call(http, Method::POST, &url, &body).await;
                        let expected = if what == "reschedule" { 202 } else { 200 };
                        assert_eq!(status, expected, "{url}: {answer}");
                        (id, what)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for (id, what) in done {
                if what == "reschedule" {
                    rescheduled.insert(id);
                } else {
                    cancelled.insert(id);
                }
            }
        }
    };
    // 1,000 signed sales in batches, as the POS makes them.
    let inbound = async {
        for _ in 0..10 {
            let sent = sb
                .post(
                    &format!("/_sandbox/store/systems/{pos}/events"),
                    json!({"count": N / 10, "action": "sale", "concurrency": 4}),
                )
                .await;
            assert_eq!(sent["delivered"], N / 10, "{}", sent["events"][0]);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    // The kill, once 40 % of the jobs are done and the instance holds a few. It is aimed
    // for up to 20 s more: at a moment the instance holds a cancel that the supplier has
    // already taken (sent, its outcome not yet recorded), which only the supplier's
    // refusal of the repeat tells the next claim; failing that, it lands where it lands.
    let victim = instances[2].owner_prefix();
    let killer = async {
        loop {
            assert!(Instant::now() < deadline, "the kill never came");
            let (done, held): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*) FILTER (WHERE status = 'done'), \
                 COUNT(*) FILTER (WHERE status = 'running' AND starts_with(lease_owner, $1)) \
                 FROM jobs",
            )
            .bind(&victim)
            .fetch_one(&pool)
            .await
            .unwrap();
            if done >= i64::try_from(2 * N).unwrap() && held >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let aim_until = Instant::now() + Duration::from_secs(20);
        'aim: while Instant::now() < aim_until {
            // Its cancels, and whether the answer to Y2 is already logged.
            let held: Vec<(String, bool)> = sqlx::query_as(
                "SELECT o.so_id, EXISTS (SELECT 1 FROM external_calls c \
                 WHERE c.job_id = j.id AND c.endpoint = 'y2_cancel') \
                 FROM jobs j JOIN orders o ON o.id = j.order_id \
                 WHERE j.kind = 'cancel_order' AND j.status = 'running' \
                 AND starts_with(j.lease_owner, $1)",
            )
            .bind(&victim)
            .fetch_all(&pool)
            .await
            .unwrap();
            if held.iter().any(|(_, answered)| *answered) {
                break;
            }
            for (so_id, _) in held {
                if sb.get(&format!("/_sandbox/orders/{so_id}")).await["status"]
                    == "cancel_requested"
                {
                    break 'aim;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        instances[2].kill();
        let killed_at = (UtcTime::now(), started.elapsed());
        // What it held when it died: no other instance claims these before their
        // leases run out, LEASE_SECS from the last heartbeat.
        let orphans: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, kind FROM jobs WHERE status = 'running' \
             AND starts_with(lease_owner, $1) ORDER BY id",
        )
        .bind(&victim)
        .fetch_all(&pool)
        .await
        .unwrap();
        // Its cancels the supplier had taken: the supplier decides seconds later, and no
        // other instance has sent them yet, so their orders still show the request.
        let cancels: Vec<(String,)> = sqlx::query_as(
            "SELECT o.so_id FROM jobs j JOIN orders o ON o.id = j.order_id \
             WHERE j.kind = 'cancel_order' AND j.id = ANY($1)",
        )
        .bind(orphans.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>())
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut in_hand = 0;
        for (so_id,) in cancels {
            let theirs = sb.get(&format!("/_sandbox/orders/{so_id}")).await;
            in_hand += usize::from(theirs["status"] == "cancel_requested");
        }
        (killed_at, orphans, in_hand)
    };
    let ((), (), (), ((killed_at, killed_after), orphans, in_hand)) =
        tokio::join!(orders, follow_ups, inbound, killer);

    // Everything settles: every job done, every order cancelled at the supplier.
    loop {
        let by_status: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status ORDER BY kind, status",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let (cancelled,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM orders WHERE supplier_status = 'cancelled' \
             AND status = 'cancelled'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let settled = by_status.len() == KINDS.len()
            && by_status
                .iter()
                .all(|(_, status, n)| status == "done" && *n == N as i64);
        if settled && cancelled == N as i64 {
            break;
        }
        assert_none_dead(&pool).await;
        assert!(
            Instant::now() < deadline,
            "not settled after {:?}: {by_status:?}, {cancelled} orders cancelled; \
             dead instance held {orphans:?}\n{}",
            started.elapsed(),
            log_tail(&instances[0].log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled_after = started.elapsed();

    // The schedules: no more forcing; every due time set is claimed, and every run the
    // live instances started has ended. A run the dead instance was in stays open (until
    // it is ended as abandoned, minutes later).
    stop.cancel();
    let forced = forcer.await.unwrap();
    let seen = sampler.await.unwrap();
    let killed_micros = killed_at.as_micros();
    let runs = loop {
        let (unclaimed,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM schedules WHERE enabled AND next_run_at <= now()")
                .fetch_one(&pool)
                .await
                .unwrap();
        let runs: Vec<ScheduledRun> = sqlx::query_as(
            "SELECT id, system_id, status, scope, created_at FROM sync_runs \
             WHERE scope ? 'schedule' ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let open_after_kill = runs
            .iter()
            .any(|r| r.is_open() && r.created_at.as_micros() >= killed_micros);
        if unclaimed == 0 && !open_after_kill {
            break runs;
        }
        assert!(
            Instant::now() < deadline,
            "schedules not settled: {unclaimed} due, {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for i in &mut instances {
        i.kill();
    }

    // Every job done, by exactly one attempt that says so; no attempt lost its lease to
    // another instance while it ran; the only claims without a recorded end are those the
    // dead instance held.
    let jobs: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT j.id, j.kind, j.attempts, COUNT(a.id), \
         COUNT(a.id) FILTER (WHERE a.outcome = 'done'), \
         COUNT(a.id) FILTER (WHERE a.outcome = 'lease_lost') \
         FROM jobs j LEFT JOIN job_attempts a ON a.job_id = j.id \
         GROUP BY j.id, j.kind, j.attempts ORDER BY j.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(jobs.len(), KINDS.len() * N);
    let orphan_ids: BTreeSet<&str> = orphans.iter().map(|(id, _)| id.as_str()).collect();
    for (id, kind, claims, recorded, done, lease_lost) in &jobs {
        assert_eq!(*done, 1, "{kind} {id}: {done} done attempts");
        assert_eq!(*lease_lost, 0, "{kind} {id} lost its lease while it ran");
        let unrecorded = claims - recorded;
        let expected = i64::from(orphan_ids.contains(id.as_str()));
        assert_eq!(
            unrecorded, expected,
            "{kind} {id}: {claims} claims, {recorded} recorded"
        );
    }
    assert!(
        !orphans.is_empty(),
        "the kill landed while the instance held jobs"
    );
    let orphaned = |kind: &str| orphans.iter().filter(|(_, k)| k == kind).count() as u64;
    // What the claim after the kill found, for the record.
    let reclaimed: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT j.kind, a.detail FROM jobs j JOIN job_attempts a ON a.job_id = j.id \
         WHERE a.outcome = 'done' AND j.id = ANY($1) ORDER BY j.kind",
    )
    .bind(orphans.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>())
    .fetch_all(&pool)
    .await
    .unwrap();

    // The supplier: every order pushed once, moved once (a repeat only of one in flight
    // at the kill, which changes nothing), cancelled once.
    let stats = sb.stats().await;
    let n = |v: &Value| v.as_u64().unwrap();
    assert_eq!(n(&stats["orders_received"]), N as u64, "{stats}");
    assert!(
        n(&stats["duplicates_refused"]) <= orphaned("push_order"),
        "a push repeated beyond those in flight at the kill: {stats}"
    );
    assert_eq!(n(&stats["cancels_received"]), N as u64, "{stats}");
    let calls = &stats["calls"];
    for (endpoint, kind) in [
        ("ylh_create_order", "push_order"),
        ("ylh_reschedule", "reschedule_order"),
        ("ylh_cancel_order", "cancel_order"),
    ] {
        let made = n(&calls[endpoint]);
        assert!(
            (N as u64..=N as u64 + orphaned(kind)).contains(&made),
            "{made} calls to {endpoint}: {stats}"
        );
    }
    let theirs = sb.get("/_sandbox/orders").await["orders"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(theirs.len(), N);
    let so_ids: BTreeSet<&str> = theirs.iter().map(|o| o["soId"].as_str().unwrap()).collect();
    assert_eq!(so_ids.len(), N, "every soId once");
    for o in &theirs {
        assert_eq!(o["status"], "cancelled", "{o}");
        assert_eq!(o["distributionTime"].as_i64(), Some(new_day_ms), "{o}");
    }
    let ours = supplyhub::store::orders::all_orders(&t.db).await.unwrap();
    assert_eq!(ours.len(), N);
    assert!(ours.iter().all(|o| so_ids.contains(o.so_id.as_str())));

    // Inbound: every sale the POS sent, recorded once from one event processed once.
    let ledger = sb
        .get(&format!("/_sandbox/store/systems/{pos}/ledger"))
        .await;
    let sales: BTreeSet<&str> = ledger["sales"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(sales.len(), N);
    let recorded: Vec<(String,)> =
        sqlx::query_as("SELECT external_id FROM pos_transactions WHERE system_id = $1")
            .bind(&pos)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(recorded.len(), N, "one transaction per sale");
    assert_eq!(
        recorded
            .iter()
            .map(|(e,)| e.as_str())
            .collect::<BTreeSet<_>>(),
        sales
    );
    let events = supplyhub::store::webhooks_in::count_events_by_status(&t.db, &pos)
        .await
        .unwrap();
    assert_eq!(events, vec![("processed".to_owned(), N as i64)]);

    // Outbound: one delivery per sale, each received; a repeat only of one in flight at
    // the kill (the receiver tells a repeat by its webhook-id and body).
    let deliveries: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, status FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(&endpoint)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(deliveries.len(), N);
    assert!(deliveries.iter().all(|(_, s)| s == "succeeded"));
    let received = sb.get(&format!("/_sandbox/webhooks/{sink}/received")).await;
    let received_ids: BTreeSet<&str> = received["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(received_ids.len(), N);
    assert_eq!(
        received_ids,
        deliveries.iter().map(|(m, _)| m.as_str()).collect()
    );
    let attempts = sb.get(&format!("/_sandbox/webhooks/{sink}/attempts")).await;
    let outcomes: Vec<&str> = attempts["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    let repeats = outcomes.iter().filter(|o| **o == "duplicate").count() as u64;
    assert_eq!(
        outcomes.len() as u64,
        N as u64 + repeats,
        "only receipts and repeats: {outcomes:?}"
    );
    assert!(
        repeats <= orphaned("webhook.deliver"),
        "{repeats} repeated deliveries, {} in flight at the kill",
        orphaned("webhook.deliver")
    );

    // Schedules: no two runs for one firing (schedule, due time); every due time the test
    // set started a run; each run synced its schedule's system, and each that ended
    // succeeded (one the dead instance was in is left open).
    let mut by_firing: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    let mut left_open = BTreeSet::new();
    for run in &runs {
        let (id, scope) = (&run.id, &run.scope);
        let schedule = scope["schedule"].as_str().unwrap().to_owned();
        assert_eq!(
            run.system_id.as_ref(),
            schedules.get(&schedule),
            "{id}: {scope:?}"
        );
        let due: UtcTime = serde_json::from_value(scope["due_at"].clone()).unwrap();
        by_firing
            .entry((schedule.clone(), due.as_micros()))
            .or_default()
            .push(id.clone());
        if run.is_open() {
            assert!(run.created_at.as_micros() < killed_micros, "{run:?}");
            assert!(left_open.insert(schedule), "{id}: two runs open");
        } else {
            assert_eq!(run.status, "success", "{run:?}");
        }
    }
    let twice: Vec<_> = by_firing.iter().filter(|(_, r)| r.len() > 1).collect();
    assert!(twice.is_empty(), "firings that ran twice: {twice:?}");
    let mut firings = 0;
    for (schedule, dues) in &forced {
        assert!(
            dues.len() >= 3,
            "{schedule} was made due only {} times",
            dues.len()
        );
        for due in dues {
            assert!(
                by_firing.contains_key(&(schedule.clone(), *due)),
                "the firing of {schedule} due at {due} started no run"
            );
            firings += 1;
        }
    }

    // All three did work: the jobs seen leased under each one's worker id.
    let mut per_instance = Vec::new();
    for i in &instances {
        let prefix = i.owner_prefix();
        let jobs: usize = seen
            .iter()
            .filter(|(owner, _)| owner.starts_with(&prefix))
            .map(|(_, ids)| ids.len())
            .sum();
        per_instance.push(jobs);
    }
    assert!(
        per_instance.iter().all(|n| *n > 0),
        "jobs seen leased per instance: {per_instance:?}"
    );

    // No secret in what the instances logged.
    for i in &instances {
        let text = std::fs::read(&i.log).unwrap();
        crate::leaks::check_output(&text, "an instance's log");
    }
    eprintln!(
        "three instances: killed one after {killed_after:?} holding {} jobs ({in_hand} \
         cancels the supplier had taken), then done as {reclaimed:?}; settled after {settled_after:?}; jobs seen leased per instance \
         {per_instance:?}; {firings} forced firings ran, {} runs in all, {} left open by \
         the kill; {repeats} repeated deliveries",
        orphans.len(),
        runs.len(),
        left_open.len(),
    );
    sb.sandbox.shutdown().await.unwrap();
    drop(instances);
    t.cleanup().await;
}
