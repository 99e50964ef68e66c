//! Values of the API's input, parsed once where the input is read (deserialisation), so
//! that nothing inside sees a raw string: bounded text without control characters,
//! local product codes and RFC 3339 times. A value that does not parse is refused with
//! a message naming what is wrong; the HTTP layer adds the field's path.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Text of `MIN` to `MAX` characters (Unicode scalar values) without control characters
/// (Unicode category Cc: U+0000–U+001F, U+007F–U+009F). With `MIN` ≥ 1 it must also hold
/// something other than whitespace. The text is kept as given; [`Text::trimmed`] gives
/// it without surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidText {
    /// Fewer than the minimum characters, or only whitespace.
    #[error("must not be blank")]
    Blank,
    /// More than the maximum characters.
    #[error("at most {max} characters, got {got}")]
    TooLong {
        /// The maximum.
        max: usize,
        /// Characters given.
        got: usize,
    },
    /// A control character.
    #[error("contains a control character ({0})")]
    Control(String),
}

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    /// Checks `text` and wraps it.
    pub fn parse(text: String) -> Result<Self, InvalidText> {
        let chars = text.chars().count();
        if chars > MAX {
            return Err(InvalidText::TooLong {
                max: MAX,
                got: chars,
            });
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(InvalidText::Control(format!("U+{:04X}", u32::from(c))));
        }
        if chars < MIN || (MIN > 0 && text.trim().is_empty()) {
            return Err(InvalidText::Blank);
        }
        Ok(Text(text))
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text without surrounding whitespace.
    pub fn trimmed(&self) -> &str {
        self.0.trim()
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Display for Text<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize> Serialize for Text<MIN, MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const MIN: usize, const MAX: usize> Deserialize<'de> for Text<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Text::parse(text).map_err(serde::de::Error::custom)
    }
}

/// The OpenAPI `pattern` of a [`Text`] with `MIN` ≥ 1: no control character, something
/// other than whitespace.
pub const NON_BLANK_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

/// The OpenAPI `pattern` of a [`Text`] that may be empty: no control character.
pub const NO_CONTROL_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

/// Deserialises a JSON object into `T`, refusing an array (serde would otherwise read a
/// struct from an array of its fields in order, which the document does not allow).
pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    if !value.is_object() {
        return Err(serde::de::Error::custom(format!(
            "expected an object, got {}",
            kind_of(&value)
        )));
    }
    from_object(value).map_err(serde::de::Error::custom)
}

/// `T` from a JSON object; an error names the field (`interval_minutes: …`).
fn from_object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })
}

/// As [`object`], for an optional object (null is none).
pub fn opt_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    if value.is_null() {
        return Ok(None);
    }
    if !value.is_object() {
        return Err(serde::de::Error::custom(format!(
            "expected an object, got {}",
            kind_of(&value)
        )));
    }
    from_object(value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A name as given: 1 to `MAX` characters (Unicode scalar values), no control character
/// (Unicode category Cc), and no whitespace at either end, so that it is never blank and
/// two names that look alike are alike. Surrounding whitespace is refused, not trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name<const MAX: usize>(String);

/// The OpenAPI `pattern` of a [`Name`]: no control character, no whitespace at either end.
pub const NAME_PATTERN: &str = r"^[^\s\u0000-\u001f\u007f-\u009f]([^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$";

impl<const MAX: usize> Name<MAX> {
    /// Checks `text` and wraps it; the errors say what is wrong.
    pub fn parse(text: String) -> Result<Self, String> {
        let chars = text.chars().count();
        if chars == 0 {
            return Err("must not be empty".to_owned());
        }
        if chars > MAX {
            return Err(format!("at most {MAX} characters, got {chars}"));
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(format!(
                "contains a control character (U+{:04X})",
                u32::from(c)
            ));
        }
        if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
            return Err("must not start or end with whitespace".to_owned());
        }
        Ok(Name(text))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Name<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Name::parse(text).map_err(serde::de::Error::custom)
    }
}

/// A stock region: a county-level code of GB/T 2260 (six digits) in the embedded
/// division table, i.e. a county, or a prefecture-level city that has no counties
/// (东莞 441900). Its OpenAPI schema lists every such code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountyCode(region::DivisionCode);

impl CountyCode {
    /// Checks `text`: six digits naming a stock region of the table.
    pub fn parse(text: &str) -> Result<Self, String> {
        crate::catalog::parse_stock_region(text).map(CountyCode)
    }
}

impl fmt::Display for CountyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for CountyCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        CountyCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for CountyCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let codes: Vec<serde_json::Value> = region::stock_regions()
            .map(|d| serde_json::Value::from(d.code.to_string()))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!(
                "A stock region: a county-level GB/T 2260 code (six digits) of the division \
                 table (vintage {}): a county, or a prefecture-level city without counties.",
                region::VINTAGE
            )))
            .enum_values(Some(codes))
            .into()
    }
}

impl utoipa::ToSchema for CountyCode {
    fn name() -> std::borrow::Cow<'static, str> {
        "CountyCode".into()
    }
}

/// `object` with one more JSON Schema keyword, for a keyword utoipa's builders do not
/// have (`patternProperties`, `not`). One such keyword per schema object keeps the
/// document's text stable (utoipa keeps them in a hash map).
pub fn with_keyword(
    mut object: utoipa::openapi::schema::Object,
    keyword: &str,
    value: serde_json::Value,
) -> utoipa::openapi::schema::Object {
    object.extensions = Some([(keyword.to_owned(), value)].into_iter().collect());
    object
}

/// The code of a locally stocked product: 1 to 50 of `A-Z a-z 0-9 - _ .`, starting with
/// a letter or a digit (so never `.` or `..`, and never a `/`: the code is a path
/// segment of the API).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalProductCode(haier::ProductCode);

impl LocalProductCode {
    /// The longest code, in characters.
    pub const MAX_LEN: usize = 50;

    /// Checks `text` and wraps it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut chars = text.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !first_ok || !rest_ok || text.len() > Self::MAX_LEN {
            return Err(format!(
                "1 to {} of A-Z a-z 0-9 - _ . starting with a letter or digit, got {:?}",
                Self::MAX_LEN,
                text.chars().take(60).collect::<String>()
            ));
        }
        haier::ProductCode::parse(text)
            .map(LocalProductCode)
            .map_err(|e| e.to_string())
    }

    /// The code as a product code (`productCode`).
    pub fn product_code(&self) -> &haier::ProductCode {
        &self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl<'de> Deserialize<'de> for LocalProductCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        LocalProductCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An instant given as an RFC 3339 date-time with an offset, e.g.
/// `2030-01-15T23:59:59+08:00`. A leap second (`:60`) is refused rather than silently
/// read as `:59`, and so is a year before 2000 or after 2099 (the supplier's times are
/// 13-digit epoch milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(jiff::Timestamp);

impl DateTime {
    /// Parses RFC 3339 text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shown: String = text.chars().take(40).collect();
        let bytes = text.as_bytes();
        let shaped = bytes.len() >= 20
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && matches!(bytes[10], b'T' | b't')
            && bytes[13] == b':'
            && bytes[16] == b':'
            && bytes[..4].iter().all(u8::is_ascii_digit);
        if !shaped {
            return Err(format!(
                "an RFC 3339 date-time such as 2030-01-15T23:59:59+08:00, got {shown:?}"
            ));
        }
        if &bytes[17..19] == b"60" {
            return Err(format!(
                "a leap second is not a valid time here, got {shown:?}"
            ));
        }
        let year: u32 = text[..4].parse().unwrap_or(0);
        if !(2000..=2099).contains(&year) {
            return Err(format!("a year from 2000 to 2099, got {shown:?}"));
        }
        text.parse::<jiff::Timestamp>()
            .map(DateTime)
            .map_err(|e| format!("not an RFC 3339 date-time ({e}), got {shown:?}"))
    }

    /// The instant.
    pub fn timestamp(self) -> jiff::Timestamp {
        self.0
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How far ahead a delivery or installation day may be, in days.
pub const MAX_DAYS_AHEAD: i64 = 3660;

/// Checks a requested delivery or installation day against `now`: not before today and
/// at most [`MAX_DAYS_AHEAD`] days ahead (China time, the supplier's calendar); with
/// `end_of_day`, also at 23:59:59 China time (the supplier's rule for rescheduling).
pub fn check_day(time: DateTime, now: jiff::Timestamp, end_of_day: bool) -> Result<(), String> {
    let zone = haier::ylh::types::china_time_zone();
    let day = time.0.to_zoned(zone.clone());
    let today = now.to_zoned(zone).date();
    if end_of_day && (day.hour(), day.minute(), day.second()) != (23, 59, 59) {
        return Err(format!(
            "must be 23:59:59 China time (the vendor's rule), got {}",
            day.time()
        ));
    }
    if day.date() < today {
        return Err(format!(
            "must not be before today ({today}, China time), got {}",
            day.date()
        ));
    }
    let days_ahead = today
        .until(day.date())
        .map(|span| i64::from(span.get_days()))
        .unwrap_or(i64::MAX);
    if days_ahead > MAX_DAYS_AHEAD {
        return Err(format!(
            "at most {MAX_DAYS_AHEAD} days ahead, got {}",
            day.date()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_refuses_control_characters_blanks_and_length() {
        type Name = Text<1, 5>;
        type Note = Text<0, 5>;
        assert!(Name::parse("张三".into()).is_ok());
        assert_eq!(Name::parse("  ".into()), Err(InvalidText::Blank));
        assert_eq!(Name::parse(String::new()), Err(InvalidText::Blank));
        assert!(Note::parse(String::new()).is_ok());
        assert!(matches!(
            Name::parse("abcdef".into()),
            Err(InvalidText::TooLong { max: 5, got: 6 })
        ));
        for bad in ["a\u{0}b", "a\nb", "a\tb", "\u{7f}", "\u{85}"] {
            assert!(
                matches!(Note::parse(bad.into()), Err(InvalidText::Control(_))),
                "{bad:?}"
            );
        }
        let from_json: Result<Name, _> = serde_json::from_str("\"a\\u0000\"");
        assert!(from_json.unwrap_err().to_string().contains("U+0000"));
    }

    #[test]
    fn names_are_taken_as_given_or_refused() {
        type N = Name<5>;
        for good in ["a", "a b", "张三", "a\u{3000}b", "abcde"] {
            assert_eq!(N::parse(good.into()).unwrap().as_str(), good);
        }
        for bad in [
            "",
            " a",
            "a ",
            "\u{3000}a",
            "a\u{a0}",
            "a\tb",
            "abcdef",
            "\u{85}",
        ] {
            assert!(N::parse(bad.into()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn county_codes_are_stock_regions() {
        assert_eq!(CountyCode::parse("370212").unwrap().to_string(), "370212");
        for bad in ["370200", "999999", "012345", "37021", " 370212", "370212 "] {
            assert!(CountyCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_codes_are_path_safe() {
        for good in ["LOCAL-TV-1", "a", "A.b_c-9"] {
            assert!(LocalProductCode::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "-a",
            " a",
            "a b",
            "码",
            &"A".repeat(51),
        ] {
            assert!(LocalProductCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn date_times_are_strict() {
        assert!(DateTime::parse("2030-01-15T23:59:59+08:00").is_ok());
        assert!(DateTime::parse("2030-01-15T15:59:59Z").is_ok());
        for bad in [
            "2030-01-15T23:59:60+08:00",
            "1900-01-01T23:59:59+08:00",
            "1969-12-31T23:59:59Z",
            "2030-01-15",
            "tomorrow",
            "2030-02-30T23:59:59+08:00",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_are_from_today_on() {
        let now: jiff::Timestamp = "2026-12-02T03:00:00Z".parse().unwrap();
        let day = |s: &str| DateTime::parse(s).unwrap();
        assert!(check_day(day("2026-12-02T23:59:59+08:00"), now, true).is_ok());
        assert!(check_day(day("2026-12-01T23:59:59+08:00"), now, true).is_err());
        assert!(check_day(day("2026-12-03T12:00:00+08:00"), now, true).is_err());
        assert!(check_day(day("2026-12-03T12:00:00+08:00"), now, false).is_ok());
        assert!(check_day(day("2099-12-31T23:59:59+08:00"), now, false).is_err());
    }
}

/// Deserialises a JSON integer, also when it is spelled with a zero fraction (`7.0`):
/// JSON Schema counts `7.0` as an integer, so a client that writes it so is not refused.
/// A fraction (`7.5`), a string or a value outside `i64` is an error naming the value.
pub fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    match number.as_f64() {
        // Every f64 with no fraction inside this range converts to i64 exactly.
        Some(f) if f.fract() == 0.0 && (-9.0e15..=9.0e15).contains(&f) =>
        {
            #[allow(clippy::cast_possible_truncation)]
            Ok(f as i64)
        }
        _ => Err(D::Error::custom(format!(
            "expected an integer, got {number}"
        ))),
    }
}

#[cfg(test)]
mod integer_tests {
    #[derive(serde::Deserialize)]
    struct Q {
        #[serde(deserialize_with = "super::integer")]
        n: i64,
    }

    fn parse(json: &str) -> Result<i64, String> {
        serde_json::from_str::<Q>(json)
            .map(|q| q.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_with_a_zero_fraction_are_integers() {
        assert_eq!(parse(r#"{"n": 7}"#), Ok(7));
        assert_eq!(parse(r#"{"n": 7211.0}"#), Ok(7211));
        assert_eq!(parse(r#"{"n": -3.0}"#), Ok(-3));
        assert_eq!(parse(r#"{"n": 1e3}"#), Ok(1000));
    }

    #[test]
    fn fractions_strings_and_huge_values_are_refused() {
        assert!(parse(r#"{"n": 7.5}"#).is_err());
        assert!(parse(r#"{"n": "7"}"#).is_err());
        assert!(parse(r#"{"n": 1e300}"#).is_err());
        assert!(parse(r#"{"n": null}"#).is_err());
    }
}
