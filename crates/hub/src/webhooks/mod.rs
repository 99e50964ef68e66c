//! Webhooks: signed deliveries from external systems (in) and to them (out), on the
//! Standard Webhooks scheme.

pub mod http;
pub mod outbound;
pub mod signature;
