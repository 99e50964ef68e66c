//! Local products and stock pools: what checkouts hold against.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, PathParam, QueryParams};
use super::{ApiError, AppState, ErrorBody};
use crate::orders::SOURCE_LOCAL;
use crate::store::catalog::{self, Product, ProductContent, ProductLinks};
use crate::store::holds::{self, InventoryChange, LOCAL_POOL, StockPool};
use crate::types::UtcTime;

/// A locally stocked product.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LocalProductInput {
    /// SKU: 1 to 50 of `A-Z a-z 0-9 - _ . /`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Model, optional.
    #[serde(default)]
    pub model: Option<String>,
}

/// Creates a locally stocked product (source `local`); its stock starts at 0.
#[utoipa::path(post, path = "/products", operation_id = "create_local_product", tag = "catalog",
    request_body = LocalProductInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Product),
        (status = 409, description = "The code exists", body = ErrorBody),
        (status = 422, description = "A bad code or name", body = ErrorBody)
    ))]
pub async fn create_local_product(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<LocalProductInput>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let code = input.code.trim();
    if code.is_empty()
        || code.len() > 50
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            detail: format!(
                "code: 1 to 50 of A-Z a-z 0-9 - _ . /, got {:?}",
                input.code.chars().take(60).collect::<String>()
            ),
        });
    }
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            detail: "name: 1 to 200 characters".to_owned(),
        });
    }
    let db = state.orders.db();
    if catalog::get_product(db, code).await?.is_some() {
        return Err(ApiError::ConflictWith {
            code: "duplicate_product",
            detail: format!("product {code} exists"),
        });
    }
    let content = ProductContent {
        name: input.name.trim().to_owned(),
        product_model: input.model.clone(),
        product_group: None,
        category: None,
        brand: None,
        image_url: None,
        page_image_urls: Vec::new(),
        is_procurable: true,
        not_procurable_reason: None,
        supply_price: None,
        invoice_price: None,
        rebate_money: None,
        stock_rebate_policy: None,
        price_reason: None,
    };
    let mut tx = db.begin().await?;
    catalog::upsert_product(
        &mut tx,
        code,
        SOURCE_LOCAL,
        &content,
        &ProductLinks::default(),
        UtcTime::now(),
    )
    .await?;
    holds::adjust_pool(
        &mut tx,
        code,
        LOCAL_POOL,
        0,
        "product created",
        UtcTime::now(),
    )
    .await?;
    tx.commit().await?;
    let product = catalog::get_product(db, code)
        .await?
        .ok_or_else(|| ApiError::NotFound(code.to_owned()))?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// A change of local stock on hand.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdjustmentInput {
    /// Units to add (positive) or remove (negative), −1,000,000 to 1,000,000.
    pub delta: i64,
    /// Why, for the inventory log (1 to 200 characters).
    pub reason: String,
}

/// Adjusts a local product's stock on hand; never below what is held.
#[utoipa::path(post, path = "/products/{code}/stock-adjustments", operation_id = "adjust_local_stock", tag = "catalog",
    params(("code" = String, Path, description = "SKU of a local product")),
    request_body = AdjustmentInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pool after the change", body = StockPool),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "Would go below what is held", body = ErrorBody),
        (status = 422, description = "Not a local product, or a bad amount", body = ErrorBody)
    ))]
pub async fn adjust_local_stock(
    State(state): State<AppState>,
    PathParam(code): PathParam<String>,
    JsonBody(input): JsonBody<AdjustmentInput>,
) -> Result<Json<StockPool>, ApiError> {
    let db = state.orders.db();
    let product = catalog::get_product(db, &code).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no product {:?}",
            code.chars().take(64).collect::<String>()
        ))
    })?;
    if product.source != SOURCE_LOCAL {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            detail: format!("{code} is a supplier product; its stock comes from the supplier"),
        });
    }
    if !(-1_000_000..=1_000_000).contains(&input.delta) || input.delta == 0 {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            detail: format!(
                "delta: a non-zero number from -1000000 to 1000000, got {}",
                input.delta
            ),
        });
    }
    if input.reason.trim().is_empty() || input.reason.chars().count() > 200 {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            detail: "reason: 1 to 200 characters".to_owned(),
        });
    }
    let mut tx = db.begin().await?;
    let pool = holds::adjust_pool(
        &mut tx,
        &code,
        LOCAL_POOL,
        input.delta,
        input.reason.trim(),
        UtcTime::now(),
    )
    .await?;
    let Some(pool) = pool else {
        return Err(ApiError::ConflictWith {
            code: "insufficient_stock",
            detail: format!(
                "{code}: removing {} would leave less than is held",
                -input.delta
            ),
        });
    };
    tx.commit().await?;
    Ok(Json(pool))
}

/// A stock pool with its latest changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockPoolView {
    /// The pool.
    #[serde(flatten)]
    pub pool: StockPool,
    /// Its latest changes, newest first (at most 100).
    pub log: Vec<InventoryChange>,
}

/// A product's stock pool: local (`?county=` omitted) or regional (`?county=370212`).
#[utoipa::path(get, path = "/products/{code}/stock-pool", operation_id = "get_stock_pool", tag = "catalog",
    params(("code" = String, Path, description = "SKU"), ("county" = Option<String>, Query, description = "County code; omit for local stock")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pool and its log", body = StockPoolView),
        (status = 404, description = "No pool", body = ErrorBody)
    ))]
pub async fn get_stock_pool(
    State(state): State<AppState>,
    PathParam(code): PathParam<String>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<StockPoolView>, ApiError> {
    let county = query.get("county").map_or(LOCAL_POOL, String::as_str);
    if !county.is_empty() && (county.len() != 6 || !county.bytes().all(|b| b.is_ascii_digit())) {
        return Err(ApiError::InvalidParameter(format!(
            "county must be six digits, got {:?}",
            county.chars().take(20).collect::<String>()
        )));
    }
    let db = state.orders.db();
    let pool = holds::get_pool(db, &code, county)
        .await?
        .ok_or_else(|| ApiError::NotFound("no stock pool".to_owned()))?;
    let log = holds::inventory_log(db, &code, county, 100).await?;
    Ok(Json(StockPoolView { pool, log }))
}
