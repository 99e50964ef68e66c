//! Records from the retailer's systems: POS transactions (refunds never exceed their
//! sale, also under concurrent refunds), supplier orders (their state machine, one
//! winner of concurrent transitions), members (out-of-order and concurrent updates end
//! at the newest), idempotency on the external id, `records::apply`, and bad input.

use std::collections::BTreeMap;

use futures::future::join_all;
use serde_json::{Value, json};
use supplyhub::records::{self, Outcome, RecordKind};
use supplyhub::store::Db;

use crate::helpers::TestApp;

const TOKEN: &str = "records-admin-token";

struct App {
    app: TestApp,
}

impl App {
    async fn spawn(db: &Db) -> App {
        App {
            app: TestApp::spawn(db, Some(TOKEN)).await,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.app.http, &self.app.base, method, path, body).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn system(&self, name: &str, kind: &str) -> String {
        let settings = if kind == "supplier" {
            json!({"vendor": "haier"})
        } else {
            json!({})
        };
        let (status, body) = self
            .post(
                "/api/v1/systems",
                json!({"name": name, "kind": kind, "status": "active", "settings": settings}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn sale(external_id: &str, lines: Value, total: &str) -> Value {
    json!({
        "external_id": external_id,
        "kind": "sale",
        "occurred_at": "2026-11-30T10:15:00+08:00",
        "store": "SH-001",
        "customer": {"id": "c-1", "name": "王芳", "mobile": "13812345678"},
        "payment_method": "wechat",
        "lines": lines,
        "total": total,
    })
}

fn refund(external_id: &str, sale: &str, lines: Value, total: &str) -> Value {
    json!({
        "external_id": external_id,
        "kind": "refund",
        "sale_external_id": sale,
        "occurred_at": "2026-11-30T11:00:00Z",
        "lines": lines,
        "total": total,
    })
}

fn void(external_id: &str, sale: &str, total: &str) -> Value {
    json!({
        "external_id": external_id,
        "kind": "void",
        "sale_external_id": sale,
        "occurred_at": "2026-11-30T11:00:00Z",
        "total": total,
    })
}

fn line(sku: &str, quantity: u32, unit_price: &str) -> Value {
    json!({"sku": sku, "name": format!("商品 {sku}"), "quantity": quantity, "unit_price": unit_price})
}

/// Sales, refunds and voids: totals checked against the lines, refunds bounded by what
/// the sale has left (per SKU and in amount), voids of refunded sales and refunds of
/// voided ones refused, repeats answered as already recorded, mobiles masked in lists.
async fn pos_sales_refunds_and_voids(db: &Db) {
    let app = App::spawn(db).await;
    let pos = app.system("till-1", "pos").await;
    let path = format!("/api/v1/pos/{pos}/transactions");
    let lines = json!([
        line("SKU-A", 2, "100.00"),
        {"sku": "SKU-B", "name": "B", "quantity": 1, "unit_price": "50", "discount": "5.50"}
    ]);
    let (status, s1) = app.post(&path, sale("S1", lines.clone(), "244.50")).await;
    assert_eq!(status, 201, "{s1}");
    assert_eq!(s1["status"], "completed");
    assert_eq!(s1["lines"][1]["amount"], "44.50");
    assert_eq!(s1["customer"]["mobile"], "13812345678");

    // The same sale again: already recorded, the same record; other content: refused.
    let (status, again) = app.post(&path, sale("S1", lines.clone(), "244.50")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], s1["id"]);
    let (status, body) = app
        .post(&path, sale("S1", json!([line("SKU-A", 1, "100")]), "100"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("external_id_reused")),
        "{body}"
    );

    // Totals are the lines' sum.
    let (status, body) = app.post(&path, sale("S2", lines.clone(), "250")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_record")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("244.50"),
        "{body}"
    );

    // Refunds: per SKU and in amount, never more than is left.
    let (status, r1) = app
        .post(
            &path,
            refund("R1", "S1", json!([line("SKU-A", 1, "100.00")]), "100.00"),
        )
        .await;
    assert_eq!(status, 201, "{r1}");
    assert_eq!(r1["sale_id"], s1["id"]);
    let (_, s1_now) = app
        .get(&format!(
            "/api/v1/pos/transactions/{}",
            s1["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s1_now["status"], "partially_refunded");
    assert_eq!(s1_now["refunded_amount"], "100.00");
    assert_eq!(s1_now["refunded_quantities"]["SKU-A"], 1);
    let (status, body) = app
        .post(
            &path,
            refund("R2", "S1", json!([line("SKU-A", 2, "100.00")]), "200.00"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("refund_exceeds_sale")),
        "{body}"
    );
    let (status, body) = app
        .post(
            &path,
            refund("R3", "S1", json!([line("SKU-C", 1, "1")]), "1"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_record")),
        "{body}"
    );
    // In amount: one unit of B at a price above what is left.
    let (status, body) = app
        .post(
            &path,
            refund("R4", "S1", json!([line("SKU-B", 1, "150")]), "150"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("refund_exceeds_sale")),
        "{body}"
    );
    let (status, body) = app
        .post(
            &path,
            refund("R5", "NOPE", json!([line("SKU-A", 1, "1")]), "1"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("sale_not_found")),
        "{body}"
    );

    // A void of a refunded sale is refused.
    let (status, body) = app.post(&path, void("V1", "S1", "244.50")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("sale_refunded")),
        "{body}"
    );

    // A void of an untouched sale voids it; a refund of it is then refused.
    let (status, _) = app
        .post(&path, sale("S3", json!([line("SKU-A", 1, "10")]), "10"))
        .await;
    assert_eq!(status, 201);
    let (status, body) = app.post(&path, void("V3", "S3", "9")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_record")),
        "{body}"
    );
    let (status, v3) = app.post(&path, void("V3", "S3", "10")).await;
    assert_eq!(status, 201, "{v3}");
    let (status, body) = app
        .post(
            &path,
            refund("R6", "S3", json!([line("SKU-A", 1, "10")]), "10"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("sale_voided")),
        "{body}"
    );
    let (status, body) = app.post(&path, void("V4", "S3", "10")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("sale_voided")),
        "{body}"
    );
    let (status, again) = app.post(&path, void("V3", "S3", "10")).await;
    assert_eq!(
        (status, &again["id"]),
        (200, &v3["id"]),
        "a repeated void: {again}"
    );

    // A batch: each item on its own, a bad one loses nothing.
    let (status, batch) = app
        .post(
            &path,
            json!({"items": [
                sale("B1", json!([line("SKU-A", 1, "10")]), "10"),
                {"external_id": "B2", "kind": "sale"},
                sale("S1", lines.clone(), "244.50"),
                refund("B3", "B1", json!([line("SKU-A", 1, "10")]), "10"),
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    let items = batch["items"].as_array().unwrap();
    let got: Vec<(u64, Option<&str>, Option<&str>)> = items
        .iter()
        .map(|i| {
            (
                i["status"].as_u64().unwrap(),
                i["outcome"].as_str(),
                i["code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (201, Some("created"), None),
            (422, None, Some("invalid_record")),
            (200, Some("already_recorded"), None),
            (201, Some("created"), None),
        ],
        "{batch}"
    );
    assert!(
        items[1]["detail"].as_str().unwrap().contains("occurred_at"),
        "{batch}"
    );

    // Lists: filtered, paged, mobiles masked.
    let (status, page) = app
        .get(&format!(
            "/api/v1/pos/transactions?system={pos}&kind=sale&limit=2"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["kind"] == "sale")
    );
    let next = page["next"].as_str().unwrap();
    let (_, rest) = app
        .get(&format!(
            "/api/v1/pos/transactions?system={pos}&kind=sale&limit=2&after={next}"
        ))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest["next"].is_null());
    let (_, voided) = app.get("/api/v1/pos/transactions?status=voided").await;
    let listed = &voided["items"][0];
    assert_eq!(listed["external_id"], "S3");
    assert_eq!(listed["customer"]["mobile"], "138****5678");
    let (_, none) = app
        .get("/api/v1/pos/transactions?since=2030-01-01T00:00:00Z")
        .await;
    assert_eq!(none["items"], json!([]));

    // The system must be a POS system that exists.
    let member = app.system("loyalty", "member").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/pos/{member}/transactions"),
            sale("X", json!([line("A", 1, "1")]), "1"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("wrong_system_kind")),
        "{body}"
    );
    let (status, body) = app
        .post(
            "/api/v1/pos/sys_nope/transactions",
            sale("X", json!([line("A", 1, "1")]), "1"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
}

/// Refunds racing each other over HTTP never take more than the sale had: of 24
/// concurrent one-unit refunds of a ten-unit sale, ten are recorded and the sale ends
/// refunded in full; the same refund sent 8 times at once is recorded once.
async fn concurrent_refunds_never_exceed_the_sale(db: &Db) {
    let app = App::spawn(db).await;
    let pos = app.system("till-race", "pos").await;
    let path = format!("/api/v1/pos/{pos}/transactions");
    let (status, s) = app
        .post(
            &path,
            sale("RACE", json!([line("SKU-A", 10, "9.99")]), "99.90"),
        )
        .await;
    assert_eq!(status, 201, "{s}");
    let calls = (0..24).map(|i| {
        let (http, base, path) = (app.app.http.clone(), app.app.base.clone(), path.clone());
        async move {
            let body = refund(
                &format!("RR-{i}"),
                "RACE",
                json!([line("SKU-A", 1, "9.99")]),
                "9.99",
            );
            call(&http, &base, reqwest::Method::POST, &path, Some(body)).await
        }
    });
    let results = join_all(calls).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "refund_exceeds_sale")
        .count();
    assert_eq!((created, refused), (10, 14), "{results:?}");
    let (_, sale_now) = app
        .get(&format!(
            "/api/v1/pos/transactions/{}",
            s["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sale_now["status"], "refunded");
    assert_eq!(sale_now["refunded_amount"], "99.90");
    assert_eq!(sale_now["refunded_quantities"]["SKU-A"], 10);

    let (status, _) = app
        .post(&path, sale("RACE2", json!([line("SKU-A", 3, "1")]), "3"))
        .await;
    assert_eq!(status, 201);
    let calls = (0..8).map(|_| {
        let (http, base, path) = (app.app.http.clone(), app.app.base.clone(), path.clone());
        async move {
            let body = refund("SAME", "RACE2", json!([line("SKU-A", 2, "1")]), "2");
            call(&http, &base, reqwest::Method::POST, &path, Some(body)).await
        }
    });
    let results = join_all(calls).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{results:?}"
    );
    let ids: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| r.1["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "one record: {ids:?}");
    let (_, page) = app
        .get("/api/v1/pos/transactions?kind=refund&limit=500")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 11);
}

fn order(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "lines": [
            {"sku": "BCD-470", "name": "冰箱", "quantity": 3, "unit_price": "2999.00"},
            {"sku": "EG100", "name": "洗衣机", "quantity": 1, "unit_price": "1999.50"}
        ],
        "total": "10996.50",
        "delivery": {"warehouse": "WH-SH", "address": "上海市浦东新区", "contact": "李雷", "phone": "021-5555", "expected_at": "2026-12-10T09:00:00+08:00"},
        "note": "first order"
    })
}

/// Supplier orders: created pending (idempotently), moved along pending → confirmed →
/// shipped → delivered with each state's time kept, cancelled only from pending or
/// confirmed, any other transition 409 naming both states; of 12 concurrent
/// confirmations one wins.
async fn supplier_orders_follow_their_state_machine(db: &Db) {
    let app = App::spawn(db).await;
    let supplier = app.system("haier-b2b", "supplier").await;
    let path = format!("/api/v1/supplier-orders/{supplier}");
    let (status, o) = app.post(&path, order("PO-1")).await;
    assert_eq!(status, 201, "{o}");
    assert_eq!(o["state"], "pending");
    assert!(o["pending_at"].is_string() && o["confirmed_at"].is_null());
    assert_eq!(o["kind"], "purchase");
    let (status, again) = app.post(&path, order("PO-1")).await;
    assert_eq!((status, &again["id"]), (200, &o["id"]));
    let mut other = order("PO-1");
    other["note"] = json!("changed");
    let (status, body) = app.post(&path, other).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("external_id_reused"))
    );
    let mut bad = order("PO-2");
    bad["total"] = json!("1");
    let (status, body) = app.post(&path, bad).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_record")),
        "{body}"
    );

    let id = o["id"].as_str().unwrap();
    let to = |state: &str| json!({"to": state});
    let tpath = format!("/api/v1/supplier-orders/{id}/transitions");
    let (status, body) = app.post(&tpath, to("shipped")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("pending") && detail.contains("shipped"),
        "{detail}"
    );
    for state in ["confirmed", "shipped", "delivered"] {
        let (status, body) = app.post(&tpath, to(state)).await;
        assert_eq!(
            (status, body["state"].as_str()),
            (200, Some(state)),
            "{body}"
        );
        assert!(body[format!("{state}_at")].is_string(), "{body}");
    }
    let (status, body) = app.post(&tpath, to("cancelled")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (_, got) = app.get(&format!("/api/v1/supplier-orders/{id}")).await;
    assert_eq!(got["state"], "delivered");
    assert!(got["cancelled_at"].is_null());
    assert_eq!(got["delivery"]["warehouse"], "WH-SH");

    // Cancelled from pending; from shipped it is refused.
    let (_, o2) = app.post(&path, order("PO-3")).await;
    let t2 = format!(
        "/api/v1/supplier-orders/{}/transitions",
        o2["id"].as_str().unwrap()
    );
    let (status, body) = app.post(&t2, to("cancelled")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("cancelled")));
    assert!(body["cancelled_at"].is_string());
    let (status, _) = app.post(&t2, to("confirmed")).await;
    assert_eq!(status, 409);

    // Concurrent confirmations: one winner.
    let (_, o3) = app.post(&path, order("PO-4")).await;
    let t3 = format!(
        "/api/v1/supplier-orders/{}/transitions",
        o3["id"].as_str().unwrap()
    );
    let calls = (0..12).map(|_| {
        let (http, base, t3) = (app.app.http.clone(), app.app.base.clone(), t3.clone());
        async move {
            call(
                &http,
                &base,
                reqwest::Method::POST,
                &t3,
                Some(json!({"to": "confirmed"})),
            )
            .await
        }
    });
    let results = join_all(calls).await;
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let conflicts = results
        .iter()
        .filter(|r| r.0 == 409 && r.1["code"] == "invalid_transition")
        .count();
    assert_eq!((ok, conflicts), (1, 11), "{results:?}");

    // Lists by state and system.
    let (_, page) = app
        .get(&format!(
            "/api/v1/supplier-orders?system={supplier}&state=confirmed"
        ))
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["external_id"], "PO-4");
    let (_, all) = app.get("/api/v1/supplier-orders?kind=purchase").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let (status, _) = app.get("/api/v1/supplier-orders/spo_nope").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            "/api/v1/supplier-orders/spo_nope/transitions",
            to("confirmed"),
        )
        .await;
    assert_eq!(status, 404);
}

/// A small deterministic shuffle (xorshift), so a failure can be replayed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn member_update(m: usize, version: i64) -> Value {
    json!({
        "external_id": format!("M{m:03}"),
        "version": version,
        "name": format!("会员 {m} v{version}"),
        "mobile": format!("139{m:04}{version:04}"),
        "level": if version % 2 == 0 { "gold" } else { "silver" },
        "points": version * 10,
        "balance": format!("{version}.50"),
    })
}

/// 1,000 updates of 50 members (20 versions each), delivered in shuffled order, in
/// batches sent four at a time and as single updates racing each other, end at the
/// newest version of every member; older ones are answered stale-ignored.
async fn member_updates_converge(db: &Db) {
    let app = App::spawn(db).await;
    let system = app.system("crm", "member").await;
    let path = format!("/api/v1/members/{system}/sync");
    let mut updates: Vec<(usize, i64)> = (0..50)
        .flat_map(|m| (1..=20).map(move |v| (m, v)))
        .collect();
    shuffle(&mut updates, 0x5eed_1234_abcd);
    let (singles, batched) = updates.split_at(200);
    let batches: Vec<Value> = batched
        .chunks(100)
        .map(|c| json!({"items": c.iter().map(|(m, v)| member_update(*m, *v)).collect::<Vec<_>>()}))
        .collect();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for group in batches.chunks(4) {
        let calls = group.iter().map(|b| {
            let (http, base, path, b) = (
                app.app.http.clone(),
                app.app.base.clone(),
                path.clone(),
                b.clone(),
            );
            async move { call(&http, &base, reqwest::Method::POST, &path, Some(b)).await }
        });
        for (status, body) in join_all(calls).await {
            assert_eq!(status, 200, "{body}");
            for item in body["items"].as_array().unwrap() {
                let outcome = item["outcome"].as_str().unwrap_or_else(|| panic!("{item}"));
                *outcomes.entry(outcome.to_owned()).or_default() += 1;
            }
        }
    }
    for group in singles.chunks(25) {
        let calls = group.iter().map(|(m, v)| {
            let (http, base, path) = (app.app.http.clone(), app.app.base.clone(), path.clone());
            let body = member_update(*m, *v);
            async move { call(&http, &base, reqwest::Method::POST, &path, Some(body)).await }
        });
        for (status, body) in join_all(calls).await {
            assert!(status == 200 || status == 201, "{status} {body}");
            *outcomes
                .entry(body["outcome"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(outcomes.values().sum::<usize>(), 1000);
    assert_eq!(outcomes.get("created"), Some(&50), "{outcomes:?}");
    assert!(
        outcomes.get("stale_ignored").copied().unwrap_or(0) > 0,
        "{outcomes:?}"
    );

    let (status, page) = app
        .get(&format!("/api/v1/members?system={system}&limit=500"))
        .await;
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 50, "one member per external id");
    for member in items {
        let name = member["name"].as_str().unwrap();
        assert!(name.ends_with(" v20"), "newest version of {member}");
        assert_eq!(member["points"], 200);
        assert_eq!(member["balance"], "20.50");
        assert_eq!(member["level"], "gold");
        let mobile = member["mobile"].as_str().unwrap();
        assert!(
            mobile.starts_with("139") && mobile.contains("****") && mobile.ends_with("0020"),
            "{mobile}"
        );
    }
    let id = items[0]["id"].as_str().unwrap();
    let (_, one) = app.get(&format!("/api/v1/members/{id}")).await;
    assert!(!one["mobile"].as_str().unwrap().contains('*'), "{one}");
    assert_eq!(one["mappings"][0]["version"], 20);
    assert_eq!(one["mappings"][0]["system_id"], system.as_str());
    let (_, silver) = app.get("/api/v1/members?level=silver").await;
    assert_eq!(silver["items"], json!([]));
}

/// One member, mapped from two systems; a repeat is already recorded, an older update
/// stale; a time orders updates without a version; a member id that names another
/// member than the mapped one is refused.
async fn members_map_across_systems(db: &Db) {
    let app = App::spawn(db).await;
    let crm = app.system("crm-a", "member").await;
    let shop = app.system("shop-b", "member").await;
    let (status, first) = app
        .post(&format!("/api/v1/members/{crm}/sync"), member_update(1, 5))
        .await;
    assert_eq!(
        (status, first["outcome"].as_str()),
        (201, Some("created")),
        "{first}"
    );
    assert_eq!(first["member"]["mobile"], "13900010005");
    let id = first["member"]["id"].as_str().unwrap().to_owned();
    let (status, again) = app
        .post(&format!("/api/v1/members/{crm}/sync"), member_update(1, 5))
        .await;
    assert_eq!(
        (status, again["outcome"].as_str()),
        (200, Some("already_recorded"))
    );
    let (_, stale) = app
        .post(&format!("/api/v1/members/{crm}/sync"), member_update(1, 4))
        .await;
    assert_eq!(stale["outcome"], "stale_ignored");
    assert_eq!(
        stale["member"]["points"], 50,
        "the older update changed nothing"
    );

    let linked = json!({"external_id": "shop-77", "member_id": id, "updated_at": "2026-11-30T08:00:00Z", "name": "会员 1", "points": 7});
    let (status, body) = app
        .post(&format!("/api/v1/members/{shop}/sync"), linked)
        .await;
    assert_eq!(
        (status, body["member"]["id"].as_str()),
        (201, Some(id.as_str())),
        "{body}"
    );
    let older = json!({"external_id": "shop-77", "updated_at": "2026-11-30T07:59:59Z", "name": "old", "points": 1});
    let (_, body) = app
        .post(&format!("/api/v1/members/{shop}/sync"), older)
        .await;
    assert_eq!(body["outcome"], "stale_ignored");
    let (_, detail) = app.get(&format!("/api/v1/members/{id}")).await;
    assert_eq!(detail["mappings"].as_array().unwrap().len(), 2, "{detail}");
    assert_eq!(detail["points"], 7);

    let (_, other) = app
        .post(&format!("/api/v1/members/{crm}/sync"), member_update(2, 1))
        .await;
    let wrong =
        json!({"external_id": "shop-77", "member_id": other["member"]["id"], "version": 99});
    let (status, body) = app
        .post(&format!("/api/v1/members/{shop}/sync"), wrong)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("mapping_conflict")),
        "{body}"
    );
    let unknown = json!({"external_id": "shop-78", "member_id": "mem_nope", "version": 1});
    let (status, body) = app
        .post(&format!("/api/v1/members/{shop}/sync"), unknown)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("member_not_found")),
        "{body}"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/members/{shop}/sync"),
            json!({"external_id": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_record")),
        "{body}"
    );
    let (status, _) = app.get("/api/v1/members/mem_nope").await;
    assert_eq!(status, 404);
}

/// `records::apply`, the entry point of the inbound webhooks: a canonical payload of the
/// system's kind is applied idempotently; a system of a kind that sends no records, an
/// archived one, and a payload that does not parse are refused with a code.
async fn apply_reads_each_kind(db: &Db) {
    let app = App::spawn(db).await;
    let ids = [
        app.system("pos-w", "pos").await,
        app.system("crm-w", "member").await,
        app.system("sup-w", "supplier").await,
        app.system("pay-w", "payment").await,
    ];
    let mut systems = Vec::new();
    for id in &ids {
        systems.push(
            supplyhub::store::systems::get(db, id)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let [pos, crm, supplier, payment] = &systems[..] else {
        unreachable!()
    };

    let tx = sale("W-1", json!([line("A", 1, "5")]), "5");
    let applied = records::apply(db, pos, tx.clone()).await.unwrap();
    assert_eq!(
        (applied.kind, applied.outcome),
        (RecordKind::PosTransaction, Outcome::Created)
    );
    let again = records::apply(db, pos, tx).await.unwrap();
    assert_eq!(
        (again.outcome, &again.id),
        (Outcome::AlreadyRecorded, &applied.id)
    );

    let m = records::apply(db, crm, member_update(3, 2)).await.unwrap();
    assert_eq!((m.kind, m.outcome), (RecordKind::Member, Outcome::Created));
    let m2 = records::apply(db, crm, member_update(3, 3)).await.unwrap();
    assert_eq!((m2.outcome, &m2.id), (Outcome::Updated, &m.id));

    let mut create = order("W-PO");
    create["action"] = json!("create");
    let o = records::apply(db, supplier, create).await.unwrap();
    assert_eq!(
        (o.kind, o.outcome),
        (RecordKind::SupplierOrder, Outcome::Created)
    );
    let ship = json!({"action": "transition", "external_id": "W-PO", "to": "confirmed"});
    let t = records::apply(db, supplier, ship.clone()).await.unwrap();
    assert_eq!((t.outcome, &t.id), (Outcome::Transitioned, &o.id));
    let t2 = records::apply(db, supplier, ship).await.unwrap();
    assert_eq!(t2.outcome, Outcome::AlreadyRecorded);
    let bad = json!({"action": "transition", "external_id": "W-PO", "to": "delivered"});
    let e = records::apply(db, supplier, bad).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (409, "invalid_transition"));
    let e = records::apply(
        db,
        supplier,
        json!({"action": "transition", "external_id": "nope", "to": "shipped"}),
    )
    .await
    .unwrap_err();
    assert_eq!((e.status(), e.code()), (422, "order_not_found"));

    let e = records::apply(db, payment, json!({})).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (422, "wrong_system_kind"));
    let e = records::apply(
        db,
        pos,
        json!({"external_id": "W-2", "kind": "sale", "lines": "x"}),
    )
    .await
    .unwrap_err();
    assert_eq!((e.status(), e.code()), (422, "invalid_record"));
    assert!(e.to_string().contains("lines"), "{e}");

    // A system with records is archived, not deleted; it then takes no records.
    let (status, archived) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/systems/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{archived}");
    assert!(archived["archived_at"].is_string());
    let pos = supplyhub::store::systems::get(db, &ids[0])
        .await
        .unwrap()
        .unwrap();
    let e = records::apply(db, &pos, sale("W-3", json!([line("A", 1, "5")]), "5"))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (422, "system_archived"));
    let (status, body) = app
        .post(
            &format!("/api/v1/pos/{}/transactions", ids[0]),
            sale("W-3", json!([line("A", 1, "5")]), "5"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("system_archived"))
    );
}

/// Bad input to every records route is a 4xx with `{code, detail}`, never a 5xx.
async fn bad_input_is_refused_with_a_code(db: &Db) {
    let app = App::spawn(db).await;
    let pos = app.system("till-bad", "pos").await;
    let crm = app.system("crm-bad", "member").await;
    let sup = app.system("sup-bad", "supplier").await;
    let (_, o) = app
        .post(&format!("/api/v1/supplier-orders/{sup}"), order("PO-B"))
        .await;
    let order_id = o["id"].as_str().unwrap().to_owned();
    let tx = format!("/api/v1/pos/{pos}/transactions");
    let ms = format!("/api/v1/members/{crm}/sync");
    let so = format!("/api/v1/supplier-orders/{sup}");
    let tr = format!("/api/v1/supplier-orders/{order_id}/transitions");
    let many: Vec<Value> = (0..501).map(|i| member_update(i, 1)).collect();
    let good_line = line("A", 1, "1");
    let cases: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("POST", tx.clone(), Some(json!([])), 422),
        ("POST", tx.clone(), Some(json!("x")), 422),
        ("POST", tx.clone(), Some(json!({"items": []})), 422),
        ("POST", tx.clone(), Some(json!({"items": "x"})), 422),
        (
            "POST",
            tx.clone(),
            Some(sale("", json!([good_line]), "1")),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale("a\u{0}b", json!([good_line]), "1")),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale("X", json!([good_line]), "1e0")),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale("X", json!([good_line]), "-1")),
            422,
        ),
        ("POST", tx.clone(), Some(sale("X", json!([]), "0")), 422),
        (
            "POST",
            tx.clone(),
            Some(sale("X", json!([line("A", 0, "1")]), "0")),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale("X", json!([line("A", 1, "-1")]), "-1")),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale(
                "X",
                json!([{"sku": "A", "name": "A", "quantity": 1, "unit_price": "1", "discount": "2"}]),
                "-1",
            )),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale(
                "X",
                json!([{"sku": "A", "name": "A", "quantity": -1, "unit_price": "1"}]),
                "1",
            )),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale(
                "X",
                json!([line("A", 4_000_000_000, "79228162514264337593543950335")]),
                "1",
            )),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(
                json!({"external_id": "X", "kind": "gift", "occurred_at": "2026-11-30T10:00:00Z", "total": "1"}),
            ),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(
                json!({"external_id": "X", "kind": "sale", "occurred_at": "yesterday", "lines": [good_line], "total": "1"}),
            ),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(
                json!({"external_id": "X", "kind": "refund", "occurred_at": "2026-11-30T10:00:00Z", "lines": [good_line], "total": "1"}),
            ),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(
                json!({"external_id": "X", "kind": "sale", "sale_external_id": "Y", "occurred_at": "2026-11-30T10:00:00Z", "lines": [good_line], "total": "1"}),
            ),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(
                json!({"external_id": "X", "kind": "void", "sale_external_id": "Y", "occurred_at": "2026-11-30T10:00:00Z", "lines": [good_line], "total": "1"}),
            ),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(
                json!({"external_id": "X", "kind": "sale", "occurred_at": "2026-11-30T10:00:00Z", "lines": [good_line], "total": "1", "extra": 1}),
            ),
            422,
        ),
        (
            "POST",
            tx.clone(),
            Some(sale("X", json!([good_line]), "1")).map(|mut v| {
                v["customer"]["mobile"] = json!("12ab");
                v
            }),
            422,
        ),
        (
            "POST",
            "/api/v1/pos/sys_nope/transactions".into(),
            Some(sale("X", json!([good_line]), "1")),
            404,
        ),
        (
            "POST",
            format!("/api/v1/pos/{crm}/transactions"),
            Some(sale("X", json!([good_line]), "1")),
            422,
        ),
        (
            "GET",
            "/api/v1/pos/transactions?kind=gift".into(),
            None,
            400,
        ),
        (
            "GET",
            "/api/v1/pos/transactions?status=open".into(),
            None,
            400,
        ),
        (
            "GET",
            "/api/v1/pos/transactions?system=abc".into(),
            None,
            400,
        ),
        (
            "GET",
            "/api/v1/pos/transactions?since=yesterday".into(),
            None,
            400,
        ),
        (
            "GET",
            "/api/v1/pos/transactions?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z".into(),
            None,
            400,
        ),
        ("GET", "/api/v1/pos/transactions?limit=0".into(), None, 400),
        ("GET", "/api/v1/pos/transactions/ptx_nope".into(), None, 404),
        ("POST", ms.clone(), Some(json!({"items": many})), 422),
        (
            "POST",
            ms.clone(),
            Some(json!({"external_id": "M", "version": -1})),
            422,
        ),
        (
            "POST",
            ms.clone(),
            Some(json!({"external_id": "M", "version": 9_007_199_254_740_993_i64})),
            422,
        ),
        (
            "POST",
            ms.clone(),
            Some(json!({"external_id": "M", "version": 1, "balance": "-5"})),
            422,
        ),
        (
            "POST",
            ms.clone(),
            Some(json!({"external_id": "M", "version": 1, "points": -5})),
            422,
        ),
        (
            "POST",
            ms.clone(),
            Some(json!({"external_id": "M", "version": 1, "mobile": "1"})),
            422,
        ),
        (
            "POST",
            ms.clone(),
            Some(json!({"external_id": "M", "version": "1"})),
            422,
        ),
        (
            "POST",
            ms.clone(),
            Some(json!({"external_id": "M", "updated_at": "2026-13-01T00:00:00Z"})),
            422,
        ),
        (
            "POST",
            format!("/api/v1/members/{pos}/sync"),
            Some(member_update(1, 1)),
            422,
        ),
        ("GET", "/api/v1/members?level=".into(), None, 400),
        ("GET", "/api/v1/members?system=sys-x".into(), None, 400),
        ("GET", "/api/v1/members?until=x".into(), None, 400),
        (
            "POST",
            so.clone(),
            Some(json!({"external_id": "P", "lines": [], "total": "0"})),
            422,
        ),
        (
            "POST",
            so.clone(),
            Some(
                json!({"external_id": "P", "kind": "loan", "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": "1"}], "total": "1"}),
            ),
            422,
        ),
        (
            "POST",
            so.clone(),
            Some(
                json!({"external_id": "P", "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": "1"}], "total": "1", "delivery": {"expected_at": "soon"}}),
            ),
            422,
        ),
        (
            "POST",
            format!("/api/v1/supplier-orders/{pos}"),
            Some(order("P")),
            422,
        ),
        (
            "POST",
            "/api/v1/supplier-orders/sys_nope".into(),
            Some(order("P")),
            404,
        ),
        ("POST", tr.clone(), Some(json!({"to": "lost"})), 422),
        ("POST", tr.clone(), Some(json!({})), 422),
        ("POST", tr.clone(), Some(json!({"to": "pending"})), 409),
        (
            "GET",
            "/api/v1/supplier-orders?state=lost".into(),
            None,
            400,
        ),
        ("GET", "/api/v1/supplier-orders?kind=loan".into(), None, 400),
    ];
    for (method, path, body, expected) in cases {
        let (status, resp) = app.call(method.parse().unwrap(), &path, body.clone()).await;
        assert_eq!(status, expected, "{method} {path} {body:?}: {resp}");
        assert!(
            resp["code"].is_string() && resp["detail"].is_string(),
            "{method} {path}: {resp}"
        );
    }
    // Not JSON, and not sent as JSON.
    for path in [&tx, &ms, &so, &tr] {
        let resp = app
            .app
            .http
            .post(format!("{}{path}", app.app.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        let resp = app
            .app
            .http
            .post(format!("{}{path}", app.app.base))
            .bearer_auth(TOKEN)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 415, "{path}");
    }
}

crate::on_both_backends! {
    pos_sales_refunds_and_voids => pos_sales_refunds_and_voids;
    concurrent_refunds_never_exceed_the_sale => concurrent_refunds_never_exceed_the_sale;
    supplier_orders_follow_their_state_machine => supplier_orders_follow_their_state_machine;
    member_updates_converge => member_updates_converge;
    members_map_across_systems => members_map_across_systems;
    apply_reads_each_kind => apply_reads_each_kind;
    bad_input_is_refused_with_a_code => bad_input_is_refused_with_a_code;
}
