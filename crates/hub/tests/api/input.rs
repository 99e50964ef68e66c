//! Input is parsed once where it is read: SKUs, text, money, local codes and dates that do
//! not parse are refused with a 422 naming the field, and nothing is held or queued.

use serde_json::{Value, json};
use supplyhub::store::Db;
use supplyhub::store::holds::{LOCAL_POOL, get_pool};

use crate::helpers::TestApp;

/// The app with local product `code` holding `units` on hand.
async fn app_with_local_stock(db: &Db, code: &str, units: i64) -> TestApp {
    let app = TestApp::spawn(db, None).await;
    let (status, body) = app
        .post("/api/v1/products", json!({"code": code, "name": code}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/products/{code}/stock-adjustments"),
            json!({"delta": units, "reason": "received"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app
}

fn checkout(number: &str, lines: Value) -> Value {
    json!({
        "order_number": number,
        "lines": lines,
        "consignee": {"name": "张三", "mobile": "13900001111"},
        "address": {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "town": "宁海路街道", "detail": "北京西路1号"},
    })
}

fn line(sku: &str, quantity: i64) -> Value {
    json!({"sku": sku, "quantity": quantity, "retail_price": "10.00"})
}

/// Asserts a 422 whose detail names `field`.
fn assert_refused(status: u16, body: &Value, field: &str, case: &str) {
    let shown: String = body.to_string().chars().take(300).collect();
    assert_eq!(status, 422, "{case}: {shown}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(field), "{case}: names {field}: {shown}");
}

async fn held(db: &Db, code: &str) -> i64 {
    get_pool(db, code, LOCAL_POOL).await.unwrap().unwrap().held
}

async fn skus_are_parsed_once_and_never_trimmed(db: &Db) {
    let app = app_with_local_stock(db, "X", 10).await;

    // "X " twice used to be summed under "X " and stored as "X": one quantity lost.
    let (status, body) = app
        .post(
            "/api/v1/orders",
            checkout("K1", json!([line("X ", 2), line("X ", 3)])),
        )
        .await;
    assert_refused(status, &body, "lines[0].sku", "trailing space");
    // " X" and "X" used to hold twice.
    let (status, body) = app
        .post(
            "/api/v1/orders",
            checkout("K2", json!([line("X", 2), line(" X", 3)])),
        )
        .await;
    assert_refused(status, &body, "lines[1].sku", "leading space");
    assert_eq!(held(db, "X").await, 0, "refused checkouts hold nothing");

    // The same SKU twice is one line and one hold of the sum.
    let (status, order) = app
        .post(
            "/api/v1/orders",
            checkout("K3", json!([line("X", 2), line("X", 3)])),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["lines"].as_array().unwrap().len(), 1);
    assert_eq!(order["lines"][0]["product_code"], "X");
    assert_eq!(order["lines"][0]["quantity"], 5);
    assert_eq!(order["holds"].as_array().unwrap().len(), 1);
    assert_eq!(held(db, "X").await, 5);
}

async fn dates_are_checked_before_anything_is_held_or_queued(db: &Db) {
    let app = app_with_local_stock(db, "D1", 10).await;
    let zone = haier::ylh::types::china_time_zone();
    let tomorrow = jiff::Timestamp::now()
        .to_zoned(zone)
        .date()
        .tomorrow()
        .unwrap();
    let tomorrow_end = format!("{tomorrow}T23:59:59+08:00");

    let cases = [
        ("distribution_time", "1969-12-31T23:59:59Z", "before 1970"),
        ("distribution_time", "1900-01-01T23:59:59+08:00", "1900"),
        ("install_time", "2020-06-01T23:59:59+08:00", "past"),
        ("install_time", "2030-01-15T23:59:60+08:00", "leap second"),
        ("distribution_time", "2030-01-15", "a date without a time"),
        (
            "distribution_time",
            "2099-12-31T23:59:59+08:00",
            "too far ahead",
        ),
    ];
    for (field, value, case) in cases {
        let mut body = checkout("T1", json!([line("D1", 1)]));
        body[field] = json!(value);
        let (status, err) = app.post("/api/v1/orders", body).await;
        assert_refused(status, &err, field, case);
    }
    assert_eq!(held(db, "D1").await, 0);

    let mut body = checkout("T2", json!([line("D1", 1)]));
    body["distribution_time"] = json!(tomorrow_end);
    let (status, order) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap();
    let (status, _) = app
        .post(&format!("/api/v1/orders/{id}/pay"), json!({}))
        .await;
    assert_eq!(status, 200);

    // Reschedule refuses bad times before it looks at the order or queues anything.
    let cases = [
        ("distribution_time", "1900-01-01T23:59:59+08:00", "1900"),
        ("distribution_time", "2020-06-01T23:59:59+08:00", "past"),
        ("install_time", "2030-01-15T23:59:60+08:00", "leap second"),
        (
            "install_time",
            "2030-01-15T12:00:00+08:00",
            "not end of day",
        ),
    ];
    for (field, value, case) in cases {
        let (status, err) = app
            .post(
                &format!("/api/v1/orders/{id}/reschedule"),
                json!({ field: value }),
            )
            .await;
        assert_refused(status, &err, field, case);
    }
    // A good time passes the checks; this local order has nothing at the supplier.
    let (status, err) = app
        .post(
            &format!("/api/v1/orders/{id}/reschedule"),
            json!({"distribution_time": tomorrow_end}),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("invalid_state")));
    let (status, jobs) = app.get("/api/v1/jobs").await;
    assert_eq!(status, 200);
    assert_eq!(jobs["items"], json!([]), "nothing queued");
}

async fn text_money_and_codes_are_refused_naming_the_field(db: &Db) {
    let app = app_with_local_stock(db, "T-1", 10).await;

    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 16] = [
        ("address.town", |b| {
            b["address"]["town"] = json!("镇".repeat(100_000))
        }),
        ("address.town", |b| b["address"]["town"] = json!("a\u{0}b")),
        ("address.detail", |b| {
            b["address"]["detail"] = json!("1号\u{1b}[31m")
        }),
        ("address.detail", |b| b["address"]["detail"] = json!("   ")),
        ("address.province", |b| {
            b["address"]["province"] = json!("省".repeat(51))
        }),
        ("consignee.name", |b| {
            b["consignee"]["name"] = json!("张\u{7}三")
        }),
        ("consignee.name", |b| {
            b["consignee"]["name"] = json!("张".repeat(51))
        }),
        ("remark", |b| b["remark"] = json!("r".repeat(201))),
        ("remark", |b| b["remark"] = json!("line\nbreak")),
        ("lines[0].retail_price", |b| {
            b["lines"][0]["retail_price"] = json!("1e3")
        }),
        ("lines[0].retail_price", |b| {
            b["lines"][0]["retail_price"] = json!("+1.00")
        }),
        ("lines[0].retail_price", |b| {
            b["lines"][0]["retail_price"] = json!("-0")
        }),
        ("lines[0].retail_price", |b| {
            b["lines"][0]["retail_price"] = json!(10.5)
        }),
        ("lines[0].discount_amount", |b| {
            b["lines"][0]["discount_amount"] = json!("-0.00")
        }),
        ("lines[0].sku", |b| b["lines"][0]["sku"] = json!("T-1\u{0}")),
        ("lines[0].sku", |b| b["lines"][0]["sku"] = json!("")),
    ];
    for (field, edit) in cases {
        let mut body = checkout("C1", json!([line("T-1", 1)]));
        edit(&mut body);
        let (status, err) = app.post("/api/v1/orders", body).await;
        assert_refused(status, &err, field, field);
    }
    assert_eq!(held(db, "T-1").await, 0, "nothing held");
    let (_, orders) = app.get("/api/v1/orders").await;
    assert_eq!(orders["items"], json!([]), "no order created");

    let products: [(Value, &str); 9] = [
        (json!({"code": "..", "name": "n"}), "code"),
        (json!({"code": ".", "name": "n"}), "code"),
        (json!({"code": "a/b", "name": "n"}), "code"),
        (json!({"code": "", "name": "n"}), "code"),
        (json!({"code": "A".repeat(51), "name": "n"}), "code"),
        (json!({"code": "N1", "name": "bell\u{7}"}), "name"),
        (json!({"code": "N1", "name": "n".repeat(201)}), "name"),
        (json!({"code": "N1", "name": " "}), "name"),
        (
            json!({"code": "N1", "name": "n", "model": "m".repeat(101)}),
            "model",
        ),
    ];
    for (body, field) in products {
        let (status, err) = app.post("/api/v1/products", body.clone()).await;
        assert_refused(status, &err, field, &body.to_string());
    }
    let (status, _) = app.get("/api/v1/products/N1").await;
    assert_eq!(status, 404, "nothing created");

    for (reason, case) in [
        (json!("lost\u{0}"), "NUL"),
        (json!("r".repeat(201)), "too long"),
        (json!(""), "empty"),
    ] {
        let (status, err) = app
            .post(
                "/api/v1/products/T-1/stock-adjustments",
                json!({"delta": 1, "reason": reason}),
            )
            .await;
        assert_refused(status, &err, "reason", case);
    }

    let (status, order) = app
        .post("/api/v1/orders", checkout("C2", json!([line("T-1", 1)])))
        .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap();
    let (status, err) = app
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            json!({"reason": "no\u{0}"}),
        )
        .await;
    assert_refused(status, &err, "reason", "cancel reason");
    let (_, still) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(still["status"], "held", "not cancelled");
}

/// What the OpenAPI document allows is accepted: an integer written `2.0`, a `null`
/// cancel body; and what it does not allow is refused: a call cursor that is not digits.
async fn what_the_document_allows_is_accepted(db: &Db) {
    let app = app_with_local_stock(db, "Y", 10).await;
    let mut order = checkout("L1", json!([line("Y", 1)]));
    order["lines"][0]["quantity"] = json!(2.0);
    let (status, body) = app.post("/api/v1/orders", order).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(held(db, "Y").await, 2, "2.0 is the integer 2");
    let id = body["id"].as_str().unwrap().to_owned();

    let (status, body) = app
        .get(&format!("/api/v1/orders/{id}/calls?after=+5"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_parameter", "{body}");
    let (status, body) = app.get(&format!("/api/v1/orders/{id}/calls?after=5")).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = app
        .post(&format!("/api/v1/orders/{id}/cancel"), Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled", "{body}");
    assert_eq!(held(db, "Y").await, 0, "released");

    let (status, body) = app
        .post("/api/v1/orders", {
            let mut o = checkout("L2", json!([line("Y", 1)]));
            o["lines"][0]["quantity"] = json!(2.5);
            o
        })
        .await;
    assert_refused(status, &body, "quantity", "a fraction");
}

crate::on_both_backends! {
    what_the_document_allows_is_accepted => what_the_document_allows_is_accepted;
    skus_are_parsed_once => skus_are_parsed_once_and_never_trimmed;
    dates_are_checked_before_queueing => dates_are_checked_before_anything_is_held_or_queued;
    bad_text_money_and_codes_are_refused => text_money_and_codes_are_refused_naming_the_field;
}
