//! `/api/v1/orders`: checkout, payment, cancellation and following an order.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, PathParam, QueryParams, parse_json};
use super::pagination::{CallPageParams, Page, PageParams, status_param};
use super::{ApiError, AppState, ErrorBody};
use crate::access::Principal;
use crate::access::http::Caller;
use crate::calllog::{self, SupplierCall};
use crate::input::{DateTime, Text};
use crate::orders::{CreateOrderInput, OrderView, Requester};
use crate::status::SupplierStatus;
use crate::store::calls::{CallEntry, ExternalCall, calls_of_order};
use crate::store::jobs::{Job, jobs_of_order};
use crate::store::orders::{self, Order};

/// Creates an order and holds its stock. `?fresh=true` reads regional stock from the
/// supplier even if a recent figure is cached. 201 when created; 200 when the same
/// request had already created it.
///
/// The order records its creator as `created_by`: the caller's API key or user id (none
/// for the bootstrap admin token). A `storefront` caller sees and acts on the orders it
/// created only; to it, any other order does not exist (404 `order_not_found`), and an
/// order number another principal used is a 409 `duplicate_order`.
#[utoipa::path(post, path = "/orders", operation_id = "create_order", tag = "orders",
    request_body = CreateOrderInput,
    params(("fresh" = Option<bool>, Query, description = "Bypass the regional stock cache")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created, stock held", body = OrderView),
        (status = 200, description = "Already created by the same request", body = OrderView),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 409, description = "Not enough stock, or the order number exists with other content", body = ErrorBody),
        (status = 422, description = "Invalid order, or an address that resolves to no county", body = ErrorBody),
        (status = 502, description = "The supplier refused our credentials while its stock was checked (`supplier_auth_failed`): the active supplier system's settings need fixing", body = ErrorBody),
        (status = 503, description = "The supplier's stock could not be checked", body = ErrorBody)
    ))]
pub async fn create_order(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<HashMap<String, String>>,
    JsonBody(input): JsonBody<CreateOrderInput>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    let fresh = match query.get("fresh").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "fresh must be true or false, got {:?}",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let created = state
        .orders
        .create(&input, fresh, &Requester::of(&caller))
        .await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(state.orders.view(&created.order.id).await?)))
}

/// Lists orders, newest first; optionally only those at one supplier status.
///
/// A `storefront` caller lists only the orders it created; other roles list every order.
///
/// `stale=true` (alone or with `supplier_status=pushed`) lists the orders the supplier accepted but has
/// not confirmed or refused by callback within `[orders] pushed_stale_secs` (default
/// one hour): they need a look.
#[utoipa::path(get, path = "/orders", operation_id = "list_orders", tag = "orders",
    params(
        PageParams,
        ("supplier_status" = Option<crate::status::SupplierStatus>, Query, description = "Only orders at this supplier status (e.g. `pushed`, `push_failed`, `confirmed`)"),
        ("stale" = Option<bool>, Query, description = "Only pushed orders with no callback for `[orders] pushed_stale_secs` (implies `supplier_status=pushed`; with another status the page is empty)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of orders", body = Page<Order>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_orders(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<Order>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let limit = page.limit();
    let stale = match query.get("stale").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "stale must be true or false, got {:?}",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let status = status_param::<SupplierStatus>(&query, "supplier_status", SupplierStatus::names)?;
    // `stale` narrows to pushed orders: with another status nothing can match.
    let stale_before = stale.then(|| {
        let age = jiff::SignedDuration::from_secs(
            i64::try_from(state.orders.config().pushed_stale_secs).unwrap_or(i64::MAX),
        );
        crate::types::UtcTime::from(
            jiff::Timestamp::now()
                .checked_sub(age)
                .unwrap_or(jiff::Timestamp::MIN),
        )
    });
    let requester = Requester::of(&caller);
    let created_by = requester.list_filter();
    let items = match (status, stale_before) {
        (None, None) => {
            orders::list_orders(
                state.orders.db(),
                created_by,
                page.after.as_deref(),
                limit + 1,
            )
            .await?
        }
        (Some(s), _) if stale && s != SupplierStatus::Pushed => Vec::new(),
        (status, stale_before) => {
            orders::list_orders_by_supplier_status(
                state.orders.db(),
                created_by,
                status.unwrap_or(SupplierStatus::Pushed).as_str(),
                stale_before,
                page.after.as_deref(),
                limit + 1,
            )
            .await?
        }
    };
    Ok(Json(Page::from_overfetch(items, limit, |o| o.id.clone())))
}

/// An order with its lines, holds, outbox jobs and external calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    /// Order, lines and holds.
    #[serde(flatten)]
    pub view: OrderView,
    /// Its outbox jobs (push, cancel, reschedule).
    pub jobs: Vec<Job>,
    /// The first calls made to the supplier for it, oldest first and redacted: at most
    /// 50; the rest are paged at `GET /orders/{id}/calls?after={calls_next}`.
    pub calls: Vec<ExternalCall>,
    /// The cursor of the next page of calls (`?after=` of `/orders/{id}/calls`), absent
    /// when `calls` holds them all.
    pub calls_next: Option<String>,
}

/// One order with everything known about it.
///
/// A `storefront` caller reaches only the orders it created (as on every `/orders/{id}`
/// route): another's is 404 `order_not_found`, as a missing one.
#[utoipa::path(get, path = "/orders/{id}", operation_id = "get_order", tag = "orders",
    params(("id" = String, Path, description = "Order id (ord_…)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order", body = OrderDetail),
        (status = 404, description = "No such order, or another principal's order asked for by a storefront (`order_not_found`, alike)", body = ErrorBody)
    ))]
pub async fn get_order(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<OrderDetail>, ApiError> {
    visible_order(&state, &caller, &id).await?;
    let view = state.orders.view(&id).await?;
    let jobs = jobs_of_order(state.orders.db(), &id).await?;
    let limit = super::pagination::DEFAULT_LIMIT;
    let calls = calls_of_order(state.orders.db(), &id, None, limit + 1).await?;
    let page = Page::from_overfetch(calls, limit, |c| c.id.to_string());
    Ok(Json(OrderDetail {
        view,
        jobs,
        calls: page.items.into_iter().map(|c| c.call).collect(),
        calls_next: page.next,
    }))
}

/// The calls made to the supplier for an order, oldest first and redacted, page by
/// page. `after` is the `next` of the previous page (or the order's `calls_next`).
#[utoipa::path(get, path = "/orders/{id}/calls", operation_id = "list_order_calls", tag = "orders",
    params(("id" = String, Path, description = "Order id (ord_…)"), CallPageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of calls", body = Page<CallEntry>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 404, description = "No such order, or another principal's order asked for by a storefront (`order_not_found`, alike)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn list_order_calls(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<CallEntry>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let after = page.after_seq()?;
    let order = visible_order(&state, &caller, &id).await?;
    let limit = page.limit();
    let items = calls_of_order(state.orders.db(), &order.id, after, limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |c| {
        c.id.to_string()
    })))
}

/// Pays an order: commits its holds and enqueues the push to the supplier in the same
/// transaction. Paying again answers the paid order.
#[utoipa::path(post, path = "/orders/{id}/pay", operation_id = "pay_order", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Paid", body = Order),
        (status = 404, description = "No such order, or another principal's order asked for by a storefront (`order_not_found`, alike)", body = ErrorBody),
        (status = 409, description = "Expired or cancelled", body = ErrorBody)
    ))]
pub async fn pay_order(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<Order>, ApiError> {
    visible_order(&state, &caller, &id).await?;
    Ok(Json(state.orders.pay(&id).await?))
}

/// Why an order is cancelled.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CancelInput {
    /// The reason sent to the supplier (`cancelReason`), 1 to 200 characters; default
    /// `customer request`.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub reason: Option<Text<1, 200>>,
}

/// Cancels an order: before payment its holds are released; after payment it is
/// cancelled at the supplier (`cancel_pending` until the supplier's callback).
#[utoipa::path(post, path = "/orders/{id}/cancel", operation_id = "cancel_order", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    request_body(content = Option<CancelInput>),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled, or cancel requested at the supplier", body = Order),
        (status = 404, description = "No such order, or another principal's order asked for by a storefront (`order_not_found`, alike)", body = ErrorBody),
        (status = 409, description = "Being pushed, or past cancelling", body = ErrorBody)
    ))]
pub async fn cancel_order(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
    body: axum::body::Bytes,
) -> Result<Json<Order>, ApiError> {
    // The body is optional: none, `null` or `{}` mean no reason given.
    let input: CancelInput = if body.iter().all(u8::is_ascii_whitespace) {
        CancelInput::default()
    } else {
        parse_json::<Option<CancelInput>>(&body)?.unwrap_or_default()
    };
    let reason = input
        .reason
        .as_ref()
        .map_or("customer request", Text::as_str);
    visible_order(&state, &caller, &id).await?;
    Ok(Json(state.orders.cancel(&id, reason).await?))
}

/// New delivery and/or installation dates.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RescheduleInput {
    /// New delivery date (RFC 3339): 23:59:59 China time of a day from today to ten
    /// years ahead; no leap second.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub distribution_time: Option<DateTime>,
    /// New installation date: as `distribution_time`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub install_time: Option<DateTime>,
}

/// Asks the supplier to move a pushed order's delivery or installation day (through
/// the outbox). 202: accepted; the order's jobs show the outcome.
#[utoipa::path(post, path = "/orders/{id}/reschedule", operation_id = "reschedule_order", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    request_body = RescheduleInput,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Accepted", body = Order),
        (status = 404, description = "No such order, or another principal's order asked for by a storefront (`order_not_found`, alike)", body = ErrorBody),
        (status = 409, description = "Not taken by the supplier yet", body = ErrorBody),
        (status = 422, description = "A time that is not 23:59:59 China time of a day from today on", body = ErrorBody)
    ))]
pub async fn reschedule_order(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
    JsonBody(input): JsonBody<RescheduleInput>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    visible_order(&state, &caller, &id).await?;
    let order = state
        .orders
        .reschedule(&id, input.distribution_time, input.install_time)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(order)))
}

/// Where the supplier's order stands on the road.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogisticsView {
    /// YLH store logistics by order code (Y5): one entry per delivery record.
    pub store: Vec<StoreLogisticsView>,
    /// Open Platform logistics (H4), as the supplier sent it: `getAllLogisticsInfoByOrderCode`
    /// (warehouse), `getStockDeliveryLogisticsRecord` (智汇宝) and
    /// `getStockDeliveryLogisticsRecordThirdparty` (couriers); null without an Open
    /// Platform client.
    #[schema(value_type = Object)]
    pub open_platform: serde_json::Value,
}

/// One delivery record of the supplier's order (Y5 `data[]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreLogisticsView {
    /// The supplier's order number (`orderCode`), e.g. `SO.20250514.014572`.
    pub order_code: Option<String>,
    /// The delivery record (`deliveryRecordCode`), e.g. `SO.20250514.014572.F1`.
    pub delivery_record_code: Option<String>,
    /// Its shipments (`logisticsList`).
    pub shipments: Vec<ShipmentView>,
}

/// One shipment (Y5 `logisticsList[]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentView {
    /// The carrier's code (`logisticsCode`).
    pub carrier_code: Option<String>,
    /// The carrier's name (`logisticsName`), e.g. 日日顺物流.
    pub carrier_name: Option<String>,
    /// The tracking number (`expNo`).
    pub tracking_number: Option<String>,
    /// The serial-number barcodes of the units shipped (`barCodes`).
    pub serial_barcodes: Vec<String>,
}

impl From<haier::StoreLogistics> for StoreLogisticsView {
    fn from(s: haier::StoreLogistics) -> Self {
        StoreLogisticsView {
            order_code: s.order_code,
            delivery_record_code: s.delivery_record_code,
            shipments: s
                .logistics_list
                .into_iter()
                .map(|l| ShipmentView {
                    carrier_code: l.logistics_code,
                    carrier_name: l.logistics_name,
                    tracking_number: l.exp_no,
                    serial_barcodes: l.bar_codes,
                })
                .collect(),
        }
    }
}

/// The delivery and installation photos of an order, by delivery record (Y4).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPhotosView {
    /// One entry per delivery record; empty before delivery.
    pub records: Vec<DeliveryPhotoRecordView>,
}

/// The photos of one delivery record (Y4 `data[]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPhotoRecordView {
    /// The supplier's order number (`orderNo`).
    pub order_no: Option<String>,
    /// The delivery record (`orderCode`).
    pub delivery_record_code: Option<String>,
    /// The YLH delivery order (`ylhOrderCode`), e.g. `SO.20250430.000001.F1`.
    pub ylh_order_code: Option<String>,
    /// The serial number of the unit delivered (`snNo`).
    pub serial_number: Option<String>,
    /// The photos (`photosDeliveryList`).
    pub photos: Vec<DeliveryPhotoView>,
}

/// One photo (Y4 `photosDeliveryList[]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPhotoView {
    /// Its URL (`imgUrl`).
    pub url: Option<String>,
    /// What it shows (`imgDesc`).
    pub description: Option<String>,
    /// The supplier's id of the photo (`rowId`).
    pub row_id: Option<String>,
    /// `delivery` (`scene` 1) or `installation` (2); null for another value.
    pub scene: Option<PhotoSceneView>,
}

/// What a photo was taken for (`scene`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhotoSceneView {
    /// `scene` 1.
    Delivery,
    /// `scene` 2.
    Installation,
}

impl From<haier::ylh::DeliveryPhotoRecord> for DeliveryPhotoRecordView {
    fn from(r: haier::ylh::DeliveryPhotoRecord) -> Self {
        DeliveryPhotoRecordView {
            order_no: r.order_no,
            delivery_record_code: r.order_code,
            ylh_order_code: r.ylh_order_code,
            serial_number: r.sn_no,
            photos: r
                .photos_delivery_list
                .into_iter()
                .map(|p| DeliveryPhotoView {
                    scene: p.scene().map(|s| match s {
                        haier::ylh::PhotoScene::Delivery => PhotoSceneView::Delivery,
                        haier::ylh::PhotoScene::Installation => PhotoSceneView::Installation,
                    }),
                    url: p.img_url,
                    description: p.img_desc,
                    row_id: p.row_id,
                })
                .collect(),
        }
    }
}

/// The order `id` if it exists for `caller`: 404 `order_not_found` when there is no
/// such order, and alike when it is another principal's and the caller is a storefront,
/// which sees and acts on its own orders only.
async fn visible_order(state: &AppState, caller: &Principal, id: &str) -> Result<Order, ApiError> {
    let not_found = || {
        ApiError::OrderNotFound(format!(
            "no order {:?}",
            id.chars().take(64).collect::<String>()
        ))
    };
    let order = orders::get_order(state.orders.db(), id)
        .await?
        .ok_or_else(not_found)?;
    if !Requester::of(caller).sees(&order) {
        return Err(not_found());
    }
    Ok(order)
}

async fn pushed_order(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<(Order, String), ApiError> {
    let order = visible_order(state, caller, id).await?;
    let no = order
        .retail_order_no
        .clone()
        .ok_or_else(|| ApiError::ConflictWith {
            code: "invalid_state",
            detail: format!(
                "the supplier has not confirmed order {id} yet (supplier status {}): its order \
                 number, which this needs, arrives with the confirm callback",
                order.supplier_status
            ),
        })?;
    Ok((order, no))
}

/// Records a call made for `order` while serving a request.
async fn record(state: &AppState, order: &Order, call: SupplierCall) -> Result<(), ApiError> {
    calllog::record(state.orders.db(), call.order(&order.id)).await?;
    Ok(())
}

fn supplier_error(e: &haier::Error) -> ApiError {
    ApiError::Unavailable(format!("the supplier did not answer: {e}"))
}

/// The order's logistics, read live from the supplier: Y5 at the YLH stock service and
/// H4 at the Open Platform, each on its own base URL.
#[utoipa::path(get, path = "/orders/{id}/logistics", operation_id = "order_logistics", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Logistics", body = LogisticsView),
        (status = 404, description = "No such order, or another principal's order asked for by a storefront (`order_not_found`, alike)", body = ErrorBody),
        (status = 409, description = "Not taken by the supplier yet", body = ErrorBody),
        (status = 503, description = "The supplier did not answer", body = ErrorBody)
    ))]
pub async fn order_logistics(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<LogisticsView>, ApiError> {
    let (order, no) = pushed_order(&state, &caller, &id).await?;
    let supplier = state.supplier.current().await;
    let ylh = supplier.ylh.clone().ok_or_else(|| {
        ApiError::Unavailable("the YLH order centre is not configured".to_owned())
    })?;
    let started = std::time::Instant::now();
    let store = ylh.logistics(std::slice::from_ref(&no)).await;
    let call = SupplierCall::ended(
        calllog::YLH,
        haier::ylh::endpoints::LOGISTICS,
        &store,
        started,
    )
    .request(serde_json::json!([no]));
    record(&state, &order, call).await?;
    let store = store.map_err(|e| supplier_error(&e))?;
    let open_platform = match &supplier.open_platform {
        Some(op) => {
            let started = std::time::Instant::now();
            let h4 = op.logistics(&no, None, None).await;
            let call = SupplierCall::ended(calllog::OPEN_PLATFORM, "h4_logistics", &h4, started)
                .request(serde_json::json!({"orderCode": no}));
            record(&state, &order, call).await?;
            serde_json::to_value(h4.map_err(|e| supplier_error(&e))?).unwrap_or_default()
        }
        None => serde_json::Value::Null,
    };
    Ok(Json(LogisticsView {
        store: store.into_iter().map(StoreLogisticsView::from).collect(),
        open_platform,
    }))
}

/// Delivery and installation photos, read live from the supplier (Y4).
#[utoipa::path(get, path = "/orders/{id}/delivery-photos", operation_id = "order_delivery_photos", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Photos by delivery record", body = DeliveryPhotosView),
        (status = 404, description = "No such order, or another principal's order asked for by a storefront (`order_not_found`, alike)", body = ErrorBody),
        (status = 409, description = "Not taken by the supplier yet", body = ErrorBody),
        (status = 503, description = "The supplier did not answer", body = ErrorBody)
    ))]
pub async fn order_delivery_photos(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<DeliveryPhotosView>, ApiError> {
    let (order, no) = pushed_order(&state, &caller, &id).await?;
    let ylh = state.supplier.current().await.ylh.clone().ok_or_else(|| {
        ApiError::Unavailable("the YLH order centre is not configured".to_owned())
    })?;
    let started = std::time::Instant::now();
    let photos = ylh.delivery_photos(&no).await;
    let call = SupplierCall::ended(
        calllog::YLH,
        haier::ylh::endpoints::PHOTOS,
        &photos,
        started,
    )
    .request(serde_json::json!({"orderNo": no}));
    record(&state, &order, call).await?;
    let photos = photos.map_err(|e| supplier_error(&e))?;
    Ok(Json(DeliveryPhotosView {
        records: photos
            .into_iter()
            .map(DeliveryPhotoRecordView::from)
            .collect(),
    }))
}
