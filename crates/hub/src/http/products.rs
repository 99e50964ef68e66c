//! `/api/v1/products`: the mirrored catalog.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{PathParam, QueryParams};
use super::pagination::{Page, PageParams};
use super::{ApiError, AppState, ErrorBody};
use crate::store::catalog::{self, Product};
use crate::store::stock::{self, StockLevel};

/// A product with its regional stock levels.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductDetail {
    /// The product.
    #[serde(flatten)]
    pub product: Product,
    /// Stock levels by county and warehouse.
    pub stock_levels: Vec<StockLevel>,
}

/// Lists products ordered by code.
#[utoipa::path(get, path = "/products", operation_id = "list_products", tag = "catalog",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of products", body = Page<Product>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn list_products(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<Product>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let limit = page.limit();
    let items = catalog::list_products(&state.db, page.after.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |p| p.code.clone())))
}

/// One product by code, with its stock levels.
#[utoipa::path(get, path = "/products/{code}", operation_id = "get_product", tag = "catalog",
    params(("code" = String, Path, description = "SKU (the supplier's productCode)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The product", body = ProductDetail),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn get_product(
    State(state): State<AppState>,
    PathParam(code): PathParam<String>,
) -> Result<Json<ProductDetail>, ApiError> {
    let product = catalog::get_product(&state.db, &code)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no product with code {:?}",
                code.chars().take(64).collect::<String>()
            ))
        })?;
    let stock_levels = stock::stock_levels_of_product(&state.db, &product.code).await?;
    Ok(Json(ProductDetail {
        product,
        stock_levels,
    }))
}
