#!/usr/bin/env bash
# Starts the release server on a loopback port (two models: the shapes model and its
# zoo-layout twin, for the model picker), and a second one with an API key on the next port;
# waits until both are ready, runs the browser tests against them, and stops them. Used by
# `make e2e` (and so `make test`). E2E_TESTS="end2end/tests/small.test.mjs" runs one file.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a E2E_TESTS <<<"${E2E_TESTS:-end2end/tests/}"
ADDR=${1:-127.0.0.1:3917}
HOST=${ADDR%:*}
PORT=${ADDR##*:}
KEYED_ADDR="$HOST:$((PORT + 1))"
KEY=${LOOKOUT_KEY:-e2e-secret-key}
BIN="${CARGO_TARGET_DIR:-target}/release/lookout"
LOG=end2end/output/server.log
KEYED_LOG=end2end/output/server-keyed.log
mkdir -p end2end/output
COMMON=(--allow-private-urls --max-body-bytes 4194304 --log-format json)
"$BIN" --addr "$ADDR" "${COMMON[@]}" \
  --model shapes=models/shapes.onnx --model zoo=models/shapes-zoo.onnx >"$LOG" 2>&1 &
SERVER=$!
"$BIN" --addr "$KEYED_ADDR" "${COMMON[@]}" --threads 1 --api-key "$KEY" >"$KEYED_LOG" 2>&1 &
KEYED=$!
trap 'kill -TERM $SERVER $KEYED 2>/dev/null || true; wait $SERVER $KEYED 2>/dev/null || true' EXIT
wait_ready() {
  local addr=$1 pid=$2 log=$3
  for _ in $(seq 1 120); do
    if curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "the server on $addr exited:"; cat "$log"; exit 1; fi
    sleep 0.5
  done
  curl -fsS "http://$addr/readyz" >/dev/null || { echo "the server on $addr never became ready:"; cat "$log"; exit 1; }
}
wait_ready "$ADDR" $SERVER "$LOG"
wait_ready "$KEYED_ADDR" $KEYED "$KEYED_LOG"
LOOKOUT_URL="http://$ADDR" LOOKOUT_KEYED_URL="http://$KEYED_ADDR" LOOKOUT_KEY="$KEY" \
  node --test --test-concurrency=1 "${E2E_TESTS[@]}"
