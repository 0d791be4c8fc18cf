//! The `lookout` server: the web UI and the HTTP API around the `detector` engine.
#![recursion_limit = "256"]

pub mod annotate;
pub mod cli;
pub mod config;
pub mod error;
pub mod fetch;
pub mod front;
pub mod guards;
pub mod listen;
pub mod metrics;
pub mod models;
pub mod repository;
pub mod routes;
pub mod serve;
pub mod state;
pub mod watch;
