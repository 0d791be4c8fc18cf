#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/kubernetes/ OFFLINE (part of `make lint`):
#  1. every manifest against Kubernetes' JSON schemas, strictly (unknown fields are errors), for
#     the oldest and newest Kubernetes versions we support, with PyPI's kubernetes-validate, which
#     bundles the schemas (installed once, pinned in deploy/validate-requirements.txt, into
#     .cache/deploy-venv with `pip install --target`: no python3-venv package needed);
#  2. kustomization.yaml lists exactly the manifests in the directory;
#  3. Lookout's own invariants: CPU requests = limits = LOOKOUT_THREADS, probes on /healthz and
#     /readyz, and a termination grace period longer than preStop + LOOKOUT_SHUTDOWN_GRACE_SECS,
#     itself longer than the request deadline.
#   scripts/validate-deploy.sh [DIR]     # default deploy/kubernetes
#   scripts/validate-deploy.sh --self-test   # proves that broken copies of the manifests fail
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REQUIREMENTS=deploy/validate-requirements.txt
TARGET=$ROOT/.cache/deploy-venv
PYTHON=${PYTHON:-python3}
K8S_VERSIONS=${LOOKOUT_K8S_VERSIONS:-1.30.0 1.37.0}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ensure_validator() {
  local want
  want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  [[ -f "$TARGET/.installed" && "$(cat "$TARGET/.installed")" == "$want" ]] && return
  say "installing the manifest validator ($(grep -m1 '^kubernetes-validate' "$REQUIREMENTS")) into ${TARGET#"$ROOT"/}"
  rm -rf "$TARGET"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --root-user-action=ignore --no-deps --only-binary=:all: --target "$TARGET/lib" -r "$REQUIREMENTS" \
    || die "could not install the validator from PyPI (needs python3 with pip, and access to PyPI once)"
  echo "$want" >"$TARGET/.installed"
}

validator() { PYTHONPATH=$TARGET/lib PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$@"; }

# Validates DIR; prints what failed, returns non-zero on any failure.
validate() {
  local dir=$1 failed=0 version
  local manifests=()
  while IFS= read -r f; do manifests+=("$f"); done < <(find "$dir" -maxdepth 1 -name '*.yaml' ! -name kustomization.yaml | sort)
  ((${#manifests[@]} > 0)) || { echo "no manifests in $dir" >&2; return 1; }
  for version in $K8S_VERSIONS; do
    validator -m kubernetes_validate --strict --quiet --no-warn -k "$version" "${manifests[@]}" || failed=1
  done
  validator - "$dir" <<'PY' || failed=1
import os, sys, yaml

d = sys.argv[1]
errors = []
docs = {}
for name in sorted(os.listdir(d)):
    if name.endswith(".yaml") and name != "kustomization.yaml":
        for doc in yaml.safe_load_all(open(os.path.join(d, name))):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc

kust = yaml.safe_load(open(os.path.join(d, "kustomization.yaml")))
listed = set(kust.get("resources", []))
present = {n for n in os.listdir(d) if n.endswith(".yaml") and n != "kustomization.yaml"}
for missing in sorted(listed - present):
    errors.append(f"kustomization.yaml lists {missing}, which does not exist")
for unlisted in sorted(present - listed):
    errors.append(f"{unlisted} is not listed in kustomization.yaml")

def cpu(value):
    value = str(value)
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)

def seconds(value):
    return float(value)

deploy = docs.get(("Deployment", "lookout"))
config = docs.get(("ConfigMap", "lookout-config"), {}).get("data", {})
if deploy is None:
    errors.append("no Deployment named lookout")
else:
    pod = deploy["spec"]["template"]["spec"]
    main = next((c for c in pod["containers"] if c["name"] == "lookout"), None)
    if main is None:
        errors.append("the Deployment has no container named lookout")
    else:
        env = dict(config)
        env.update({e["name"]: e["value"] for e in main.get("env", []) if "value" in e})
        res = main.get("resources", {})
        threads = int(env.get("LOOKOUT_THREADS", "0"))
        req, lim = res.get("requests", {}).get("cpu"), res.get("limits", {}).get("cpu")
        if threads < 1:
            errors.append("set LOOKOUT_THREADS explicitly (the CPU request/limit must match it)")
        elif req is None or lim is None or cpu(req) != threads or cpu(lim) != threads:
            errors.append(f"CPU requests ({req}) and limits ({lim}) must equal LOOKOUT_THREADS ({threads})")
        probe = lambda kind: main.get(kind, {}).get("httpGet", {}).get("path")
        if probe("livenessProbe") != "/healthz":
            errors.append("the liveness probe must be GET /healthz")
        if probe("readinessProbe") != "/readyz":
            errors.append("the readiness probe must be GET /readyz")
        if "startupProbe" not in main:
            errors.append("the container needs a startupProbe")
        deadline = seconds(env.get("LOOKOUT_REQUEST_DEADLINE_SECS", 30))
        grace = seconds(env.get("LOOKOUT_SHUTDOWN_GRACE_SECS", 30))
        pre_stop = main.get("lifecycle", {}).get("preStop", {})
        sleep = 0.0
        command = pre_stop.get("exec", {}).get("command", [])
        if command and command[0].endswith("sleep"):
            sleep = float(command[-1])
        elif "sleep" in pre_stop:
            sleep = float(pre_stop["sleep"]["seconds"])
        termination = float(pod.get("terminationGracePeriodSeconds", 30))
        if not grace > deadline:
            errors.append(f"LOOKOUT_SHUTDOWN_GRACE_SECS ({grace}) must exceed the request deadline ({deadline})")
        if not termination > sleep + grace:
            errors.append(f"terminationGracePeriodSeconds ({termination}) must exceed the preStop sleep ({sleep}) + LOOKOUT_SHUTDOWN_GRACE_SECS ({grace})")
        sc = {**pod.get("securityContext", {}), **main.get("securityContext", {})}
        if not sc.get("runAsNonRoot") or not sc.get("readOnlyRootFilesystem") or "ALL" not in sc.get("capabilities", {}).get("drop", []):
            errors.append("the container must run as non-root, with a read-only root filesystem and all capabilities dropped")

for error in errors:
    print(f"ERROR {d}: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
  return "$failed"
}

# Each broken copy must fail, or the validator would not catch that kind of mistake.
self_test() {
  local tmp case_name status=0
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  local -A cases=(
    [wrong-type]='s/replicas: 2/replicas: "two"/'
    [unknown-field]='s/periodSeconds: 10/periodSecs: 10/'
    [missing-required]='/containerPort: 8080/d'
    [cpu-mismatch]='0,/cpu: "2"/s//cpu: "4"/'
    [short-grace]='s/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 20/'
  )
  for case_name in "${!cases[@]}"; do
    rm -rf "$tmp/$case_name"
    cp -r deploy/kubernetes "$tmp/$case_name"
    sed -i "${cases[$case_name]}" "$tmp/$case_name/deployment.yaml"
    cmp -s deploy/kubernetes/deployment.yaml "$tmp/$case_name/deployment.yaml" \
      && { echo "self-test $case_name: the edit changed nothing" >&2; status=1; continue; }
    if validate "$tmp/$case_name" >"$tmp/$case_name.err" 2>&1; then
      echo "self-test $case_name: a broken manifest PASSED" >&2
      status=1
    else
      echo "ok: $case_name is rejected: $(head -n1 "$tmp/$case_name.err")"
    fi
  done
  return "$status"
}

ensure_validator
case "${1:-deploy/kubernetes}" in
  --self-test) self_test ;;
  *)
    validate "${1:-deploy/kubernetes}" || die "invalid Kubernetes manifests in ${1:-deploy/kubernetes}"
    echo "deploy: manifests in ${1:-deploy/kubernetes} are valid for Kubernetes ${K8S_VERSIONS// /, }"
    ;;
esac
