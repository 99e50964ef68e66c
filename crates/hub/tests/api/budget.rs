//! One supplier budget across instances: the live instances divide each supplier
//! account's rate limit between them (`supplyhub::instances`), and several `serve` and
//! `supplyhub sync` processes syncing at once against a sandbox limited to 100 requests a
//! second are never throttled.

use std::time::{Duration, Instant};

use supplyhub::budget::Budgets;
use supplyhub::config::InstancesConfig;
use supplyhub::instances::{Membership, Role};
use supplyhub::store::Db;
use tokio_util::sync::CancellationToken;

crate::on_both_backends! {
    instances_divide_the_budget => instances_divide_the_budget;
}

const FAST: InstancesConfig = InstancesConfig {
    heartbeat_millis: 100,
    expire_after_millis: 600,
};

/// Waits until `cond` holds, for at most 20 s (a loaded machine), then fails naming `what`.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn instances_divide_the_budget(db: &Db) {
    let url = "http://supplier.example";
    let (a_budgets, b_budgets, c_budgets) =
        (Budgets::new(0.2), Budgets::new(0.2), Budgets::new(0.2));
    let a_op = a_budgets.account("haier_open_platform", url, 90).unwrap();
    let a = std::sync::Arc::new(
        Membership::join(db.clone(), "a".into(), Role::Serve, a_budgets.clone(), FAST)
            .await
            .unwrap(),
    );
    assert_eq!(a_budgets.share().get(), 1);
    assert_eq!(a_op.per_second(), 90.0);
    let a_stop = CancellationToken::new();
    let a_heart = tokio::spawn({
        let (a, stop) = (a.clone(), a_stop.clone());
        async move { a.run(stop).await }
    });

    // B joins while A heartbeats: by the time B may spend, A already spends only half.
    let b = Membership::join(db.clone(), "b".into(), Role::Sync, b_budgets.clone(), FAST)
        .await
        .unwrap();
    assert_eq!(
        a_budgets.share().get(),
        2,
        "A had not made room when B joined"
    );
    assert_eq!(a_op.per_second(), 45.0);
    assert_eq!(b_budgets.share().get(), 2);
    // A budget made later is divided too, and the sync lane leaves the reserve.
    let b_op = b_budgets.account("haier_open_platform", url, 90).unwrap();
    assert_eq!(b_op.per_second(), 45.0);
    assert!((b_op.background_per_second() - 36.0).abs() < 1e-9);

    // C joins while B does not heartbeat: C waits for B until B's registration expires,
    // and goes on without it.
    let c = Membership::join(db.clone(), "c".into(), Role::Serve, c_budgets.clone(), FAST)
        .await
        .unwrap();
    assert_eq!(c_budgets.share().get(), 2);
    until("A sees B gone", || a_budgets.share().get() == 2).await;
    // B comes back: its heartbeat counts it again, and all divide by three.
    let beat = b.beat().await.unwrap();
    assert_eq!(beat.share.get(), 3);
    assert_eq!(
        beat.live.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(b_op.per_second(), 30.0);
    until("A takes a third", || a_budgets.share().get() == 3).await;
    assert_eq!(c.beat().await.unwrap().share.get(), 3);

    // B stops: the others take its share at their next heartbeat.
    b.leave().await;
    until("A takes B's share", || a_budgets.share().get() == 2).await;
    assert_eq!(c.beat().await.unwrap().share.get(), 2);

    // C dies (no heartbeat, no goodbye): A takes its share only once C expires.
    drop(c);
    until("A takes the share of C, dead", || {
        a_budgets.share().get() == 1
    })
    .await;
    assert_eq!(a_op.per_second(), 90.0);
    let live =
        supplyhub::store::instances::live(db, supplyhub::types::UtcTime::from_micros(0).unwrap())
            .await
            .unwrap();
    assert_eq!(
        live.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["a", "c"],
        "only a stopped instance deletes its row"
    );
    a_stop.cancel();
    a_heart.await.unwrap();
    a.leave().await;
    assert!(
        supplyhub::store::instances::live(db, supplyhub::types::UtcTime::from_micros(0).unwrap())
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != "a")
    );
}

/// Three `serve` processes on one PostgreSQL database, each syncing a supplier system of
/// the same supplier account, and a `supplyhub sync` beside them, all at once against a
/// sandbox that allows 100 requests a second: each alone would spend 90 a second, so
/// without a shared budget the supplier would throttle them. They divide it: no call is
/// throttled, and every run ends well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_syncing_at_once_are_never_throttled() {
    let t = crate::helpers::TestDb::postgres().await;
    three_instances_syncing_at_once(&t).await;
    t.cleanup().await;
}

struct Killed(Vec<std::process::Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn three_instances_syncing_at_once(t: &crate::helpers::TestDb) {
    use serde_json::{Value, json};
    use std::process::Stdio;

    let sb = crate::helpers::TestSandbox::start_with(sandbox::SandboxConfig {
        products: 240,
        seed: 29,
        rate_limit: 100,
        ..sandbox::SandboxConfig::default()
    })
    .await;
    let key = supplyhub::systems::crypto::generate_key_hex();
    let ring = supplyhub::systems::crypto::KeyRing::new(&key, &[]).unwrap();
    let token = "budget-test-admin-token";
    let mut env: Vec<(String, String)> = sb.sandbox.env();
    env.extend(
        [
            ("SUPPLYHUB_DATABASE_URL", t.url.as_str()),
            ("SUPPLYHUB_SECRET_KEY", key.as_str()),
            ("SUPPLYHUB_ADMIN_TOKEN", token),
            ("SUPPLYHUB_SCHEDULES__ENABLED", "false"),
            ("SUPPLYHUB_INSTANCES__HEARTBEAT_MILLIS", "200"),
            ("SUPPLYHUB_INSTANCES__EXPIRE_AFTER_MILLIS", "2000"),
            ("SUPPLYHUB_SYNC__COUNTIES", r#"["320106"]"#),
            ("RUST_LOG", "error"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    crate::leaks::learn_settings(&env);
    // Supplier systems of one account: one run at a time per system, so each instance
    // runs one, and the command line runs the last registered (the active one).
    let mut systems = Vec::new();
    for name in ["north", "south", "west", "command-line"] {
        systems.push(
            supplyhub::systems::http::register_supplier(&t.db, &ring, name, &sb.sandbox.env())
                .await
                .unwrap(),
        );
    }
    let command = |args: &[&str]| {
        let mut cmd = crate::helpers::supplyhub_command();
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        cmd
    };
    let mut addrs = Vec::new();
    let mut children = Killed(Vec::new());
    for _ in 0..3 {
        let port = crate::helpers::free_port();
        let addr = format!("127.0.0.1:{port}");
        children.0.push(
            command(&["serve", "--listen", &addr])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        addrs.push(addr);
    }
    let http = reqwest::Client::new();
    for addr in &addrs {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = http
                .get(format!("http://{addr}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "{addr} never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let calls_before = sb.stats().await["calls_total"].as_u64().unwrap();

    // One run on each instance, and the command line's beside them.
    let cli = command(&["sync", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut runs = Vec::new();
    for (addr, system) in addrs.iter().zip(&systems) {
        let resp = http
            .post(format!("http://{addr}/api/v1/sync-runs"))
            .bearer_auth(token)
            .json(&json!({"system_id": system, "kind": "full"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let started: Value = resp.json().await.unwrap();
        runs.push((addr.clone(), started["id"].as_str().unwrap().to_owned()));
    }
    // The registry counts them all while they run: three servers and the command line.
    let mut most_live = 0;
    let mut ended = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while ended.len() < runs.len() {
        assert!(
            Instant::now() < deadline,
            "the runs did not end in 5 minutes"
        );
        let live = supplyhub::store::instances::live(
            &t.db,
            supplyhub::types::UtcTime::from_micros(
                supplyhub::types::UtcTime::now().as_micros() - 2_000_000,
            )
            .unwrap(),
        )
        .await
        .unwrap();
        most_live = most_live.max(live.len());
        ended.clear();
        for (addr, id) in &runs {
            let run: Value = http
                .get(format!("http://{addr}/api/v1/sync-runs/{id}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if !matches!(run["status"].as_str(), Some("pending" | "processing")) {
                ended.push(run);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let out = cli.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli_run["system_id"], json!(systems[3]), "{cli_run}");
    assert!(
        most_live >= 4,
        "at most {most_live} instances were live at once"
    );

    let stats = sb.stats().await;
    let calls = stats["calls_total"].as_u64().unwrap() - calls_before;
    for run in ended.iter().chain([&cli_run]) {
        assert_eq!(run["status"], "success", "{run}");
        assert_eq!(run["rate_limited"], 0, "{run}");
        assert!(run["calls"].as_u64().unwrap() > 240, "{run}");
    }
    assert_eq!(
        stats["rate_limited"], 0,
        "the supplier throttled {} of {calls} calls",
        stats["rate_limited"]
    );
    drop(children);
    sb.sandbox.shutdown().await.unwrap();
}
