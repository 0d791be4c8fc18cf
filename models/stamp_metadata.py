#!/usr/bin/env python3
"""Add or update ONNX metadata_props on committed models without touching their graphs.

    models/.venv/bin/python models/stamp_metadata.py [--check] [MODEL ...]

With no MODEL it stamps the bundled ones with the ``resize`` key (issue #11):

* ``models/shapes.onnx``: the native-scale cap of models/shapes/model.py NativeScaleTransform,
  derived from the model code by models/export.py resize_rule():
  {"rule": "native_cap", "max_long": 1333, "interpolation": "bilinear", "antialias": false}
* ``models/shapes-zoo.onnx``: what the ONNX-zoo layout asks of the caller,
  models/shapes/export_zoo_layout.py ZOO_RESIZE.

Other files: ``--set KEY=VALUE`` (repeatable) names what to write.

Every other metadata key (labels, name, layout, description, ...) keeps its value and place;
the key is updated in place if present, else appended. Before a file is replaced the script
proves that nothing else changed: the model with its metadata_props removed serialises to the
same bytes as before, and onnxruntime gives bit-identical outputs on every
detector/tests/fixtures/parity/*.png (prepared for the model's layout). A file that already
carries the values is left alone, byte for byte. ``--check`` changes nothing and exits 1 when a
file lacks a value.

Stamping changes a file's sha256: references that pin it (the parity fixtures' model_sha256)
must be updated; the script prints the old and new hashes.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "detector", "tests", "fixtures", "parity")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "shapes"))


def bundled_props() -> dict[str, dict[str, str]]:
    """{absolute path: {key: value}} for the models this repository ships."""
    import export
    import export_zoo_layout
    from model import build_model
    return {
        os.path.join(HERE, "shapes.onnx"): {"resize": json.dumps(export.resize_rule(build_model()))},
        os.path.join(HERE, "shapes-zoo.onnx"): {"resize": json.dumps(export_zoo_layout.ZOO_RESIZE)},
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inputs_for(model_bytes: bytes) -> list:
    """One input per parity fixture, prepared for the model's layout."""
    import onnx
    import export
    m = onnx.load_from_string(model_bytes)
    name = m.graph.input[0].name
    pngs = sorted(glob.glob(os.path.join(FIXTURES, "*.png")))
    if not pngs:
        raise SystemExit(f"stamp_metadata: error: no fixtures in {FIXTURES}")
    if name == "image":  # ONNX-zoo layout: BGR minus mean, resized and padded by the caller
        import export_zoo_layout
        return [(os.path.basename(p), {name: export_zoo_layout.prepare(p)[0]}) for p in pngs]
    return [(os.path.basename(p), {name: export.load_image(p)}) for p in pngs]


def run_all(model_bytes: bytes, feeds) -> list:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return [sess.run(None, feed) for _, feed in feeds]


def without_metadata(m) -> bytes:
    import onnx
    c = onnx.ModelProto()
    c.CopyFrom(m)
    del c.metadata_props[:]
    return c.SerializeToString()


def stamp(path: str, props: dict[str, str], check_only: bool = False) -> tuple[str, str, bool]:
    """Returns (old sha256, new sha256, changed)."""
    import numpy as np
    import onnx
    import export
    old_bytes = open(path, "rb").read()
    old = onnx.load_from_string(old_bytes)
    before = [(p.key, p.value) for p in old.metadata_props]
    current = dict(before)
    if all(current.get(k) == v for k, v in props.items()):
        print(f"{os.path.relpath(path, ROOT)}: already carries {', '.join(props)}; unchanged "
              f"(sha256 {sha256(old_bytes)})")
        return sha256(old_bytes), sha256(old_bytes), False
    if check_only:
        missing = [k for k, v in props.items() if current.get(k) != v]
        print(f"{os.path.relpath(path, ROOT)}: lacks the current {', '.join(missing)}")
        return sha256(old_bytes), sha256(old_bytes), True

    new = onnx.ModelProto()
    new.CopyFrom(old)
    export.set_metadata(new, props, replace_all=False)
    onnx.checker.check_model(new)
    new_bytes = new.SerializeToString()

    # 1. only metadata_props changed, and every other key kept its value and place
    reread = onnx.load_from_string(new_bytes)
    if without_metadata(reread) != without_metadata(old):
        raise SystemExit(f"stamp_metadata: error: {path}: the model besides its metadata would change; refusing")
    after = [(p.key, p.value) for p in reread.metadata_props]
    expected = [(k, props.get(k, v)) for k, v in before] + [(k, v) for k, v in props.items() if k not in current]
    if after != expected:
        raise SystemExit(f"stamp_metadata: error: {path}: metadata would not be preserved ({after} vs {expected})")

    # 2. bit-identical outputs on the parity fixtures
    feeds = inputs_for(old_bytes)
    ra, rb = run_all(old_bytes, feeds), run_all(new_bytes, feeds)
    for (name, _), xa, xb in zip(feeds, ra, rb):
        for u, v in zip(xa, xb):
            if u.dtype != v.dtype or u.shape != v.shape or not np.array_equal(u, v):
                raise SystemExit(f"stamp_metadata: error: {path}: outputs on {name} differ after stamping")
        print(f"  {name}: {len(xa[-1])} detections, outputs bit-identical before and after")

    with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), delete=False, suffix=".tmp") as f:
        f.write(new_bytes)
        tmp = f.name
    os.chmod(tmp, os.stat(path).st_mode & 0o777)
    os.replace(tmp, path)
    print(f"{os.path.relpath(path, ROOT)}: metadata keys {[k for k, _ in after]}; "
          f"sha256 {sha256(old_bytes)} -> {sha256(new_bytes)}")
    return sha256(old_bytes), sha256(new_bytes), True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help="default: models/shapes.onnx models/shapes-zoo.onnx")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="metadata to write (default for the bundled models: their resize rule)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a value is missing")
    a = ap.parse_args(argv)
    extra = {}
    for kv in a.set:
        if "=" not in kv:
            ap.error(f"--set {kv!r}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        extra[k] = v
    bundled = bundled_props()
    paths = [os.path.abspath(p) for p in a.models] or list(bundled)
    stale = False
    for p in paths:
        if not os.path.isfile(p):
            ap.error(f"no such file: {p}")
        props = dict(extra) if extra else bundled.get(p)
        if not props:
            ap.error(f"{p}: not a bundled model; say what to write with --set KEY=VALUE")
        _, _, changed = stamp(p, props, a.check)
        stale = stale or changed
    return 1 if (a.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
