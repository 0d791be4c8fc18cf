#!/usr/bin/env bash
# Installs what Lookout's build and tests need, only where it is missing, at the versions in
# scripts/versions.env. Idempotent: on a machine that has everything it returns at once.
#   scripts/ensure.sh build   # wasm32 target, cargo-leptos, wasm-bindgen-cli, wasm-opt, onnxruntime
#   scripts/ensure.sh lint    # build + cargo-machete (`make lint`)
#   scripts/ensure.sh test    # lint + Chromium + the end2end npm packages + the export readers' venv
#   scripts/ensure.sh ort     # onnxruntime only
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=versions.env
source scripts/versions.env
CACHE=$ROOT/.cache
TOOLS=$CACHE/tools
export PATH="$TOOLS/node_modules/.bin:$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ensure_wasm_target() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown && return
  say "adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown
}

ensure_cargo_leptos() {
  [[ "$(cargo leptos --version 2>/dev/null || true)" == *"$CARGO_LEPTOS_VERSION"* ]] && return
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 11 minutes on 2 cores, once)"
  # no_downloads: a missing tool is a clear error instead of a download from GitHub.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
}

ensure_wasm_bindgen() {
  local locked
  locked=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3}' Cargo.lock)
  [[ "$locked" == "$WASM_BINDGEN_VERSION" ]] || die "Cargo.lock has wasm-bindgen $locked but scripts/versions.env pins $WASM_BINDGEN_VERSION; they must match"
  [[ "$(wasm-bindgen --version 2>/dev/null || true)" == *"$WASM_BINDGEN_VERSION"* ]] && return
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install --locked wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
}

ensure_machete() {
  [[ "$(cargo machete --version 2>/dev/null || true)" == "$CARGO_MACHETE_VERSION" ]] && return
  say "installing cargo-machete $CARGO_MACHETE_VERSION (about 2 minutes on 2 cores, once)"
  cargo install --locked cargo-machete --version "$CARGO_MACHETE_VERSION"
}

ensure_wasm_opt() {
  [[ "$("$TOOLS/node_modules/.bin/wasm-opt" --version 2>/dev/null || true)" == *"${BINARYEN_VERSION%%.*}"* ]] && return
  say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into $TOOLS"
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"
}

sha_ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }

ensure_ort() {
  local arch dir lib wheel wheel_sha lib_sha
  arch=$(uname -m)
  [[ "$arch" == x86_64 ]] || die "the pinned onnxruntime build is for x86_64; on $arch, point LOOKOUT_ORT_LIBRARY at an onnxruntime >= 1.17 library"
  dir=$CACHE/onnxruntime
  lib=$dir/libonnxruntime.so.$ORT_VERSION
  wheel=$ORT_WHEEL_X86_64; wheel_sha=$ORT_WHEEL_X86_64_SHA256; lib_sha=$ORT_LIB_X86_64_SHA256
  sha_ok "$lib" "$lib_sha" && return
  say "fetching onnxruntime $ORT_VERSION from PyPI into $dir"
  mkdir -p "$dir"
  if ! sha_ok "$dir/$wheel" "$wheel_sha"; then
    rm -f "$dir/$wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
      --python-version 3.11 --dest "$dir" "onnxruntime==$ORT_VERSION" \
      || die "could not download onnxruntime $ORT_VERSION from PyPI (needs access to the PyPI registry)"
    sha_ok "$dir/$wheel" "$wheel_sha" || die "$dir/$wheel does not have the pinned sha256; refusing to use it"
  fi
  python3 - "$dir/$wheel" "$lib" <<'PY'
import sys, zipfile, shutil
wheel, out = sys.argv[1], sys.argv[2]
name = "onnxruntime/capi/" + out.rsplit("/", 1)[1]
with zipfile.ZipFile(wheel) as z, z.open(name) as src, open(out + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  sha_ok "$lib.part" "$lib_sha" || die "the onnxruntime library extracted from $wheel has an unexpected sha256"
  mv "$lib.part" "$lib"
  chmod 0755 "$lib"
}

ensure_chromium() {
  command -v chromium >/dev/null && return
  say "installing Debian's Chromium for the browser tests"
  local sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
}

ensure_e2e_packages() {
  local stamp=end2end/node_modules/.lookout-lock
  if [[ -f "$stamp" ]] && cmp -s end2end/package-lock.json "$stamp"; then return; fi
  say "installing the end2end npm packages"
  (cd end2end && npm ci --silent --no-audit --no-fund)
  cp end2end/package-lock.json "$stamp"
}

case "${1:-build}" in
  ort) ensure_ort ;;
  build) ensure_wasm_target; ensure_cargo_leptos; ensure_wasm_bindgen; ensure_wasm_opt; ensure_ort ;;
  # A lint tool only: `make run` and the image's build (`build`) never need it.
  lint) ensure_wasm_target; ensure_cargo_leptos; ensure_wasm_bindgen; ensure_wasm_opt; ensure_ort; ensure_machete ;;
  test) ensure_wasm_target; ensure_cargo_leptos; ensure_wasm_bindgen; ensure_wasm_opt; ensure_ort; ensure_machete; ensure_chromium; ensure_e2e_packages; scripts/pyreaders/venv.sh >/dev/null ;;
  *) die "usage: $0 [build|lint|test|ort]" ;;
esac
