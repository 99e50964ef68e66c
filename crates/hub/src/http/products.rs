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
use crate::types::{Money, Rate, UtcTime};

/// A product as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductOut {
    /// SKU: the supplier's `productCode` for supplier products.
    pub code: String,
    /// Where the product comes from: `haier` or `local`.
    pub source: String,
    /// Display name: `productModel`, else the code.
    pub name: String,
    /// Model (`productModel`), e.g. `EC6001-HT3`.
    pub product_model: Option<String>,
    /// Product group (`productGroupNamd`), e.g. `热水器`.
    pub product_group: Option<String>,
    /// Category name.
    pub category: Option<String>,
    /// Brand name (`productBrandName`).
    pub brand: Option<String>,
    /// Main image URL (`productImageUrl`).
    pub image_url: Option<String>,
    /// Page image URLs (`productLageUrls`).
    pub page_image_urls: Vec<String>,
    /// Procurable (`isSales` = "1").
    pub is_procurable: bool,
    /// Why not procurable (`noSalesReason`), when not.
    pub not_procurable_reason: Option<String>,
    /// Supply price in yuan (`supplyPrice`).
    pub supply_price: Option<Money>,
    /// Invoice price in yuan (`invoicePrice` = supply × (1 − direct discount) − rebate).
    pub invoice_price: Option<Money>,
    /// Per-unit rebate in yuan (`rebateMoney`).
    pub rebate_money: Option<Money>,
    /// The direct discount as a fraction (`rebateRate`), e.g. `"0.05"`.
    pub rebate_rate: Option<Rate>,
    /// `stockRebatePolicy` as the supplier sent it.
    pub stock_rebate_policy: Option<String>,
    /// Why there is no effective price (H2 `reason`, e.g. 价格未生效).
    pub price_reason: Option<String>,
    /// Market price in yuan; the supplier never sends it.
    pub market_price: Option<Money>,
    /// When the product was first recorded.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

impl From<Product> for ProductOut {
    fn from(p: Product) -> Self {
        let c = p.content;
        ProductOut {
            code: p.code,
            source: p.source,
            name: c.name,
            product_model: c.product_model,
            product_group: c.product_group,
            category: c.category,
            brand: c.brand,
            image_url: c.image_url,
            page_image_urls: c.page_image_urls,
            is_procurable: c.is_procurable,
            not_procurable_reason: c.not_procurable_reason,
            supply_price: c.supply_price,
            invoice_price: c.invoice_price,
            rebate_money: c.rebate_money,
            rebate_rate: c.rebate_rate,
            stock_rebate_policy: c.stock_rebate_policy,
            price_reason: c.price_reason,
            market_price: p.market_price,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// One warehouse's stock of a product for one county, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockLevelOut {
    /// SKU.
    pub product_code: String,
    /// GB/T 2260 county code (six digits).
    pub county_code: String,
    /// Warehouse / storage location (`secCode`).
    pub warehouse_code: String,
    /// Units available (`stock`).
    pub stock: i64,
    /// `0` own warehouse (本级仓), `1` upper-level warehouse (上级仓) (`warehouseGrade`).
    pub warehouse_grade: String,
    /// Order cut-off time of day (`timelinessData.cutTime`).
    pub cut_time: Option<String>,
    /// Promised arrival (`timelinessData.achieveUserOrderCut`).
    pub eta: Option<String>,
    /// Delivery hours (`timelinessData.hour`).
    pub delivery_hours: Option<String>,
    /// Ships by transfer (`timelinessData.isTranfer` = "1").
    pub is_transfer: Option<bool>,
    /// When this level last changed.
    pub updated_at: UtcTime,
}

impl From<StockLevel> for StockLevelOut {
    fn from(l: StockLevel) -> Self {
        StockLevelOut {
            product_code: l.product_code,
            county_code: l.county_code,
            warehouse_code: l.warehouse_code,
            stock: l.stock,
            warehouse_grade: l.warehouse_grade,
            cut_time: l.cut_time,
            eta: l.eta,
            delivery_hours: l.delivery_hours,
            is_transfer: l.is_transfer,
            updated_at: l.updated_at,
        }
    }
}

/// A product with its regional stock levels.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductDetail {
    /// The product.
    #[serde(flatten)]
    pub product: ProductOut,
    /// Stock levels by county and warehouse.
    pub stock_levels: Vec<StockLevelOut>,
}

/// Lists products ordered by code.
#[utoipa::path(get, path = "/products", operation_id = "list_products", tag = "catalog",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of products", body = Page<ProductOut>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn list_products(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<ProductOut>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let limit = page.limit();
    let items = catalog::list_products(&state.db, page.after.as_deref(), limit + 1).await?;
    let page = Page::from_overfetch(items, limit, |p| p.code.clone());
    Ok(Json(Page {
        items: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// One product by code, with its stock levels.
#[utoipa::path(get, path = "/products/{code}", operation_id = "get_product", tag = "catalog",
    params(("code" = String, Path, description = "SKU (the supplier's productCode)", min_length = 1, max_length = 50, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]+$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The product", body = ProductDetail),
        (status = 400, description = "Not a product code", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn get_product(
    State(state): State<AppState>,
    PathParam(code): PathParam<haier::ProductCode>,
) -> Result<Json<ProductDetail>, ApiError> {
    let product = catalog::get_product(&state.db, code.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product with code {:?}", code.as_str())))?;
    let stock_levels = stock::stock_levels_of_product(&state.db, &product.code).await?;
    Ok(Json(ProductDetail {
        product: product.into(),
        stock_levels: stock_levels.into_iter().map(Into::into).collect(),
    }))
}
