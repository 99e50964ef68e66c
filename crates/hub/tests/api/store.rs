//! The storage conformance suite: the same assertions on SQLite and PostgreSQL.

use std::collections::BTreeSet;

use supplyhub::store::Db;
use supplyhub::store::calls::{
    ExternalCall, calls_of_order, calls_of_sync_run, insert_calls, prune_calls,
};
use supplyhub::store::catalog::{
    ProductContent, ProductLinks, find_or_create_brand, find_or_create_category, get_product,
    list_products, load_products_of_source, upsert_product,
};
use supplyhub::store::stock::{
    StockLevel, delete_stock_level, load_stock_levels_in_county, stock_levels_of_product,
    upsert_stock_level,
};
use supplyhub::store::sync_runs::{
    RunCounts, SyncFailure, finish_run, get_run, insert_failure, insert_run, last_completed_run,
    list_failures, list_runs, mark_run_processing,
};
use supplyhub::types::{Money, UtcTime};

use crate::helpers::TestDb;

fn content(name: &str) -> ProductContent {
    ProductContent {
        name: name.to_owned(),
        product_model: Some(name.to_owned()),
        product_group: Some("冰箱".to_owned()),
        category: Some("冰箱".to_owned()),
        brand: Some("海尔".to_owned()),
        image_url: Some("https://img.invalid/a.jpg".to_owned()),
        page_image_urls: vec![
            "https://img.invalid/1.jpg".to_owned(),
            "https://img.invalid/2.jpg".to_owned(),
        ],
        is_procurable: true,
        not_procurable_reason: None,
        supply_price: Some("1999.98".parse().unwrap()),
        invoice_price: Some("12345678.905".parse().unwrap()),
        rebate_money: Some(Money::ZERO),
        rebate_rate: Some(supplyhub::types::Rate::new(rust_decimal::Decimal::ZERO)),
        stock_rebate_policy: Some("COM".to_owned()),
        price_reason: None,
    }
}

async fn products_round_trip_exactly(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    let cat = find_or_create_category(&mut tx, "冰箱").await.unwrap();
    let cat_again = find_or_create_category(&mut tx, "冰箱").await.unwrap();
    let other = find_or_create_category(&mut tx, "洗衣机").await.unwrap();
    assert_eq!(cat, cat_again, "found, not created twice");
    assert_ne!(cat, other);
    let brand = find_or_create_brand(&mut tx, "海尔").await.unwrap();
    let links = ProductLinks {
        category_id: Some(cat),
        brand_id: Some(brand),
    };
    let t0 = UtcTime::now();
    upsert_product(&mut tx, "BCD-1", "haier", &content("BCD-1"), &links, t0)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let p = get_product(db, "BCD-1").await.unwrap().expect("stored");
    assert_eq!(
        p.content,
        content("BCD-1"),
        "every field survives the round trip"
    );
    assert_eq!(p.created_at, t0);
    assert_eq!(p.updated_at, t0);
    assert_eq!(p.source, "haier");

    // An update keeps created_at and replaces the content.
    let mut changed = content("BCD-1");
    changed.is_procurable = false;
    changed.not_procurable_reason = Some("已停产".to_owned());
    changed.supply_price = None;
    let t1 = UtcTime::from_micros(t0.as_micros() + 1_000_001).unwrap();
    let mut tx = db.begin().await.unwrap();
    upsert_product(&mut tx, "BCD-1", "haier", &changed, &links, t1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let p = get_product(db, "BCD-1").await.unwrap().unwrap();
    assert_eq!(p.content, changed);
    assert_eq!((p.created_at, p.updated_at), (t0, t1));
    assert!(get_product(db, "nope").await.unwrap().is_none());
    assert_eq!(load_products_of_source(db, "haier").await.unwrap().len(), 1);
    assert!(
        load_products_of_source(db, "local")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn product_pages_follow_the_cursor(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    for code in ["C3", "A1", "B2", "D4", "E5"] {
        let mut c = content(code);
        c.category = None;
        c.brand = None;
        upsert_product(
            &mut tx,
            code,
            "haier",
            &c,
            &ProductLinks::default(),
            UtcTime::now(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let first = list_products(db, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(),
        ["A1", "B2"]
    );
    assert_eq!(first[0].content.category, None, "no category joins as null");
    let next = list_products(db, Some("B2"), 10).await.unwrap();
    assert_eq!(
        next.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(),
        ["C3", "D4", "E5"]
    );
}

fn level(product: &str, warehouse: &str, stock: i64) -> StockLevel {
    StockLevel {
        product_code: product.to_owned(),
        county_code: "370212".to_owned(),
        warehouse_code: warehouse.to_owned(),
        stock,
        warehouse_grade: "0".to_owned(),
        cut_time: Some("18:00".to_owned()),
        eta: Some("2026-11-23 18:00".to_owned()),
        delivery_hours: Some("48".to_owned()),
        is_transfer: Some(false),
        updated_at: UtcTime::now(),
    }
}

async fn stock_levels_upsert_and_delete(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    upsert_product(
        &mut tx,
        "P1",
        "haier",
        &content("P1"),
        &ProductLinks::default(),
        UtcTime::now(),
    )
    .await
    .unwrap();
    upsert_stock_level(&mut tx, &level("P1", "HFR2", 30))
        .await
        .unwrap();
    upsert_stock_level(&mut tx, &level("P1", "HFR9", 5))
        .await
        .unwrap();
    upsert_stock_level(&mut tx, &level("P1", "HFR2", 12))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let levels = stock_levels_of_product(db, "P1").await.unwrap();
    assert_eq!(
        levels
            .iter()
            .map(|l| (l.warehouse_code.as_str(), l.stock))
            .collect::<Vec<_>>(),
        [("HFR2", 12), ("HFR9", 5)]
    );
    assert!(levels[0].same_content(&level("P1", "HFR2", 12)));
    assert!(!levels[0].same_content(&level("P1", "HFR2", 13)));

    let mut tx = db.begin().await.unwrap();
    delete_stock_level(&mut tx, "P1", "370212", "HFR9")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        load_stock_levels_in_county(db, "370212")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        load_stock_levels_in_county(db, "110105")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn stock_levels_need_their_product(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    let err = upsert_stock_level(&mut tx, &level("GHOST", "HFR2", 1)).await;
    assert!(err.is_err(), "foreign keys are enforced");
}

async fn sync_runs_record_their_lifecycle(db: &Db) {
    let scope = serde_json::json!({"kind": "full", "counties": ["370212"]});
    insert_run(db, "run_a", "full", &scope).await.unwrap();
    insert_run(db, "run_b", "incremental", &scope)
        .await
        .unwrap();
    let pending = get_run(db, "run_a").await.unwrap().unwrap();
    assert_eq!(
        (pending.status.as_str(), pending.scope.clone()),
        ("pending", scope.clone())
    );
    assert!(last_completed_run(db).await.unwrap().is_none());

    let started = UtcTime::now();
    mark_run_processing(db, "run_a", started).await.unwrap();
    let counts = RunCounts {
        read: 10,
        created: 3,
        updated: 2,
        unchanged: 5,
        failed: 1,
        stock_written: 7,
        calls: 40,
        retries: 4,
        rate_limited: 1,
    };
    let mut tx = db.begin().await.unwrap();
    insert_failure(
        &mut tx,
        "run_a",
        &SyncFailure {
            item: "P9".to_owned(),
            stage: "stock".to_owned(),
            error_kind: "timeout".to_owned(),
            detail: "h3_stock: timed out".to_owned(),
            occurred_at: UtcTime::now(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    finish_run(
        db,
        "run_a",
        supplyhub::status::RunStatus::Partial,
        &counts,
        UtcTime::now(),
        1234,
        Some("1 items failed"),
    )
    .await
    .unwrap();

    let run = get_run(db, "run_a").await.unwrap().unwrap();
    assert_eq!(run.status, "partial");
    assert_eq!(run.counts, counts);
    assert_eq!(run.started_at, Some(started));
    assert_eq!(run.duration_ms, Some(1234));
    assert_eq!(run.error_summary.as_deref(), Some("1 items failed"));
    let failures = list_failures(db, "run_a", 10).await.unwrap();
    assert_eq!(
        failures
            .iter()
            .map(|f| (f.item.as_str(), f.error_kind.as_str()))
            .collect::<Vec<_>>(),
        [("P9", "timeout")]
    );
    assert_eq!(
        last_completed_run(db).await.unwrap().map(|r| r.id),
        Some("run_a".to_owned())
    );

    let runs = list_runs(db, None, 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["run_b", "run_a"],
        "newest first"
    );
    let after = list_runs(db, Some("run_b"), 10).await.unwrap();
    assert_eq!(after.len(), 1);
}

async fn recorded_calls_are_paged_by_run_and_pruned_outside_orders(db: &Db) {
    let day = 86_400_000_000_i64;
    let now = UtcTime::now().as_micros();
    let call = |run: Option<&str>, order: Option<&str>, age_days: i64, attempt: i64| ExternalCall {
        system: "haier_open_platform".to_owned(),
        endpoint: "h3_stock".to_owned(),
        order_id: order.map(str::to_owned),
        job_id: None,
        sync_run_id: run.map(str::to_owned),
        attempt: Some(attempt),
        request: None,
        response: None,
        status: Some(200),
        outcome: "ok".to_owned(),
        latency_ms: 12,
        created_at: UtcTime::from_micros(now - age_days * day).unwrap(),
    };
    let calls = [
        call(Some("run_a"), None, 10, 1),
        call(Some("run_a"), None, 10, 2),
        call(Some("run_a"), None, 10, 1),
        call(None, Some("ord_a"), 10, 1),
        call(None, None, 10, 1),
        call(Some("run_a"), None, 0, 1),
        call(Some("run_b"), None, 0, 1),
        call(Some("run_a"), None, 0, 3),
    ];
    insert_calls(db, &calls).await.unwrap();

    // A run's calls come oldest first, page by page, and only that run's.
    let first = calls_of_sync_run(db, "run_a", None, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[1].call, calls[1]);
    let rest = calls_of_sync_run(db, "run_a", Some(first[1].id), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|c| c.call.attempt).collect::<Vec<_>>(),
        [Some(1), Some(1), Some(3)]
    );
    assert!(first[1].id < rest[0].id);

    // Pruning removes old calls outside orders, and nothing else.
    let cutoff = UtcTime::from_micros(now - 5 * day).unwrap();
    assert_eq!(prune_calls(db, cutoff).await.unwrap(), 4);
    assert_eq!(prune_calls(db, cutoff).await.unwrap(), 0);
    let left = calls_of_sync_run(db, "run_a", None, 10).await.unwrap();
    assert_eq!(
        left.iter().map(|c| c.call.attempt).collect::<Vec<_>>(),
        [Some(1), Some(3)]
    );
    assert_eq!(
        calls_of_sync_run(db, "run_b", None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        calls_of_order(db, "ord_a", None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.call)
            .collect::<Vec<_>>(),
        [calls[3].clone()]
    );
}

crate::on_both_backends! {
    calls => recorded_calls_are_paged_by_run_and_pruned_outside_orders;
    products_round_trip => products_round_trip_exactly;
    product_pages => product_pages_follow_the_cursor;
    stock_levels => stock_levels_upsert_and_delete;
    stock_foreign_keys => stock_levels_need_their_product;
    sync_runs => sync_runs_record_their_lifecycle;
}

/// The twin migrations must describe the same tables and columns.
#[tokio::test]
async fn migrations_agree_on_tables_and_columns() {
    let lite = TestDb::sqlite().await;
    let pg = TestDb::postgres().await;
    let mut sqlite_cols = BTreeSet::new();
    let mut pg_cols = BTreeSet::new();
    if let Db::Sqlite(pool) = &lite.db {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        sqlite_cols.extend(rows);
    }
    if let Db::Postgres(pool) = &pg.db {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        pg_cols.extend(rows);
    }
    assert!(
        sqlite_cols.len() > 40,
        "the schema was read: {sqlite_cols:?}"
    );
    assert_eq!(sqlite_cols, pg_cols);
    lite.cleanup().await;
    pg.cleanup().await;
}
