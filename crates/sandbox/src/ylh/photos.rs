//! Y4 `get-retail-order-delivery-img`: the delivery and installation photos of an order,
//! once it is delivered.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::wire::{self, Fields, codes};
use crate::gateway::Reply;
use crate::state::{AppState, lock};

/// One delivery record's photos, as the vendor's document v1.0.10 gives Y4's `data[]`
/// (protocol §0.3).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhotoRecord<'a> {
    order_no: &'a str,
    order_code: &'a str,
    ylh_order_code: &'a str,
    sn_no: &'a str,
    photos_delivery_list: Vec<PhotoItem<'a>>,
}

/// One photo of a record (`photosDeliveryList[]`): `scene` 1 delivery, 2 installation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhotoItem<'a> {
    img_desc: &'static str,
    img_url: &'a str,
    row_id: u64,
    scene: u8,
}

/// The photos of a known order (an empty list before delivery).
pub(crate) fn handle(state: &Arc<AppState>, body: Value) -> Reply {
    match answer(state, &body) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &AppState, body: &Value) -> Result<Reply, Reply> {
    let f = Fields::new(wire::object(body)?);
    let number = f.string("orderNo")?;
    let book = lock(&state.orders);
    let Some(order) = book.by_number(number) else {
        return Err(wire::error(
            codes::NOT_FOUND,
            &format!("订单 {number} 不存在"),
        ));
    };
    let photos: Vec<PhotoItem<'_>> = order
        .photos
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let install = p.kind == "install";
            PhotoItem {
                img_desc: if install {
                    "安装照片"
                } else {
                    "送货照片"
                },
                img_url: &p.img_url,
                row_id: p.uploaded_at.unsigned_abs() * 10 + i as u64,
                scene: if install { 2 } else { 1 },
            }
        })
        .collect();
    let records = match (photos.is_empty(), order.delivery_record_code.as_deref()) {
        (false, Some(record)) => vec![PhotoRecord {
            order_no: &order.retail_order_no,
            order_code: record,
            ylh_order_code: record,
            sn_no: order
                .parcels
                .first()
                .map(|p| p.sn_code.as_str())
                .unwrap_or_default(),
            photos_delivery_list: photos,
        }],
        _ => Vec::new(),
    };
    Ok(wire::ok("成功", records))
}
