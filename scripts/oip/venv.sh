#!/usr/bin/env bash
# Creates .cache/tritonclient (NVIDIA's tritonclient for HTTP and gRPC, from PyPI: the Open
# Inference Protocol interoperability test) when missing or out of date, and prints its python:
#   LOOKOUT_TRITONCLIENT=$(scripts/oip/venv.sh) cargo test -p server --test oip interop
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$(cd "$here/../.." && pwd)/.cache/tritonclient"
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "==> creating $venv (tritonclient[http,grpc] from PyPI)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || {
    echo "error: python3 -m venv failed; on Debian install python3-venv" >&2
    exit 1
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$here/requirements.txt" >&2 || {
    echo "error: could not install $here/requirements.txt from PyPI into $venv" >&2
    exit 1
  }
  cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
