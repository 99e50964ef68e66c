//! H1: procurable products (可采商品).

use serde::Deserialize;

use super::views::ProductInfo;
use super::wire::{self, codes};
use crate::config::credentials;
use crate::gateway::Reply;
use crate::state::{AppState, read};

/// The H1 request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    customer_code: Option<String>,
    send_to_code: Option<String>,
    product_codes: Option<Vec<String>>,
    supplier_code: Option<String>,
    search_type: Option<String>,
    #[serde(rename = "passWord")]
    password: Option<String>,
}

/// Without codes, every procurable product; with codes, those the platform knows
/// (procurable or not), in the order asked. Unknown codes are left out.
pub(crate) fn handle(state: &AppState, req: Request) -> Reply {
    match answer(state, &req) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &AppState, req: &Request) -> Result<Reply, Reply> {
    let customer = wire::required(&req.customer_code, "customerCode")?;
    let supplier = wire::required(&req.supplier_code, "supplierCode")?;
    let search_type = wire::required(&req.search_type, "searchType")?;
    let password = wire::required(&req.password, "passWord")?;
    let send_to = if supplier == credentials::SUPPLIER_CODE {
        Some(wire::required(&req.send_to_code, "sendToCode")?)
    } else {
        None
    };
    let codes = wire::product_codes(&req.product_codes)?;
    wire::check_customer(customer)?;
    wire::check_password(password, credentials::PASSWORD, "约定密码")?;
    let Some(send_to) = send_to else {
        return Err(wire::business_error(
            codes::UNKNOWN_SUPPLIER,
            &format!("供货方编码不存在: {supplier}"),
        ));
    };
    wire::check_send_to(send_to)?;
    wire::check_fixed(search_type, "PTJSH", "searchType")?;

    let catalog = read(&state.catalog);
    let items: Vec<ProductInfo<'_>> = if codes.is_empty() {
        catalog
            .products()
            .filter(|p| p.procurable())
            .map(ProductInfo::from)
            .collect()
    } else {
        codes
            .iter()
            .filter_map(|c| catalog.get(c))
            .map(ProductInfo::from)
            .collect()
    };
    Ok(wire::ok(items))
}
