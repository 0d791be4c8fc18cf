#!/usr/bin/env bash
# Creates .cache/pyreaders (the Python readers the export tests check against) when missing or
# out of date, and prints the path of its python:
#   LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh) cargo test -p app --features ssr --test export_readers
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$(cd "$here/../.." && pwd)/.cache/pyreaders"
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "==> creating $venv (pycocotools, globox, PyYAML from PyPI)" >&2
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
