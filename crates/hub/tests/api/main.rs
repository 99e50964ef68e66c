//! The hub's integration tests: one binary, over real HTTP and real databases.
//!
//! PostgreSQL tests need a server at `SUPPLYHUB_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), where each test creates and drops its
//! own database.

// Test code fails by panicking; unwrap is how a test says "this must hold".
#![allow(clippy::unwrap_used)]

mod access;
mod admin;
mod audit;
mod browser;
mod budget;
mod callbacks;
mod crash;
mod health;
mod helpers;
mod http;
mod input;
mod instances;
mod leaks;
mod limits;
mod live;
mod metrics;
mod operations;
mod orders;
mod owners;
mod records;
mod schedules;
mod store;
mod sync;
mod systems;
mod webhooks;
mod webhooks_out;
