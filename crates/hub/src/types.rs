//! Value types that travel through every layer: [`Money`], [`Rate`] and [`UtcTime`].
//!
//! Both are stored natively where the database has a native type (PostgreSQL `NUMERIC`
//! and `TIMESTAMPTZ`) and in a form that compares correctly where it has not (SQLite:
//! decimal `TEXT`, and `INTEGER` microseconds, because text timestamps with varying
//! fraction digits compare wrongly).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// An amount of money in yuan (CNY), exact: never a float.
///
/// Serialized in JSON as a decimal string (`"1999.98"`), so no client loses precision.
/// Read from JSON only as such a string in plain notation ([`Money::parse_plain`]): no
/// number, no exponent (`"1e3"`), no `+`, no leading zeros, no negative zero (`"-0"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Money(Decimal);

/// The OpenAPI `pattern` of [`Money`] in plain notation.
pub const MONEY_PATTERN: &str = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$";

impl Money {
    /// Parses a decimal in plain notation: an optional `-`, digits without leading zeros,
    /// and optionally `.` and digits (`"1999.98"`, `"0.5"`, `"-3"`). Negative zero is
    /// refused. The error says what was expected.
    pub fn parse_plain(text: &str) -> Result<Money, String> {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (unsigned, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let plain = digits(whole)
            && (whole == "0" || !whole.starts_with('0'))
            && fraction.is_none_or(digits);
        let shown: String = text.chars().take(40).collect();
        if !plain {
            return Err(format!(
                "an amount in yuan as a decimal string such as \"1999.98\", got {shown:?}"
            ));
        }
        let amount = Decimal::from_str_exact(text)
            .map_err(|e| format!("not a representable amount ({e}), got {shown:?}"))?;
        if text.starts_with('-') && amount.is_zero() {
            return Err(format!("negative zero is not an amount, got {shown:?}"));
        }
        Ok(Money(amount))
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Money::parse_plain(&text).map_err(serde::de::Error::custom)
    }
}

impl Money {
    /// Zero yuan.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Wraps a decimal amount of yuan.
    pub fn new(amount: Decimal) -> Self {
        Money(amount)
    }

    /// The amount in yuan.
    pub fn amount(self) -> Decimal {
        self.0
    }
}

impl From<Decimal> for Money {
    fn from(d: Decimal) -> Self {
        Money(d)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Money {
    type Err = rust_decimal::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::from_str_exact(s).map(Money)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An exact decimal amount of yuan, as a string"))
            .pattern(Some(MONEY_PATTERN))
            .examples([serde_json::json!("1999.98")])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

/// Stores a decimal newtype as decimal `TEXT` on SQLite (exact, unlike `REAL`) and
/// `NUMERIC` on PostgreSQL.
macro_rules! decimal_column {
    ($name:ident) => {
        impl Type<Sqlite> for $name {
            fn type_info() -> SqliteTypeInfo {
                <String as Type<Sqlite>>::type_info()
            }

            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <String as Type<Sqlite>>::compatible(ty)
            }
        }

        impl Encode<'_, Sqlite> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut SqliteArgumentsBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <String as Encode<Sqlite>>::encode(self.0.to_string(), buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $name {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Sqlite>>::decode(value)?;
                Ok($name(Decimal::from_str_exact(text)?))
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <Decimal as Type<Postgres>>::type_info()
            }
        }

        impl Encode<'_, Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <Decimal as Encode<Postgres>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                <Decimal as Decode<Postgres>>::decode(value).map($name)
            }
        }
    };
}

decimal_column!(Money);
decimal_column!(Rate);

/// A rate as a decimal fraction, exact: `0.05` is 5 %. The supplier's direct discount
/// (`rebateRate`) is one. Serialized in JSON as a decimal string (`"0.05"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Rate(Decimal);

impl Rate {
    /// Wraps a decimal fraction.
    pub fn new(fraction: Decimal) -> Self {
        Rate(fraction)
    }

    /// The fraction.
    pub fn fraction(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl utoipa::PartialSchema for Rate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An exact decimal fraction (0.05 is 5 %), as a string"))
            .pattern(Some(MONEY_PATTERN))
            .examples([serde_json::json!("0.05")])
            .into()
    }
}

impl utoipa::ToSchema for Rate {}

/// An instant in UTC with microsecond precision (the precision of PostgreSQL).
///
/// Serialized in JSON as RFC 3339 (`"2026-11-21T05:46:09.123456Z"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UtcTime(jiff::Timestamp);

/// Microseconds between the Unix epoch and PostgreSQL's epoch, 2000-01-01T00:00:00Z.
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

impl UtcTime {
    /// The current time, truncated to microseconds so that it survives a round trip
    /// through either database unchanged.
    pub fn now() -> Self {
        Self::from_micros(jiff::Timestamp::now().as_microsecond())
            .unwrap_or(UtcTime(jiff::Timestamp::UNIX_EPOCH))
    }

    /// The instant `micros` microseconds after the Unix epoch; `None` if out of range.
    pub fn from_micros(micros: i64) -> Option<Self> {
        jiff::Timestamp::from_microsecond(micros).ok().map(UtcTime)
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0.as_microsecond()
    }

    /// The underlying timestamp.
    pub fn timestamp(self) -> jiff::Timestamp {
        self.0
    }

    /// Whole milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn millis_since(self, earlier: UtcTime) -> i64 {
        (self.as_micros() - earlier.as_micros()) / 1000
    }
}

impl From<jiff::Timestamp> for UtcTime {
    fn from(ts: jiff::Timestamp) -> Self {
        Self::from_micros(ts.as_microsecond()).unwrap_or(UtcTime(ts))
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl utoipa::PartialSchema for UtcTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("An instant in UTC, RFC 3339"))
            .into()
    }
}

impl utoipa::ToSchema for UtcTime {}

impl Type<Sqlite> for UtcTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for UtcTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode(self.as_micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for UtcTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<Sqlite>>::decode(value)?;
        UtcTime::from_micros(micros)
            .ok_or_else(|| format!("timestamp out of range: {micros}").into())
    }
}

impl Type<Postgres> for UtcTime {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_name("timestamptz")
    }
}

impl Encode<'_, Postgres> for UtcTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // Binary format of timestamptz: i64 microseconds since 2000-01-01T00:00:00Z.
        <i64 as Encode<Postgres>>::encode(self.as_micros() - PG_EPOCH_OFFSET_MICROS, buf)
    }
}

impl<'r> Decode<'r, Postgres> for UtcTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = match value.format() {
            sqlx::postgres::PgValueFormat::Binary => {
                <i64 as Decode<Postgres>>::decode(value)? + PG_EPOCH_OFFSET_MICROS
            }
            sqlx::postgres::PgValueFormat::Text => {
                // Text results only occur for simple queries; parse the ISO form.
                let text = value.as_str()?;
                let ts: jiff::Timestamp = text.replace(' ', "T").parse()?;
                ts.as_microsecond()
            }
        };
        UtcTime::from_micros(micros)
            .ok_or_else(|| format!("timestamp out of range: {micros}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_exactly_and_serializes_as_a_string() {
        let m: Money = "1999.98".parse().unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"1999.98\"");
        assert!("19x".parse::<Money>().is_err());
        let back: Money = serde_json::from_str("\"0.10\"").unwrap();
        assert_eq!(back, "0.1".parse().unwrap());
    }

    #[test]
    fn money_is_read_only_in_plain_notation() {
        for good in ["0", "0.5", "1999.98", "-3", "100000000"] {
            assert!(Money::parse_plain(good).is_ok(), "{good}");
        }
        for bad in [
            "1e3", "+1.00", "-0", "-0.00", "01", "1.", ".5", "", "-", "1 ", " 1", "1,00", "NaN",
        ] {
            assert!(Money::parse_plain(bad).is_err(), "{bad:?}");
        }
        assert!(
            serde_json::from_str::<Money>("1.5").is_err(),
            "not a JSON number"
        );
        let err = serde_json::from_str::<Money>("\"1e3\"").unwrap_err();
        assert!(err.to_string().contains("1e3"), "{err}");
    }

    #[test]
    fn utc_time_keeps_microseconds_only() {
        let t = UtcTime::now();
        assert_eq!(UtcTime::from_micros(t.as_micros()), Some(t));
        let later = UtcTime::from_micros(t.as_micros() + 2_500).unwrap();
        assert_eq!(later.millis_since(t), 2);
    }
}
