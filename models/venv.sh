#!/usr/bin/env bash
# Creates models/.venv from models/requirements.txt when missing or out of date, and prints
# the path of its python. PyTorch's CPU-capable wheel comes from PyPI (about 5 GB installed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "==> creating $venv (torch, torchvision, onnx, onnxruntime from PyPI)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
