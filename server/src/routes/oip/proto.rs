//! The protocol's gRPC messages and service, generated in build.rs from
//! `server/proto/grpc_service.proto`: the server for [`super::grpc`], and a client (over any
//! channel) for the tests and for callers in Rust.

#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]
pub mod inference {
    tonic::include_proto!("inference");
}
