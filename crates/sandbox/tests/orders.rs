//! The YLH order centre, H4 and the callbacks over real HTTP, with a callback receiver
//! of our own.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Form;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use reqwest::StatusCode;
use sandbox::{SandboxConfig, credentials as cred};
use serde_json::{Value, json};
use tokio::sync::mpsc;

mod common;

use common::{App, spawn};

const TOKEN: &str = "/ylh-cloud-mgt-auth-dev/oauth/token";
const Y1: &str =
    "/ylh-cloud-service-jst-order-dev/api/page/hmm/retailorder/receive-hmm-retail-order";
const Y2: &str =
    "/ylh-cloud-service-jst-order-dev/api/page/hmm/retailorder/cancel-hmm-retail-order";
const Y3: &str = "/ylh-cloud-service-order-dev/api/page/retailorder/hmm/update-distribution-time";
const Y4: &str =
    "/ylh-cloud-service-order-dev/api/page/retailorder/search/get-retail-order-delivery-img";
const Y5: &str =
    "/ylh-cloud-service-stock-dev/api/composite/stock/logistics/get-store-logistics-by-order-code";
const H4: &str = "/yilihuo/ylh-cloud-service-stock/api/page/stock/logistics/sass/get-thirdparty-logistics-info-by-order-code-auth";

/// 2026-11-21 00:00 UTC in ms.
const DAY_2026_11_21: i64 = 20_778 * 86_400_000;
/// 2026-11-21 12:00:00 +08:00.
const NOON_CHINA: i64 = DAY_2026_11_21 + 4 * 3_600_000;
/// 2026-11-21 23:59:59 +08:00.
const END_OF_DAY_CHINA: i64 = DAY_2026_11_21 + (15 * 3600 + 59 * 60 + 59) * 1000;

/// Short waits, no duplicates, every order confirmed, logistics that only move when
/// told to.
fn fast() -> SandboxConfig {
    SandboxConfig {
        products: 300,
        rate_limit: 0,
        callback_delay: Duration::from_millis(30),
        logistics_step: Duration::from_secs(600),
        confirm_rate: 1.0,
        reject_rate: 0.0,
        oos_rate: 0.0,
        duplicate_callback_rate: 0.0,
        callback_retry_backoff: Duration::from_millis(20),
        ..SandboxConfig::default()
    }
}

impl App {
    async fn token_call(
        &self,
        basic: (&str, &str),
        system: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url(TOKEN))
            .basic_auth(basic.0, Some(basic.1))
            .form(form);
        if let Some(system) = system {
            req = req.header("system-name", system);
        }
        req.send().await.unwrap()
    }

    async fn ylh_token(&self) -> String {
        let r = self
            .token_call(
                (cred::YLH_CLIENT_ID, cred::YLH_CLIENT_SECRET),
                Some("ylh-open-api"),
                &[
                    ("grant_type", "password"),
                    ("username", cred::YLH_USERNAME),
                    ("password", cred::YLH_PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    async fn configure(&self, body: Value) {
        let r = self.control("/_sandbox/orders/config", &body).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }

    async fn advance(&self, so_id: &str) -> Value {
        let r = self
            .control(&format!("/_sandbox/orders/{so_id}/advance"), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn order(&self, so_id: &str) -> Value {
        self.get(&format!("/_sandbox/orders/{so_id}")).await
    }

    /// Some procurable product codes of the catalog.
    async fn products(&self) -> Vec<String> {
        let v = self.get("/_sandbox/catalog").await;
        v["products"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["isSales"] == "1")
            .take(5)
            .map(|p| p["productCode"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Places a valid order and returns its `retailOrderNo`, read from the sandbox's
    /// own view: Y1 answers `data: true` and nothing else (protocol §0.3).
    async fn place(&self, token: &str, body: &Value) -> String {
        let v = self.call(Y1, token, body).await;
        assert_eq!(v["success"], json!(true), "{v}");
        assert_eq!(v["data"], json!(true), "{v}");
        let so_id = body["soId"].as_str().unwrap();
        self.order(so_id).await["retailOrderNo"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A valid order: two units of one product at 2099.00, 100.00 off each.
fn order_body(so_id: &str, product: &str) -> Value {
    json!({
        "sourceSystem": cred::YLH_SOURCE_SYSTEM,
        "shopName": cred::YLH_SHOP_NAME,
        "sellerCode": cred::CUSTOMER_CODE,
        "consigneeName": "张三",
        "consigneeMobile": "13800138000",
        "onlineNo": format!("PO-{so_id}"),
        "soId": so_id,
        "remark": "工作日送货",
        "province": "江苏省",
        "city": "南京市",
        "area": "鼓楼区",
        "town": "宁海路街道",
        "detailAddress": "北京西路 1 号",
        "totalQty": 2,
        "totalAmt": 3998.00,
        "createTime": 1_763_700_000_000_i64,
        "governmentOrder": false,
        "deliveryInstall": "false",
        "itemList": [{
            "productCode": product,
            "itemQty": 2,
            "retailPrice": 2099.00,
            "discountAmount": 100.00,
            "actualPrice": 1999.00,
            "isGift": false,
        }],
    })
}

/// A business failure in the §0.1 envelope: HTTP 200, `success: false`, `code` 1,
/// `errorMsg` naming `field`. `_cause` is the sandbox's own name of the rule (its
/// logs); the vendor documents no error codes, so none is on the wire.
fn assert_business_error(v: &Value, _cause: &str, field: &str) {
    assert_eq!(v["success"], json!(false), "{v}");
    assert_eq!(v["code"], json!(1), "{v}");
    assert!(v["errCode"].is_null(), "{v}");
    let message = v["errorMsg"].as_str().unwrap();
    assert!(message.contains(field), "{field} not named in {message:?}");
}

/// A callback receiver: records every form it gets and fails the first `fail_first`.
struct Receiver {
    url: String,
    forms: mpsc::UnboundedReceiver<HashMap<String, String>>,
}

async fn receiver(fail_first: u32) -> Receiver {
    let (tx, forms) = mpsc::unbounded_channel();
    let fails = Arc::new(AtomicU32::new(fail_first));
    let app = Router::new().route(
        "/callback",
        post(move |Form(form): Form<HashMap<String, String>>| {
            let (tx, fails) = (tx.clone(), Arc::clone(&fails));
            async move {
                let _ = tx.send(form);
                let failing = fails
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let response: Response = if failing {
                    (StatusCode::INTERNAL_SERVER_ERROR, "busy").into_response()
                } else {
                    axum::Json(
                        json!({"success": true, "code": "success", "description": "成功",
                        "timeStamp": "20260115120000",
                        "data": {"statusCode": 200, "message": "成功"}}),
                    )
                    .into_response()
                };
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, forms }
}

impl Receiver {
    async fn next(&mut self) -> HashMap<String, String> {
        tokio::time::timeout(Duration::from_secs(5), self.forms.recv())
            .await
            .expect("no callback came")
            .unwrap()
    }

    /// Nothing more arrives within `wait`.
    async fn quiet(&mut self, wait: Duration) {
        if let Ok(Some(form)) = tokio::time::timeout(wait, self.forms.recv()).await {
            panic!("unexpected callback {form:?}");
        }
    }
}

/// Checks the callback's AppKey and Sign and returns its method and parsed Data.
fn verified(form: &HashMap<String, String>) -> (String, Value) {
    assert_eq!(form["AppKey"], cred::CALLBACK_APP_KEY);
    let ts = &form["TimeStamp"];
    assert!(
        ts.len() == 14 && ts.bytes().all(|b| b.is_ascii_digit()),
        "{ts}"
    );
    let params: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        form["Sign"],
        sandbox::callback::sign(&params, cred::CALLBACK_SECRET)
    );
    assert_ne!(
        form["Sign"],
        sandbox::callback::sign(&params, "another-secret")
    );
    let data: Value = serde_json::from_str(&form["Data"]).unwrap();
    (form["Method"].clone(), data)
}

/// `State` as a number, or as the string real senders sometimes send.
fn state(data: &Value) -> u64 {
    match &data["State"] {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("State {other}"),
    }
}

#[tokio::test]
async fn the_ylh_token_needs_basic_client_form_and_system_name() {
    let app = spawn(fast()).await;
    let good_form = [
        ("grant_type", "password"),
        ("username", cred::YLH_USERNAME),
        ("password", cred::YLH_PASSWORD),
    ];
    let client = (cred::YLH_CLIENT_ID, cred::YLH_CLIENT_SECRET);
    let r = app
        .token_call(client, Some("ylh-open-api"), &good_form)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], json!("Bearer"));
    assert_eq!(v["expires_in"], json!(3600));
    let token = v["access_token"].as_str().unwrap().to_owned();

    let wrong_password = [
        ("grant_type", "password"),
        ("username", cred::YLH_USERNAME),
        ("password", "123qwe"),
    ];
    let wrong_grant = [
        ("grant_type", "client_credentials"),
        ("username", cred::YLH_USERNAME),
        ("password", cred::YLH_PASSWORD),
    ];
    for (basic, system, form) in [
        (
            ("open_api_erp", "12345678"),
            Some("ylh-open-api"),
            &good_form,
        ),
        (client, None, &good_form),
        (client, Some("other"), &good_form),
        (client, Some("ylh-open-api"), &wrong_password),
        (client, Some("ylh-open-api"), &wrong_grant),
    ] {
        let r = app.token_call(basic, system, form).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{basic:?} {system:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["success"], json!(false));
        assert!(v["error"].is_string());
    }
    // The vendor overview says JSON, but the endpoint reads a form.
    let r = app
        .http
        .post(app.url(TOKEN))
        .basic_auth(client.0, Some(client.1))
        .header("system-name", "ylh-open-api")
        .json(
            &json!({"grant_type": "password", "username": cred::YLH_USERNAME,
                      "password": cred::YLH_PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let stats = app.stats().await;
    assert_eq!(stats["ylh_tokens_issued"], json!(1));
    assert_eq!(stats["tokens_issued"], json!(0));

    // Business calls want `Bearer <YLH token>`: not a bare one, not the Open
    // Platform's, not none.
    let body = json!({"orderNo": "SO.20261121.000001"});
    let op = app.op_token().await;
    for auth in [
        None,
        Some(token.clone()),
        Some(format!("Bearer {op}")),
        Some("Bearer nope".to_owned()),
    ] {
        let r = app.post(Y4, auth.as_deref(), &body).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], json!(1));
    }
    let v = app.call(Y4, &token, &body).await;
    assert_business_error(&v, "20007", "SO.20261121.000001");
}

#[tokio::test]
async fn a_valid_order_is_accepted_with_a_running_number() {
    let app = spawn(SandboxConfig {
        callback_delay: Duration::from_secs(600),
        ..fast()
    })
    .await;
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    let body = order_body("SO-A-1", &product);
    let v = app.call(Y1, &token, &body).await;
    // §0.3: the reply is the §0.1 envelope with `data: true` and nothing else; the
    // supplier's order number is not in it.
    assert_eq!(
        v,
        json!({"success": true, "code": 0, "errCode": null, "errorMsg": null,
               "infoMsgs": [], "warningMsgs": [], "data": true})
    );
    let first = app.order("SO-A-1").await["retailOrderNo"]
        .as_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = first.split('.').collect();
    assert_eq!(parts.len(), 3, "{first}");
    assert_eq!(parts[0], "SO");
    assert!(parts[1].len() == 8 && parts[1].starts_with("20"), "{first}");
    assert_eq!(parts[2], "000001");
    let second = app.place(&token, &order_body("SO-A-2", &product)).await;
    assert_eq!(second, format!("SO.{}.000002", parts[1]));

    // The truth holds the whole payload.
    let o = app.order("SO-A-1").await;
    assert_eq!(o["retailOrderNo"], json!(first));
    assert_eq!(o["status"], json!("received"));
    assert_eq!(o["logistics"], json!("not_shipped"));
    assert_eq!(o["payload"], body);
    assert_eq!(o["items"][0]["actualPrice"], json!(1999.0));
    let all = app.get("/_sandbox/orders").await;
    assert_eq!(all["count"], json!(2));
    assert_eq!(app.stats().await["orders_received"], json!(2));
}

#[tokio::test]
async fn each_validation_rule_rejects_its_violation() {
    let app = spawn(fast()).await;
    let mut rx = receiver(0).await;
    app.sandbox.set_callback_url(&rx.url);
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation, &str, &str)> = vec![
        (
            "order-level discount",
            |b| {
                // 200.00 off the order put as if it were per unit.
                b["itemList"][0]["discountAmount"] = json!(200.00);
            },
            "20006",
            "actualPrice",
        ),
        (
            "createTime in seconds",
            |b| b["createTime"] = json!(1_763_700_000),
            "20003",
            "createTime",
        ),
        (
            "null distributionTime",
            |b| b["distributionTime"] = Value::Null,
            "20003",
            "distributionTime",
        ),
        (
            "null installTime",
            |b| b["installTime"] = Value::Null,
            "20003",
            "installTime",
        ),
        (
            "deliveryInstall as a bool",
            |b| b["deliveryInstall"] = json!(false),
            "20003",
            "deliveryInstall",
        ),
        (
            "totalAmt mismatch",
            |b| b["totalAmt"] = json!(4198.00),
            "20006",
            "totalAmt",
        ),
        (
            "totalQty mismatch",
            |b| b["totalQty"] = json!(1),
            "20006",
            "totalQty",
        ),
        (
            "unknown product",
            |b| b["itemList"][0]["productCode"] = json!("ZZ9ZZZZZZ"),
            "20005",
            "productCode",
        ),
        (
            "someone else's seller code",
            |b| b["sellerCode"] = json!("8800539012"),
            "20004",
            "sellerCode",
        ),
        (
            "short mobile",
            |b| b["consigneeMobile"] = json!("1380013800"),
            "20003",
            "consigneeMobile",
        ),
        (
            "missing detailAddress",
            |b| {
                b.as_object_mut().unwrap().remove("detailAddress");
            },
            "20002",
            "detailAddress",
        ),
        ("blank soId", |b| b["soId"] = json!("  "), "20002", "soId"),
        (
            "empty itemList",
            |b| b["itemList"] = json!([]),
            "20002",
            "itemList",
        ),
        (
            "zero itemQty",
            |b| {
                b["itemList"][0]["itemQty"] = json!(0);
                b["totalQty"] = json!(0);
                b["totalAmt"] = json!(0);
            },
            "20003",
            "itemQty",
        ),
        (
            "governmentOrder as a string",
            |b| b["governmentOrder"] = json!("false"),
            "20003",
            "governmentOrder",
        ),
        (
            "totalAmt as a string",
            |b| b["totalAmt"] = json!("3998.00"),
            "20003",
            "totalAmt",
        ),
        (
            "three decimals",
            |b| b["itemList"][0]["retailPrice"] = json!(2099.001),
            "20003",
            "retailPrice",
        ),
    ];
    let mut late = 0;
    for (i, (what, mutate, code, field)) in cases.into_iter().enumerate() {
        let so_id = format!("SO-BAD-{i}");
        let mut body = order_body(&so_id, &product);
        mutate(&mut body);
        let v = app.call(Y1, &token, &body).await;
        // §0.3: the push refuses only a repeated soId and missing or malformed
        // required fields; the product, the prices and the customer are checked
        // afterwards and refused by the confirm callback (State 0 with FailMsg).
        if ["20004", "20005", "20006"].contains(&code) {
            assert_eq!(v["data"], json!(true), "{what}: accepted first: {v}");
            late += 1;
            let (method, data) = verified(&rx.next().await);
            assert_eq!(method, "hmm.scm_heorder.confirm", "{what}");
            assert_eq!(data["PlatformOrderNo"], json!(format!("PO-{so_id}")));
            assert!(
                data.get("ExtOrderNo").is_none(),
                "only what §0.4 requires: {data}"
            );
            assert!(
                data["State"] == json!(0) || data["State"] == json!("0"),
                "{what}: {data}"
            );
            let fail_msg = data["FailMsg"].as_str().unwrap();
            assert!(fail_msg.contains(field), "{what}: {fail_msg}");
            assert!(fail_msg.chars().count() <= 100);
        } else {
            assert_eq!(v["data"], Value::Null, "{what}");
            assert_business_error(&v, code, field);
        }
    }
    assert_eq!(late, 5);
    // A per-unit discount on several units is right: 2 × (2099 − 100) = 3998.
    let ok = app.place(&token, &order_body("SO-GOOD", &product)).await;
    assert!(ok.starts_with("SO."));
    assert_eq!(app.get("/_sandbox/orders").await["count"], json!(1 + late));

    // Malformed JSON is a 400, a non-JSON body a 415: not business errors.
    let r = app
        .http
        .post(app.url(Y1))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body("{\"soId\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .http
        .post(app.url(Y1))
        .bearer_auth(&token)
        .body("soId=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_duplicate_so_id_is_refused_with_the_existing_order() {
    let app = spawn(fast()).await;
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    let first = app.place(&token, &order_body("SO-DUP", &product)).await;
    // A retry, even with a changed body, names the order that exists.
    let mut retry = order_body("SO-DUP", &product);
    retry["createTime"] = json!(1_763_700_009_999_i64);
    let v = app.call(Y1, &token, &retry).await;
    // `success: false` with an `errorMsg`; the existing order is not named (§0.3).
    assert_eq!(v["success"], json!(false));
    assert_eq!(v["code"], json!(1));
    assert_eq!(v["errorMsg"], json!("子订单号 SO-DUP 已存在"));
    assert_eq!(v["data"], Value::Null);
    assert!(!v.to_string().contains(&first), "{v}");
    let stats = app.stats().await;
    assert_eq!(stats["duplicates_refused"], json!(1));
    assert_eq!(stats["orders_received"], json!(1));
    assert_eq!(app.get("/_sandbox/orders").await["count"], json!(1));

    // Its wording is a setting, so a client can be shown not to depend on one text.
    let r = app
        .control(
            "/_sandbox/orders/config",
            &json!({"duplicate_message": "单据{soId}已推送过"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.call(Y1, &token, &retry).await;
    assert_eq!(v["errorMsg"], json!("单据SO-DUP已推送过"));
    let r = app
        .control(
            "/_sandbox/orders/config",
            &json!({"duplicate_message": " "}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn callbacks_are_signed_and_follow_the_forced_outcome() {
    let app = spawn(fast()).await;
    let mut rx = receiver(0).await;
    app.sandbox.set_callback_url(&rx.url);
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    let outcomes = [
        (
            "confirm",
            [1.0, 0.0, 0.0],
            "hmm.scm_heorder.confirm",
            "confirmed",
        ),
        (
            "reject",
            [0.0, 1.0, 0.0],
            "hmm.scm_heorder.cancel",
            "rejected",
        ),
        (
            "oos",
            [0.0, 0.0, 1.0],
            "hmm.scm_heorder.oostock",
            "out_of_stock",
        ),
    ];
    for (name, [c, r, o], method, status) in outcomes {
        app.configure(json!({"confirm_rate": c, "reject_rate": r, "oos_rate": o}))
            .await;
        let so_id = format!("SO-CB-{name}");
        let number = app.place(&token, &order_body(&so_id, &product)).await;
        let form = rx.next().await;
        let (got, data) = verified(&form);
        assert_eq!(got, method, "{name}");
        assert_eq!(data["ExtOrderNo"], json!(number));
        assert_eq!(data["PlatformOrderNo"], json!(format!("PO-{so_id}")));
        assert_eq!(state(&data), 1, "{name}");
        match name {
            "reject" => {
                let line = &data["itemList"][0];
                assert_eq!(line["productCode"], json!(product));
                assert_eq!(line["totalQty"], json!(2));
                assert_eq!(line["rejectQty"], json!(2));
                assert_eq!(line["receiveQty"], json!(0));
            }
            // §0.4: the out-of-stock callback may spell it failMsg.
            "oos" => assert!(
                data["FailMsg"]
                    .as_str()
                    .or(data["failMsg"].as_str())
                    .is_some_and(|m| !m.is_empty()),
                "{data}"
            ),
            _ => assert!(data.get("FailMsg").is_none() && data.get("failMsg").is_none()),
        }
        let o = app.order(&so_id).await;
        assert_eq!(o["status"], json!(status));
        let records = o["callbacks"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["method"], json!(method));
        // The record is updated once the receiver's answer is read.
        for _ in 0..100 {
            if app.order(&so_id).await["callbacks"][0]["delivery"] == "delivered" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let o = app.order(&so_id).await;
        assert_eq!(o["callbacks"][0]["delivery"], json!("delivered"));
        assert_eq!(o["callbacks"][0]["attempts"], json!(1));
    }
    rx.quiet(Duration::from_millis(150)).await;
    let stats = app.stats().await;
    assert_eq!(
        stats["callbacks_sent"],
        json!({"hmm.scm_heorder.confirm": 1, "hmm.scm_heorder.cancel": 1,
               "hmm.scm_heorder.oostock": 1})
    );
    assert_eq!(stats["callback_deliveries_failed"], json!(0));
}

#[tokio::test]
async fn every_callback_comes_twice_when_the_duplicate_rate_is_one() {
    let app = spawn(fast()).await;
    let mut rx = receiver(0).await;
    app.configure(json!({"callback_url": rx.url, "duplicate_callback_rate": 1.0}))
        .await;
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    app.place(&token, &order_body("SO-TWICE", &product)).await;
    let (a, b) = (rx.next().await, rx.next().await);
    verified(&a);
    assert_eq!(a, b, "the very same callback, sign and time stamp included");
    rx.quiet(Duration::from_millis(150)).await;
    let stats = app.stats().await;
    assert_eq!(stats["callbacks_sent"]["hmm.scm_heorder.confirm"], json!(2));
    assert_eq!(stats["callback_duplicates_sent"], json!(1));
    let o = app.order("SO-TWICE").await;
    let duplicates: Vec<&Value> = o["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["duplicate"])
        .collect();
    assert_eq!(duplicates, [&json!(false), &json!(true)]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_then_given_up() {
    let app = spawn(SandboxConfig {
        callback_attempts: 3,
        ..fast()
    })
    .await;
    // Two failures, then success on the third attempt.
    let mut rx = receiver(2).await;
    app.sandbox.set_callback_url(&rx.url);
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    app.place(&token, &order_body("SO-RETRY", &product)).await;
    let attempts = [rx.next().await, rx.next().await, rx.next().await];
    assert!(attempts.iter().all(|f| *f == attempts[0]));
    rx.quiet(Duration::from_millis(200)).await;
    let o = app.order("SO-RETRY").await;
    assert_eq!(o["callbacks"][0]["attempts"], json!(3));
    assert_eq!(o["callbacks"][0]["delivery"], json!("delivered"));

    // A receiver that always fails: three attempts, then the delivery is failed.
    let mut rx = receiver(u32::MAX).await;
    app.sandbox.set_callback_url(&rx.url);
    app.place(&token, &order_body("SO-GIVE-UP", &product)).await;
    for _ in 0..3 {
        rx.next().await;
    }
    rx.quiet(Duration::from_millis(300)).await;
    let o = app.order("SO-GIVE-UP").await;
    assert_eq!(o["callbacks"][0]["delivery"], json!("failed"));
    let stats = app.stats().await;
    assert_eq!(stats["callback_deliveries_failed"], json!(1));
    assert_eq!(stats["callback_attempts"], json!(6));
    // The order's life does not depend on its callbacks being heard.
    assert_eq!(o["status"], json!("confirmed"));
}

#[tokio::test]
async fn cancel_succeeds_before_shipping_and_fails_after_delivery() {
    let app = spawn(fast()).await;
    let mut rx = receiver(0).await;
    app.sandbox.set_callback_url(&rx.url);
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    let cancel = |so_id: &str| {
        json!({"soId": so_id, "cancelTime": "1763700100000", "cancelReason": "客户不想要了",
               "sourceSystem": cred::YLH_SOURCE_SYSTEM})
    };

    // Confirmed, not shipped: cancelled.
    let early = app.place(&token, &order_body("SO-EARLY", &product)).await;
    assert_eq!(verified(&rx.next().await).0, "hmm.scm_heorder.confirm");
    let v = app.call(Y2, &token, &cancel("SO-EARLY")).await;
    assert_eq!(v["success"], json!(true), "{v}");
    assert_eq!(v["data"], json!(true), "§0.3: Y2 answers a boolean");
    let (method, data) = verified(&rx.next().await);
    assert_eq!(method, "hmm.scm_heorder.cancel");
    assert_eq!(data["ExtOrderNo"], json!(early));
    assert_eq!(state(&data), 1);
    assert_eq!(data["itemList"][0]["rejectQty"], json!(2));
    let o = app.order("SO-EARLY").await;
    assert_eq!(o["status"], json!("cancelled"));
    assert_eq!(o["cancel"]["reason"], json!("客户不想要了"));
    assert_eq!(o["cancel"]["resultState"], json!(1));
    // Cancelling again is refused.
    let v = app.call(Y2, &token, &cancel("SO-EARLY")).await;
    assert_business_error(&v, "20008", "SO-EARLY");

    // Delivered: the cancel fails with State 0 and a reason.
    app.place(&token, &order_body("SO-LATE", &product)).await;
    assert_eq!(verified(&rx.next().await).0, "hmm.scm_heorder.confirm");
    app.advance("SO-LATE").await;
    let o = app.advance("SO-LATE").await;
    assert_eq!(o["status"], json!("delivered"));
    app.call(Y2, &token, &cancel("SO-LATE")).await;
    let (method, data) = verified(&rx.next().await);
    assert_eq!(method, "hmm.scm_heorder.cancel");
    assert_eq!(state(&data), 0);
    assert!(data["FailMsg"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(data["itemList"][0]["receiveQty"], json!(2));
    assert_eq!(data["itemList"][0]["rejectQty"], json!(0));
    assert_eq!(app.order("SO-LATE").await["status"], json!("cancel_failed"));

    // Unknown orders and a cancelTime sent as a number are business errors.
    let v = app.call(Y2, &token, &cancel("SO-NOPE")).await;
    assert_business_error(&v, "20007", "SO-NOPE");
    let mut numeric = cancel("SO-LATE");
    numeric["cancelTime"] = json!(1_763_700_100_000_i64);
    let v = app.call(Y2, &token, &numeric).await;
    assert_business_error(&v, "20003", "cancelTime");
    assert_eq!(app.stats().await["cancels_received"], json!(2));
}

#[tokio::test]
async fn reschedule_wants_the_last_second_of_the_day_in_china() {
    let app = spawn(fast()).await;
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    let number = app.place(&token, &order_body("SO-Y3", &product)).await;
    let body = |key: &str, ms: i64| json!({"retailOrderNo": number, key: ms});

    for bad in [NOON_CHINA, DAY_2026_11_21 + 86_399_000] {
        // Noon, and 23:59:59 in UTC (07:59:59 the next day in China).
        let v = app.call(Y3, &token, &body("distributionTime", bad)).await;
        assert_business_error(&v, "20009", "distributionTime");
    }
    let v = app
        .call(Y3, &token, &body("installTime", NOON_CHINA + 1000))
        .await;
    assert_business_error(&v, "20009", "installTime");
    let v = app
        .call(Y3, &token, &body("installTime", END_OF_DAY_CHINA / 1000))
        .await;
    assert_business_error(&v, "20003", "installTime");

    let v = app
        .call(
            Y3,
            &token,
            &json!({"retailOrderNo": number, "distributionTime": END_OF_DAY_CHINA,
                    "installTime": END_OF_DAY_CHINA + 86_400_000}),
        )
        .await;
    assert_eq!(v["success"], json!(true), "{v}");
    let o = app.order("SO-Y3").await;
    assert_eq!(o["distributionTime"], json!(END_OF_DAY_CHINA));
    assert_eq!(o["installTime"], json!(END_OF_DAY_CHINA + 86_400_000));
    assert!(o["times"]["rescheduledAt"].is_i64());

    let v = app
        .call(
            Y3,
            &token,
            &json!({"retailOrderNo": "SO.20990101.999999", "distributionTime": END_OF_DAY_CHINA}),
        )
        .await;
    assert_business_error(&v, "20007", "SO.20990101.999999");
    let v = app
        .call(Y3, &token, &json!({"retailOrderNo": number}))
        .await;
    assert_business_error(&v, "20002", "distributionTime");
}

#[tokio::test]
async fn photos_and_logistics_appear_as_the_order_advances() {
    let app = spawn(SandboxConfig {
        callback_delay: Duration::from_secs(600),
        ..fast()
    })
    .await;
    let token = app.ylh_token().await;
    let op = app.op_token().await;
    let product = app.products().await.remove(0);
    let mut body = order_body("SO-LOG", &product);
    body["distributionTime"] = json!(END_OF_DAY_CHINA);
    body["installTime"] = json!(END_OF_DAY_CHINA);
    body["deliveryInstall"] = json!("true");
    let number = app.place(&token, &body).await;
    let h4 = |password: &str| {
        json!({"orderCode": number, "sellerCode": cred::CUSTOMER_CODE,
               "sellerPassword": password, "memberId": 1001})
    };
    let y4 = json!({"orderNo": number});
    let y5 = json!([number.clone(), "SO.20990101.999999"]);

    // Nothing shipped yet.
    let v = app.call(Y4, &token, &y4).await;
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["data"], json!([]));
    let v = app.call(Y5, &token, &y5).await;
    assert_eq!(v["data"], json!([]));

    assert_eq!(app.advance("SO-LOG").await["status"], json!("confirmed"));
    let o = app.advance("SO-LOG").await;
    assert_eq!(o["status"], json!("shipped"));

    let v = app.call(Y5, &token, &y5).await;
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "only the shipped order: {v}");
    assert_eq!(data[0]["orderCode"], json!(number));
    assert_eq!(data[0]["deliveryRecordCode"], json!(format!("{number}.F1")));
    // §0.3: {logisticsCode, logisticsName, expNo, barCodes[]}, one line per waybill.
    let parcels = data[0]["logisticsList"].as_array().unwrap();
    assert_eq!(parcels.len(), 1, "one waybill for the one line: {v}");
    for p in parcels {
        for key in ["logisticsCode", "logisticsName", "expNo"] {
            assert!(p[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
        }
        for key in ["logisticsCompany", "logisticsNo", "snCode"] {
            assert!(p.get(key).is_none(), "{key} is not the vendor's name");
        }
    }
    let barcodes = parcels[0]["barCodes"].as_array().unwrap();
    assert_eq!(barcodes.len(), 2, "one barcode per unit");
    assert_ne!(barcodes[0], barcodes[1]);
    assert_eq!(app.call(Y4, &token, &y4).await["data"], json!([]));

    let r = app
        .post(H4, Some(op.as_str()), &h4(cred::SELLER_PASSWORD))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], json!(true), "{v}");
    // §0.2 H4: the inner records of the vendor's document v1.0.10.
    let d = &v["data"];
    let deliveries = d["getAllLogisticsInfoByOrderCode"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{d}");
    let delivery = &deliveries[0];
    assert_eq!(
        delivery["deliveryRecordCode"],
        json!(format!("{number}.F1"))
    );
    assert_eq!(delivery["deliveryModel"], json!("C"));
    assert!(delivery["isTranfer"].is_string());
    let out = &delivery["getStoreOutboundLogisticsInfoResultDto"][0];
    assert_eq!(out["expNo"], parcels[0]["expNo"]);
    assert_eq!(out["logisticsCompanyName"], parcels[0]["logisticsName"]);
    assert_eq!(out["orderCode"], json!(number));
    assert_eq!(&out["barcodes"], &parcels[0]["barCodes"]);
    let states = out["deliveryLogisticsDtos"].as_array().unwrap();
    let codes: Vec<&str> = states
        .iter()
        .map(|s| s["stateCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["CONFIRMED", "OUTBOUND"], "{out}");
    for st in states {
        assert!(st["stateTime"].as_str().is_some_and(|t| t.len() == 19));
        assert!(
            st["stateDescription"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }
    assert_eq!(
        delivery["deliveryRecordDetailDtoList"][0]["shippingQty"],
        json!(2)
    );
    let own = d["getStockDeliveryLogisticsRecord"].as_array().unwrap();
    let third = d["getStockDeliveryLogisticsRecordThirdparty"]
        .as_array()
        .unwrap();
    assert_eq!(own.len() + third.len(), 1, "{d}");
    if let Some(t) = third.first() {
        let shipment = &t["logisticsNoList"][0];
        assert_eq!(shipment["logisticsNo"], parcels[0]["expNo"]);
        assert_eq!(shipment["logisticsName"], parcels[0]["logisticsName"]);
        assert!(shipment["logisticsInfo"][0]["context"].is_string(), "{t}");
    }
    if let Some(o) = own.first() {
        assert_eq!(o["deliveryRecordCode"], json!(format!("{number}.F1")));
        assert!(o["logisticsInfo"][0]["stateName"].is_string(), "{o}");
    }

    let o = app.advance("SO-LOG").await;
    assert_eq!(o["status"], json!("delivered"));
    let v = app.call(Y4, &token, &y4).await;
    // §0.3: data[] {orderNo, orderCode, ylhOrderCode, snNo, photosDeliveryList[]
    // {imgDesc, imgUrl, rowId, scene}}.
    let records = v["data"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{v}");
    let r = &records[0];
    assert_eq!(r["orderNo"], json!(number));
    assert_eq!(r["ylhOrderCode"], json!(format!("{number}.F1")));
    assert!(r["orderCode"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(barcodes.contains(&r["snNo"]), "{r}");
    let photos = r["photosDeliveryList"].as_array().unwrap();
    let scenes: Vec<u64> = photos
        .iter()
        .map(|p| p["scene"].as_u64().unwrap())
        .collect();
    assert_eq!(scenes, [1, 2], "delivery, then installation");
    for p in photos {
        let url = p["imgUrl"].as_str().unwrap();
        assert!(
            url.starts_with("https://") && url.ends_with(".jpg"),
            "{url}"
        );
        assert!(p["rowId"].is_u64() && p["imgDesc"].is_string(), "{p}");
    }
    let v: Value = app
        .post(H4, Some(op.as_str()), &h4(cred::SELLER_PASSWORD))
        .await
        .json()
        .await
        .unwrap();
    let states =
        v["data"]["getAllLogisticsInfoByOrderCode"][0]["getStoreOutboundLogisticsInfoResultDto"][0]
            ["deliveryLogisticsDtos"]
            .as_array()
            .unwrap();
    assert_eq!(states.last().unwrap()["stateCode"], json!("DELIVERED"));

    // Nothing left to advance; H4 wants the seller password; unknown orders are empty.
    let r = app
        .control("/_sandbox/orders/SO-LOG/advance", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = app
        .control("/_sandbox/orders/SO-NOPE/advance", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = app
        .post(H4, Some(op.as_str()), &h4(cred::PASSWORD))
        .await
        .json()
        .await
        .unwrap();
    assert_business_error(&v, "wrong_password", "错误");
    let mut unknown = h4(cred::SELLER_PASSWORD);
    unknown["orderCode"] = json!("SO.20990101.999999");
    let v: Value = app
        .post(H4, Some(&op), &unknown)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["getAllLogisticsInfoByOrderCode"], json!([]));
    // H4 is an Open Platform call: a YLH token is no good there.
    let r = app
        .post(
            H4,
            Some(&format!("Bearer {token}")),
            &h4(cred::SELLER_PASSWORD),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn y5_takes_a_bare_array_of_at_most_a_hundred_codes() {
    let app = spawn(fast()).await;
    let token = app.ylh_token().await;
    let codes: Vec<String> = (0..101).map(|i| format!("SO.20261121.{i:06}")).collect();
    let r = app
        .post(Y5, Some(&format!("Bearer {token}")), &json!(codes))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], json!(false));
    let v = app.call(Y5, &token, &json!(codes[..100])).await;
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["data"], json!([]));
    for wrapped in [json!({"orderCodes": codes[..2]}), json!([1, 2])] {
        let r = app
            .post(Y5, Some(&format!("Bearer {token}")), &wrapped)
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{wrapped}");
    }
}

#[tokio::test]
async fn a_hang_on_create_still_records_the_order() {
    let app = spawn(SandboxConfig {
        hang: Duration::from_millis(400),
        callback_delay: Duration::from_secs(600),
        ..fast()
    })
    .await;
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    let r = app
        .control(
            "/_sandbox/faults/next",
            &json!({"fault": "hang", "endpoint": "ylh_create_order"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The client gives up long before the hang ends.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .no_proxy()
        .build()
        .unwrap();
    let sent = impatient
        .post(app.url(Y1))
        .bearer_auth(&token)
        .json(&order_body("SO-HANG", &product))
        .send()
        .await;
    assert!(sent.is_err_and(|e| e.is_timeout()));
    let r = app
        .http
        .get(app.url("/_sandbox/orders/SO-HANG"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "not before the hang ends"
    );
    // The vendor still processes it: a timeout does not mean "not received".
    let mut found = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let r = app
            .http
            .get(app.url("/_sandbox/orders/SO-HANG"))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::OK {
            found = Some(r.json::<Value>().await.unwrap());
            break;
        }
    }
    let order = found.expect("the order was recorded after the hang");
    assert_eq!(order["status"], json!("received"));
    // Resending finds it.
    let v = app.call(Y1, &token, &order_body("SO-HANG", &product)).await;
    assert_eq!(v["success"], json!(false));
    assert_eq!(v["errorMsg"], json!("子订单号 SO-HANG 已存在"));
    assert_eq!(app.stats().await["faults"]["hang"], json!(1));
}

#[tokio::test]
async fn a_server_error_on_create_may_come_before_or_after_recording() {
    let app = spawn(SandboxConfig {
        callback_delay: Duration::from_secs(600),
        ..fast()
    })
    .await;
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    for (so_id, after) in [("SO-5XX-AFTER", true), ("SO-5XX-BEFORE", false)] {
        let r = app
            .control(
                "/_sandbox/faults/next",
                &json!({"fault": "server_error", "endpoint": "ylh_create_order",
                        "after_processing": after}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = app
            .post(
                Y1,
                Some(&format!("Bearer {token}")),
                &order_body(so_id, &product),
            )
            .await;
        assert!(r.status().is_server_error(), "{so_id}: {}", r.status());
        let r = app
            .http
            .get(app.url(&format!("/_sandbox/orders/{so_id}")))
            .send()
            .await
            .unwrap();
        let expected = if after {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(r.status(), expected, "{so_id}");
    }
    // Other endpoints are untouched by a fault queued for create.
    let r = app
        .control(
            "/_sandbox/faults/next",
            &json!({"fault": "server_error", "endpoint": "ylh_create_order", "count": 1}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app
        .call(Y4, &token, &json!({"orderNo": "SO.20990101.999999"}))
        .await;
    assert_eq!(
        (v["success"].clone(), v["code"].clone()),
        (json!(false), json!(1))
    );
    assert_eq!(app.get("/_sandbox/faults/next").await["queued"], json!(1));
    for bad in [
        json!({"fault": "gremlins"}),
        json!({"fault": "hang", "endpoint": "nope"}),
        json!({"fault": "hang", "extra": 1}),
    ] {
        let r = app.control("/_sandbox/faults/next", &bad).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn timers_advance_orders_on_their_own() {
    let app = spawn(SandboxConfig {
        logistics_step: Duration::from_millis(40),
        ..fast()
    })
    .await;
    let mut rx = receiver(0).await;
    app.sandbox.set_callback_url(&rx.url);
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    app.place(&token, &order_body("SO-TIMED", &product)).await;
    assert_eq!(verified(&rx.next().await).0, "hmm.scm_heorder.confirm");
    let mut status = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        status = app.order("SO-TIMED").await["status"].clone();
        if status == "delivered" {
            break;
        }
    }
    assert_eq!(status, json!("delivered"));
    let o = app.order("SO-TIMED").await;
    let t = &o["times"];
    let (decided, shipped, delivered) = (
        t["decidedAt"].as_i64().unwrap(),
        t["shippedAt"].as_i64().unwrap(),
        t["deliveredAt"].as_i64().unwrap(),
    );
    assert!(decided - t["receivedAt"].as_i64().unwrap() >= 25);
    assert!(shipped - decided >= 35 && delivered - shipped >= 35);
    assert_eq!(o["photos"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn order_settings_are_checked_and_shutdown_stops_callbacks() {
    let app = spawn(SandboxConfig {
        callback_delay: Duration::from_millis(150),
        ..fast()
    })
    .await;
    for bad in [
        json!({"confirm_rate": 0.5}),
        json!({"duplicate_callback_rate": 2}),
        json!({"callback_url": "ftp://x"}),
        json!({"callback_delay_ms": -1}),
        json!({"confrim_rate": 1}),
    ] {
        let r = app.control("/_sandbox/orders/config", &bad).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert!(v["code"].is_string() && v["detail"].is_string());
    }
    let v = app.get("/_sandbox/orders/config").await;
    assert_eq!(v["confirm_rate"], json!(1.0));
    assert_eq!(v["callback_url"], Value::Null);
    assert_eq!(v["callback_delay_ms"], json!(150));
    let r = app
        .control(
            "/_sandbox/orders/config",
            &json!({"confirm_rate": 0.5, "reject_rate": 0.25, "oos_rate": 0.25,
                    "logistics_step_ms": 70}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["oos_rate"], json!(0.25));
    assert_eq!(v["logistics_step_ms"], json!(70));

    // A config with rates that do not add up does not start.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad = SandboxConfig {
        reject_rate: 0.5,
        ..fast()
    };
    let err = sandbox::start(bad, listener).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    // An order whose callback is still due when the sandbox stops gets none.
    let mut rx = receiver(0).await;
    app.sandbox.set_callback_url(&rx.url);
    let token = app.ylh_token().await;
    let product = app.products().await.remove(0);
    app.place(&token, &order_body("SO-STOP", &product)).await;
    let App { sandbox, .. } = app;
    sandbox.shutdown().await.unwrap();
    rx.quiet(Duration::from_millis(400)).await;
}
