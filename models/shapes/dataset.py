#!/usr/bin/env python3
"""Seeded synthetic "coloured shapes" detection dataset.

Spec (other tests rely on it, keep it exact):

* image width and height each uniform in [320, 800];
* background: one uniform grey level in [70, 190] plus per-pixel, per-channel Gaussian
  noise (sigma 12), clipped to 0..255;
* 1 to 4 objects that do not overlap: every pair is at least 4 px apart (one box expanded
  by 4 px does not intersect the other); placement is retried;
* each object's box has its longer side in [32, 200] px and aspect ratio w/h in [0.5, 2];
* label 1 ``red_rectangle``: filled axis-aligned rectangle, R in [180,255], G,B in [0,70];
* label 2 ``green_ellipse``: filled axis-aligned ellipse inscribed in its box,
  G in [160,255], R,B in [0,70];
* label 3 ``blue_triangle``: filled isosceles triangle filling its box, apex at the centre
  of the top or bottom edge, B in [170,255], R,G in [0,80];
* each object is one uniform colour drawn over the noisy background, rasterised with
  numpy masks sampled at pixel centres; the ground-truth box is the tight bounding box of
  the drawn mask, ``[x1, y1, x2, y2]`` in pixels with x2/y2 EXCLUSIVE (width = x2 - x1).

Randomness: image ``index`` of dataset ``seed`` is drawn from
``numpy.random.default_rng([seed, index])``, so any image can be regenerated alone.

CLI::

    python models/shapes/dataset.py --seed S --count N --out DIR [--format png|jpeg] [--quality 90]

writes ``DIR/0000.png`` ... (or ``.jpg``) and ``DIR/ground_truth.json``::

    {"images": [{"file": "0000.png", "width": W, "height": H,
                 "objects": [{"label": "red_rectangle", "class_id": 1, "box": [x1, y1, x2, y2]}]}]}
"""

from __future__ import annotations

import argparse
import io
import json
import os
from typing import Iterable, Sequence

import numpy as np

LABELS = ["__background__", "red_rectangle", "green_ellipse", "blue_triangle"]

MIN_SIDE, MAX_SIDE = 320, 800
GREY_MIN, GREY_MAX = 70, 190
NOISE_SIGMA = 12.0
MIN_OBJECTS, MAX_OBJECTS = 1, 4
OBJ_LONG_MIN, OBJ_LONG_MAX = 32, 200
ASPECT_MIN, ASPECT_MAX = 0.5, 2.0
GAP = 4

# (low, high) inclusive per channel R, G, B
COLOURS = {
    1: ((180, 255), (0, 70), (0, 70)),
    2: ((0, 70), (160, 255), (0, 70)),
    3: ((0, 80), (0, 80), (170, 255)),
}


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator used for image ``index`` of dataset ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def _shape_mask(label: int, w: int, h: int, apex_top: bool) -> np.ndarray:
    """Boolean mask (h, w) of the shape inscribed in a w x h box, sampled at pixel centres."""
    if label == 1:
        return np.ones((h, w), dtype=bool)
    px = np.arange(w, dtype=np.float64) + 0.5
    py = np.arange(h, dtype=np.float64) + 0.5
    cx, cy = w / 2.0, h / 2.0
    if label == 2:
        dx = ((px - cx) / (w / 2.0))[None, :]
        dy = ((py - cy) / (h / 2.0))[:, None]
        return dx * dx + dy * dy <= 1.0
    # triangle: apex at (cx, 0) (top) or (cx, h) (bottom), base on the opposite edge
    t = py / h if apex_top else (h - py) / h  # 0 at apex, 1 at base
    half = t[:, None] * (w / 2.0)
    return np.abs(px[None, :] - cx) <= half


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(xs) == 0 or len(ys) == 0:
        return None
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def _box_ok(w: int, h: int) -> bool:
    return (OBJ_LONG_MIN <= max(w, h) <= OBJ_LONG_MAX) and (ASPECT_MIN <= w / h <= ASPECT_MAX)


def _apart(a: Sequence[int], b: Sequence[int], gap: int = GAP) -> bool:
    """True when box a expanded by ``gap`` px does not intersect box b (x2/y2 exclusive)."""
    return (a[0] - gap >= b[2] or b[0] >= a[2] + gap or
            a[1] - gap >= b[3] or b[1] >= a[3] + gap)


def generate_image(rng: np.random.Generator, width: int | None = None, height: int | None = None,
                   labels: Iterable[int] | None = None, max_tries: int = 200):
    """Draw one image.

    Returns ``(pixels, objects)``: ``pixels`` an (H, W, 3) uint8 RGB array, ``objects`` a list
    of dicts ``{"label", "class_id", "box"}``. ``width``/``height``/``labels`` override the
    random choices (used for the web-UI samples); the defaults follow the spec above.
    """
    W = int(rng.integers(MIN_SIDE, MAX_SIDE + 1)) if width is None else int(width)
    H = int(rng.integers(MIN_SIDE, MAX_SIDE + 1)) if height is None else int(height)
    grey = int(rng.integers(GREY_MIN, GREY_MAX + 1))
    noise = rng.standard_normal((H, W, 3), dtype=np.float32) * np.float32(NOISE_SIGMA)
    img = np.clip(np.rint(noise + np.float32(grey)), 0, 255).astype(np.uint8)

    if labels is None:
        n = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
        labels = [int(rng.integers(1, len(LABELS))) for _ in range(n)]
    placed: list[tuple[int, int, int, int]] = []  # intended (outer) boxes
    objects = []
    for label in labels:
        for _ in range(max_tries):
            long_side = int(rng.integers(OBJ_LONG_MIN, OBJ_LONG_MAX + 1))
            aspect = float(np.exp(rng.uniform(np.log(ASPECT_MIN), np.log(ASPECT_MAX))))
            if aspect >= 1.0:
                w, h = long_side, int(round(long_side / aspect))
            else:
                w, h = int(round(long_side * aspect)), long_side
            apex_top = bool(rng.integers(0, 2))
            if w > W or h > H or not _box_ok(w, h):
                continue
            x1 = int(rng.integers(0, W - w + 1))
            y1 = int(rng.integers(0, H - h + 1))
            outer = (x1, y1, x1 + w, y1 + h)
            if not all(_apart(outer, p) for p in placed):
                continue
            mask = _shape_mask(label, w, h, apex_top)
            tb = _tight_box(mask)
            if tb is None or not _box_ok(tb[2] - tb[0], tb[3] - tb[1]):
                continue
            (rl, rh), (gl, gh), (bl, bh) = COLOURS[label]
            colour = np.array([rng.integers(rl, rh + 1), rng.integers(gl, gh + 1),
                               rng.integers(bl, bh + 1)], dtype=np.uint8)
            region = img[y1:y1 + h, x1:x1 + w]
            region[mask] = colour
            placed.append(outer)
            box = [x1 + tb[0], y1 + tb[1], x1 + tb[2], y1 + tb[3]]
            objects.append({"label": LABELS[label], "class_id": int(label), "box": box})
            break
    return img, objects


def generate(seed: int, index: int, **kw):
    """Image ``index`` of dataset ``seed`` (see ``generate_image``)."""
    return generate_image(image_rng(seed, index), **kw)


def encode(img: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    """Encode an RGB uint8 array as PNG or JPEG bytes (PIL, 4:2:0 default subsampling)."""
    from PIL import Image
    buf = io.BytesIO()
    pil = Image.fromarray(img)
    if fmt == "png":
        pil.save(buf, format="PNG")
    elif fmt in ("jpeg", "jpg"):
        pil.save(buf, format="JPEG", quality=int(quality))
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return buf.getvalue()


def png_bytes(img: np.ndarray) -> bytes:
    """An RGB uint8 array as an 8-bit PNG with numpy and zlib only (no PIL): lossless, for
    tools that run outside the torch venv (coco_map.py, bench/scripts/cli.py)."""
    import struct
    import zlib
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + np.ascontiguousarray(img[y]).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` and decode again (in memory), RGB uint8."""
    from PIL import Image
    with Image.open(io.BytesIO(encode(img, "jpeg", quality))) as im:
        return np.asarray(im.convert("RGB")).copy()


def write_dataset(out: str, seed: int, count: int, fmt: str = "png", quality: int = 90,
                  start: int = 0, **kw) -> dict:
    """Write ``count`` images of dataset ``seed`` (indices start..start+count-1) and
    ``ground_truth.json`` into ``out``; returns the ground-truth dict."""
    os.makedirs(out, exist_ok=True)
    ext = "png" if fmt == "png" else "jpg"
    images = []
    for i in range(start, start + count):
        img, objects = generate(seed, i, **kw)
        name = f"{i:04d}.{ext}"
        with open(os.path.join(out, name), "wb") as f:
            f.write(encode(img, fmt, quality))
        images.append({"file": name, "width": int(img.shape[1]), "height": int(img.shape[0]),
                       "objects": objects})
    gt = {"images": images}
    write_ground_truth(os.path.join(out, "ground_truth.json"), gt)
    return gt


def write_ground_truth(path: str, gt: dict) -> None:
    with open(path, "w") as f:
        json.dump(gt, f, indent=1)
        f.write("\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--format", choices=["png", "jpeg"], default="png")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality (jpeg only)")
    a = ap.parse_args(argv)
    gt = write_dataset(a.out, a.seed, a.count, a.format, a.quality)
    n = sum(len(im["objects"]) for im in gt["images"])
    print(f"wrote {len(gt['images'])} images, {n} objects to {a.out}")


if __name__ == "__main__":
    main()
