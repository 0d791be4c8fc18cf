#!/usr/bin/env python3
"""A hold-out of LARGE images with SMALL shapes, for measuring tiled detection (issue #11).

    models/.venv/bin/python models/shapes/large_holdout.py --out DIR [--seed 20261211]
        [--count 40] [--width 4000] [--height 3000] [--min-long 20] [--max-long 60]
        [--objects 12:30] [--format png|jpeg] [--quality 90]

Same drawing as ``dataset.py`` (noisy grey background, sigma 12; filled red rectangles, green
ellipses and blue triangles; tight ground-truth boxes, x2/y2 exclusive; objects at least 4 px
apart), but on a ``width`` x ``height`` canvas with ``objects`` shapes whose longer side is
in [min_long, max_long] px (the demo model was trained on 32-200 px, so the smallest are
below its range even at their own scale). Image ``i`` is drawn from
``numpy.random.default_rng([seed, i])``; the images are written to DIR (not committed) with a
``ground_truth.json`` in dataset.py's format. The default seed is used nowhere else.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dataset  # noqa: E402

SEED = 20261211


def generate_large(seed: int, index: int, width: int, height: int, min_long: int, max_long: int,
                   objects: tuple[int, int]):
    rng = dataset.image_rng(seed, index)
    grey = int(rng.integers(dataset.GREY_MIN, dataset.GREY_MAX + 1))
    img = np.empty((height, width, 3), dtype=np.uint8)
    for y in range(0, height, 500):  # in bands: the float noise of 12 MP at once is 144 MB
        band = min(500, height - y)
        noise = rng.standard_normal((band, width, 3), dtype=np.float32) * np.float32(dataset.NOISE_SIGMA)
        img[y:y + band] = np.clip(np.rint(noise + np.float32(grey)), 0, 255).astype(np.uint8)
    n = int(rng.integers(objects[0], objects[1] + 1))
    placed, out = [], []
    for _ in range(n):
        label = int(rng.integers(1, len(dataset.LABELS)))
        for _try in range(200):
            long_side = int(rng.integers(min_long, max_long + 1))
            aspect = float(np.exp(rng.uniform(np.log(dataset.ASPECT_MIN), np.log(dataset.ASPECT_MAX))))
            if aspect >= 1.0:
                w, h = long_side, max(1, int(round(long_side / aspect)))
            else:
                w, h = max(1, int(round(long_side * aspect))), long_side
            apex_top = bool(rng.integers(0, 2))
            x1 = int(rng.integers(0, width - w + 1))
            y1 = int(rng.integers(0, height - h + 1))
            outer = (x1, y1, x1 + w, y1 + h)
            if not all(dataset._apart(outer, p) for p in placed):
                continue
            mask = dataset._shape_mask(label, w, h, apex_top)
            tb = dataset._tight_box(mask)
            if tb is None:
                continue
            (rl, rh), (gl, gh), (bl, bh) = dataset.COLOURS[label]
            colour = np.array([rng.integers(rl, rh + 1), rng.integers(gl, gh + 1),
                               rng.integers(bl, bh + 1)], dtype=np.uint8)
            img[y1:y1 + h, x1:x1 + w][mask] = colour
            placed.append(outer)
            out.append({"label": dataset.LABELS[label], "class_id": label,
                        "box": [x1 + tb[0], y1 + tb[1], x1 + tb[2], y1 + tb[3]]})
            break
    return img, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--min-long", type=int, default=20)
    ap.add_argument("--max-long", type=int, default=60)
    ap.add_argument("--objects", default="12:30", help="MIN:MAX shapes per image")
    ap.add_argument("--format", choices=["png", "jpeg"], default="png")
    ap.add_argument("--quality", type=int, default=90)
    a = ap.parse_args(argv)
    lo, hi = (int(v) for v in a.objects.split(":"))
    os.makedirs(a.out, exist_ok=True)
    ext = "png" if a.format == "png" else "jpg"
    images = []
    for i in range(a.count):
        img, objects = generate_large(a.seed, i, a.width, a.height, a.min_long, a.max_long, (lo, hi))
        name = f"{i:04d}.{ext}"
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(dataset.encode(img, a.format, a.quality))
        images.append({"file": name, "width": a.width, "height": a.height, "objects": objects})
    dataset.write_ground_truth(os.path.join(a.out, "ground_truth.json"), {"images": images})
    print(f"wrote {len(images)} images ({a.width}x{a.height}), "
          f"{sum(len(im['objects']) for im in images)} shapes of {a.min_long}-{a.max_long} px to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
