//! HTTP-level tests of the Open Platform client against a local mock
//! server.

// Helpers outside `#[test]` functions unwrap too: a failed unwrap is a
// failed test.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haier::open_platform::paths;
use haier::{
    CallObserver, CallRecord, Error, OpenPlatform, OpenPlatformConfig, Outcome, ProductCode,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRETS: [&str; 4] = [
    "client-secret-x",
    "agreed-pw-x",
    "seller-pw-x",
    "customer-pw-x",
];

fn config(server: &MockServer) -> OpenPlatformConfig {
    let mut c = OpenPlatformConfig::new(
        server.uri(),
        "client-1",
        "client-secret-x".into(),
        "8800633175",
        "agreed-pw-x".into(),
        "seller-pw-x".into(),
    );
    c.send_to_code = Some("8800633176".into());
    c.rate_limit = 1000;
    c
}

fn client(config: OpenPlatformConfig) -> OpenPlatform {
    OpenPlatform::builder(config)
        .retry_delays(Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .unwrap()
}

fn codes(n: usize) -> Vec<ProductCode> {
    (0..n)
        .map(|i| ProductCode::parse(&format!("GA0SZC{i:03}")).unwrap())
        .collect()
}

fn token_reply(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"token": token, "expires_in": 3600}))
}

async fn mount_token(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
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

fn ok_list(items: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": items}))
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "secret leaked into {text:?}");
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

// ---------------------------------------------------------------------------
// H1 chunking and request shape

#[tokio::test]
async fn twenty_one_codes_make_two_h1_calls_of_20_and_1() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1").await;
    Mock::given(method("POST"))
        .and(path(paths::PROCURABLE_PRODUCTS))
        .respond_with(ok_list(
            json!([{"productCode": "GA0SZC000", "isSales": "1"}]),
        ))
        .expect(2)
        .mount(&server)
        .await;

    let all = codes(21);
    let products = client(config(&server))
        .procurable_products(&all)
        .await
        .unwrap();
    assert_eq!(products.items.len(), 2, "one item from each reply");

    let calls = requests_to(&server, paths::PROCURABLE_PRODUCTS).await;
    assert_eq!(calls.len(), 2);
    let sent: Vec<Vec<String>> = calls
        .iter()
        .map(|r| {
            let body: Value = r.body_json().unwrap();
            serde_json::from_value(body["productCodes"].clone()).unwrap()
        })
        .collect();
    assert_eq!(sent[0].len(), 20);
    assert_eq!(sent[1].len(), 1);
    let flat: Vec<String> = sent.concat();
    let expected: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(flat, expected, "every code sent once, in order");

    let body: Value = calls[0].body_json().unwrap();
    assert_eq!(body["customerCode"], "8800633175");
    assert_eq!(body["sendToCode"], "8800633176");
    assert_eq!(body["supplierCode"], "1001");
    assert_eq!(body["searchType"], "PTJSH");
    assert_eq!(body["passWord"], "agreed-pw-x");
    assert_eq!(calls[0].headers["authorization"], "tok-1");
    assert_eq!(calls[0].headers["content-type"], "application/json");
}

#[tokio::test]
async fn no_codes_ask_for_everything_without_the_key() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1").await;
    Mock::given(method("POST"))
        .and(path(paths::PROCURABLE_PRODUCTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"productCode": "A1", "productGroupNamd": "冰箱", "productLageUrls": ["u1"]},
            {"productCode": "A2"}
        ])))
        .expect(1)
        .mount(&server)
        .await;

    let products = client(config(&server))
        .procurable_products(&[])
        .await
        .unwrap();
    assert_eq!(products.items.len(), 2, "a bare list reply is accepted");
    assert_eq!(
        products.items[0].product_group_name.as_deref(),
        Some("冰箱")
    );
    assert_eq!(products.items[0].product_page_urls, ["u1"]);

    let calls = requests_to(&server, paths::PROCURABLE_PRODUCTS).await;
    let body: Value = calls[0].body_json().unwrap();
    assert!(body.get("productCodes").is_none(), "{body}");
}

#[tokio::test]
async fn an_oversized_chunk_is_refused_without_a_request() {
    let server = MockServer::start().await;
    let c = client(config(&server));
    let err = c.procurable_products_chunk(&codes(21)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    let err = c.prices_chunk(&codes(21)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// Tokens

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(token_reply("tok-1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(token_reply("tok-2"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .and(header("authorization", "tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .and(header("authorization", "tok-2"))
        .respond_with(ok_list(
            json!({"payerAccountCode": "P1", "payerAccountBalance": 10.5}),
        ))
        .mount(&server)
        .await;

    let c = client(config(&server));
    let balances = c.balance().await.unwrap();
    assert_eq!(
        balances[0].payer_account_balance,
        Some(Decimal::from_str("10.5").unwrap())
    );
    assert_eq!(requests_to(&server, paths::TOKEN).await.len(), 2);
    assert_eq!(requests_to(&server, paths::BALANCE).await.len(), 2);
    let stats = c.stats();
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.calls, 4);
    assert_eq!(stats.failures, 0);

    // The new token is cached: the next call fetches none.
    c.balance().await.unwrap();
    assert_eq!(requests_to(&server, paths::TOKEN).await.len(), 2);
}

#[tokio::test]
async fn a_second_401_is_an_auth_error() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "token无效"})))
        .mount(&server)
        .await;

    let err = client(config(&server)).balance().await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { endpoint: "h5_balance", detail } if detail.contains("token无效")),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(requests_to(&server, paths::TOKEN).await.len(), 2);
    assert_eq!(requests_to(&server, paths::BALANCE).await.len(), 2);
}

#[tokio::test]
async fn concurrent_first_calls_fetch_the_token_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(token_reply("tok-shared").set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .and(header("authorization", "tok-shared"))
        .respond_with(ok_list(json!([])))
        .expect(8)
        .mount(&server)
        .await;

    let c = client(config(&server));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.spawn(async move { c.balance().await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(requests_to(&server, paths::TOKEN).await.len(), 1);
}

#[tokio::test]
async fn token_request_shape_and_data_access_token_reply() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": true, "data": {"access_token": "nested-tok", "expires_in": 7200}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .and(header("authorization", "nested-tok"))
        .respond_with(ok_list(json!([])))
        .expect(1)
        .mount(&server)
        .await;

    client(config(&server)).balance().await.unwrap();
    let token_calls = requests_to(&server, paths::TOKEN).await;
    let body: Value = token_calls[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({"client_id": "client-1", "client_secret": "client-secret-x", "grant_type": "client_credentials"})
    );
    assert_eq!(token_calls[0].headers["content-type"], "application/json");
}

#[tokio::test]
async fn a_failing_oauth2_auth_falls_back_to_oauth2_token_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN_FALLBACK))
        .respond_with(token_reply("gw-tok"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .and(header("authorization", "gw-tok"))
        .respond_with(ok_list(json!([])))
        .expect(1)
        .mount(&server)
        .await;

    let recorder = Arc::new(Recorder::default());
    let c = OpenPlatform::builder(config(&server))
        .observer(recorder.clone())
        .build()
        .unwrap();
    c.balance().await.unwrap();
    assert_eq!(
        recorder.summary(),
        [
            ("token", 1, Some(404), Outcome::Rejected),
            ("token", 2, Some(200), Outcome::Ok),
            ("h5_balance", 1, Some(200), Outcome::Ok),
        ]
    );
}

#[tokio::test]
async fn refused_credentials_are_auth_errors_without_fallback_or_business_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN_FALLBACK))
        .respond_with(token_reply("never"))
        .expect(0)
        .mount(&server)
        .await;

    let c = client(config(&server));
    let err = c.balance().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Auth {
                endpoint: "token",
                ..
            }
        ),
        "{err:?}"
    );
    assert_no_secret(&err.to_string());
    assert!(requests_to(&server, paths::BALANCE).await.is_empty());
    assert_eq!(c.stats().failures, 1);
}

#[tokio::test]
async fn a_token_reply_without_a_token_is_a_decode_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"expires_in": 3600})))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(config(&server)).balance().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Decode {
                endpoint: "token",
                ..
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// Retries

#[tokio::test]
async fn server_errors_are_retried_and_counted() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::PRICES))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::PRICES))
        .respond_with(ok_list(json!([
            {"productCode": "GA0SZC000", "supplyPrice": 1999.98, "invoicePrice": 0.1,
             "rebateRate": 0, "rebateMoney": 0, "stockRebatePolicy": 0, "isSales": "1"}
        ])))
        .mount(&server)
        .await;

    let recorder = Arc::new(Recorder::default());
    let c = OpenPlatform::builder(config(&server))
        .observer(recorder.clone())
        .retry_delays(Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .unwrap();
    let prices = c.prices(&codes(1)).await.unwrap();
    assert_eq!(prices.items[0].supply_price.unwrap().to_string(), "1999.98");
    assert_eq!(prices.items[0].invoice_price.unwrap().to_string(), "0.1");
    assert_eq!(prices.items[0].stock_rebate_policy, Some(0));

    let stats = c.stats();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.calls, 4, "one token request and three H2 attempts");
    assert_eq!(stats.failures, 0);
    assert_eq!(
        recorder.summary(),
        [
            ("token", 1, Some(200), Outcome::Ok),
            ("h2_prices", 1, Some(503), Outcome::Server),
            ("h2_prices", 2, Some(503), Outcome::Server),
            ("h2_prices", 3, Some(200), Outcome::Ok),
        ]
    );

    let body: Value = requests_to(&server, paths::PRICES).await[0]
        .body_json()
        .unwrap();
    assert_eq!(body["priceType"], "PT");
    assert_eq!(body["sendToCode"], "8800633176");
    assert_eq!(body["passWord"], "agreed-pw-x");
    assert_eq!(body["productCodes"], json!(["GA0SZC000"]));
}

#[tokio::test]
async fn retries_stop_at_max_retries() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::PRICES))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;

    let mut cfg = config(&server);
    cfg.max_retries = 2;
    let c = client(cfg);
    let err = c.prices(&codes(1)).await.unwrap_err();
    assert_eq!(
        err,
        Error::Server {
            endpoint: "h2_prices",
            status: 500
        }
    );
    assert_eq!(requests_to(&server, paths::PRICES).await.len(), 3);
    assert_eq!(c.stats().failures, 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_counted() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::STOCK))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::STOCK))
        .respond_with(ok_list(json!([{"secCode": "HFR2", "stock": "30"}])))
        .mount(&server)
        .await;

    let c = client(config(&server));
    let code = ProductCode::parse("GA0SZC00U").unwrap();
    let stock = c.stock(&code, "110101").await.unwrap();
    assert_eq!(stock.total(), 30);
    let stats = c.stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(requests_to(&server, paths::STOCK).await.len(), 2);
}

#[tokio::test]
async fn persistent_429s_end_as_rate_limited_with_the_vendors_wait() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::STOCK))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .mount(&server)
        .await;

    let mut cfg = config(&server);
    cfg.max_retries = 2;
    let c = client(cfg);
    let code = ProductCode::parse("GA0SZC00U").unwrap();
    let err = c.stock(&code, "110101").await.unwrap_err();
    assert_eq!(
        err,
        Error::RateLimited {
            endpoint: "h3_stock",
            retry_after: Some(Duration::ZERO)
        }
    );
    assert!(err.is_transient());
    assert_eq!(c.stats().rate_limited, 3);
    assert_eq!(requests_to(&server, paths::STOCK).await.len(), 3);
}

#[tokio::test]
async fn a_long_retry_after_is_handed_to_the_caller_instead_of_waited() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::STOCK))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;

    let c = client(config(&server));
    let code = ProductCode::parse("GA0SZC00U").unwrap();
    let err = c.stock(&code, "110101").await.unwrap_err();
    assert_eq!(
        err,
        Error::RateLimited {
            endpoint: "h3_stock",
            retry_after: Some(Duration::from_secs(3600))
        }
    );
    assert_eq!(requests_to(&server, paths::STOCK).await.len(), 1);
}

#[tokio::test]
async fn success_false_is_a_business_error_after_one_attempt() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::PROCURABLE_PRODUCTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": false, "code": "E1001", "message": "约定密码错误", "data": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let c = client(config(&server));
    let err = c.procurable_products(&codes(3)).await.unwrap_err();
    assert_eq!(
        err,
        Error::Business {
            endpoint: "h1_procurable",
            code: Some("E1001".into()),
            err_code: None,
            message: "约定密码错误".into()
        }
    );
    assert!(!err.is_transient());
    assert_eq!(c.stats().retries, 0);
    assert_eq!(
        requests_to(&server, paths::PROCURABLE_PRODUCTS).await.len(),
        1
    );
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_after_one_attempt() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"success\":true,\"data\":[{"))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(config(&server)).balance().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Decode {
                endpoint: "h5_balance",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn other_4xx_are_rejected_without_retry() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "参数错误"})))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(config(&server)).balance().await.unwrap_err();
    assert_eq!(
        err,
        Error::Rejected {
            endpoint: "h5_balance",
            status: 400,
            message: "参数错误".into()
        }
    );
}

#[tokio::test]
async fn a_slow_vendor_times_out_and_is_retried() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .respond_with(ok_list(json!([])).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;

    let mut cfg = config(&server);
    cfg.timeout_ms = 200;
    cfg.max_retries = 1;
    let err = client(cfg).balance().await.unwrap_err();
    assert_eq!(
        err,
        Error::Timeout {
            endpoint: "h5_balance"
        }
    );
    assert_eq!(requests_to(&server, paths::BALANCE).await.len(), 2);
}

#[tokio::test]
async fn an_unreachable_host_is_a_transport_error_without_secrets() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut cfg = OpenPlatformConfig::new(
        format!("http://127.0.0.1:{port}"),
        "client-1",
        "client-secret-x".into(),
        "8800633175",
        "agreed-pw-x".into(),
        "seller-pw-x".into(),
    );
    cfg.max_retries = 1;
    cfg.customer_password = Some("customer-pw-x".into());
    let c = client(cfg);
    let err = c.balance().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport {
                endpoint: "token",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_no_secret(&err.to_string());
    assert_no_secret(&format!("{err:?}"));
    assert_no_secret(&format!("{c:?}"));
    assert_no_secret(&format!("{:?}", c.config()));
    assert_eq!(c.stats().calls, 2, "the token request was retried once");
}

// ---------------------------------------------------------------------------
// Circuit breaker

#[tokio::test]
async fn the_breaker_opens_after_the_threshold() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::STOCK))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;

    let mut cfg = config(&server);
    cfg.breaker_threshold = 3;
    cfg.max_retries = 0;
    cfg.breaker_cooldown_ms = 60_000;
    let c = client(cfg);
    let code = ProductCode::parse("GA0SZC00U").unwrap();
    for _ in 0..3 {
        let err = c.stock(&code, "110101").await.unwrap_err();
        assert!(matches!(err, Error::Server { status: 500, .. }), "{err:?}");
    }
    assert_eq!(c.breaker_state(), haier::breaker::BreakerState::Open);
    let err = c.stock(&code, "110101").await.unwrap_err();
    assert_eq!(
        err,
        Error::CircuitOpen {
            endpoint: "h3_stock"
        }
    );
    assert!(err.is_transient());
    assert_eq!(requests_to(&server, paths::STOCK).await.len(), 3);
}

#[tokio::test]
async fn business_rejections_do_not_open_the_breaker() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": false, "code": "E", "message": "no"})),
        )
        .mount(&server)
        .await;

    let mut cfg = config(&server);
    cfg.breaker_threshold = 2;
    let c = client(cfg);
    for _ in 0..4 {
        let err = c.balance().await.unwrap_err();
        assert!(matches!(err, Error::Business { .. }), "{err:?}");
    }
    assert_eq!(c.breaker_state(), haier::breaker::BreakerState::Closed);
}

// ---------------------------------------------------------------------------
// H2, H3, H5 specifics

#[tokio::test]
async fn prices_need_a_send_to_code() {
    let server = MockServer::start().await;
    let mut cfg = config(&server);
    cfg.send_to_code = None;
    let err = client(cfg).prices(&codes(2)).await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn prices_of_no_codes_send_nothing() {
    let server = MockServer::start().await;
    let prices = client(config(&server)).prices(&[]).await.unwrap();
    assert!(prices.items.is_empty() && prices.bad.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn stock_sends_the_documented_body_and_reads_the_real_reply() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::STOCK))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "data": [
                {"secCode": "HFR2", "stock": "30", "warehouseGrade": "0",
                 "timelinessData": {"cutTime": "18:00", "achieveUserOrderCut": "2025-11-26 18:00",
                                    "hour": "24", "isTranfer": "0"}},
                {"secCode": "HFR5", "stock": "70", "warehouseGrade": "1",
                 "timelinessData": {"cutTime": "16:00", "achieveUserOrderCut": "2025-11-27 18:00",
                                    "hour": "48", "isTranfer": "1"}}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let code = ProductCode::parse("GA0SZC00U").unwrap();
    let stock = client(config(&server))
        .stock(&code, "110101")
        .await
        .unwrap();
    assert_eq!(stock.total(), 100);
    let best = stock.best_warehouse().unwrap();
    assert_eq!(best.sec_code.as_deref(), Some("HFR5"));
    assert_eq!(best.warehouse_grade.as_deref(), Some("1"));
    assert_eq!(
        best.timeliness_data
            .as_ref()
            .unwrap()
            .is_transfer
            .as_deref(),
        Some("1")
    );

    let body: Value = requests_to(&server, paths::STOCK).await[0]
        .body_json()
        .unwrap();
    assert_eq!(
        body,
        json!({
            "salesCode": "8800633175",
            "senderCode": "8800633176",
            "productCode": "GA0SZC00U",
            "countyCode": "110101",
            "source": "JSH-B",
            "sellerPassword": "seller-pw-x"
        })
    );
}

#[tokio::test]
async fn a_bad_stock_value_is_a_decode_error_not_zero() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::STOCK))
        .respond_with(ok_list(json!([{"secCode": "HFR2", "stock": "很多"}])))
        .expect(1)
        .mount(&server)
        .await;

    let code = ProductCode::parse("GA0SZC00U").unwrap();
    let err = client(config(&server))
        .stock(&code, "110101")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Decode {
                endpoint: "h3_stock",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn stock_checks_the_county_code_before_sending() {
    let server = MockServer::start().await;
    let c = client(config(&server));
    let code = ProductCode::parse("GA0SZC00U").unwrap();
    for bad in ["", "11010", "1101011", "11010a", "１１０１０１", " 110101"] {
        let err = c.stock(&code, bad).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{bad:?}: {err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn balance_uses_the_customer_password_and_takes_one_object() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::BALANCE))
        .respond_with(ok_list(json!({
            "saleGroupCode": "G1", "saleGroupName": "冰箱", "payerAccountCode": "8800633175",
            "payerAccountName": "某公司", "payerAccountBalance": "123456.78"
        })))
        .mount(&server)
        .await;

    let mut cfg = config(&server);
    let c = client(cfg.clone());
    let balances = c.balance().await.unwrap();
    assert_eq!(balances.len(), 1);
    assert_eq!(
        balances[0].payer_account_balance.unwrap().to_string(),
        "123456.78"
    );
    let body: Value = requests_to(&server, paths::BALANCE).await[0]
        .body_json()
        .unwrap();
    assert_eq!(
        body,
        json!({"customerCode": "8800633175", "customerPassword": "agreed-pw-x"}),
        "customer_password defaults to password"
    );

    cfg.customer_password = Some("customer-pw-x".into());
    client(cfg).balance().await.unwrap();
    let body: Value = requests_to(&server, paths::BALANCE).await[1]
        .body_json()
        .unwrap();
    assert_eq!(body["customerPassword"], "customer-pw-x");
}

// ---------------------------------------------------------------------------
// H4 logistics

#[tokio::test]
async fn logistics_sends_the_documented_body_and_reads_the_three_lists() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::LOGISTICS))
        .and(header("authorization", "tok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "data": {
                // §0.2 H4: the inner records of the vendor's document v1.0.10.
                "getAllLogisticsInfoByOrderCode": [{
                    "deliveryRecordCode": "SO.20190106.000003.F1",
                    "deliveryCreateTime": "2025-11-22 10:00:00",
                    "deliveryModel": "C", "isTranfer": "0",
                    "getStoreOutboundLogisticsInfoResultDto": [{
                        "id": 1, "logisticsCompanyName": "日日顺物流", "expNo": "RRS1",
                        "expNoList": ["RRS1"], "deliveryContact": "王师傅",
                        "deliveryPhone": "13800000000", "vehicleInformation": "苏A12345",
                        "recordCode": "R1", "orderStatus": "40", "orderStatusName": "已签收",
                        "orderCode": "SO.20190106.000003",
                        "deliveryLogisticsDtos": [{"stateCode": "DELIVERED",
                            "stateTime": "2025-11-23 15:00:00", "stateDescription": "已签收"}],
                        "logisticsUrl": "https://track/RRS1", "barcodes": ["SN1"],
                        "sendDate": "2025-11-22"
                    }],
                    "deliveryRecordDetailDtoList": [{"itemName": "冰箱", "itemModel": "BCD-1",
                        "itemUnit": "台", "shippingQty": 1, "itemPictureUrl": "https://img/1"}]
                }],
                "getStockDeliveryLogisticsRecord": null,
                "getStockDeliveryLogisticsRecordThirdparty": [
                    {"deliveryRecordCode": "F1", "logisticsNoList": [{"logisticsNo": "SF1",
                        "logisticsName": "顺丰", "logisticsInfo": [{"nodeName": "揽收",
                        "context": "已揽收", "stateTime": "2025-11-22 11:00:00"}]}]},
                    {"deliveryRecordCode": "F2", "logisticsNoList": [{"logisticsNo": "SF2"}]}
                ]
            }
        })))
        .expect(2)
        .mount(&server)
        .await;

    let c = client(config(&server));
    let info = c
        .logistics("SO.20190106.000003", Some("SO.20190106.000003.F1"), Some(7))
        .await
        .unwrap();
    let delivery = &info.all_logistics_info[0];
    assert_eq!(delivery.delivery_model.as_deref(), Some("C"));
    let out = &delivery.outbound[0];
    assert_eq!(out.exp_no.as_deref(), Some("RRS1"));
    assert_eq!(out.id.as_deref(), Some("1"));
    assert_eq!(out.states[0].state_code.as_deref(), Some("DELIVERED"));
    assert_eq!(out.barcodes, ["SN1"]);
    assert_eq!(delivery.items[0].shipping_qty.as_deref(), Some("1"));
    assert!(info.delivery_records.is_empty());
    assert_eq!(info.third_party_records.len(), 2);
    let courier = &info.third_party_records[0].logistics_no_list[0];
    assert_eq!(courier.logistics_name.as_deref(), Some("顺丰"));
    assert_eq!(courier.logistics_info[0].context.as_deref(), Some("已揽收"));
    assert_eq!(
        info.third_party_records[1].logistics_no_list[0]
            .logistics_no
            .as_deref(),
        Some("SF2")
    );

    c.logistics("SO.20190106.000003", None, None).await.unwrap();
    let sent: Vec<Value> = requests_to(&server, paths::LOGISTICS)
        .await
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(
        sent[0],
        json!({"orderCode": "SO.20190106.000003", "deliveryRecordCode": "SO.20190106.000003.F1",
               "memberId": 7, "sellerCode": "8800633175", "sellerPassword": "seller-pw-x"})
    );
    assert_eq!(
        sent[1],
        json!({"orderCode": "SO.20190106.000003", "sellerCode": "8800633175",
               "sellerPassword": "seller-pw-x"}),
        "absent options are left out"
    );
    assert!(matches!(
        c.logistics(" ", None, None).await,
        Err(Error::InvalidRequest(_))
    ));
}

// ---------------------------------------------------------------------------
// The vendor's document v1.0.10 (protocol §0), replies written from its tables

#[tokio::test]
async fn v1010_token_reply_without_token_type_gives_a_bare_authorization() {
    let server = MockServer::start().await;
    let jwt = "eyJhbGciOiJIUzI1NiJ9.e30.sig";
    Mock::given(method("POST"))
        .and(path(paths::TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"expires_at": 1768460400, "expires_in": 3600, "token": jwt})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(paths::PROCURABLE_PRODUCTS))
        .respond_with(ok_list(json!([])))
        .mount(&server)
        .await;
    client(config(&server))
        .procurable_products(&codes(1))
        .await
        .unwrap();
    let calls = requests_to(&server, paths::PROCURABLE_PRODUCTS).await;
    assert_eq!(calls[0].headers["authorization"], jwt);

    // A gateway that wants a scheme gets it from the configuration.
    let mut c = config(&server);
    c.auth_scheme = Some("Bearer".into());
    client(c).procurable_products(&codes(1)).await.unwrap();
    let calls = requests_to(&server, paths::PROCURABLE_PRODUCTS).await;
    assert_eq!(calls[1].headers["authorization"], format!("Bearer {jwt}"));
}

#[tokio::test]
async fn v1010_business_failure_keeps_error_msg_and_err_code() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::PROCURABLE_PRODUCTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "code": 1, "errCode": "PWD_ERROR", "errorMsg": "约定密码错误",
            "infoMsgs": [], "warningMsgs": [], "data": null
        })))
        .mount(&server)
        .await;
    let err = client(config(&server))
        .procurable_products(&codes(1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Business {
            endpoint: "h1_procurable",
            code: Some("1".into()),
            err_code: Some("PWD_ERROR".into()),
            message: "约定密码错误".into()
        }
    );
}

#[tokio::test]
async fn v1010_h2_reads_rebate_rate_and_the_integer_policy_and_keeps_good_records() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    // §0.2 H2: rebateRate is the direct discount, stockRebatePolicy an integer
    // (0 COM, 1 BF, 2 FHQ, 5 "365"); one record carries a text where a number goes.
    Mock::given(method("POST"))
        .and(path(paths::PRICES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "code": 0, "errCode": null, "errorMsg": null,
            "infoMsgs": [], "warningMsgs": [],
            "data": [
                {"productCode": "GA0SZC000", "supplyPrice": 1000.00, "invoicePrice": 940.00,
                 "rebateRate": 0.05, "rebateMoney": 10.00, "stockRebatePolicy": 2,
                 "reason": null, "isSales": "1"},
                {"productCode": "GA0SZC001", "supplyPrice": "价格未生效", "invoicePrice": null,
                 "rebateRate": 0, "rebateMoney": 0, "stockRebatePolicy": 0,
                 "reason": "价格未生效", "isSales": "1"}
            ]
        })))
        .mount(&server)
        .await;
    let records = client(config(&server)).prices(&codes(2)).await.unwrap();
    assert_eq!(records.items.len(), 1);
    let p = &records.items[0];
    assert_eq!(p.rebate_rate.unwrap().to_string(), "0.05");
    assert_eq!(p.rebate_money.unwrap().to_string(), "10.0");
    assert_eq!(
        p.rebate_policy(),
        Some(haier::open_platform::RebatePolicy::Firewall)
    );
    assert_eq!(records.bad.len(), 1);
    assert_eq!(records.bad[0].product_code.as_deref(), Some("GA0SZC001"));
    assert!(
        records.bad[0].reason.contains("价格未生效"),
        "{}",
        records.bad[0].reason
    );
}

#[tokio::test]
async fn v1010_h1_a_bad_record_does_not_fail_the_listing() {
    let server = MockServer::start().await;
    mount_token(&server, "tok").await;
    Mock::given(method("POST"))
        .and(path(paths::PROCURABLE_PRODUCTS))
        .respond_with(ok_list(json!([
            {"productCode": "GA0SZC000", "productModel": "EC6001-HT3", "isSales": "1"},
            {"productCode": "GA0SZC001", "productLageUrls": "not-a-list", "isSales": "1"},
            {"productCode": "GA0SZC002", "isSales": "0", "noSalesReason": "商品暂不可采"}
        ])))
        .mount(&server)
        .await;
    let records = client(config(&server))
        .procurable_products(&[])
        .await
        .unwrap();
    let good: Vec<_> = records
        .items
        .iter()
        .map(|p| p.product_code.clone().unwrap())
        .collect();
    assert_eq!(good, ["GA0SZC000", "GA0SZC002"]);
    assert_eq!(records.bad.len(), 1);
    assert_eq!(records.bad[0].product_code.as_deref(), Some("GA0SZC001"));
}
