//! The REST API over a real loopback socket, and the router in-process.
//!
//! One test binary, in files by concern: `predict` (the original `PUT /predict` contract),
//! `detect` (`POST /v1/detect`: every way in, the annotated picture, refusals), `page_form` (the
//! server-rendered page, its no-JavaScript form and its upload server function) and `service`
//! (models, health, metrics, docs, request ids, the API key, the router driven in-process).

#[path = "../common/mod.rs"]
mod common;

mod detect;
mod page_form;
mod predict;
mod service;
