//! The supplier catalog as supplyhub sees it: mapping the vendor's records onto our
//! products and stock levels.

use haier::{Price, ProcurableProduct, WarehouseStock};
use region::{DivisionCode, stock_regions};

use crate::store::catalog::ProductContent;
use crate::store::stock::StockLevel;
use crate::types::{Money, Rate, UtcTime};

/// `source` of products mirrored from the Haier Open Platform.
pub const SOURCE_HAIER: &str = "haier";

/// Source of locally stocked products.
pub const SOURCE_LOCAL: &str = "local";

/// The reason recorded when the supplier no longer returns a product at all, even when
/// asked for it by code.
pub const NOT_LISTED_REASON: &str = "not returned by the supplier";

/// Checks that `code` is a region that keys regional stock: a county-level GB/T 2260 code
/// or one of the four prefectures without counties. The error names the value.
pub fn parse_stock_region(code: &str) -> Result<DivisionCode, String> {
    let parsed: DivisionCode = code
        .parse()
        .map_err(|e: region::ParseCodeError| e.to_string())?;
    if stock_regions().any(|d| d.code == parsed) {
        Ok(parsed)
    } else {
        Err(format!(
            "{code} is not a county-level code of GB/T 2260 (vintage {})",
            region::VINTAGE
        ))
    }
}

/// Applies an H1 record (`check-procurable-products`) to a product's content, keeping the
/// price fields of `base`.
///
/// Mapping (protocol §5): `name ← productModel or code`, `product_model ← productModel`,
/// `product_group ← productGroupNamd`, category and brand by name from
/// `productGroupNamd` and `productBrandName` (never an arbitrary default),
/// `image_url ← productImageUrl`, `page_image_urls ← productLageUrls`,
/// `is_procurable ← isSales` (absent means "1"), `not_procurable_reason ← noSalesReason`.
pub fn apply_catalog(
    base: Option<&ProductContent>,
    code: &str,
    p: &ProcurableProduct,
) -> ProductContent {
    let model = non_empty(p.product_model.as_deref());
    let group = non_empty(p.product_group_name.as_deref());
    ProductContent {
        name: model.clone().unwrap_or_else(|| code.to_owned()),
        product_model: model,
        category: group.clone(),
        product_group: group,
        brand: non_empty(p.product_brand_name.as_deref()),
        image_url: non_empty(p.product_image_url.as_deref()),
        page_image_urls: p.product_page_urls.clone(),
        is_procurable: p.procurable().unwrap_or(true),
        not_procurable_reason: non_empty(p.no_sales_reason.as_deref()),
        supply_price: base.and_then(|b| b.supply_price),
        invoice_price: base.and_then(|b| b.invoice_price),
        rebate_money: base.and_then(|b| b.rebate_money),
        rebate_rate: base.and_then(|b| b.rebate_rate),
        stock_rebate_policy: base.and_then(|b| b.stock_rebate_policy.clone()),
        price_reason: base.and_then(|b| b.price_reason.clone()),
    }
}

/// Marks a product the supplier no longer returns at all as not procurable, with
/// [`NOT_LISTED_REASON`]; everything else is kept.
pub fn mark_not_listed(base: &ProductContent) -> ProductContent {
    ProductContent {
        is_procurable: false,
        not_procurable_reason: Some(NOT_LISTED_REASON.to_owned()),
        ..base.clone()
    }
}

/// Applies an H2 record (`pt-out-list-price`) to a product's content.
///
/// Mapping: `supply_price ← supplyPrice`, `invoice_price ← invoicePrice`,
/// `rebate_money ← rebateMoney`, `rebate_rate ← rebateRate`,
/// `stock_rebate_policy ← stockRebatePolicy` (the vendor's
/// integer code as text: 0 COM, 1 BF, 2 FHQ, 5 "365"),
/// `price_reason ← reason`. A null price is stored as null, never as an error.
pub fn apply_price(content: &mut ProductContent, price: &Price) {
    content.supply_price = price.supply_price.map(Money::new);
    content.invoice_price = price.invoice_price.map(Money::new);
    content.rebate_money = price.rebate_money.map(Money::new);
    content.rebate_rate = price.rebate_rate.map(Rate::new);
    content.stock_rebate_policy = price.stock_rebate_policy.map(|code| code.to_string());
    content.price_reason = non_empty(price.reason.as_deref());
}

/// Maps one H3 warehouse entry onto a stock level. `None` when the entry has no
/// warehouse code (`secCode`), which cannot be keyed.
pub fn stock_level(
    product_code: &str,
    county_code: &str,
    w: &WarehouseStock,
    now: UtcTime,
) -> Option<StockLevel> {
    let warehouse_code = non_empty(w.sec_code.as_deref())?;
    let t = w.timeliness_data.as_ref();
    Some(StockLevel {
        product_code: product_code.to_owned(),
        county_code: county_code.to_owned(),
        warehouse_code,
        stock: i64::try_from(w.stock).unwrap_or(i64::MAX),
        warehouse_grade: w.warehouse_grade.clone().unwrap_or_default(),
        cut_time: t.and_then(|t| non_empty(t.cut_time.as_deref())),
        eta: t.and_then(|t| non_empty(t.achieve_user_order_cut.as_deref())),
        delivery_hours: t.and_then(|t| non_empty(t.hour.as_deref())),
        is_transfer: t.and_then(|t| match t.is_transfer.as_deref() {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        }),
        updated_at: now,
    })
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_regions_are_checked_against_the_table() {
        assert!(parse_stock_region("370212").is_ok());
        assert!(parse_stock_region("441900").is_ok(), "东莞 has no counties");
        let err = parse_stock_region("370200").unwrap_err();
        assert!(err.contains("370200"), "{err}");
        assert!(parse_stock_region("abc").is_err());
    }

    #[test]
    fn catalog_mapping_follows_the_vendor_fields() {
        let p: ProcurableProduct = serde_json::from_value(serde_json::json!({
            "productCode": "GA0SZC00U", "productModel": "EC6001-HT3", "productGroupNamd": "热水器",
            "productBrandName": "海尔", "productImageUrl": "https://x.invalid/a.jpg",
            "productLageUrls": ["https://x.invalid/1.jpg"], "isSales": "0", "noSalesReason": "已停产"
        }))
        .unwrap();
        let c = apply_catalog(None, "GA0SZC00U", &p);
        assert_eq!(c.name, "EC6001-HT3");
        assert_eq!(c.category.as_deref(), Some("热水器"));
        assert_eq!(c.brand.as_deref(), Some("海尔"));
        assert!(!c.is_procurable);
        assert_eq!(c.not_procurable_reason.as_deref(), Some("已停产"));
        assert_eq!(
            c.page_image_urls,
            vec!["https://x.invalid/1.jpg".to_owned()]
        );

        let bare: ProcurableProduct =
            serde_json::from_value(serde_json::json!({"productCode": "X1"})).unwrap();
        let c = apply_catalog(None, "X1", &bare);
        assert_eq!(c.name, "X1", "the code names a product without a model");
        assert!(c.is_procurable, "isSales defaults to 1");
        assert_eq!(
            c.category, None,
            "no group means no category, not the first one"
        );
    }

    #[test]
    fn price_mapping_keeps_nulls_and_the_policy_code() {
        let mut c = apply_catalog(
            None,
            "X1",
            &serde_json::from_value(serde_json::json!({"productCode": "X1"})).unwrap(),
        );
        let p: Price = serde_json::from_value(serde_json::json!({
            "productCode": "X1", "supplyPrice": 1999.98, "invoicePrice": null, "rebateMoney": 0,
            "rebateRate": 0.05, "stockRebatePolicy": 2, "reason": "价格未生效", "isSales": "1"
        }))
        .unwrap();
        apply_price(&mut c, &p);
        assert_eq!(c.supply_price, Some("1999.98".parse().unwrap()));
        assert_eq!(c.invoice_price, None);
        assert_eq!(c.stock_rebate_policy.as_deref(), Some("2"));
        assert_eq!(
            c.rebate_rate.map(|r| r.fraction().to_string()).as_deref(),
            Some("0.05"),
            "rebateRate is the direct discount"
        );
        assert_eq!(c.price_reason.as_deref(), Some("价格未生效"));
    }
}
