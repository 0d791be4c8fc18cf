#!/usr/bin/env bash
# Starts the release server on a loopback port, waits until it is ready, runs the browser
# tests against it, and stops it. Used by `make e2e` (and so `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
ADDR=${1:-127.0.0.1:3917}
LOG=end2end/output/server.log
mkdir -p end2end/output
"${CARGO_TARGET_DIR:-target}/release/lookout" --addr "$ADDR" --allow-private-urls --max-body-bytes 4194304 --log-format json >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $SERVER 2>/dev/null; then echo "the server exited:"; cat "$LOG"; exit 1; fi
  sleep 0.5
done
curl -fsS "http://$ADDR/readyz" >/dev/null || { echo "the server never became ready:"; cat "$LOG"; exit 1; }
LOOKOUT_URL="http://$ADDR" node --test --test-concurrency=1 end2end/tests/
