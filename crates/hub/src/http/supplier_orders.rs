//! `/api/v1/supplier-orders`: purchase orders and returns of supplier systems, and
//! their state transitions.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::body::{JsonBody, PathParam, QueryParams};
use super::pagination::{Page, PageParams, status_param};
use super::pos::{system_param, time_range};
use super::{ApiError, AppState, ErrorBody};
use crate::records::purchase::{
    self, SupplierOrder, SupplierOrderInput, SupplierOrderKind, SupplierOrderState, TransitionInput,
};
use crate::records::{self, Outcome};
use crate::store::supplier_orders::{self as store, SupplierOrderFilter};
use crate::systems::Kind;

/// Records a purchase order or return of a supplier system, `pending`: 201 created, or
/// 200 when the same order (same `external_id`, same content) was recorded before; the
/// same external id with other content is 409 `external_id_reused`.
#[utoipa::path(post, path = "/supplier-orders/{id}", operation_id = "create_supplier_order",
    tag = "records",
    params(("id" = String, Path, description = "The supplier system (sys_…)")),
    request_body = SupplierOrderInput,
    responses(
        (status = 201, description = "Recorded", body = SupplierOrder),
        (status = 200, description = "Already recorded", body = SupplierOrder),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The external id was used for another order", body = ErrorBody),
        (status = 422, description = "A bad field, named; a system of another kind, or archived", body = ErrorBody)
    ))]
pub async fn create_supplier_order(
    State(state): State<AppState>,
    PathParam(system_id): PathParam<String>,
    JsonBody(input): JsonBody<SupplierOrderInput>,
) -> Result<Response, ApiError> {
    let system = records::usable_system(&state.db, &system_id, Kind::Supplier).await?;
    let (outcome, row) = purchase::create(&state.db, &system, input).await?;
    let status = if outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SupplierOrder::try_from(row)?)).into_response())
}

/// Lists supplier orders, newest first, filtered by system, state, kind and the time
/// they were recorded.
#[utoipa::path(get, path = "/supplier-orders", operation_id = "list_supplier_orders",
    tag = "records",
    params(
        PageParams,
        ("system" = Option<String>, Query, pattern = r"^sys_[A-Za-z0-9_]{0,60}$", description = "Of this supplier system (sys_…)"),
        ("state" = Option<SupplierOrderState>, Query, description = "pending, confirmed, shipped, delivered or cancelled"),
        ("kind" = Option<SupplierOrderKind>, Query, description = "purchase or return"),
        ("since" = Option<String>, Query, format = DateTime, description = "Recorded at or after this RFC 3339 instant"),
        ("until" = Option<String>, Query, format = DateTime, description = "Recorded before this RFC 3339 instant")
    ),
    responses(
        (status = 200, description = "A page of orders", body = Page<SupplierOrder>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_supplier_orders(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<SupplierOrder>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let (since, until) = time_range(&query)?;
    let filter = SupplierOrderFilter {
        system_id: system_param(&query)?,
        state: status_param(&query, "state", SupplierOrderState::names)?,
        kind: status_param(&query, "kind", SupplierOrderKind::names)?,
        since,
        until,
    };
    let limit = page.limit();
    let rows = store::list(&state.db, &filter, page.after.as_deref(), limit + 1).await?;
    let items = rows
        .into_iter()
        .map(SupplierOrder::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_overfetch(items, limit, |o| o.id.clone())))
}

async fn find(
    state: &AppState,
    id: &str,
) -> Result<crate::store::supplier_orders::SupplierOrderRow, ApiError> {
    store::get(&state.db, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no supplier order with id {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })
}

/// One supplier order by id, with the time each state was reached.
#[utoipa::path(get, path = "/supplier-orders/{id}", operation_id = "get_supplier_order",
    tag = "records",
    params(("id" = String, Path, description = "Order id (spo_…)")),
    responses(
        (status = 200, description = "The order", body = SupplierOrder),
        (status = 404, description = "No such order", body = ErrorBody)
    ))]
pub async fn get_supplier_order(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<SupplierOrder>, ApiError> {
    Ok(Json(SupplierOrder::try_from(find(&state, &id).await?)?))
}

/// Moves a supplier order to another state: `pending → confirmed → shipped →
/// delivered`, or `cancelled` from `pending` or `confirmed`. Any other transition is 409
/// `invalid_transition` naming both states; of concurrent transitions one wins.
#[utoipa::path(post, path = "/supplier-orders/{id}/transitions",
    operation_id = "transition_supplier_order", tag = "records",
    params(("id" = String, Path, description = "Order id (spo_…)")),
    request_body = TransitionInput,
    responses(
        (status = 200, description = "The order in its new state", body = SupplierOrder),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The order's state cannot go to this one", body = ErrorBody)
    ))]
pub async fn transition_supplier_order(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(input): JsonBody<TransitionInput>,
) -> Result<Json<SupplierOrder>, ApiError> {
    let order = find(&state, &id).await?;
    let order = purchase::transition(&state.db, order, input.to).await?;
    Ok(Json(SupplierOrder::try_from(order)?))
}
