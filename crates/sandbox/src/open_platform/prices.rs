//! H2: prices (价格).

use serde::Deserialize;

use super::views::PriceInfo;
use super::wire;
use crate::config::credentials;
use crate::gateway::Reply;
use crate::state::{AppState, read};

/// The H2 request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    customer_code: Option<String>,
    send_to_code: Option<String>,
    product_codes: Option<Vec<String>>,
    price_type: Option<String>,
    #[serde(rename = "passWord")]
    password: Option<String>,
}

/// One price record per known code, in the order asked; unknown codes are left out.
pub(crate) fn handle(state: &AppState, req: Request) -> Reply {
    match answer(state, &req) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &AppState, req: &Request) -> Result<Reply, Reply> {
    let customer = wire::required(&req.customer_code, "customerCode")?;
    let send_to = wire::required(&req.send_to_code, "sendToCode")?;
    let price_type = wire::required(&req.price_type, "priceType")?;
    let password = wire::required(&req.password, "passWord")?;
    let codes = wire::product_codes(&req.product_codes)?;
    if codes.is_empty() {
        return Err(wire::bad_request("缺少必填参数: productCodes"));
    }
    wire::check_customer(customer)?;
    wire::check_password(password, credentials::PASSWORD, "约定密码")?;
    wire::check_send_to(send_to)?;
    wire::check_fixed(price_type, "PT", "priceType")?;

    let catalog = read(&state.catalog);
    let items: Vec<PriceInfo<'_>> = codes
        .iter()
        .filter_map(|c| catalog.get(c))
        .map(PriceInfo::from)
        .collect();
    Ok(wire::ok(items))
}
