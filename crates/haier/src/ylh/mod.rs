//! The YLH order centre (易理货 / 巨商汇, protocol §2): configuration, wire
//! types and the [`Ylh`] client for Y1 (create), Y2 (cancel), Y3
//! (reschedule), Y4 (delivery photos) and Y5 (logistics).
//!
//! Every HTTP request (token fetches included) is paced by the client's rate
//! limiter, guarded by the circuit breaker of its host, counted in
//! [`CallStats`] and reported to the optional [`CallObserver`]. Business
//! calls carry `Authorization: {token_type} {access_token}` from a cached
//! password-grant token; an HTTP 401 drops the token, fetches a new one and
//! repeats the request once.
//!
//! # Retries and the ambiguity contract of order creation
//!
//! Y2 to Y5 are safe to repeat (cancelling twice is harmless; the others
//! only read or set a value), so their transient failures (timeouts,
//! transport errors, HTTP 5xx and 429) are retried with jittered backoff up
//! to [`YlhConfig::max_retries`] times.
//!
//! **Y1 (create) is not idempotent and is never retried blindly.** Within
//! one [`Ylh::create_order`] call, an attempt is repeated only when its
//! request certainly did not reach the vendor: the connection could not be
//! made (refused, DNS, TLS, connect timeout), or the token could not be had
//! (a transient token endpoint failure). The client's own rate limiter only
//! delays requests, and an open circuit fails at once with
//! [`Error::CircuitOpen`]; neither sends anything.
//!
//! Once a request may have reached the vendor, the call ends with its first
//! answer:
//!
//! - `Ok(CreateOutcome::Created { .. })`: HTTP 200 and not `success:false`;
//! - `Ok(CreateOutcome::AlreadyExists { .. })`: the vendor refused a
//!   repeated `soId` (its text matched [`YlhConfig::duplicate_patterns`]) —
//!   the order **exists**;
//! - `Err(Error::Business { .. })`: `success:false` for another reason — the
//!   vendor did **not** create the order, and says why;
//! - `Err(Error::Auth { .. })` / `Err(Error::Rejected { .. })`: HTTP 401
//!   (after the one token refresh) or another 4xx — not created;
//! - `Err(Error::Ambiguous { .. })` ([`Error::is_ambiguous`]): a timeout
//!   while waiting for the answer, a connection broken after sending, HTTP
//!   5xx or 429, or an HTTP 200 body we cannot read. **The vendor may or may
//!   not have created the order.** The caller must not push anything else
//!   for this order until it has found out. Re-sending the *same* request
//!   (same `soId`) is the way to find out: the vendor answers either
//!   `Created` (the first push never arrived) or `AlreadyExists` (it did).
//!   Never change the `soId` to get past a failure.
//!
//! Every other error (`CircuitOpen`, `Transport`/`Timeout` of a connection
//! that was never made, token errors, `InvalidRequest`, `Config`) means
//! nothing reached the vendor: the order was not created and may be pushed
//! again later.

mod config;
mod token;
pub mod types;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Url;
use serde::Serialize;

pub use config::YlhConfig;
pub use token::{ENDPOINT as TOKEN_ENDPOINT, SYSTEM_NAME};
pub use types::{
    CHINA_OFFSET, CancelOrderRequest, CreateOrderRequest, CreateOutcome, DeliveryPhoto,
    DeliveryPhotoRecord, DeliveryPhotosRequest, LogisticsEntry, MAX_ORDER_CODES_PER_CALL,
    OrderItem, PhotoScene, RescheduleRequest, StoreLogistics, end_of_day,
};

use crate::breaker::BreakerState;
use crate::envelope::Envelope;
use crate::observe::{CallObserver, CallStats};
use crate::token::TokenProvider;
use crate::transport::{ClientExtras, ClientLimits, Idempotency, Transport};
use crate::{Error, wire};
use token::YlhTokens;

/// Paths of the endpoints, relative to their service's base URL.
pub mod paths {
    /// Token, under `auth_base_url`.
    pub const TOKEN: &str = "/oauth/token";
    /// Y1 create, under `order_base_url` (jst-order).
    pub const CREATE: &str = "/api/page/hmm/retailorder/receive-hmm-retail-order";
    /// Y2 cancel, under `order_base_url` (jst-order).
    pub const CANCEL: &str = "/api/page/hmm/retailorder/cancel-hmm-retail-order";
    /// Y3 reschedule, under `retail_order_base_url` (order).
    pub const RESCHEDULE: &str = "/api/page/retailorder/hmm/update-distribution-time";
    /// Y4 delivery photos, under `retail_order_base_url` (order).
    pub const PHOTOS: &str = "/api/page/retailorder/search/get-retail-order-delivery-img";
    /// Y5 logistics, under `stock_base_url` (stock).
    pub const LOGISTICS: &str = "/api/composite/stock/logistics/get-store-logistics-by-order-code";
}

/// Short endpoint names used in errors and [`CallRecord`](crate::CallRecord)s.
pub mod endpoints {
    /// Token requests.
    pub const TOKEN: &str = super::token::ENDPOINT;
    /// Y1 create.
    pub const CREATE: &str = "y1_create";
    /// Y2 cancel.
    pub const CANCEL: &str = "y2_cancel";
    /// Y3 reschedule.
    pub const RESCHEDULE: &str = "y3_reschedule";
    /// Y4 delivery photos.
    pub const PHOTOS: &str = "y4_photos";
    /// Y5 logistics.
    pub const LOGISTICS: &str = "y5_logistics";
}

/// The YLH client. Cheap to clone: clones share the token, the rate
/// limiter, the breakers and the counters.
#[derive(Clone)]
pub struct Ylh {
    inner: Arc<Inner>,
}

struct Inner {
    config: YlhConfig,
    transport: Transport,
    tokens: TokenProvider<YlhTokens>,
    urls: Urls,
}

struct Urls {
    create: Url,
    cancel: Url,
    reschedule: Url,
    photos: Url,
    logistics: Url,
}

impl fmt::Debug for Ylh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ylh")
            .field("order_base_url", &self.inner.config.order_base_url)
            .field("seller_code", &self.inner.config.seller_code)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Ylh`] client with optional extras.
pub struct YlhBuilder {
    config: YlhConfig,
    extras: ClientExtras,
}

impl YlhBuilder {
    /// Sends a [`CallRecord`](crate::CallRecord) of every HTTP attempt to
    /// `observer`.
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.extras.observer = Some(observer);
        self
    }

    /// Paces every request by `budget`, the account's request budget shared with the
    /// other clients of the account (see [`Budget`](crate::budget::Budget)); its limit
    /// applies instead of the configured `rate_limit`. Without it the client paces
    /// itself at its configured `rate_limit`.
    pub fn budget(mut self, budget: crate::budget::Budget) -> Self {
        self.extras.budget = Some(budget);
        self
    }

    /// Sets the base delay of the first retry and the cap of later ones
    /// (defaults: [`RetryPolicy::DEFAULT_MIN_DELAY`](crate::retry::RetryPolicy::DEFAULT_MIN_DELAY),
    /// [`RetryPolicy::DEFAULT_MAX_DELAY`](crate::retry::RetryPolicy::DEFAULT_MAX_DELAY)); jitter adds up to as much again.
    pub fn retry_delays(mut self, min: Duration, max: Duration) -> Self {
        self.extras.min_delay = min;
        self.extras.max_delay = max;
        self
    }

    /// Checks the configuration and builds the client. No request is sent.
    pub fn build(self) -> Result<Ylh, Error> {
        let config = self.config;
        config.validate()?;
        let transport = self.extras.transport(ClientLimits {
            section: "ylh",
            timeout: config.timeout(),
            rate_limit: config.rate_limit,
            breaker_threshold: config.breaker_threshold,
            breaker_cooldown: config.breaker_cooldown(),
            max_retries: config.max_retries,
        })?;
        let url = |name: &str, base: &str, path: &str| {
            Url::parse(&format!("{}{path}", config::trim(base)))
                .map_err(|e| Error::Config(format!("ylh.{name}: {e}")))
        };
        let urls = Urls {
            create: url("order_base_url", &config.order_base_url, paths::CREATE)?,
            cancel: url("order_base_url", &config.order_base_url, paths::CANCEL)?,
            reschedule: url(
                "retail_order_base_url",
                &config.retail_order_base_url,
                paths::RESCHEDULE,
            )?,
            photos: url(
                "retail_order_base_url",
                &config.retail_order_base_url,
                paths::PHOTOS,
            )?,
            logistics: url("stock_base_url", &config.stock_base_url, paths::LOGISTICS)?,
        };
        let tokens = TokenProvider::new(YlhTokens::new(
            transport.clone(),
            url("auth_base_url", &config.auth_base_url, paths::TOKEN)?,
            config.client_id.clone(),
            config.client_secret.clone(),
            config.username.clone(),
            config.password.clone(),
            config.token_timeout(),
        ));
        Ok(Ylh {
            inner: Arc::new(Inner {
                config,
                transport,
                tokens,
                urls,
            }),
        })
    }
}

impl Ylh {
    /// A client with `config` and no observer. No request is sent until the
    /// first call.
    pub fn new(config: YlhConfig) -> Result<Self, Error> {
        Self::builder(config).build()
    }

    /// A builder for a client with an observer or other retry delays.
    pub fn builder(config: YlhConfig) -> YlhBuilder {
        YlhBuilder {
            config,
            extras: ClientExtras::default(),
        }
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &YlhConfig {
        &self.inner.config
    }

    /// Cumulative counters since the client was built.
    pub fn stats(&self) -> CallStats {
        self.inner.transport.stats()
    }

    /// The most severe state of the per-host circuit breakers now.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.transport.breaker_state()
    }

    /// Y1: pushes one order.
    ///
    /// `sourceSystem`, `shopName` and `sellerCode` are taken from the
    /// configuration, whatever `order` holds there. The order is checked
    /// first ([`CreateOrderRequest::validate`]; [`Error::InvalidRequest`]
    /// with nothing sent).
    ///
    /// Read the module documentation for what each result means; in short:
    /// `Ok` means the order exists at YLH, [`Error::is_ambiguous`] means it
    /// may, and every other error means it does not.
    pub async fn create_order(&self, order: &CreateOrderRequest) -> Result<CreateOutcome, Error> {
        let config = &self.inner.config;
        let mut order = order.clone();
        order.source_system.clone_from(&config.source_system);
        order.shop_name.clone_from(&config.shop_name);
        order.seller_code.clone_from(&config.seller_code);
        order.validate()?;
        let private = [
            order.consignee_name.as_str(),
            order.consignee_mobile.as_str(),
            order.detail_address.as_str(),
        ];
        let outcome = self
            .send(
                endpoints::CREATE,
                &self.inner.urls.create,
                &order,
                Idempotency::NotIdempotent,
                &private,
                |body| decode_create(body, &order.so_id, config),
            )
            .await?;
        Ok(match outcome {
            CreateOutcome::AlreadyExists {
                retail_order_no,
                code,
                err_code,
                message,
            } => CreateOutcome::AlreadyExists {
                retail_order_no,
                code,
                err_code,
                message: crate::error::redact_text(message, &private),
            },
            created @ CreateOutcome::Created { .. } => created,
        })
    }

    /// Y2: asks the vendor to cancel the order pushed as `so_id`, at `at`
    /// (`None`: now), for `reason`.
    ///
    /// `Ok` only means the vendor took the request; the result arrives by
    /// callback (`hmm.scm_heorder.cancel`). `success:false` is
    /// [`Error::Business`] with the vendor's code and message. Transient
    /// failures are retried; a request that reached the vendor before its
    /// answer was lost is then refused as a repeat, a refusal
    /// [`YlhConfig::is_duplicate_refusal`] recognises (the vendor holds the
    /// request).
    pub async fn cancel_order(
        &self,
        so_id: &str,
        reason: &str,
        at: Option<Timestamp>,
    ) -> Result<(), Error> {
        if so_id.trim().is_empty() {
            return Err(Error::InvalidRequest("y2_cancel: soId is empty".into()));
        }
        let request = CancelOrderRequest::new(
            so_id,
            reason,
            self.inner.config.source_system.clone(),
            at.unwrap_or_else(Timestamp::now),
        );
        self.send(
            endpoints::CANCEL,
            &self.inner.urls.cancel,
            &request,
            Idempotency::Idempotent,
            &[],
            |body| decode_ack(endpoints::CANCEL, body),
        )
        .await
    }

    /// Y3: sets the delivery and installation days of the vendor's order
    /// `retail_order_no` (改约; the `ExtOrderNo` of the confirm callback).
    ///
    /// Both times are sent, always (protocol §0.3): pass the one that does
    /// not change with its original value. Each must be 23:59:59 China time
    /// of the chosen day (see [`end_of_day`]); otherwise
    /// [`Error::InvalidRequest`] names the bad value and nothing is sent.
    /// `success:false` is [`Error::Business`].
    pub async fn reschedule(
        &self,
        retail_order_no: &str,
        distribution_time: Timestamp,
        install_time: Timestamp,
    ) -> Result<(), Error> {
        let request = RescheduleRequest {
            retail_order_no: retail_order_no.to_owned(),
            distribution_time,
            install_time,
        };
        request.validate()?;
        self.send(
            endpoints::RESCHEDULE,
            &self.inner.urls.reschedule,
            &request,
            Idempotency::Idempotent,
            &[],
            |body| decode_ack(endpoints::RESCHEDULE, body),
        )
        .await
    }

    /// Y4: the delivery and installation photos of the vendor's order
    /// `order_no` (`{"orderNo":…}`).
    ///
    /// The reply's `data` is a list of [`DeliveryPhotoRecord`]s (protocol
    /// §0.3): one per delivery record, each with its photos; none yet is an
    /// empty list.
    pub async fn delivery_photos(&self, order_no: &str) -> Result<Vec<DeliveryPhotoRecord>, Error> {
        if order_no.trim().is_empty() {
            return Err(Error::InvalidRequest("y4_photos: orderNo is empty".into()));
        }
        let request = DeliveryPhotosRequest {
            order_no: order_no.to_owned(),
        };
        self.send(
            endpoints::PHOTOS,
            &self.inner.urls.photos,
            &request,
            Idempotency::Idempotent,
            &[],
            |body| wire::decode_items(endpoints::PHOTOS, body),
        )
        .await
    }

    /// Y5: logistics of SO codes (the vendor's order numbers).
    ///
    /// The codes (duplicates and blanks dropped, order kept) go out as bare
    /// JSON arrays of at most [`MAX_ORDER_CODES_PER_CALL`], one request after
    /// the other; none is ever cut off. No codes: no request. The first
    /// failing request ends the call with its error; to keep per-chunk
    /// failures, call [`logistics_chunk`](Self::logistics_chunk) on
    /// `codes.chunks(MAX_ORDER_CODES_PER_CALL)`.
    pub async fn logistics(&self, order_codes: &[String]) -> Result<Vec<StoreLogistics>, Error> {
        let mut seen = HashSet::with_capacity(order_codes.len());
        let codes: Vec<String> = order_codes
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty() && seen.insert(*c))
            .map(str::to_owned)
            .collect();
        let mut all = Vec::new();
        for chunk in codes.chunks(MAX_ORDER_CODES_PER_CALL) {
            all.extend(self.logistics_chunk(chunk).await?);
        }
        Ok(all)
    }

    /// Y5 for one request of 1 to [`MAX_ORDER_CODES_PER_CALL`] codes, sent
    /// as given ([`Error::InvalidRequest`] otherwise, with nothing sent).
    pub async fn logistics_chunk(
        &self,
        order_codes: &[String],
    ) -> Result<Vec<StoreLogistics>, Error> {
        if order_codes.is_empty() || order_codes.len() > MAX_ORDER_CODES_PER_CALL {
            return Err(Error::InvalidRequest(format!(
                "y5_logistics: {} SO codes in one request; give 1 to {MAX_ORDER_CODES_PER_CALL}",
                order_codes.len()
            )));
        }
        self.send(
            endpoints::LOGISTICS,
            &self.inner.urls.logistics,
            &order_codes,
            Idempotency::Idempotent,
            &[],
            |body| wire::decode_items(endpoints::LOGISTICS, body),
        )
        .await
    }

    /// Sends `request`; `private` values are blotted out of errors.
    async fn send<R, T>(
        &self,
        endpoint: &'static str,
        url: &Url,
        request: &R,
        idempotency: Idempotency,
        private: &[&str],
        decode: impl Fn(&[u8]) -> Result<T, Error>,
    ) -> Result<T, Error>
    where
        R: Serialize,
    {
        // The body holds the consignee's personal data: it is never logged
        // or put in an error, and the consignee's values the vendor may echo
        // are blotted out of error texts.
        let body = serde_json::to_vec(request).map_err(|e| {
            Error::InvalidRequest(format!("{endpoint}: cannot encode the request: {e}"))
        })?;
        self.inner
            .transport
            .call(
                &self.inner.tokens,
                endpoint,
                url,
                &body,
                idempotency,
                private,
                decode,
            )
            .await
    }
}

/// Reads the answer to Y1 (HTTP 2xx; other statuses are classified before).
///
/// The vendor's document (v1.0.10) answers `{"success":true,…,"data":true}`
/// and nothing else on acceptance; the order number arrives later, as
/// `ExtOrderNo` in the confirm callback.
///
/// - `success:false` whose `errorMsg` (or `errCode`) matches a configured
///   duplicate pattern ([`YlhConfig::is_duplicate_refusal`]) and that does
///   not name another `soId` in `data.soId` → [`CreateOutcome::AlreadyExists`];
/// - other `success:false` → [`Error::Business`] with the vendor's words;
/// - `success:true` with `data: false` → [`Error::Business`] (not accepted);
/// - `success:true`, or no `success` but an order number or no status at
///   all → [`CreateOutcome::Created`];
/// - no `success`, no order number, but a `code` or a text → a decode
///   error (a status we cannot read as acceptance; ambiguous for the caller);
/// - not JSON → a decode error (ambiguous).
fn decode_create(body: &[u8], so_id: &str, config: &YlhConfig) -> Result<CreateOutcome, Error> {
    let endpoint = endpoints::CREATE;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CreateOutcome::Created {
            retail_order_no: None,
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::decode(endpoint, e.to_string()))?;
    let serde_json::Value::Object(_) = &value else {
        return Ok(CreateOutcome::Created {
            retail_order_no: None,
        });
    };
    let envelope: Envelope<serde_json::Value> = serde_json::from_value(value.clone())
        .map_err(|e| Error::decode(endpoint, e.to_string()))?;
    let retail_order_no = retail_order_no(&value);
    match envelope.success {
        Some(false) => {
            let message = envelope.text().unwrap_or_default().to_owned();
            let names_other_order = value
                .get("data")
                .and_then(|d| d.get("soId"))
                .and_then(scalar_text)
                .is_some_and(|other| other != so_id.trim());
            if config.is_duplicate_refusal(envelope.err_code.as_deref(), &message)
                && !names_other_order
            {
                tracing::info!(endpoint, "order already at the vendor");
                Ok(CreateOutcome::AlreadyExists {
                    retail_order_no,
                    code: envelope.code,
                    err_code: envelope.err_code,
                    message,
                })
            } else {
                Err(envelope.business_error(endpoint))
            }
        }
        Some(true) if envelope.data == Some(serde_json::Value::Bool(false)) => {
            Err(Error::Business {
                endpoint,
                code: envelope.code.clone(),
                err_code: envelope.err_code.clone(),
                message: envelope
                    .text()
                    .unwrap_or("the vendor answered data: false")
                    .to_owned(),
            })
        }
        Some(true) => Ok(CreateOutcome::Created { retail_order_no }),
        None if retail_order_no.is_none() && envelope.has_status() => Err(Error::decode(
            endpoint,
            format!(
                "reply without `success` or an order number: code {}, message {}",
                envelope.code.as_deref().unwrap_or("none"),
                envelope.text().unwrap_or("none"),
            ),
        )),
        None => Ok(CreateOutcome::Created { retail_order_no }),
    }
}

/// The vendor's order number in a Y1 answer: the first non-empty of
/// `data.retailOrderNo`, `data.retail_order_no`, `retailOrderNo`,
/// `retail_order_no` (a number is taken as its digits).
fn retail_order_no(value: &serde_json::Value) -> Option<String> {
    let keys = ["retailOrderNo", "retail_order_no"];
    let data = value.get("data");
    keys.iter()
        .filter_map(|k| data.and_then(|d| d.get(*k)))
        .chain(keys.iter().filter_map(|k| value.get(*k)))
        .find_map(scalar_text)
}

fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the answer to a command without a documented reply (Y2, Y3):
/// `success:false` is [`Error::Business`]; an empty body or any JSON
/// without it is an acknowledgement; a body that is not JSON is a decode
/// error.
fn decode_ack(endpoint: &'static str, body: &[u8]) -> Result<(), Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::decode(endpoint, e.to_string()))?;
    if !value.is_object() {
        return Ok(());
    }
    let envelope: Envelope<serde_json::Value> =
        serde_json::from_value(value).map_err(|e| Error::decode(endpoint, e.to_string()))?;
    match envelope.success {
        Some(false) => Err(envelope.business_error(endpoint)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_config() -> YlhConfig {
        let mut c = YlhConfig::for_host(
            "http://dev.ylhtest.com",
            "-dev",
            "x".into(),
            "erp",
            "p".into(),
            "店",
            "8800539012",
        );
        c.source_system = "src".into();
        c
    }

    #[test]
    fn create_answers() {
        let config = test_config();
        let created = |b: &str| decode_create(b.as_bytes(), "PO1", &config);
        assert_eq!(
            created(r#"{"success":true,"code":0,"errCode":null,"errorMsg":null,"infoMsgs":[],"warningMsgs":[],"data":true}"#)
                .unwrap(),
            CreateOutcome::Created {
                retail_order_no: None
            }
        );
        assert_eq!(
            created(r#"{"success":true,"data":{"retailOrderNo":"SO.1"}}"#).unwrap(),
            CreateOutcome::Created {
                retail_order_no: Some("SO.1".into())
            }
        );
        assert_eq!(
            created(r#"{"retailOrderNo":"SO.3"}"#)
                .unwrap()
                .retail_order_no(),
            Some("SO.3")
        );
        assert_eq!(created("").unwrap().retail_order_no(), None);
        assert!(matches!(
            created(r#"{"success":true,"code":0,"data":false}"#),
            Err(Error::Business { .. })
        ));

        let dup = created(
            r#"{"success":false,"code":1,"errCode":"E1","errorMsg":"子订单号 PO1 已存在","data":null}"#,
        )
        .unwrap();
        assert!(
            matches!(&dup, CreateOutcome::AlreadyExists { err_code: Some(c), message, .. } if c == "E1" && message.contains("已存在"))
        );
        // A duplicate of another order is not ours.
        assert!(matches!(
            created(r#"{"success":false,"code":1,"errorMsg":"已存在","data":{"soId":"PO9"}}"#),
            Err(Error::Business { .. })
        ));

        let err = created(r#"{"success":false,"code":1,"errCode":"E2","errorMsg":"商品不可采"}"#)
            .unwrap_err();
        assert_eq!(
            err,
            Error::Business {
                endpoint: "y1_create",
                code: Some("1".into()),
                err_code: Some("E2".into()),
                message: "商品不可采".into()
            }
        );
        assert!(matches!(
            created(r#"{"code":500,"message":"系统繁忙"}"#),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(created("<html>"), Err(Error::Decode { .. })));
    }

    #[test]
    fn ack_answers() {
        let ack = |b: &str| decode_ack("y2_cancel", b.as_bytes());
        ack(r#"{"success":true,"code":"200","data":null}"#).unwrap();
        ack("").unwrap();
        ack(r#"{"code":"200"}"#).unwrap();
        assert_eq!(
            ack(r#"{"success":false,"code":"E","message":"订单已发货"}"#).unwrap_err(),
            Error::Business {
                endpoint: "y2_cancel",
                code: Some("E".into()),
                err_code: None,
                message: "订单已发货".into()
            }
        );
        assert!(matches!(ack("oops"), Err(Error::Decode { .. })));
    }
}
