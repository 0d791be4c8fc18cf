#!/usr/bin/env python3
"""Full-size parity reference: what Python onnxruntime answers when it is handed a whole
12-megapixel photo (and the graph resizes it), for the Rust engine, which resizes first.

    models/.venv/bin/python models/reference/make_parity_large.py \
        [--fixtures detector/tests/fixtures/parity] [--out <fixtures>/reference_large.json]

Inputs: each parity fixture (``0000.png`` 640x480, ``0001.png`` 333x517, ``0002.png`` 800x600)
scaled to phone-photo sizes by NEAREST-neighbour with integer arithmetic, so that Rust
regenerates the identical pixels: output pixel (x, y) of W x H is source pixel
(x * w // W, y * h // H). The sha256 of the RGB bytes is recorded.

Models: ``models/shapes.onnx`` (rule ``native_cap``: the graph maps its working size to itself)
and ``shapes-800.onnx`` in the fixtures (torchvision's ``shortest_edge`` 800/1333, made by
export_shortest_edge.py), whose rule is NOT idempotent on some of these sizes (4000x3000 ->
1066x799 -> 1067x800). For every case the size the graph's own Resize produces is recorded
(probed on the graph), with onnxruntime's outputs on the full-size float tensor
(``u8 / 255`` as float32, CHW), all detections (score >= 0.05).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
ROOT = os.path.dirname(MODELS)
sys.path.insert(0, MODELS)

SIZES = [(4032, 3024), (4000, 3000), (3000, 4000), (4624, 3468), (2580, 4006)]


def upscale(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    ys = (np.arange(height, dtype=np.int64) * h) // height
    xs = (np.arange(width, dtype=np.int64) * w) // width
    return np.ascontiguousarray(rgb[ys][:, xs])


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "detector/tests/fixtures/parity"))
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    import onnxruntime as ort
    import export as export_lib  # models/export.py: resize_probe, predict_resize

    models = [("shapes.onnx", os.path.join(MODELS, "shapes.onnx")),
              ("shapes-800.onnx", os.path.join(a.fixtures, "shapes-800.onnx"))]
    out = {"onnxruntime": ort.__version__,
           "upscale": "nearest, integer: source (x * w // W, y * h // H)",
           "input": "u8 RGB -> float32 / 255 -> CHW, whole image (the graph resizes it)",
           "models": []}
    for name, path in models:
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        rule = json.loads(sess.get_modelmeta().custom_metadata_map["resize"])
        probe = export_lib.resize_probe(path)
        cases = []
        for fixture in ("0000.png", "0001.png", "0002.png"):
            with Image.open(os.path.join(a.fixtures, fixture)) as im:
                rgb = np.asarray(im.convert("RGB"))
            for (w, h) in SIZES:
                big = upscale(rgb, w, h)
                x = np.ascontiguousarray((big.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1))
                boxes, labels, scores = sess.run(["boxes", "labels", "scores"], {"images": x})
                working = probe(x)
                again = export_lib.predict_resize(rule, *working)
                cases.append({
                    "fixture": fixture, "width": w, "height": h,
                    "rgb_sha256": hashlib.sha256(big.tobytes()).hexdigest(),
                    "graph_working_size": list(working),
                    "working_size_maps_to_itself": list(again) == list(working),
                    "boxes": [[float(v) for v in row] for row in boxes.astype(np.float32)],
                    "labels": [int(v) for v in labels],
                    "scores": [float(v) for v in scores.astype(np.float32)],
                })
                print(f"{name} {fixture} {w}x{h}: graph works at {working[0]}x{working[1]}"
                      f"{'' if list(again) == list(working) else f' (which it would resize again to {again[0]}x{again[1]})'}, "
                      f"{int((scores >= 0.5).sum())} detections >= 0.5", flush=True)
        out["models"].append({"file": name, "sha256": sha256_file(path), "resize": rule, "cases": cases})
    path = a.out or os.path.join(a.fixtures, "reference_large.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
