//! supplyhub: an integration hub between a retailer's systems and its suppliers.
//!
//! The binary is a thin wrapper around [`cli::run`]; everything testable lives here.

#![forbid(unsafe_code)]

pub mod access;
pub mod admin;
pub mod audit;
pub mod budget;
pub mod callbacks;
pub mod calllog;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod docs;
pub mod http;
pub mod input;
pub mod instances;
pub mod jobs;
pub mod metrics;
pub mod orders;
pub mod records;
pub mod retention;
pub mod schedules;
pub mod status;
pub mod stock;
pub mod store;
pub mod sync;
pub mod systems;
pub mod types;
pub mod webhooks;
