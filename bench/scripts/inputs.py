#!/usr/bin/env python3
"""Deterministic test inputs: a 640x480 and a 1920x1080 JPEG (quality 90) of a drawn,
photo-like scene (smooth gradients, shapes, seeded noise), and the PUT /predict JSON body for
each, identical for both services.

    python bench/scripts/inputs.py OUT_DIR [--threshold 0.5]
writes OUT_DIR/{640x480,1920x1080}.jpg and OUT_DIR/{640x480,1920x1080}.predict.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZES = [(640, 480), (1920, 1080)]


def scene(width: int, height: int, seed: int = 0) -> Image.Image:
    """The same scene at any size: drawn at 1920x1080 geometry scaled to (width, height)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    sky = np.stack([90 + 80 * v, 140 + 60 * v, 200 - 40 * v], axis=-1)
    ground = np.stack([70 + 40 * u, 110 + 30 * v, 50 + 20 * u], axis=-1)
    img = np.where((v > 0.55)[..., None], ground, sky)
    img = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    sx, sy = width / 1920, height / 1080
    shape_rng = np.random.default_rng(seed + 1)
    for _ in range(24):
        cx, cy = shape_rng.uniform(0.05, 0.95) * 1920, shape_rng.uniform(0.1, 0.95) * 1080
        w, h = shape_rng.uniform(60, 360), shape_rng.uniform(60, 300)
        colour = tuple(int(c) for c in shape_rng.integers(0, 256, 3))
        box = [(cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy]
        kind = shape_rng.integers(0, 3)
        if kind == 0:
            d.rectangle(box, fill=colour, outline=(20, 20, 20), width=max(1, int(4 * sx)))
        elif kind == 1:
            d.ellipse(box, fill=colour)
        else:
            d.polygon([(box[0], box[3]), ((box[0] + box[2]) / 2, box[1]), (box[2], box[3])],
                      fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(radius=1.2 * sx))
    noise = rng.normal(0, 6, (height, width, 3))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--threshold", type=float, default=0.5)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    manifest = {}
    for w, h in SIZES:
        name = f"{w}x{h}"
        buf = io.BytesIO()
        scene(w, h).save(buf, "JPEG", quality=90)
        jpeg = buf.getvalue()
        with open(os.path.join(a.out, f"{name}.jpg"), "wb") as f:
            f.write(jpeg)
        body = json.dumps({"base64str": base64.b64encode(jpeg).decode("ascii"),
                           "threshold": a.threshold}).encode()
        with open(os.path.join(a.out, f"{name}.predict.json"), "wb") as f:
            f.write(body)
        manifest[name] = {"jpeg_bytes": len(jpeg), "body_bytes": len(body),
                          "jpeg_sha256": hashlib.sha256(jpeg).hexdigest()}
        print(f"{name}: JPEG {len(jpeg)} bytes, body {len(body)} bytes", flush=True)
    with open(os.path.join(a.out, "inputs.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
