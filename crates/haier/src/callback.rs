//! Inbound callbacks from Haier (protocol §3): reading the request,
//! checking it, reading its `Data`, and building the reply.
//!
//! Haier posts, form-urlencoded in UTF-8 (a JSON object is accepted too):
//!
//! | field       | content                                                   |
//! |-------------|-----------------------------------------------------------|
//! | `AppKey`    | the key Haier gave us                                     |
//! | `TimeStamp` | `yyyyMMddHHmmss`, China time (UTC+8)                      |
//! | `Sign`      | 32 hex digits, see [`crate::sign`]                        |
//! | `Method`    | `hmm.scm_heorder.confirm`, `.cancel` or `.oostock`        |
//! | `Data`      | a JSON **string**: see [`CallbackData`] (optional)        |
//!
//! A receiver reads the body with [`CallbackRequest::from_form`] (or
//! [`from_json`](CallbackRequest::from_json)), checks it with
//! [`CallbackRequest::verify`], reads [`CallbackRequest::parse_data`],
//! routes by [`CallbackRequest::method`], and answers HTTP 200 with a
//! [`CallbackReply`]. The sign covers every received parameter with a
//! non-empty value except `Sign`, so the request keeps them all.
//!
//! A sender (a simulator) signs with [`sign_callback_form`].

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::sign::{SIGN_PARAM, callback_sign, verify_callback_sign};
use crate::wire;
use crate::ylh::types::CHINA_OFFSET;

/// The `AppKey` parameter.
pub const APP_KEY_PARAM: &str = "AppKey";
/// The `TimeStamp` parameter.
pub const TIMESTAMP_PARAM: &str = "TimeStamp";
/// The `Method` parameter.
pub const METHOD_PARAM: &str = "Method";
/// The `Data` parameter.
pub const DATA_PARAM: &str = "Data";

/// The default tolerance between `TimeStamp` and our clock: ±5 minutes.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// The parameters a callback may carry only once.
const KNOWN_PARAMS: [&str; 5] = [
    APP_KEY_PARAM,
    TIMESTAMP_PARAM,
    SIGN_PARAM,
    METHOD_PARAM,
    DATA_PARAM,
];

/// What a callback reports (`Method`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallbackMethod {
    /// `hmm.scm_heorder.confirm`: Haier accepted (or failed) our order.
    Confirm,
    /// `hmm.scm_heorder.cancel`: a cancellation, interception or rejection
    /// (Haier may send one we never asked for).
    Cancel,
    /// `hmm.scm_heorder.oostock`: out of stock.
    OutOfStock,
    /// Any other method, as received.
    Unknown(String),
}

impl CallbackMethod {
    /// `Method` of a confirmation.
    pub const CONFIRM: &'static str = "hmm.scm_heorder.confirm";
    /// `Method` of a cancellation.
    pub const CANCEL: &'static str = "hmm.scm_heorder.cancel";
    /// `Method` of an out-of-stock report.
    pub const OUT_OF_STOCK: &'static str = "hmm.scm_heorder.oostock";

    /// Reads a `Method` value (exact, case-sensitive).
    pub fn parse(method: &str) -> Self {
        match method {
            Self::CONFIRM => CallbackMethod::Confirm,
            Self::CANCEL => CallbackMethod::Cancel,
            Self::OUT_OF_STOCK => CallbackMethod::OutOfStock,
            other => CallbackMethod::Unknown(other.to_owned()),
        }
    }

    /// The `Method` value.
    pub fn as_str(&self) -> &str {
        match self {
            CallbackMethod::Confirm => Self::CONFIRM,
            CallbackMethod::Cancel => Self::CANCEL,
            CallbackMethod::OutOfStock => Self::OUT_OF_STOCK,
            CallbackMethod::Unknown(other) => other,
        }
    }
}

impl fmt::Display for CallbackMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a callback is refused. Each cause has its own variant, so that a
/// receiver can count them apart; [`reply`](Self::reply) gives the answer
/// to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The body is not a form or a JSON object, or repeats a parameter.
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// A required parameter (`AppKey`, `TimeStamp`, `Sign`, `Method`) is
    /// missing or blank.
    #[error("callback parameter {0} is missing or empty")]
    Missing(&'static str),
    /// `AppKey` is not ours.
    #[error("unknown AppKey {0:?}")]
    UnknownAppKey(String),
    /// `Sign` does not match the parameters under our secret.
    #[error("callback signature does not match")]
    BadSignature,
    /// `TimeStamp` is not a valid `yyyyMMddHHmmss`.
    #[error("TimeStamp {0:?} is not yyyyMMddHHmmss")]
    BadTimestamp(String),
    /// `TimeStamp` is further from our clock than the window allows (a
    /// replay, or a clock far off).
    #[error("TimeStamp {timestamp} is {skew_secs} s from now, outside ±{window_secs} s")]
    Stale {
        /// The received `TimeStamp`.
        timestamp: String,
        /// `TimeStamp − now` in seconds (negative: in the past).
        skew_secs: i64,
        /// The window, in seconds.
        window_secs: u64,
    },
    /// `Data` is not the JSON the protocol describes (including a `State`
    /// other than 0, 1 and 2).
    #[error("callback Data: {0}")]
    BadData(String),
}

impl CallbackError {
    /// The error reply for this refusal (`code` "error", a Chinese
    /// `description`).
    pub fn reply(&self) -> CallbackReply {
        let description = match self {
            CallbackError::Malformed(_) => "请求格式错误".to_owned(),
            CallbackError::Missing(name) => format!("缺少参数: {name}"),
            CallbackError::UnknownAppKey(_) => "AppKey无效".to_owned(),
            CallbackError::BadSignature => "签名验证失败".to_owned(),
            CallbackError::BadTimestamp(_) => "时间戳格式错误".to_owned(),
            CallbackError::Stale { .. } => "时间戳超出有效期".to_owned(),
            CallbackError::BadData(_) => "Data格式错误".to_owned(),
        };
        CallbackReply::error(description).with_status(self.status())
    }

    /// The HTTP-like status of the refusal, for `data.statusCode` of the
    /// reply: 401 for a refused credential, signature or time, 400 for a
    /// malformed request.
    pub fn status(&self) -> u32 {
        match self {
            CallbackError::UnknownAppKey(_)
            | CallbackError::BadSignature
            | CallbackError::Stale { .. } => 401,
            CallbackError::Malformed(_)
            | CallbackError::Missing(_)
            | CallbackError::BadTimestamp(_)
            | CallbackError::BadData(_) => 400,
        }
    }

    /// A short stable label of the cause, for counters and logs (never the
    /// received values).
    pub fn kind(&self) -> &'static str {
        match self {
            CallbackError::Malformed(_) => "malformed",
            CallbackError::Missing(_) => "missing_parameter",
            CallbackError::UnknownAppKey(_) => "unknown_app_key",
            CallbackError::BadSignature => "bad_signature",
            CallbackError::BadTimestamp(_) => "bad_timestamp",
            CallbackError::Stale { .. } => "stale",
            CallbackError::BadData(_) => "bad_data",
        }
    }
}

/// One inbound callback, as received.
///
/// The named fields are the protocol's parameters; every received parameter
/// is also kept, in arrival order, for the signature
/// ([`params`](Self::params)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRequest {
    /// `AppKey`.
    pub app_key: String,
    /// `TimeStamp`, as received (`yyyyMMddHHmmss`, China time).
    pub timestamp: String,
    /// `Sign`, as received.
    pub sign: String,
    /// `Method`.
    pub method: CallbackMethod,
    /// `Data`: the JSON text, if present and not blank. See
    /// [`parse_data`](Self::parse_data).
    pub data: Option<String>,
    params: Vec<(String, String)>,
}

impl CallbackRequest {
    /// Reads a form-urlencoded body (`AppKey=…&TimeStamp=…&…`).
    ///
    /// Fails if a required parameter is missing or blank, or if one of the
    /// protocol's parameters appears twice.
    pub fn from_form(body: &[u8]) -> Result<Self, CallbackError> {
        let params = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self::from_params(params)
    }

    /// Reads a JSON object body (`{"AppKey":"…","TimeStamp":"…",…}`).
    ///
    /// String values are taken as they are; a number keeps its exact text,
    /// a boolean is `true`/`false`, `null` counts as absent, and an object or
    /// list (a `Data` sent as JSON rather than as a string) is taken as its
    /// exact JSON text as received (and signed as such).
    pub fn from_json(body: &[u8]) -> Result<Self, CallbackError> {
        let pairs: JsonParams = serde_json::from_slice(body)
            .map_err(|e| CallbackError::Malformed(format!("not a JSON object: {e}")))?;
        let mut params = Vec::with_capacity(pairs.0.len());
        for (key, raw) in pairs.0 {
            let text = raw.get();
            let value = match text.as_bytes().first() {
                Some(b'"') => serde_json::from_str::<String>(text)
                    .map_err(|e| CallbackError::Malformed(e.to_string()))?,
                Some(b'n') => continue,
                _ => text.to_owned(),
            };
            params.push((key, value));
        }
        Self::from_params(params)
    }

    /// Builds a request from parameters in arrival order (any other
    /// transport's fields).
    pub fn from_params(params: Vec<(String, String)>) -> Result<Self, CallbackError> {
        for name in KNOWN_PARAMS {
            if params.iter().filter(|(k, _)| k == name).count() > 1 {
                return Err(CallbackError::Malformed(format!(
                    "parameter {name} appears more than once"
                )));
            }
        }
        let get = |name: &'static str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.trim().is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(CallbackError::Missing(name));
        let app_key = required(APP_KEY_PARAM)?.to_owned();
        let timestamp = required(TIMESTAMP_PARAM)?.to_owned();
        let method = CallbackMethod::parse(required(METHOD_PARAM)?);
        let sign = required(SIGN_PARAM)?.to_owned();
        let data = get(DATA_PARAM).map(str::to_owned);
        Ok(Self {
            app_key,
            timestamp,
            sign,
            method,
            data,
            params,
        })
    }

    /// Every received parameter, `Sign` included, in arrival order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// Checks, in this order: `AppKey` is `app_key_expected`
    /// ([`CallbackError::UnknownAppKey`]); `Sign` matches all received
    /// parameters under `secret`, compared in constant time
    /// ([`CallbackError::BadSignature`]); `TimeStamp` is a valid
    /// `yyyyMMddHHmmss` in China time ([`CallbackError::BadTimestamp`])
    /// and, when a `window` is given, within it of `now` either way
    /// ([`CallbackError::Stale`]; [`DEFAULT_WINDOW`] is ±5 minutes).
    ///
    /// The vendor documents no window and no time zone (protocol §0.4), and
    /// a supplier that re-sends an old callback would lose that event for
    /// ever, so `None` (no window) is the receiver's default; callbacks must
    /// be applied idempotently either way.
    ///
    /// On success, returns the clock skew in seconds: `TimeStamp` read as
    /// China time minus `now` (positive when the sender's clock is ahead).
    pub fn verify(
        &self,
        app_key_expected: &str,
        secret: &str,
        now: Timestamp,
        window: Option<Duration>,
    ) -> Result<i64, CallbackError> {
        if self.app_key != app_key_expected {
            return Err(CallbackError::UnknownAppKey(
                self.app_key.chars().take(64).collect(),
            ));
        }
        let params = self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        if !verify_callback_sign(params, secret, &self.sign) {
            return Err(CallbackError::BadSignature);
        }
        let sent = parse_timestamp(&self.timestamp).ok_or_else(|| {
            CallbackError::BadTimestamp(self.timestamp.chars().take(32).collect())
        })?;
        let skew_ms = sent.as_millisecond().saturating_sub(now.as_millisecond());
        if let Some(window) = window {
            let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
            if skew_ms.unsigned_abs() > window_ms.unsigned_abs() {
                return Err(CallbackError::Stale {
                    timestamp: self.timestamp.clone(),
                    skew_secs: skew_ms / 1000,
                    window_secs: window.as_secs(),
                });
            }
        }
        Ok(skew_ms / 1000)
    }

    /// `Data` read as [`CallbackData`]; `Ok(None)` if the request has no
    /// `Data`.
    pub fn parse_data(&self) -> Result<Option<CallbackData>, CallbackError> {
        self.data.as_deref().map(CallbackData::parse).transpose()
    }
}

/// A JSON object's members in order, values as their raw JSON text.
struct JsonParams(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for JsonParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = JsonParams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonParams, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    out.push(entry);
                }
                Ok(JsonParams(out))
            }
        }
        d.deserialize_map(Members)
    }
}

/// The outcome a callback reports (`State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackState {
    /// `1`: done (confirmed, cancelled, …).
    Ok,
    /// `0`: failed (see `FailMsg`).
    Failed,
    /// `2`: partly done (a partial cancellation; see `itemList`).
    Partial,
}

impl CallbackState {
    /// The wire value: 1, 0 or 2.
    pub fn code(self) -> u8 {
        match self {
            CallbackState::Ok => 1,
            CallbackState::Failed => 0,
            CallbackState::Partial => 2,
        }
    }
}

impl Serialize for CallbackState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for CallbackState {
    /// A number or a string: `1`/`"1"`, `0`/`"0"`, `2`/`"2"` (surrounding
    /// spaces ignored); anything else is an error.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let text = wire::text::deserialize(d)?;
        match text.as_deref().map(str::trim) {
            Some("1") => Ok(CallbackState::Ok),
            Some("0") => Ok(CallbackState::Failed),
            Some("2") => Ok(CallbackState::Partial),
            Some(other) => Err(D::Error::custom(format!(
                "State must be 0, 1 or 2, got {:?}",
                other.chars().take(16).collect::<String>()
            ))),
            None => Err(D::Error::custom("State is null")),
        }
    }
}

/// The `Data` of a callback, parsed from its JSON text.
///
/// ```json
/// {"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001",
///  "State":1,"FailMsg":"…","itemList":[…]}
/// ```
///
/// Serializing writes the same names (absent ones left out, `State` as a
/// number), which gives the vendor's test vector for its example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackData {
    /// `ExtOrderNo`: Haier's order number (the vendor requires it on
    /// success).
    #[serde(
        rename = "ExtOrderNo",
        default,
        with = "wire::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ext_order_no: Option<String>,
    /// `PlatformOrderNo`: our order number.
    #[serde(
        rename = "PlatformOrderNo",
        default,
        with = "wire::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub platform_order_no: Option<String>,
    /// `State`: 1 ok, 0 failed, 2 partial; a number or a numeric string.
    #[serde(rename = "State")]
    pub state: CallbackState,
    /// `FailMsg`: why it failed (at most 100 characters by the vendor). The
    /// vendor's out-of-stock example spells it `failMsg`: both are read.
    #[serde(
        rename = "FailMsg",
        alias = "failMsg",
        default,
        with = "wire::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub fail_msg: Option<String>,
    /// `itemList` (cancellations, later vendor revision): per-product
    /// quantities; empty if absent.
    #[serde(
        rename = "itemList",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub item_list: Vec<CallbackItem>,
}

impl CallbackData {
    /// Parses `Data`'s JSON text.
    pub fn parse(json: &str) -> Result<Self, CallbackError> {
        serde_json::from_str(json).map_err(|e| CallbackError::BadData(e.to_string()))
    }

    /// The JSON text to send as `Data`.
    pub fn to_json(&self) -> String {
        // Only strings, integers and lists: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One product of a cancellation callback (`itemList[]`). Quantities are
/// integers, also read from strings of digits; absent ones are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackItem {
    /// `productCode`.
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    /// `totalQty`: units ordered.
    #[serde(
        default,
        with = "wire::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_qty: Option<u32>,
    /// `receiveQty`: units signed for by the customer.
    #[serde(
        default,
        with = "wire::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub receive_qty: Option<u32>,
    /// `returnQty`: units returned (at most `receiveQty`).
    #[serde(
        default,
        with = "wire::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub return_qty: Option<u32>,
    /// `rejectQty`: units rejected or intercepted.
    #[serde(
        default,
        with = "wire::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub reject_qty: Option<u32>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Our answer to a callback, always sent with HTTP 200, in the shape of the
/// vendor's document v1.0.9+ (protocol §0.4):
///
/// - success: `{"success":true,"code":"success","description":"成功",
///   "timeStamp":"yyyyMMddHHmmss","data":{"statusCode":200,"message":"成功",
///   "platformOrderNo":…}}`
/// - refusal: `{"success":false,"code":"error","description":<why>,
///   "timeStamp":…,"data":{"statusCode":<400, 401, 404, 503…>,"message":<why>}}`
///   (or code `"order_not_found"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackReply {
    /// `success`.
    pub success: bool,
    /// `code`: "success", "error" or "order_not_found".
    pub code: String,
    /// `description`: "成功" or the reason of the error.
    pub description: String,
    /// `timeStamp`: our time, `yyyyMMddHHmmss` China time (required by the
    /// vendor, in every reply).
    #[serde(rename = "timeStamp", default, skip_serializing_if = "Option::is_none")]
    pub time_stamp: Option<String>,
    /// `data`: `statusCode` (a number), `message`, `platformOrderNo`.
    #[serde(default)]
    pub data: CallbackReplyData,
}

/// The `data` of a [`CallbackReply`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackReplyData {
    /// `statusCode`: 200 on success, else an HTTP-like status of the refusal
    /// (400 malformed, 401 refused, 404 unknown order, 503 not configured).
    /// Written as a **number** (v1.0.9); read from a numeric string too.
    #[serde(
        rename = "statusCode",
        default,
        with = "wire::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code: Option<u32>,
    /// `message`: "成功", or why the callback was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `platformOrderNo`: our order number the callback was about.
    #[serde(
        rename = "platformOrderNo",
        default,
        with = "wire::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub platform_order_no: Option<String>,
}

impl CallbackReply {
    /// The success reply, stamped with `now`, naming `platform_order_no`
    /// (the key is left out if `None`).
    pub fn success(platform_order_no: Option<&str>, now: Timestamp) -> Self {
        Self {
            success: true,
            code: "success".into(),
            description: "成功".into(),
            time_stamp: Some(format_timestamp(now)),
            data: CallbackReplyData {
                status_code: Some(200),
                message: Some("成功".into()),
                platform_order_no: platform_order_no.map(str::to_owned),
            },
        }
    }

    /// An error reply (`code` "error") with `description`, e.g.
    /// "签名验证失败" (sign check failed) or "未知的回调方法: X" (unknown
    /// method).
    ///
    /// Stamped with the current time and `statusCode` 400; see
    /// [`with_status`](Self::with_status) and [`at`](Self::at).
    pub fn error(description: impl Into<String>) -> Self {
        Self::failure("error", 400, description.into())
    }

    /// The error reply for a callback about an order we do not know (`code`
    /// "order_not_found", `statusCode` 404).
    pub fn order_not_found(description: impl Into<String>) -> Self {
        Self::failure("order_not_found", 404, description.into())
    }

    fn failure(code: &str, status: u32, description: String) -> Self {
        Self {
            success: false,
            code: code.into(),
            time_stamp: Some(format_timestamp(Timestamp::now())),
            data: CallbackReplyData {
                status_code: Some(status),
                message: Some(description.clone()),
                platform_order_no: None,
            },
            description,
        }
    }

    /// The same reply with `data.statusCode` set to `status`.
    pub fn with_status(mut self, status: u32) -> Self {
        self.data.status_code = Some(status);
        self
    }

    /// The same reply stamped with `at` (`timeStamp`).
    pub fn at(mut self, at: Timestamp) -> Self {
        self.time_stamp = Some(format_timestamp(at));
        self
    }

    /// The same reply naming our order number (`data.platformOrderNo`).
    pub fn for_order(mut self, platform_order_no: Option<&str>) -> Self {
        self.data.platform_order_no = platform_order_no.map(str::to_owned);
        self
    }

    /// Whether this reply is what §0.4 requires: a `timeStamp` of 14 digits
    /// and a numeric `data.statusCode` (checked by a sender before counting
    /// the callback as acknowledged).
    pub fn is_well_formed(&self) -> bool {
        self.time_stamp
            .as_deref()
            .is_some_and(|t| parse_timestamp(t).is_some())
            && self.data.status_code.is_some()
    }

    /// The reply's JSON text.
    pub fn to_json(&self) -> String {
        // Only strings and booleans: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `at` as `yyyyMMddHHmmss` in China time (UTC+8), as `TimeStamp` and
/// `timeStamp` carry it.
pub fn format_timestamp(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::fixed(CHINA_OFFSET))
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

/// Reads a `yyyyMMddHHmmss` China time (exactly 14 ASCII digits forming a
/// valid date and time); `None` otherwise.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i16>().ok();
    let year = num(0..4)?;
    let month = i8::try_from(num(4..6)?).ok()?;
    let day = i8::try_from(num(6..8)?).ok()?;
    let hour = i8::try_from(num(8..10)?).ok()?;
    let minute = i8::try_from(num(10..12)?).ok()?;
    let second = i8::try_from(num(12..14)?).ok()?;
    let datetime = jiff::civil::DateTime::new(year, month, day, hour, minute, second, 0).ok()?;
    CHINA_OFFSET.to_timestamp(datetime).ok()
}

/// The form fields of a signed callback, for a sender:
/// `AppKey`, `TimeStamp`, `Method`, `Data` (left out if blank) and `Sign`,
/// in that order. `timestamp` is `yyyyMMddHHmmss` China time (see
/// [`format_timestamp`]); `data_json` is the JSON text of `Data` (see
/// [`CallbackData::to_json`]).
pub fn sign_callback_form(
    app_key: &str,
    secret: &str,
    method: &str,
    data_json: &str,
    timestamp: &str,
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        (APP_KEY_PARAM.into(), app_key.into()),
        (TIMESTAMP_PARAM.into(), timestamp.into()),
        (METHOD_PARAM.into(), method.into()),
    ];
    if !data_json.trim().is_empty() {
        params.push((DATA_PARAM.into(), data_json.into()));
    }
    let sign = callback_sign(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), secret);
    params.push((SIGN_PARAM.into(), sign));
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8e17bb88a087400bac9ab67e67b138ef";
    const APP_KEY: &str = "85f46119-e920-4f01-9624-66326c013217";
    const DATA: &str =
        r#"{"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001","State":1}"#;
    const SIGN: &str = "F1652582B10B3061C4A8981CD0D104ED";

    fn sent_at() -> Timestamp {
        "2023-09-12T11:35:28+08:00".parse().unwrap()
    }

    fn form(params: &[(&str, &str)]) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
            .into_bytes()
    }

    fn vector() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AppKey", APP_KEY),
            ("TimeStamp", "20230912113528"),
            ("Method", "hmm.scm_heorder.confirm"),
            ("Data", DATA),
            ("Sign", SIGN),
        ]
    }

    #[test]
    fn the_vendor_vector_verifies_from_a_form() {
        let req = CallbackRequest::from_form(&form(&vector())).unwrap();
        assert_eq!(req.app_key, APP_KEY);
        assert_eq!(req.method, CallbackMethod::Confirm);
        assert_eq!(req.data.as_deref(), Some(DATA));
        req.verify(APP_KEY, SECRET, sent_at(), Some(DEFAULT_WINDOW))
            .unwrap();
        let data = req.parse_data().unwrap().unwrap();
        assert_eq!(data.ext_order_no.as_deref(), Some("SO.20230912.000001"));
        assert_eq!(data.platform_order_no.as_deref(), Some("PO20230912001"));
        assert_eq!(data.state, CallbackState::Ok);
        assert_eq!(
            data.to_json(),
            DATA,
            "serializing gives the signed text back"
        );
    }

    #[test]
    fn the_vendor_vector_verifies_from_json() {
        let body = serde_json::json!({
            "AppKey": APP_KEY, "TimeStamp": "20230912113528",
            "Method": "hmm.scm_heorder.confirm", "Data": DATA, "Sign": SIGN,
        });
        let req = CallbackRequest::from_json(body.to_string().as_bytes()).unwrap();
        req.verify(APP_KEY, SECRET, sent_at(), Some(DEFAULT_WINDOW))
            .unwrap();
        // A numeric TimeStamp keeps its digits.
        let body = format!(
            r#"{{"AppKey":"{APP_KEY}","TimeStamp":20230912113528,"Method":"hmm.scm_heorder.confirm","Data":{},"Sign":"{SIGN}","Extra":null}}"#,
            serde_json::to_string(DATA).unwrap()
        );
        let req = CallbackRequest::from_json(body.as_bytes()).unwrap();
        assert_eq!(req.timestamp, "20230912113528");
        req.verify(APP_KEY, SECRET, sent_at(), Some(DEFAULT_WINDOW))
            .unwrap();
    }

    #[test]
    fn refusals_have_their_own_errors() {
        let req = CallbackRequest::from_form(&form(&vector())).unwrap();
        assert_eq!(
            req.verify("another-key", SECRET, sent_at(), Some(DEFAULT_WINDOW)),
            Err(CallbackError::UnknownAppKey(APP_KEY.into()))
        );
        assert_eq!(
            req.verify(APP_KEY, "wrong-secret", sent_at(), Some(DEFAULT_WINDOW)),
            Err(CallbackError::BadSignature)
        );
        let later = sent_at() + jiff::SignedDuration::from_secs(301);
        assert!(matches!(
            req.verify(APP_KEY, SECRET, later, Some(DEFAULT_WINDOW)),
            Err(CallbackError::Stale {
                skew_secs: -301,
                window_secs: 300,
                ..
            })
        ));
        let earlier = sent_at() - jiff::SignedDuration::from_secs(300);
        req.verify(APP_KEY, SECRET, earlier, Some(DEFAULT_WINDOW))
            .unwrap();

        let mut tampered = vector();
        tampered[3].1 =
            r#"{"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001","State":0}"#;
        let req = CallbackRequest::from_form(&form(&tampered)).unwrap();
        assert_eq!(
            req.verify(APP_KEY, SECRET, sent_at(), Some(DEFAULT_WINDOW)),
            Err(CallbackError::BadSignature)
        );

        // A badly formed TimeStamp, correctly signed.
        let params =
            sign_callback_form(APP_KEY, SECRET, CallbackMethod::CONFIRM, DATA, "2023-09-12");
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let req = CallbackRequest::from_form(body.as_bytes()).unwrap();
        assert!(matches!(
            req.verify(APP_KEY, SECRET, sent_at(), Some(DEFAULT_WINDOW)),
            Err(CallbackError::BadTimestamp(_))
        ));
    }

    #[test]
    fn missing_and_repeated_params() {
        let mut params = vector();
        params.retain(|(k, _)| *k != "Sign");
        assert_eq!(
            CallbackRequest::from_form(&form(&params)),
            Err(CallbackError::Missing("Sign"))
        );
        let mut params = vector();
        params[0].1 = " ";
        assert_eq!(
            CallbackRequest::from_form(&form(&params)),
            Err(CallbackError::Missing("AppKey"))
        );
        let mut params = vector();
        params.push(("Data", "{}"));
        assert!(matches!(
            CallbackRequest::from_form(&form(&params)),
            Err(CallbackError::Malformed(_))
        ));
        assert!(matches!(
            CallbackRequest::from_json(b"[1]"),
            Err(CallbackError::Malformed(_))
        ));
        // Data is optional.
        let mut params = vector();
        params.retain(|(k, _)| *k != "Data");
        let req = CallbackRequest::from_form(&form(&params)).unwrap();
        assert_eq!(req.parse_data(), Ok(None));
    }

    #[test]
    fn methods() {
        for (text, method) in [
            ("hmm.scm_heorder.confirm", CallbackMethod::Confirm),
            ("hmm.scm_heorder.cancel", CallbackMethod::Cancel),
            ("hmm.scm_heorder.oostock", CallbackMethod::OutOfStock),
            (
                "hmm.scm_heorder.other",
                CallbackMethod::Unknown("hmm.scm_heorder.other".into()),
            ),
        ] {
            assert_eq!(CallbackMethod::parse(text), method);
            assert_eq!(method.as_str(), text);
        }
        let mut params = vector();
        params[2].1 = "hmm.scm_heorder.refund";
        let req = CallbackRequest::from_form(&form(&params)).unwrap();
        assert_eq!(
            req.method,
            CallbackMethod::Unknown("hmm.scm_heorder.refund".into())
        );
    }

    #[test]
    fn state_as_number_or_string() {
        let parse =
            |state: &str| CallbackData::parse(&format!(r#"{{"State":{state}}}"#)).map(|d| d.state);
        assert_eq!(parse("1"), Ok(CallbackState::Ok));
        assert_eq!(parse(r#""1""#), Ok(CallbackState::Ok));
        assert_eq!(parse(r#"" 1 ""#), Ok(CallbackState::Ok));
        assert_eq!(parse("0"), Ok(CallbackState::Failed));
        assert_eq!(parse(r#""0""#), Ok(CallbackState::Failed));
        assert_eq!(parse("2"), Ok(CallbackState::Partial));
        for bad in ["3", r#""x""#, "1.0", "true", "null", "-1"] {
            assert!(
                matches!(parse(bad), Err(CallbackError::BadData(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            CallbackData::parse(r#"{"ExtOrderNo":"SO.1"}"#),
            Err(CallbackError::BadData(_))
        ));
        assert!(matches!(
            CallbackData::parse("not json"),
            Err(CallbackError::BadData(_))
        ));
    }

    #[test]
    fn out_of_stock_fail_msg_in_lower_case() {
        // §0.4: the vendor's out-of-stock example writes failMsg.
        let data = CallbackData::parse(
            r#"{"ExtOrderNo":"SO.1","PlatformOrderNo":"PO1","State":0,"failMsg":"库存不足"}"#,
        )
        .unwrap();
        assert_eq!(data.state, CallbackState::Failed);
        assert_eq!(data.fail_msg.as_deref(), Some("库存不足"));
        // Only what §0.4 requires of a failure: no ExtOrderNo.
        let data =
            CallbackData::parse(r#"{"PlatformOrderNo":"PO1","State":"0","FailMsg":"x"}"#).unwrap();
        assert_eq!(data.ext_order_no, None);
    }

    #[test]
    fn cancel_items() {
        let data = CallbackData::parse(
            r#"{"ExtOrderNo":"SO.1","PlatformOrderNo":"PO1","State":"2","FailMsg":"部分拦截",
                "itemList":[{"productCode":"BS01U000N","totalQty":3,"receiveQty":"2","returnQty":1,"rejectQty":"1"},
                            {"productCode":"X","totalQty":null}]}"#,
        )
        .unwrap();
        assert_eq!(data.state, CallbackState::Partial);
        assert_eq!(data.fail_msg.as_deref(), Some("部分拦截"));
        let a = &data.item_list[0];
        assert_eq!(
            (a.total_qty, a.receive_qty, a.return_qty, a.reject_qty),
            (Some(3), Some(2), Some(1), Some(1))
        );
        assert_eq!(data.item_list[1].total_qty, None);
        assert!(matches!(
            CallbackData::parse(r#"{"State":1,"itemList":[{"totalQty":"-1"}]}"#),
            Err(CallbackError::BadData(_))
        ));
    }

    #[test]
    fn replies_are_the_vendors_envelope() {
        assert_eq!(
            CallbackReply::success(Some("PO20230912001"), sent_at()).to_json(),
            r#"{"success":true,"code":"success","description":"成功","timeStamp":"20230912113528","data":{"statusCode":200,"message":"成功","platformOrderNo":"PO20230912001"}}"#
        );
        assert_eq!(
            CallbackReply::error("签名验证失败").at(sent_at()).to_json(),
            r#"{"success":false,"code":"error","description":"签名验证失败","timeStamp":"20230912113528","data":{"statusCode":400,"message":"签名验证失败"}}"#
        );
        assert_eq!(
            CallbackReply::order_not_found("订单不存在")
                .at(sent_at())
                .to_json(),
            r#"{"success":false,"code":"order_not_found","description":"订单不存在","timeStamp":"20230912113528","data":{"statusCode":404,"message":"订单不存在"}}"#
        );
        assert_eq!(
            CallbackError::BadSignature.reply().at(sent_at()),
            CallbackReply::error("签名验证失败")
                .with_status(401)
                .at(sent_at())
        );
        assert!(CallbackReply::error("x").is_well_formed());
        // The vendor's later example writes statusCode as a number.
        let read: CallbackReply = serde_json::from_str(
            r#"{"success":true,"code":"success","description":"成功","timeStamp":"20230912113528","data":{"statusCode":200,"message":"成功","platformOrderNo":"PO1"}}"#,
        )
        .unwrap();
        assert_eq!(read.data.status_code, Some(200));
        assert!(read.is_well_formed());
        // A string statusCode is read, but a reply without timeStamp is not §0.4's.
        let read: CallbackReply = serde_json::from_str(
            r#"{"success":true,"code":"success","description":"成功","data":{"statusCode":"200"}}"#,
        )
        .unwrap();
        assert_eq!(read.data.status_code, Some(200));
        assert!(!read.is_well_formed());
    }

    #[test]
    fn signing_for_senders_round_trips() {
        let params = sign_callback_form(
            APP_KEY,
            SECRET,
            CallbackMethod::CONFIRM,
            DATA,
            "20230912113528",
        );
        assert_eq!(
            params.last().unwrap(),
            &("Sign".to_owned(), SIGN.to_owned())
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let req = CallbackRequest::from_form(body.as_bytes()).unwrap();
        req.verify(APP_KEY, SECRET, sent_at(), Some(DEFAULT_WINDOW))
            .unwrap();
    }

    #[test]
    fn timestamps_are_china_time() {
        let t = parse_timestamp("20230912113528").unwrap();
        assert_eq!(t, "2023-09-12T03:35:28Z".parse::<Timestamp>().unwrap());
        assert_eq!(format_timestamp(t), "20230912113528");
        for bad in [
            "2023091211352",
            "202309121135280",
            "20231312113528",
            "2023-9-12113528",
            "20230230000000",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
