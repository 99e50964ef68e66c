//! Sync runs against the sandbox over real HTTP: the store must equal the sandbox's truth.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::Value;
use supplyhub::catalog::NOT_LISTED_REASON;
use supplyhub::store::Db;
use supplyhub::store::catalog::{Product, load_products_of_source};
use supplyhub::store::stock::{StockLevel, load_stock_levels_in_county};
use supplyhub::store::sync_runs::SyncRun;
use supplyhub::sync::{NoProgress, RunKind, SyncOptions};

use crate::helpers::{TestDb, TestSandbox};

const COUNTY: &str = "370212";

fn options(kind: RunKind) -> SyncOptions {
    SyncOptions {
        kind,
        product_codes: Vec::new(),
        category: None,
        brand: None,
        prices: true,
        stock: true,
        counties: vec![COUNTY.to_owned()],
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn decimal(v: &Value) -> Option<Decimal> {
    text(v).map(|t| {
        t.parse()
            .unwrap_or_else(|e| panic!("truth decimal {t}: {e}"))
    })
}

async fn products(db: &Db) -> BTreeMap<String, Product> {
    load_products_of_source(db, "haier")
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.code.clone(), p))
        .collect()
}

async fn levels(db: &Db) -> BTreeMap<(String, String), StockLevel> {
    load_stock_levels_in_county(db, COUNTY)
        .await
        .unwrap()
        .into_iter()
        .map(|l| ((l.product_code.clone(), l.warehouse_code.clone()), l))
        .collect()
}

/// Every field of every product, and every stock level in `COUNTY`, equals the truth.
async fn assert_store_matches_truth(db: &Db, sb: &TestSandbox) {
    let truth = sb.truth().await;
    let stored = products(db).await;
    for (code, t) in &truth {
        let procurable = t["isSales"] == "1";
        let Some(p) = stored.get(code) else {
            assert!(
                !procurable,
                "{code} is procurable at the supplier but missing here"
            );
            continue;
        };
        let c = &p.content;
        assert_eq!(c.is_procurable, procurable, "{code} isSales");
        assert_eq!(
            c.not_procurable_reason,
            text(&t["noSalesReason"]),
            "{code} noSalesReason"
        );
        assert_eq!(
            c.product_model,
            text(&t["productModel"]),
            "{code} productModel"
        );
        assert_eq!(
            c.name,
            text(&t["productModel"]).unwrap_or_else(|| code.clone()),
            "{code} name"
        );
        assert_eq!(
            c.product_group,
            text(&t["productGroupNamd"]),
            "{code} productGroupNamd"
        );
        assert_eq!(
            c.category,
            text(&t["productGroupNamd"]),
            "{code} category by group name"
        );
        assert_eq!(
            c.brand,
            text(&t["productBrandName"]),
            "{code} productBrandName"
        );
        assert_eq!(
            c.image_url,
            text(&t["productImageUrl"]),
            "{code} productImageUrl"
        );
        let pages: Vec<String> = serde_json::from_value(t["productLageUrls"].clone()).unwrap();
        assert_eq!(c.page_image_urls, pages, "{code} productLageUrls");
        if procurable {
            assert_eq!(
                c.supply_price.map(|m| m.amount()),
                decimal(&t["supplyPrice"]),
                "{code} supplyPrice"
            );
            assert_eq!(
                c.invoice_price.map(|m| m.amount()),
                decimal(&t["invoicePrice"]),
                "{code} invoicePrice"
            );
            assert_eq!(
                c.rebate_money.map(|m| m.amount()),
                decimal(&t["rebateMoney"]),
                "{code} rebateMoney"
            );
            assert_eq!(
                c.rebate_rate.map(|r| r.fraction()),
                decimal(&t["rebateRate"]),
                "{code} rebateRate"
            );
            assert_eq!(c.price_reason, text(&t["reason"]), "{code} reason");
            match (&t["stockRebatePolicy"], &c.stock_rebate_policy) {
                (Value::Number(_), Some(ours)) => {
                    assert_eq!(
                        ours.parse::<Decimal>().ok(),
                        decimal(&t["stockRebatePolicy"]),
                        "{code} stockRebatePolicy"
                    )
                }
                (theirs, ours) => assert_eq!(ours, &text(theirs), "{code} stockRebatePolicy"),
            }
        }
    }
    for (code, p) in &stored {
        if !truth.contains_key(code) {
            assert!(
                !p.content.is_procurable,
                "{code} was removed at the supplier"
            );
            assert_eq!(
                p.content.not_procurable_reason.as_deref(),
                Some(NOT_LISTED_REASON)
            );
        }
    }

    // Stock: each procurable product's warehouses in the county, as the supplier has them.
    let ours = levels(db).await;
    let mut expected = BTreeSet::new();
    for (code, t) in &truth {
        if t["isSales"] != "1" {
            continue;
        }
        let data = sb
            .get(&format!(
                "/_sandbox/stock?productCode={code}&countyCode={COUNTY}"
            ))
            .await;
        for w in data.as_array().expect("stock list") {
            let key = (code.clone(), w["secCode"].as_str().unwrap().to_owned());
            let l = ours
                .get(&key)
                .unwrap_or_else(|| panic!("no stock level {key:?}"));
            assert_eq!(
                l.stock.to_string(),
                w["stock"].as_str().unwrap(),
                "{key:?} stock"
            );
            assert_eq!(
                Some(l.warehouse_grade.clone()),
                text(&w["warehouseGrade"]),
                "{key:?} grade"
            );
            let tl = &w["timelinessData"];
            assert_eq!(l.cut_time, text(&tl["cutTime"]), "{key:?} cutTime");
            assert_eq!(
                l.eta,
                text(&tl["achieveUserOrderCut"]),
                "{key:?} achieveUserOrderCut"
            );
            assert_eq!(l.delivery_hours, text(&tl["hour"]), "{key:?} hour");
            assert_eq!(
                l.is_transfer,
                text(&tl["isTranfer"]).map(|v| v == "1"),
                "{key:?} isTranfer"
            );
            expected.insert(key);
        }
    }
    let stale: Vec<_> = ours
        .keys()
        .filter(|k| {
            !expected.contains(*k) && stored.get(&k.0).is_some_and(|p| p.content.is_procurable)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "warehouses the supplier no longer lists: {stale:?}"
    );
}

fn assert_counts_add_up(run: &SyncRun) {
    let c = &run.counts;
    assert!(c.created + c.updated + c.unchanged >= c.read, "{c:?}");
}

async fn full_sync_equals_the_truth(db: &Db) {
    let sb = TestSandbox::start(120, 11).await;
    let config = sb.config(&[]);
    let syncer = sb.syncer(db, &config);
    let run = syncer
        .run(&options(RunKind::Full), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success", "{run:?}");
    let truth = sb.truth().await;
    let procurable = truth.values().filter(|t| t["isSales"] == "1").count() as i64;
    assert_eq!(
        (run.counts.read, run.counts.created, run.counts.updated),
        (procurable, procurable, 0)
    );
    assert!(
        run.counts.stock_written >= procurable / 2,
        "{:?}",
        run.counts
    );
    let stats = sb.stats().await;
    assert_eq!(
        run.counts.calls,
        stats["calls_total"].as_i64().unwrap(),
        "every HTTP call is counted"
    );
    assert_eq!(
        stats["calls"]["prices"].as_i64().unwrap(),
        (procurable + 19) / 20,
        "20 prices a call"
    );
    assert_eq!(stats["calls"]["procurable_products"], 1, "one listing call");
    assert_store_matches_truth(db, &sb).await;

    // A second run over an unchanged catalog writes nothing.
    let before_products = products(db).await;
    let before_levels = levels(db).await;
    let again = syncer
        .run(&options(RunKind::Full), &NoProgress)
        .await
        .unwrap();
    assert_eq!(again.status, "success");
    assert_eq!(
        (again.counts.created, again.counts.updated),
        (0, 0),
        "{:?}",
        again.counts
    );
    assert_eq!(again.counts.unchanged, procurable);
    assert_eq!(
        products(db).await,
        before_products,
        "no product row was rewritten"
    );
    let after_levels = levels(db).await;
    // Only a passing cut-off may move a promised date between the two runs.
    let moved = after_levels
        .iter()
        .filter(|(k, l)| before_levels.get(*k).is_none_or(|b| b.eta != l.eta))
        .count() as i64;
    assert_eq!(
        again.counts.stock_written, moved,
        "stock rows written only where the supplier changed them"
    );
    if moved == 0 {
        assert_eq!(after_levels, before_levels);
    }
    assert_counts_add_up(&again);
    sb.sandbox.shutdown().await.unwrap();
}

async fn incremental_sync_writes_exactly_the_churned_products(db: &Db) {
    let sb = TestSandbox::start(150, 21).await;
    let config = sb.config(&[]);
    let syncer = sb.syncer(db, &config);
    let first = syncer
        .run(&options(RunKind::Full), &NoProgress)
        .await
        .unwrap();
    assert_eq!(first.status, "success");

    let churn = sb
        .post("/_sandbox/churn", serde_json::json!({"count": 30}))
        .await;
    let churned: BTreeMap<String, String> = churn["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["productCode"].as_str().unwrap().to_owned(),
                c["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(churned.len(), 30);
    let kinds: BTreeSet<&str> = churned.values().map(String::as_str).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["added", "price", "procurability", "removed"]),
        "the seed exercises every kind"
    );

    let before = products(db).await;
    let before_levels = levels(db).await;
    let run = syncer
        .run(&options(RunKind::Incremental), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success", "{run:?}");
    let after = products(db).await;

    let written: BTreeSet<&String> = after
        .iter()
        .filter(|(c, p)| before.get(*c) != Some(*p))
        .map(|(c, _)| c)
        .collect();
    let outside: Vec<_> = written
        .iter()
        .filter(|c| !churned.contains_key(**c))
        .collect();
    assert!(
        outside.is_empty(),
        "rows written for products that did not change: {outside:?}"
    );
    assert_eq!(
        run.counts.created + run.counts.updated,
        written.len() as i64,
        "{:?}",
        run.counts
    );
    // Every churned product we can see was written: those we held, and new procurable ones.
    let truth = sb.truth().await;
    for (code, change) in &churned {
        let visible_before = before.contains_key(code);
        let procurable_now = truth.get(code).is_some_and(|t| t["isSales"] == "1");
        let price_of_unheld = change == "price" && !visible_before;
        let invisible = !visible_before && !procurable_now || price_of_unheld;
        if !invisible {
            assert!(written.contains(code), "{code} ({change}) was not written");
        }
    }
    assert!(
        after
            .values()
            .any(|p| p.content.not_procurable_reason.as_deref() == Some(NOT_LISTED_REASON)),
        "a removed product is marked, not deleted"
    );
    // Stock was fetched and written only for products written in this run.
    let stock_rows_touched: BTreeSet<String> = levels(db)
        .await
        .into_iter()
        .filter(|(k, l)| before_levels.get(k) != Some(l))
        .map(|(k, _)| k.0)
        .collect();
    for code in &stock_rows_touched {
        assert!(
            written.contains(code) || !before_levels.keys().any(|k| &k.0 == code),
            "stock of unchanged {code} rewritten"
        );
    }
    let stats = sb.stats().await;
    let stock_calls_incremental = stats["calls"]["stock"].as_i64().unwrap() - first.counts.read;
    assert!(
        stock_calls_incremental <= written.len() as i64,
        "stock asked only for changed products"
    );
    assert_store_matches_truth(db, &sb).await;
    sb.sandbox.shutdown().await.unwrap();
}

crate::on_both_backends! {
    full_sync => full_sync_equals_the_truth;
    incremental_sync => incremental_sync_writes_exactly_the_churned_products;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_supplier_still_converges_and_the_run_says_what_happened() {
    let t = TestDb::sqlite().await;
    let sb = TestSandbox::start_with(sandbox::SandboxConfig {
        products: 100,
        seed: 5,
        rate_limit: 2000,
        faults: sandbox::FaultMode::Hostile,
        hang: std::time::Duration::from_millis(1500),
        ..sandbox::SandboxConfig::default()
    })
    .await;
    let config = sb.config(&[
        ("SUPPLYHUB_HAIER__TIMEOUT_MS", "300"),
        ("SUPPLYHUB_HAIER__BREAKER_THRESHOLD", "0"),
    ]);
    let (syncer, log) = sb.logged_syncer(&t.db, &config);

    let first = syncer
        .run(&options(RunKind::Full), &NoProgress)
        .await
        .unwrap();
    let stats = sb.stats().await;
    // Every attempt was recorded against the run, failures and retries included.
    log.flush().await;
    assert_eq!(log.dropped(), 0);
    let calls = supplyhub::store::calls::calls_of_sync_run(&t.db, &first.id, None, 100_000)
        .await
        .unwrap();
    assert_eq!(calls.len() as i64, first.counts.calls);
    assert_eq!(
        calls.iter().filter(|c| c.call.status == Some(429)).count() as i64,
        first.counts.rate_limited
    );
    assert!(
        calls.iter().any(|c| c.call.outcome != "ok"),
        "failed attempts are recorded"
    );
    assert!(
        calls.iter().any(|c| c.call.attempt.is_some_and(|a| a > 1)),
        "retries are recorded as such"
    );
    assert!(
        stats["faults_total"].as_i64().unwrap() > 0,
        "faults were served: {stats}"
    );
    assert!(
        first.counts.retries > 0,
        "faults were retried: {:?}",
        first.counts
    );
    assert_eq!(
        first.counts.calls,
        stats["calls_total"].as_i64().unwrap(),
        "calls agree with the supplier's count"
    );
    assert_eq!(
        first.counts.rate_limited,
        stats["too_many_requests"].as_i64().unwrap(),
        "429s agree"
    );
    match first.status.as_str() {
        "success" => assert_eq!(first.counts.failed, 0),
        "partial" => {
            assert!(first.counts.failed > 0);
            assert!(
                first
                    .error_summary
                    .as_deref()
                    .is_some_and(|s| s.contains("failed")),
                "{first:?}"
            );
        }
        // The listing itself failed after every retry: nothing to compare against.
        "failed" => assert!(
            first
                .error_summary
                .as_deref()
                .is_some_and(|s| s.contains("listing"))
        ),
        other => panic!("unexpected status {other}"),
    }

    // Later runs heal what failed: incremental runs retry products never stocked.
    let mut last = first;
    for _ in 0..6 {
        if last.status == "success" {
            break;
        }
        last = syncer
            .run(&options(RunKind::Incremental), &NoProgress)
            .await
            .unwrap();
    }
    assert_eq!(last.status, "success", "converged: {last:?}");
    sb.post("/_sandbox/faults", serde_json::json!({"mode": "none"}))
        .await;
    assert_store_matches_truth(&t.db, &sb).await;
    sb.sandbox.shutdown().await.unwrap();
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_one_codes_make_two_calls_and_filters_narrow_the_run() {
    let t = TestDb::sqlite().await;
    let sb = TestSandbox::start(200, 3).await;
    let config = sb.config(&[]);
    let syncer = sb.syncer(&t.db, &config);
    let truth = sb.truth().await;
    let codes: Vec<haier::ProductCode> = truth
        .iter()
        .filter(|(_, t)| t["isSales"] == "1")
        .take(21)
        .map(|(c, _)| haier::ProductCode::parse(c).unwrap())
        .collect();
    let mut opts = options(RunKind::Full);
    opts.product_codes = codes.clone();
    opts.stock = false;
    let run = syncer.run(&opts, &NoProgress).await.unwrap();
    assert_eq!(run.status, "success");
    assert_eq!(run.counts.created, 21);
    let stats = sb.stats().await;
    assert_eq!(stats["calls"]["procurable_products"], 2, "21 codes: 20 + 1");
    assert_eq!(stats["calls"]["prices"], 2);
    assert_eq!(
        stats["calls"]["stock"], 0,
        "--prices alone fetches no stock"
    );

    // A category filter syncs only that product group.
    let group = truth.values().find(|t| t["isSales"] == "1").unwrap()["productGroupNamd"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut opts = options(RunKind::Full);
    opts.category = Some(group.clone());
    opts.stock = false;
    let run = syncer.run(&opts, &NoProgress).await.unwrap();
    assert_eq!(run.status, "success");
    let in_group = truth
        .values()
        .filter(|t| t["isSales"] == "1" && t["productGroupNamd"] == group.as_str())
        .count() as i64;
    assert_eq!(run.counts.read, in_group);
    assert!(
        products(&t.db)
            .await
            .values()
            .all(|p| codes.iter().any(|c| c.as_ref() == p.code)
                || p.content.product_group.as_deref() == Some(&group))
    );
    sb.sandbox.shutdown().await.unwrap();
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_the_run_with_a_typed_reason() {
    let t = TestDb::sqlite().await;
    let sb = TestSandbox::start(20, 1).await;
    let config = sb.config(&[("SUPPLYHUB_HAIER__PASSWORD", "not-the-agreed-password")]);
    let run = sb
        .syncer(&t.db, &config)
        .run(&options(RunKind::Full), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "failed");
    let summary = run.error_summary.unwrap_or_default();
    assert!(
        summary.contains("listing") && summary.contains("约定密码错误"),
        "{summary}"
    );
    assert!(
        !summary.contains("not-the-agreed-password"),
        "no secret in the summary"
    );
    assert_eq!(run.counts.created, 0);
    sb.sandbox.shutdown().await.unwrap();
    t.cleanup().await;
}

/// Calls made inside a run carry its id; calls made beside it (a checkout's stock check
/// on the same client) carry none, however they interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_attributed_to_the_run_that_made_them() {
    let t = TestDb::sqlite().await;
    let sb = TestSandbox::start(10, 4).await;
    let config = sb.config(&[]);
    let log = supplyhub::calllog::CallLog::start(t.db.clone(), supplyhub::calllog::OPEN_PLATFORM);
    let observer: std::sync::Arc<dyn haier::CallObserver> = log.clone();
    let client = haier::OpenPlatform::builder(config.haier.clone().unwrap())
        .observer(observer)
        .build()
        .unwrap();
    let code = haier::ProductCode::parse(sb.truth().await.keys().next().unwrap()).unwrap();
    let stock = |n: usize| {
        let (client, code) = (&client, &code);
        async move {
            for _ in 0..n {
                client.stock(code, "110105").await.unwrap();
                tokio::task::yield_now().await;
            }
        }
    };
    tokio::join!(
        supplyhub::calllog::in_sync_run("run_a".to_owned(), stock(5)),
        stock(3),
        supplyhub::calllog::in_sync_run("run_b".to_owned(), stock(2)),
    );
    log.flush().await;
    let h3 = |calls: Vec<supplyhub::store::calls::CallEntry>| {
        calls
            .iter()
            .filter(|c| c.call.endpoint == "h3_stock")
            .count()
    };
    let of = |run: &'static str| {
        let db = t.db.clone();
        async move {
            supplyhub::store::calls::calls_of_sync_run(&db, run, None, 100)
                .await
                .unwrap()
        }
    };
    assert_eq!(h3(of("run_a").await), 5);
    assert_eq!(h3(of("run_b").await), 2);
    let Db::Sqlite(pool) = &t.db else {
        unreachable!("a SQLite test database")
    };
    let unattributed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM external_calls WHERE sync_run_id IS NULL AND endpoint = 'h3_stock'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unattributed, 3);
    sb.sandbox.shutdown().await.unwrap();
    t.cleanup().await;
}
