//! The vendor's product code (`productCode`), parsed once at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Haier product code (`productCode`, for example `"GA0SZC00U"`): the SKU
/// that every Haier endpoint is keyed by.
///
/// Valid codes are non-empty, at most [`ProductCode::MAX_LEN`] characters
/// (the length of the original catalogue column) and contain no whitespace
/// and no control characters. Serialized as a plain JSON string;
/// deserializing checks the same rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductCode(String);

/// Why a text is not a [`ProductCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProductCode {
    /// The text is empty.
    #[error("product code is empty")]
    Empty,
    /// The text has more than [`ProductCode::MAX_LEN`] characters.
    #[error("product code is longer than {} characters", ProductCode::MAX_LEN)]
    TooLong,
    /// The text holds whitespace or a control character.
    #[error("product code contains whitespace or a control character")]
    BadCharacter,
}

impl ProductCode {
    /// The longest accepted code, in characters.
    pub const MAX_LEN: usize = 50;

    /// Checks `text` and wraps it. The text is taken as is: surrounding
    /// whitespace is an error, not trimmed, so a code never changes on its
    /// way to the vendor.
    pub fn parse(text: &str) -> Result<Self, InvalidProductCode> {
        if text.is_empty() {
            return Err(InvalidProductCode::Empty);
        }
        if text.chars().count() > Self::MAX_LEN {
            return Err(InvalidProductCode::TooLong);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidProductCode::BadCharacter);
        }
        Ok(Self(text.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as an owned `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ProductCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ProductCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProductCode {
    type Err = InvalidProductCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for ProductCode {
    type Error = InvalidProductCode;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl TryFrom<String> for ProductCode {
    type Error = InvalidProductCode;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)?;
        Ok(Self(value))
    }
}

impl From<ProductCode> for String {
    fn from(code: ProductCode) -> Self {
        code.0
    }
}

impl Serialize for ProductCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProductCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ProductCode::try_from(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_vendor_codes() {
        for code in ["GA0SZC00U", "BS01U000N", "EC6001-HT3", "型号A1"] {
            let parsed = ProductCode::parse(code).unwrap();
            assert_eq!(parsed.as_str(), code);
            assert_eq!(parsed.to_string(), code);
        }
        let fifty = "A".repeat(50);
        assert!(ProductCode::parse(&fifty).is_ok());
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(ProductCode::parse(""), Err(InvalidProductCode::Empty));
        assert_eq!(
            ProductCode::parse(&"A".repeat(51)),
            Err(InvalidProductCode::TooLong)
        );
        // Length counts characters, not bytes.
        assert!(ProductCode::parse(&"码".repeat(50)).is_ok());
        for bad in [" GA0", "GA0 ", "GA\t0", "GA\u{0}0", "GA\n", "GA\u{3000}0"] {
            assert_eq!(
                ProductCode::parse(bad),
                Err(InvalidProductCode::BadCharacter),
                "{bad:?}"
            );
        }
        assert!(ProductCode::try_from("ok").is_ok());
        assert!("x y".parse::<ProductCode>().is_err());
    }

    #[test]
    fn serde_is_a_plain_string_and_checks() {
        let code = ProductCode::parse("GA0SZC00U").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"GA0SZC00U\"");
        let back: ProductCode = serde_json::from_str("\"GA0SZC00U\"").unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<ProductCode>("\"\"").is_err());
        assert!(serde_json::from_str::<ProductCode>("\"a b\"").is_err());
    }
}
