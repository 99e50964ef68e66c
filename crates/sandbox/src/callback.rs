//! The signature of the callbacks Haier sends back (protocol §3), written from the
//! vendor's description so that tests and tools can check a callback without the
//! client's code.

use md5::{Digest, Md5};

/// The name of the signature parameter, which is never signed itself.
pub const SIGN: &str = "Sign";

/// The `Sign` of a callback's parameters (`AppKey`, `TimeStamp`, `Method`, `Data`,
/// and `Sign` itself, which is ignored).
///
/// The vendor's rule: drop `Sign` and every empty or whitespace-only value; sort the
/// rest by key (code point order); concatenate key and value of each; wrap the text in
/// the secret on both sides; lower-case all of it; MD5; upper-case hex.
///
/// ```
/// let sign = sandbox::callback::sign(
///     &[
///         ("AppKey", "85f46119-e920-4f01-9624-66326c013217"),
///         ("TimeStamp", "20230912113528"),
///         ("Method", "hmm.scm_heorder.confirm"),
///         (
///             "Data",
///             r#"{"ExtOrderNo":"SO.20230912.000001","PlatformOrderNo":"PO20230912001","State":1}"#,
///         ),
///     ],
///     "8e17bb88a087400bac9ab67e67b138ef",
/// );
/// assert_eq!(sign, "F1652582B10B3061C4A8981CD0D104ED");
/// ```
pub fn sign<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], secret: &str) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, v)| *k != SIGN && !v.trim().is_empty())
        .collect();
    // `str` orders by bytes, which for UTF-8 is code point order.
    kept.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(b.1)));
    let mut text = String::with_capacity(
        2 * secret.len() + kept.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>(),
    );
    text.push_str(secret);
    for (k, v) in kept {
        text.push_str(k);
        text.push_str(v);
    }
    text.push_str(secret);
    let digest = Md5::digest(text.to_lowercase().as_bytes());
    digest.iter().map(|b| format!("{b:02X}")).collect()
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
    fn matches_the_vendor_test_vector() {
        assert_eq!(sign(&vector(), SECRET), "F1652582B10B3061C4A8981CD0D104ED");
    }

    #[test]
    fn ignores_order_sign_and_empty_values_but_not_content() {
        let mut params = vector();
        params.reverse();
        params.push(("Sign", "WHATEVER"));
        params.push(("Extra", "  "));
        assert_eq!(sign(&params, SECRET), "F1652582B10B3061C4A8981CD0D104ED");
        // Lower-casing makes case differences in values irrelevant…
        let upper: Vec<(&str, String)> = vector()
            .into_iter()
            .map(|(k, v)| (k, v.to_uppercase()))
            .collect();
        assert_eq!(sign(&upper, SECRET), "F1652582B10B3061C4A8981CD0D104ED");
        // …but any other change to a value or the secret changes the sign.
        let mut changed = vector();
        changed[1].1 = "20230912113529";
        assert_ne!(sign(&changed, SECRET), "F1652582B10B3061C4A8981CD0D104ED");
        assert_ne!(sign(&vector(), "other"), "F1652582B10B3061C4A8981CD0D104ED");
    }
}
