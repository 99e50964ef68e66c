//! The one error type of this crate.
//!
//! The variants keep apart what a caller must treat differently: a refused
//! credential (fix the configuration), a transient failure (try again
//! later), a business rejection by the vendor (never retry, show the
//! vendor's message), a reply we cannot read (a contract change), and a
//! request we refused to send. For calls that must not be repeated blindly
//! (the YLH order creation), a failure after the request may have reached
//! the vendor is kept apart as [`Error::Ambiguous`].
//!
//! No message ever holds a secret or a request body: the bodies of the
//! vendor's queries carry the agreed passwords.

use std::time::Duration;

/// An error from a call to a Haier system, or from building its client.
///
/// `endpoint` fields hold the short endpoint name also used in
/// [`CallRecord`](crate::CallRecord)s (for example `"h1_procurable"` or
/// `"token"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The vendor refused our credentials: the token endpoint answered
    /// HTTP 401/403, or a business call answered HTTP 401 even with a freshly
    /// fetched token. Not transient: the configuration needs fixing.
    #[error("{endpoint}: authentication refused: {detail}")]
    Auth {
        /// Short endpoint name.
        endpoint: &'static str,
        /// What was refused (status and the vendor's message, if any).
        detail: String,
    },

    /// The request did not get an HTTP answer: connection refused or reset,
    /// DNS, TLS, or a broken body. Transient.
    #[error("{endpoint}: transport error: {detail}")]
    Transport {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The transport's description of the failure (no URL, no body).
        detail: String,
    },

    /// No complete answer within the configured timeout. Transient.
    #[error("{endpoint}: timed out")]
    Timeout {
        /// Short endpoint name.
        endpoint: &'static str,
    },

    /// The vendor answered HTTP 429 and retries ran out, or it asked us to
    /// wait longer than [`MAX_RETRY_AFTER`](crate::retry::MAX_RETRY_AFTER).
    /// Transient.
    #[error("{endpoint}: rate limited by the vendor (HTTP 429){}", fmt_retry_after(.retry_after))]
    RateLimited {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The wait the vendor asked for in its `Retry-After` header, if any.
        retry_after: Option<Duration>,
    },

    /// The vendor answered with an HTTP 5xx status. Transient.
    #[error("{endpoint}: server error HTTP {status}")]
    Server {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The HTTP status code (500–599).
        status: u16,
    },

    /// The vendor refused the request with an HTTP 4xx status other than
    /// 401 and 429. Not transient.
    #[error("{endpoint}: request rejected with HTTP {status}: {message}")]
    Rejected {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The HTTP status code (400–499).
        status: u16,
        /// The vendor's message, or the start of its reply (at most 200
        /// characters).
        message: String,
    },

    /// The vendor answered HTTP 200 with `"success": false`. Never retried:
    /// the vendor has decided.
    #[error("{endpoint}: rejected by the vendor (code {}{}): {message}", .code.as_deref().unwrap_or("none"), fmt_err_code(.err_code))]
    Business {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The envelope's `code`, as text (the document gives a number: 1
        /// for a failure).
        code: Option<String>,
        /// The envelope's `errCode`: the machine error code, if any.
        err_code: Option<String>,
        /// The failure's text: the envelope's `errorMsg`, else its `message`
        /// or `msg` (empty if it sent none).
        message: String,
    },

    /// The reply is not what the protocol describes: malformed JSON, a
    /// missing token, a stock level that is not a non-negative integer, and
    /// so on. Not transient: retrying would get the same reply.
    #[error("{endpoint}: cannot decode the reply: {detail}")]
    Decode {
        /// Short endpoint name.
        endpoint: &'static str,
        /// What did not match.
        detail: String,
    },

    /// The circuit breaker is open after repeated transient failures: the
    /// call was not attempted. Transient (try again after the cool-down).
    #[error("{endpoint}: circuit open after repeated failures, not calling the vendor")]
    CircuitOpen {
        /// Short endpoint name.
        endpoint: &'static str,
    },

    /// The caller's arguments cannot make a valid request (too many product
    /// codes for one call, a malformed county code, ...). Nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The client configuration is unusable (a bad URL, a zero rate limit, a
    /// missing ship-to code, ...).
    #[error("configuration error: {0}")]
    Config(String),

    /// A call that is not idempotent (YLH order creation, `y1_create`)
    /// failed **after its request may have reached the vendor**: a timeout
    /// while waiting for the answer, a connection broken after sending, an
    /// HTTP 5xx or 429, or an HTTP 200 whose body cannot be read. The vendor
    /// may or may not have acted on it.
    ///
    /// The client returns this at once, without retrying. Before anything
    /// else is sent for the same order, the caller must find out what
    /// happened; for order creation, sending the *same* request again (the
    /// same `soId`) does that, because the vendor answers a repeated `soId`
    /// with the existing order (see
    /// [`CreateOutcome::AlreadyExists`](crate::ylh::CreateOutcome)).
    ///
    /// Counts as transient ([`is_transient`](Self::is_transient)): trying
    /// the same request later is how it is resolved.
    #[error("outcome unknown, the request may have reached the vendor: {cause}")]
    Ambiguous {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The failure of the last attempt (timeout, transport, server,
        /// rate-limited or decode error).
        cause: Box<Error>,
    },
}

/// `text` with every occurrence of the `private` values replaced by `***`.
/// Values shorter than 2 characters are left alone (they would blot out
/// ordinary words).
pub(crate) fn redact_text(text: String, private: &[&str]) -> String {
    let mut text = text;
    for value in private {
        let value = value.trim();
        if value.chars().count() >= 2 && text.contains(value) {
            text = text.replace(value, "***");
        }
    }
    text
}

fn fmt_err_code(err_code: &Option<String>) -> String {
    match err_code {
        Some(c) => format!(", errCode {c}"),
        None => String::new(),
    }
}

fn fmt_retry_after(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry after {} s", d.as_secs()),
        None => String::new(),
    }
}

impl Error {
    /// Whether trying the same call again later may succeed: transport
    /// failures, timeouts, HTTP 429 and 5xx, an open circuit, and
    /// [`Error::Ambiguous`] (whose next try must be the same request; see
    /// there).
    ///
    /// Business rejections, authentication failures, other 4xx, decode
    /// errors, invalid requests and configuration errors are permanent.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Transport { .. }
                | Error::Timeout { .. }
                | Error::RateLimited { .. }
                | Error::Server { .. }
                | Error::CircuitOpen { .. }
                | Error::Ambiguous { .. }
        )
    }

    /// Whether the request may have reached the vendor and been acted on
    /// although the call failed: only [`Error::Ambiguous`], which only
    /// calls that are not idempotent return. Every other error of such a
    /// call means the vendor did not act (nothing was sent, or the vendor
    /// answered with a refusal).
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, Error::Ambiguous { .. })
    }

    /// Whether the client itself retries this error within one call: the
    /// transient errors except [`Error::CircuitOpen`], which fails fast, and
    /// [`Error::Ambiguous`], which is final by definition.
    pub(crate) fn is_retryable(&self) -> bool {
        self.is_transient() && !matches!(self, Error::CircuitOpen { .. } | Error::Ambiguous { .. })
    }

    /// Whether a failure after sending leaves the vendor's decision unknown:
    /// no answer, a broken answer, or an answer from an overloaded or
    /// failing server. A 401, another 4xx and `success:false` are answers
    /// the vendor gave *instead of* acting.
    pub(crate) fn leaves_outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Transport { .. }
                | Error::Timeout { .. }
                | Error::RateLimited { .. }
                | Error::Server { .. }
                | Error::Decode { .. }
        )
    }

    /// The HTTP status the vendor answered with, when there was an answer whose status
    /// is known: 5xx and 4xx as received, 429 for rate limiting, 200 for a business
    /// rejection (`success:false` comes with HTTP 200); an ambiguous failure reports its
    /// cause's. `None` when no answer came (transport, timeout, circuit open) or the
    /// request was never sent.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Server { status, .. } | Error::Rejected { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            Error::Business { .. } => Some(200),
            Error::Ambiguous { cause, .. } => cause.http_status(),
            _ => None,
        }
    }

    /// The short name of the endpoint the error came from, if any.
    pub fn endpoint(&self) -> Option<&'static str> {
        match self {
            Error::Auth { endpoint, .. }
            | Error::Transport { endpoint, .. }
            | Error::Timeout { endpoint }
            | Error::RateLimited { endpoint, .. }
            | Error::Server { endpoint, .. }
            | Error::Rejected { endpoint, .. }
            | Error::Business { endpoint, .. }
            | Error::Decode { endpoint, .. }
            | Error::CircuitOpen { endpoint }
            | Error::Ambiguous { endpoint, .. } => Some(endpoint),
            Error::InvalidRequest(_) | Error::Config(_) => None,
        }
    }

    /// The same error with every occurrence of the `private` values (the
    /// consignee's name, phone, address…) in its texts replaced by `***`:
    /// the vendor may echo a request's values in its messages.
    pub(crate) fn redact(self, private: &[&str]) -> Self {
        let scrub = |text: String| redact_text(text, private);
        match self {
            Error::Auth { endpoint, detail } => Error::Auth {
                endpoint,
                detail: scrub(detail),
            },
            Error::Transport { endpoint, detail } => Error::Transport {
                endpoint,
                detail: scrub(detail),
            },
            Error::Rejected {
                endpoint,
                status,
                message,
            } => Error::Rejected {
                endpoint,
                status,
                message: scrub(message),
            },
            Error::Business {
                endpoint,
                code,
                err_code,
                message,
            } => Error::Business {
                endpoint,
                code: code.map(scrub),
                err_code: err_code.map(scrub),
                message: scrub(message),
            },
            Error::Decode { endpoint, detail } => Error::Decode {
                endpoint,
                detail: scrub(detail),
            },
            Error::InvalidRequest(detail) => Error::InvalidRequest(scrub(detail)),
            Error::Ambiguous { endpoint, cause } => Error::Ambiguous {
                endpoint,
                cause: Box::new(cause.redact(private)),
            },
            other @ (Error::Timeout { .. }
            | Error::RateLimited { .. }
            | Error::Server { .. }
            | Error::CircuitOpen { .. }
            | Error::Config(_)) => other,
        }
    }

    pub(crate) fn decode(endpoint: &'static str, detail: impl Into<String>) -> Self {
        Error::Decode {
            endpoint,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_of_errors() {
        let ep = "y1_create";
        assert_eq!(
            Error::Server {
                endpoint: ep,
                status: 503
            }
            .http_status(),
            Some(503)
        );
        assert_eq!(Error::Timeout { endpoint: ep }.http_status(), None);
        let ambiguous = Error::Ambiguous {
            endpoint: ep,
            cause: Box::new(Error::Server {
                endpoint: ep,
                status: 502,
            }),
        };
        assert_eq!(ambiguous.http_status(), Some(502));
        assert_eq!(
            Error::RateLimited {
                endpoint: ep,
                retry_after: None
            }
            .http_status(),
            Some(429)
        );
    }

    #[test]
    fn transient_classification() {
        let ep = "h1_procurable";
        assert!(Error::Timeout { endpoint: ep }.is_transient());
        assert!(
            Error::Server {
                endpoint: ep,
                status: 503
            }
            .is_transient()
        );
        assert!(
            Error::RateLimited {
                endpoint: ep,
                retry_after: None
            }
            .is_transient()
        );
        assert!(Error::CircuitOpen { endpoint: ep }.is_transient());
        assert!(!Error::CircuitOpen { endpoint: ep }.is_retryable());
        assert!(
            !Error::Business {
                endpoint: ep,
                code: None,
                err_code: None,
                message: "x".into()
            }
            .is_transient()
        );
        assert!(
            !Error::Rejected {
                endpoint: ep,
                status: 404,
                message: String::new()
            }
            .is_transient()
        );
        assert!(
            !Error::Auth {
                endpoint: ep,
                detail: String::new()
            }
            .is_transient()
        );
        assert!(!Error::decode(ep, "bad").is_transient());
        let ambiguous = Error::Ambiguous {
            endpoint: "y1_create",
            cause: Box::new(Error::Timeout {
                endpoint: "y1_create",
            }),
        };
        assert!(ambiguous.is_ambiguous());
        assert!(ambiguous.is_transient());
        assert!(!ambiguous.is_retryable());
        assert!(!Error::Timeout { endpoint: ep }.is_ambiguous());
        assert_eq!(ambiguous.endpoint(), Some("y1_create"));
        assert_eq!(
            ambiguous.to_string(),
            "outcome unknown, the request may have reached the vendor: y1_create: timed out"
        );
    }

    #[test]
    fn redaction_reaches_nested_causes() {
        let err = Error::Ambiguous {
            endpoint: "y1_create",
            cause: Box::new(Error::decode("y1_create", "bad reply for 13912345678")),
        }
        .redact(&["13912345678", "张"]);
        assert_eq!(
            err.to_string(),
            "outcome unknown, the request may have reached the vendor: y1_create: cannot decode the reply: bad reply for ***"
        );
        let err = Error::Business {
            endpoint: "y1_create",
            code: Some("20003".into()),
            err_code: None,
            message: "consigneeMobile 必须为11位手机号: 1391234567 张三丰".into(),
        }
        .redact(&["1391234567", "张三丰", " "]);
        assert!(
            matches!(&err, Error::Business { message, .. } if message == "consigneeMobile 必须为11位手机号: *** ***"),
            "{err:?}"
        );
    }

    #[test]
    fn messages_name_endpoint_and_vendor_code() {
        let e = Error::Business {
            endpoint: "h2_prices",
            code: Some("1".into()),
            err_code: Some("E100".into()),
            message: "价格未生效".into(),
        };
        assert_eq!(
            e.to_string(),
            "h2_prices: rejected by the vendor (code 1, errCode E100): 价格未生效"
        );
        let e = Error::RateLimited {
            endpoint: "h3_stock",
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            e.to_string(),
            "h3_stock: rate limited by the vendor (HTTP 429), retry after 7 s"
        );
        assert_eq!(e.endpoint(), Some("h3_stock"));
        assert_eq!(Error::Config("x".into()).endpoint(), None);
    }
}
