//! Local products and stock pools: what checkouts hold against. The rules live in
//! [`crate::stock`]; this file reads the request, calls it and maps the answer.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, PathParam, QueryParams};
use super::products::ProductOut;
use super::{ApiError, AppState, ErrorBody};
use crate::input::{LocalProductCode, Text};
use crate::stock::{self, StockError};
use crate::store::holds::{InventoryChange, LOCAL_POOL, StockPool};
use crate::types::UtcTime;

/// Changes listed with a pool, at most.
const LOG_SHOWN: u32 = 100;

impl From<StockError> for ApiError {
    fn from(e: StockError) -> Self {
        let detail = e.to_string();
        match e {
            StockError::DuplicateProduct(_) => ApiError::ConflictWith {
                code: "duplicate_product",
                detail,
            },
            StockError::BelowHeld { .. } => ApiError::ConflictWith {
                code: "insufficient_stock",
                detail,
            },
            StockError::NotLocal(_) => ApiError::ConflictWith {
                code: "not_local",
                detail,
            },
            StockError::InvalidDelta(_) => ApiError::Unprocessable {
                code: "invalid_body",
                detail,
            },
            StockError::NoProduct(_) | StockError::NoPool => ApiError::NotFound(detail),
            StockError::Store(s) => s.into(),
        }
    }
}

/// A locally stocked product.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LocalProductInput {
    /// SKU: 1 to 50 of `A-Z a-z 0-9 - _ .`, starting with a letter or a digit.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$")]
    pub code: LocalProductCode,
    /// Display name, 1 to 200 characters.
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub name: Text<1, 200>,
    /// Model, optional, at most 100 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub model: Option<Text<0, 100>>,
}

/// Creates a locally stocked product (source `local`); its stock starts at 0.
#[utoipa::path(post, path = "/products", operation_id = "create_local_product", tag = "catalog",
    request_body = LocalProductInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ProductOut),
        (status = 409, description = "The code exists", body = ErrorBody),
        (status = 422, description = "A bad code or name", body = ErrorBody)
    ))]
pub async fn create_local_product(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<LocalProductInput>,
) -> Result<(StatusCode, Json<ProductOut>), ApiError> {
    let product = stock::create_local_product(
        state.orders.db(),
        &input.code,
        input.name.as_str(),
        input.model.as_ref().map(Text::as_str),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(product.into())))
}

/// A change of local stock on hand.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdjustmentInput {
    /// Units to add (positive) or remove (negative): non-zero, −1,000,000 to 1,000,000.
    #[schema(schema_with = delta_schema)]
    #[serde(deserialize_with = "crate::input::integer")]
    pub delta: i64,
    /// Why, for the inventory log (1 to 200 characters).
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub reason: Text<1, 200>,
}

/// The schema of [`AdjustmentInput::delta`]: an integer from −1,000,000 to −1 or from 1
/// to 1,000,000 (zero changes nothing and is refused).
fn delta_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(max))
    };
    let one_of = OneOfBuilder::new()
        .item(range(-1_000_000, -1))
        .item(range(1, 1_000_000))
        .description(Some(
            "Units to add (positive) or remove (negative): non-zero, −1,000,000 to 1,000,000.",
        ))
        .build();
    Schema::OneOf(one_of)
}

/// What can be held of one SKU in one county (or locally), as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockPoolOut {
    /// SKU.
    pub product_code: String,
    /// County code, or `""` for local stock.
    pub county_code: String,
    /// Units there are: the supplier's last seen stock, or local stock on hand.
    pub capacity: i64,
    /// Units held and not yet settled.
    pub held: i64,
    /// Units that can still be held: capacity − held, never below 0.
    pub available: i64,
    /// When `capacity` was last read from the supplier (or adjusted).
    pub refreshed_at: UtcTime,
}

impl From<StockPool> for StockPoolOut {
    fn from(p: StockPool) -> Self {
        StockPoolOut {
            available: (p.capacity - p.held).max(0),
            product_code: p.product_code,
            county_code: p.county_code,
            capacity: p.capacity,
            held: p.held,
            refreshed_at: p.refreshed_at,
        }
    }
}

/// One change of a stock pool, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryChangeOut {
    /// SKU.
    pub product_code: String,
    /// County code, or `""` for local stock.
    pub county_code: String,
    /// `lock`, `release`, `expire`, `commit`, `settle`, `adjust` or `refresh`.
    pub change: String,
    /// Units (signed for `adjust` and `refresh`: the change of capacity).
    pub quantity: i64,
    /// Capacity after the change.
    pub capacity_after: i64,
    /// Held after the change.
    pub held_after: i64,
    /// The order concerned, if any.
    pub order_id: Option<String>,
    /// Why (adjustments).
    pub reason: Option<String>,
    /// When.
    pub created_at: UtcTime,
}

impl From<InventoryChange> for InventoryChangeOut {
    fn from(c: InventoryChange) -> Self {
        InventoryChangeOut {
            product_code: c.product_code,
            county_code: c.county_code,
            change: c.change,
            quantity: c.quantity,
            capacity_after: c.capacity_after,
            held_after: c.held_after,
            order_id: c.order_id,
            reason: c.reason,
            created_at: c.created_at,
        }
    }
}

/// Adjusts a local product's stock on hand; never below what is held.
#[utoipa::path(post, path = "/products/{code}/stock-adjustments", operation_id = "adjust_local_stock", tag = "catalog",
    params(("code" = String, Path, description = "SKU of a local product", min_length = 1, max_length = 50, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]+$")),
    request_body = AdjustmentInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pool after the change", body = StockPoolOut),
        (status = 400, description = "Not a product code", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "Would go below what is held", body = ErrorBody),
        (status = 422, description = "Not a local product, or a bad amount", body = ErrorBody)
    ))]
pub async fn adjust_local_stock(
    State(state): State<AppState>,
    PathParam(code): PathParam<haier::ProductCode>,
    JsonBody(input): JsonBody<AdjustmentInput>,
) -> Result<Json<StockPoolOut>, ApiError> {
    let pool =
        stock::adjust_local_stock(state.orders.db(), &code, input.delta, input.reason.as_str())
            .await?;
    Ok(Json(pool.into()))
}

/// A stock pool with its latest changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockPoolView {
    /// The pool.
    #[serde(flatten)]
    pub pool: StockPoolOut,
    /// Its latest changes, newest first (at most 100).
    pub log: Vec<InventoryChangeOut>,
}

/// A product's stock pool: local (`?county=` omitted) or regional (`?county=370212`).
#[utoipa::path(get, path = "/products/{code}/stock-pool", operation_id = "get_stock_pool", tag = "catalog",
    params(("code" = String, Path, description = "SKU", min_length = 1, max_length = 50, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]+$"), ("county" = Option<String>, Query, description = "County code (six digits); omit (or leave empty) for local stock", pattern = r"^([0-9]{6})?$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pool and its log", body = StockPoolView),
        (status = 400, description = "A bad code or county", body = ErrorBody),
        (status = 404, description = "No pool", body = ErrorBody)
    ))]
pub async fn get_stock_pool(
    State(state): State<AppState>,
    PathParam(code): PathParam<haier::ProductCode>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<StockPoolView>, ApiError> {
    let county = query.get("county").map_or(LOCAL_POOL, String::as_str);
    if !county.is_empty() && (county.len() != 6 || !county.bytes().all(|b| b.is_ascii_digit())) {
        return Err(ApiError::InvalidParameter(format!(
            "county must be six digits, got {:?}",
            county.chars().take(20).collect::<String>()
        )));
    }
    let (pool, log) = stock::stock_pool(state.orders.db(), &code, county, LOG_SHOWN).await?;
    Ok(Json(StockPoolView {
        pool: pool.into(),
        log: log.into_iter().map(Into::into).collect(),
    }))
}
