//! Orders record who created them, and a storefront sees and acts on its own orders
//! only: another principal's order answers as if it did not exist. Two storefront API
//! keys and an admin, on both backends.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use supplyhub::access::AccessState;
use supplyhub::config::AccessConfig;
use supplyhub::store::Db;
use supplyhub::sync::NoProgress;

use crate::helpers::{TestApp, TestSandbox, catalog_only};
use crate::on_both_backends;

const ADMIN_TOKEN: &str = "owners-admin-token";
const COUNTY: &str = "320106"; // 南京市鼓楼区

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(bearer);
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

fn checkout(number: &str, sku: &str) -> Value {
    json!({
        "order_number": number,
        "lines": [{"sku": sku, "quantity": 1, "retail_price": "1999.00", "discount_amount": "0"}],
        "consignee": {"name": "张三", "mobile": "13900001111"},
        "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "town": "宁海路街道", "detail": "北京西路1号"},
    })
}

fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn storefronts_see_and_act_on_their_own_orders_only(db: &Db) {
    let sb = TestSandbox::start(10, 41).await;
    let config = sb.config(&[]);
    let run = sb
        .syncer(db, &config)
        .run(&catalog_only(true), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, "success", "{:?}", run.error_summary);
    let mut state = sb.app_state(db, &config);
    state.admin_token = Some(Arc::new(secrecy::SecretString::from(ADMIN_TOKEN)));
    state.access = AccessState::new(AccessConfig::default(), true);
    let app = TestApp::spawn_state(state, Some(ADMIN_TOKEN)).await;

    let (_, page) = app.list_products("?limit=200").await;
    let sku = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["is_procurable"] == true)
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .unwrap();
    sb.post(
        "/_sandbox/stock",
        json!({"productCode": sku, "countyCode": COUNTY,
               "warehouses": [{"secCode": "NJ01", "stock": 100, "warehouseGrade": "0"}]}),
    )
    .await;

    let mut keys = Vec::new();
    for name in ["shop-a", "shop-b"] {
        let (status, key) = call(
            &app,
            Method::POST,
            "/api/v1/api-keys",
            ADMIN_TOKEN,
            Some(json!({"name": name, "role": "storefront"})),
        )
        .await;
        assert_eq!(status, 201, "{key}");
        keys.push((
            key["key"].as_str().unwrap().to_owned(),
            key["id"].as_str().unwrap().to_owned(),
        ));
    }
    let (a, a_id) = keys[0].clone();
    let (b, b_id) = keys[1].clone();

    // Each creates an order; the admin token creates one too.
    let mut orders = Vec::new();
    for (who, number) in [
        (&a, "OWN-A"),
        (&b, "OWN-B"),
        (&ADMIN_TOKEN.to_owned(), "OWN-ADMIN"),
    ] {
        let (status, order) = call(
            &app,
            Method::POST,
            "/api/v1/orders",
            who,
            Some(checkout(number, &sku)),
        )
        .await;
        assert_eq!(status, 201, "{order}");
        orders.push(order);
    }
    let id = |i: usize| orders[i]["id"].as_str().unwrap().to_owned();
    let (oa, ob, oadmin) = (id(0), id(1), id(2));
    assert_eq!(orders[0]["created_by"], a_id.as_str());
    assert_eq!(orders[1]["created_by"], b_id.as_str());
    assert!(orders[2]["created_by"].is_null(), "{}", orders[2]);

    // Lists: each storefront its own; the admin every order.
    for (who, expected) in [
        (&a, vec![oa.clone()]),
        (&b, vec![ob.clone()]),
        (&ADMIN_TOKEN.to_owned(), {
            let mut all = vec![oa.clone(), ob.clone(), oadmin.clone()];
            all.sort();
            all
        }),
    ] {
        for query in ["", "?supplier_status=none", "?limit=1"] {
            let (status, page) = call(
                &app,
                Method::GET,
                &format!("/api/v1/orders{query}"),
                who,
                None,
            )
            .await;
            assert_eq!(status, 200, "{page}");
            let mut want = expected.clone();
            if query == "?limit=1" {
                want = vec![expected.iter().max().unwrap().clone()];
            }
            assert_eq!(ids(&page), want, "{query}: {page}");
        }
    }

    // Every per-order route on another's order answers as a missing one does.
    let routes = |id: &str| {
        vec![
            (Method::GET, format!("/api/v1/orders/{id}"), None),
            (Method::GET, format!("/api/v1/orders/{id}/calls"), None),
            (Method::GET, format!("/api/v1/orders/{id}/logistics"), None),
            (
                Method::GET,
                format!("/api/v1/orders/{id}/delivery-photos"),
                None,
            ),
            (Method::POST, format!("/api/v1/orders/{id}/pay"), None),
            (
                Method::POST,
                format!("/api/v1/orders/{id}/cancel"),
                Some(json!({"reason": "not mine"})),
            ),
            (
                Method::POST,
                format!("/api/v1/orders/{id}/reschedule"),
                Some(json!({})),
            ),
        ]
    };
    for (who, foreign) in [
        (&a, &ob),
        (&a, &oadmin),
        (&b, &oa),
        (&a, &"ord_nope".to_owned()),
    ] {
        for (method, path, body) in routes(foreign) {
            let (status, resp) = call(&app, method.clone(), &path, who, body).await;
            assert_eq!(
                (status, resp["code"].as_str()),
                (404, Some("order_not_found")),
                "{method} {path}: {resp}"
            );
            assert_eq!(
                resp["detail"],
                format!("no order {foreign:?}"),
                "the same answer as for a missing order"
            );
        }
    }
    // Nothing moved.
    for id in [&oa, &ob, &oadmin] {
        let (status, order) = call(
            &app,
            Method::GET,
            &format!("/api/v1/orders/{id}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
        assert_eq!((status, order["status"].as_str()), (200, Some("held")));
    }

    // Its own: read, calls, pay, cancel.
    let (status, order) = call(&app, Method::GET, &format!("/api/v1/orders/{oa}"), &a, None).await;
    assert_eq!((status, order["id"].as_str()), (200, Some(oa.as_str())));
    let (status, calls) = call(
        &app,
        Method::GET,
        &format!("/api/v1/orders/{oa}/calls"),
        &a,
        None,
    )
    .await;
    assert_eq!(status, 200, "{calls}");
    let (status, paid) = call(
        &app,
        Method::POST,
        &format!("/api/v1/orders/{oa}/pay"),
        &a,
        None,
    )
    .await;
    assert_eq!(
        (status, paid["status"].as_str()),
        (200, Some("paid")),
        "{paid}"
    );
    let (status, cancelled) = call(
        &app,
        Method::POST,
        &format!("/api/v1/orders/{ob}/cancel"),
        &b,
        None,
    )
    .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );

    // The same checkout again: its creator gets its order back; another storefront
    // cannot reach it through the order number.
    let (status, again) = call(
        &app,
        Method::POST,
        "/api/v1/orders",
        &a,
        Some(checkout("OWN-A", &sku)),
    )
    .await;
    assert_eq!((status, again["id"].as_str()), (200, Some(oa.as_str())));
    let (status, refused) = call(
        &app,
        Method::POST,
        "/api/v1/orders",
        &b,
        Some(checkout("OWN-A", &sku)),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("duplicate_order")),
        "{refused}"
    );
    assert!(refused.get("id").is_none(), "{refused}");

    // The admin acts on any order.
    let (status, order) = call(
        &app,
        Method::GET,
        &format!("/api/v1/orders/{ob}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        (status, order["created_by"].as_str()),
        (200, Some(b_id.as_str()))
    );
    let (status, paid) = call(
        &app,
        Method::POST,
        &format!("/api/v1/orders/{oadmin}/pay"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{paid}");
}

on_both_backends! {
    storefronts_see_and_act_on_their_own_orders_only => storefronts_see_and_act_on_their_own_orders_only;
}
