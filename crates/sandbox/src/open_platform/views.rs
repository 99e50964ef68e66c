//! The platform's records under the vendor's field names (misspellings included).

use serde::Serialize;

use crate::catalog::{Product, RebatePolicy};
use crate::money::Money;
use crate::stock::{self, Warehouse};

/// The H2 reason for a product that is not procurable.
pub(crate) const REASON_NOT_PROCURABLE: &str = "商品暂不可采";
/// The H2 reason for a procurable product whose price is not effective.
pub(crate) const REASON_NO_PRICE: &str = "价格未生效";

fn is_sales(p: &Product) -> &'static str {
    if p.procurable() { "1" } else { "0" }
}

/// An H1 item.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductInfo<'a> {
    product_code: &'a str,
    product_model: &'a str,
    #[serde(rename = "productGroupNamd")]
    product_group_name: &'a str,
    product_brand_name: &'a str,
    product_image_url: &'a str,
    #[serde(rename = "productLageUrls")]
    product_large_urls: &'a [String],
    is_sales: &'static str,
    no_sales_reason: Option<&'static str>,
}

impl<'a> From<&'a Product> for ProductInfo<'a> {
    fn from(p: &'a Product) -> Self {
        ProductInfo {
            product_code: &p.code,
            product_model: &p.model,
            product_group_name: p.group,
            product_brand_name: p.brand,
            product_image_url: &p.image_url,
            product_large_urls: &p.page_urls,
            is_sales: is_sales(p),
            no_sales_reason: p.no_sales_reason,
        }
    }
}

/// `stockRebatePolicy` (v1.0.10, protocol §0.2): an integer, 0 normal (COM), 1 no rebate
/// (BF), 2 firewall (FHQ), 5 platform pricing ("365").
pub(crate) type Policy = u8;

/// The vendor's integer code of a rebate policy; a direct discount is a normal (COM)
/// price whose discount shows in `rebateRate`.
fn policy_code(policy: RebatePolicy) -> Policy {
    match policy {
        RebatePolicy::Direct(_) | RebatePolicy::Type("COM") => 0,
        RebatePolicy::Type("BF") => 1,
        RebatePolicy::Type("FHQ") => 2,
        RebatePolicy::Type(_) => 5,
    }
}

/// `rebateRate`: the direct discount as a fraction (`0.03`), zero when none.
fn rebate_rate(policy: RebatePolicy) -> Money {
    match policy {
        RebatePolicy::Direct(d) => d,
        RebatePolicy::Type(_) => Money(0),
    }
}

/// The H2 price fields of a product, as the platform would answer them now.
#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceFields {
    supply_price: Option<Money>,
    invoice_price: Option<Money>,
    rebate_rate: Option<Money>,
    rebate_money: Option<Money>,
    stock_rebate_policy: Option<Policy>,
    reason: Option<&'static str>,
}

impl From<&Product> for PriceFields {
    fn from(p: &Product) -> Self {
        let none = |reason| PriceFields {
            supply_price: None,
            invoice_price: None,
            rebate_rate: None,
            rebate_money: None,
            stock_rebate_policy: None,
            reason: Some(reason),
        };
        if !p.procurable() {
            return none(REASON_NOT_PROCURABLE);
        }
        let Some(pr) = p.pricing else {
            return none(REASON_NO_PRICE);
        };
        PriceFields {
            supply_price: Some(pr.supply),
            invoice_price: Some(pr.invoice()),
            rebate_rate: Some(rebate_rate(pr.policy)),
            rebate_money: Some(pr.rebate),
            stock_rebate_policy: Some(policy_code(pr.policy)),
            reason: None,
        }
    }
}

/// An H2 item.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceInfo<'a> {
    product_code: &'a str,
    supply_price: Option<Money>,
    invoice_price: Option<Money>,
    rebate_rate: Option<Money>,
    rebate_money: Option<Money>,
    stock_rebate_policy: Option<Policy>,
    reason: Option<&'static str>,
    is_sales: &'static str,
}

impl<'a> From<&'a Product> for PriceInfo<'a> {
    fn from(p: &'a Product) -> Self {
        let f = PriceFields::from(p);
        PriceInfo {
            product_code: &p.code,
            supply_price: f.supply_price,
            invoice_price: f.invoice_price,
            rebate_rate: f.rebate_rate,
            rebate_money: f.rebate_money,
            stock_rebate_policy: f.stock_rebate_policy,
            reason: f.reason,
            is_sales: is_sales(p),
        }
    }
}

/// One product of `/_sandbox/catalog`: the H1 fields and the H2 price fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CatalogEntry<'a> {
    product_code: &'a str,
    product_model: &'a str,
    #[serde(rename = "productGroupNamd")]
    product_group_name: &'a str,
    product_brand_name: &'a str,
    product_image_url: &'a str,
    #[serde(rename = "productLageUrls")]
    product_large_urls: &'a [String],
    is_sales: &'static str,
    no_sales_reason: Option<&'static str>,
    supply_price: Option<Money>,
    invoice_price: Option<Money>,
    rebate_rate: Option<Money>,
    rebate_money: Option<Money>,
    stock_rebate_policy: Option<Policy>,
    reason: Option<&'static str>,
}

impl<'a> From<&'a Product> for CatalogEntry<'a> {
    fn from(p: &'a Product) -> Self {
        let f = PriceFields::from(p);
        CatalogEntry {
            product_code: &p.code,
            product_model: &p.model,
            product_group_name: p.group,
            product_brand_name: p.brand,
            product_image_url: &p.image_url,
            product_large_urls: &p.page_urls,
            is_sales: is_sales(p),
            no_sales_reason: p.no_sales_reason,
            supply_price: f.supply_price,
            invoice_price: f.invoice_price,
            rebate_rate: f.rebate_rate,
            rebate_money: f.rebate_money,
            stock_rebate_policy: f.stock_rebate_policy,
            reason: f.reason,
        }
    }
}

/// `timelinessData` of an H3 item.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Timeliness {
    cut_time: &'static str,
    achieve_user_order_cut: String,
    hour: String,
    is_tranfer: &'static str,
}

/// An H3 item (`stock` is a string, as on the wire).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StockItem<'a> {
    sec_code: &'a str,
    stock: String,
    warehouse_grade: &'static str,
    timeliness_data: Timeliness,
}

impl<'a> From<&'a Warehouse> for StockItem<'a> {
    fn from(w: &'a Warehouse) -> Self {
        StockItem {
            sec_code: &w.sec_code,
            stock: w.stock.to_string(),
            warehouse_grade: w.grade.wire(),
            timeliness_data: Timeliness {
                cut_time: w.cut_time,
                achieve_user_order_cut: stock::promised(w),
                hour: w.hours.to_string(),
                is_tranfer: if w.transfer() { "1" } else { "0" },
            },
        }
    }
}
