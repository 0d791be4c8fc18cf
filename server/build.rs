//! Generates the Open Inference Protocol's gRPC service (`proto/grpc_service.proto`) with
//! protox, a protobuf compiler in Rust: building needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/grpc_service.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        // The client is for the tests (and for anyone calling Lookout from Rust); it takes
        // any channel, so no transport is compiled into the server.
        .build_client(true)
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
