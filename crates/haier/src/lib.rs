//! Client of the Haier supplier systems.
//!
//! This crate holds everything that speaks the vendor's language and nothing
//! of our own domain:
//!
//! - [`open_platform`]: the Haier Open Platform (海尔开放平台): its wire types
//!   with the exact remote field names (including the vendor's misspellings
//!   `productGroupNamd`, `productLageUrls` and `isTranfer`), its configuration
//!   and the [`OpenPlatform`] client for the queries H1 (procurable products),
//!   H2 (prices), H3 (regional stock), H4 (logistics) and H5 (payer balance).
//! - [`ylh`]: the YLH order centre (易理货): its configuration, wire types and
//!   the [`Ylh`] client for Y1 (create an order), Y2 (cancel), Y3
//!   (reschedule), Y4 (delivery photos) and Y5 (logistics). Order creation is
//!   not idempotent; read the module's ambiguity contract before calling it.
//! - [`callback`]: the vendor's inbound callbacks: reading, verifying (AppKey,
//!   signature, time window), the `Data` payload and the reply envelope.
//! - [`token`]: a cached, single-flight OAuth token provider usable by any
//!   vendor system.
//! - [`retry`], [`breaker`], [`budget`], [`observe`]: the resilience and
//!   telemetry pieces every call goes through (jittered exponential backoff that
//!   honours `Retry-After`, the account's request budget shared by its clients
//!   and divided between processes, a small circuit breaker and per-attempt call
//!   records).
//! - [`sign`]: the MD5 signature of the vendor's inbound callbacks.
//! - [`error`]: one typed error for all of it.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod budget;
pub mod callback;
pub mod envelope;
pub mod error;
pub mod observe;
pub mod open_platform;
pub mod product_code;
pub mod retry;
pub mod setting;
pub mod sign;
pub mod token;
pub mod ylh;

mod defaults;
mod transport;
mod wire;

pub use wire::{BadRecord, Records};

pub use budget::{Budget, in_background};
pub use callback::{
    CallbackData, CallbackError, CallbackItem, CallbackMethod, CallbackReply, CallbackRequest,
    CallbackState, sign_callback_form,
};
pub use envelope::Envelope;
pub use error::Error;
pub use observe::{CallObserver, CallRecord, CallStats, Outcome};
pub use open_platform::{
    LogisticsInfo, MAX_CODES_PER_CALL, OpenPlatform, OpenPlatformBuilder, OpenPlatformConfig,
    PayerBalance, Price, ProcurableProduct, StockReply, WarehouseStock,
};
pub use product_code::{InvalidProductCode, ProductCode};
pub use sign::{callback_sign, verify_callback_sign};
pub use ylh::{
    CancelOrderRequest, CreateOrderRequest, CreateOutcome, DeliveryPhoto, DeliveryPhotoRecord,
    OrderItem, RescheduleRequest, StoreLogistics, Ylh, YlhBuilder, YlhConfig,
};
