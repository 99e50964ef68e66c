//! H4: the logistics of an order (仓储/云仓, 智汇宝 and third-party carriers). The vendor
//! names the three lists but not their records; these carry node times and
//! descriptions, and the carrier and waybill number.

use serde::{Deserialize, Serialize};

use super::wire;
use crate::clock::ChinaTime;
use crate::config::credentials;
use crate::gateway::Reply;
use crate::orders::{Order, Stage, Status};
use crate::state::{AppState, lock};

/// The H4 request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    order_code: Option<String>,
    delivery_record_code: Option<String>,
    #[allow(
        dead_code,
        reason = "read for its type only: a member id must be a number"
    )]
    member_id: Option<i64>,
    seller_code: Option<String>,
    seller_password: Option<String>,
}

/// A warehouse node (`getAllLogisticsInfoByOrderCode`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Node<'a> {
    order_code: &'a str,
    delivery_record_code: Option<&'a str>,
    node_code: &'static str,
    node_name: &'static str,
    node_desc: String,
    operate_time: String,
}

/// A record of Haier's own delivery network (`getStockDeliveryLogisticsRecord`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnRecord<'a> {
    delivery_record_code: &'a str,
    logistics_status: &'static str,
    logistics_desc: &'static str,
    driver_name: &'static str,
    driver_phone: &'static str,
    create_time: String,
}

/// A third-party carrier trace (`getStockDeliveryLogisticsRecordThirdparty`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThirdpartyRecord<'a> {
    delivery_record_code: &'a str,
    logistics_company: &'a str,
    logistics_no: &'a str,
    trace_time: String,
    trace_desc: String,
}

/// H4's `data`.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    get_all_logistics_info_by_order_code: Vec<Node<'a>>,
    get_stock_delivery_logistics_record: Vec<OwnRecord<'a>>,
    get_stock_delivery_logistics_record_thirdparty: Vec<ThirdpartyRecord<'a>>,
}

/// The carrier of Haier's own network.
const OWN_CARRIER: &str = "日日顺物流";

fn time(ms: i64) -> String {
    ChinaTime::from_ms(ms).display()
}

fn data(order: &Order) -> Data<'_> {
    let code = order.retail_order_no.as_str();
    let record = order.delivery_record_code.as_deref();
    let mut d = Data::default();
    let node = |node_code, node_name, node_desc: String, at| Node {
        order_code: code,
        delivery_record_code: record,
        node_code,
        node_name,
        node_desc,
        operate_time: time(at),
    };
    d.get_all_logistics_info_by_order_code.push(node(
        "RECEIVED",
        "订单接收",
        "订单已接收，等待审核".to_owned(),
        order.received_at,
    ));
    if let Some(at) = order.decided_at
        && matches!(
            order.status,
            Status::Confirmed
                | Status::Shipped
                | Status::Delivered
                | Status::PartiallyCancelled
                | Status::CancelFailed
        )
    {
        d.get_all_logistics_info_by_order_code.push(node(
            "CONFIRMED",
            "订单审核",
            "订单已审核，仓库备货中".to_owned(),
            at,
        ));
    }
    let (Some(record), Some(shipped)) = (record, order.shipped_at) else {
        return d;
    };
    let parcel = order.parcels.first();
    let company = parcel.map_or(OWN_CARRIER, |p| p.logistics_company);
    let waybill = parcel.map_or("", |p| p.logistics_no.as_str());
    d.get_all_logistics_info_by_order_code.push(node(
        "OUTBOUND",
        "出库",
        format!("商品已出库，由{company}配送，运单号 {waybill}"),
        shipped,
    ));
    let delivered = (order.stage == Stage::Delivered)
        .then_some(order.delivered_at)
        .flatten();
    if let Some(at) = delivered {
        d.get_all_logistics_info_by_order_code.push(node(
            "SIGNED",
            "签收",
            "客户已签收".to_owned(),
            at,
        ));
    }
    if company == OWN_CARRIER {
        let own = |status, desc, at| OwnRecord {
            delivery_record_code: record,
            logistics_status: status,
            logistics_desc: desc,
            driver_name: "王师傅",
            driver_phone: "138****6021",
            create_time: time(at),
        };
        d.get_stock_delivery_logistics_record
            .push(own("DELIVERING", "配送中", shipped));
        if let Some(at) = delivered {
            d.get_stock_delivery_logistics_record
                .push(own("SIGNED", "已签收", at));
        }
    } else {
        let trace = |desc: String, at| ThirdpartyRecord {
            delivery_record_code: record,
            logistics_company: company,
            logistics_no: waybill,
            trace_time: time(at),
            trace_desc: desc,
        };
        d.get_stock_delivery_logistics_record_thirdparty
            .push(trace(format!("【{company}】已揽收"), shipped));
        if let Some(at) = delivered {
            d.get_stock_delivery_logistics_record_thirdparty
                .push(trace(format!("【{company}】已签收，签收人：本人"), at));
        }
    }
    d
}

/// The three lists for the order (empty for an unknown order or a delivery record
/// code that is not the order's).
pub(crate) fn handle(state: &AppState, req: Request) -> Reply {
    match answer(state, &req) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &AppState, req: &Request) -> Result<Reply, Reply> {
    let code = wire::required(&req.order_code, "orderCode")?;
    let seller = wire::required(&req.seller_code, "sellerCode")?;
    let password = wire::required(&req.seller_password, "sellerPassword")?;
    wire::check_customer(seller)?;
    wire::check_password(password, credentials::SELLER_PASSWORD, "客户密码")?;
    let record = req
        .delivery_record_code
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let book = lock(&state.orders);
    let order = book
        .by_number(code)
        .filter(|o| record.is_none() || o.delivery_record_code.as_deref() == record);
    Ok(wire::ok(order.map(data).unwrap_or_default()))
}
