//! Y5 `get-store-logistics-by-order-code`: the carriers and waybills of shipped orders,
//! asked for by a bare JSON array of order codes.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::wire;
use crate::gateway::Reply;
use crate::orders::Stage;
use crate::state::{AppState, lock};

/// The most order codes one call may carry.
pub(crate) const MAX_CODES: usize = 100;

/// One parcel line.
/// One shipment of Y5's `logisticsList` as the vendor's document v1.0.10 names it
/// (protocol §0.3): the carrier's code and name, the tracking number and the units'
/// serial-number barcodes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogisticsLine<'a> {
    logistics_code: &'static str,
    logistics_name: &'a str,
    exp_no: &'a str,
    bar_codes: Vec<&'a str>,
}

/// One shipped order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderLogistics<'a> {
    order_code: &'a str,
    delivery_record_code: &'a str,
    logistics_list: Vec<LogisticsLine<'a>>,
}

/// The logistics of the shipped orders among the codes (others are left out).
pub(crate) fn handle(state: &Arc<AppState>, body: Value) -> Reply {
    let Value::Array(list) = body else {
        return wire::bad_request("请求体必须为订单号数组，例如 [\"SO.20250514.014572\"]");
    };
    if list.len() > MAX_CODES {
        return wire::bad_request(&format!(
            "订单号最多 {MAX_CODES} 个，实际 {} 个",
            list.len()
        ));
    }
    let mut codes: Vec<&str> = Vec::with_capacity(list.len());
    for v in &list {
        let Some(code) = v.as_str() else {
            return wire::bad_request(&format!("订单号必须为字符串: {v}"));
        };
        let code = code.trim();
        if !code.is_empty() && !codes.contains(&code) {
            codes.push(code);
        }
    }
    let book = lock(&state.orders);
    let data: Vec<OrderLogistics<'_>> = codes
        .iter()
        .filter_map(|code| book.by_number(code))
        .filter(|o| o.stage != Stage::NotShipped)
        .map(|o| OrderLogistics {
            order_code: &o.retail_order_no,
            delivery_record_code: o.delivery_record_code.as_deref().unwrap_or_default(),
            logistics_list: {
                // One line per waybill, with the serial numbers of the units in it.
                let mut lines: Vec<LogisticsLine<'_>> = Vec::new();
                for p in &o.parcels {
                    match lines.iter_mut().find(|l| l.exp_no == p.logistics_no) {
                        Some(line) => line.bar_codes.push(&p.sn_code),
                        None => lines.push(LogisticsLine {
                            logistics_code: crate::orders::carrier_code(p.logistics_company),
                            logistics_name: p.logistics_company,
                            exp_no: &p.logistics_no,
                            bar_codes: vec![&p.sn_code],
                        }),
                    }
                }
                lines
            },
        })
        .collect();
    wire::ok("成功", data)
}
