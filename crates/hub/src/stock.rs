//! Local stock: locally stocked products, their stock on hand and its inventory log.
//! Checkouts hold against these pools exactly as against the supplier's regional stock
//! (see [`crate::orders`]).

use crate::input::LocalProductCode;
use crate::orders::SOURCE_LOCAL;
use crate::store::catalog::{self, Product, ProductContent, ProductLinks};
use crate::store::holds::{self, InventoryChange, LOCAL_POOL, StockPool};
use crate::store::{Db, StoreError};
use crate::types::UtcTime;

/// Largest change of stock on hand in one adjustment, in units (either way).
pub const MAX_ADJUSTMENT: i64 = 1_000_000;

/// Why a stock operation failed. Each variant names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StockError {
    /// 409: a product with this code exists.
    #[error("product {0} exists")]
    DuplicateProduct(String),
    /// 404: no such product.
    #[error("no product {0:?}")]
    NoProduct(String),
    /// 422: the product's stock comes from the supplier, not from adjustments.
    #[error("{0} is a supplier product; its stock comes from the supplier")]
    NotLocal(String),
    /// 422: the change is zero or too large.
    #[error("delta: a non-zero number from -{MAX_ADJUSTMENT} to {MAX_ADJUSTMENT}, got {0}")]
    InvalidDelta(i64),
    /// 409: removing that many units would leave less on hand than is held.
    #[error("{code}: removing {units} would leave less than is held")]
    BelowHeld {
        /// SKU.
        code: String,
        /// Units asked to remove.
        units: i64,
    },
    /// 404: no stock pool for this product (and county).
    #[error("no stock pool")]
    NoPool,
    /// 500: the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a locally stocked product (source `local`) with its stock pool at 0, in one
/// transaction. `name` and `model` are stored without surrounding whitespace.
pub async fn create_local_product(
    db: &Db,
    code: &LocalProductCode,
    name: &str,
    model: Option<&str>,
) -> Result<Product, StockError> {
    let code = code.as_str();
    if catalog::get_product(db, code).await?.is_some() {
        return Err(StockError::DuplicateProduct(code.to_owned()));
    }
    let content = ProductContent {
        name: name.trim().to_owned(),
        product_model: model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
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
        rebate_rate: None,
        stock_rebate_policy: None,
        price_reason: None,
    };
    let now = UtcTime::now();
    let mut tx = db.begin().await?;
    let created = catalog::upsert_product(
        &mut tx,
        code,
        SOURCE_LOCAL,
        &content,
        &ProductLinks::default(),
        now,
    )
    .await;
    match created {
        Ok(_) => {}
        // A concurrent create of the same code won.
        Err(StoreError::Conflict(_)) => return Err(StockError::DuplicateProduct(code.to_owned())),
        Err(e) => return Err(e.into()),
    }
    holds::adjust_pool(&mut tx, code, LOCAL_POOL, 0, "product created", now).await?;
    tx.commit().await?;
    catalog::get_product(db, code)
        .await?
        .ok_or_else(|| StockError::NoProduct(code.to_owned()))
}

/// Adds `delta` units (negative: removes them) to a local product's stock on hand and
/// logs `reason`; never below what is held.
pub async fn adjust_local_stock(
    db: &Db,
    code: &haier::ProductCode,
    delta: i64,
    reason: &str,
) -> Result<StockPool, StockError> {
    let code = code.as_str();
    let product = catalog::get_product(db, code)
        .await?
        .ok_or_else(|| StockError::NoProduct(code.to_owned()))?;
    if product.source != SOURCE_LOCAL {
        return Err(StockError::NotLocal(code.to_owned()));
    }
    if delta == 0 || !(-MAX_ADJUSTMENT..=MAX_ADJUSTMENT).contains(&delta) {
        return Err(StockError::InvalidDelta(delta));
    }
    let mut tx = db.begin().await?;
    let pool = holds::adjust_pool(
        &mut tx,
        code,
        LOCAL_POOL,
        delta,
        reason.trim(),
        UtcTime::now(),
    )
    .await?;
    let Some(pool) = pool else {
        return Err(StockError::BelowHeld {
            code: code.to_owned(),
            units: -delta,
        });
    };
    tx.commit().await?;
    Ok(pool)
}

/// A product's stock pool in `county` ([`LOCAL_POOL`] for local stock) with its latest
/// `log_limit` changes, newest first.
pub async fn stock_pool(
    db: &Db,
    code: &haier::ProductCode,
    county: &str,
    log_limit: u32,
) -> Result<(StockPool, Vec<InventoryChange>), StockError> {
    let pool = holds::get_pool(db, code.as_str(), county)
        .await?
        .ok_or(StockError::NoPool)?;
    let log = holds::inventory_log(db, code.as_str(), county, log_limit).await?;
    Ok((pool, log))
}
