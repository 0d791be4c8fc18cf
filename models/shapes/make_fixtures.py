#!/usr/bin/env python3
"""Generate the committed test fixtures and web-UI samples (deterministic; numpy + PIL only).

    models/.venv/bin/python models/shapes/make_fixtures.py [--root .] [--only shapes,formats,parity,samples]

* detector/tests/fixtures/shapes/      12 shapes PNGs, dataset seed 777, + ground_truth.json;
                                       jpeg/: the same 12 as JPEG quality 90 (+ ground_truth.json)
* detector/tests/fixtures/formats/     one 64x48 upright reference picture in many encodings, and
                                       exif/orientation_1..8.jpg; README.md + expected.json
* detector/tests/fixtures/parity/      3 shapes PNGs (seed 4242, one with odd width and height,
                                       every class in every image);
                                       reference.json is written by models/reference/make_parity.py
* public/samples/                      3 JPEG q90 640x480 samples (seeds 9001..9003, every class)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dataset  # noqa: E402

SHAPES_SEED = 777
PARITY_SEED = 4242
PARITY_SIZES = [(640, 480), (333, 517), (800, 600)]  # (width, height); 333x517 is odd/odd
PARITY_LABELS = [[1, 2, 3], [2, 3, 1], [3, 1, 2, 2]]  # every class in every image
SAMPLE_SEEDS = [9001, 9002, 9003]

# ---------------------------------------------------------------- shapes ----------


def make_shapes(root: str) -> None:
    out = os.path.join(root, "detector/tests/fixtures/shapes")
    gt = dataset.write_dataset(out, SHAPES_SEED, 12, "png")
    gtj = dataset.write_dataset(os.path.join(out, "jpeg"), SHAPES_SEED, 12, "jpeg", 90)
    assert [i["objects"] for i in gt["images"]] == [i["objects"] for i in gtj["images"]]
    print(f"shapes: {out} (12 PNG + 12 JPEG q90)")


# --------------------------------------------------------------- parity ----------


def make_parity_images(root: str) -> None:
    out = os.path.join(root, "detector/tests/fixtures/parity")
    os.makedirs(out, exist_ok=True)
    images = []
    for i, (w, h) in enumerate(PARITY_SIZES):
        img, objects = dataset.generate(PARITY_SEED, i, width=w, height=h, labels=PARITY_LABELS[i])
        assert len(objects) == len(PARITY_LABELS[i]), (i, objects)
        name = f"{i:04d}.png"
        with open(os.path.join(out, name), "wb") as f:
            f.write(dataset.encode(img, "png"))
        images.append({"file": name, "width": w, "height": h, "objects": objects})
    dataset.write_ground_truth(os.path.join(out, "ground_truth.json"), {"images": images})
    print(f"parity: {out} ({len(images)} PNG; run models/reference/make_parity.py for reference.json)")


# -------------------------------------------------------------- samples ----------


def make_samples(root: str) -> None:
    out = os.path.join(root, "public/samples")
    os.makedirs(out, exist_ok=True)
    images = []
    for seed in SAMPLE_SEEDS:
        rng = np.random.default_rng(seed)
        labels = [1, 2, 3]
        if rng.random() < 0.5:
            labels.append(int(rng.integers(1, 4)))
        labels = [int(v) for v in rng.permutation(labels)]
        img, objects = dataset.generate_image(rng, width=640, height=480, labels=labels)
        assert len(objects) == len(labels), (seed, objects)
        name = f"shapes_{seed}.jpg"
        with open(os.path.join(out, name), "wb") as f:
            f.write(dataset.encode(img, "jpeg", 90))
        images.append({"file": name, "width": 640, "height": 480, "objects": objects})
    dataset.write_ground_truth(os.path.join(out, "ground_truth.json"), {"images": images})
    print(f"samples: {out} ({len(images)} JPEG q90)")


# -------------------------------------------------------------- formats ----------

W, H = 64, 48
RED, GREEN, BLUE, YELLOW, WHITE = (220, 30, 30), (30, 200, 60), (40, 60, 220), (240, 220, 40), (255, 255, 255)
MARKER = (4, 4, 14, 12)  # x1, y1, x2, y2 (exclusive): white bar in the top-left quadrant
ALPHA_HALF = (0, 24, 16, 48)  # alpha 128 region (left half of the bottom-left quadrant)
ALPHA_ZERO = (48, 24, 64, 48)  # alpha 0 region (right half of the bottom-right quadrant)
# sample points (x, y) well inside flat regions (>= 4 px from any edge, for lossy formats)
POINTS = {
    "top_left_red": (20, 16),
    "marker_white": (9, 8),
    "top_right_green": (48, 12),
    "bottom_left_blue_alpha128": (8, 36),
    "bottom_left_blue": (24, 36),
    "bottom_right_yellow": (40, 36),
    "bottom_right_yellow_alpha0": (56, 36),
}


def reference() -> np.ndarray:
    a = np.zeros((H, W, 3), np.uint8)
    a[:24, :32] = RED
    a[:24, 32:] = GREEN
    a[24:, :32] = BLUE
    a[24:, 32:] = YELLOW
    x1, y1, x2, y2 = MARKER
    a[y1:y2, x1:x2] = WHITE
    return a


def alpha_channel() -> np.ndarray:
    al = np.full((H, W), 255, np.uint8)
    x1, y1, x2, y2 = ALPHA_HALF
    al[y1:y2, x1:x2] = 128
    x1, y1, x2, y2 = ALPHA_ZERO
    al[y1:y2, x1:x2] = 0
    return al


def composite_white(rgb: np.ndarray, al: np.ndarray) -> np.ndarray:
    a = al.astype(np.float64)[..., None] / 255.0
    return np.rint(rgb.astype(np.float64) * a + 255.0 * (1.0 - a)).astype(np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    """PIL's RGB -> L conversion (ITU-R 601-2: L = R*299/1000 + G*587/1000 + B*114/1000)."""
    return np.asarray(Image.fromarray(rgb).convert("L"))


def png_16bit_rgb(rgb16: np.ndarray) -> bytes:
    """Minimal PNG writer: 16-bit RGB (colour type 2, bit depth 16), filter 0 on every row."""
    h, w, _ = rgb16.shape

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# EXIF orientation N: what exif_transpose does to the STORED pixels to make them upright,
# and the inverse we apply to the upright reference to get the stored pixels.
ORIENT_APPLY = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}
ORIENT_STORE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_270}
ORIENT_TEXT = {1: "normal", 2: "mirrored horizontally", 3: "rotated 180", 4: "mirrored vertically",
               5: "mirrored horizontally then rotated 270 CW (transpose)", 6: "rotated 90 CW to display",
               7: "mirrored horizontally then rotated 90 CW (transverse)", 8: "rotated 270 CW (90 CCW) to display"}


def make_formats(root: str) -> None:
    out = os.path.join(root, "detector/tests/fixtures/formats")
    os.makedirs(os.path.join(out, "exif"), exist_ok=True)
    ref = reference()
    al = alpha_channel()
    gray = luma(ref)
    gray3 = np.repeat(gray[..., None], 3, axis=2)
    pil = Image.fromarray(ref)
    expected = {}  # file -> (expected RGB array, tolerance, note)

    def save(name, im, exp, tol, note, **kw):
        im.save(os.path.join(out, name), **kw)
        expected[name] = (exp, tol, note)

    save("reference.png", pil, ref, 0, "RGB 8-bit PNG: the upright reference itself")
    save("rgb.jpg", pil, ref, 12, "baseline JPEG quality 95, 4:2:0 (lossy)", format="JPEG", quality=95)
    save("gray.png", Image.fromarray(gray), gray3, 0, "8-bit grayscale PNG (PIL luma of the reference); gray replicated to R=G=B")
    g16 = Image.fromarray(gray.astype(np.uint16) * 257)
    save("gray16.png", g16, gray3, 1, "16-bit grayscale PNG (value = gray*257); reduce to 8 bits (v/257 or v>>8 give the same here)")
    rgba = np.dstack([ref, al])
    save("rgba.png", Image.fromarray(rgba), composite_white(ref, al), 1,
         "RGBA PNG: alpha 128 in x 0..16, y 24..48 and alpha 0 in x 48..64, y 24..48; COMPOSITE ON WHITE")
    pal = pil.quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    assert np.array_equal(np.asarray(pal.convert("RGB")), ref), "palette conversion must be exact"
    save("palette.png", pal, ref, 0, "palette (mode P, 8-bit indices) PNG")
    with open(os.path.join(out, "rgb16.png"), "wb") as f:
        f.write(png_16bit_rgb(ref.astype(np.uint16) * 257))
    expected["rgb16.png"] = (ref, 1, "16-bit RGB PNG (value = v*257, written by a minimal zlib PNG writer)")
    la = Image.fromarray(np.dstack([gray, al]))
    save("la.png", la, np.repeat(composite_white(gray3[..., :1], al), 3, axis=2), 1,
         "gray + alpha PNG (mode LA), same alpha as rgba.png; COMPOSITE ON WHITE")
    save("cmyk.jpg", pil.convert("CMYK"), ref, 12,
         "CMYK JPEG (PIL: C=255-R, M=255-G, Y=255-B, K=0, stored Adobe-inverted with an APP14 Adobe marker), quality 95",
         format="JPEG", quality=95)
    save("rgb.webp", pil, ref, 0, "lossless WebP", format="WEBP", lossless=True)
    frame2 = Image.fromarray(255 - ref).quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal.save(os.path.join(out, "anim.gif"), save_all=True, append_images=[frame2], duration=500, loop=0)
    expected["anim.gif"] = (ref, 0, "animated GIF, 2 frames: the FIRST frame is the reference (exact), "
                                    "the second is its colour negative; a decoder must return the first frame")
    save("rgb.bmp", pil, ref, 0, "24-bit BMP", format="BMP")
    save("rgb.tiff", pil, ref, 0, "uncompressed RGB TIFF", format="TIFF", compression="raw")
    save("gray.tiff", Image.fromarray(gray), gray3, 0, "uncompressed 8-bit grayscale TIFF", format="TIFF", compression="raw")

    for n in range(1, 9):
        stored = pil if ORIENT_STORE[n] is None else pil.transpose(ORIENT_STORE[n])
        exif = Image.Exif()
        exif[0x0112] = n
        name = f"exif/orientation_{n}.jpg"
        save(name, stored, ref, 12,
             f"JPEG q95, EXIF Orientation={n} ({ORIENT_TEXT[n]}); stored pixels are {stored.width}x{stored.height}",
             format="JPEG", quality=95, exif=exif.tobytes())

    # verify every file decodes (with PIL, exif_transpose, alpha composited on white) to what we claim
    for name, (exp, tol, _) in expected.items():
        with Image.open(os.path.join(out, name)) as im:
            im.seek(0)
            im = ImageOps.exif_transpose(im)
            got = decode_like_lookout(im)
        assert got.shape == exp.shape, (name, got.shape)
        d = np.abs(got.astype(int) - exp.astype(int))
        worst = max(int(d[y, x].max()) for (x, y) in POINTS.values())
        assert worst <= tol, (name, worst, tol)
    write_formats_docs(out, expected)
    print(f"formats: {out} ({len(expected)} files)")


def decode_like_lookout(im: Image.Image) -> np.ndarray:
    """Reference decoding: upright (EXIF applied by the caller), alpha composited on white, RGB8."""
    if im.mode == "I;16":
        return np.repeat((np.asarray(im).astype(np.uint32) // 257).astype(np.uint8)[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        return composite_white(rgba[..., :3], rgba[..., 3])
    return np.asarray(im.convert("RGB"))


def write_formats_docs(out: str, expected: dict) -> None:
    pts = {k: list(v) for k, v in POINTS.items()}
    doc = {"width": W, "height": H, "points": pts, "files": {}}
    for name, (exp, tol, note) in expected.items():
        doc["files"][name] = {
            "tolerance": tol,
            "note": note,
            "expected": {k: [int(c) for c in exp[y, x]] for k, (x, y) in POINTS.items()},
        }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    L = ["# Image-format fixtures", "",
         "Generated by `models/shapes/make_fixtures.py` (PIL 11.3). Every file is the SAME 64x48 upright",
         "picture, `reference.png`:", "",
         f"- four solid quadrants (32x24 each): top-left red {RED}, top-right green {GREEN},",
         f"  bottom-left blue {BLUE}, bottom-right yellow {YELLOW};",
         f"- a white 10x8 marker at x 4..14, y 4..12 (exclusive ends) in the top-left quadrant,",
         "  so any rotation or flip is detectable (and 90-degree turns also swap width and height).", "",
         "A correct decoder returns **64x48 RGB8, upright**, with:", "",
         "- EXIF orientation applied (`exif/`), like PIL's `ImageOps.exif_transpose`;",
         "- **alpha composited on WHITE**: out = round(c * a/255 + 255 * (1 - a/255)); so",
         "  `rgba.png` and `la.png` are white where alpha is 0 (x 48..64, y 24..48) and half-way",
         "  to white where alpha is 128 (x 0..16, y 24..48);",
         "- grayscale replicated to R = G = B; 16-bit samples reduced to 8 bits (v/257 rounds",
         "  to the same value as v>>8 here because the files hold v8*257);",
         "- the FIRST frame of an animation.", "",
         "`expected.json` gives, for each file, the expected RGB at named sample points (>= 4 px",
         "away from every edge, so lossy formats can be checked) and a per-channel tolerance",
         "(0-1 for lossless files, 12 for JPEG). Points are (x, y) in the upright image.", "",
         "| file | what it is | tolerance |", "|---|---|---|"]
    for name, (_, tol, note) in expected.items():
        L.append(f"| `{name}` | {note} | {tol} |")
    L += ["", "Sample points (x, y): " + ", ".join(f"{k} {v}" for k, v in POINTS.items()) + ".", "",
          "EXIF: `exif/orientation_N.jpg` stores the reference transformed by the INVERSE of",
          "orientation N, so applying tag N (0x0112) yields the upright reference. Orientations",
          "5-8 store a 48x64 picture; the decoded result is 64x48.", "",
          "`rgb16.png` is written by a minimal PNG writer in the script (PIL cannot write 16-bit",
          "RGB). `cmyk.jpg` is PIL's CMYK JPEG (Adobe APP14 marker, inverted CMYK as Photoshop",
          "writes it); colours are RGB = 255 - CMY with K = 0.", ""]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(L))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--only", default="shapes,formats,parity,samples")
    a = ap.parse_args(argv)
    parts = a.only.split(",")
    if "shapes" in parts:
        make_shapes(a.root)
    if "formats" in parts:
        make_formats(a.root)
    if "parity" in parts:
        make_parity_images(a.root)
    if "samples" in parts:
        make_samples(a.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
