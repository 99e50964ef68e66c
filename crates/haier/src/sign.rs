//! The signature of the vendor's inbound callbacks (protocol §3).
//!
//! Haier posts `AppKey`, `TimeStamp` (`yyyyMMddHHmmss`), `Method`, `Data` (a
//! JSON string) and `Sign`. The sign is computed as:
//!
//! 1. drop the `Sign` parameter and every parameter whose value is empty or
//!    only whitespace;
//! 2. sort the rest by key, in code-point order (for the usual four:
//!    `AppKey`, `Data`, `Method`, `TimeStamp`), and concatenate
//!    key + value for each;
//! 3. wrap the result as `secret + … + secret` and lower-case all of it
//!    (the secret, the keys and the values);
//! 4. MD5 it and write the digest as upper-case hex.
//!
//! Check the sign against the raw form values, before parsing `Data`.

use md5::{Digest, Md5};

/// The name of the parameter that carries the signature; it is never part of
/// the signed text.
pub const SIGN_PARAM: &str = "Sign";

/// Computes the callback signature of `params` with the shared `secret`:
/// 32 upper-case hex digits.
///
/// `params` are the form fields as (key, value) pairs, in any order; a
/// `Sign` pair and pairs with empty or whitespace-only values are ignored.
pub fn callback_sign<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    secret: &str,
) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, v)| *k != SIGN_PARAM && !v.trim().is_empty())
        .collect();
    // `str`'s order is byte order of UTF-8, which is code-point order. The
    // sort is stable, so repeated keys keep their arrival order.
    kept.sort_by(|a, b| a.0.cmp(b.0));

    let mut text = String::with_capacity(
        2 * secret.len() + kept.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>(),
    );
    text.push_str(secret);
    for (k, v) in &kept {
        text.push_str(k);
        text.push_str(v);
    }
    text.push_str(secret);

    let digest = Md5::digest(text.to_lowercase().as_bytes());
    hex::encode_upper(digest)
}

/// Whether `sign` is the callback signature of `params` under `secret`.
///
/// The hex digits of `sign` may be in either case. The comparison takes the
/// same time wherever the first difference is, so it does not reveal how
/// much of a forged sign was right. A `Sign` pair inside `params` is ignored
/// (pass all form fields as they came).
pub fn verify_callback_sign<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    secret: &str,
    sign: &str,
) -> bool {
    let expected = callback_sign(params, secret);
    let given = sign.trim().to_ascii_uppercase();
    constant_time_eq(expected.as_bytes(), given.as_bytes())
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8e17bb88a087400bac9ab67e67b138ef";
    const DATA: &str =
        r#"{"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001","State":1}"#;

    fn vector() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AppKey", "85f46119-e920-4f01-9624-66326c013217"),
            ("TimeStamp", "20230912113528"),
            ("Method", "hmm.scm_heorder.confirm"),
            ("Data", DATA),
        ]
    }

    #[test]
    fn vendor_test_vector() {
        assert_eq!(
            callback_sign(vector(), SECRET),
            "F1652582B10B3061C4A8981CD0D104ED"
        );
    }

    #[test]
    fn order_sign_and_empty_values_do_not_matter() {
        let mut params = vector();
        params.reverse();
        params.push(("Sign", "WHATEVER"));
        params.push(("Extra", "   "));
        params.push(("Other", ""));
        assert_eq!(
            callback_sign(params, SECRET),
            "F1652582B10B3061C4A8981CD0D104ED"
        );
    }

    #[test]
    fn verify_accepts_the_right_sign_in_either_case() {
        assert!(verify_callback_sign(
            vector(),
            SECRET,
            "F1652582B10B3061C4A8981CD0D104ED"
        ));
        assert!(verify_callback_sign(
            vector(),
            SECRET,
            "f1652582b10b3061c4a8981cd0d104ed"
        ));
    }

    #[test]
    fn verify_rejects_tampering() {
        assert!(!verify_callback_sign(
            vector(),
            SECRET,
            "F1652582B10B3061C4A8981CD0D104EE"
        ));
        assert!(!verify_callback_sign(vector(), SECRET, ""));
        assert!(!verify_callback_sign(
            vector(),
            "another-secret",
            "F1652582B10B3061C4A8981CD0D104ED"
        ));
        let mut params = vector();
        params[3] = (
            "Data",
            r#"{"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001","State":0}"#,
        );
        assert!(!verify_callback_sign(
            params,
            SECRET,
            "F1652582B10B3061C4A8981CD0D104ED"
        ));
    }

    #[test]
    fn a_non_empty_extra_field_changes_the_sign() {
        let mut params = vector();
        params.push(("Extra", "x"));
        assert_ne!(
            callback_sign(params, SECRET),
            "F1652582B10B3061C4A8981CD0D104ED"
        );
    }
}
