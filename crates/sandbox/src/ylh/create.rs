//! Y1 `receive-hmm-retail-order`, as the vendor's document v1.0.10 describes it
//! (protocol §0.3): the push refuses only a repeated `soId` and missing (or malformed)
//! required fields, and answers `data: true` and nothing else. The product, the price
//! and the customer are checked afterwards: an order that fails them is accepted here
//! and refused by its confirm callback (`State` 0 with `FailMsg`). The supplier's order
//! number reaches the retailer only as `ExtOrderNo` in callbacks.

use std::sync::Arc;

use serde_json::Value;

use super::wire::{self, Fields, codes};
use crate::clock::now_ms;
use crate::config::credentials as c;
use crate::dispatch;
use crate::gateway::Reply;
use crate::money::Money;
use crate::orders::{Item, NewOrder, Order};
use crate::state::{AppState, lock, read};

/// The most lines one order may have.
const MAX_LINES: usize = 200;
/// The most units one line may have.
const MAX_QTY: i64 = 9999;

/// The refusal of a repeated `soId`: `success: false` with the configured `errorMsg`
/// (`{soId}` replaced), `data: null`. The vendor's document does not show this reply,
/// so its wording is a setting: a client must not depend on one text.
fn duplicate(state: &AppState, existing: &Order) -> Reply {
    state.stats.duplicate_refused();
    let text = read(&state.order_settings)
        .duplicate_message
        .replace("{soId}", &existing.so_id);
    wire::error(codes::DUPLICATE_SO_ID, &text)
}

/// Records an order and answers `data: true`; refuses a known `soId`; answers a missing
/// or malformed required field as a business error naming it. An unknown product, a
/// wrong price or an unknown customer is accepted and refused later by callback.
pub(crate) fn handle(state: &Arc<AppState>, body: Value) -> Reply {
    match answer(state, &body) {
        Ok(r) | Err(r) => r,
    }
}

fn answer(state: &Arc<AppState>, body: &Value) -> Result<Reply, Reply> {
    let f = Fields::new(wire::object(body)?);
    let so_id = f.string("soId")?;
    if let Some(existing) = lock(&state.orders).by_so_id(so_id) {
        return Err(duplicate(state, existing));
    }
    let new = validate(state, &f, so_id, body)?;
    let now = now_ms();
    let (reply, next) = {
        let mut book = lock(&state.orders);
        match book.insert(new, now) {
            Err(existing) => return Err(duplicate(state, existing)),
            Ok(order) => (wire::accepted(), order.next),
        }
    };
    state.stats.order_received();
    tracing::debug!(%so_id, "order received");
    dispatch::schedule(state, so_id, next);
    Ok(reply)
}

fn validate(
    state: &AppState,
    f: &Fields<'_>,
    so_id: &str,
    body: &Value,
) -> Result<NewOrder, Reply> {
    let source_system = f.string("sourceSystem")?;
    f.string("shopName")?;
    let seller = f.string("sellerCode")?;
    f.string("consigneeName")?;
    let mobile = f.string("consigneeMobile")?;
    let online_no = f.string("onlineNo")?;
    for key in ["province", "city", "area", "detailAddress"] {
        f.string(key)?;
    }
    f.opt_string("town")?;
    f.opt_string("remark")?;
    // `sourceSystem` is the caller's own registration: an unknown one is refused at
    // once (the vendor is silent; the sandbox is strict).
    if source_system != c::YLH_SOURCE_SYSTEM {
        return Err(wire::error(
            codes::UNKNOWN_PARTY,
            &format!("sourceSystem 订单来源未注册: {source_system}"),
        ));
    }
    // Checked after the push, reported by the confirm callback.
    let mut late = Vec::new();
    if seller != c::CUSTOMER_CODE {
        late.push(format!("sellerCode 客户编码不存在: {seller}"));
    }
    if mobile.len() != 11 || !mobile.bytes().all(|b| b.is_ascii_digit()) {
        return Err(wire::error(
            codes::FORMAT,
            &format!("consigneeMobile 必须为11位手机号: {mobile}"),
        ));
    }
    let total_qty = f.integer("totalQty")?;
    let total_amt = f.amount("totalAmt")?;
    let create_time = f.millis("createTime", true)?.unwrap_or_default();
    let distribution_time = f.millis("distributionTime", false)?;
    let install_time = f.millis("installTime", false)?;
    let delivery_install = f.bool_text("deliveryInstall")?;
    f.opt_bool("governmentOrder")?;
    let items = items(state, f, &mut late)?;

    let qty_sum: i64 = items.iter().map(|i| i64::from(i.item_qty)).sum();
    if total_qty != qty_sum {
        late.push(format!(
            "totalQty 与明细 itemQty 之和不符: {total_qty} ≠ {qty_sum}"
        ));
    }
    let amt_sum = Money(
        items
            .iter()
            .map(|i| i.actual_price.0 * i64::from(i.item_qty))
            .sum(),
    );
    if total_amt != amt_sum {
        late.push(format!(
            "totalAmt 与明细 actualPrice × itemQty 之和不符: {total_amt} ≠ {amt_sum}"
        ));
    }
    // `FailMsg` holds at most 100 characters.
    let late_refusal = (!late.is_empty()).then(|| late.join("; ").chars().take(100).collect());
    Ok(NewOrder {
        so_id: so_id.to_owned(),
        online_no: online_no.to_owned(),
        source_system: source_system.to_owned(),
        items,
        total_qty: qty_sum.unsigned_abs(),
        total_amt,
        create_time,
        distribution_time,
        install_time,
        delivery_install,
        payload: body.clone(),
        late_refusal,
    })
}

fn items(state: &AppState, f: &Fields<'_>, late: &mut Vec<String>) -> Result<Vec<Item>, Reply> {
    let list = match f.value("itemList") {
        None => return Err(wire::error(codes::MISSING, "itemList 不能为空")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(wire::error(codes::FORMAT, "itemList 必须为数组")),
    };
    if list.is_empty() {
        return Err(wire::error(codes::MISSING, "itemList 不能为空"));
    }
    if list.len() > MAX_LINES {
        return Err(wire::error(
            codes::FORMAT,
            &format!("itemList 最多 {MAX_LINES} 行，实际 {} 行", list.len()),
        ));
    }
    let mut items = Vec::with_capacity(list.len());
    for (i, line) in list.iter().enumerate() {
        let prefix = format!("itemList[{i}]");
        let Some(map) = line.as_object() else {
            return Err(wire::error(codes::FORMAT, &format!("{prefix} 必须为对象")));
        };
        let f = Fields::nested(map, prefix);
        let code = f.string("productCode")?;
        let qty = f.integer("itemQty")?;
        let retail = f.amount("retailPrice")?;
        let discount = f.amount("discountAmount")?;
        let actual = f.amount("actualPrice")?;
        let is_gift = f.opt_bool("isGift")?.unwrap_or(false);
        if read(&state.catalog).get(code).is_none() {
            late.push(format!("{} 商品不存在: {code}", f.name("productCode")));
        }
        if !(1..=MAX_QTY).contains(&qty) {
            return Err(wire::error(
                codes::FORMAT,
                &format!("{} 必须在 1 到 {MAX_QTY} 之间: {qty}", f.name("itemQty")),
            ));
        }
        if actual.0 != retail.0 - discount.0 {
            late.push(format!(
                "{} 必须等于 retailPrice − discountAmount（单件优惠）: {actual} ≠ {retail} − {discount}",
                f.name("actualPrice")
            ));
        }
        items.push(Item {
            product_code: code.to_owned(),
            item_qty: qty as u32,
            retail_price: retail,
            discount_amount: discount,
            actual_price: actual,
            is_gift,
            cancelled_qty: 0,
        });
    }
    Ok(items)
}
