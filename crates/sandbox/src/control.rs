//! `/_sandbox/*`: the truth behind the simulated platform, and the knobs to change it.
//! No authentication, no rate limit, no faults. Errors are `{code, detail}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::catalog::ChangeKind;
use crate::config::env_vars;
use crate::dispatch;
use crate::faults::{FaultKind, FaultMode, MAX_QUEUED, Queued};
use crate::gateway::Reply;
use crate::open_platform::stock::stock_region;
use crate::open_platform::views::{CatalogEntry, StockItem};
use crate::orders::{FireError, Order, OrderSettings};
use crate::state::{AppState, lock, read, write};
use crate::stats::Endpoint;
use crate::stock::{Grade, Warehouse};

/// The most products one churn may change.
const MAX_CHURN: usize = 100_000;

/// A refused control call: `{code, detail}` with a 4xx status.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

pub(crate) fn problem(
    status: StatusCode,
    code: &'static str,
    detail: impl Into<String>,
) -> Problem {
    Problem {
        status,
        code,
        detail: detail.into(),
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "detail": self.detail })),
        )
            .into_response()
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| problem(StatusCode::BAD_REQUEST, "invalid_body", e.to_string()))
}

/// `GET /_sandbox/catalog`: every product the platform knows, procurable or not, with
/// its H1 fields and the H2 price fields it would answer now.
async fn catalog(State(s): State<Arc<AppState>>) -> Response {
    let catalog = read(&s.catalog);
    let products: Vec<CatalogEntry<'_>> = catalog.products().map(CatalogEntry::from).collect();
    Reply::json(
        StatusCode::OK,
        &json!({ "count": products.len(), "products": products }),
    )
    .into_response()
}

/// `DELETE /_sandbox/catalog/{productCode}`: the platform stops carrying a product (an
/// order for it is then accepted by Y1 and refused by its confirm callback).
async fn remove_product(
    State(s): State<Arc<AppState>>,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    if write(&s.catalog).remove(&code) {
        tracing::info!(%code, "product removed");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(problem(
            StatusCode::NOT_FOUND,
            "unknown_product",
            format!("no product {code:?}"),
        ))
    }
}

fn stock_key(
    s: &AppState,
    product: Option<&String>,
    county: Option<&String>,
) -> Result<(String, u32), Problem> {
    let Some(product) = product.map(|p| p.trim()).filter(|p| !p.is_empty()) else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "productCode is required",
        ));
    };
    let Some(county) = county.map(|c| c.trim()).filter(|c| !c.is_empty()) else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "countyCode is required",
        ));
    };
    let Some(region) = stock_region(s, county) else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "unknown_county",
            format!("{county:?} is not a stock region"),
        ));
    };
    Ok((product.to_owned(), region))
}

fn stock_reply(s: &AppState, product: &str, county: u32) -> Response {
    let warehouses = s.stock(product, county);
    let items: Vec<StockItem<'_>> = warehouses.iter().map(StockItem::from).collect();
    Reply::json(StatusCode::OK, &items).into_response()
}

/// `GET /_sandbox/stock?productCode=&countyCode=`: the H3 `data` list.
async fn stock(
    State(s): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match stock_key(&s, q.get("productCode"), q.get("countyCode")) {
        Ok((product, county)) => stock_reply(&s, &product, county),
        Err(p) => p.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetWarehouse {
    sec_code: String,
    stock: u32,
    warehouse_grade: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetStock {
    product_code: Option<String>,
    county_code: Option<String>,
    /// The warehouses to answer from now on; absent or null removes the override.
    warehouses: Option<Vec<SetWarehouse>>,
}

/// `POST /_sandbox/stock`: sets (or with no `warehouses`, clears) the stock of a
/// product in a county; answers the H3 `data` list that now applies.
async fn set_stock(State(s): State<Arc<AppState>>, body: Bytes) -> Result<Response, Problem> {
    let req: SetStock = parse(&body)?;
    let (product, county) = stock_key(&s, req.product_code.as_ref(), req.county_code.as_ref())?;
    let key = (product.clone(), county);
    match req.warehouses {
        None => {
            write(&s.stock_overrides).remove(&key);
        }
        Some(list) => {
            if list.len() > 10 {
                return Err(problem(
                    StatusCode::BAD_REQUEST,
                    "too_many_warehouses",
                    "at most 10 warehouses",
                ));
            }
            let mut warehouses = Vec::with_capacity(list.len());
            for w in list {
                let sec = w.sec_code.trim();
                if sec.is_empty() || sec.len() > 16 {
                    return Err(problem(
                        StatusCode::BAD_REQUEST,
                        "invalid_sec_code",
                        "secCode must be 1 to 16 characters",
                    ));
                }
                let Some(grade) = Grade::parse(&w.warehouse_grade) else {
                    return Err(problem(
                        StatusCode::BAD_REQUEST,
                        "invalid_grade",
                        "warehouseGrade must be \"0\" or \"1\"",
                    ));
                };
                warehouses.push(Warehouse::with_default_timeliness(
                    sec.to_owned(),
                    w.stock,
                    grade,
                ));
            }
            write(&s.stock_overrides).insert(key, warehouses);
        }
    }
    Ok(stock_reply(&s, &product, county))
}

/// `GET /_sandbox/stats`.
async fn stats(State(s): State<Arc<AppState>>) -> Response {
    let mut snapshot = s.stats.snapshot(s.faults.mode());
    if let Some(map) = snapshot.as_object_mut() {
        map.insert("products".to_owned(), read(&s.catalog).len().into());
        map.insert("store".to_owned(), s.store.stats_json());
    }
    Json(snapshot).into_response()
}

#[derive(Deserialize)]
struct SetFaults {
    mode: String,
}

/// `GET /_sandbox/faults`: the current mode.
async fn faults(State(s): State<Arc<AppState>>) -> Response {
    Json(json!({ "mode": s.faults.mode().as_str() })).into_response()
}

/// `POST /_sandbox/faults {"mode":"none|flaky|hostile"}`.
async fn set_faults(State(s): State<Arc<AppState>>, body: Bytes) -> Result<Response, Problem> {
    let req: SetFaults = parse(&body)?;
    let mode = match req.mode.as_str() {
        "none" => FaultMode::None,
        "flaky" => FaultMode::Flaky,
        "hostile" => FaultMode::Hostile,
        other => {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "invalid_mode",
                format!("mode must be none, flaky or hostile, got {other:?}"),
            ));
        }
    };
    s.faults.set_mode(mode);
    tracing::info!(mode = mode.as_str(), "fault mode switched");
    Ok(Json(json!({ "mode": mode.as_str() })).into_response())
}

#[derive(Deserialize)]
struct Churn {
    count: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Changed {
    product_code: String,
    change: ChangeKind,
}

/// `POST /_sandbox/churn {"count":N}`: changes N distinct products.
async fn churn(State(s): State<Arc<AppState>>, body: Bytes) -> Result<Response, Problem> {
    let req: Churn = parse(&body)?;
    if req.count > MAX_CHURN {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "count_too_large",
            format!("count must be at most {MAX_CHURN}"),
        ));
    }
    let changed: Vec<Changed> = write(&s.catalog)
        .churn(req.count)
        .into_iter()
        .map(|(product_code, change)| Changed {
            product_code,
            change,
        })
        .collect();
    tracing::info!(count = changed.len(), "catalog churned");
    Ok(Json(json!({ "changed": changed })).into_response())
}

/// `GET /_sandbox/env`: the client settings, as `print-env` gives them.
async fn env(State(s): State<Arc<AppState>>) -> Response {
    let vars: serde_json::Map<String, serde_json::Value> = env_vars(&s.base_url, &s.config)
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    Json(vars).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextFault {
    fault: String,
    endpoint: Option<String>,
    count: Option<usize>,
    after_processing: Option<bool>,
}

/// `POST /_sandbox/faults/next {"fault","endpoint"?,"count"?,"after_processing"?}`:
/// queues a fault for the next `count` (default 1) calls to `endpoint` (a stats key;
/// any endpoint if absent), whatever the mode. `after_processing` decides whether a
/// server error on order creation comes after the order was recorded.
async fn next_fault(State(s): State<Arc<AppState>>, body: Bytes) -> Result<Response, Problem> {
    let req: NextFault = parse(&body)?;
    let Some(kind) = FaultKind::parse(&req.fault) else {
        let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_fault",
            format!("fault must be one of {}", names.join(", ")),
        ));
    };
    if let Some(e) = req.endpoint.as_deref()
        && !Endpoint::is_name(e)
    {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_endpoint",
            format!("{e:?} is not an endpoint name of /_sandbox/stats"),
        ));
    }
    let count = req.count.unwrap_or(1);
    let queued = Queued {
        kind,
        endpoint: req.endpoint,
        after_processing: req.after_processing,
    };
    if count > MAX_QUEUED || !s.faults.enqueue(vec![queued; count]) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "queue_full",
            format!("at most {MAX_QUEUED} faults may wait"),
        ));
    }
    Ok(Json(json!({ "queued": s.faults.queued() })).into_response())
}

/// `GET /_sandbox/faults/next`: how many queued faults wait.
async fn queued_faults(State(s): State<Arc<AppState>>) -> Response {
    Json(json!({ "queued": s.faults.queued() })).into_response()
}

/// `DELETE /_sandbox/faults/next`: drops the queued faults.
async fn clear_faults(State(s): State<Arc<AppState>>) -> Response {
    s.faults.clear_queue();
    Json(json!({ "queued": 0 })).into_response()
}

/// An order as `/_sandbox/orders` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderView<'a> {
    so_id: &'a str,
    retail_order_no: &'a str,
    online_no: &'a str,
    source_system: &'a str,
    status: crate::orders::Status,
    logistics: crate::orders::Stage,
    next_step: Option<crate::orders::Step>,
    items: &'a [crate::orders::Item],
    total_qty: u64,
    total_amt: crate::money::Money,
    create_time: i64,
    distribution_time: Option<i64>,
    install_time: Option<i64>,
    delivery_install: bool,
    times: Times,
    cancel: Option<&'a crate::orders::CancelRequest>,
    fail_msg: Option<&'a str>,
    delivery_record_code: Option<&'a str>,
    logistics_list: &'a [crate::orders::Parcel],
    photos: &'a [crate::orders::Photo],
    callbacks: &'a [crate::orders::CallbackRecord],
    payload: &'a serde_json::Value,
}

/// When things happened, in ms since the epoch.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Times {
    received_at: i64,
    decided_at: Option<i64>,
    shipped_at: Option<i64>,
    delivered_at: Option<i64>,
    rescheduled_at: Option<i64>,
}

impl<'a> From<&'a Order> for OrderView<'a> {
    fn from(o: &'a Order) -> Self {
        OrderView {
            so_id: &o.so_id,
            retail_order_no: &o.retail_order_no,
            online_no: &o.new.online_no,
            source_system: &o.new.source_system,
            status: o.status,
            logistics: o.stage,
            next_step: o.next.map(|(step, _)| step),
            items: &o.new.items,
            total_qty: o.new.total_qty,
            total_amt: o.new.total_amt,
            create_time: o.new.create_time,
            distribution_time: o.new.distribution_time,
            install_time: o.new.install_time,
            delivery_install: o.new.delivery_install,
            times: Times {
                received_at: o.received_at,
                decided_at: o.decided_at,
                shipped_at: o.shipped_at,
                delivered_at: o.delivered_at,
                rescheduled_at: o.rescheduled_at,
            },
            cancel: o.cancel.as_ref(),
            fail_msg: o.fail_msg.as_deref(),
            delivery_record_code: o.delivery_record_code.as_deref(),
            logistics_list: &o.parcels,
            photos: &o.photos,
            callbacks: &o.callbacks,
            payload: &o.new.payload,
        }
    }
}

fn no_order(so_id: &str) -> Problem {
    problem(
        StatusCode::NOT_FOUND,
        "unknown_order",
        format!("no order with soId {so_id:?}"),
    )
}

/// `GET /_sandbox/orders`: every order, by arrival.
async fn orders(State(s): State<Arc<AppState>>) -> Response {
    let book = lock(&s.orders);
    let orders: Vec<OrderView<'_>> = book.orders().iter().map(OrderView::from).collect();
    Reply::json(
        StatusCode::OK,
        &json!({ "count": orders.len(), "orders": orders }),
    )
    .into_response()
}

fn order_reply(s: &AppState, so_id: &str) -> Result<Response, Problem> {
    let book = lock(&s.orders);
    let order = book.by_so_id(so_id).ok_or_else(|| no_order(so_id))?;
    Ok(Reply::json(StatusCode::OK, &OrderView::from(order)).into_response())
}

/// `GET /_sandbox/orders/{soId}`.
async fn order(
    State(s): State<Arc<AppState>>,
    Path(so_id): Path<String>,
) -> Result<Response, Problem> {
    order_reply(&s, &so_id)
}

/// `POST /_sandbox/orders/{soId}/advance`: fires the order's next step now (decision,
/// shipping, delivery or the answer to a cancel request) and shows the order.
async fn advance(
    State(s): State<Arc<AppState>>,
    Path(so_id): Path<String>,
) -> Result<Response, Problem> {
    match dispatch::fire(&s, &so_id, None) {
        Ok(()) => order_reply(&s, &so_id),
        Err(FireError::Unknown) => Err(no_order(&so_id)),
        Err(FireError::Idle | FireError::Stale) => Err(problem(
            StatusCode::CONFLICT,
            "nothing_to_advance",
            format!("order {so_id:?} has no next step"),
        )),
    }
}

fn settings_json(o: &OrderSettings) -> serde_json::Value {
    json!({
        "callback_url": o.callback_url,
        "confirm_rate": o.confirm_rate,
        "reject_rate": o.reject_rate,
        "oos_rate": o.oos_rate,
        "duplicate_callback_rate": o.duplicate_callback_rate,
        "partial_cancel_rate": o.partial_cancel_rate,
        "callback_delay_ms": o.callback_delay.as_millis() as u64,
        "logistics_step_ms": o.logistics_step.as_millis() as u64,
        "duplicate_message": o.duplicate_message,
    })
}

/// Whether the outcome rates and chances of the settings make sense; the problem if not.
pub(crate) fn check_rates(o: &OrderSettings) -> Result<(), String> {
    let rates = [
        ("confirm_rate", o.confirm_rate),
        ("reject_rate", o.reject_rate),
        ("oos_rate", o.oos_rate),
        ("duplicate_callback_rate", o.duplicate_callback_rate),
        ("partial_cancel_rate", o.partial_cancel_rate),
    ];
    for (name, rate) in rates {
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("{name} must be between 0 and 1, got {rate}"));
        }
    }
    let sum = o.confirm_rate + o.reject_rate + o.oos_rate;
    if (sum - 1.0).abs() > 1e-6 {
        return Err(format!(
            "confirm_rate + reject_rate + oos_rate must be 1, got {sum}"
        ));
    }
    Ok(())
}

/// Whether `url` is an absolute http(s) URL.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        Ok(_) => Err(format!("{url:?} is not an http(s) URL")),
        Err(e) => Err(format!("{url:?}: {e}")),
    }
}

/// `GET /_sandbox/orders/config`.
async fn order_config(State(s): State<Arc<AppState>>) -> Response {
    Json(settings_json(&read(&s.order_settings))).into_response()
}

/// `POST /_sandbox/orders/config {"callback_url","confirm_rate","reject_rate",
/// "oos_rate","duplicate_callback_rate","partial_cancel_rate","callback_delay_ms",
/// "logistics_step_ms","duplicate_message"}`: changes the given settings (all at once or
/// none). `duplicate_message` is the `errorMsg` of Y1's refusal of a repeated `soId`
/// (`{soId}` is replaced).
async fn set_order_config(
    State(s): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: serde_json::Map<String, serde_json::Value> = parse(&body)?;
    let bad = |detail: String| problem(StatusCode::BAD_REQUEST, "invalid_setting", detail);
    let mut next = read(&s.order_settings).clone();
    for (key, value) in &req {
        let rate = || {
            value
                .as_f64()
                .ok_or_else(|| bad(format!("{key} must be a number")))
        };
        let millis = || {
            value
                .as_u64()
                .filter(|&ms| ms <= 86_400_000)
                .map(Duration::from_millis)
                .ok_or_else(|| bad(format!("{key} must be an integer from 0 to 86400000")))
        };
        match key.as_str() {
            "callback_url" => {
                next.callback_url = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(url) => {
                        check_url(url).map_err(bad)?;
                        Some(url.clone())
                    }
                    _ => return Err(bad("callback_url must be a string or null".to_owned())),
                }
            }
            "confirm_rate" => next.confirm_rate = rate()?,
            "reject_rate" => next.reject_rate = rate()?,
            "oos_rate" => next.oos_rate = rate()?,
            "duplicate_callback_rate" => next.duplicate_callback_rate = rate()?,
            "partial_cancel_rate" => next.partial_cancel_rate = rate()?,
            "callback_delay_ms" => next.callback_delay = millis()?,
            "logistics_step_ms" => next.logistics_step = millis()?,
            "duplicate_message" => match value.as_str() {
                Some(text) if !text.trim().is_empty() => {
                    next.duplicate_message = text.to_owned();
                }
                _ => {
                    return Err(bad(
                        "duplicate_message must be a non-blank string".to_owned()
                    ));
                }
            },
            other => return Err(bad(format!("unknown setting {other:?}"))),
        }
    }
    check_rates(&next).map_err(bad)?;
    let body = settings_json(&next);
    *write(&s.order_settings) = next;
    tracing::info!(settings = %body, "order settings changed");
    Ok(Json(body).into_response())
}

async fn not_found() -> Problem {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such sandbox endpoint",
    )
}

async fn method_not_allowed() -> Problem {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this sandbox endpoint does not take that method",
    )
}

/// The `/_sandbox` routes (to be nested).
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/catalog", get(catalog))
        .route("/catalog/{code}", axum::routing::delete(remove_product))
        .route("/stock", get(stock).post(set_stock))
        .route("/stats", get(stats))
        .route("/faults", get(faults).post(set_faults))
        .route(
            "/faults/next",
            get(queued_faults).post(next_fault).delete(clear_faults),
        )
        .route("/orders", get(orders))
        .route("/orders/config", get(order_config).post(set_order_config))
        .route("/orders/{so_id}", get(order))
        .route("/orders/{so_id}/advance", post(advance))
        .route("/churn", post(churn))
        .route("/env", get(env))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}
