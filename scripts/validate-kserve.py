#!/usr/bin/env python3
"""Validates deploy/kserve OFFLINE (run by scripts/validate-deploy.sh, part of `make lint`).

KServe's resources are custom resources, whose schemas Kubernetes' own do not include. So:
 1. the kustomization lists exactly the YAML files of its directory;
 2. the ServingRuntime and the InferenceServices are checked against the fields of KServe's
    CRDs (serving.kserve.io v1alpha1 ServingRuntime, v1beta1 InferenceService) that these
    manifests use, strictly: an unknown or misspelt field is an error;
 3. every container in them against Kubernetes' Container schema (strict, from
    kubernetes-validate's bundled schemas), for the oldest and newest versions we support;
 4. Lookout's invariants: the runtime speaks v2 and grpc-v2, listens on 8080 (REST) and 8001
    (gRPC) as its ports say, CPU requests = limits = LOOKOUT_THREADS, probes on the protocol's
    health routes, non-root with a read-only root filesystem, the model read from
    /mnt/models (where KServe's storage initializer puts it) under the InferenceService's
    name; each InferenceService uses the runtime, a format it supports and a protocol it
    speaks, and a gRPC one names Lookout's gRPC port h2c.
Usage: validate-kserve.py DIR [K8S_VERSION...]   |   validate-kserve.py --self-test DIR
"""

import copy
import json
import os
import sys

import jsonschema
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource


def strict(properties, required=()):
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
STRMAP = {"type": "object", "additionalProperties": STR}
ANY = {}
METADATA = strict({"name": STR, "namespace": STR, "labels": STRMAP, "annotations": STRMAP}, ["name"])
MODEL_FORMAT = strict({"name": STR, "version": STR, "autoSelect": BOOL, "priority": INT}, ["name"])

# The fields of KServe's CRDs these manifests may use (containers are checked separately).
SCHEMAS = {
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): strict({
        "apiVersion": STR, "kind": STR, "metadata": METADATA,
        "spec": strict({
            "annotations": STRMAP,
            "supportedModelFormats": {"type": "array", "items": MODEL_FORMAT, "minItems": 1},
            "protocolVersions": {"type": "array", "items": {"enum": ["v1", "v2", "grpc-v1", "grpc-v2"]}},
            "multiModel": BOOL,
            "disabled": BOOL,
            "containers": {"type": "array", "items": ANY, "minItems": 1},
            "volumes": {"type": "array"},
            "nodeSelector": STRMAP,
        }, ["containers", "supportedModelFormats"]),
    }, ["apiVersion", "kind", "metadata", "spec"]),
    ("serving.kserve.io/v1beta1", "InferenceService"): strict({
        "apiVersion": STR, "kind": STR, "metadata": METADATA,
        "spec": strict({
            "predictor": strict({
                "minReplicas": INT, "maxReplicas": INT, "scaleTarget": INT,
                "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
                "containerConcurrency": INT, "timeout": INT, "serviceAccountName": STR,
                "model": strict({
                    "runtime": STR, "protocolVersion": {"enum": ["v1", "v2", "grpc-v2"]},
                    "modelFormat": MODEL_FORMAT, "storageUri": STR,
                    "ports": {"type": "array"}, "env": {"type": "array"}, "resources": {"type": "object"},
                    "args": {"type": "array"}, "readinessProbe": {"type": "object"},
                    "livenessProbe": {"type": "object"},
                }, ["modelFormat", "storageUri"]),
            }, ["model"]),
        }, ["predictor"]),
    }, ["apiVersion", "kind", "metadata", "spec"]),
}


def container_validator(version):
    version = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)][-1]
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    schema = kv.schema_contents(f"{folder}/container-v1.json", version)
    definitions = kv.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def cpu(value):
    value = str(value)
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def load(directory):
    errors = []
    with open(os.path.join(directory, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f) or {}
    listed = set(kust.get("resources", []))
    present = {n for n in os.listdir(directory) if n.endswith(".yaml") and n != "kustomization.yaml"}
    for name in sorted(present - listed):
        errors.append(f"{name} is not listed in kustomization.yaml")
    for name in sorted(listed - present):
        errors.append(f"kustomization.yaml lists {name}, which is not a file here")
    docs = []
    for name in sorted(listed & present):
        with open(os.path.join(directory, name)) as f:
            docs += [(name, d) for d in yaml.safe_load_all(f) if d]
    return docs, errors


def check(docs, versions):
    errors = []
    for name, doc in docs:
        schema = SCHEMAS.get((doc.get("apiVersion"), doc.get("kind")))
        if schema is None:
            errors.append(f"{name}: {doc.get('apiVersion')} {doc.get('kind')} is not a KServe resource this check knows")
            continue
        for e in jsonschema.Draft202012Validator(schema).iter_errors(doc):
            errors.append(f"{name}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
    if errors:
        return errors
    runtimes = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "ServingRuntime"}
    services = [(n, d) for n, d in docs if d["kind"] == "InferenceService"]
    validators = [(v, container_validator(v)) for v in versions]
    for rname, runtime in runtimes.items():
        spec = runtime["spec"]
        for proto in ("v2", "grpc-v2"):
            if proto not in spec.get("protocolVersions", []):
                errors.append(f"ServingRuntime {rname} must list protocolVersion {proto}")
        main = spec["containers"][0]
        for c in spec["containers"]:
            for version, validator in validators:
                for e in validator.iter_errors(c):
                    errors.append(f"ServingRuntime {rname} container {c.get('name')} (Kubernetes {version}): "
                                  f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
        if main.get("name") != "kserve-container":
            errors.append("the runtime's container must be named kserve-container (KServe merges the model's fields into it)")
        args = main.get("args", [])
        for want in ("--addr=0.0.0.0:8080", "--grpc-addr=0.0.0.0:8001"):
            if want not in args:
                errors.append(f"the runtime's container must be started with {want}")
        if not any(a.startswith("--model={{.Name}}=/mnt/models/") for a in args):
            errors.append("the model must be served under the InferenceService's name from /mnt/models: --model={{.Name}}=/mnt/models/...")
        if [p.get("containerPort") for p in main.get("ports", [])] != [8080]:
            errors.append("the runtime's one port must be 8080 (Knative serves one; a gRPC InferenceService names 8001)")
        env = {e["name"]: e.get("value") for e in main.get("env", [])}
        threads = int(env.get("LOOKOUT_THREADS") or 0)
        res = main.get("resources", {})
        req, lim = res.get("requests", {}).get("cpu"), res.get("limits", {}).get("cpu")
        if threads < 1 or req is None or lim is None or cpu(req) != threads or cpu(lim) != threads:
            errors.append(f"CPU requests ({req}) and limits ({lim}) must equal LOOKOUT_THREADS ({threads or 'unset'})")
        probe = lambda kind: main.get(kind, {}).get("httpGet", {}).get("path")
        if probe("readinessProbe") != "/v2/health/ready" or probe("livenessProbe") != "/v2/health/live":
            errors.append("the probes must be GET /v2/health/ready (readiness) and /v2/health/live (liveness)")
        sc = main.get("securityContext", {})
        if not sc.get("runAsNonRoot") or not sc.get("readOnlyRootFilesystem") or "ALL" not in sc.get("capabilities", {}).get("drop", []):
            errors.append("the runtime's container must run as non-root, with a read-only root filesystem and all capabilities dropped")
    for name, isvc in services:
        model = isvc["spec"]["predictor"]["model"]
        runtime = runtimes.get(model.get("runtime"))
        if runtime is None:
            errors.append(f"{name}: runtime {model.get('runtime')!r} is not a ServingRuntime here")
            continue
        formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
        if model["modelFormat"]["name"] not in formats:
            errors.append(f"{name}: model format {model['modelFormat']['name']!r} is not one the runtime supports ({', '.join(sorted(formats))})")
        # KServe merges the model's container fields into the runtime's container.
        fields = {k: v for k, v in model.items() if k not in ("runtime", "protocolVersion", "modelFormat", "storageUri")}
        for version, validator in validators:
            for e in validator.iter_errors({"name": "kserve-container", **fields}):
                errors.append(f"{name}: model (Kubernetes {version}): {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
        protocol = model.get("protocolVersion", "v1")
        serving = 8001 if protocol == "grpc-v2" else 8080
        merged = {**runtime["spec"]["containers"][0], **fields}
        for kind in ("readinessProbe", "livenessProbe"):
            port = merged.get(kind, {}).get("httpGet", {}).get("port")
            if port != serving:
                errors.append(f"{name}: the {kind} must probe the serving port {serving} (Knative probes that one), not {port}")
        if protocol not in runtime["spec"].get("protocolVersions", []):
            errors.append(f"{name}: protocolVersion {protocol} is not one the runtime speaks")
        ports = model.get("ports", [])
        if protocol == "grpc-v2" and [(p.get("name"), p.get("containerPort")) for p in ports] != [("h2c", 8001)]:
            errors.append(f"{name}: a gRPC InferenceService must name Lookout's gRPC port: ports [{{name: h2c, containerPort: 8001}}]")
        if protocol == "v2" and ports:
            errors.append(f"{name}: a REST InferenceService uses the runtime's port 8080 (no ports of its own)")
    return errors


# Each broken copy must fail, or the check would not catch that kind of mistake.
BREAKAGES = {
    "unknown-field": lambda d: d["spec"]["predictor"]["model"].update(storageURI="x") if d["kind"] == "InferenceService" else None,
    "no-grpc-protocol": lambda d: d["spec"]["protocolVersions"].remove("grpc-v2") if d["kind"] == "ServingRuntime" else None,
    "grpc-port-unnamed": lambda d: d["spec"]["predictor"]["model"]["ports"][0].pop("name") if d["metadata"]["name"].endswith("grpc") else None,
    "cpu-mismatch": lambda d: d["spec"]["containers"][0]["resources"]["limits"].update(cpu="4") if d["kind"] == "ServingRuntime" else None,
    "container-typo": lambda d: d["spec"]["containers"][0].update(imagePullPolcy="Always") if d["kind"] == "ServingRuntime" else None,
    "grpc-probe-on-rest-port": lambda d: d["spec"]["predictor"]["model"].pop("readinessProbe") if d["metadata"]["name"].endswith("grpc") else None,
    "wrong-runtime": lambda d: d["spec"]["predictor"]["model"].update(runtime="triton") if d["kind"] == "InferenceService" else None,
}


def main(argv):
    if argv[:1] == ["--self-test"]:
        docs, errors = load(argv[1])
        status = 1 if errors else 0
        for case, breaks in BREAKAGES.items():
            broken = copy.deepcopy(docs)
            for _, doc in broken:
                breaks(doc)
            found = check(broken, ["1.30.0"])
            print(f"ok: {case} is rejected: {found[0]}" if found else f"self-test {case}: a broken manifest PASSED",
                  file=sys.stdout if found else sys.stderr)
            status |= 0 if found else 1
        return status
    directory, versions = argv[0], argv[1:] or ["1.30.0", "1.37.0"]
    docs, errors = load(directory)
    errors += check(docs, versions)
    for error in errors:
        print(f"ERROR {directory}: {error}", file=sys.stderr)
    if not errors:
        print(f"deploy: KServe manifests in {directory} are valid (containers for Kubernetes {', '.join(versions)})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
