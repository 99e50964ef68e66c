//! HTTP-level tests of the YLH client against a local mock server.

// Helpers outside `#[test]` functions unwrap too: a failed unwrap is a
// failed test.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haier::ylh::{CreateOutcome, OrderItem, paths};
use haier::{
    CallObserver, CallRecord, CreateOrderRequest, Error, Outcome, ProductCode, Ylh, YlhConfig,
};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const AUTH: &str = "/ylh-cloud-mgt-auth-dev";
const ORDER: &str = "/ylh-cloud-service-jst-order-dev";
const RETAIL: &str = "/ylh-cloud-service-order-dev";
const STOCK: &str = "/ylh-cloud-service-stock-dev";

/// Secrets and personal data that must never show in an error.
const PRIVATE: [&str; 4] = ["12345678", "123qwe", "张三丰", "13912345678"];

fn config(server: &MockServer) -> YlhConfig {
    let uri = server.uri();
    let mut c = YlhConfig::for_host(
        &uri,
        "-dev",
        "12345678".into(),
        "erp",
        "123qwe".into(),
        "测试店铺",
        "8800539012",
    );
    // The mock server speaks plain HTTP only.
    c.stock_base_url = format!("{uri}{STOCK}");
    c.rate_limit = 1000;
    c.source_system = "registered-src".into();
    c
}

fn client(config: YlhConfig) -> Ylh {
    Ylh::builder(config)
        .retry_delays(Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .unwrap()
}

fn token_reply(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 7199, "scope": "all"}),
    )
}

async fn mount_token(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path(format!("{AUTH}{}", paths::TOKEN)))
        .respond_with(token_reply(token))
        .mount(server)
        .await;
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn create_path() -> String {
    format!("{ORDER}{}", paths::CREATE)
}

fn ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"success": true, "code": "200", "message": "成功", "data": data}))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A two-line order: 2 × BS01U000N at 1999.00 less 100.50 per unit, and
/// one gift line.
fn order() -> CreateOrderRequest {
    let day = ts("2025-11-25T23:59:59+08:00");
    CreateOrderRequest {
        source_system: String::new(),
        shop_name: String::new(),
        seller_code: String::new(),
        consignee_name: "张三丰".into(),
        consignee_mobile: "13912345678".into(),
        online_no: "PO20251121001".into(),
        so_id: "PO20251121001".into(),
        remark: None,
        province: "江苏省".into(),
        city: "南京市".into(),
        area: "鼓楼区".into(),
        town: Some("宁海路街道".into()),
        detail_address: "北京西路1号".into(),
        total_qty: 3,
        total_amt: dec("3797.00"),
        create_time: ts("2025-11-21T08:00:00+08:00"),
        distribution_time: Some(day),
        install_time: Some(day),
        government_order: true,
        item_list: vec![
            OrderItem::new(
                ProductCode::parse("BS01U000N").unwrap(),
                2,
                dec("1999.00"),
                dec("100.50"),
            ),
            OrderItem {
                is_gift: true,
                ..OrderItem::new(
                    ProductCode::parse("GA0SZC00U").unwrap(),
                    1,
                    dec("0.00"),
                    dec("0"),
                )
            },
        ],
    }
}

fn assert_private_kept(text: &str) {
    for p in PRIVATE {
        assert!(!text.contains(p), "{p:?} leaked into {text:?}");
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<CallRecord>>);

impl CallObserver for Recorder {
    fn on_call(&self, record: &CallRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

impl Recorder {
    fn summary(&self) -> Vec<(&'static str, u32, Option<u16>, Outcome)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.endpoint, r.attempt, r.status, r.outcome))
            .collect()
    }
}

fn observed(config: YlhConfig) -> (Ylh, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let c = Ylh::builder(config)
        .observer(recorder.clone())
        .retry_delays(Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .unwrap();
    (c, recorder)
}

// ---------------------------------------------------------------------------
// Token

#[tokio::test]
async fn token_request_is_the_documented_password_grant_and_is_cached() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{AUTH}/oauth/token")))
        .and(header("system-name", "ylh-open-api"))
        .and(header(
            "authorization",
            "Basic b3Blbl9hcGlfZXJwOjEyMzQ1Njc4",
        ))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(
            "grant_type=password&username=erp&password=123qwe",
        ))
        .respond_with(token_reply("tok-1"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{RETAIL}{}", paths::PHOTOS)))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ok(json!([])))
        .expect(2)
        .mount(&server)
        .await;

    let (c, recorder) = observed(config(&server));
    assert!(c.delivery_photos("SO.1").await.unwrap().is_empty());
    assert!(c.delivery_photos("SO.2").await.unwrap().is_empty());
    assert_eq!(
        recorder.summary(),
        [
            ("ylh_token", 1, Some(200), Outcome::Ok),
            ("y4_photos", 1, Some(200), Outcome::Ok),
            ("y4_photos", 1, Some(200), Outcome::Ok),
        ],
        "one token for both calls"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_repeats_the_call() {
    let server = MockServer::start().await;
    let issued = Arc::new(AtomicU32::new(0));
    let counter = issued.clone();
    Mock::given(method("POST"))
        .and(path(format!("{AUTH}/oauth/token")))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            token_reply(&format!("tok-{n}"))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ORDER}{}", paths::CANCEL)))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_token"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ORDER}{}", paths::CANCEL)))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ok(Value::Null))
        .mount(&server)
        .await;

    let c = client(config(&server));
    c.cancel_order("PO1", "客户取消", None).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    assert_eq!(
        requests_to(&server, &format!("{ORDER}{}", paths::CANCEL))
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error_without_a_business_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{AUTH}/oauth/token")))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "用户名或密码错误"}),
        ))
        .mount(&server)
        .await;

    let c = client(config(&server));
    let err = c.create_order(&order()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { endpoint: "ylh_token", detail } if detail.contains("invalid_grant")),
        "{err:?}"
    );
    assert!(!err.is_ambiguous(), "nothing reached the order service");
    assert_private_kept(&err.to_string());
    assert!(requests_to(&server, &create_path()).await.is_empty());
    assert_eq!(
        requests_to(&server, &format!("{AUTH}/oauth/token"))
            .await
            .len(),
        1,
        "refused credentials are not retried"
    );
}

// ---------------------------------------------------------------------------
// Y1 create

#[tokio::test]
async fn create_sends_the_exact_documented_body() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .and(header("authorization", "Bearer tok"))
        .and(header("content-type", "application/json"))
        .respond_with(ok(
            json!({"retailOrderNo": "SO.20251121.000001", "soId": "PO20251121001"}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let c = client(config(&server));
    let outcome = c.create_order(&order()).await.unwrap();
    assert_eq!(
        outcome,
        CreateOutcome::Created {
            retail_order_no: Some("SO.20251121.000001".into())
        }
    );

    let sent = &requests_to(&server, &create_path()).await[0];
    let day_ms = 1_764_086_399_000i64; // 2025-11-25 23:59:59 +08:00
    assert_eq!(
        sent.body_json::<Value>().unwrap(),
        json!({
            "sourceSystem": "registered-src",
            "shopName": "测试店铺",
            "sellerCode": "8800539012",
            "consigneeName": "张三丰",
            "consigneeMobile": "13912345678",
            "onlineNo": "PO20251121001",
            "soId": "PO20251121001",
            "province": "江苏省",
            "city": "南京市",
            "area": "鼓楼区",
            "town": "宁海路街道",
            "detailAddress": "北京西路1号",
            "totalQty": 3,
            "totalAmt": 3797.00,
            "createTime": 1_763_683_200_000i64,
            "distributionTime": day_ms,
            "installTime": day_ms,
            "governmentOrder": true,
            "deliveryInstall": "true",
            "itemList": [
                {"productCode": "BS01U000N", "itemQty": 2, "retailPrice": 1999.00,
                 "discountAmount": 100.50, "actualPrice": 1898.50, "isGift": false},
                {"productCode": "GA0SZC00U", "itemQty": 1, "retailPrice": 0.00,
                 "discountAmount": 0, "actualPrice": 0, "isGift": true}
            ]
        })
    );
    // Exact digits, no null keys, no remark.
    let raw = String::from_utf8(sent.body.clone()).unwrap();
    for exact in [
        r#""totalAmt":3797.00"#,
        r#""retailPrice":1999.00"#,
        r#""discountAmount":100.50"#,
        r#""actualPrice":1898.50"#,
        r#""deliveryInstall":"true""#,
    ] {
        assert!(raw.contains(exact), "{exact} in {raw}");
    }
    assert!(!raw.contains("null"), "{raw}");
    assert!(!raw.contains("remark"), "{raw}");
}

#[tokio::test]
async fn create_without_times_leaves_them_out_and_is_not_delivery_install() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ok(json!({"retail_order_no": "SO.2"})))
        .mount(&server)
        .await;

    let mut o = order();
    o.distribution_time = None;
    o.install_time = None;
    o.town = None;
    o.remark = Some("请送货上门".into());
    let outcome = client(config(&server)).create_order(&o).await.unwrap();
    assert_eq!(outcome.retail_order_no(), Some("SO.2"));
    let body: Value = requests_to(&server, &create_path()).await[0]
        .body_json()
        .unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(!keys.contains(&"distributionTime"), "{keys:?}");
    assert!(!keys.contains(&"installTime"), "{keys:?}");
    assert!(!keys.contains(&"town"), "{keys:?}");
    assert_eq!(body["deliveryInstall"], "false");
    assert_eq!(body["remark"], "请送货上门");
}

#[tokio::test]
async fn a_business_rejection_keeps_the_vendor_message_after_one_attempt() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "code": 1, "errCode": "20005",
            "errorMsg": "itemList[0].productCode 商品不存在: BS01U000N", "data": null
        })))
        .mount(&server)
        .await;

    let c = client(config(&server));
    let err = c.create_order(&order()).await.unwrap_err();
    assert_eq!(
        err,
        Error::Business {
            endpoint: "y1_create",
            code: Some("1".into()),
            err_code: Some("20005".into()),
            message: "itemList[0].productCode 商品不存在: BS01U000N".into()
        }
    );
    assert!(!err.is_ambiguous());
    assert_eq!(requests_to(&server, &create_path()).await.len(), 1);
    assert_private_kept(&err.to_string());
}

#[tokio::test]
async fn personal_data_the_vendor_echoes_is_blotted_out_of_errors() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "code": 1, "errCode": "20003",
            "errorMsg": "consigneeMobile 必须为11位手机号: 13912345678（张三丰）", "data": null
        })))
        .mount(&server)
        .await;
    let err = client(config(&server))
        .create_order(&order())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Business {
            endpoint: "y1_create",
            code: Some("1".into()),
            err_code: Some("20003".into()),
            message: "consigneeMobile 必须为11位手机号: ***（***）".into()
        }
    );
}

#[tokio::test]
async fn a_repeated_so_id_is_already_exists_with_the_existing_order() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "code": 1, "errCode": "20001",
            "errorMsg": "子订单号 PO20251121001 已存在",
            "data": {"soId": "PO20251121001", "retailOrderNo": "SO.20261121.000001"}
        })))
        .mount(&server)
        .await;

    let c = client(config(&server));
    let outcome = c.create_order(&order()).await.unwrap();
    assert_eq!(
        outcome,
        CreateOutcome::AlreadyExists {
            retail_order_no: Some("SO.20261121.000001".into()),
            code: Some("1".into()),
            err_code: Some("20001".into()),
            message: "子订单号 PO20251121001 已存在".into(),
        }
    );
    assert_eq!(requests_to(&server, &create_path()).await.len(), 1);
}

#[tokio::test]
async fn a_503_is_ambiguous_after_exactly_one_attempt() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;

    let (c, recorder) = observed(config(&server));
    let err = c.create_order(&order()).await.unwrap_err();
    assert!(err.is_ambiguous(), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(
        err,
        Error::Ambiguous {
            endpoint: "y1_create",
            cause: Box::new(Error::Server {
                endpoint: "y1_create",
                status: 503
            })
        }
    );
    assert_eq!(requests_to(&server, &create_path()).await.len(), 1);
    assert_eq!(
        recorder.summary(),
        [
            ("ylh_token", 1, Some(200), Outcome::Ok),
            ("y1_create", 1, Some(503), Outcome::Server),
        ]
    );
    assert_eq!(c.stats().retries, 0);
    assert_eq!(c.stats().failures, 1);
}

#[tokio::test]
async fn a_429_and_an_unreadable_200_are_ambiguous_too() {
    for reply in [
        ResponseTemplate::new(429).insert_header("Retry-After", "0"),
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
    ] {
        let server = MockServer::start().await;
        mount_token(&server, "tok").await;
        Mock::given(method("POST"))
            .and(path(create_path()))
            .respond_with(reply)
            .mount(&server)
            .await;
        let err = client(config(&server))
            .create_order(&order())
            .await
            .unwrap_err();
        assert!(err.is_ambiguous(), "{err:?}");
        assert_eq!(requests_to(&server, &create_path()).await.len(), 1);
    }
}

#[tokio::test]
async fn a_4xx_is_a_plain_rejection_not_ambiguous() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"success": false, "message": "请求体必须为 JSON 对象"})),
        )
        .mount(&server)
        .await;
    let err = client(config(&server))
        .create_order(&order())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.is_ambiguous());
    assert_eq!(requests_to(&server, &create_path()).await.len(), 1);
}

/// The port of a listener that was closed again: connecting is refused.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_not_ambiguous() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    let mut cfg = config(&server);
    cfg.order_base_url = format!("http://127.0.0.1:{}{ORDER}", closed_port());
    cfg.max_retries = 2;
    let (c, recorder) = observed(cfg);

    let err = c.create_order(&order()).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!err.is_ambiguous(), "nothing was sent");
    assert!(err.is_transient());
    assert_eq!(
        recorder.summary(),
        [
            ("ylh_token", 1, Some(200), Outcome::Ok),
            ("y1_create", 1, None, Outcome::Transport),
            ("y1_create", 2, None, Outcome::Transport),
            ("y1_create", 3, None, Outcome::Transport),
        ]
    );
    assert_eq!(c.stats().retries, 2);
    assert_private_kept(&err.to_string());
}

#[tokio::test]
async fn a_connection_closed_after_the_request_is_ambiguous_after_one_attempt() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    // A host that reads the whole request, then hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU32::new(0));
    let seen = accepted.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read until the JSON body's closing brace has arrived.
            while let Ok(n) = socket.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.ends_with(b"}") {
                    break;
                }
            }
            drop(socket);
        }
    });
    let mut cfg = config(&server);
    cfg.order_base_url = format!("http://127.0.0.1:{port}{ORDER}");
    let c = client(cfg);

    let err = c.create_order(&order()).await.unwrap_err();
    assert!(err.is_ambiguous(), "{err:?}");
    assert!(
        matches!(&err, Error::Ambiguous { cause, .. } if matches!(**cause, Error::Transport { .. })),
        "{err:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "never sent twice");
    assert_private_kept(&err.to_string());
}

#[tokio::test]
async fn a_transient_token_failure_is_retried_because_the_order_was_not_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{AUTH}/oauth/token")))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ok(json!({"retailOrderNo": "SO.3"})))
        .expect(1)
        .mount(&server)
        .await;

    let (c, recorder) = observed(config(&server));
    let outcome = c.create_order(&order()).await.unwrap();
    assert_eq!(outcome.retail_order_no(), Some("SO.3"));
    assert_eq!(
        recorder.summary(),
        [
            ("ylh_token", 1, Some(502), Outcome::Server),
            ("ylh_token", 1, Some(200), Outcome::Ok),
            ("y1_create", 1, Some(200), Outcome::Ok),
        ]
    );
}

#[tokio::test]
async fn an_invalid_order_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    let mut o = order();
    o.total_qty = 4;
    let err = client(config(&server)).create_order(&o).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("totalQty")),
        "{err:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// Y2 cancel

#[tokio::test]
async fn cancel_sends_cancel_time_as_a_string_of_ms() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    let cancel = format!("{ORDER}{}", paths::CANCEL);
    Mock::given(method("POST"))
        .and(path(cancel.as_str()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(cancel.as_str()))
        .respond_with(ok(Value::Null))
        .mount(&server)
        .await;

    let c = client(config(&server));
    c.cancel_order(
        "PO20251121001",
        "客户取消",
        Some(ts("2025-11-21T08:00:00+08:00")),
    )
    .await
    .unwrap();
    let sent = requests_to(&server, &cancel).await;
    assert_eq!(sent.len(), 2, "a 503 on cancel is retried");
    assert_eq!(
        sent[1].body_json::<Value>().unwrap(),
        json!({"soId": "PO20251121001", "cancelTime": "1763683200000",
               "cancelReason": "客户取消", "sourceSystem": "registered-src"})
    );
}

#[tokio::test]
async fn a_refused_cancel_is_a_business_error() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(format!("{ORDER}{}", paths::CANCEL)))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": false, "code": 1, "errCode": "20008", "errorMsg": "订单已发货，不能取消", "data": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(config(&server))
        .cancel_order("PO1", "客户取消", None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Business {
            endpoint: "y2_cancel",
            code: Some("1".into()),
            err_code: Some("20008".into()),
            message: "订单已发货，不能取消".into()
        }
    );
}

// ---------------------------------------------------------------------------
// Y3 reschedule

#[tokio::test]
async fn reschedule_checks_the_time_of_day_before_sending() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    let reschedule = format!("{RETAIL}{}", paths::RESCHEDULE);
    Mock::given(method("POST"))
        .and(path(reschedule.as_str()))
        .respond_with(ok(Value::Null))
        .mount(&server)
        .await;
    let c = client(config(&server));

    let noon = ts("2025-11-25T12:00:00+08:00");
    let end = ts("2025-11-25T23:59:59+08:00");
    let err = c
        .reschedule("SO.20251121.000001", noon, end)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m)
            if m.contains("distributionTime") && m.contains(&noon.as_millisecond().to_string())),
        "{err:?}"
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing sent, not even a token request"
    );
    assert!(matches!(
        c.reschedule("", end, end).await,
        Err(Error::InvalidRequest(_))
    ));

    // §0.3: both times always go out; the unchanged one with its original value.
    let original = ts("2025-11-24T23:59:59+08:00");
    c.reschedule("SO.20251121.000001", original, end)
        .await
        .unwrap();
    let sent = requests_to(&server, &reschedule).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body_json::<Value>().unwrap(),
        json!({"retailOrderNo": "SO.20251121.000001",
               "distributionTime": 1_763_999_999_000i64, "installTime": 1_764_086_399_000i64})
    );
}

// ---------------------------------------------------------------------------
// Y4 photos

#[tokio::test]
async fn photos_read_every_documented_shape() {
    // Y4 as the vendor's document v1.0.10 gives it (protocol §0.3).
    let photos_path = format!("{RETAIL}{}", paths::PHOTOS);
    let record = json!({"orderNo": "SO.20251121.000001", "orderCode": "F20251121001",
    "ylhOrderCode": "SO.20251121.000001.F1", "snNo": "BS01U000N0001",
    "photosDeliveryList": [
        {"imgDesc": "送货照片", "imgUrl": "https://img/1.jpg", "rowId": 11, "scene": 1},
        {"imgDesc": "安装照片", "imgUrl": "https://img/2.jpg", "rowId": 12, "scene": 2}
    ]});
    for (reply, expected) in [
        (
            json!({"success": true, "code": 0, "errCode": null, "errorMsg": null,
                   "infoMsgs": [], "warningMsgs": [], "data": [record.clone()]}),
            vec![Some("https://img/1.jpg"), Some("https://img/2.jpg")],
        ),
        (
            json!([record]),
            vec![Some("https://img/1.jpg"), Some("https://img/2.jpg")],
        ),
        (json!({"success": true, "data": null}), vec![]),
        (json!({}), vec![]),
    ] {
        let server = MockServer::start().await;
        mount_token(&server, "tok").await;
        Mock::given(method("POST"))
            .and(path(photos_path.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(reply.clone()))
            .mount(&server)
            .await;
        let records = client(config(&server))
            .delivery_photos("SO.20251121.000001")
            .await
            .unwrap();
        let urls: Vec<Option<&str>> = records
            .iter()
            .flat_map(|r| &r.photos_delivery_list)
            .map(|p| p.img_url.as_deref())
            .collect();
        assert_eq!(urls, expected, "{reply}");
        let sent: Value = requests_to(&server, &photos_path).await[0]
            .body_json()
            .unwrap();
        assert_eq!(sent, json!({"orderNo": "SO.20251121.000001"}));
        if let Some(first) = records.first() {
            assert_eq!(
                first.ylh_order_code.as_deref(),
                Some("SO.20251121.000001.F1")
            );
            assert_eq!(first.sn_no.as_deref(), Some("BS01U000N0001"));
            let install = &first.photos_delivery_list[1];
            assert_eq!(install.scene(), Some(haier::ylh::PhotoScene::Installation));
            assert_eq!(install.row_id.as_deref(), Some("12"));
            assert_eq!(install.img_desc.as_deref(), Some("安装照片"));
        }
    }
}

#[tokio::test]
async fn a_status_object_without_data_is_not_read_as_no_photos() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(format!("{RETAIL}{}", paths::PHOTOS)))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"code": "500", "message": "系统异常"})),
        )
        .mount(&server)
        .await;
    let err = client(config(&server))
        .delivery_photos("SO.1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Decode { endpoint: "y4_photos", detail } if detail.contains("系统异常")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// Y5 logistics

#[tokio::test]
async fn logistics_chunks_at_100_without_dropping_any_code() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    let logistics = format!("{STOCK}{}", paths::LOGISTICS);
    Mock::given(method("POST"))
        .and(path(logistics.as_str()))
        .respond_with(|req: &Request| {
            let codes: Vec<String> = req.body_json().unwrap();
            let data: Vec<Value> = codes
                .iter()
                .map(|c| {
                    json!({"orderCode": c, "deliveryRecordCode": format!("{c}.F1"),
                    "logisticsList": [{"logisticsCode": "RRS", "logisticsName": "日日顺",
                                       "expNo": "RRS1", "barCodes": ["SN1", "SN2"]}]})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": data}))
        })
        .expect(3)
        .mount(&server)
        .await;

    let mut codes: Vec<String> = (0..250).map(|i| format!("SO.20251121.{i:06}")).collect();
    codes.push(codes[7].clone());
    codes.push("  ".into());
    let found = client(config(&server)).logistics(&codes).await.unwrap();
    assert_eq!(found.len(), 250);

    let sent: Vec<Vec<String>> = requests_to(&server, &logistics)
        .await
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(
        sent.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 100, 50]
    );
    assert_eq!(sent.concat(), codes[..250], "every code once, in order");
    assert_eq!(found[249].order_code.as_deref(), Some("SO.20251121.000249"));
    // Y5 as the vendor's document v1.0.10 names its fields (protocol §0.3).
    let entry = &found[0].logistics_list[0];
    assert_eq!(entry.logistics_code.as_deref(), Some("RRS"));
    assert_eq!(entry.logistics_name.as_deref(), Some("日日顺"));
    assert_eq!(entry.exp_no.as_deref(), Some("RRS1"));
    assert_eq!(entry.bar_codes, ["SN1", "SN2"]);
}

#[tokio::test]
async fn logistics_takes_a_bare_list_reply_and_no_codes_send_nothing() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    let logistics = format!("{STOCK}{}", paths::LOGISTICS);
    Mock::given(method("POST"))
        .and(path(logistics.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"orderCode": "SO.1", "logisticsList": null, "unknown": true}
        ])))
        .mount(&server)
        .await;
    let c = client(config(&server));
    assert!(c.logistics(&[]).await.unwrap().is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());

    let found = c.logistics(&["SO.1".to_owned()]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].logistics_list.is_empty());
    assert_eq!(found[0].delivery_record_code, None);
    let raw = requests_to(&server, &logistics).await[0].body.clone();
    assert_eq!(raw, br#"["SO.1"]"#, "a bare JSON array");

    let too_many: Vec<String> = (0..101).map(|i| format!("SO.{i}")).collect();
    assert!(matches!(
        c.logistics_chunk(&too_many).await,
        Err(Error::InvalidRequest(_))
    ));
}

// ---------------------------------------------------------------------------
// Breakers

#[tokio::test]
async fn a_failing_host_opens_only_its_own_breaker() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(format!("{RETAIL}{}", paths::PHOTOS)))
        .respond_with(ok(json!([])))
        .mount(&server)
        .await;
    let orders = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&orders)
        .await;

    let mut cfg = config(&server);
    cfg.order_base_url = format!("{}{ORDER}", orders.uri());
    cfg.breaker_threshold = 2;
    cfg.max_retries = 1;
    let c = client(cfg);

    let err = c.cancel_order("PO1", "客户取消", None).await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert_eq!(orders.received_requests().await.unwrap().len(), 2);
    assert_eq!(c.breaker_state(), haier::breaker::BreakerState::Open);

    // Order creation now fails fast: not sent, so not ambiguous.
    let err = c.create_order(&order()).await.unwrap_err();
    assert_eq!(
        err,
        Error::CircuitOpen {
            endpoint: "y1_create"
        }
    );
    assert!(!err.is_ambiguous());
    assert_eq!(orders.received_requests().await.unwrap().len(), 2);

    // The order service's host does not stop the others.
    assert!(c.delivery_photos("SO.1").await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// The vendor's document v1.0.10 (protocol §0), replies written from its tables

/// The §0.1 envelope of a YLH reply.
fn v1010(success: bool, err_code: Option<&str>, error_msg: Option<&str>, data: Value) -> Value {
    json!({
        "success": success, "code": if success { 0 } else { 1 },
        "errCode": err_code, "errorMsg": error_msg,
        "infoMsgs": [], "warningMsgs": [], "data": data
    })
}

#[tokio::test]
async fn v1010_y1_accepts_with_a_bare_true_and_no_order_number() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(v1010(
            true,
            None,
            None,
            json!(true),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client(config(&server))
        .create_order(&order())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        CreateOutcome::Created {
            retail_order_no: None
        }
    );
}

#[tokio::test]
async fn v1010_y1_refusal_keeps_error_msg_and_err_code() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(v1010(
            false,
            Some("ORDER_FIELD_MISSING"),
            Some("consigneeMobile 不能为空"),
            Value::Null,
        )))
        .mount(&server)
        .await;
    let err = client(config(&server))
        .create_order(&order())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Business {
            endpoint: "y1_create",
            code: Some("1".into()),
            err_code: Some("ORDER_FIELD_MISSING".into()),
            message: "consigneeMobile 不能为空".into()
        }
    );
}

#[tokio::test]
async fn v1010_y1_duplicate_refusal_is_recognised_by_the_configured_wording() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(create_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(v1010(
            false,
            None,
            Some("单据 PO20251121001 已推送过"),
            Value::Null,
        )))
        .mount(&server)
        .await;
    // Not a default pattern: an ordinary refusal.
    let err = client(config(&server))
        .create_order(&order())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Business { message, .. } if message.contains("已推送过")),
        "{err:?}"
    );
    // Told about the wording: the order is already there.
    let mut c = config(&server);
    c.duplicate_patterns = vec!["已推送过".into()];
    let outcome = client(c).create_order(&order()).await.unwrap();
    assert!(
        matches!(&outcome, CreateOutcome::AlreadyExists { message, .. } if message.contains("已推送过")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn v1010_no_source_system_no_client() {
    let server = MockServer::start().await;
    let mut c = config(&server);
    c.source_system = String::new();
    let err = Ylh::new(c).unwrap_err();
    assert!(err.to_string().contains("ylh.source_system"), "{err}");
}
