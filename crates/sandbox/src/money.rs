//! Amounts of money in fen (hundredths of a yuan), written as JSON numbers with exactly
//! two decimals (`2836.00`), the way the vendor's Java services print `BigDecimal`.

use std::fmt;

use serde::Serialize;
use serde_json::value::RawValue;

/// An amount in fen. Also used for two-decimal rates such as a 3 % direct discount
/// (`Money(3)` prints `0.03`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Money(pub(crate) i64);

impl Money {
    /// Whole yuan.
    pub(crate) fn yuan(y: i64) -> Self {
        Money(y * 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A raw JSON number keeps the trailing zeros that an f64 would drop.
        let raw = RawValue::from_string(self.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_two_decimals_as_a_json_number() {
        let json = serde_json::to_string(&[Money(283600), Money(5), Money(-150), Money(0)]);
        assert_eq!(json.unwrap(), "[2836.00,0.05,-1.50,0.00]");
    }
}
