//! H5: payer account balance (付款方余额).

use serde::{Deserialize, Serialize};

use super::wire;
use crate::config::credentials;
use crate::gateway::Reply;
use crate::money::Money;
use crate::state::{AppState, lock};

/// The H5 request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    customer_code: Option<String>,
    customer_password: Option<String>,
}

/// One payer account (the vendor leaves the container open; the platform sends a list).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayerAccount {
    sale_group_code: &'static str,
    sale_group_name: &'static str,
    payer_account_code: &'static str,
    payer_account_name: &'static str,
    payer_account_balance: Money,
}

/// The customer's single payer account.
pub(crate) fn handle(state: &AppState, req: Request) -> Reply {
    match answer(state, &req) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &AppState, req: &Request) -> Result<Reply, Reply> {
    let customer = wire::required(&req.customer_code, "customerCode")?;
    let password = wire::required(&req.customer_password, "customerPassword")?;
    wire::check_customer(customer)?;
    wire::check_password(password, credentials::CUSTOMER_PASSWORD, "客户密码")?;
    let balance = *lock(&state.balance);
    Ok(wire::ok([PayerAccount {
        sale_group_code: "HJS01",
        sale_group_name: "海尔智家江苏销售组",
        payer_account_code: credentials::PAYER_ACCOUNT_CODE,
        payer_account_name: "南京沙盒家电有限公司",
        payer_account_balance: balance,
    }]))
}
