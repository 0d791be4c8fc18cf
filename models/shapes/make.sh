#!/usr/bin/env bash
# Retrains the bundled demo model: about 15 minutes on 2 CPU cores. Writes models/shapes.onnx,
# models/shapes.pth and the report. Then regenerate the parity references the Rust tests
# compare against (the model changed): models/reference/make_parity.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(models/venv.sh)
"$python" models/shapes/train.py "$@"
"$python" models/reference/make_parity.py --model models/shapes.onnx --fixtures detector/tests/fixtures/parity
"$python" models/shapes/export_zoo_layout.py
echo "==> done: commit models/shapes.onnx, models/shapes.pth, the report and detector/tests/fixtures/parity/*.json"
