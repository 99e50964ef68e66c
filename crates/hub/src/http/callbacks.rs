//! `/callbacks/haier`: the supplier's signed callbacks. No bearer token: the signature
//! is the authentication.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haier::callback::CallbackReply;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::callbacks;

/// A callback as the supplier posts it (form-urlencoded by default, or a JSON object).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct HaierCallbackForm {
    /// The key the supplier was given; any other is refused.
    #[serde(rename = "AppKey")]
    pub app_key: String,
    /// When it was sent, `yyyyMMddHHmmss` in China time (UTC+8). Any age is accepted
    /// unless `[haier_callback] window_secs` is set; the clock skew is recorded.
    #[serde(rename = "TimeStamp")]
    #[schema(example = "20230912113528")]
    pub time_stamp: String,
    /// Upper-case hex MD5 of `secret + key1value1… + secret`, lower-cased, over every
    /// non-empty parameter but `Sign`, keys sorted.
    #[serde(rename = "Sign")]
    #[schema(example = "F1652582B10B3061C4A8981CD0D104ED")]
    pub sign: String,
    /// `hmm.scm_heorder.confirm`, `hmm.scm_heorder.cancel` or `hmm.scm_heorder.oostock`.
    #[serde(rename = "Method")]
    #[schema(example = "hmm.scm_heorder.confirm")]
    pub method: String,
    /// A JSON text: `ExtOrderNo` (the supplier's order number), `PlatformOrderNo` (our
    /// order number), `State` (1 ok, 0 failed, 2 partial; a number or a string),
    /// `FailMsg`, and for cancellations `itemList` (`productCode`, `totalQty`,
    /// `receiveQty`, `returnQty`, `rejectQty`).
    #[serde(rename = "Data")]
    #[schema(
        example = r#"{"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001","State":1}"#
    )]
    pub data: Option<String>,
}

/// The reply, in the supplier's envelope.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct HaierCallbackReply {
    /// True when the callback was taken (applied, a replay, or deliberately ignored).
    pub success: bool,
    /// `success`, `error` or `order_not_found`.
    pub code: String,
    /// `成功`, or why it was not taken.
    pub description: String,
    /// Our time, `yyyyMMddHHmmss` China time (in every reply).
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    /// `{statusCode: 200, message, platformOrderNo}`; on a refusal `statusCode` is the
    /// refusal's HTTP-like status and `message` its reason.
    pub data: HaierCallbackReplyData,
}

/// The `data` of a [`HaierCallbackReply`].
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct HaierCallbackReplyData {
    /// A number: 200 taken; 400 malformed, 401 refused (AppKey, signature, TimeStamp),
    /// 404 unknown order, 503 not configured.
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    /// `成功`, or why the callback was not taken.
    pub message: Option<String>,
    /// Our order number the callback was about.
    #[serde(rename = "platformOrderNo")]
    pub platform_order_no: Option<String>,
}

/// Receives a signed callback from the supplier (order confirmed, cancelled or
/// intercepted, out of stock).
///
/// Each callback is verified first (AppKey, MD5 signature, and the TimeStamp window when
/// one is configured); only a verified callback is stored (raw, for audit) and applied
/// to its order once: the same event sent again changes nothing and is answered with
/// success. Refused callbacks are counted and logged by cause, never stored. Every
/// callback is answered HTTP 200 with the vendor's envelope (protocol §0.4). An event that no longer fits the order (after a
/// cancellation, say) is recorded and answered with success, and never moves the order
/// back.
#[utoipa::path(post, path = "/callbacks/haier", operation_id = "haier_callback", tag = "callbacks",
    request_body(
        description = "The supplier's callback: a form (its default) or a JSON object",
        content(
            (HaierCallbackForm = "application/x-www-form-urlencoded"),
            (HaierCallbackForm = "application/json")
        )
    ),
    responses(
        (status = 200, description = "Taken (applied, replayed or ignored: `success` true), or refused (`success` false with the reason: malformed body or Data, unknown AppKey, bad signature, TimeStamp outside a configured window, unknown order or method, not configured)", body = HaierCallbackReply),
        (status = 500, description = "The store failed; the supplier should retry", body = HaierCallbackReply)
    ))]
pub async fn haier_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    // The credentials of the active supplier system (or the configuration) now.
    let supplier = state.supplier.current().await;
    match callbacks::receive(
        &state.db,
        supplier.callback.as_deref(),
        content_type.as_deref(),
        &body,
        jiff::Timestamp::now(),
    )
    .await
    {
        Ok(receipt) => (receipt.status, Json(receipt.reply)).into_response(),
        Err(e) => {
            tracing::error!(error = ?anyhow::Error::from(e), "supplier callback failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(CallbackReply::error("服务器内部错误")),
            )
                .into_response()
        }
    }
}
