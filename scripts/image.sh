#!/usr/bin/env bash
# Builds and proves Lookout's container image with Debian's podman, on machines with no Docker
# engine and no reachable container registry.
#   scripts/image.sh build   # make image: the debian:bookworm-slim base (once), then the image
#   scripts/image.sh test    # make image-test (after `build`): run it and prove it works
#   scripts/image.sh base    # only the base image
#   scripts/image.sh clean   # delete every image, container and build cache in .cache/podman
#
# podman's configuration and storage stay inside the project, under .cache/podman/ (ignored by
# git): containers.conf, storage.conf and registries.conf there are exported through
# CONTAINERS_CONF / CONTAINERS_STORAGE_CONF / CONTAINERS_REGISTRIES_CONF. registries.conf blocks
# docker.io, so an accidental pull fails at once instead of hanging. Heavy steps run under
# `nice -n 19 ionice -c3`. Needs root (debootstrap, rootful podman).
# Environment: LOOKOUT_IMAGE (default lookout:latest), LOOKOUT_IMAGE_TEST_ADDR (127.0.0.1:18080).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PODMAN_DIR=$ROOT/.cache/podman
IMAGE=${LOOKOUT_IMAGE:-lookout:latest}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
TEST_NAME=lookout-image-test
TEST_ADDR=${LOOKOUT_IMAGE_TEST_ADDR:-127.0.0.1:18080}
FIXTURE=detector/tests/fixtures/shapes/0000.png
GROUND_TRUTH=detector/tests/fixtures/shapes/ground_truth.json
NICE=(nice -n 19 ionice -c3)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

ensure_podman() {
  local missing=() pair
  for pair in podman:podman buildah:buildah debootstrap:debootstrap runc:runc newuidmap:uidmap; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  ((${#missing[@]} == 0)) && return
  say "installing ${missing[*]} from Debian"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Project-owned podman configuration; rewritten every time (cheap), so it follows this script.
configure_podman() {
  mkdir -p "$PODMAN_DIR/storage" "$PODMAN_DIR/run" "$PODMAN_DIR/tmp"
  # crun fails on these VMs (cgroup hybrid mode): runc. Without explicit ulimits, containers fail
  # with "setrlimit ... Operation not permitted". No systemd/journald here: cgroupfs and file logs.
  cat >"$PODMAN_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
image_copy_tmp_dir = "$PODMAN_DIR/tmp"
EOF
  cat >"$PODMAN_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_DIR/run"
EOF
  # Short names resolve to docker.io, which is blocked: FROM debian:bookworm-slim finds the local
  # image (built with --pull=never), and anything that would pull fails at once.
  cat >"$PODMAN_DIR/registries.conf" <<'EOF'
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
prefix = "docker.io"
location = "docker.io"
blocked = true
EOF
  export CONTAINERS_CONF=$PODMAN_DIR/containers.conf
  export CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$PODMAN_DIR/registries.conf
  # buildah keeps RUN --mount=type=cache directories under $TMPDIR: keep them in the project too.
  export TMPDIR=$PODMAN_DIR/tmp
}

# The first URI of the machine's apt sources that serves `suite` (deb822 or one-line format).
apt_mirror() {
  local suite=$1 fallback=$2 uri
  uri=$(awk -v suite="$suite" '
    /^URIs:/ { uris = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uris != "") { print uris; exit } }
    /^$/ { uris = "" }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  if [[ -z "$uri" ]]; then
    uri=$(awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
  fi
  echo "${uri:-$fallback}"
}

# Refuses to touch a tree that has anything mounted under it (debootstrap mounts /proc and /sys).
assert_unmounted() {
  if findmnt -rn -o TARGET | grep -q "^$1\(/\|$\)"; then
    die "something is still mounted under $1; unmount it first"
  fi
}

# debian:bookworm-slim, made here: debootstrap's minbase, slimmed like the official image, with the
# machine's extra CA certificates (a TLS-intercepting proxy's) so HTTPS verifies inside RUN steps.
ensure_base_image() {
  podman image exists "$BASE_IMAGE" && return
  [[ $(id -u) == 0 ]] || die "making the base image needs root (debootstrap)"
  local rootfs=$PODMAN_DIR/rootfs mirror security started
  mirror=$(apt_mirror bookworm http://deb.debian.org/debian)
  security=$(apt_mirror bookworm-security http://deb.debian.org/debian-security)
  started=$(now)
  say "making $BASE_IMAGE with debootstrap from $mirror"
  if [[ -e "$rootfs" ]]; then assert_unmounted "$rootfs"; rm -rf --one-file-system "$rootfs"; fi
  "${NICE[@]}" debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" \
    >"$PODMAN_DIR/debootstrap.log" 2>&1 || die "debootstrap failed; see $PODMAN_DIR/debootstrap.log"
  assert_unmounted "$rootfs"

  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # What the official slim image does: no docs, man pages or translations from later installs,
  # and apt leaves no package files behind.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf --one-file-system "$rootfs"/usr/share/{man,info,groff,lintian,linda}/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/dev/* \
    "$rootfs"/tmp/* "$rootfs"/run/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"

  local crt added=0
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [[ -f "$crt" ]] || continue
    cp "$crt" "$rootfs/usr/local/share/ca-certificates/"
    added=$((added + 1))
  done
  TMPDIR=/tmp chroot "$rootfs" update-ca-certificates >/dev/null
  ((added == 0)) || say "added $added CA certificate(s) from /usr/local/share/ca-certificates"

  tar -C "$rootfs" --numeric-owner -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf --one-file-system "$rootfs"
  say "$BASE_IMAGE imported ($(image_mb "$BASE_IMAGE") MB) in $(since "$started") s"
}

image_mb() { podman image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1e6 }'; }

# Prefixes each build step's line with the time, so the log shows where the time goes.
stamp_steps() {
  local line
  while IFS= read -r line; do
    if [[ $line == *"STEP "* ]]; then printf '[%(%T)T] %s\n' -1 "$line"; else printf '%s\n' "$line"; fi
  done
}

# buildah leaves its per-step working containers behind when a build fails or is interrupted,
# each holding that step's files (GBs for a compile step): remove them. This store is the
# project's own, so no other build's containers are touched (but do not run two builds at once).
remove_working_containers() {
  local id
  for id in $(podman ps -a --external --format '{{.ID}} {{.Names}}' \
    | awk '$2 ~ /-working-container(-[0-9]+)?$/ { print $1 }'); do
    buildah rm "$id" >/dev/null || true
  done
}

build() {
  local started log=$PODMAN_DIR/build.log iid=$PODMAN_DIR/build.iid
  ensure_base_image
  remove_working_containers
  rm -f "$iid"
  started=$(now)
  say "building $IMAGE (log: $log)"
  {
    echo "# $(date -u +%FT%TZ) podman build of $IMAGE"
    # --format docker keeps HEALTHCHECK (OCI image configs have none).
    "${NICE[@]}" podman build --format docker --network host --pull=never --layers --force-rm \
      --iidfile "$iid" -t "$IMAGE" -f Dockerfile . 2>&1
  } | stamp_steps | tee "$log" || { remove_working_containers; die "podman build failed; see $log"; }
  # An interrupted podman build can exit 0: only an image ID written at the end counts.
  [[ -s "$iid" ]] && podman image exists "$(cat "$iid")" \
    || { remove_working_containers; die "podman build did not finish; see $log"; }
  local took
  took=$(since "$started")
  echo "# built in $took s" >>"$log"
  say "built $IMAGE in $took s; size $(image_mb "$IMAGE") MB"
}

# podman schedules HEALTHCHECKs with systemd timers; with no systemd (as here) it logs an error
# on run and stop and goes on. The check itself is run by hand in the test.
no_systemd() { "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

container_status() { podman inspect --format '{{.State.Status}}' "$TEST_NAME" 2>/dev/null || echo gone; }

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" || true; }

test_image() {
  podman image exists "$IMAGE" || die "$IMAGE does not exist: run scripts/image.sh build first"
  local base=http://$TEST_ADDR started code work
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "podman rm -f -t 0 $TEST_NAME >/dev/null 2>&1 || true; rm -rf '$work'" EXIT
  podman rm -f -t 0 "$TEST_NAME" >/dev/null 2>&1 || true
  [[ $(http_code "$base/healthz") == 000 ]] || die "something already listens on $TEST_ADDR"

  say "image config"
  local user stop health
  user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
  stop=$(podman image inspect --format '{{.Config.StopSignal}}' "$IMAGE")
  health=$(podman image inspect --format '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}' "$IMAGE")
  echo "user=$user stopsignal=$stop healthcheck=$health"
  [[ "$user" == 10001* ]] || die "the image's user is '$user', not 10001"
  [[ "$stop" == SIGTERM ]] || die "the image's stop signal is '$stop', not SIGTERM"
  [[ -n "$health" ]] || die "the image has no HEALTHCHECK (was it built with --format docker?)"

  say "starting $IMAGE on $TEST_ADDR"
  started=$(now)
  no_systemd podman run -d --name "$TEST_NAME" --init --network host \
    -e LOOKOUT_ADDR="$TEST_ADDR" "$IMAGE" >/dev/null
  local ready=""
  for _ in $(seq 1 240); do
    [[ $(container_status) == running ]] || { podman logs "$TEST_NAME" >&2 || true; die "the container stopped before it was ready"; }
    if [[ $(http_code "$base/readyz") == 200 ]]; then ready=yes; break; fi
    sleep 0.5
  done
  [[ -n "$ready" ]] || { podman logs "$TEST_NAME" >&2; die "/readyz did not turn 200 within 120 s"; }
  echo "ok: /readyz is 200 after $(since "$started") s"

  local uid
  uid=$(podman exec "$TEST_NAME" id -u)
  [[ "$uid" != 0 ]] || die "the container runs as root"
  podman top "$TEST_NAME" user args | tee "$work/top"
  if awk 'NR > 1 && $1 == "root"' "$work/top" | grep -q .; then die "a process in the container runs as root"; fi
  echo "ok: runs as uid $uid, no process is root"

  curl -sf --max-time 10 "$base/" -o "$work/page.html" || die "GET / failed"
  grep -q 'id="upload-form"' "$work/page.html" && grep -q 'type="file"' "$work/page.html" \
    || die "GET / has no upload form"
  echo "ok: GET / serves the page with the upload form"
  local wasm
  wasm=$(grep -o '/pkg/[A-Za-z0-9_.-]*\.wasm' "$work/page.html" | head -n1)
  [[ -n "$wasm" ]] || die "the page links no /pkg/*.wasm"
  code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' --max-time 10 "$base$wasm")
  [[ "$code" == "200 application/wasm"* ]] || die "GET $wasm answered '$code'"
  echo "ok: GET $wasm is 200 application/wasm"

  python3 - "$FIXTURE" >"$work/predict.json" <<'PY'
import base64, json, sys
print(json.dumps({"base64str": base64.b64encode(open(sys.argv[1], "rb").read()).decode(), "threshold": 0.5}))
PY
  code=$(curl -s -o "$work/predict.out" -w '%{http_code}' --max-time 60 -X PUT \
    -H 'Content-Type: application/json' --data-binary "@$work/predict.json" "$base/predict")
  [[ $code == 200 ]] || { cat "$work/predict.out" >&2; die "PUT /predict answered $code"; }
  code=$(curl -s -o "$work/detect.out" -w '%{http_code}' --max-time 60 -X POST \
    -H 'Content-Type: image/png' --data-binary "@$FIXTURE" "$base/v1/detect")
  [[ $code == 200 ]] || { cat "$work/detect.out" >&2; die "POST /v1/detect answered $code"; }
  python3 - "$GROUND_TRUTH" "$(basename "$FIXTURE")" "$work/predict.out" "$work/detect.out" <<'PY' || die "wrong detections"
import json, sys
truth_file, name, predict_file, detect_file = sys.argv[1:]
truth = next(i for i in json.load(open(truth_file))["images"] if i["file"] == name)
want = sorted(o["label"] for o in truth["objects"])
predict = json.load(open(predict_file))
got_predict = sorted(predict["classes"])
assert len(predict["boxes"]) == len(predict["classes"]) == len(predict["scores"]), predict
got_detect = sorted(d["label"] for d in json.load(open(detect_file))["detections"])
ok = got_predict == want and got_detect == want
print(f"{'ok' if ok else 'FAIL'}: ground truth {want}\n    PUT /predict     {got_predict}\n    POST /v1/detect  {got_detect}")
sys.exit(0 if ok else 1)
PY

  podman healthcheck run "$TEST_NAME" >/dev/null || die "the image's HEALTHCHECK fails on a ready server"
  echo "ok: HEALTHCHECK passes"

  # Graceful termination: a request still uploading (throttled to ~4 s) when SIGTERM arrives
  # must be answered, then the server exits 0, well before podman's SIGKILL.
  say "stopping it during a slow request (SIGTERM, 20 s before SIGKILL)"
  local size rate
  size=$(stat -c %s "$work/predict.json")
  rate=$((size / 4 + 1))
  curl -s -o "$work/inflight.out" -w '%{http_code}' --max-time 60 --limit-rate "$rate" -X PUT \
    -H 'Content-Type: application/json' --data-binary "@$work/predict.json" "$base/predict" \
    >"$work/inflight.code" &
  local client=$!
  sleep 1
  started=$(now)
  no_systemd podman stop -t 20 "$TEST_NAME" >/dev/null
  local took exit_code
  took=$(since "$started")
  wait "$client" || true
  exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$TEST_NAME")
  podman logs "$TEST_NAME" 2>&1 | grep -q 'shutting down' || die "the server did not log its graceful shutdown"
  [[ "$exit_code" == 0 ]] || die "the container exited with $exit_code (137 = killed after the grace period)"
  awk -v t="$took" 'BEGIN { exit !(t < 20) }' || die "stopping took $took s"
  [[ "$(cat "$work/inflight.code")" == 200 ]] && grep -q '"classes"' "$work/inflight.out" \
    || die "the in-flight request was cut off by the shutdown (HTTP $(cat "$work/inflight.code"))"
  echo "ok: the request in flight at SIGTERM got its 200; stopped in $took s with exit code 0"

  say "image $IMAGE: $(image_mb "$IMAGE") MB (base $BASE_IMAGE: $(image_mb "$BASE_IMAGE") MB)"
  say "image test passed"
}

ensure_podman
configure_podman
case "${1:-}" in
  base) ensure_base_image ;;
  clean)
    podman system reset --force
    rm -rf --one-file-system "$PODMAN_DIR/tmp" "$PODMAN_DIR/rootfs"
    ;;
  build) build ;;
  test) test_image ;;
  *) die "usage: $0 build|test|base|clean" ;;
esac
