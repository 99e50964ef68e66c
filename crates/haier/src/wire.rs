//! Serde helpers for the vendor's loosely typed JSON, and the decoding of
//! its reply containers.
//!
//! The vendor writes numbers as strings here and there, and strings as
//! numbers elsewhere. These helpers read a value through
//! [`RawValue`](serde_json::value::RawValue), so a number is seen exactly as
//! it was written (no trip through `f64`), whether it came quoted or not.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::envelope::Envelope;
use crate::error::Error;

/// A JSON scalar as the vendor wrote it.
enum Scalar {
    Null,
    /// A string's content (unescaped).
    Text(String),
    /// A number's exact text.
    Number(String),
    Bool(bool),
}

fn scalar<E: serde::de::Error>(raw: Option<Box<RawValue>>) -> Result<Scalar, E> {
    let Some(raw) = raw else {
        return Ok(Scalar::Null);
    };
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(Scalar::Text)
            .map_err(E::custom),
        Some(b'-' | b'0'..=b'9') => Ok(Scalar::Number(text.to_owned())),
        Some(b't') => Ok(Scalar::Bool(true)),
        Some(b'f') => Ok(Scalar::Bool(false)),
        Some(b'n') => Ok(Scalar::Null),
        _ => Err(E::custom("expected a string, a number or null")),
    }
}

fn raw_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    scalar(Option::<Box<RawValue>>::deserialize(d)?)
}

/// `Option<String>` that also takes a number (as its exact text) or a
/// boolean (`"true"`/`"false"`); `null` is `None`.
pub(crate) mod text {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match raw_scalar(d)? {
            Scalar::Null => None,
            Scalar::Text(s) | Scalar::Number(s) => Some(s),
            Scalar::Bool(b) => Some(b.to_string()),
        })
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(text) => s.serialize_str(text),
            None => s.serialize_none(),
        }
    }
}

/// `Option<Decimal>` from a JSON number or a numeric string, read exactly
/// as written (`1999.98` stays `1999.98`); `null` and `""` are `None`.
/// Written back as a JSON number.
pub(crate) mod decimal {
    use super::*;

    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        Decimal::from_str_exact(text)
            .or_else(|_| Decimal::from_scientific(text))
            .ok()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Decimal>, D::Error> {
        let text = match raw_scalar(d)? {
            Scalar::Null => return Ok(None),
            Scalar::Text(s) if s.trim().is_empty() => return Ok(None),
            Scalar::Text(s) => s.trim().to_owned(),
            Scalar::Number(s) => s,
            Scalar::Bool(_) => return Err(D::Error::custom("expected a decimal, got a boolean")),
        };
        parse(&text)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("not a decimal: {text:?}")))
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => RawValue::from_string(d.to_string())
                .map_err(serde::ser::Error::custom)?
                .serialize(s),
            None => s.serialize_none(),
        }
    }
}

/// A required `Decimal`, read like [`decimal`] (`null` and `""` are errors
/// here) and written as a JSON number with its exact digits (`3998.00`
/// stays `3998.00`, never `3998.0` or `3997.9999…`).
pub(crate) mod amount {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        decimal::deserialize(d)?.ok_or_else(|| D::Error::custom("a decimal is required"))
    }

    pub(crate) fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(v.to_string())
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// An instant as epoch milliseconds: written as a JSON integer, read from
/// an integer or a string of digits (with an optional `-`).
pub(crate) mod millis {
    use super::*;

    pub(crate) fn parse(text: &str) -> Option<jiff::Timestamp> {
        let ms = text.trim().parse::<i64>().ok()?;
        jiff::Timestamp::from_millisecond(ms).ok()
    }

    pub(super) fn read<E: serde::de::Error>(scalar: Scalar) -> Result<Option<jiff::Timestamp>, E> {
        let text = match scalar {
            Scalar::Null => return Ok(None),
            Scalar::Text(s) if s.trim().is_empty() => return Ok(None),
            Scalar::Text(s) | Scalar::Number(s) => s,
            Scalar::Bool(_) => return Err(E::custom("expected milliseconds, got a boolean")),
        };
        parse(&text)
            .map(Some)
            .ok_or_else(|| E::custom(format!("not a time in milliseconds: {text:?}")))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<jiff::Timestamp, D::Error> {
        read(raw_scalar(d)?)?.ok_or_else(|| D::Error::custom("a time in milliseconds is required"))
    }

    pub(crate) fn serialize<S: Serializer>(v: &jiff::Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(v.as_millisecond())
    }
}

/// `Option<jiff::Timestamp>` as epoch milliseconds (see [`millis`]); `null`
/// and `""` are `None`. Pair with `skip_serializing_if = "Option::is_none"`
/// so that an absent time is an absent key, never `null` or `0`.
pub(crate) mod opt_millis {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<jiff::Timestamp>, D::Error> {
        millis::read(raw_scalar(d)?)
    }

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<jiff::Timestamp>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_i64(t.as_millisecond()),
            None => s.serialize_none(),
        }
    }
}

/// A quantity: a non-negative integer from a JSON integer or a string of
/// digits (`"3"`); `null`, `""` and a missing key are `None`. Anything else
/// (`"-1"`, `1.5`, `"abc"`) is an error. Written as a JSON integer.
pub(crate) mod opt_count {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let text = match raw_scalar(d)? {
            Scalar::Null => return Ok(None),
            Scalar::Text(s) if s.trim().is_empty() => return Ok(None),
            Scalar::Text(s) => s.trim().to_owned(),
            Scalar::Number(s) => s,
            Scalar::Bool(_) => return Err(D::Error::custom("expected a quantity, got a boolean")),
        };
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(D::Error::custom(format!(
                "not a non-negative integer: {text:?}"
            )));
        }
        text.parse::<u32>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("quantity out of range: {text:?}")))
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_u32(*n),
            None => s.serialize_none(),
        }
    }
}

/// A stock level: a non-negative integer, sent by the vendor as a string
/// (`"30"`) and accepted as a JSON integer too. Anything else (`"-1"`,
/// `"1.5"`, `"abc"`, `""`, `null`) is an error, never 0. Written back as a
/// string, as the vendor does.
pub(crate) mod stock_level {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = match raw_scalar(d)? {
            Scalar::Text(s) | Scalar::Number(s) => s,
            Scalar::Null => return Err(D::Error::custom("stock is null")),
            Scalar::Bool(_) => return Err(D::Error::custom("stock is a boolean")),
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(D::Error::custom(format!(
                "stock is not a non-negative integer: {text:?}"
            )));
        }
        u64::from_str(&text)
            .map_err(|_| D::Error::custom(format!("stock is out of range: {text:?}")))
    }

    pub(crate) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
}

/// `Vec<String>` where `null` (or a missing key) is empty and `null` items
/// are skipped.
pub(crate) mod text_list {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let items = Option::<Vec<Option<String>>>::deserialize(d)?;
        Ok(items.into_iter().flatten().flatten().collect())
    }
}

/// `Option<bool>` from `true`/`false`, `"true"`/`"false"` or `1`/`0`.
pub(crate) mod flag {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match raw_scalar(d)? {
            Scalar::Null => Ok(None),
            Scalar::Bool(b) => Ok(Some(b)),
            Scalar::Text(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Scalar::Text(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Scalar::Number(n) if n == "1" => Ok(Some(true)),
            Scalar::Number(n) if n == "0" => Ok(Some(false)),
            _ => Err(D::Error::custom("expected true or false")),
        }
    }
}

/// Serializes a secret into a request body (the only place it is exposed).
pub(crate) fn expose<S: Serializer>(
    secret: &secrecy::SecretString,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

// ---------------------------------------------------------------------------
// Reply containers

fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

fn parse<T: DeserializeOwned>(endpoint: &'static str, json: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(json).map_err(|e| Error::decode(endpoint, e.to_string()))
}

/// What an object reply holds once the envelope is opened.
enum Opened {
    /// `success:true` (or no `success`) with this `data`; `None` for a
    /// missing or null `data`.
    Data(Option<Box<RawValue>>),
    /// An object that is not an envelope at all (neither `success` nor
    /// `data`).
    NotAnEnvelope,
}

fn open(endpoint: &'static str, body: &[u8]) -> Result<Opened, Error> {
    let envelope: Envelope<Box<RawValue>> = parse(endpoint, body)?;
    match envelope.success {
        Some(false) => Err(envelope.business_error(endpoint)),
        None if envelope.data.is_none() => {
            if !envelope.has_status() {
                Ok(Opened::NotAnEnvelope)
            } else {
                // A status without `success`: not something to read as data.
                Err(Error::decode(
                    endpoint,
                    format!(
                        "reply without `success` or `data`: code {}, message {}",
                        envelope.code.as_deref().unwrap_or("none"),
                        envelope.text().unwrap_or("none"),
                    ),
                ))
            }
        }
        _ => Ok(Opened::Data(envelope.data)),
    }
}

/// Decodes a list reply: a bare JSON list, or an envelope whose `data` is a
/// list (a `null`/missing `data` under `success:true` is an empty list).
/// `success:false` is [`Error::Business`].
pub(crate) fn decode_list<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<Vec<T>, Error> {
    match first_byte(body) {
        Some(b'[') => parse(endpoint, body),
        Some(b'{') => match open(endpoint, body)? {
            Opened::Data(None) => Ok(Vec::new()),
            Opened::Data(Some(data)) if data.get().starts_with('[') => {
                parse(endpoint, data.get().as_bytes())
            }
            Opened::Data(Some(_)) => Err(Error::decode(endpoint, "`data` is not a list")),
            Opened::NotAnEnvelope => Err(Error::decode(
                endpoint,
                "object reply without `success` or `data`",
            )),
        },
        Some(_) => Err(Error::decode(
            endpoint,
            "reply is neither a JSON list nor an object",
        )),
        None => Err(Error::decode(endpoint, "empty reply")),
    }
}

/// One record of a list reply that could not be read, kept apart so the
/// rest of the list still goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// Short endpoint name.
    pub endpoint: &'static str,
    /// The record's `productCode`, when it has a readable one.
    pub product_code: Option<String>,
    /// Why it could not be read, e.g. "supplyPrice: invalid decimal
    /// \"价格未生效\"".
    pub reason: String,
}

impl BadRecord {
    /// The failure as an [`Error::Decode`] of the endpoint.
    pub fn error(&self) -> Error {
        Error::decode(self.endpoint, self.reason.clone())
    }
}

/// The records of a list reply, decoded one by one: those that could be
/// read, and those that could not.
#[derive(Debug, Clone, PartialEq)]
pub struct Records<T> {
    /// The records read, in the vendor's order.
    pub items: Vec<T>,
    /// The records that could not be read, in the vendor's order.
    pub bad: Vec<BadRecord>,
}

impl<T> Default for Records<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            bad: Vec::new(),
        }
    }
}

impl<T> Records<T> {
    /// Appends `other`'s records to these.
    pub fn extend(&mut self, other: Records<T>) {
        self.items.extend(other.items);
        self.bad.extend(other.bad);
    }
}

/// Decodes a list reply like [`decode_list`], but record by record: a record
/// that does not match `T` (a text where a number belongs, say) becomes a
/// [`BadRecord`] with its reason and does not fail the others. The
/// container itself must still be right (`success:false` is
/// [`Error::Business`], a non-list is a decode error).
pub(crate) fn decode_records<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<Records<T>, Error> {
    let raw: Vec<Box<RawValue>> = decode_list(endpoint, body)?;
    let mut records = Records::default();
    for item in raw {
        match serde_json::from_str::<T>(item.get()) {
            Ok(record) => records.items.push(record),
            Err(e) => {
                let product_code = serde_json::from_str::<serde_json::Value>(item.get())
                    .ok()
                    .and_then(|v| match v.get("productCode") {
                        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                            Some(s.trim().to_owned())
                        }
                        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                        _ => None,
                    });
                records.bad.push(BadRecord {
                    endpoint,
                    product_code,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(records)
}

/// Decodes a reply that may hold one item or a list of them, bare or in an
/// envelope.
pub(crate) fn decode_one_or_list<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<Vec<T>, Error> {
    match first_byte(body) {
        Some(b'[') => parse(endpoint, body),
        Some(b'{') => match open(endpoint, body)? {
            Opened::Data(None) => Ok(Vec::new()),
            Opened::Data(Some(data)) => match data.get().as_bytes().first() {
                Some(b'[') => parse(endpoint, data.get().as_bytes()),
                Some(b'{') => Ok(vec![parse(endpoint, data.get().as_bytes())?]),
                _ => Err(Error::decode(
                    endpoint,
                    "`data` is neither a list nor an object",
                )),
            },
            Opened::NotAnEnvelope => Ok(vec![parse(endpoint, body)?]),
        },
        Some(_) => Err(Error::decode(
            endpoint,
            "reply is neither a JSON list nor an object",
        )),
        None => Err(Error::decode(endpoint, "empty reply")),
    }
}

/// Decodes an object reply: the `data` of an envelope (a missing or `null`
/// `data` under `success:true` gives `T::default()`), or the bare object.
/// `success:false` is [`Error::Business`].
pub(crate) fn decode_object<T: DeserializeOwned + Default>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<T, Error> {
    match first_byte(body) {
        Some(b'{') => match open(endpoint, body)? {
            Opened::Data(None) => Ok(T::default()),
            Opened::Data(Some(data)) if data.get().starts_with('{') => {
                parse(endpoint, data.get().as_bytes())
            }
            Opened::Data(Some(_)) => Err(Error::decode(endpoint, "`data` is not an object")),
            Opened::NotAnEnvelope => parse(endpoint, body),
        },
        Some(_) => Err(Error::decode(endpoint, "reply is not a JSON object")),
        None => Err(Error::decode(endpoint, "empty reply")),
    }
}

/// Decodes the items of a reply read the way the YLH queries are: an object
/// gives its `data` (missing or `null`: no items; an object without
/// `success` and `data` also gives no items), anything else is the payload
/// itself. A list payload gives its items; any other payload (an object, a
/// string) is one item. `success:false` is [`Error::Business`].
pub(crate) fn decode_items<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<Vec<T>, Error> {
    fn payload<T: DeserializeOwned>(endpoint: &'static str, json: &str) -> Result<Vec<T>, Error> {
        match json.as_bytes().first() {
            Some(b'[') => parse(endpoint, json.as_bytes()),
            Some(b'n') => Ok(Vec::new()),
            _ => Ok(vec![parse(endpoint, json.as_bytes())?]),
        }
    }
    match first_byte(body) {
        Some(b'{') => match open(endpoint, body)? {
            Opened::Data(None) | Opened::NotAnEnvelope => Ok(Vec::new()),
            Opened::Data(Some(data)) => payload(endpoint, data.get()),
        },
        Some(_) => {
            let raw: Box<RawValue> = parse(endpoint, body)?;
            payload(endpoint, raw.get())
        }
        None => Err(Error::decode(endpoint, "empty reply")),
    }
}

/// The vendor's message in an error reply, for [`Error::Rejected`] and
/// [`Error::Auth`]: a `message`/`msg`/`error_description`/`error` string if
/// the body is such JSON, else the start of the body (at most 200
/// characters).
pub(crate) fn vendor_message(body: &[u8]) -> String {
    const MAX_CHARS: usize = 200;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["errorMsg", "message", "msg", "error_description", "error"] {
            if let Some(serde_json::Value::String(s)) = map.get(key)
                && !s.trim().is_empty()
            {
                return s.chars().take(MAX_CHARS).collect();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty reply)".to_owned();
    }
    text.chars().take(MAX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Item {
        #[serde(default, with = "text")]
        t: Option<String>,
        #[serde(default, with = "decimal")]
        d: Option<Decimal>,
    }

    #[test]
    fn text_takes_strings_numbers_and_null() {
        let items: Vec<Item> =
            serde_json::from_str(r#"[{"t":"a"},{"t":12.50},{"t":null},{},{"t":true}]"#).unwrap();
        let texts: Vec<_> = items.iter().map(|i| i.t.as_deref()).collect();
        assert_eq!(texts, [Some("a"), Some("12.50"), None, None, Some("true")]);
        assert!(serde_json::from_str::<Item>(r#"{"t":{"x":1}}"#).is_err());
    }

    #[test]
    fn decimals_are_exact_as_written() {
        for (json, expected) in [
            ("1999.98", "1999.98"),
            ("0.1", "0.1"),
            ("\"0.1\"", "0.1"),
            ("100", "100"),
            ("1999.90", "1999.90"),
            ("-3.5", "-3.5"),
            ("1.5e2", "150"),
            ("0.30000000000000004", "0.30000000000000004"),
        ] {
            let item: Item = serde_json::from_str(&format!(r#"{{"d":{json}}}"#)).unwrap();
            let got = item.d.unwrap();
            assert_eq!(got, Decimal::from_str(expected).unwrap(), "{json}");
            if !json.contains('e') {
                assert_eq!(got.to_string(), expected, "{json} keeps its digits");
            }
        }
        for json in ["null", "\"\"", "\"  \""] {
            let item: Item = serde_json::from_str(&format!(r#"{{"d":{json}}}"#)).unwrap();
            assert_eq!(item.d, None, "{json}");
        }
        for json in [
            "\"abc\"",
            "true",
            "[1]",
            "1e400",
            "1e-400",
            "1e99999999999999999999",
            "123456789012345678901234567890",
            "\"NaN\"",
        ] {
            assert!(
                serde_json::from_str::<Item>(&format!(r#"{{"d":{json}}}"#)).is_err(),
                "{json}"
            );
        }
    }

    #[test]
    fn decimals_serialize_as_numbers_and_work_through_value() {
        let item = Item {
            t: None,
            d: Some(Decimal::from_str("1999.98").unwrap()),
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"t":null,"d":1999.98}"#
        );
        let value = serde_json::json!({"d": 0.1, "t": 5});
        let back: Item = serde_json::from_value(value).unwrap();
        assert_eq!(back.d, Some(Decimal::from_str("0.1").unwrap()));
        assert_eq!(back.t.as_deref(), Some("5"));
    }

    #[derive(Debug, Deserialize)]
    struct Stock {
        #[serde(with = "stock_level")]
        #[allow(dead_code)]
        s: u64,
    }

    #[test]
    fn stock_levels_are_strict() {
        let ok = |j: &str| serde_json::from_str::<Stock>(&format!(r#"{{"s":{j}}}"#)).map(|s| s.s);
        assert_eq!(ok("\"30\"").unwrap(), 30);
        assert_eq!(ok("30").unwrap(), 30);
        assert_eq!(ok("\"0\"").unwrap(), 0);
        for bad in [
            "\"-1\"", "-1", "\"1.5\"", "1.5", "\"abc\"", "\"\"", "null", "\" 3\"", "\"+3\"", "1e2",
            "true",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        assert!(
            serde_json::from_str::<Stock>("{}").is_err(),
            "a missing stock is an error"
        );
    }

    #[test]
    fn lists_bare_or_enveloped() {
        let ep = "h2_prices";
        let bare: Vec<Item> = decode_list(ep, br#" [{"t":"a"}]"#).unwrap();
        assert_eq!(bare.len(), 1);
        let wrapped: Vec<Item> = decode_list(
            ep,
            br#"{"success":true,"code":200,"data":[{"t":"a"},{"t":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(wrapped.len(), 2);
        let no_success: Vec<Item> = decode_list(ep, br#"{"data":[{"t":"a"}]}"#).unwrap();
        assert_eq!(no_success.len(), 1);
        let empty: Vec<Item> = decode_list(ep, br#"{"success":true,"data":null}"#).unwrap();
        assert!(empty.is_empty());
        assert!(matches!(
            decode_list::<Item>(ep, br#"{"success":true,"data":{"t":"a"}}"#),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            decode_list::<Item>(ep, br#"{"foo":1}"#),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            decode_list::<Item>(ep, b""),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            decode_list::<Item>(ep, b"<html>"),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn success_false_is_a_business_error() {
        let err = decode_list::<Item>(
            "h1_procurable",
            r#"{"success":false,"code":"E01","message":"密码错误","data":null}"#.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::Business {
                endpoint: "h1_procurable",
                code: Some("E01".into()),
                err_code: None,
                message: "密码错误".into()
            }
        );
        // A numeric code and a string "false" are understood too.
        let err = decode_list::<Item>("x", br#"{"success":"false","code":500}"#).unwrap_err();
        assert!(matches!(err, Error::Business { code: Some(c), .. } if c == "500"));
    }

    #[test]
    fn one_or_list() {
        let ep = "h5_balance";
        let one: Vec<Item> =
            decode_one_or_list(ep, br#"{"success":true,"data":{"t":"a"}}"#).unwrap();
        assert_eq!(one.len(), 1);
        let many: Vec<Item> =
            decode_one_or_list(ep, br#"{"success":true,"data":[{"t":"a"},{"t":"b"}]}"#).unwrap();
        assert_eq!(many.len(), 2);
        let bare_object: Vec<Item> = decode_one_or_list(ep, br#"{"t":"a"}"#).unwrap();
        assert_eq!(bare_object[0].t.as_deref(), Some("a"));
        let bare_list: Vec<Item> = decode_one_or_list(ep, br#"[{"t":"a"}]"#).unwrap();
        assert_eq!(bare_list.len(), 1);
        // A status object is not an item.
        let err = decode_one_or_list::<Item>(ep, br#"{"code":500,"message":"busy"}"#).unwrap_err();
        assert!(
            matches!(&err, Error::Decode { detail, .. } if detail.contains("busy")),
            "{err:?}"
        );
        let flagged: Vec<Item> = decode_one_or_list(ep, br#"{"success":1,"data":[]}"#).unwrap();
        assert!(flagged.is_empty());
    }

    #[test]
    fn vendor_messages_are_short() {
        assert_eq!(
            vendor_message(r#"{"message":"参数错误"}"#.as_bytes()),
            "参数错误"
        );
        assert_eq!(vendor_message(br#"{"msg":"bad"}"#), "bad");
        assert_eq!(vendor_message(b"  "), "(empty reply)");
        let long = "x".repeat(1000);
        assert_eq!(vendor_message(long.as_bytes()).len(), 200);
    }
}
