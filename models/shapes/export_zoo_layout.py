#!/usr/bin/env python3
"""Export the trained shapes detector in the ONNX model zoo FasterRCNN-10 layout, plus a
(loose) parity reference for it.

    models/.venv/bin/python models/shapes/export_zoo_layout.py [--checkpoint models/shapes.pth]
        [--out models/shapes-zoo.onnx] [--fixtures detector/tests/fixtures/parity]

The zoo layout (maskrcnn-benchmark FasterRCNN-10/12) as a caller sees it:

* input ``image`` float32 [3, H, W]: BGR, 0..255, minus the per-channel mean
  [102.9801, 115.9465, 122.7717] (B, G, R);
* the CALLER resizes the picture: scale = min(800 / short_side, 1333 / long_side) and
  new_dim = floor(dim * scale + 0.5) (round half up, computed in float64), then zero-pads
  (after the mean subtraction) on the right and bottom to multiples of 32; the metadata key
  ``resize`` records that rule (ZOO_RESIZE below);
* outputs ``boxes`` float32 [N, 4] x1,y1,x2,y2 in the RESIZED (input) coordinates,
  ``labels`` int64 [N] (contiguous: 1..3, index into the metadata ``labels``), ``scores``
  float32 [N]; to get original pixels divide x by new_w / orig_w and y by new_h / orig_h.

Inside the graph the wrapper adds the mean back, turns BGR into RGB, divides by 255 and runs
the ordinary shapes FasterRCNN. The shapes model was trained at native scale (objects
32..200 px) and the caller's resize to short side 800 enlarges a 640x480 picture 1.67x, so the
detector's transform is replaced by a FIXED downscale by INTERNAL_SCALE = 0.6 (bilinear, output
floor(dim * 0.6)); torchvision's post-processing maps the boxes back to the input (resized)
coordinates. This is a test model for the zoo plumbing, not a product.

Parity reference (``reference_zoo.json`` in the fixtures folder): since resampling differs
between libraries, it records for each parity PNG the exact resized and padded sizes the
caller must use and the final detections mapped back to ORIGINAL pixels, computed by this
Python pipeline (PIL BILINEAR resize); compare with a loose tolerance.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch.nn.functional as F  # noqa: E402
from model import LABELS, NativeScaleTransform, build_model  # noqa: E402

MODELS = os.path.dirname(HERE)
ROOT = os.path.dirname(MODELS)
MEAN_BGR = [102.9801, 115.9465, 122.7717]
SHORT, LONG, DIV = 800, 1333, 32
INTERNAL_SCALE = 0.6
# The caller's resize, as ONNX metadata ``resize`` (JSON). It is what resized_size() below and
# Lookout's detector/src/tensor.rs zoo_resized_size do: scale = min(800 / short, 1333 / long),
# new = round half up (dim * scale) (Python in float64, Rust in float32), bilinear resampling
# that widens its filter when shrinking (PIL BILINEAR here, the image crate's Triangle in Rust,
# hence "antialias": true), then zero padding on the right and bottom to multiples of 32. (The
# ONNX model zoo's own FasterRCNN-10 README sample truncates instead, int(800 / short * dim),
# without the 1333 cap, and only recommends sides within [800, 1333].)
ZOO_RESIZE = {"rule": "shortest_edge", "min_size": SHORT, "max_size": LONG, "size_divisible": DIV,
              "rounding": "half_up", "interpolation": "bilinear", "antialias": True}


class FixedScaleTransform(NativeScaleTransform):
    """Normalise/pad like torchvision, but resize every image by a fixed factor."""

    def __init__(self, scale: float = INTERNAL_SCALE):
        super().__init__(max_long=100000)
        self.fixed_scale = float(scale)

    def resize(self, image, target=None):
        image = F.interpolate(image[None], scale_factor=self.fixed_scale, mode="bilinear",
                              recompute_scale_factor=True, align_corners=False)[0]
        return image, target


class ZooLayout(nn.Module):
    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector
        self.register_buffer("mean", torch.tensor(MEAN_BGR, dtype=torch.float32).view(3, 1, 1))

    def forward(self, image):
        bgr = image + self.mean
        rgb = torch.stack([bgr[2], bgr[1], bgr[0]]) / 255.0
        out = self.detector([rgb])[0]
        return out["boxes"], out["labels"], out["scores"]


def resized_size(w: int, h: int) -> tuple[int, int, float]:
    scale = min(SHORT / min(w, h), LONG / max(w, h))
    return int(math.floor(w * scale + 0.5)), int(math.floor(h * scale + 0.5)), scale


def padded(n: int) -> int:
    return int(math.ceil(n / DIV) * DIV)


def prepare(path: str):
    """The Python reference of the caller's pre-processing (PIL BILINEAR resize)."""
    from PIL import Image
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        w, h = rgb.size
        nw, nh, scale = resized_size(w, h)
        r = np.asarray(rgb.resize((nw, nh), Image.Resampling.BILINEAR), dtype=np.float32)
    bgr = r[..., ::-1] - np.asarray(MEAN_BGR, dtype=np.float32)
    x = np.zeros((3, padded(nh), padded(nw)), dtype=np.float32)
    x[:, :nh, :nw] = bgr.transpose(2, 0, 1)
    return x, (w, h), (nw, nh), scale


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=os.path.join(MODELS, "shapes.pth"))
    ap.add_argument("--out", default=os.path.join(MODELS, "shapes-zoo.onnx"))
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "detector/tests/fixtures/parity"))
    a = ap.parse_args(argv)
    torch.set_num_threads(1)

    det = build_model()
    det.load_state_dict(torch.load(a.checkpoint, map_location="cpu"))
    det.transform = FixedScaleTransform(INTERNAL_SCALE)
    det.eval()
    model = ZooLayout(det).eval()

    pngs = sorted(glob.glob(os.path.join(a.fixtures, "*.png")))
    x0, *_ = prepare(pngs[0])
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.from_numpy(x0),), a.out, dynamo=False, opset_version=17,
            input_names=["image"], output_names=["boxes", "labels", "scores"],
            dynamic_axes={"image": {1: "height", 2: "width"}, "boxes": {0: "n"},
                          "labels": {0: "n"}, "scores": {0: "n"}})
    import onnx
    m = onnx.load(a.out)
    del m.metadata_props[:]
    for k, v in {
        "labels": json.dumps(LABELS),
        "name": "shapes-frcnn-zoo",
        "layout": "onnx-zoo",
        "description": ("The shapes detector in the ONNX model zoo FasterRCNN-10 layout: input 'image' "
                        "float32 [3,H,W] BGR 0..255 minus mean [102.9801, 115.9465, 122.7717], resized by "
                        "the caller (short side 800, long <= 1333) and zero-padded to multiples of 32; "
                        "boxes in input (resized) coordinates; labels contiguous. Internally downscales by "
                        f"{INTERNAL_SCALE} (trained at native scale). Test model only."),
        "resize": json.dumps(ZOO_RESIZE),
    }.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    onnx.save(m, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes)")

    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(a.out, so, providers=["CPUExecutionProvider"])
    gt_path = os.path.join(a.fixtures, "ground_truth.json")
    gt = {}
    if os.path.exists(gt_path):
        gt = {im["file"]: im["objects"] for im in json.load(open(gt_path))["images"]}
    images = []
    for path in pngs:
        x, (w, h), (nw, nh), scale = prepare(path)
        boxes, labels, scores = sess.run(None, {"image": x})
        with torch.no_grad():
            eb, el, es = model(torch.from_numpy(x))
        sx, sy = nw / w, nh / h
        orig = boxes.astype(np.float64) / np.array([sx, sy, sx, sy])
        keep = scores >= 0.5
        name = os.path.basename(path)
        images.append({
            "file": name,
            "original_size": [w, h],
            "scale": scale,
            "resized_size": [nw, nh],
            "padded_size": [padded(nw), padded(nh)],
            "input_shape": list(x.shape),
            "detections": [{"box": [round(float(v), 3) for v in orig[i]], "label": int(labels[i]),
                            "label_name": LABELS[int(labels[i])], "score": round(float(scores[i]), 5)}
                           for i in np.flatnonzero(keep)],
            "ground_truth": gt.get(name),
        })
        print(f"{name}: {w}x{h} -> {nw}x{nh} (pad {padded(nw)}x{padded(nh)}), "
              f"{int(keep.sum())} detections >= 0.5, {len(gt.get(name) or [])} objects; "
              f"eager vs onnx max box diff {float(np.abs(eb.numpy()[:len(boxes)] - boxes[:len(eb)]).max()) if len(boxes) and len(eb) else 0:.4f}")
    ref = {
        "model": os.path.basename(a.out),
        "model_sha256": hashlib.sha256(open(a.out, "rb").read()).hexdigest(),
        "labels": LABELS,
        "preprocessing": {
            "input": "image",
            "mean_bgr": MEAN_BGR,
            "resize": "scale = min(800 / min(w, h), 1333 / max(w, h)); new = floor(dim * scale + 0.5) "
                      "(float64); Python reference used PIL BILINEAR",
            "pad": "zeros (after mean subtraction) on the right/bottom to multiples of 32",
            "to_original": "x / (new_w / w), y / (new_h / h)",
        },
        "score_threshold": 0.5,
        "tolerance_note": "resampling differs between libraries: compare label sets and boxes loosely "
                          "(e.g. IoU >= 0.8 with the same label, scores within 0.1)",
        "images": images,
    }
    out = os.path.join(a.fixtures, "reference_zoo.json")
    with open(out, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
