//! Y2 `cancel-hmm-retail-order`: accepts a cancel request; the result comes later by
//! callback.

use std::sync::Arc;

use serde_json::Value;

use super::wire::{self, Fields, codes};
use crate::clock::now_ms;
use crate::config::credentials as c;
use crate::dispatch;
use crate::gateway::Reply;
use crate::orders::Status;
use crate::state::{AppState, lock};

/// Records the request and schedules its answer (`hmm.scm_heorder.cancel`).
pub(crate) fn handle(state: &Arc<AppState>, body: Value) -> Reply {
    match answer(state, &body) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &Arc<AppState>, body: &Value) -> Result<Reply, Reply> {
    let f = Fields::new(wire::object(body)?);
    let so_id = f.string("soId")?;
    let cancel_time = match f.value("cancelTime") {
        None => return Err(wire::error(codes::MISSING, "cancelTime 不能为空")),
        Some(Value::String(s)) => s.trim(),
        Some(_) => {
            return Err(wire::error(
                codes::FORMAT,
                "cancelTime 必须为字符串（毫秒时间戳）",
            ));
        }
    };
    if wire::millis_text(cancel_time).is_none() {
        return Err(wire::error(
            codes::FORMAT,
            &format!("cancelTime 必须为13位毫秒时间戳: {cancel_time}"),
        ));
    }
    let reason = f.string("cancelReason")?;
    let source_system = f.string("sourceSystem")?;
    if source_system != c::YLH_SOURCE_SYSTEM {
        return Err(wire::error(
            codes::UNKNOWN_PARTY,
            &format!("sourceSystem 订单来源未注册: {source_system}"),
        ));
    }
    let next = {
        let mut book = lock(&state.orders);
        let Some(order) = book.by_so_id(so_id) else {
            return Err(wire::error(
                codes::NOT_FOUND,
                &format!("子订单号 {so_id} 不存在"),
            ));
        };
        let refused = match order.status {
            Status::Rejected | Status::OutOfStock => Some("订单已被拒单或缺货关闭，无需取消"),
            Status::Cancelled => Some("订单已取消"),
            Status::CancelRequested => Some("取消申请处理中，请勿重复提交"),
            _ => None,
        };
        if let Some(why) = refused {
            return Err(wire::error(codes::STATE, &format!("soId {so_id}: {why}")));
        }
        book.request_cancel(so_id, reason.to_owned(), cancel_time.to_owned(), now_ms())
    };
    state.stats.cancel_received();
    dispatch::schedule(state, so_id, next);
    Ok(wire::accepted())
}
