//! YLH's envelope, business error codes and the readers that check a request's fields
//! one by one, so that each violation is answered with a message naming the field.

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::gateway::{Envelope, Reply};
use crate::money::Money;

/// Business error codes (HTTP 200, `success:false`).
pub(crate) mod codes {
    /// The `soId` is already known (`data` names the existing order).
    pub(crate) const DUPLICATE_SO_ID: &str = "20001";
    /// A required field is missing, null or blank.
    pub(crate) const MISSING: &str = "20002";
    /// A field has the wrong type or format.
    pub(crate) const FORMAT: &str = "20003";
    /// Unknown `sellerCode` or `sourceSystem`.
    pub(crate) const UNKNOWN_PARTY: &str = "20004";
    /// No such order.
    pub(crate) const NOT_FOUND: &str = "20007";
    /// The order's state does not allow the request.
    pub(crate) const STATE: &str = "20008";
    /// A reschedule time that is not 23:59:59 China time.
    pub(crate) const TIME_OF_DAY: &str = "20009";
}

/// The §0.1 envelope with `success: true` and `data` (`message` is for the logs: the
/// vendor's envelope has no success text).
pub(crate) fn ok<T: Serialize>(message: &str, data: T) -> Reply {
    tracing::trace!(message, "ok");
    Reply::json(StatusCode::OK, &Envelope::success(data))
}

/// The §0.1 envelope of a command (Y1, Y2, Y3): `data: true`.
pub(crate) fn accepted() -> Reply {
    Reply::json(StatusCode::OK, &Envelope::success(true))
}

/// A business error: HTTP 200, `success:false`, `errorMsg`, `data: null`. The sandbox's
/// `code` names the cause in its logs only: the vendor's document names no error codes.
pub(crate) fn error(code: &str, message: &str) -> Reply {
    tracing::debug!(code, "business error");
    Reply::json(StatusCode::OK, &Envelope::failure(message, ()))
}

/// HTTP 400 with `success:false`.
pub(crate) fn bad_request(message: &str) -> Reply {
    Reply::failure(StatusCode::BAD_REQUEST, message)
}

/// The body as a JSON object, or a 400.
pub(crate) fn object(body: &Value) -> Result<&Map<String, Value>, Reply> {
    body.as_object()
        .ok_or_else(|| bad_request("请求体必须为 JSON 对象"))
}

/// The largest amount accepted, in fen (a billion yuan).
const MAX_FEN: f64 = 1e11;

/// Milliseconds since the epoch written with 13 digits: 2001-09-09 to 2286-11-20.
const MS_RANGE: std::ops::Range<i64> = 1_000_000_000_000..10_000_000_000_000;
/// Seconds since the epoch written with 10 digits.
const SECONDS_RANGE: std::ops::Range<i64> = 1_000_000_000..10_000_000_000;

/// Whether `text` is 13 ASCII digits of milliseconds.
pub(crate) fn millis_text(text: &str) -> Option<i64> {
    if text.len() == 13 && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// The fields of one JSON object, read with messages that name each field (prefixed
/// for nested objects, e.g. `itemList[0].productCode`).
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// The top-level fields of a request.
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            prefix: String::new(),
        }
    }

    /// The fields of a nested object, named `prefix.field`.
    pub(crate) fn nested(map: &'a Map<String, Value>, prefix: String) -> Self {
        Fields { map, prefix }
    }

    /// The full name of a field, for messages.
    pub(crate) fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn missing(&self, key: &str) -> Reply {
        error(codes::MISSING, &format!("{} 不能为空", self.name(key)))
    }

    fn format(&self, key: &str, what: &str) -> Reply {
        error(codes::FORMAT, &format!("{} {what}", self.name(key)))
    }

    /// The raw value, if present and not null.
    pub(crate) fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A required, non-blank string (trimmed).
    pub(crate) fn string(&self, key: &str) -> Result<&'a str, Reply> {
        match self.opt_string(key)? {
            Some(s) => Ok(s),
            None => Err(self.missing(key)),
        }
    }

    /// An optional string (trimmed; absent, null or blank is `None`).
    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<&'a str>, Reply> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim())),
            Some(_) => Err(self.format(key, "必须为字符串")),
        }
    }

    /// A required JSON integer.
    pub(crate) fn integer(&self, key: &str) -> Result<i64, Reply> {
        match self.value(key) {
            None => Err(self.missing(key)),
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| self.format(key, &format!("必须为整数: {n}"))),
            Some(_) => Err(self.format(key, "必须为整数")),
        }
    }

    /// A required amount of money: a JSON number, not negative, with at most two
    /// decimals.
    pub(crate) fn amount(&self, key: &str) -> Result<Money, Reply> {
        let n = match self.value(key) {
            None => return Err(self.missing(key)),
            Some(Value::Number(n)) => n,
            Some(_) => return Err(self.format(key, "必须为数字")),
        };
        let Some(x) = n.as_f64().filter(|x| x.is_finite()) else {
            return Err(self.format(key, &format!("不是合法金额: {n}")));
        };
        if x < 0.0 {
            return Err(self.format(key, &format!("不能为负数: {n}")));
        }
        let fen = (x * 100.0).round();
        if (x * 100.0 - fen).abs() > 1e-6 {
            return Err(self.format(key, &format!("最多两位小数: {n}")));
        }
        // At most a billion yuan: sums over 200 lines of 9,999 units stay far
        // inside i64.
        if fen > MAX_FEN {
            return Err(self.format(key, &format!("超出范围: {n}")));
        }
        Ok(Money(fen as i64))
    }

    /// A time in milliseconds since the epoch (13 digits). A present key with `null` is
    /// malformed; absent is `None` (or missing when `required`). Ten digits are read
    /// as the seconds they are and refused.
    pub(crate) fn millis(&self, key: &str, required: bool) -> Result<Option<i64>, Reply> {
        let n = match self.map.get(key) {
            None if required => return Err(self.missing(key)),
            None => return Ok(None),
            Some(Value::Null) => {
                return Err(self.format(key, "格式错误: 不能为 null（无值时请省略该字段）"));
            }
            Some(Value::Number(n)) => n,
            Some(_) => return Err(self.format(key, "必须为毫秒时间戳（整数）")),
        };
        match n.as_i64() {
            Some(ms) if MS_RANGE.contains(&ms) => Ok(Some(ms)),
            Some(s) if SECONDS_RANGE.contains(&s) => {
                Err(self.format(key, &format!("必须为13位毫秒时间戳，{s} 是秒")))
            }
            _ => Err(self.format(key, &format!("必须为13位毫秒时间戳: {n}"))),
        }
    }

    /// An optional JSON boolean (absent or null is `None`).
    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, Reply> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.format(key, "必须为布尔值 true 或 false")),
        }
    }

    /// A boolean sent as the string "true" or "false".
    pub(crate) fn bool_text(&self, key: &str) -> Result<bool, Reply> {
        match self.value(key) {
            None => Err(self.missing(key)),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" => Ok(false),
            Some(_) => Err(self.format(key, "必须为字符串 \"true\" 或 \"false\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(r: Reply) -> String {
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["success"], json!(false));
        v["errorMsg"].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn readers_name_the_field_and_refuse_wrong_types() {
        let v = json!({"a": " x ", "b": 2, "c": 1999.98, "d": 0.1, "e": 12.345,
                       "t": 1_763_700_000_000_i64, "s": 1_763_700_000, "n": null,
                       "f": "true", "g": true, "neg": -1});
        let map = v.as_object().unwrap();
        let f = Fields::new(map);
        assert_eq!(f.string("a").ok(), Some("x"));
        assert!(message(f.string("b").unwrap_err()).contains("b"));
        assert!(message(f.string("zz").unwrap_err()).contains("zz 不能为空"));
        assert_eq!(f.integer("b").ok(), Some(2));
        assert!(f.integer("c").is_err());
        assert_eq!(f.amount("c").ok(), Some(Money(199_998)));
        assert_eq!(f.amount("d").ok(), Some(Money(10)));
        assert!(message(f.amount("e").unwrap_err()).contains("两位小数"));
        assert!(f.amount("neg").is_err());
        let huge = json!({"x": 1e12, "y": 1e9});
        let huge = Fields::new(huge.as_object().unwrap());
        assert!(message(huge.amount("x").unwrap_err()).contains("超出范围"));
        assert_eq!(huge.amount("y").ok(), Some(Money(100_000_000_000)));
        assert!(f.amount("a").is_err());
        assert_eq!(f.millis("t", true).ok(), Some(Some(1_763_700_000_000)));
        assert!(message(f.millis("s", true).unwrap_err()).contains("是秒"));
        assert!(message(f.millis("n", false).unwrap_err()).contains("null"));
        assert_eq!(f.millis("absent", false).ok(), Some(None));
        assert!(f.millis("absent", true).is_err());
        assert_eq!(f.bool_text("f").ok(), Some(true));
        assert!(message(f.bool_text("g").unwrap_err()).contains("g 必须为字符串"));
        assert_eq!(f.opt_bool("g").ok(), Some(Some(true)));
        assert!(f.opt_bool("f").is_err());
        let nested = Fields::nested(map, "itemList[0]".to_owned());
        assert!(message(nested.string("zz").unwrap_err()).contains("itemList[0].zz"));
    }

    #[test]
    fn millis_text_wants_thirteen_digits() {
        assert_eq!(millis_text("1763700000000"), Some(1_763_700_000_000));
        assert_eq!(millis_text("1763700000"), None);
        assert_eq!(millis_text("17637000000x0"), None);
    }
}
