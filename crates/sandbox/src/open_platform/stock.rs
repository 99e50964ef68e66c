//! H3: regional stock (RX库存三方直连).

use region::DivisionCode;
use serde::Deserialize;

use super::views::StockItem;
use super::wire::{self, codes};
use crate::config::credentials;
use crate::gateway::Reply;
use crate::state::AppState;

/// The H3 request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    sales_code: Option<String>,
    sender_code: Option<String>,
    product_code: Option<String>,
    county_code: Option<String>,
    source: Option<String>,
    seller_password: Option<String>,
}

/// The stock region of a county code, if it keys one.
pub(crate) fn stock_region(state: &AppState, county: &str) -> Option<u32> {
    let code: DivisionCode = county.parse().ok()?;
    state.is_stock_region(code.get()).then_some(code.get())
}

/// The warehouses holding the product for the county; `[]` for an unknown or
/// non-procurable product.
pub(crate) fn handle(state: &AppState, req: Request) -> Reply {
    match answer(state, &req) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &AppState, req: &Request) -> Result<Reply, Reply> {
    let sales = wire::required(&req.sales_code, "salesCode")?;
    let sender = wire::required(&req.sender_code, "senderCode")?;
    let product = wire::required(&req.product_code, "productCode")?;
    let county = wire::required(&req.county_code, "countyCode")?;
    let source = wire::required(&req.source, "source")?;
    let password = wire::required(&req.seller_password, "sellerPassword")?;
    wire::check_customer(sales)?;
    wire::check_password(password, credentials::SELLER_PASSWORD, "客户密码")?;
    wire::check_send_to(sender)?;
    wire::check_fixed(source, "JSH-B", "source")?;
    let Some(county) = stock_region(state, county) else {
        return Err(wire::business_error(
            codes::BAD_COUNTY,
            &format!("区县编码不存在: {county}"),
        ));
    };
    let warehouses = state.stock(product, county);
    let items: Vec<StockItem<'_>> = warehouses.iter().map(StockItem::from).collect();
    Ok(wire::ok(items))
}
