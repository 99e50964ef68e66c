//! The sandbox over real HTTP, as a client sees it.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use reqwest::StatusCode;
use sandbox::{FaultMode, SandboxConfig, credentials as cred};
use serde_json::{Value, json};

mod common;

use common::{App, spawn};

const H1: &str = "/yilihuo/jsh-service-goods-mall-search/api/product-info/procurable-products-out/check-procurable-products";
const H2: &str = "/yilihuo/jsh-service-goods-price/api/goods-price/price-daily-sales/price-query/pt-out-list-price";
const H3: &str = "/yilihuo/jsh-service-stock-mall/api/page/stock/get-available-stock-open";
const H5: &str = "/yilihuo/jsh-service-finance-mall/api/page/account/account-balance-manager/get-payer-account-balance-by-customer-code";

fn small() -> SandboxConfig {
    SandboxConfig {
        products: 400,
        rate_limit: 0,
        ..SandboxConfig::default()
    }
}

fn h1_body(codes: Option<Vec<String>>) -> Value {
    let mut body = json!({
        "customerCode": cred::CUSTOMER_CODE,
        "sendToCode": cred::SEND_TO_CODE,
        "supplierCode": cred::SUPPLIER_CODE,
        "searchType": "PTJSH",
        "passWord": cred::PASSWORD,
    });
    if let Some(codes) = codes {
        body["productCodes"] = json!(codes);
    }
    body
}

fn h2_body(codes: &[String]) -> Value {
    json!({
        "customerCode": cred::CUSTOMER_CODE,
        "sendToCode": cred::SEND_TO_CODE,
        "productCodes": codes,
        "priceType": "PT",
        "passWord": cred::PASSWORD,
    })
}

fn h3_body(product: &str, county: &str) -> Value {
    json!({
        "salesCode": cred::CUSTOMER_CODE,
        "senderCode": cred::SEND_TO_CODE,
        "productCode": product,
        "countyCode": county,
        "source": "JSH-B",
        "sellerPassword": cred::SELLER_PASSWORD,
    })
}

fn h5_body() -> Value {
    json!({"customerCode": cred::CUSTOMER_CODE, "customerPassword": cred::CUSTOMER_PASSWORD})
}

impl App {
    async fn catalog(&self) -> BTreeMap<String, Value> {
        let v = self.get("/_sandbox/catalog").await;
        let products = v["products"].as_array().unwrap();
        assert_eq!(v["count"].as_u64(), Some(products.len() as u64));
        products
            .iter()
            .map(|p| (p["productCode"].as_str().unwrap().to_owned(), p.clone()))
            .collect()
    }
}

/// The `data` list of a success in the §0.1 envelope (checking the envelope).
fn data(v: &Value) -> &Vec<Value> {
    assert_envelope(v);
    assert_eq!(v["success"], json!(true), "{v}");
    assert_eq!(v["code"], json!(0), "a number (§0.1): {v}");
    assert!(v["errorMsg"].is_null() && v["errCode"].is_null(), "{v}");
    v["data"].as_array().unwrap()
}

/// Every key of the §0.1 envelope, and none of the invented ones.
fn assert_envelope(v: &Value) {
    for key in [
        "success",
        "code",
        "errCode",
        "errorMsg",
        "infoMsgs",
        "warningMsgs",
        "data",
    ] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert!(v.get("message").is_none(), "no `message` in v1.0.10: {v}");
    assert!(
        v["infoMsgs"].is_array() && v["warningMsgs"].is_array(),
        "{v}"
    );
}

/// A business failure: HTTP 200, `success: false`, `code` 1 and the text in
/// `errorMsg` (naming `what`); the vendor documents no error codes.
fn assert_business_error(v: &Value, what: &str) {
    assert_envelope(v);
    assert_eq!(v["success"], json!(false), "{v}");
    assert_eq!(v["code"], json!(1), "{v}");
    assert!(v["data"].is_null());
    let text = v["errorMsg"].as_str().unwrap();
    assert!(text.contains(what), "{what:?} not in {text:?}");
}

#[tokio::test]
async fn token_then_h1_takes_the_bare_token_only() {
    let app = spawn(small()).await;
    let r = app
        .token_reply(json!({
            "client_id": cred::CLIENT_ID,
            "client_secret": cred::CLIENT_SECRET,
            "grant_type": "client_credentials",
        }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    // §0.2: {expires_at, expires_in, token}, no token_type.
    assert_eq!(t["expires_in"], json!(3600));
    assert!(t["expires_at"].is_i64(), "{t}");
    assert!(t.get("token_type").is_none(), "{t}");
    let token = t["token"].as_str().unwrap();

    // Business calls carry the bare token; `Bearer <token>` is refused by default.
    let bearer = app
        .post(H1, Some(&format!("Bearer {token}")), &h1_body(None))
        .await;
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    let refused: Value = bearer.json().await.unwrap();
    assert_envelope(&refused);
    assert_eq!(refused["success"], json!(false));
    let bare = app.post(H1, Some(token), &h1_body(None)).await;
    assert_eq!(bare.status(), StatusCode::OK);
    let bare: Value = bare.json().await.unwrap();
    assert_envelope(&bare);
    assert_eq!(bare["success"], json!(true));

    // An operator whose gateway takes both can say so.
    let lenient = spawn(SandboxConfig {
        accept_bearer: true,
        ..small()
    })
    .await;
    let token = lenient.op_token().await;
    let r = lenient
        .post(H1, Some(&format!("Bearer {token}")), &h1_body(None))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Without codes: exactly the procurable products of the truth.
    let catalog = app.catalog().await;
    let procurable: HashSet<&str> = catalog
        .values()
        .filter(|p| p["isSales"] == "1")
        .map(|p| p["productCode"].as_str().unwrap())
        .collect();
    assert!(procurable.len() < catalog.len(), "some are not procurable");
    let items = data(&bare);
    let got: HashSet<&str> = items
        .iter()
        .map(|p| p["productCode"].as_str().unwrap())
        .collect();
    assert_eq!(got, procurable);
    for item in items {
        assert_eq!(item["isSales"], json!("1"));
        for key in [
            "productModel",
            "productGroupNamd",
            "productBrandName",
            "productImageUrl",
        ] {
            assert!(item[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
        }
        let pages = item["productLageUrls"].as_array().unwrap();
        assert!((1..=4).contains(&pages.len()));
    }

    // The alternative token URL works too.
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .json(&json!({
            "client_id": cred::CLIENT_ID,
            "client_secret": cred::CLIENT_SECRET,
            "grant_type": "client_credentials",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn h1_with_codes_answers_known_products_only() {
    let app = spawn(small()).await;
    let token = app.op_token().await;
    let catalog = app.catalog().await;
    let off = catalog.values().find(|p| p["isSales"] == "0").unwrap();
    let on = catalog.values().find(|p| p["isSales"] == "1").unwrap();
    let codes = vec![
        off["productCode"].as_str().unwrap().to_owned(),
        "ZZ9ZZZZZZ".to_owned(),
        on["productCode"].as_str().unwrap().to_owned(),
    ];
    let v = app.call(H1, &token, &h1_body(Some(codes.clone()))).await;
    let items = data(&v);
    assert_eq!(items.len(), 2, "the unknown code is absent");
    assert_eq!(items[0]["productCode"], json!(codes[0]));
    assert_eq!(items[0]["isSales"], json!("0"));
    assert!(
        items[0]["noSalesReason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(items[1]["productCode"], json!(codes[2]));
    assert_eq!(items[1]["isSales"], json!("1"));
}

#[tokio::test]
async fn expired_wrong_and_missing_tokens_get_401() {
    let app = spawn(SandboxConfig {
        token_ttl: Duration::from_secs(1),
        ..small()
    })
    .await;
    let token = app.op_token().await;
    let v = app.call(H5, &token, &h5_body()).await;
    assert_eq!(data(&v).len(), 1);

    for auth in [Some("Bearer not-a-token"), Some("not-a-token"), None] {
        let r = app.post(H5, auth, &h5_body()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["code"], json!(1));
        assert!(!body["errorMsg"].as_str().unwrap().is_empty());
    }

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = app.post(H5, Some(&token), &h5_body()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], json!(1));
    assert_eq!(app.stats().await["unauthorized"], json!(4));
}

#[tokio::test]
async fn token_endpoint_refuses_wrong_credentials_and_grants() {
    let app = spawn(small()).await;
    let r = app
        .token_reply(json!({
            "client_id": cred::CLIENT_ID,
            "client_secret": "wrong",
            "grant_type": "client_credentials",
        }))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], json!(false));
    assert_eq!(v["error"], json!("invalid_client"));

    let r = app
        .token_reply(json!({
            "client_id": cred::CLIENT_ID,
            "client_secret": cred::CLIENT_SECRET,
            "grant_type": "password",
        }))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.token_reply(json!({"clientId": cred::CLIENT_ID})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.stats().await["tokens_issued"], json!(0));
}

#[tokio::test]
async fn more_than_twenty_codes_are_rejected() {
    let app = spawn(small()).await;
    let token = app.op_token().await;
    let codes: Vec<String> = app.catalog().await.keys().take(21).cloned().collect();
    for (path, body) in [(H1, h1_body(Some(codes.clone()))), (H2, h2_body(&codes))] {
        let r = app.post(path, Some(&token), &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["success"], json!(false));
    }
    // Twenty is fine.
    let v = app.call(H2, &token, &h2_body(&codes[..20])).await;
    assert_eq!(data(&v).len(), 20);
}

#[tokio::test]
async fn wrong_passwords_and_codes_are_business_errors() {
    let app = spawn(small()).await;
    let token = app.op_token().await;
    let code = app.catalog().await.keys().next().unwrap().clone();

    let mut h1 = h1_body(None);
    h1["passWord"] = json!("wrong");
    assert_business_error(&app.call(H1, &token, &h1).await, "错误");

    let mut h2 = h2_body(std::slice::from_ref(&code));
    h2["passWord"] = json!(cred::SELLER_PASSWORD);
    assert_business_error(&app.call(H2, &token, &h2).await, "错误");

    // H3 wants the seller password, not the agreed one.
    let mut h3 = h3_body(&code, "110101");
    h3["sellerPassword"] = json!(cred::PASSWORD);
    assert_business_error(&app.call(H3, &token, &h3).await, "错误");

    let mut h5 = h5_body();
    h5["customerPassword"] = json!(cred::PASSWORD);
    assert_business_error(&app.call(H5, &token, &h5).await, "错误");

    let mut h1 = h1_body(None);
    h1["customerCode"] = json!("8800000000");
    assert_business_error(&app.call(H1, &token, &h1).await, "售达方编码不存在");

    let mut h1 = h1_body(None);
    h1["sendToCode"] = json!(cred::CUSTOMER_CODE);
    assert_business_error(&app.call(H1, &token, &h1).await, "送达方编码不存在");

    let mut h1 = h1_body(None);
    h1["searchType"] = json!("PT");
    assert_business_error(&app.call(H1, &token, &h1).await, "不支持");
}

#[tokio::test]
async fn malformed_or_incomplete_requests_get_400() {
    let app = spawn(small()).await;
    let token = app.op_token().await;

    let r = app
        .http
        .post(app.url(H1))
        .header("Authorization", &token)
        .header("Content-Type", "application/json")
        .body("{\"customerCode\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], json!(false));

    // A misnamed required field is a missing one.
    let mut body = h1_body(None);
    let pw = body.as_object_mut().unwrap().remove("passWord").unwrap();
    body["password"] = pw;
    let r = app.post(H1, Some(&token), &body).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // sendToCode is required with supplier 1001.
    let mut body = h1_body(None);
    body.as_object_mut().unwrap().remove("sendToCode");
    let r = app.post(H1, Some(&token), &body).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A number where the vendor wants a string.
    let mut body = h5_body();
    body["customerCode"] = json!(8_800_633_175_u64);
    let r = app.post(H5, Some(&token), &body).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Prices need codes.
    let r = app.post(H2, Some(&token), &h2_body(&[])).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Not JSON at all.
    let r = app
        .http
        .post(app.url(H5))
        .header("Authorization", &token)
        .body("customerCode=8800633175")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());

    // Unknown paths and methods answer in the platform's envelope.
    let r = app.http.get(app.url(H1)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = app.http.post(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], json!(false));
}

#[tokio::test]
async fn prices_follow_the_vendor_rules() {
    let app = spawn(SandboxConfig {
        products: 2000,
        rate_limit: 0,
        ..SandboxConfig::default()
    })
    .await;
    let token = app.op_token().await;
    let catalog = app.catalog().await;
    let codes: Vec<String> = catalog.keys().cloned().collect();
    let mut seen_number_policy = false;
    let mut seen_string_policy = false;
    let mut seen_no_price = false;
    let mut seen_not_procurable = false;
    for chunk in codes.chunks(20) {
        let r = app.post(H2, Some(&token), &h2_body(chunk)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let items = data(&v);
        assert_eq!(items.len(), chunk.len());
        for item in items {
            let code = item["productCode"].as_str().unwrap();
            let truth = &catalog[code];
            for key in [
                "supplyPrice",
                "invoicePrice",
                "rebateRate",
                "rebateMoney",
                "stockRebatePolicy",
                "reason",
                "isSales",
            ] {
                assert_eq!(item[key], truth[key], "{code} {key}");
            }
            match item["supplyPrice"].as_f64() {
                Some(supply) => {
                    // Two decimals on the wire.
                    assert!(
                        text.contains(&format!("\"supplyPrice\":{supply:.2}")),
                        "{code}"
                    );
                    let rebate = item["rebateMoney"].as_f64().unwrap();
                    let invoice = item["invoicePrice"].as_f64().unwrap();
                    // §0.2: the policy is an integer (0, 1, 2, 5), the direct discount
                    // is `rebateRate`, a fraction (0 when none).
                    let policy = item["stockRebatePolicy"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("stockRebatePolicy is not an integer: {item}"));
                    assert!([0, 1, 2, 5].contains(&policy), "{code}: {item}");
                    let discount = item["rebateRate"].as_f64().unwrap();
                    assert!((0.0..1.0).contains(&discount), "{code}: {item}");
                    if discount > 0.0 {
                        seen_number_policy = true;
                    } else if policy != 0 {
                        seen_string_policy = true;
                    }
                    assert!(
                        text.contains(&format!("\"rebateRate\":{discount:.2}")),
                        "{code}"
                    );
                    let expected = (supply * (1.0 - discount) * 100.0).round() / 100.0 - rebate;
                    assert!((invoice - expected).abs() < 0.011, "{code}: {item}");
                    assert!(item["reason"].is_null());
                }
                None => {
                    assert!(item["invoicePrice"].is_null());
                    if item["isSales"] == "0" {
                        seen_not_procurable = true;
                        assert_eq!(item["reason"], json!("商品暂不可采"));
                    } else {
                        seen_no_price = true;
                        assert_eq!(item["reason"], json!("价格未生效"));
                    }
                }
            }
        }
    }
    assert!(seen_number_policy && seen_string_policy && seen_no_price && seen_not_procurable);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_and_is_counted() {
    let app = spawn(SandboxConfig {
        rate_limit: 2,
        ..small()
    })
    .await;
    let token = app.op_token().await;
    let mut ok = 0;
    let mut limited = 0;
    for _ in 0..20 {
        let r = app.post(H5, Some(&token), &h5_body()).await;
        match r.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                let retry: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(retry >= 1);
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["success"], json!(false));
            }
            other => panic!("{other}"),
        }
    }
    assert!(ok >= 1 && limited >= 1, "ok {ok}, limited {limited}");
    let stats = app.stats().await;
    assert_eq!(stats["calls"]["balance"], json!(20));
    assert_eq!(stats["calls"]["token"], json!(1));
    assert_eq!(stats["too_many_requests"], json!(limited));
    assert_eq!(stats["rate_limited"], json!(limited));
    assert_eq!(stats["tokens_issued"], json!(1));
    // The control API is not limited.
    for _ in 0..10 {
        app.get("/_sandbox/stats").await;
    }
}

#[tokio::test]
async fn the_seed_decides_the_catalog() {
    let config = |seed| SandboxConfig {
        seed,
        products: 300,
        ..small()
    };
    let (a, b, c) = (
        spawn(config(42)).await,
        spawn(config(42)).await,
        spawn(config(43)).await,
    );
    let (ca, cb, cc) = (a.catalog().await, b.catalog().await, c.catalog().await);
    assert_eq!(ca.len(), 300);
    assert_eq!(ca, cb);
    assert_ne!(ca, cc);
    let common = ca.keys().filter(|k| cc.contains_key(*k)).count();
    assert!(common < 10, "{common} codes shared across seeds");
}

#[tokio::test]
async fn churn_changes_exactly_n_products() {
    let app = spawn(small()).await;
    let before = app.catalog().await;
    let r = app.control("/_sandbox/churn", &json!({"count": 60})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let changed = v["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 60);
    let after = app.catalog().await;

    let mut kinds = HashMap::new();
    let mut codes = HashSet::new();
    for c in changed {
        let code = c["productCode"].as_str().unwrap().to_owned();
        let kind = c["change"].as_str().unwrap();
        *kinds.entry(kind.to_owned()).or_insert(0) += 1;
        assert!(codes.insert(code.clone()), "{code} changed twice");
        let (old, new) = (before.get(&code), after.get(&code));
        match kind {
            "price" => {
                let (old, new) = (old.unwrap(), new.unwrap());
                assert_ne!(old["supplyPrice"], new["supplyPrice"]);
                assert!(new["supplyPrice"].is_number());
                assert_ne!(old["invoicePrice"], new["invoicePrice"]);
            }
            "procurability" => {
                let (old, new) = (old.unwrap(), new.unwrap());
                assert_ne!(old["isSales"], new["isSales"]);
                if new["isSales"] == "0" {
                    assert!(new["noSalesReason"].is_string());
                } else {
                    assert!(new["noSalesReason"].is_null());
                }
            }
            "added" => assert!(old.is_none() && new.is_some()),
            "removed" => assert!(old.is_some() && new.is_none()),
            other => panic!("change {other}"),
        }
    }
    assert!(kinds.len() >= 3, "{kinds:?}");
    // Nothing else moved.
    let all: HashSet<&String> = before.keys().chain(after.keys()).collect();
    for code in all {
        if !codes.contains(code) {
            assert_eq!(before.get(code), after.get(code), "{code}");
        }
    }

    // The platform itself reflects the change: a removed code leaves H1.
    let token = app.op_token().await;
    if let Some(removed) = changed.iter().find(|c| c["change"] == "removed") {
        let code = removed["productCode"].as_str().unwrap().to_owned();
        let v = app.call(H1, &token, &h1_body(Some(vec![code]))).await;
        assert!(data(&v).is_empty());
    }

    let r = app.control("/_sandbox/churn", &json!({"count": -1})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(v["code"].is_string() && v["detail"].is_string());
}

#[tokio::test]
async fn stock_answers_every_stock_region_with_string_stock() {
    let app = spawn(small()).await;
    let token = app.op_token().await;
    let catalog = app.catalog().await;
    let product = catalog.values().find(|p| p["isSales"] == "1").unwrap();
    let code = product["productCode"].as_str().unwrap();

    let mut grades = HashSet::new();
    for region in region::stock_regions() {
        let county = region.code.to_string();
        let v = app.call(H3, &token, &h3_body(code, &county)).await;
        let items = data(&v);
        assert!((1..=3).contains(&items.len()), "{county}");
        for w in items {
            let stock = w["stock"].as_str().expect("stock is a string");
            stock.parse::<u32>().unwrap();
            let grade = w["warehouseGrade"].as_str().unwrap();
            assert!(grade == "0" || grade == "1");
            grades.insert(grade.to_owned());
            assert!(w["secCode"].as_str().is_some_and(|s| !s.is_empty()));
            let t = &w["timelinessData"];
            for key in ["cutTime", "achieveUserOrderCut", "hour", "isTranfer"] {
                assert!(t[key].is_string(), "{key}");
            }
        }
    }
    assert_eq!(grades.len(), 2);

    // The same answer as the truth.
    let truth = app
        .get(&format!(
            "/_sandbox/stock?productCode={code}&countyCode=320106"
        ))
        .await;
    let v = app.call(H3, &token, &h3_body(code, "320106")).await;
    let strip = |items: &Value| -> Vec<(Value, Value, Value)> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["secCode"].clone(),
                    w["stock"].clone(),
                    w["warehouseGrade"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&v["data"]), strip(&truth));

    // Not a stock region: a business error. A city code is not one either.
    for bad in ["999999", "320100", "abc"] {
        assert_business_error(
            &app.call(H3, &token, &h3_body(code, bad)).await,
            "区县编码不存在",
        );
    }
    // Unknown and non-procurable products have no stock.
    let v = app.call(H3, &token, &h3_body("ZZ9ZZZZZZ", "110101")).await;
    assert!(data(&v).is_empty());
    let off = catalog.values().find(|p| p["isSales"] == "0").unwrap();
    let off = off["productCode"].as_str().unwrap();
    let v = app.call(H3, &token, &h3_body(off, "110101")).await;
    assert!(data(&v).is_empty());

    // An override replaces the computed stock, and clearing it restores it.
    let r = app
        .control(
            "/_sandbox/stock",
            &json!({"productCode": code, "countyCode": "110101",
                    "warehouses": [{"secCode": "BJ01", "stock": 1, "warehouseGrade": "0"}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.call(H3, &token, &h3_body(code, "110101")).await;
    let items = data(&v);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["secCode"], json!("BJ01"));
    assert_eq!(items[0]["stock"], json!("1"));
    let r = app
        .control(
            "/_sandbox/stock",
            &json!({"productCode": code, "countyCode": "110101"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.call(H3, &token, &h3_body(code, "110101")).await;
    assert_ne!(data(&v)[0]["secCode"], json!("BJ01"));

    let r = app
        .http
        .get(app.url("/_sandbox/stock?productCode=X&countyCode=999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(v["code"].is_string() && v["detail"].is_string());

    for (method, path, status) in [
        ("GET", "/_sandbox/nope", StatusCode::NOT_FOUND),
        ("POST", "/_sandbox/catalog", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .http
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
        let v: Value = r.json().await.unwrap();
        assert!(v["code"].is_string() && v["detail"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn balance_is_a_list_of_one_payer_account() {
    let app = spawn(small()).await;
    let token = app.op_token().await;
    let r = app.post(H5, Some(&token), &h5_body()).await;
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let items = data(&v);
    assert_eq!(items.len(), 1);
    for key in [
        "saleGroupCode",
        "saleGroupName",
        "payerAccountCode",
        "payerAccountName",
    ] {
        assert!(items[0][key].is_string(), "{key}");
    }
    assert!(items[0]["payerAccountBalance"].is_number());
    assert!(
        text.contains("\"payerAccountBalance\":1286450.00"),
        "{text}"
    );
}

#[tokio::test]
async fn hostile_mode_serves_every_kind_of_fault_and_counts_them() {
    let app = spawn(SandboxConfig {
        faults: FaultMode::Hostile,
        hang: Duration::from_millis(30),
        seed: 5,
        ..small()
    })
    .await;
    let code = app.catalog().await.keys().next().unwrap().clone();
    let mut token: Option<String> = None;
    let (mut ok, mut status_5xx, mut status_429, mut status_401, mut garbled) = (0, 0, 0, 0, 0);
    let mut token_calls = 0;
    for _ in 0..600 {
        // Get a token when we have none (the token endpoint is faulted too).
        while token.is_none() {
            token_calls += 1;
            assert!(token_calls < 500, "no token could be had");
            let r = app
                .token_reply(json!({
                    "client_id": cred::CLIENT_ID,
                    "client_secret": cred::CLIENT_SECRET,
                    "grant_type": "client_credentials",
                }))
                .await;
            let status = r.status();
            let text = r.text().await.unwrap();
            match (status, serde_json::from_str::<Value>(&text)) {
                (StatusCode::OK, Ok(v)) => token = v["token"].as_str().map(str::to_owned),
                (StatusCode::OK, Err(_)) => garbled += 1,
                (s, _) if s.is_server_error() => status_5xx += 1,
                (StatusCode::TOO_MANY_REQUESTS, _) => status_429 += 1,
                (s, _) => panic!("token: {s}"),
            }
        }
        let t = token.clone().unwrap();
        let r = app.post(H3, Some(&t), &h3_body(&code, "110101")).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        match status {
            StatusCode::OK => match serde_json::from_str::<Value>(&text) {
                Ok(v) => {
                    assert_eq!(v["success"], json!(true));
                    ok += 1;
                }
                Err(_) => garbled += 1,
            },
            StatusCode::UNAUTHORIZED => {
                status_401 += 1;
                token = None;
            }
            StatusCode::TOO_MANY_REQUESTS => status_429 += 1,
            s if s.is_server_error() => status_5xx += 1,
            s => panic!("{s}: {text}"),
        }
    }
    let stats = app.stats().await;
    let f = &stats["faults"];
    for kind in [
        "server_error",
        "hang",
        "burst_429",
        "malformed_json",
        "token_revocation",
    ] {
        assert!(f[kind].as_u64().unwrap() > 0, "{kind}: {stats}");
    }
    assert_eq!(f["server_error"], json!(status_5xx));
    assert_eq!(f["burst_429"], json!(status_429));
    assert_eq!(stats["too_many_requests"], json!(status_429));
    // A revocation fails its own call with 401 (possibly garbled as well).
    let revocations = f["token_revocation"].as_u64().unwrap();
    assert!(
        status_401 >= 1 && status_401 <= revocations,
        "{status_401} vs {revocations}"
    );
    assert!(f["malformed_json"].as_u64().unwrap() >= garbled);
    let faulted = stats["faults_total"].as_u64().unwrap();
    let calls = stats["calls_total"].as_u64().unwrap();
    assert!(
        faulted * 100 >= calls * 10 && faulted * 100 <= calls * 40,
        "{faulted} of {calls}"
    );
    assert!(ok > 300, "a retrying client gets through: {ok}");

    // Switching the mode at run time stops the faults.
    let r = app
        .control("/_sandbox/faults", &json!({"mode": "none"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t = app.op_token().await;
    for _ in 0..50 {
        let v = app.call(H3, &t, &h3_body(&code, "110101")).await;
        data(&v);
    }
    let r = app
        .control("/_sandbox/faults", &json!({"mode": "evil"}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/_sandbox/faults").await["mode"], json!("none"));
}

#[tokio::test]
async fn env_names_the_client_settings_and_shutdown_stops_the_server() {
    let app = spawn(SandboxConfig {
        rate_limit: 100,
        ..small()
    })
    .await;
    let env = app.sandbox.env();
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "SUPPLYHUB_HAIER__BASE_URL",
            "SUPPLYHUB_HAIER__TOKEN_URL",
            "SUPPLYHUB_HAIER__CLIENT_ID",
            "SUPPLYHUB_HAIER__CLIENT_SECRET",
            "SUPPLYHUB_HAIER__CUSTOMER_CODE",
            "SUPPLYHUB_HAIER__SEND_TO_CODE",
            "SUPPLYHUB_HAIER__SUPPLIER_CODE",
            "SUPPLYHUB_HAIER__PASSWORD",
            "SUPPLYHUB_HAIER__SELLER_PASSWORD",
            "SUPPLYHUB_HAIER__CUSTOMER_PASSWORD",
            "SUPPLYHUB_HAIER__RATE_LIMIT",
            "SUPPLYHUB_YLH__AUTH_BASE_URL",
            "SUPPLYHUB_YLH__ORDER_BASE_URL",
            "SUPPLYHUB_YLH__RETAIL_ORDER_BASE_URL",
            "SUPPLYHUB_YLH__STOCK_BASE_URL",
            "SUPPLYHUB_YLH__CLIENT_ID",
            "SUPPLYHUB_YLH__CLIENT_SECRET",
            "SUPPLYHUB_YLH__USERNAME",
            "SUPPLYHUB_YLH__PASSWORD",
            "SUPPLYHUB_YLH__SOURCE_SYSTEM",
            "SUPPLYHUB_YLH__SHOP_NAME",
            "SUPPLYHUB_YLH__SELLER_CODE",
            "SUPPLYHUB_HAIER_CALLBACK__APP_KEY",
            "SUPPLYHUB_HAIER_CALLBACK__SECRET",
        ]
    );
    let base = app.sandbox.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert_eq!(env[0].1, base);
    assert_eq!(env[1].1, format!("{base}/oauth2/auth"));
    let var = |name: &str| env.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(
        var("SUPPLYHUB_YLH__AUTH_BASE_URL"),
        format!("{base}/ylh-cloud-mgt-auth-dev")
    );
    assert_eq!(
        var("SUPPLYHUB_YLH__ORDER_BASE_URL"),
        format!("{base}/ylh-cloud-service-jst-order-dev")
    );
    assert_eq!(
        var("SUPPLYHUB_YLH__RETAIL_ORDER_BASE_URL"),
        format!("{base}/ylh-cloud-service-order-dev")
    );
    assert_eq!(
        var("SUPPLYHUB_YLH__STOCK_BASE_URL"),
        format!("{base}/ylh-cloud-service-stock-dev")
    );
    assert_eq!(var("SUPPLYHUB_YLH__SELLER_CODE"), cred::CUSTOMER_CODE);
    assert_eq!(
        var("SUPPLYHUB_HAIER_CALLBACK__SECRET"),
        cred::CALLBACK_SECRET
    );
    assert_eq!(var("SUPPLYHUB_HAIER__RATE_LIMIT"), "100");
    let served = app.get("/_sandbox/env").await;
    assert_eq!(served["SUPPLYHUB_HAIER__TOKEN_URL"], json!(env[1].1));

    // The token URL from env really issues tokens.
    let r = app
        .http
        .post(&env[1].1)
        .json(&json!({"client_id": env[2].1, "client_secret": env[3].1,
                      "grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let App { sandbox, http } = app;
    sandbox.shutdown().await.unwrap();
    let gone = http.get(format!("{base}/_sandbox/stats")).send().await;
    assert!(gone.is_err());
}

#[tokio::test]
async fn an_unlimited_sandbox_leaves_the_client_rate_limit_unset() {
    // 0 means no limit in the sandbox; the hub refuses 0, so no limit is printed and
    // the client keeps its own pace.
    let app = spawn(small()).await;
    let env = app.sandbox.env();
    assert!(
        env.iter().all(|(k, _)| k != "SUPPLYHUB_HAIER__RATE_LIMIT"),
        "{env:?}"
    );
    assert!(env.iter().any(|(k, _)| k == "SUPPLYHUB_HAIER__BASE_URL"));
    let served = app.get("/_sandbox/env").await;
    assert!(
        served.get("SUPPLYHUB_HAIER__RATE_LIMIT").is_none(),
        "{served}"
    );
}

#[tokio::test]
async fn shutdown_ends_hanging_calls() {
    let app = spawn(SandboxConfig {
        faults: FaultMode::Hostile,
        hang: Duration::from_secs(600),
        ..small()
    })
    .await;
    // Fire calls without waiting for them until one of them hangs.
    let mut pending = Vec::new();
    for _ in 0..3000 {
        let (http, url) = (app.http.clone(), app.url(H5));
        pending.push(tokio::spawn(async move {
            http.post(url).json(&h5_body()).send().await
        }));
        if pending.len() % 20 == 0 && app.stats().await["faults"]["hang"].as_u64() > Some(0) {
            break;
        }
    }
    assert!(app.stats().await["faults"]["hang"].as_u64() > Some(0));
    let App { sandbox, .. } = app;
    // The hang is 10 minutes: shutdown must not wait for it.
    tokio::time::timeout(Duration::from_secs(15), sandbox.shutdown())
        .await
        .expect("shutdown waited for a hanging call")
        .unwrap();
    let mut unavailable = 0;
    for call in pending {
        let answered = tokio::time::timeout(Duration::from_secs(15), call)
            .await
            .map(|j| j.unwrap());
        if let Ok(Ok(r)) = answered
            && r.status() == StatusCode::SERVICE_UNAVAILABLE
            && r.text().await.is_ok_and(|t| t.contains("服务正在停止"))
        {
            unavailable += 1;
        }
    }
    assert!(
        unavailable >= 1,
        "a hanging call is answered 503 at shutdown"
    );
}
