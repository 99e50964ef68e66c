//! The vendor's reply envelope (protocol §0.1).

use serde::{Deserialize, Serialize};

use crate::wire;

/// The envelope around the vendor's business replies, as the vendor's
/// document v1.0.10 gives it for the Open Platform and YLH alike:
/// `{"success": bool, "code": 0|1, "errCode": …, "errorMsg": …,
/// "infoMsgs": […], "warningMsgs": […], "data": …}`.
///
/// Failures are HTTP 200 with `success: false`; the failure's text is in
/// `errorMsg` and its machine code in `errCode`. Older replies and error
/// pages put the text in `message` or `msg`: those are read too, after
/// `errorMsg` (see [`text`](Self::text)). `success:false` is turned into
/// [`Error::Business`](crate::Error::Business).
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
    /// `code`: the vendor's result code, as text. The document gives a
    /// number (0 success, 1 failure); other texts are kept as sent.
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `errCode`: the machine error code of a failure (`null` otherwise).
    #[serde(
        rename = "errCode",
        default,
        with = "wire::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code: Option<String>,
    /// `errorMsg`: the failure's text (`null` otherwise).
    #[serde(
        rename = "errorMsg",
        default,
        with = "wire::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_msg: Option<String>,
    /// `message`: a result text, not in the vendor's document but sent by
    /// some gateways.
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `msg`: another spelling of `message`.
    #[serde(default, with = "wire::text", skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// `infoMsgs`: notes from the vendor; empty if absent or `null`.
    #[serde(
        rename = "infoMsgs",
        default,
        deserialize_with = "wire::text_list::deserialize",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub info_msgs: Vec<String>,
    /// `warningMsgs`: warnings from the vendor; empty if absent or `null`.
    #[serde(
        rename = "warningMsgs",
        default,
        deserialize_with = "wire::text_list::deserialize",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub warning_msgs: Vec<String>,
    /// `data`: the payload (a list, an object or, for Y1–Y3, a boolean).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

impl<T> Envelope<T> {
    /// A successful reply carrying `data`: `{"success":true,"code":"0","data":…}`.
    pub fn ok(data: T) -> Self {
        Self {
            success: Some(true),
            code: Some("0".into()),
            err_code: None,
            error_msg: None,
            message: None,
            msg: None,
            info_msgs: Vec::new(),
            warning_msgs: Vec::new(),
            data: Some(data),
        }
    }

    /// A business rejection:
    /// `{"success":false,"code":"1","errCode":…,"errorMsg":…}`.
    pub fn rejected(err_code: impl Into<String>, error_msg: impl Into<String>) -> Self {
        Self {
            success: Some(false),
            code: Some("1".into()),
            err_code: Some(err_code.into()),
            error_msg: Some(error_msg.into()),
            message: None,
            msg: None,
            info_msgs: Vec::new(),
            warning_msgs: Vec::new(),
            data: None,
        }
    }

    /// The reply's text: the first non-blank of `errorMsg`, `message` and
    /// `msg`.
    pub fn text(&self) -> Option<&str> {
        [&self.error_msg, &self.message, &self.msg]
            .into_iter()
            .filter_map(|t| t.as_deref())
            .find(|t| !t.trim().is_empty())
    }

    /// Whether the reply carries any status at all (`code`, `errCode` or a
    /// text), as opposed to being a bare payload object.
    pub fn has_status(&self) -> bool {
        self.code.is_some() || self.err_code.is_some() || self.text().is_some()
    }

    /// The [`Error::Business`](crate::Error::Business) this reply stands
    /// for when it is `success:false`.
    pub(crate) fn business_error(&self, endpoint: &'static str) -> crate::Error {
        crate::Error::Business {
            endpoint,
            code: self.code.clone(),
            err_code: self.err_code.clone(),
            message: self.text().unwrap_or_default().to_owned(),
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
            r#"{"success":true,"code":"0","data":[1,2]}"#
        );
        assert_eq!(
            serde_json::to_string(&Envelope::<()>::rejected("E1", "no")).unwrap(),
            r#"{"success":false,"code":"1","errCode":"E1","errorMsg":"no"}"#
        );
        let e: Envelope<Vec<u8>> = serde_json::from_str(
            r#"{"success":true,"code":0,"errCode":null,"errorMsg":null,"infoMsgs":[],"warningMsgs":null,"data":[7],"error":null}"#,
        )
        .unwrap();
        assert_eq!(e.code.as_deref(), Some("0"));
        assert_eq!(e.data, Some(vec![7]));
        assert_eq!(e.text(), None);
    }

    #[test]
    fn text_prefers_error_msg() {
        let e: Envelope<()> = serde_json::from_str(
            r#"{"success":false,"code":1,"errCode":"E9","errorMsg":"库存不足","message":"x","msg":"y"}"#,
        )
        .unwrap();
        assert_eq!(e.text(), Some("库存不足"));
        let e: Envelope<()> = serde_json::from_str(r#"{"success":false,"msg":"y"}"#).unwrap();
        assert_eq!(e.text(), Some("y"));
    }
}
