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

/// A tracking state of an outbound shipment (`deliveryLogisticsDtos[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct State {
    state_code: &'static str,
    state_time: String,
    state_description: String,
}

/// An outbound shipment (`getStoreOutboundLogisticsInfoResultDto[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Outbound<'a> {
    id: u64,
    logistics_company_name: &'a str,
    exp_no: &'a str,
    exp_no_list: Vec<&'a str>,
    delivery_contact: &'static str,
    delivery_phone: &'static str,
    vehicle_information: &'static str,
    record_code: &'a str,
    order_status: &'static str,
    order_status_name: &'static str,
    order_code: &'a str,
    delivery_logistics_dtos: Vec<State>,
    logistics_url: String,
    barcodes: Vec<&'a str>,
    send_date: String,
}

/// One line of goods (`deliveryRecordDetailDtoList[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    item_name: &'a str,
    item_model: &'a str,
    item_unit: &'static str,
    shipping_qty: u32,
    item_picture_url: String,
}

/// A delivery (`getAllLogisticsInfoByOrderCode[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Delivery<'a> {
    delivery_record_code: &'a str,
    delivery_create_time: String,
    /// C: B2C.
    delivery_model: &'static str,
    is_tranfer: &'static str,
    get_store_outbound_logistics_info_result_dto: Vec<Outbound<'a>>,
    delivery_record_detail_dto_list: Vec<Item<'a>>,
}

/// A node of Haier's own delivery network (智汇宝 `logisticsInfo[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnNode {
    vehicle_information: &'static str,
    delivery_contact: &'static str,
    delivery_phone: &'static str,
    status_code: &'static str,
    state_time: String,
    state_description: &'static str,
    state_name: &'static str,
    create_time: String,
}

/// A record of Haier's own delivery network (`getStockDeliveryLogisticsRecord[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnRecord<'a> {
    logistics_code: &'a str,
    delivery_record_code: &'a str,
    logistics_info: Vec<OwnNode>,
    delivery_record_detail_dto_list: Vec<Item<'a>>,
    item_picture_url: String,
}

/// A courier node (`logisticsInfo[]` of `logisticsNoList[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CourierNode {
    node_name: &'static str,
    context: String,
    state_time: String,
}

/// A courier shipment (`logisticsNoList[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CourierShipment<'a> {
    logistics_no: &'a str,
    logistics_name: &'a str,
    logistics_info: Vec<CourierNode>,
}

/// A third-party courier record (`getStockDeliveryLogisticsRecordThirdparty[]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThirdpartyRecord<'a> {
    delivery_record_code: &'a str,
    logistics_no_list: Vec<CourierShipment<'a>>,
    delivery_record_detail_dto_list: Vec<Item<'a>>,
}

/// H4's `data`, with the inner records of the vendor's document v1.0.10 (protocol
/// §0.2).
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    get_all_logistics_info_by_order_code: Vec<Delivery<'a>>,
    get_stock_delivery_logistics_record: Vec<OwnRecord<'a>>,
    get_stock_delivery_logistics_record_thirdparty: Vec<ThirdpartyRecord<'a>>,
}

/// The carrier of Haier's own network.
const OWN_CARRIER: &str = "日日顺物流";

fn time(ms: i64) -> String {
    ChinaTime::from_ms(ms).display()
}

fn data(order: &Order) -> Data<'_> {
    let mut d = Data::default();
    let (Some(record), Some(shipped)) = (order.delivery_record_code.as_deref(), order.shipped_at)
    else {
        return d;
    };
    let code = order.retail_order_no.as_str();
    let parcel = order.parcels.first();
    let company = parcel.map_or(OWN_CARRIER, |p| p.logistics_company);
    let waybill = parcel.map_or("", |p| p.logistics_no.as_str());
    let delivered = (order.stage == Stage::Delivered)
        .then_some(order.delivered_at)
        .flatten();
    let items = || -> Vec<Item<'_>> {
        order
            .new
            .items
            .iter()
            .filter(|i| i.item_qty > i.cancelled_qty)
            .map(|i| Item {
                item_name: &i.product_code,
                item_model: &i.product_code,
                item_unit: "台",
                shipping_qty: i.item_qty - i.cancelled_qty,
                item_picture_url: format!(
                    "https://img.haier-sandbox.invalid/{}.jpg",
                    i.product_code
                ),
            })
            .collect()
    };
    let mut states = Vec::new();
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
        states.push(State {
            state_code: "CONFIRMED",
            state_time: time(at),
            state_description: "订单已审核，仓库备货中".to_owned(),
        });
    }
    states.push(State {
        state_code: "OUTBOUND",
        state_time: time(shipped),
        state_description: format!("商品已出库，由{company}配送，运单号 {waybill}"),
    });
    if let Some(at) = delivered {
        states.push(State {
            state_code: "DELIVERED",
            state_time: time(at),
            state_description: "客户已签收".to_owned(),
        });
    }
    let (status, status_name) = if delivered.is_some() {
        ("40", "已签收")
    } else {
        ("30", "配送中")
    };
    d.get_all_logistics_info_by_order_code.push(Delivery {
        delivery_record_code: record,
        delivery_create_time: time(shipped),
        delivery_model: "C",
        is_tranfer: "0",
        get_store_outbound_logistics_info_result_dto: vec![Outbound {
            id: shipped.unsigned_abs(),
            logistics_company_name: company,
            exp_no: waybill,
            exp_no_list: order.parcels.iter().map(|p| p.logistics_no.as_str()).fold(
                Vec::new(),
                |mut v, n| {
                    if !v.contains(&n) {
                        v.push(n);
                    }
                    v
                },
            ),
            delivery_contact: "王师傅",
            delivery_phone: "138****6021",
            vehicle_information: "苏A·D6021",
            record_code: record,
            order_status: status,
            order_status_name: status_name,
            order_code: code,
            delivery_logistics_dtos: states,
            logistics_url: format!("https://track.haier-sandbox.invalid/{waybill}"),
            barcodes: order.parcels.iter().map(|p| p.sn_code.as_str()).collect(),
            send_date: time(shipped).chars().take(10).collect(),
        }],
        delivery_record_detail_dto_list: items(),
    });
    if company == OWN_CARRIER {
        let node = |status, desc, name, at| OwnNode {
            vehicle_information: "苏A·D6021",
            delivery_contact: "王师傅",
            delivery_phone: "138****6021",
            status_code: status,
            state_time: time(at),
            state_description: desc,
            state_name: name,
            create_time: time(at),
        };
        let mut nodes = vec![node("DELIVERING", "商品配送中", "配送中", shipped)];
        if let Some(at) = delivered {
            nodes.push(node("SIGNED", "客户已签收", "已签收", at));
        }
        d.get_stock_delivery_logistics_record.push(OwnRecord {
            logistics_code: waybill,
            delivery_record_code: record,
            logistics_info: nodes,
            delivery_record_detail_dto_list: items(),
            item_picture_url: format!("https://img.haier-sandbox.invalid/{record}.jpg"),
        });
    } else {
        let mut nodes = vec![CourierNode {
            node_name: "揽收",
            context: format!("【{company}】已揽收"),
            state_time: time(shipped),
        }];
        if let Some(at) = delivered {
            nodes.push(CourierNode {
                node_name: "签收",
                context: format!("【{company}】已签收，签收人：本人"),
                state_time: time(at),
            });
        }
        d.get_stock_delivery_logistics_record_thirdparty
            .push(ThirdpartyRecord {
                delivery_record_code: record,
                logistics_no_list: vec![CourierShipment {
                    logistics_no: waybill,
                    logistics_name: company,
                    logistics_info: nodes,
                }],
                delivery_record_detail_dto_list: items(),
            });
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
