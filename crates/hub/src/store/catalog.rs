//! Products, categories and brands.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{StoreResult, Tx, new_id, on_db, on_tx};
use crate::store::Db;
use crate::types::{Money, Rate, UtcTime};

/// What the supplier says about a product, as mapped onto our columns. Two contents are
/// equal exactly when a sync has nothing to write.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct ProductContent {
    /// Display name: `productModel`, else the code.
    pub name: String,
    /// Model (`productModel`), e.g. `EC6001-HT3`.
    pub product_model: Option<String>,
    /// Product group (`productGroupNamd`), e.g. `热水器`.
    pub product_group: Option<String>,
    /// Category name; categories are found or created by the product group's name.
    pub category: Option<String>,
    /// Brand name (`productBrandName`), found or created by name.
    pub brand: Option<String>,
    /// Main image URL (`productImageUrl`).
    pub image_url: Option<String>,
    /// Page image URLs (`productLageUrls`).
    #[sqlx(json)]
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
    /// The direct discount as a fraction (`rebateRate`, 0 when none).
    pub rebate_rate: Option<Rate>,
    /// `stockRebatePolicy` as the supplier sent it: the vendor documents it both as a
    /// decimal direct discount and as a rebate type (COM/FHQ/BF/DTDBF).
    pub stock_rebate_policy: Option<String>,
    /// Why there is no effective price (H2 `reason`, e.g. 价格未生效).
    pub price_reason: Option<String>,
}

/// A product as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, ToSchema)]
pub struct Product {
    /// SKU: the supplier's `productCode` for supplier products.
    pub code: String,
    /// Where the product comes from: `haier` or `local`.
    pub source: String,
    /// The supplier's content.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub content: ProductContent,
    /// Market price in yuan; the supplier never sends it.
    pub market_price: Option<Money>,
    /// When the row was created.
    pub created_at: UtcTime,
    /// When the row last changed.
    pub updated_at: UtcTime,
}

/// `SELECT` of every product column joined with its category and brand names, followed by
/// the rest of the query.
macro_rules! select_products {
    ($($tail:literal)?) => {
        concat!(
            "SELECT p.code, p.source, p.name, p.product_model, p.product_group, \
             c.name AS category, b.name AS brand, p.image_url, p.page_image_urls, p.is_procurable, \
             p.not_procurable_reason, p.supply_price, p.invoice_price, p.rebate_money, \
             p.rebate_rate, p.stock_rebate_policy, p.price_reason, p.market_price, p.created_at, p.updated_at \
             FROM products p LEFT JOIN categories c ON c.id = p.category_id \
             LEFT JOIN brands b ON b.id = p.brand_id "
            $(, $tail)?
        )
    };
}

/// Every product of one source (e.g. `haier`), for a sync to compare against.
pub async fn load_products_of_source(db: &Db, source: &str) -> StoreResult<Vec<Product>> {
    const SQL: &str = select_products!("WHERE p.source = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(source).fetch_all(p).await)?)
}

/// A page of products ordered by code (bytewise on both backends, migration 0004),
/// starting after the cursor `after` (a code; from the first when `None`).
pub async fn list_products(db: &Db, after: Option<&str>, limit: u32) -> StoreResult<Vec<Product>> {
    const SQL: &str =
        select_products!("WHERE ($1 IS NULL OR p.code > $1) ORDER BY p.code LIMIT $2");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(after).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// One product by code.
pub async fn get_product(db: &Db, code: &str) -> StoreResult<Option<Product>> {
    const SQL: &str = select_products!("WHERE p.code = $1");
    Ok(on_db!(db, p => sqlx::query_as(SQL).bind(code).fetch_optional(p).await)?)
}

/// The id of the category named `name`, created if missing.
pub async fn find_or_create_category(tx: &mut Tx, name: &str) -> StoreResult<String> {
    let id = new_id("cat");
    let now = UtcTime::now();
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO categories (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(&id).bind(name).bind(now).execute(&mut *c).await?;
        Ok(sqlx::query_scalar("SELECT id FROM categories WHERE name = $1").bind(name).fetch_one(&mut *c).await?)
    })
}

/// The id of the brand named `name`, created if missing.
pub async fn find_or_create_brand(tx: &mut Tx, name: &str) -> StoreResult<String> {
    let id = new_id("brd");
    let now = UtcTime::now();
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO brands (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(&id).bind(name).bind(now).execute(&mut *c).await?;
        Ok(sqlx::query_scalar("SELECT id FROM brands WHERE name = $1").bind(name).fetch_one(&mut *c).await?)
    })
}

/// Category and brand ids resolved for a product's content.
#[derive(Debug, Clone, Default)]
pub struct ProductLinks {
    /// Category id.
    pub category_id: Option<String>,
    /// Brand id.
    pub brand_id: Option<String>,
}

/// Inserts a product, or replaces the supplier's content of an existing one.
/// `created_at` is kept on update.
pub async fn upsert_product(
    tx: &mut Tx,
    code: &str,
    source: &str,
    content: &ProductContent,
    links: &ProductLinks,
    now: UtcTime,
) -> StoreResult<()> {
    let urls = sqlx::types::Json(&content.page_image_urls);
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO products (code, source, name, product_model, product_group, category_id, brand_id, \
         image_url, page_image_urls, is_procurable, not_procurable_reason, supply_price, invoice_price, \
         rebate_money, stock_rebate_policy, price_reason, rebate_rate, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) \
         ON CONFLICT (code) DO UPDATE SET source = excluded.source, name = excluded.name, \
         product_model = excluded.product_model, product_group = excluded.product_group, \
         category_id = excluded.category_id, brand_id = excluded.brand_id, image_url = excluded.image_url, \
         page_image_urls = excluded.page_image_urls, is_procurable = excluded.is_procurable, \
         not_procurable_reason = excluded.not_procurable_reason, supply_price = excluded.supply_price, \
         invoice_price = excluded.invoice_price, rebate_money = excluded.rebate_money, \
         stock_rebate_policy = excluded.stock_rebate_policy, price_reason = excluded.price_reason, \
         rebate_rate = excluded.rebate_rate, updated_at = excluded.updated_at")
        .bind(code)
        .bind(source)
        .bind(&content.name)
        .bind(&content.product_model)
        .bind(&content.product_group)
        .bind(&links.category_id)
        .bind(&links.brand_id)
        .bind(&content.image_url)
        .bind(urls)
        .bind(content.is_procurable)
        .bind(&content.not_procurable_reason)
        .bind(content.supply_price)
        .bind(content.invoice_price)
        .bind(content.rebate_money)
        .bind(&content.stock_rebate_policy)
        .bind(&content.price_reason)
        .bind(content.rebate_rate)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
