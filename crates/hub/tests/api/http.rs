//! The REST API over real HTTP.

use std::collections::BTreeSet;

use crate::helpers::{TestApp, TestDb, TestSandbox};
use supplyhub::store::Db;
use supplyhub::store::catalog::{ProductContent, ProductLinks, upsert_product};
use supplyhub::types::UtcTime;

async fn seed_products(db: &supplyhub::store::Db, codes: &[&str]) {
    let mut tx = db.begin().await.unwrap();
    for code in codes {
        let content = ProductContent {
            name: (*code).to_owned(),
            product_model: None,
            product_group: None,
            category: None,
            brand: None,
            image_url: None,
            page_image_urls: vec![],
            is_procurable: true,
            not_procurable_reason: None,
            supply_price: Some("10.50".parse().unwrap()),
            invoice_price: None,
            rebate_money: None,
            rebate_rate: None,
            stock_rebate_policy: None,
            price_reason: None,
        };
        upsert_product(
            &mut tx,
            code,
            "haier",
            &content,
            &ProductLinks::default(),
            UtcTime::now(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn products_are_paged_with_a_cursor(db: &Db) {
    seed_products(db, &["A1", "B2", "C3"]).await;
    let app = TestApp::spawn(db, None).await;

    let (status, page) = app.list_products("?limit=2").await;
    assert_eq!(status, 200);
    let codes: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["A1", "B2"]);
    assert_eq!(
        page["items"][0]["supply_price"], "10.50",
        "money is a decimal string"
    );
    assert_eq!(page["next"], "B2");
    let (_, last) = app.list_products("?limit=2&after=B2").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert!(last["next"].is_null(), "no next on the last page");

    let (status, detail) = app.get_product("C3").await;
    assert_eq!(status, 200);
    assert_eq!(detail["code"], "C3");
    assert_eq!(detail["stock_levels"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_input_gets_a_named_4xx() {
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(&t.db, None).await;
    for (query, needle) in [
        ("?limit=0", "limit"),
        ("?limit=abc", "abc"),
        ("?limit=501", "501"),
        ("?after=", "after"),
    ] {
        let (status, body) = app.list_products(query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["code"], "invalid_parameter");
        assert!(
            body["detail"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
    let (status, body) = app.get_product("NOPE").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = app.get_sync_run("run_nope").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = app.get("/no/such/route").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // A path segment that is not UTF-8 once decoded, and a method a route does not take,
    // are JSON errors too.
    let (status, body) = app.get("/api/v1/orders/%00%FF").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    assert!(body["detail"].as_str().unwrap().contains("UTF-8"), "{body}");
    let resp = app
        .http
        .delete(format!("{}/api/v1/products", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
    assert!(
        body["detail"].as_str().unwrap().contains("DELETE"),
        "{body}"
    );
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    t.cleanup().await;
}

#[tokio::test]
async fn the_admin_token_guards_the_api() {
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(&t.db, Some("s3cret-admin")).await;
    for token in [None, Some("wrong"), Some("s3cret-admin2")] {
        let resp = app.get_raw("/api/v1/products", token).await;
        assert_eq!(resp.status().as_u16(), 401, "{token:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
        assert!(
            !body.to_string().contains("s3cret-admin"),
            "the token never shows"
        );
    }
    let ok = app.get_raw("/api/v1/products", Some("s3cret-admin")).await;
    assert_eq!(ok.status().as_u16(), 200);
    let health = app.get_raw("/healthz", None).await;
    assert_eq!(health.status().as_u16(), 200, "health stays open");
    t.cleanup().await;
}

/// The committed `openapi.json` is what the code generates; regenerate it with
/// `UPDATE_OPENAPI=1 cargo test -p supplyhub --test api openapi`.
#[tokio::test]
async fn openapi_document_is_committed_and_served() {
    let generated = serde_json::to_string_pretty(&supplyhub::http::openapi()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is stale: run UPDATE_OPENAPI=1 cargo test -p supplyhub --test api openapi"
    );

    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(&t.db, Some("tok")).await;
    let (status, served) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = served["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/api/v1/products",
        "/api/v1/products/{code}",
        "/api/v1/sync-runs",
        "/api/v1/sync-runs/{id}",
        "/api/v1/sync-runs/{id}/calls",
    ] {
        assert!(paths.contains_key(p), "{p} documented");
    }
    t.cleanup().await;
}

async fn sync_runs_and_stock_levels_are_served(db: &Db) {
    let sb = TestSandbox::start(30, 2).await;
    let config = sb.config(&[]);
    let opts = supplyhub::sync::SyncOptions {
        kind: supplyhub::sync::RunKind::Full,
        product_codes: vec![],
        category: None,
        brand: None,
        prices: true,
        stock: true,
        counties: vec!["110105".to_owned()],
    };
    let (syncer, log) = sb.logged_syncer(db, &config);
    let run = syncer
        .run(&opts, &supplyhub::sync::NoProgress)
        .await
        .unwrap();
    log.flush().await;
    let app = TestApp::spawn(db, None).await;

    // Every attempt the run made is listed, page by page, and agrees with the supplier.
    let mut calls = Vec::new();
    let mut query = "?limit=7".to_owned();
    loop {
        let (status, page) = app
            .get(&format!("/api/v1/sync-runs/{}/calls{query}", run.id))
            .await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 7);
        calls.extend(items.iter().cloned());
        match page["next"].as_str() {
            Some(next) => query = format!("?limit=7&after={next}"),
            None => break,
        }
    }
    let stats = sb.stats().await;
    assert_eq!(calls.len() as i64, run.counts.calls);
    assert_eq!(calls.len() as i64, stats["calls_total"].as_i64().unwrap());
    assert!(calls.iter().all(|c| c["sync_run_id"] == run.id.as_str()
        && c["system"] == "haier_open_platform"
        && c["outcome"] == "ok"
        && c["status"] == 200));
    let endpoints: BTreeSet<&str> = calls
        .iter()
        .map(|c| c["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        BTreeSet::from(["token", "h1_procurable", "h2_prices", "h3_stock"])
    );
    let stock_calls = calls.iter().filter(|c| c["endpoint"] == "h3_stock").count();
    assert_eq!(
        stock_calls as i64,
        stats["calls"]["stock"].as_i64().unwrap()
    );
    let (status, body) = app.get("/api/v1/sync-runs/run_nope/calls").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = app
        .get(&format!("/api/v1/sync-runs/{}/calls?after=abc", run.id))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("abc"), "{body}");

    let (status, runs) = app.list_sync_runs("?limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(runs["items"][0]["id"], run.id.as_str());
    assert_eq!(runs["items"][0]["status"], "success");
    assert_eq!(runs["items"][0]["created"], run.counts.created);
    assert_eq!(
        runs["items"][0]["scope"]["counties"],
        serde_json::json!(["110105"])
    );
    let (status, detail) = app.get_sync_run(&run.id).await;
    assert_eq!(status, 200);
    assert_eq!(detail["failures"], serde_json::json!([]));
    assert!(detail["duration_ms"].as_i64().is_some());

    let (_, page) = app.list_products("?limit=1").await;
    let code = page["items"][0]["code"].as_str().unwrap().to_owned();
    let (status, product) = app.get_product(&code).await;
    assert_eq!(status, 200);
    let truth = sb
        .get(&format!(
            "/_sandbox/stock?productCode={code}&countyCode=110105"
        ))
        .await;
    let levels = product["stock_levels"].as_array().unwrap();
    assert_eq!(levels.len(), truth.as_array().unwrap().len(), "{product}");
    assert!(levels.iter().all(|l| l["county_code"] == "110105"));
    sb.sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn addresses_resolve_over_http_and_never_default() {
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(&t.db, None).await;
    let (status, r) = app.get("/api/v1/regions/resolve?address=%E4%B8%8A%E6%B5%B7%E5%B8%82%E6%B5%A6%E4%B8%9C%E6%96%B0%E5%8C%BA%E4%B8%89%E6%9E%97%E8%B7%AF15%E5%8F%B7").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["code"].as_str(), r["level"].as_str()),
        (Some("310115"), Some("county"))
    );
    assert!(!r["spans"].as_array().unwrap().is_empty());

    let (status, r) = app
        .get("/api/v1/regions/resolve?province=%E5%8C%97%E4%BA%AC%E5%B8%82&city=%E5%B8%82%E8%BE%96%E5%8C%BA&district=%E6%9C%9D%E9%98%B3%E5%8C%BA")
        .await;
    assert_eq!(
        (status, r["code"].as_str()),
        (200, Some("110105")),
        "北京市/市辖区/朝阳区: {r}"
    );

    let (status, r) = app
        .get("/api/v1/regions/resolve?address=%E5%90%88%E4%BD%9C%E5%85%B1%E8%B5%A2")
        .await;
    assert_eq!(status, 200);
    assert!(r["code"].is_null(), "合作共赢 is no address: {r}");
    assert_eq!(r["level"], "none");

    for query in ["", "?address=x&city=y"] {
        let (status, body) = app.get(&format!("/api/v1/regions/resolve{query}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{query}"
        );
    }
    let long = "路".repeat(600);
    let (status, _) = app
        .get(&format!("/api/v1/regions/resolve?address={long}"))
        .await;
    assert_eq!(status, 400);
    t.cleanup().await;
}

/// Every item of a paged list, following `next` with pages of `limit`, as the values of
/// `key`; fails on a page larger than `limit` or a cursor that comes back.
async fn page_through(app: &TestApp, path: &str, limit: u32, key: &str) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut query = format!("{path}{sep}limit={limit}");
    let mut seen = Vec::new();
    let mut cursors = BTreeSet::new();
    loop {
        let (status, page) = app.get(&query).await;
        assert_eq!(status, 200, "{query}: {page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize, "{query}: {page}");
        seen.extend(items.iter().map(|i| i[key].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => {
                assert!(
                    cursors.insert(next.to_owned()),
                    "{query}: cursor {next} again"
                );
                query = format!("{path}{sep}limit={limit}&after={next}");
            }
            None => return seen,
        }
    }
}

/// The lists of runs, orders, jobs and products start without a cursor and page through
/// every item, in the same order on both backends (ids newest first, codes bytewise),
/// whatever the database's collation.
async fn lists_page_through_every_item_whatever_the_collation(db: &Db) {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let id = supplyhub::store::new_id("run");
        supplyhub::store::sync_runs::insert_run(db, &id, "full", &serde_json::json!({}))
            .await
            .unwrap();
        runs.push(id);
    }
    let mut orders = Vec::new();
    let mut jobs = Vec::new();
    for i in 0..5 {
        let o = crate::callbacks::seed_order(db, &format!("PG{i}"), "paid", "pushed").await;
        let mut tx = db.begin().await.unwrap();
        supplyhub::store::jobs::enqueue(
            &mut tx,
            "push_order",
            &serde_json::json!({"order_id": o.id}),
            &format!("push_order:{}", o.id),
            3,
            UtcTime::now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        orders.push(o.id);
    }
    for j in supplyhub::store::jobs::list_jobs(db, None, None, 100)
        .await
        .unwrap()
    {
        jobs.push(j.id);
    }
    // Bytewise, upper case sorts before lower case and `-` before digits; a linguistic
    // collation orders these otherwise.
    let codes = ["b4", "B2", "a1", "C3", "A-0", "A10", "A9"];
    seed_products(db, &codes).await;
    let app = TestApp::spawn(db, None).await;

    let newest_first = |ids: &[String]| {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.reverse();
        ids
    };
    assert_eq!(jobs.len(), 5, "the store lists every job without a cursor");
    assert_eq!(
        page_through(&app, "/api/v1/sync-runs", 2, "id").await,
        newest_first(&runs)
    );
    assert_eq!(
        page_through(&app, "/api/v1/orders", 2, "id").await,
        newest_first(&orders)
    );
    assert_eq!(
        page_through(&app, "/api/v1/jobs", 2, "id").await,
        newest_first(&jobs)
    );
    assert_eq!(
        page_through(&app, "/api/v1/jobs?status=queued", 2, "id").await,
        newest_first(&jobs)
    );
    let mut bytewise: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
    bytewise.sort();
    assert_eq!(
        bytewise,
        ["A-0", "A10", "A9", "B2", "C3", "a1", "b4"],
        "the order the API promises"
    );
    // With the two products the orders hold.
    bytewise.extend(["BS01U000N".to_owned(), "XQG100-B14".to_owned()]);
    bytewise.sort();
    assert_eq!(
        page_through(&app, "/api/v1/products", 2, "code").await,
        bytewise
    );
}

crate::on_both_backends! {
    products_are_paged_with_a_cursor => products_are_paged_with_a_cursor;
    sync_runs_and_stock_levels_are_served => sync_runs_and_stock_levels_are_served;
    lists_page_through_every_item_whatever_the_collation => lists_page_through_every_item_whatever_the_collation;
}
