//! Interoperability with the real client: `scripts/oip/interop.py` drives a running Lookout
//! with tritonclient (HTTP, binary and JSON, and gRPC) from PyPI. Needs the venv
//! `scripts/oip/venv.sh` makes (`make unit` sets LOOKOUT_TRITONCLIENT); skipped with a note
//! when it is not there.

use std::process::Command;

use super::common::{repo, TestServer};
use super::models_dir;

#[tokio::test]
async fn tritonclient_speaks_to_lookout() {
    let python = match std::env::var_os("LOOKOUT_TRITONCLIENT") {
        Some(p) if !p.is_empty() => p,
        _ => {
            eprintln!(
                "skipped: LOOKOUT_TRITONCLIENT is not set (run `scripts/oip/venv.sh`, which prints its python, or `make unit`)"
            );
            return;
        }
    };
    let dir = models_dir("oip_interop");
    let dir_arg = dir.display().to_string();
    let server = TestServer::start(&[
        "--grpc-addr",
        "127.0.0.1:0",
        "--models-dir",
        &dir_arg,
        "--default-model",
        "shapes",
        "--admin-key",
        "interop-admin",
    ])
    .await;
    let running = server.running.as_ref().unwrap();
    let http = running.addr.to_string();
    let grpc = running.grpc_addr.unwrap().to_string();
    let image = repo().join("detector/tests/fixtures/shapes");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(repo().join("scripts/oip/interop.py"))
            .args([
                "--http",
                &http,
                "--grpc",
                &grpc,
                "--admin-key",
                "interop-admin",
            ])
            .arg("--images")
            .arg(image)
            .output()
            .expect("run the interop script")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("interop: ok"), "{stdout}\n{stderr}");
}
