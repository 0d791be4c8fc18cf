#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/kubernetes/ OFFLINE (part of `make lint`), and
# deploy/kserve/ (the KServe runtime) with scripts/validate-kserve.py. Each
# kustomization there (deploy/kubernetes itself, base/, and the coco/ overlay) is rendered as
# kustomize would (its resources, directories included, with its JSON 6902 patches applied; the
# validator refuses what it cannot render the same way), then:
#  1. every rendered manifest against Kubernetes' JSON schemas, strictly (unknown fields are
#     errors), for the oldest and newest Kubernetes versions we support, with PyPI's
#     kubernetes-validate, which bundles the schemas (installed once, pinned in
#     deploy/validate-requirements.txt, into .cache/deploy-venv with `pip install --target`: no
#     python3-venv package needed);
#  2. each kustomization.yaml lists exactly the files in its directory (as resources or patches);
#  3. Lookout's own invariants: CPU requests = limits = LOOKOUT_THREADS, probes on /healthz and
#     /readyz, a termination grace period longer than preStop + LOOKOUT_SHUTDOWN_GRACE_SECS,
#     itself longer than the request deadline; every container non-root with a read-only root
#     filesystem; every model in LOOKOUT_MODEL either baked into the image (/app/) or on a volume
#     that an init container fills; and an init container's `pull-model --dir` on its volume.
#   scripts/validate-deploy.sh [DIR]     # every kustomization in DIR (default deploy/kubernetes)
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

# Validates the kustomization in DIR; prints what failed, returns non-zero on any failure.
validate() {
  local dir=$1 failed=0 status=0 version out
  out=$(mktemp -d)
  validator - "$dir" "$out" <<'PY' || status=$?
import copy, os, sys, yaml

root, out = os.path.normpath(sys.argv[1]), sys.argv[2]
errors = []

class RenderError(Exception):
    pass

# What the renderer below does as kustomize does; anything else is refused rather than
# validated as something other than what kubectl would apply.
UNDERSTOOD = {"apiVersion", "kind", "resources", "patches", "images", "namespace"}

def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

def inside(path, d):
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(d)]) == os.path.abspath(d)

def pointer(path, where):
    if not isinstance(path, str) or not path.startswith("/"):
        raise RenderError(f"{where}: {path!r} is not a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]

def index(node, key, where, allow_end=False):
    if not key.isdigit() or int(key) > len(node) or (int(key) == len(node) and not allow_end):
        raise RenderError(f"{where}: no element {key} in a list of {len(node)}")
    return int(key)

def apply(doc, op, where):
    kind, parts = op.get("op"), pointer(op.get("path"), where)
    where = f"{where} ({kind} {op.get('path')})"
    node = doc
    for key in parts[:-1]:
        if isinstance(node, list):
            node = node[index(node, key, where)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise RenderError(f"{where}: nothing at {key!r}")
    last = parts[-1]
    if kind in ("add", "replace") and "value" not in op:
        raise RenderError(f"{where}: no value")
    if kind == "add" and isinstance(node, list):
        node.append(op["value"]) if last == "-" else node.insert(index(node, last, where, True), op["value"])
    elif kind in ("replace", "remove") and isinstance(node, list):
        i = index(node, last, where)
        if kind == "replace":
            node[i] = op["value"]
        else:
            del node[i]
    elif kind in ("add", "replace", "remove") and isinstance(node, dict):
        if kind != "add" and last not in node:
            raise RenderError(f"{where}: nothing at {last!r} to {kind}")
        if kind == "remove":
            del node[last]
        else:
            node[last] = op["value"]
    else:
        raise RenderError(f"{where}: the validator applies add, replace and remove on maps and lists")

def render(d, visited=()):
    kpath = os.path.join(d, "kustomization.yaml")
    if not os.path.isfile(kpath):
        raise RenderError(f"{d} has no kustomization.yaml")
    kust = yaml.safe_load(open(kpath)) or {}
    unknown = sorted(set(kust) - UNDERSTOOD)
    if unknown:
        raise RenderError(f"{kpath}: {', '.join(unknown)}: not rendered by the validator (resources and JSON 6902 patches are)")
    docs, used = [], set()
    for r in kust.get("resources", []):
        p = os.path.normpath(os.path.join(d, r))
        if os.path.isdir(p):
            # kustomize refuses a base that contains the overlay building on it.
            if any(inside(v, p) for v in visited + (d,)):
                raise RenderError(f"{kpath}: {r} contains {d}: kustomize refuses that cycle (keep the base in a directory of its own)")
            docs += render(p, visited + (d,))
        elif os.path.isfile(p) and os.path.dirname(p) == d:
            docs += load_docs(p)
            used.add(os.path.basename(p))
        elif os.path.isfile(p):
            raise RenderError(f"{kpath}: {r} is a file outside its directory, which kustomize refuses")
        else:
            errors.append(f"{kpath} lists {r}, which does not exist")
    for n, patch in enumerate(kust.get("patches", []), 1):
        target = patch.get("target") or {}
        where = f"{kpath} patch {n}"
        if set(target) - {"kind", "name"} or not {"kind", "name"} <= set(target):
            raise RenderError(f"{where}: the validator selects targets by kind and name only")
        if "path" in patch:
            p = os.path.normpath(os.path.join(d, patch["path"]))
            if os.path.dirname(p) != d or not os.path.isfile(p):
                raise RenderError(f"{where}: {patch['path']} is not a file in {d}")
            ops, where = yaml.safe_load(open(p)), p
            used.add(os.path.basename(p))
        else:
            ops = yaml.safe_load(patch.get("patch", ""))
        if not isinstance(ops, list) or not all(isinstance(o, dict) and "op" in o for o in ops):
            raise RenderError(f"{where}: not a JSON 6902 patch (a list of operations), the only kind the validator applies")
        hits = [x for x in docs if x.get("kind") == target["kind"] and x.get("metadata", {}).get("name") == target["name"]]
        if not hits:
            raise RenderError(f"{where}: no {target['kind']} named {target['name']} to patch")
        for hit in hits:
            for op in ops:
                apply(hit, op, where)
    present = {n for n in os.listdir(d) if n.endswith(".yaml") and n != "kustomization.yaml"}
    for unlisted in sorted(present - used):
        errors.append(f"{d}/{unlisted} is not listed in its kustomization.yaml (as a resource or a patch)")
    return copy.deepcopy(docs)

try:
    rendered = render(root)
except (RenderError, OSError, yaml.YAMLError) as e:
    print(f"ERROR {root}: {e}", file=sys.stderr)
    sys.exit(2)

docs = {}
for n, doc in enumerate(rendered):
    key = (doc.get("kind"), doc.get("metadata", {}).get("name"))
    if key in docs:
        errors.append(f"two {key[0]}s named {key[1]}")
    docs[key] = doc
    with open(os.path.join(out, f"{n:02d}-{key[0]}-{key[1]}.yaml"), "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)

def cpu(value):
    value = str(value)
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)

def seconds(value):
    return float(value)

def locked_down(c, pod):
    sc = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
    if not sc.get("runAsNonRoot") or not sc.get("readOnlyRootFilesystem") or "ALL" not in sc.get("capabilities", {}).get("drop", []):
        errors.append(f"the container {c.get('name')} must run as non-root, with a read-only root filesystem and all capabilities dropped")

def under(path, mount):
    return path == mount or path.startswith(mount.rstrip("/") + "/")

deploy = docs.get(("Deployment", "lookout"))
config = docs.get(("ConfigMap", "lookout-config"), {}).get("data", {})
if deploy is None:
    errors.append("no Deployment named lookout")
else:
    pod = deploy["spec"]["template"]["spec"]
    inits = pod.get("initContainers", [])
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
        for c in [main] + inits:
            locked_down(c, pod)
        # A model is either in the image or on a volume an init container writes to.
        filled = {m["name"] for c in inits for m in c.get("volumeMounts", []) if not m.get("readOnly")}
        mounts = {m["mountPath"]: m["name"] for m in main.get("volumeMounts", [])}
        for spec in filter(None, str(env.get("LOOKOUT_MODEL", "")).split(",")):
            path = spec.split("=", 1)[-1].strip()
            on = [v for m, v in mounts.items() if under(path, m)]
            if not (under(path, "/app") or (on and on[0] in filled)):
                errors.append(f"LOOKOUT_MODEL's {path} is neither in the image (/app/) nor on a volume an init container fills")
    for c in inits:
        argv = c.get("command", []) + c.get("args", [])
        if "pull-model" in argv:
            where = argv[argv.index("--dir") + 1] if "--dir" in argv[:-1] else "models"
            if not any(m["mountPath"] == where and not m.get("readOnly") for m in c.get("volumeMounts", [])):
                errors.append(f"the init container {c.get('name')} pulls into {where}, which is not a volume it mounts writable")

for error in errors:
    print(f"ERROR {root}: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
  if ((status != 2)); then
    for version in $K8S_VERSIONS; do
      validator -m kubernetes_validate --strict --quiet --no-warn -k "$version" "$out"/*.yaml || failed=1
    done
  fi
  rm -rf "$out"
  ((status == 0)) || failed=1
  return "$failed"
}

# Every kustomization under DIR, DIR first.
kustomizations() {
  find "$1" -name kustomization.yaml -printf '%h\n' | sort
}

# Each broken copy must fail, or the validator would not catch that kind of mistake. A case is
# FILE (under deploy/kubernetes), a sed edit, and the kustomization to validate.
self_test() {
  local tmp case_name file edit dir status=0
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  local -A cases=(
    [wrong-type]='base/deployment.yaml|s/replicas: 2/replicas: "two"/|.'
    [unknown-field]='base/deployment.yaml|s/periodSeconds: 10/periodSecs: 10/|.'
    [missing-required]='base/deployment.yaml|/containerPort: 8080/d|.'
    [cpu-mismatch]='base/deployment.yaml|0,/cpu: "2"/s//cpu: "4"/|.'
    [short-grace]='base/deployment.yaml|s/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 20/|.'
    [unlisted-manifest]='base/kustomization.yaml|/  - pdb.yaml/d|base'
    [coco-model-off-volume]='coco/models.yaml|s#coco=/models/#coco=/data/#|coco'
    [coco-pull-elsewhere]='coco/pull-model.yaml|s#"--dir", "/models"#"--dir", "/tmp"#|coco'
    [coco-patch-misses]='coco/pull-model.yaml|s#/initContainers/0#/initContainers/1#|coco'
    [coco-init-as-root]='coco/pull-model.yaml|s#readOnlyRootFilesystem: true#readOnlyRootFilesystem: false#|coco'
    [coco-strategic-patch]='coco/models.yaml|s#^- op: replace#- opp: replace#|coco'
  )
  for case_name in "${!cases[@]}"; do
    IFS='|' read -r file edit dir <<<"${cases[$case_name]}"
    rm -rf "${tmp:?}/$case_name"
    cp -r deploy/kubernetes "$tmp/$case_name"
    sed -i "$edit" "$tmp/$case_name/$file"
    cmp -s "deploy/kubernetes/$file" "$tmp/$case_name/$file" \
      && { echo "self-test $case_name: the edit changed nothing" >&2; status=1; continue; }
    if validate "$tmp/$case_name/$dir" >"$tmp/$case_name.err" 2>&1; then
      echo "self-test $case_name: a broken manifest PASSED" >&2
      status=1
    else
      echo "ok: $case_name is rejected: $(grep -m1 -v '^\s*$' "$tmp/$case_name.err")"
    fi
  done
  return "$status"
}

ensure_validator
case "${1:-deploy/kubernetes}" in
  --self-test)
    self_test
    # deploy/kserve's broken copies (scripts/validate-kserve.py breaks them in memory).
    validator scripts/validate-kserve.py --self-test deploy/kserve
    ;;
  *)
    failed=0
    while IFS= read -r dir; do
      if validate "$dir"; then
        echo "deploy: manifests in $dir are valid for Kubernetes ${K8S_VERSIONS// /, }"
      else
        failed=1
        echo "error: invalid Kubernetes manifests in $dir" >&2
      fi
    done < <(kustomizations "${1:-deploy/kubernetes}")
    # deploy/kserve: KServe's custom resources, which Kubernetes' schemas do not cover
    # (scripts/validate-kserve.py checks them, with the same validator's packages).
    if [[ -z "${1:-}" ]]; then
      # shellcheck disable=SC2086
      validator scripts/validate-kserve.py deploy/kserve $K8S_VERSIONS || failed=1
    fi
    ((failed == 0)) || die "invalid Kubernetes manifests under ${1:-deploy/kubernetes}"
    ;;
esac
