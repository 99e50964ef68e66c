//! Settings that are text whatever a configuration source makes of them.
//!
//! Codes and passwords are text, but a source that guesses types (an environment
//! variable `SUPPLYHUB_HAIER__CUSTOMER_CODE=8800633175`, a TOML `secret = 918273645`)
//! hands them over as numbers. These deserialisers (`#[serde(deserialize_with = …)]`)
//! keep an integer as the digits written; a fraction, a boolean or a list is refused
//! with a message that never repeats the value, since the value may be a secret.

use std::fmt;

use secrecy::SecretString;
use serde::Deserializer;
use serde::de::{self, Visitor};

struct Text;

impl Visitor<'_> for Text {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text (quote the value)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        Err(E::custom(
            "expected text, not a number with a fraction: quote the value",
        ))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
        Err(E::custom("expected text, not a boolean: quote the value"))
    }
}

/// Text; an integer as its digits.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(Text)
}

/// Optional text: absent or `null` is `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_option(Opt)
}

/// A secret; an integer as its digits.
pub fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    string(d).map(SecretString::from)
}

/// An optional secret: absent or `null` is `None`.
pub fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    opt_string(d).map(|s| s.map(SecretString::from))
}

struct Opt;

impl<'de> Visitor<'de> for Opt {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text (quote the value)")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        string(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::{ExposeSecret, SecretString};
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct S {
        #[serde(deserialize_with = "super::string")]
        code: String,
        #[serde(deserialize_with = "super::secret")]
        secret: SecretString,
        #[serde(default, deserialize_with = "super::opt_string")]
        maybe: Option<String>,
    }

    #[test]
    fn integers_are_kept_as_their_digits() {
        let s: S = serde_json::from_str(r#"{"code": 8800633175, "secret": 918273645}"#).unwrap();
        assert_eq!(s.code, "8800633175");
        assert_eq!(s.secret.expose_secret(), "918273645");
        assert_eq!(s.maybe, None);
        let s: S = serde_json::from_str(r#"{"code": "0088", "secret": "x", "maybe": 12}"#).unwrap();
        assert_eq!(s.code, "0088");
        assert_eq!(s.maybe.as_deref(), Some("12"));
    }

    #[test]
    fn other_values_are_refused_without_repeating_them() {
        for json in [
            r#"{"code": "c", "secret": 9182.73645}"#,
            r#"{"code": "c", "secret": true}"#,
        ] {
            let e = serde_json::from_str::<S>(json)
                .err()
                .expect("refused")
                .to_string();
            assert!(!e.contains("9182") && !e.contains("true"), "{e}");
            assert!(e.contains("quote the value"), "{e}");
        }
    }
}
