//! Y4 `get-retail-order-delivery-img`: the delivery and installation photos of an order,
//! once it is delivered.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::wire::{self, Fields, codes};
use crate::clock::ChinaTime;
use crate::gateway::Reply;
use crate::state::{AppState, lock};

/// One photo as YLH lists it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhotoItem<'a> {
    img_url: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    upload_time: String,
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
        .map(|p| PhotoItem {
            img_url: &p.img_url,
            kind: p.kind,
            upload_time: ChinaTime::from_ms(p.uploaded_at).display(),
        })
        .collect();
    Ok(wire::ok("成功", photos))
}
