//! The Open Platform's envelope and the checks every business call shares.

use axum::http::StatusCode;
use serde::Serialize;

use crate::config::credentials;
use crate::gateway::{Envelope, Reply};

/// The most product codes one H1 or H2 call may carry.
pub(crate) const MAX_CODES: usize = 20;

/// Business error codes (HTTP 200, `success:false`).
pub(crate) mod codes {
    /// Unknown 售达方 (customer) code.
    pub(crate) const UNKNOWN_CUSTOMER: &str = "10001";
    /// Wrong agreed, seller or customer password.
    pub(crate) const WRONG_PASSWORD: &str = "10002";
    /// The 送达方 (ship-to) code does not belong to the customer.
    pub(crate) const WRONG_SEND_TO: &str = "10003";
    /// Unknown 供货方 (supplier) code.
    pub(crate) const UNKNOWN_SUPPLIER: &str = "10004";
    /// Unsupported `searchType`, `priceType` or `source`.
    pub(crate) const UNSUPPORTED_TYPE: &str = "10005";
    /// The county code keys no stock region.
    pub(crate) const BAD_COUNTY: &str = "10006";
}

/// The §0.1 envelope with `success: true` and `data`.
pub(crate) fn ok<T: Serialize>(data: T) -> Reply {
    Reply::json(StatusCode::OK, &Envelope::success(data))
}

/// A business error: HTTP 200 with `success:false`, `errorMsg` and `data:null`. The
/// sandbox's own `code` names the cause in its logs; the vendor's document names no
/// error codes, so none goes on the wire.
pub(crate) fn business_error(code: &str, message: &str) -> Reply {
    tracing::debug!(code, "business error");
    Reply::json(StatusCode::OK, &Envelope::failure(message, ()))
}

/// HTTP 400 with `success:false`.
pub(crate) fn bad_request(message: &str) -> Reply {
    Reply::failure(StatusCode::BAD_REQUEST, message)
}

/// A required string field: present, not null and not blank.
pub(crate) fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, Reply> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(bad_request(&format!("缺少必填参数: {name}"))),
    }
}

/// `productCodes`: at most [`MAX_CODES`], blanks dropped, duplicates answered once.
pub(crate) fn product_codes(codes: &Option<Vec<String>>) -> Result<Vec<&str>, Reply> {
    let codes = codes.as_deref().unwrap_or_default();
    if codes.len() > MAX_CODES {
        return Err(bad_request(&format!(
            "productCodes 最多 {MAX_CODES} 个，实际 {} 个",
            codes.len()
        )));
    }
    let mut out: Vec<&str> = Vec::with_capacity(codes.len());
    for c in codes.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// The customer (售达方) code must be the sandbox's.
pub(crate) fn check_customer(code: &str) -> Result<(), Reply> {
    if code == credentials::CUSTOMER_CODE {
        Ok(())
    } else {
        Err(business_error(
            codes::UNKNOWN_CUSTOMER,
            &format!("售达方编码不存在: {code}"),
        ))
    }
}

/// The ship-to (送达方) code must belong to the customer.
pub(crate) fn check_send_to(code: &str) -> Result<(), Reply> {
    if code == credentials::SEND_TO_CODE {
        Ok(())
    } else {
        Err(business_error(
            codes::WRONG_SEND_TO,
            &format!("送达方编码不存在或不属于该售达方: {code}"),
        ))
    }
}

/// A password must match the expected one; `what` names it in the message.
pub(crate) fn check_password(given: &str, expected: &str, what: &str) -> Result<(), Reply> {
    if given == expected {
        Ok(())
    } else {
        Err(business_error(
            codes::WRONG_PASSWORD,
            &format!("{what}错误"),
        ))
    }
}

/// A fixed-value field such as `searchType` must have its one accepted value.
pub(crate) fn check_fixed(given: &str, expected: &str, name: &str) -> Result<(), Reply> {
    if given == expected {
        Ok(())
    } else {
        Err(business_error(
            codes::UNSUPPORTED_TYPE,
            &format!("{name} 不支持: {given}"),
        ))
    }
}
