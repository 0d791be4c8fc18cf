#!/usr/bin/env python3
"""Compute the Rust-vs-Python parity reference for an ONNX detector.

    models/.venv/bin/python models/reference/make_parity.py --model models/shapes.onnx \
        --fixtures detector/tests/fixtures/parity [--out reference.json]

For every ``*.png`` in the fixtures folder (sorted by name):

* decode with PIL, convert to RGB, ``np.asarray(img, dtype=np.float32) / np.float32(255.0)``
  (a DIVISION, so that Rust's ``v as f32 / 255.0`` is bit-identical), transposed to CHW,
  C-contiguous;
* record ``input_sha256`` (sha256 of that float32 tensor's little-endian bytes), ``shape``
  [3, H, W], and onnxruntime's outputs ``boxes`` [N,4] float32, ``labels`` [N] int64,
  ``scores`` [N] float32 as full-precision lists (float32 values written as the exact decimal
  of the double they widen to, so parsing back to f32 is exact).

The model file's sha256 is recorded too, so a test can tell a stale reference from a real
regression. The outputs are computed with 1 and with 2 intra-op threads and must agree exactly.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys

import numpy as np
from PIL import Image


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_input(path: str) -> np.ndarray:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        x = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def session(model: str, threads: int):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--out", help="default: <fixtures>/reference.json")
    a = ap.parse_args(argv)
    import onnxruntime as ort

    out = a.out or os.path.join(a.fixtures, "reference.json")
    s1, s2 = session(a.model, 1), session(a.model, 2)
    meta = s1.get_modelmeta().custom_metadata_map
    input_name = s1.get_inputs()[0].name
    names = [o.name for o in s1.get_outputs()]
    images = []
    for path in sorted(glob.glob(os.path.join(a.fixtures, "*.png"))):
        x = load_input(path)
        r1 = s1.run(names, {input_name: x})
        r2 = s2.run(names, {input_name: x})
        for u, v in zip(r1, r2):
            if u.shape != v.shape or not np.array_equal(u, v):
                print(f"warning: {os.path.basename(path)}: 1-thread and 2-thread outputs differ "
                      f"(max {np.abs(u.astype(np.float64) - v.astype(np.float64)).max() if u.shape == v.shape else 'shape'})",
                      file=sys.stderr)
        out_map = dict(zip(names, r1))
        boxes = out_map["boxes"].astype(np.float32)
        scores = out_map["scores"].astype(np.float32)
        labels = out_map["labels"].astype(np.int64)
        images.append({
            "file": os.path.basename(path),
            "shape": list(x.shape),
            "input_sha256": hashlib.sha256(x.astype("<f4").tobytes()).hexdigest(),
            "num_detections": int(len(scores)),
            "num_detections_ge_0.5": int((scores >= 0.5).sum()),
            "boxes": [[float(v) for v in row] for row in boxes],
            "labels": [int(v) for v in labels],
            "scores": [float(v) for v in scores],
        })
        print(f"{os.path.basename(path)}: shape {list(x.shape)}, {len(scores)} detections "
              f"({int((scores >= 0.5).sum())} >= 0.5)")
    ref = {
        "model": os.path.basename(a.model),
        "model_sha256": sha256_file(a.model),
        "labels": json.loads(meta["labels"]) if "labels" in meta else None,
        "onnxruntime": ort.__version__,
        "input": {"name": input_name, "preprocessing":
                  "PIL decode -> RGB -> np.asarray(dtype=float32) / float32(255.0) -> CHW (no batch)"},
        "outputs": names,
        "images": images,
    }
    with open(out, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
