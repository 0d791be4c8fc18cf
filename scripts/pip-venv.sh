#!/usr/bin/env bash
# Creates .cache/NAME, a venv with REQUIREMENTS installed from PyPI (wheels only), when it is
# missing or its requirements changed, and prints the path of its python. The test tools' own
# venv.sh scripts (scripts/pyreaders, scripts/oip) call it:
#   scripts/pip-venv.sh NAME REQUIREMENTS "WHAT (for the log line)"
set -euo pipefail
name=$1 requirements=$2 what=$3
venv="$(cd "$(dirname "$0")/.." && pwd)/.cache/$name"
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$requirements" "$stamp"; then
  echo "==> creating $venv ($what from PyPI)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || {
    echo "error: python3 -m venv failed; on Debian install python3-venv" >&2
    exit 1
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$requirements" >&2 || {
    echo "error: could not install $requirements from PyPI into $venv" >&2
    exit 1
  }
  cp "$requirements" "$stamp"
fi
echo "$venv/bin/python"
