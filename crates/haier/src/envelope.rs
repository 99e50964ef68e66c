//! The vendor's reply envelope.

use serde::{Deserialize, Serialize};

use crate::wire;

/// The envelope around the vendor's business replies:
/// `{"success": bool, "code": …, "message": …, "data": …}`.
///
/// The confirmed real shape is the H3 stock reply
/// `{"success":true,"data":[…]}`; the client also accepts a bare list (as
/// the original client did) and, for H5, a single object. `success:false` is
/// turned into [`Error::Business`](crate::Error::Business) with `code` and
/// `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// `success`: whether the vendor accepted the request. Also read from the
    /// strings `"true"`/`"false"`.
    #[serde(
        default,
        deserialize_with = "wire::flag::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub success: Option<bool>,
    /// `code`: the vendor's result code, as text (it may arrive as a number,
    /// e.g. `200`, or a word, e.g. `"success"`).
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `message`: the vendor's human-readable result (Chinese).
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `data`: the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

impl<T> Envelope<T> {
    /// A successful reply carrying `data`: `{"success":true,"data":…}`.
    pub fn ok(data: T) -> Self {
        Self {
            success: Some(true),
            code: None,
            message: None,
            data: Some(data),
        }
    }

    /// A business rejection: `{"success":false,"code":…,"message":…}`.
    pub fn rejected(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            success: Some(false),
            code: Some(code.into()),
            message: Some(message.into()),
            data: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            serde_json::to_string(&Envelope::ok(vec![1, 2])).unwrap(),
            r#"{"success":true,"data":[1,2]}"#
        );
        assert_eq!(
            serde_json::to_string(&Envelope::<()>::rejected("E1", "no")).unwrap(),
            r#"{"success":false,"code":"E1","message":"no"}"#
        );
        let e: Envelope<Vec<u8>> =
            serde_json::from_str(r#"{"success":true,"code":200,"message":null,"data":[7]}"#)
                .unwrap();
        assert_eq!(e.code.as_deref(), Some("200"));
        assert_eq!(e.data, Some(vec![7]));
    }
}
