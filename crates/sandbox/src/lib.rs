//! A faithful simulator of Haier's supplier interfaces, written from the vendor's
//! protocol:
//!
//! - the Open Platform (海尔开放平台): the token endpoint and the business calls H1
//!   (procurable products), H2 (prices), H3 (regional stock), H4 (order logistics) and
//!   H5 (payer balance);
//! - the YLH order centre (易理货): its password-grant token and Y1 (create), Y2
//!   (cancel), Y3 (reschedule), Y4 (delivery photos) and Y5 (logistics), with the
//!   validation YLH applies;
//! - the signed callbacks Haier sends back as orders are confirmed, rejected, found out
//!   of stock or cancelled, while their logistics advance;
//! - the retailer's store systems (a POS, a member system, a supplier sending
//!   purchase-order updates) that send Standard Webhooks ([`standard_webhooks`]) with
//!   state, several payload shapes and faults, and a receiver that verifies the hub's
//!   outbound webhooks (under `/_sandbox/store` and `/_sandbox/webhooks`);
//!
//! at the vendor's paths, with its envelopes, field names and quirks; a deterministic
//! catalog from a seed; seeded fault injection (5xx, hangs, 429 bursts, truncated JSON,
//! token revocation); a token-bucket rate limit; and `/_sandbox/*` to read the truth,
//! churn the catalog, set stock, switch or queue faults, inspect and advance orders,
//! and read counters.
//!
//! It defines its own wire handling on purpose: it shares no types with the client, so
//! a field the client misnames fails end-to-end tests.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sandbox = sandbox::start(sandbox::SandboxConfig::default(), listener).await?;
//! for (name, value) in sandbox.env() {
//!     println!("{name}={value}");
//! }
//! sandbox.shutdown().await
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod callback;
mod catalog;
mod cli;
mod clock;
mod config;
mod control;
mod dispatch;
mod faults;
mod gateway;
mod money;
mod open_platform;
mod orders;
mod rng;
mod server;
pub mod standard_webhooks;
mod state;
mod stats;
mod stock;
mod store;
mod ylh;

pub use cli::{Args, RunError, run};
pub use config::{SandboxConfig, credentials};
pub use faults::FaultMode;
pub use server::{Sandbox, start};
