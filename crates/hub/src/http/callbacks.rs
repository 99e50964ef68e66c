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
    /// When it was sent, `yyyyMMddHHmmss` in China time (UTC+8); must be within the
    /// configured window (default ±300 s) of our clock.
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
    /// Our time, `yyyyMMddHHmmss` China time (success only).
    #[serde(rename = "timeStamp")]
    pub time_stamp: Option<String>,
    /// `{statusCode: "200", message, platformOrderNo}` on success, `{}` otherwise.
    pub data: HaierCallbackReplyData,
}

/// The `data` of a [`HaierCallbackReply`]; empty on errors.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct HaierCallbackReplyData {
    /// `"200"`.
    #[serde(rename = "statusCode")]
    pub status_code: Option<String>,
    /// `成功`.
    pub message: Option<String>,
    /// Our order number the callback was about.
    #[serde(rename = "platformOrderNo")]
    pub platform_order_no: Option<String>,
}

/// Receives a signed callback from the supplier (order confirmed, cancelled or
/// intercepted, out of stock).
///
/// Each callback is kept raw for audit, verified (AppKey, MD5 signature, TimeStamp
/// window), then applied to its order once: the same event sent again changes nothing
/// and is answered with success. An event that no longer fits the order (after a
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
        (status = 200, description = "Taken (applied, replayed or ignored: `success` true), or an unknown order (`order_not_found`) or method (`error`)", body = HaierCallbackReply),
        (status = 400, description = "A malformed body or Data", body = HaierCallbackReply),
        (status = 401, description = "Refused: unknown AppKey, bad signature, or TimeStamp outside the window", body = HaierCallbackReply),
        (status = 500, description = "The store failed; the supplier should retry", body = HaierCallbackReply),
        (status = 503, description = "Callbacks are not configured", body = HaierCallbackReply)
    ))]
pub async fn haier_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match callbacks::receive(
        &state.db,
        state.callback.as_deref(),
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
