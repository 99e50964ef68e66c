//! `POST /callbacks/haier`: the supplier's signed callbacks, over real HTTP, on both
//! backends.

use haier::callback::{CallbackMethod, format_timestamp, sign_callback_form};
use serde_json::{Value, json};
use supplyhub::config::CallbackConfig;
use supplyhub::store::Db;
use supplyhub::store::callbacks::{all_callbacks, order_events};
use supplyhub::store::catalog::{ProductContent, ProductLinks, upsert_product};
use supplyhub::store::orders::{
    Order, OrderLine, get_order, insert_line, insert_order, lines_of_order,
};
use supplyhub::types::{Money, UtcTime};

use crate::helpers::TestApp;
use crate::on_both_backends;

/// The vendor's test vector (protocol §3).
const SECRET: &str = "8e17bb88a087400bac9ab67e67b138ef";
const APP_KEY: &str = "85f46119-e920-4f01-9624-66326c013217";
const VECTOR_TIMESTAMP: &str = "20230912113528";
const VECTOR_DATA: &str =
    r#"{"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001","State":1}"#;
const VECTOR_SIGN: &str = "F1652582B10B3061C4A8981CD0D104ED";

/// The two products every test order holds.
const FRIDGE: &str = "BS01U000N";
const WASHER: &str = "XQG100-B14";

const CONFIRM: &str = CallbackMethod::CONFIRM;
const CANCEL: &str = CallbackMethod::CANCEL;
const OOSTOCK: &str = CallbackMethod::OUT_OF_STOCK;

fn config(window_secs: u64) -> CallbackConfig {
    CallbackConfig {
        app_key: APP_KEY.to_owned(),
        secret: secrecy::SecretString::from(SECRET.to_owned()),
        window_secs: Some(window_secs),
    }
}

/// Wide enough to accept the vendor's 2023 example.
const CENTURY: u64 = 100 * 366 * 86_400;

async fn app(db: &Db) -> TestApp {
    TestApp::spawn_with_callback(db, config(300)).await
}

/// An order `number` in local `status` standing at `supplier_status` at the supplier,
/// with two lines (2 fridges, 3 washers).
pub(crate) async fn seed_order(
    db: &Db,
    number: &str,
    status: &str,
    supplier_status: &str,
) -> Order {
    let now = UtcTime::now();
    let mut tx = db.begin().await.unwrap();
    for code in [FRIDGE, WASHER] {
        let content = ProductContent {
            name: code.to_owned(),
            product_model: None,
            product_group: None,
            category: None,
            brand: None,
            image_url: None,
            page_image_urls: vec![],
            is_procurable: true,
            not_procurable_reason: None,
            supply_price: Some("1000.00".parse().unwrap()),
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
            now,
        )
        .await
        .unwrap();
    }
    let price: Money = "1000.00".parse().unwrap();
    let order = Order {
        id: supplyhub::store::new_id("ord"),
        order_number: number.to_owned(),
        so_id: format!("SO-{number}"),
        request_hash: "h".to_owned(),
        status: status.parse().unwrap(),
        supplier_status: supplier_status.parse().unwrap(),
        retail_order_no: None,
        supplier_message: None,
        consignee_name: "张三".to_owned(),
        consignee_mobile: "13800000000".to_owned(),
        province: "山东省".to_owned(),
        city: "青岛市".to_owned(),
        district: "崂山区".to_owned(),
        town: None,
        detail_address: "海尔路1号".to_owned(),
        county_code: "370212".to_owned(),
        distribution_time: None,
        install_time: None,
        government_order: false,
        remark: None,
        total_qty: 5,
        total_amount: "5000.00".parse().unwrap(),
        hold_expires_at: now,
        created_at: now,
        updated_at: now,
        paid_at: (status != "held").then_some(now),
        cancelled_at: None,
        created_by: None,
    };
    insert_order(&mut tx, &order).await.unwrap();
    for (i, (code, qty)) in [(FRIDGE, 2), (WASHER, 3)].into_iter().enumerate() {
        let line = OrderLine {
            line_no: i64::try_from(i).unwrap() + 1,
            product_code: code.to_owned(),
            source: "haier".to_owned(),
            quantity: qty,
            retail_price: price,
            discount_amount: Money::ZERO,
            actual_price: price,
            is_gift: false,
            receive_qty: None,
            return_qty: None,
            reject_qty: None,
        };
        insert_line(&mut tx, &order.id, &line).await.unwrap();
    }
    tx.commit().await.unwrap();
    get_order(db, &order.id).await.unwrap().unwrap()
}

async fn order(db: &Db, o: &Order) -> Order {
    get_order(db, &o.id).await.unwrap().unwrap()
}

/// `TimeStamp` for now: China time, `yyyyMMddHHmmss`.
fn now_stamp() -> String {
    format_timestamp(jiff::Timestamp::now())
}

/// A callback signed as the supplier signs it, stamped now.
fn signed(method: &str, data: &Value) -> Vec<(String, String)> {
    sign_callback_form(APP_KEY, SECRET, method, &data.to_string(), &now_stamp())
}

async fn post_form(app: &TestApp, params: &[(String, String)]) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/callbacks/haier", app.base))
        .form(params)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn post_json(app: &TestApp, params: &[(String, String)]) -> (u16, Value) {
    let object: serde_json::Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let resp = app
        .http
        .post(format!("{}/callbacks/haier", app.base))
        .json(&object)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/callbacks/haier", app.base))
        .body(body.to_owned());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn assert_success(reply: &Value, platform_order_no: &str) {
    assert_eq!(reply["success"], true, "{reply}");
    assert_eq!(reply["code"], "success", "{reply}");
    assert_eq!(reply["description"], "成功");
    assert_eq!(reply["data"]["statusCode"], 200, "a number (§0.4)");
    assert_eq!(reply["data"]["platformOrderNo"], platform_order_no);
    assert_eq!(reply["timeStamp"].as_str().map(str::len), Some(14));
}

fn assert_error(reply: &Value, code: &str, description: &str) {
    assert_eq!(reply["success"], false, "{reply}");
    assert_eq!(reply["code"], code, "{reply}");
    assert_eq!(reply["description"], description, "{reply}");
    // §0.4: every reply carries timeStamp and a numeric statusCode.
    assert_eq!(
        reply["timeStamp"].as_str().map(str::len),
        Some(14),
        "{reply}"
    );
    assert!(reply["data"]["statusCode"].is_u64(), "{reply}");
    assert_eq!(reply["data"]["message"], description, "{reply}");
}

async fn outcomes(db: &Db) -> Vec<String> {
    all_callbacks(db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.outcome)
        .collect()
}

/// (receive, return, reject) of each line.
async fn quantities(db: &Db, o: &Order) -> Vec<(Option<i64>, Option<i64>, Option<i64>)> {
    lines_of_order(db, &o.id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.receive_qty, l.return_qty, l.reject_qty))
        .collect()
}

fn vector_params() -> Vec<(String, String)> {
    [
        ("AppKey", APP_KEY),
        ("TimeStamp", VECTOR_TIMESTAMP),
        ("Method", CONFIRM),
        ("Data", VECTOR_DATA),
        ("Sign", VECTOR_SIGN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn vendor_vector_as_form_confirms(db: &Db) {
    let o = seed_order(db, "PO20230912001", "paid", "pushed").await;
    let app = TestApp::spawn_with_callback(db, config(CENTURY)).await;
    let (status, reply) = post_form(&app, &vector_params()).await;
    assert_eq!(status, 200, "{reply}");
    assert_success(&reply, "PO20230912001");
    let after = order(db, &o).await;
    assert_eq!(after.supplier_status, "confirmed");
    assert_eq!(after.retail_order_no.as_deref(), Some("SO.20230912.000001"));
    assert_eq!(after.status, "paid");
    assert!(after.updated_at > o.updated_at);

    let callbacks = all_callbacks(db).await.unwrap();
    assert_eq!(callbacks.len(), 1);
    let cb = &callbacks[0];
    assert!(cb.id.starts_with("cb_"));
    assert_eq!(cb.outcome, "applied");
    assert_eq!(cb.method.as_deref(), Some(CONFIRM));
    assert!(
        cb.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    );
    assert!(cb.body.contains(VECTOR_SIGN), "the raw body is kept");
    let events = order_events(db, &o.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].state, 1);
    assert_eq!(events[0].callback_id, cb.id);
    assert_eq!(
        events[0].dedupe_key,
        supplyhub::callbacks::dedupe_key(CONFIRM, VECTOR_TIMESTAMP, VECTOR_DATA)
    );
}

async fn vendor_vector_as_json_confirms(db: &Db) {
    let o = seed_order(db, "PO20230912001", "paid", "push_pending").await;
    let app = TestApp::spawn_with_callback(db, config(CENTURY)).await;
    let (status, reply) = post_json(&app, &vector_params()).await;
    assert_eq!(status, 200, "{reply}");
    assert_success(&reply, "PO20230912001");
    let after = order(db, &o).await;
    assert_eq!(after.supplier_status, "confirmed");
    assert_eq!(after.retail_order_no.as_deref(), Some("SO.20230912.000001"));

    // JSON without a content type is recognised too; the same event is a replay.
    let object: serde_json::Map<String, Value> = vector_params()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let (status, reply) = post_raw(&app, None, &Value::Object(object).to_string()).await;
    assert_eq!(status, 200, "{reply}");
    assert_success(&reply, "PO20230912001");
    assert_eq!(outcomes(db).await, ["applied", "replayed"]);
    assert_eq!(order(db, &o).await, after);
}

async fn refusals_change_nothing(db: &Db) {
    let o = seed_order(db, "PO-R1", "paid", "pushed").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.R1", "PlatformOrderNo": "PO-R1", "State": 1});

    // Signed under another secret.
    let wrong_sign = sign_callback_form(
        APP_KEY,
        "another-secret",
        CONFIRM,
        &data.to_string(),
        &now_stamp(),
    );
    let refused_before = supplyhub::callbacks::refused_callbacks();
    let (status, reply) = post_form(&app, &wrong_sign).await;
    assert_eq!(status, 200, "every callback is answered 200 (§0.4)");
    assert_error(&reply, "error", "签名验证失败");
    assert_eq!(reply["data"]["statusCode"], 401);

    // Correctly signed, but with an AppKey that is not ours.
    let other_key = sign_callback_form(
        "other-key",
        SECRET,
        CONFIRM,
        &data.to_string(),
        &now_stamp(),
    );
    let (status, reply) = post_form(&app, &other_key).await;
    assert_eq!(status, 200);
    assert_error(&reply, "error", "AppKey无效");

    // Correctly signed an hour ago: outside the ±300 s window this app opted into.
    let hour_ago = format_timestamp(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1));
    let stale = sign_callback_form(APP_KEY, SECRET, CONFIRM, &data.to_string(), &hour_ago);
    let (status, reply) = post_form(&app, &stale).await;
    assert_eq!(status, 200);
    assert_error(&reply, "error", "时间戳超出有效期");

    // The vendor's 2023 vector, fine under a wide window, is stale under ours.
    let (status, reply) = post_form(&app, &vector_params()).await;
    assert_eq!(status, 200);
    assert_eq!(reply["success"], false);

    // Malformed bodies.
    let (status, reply) = post_raw(
        &app,
        Some("application/x-www-form-urlencoded"),
        "hello=world",
    )
    .await;
    assert_eq!(status, 200);
    assert_error(&reply, "error", "缺少参数: AppKey");
    let (status, reply) = post_raw(&app, Some("application/json"), "{not json").await;
    assert_eq!(status, 200);
    assert_error(&reply, "error", "请求格式错误");
    assert_eq!(reply["data"]["statusCode"], 400);

    // Signed, but its Data is not the protocol's (State 7).
    let bad_data = signed(
        CONFIRM,
        &json!({"ExtOrderNo": "SO.R1", "PlatformOrderNo": "PO-R1", "State": 7}),
    );
    let (status, reply) = post_form(&app, &bad_data).await;
    assert_eq!(status, 200);
    assert_error(&reply, "error", "Data格式错误");

    assert_eq!(order(db, &o).await, o, "nothing changed");
    assert!(order_events(db, &o.id).await.unwrap().is_empty());
    // Only what verifies is stored: the six callbacks that failed verification left
    // nothing in the store, the signed one with bad Data is kept as refused.
    let outcomes = outcomes(db).await;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert!(outcomes[0].starts_with("refused: "), "{outcomes:?}");
    let callbacks = all_callbacks(db).await.unwrap();
    assert!(!callbacks[0].body.contains("another-secret"));
    // ...and counted by cause (other tests may count too: at least ours).
    let refused_after = supplyhub::callbacks::refused_callbacks();
    let grew = |kind: &str| {
        refused_after.get(kind).copied().unwrap_or(0)
            - refused_before.get(kind).copied().unwrap_or(0)
    };
    assert!(grew("bad_signature") >= 1);
    assert!(grew("unknown_app_key") >= 1);
    assert!(grew("stale") >= 2);
    assert!(grew("missing_parameter") >= 1);
    assert!(grew("malformed") >= 1);
}

/// Backdates an order's last change to `hours` ago, keeping its supplier status.
async fn age(db: &Db, o: &Order, hours: i64) {
    let then = UtcTime::from(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours));
    let mut tx = db.begin().await.unwrap();
    supplyhub::store::orders::transition_supplier_status(
        &mut tx,
        &o.id,
        &[o.supplier_status],
        o.supplier_status,
        None,
        None,
        then,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn pushed_orders_without_a_callback_are_listed_as_stale(db: &Db) {
    let old = seed_order(db, "PO-S1", "paid", "pushed").await;
    age(db, &old, 2).await;
    seed_order(db, "PO-S2", "paid", "pushed").await;
    let confirmed = seed_order(db, "PO-S3", "paid", "confirmed").await;
    age(db, &confirmed, 2).await;
    let app = app(db).await;
    let numbers = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_number"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, page) = app
        .get("/api/v1/orders?supplier_status=pushed&stale=true")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        numbers(&page),
        ["PO-S1"],
        "pushed an hour ago or more, no callback"
    );
    let (_, page) = app.get("/api/v1/orders?stale=true").await;
    assert_eq!(numbers(&page), ["PO-S1"], "stale implies pushed");
    let (status, page) = app
        .get("/api/v1/orders?supplier_status=confirmed&stale=true")
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        numbers(&page).is_empty(),
        "only pushed orders are stale: {page}"
    );
    let (_, page) = app.get("/api/v1/orders?supplier_status=pushed").await;
    assert_eq!(numbers(&page), ["PO-S2", "PO-S1"]);
    // A callback takes it off the list.
    let data = json!({"ExtOrderNo": "SO.S1", "PlatformOrderNo": "PO-S1", "State": 1});
    post_form(&app, &signed(CONFIRM, &data)).await;
    let (_, page) = app
        .get("/api/v1/orders?supplier_status=pushed&stale=true")
        .await;
    assert!(numbers(&page).is_empty(), "{page}");
    for bad in ["?supplier_status=lost", "?supplier_status=pushed&stale=1"] {
        let (status, err) = app.get(&format!("/api/v1/orders{bad}")).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}: {err}"
        );
    }
}

async fn without_a_window_an_old_callback_applies_and_its_skew_is_kept(db: &Db) {
    let o = seed_order(db, "PO-OLD", "paid", "pushed").await;
    let app = TestApp::spawn_with_callback(
        db,
        CallbackConfig {
            window_secs: None,
            ..config(0)
        },
    )
    .await;
    let data = json!({"ExtOrderNo": "SO.OLD", "PlatformOrderNo": "PO-OLD", "State": 1});
    let hour_ago = format_timestamp(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1));
    let form = sign_callback_form(APP_KEY, SECRET, CONFIRM, &data.to_string(), &hour_ago);
    let (status, reply) = post_form(&app, &form).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-OLD");
    assert_eq!(order(db, &o).await.supplier_status, "confirmed");
    let callbacks = all_callbacks(db).await.unwrap();
    let skew = callbacks[0].clock_skew_secs.unwrap();
    assert!((-3700..=-3500).contains(&skew), "{skew}");
}

async fn a_replay_changes_nothing(db: &Db) {
    let o = seed_order(db, "PO-2", "paid", "pushed").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.2", "PlatformOrderNo": "PO-2", "State": 1});
    let form = signed(CONFIRM, &data);
    let (status, reply) = post_form(&app, &form).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-2");
    let confirmed = order(db, &o).await;
    assert_eq!(confirmed.supplier_status, "confirmed");

    let (status, reply) = post_form(&app, &form).await;
    assert_eq!(status, 200, "a replay is answered with success");
    assert_success(&reply, "PO-2");
    assert_eq!(order(db, &o).await, confirmed, "updated_at included");
    assert_eq!(outcomes(db).await, ["applied", "replayed"]);

    // The same Data re-sent later under a new TimeStamp is a second event: recorded,
    // and applying it changes nothing.
    let resent = sign_callback_form(
        APP_KEY,
        SECRET,
        CONFIRM,
        &data.to_string(),
        &format_timestamp(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)),
    );
    assert_ne!(resent, form);
    let (status, _) = post_form(&app, &resent).await;
    assert_eq!(status, 200);
    assert_eq!(order(db, &o).await, confirmed);
    assert_eq!(
        outcomes(db).await,
        ["applied", "replayed", "unchanged: already confirmed"]
    );
    assert_eq!(order_events(db, &o.id).await.unwrap().len(), 2);
}

async fn state_as_a_string_confirms(db: &Db) {
    let o = seed_order(db, "PO-3", "paid", "pushed").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.3", "PlatformOrderNo": "PO-3", "State": "1"});
    let (status, reply) = post_form(&app, &signed(CONFIRM, &data)).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-3");
    let after = order(db, &o).await;
    assert_eq!(after.supplier_status, "confirmed");
    assert_eq!(after.retail_order_no.as_deref(), Some("SO.3"));
}

async fn a_failed_confirmation_fails_the_push(db: &Db) {
    let o = seed_order(db, "PO-4", "paid", "pushed").await;
    let app = app(db).await;
    let data = json!({"PlatformOrderNo": "PO-4", "State": 0, "FailMsg": "地址无法配送"});
    let (status, _) = post_form(&app, &signed(CONFIRM, &data)).await;
    assert_eq!(status, 200);
    let after = order(db, &o).await;
    // Y1 accepts before its checks (protocol §0.3): a refused confirmation is final.
    assert_eq!(after.supplier_status, "rejected");
    assert_eq!(after.supplier_message.as_deref(), Some("地址无法配送"));
    assert_eq!(after.retail_order_no, None);
    assert_eq!(after.status, "cancelled");
}

fn items(fridge: (u32, u32, u32), washer: (u32, u32, u32)) -> Value {
    json!([
        {"productCode": FRIDGE, "totalQty": 2, "receiveQty": fridge.0, "returnQty": fridge.1, "rejectQty": fridge.2},
        {"productCode": WASHER, "totalQty": 3, "receiveQty": washer.0.to_string(), "returnQty": washer.1, "rejectQty": washer.2},
    ])
}

async fn a_requested_cancel_cancels(db: &Db) {
    let o = seed_order(db, "PO-5", "paid", "cancel_pending").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.5", "PlatformOrderNo": "PO-5", "State": 1,
                      "itemList": items((0, 0, 2), (0, 0, 3))});
    let (status, reply) = post_form(&app, &signed(CANCEL, &data)).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-5");
    let cancelled = order(db, &o).await;
    assert_eq!(cancelled.supplier_status, "cancelled");
    assert_eq!(cancelled.status, "cancelled");
    assert!(cancelled.cancelled_at.is_some());
    assert_eq!(
        quantities(db, &o).await,
        [(Some(0), Some(0), Some(2)), (Some(0), Some(0), Some(3))]
    );

    // A late confirmation does not bring it back.
    let late = json!({"ExtOrderNo": "SO.5", "PlatformOrderNo": "PO-5", "State": 1});
    let (status, reply) = post_form(&app, &signed(CONFIRM, &late)).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-5");
    assert_eq!(order(db, &o).await, cancelled);
    assert_eq!(
        outcomes(db).await,
        ["applied", "ignored: order is cancelled"]
    );
    assert_eq!(order_events(db, &o.id).await.unwrap().len(), 2, "recorded");
}

async fn an_unasked_cancel_is_a_rejection(db: &Db) {
    let o = seed_order(db, "PO-6", "paid", "confirmed").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.6", "PlatformOrderNo": "PO-6", "State": 1,
                      "FailMsg": "客户拒收", "itemList": items((2, 2, 0), (0, 0, 3))});
    let (status, _) = post_form(&app, &signed(CANCEL, &data)).await;
    assert_eq!(status, 200);
    let after = order(db, &o).await;
    assert_eq!(after.supplier_status, "rejected");
    assert_eq!(after.supplier_message.as_deref(), Some("客户拒收"));
    assert_eq!(after.status, "cancelled");
    assert_eq!(
        quantities(db, &o).await,
        [(Some(2), Some(2), Some(0)), (Some(0), Some(0), Some(3))]
    );
}

async fn partial_cancels_set_quantities(db: &Db) {
    let o = seed_order(db, "PO-7", "paid", "confirmed").await;
    let app = app(db).await;
    let first = json!({"ExtOrderNo": "SO.7", "PlatformOrderNo": "PO-7", "State": 2,
                       "itemList": items((2, 1, 0), (3, 0, 0))});
    let first_form = signed(CANCEL, &first);
    let (status, _) = post_form(&app, &first_form).await;
    assert_eq!(status, 200);
    let after = order(db, &o).await;
    assert_eq!(after.supplier_status, "partially_cancelled");
    assert_eq!(after.status, "paid");
    assert_eq!(
        quantities(db, &o).await,
        [(Some(2), Some(1), Some(0)), (Some(3), Some(0), Some(0))]
    );

    // A second, different partial cancellation sets the quantities: it does not add.
    let second = json!({"ExtOrderNo": "SO.7", "PlatformOrderNo": "PO-7", "State": "2",
                        "itemList": items((2, 2, 0), (3, 1, 0))});
    let (status, _) = post_form(&app, &signed(CANCEL, &second)).await;
    assert_eq!(status, 200);
    assert_eq!(
        quantities(db, &o).await,
        [(Some(2), Some(2), Some(0)), (Some(3), Some(1), Some(0))]
    );
    // Replaying the first delivery, as sent (its TimeStamp too), changes nothing (it
    // would otherwise set them back). Signed anew, a second later, it would be a new
    // event.
    let (status, _) = post_form(&app, &first_form).await;
    assert_eq!(status, 200);
    assert_eq!(
        quantities(db, &o).await,
        [(Some(2), Some(2), Some(0)), (Some(3), Some(1), Some(0))]
    );
    assert_eq!(outcomes(db).await, ["applied", "applied", "replayed"]);
    assert_eq!(order(db, &o).await.status, "paid");
}

async fn a_failed_cancel_keeps_the_order(db: &Db) {
    let o = seed_order(db, "PO-8", "paid", "cancel_pending").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.8", "PlatformOrderNo": "PO-8", "State": 0,
                      "FailMsg": "已出库，无法取消"});
    let (status, reply) = post_form(&app, &signed(CANCEL, &data)).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-8");
    let after = order(db, &o).await;
    assert_eq!(after.supplier_status, "cancel_failed");
    assert_eq!(after.supplier_message.as_deref(), Some("已出库，无法取消"));
    assert_eq!(after.status, "paid");
    assert_eq!(after.cancelled_at, None);
}

async fn out_of_stock_is_final(db: &Db) {
    let o = seed_order(db, "PO-9", "paid", "confirmed").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.9", "PlatformOrderNo": "PO-9", "State": 1,
                      "FailMsg": "无货"});
    let (status, _) = post_form(&app, &signed(OOSTOCK, &data)).await;
    assert_eq!(status, 200);
    let out = order(db, &o).await;
    assert_eq!(out.supplier_status, "out_of_stock");
    assert_eq!(out.supplier_message.as_deref(), Some("无货"));

    // Neither a confirmation nor a cancellation leaves it.
    let confirm = json!({"ExtOrderNo": "SO.9", "PlatformOrderNo": "PO-9", "State": 1});
    let (status, reply) = post_form(&app, &signed(CONFIRM, &confirm)).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-9");
    let cancel = json!({"ExtOrderNo": "SO.9", "PlatformOrderNo": "PO-9", "State": 1,
                        "itemList": items((0, 0, 2), (0, 0, 3))});
    let (status, _) = post_form(&app, &signed(CANCEL, &cancel)).await;
    assert_eq!(status, 200);
    assert_eq!(order(db, &o).await, out);
    assert_eq!(quantities(db, &o).await, [(None, None, None); 2]);
    assert_eq!(
        outcomes(db).await,
        [
            "applied",
            "ignored: order is out_of_stock",
            "ignored: order is out_of_stock"
        ]
    );
}

async fn out_of_stock_failure(db: &Db) {
    let o = seed_order(db, "PO-10", "paid", "pushed").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.10", "PlatformOrderNo": "PO-10", "State": 0});
    let (status, _) = post_form(&app, &signed(OOSTOCK, &data)).await;
    assert_eq!(status, 200);
    assert_eq!(order(db, &o).await.supplier_status, "out_of_stock_failed");
}

async fn an_event_that_does_not_fit_is_recorded_not_applied(db: &Db) {
    // An order never sent to the supplier.
    let o = seed_order(db, "PO-11", "paid", "none").await;
    let app = app(db).await;
    let data = json!({"ExtOrderNo": "SO.11", "PlatformOrderNo": "PO-11", "State": 1});
    let (status, reply) = post_form(&app, &signed(CONFIRM, &data)).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-11");
    assert_eq!(order(db, &o).await, o);
    assert_eq!(
        outcomes(db).await,
        ["ignored: confirm with State 1 does not apply to an order none"]
    );
    assert_eq!(order_events(db, &o.id).await.unwrap().len(), 1);
}

async fn found_by_the_suppliers_number(db: &Db) {
    let o = seed_order(db, "PO-12", "paid", "pushed").await;
    let app = app(db).await;
    let confirm = json!({"ExtOrderNo": "SO.12", "PlatformOrderNo": "PO-12", "State": 1});
    post_form(&app, &signed(CONFIRM, &confirm)).await;
    // Without our number, the supplier's finds the order.
    let cancel = json!({"ExtOrderNo": "SO.12", "State": 1});
    let (status, reply) = post_form(&app, &signed(CANCEL, &cancel)).await;
    assert_eq!(status, 200);
    assert_success(&reply, "PO-12");
    let after = order(db, &o).await;
    assert_eq!(after.supplier_status, "rejected");
    assert_eq!(after.status, "cancelled");
}

async fn unknown_orders_and_methods(db: &Db) {
    let o = seed_order(db, "PO-13", "paid", "pushed").await;
    let app = app(db).await;
    let nobody = json!({"ExtOrderNo": "SO.X", "PlatformOrderNo": "PO-NOBODY", "State": 1});
    let (status, reply) = post_form(&app, &signed(CONFIRM, &nobody)).await;
    assert_eq!(status, 200);
    assert_error(&reply, "order_not_found", "订单不存在: PO-NOBODY");

    let refund = json!({"ExtOrderNo": "SO.13", "PlatformOrderNo": "PO-13", "State": 1});
    let (status, reply) = post_form(&app, &signed("hmm.scm_heorder.refund", &refund)).await;
    assert_eq!(status, 200);
    assert_error(&reply, "error", "未知的回调方法: hmm.scm_heorder.refund");

    assert_eq!(order(db, &o).await, o);
    assert!(order_events(db, &o.id).await.unwrap().is_empty());
    assert_eq!(
        outcomes(db).await,
        [
            "order_not_found",
            "ignored: unknown method hmm.scm_heorder.refund"
        ]
    );
    let callbacks = all_callbacks(db).await.unwrap();
    assert_eq!(
        callbacks[1].method.as_deref(),
        Some("hmm.scm_heorder.refund")
    );
}

on_both_backends! {
    vendor_vector_as_form_confirms => vendor_vector_as_form_confirms;
    vendor_vector_as_json_confirms => vendor_vector_as_json_confirms;
    refusals_change_nothing => refusals_change_nothing;
    a_replay_changes_nothing => a_replay_changes_nothing;
    without_a_window_an_old_callback_applies_and_its_skew_is_kept => without_a_window_an_old_callback_applies_and_its_skew_is_kept;
    pushed_orders_without_a_callback_are_listed_as_stale => pushed_orders_without_a_callback_are_listed_as_stale;
    state_as_a_string_confirms => state_as_a_string_confirms;
    a_failed_confirmation_fails_the_push => a_failed_confirmation_fails_the_push;
    a_requested_cancel_cancels => a_requested_cancel_cancels;
    an_unasked_cancel_is_a_rejection => an_unasked_cancel_is_a_rejection;
    partial_cancels_set_quantities => partial_cancels_set_quantities;
    a_failed_cancel_keeps_the_order => a_failed_cancel_keeps_the_order;
    out_of_stock_is_final => out_of_stock_is_final;
    out_of_stock_failure => out_of_stock_failure;
    an_event_that_does_not_fit_is_recorded_not_applied => an_event_that_does_not_fit_is_recorded_not_applied;
    found_by_the_suppliers_number => found_by_the_suppliers_number;
    unknown_orders_and_methods => unknown_orders_and_methods;
    without_configuration_callbacks_are_refused => without_configuration_callbacks_are_refused;
}

async fn without_configuration_callbacks_are_refused(db: &Db) {
    let o = seed_order(db, "PO20230912001", "paid", "pushed").await;
    // An admin token guards /api/v1 only: the callback route answers without one.
    let app = TestApp::spawn(db, Some("admin-token")).await;
    let (status, reply) = post_form(&app, &vector_params()).await;
    assert_eq!(status, 200);
    assert_error(&reply, "error", "callbacks are not configured");
    assert_eq!(reply["data"]["statusCode"], 503);
    assert_eq!(order(db, &o).await, o);
    assert!(
        outcomes(db).await.is_empty(),
        "nothing unverified is stored"
    );
}
