#!/usr/bin/env python3
"""COCO mAP of the shapes model, from Lookout's own COCO export, with pycocotools COCOeval.

    python models/shapes/coco_map.py [--lookout target/release/lookout] [--model models/shapes.onnx]
                                     [--seed 20261124] [--count 200] [--threshold 0.0]
                                     [--workdir DIR] [--json out.json] [--report models/shapes.report.md]

Runs in the export readers' venv (numpy + pycocotools; ``scripts/pyreaders/venv.sh`` creates it
and prints its python) or in any venv with those two packages; no PIL, no torch:

1. generates the hold-out set with ``dataset.py`` (the seed ``evaluate.py`` uses, never used in
   training) and writes it as PNG (``dataset.png_bytes``: lossless, numpy and zlib only);
2. converts the ground truth to a COCO dataset (``bbox`` = x, y, w, h with the exclusive
   ``x2``/``y2`` of dataset.py, so w = x2 - x1);
3. runs ``lookout detect DIR --format coco --threshold T --max-detections 100 --out FILE``: the
   CLI, the engine and the COCO export the server and the page use;
4. loads that export with ``pycocotools.coco.COCO`` (it must load as a dataset), turns its
   annotations into results (image by ``file_name``, category by name) for ``COCO.loadRes``, and
   runs ``COCOeval(gt, dt, "bbox")``: mAP@[.5:.95] is ``stats[0]``, mAP@.5 ``stats[1]``.

The threshold defaults to 0 (every detection the model returns; its graph keeps scores >= 0.05,
at most 100 per image): mAP integrates over the whole precision/recall curve, so a 0.5 cut
would understate it. ``--report`` writes the figures into the report's "COCO mAP" section.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dataset  # noqa: E402

EVAL_SEED = 20261124
ROOT = HERE.parent.parent
DEFAULT_LOOKOUT = str(ROOT / "target/release/lookout")
BEGIN = "<!-- coco_map.py: begin -->"
END = "<!-- coco_map.py: end -->"


def ground_truth(images_dir: Path, seed: int, count: int) -> dict:
    """Writes the images and returns the ground truth as a COCO dataset."""
    categories = [{"id": i, "name": n} for i, n in enumerate(dataset.LABELS) if i > 0]
    images, annotations = [], []
    for i in range(count):
        rgb, objects = dataset.generate(seed, i)
        name = f"{i:04d}.png"
        (images_dir / name).write_bytes(dataset.png_bytes(rgb))
        h, w = int(rgb.shape[0]), int(rgb.shape[1])
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        for o in objects:
            x1, y1, x2, y2 = (float(v) for v in o["box"])
            annotations.append({
                "id": len(annotations) + 1, "image_id": i + 1, "category_id": int(o["class_id"]),
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
            })
    return {"images": images, "categories": categories, "annotations": annotations}


def quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def evaluate(gt_path: Path, pred_path: Path) -> dict:
    gt = quiet(COCO, str(gt_path))
    # Lookout's export must load as a COCO dataset on its own.
    pred = quiet(COCO, str(pred_path))
    gt_image = {im["file_name"]: im["id"] for im in gt.dataset["images"]}
    gt_cat = {c["name"]: c["id"] for c in gt.dataset["categories"]}
    pred_image = {im["id"]: im for im in pred.dataset["images"]}
    pred_cat = {c["id"]: c["name"] for c in pred.dataset["categories"]}
    missing = sorted(set(gt_image) - {im["file_name"] for im in pred_image.values()})
    if missing:
        raise SystemExit(f"the export lacks {len(missing)} images, e.g. {missing[:3]}")
    results = []
    for a in pred.dataset["annotations"]:
        im = pred_image[a["image_id"]]
        gim = gt.imgs[gt_image[im["file_name"]]]
        if (im["width"], im["height"]) != (gim["width"], gim["height"]):
            raise SystemExit(f"{im['file_name']}: size {im['width']}x{im['height']} in the export")
        results.append({"image_id": gt_image[im["file_name"]],
                        "category_id": gt_cat[pred_cat[a["category_id"]]],
                        "bbox": a["bbox"], "score": a["score"]})
    out = {"images": len(gt_image), "ground_truth": len(gt.dataset["annotations"]),
           "detections": len(results)}
    if not results:
        return {**out, "map": 0.0, "map50": 0.0, "map75": 0.0}
    dt = quiet(gt.loadRes, results)
    ev = COCOeval(gt, dt, "bbox")
    quiet(ev.evaluate)
    quiet(ev.accumulate)
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        ev.summarize()
    s = ev.stats
    return {**out, "map": float(s[0]), "map50": float(s[1]), "map75": float(s[2]),
            "map_small": float(s[3]), "map_medium": float(s[4]), "map_large": float(s[5]),
            "ar100": float(s[8]), "summary": text.getvalue()}


def markdown(r: dict) -> str:
    cmd = r["command"]
    return "\n".join([
        BEGIN,
        "## COCO mAP (pycocotools COCOeval, from Lookout's own COCO export)",
        "",
        "| set | mAP@[.5:.95] | mAP@.5 | mAP@.75 | AR@100 | images | objects | detections |",
        "|---|---|---|---|---|---|---|---|",
        f"| PNG | {r['map']:.4f} | {r['map50']:.4f} | {r['map75']:.4f} | {r['ar100']:.4f} | "
        f"{r['images']} | {r['ground_truth']} | {r['detections']} |",
        "",
        f"The same hold-out set as above (dataset seed **{r['seed']}**, {r['images']} images, "
        f"PNG), run through `lookout detect --format coco --threshold {r['threshold']}` (the CLI, "
        "the engine and the COCO export the server and the page use); the export is loaded with "
        "`pycocotools.coco.COCO`, its annotations are the results for `COCO.loadRes`, and "
        "`COCOeval(gt, dt, \"bbox\")` scores them against the ground truth converted to COCO "
        "(boxes x, y, w, h with dataset.py's exclusive x2/y2). Threshold 0: every detection the "
        "model returns (its graph keeps scores >= 0.05, at most 100 per image), as COCO "
        "evaluation expects; precision/recall above are at score >= 0.5.",
        "",
        "Re-run (it needs a built `lookout`: `cargo build --release -p server`, or any build "
        f"given with `--lookout`): `{cmd}` ({r['seconds']:.0f} s here; numpy {r['numpy']}, pycocotools "
        f"{r['pycocotools']}; the generated set has the same {r['ground_truth']} objects as "
        "evaluate.py's).",
        END,
    ])


def update_report(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        # After the Result section, before the INT8 one.
        marker = "\n## INT8"
        if marker in text:
            head, tail = text.split(marker, 1)
            text = head.rstrip("\n") + "\n\n" + section + "\n" + marker + tail
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lookout", default=DEFAULT_LOOKOUT)
    ap.add_argument("--model", default=str(ROOT / "models/shapes.onnx"))
    ap.add_argument("--seed", type=int, default=EVAL_SEED)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--threshold", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=0, help="lookout --threads (0: all CPUs)")
    ap.add_argument("--workdir", help="keep the images and files here (default: a temp dir)")
    ap.add_argument("--json", help="write the figures as JSON here")
    ap.add_argument("--report", help="write the figures into this report's COCO mAP section")
    a = ap.parse_args(argv)
    if not os.access(a.lookout, os.X_OK):
        print(f"error: {a.lookout} is not an executable; build it with "
              "`cargo build --release -p server` or pass --lookout", file=sys.stderr)
        return 2
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir) if a.workdir else Path(tmp)
        images = work / "images"
        images.mkdir(parents=True, exist_ok=True)
        print(f"generating {a.count} images (seed {a.seed}) into {images}", file=sys.stderr)
        gt = ground_truth(images, a.seed, a.count)
        gt_path = work / "ground_truth_coco.json"
        gt_path.write_text(json.dumps(gt), encoding="utf-8")
        pred_path = work / "lookout_coco.json"
        cmd = [a.lookout, "detect", str(images), "--model", a.model, "--format", "coco",
               "--threshold", str(a.threshold), "--max-detections", "100",
               "--threads", str(a.threads), "--progress", "lines", "--out", str(pred_path)]
        print("running " + " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
        r = evaluate(gt_path, pred_path)
    from importlib.metadata import version
    r.update({"seed": a.seed, "threshold": a.threshold, "model": a.model,
              "seconds": time.time() - started, "numpy": np.__version__,
              "pycocotools": version("pycocotools"),
              "command": "$(scripts/pyreaders/venv.sh) models/shapes/coco_map.py"
                         + ("" if a.lookout == DEFAULT_LOOKOUT
                            else f" --lookout {os.path.relpath(a.lookout, ROOT)}")
                         + ("" if a.count == 200 else f" --count {a.count}")
                         + ("" if a.seed == EVAL_SEED else f" --seed {a.seed}")})
    print(r.get("summary", ""))
    print(f"mAP@[.5:.95] {r['map']:.4f}  mAP@.5 {r['map50']:.4f}  ({r['images']} images, "
          f"{r['ground_truth']} objects, {r['detections']} detections)")
    if a.json:
        Path(a.json).write_text(json.dumps({k: v for k, v in r.items() if k != "summary"},
                                           indent=1) + "\n", encoding="utf-8")
    if a.report:
        update_report(Path(a.report), markdown(r))
        print(f"wrote the COCO mAP section of {a.report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
