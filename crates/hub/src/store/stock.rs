//! Regional stock levels: product × county × warehouse.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, StoreResult, Tx, on_db, on_tx};
use crate::types::UtcTime;

/// One warehouse's stock of one product for one county (H3).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct StockLevel {
    /// SKU.
    pub product_code: String,
    /// GB/T 2260 county code (six digits).
    pub county_code: String,
    /// Warehouse / storage location (`secCode`).
    pub warehouse_code: String,
    /// Units available (`stock`, sent as a string).
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
    /// When this row last changed.
    pub updated_at: UtcTime,
}

impl StockLevel {
    /// True when the supplier-visible content equals `other`'s (the time is ignored).
    pub fn same_content(&self, other: &StockLevel) -> bool {
        self.stock == other.stock
            && self.warehouse_grade == other.warehouse_grade
            && self.cut_time == other.cut_time
            && self.eta == other.eta
            && self.delivery_hours == other.delivery_hours
            && self.is_transfer == other.is_transfer
    }
}

/// `SELECT` of every stock level column, followed by the rest of the query.
macro_rules! select_levels {
    ($tail:literal) => {
        concat!(
            "SELECT product_code, county_code, warehouse_code, stock, warehouse_grade, cut_time, \
             eta, delivery_hours, is_transfer, updated_at FROM stock_levels ",
            $tail
        )
    };
}

/// Every stock level recorded for a county, for a sync to compare against.
pub async fn load_stock_levels_in_county(
    db: &Db,
    county_code: &str,
) -> StoreResult<Vec<StockLevel>> {
    const SQL: &str = select_levels!("WHERE county_code = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(county_code).fetch_all(p).await)?)
}

/// A product's stock levels in every county recorded, by county then warehouse.
pub async fn stock_levels_of_product(db: &Db, product_code: &str) -> StoreResult<Vec<StockLevel>> {
    const SQL: &str =
        select_levels!("WHERE product_code = $1 ORDER BY county_code, warehouse_code");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(product_code).fetch_all(p).await)?)
}

/// Inserts or replaces one stock level.
pub async fn upsert_stock_level(tx: &mut Tx, level: &StockLevel) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO stock_levels (product_code, county_code, warehouse_code, stock, warehouse_grade, \
         cut_time, eta, delivery_hours, is_transfer, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (product_code, county_code, warehouse_code) DO UPDATE SET stock = excluded.stock, \
         warehouse_grade = excluded.warehouse_grade, cut_time = excluded.cut_time, eta = excluded.eta, \
         delivery_hours = excluded.delivery_hours, is_transfer = excluded.is_transfer, \
         updated_at = excluded.updated_at")
        .bind(&level.product_code)
        .bind(&level.county_code)
        .bind(&level.warehouse_code)
        .bind(level.stock)
        .bind(&level.warehouse_grade)
        .bind(&level.cut_time)
        .bind(&level.eta)
        .bind(&level.delivery_hours)
        .bind(level.is_transfer)
        .bind(level.updated_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the stock level of a warehouse the supplier no longer lists.
pub async fn delete_stock_level(
    tx: &mut Tx,
    product_code: &str,
    county_code: &str,
    warehouse_code: &str,
) -> StoreResult<()> {
    on_tx!(tx, c => sqlx::query(
        "DELETE FROM stock_levels WHERE product_code = $1 AND county_code = $2 AND warehouse_code = $3")
        .bind(product_code)
        .bind(county_code)
        .bind(warehouse_code)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
