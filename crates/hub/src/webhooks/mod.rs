//! Webhooks: signed deliveries from external systems (in) and to them (out), on the
//! Standard Webhooks scheme.
//!
//! Inbound ([`inbound`]): a system is given signing secrets; `POST /webhooks/{system_id}`
//! verifies a delivery on its raw bytes, stores it raw and answers at once; a job applies
//! it to the records, mapped from the system's own shape when it has a mapping;
//! operators list, read and replay events.

pub mod http;
pub mod inbound;
pub mod outbound;
pub mod signature;
