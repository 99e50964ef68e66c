//! Failure-rate monitoring: a supplier system whose calls keep failing goes to `error`
//! and tells its subscribers, once however many instances watch it; it returns to
//! `active` when its calls succeed again.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use supplyhub::budget::Budgets;
use supplyhub::store::Db;
use supplyhub::systems::crypto::KeyRing;
use supplyhub::systems::health::{HealthConfig, HealthWatch, REASON_PREFIX, Transition};

use crate::helpers::TestSandbox;

crate::on_both_backends! {
    a_failing_system_goes_to_error_and_back => a_failing_system_goes_to_error_and_back;
}

const SETTINGS: HealthConfig = HealthConfig {
    enabled: true,
    window_secs: 600,
    failure_threshold: 0.5,
    min_calls: 4,
    recover_after: 3,
    check_secs: 1,
};

/// The `system.status_changed` messages emitted so far, oldest first.
async fn status_events(db: &Db) -> Vec<Value> {
    let bodies: Vec<String> = match db {
        Db::Sqlite(p) => sqlx::query_scalar(
            "SELECT body FROM webhook_messages WHERE event_type = 'system.status_changed' ORDER BY created_at, id",
        )
        .fetch_all(p)
        .await
        .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(
            "SELECT body FROM webhook_messages WHERE event_type = 'system.status_changed' ORDER BY created_at, id",
        )
        .fetch_all(p)
        .await
        .unwrap(),
    };
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

/// An endpoint of `system` subscribed to `system.status_changed`, so that the events are
/// stored (nothing delivers them here).
async fn subscribe(db: &Db, system: &str) {
    const SQL: &str = "INSERT INTO webhook_endpoints (id, system_id, url, event_types, enabled, \
        secret_key_id, secret_nonce, secret_ciphertext, created_at, updated_at) \
        VALUES ('ep_health', $1, 'https://monitor.example/hooks', '[\"system.status_changed\"]', \
        TRUE, 'k', 'n', 'c', $2, $2)";
    let now = supplyhub::types::UtcTime::now();
    match db {
        Db::Sqlite(p) => sqlx::query(SQL)
            .bind(system)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query(SQL)
            .bind(system)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

/// The moves two instances' monitors make, judging at the same moment.
async fn judge_together(db: &Db, one: &HealthWatch, two: &HealthWatch) -> Vec<Transition> {
    let now = supplyhub::types::UtcTime::now();
    let (a, b) = tokio::join!(one.check(db, now), two.check(db, now));
    a.unwrap().into_iter().chain(b.unwrap()).collect()
}

async fn a_failing_system_goes_to_error_and_back(db: &Db) {
    let sb = TestSandbox::start(5, 47).await;
    let ring = KeyRing::ephemeral();
    let id = supplyhub::systems::http::register_supplier(db, &ring, "sandbox", &sb.sandbox.env())
        .await
        .unwrap();
    subscribe(db, &id).await;
    let row = supplyhub::store::systems::get(db, &id)
        .await
        .unwrap()
        .unwrap();
    // Two instances watch the system, each through its own client.
    let (one, two) = (HealthWatch::new(SETTINGS), HealthWatch::new(SETTINGS));
    let budgets = Budgets::default();
    let client_one =
        supplyhub::systems::http::open_platform_client_with(&ring, &row, None, &budgets, &one)
            .unwrap();
    let client_two =
        supplyhub::systems::http::open_platform_client_with(&ring, &row, None, &budgets, &two)
            .unwrap();

    // Healthy calls, then a throttled one: nothing moves.
    client_one.balance().await.unwrap();
    assert!(
        one.check(db, supplyhub::types::UtcTime::now())
            .await
            .unwrap()
            .is_empty()
    );
    sb.post(
        "/_sandbox/faults/next",
        json!({"fault": "burst_429", "endpoint": "balance", "count": 3}),
    )
    .await;
    let _ = client_one.balance().await;
    assert!(
        one.check(db, supplyhub::types::UtcTime::now())
            .await
            .unwrap()
            .is_empty()
    );

    // The supplier fails every balance call for a while: both instances see it.
    sb.post(
        "/_sandbox/faults/next",
        json!({"fault": "server_error", "endpoint": "balance", "count": 200}),
    )
    .await;
    for _ in 0..2 {
        assert!(client_one.balance().await.is_err());
        assert!(client_two.balance().await.is_err());
    }
    // Both judge at once: the system moves once, and one event tells of it.
    let moves = judge_together(db, &one, &two).await;
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(
        (moves[0].from.as_str(), moves[0].to.as_str()),
        ("active", "error")
    );
    let row = supplyhub::store::systems::get(db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "error");
    let why = row.last_error.clone().unwrap();
    assert!(why.starts_with(REASON_PREFIX), "{why}");
    assert!(why.ends_with(" calls failed in the last 600 s"), "{why}");
    let events = status_events(db).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (
            &events[0]["data"]["system_id"],
            &events[0]["data"]["previous_status"],
            &events[0]["data"]["status"]
        ),
        (&json!(id), &json!("active"), &json!("error"))
    );
    assert_eq!(events[0]["data"]["reason"], json!(why));
    // A failing supplier is still the supplier: its calls must be able to show recovery.
    assert_eq!(
        supplyhub::store::systems::active_supplier(db)
            .await
            .unwrap()
            .map(|r| r.id),
        Some(id.clone())
    );

    // The supplier works again: a few good calls bring it back, once.
    sb.http
        .delete(sb.url("/_sandbox/faults/next"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut good = 0;
    while good < SETTINGS.recover_after {
        assert!(Instant::now() < deadline, "the supplier kept failing");
        if client_one.balance().await.is_ok() {
            good += 1;
        }
    }
    let moves = judge_together(db, &one, &two).await;
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(
        (moves[0].from.as_str(), moves[0].to.as_str()),
        ("error", "active")
    );
    let row = supplyhub::store::systems::get(db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "active");
    let events = status_events(db).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["data"]["status"], "active");
    assert_eq!(events[1]["data"]["reason"], "calls succeed again");
    // Its failures are over: the next look keeps it active, also on the instance that
    // saw only the failures, before the recovery.
    assert!(
        two.check(db, supplyhub::types::UtcTime::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        one.check(db, supplyhub::types::UtcTime::now())
            .await
            .unwrap()
            .is_empty()
    );

    // An error set for another reason (a failed test) is the operator's to lift.
    supplyhub::store::systems::record_test(db, &id, "error", "{}", Some("wrong secret"))
        .await
        .unwrap();
    for _ in 0..SETTINGS.recover_after {
        client_one.balance().await.unwrap();
    }
    assert!(
        one.check(db, supplyhub::types::UtcTime::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        supplyhub::store::systems::get(db, &id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "error"
    );
    sb.sandbox.shutdown().await.unwrap();
}
