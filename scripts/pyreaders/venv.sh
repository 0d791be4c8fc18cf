#!/usr/bin/env bash
# Creates .cache/pyreaders (the Python readers the export tests check against) when missing or
# out of date, and prints the path of its python:
#   LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh) cargo test -p app --features ssr --test export_readers
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../pip-venv.sh" pyreaders "$here/requirements.txt" "pycocotools, globox, PyYAML"
