//! Y3 `update-distribution-time`: new delivery and installation dates, which must be
//! given as 23:59:59 China time.

use std::sync::Arc;

use serde_json::Value;

use super::wire::{self, Fields, codes};
use crate::clock::{ChinaTime, now_ms};
use crate::gateway::Reply;
use crate::orders::{Stage, Status};
use crate::state::{AppState, lock};

/// The last second of a day.
const END_OF_DAY: u32 = 86_399;

/// Records the new times of a known, undelivered order.
pub(crate) fn handle(state: &Arc<AppState>, body: Value) -> Reply {
    match answer(state, &body) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &AppState, body: &Value) -> Result<Reply, Reply> {
    let f = Fields::new(wire::object(body)?);
    let number = f.string("retailOrderNo")?;
    let distribution = f.millis("distributionTime", false)?;
    let install = f.millis("installTime", false)?;
    if distribution.is_none() && install.is_none() {
        return Err(wire::error(
            codes::MISSING,
            "distributionTime 与 installTime 不能同时为空",
        ));
    }
    for (key, value) in [("distributionTime", distribution), ("installTime", install)] {
        if let Some(ms) = value {
            let t = ChinaTime::from_ms(ms);
            if t.second_of_day() != END_OF_DAY {
                return Err(wire::error(
                    codes::TIME_OF_DAY,
                    &format!("{key} 必须为当天 23:59:59（北京时间）: {}", t.display()),
                ));
            }
        }
    }
    let mut book = lock(&state.orders);
    let Some(order) = book.by_number_mut(number) else {
        return Err(wire::error(
            codes::NOT_FOUND,
            &format!("订单 {number} 不存在"),
        ));
    };
    if order.status.is_final()
        || order.status == Status::CancelRequested
        || order.stage == Stage::Delivered
    {
        return Err(wire::error(
            codes::STATE,
            &format!("订单 {number} 当前状态不允许改约"),
        ));
    }
    if distribution.is_some() {
        order.new.distribution_time = distribution;
    }
    if install.is_some() {
        order.new.install_time = install;
    }
    order.rescheduled_at = Some(now_ms());
    Ok(wire::accepted())
}
