#!/usr/bin/env bash
# Creates .cache/tritonclient (NVIDIA's tritonclient for HTTP and gRPC, from PyPI: the Open
# Inference Protocol interoperability test) when missing or out of date, and prints its python:
#   LOOKOUT_TRITONCLIENT=$(scripts/oip/venv.sh) cargo test -p server --test oip interop
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../pip-venv.sh" tritonclient "$here/requirements.txt" "tritonclient[http,grpc]"
