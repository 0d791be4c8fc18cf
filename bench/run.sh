#!/usr/bin/env bash
# `make bench`: Lookout against the Python service it replaces, and against the model's own
# compute. Installs what is missing, then writes bench/RESULTS.md and bench/results.svg.
# See bench/README.md. Everything listens on 127.0.0.1 only; every load step is bounded.
#
# Knobs (environment):
#   BENCH_ROUNDS=3          interleaved rounds (Lookout, baseline) x N
#   BENCH_THREADS=2         intra-op threads of both services and of the floors
#   BENCH_SESSIONS=2        Lookout's sessions in the load steps (its default)
#   BENCH_REQUESTS=...      requests per step, e.g. "640x480:1=8,2=8,4=12,8=16;1920x1080:1=6,2=6,4=8,8=16"
#   BENCH_BUDGET_S=1380     wall-clock budget of the measuring phase; later steps are skipped
#   BENCH_QUIET_WAIT_S=600  how long to wait for running Rust compilers to finish first
#   BENCH_STEP_QUIET_WAIT_S=300, BENCH_QUIET_WAIT_CAP_S=1200
#                           then, before each step, wait up to this long for compilers that
#                           started meanwhile (and at most the cap over the whole run)
#   BENCH_NO_BUILD=1        use target/release/lookout and the floor example as they are, even stale
#   BENCH_INT8=1            also time the INT8 copy of the model (0: skip)
#   BENCH_SMOKE=1           a tiny run (1 round, c=1,2, 2 requests) to check the plumbing;
#                           writes to bench/out/smoke/ and leaves RESULTS.md alone
#   BENCH_PARTS=all         `flood`: only the hostile-load step (bench/scripts/flood.py);
#                           `photos`: only the big-photo steps and sessions x threads with the
#                           shapes model (bench/scripts/photos.py, a few minutes;
#                           BENCH_PHOTOS_R50=1 adds the R50 matrix to a full run);
#                           `cli`: only `lookout detect` over a folder vs one call per image
#                           (bench/scripts/cli.py, a few minutes, no baseline, no R50 model);
#                           rewrites only that section of RESULTS.md
#                           `coldstart`: only cold start, Lookout (1 and 2 sessions) vs the
#                           baseline (bench/scripts/coldstart.py; BENCH_BEFORE=BINARY adds an
#                           earlier build, BENCH_BEFORE_LABEL names it)
#                           `real`: only the R50-FPN through every door in the default
#                           configuration: 12 MP photos plain and tiled, a batch of 16, the CLI
#                           over 20 photos (bench/scripts/real.py, about 10 minutes; exports
#                           the seeded R50 model first if missing)
#                           `stream`: only the WebSocket door (GET /v1/detect/stream): cameras
#                           at 30 fps, 1 and 4 streams on the demo model, 1 on the R50-FPN
#                           (bench/scripts/stream.py, about 3 minutes)
#   BENCH_CLI_IMAGES=100, BENCH_CLI_ROUNDS=3   the CLI comparison's size
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH="$ROOT/bench"
OUT="$BENCH/out"
OHA_VERSION=1.16.0
MODEL="models/coco-fasterrcnn_resnet50_fpn.onnx"
WEIGHTS="models/coco-fasterrcnn_resnet50_fpn.seed0.pt"
INT8="models/coco-fasterrcnn_resnet50_fpn.int8.onnx"
ROUNDS="${BENCH_ROUNDS:-3}"
THREADS="${BENCH_THREADS:-2}"
REQUESTS="${BENCH_REQUESTS:-640x480:1=8,2=8,4=12,8=16;1920x1080:1=6,2=6,4=8,8=16}"
LEVELS=1,2,4,8
BUDGET="${BENCH_BUDGET_S:-1380}"
QUIET_WAIT="${BENCH_QUIET_WAIT_S:-600}"
DO_INT8="${BENCH_INT8:-1}"
MD="$BENCH/RESULTS.md"
SVG="$BENCH/results.svg"
FLOOR_RUNS=5
PY_FLOOR_RUNS=4
if [[ "${BENCH_SMOKE:-0}" == 1 ]]; then
  OUT="$BENCH/out/smoke"; ROUNDS=1; LEVELS=1,2; FLOOR_RUNS=1; PY_FLOOR_RUNS=1; DO_INT8=0
  REQUESTS="640x480:1=2,2=2;1920x1080:1=2,2=2"
  MD="$OUT/RESULTS.md"; SVG="$OUT/results.svg"
fi
export LOOKOUT_ORT_LIBRARY="${LOOKOUT_ORT_LIBRARY:-$ROOT/.cache/onnxruntime/libonnxruntime.so.1.32.0}"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
START=$(date +%s)

# Waits (polling every 30 s, at most $1 seconds) while a process with one of the names $2...
# runs (exact names: pgrep -x takes at most 15 characters). Returns 1 if one still runs.
wait_while_running() {
  local max=$1 waited=0 name busy; shift
  while :; do
    busy=""
    for name in "$@"; do pgrep -x "$name" >/dev/null && busy="$busy $name"; done
    [[ -z "$busy" ]] && return 0
    if (( waited >= max )); then return 1; fi
    if (( waited % 120 == 0 )); then say "waiting for running${busy} to finish (${waited}s of at most ${max}s)"; fi
    sleep 30; waited=$((waited + 30))
  done
}

# One heavy cargo build at a time on this 2-core machine: wait for the others first.
cargo_quietly() {
  wait_while_running 2400 cargo cargo-leptos rustc || die "another Rust build has been running for 40 minutes; retry later"
  "$@"
}

# bench/.venv: models/.venv (torch, numpy, Pillow) linked in through a .pth file, plus what
# bench/requirements.txt adds (the baseline's FastAPI, matplotlib, websockets).
bench_venv() {
  [[ -x models/.venv/bin/python ]] || {
    say "creating models/.venv (models/requirements.txt)"
    python3 -m venv models/.venv
    models/.venv/bin/pip install -q -r models/requirements.txt
  }
  if [[ ! -x bench/.venv/bin/python ]]; then
    say "creating bench/.venv"
    python3 -m venv bench/.venv
  fi
  local site models_site
  site=$(bench/.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  models_site=$(models/.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$models_site" > "$site/zz_models_venv.pth"
  if ! bench/.venv/bin/python - <<'PY' 2>/dev/null
import importlib.metadata as m, re, sys
for line in open("bench/requirements.txt"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    if m.version(name) != version and not m.version(name).startswith(version + "+"):
        sys.exit(1)
PY
  then
    say "installing bench/requirements.txt into bench/.venv"
    bench/.venv/bin/pip install -q -r bench/requirements.txt
  fi
}

# ---------------------------------------------------------------- the CLI comparison alone
PARTS="${BENCH_PARTS:-all}"
CLI_IMAGES="${BENCH_CLI_IMAGES:-100}"
CLI_ROUNDS="${BENCH_CLI_ROUNDS:-3}"
if [[ "${BENCH_SMOKE:-0}" == 1 ]]; then CLI_IMAGES=10; CLI_ROUNDS=1; fi
case "$PARTS" in all|cli|flood|photos|coldstart|real|stream) ;; *) die "BENCH_PARTS is all, cli, flood, photos, coldstart, real or stream, not $PARTS" ;; esac
# The big-photo steps and sessions x threads (bench/scripts/photos.py, issue #11): 12 MP vs
# the working size, memory around 12 MP requests, sessions x threads at c=1..8.
PHOTOS_ARGS=(--threads "$THREADS" --work "$OUT/photos" --out "$OUT/photos.json")
if [[ "${BENCH_SMOKE:-0}" == 1 ]]; then
  PHOTOS_ARGS+=(--pairs 3 --burst 4 --levels 1,4 --requests 1=8,4=16)
fi
[[ "${BENCH_PHOTOS_R50:-0}" == 1 ]] && PHOTOS_ARGS+=(--r50 "$MODEL")
# What a part run alone needs: the release binary (unless BENCH_NO_BUILD=1), onnxruntime, the
# output folder, and no compiler running.
prepare_part() {
  if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    say "building the Lookout release binary (cargo build --release -p server --bin lookout)"
    cargo_quietly cargo build --release --quiet -p server --bin lookout
  fi
  [[ -f "$LOOKOUT_ORT_LIBRARY" ]] || scripts/ensure.sh ort
  mkdir -p "$OUT"
  wait_while_running "$QUIET_WAIT" rustc || say "compilers are STILL running; measuring anyway"
}
photos_step() {
  say "big photos and sessions x threads"
  models/venv.sh >/dev/null  # numpy and Pillow draw the inputs
  models/.venv/bin/python bench/scripts/photos.py --lookout target/release/lookout "${PHOTOS_ARGS[@]}"
}
if [[ "$PARTS" == photos ]]; then
  prepare_part
  photos_step
  models/.venv/bin/python bench/scripts/report.py --photos "$OUT/photos.json" --md "$MD" --photos-only
  say "done in $(( $(date +%s) - START )) s: the big-photo section of $MD"
  exit 0
fi
# The R50-FPN through every door, default configuration (bench/scripts/real.py, issue #19).
real_step() {
  say "the R50-FPN through every door: 12 MP plain and tiled, a batch, the CLI over a folder"
  models/venv.sh >/dev/null  # numpy and Pillow draw the photos; torch exports the model
  if [[ ! -f "$MODEL" ]]; then
    say "exporting the R50-FPN model with seeded random weights (a few minutes)"
    models/.venv/bin/python models/export_coco.py --random-weights --seed 0 --output "$MODEL" \
      --save-state-dict "$WEIGHTS" --threads "$THREADS"
  fi
  local real_args=(--lookout target/release/lookout --model "$MODEL" --work "$OUT/real" --out "$OUT/real.json" --md "$MD")
  [[ "${BENCH_SMOKE:-0}" == 1 ]] && real_args+=(--photos 3 --batch 2 --rounds 1)
  models/.venv/bin/python bench/scripts/real.py "${real_args[@]}"
}
if [[ "$PARTS" == real ]]; then
  prepare_part
  real_step
  say "done in $(( $(date +%s) - START )) s: the R50-through-every-door section of $MD"
  exit 0
fi
# The WebSocket door (bench/scripts/stream.py, issue #21): cameras at 30 fps, 1 and 4 streams
# on the demo model and 1 on the R50-FPN (exported first if missing, as real_step does).
stream_step() {
  say "streams: cameras at 30 fps on GET /v1/detect/stream (demo model 1 and 4 streams, R50-FPN 1)"
  bench_venv
  if [[ ! -f "$MODEL" ]]; then
    say "exporting the R50-FPN model with seeded random weights (a few minutes)"
    models/.venv/bin/python models/export_coco.py --random-weights --seed 0 --output "$MODEL" \
      --save-state-dict "$WEIGHTS" --threads "$THREADS"
  fi
  local stream_args=(--lookout target/release/lookout --model models/shapes.onnx --r50 "$MODEL"
                     --work "$OUT/stream" --out "$OUT/stream.json" --md "$MD")
  [[ "${BENCH_SMOKE:-0}" == 1 ]] && stream_args+=(--seconds 3 --r50-seconds 5)
  bench/.venv/bin/python bench/scripts/stream.py "${stream_args[@]}"
}
if [[ "$PARTS" == stream ]]; then
  prepare_part
  stream_step
  say "done in $(( $(date +%s) - START )) s: the streams section of $MD"
  exit 0
fi
# The hostile-load step (decompression bombs, 40 MP photos, slow clients) against the release
# binary: peak memory and the answers (bench/scripts/flood.py, about 2 minutes).
flood_step() {
  say "hostile load: a flood of bombs and 40-megapixel photos, then slow clients"
  models/venv.sh >/dev/null
  models/.venv/bin/python bench/scripts/flood.py --lookout target/release/lookout \
    --model models/shapes.onnx --out "$OUT/flood.json" --md "$MD"
}
if [[ "$PARTS" == flood ]]; then
  prepare_part
  flood_step
  say "done in $(( $(date +%s) - START )) s: the hostile-load section of $MD"
  exit 0
fi
# Cold start alone (bench/scripts/coldstart.py, a few minutes): Lookout with one and two
# sessions, an earlier binary if BENCH_BEFORE names one, and the baseline, interleaved. Needs
# what a full run prepared: the R50 model, its weights, bench/.venv and bench/out/inputs.
if [[ "$PARTS" == coldstart ]]; then
  [[ -f "$OUT/inputs/640x480.predict.json" && -x bench/.venv/bin/python && -f models/coco-fasterrcnn_resnet50_fpn.seed0.pt ]] ||
    die "BENCH_PARTS=coldstart needs one full make bench first (the R50 model, bench/.venv, $OUT/inputs)"
  prepare_part
  COLD_ARGS=(--lookout target/release/lookout --rounds "${BENCH_ROUNDS:-5}" --threads "$THREADS"
             --out "$OUT/coldstart.json" --logs "$OUT/logs" --md "$MD")
  [[ -n "${BENCH_BEFORE:-}" ]] && COLD_ARGS+=(--before "$BENCH_BEFORE" --before-label "${BENCH_BEFORE_LABEL:-before}")
  bench/.venv/bin/python bench/scripts/coldstart.py "${COLD_ARGS[@]}"
  say "done in $(( $(date +%s) - START )) s: the cold-start section of $MD"
  exit 0
fi
if [[ "$PARTS" == cli ]]; then
  LOOKOUT=target/release/lookout
  if [[ ! -x "$LOOKOUT" || -n "$(find Cargo.lock Cargo.toml server app detector -newer "$LOOKOUT" -type f \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' \) -print -quit 2>/dev/null)" ]]; then
    if [[ "${BENCH_NO_BUILD:-0}" == 1 ]]; then
      [[ -x "$LOOKOUT" ]] || die "$LOOKOUT is missing (BENCH_NO_BUILD=1)"
      say "note: $LOOKOUT is older than its sources (BENCH_NO_BUILD=1)"
    else
      say "building the Lookout release binary (cargo build --release -p server --bin lookout)"
      cargo_quietly cargo build --release --quiet -p server --bin lookout
    fi
  fi
  [[ -f "$LOOKOUT_ORT_LIBRARY" ]] || scripts/ensure.sh ort
  # numpy is all cli.py needs: the export readers' small venv has it.
  PYCLI=$(scripts/pyreaders/venv.sh)
  mkdir -p "$OUT"
  wait_while_running "$QUIET_WAIT" rustc || say "compilers are STILL running; measuring anyway"
  "$PYCLI" bench/scripts/cli.py --lookout "$LOOKOUT" --images "$CLI_IMAGES" --rounds "$CLI_ROUNDS" \
    --threads "$THREADS" --work "$OUT/cli" --out "$OUT/cli.json"
  "$PYCLI" bench/scripts/report.py --cli "$OUT/cli.json" --md "$MD" --cli-only
  say "done in $(( $(date +%s) - START )) s: the CLI section of $MD"
  exit 0
fi

# ---------------------------------------------------------------- Python environments
bench_venv
PY=bench/.venv/bin/python

# ---------------------------------------------------------------- models
if [[ ! -f "$MODEL" || ! -f "$WEIGHTS" ]]; then
  say "exporting the R50-FPN model with seeded random weights (a few minutes)"
  models/.venv/bin/python models/export_coco.py --random-weights --seed 0 --output "$MODEL" \
    --save-state-dict "$WEIGHTS" --threads "$THREADS" $([[ "$DO_INT8" == 1 ]] && echo --quantize)
fi
if [[ "$DO_INT8" == 1 && ! -f "$INT8" ]]; then
  say "writing the INT8 copy ($INT8)"
  models/.venv/bin/python models/quantize.py --model "$MODEL" --out "$INT8"
fi

# ---------------------------------------------------------------- load generator
OHA="$BENCH/.tools/bin/oha"
WRK=""
if [[ ! -x "$OHA" ]]; then
  # oha 1.16.0 does not compile without a TLS backend; native-tls (system OpenSSL) is the light
  # one, its default rustls backend (aws-lc) is the other choice.
  say "installing oha $OHA_VERSION into bench/.tools (cargo install, a few minutes)"
  if ! cargo_quietly cargo install --locked --quiet --no-default-features --features native-tls \
         --root "$BENCH/.tools" oha --version "$OHA_VERSION" &&
     ! cargo_quietly cargo install --locked --quiet --root "$BENCH/.tools" oha --version "$OHA_VERSION"; then
    say "oha did not install; falling back to wrk"
    OHA=""
  fi
fi
if [[ -z "$OHA" ]]; then
  if ! command -v wrk >/dev/null; then
    command -v apt-get >/dev/null || die "neither oha nor wrk is available (install one)"
    apt-get install -y -q wrk >/dev/null || die "could not install wrk"
  fi
  WRK=$(command -v wrk)
fi

# ---------------------------------------------------------------- binaries
LOOKOUT=target/release/lookout
FLOOR=target/release/examples/floor
stale() {  # stale BINARY PATHS...: missing, or older than any source file
  local bin=$1; shift
  [[ ! -x "$bin" ]] && return 0
  [[ -n "$(find "$@" -newer "$bin" -type f \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' \) -print -quit 2>/dev/null)" ]]
}
NO_BUILD="${BENCH_NO_BUILD:-0}"
if [[ "$NO_BUILD" == 1 ]]; then
  stale "$LOOKOUT" Cargo.lock Cargo.toml server app detector && say "note: $LOOKOUT is older than its sources (BENCH_NO_BUILD=1)"
elif stale "$LOOKOUT" Cargo.lock Cargo.toml server app detector; then
  say "building the Lookout release binary"
  if command -v cargo-leptos >/dev/null; then
    cargo_quietly cargo leptos build --release --precompress
  else
    cargo_quietly cargo build --release -p server
  fi
fi
if [[ "$NO_BUILD" != 1 ]] && stale "$FLOOR" Cargo.lock Cargo.toml detector; then
  say "building the floor example (cargo build --release -p detector --example floor)"
  cargo_quietly cargo build --release --quiet -p detector --example floor
fi
[[ -x "$LOOKOUT" && -x "$FLOOR" ]] || die "the Lookout binaries are missing"
[[ -f "$LOOKOUT_ORT_LIBRARY" ]] || scripts/ensure.sh ort

# ---------------------------------------------------------------- inputs
mkdir -p "$OUT"
$PY bench/scripts/inputs.py "$OUT/inputs" --threshold 0.5 >&2

# ---------------------------------------------------------------- a quiet machine
QUIET_START=$(date +%s)
if wait_while_running "$QUIET_WAIT" rustc; then
  QUIET_NOTE="no compiler was running when measuring began"
else
  QUIET_NOTE="compilers were STILL running after waiting; measured anyway"
  say "$QUIET_NOTE"
fi
QUIET_WAITED=$(( $(date +%s) - QUIET_START ))

# ---------------------------------------------------------------- machine description
GEN_VERSION=$([[ -n "$OHA" ]] && "$OHA" --version 2>/dev/null | head -1 || wrk --version 2>&1 | head -1 || true)
LOOKOUT_VERSION=$("$LOOKOUT" --version 2>/dev/null | head -1 || echo "?")
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
[[ -n "$(git status --porcelain -- server detector app 2>/dev/null)" ]] && GIT_REV="$GIT_REV + uncommitted changes"
RUSTC=$(rustc --version 2>/dev/null || echo "rustc ?")
export GEN_VERSION LOOKOUT_VERSION GIT_REV RUSTC QUIET_WAITED QUIET_NOTE MODEL INT8
$PY - "$OUT/env.json" <<'PY'
import importlib.metadata as m, json, os, platform, sys, time
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mem = 0
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal"):
        mem = int(line.split()[1]) / 1024 / 1024
env = {
    "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    "cpu_model": cpu, "nproc": os.cpu_count() if not hasattr(os, "sched_getaffinity") else len(os.sched_getaffinity(0)),
    "mem_total_gib": mem, "kernel": platform.platform(),
    "loadavg_start": open("/proc/loadavg").read().split()[:3],
    "python": platform.python_version(),
    "generator_version": os.environ["GEN_VERSION"], "lookout_version": os.environ["LOOKOUT_VERSION"],
    "git_rev": os.environ["GIT_REV"], "rustc": os.environ["RUSTC"],
    "quiet_wait_s": int(os.environ["QUIET_WAITED"]), "quiet_note": os.environ["QUIET_NOTE"],
    "model_sizes": {p: os.path.getsize(p) for p in (os.environ["MODEL"], os.environ["INT8"]) if os.path.isfile(p)},
}
for pkg in ("torch", "torchvision", "onnxruntime", "fastapi", "pydantic", "uvicorn", "numpy", "pillow", "matplotlib"):
    try:
        env[pkg] = m.version(pkg)
    except m.PackageNotFoundError:
        env[pkg] = "?"
json.dump(env, open(sys.argv[1], "w"), indent=1)
PY

# ---------------------------------------------------------------- measure
ELAPSED=$(( $(date +%s) - START ))
say "measuring: $ROUNDS rounds, levels $LEVELS, requests $REQUESTS (setup took ${ELAPSED}s)"
ARGS=(--lookout "$LOOKOUT" --model "$MODEL" --weights "$WEIGHTS" --python "$PY"
      --inputs "$OUT/inputs" --levels "$LEVELS" --requests "$REQUESTS" --rounds "$ROUNDS"
      --threads "$THREADS" --sessions "${BENCH_SESSIONS:-2}" --budget-s "$BUDGET" --floor-bin "$FLOOR" --floor-runs "$FLOOR_RUNS"
      --py-floor-runs "$PY_FLOOR_RUNS" --out "$OUT/raw.json" --logs "$OUT/logs"
      --step-quiet-wait-s "${BENCH_STEP_QUIET_WAIT_S:-300}" --quiet-wait-cap-s "${BENCH_QUIET_WAIT_CAP_S:-1200}")
[[ -n "$OHA" ]] && ARGS+=(--oha "$OHA") || ARGS+=(--wrk "$WRK")
[[ "$DO_INT8" == 1 && -f "$INT8" ]] && ARGS+=(--int8-model "$INT8")
$PY bench/scripts/driver.py "${ARGS[@]}"

say "the CLI: a folder of $CLI_IMAGES images vs $CLI_IMAGES calls"
wait_while_running "${BENCH_STEP_QUIET_WAIT_S:-300}" rustc || say "compilers are running; measuring anyway"
$PY bench/scripts/cli.py --lookout "$LOOKOUT" --images "$CLI_IMAGES" --rounds "$CLI_ROUNDS" \
  --threads "$THREADS" --work "$OUT/cli" --out "$OUT/cli.json"

wait_while_running "${BENCH_STEP_QUIET_WAIT_S:-300}" rustc || say "compilers are running; measuring anyway"
photos_step

$PY bench/scripts/report.py --raw "$OUT/raw.json" --env "$OUT/env.json" --inputs "$OUT/inputs" \
  --md "$MD" --svg "$SVG" --cli "$OUT/cli.json" --photos "$OUT/photos.json"
flood_step
wait_while_running "${BENCH_STEP_QUIET_WAIT_S:-300}" rustc || say "compilers are running; measuring anyway"
real_step
wait_while_running "${BENCH_STEP_QUIET_WAIT_S:-300}" rustc || say "compilers are running; measuring anyway"
stream_step
say "done in $(( $(date +%s) - START )) s: $MD, $SVG"
