#!/usr/bin/env python3
"""Evaluate an exported shapes detector (ONNX, run with onnxruntime) on held-out images.

    python models/shapes/evaluate.py --model models/shapes.onnx [--seed 20261124] [--count 200]
                                     [--threads 2] [--json out.json]

The images come from ``dataset.py`` with a seed never used in training. Each image is
evaluated twice: as PNG (lossless) and re-encoded as JPEG quality 90, decoded with PIL. The
model input is RGB uint8 -> float32 / 255, CHW (exactly what the Rust service feeds).

A detection counts as correct when its score >= 0.5, it has the right label and IoU >= 0.5 with
a ground-truth box not matched yet (greedy, highest score first, best IoU among the GT of that
label). precision = correct / detections(score >= 0.5), recall = correct / ground truth.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset  # noqa: E402

EVAL_SEED = 20261124
SCORE_THRESH = 0.5
IOU_THRESH = 0.5


def to_input(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 CHW / 255 (division, bit-identical to Rust's v as f32 / 255.0)."""
    x = rgb.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(dets, gts):
    """dets: list of (box, label, score) with score >= thresh; gts: list of (box, label).
    Returns a list of booleans (one per detection, in the given order sorted by score)."""
    used = [False] * len(gts)
    ok = []
    for box, label, _score in sorted(dets, key=lambda d: -d[2]):
        best, best_j = IOU_THRESH, -1
        for j, (gbox, glabel) in enumerate(gts):
            if used[j] or glabel != label:
                continue
            v = iou(box, gbox)
            if v >= best:
                best, best_j = v, j
        if best_j >= 0:
            used[best_j] = True
            ok.append((label, True))
        else:
            ok.append((label, False))
    return ok


class Counts:
    def __init__(self, ncls: int):
        self.tp = np.zeros(ncls, dtype=np.int64)   # per predicted (= GT) label
        self.det = np.zeros(ncls, dtype=np.int64)  # detections per predicted label
        self.gt = np.zeros(ncls, dtype=np.int64)   # ground truth per label

    def add(self, dets, gts):
        for _, l in gts:
            self.gt[l] += 1
        for l, ok in match(dets, gts):
            self.det[l] += 1
            if ok:
                self.tp[l] += 1

    def summary(self, labels):
        def pr(tp, det, gt):
            return {"precision": float(tp / det) if det else 1.0,
                    "recall": float(tp / gt) if gt else 1.0,
                    "true_positives": int(tp), "detections": int(det), "ground_truth": int(gt)}
        out = pr(self.tp[1:].sum(), self.det[1:].sum(), self.gt[1:].sum())
        out["per_class"] = {labels[c]: pr(self.tp[c], self.det[c], self.gt[c])
                            for c in range(1, len(labels))}
        return out


def make_session(model_path: str, threads: int = 2):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


def evaluate(model_path: str, seed: int = EVAL_SEED, count: int = 200, threads: int = 2,
             jpeg_quality: int = 90, log=print) -> dict:
    from PIL import Image
    sess = make_session(model_path, threads)
    labels = dataset.LABELS
    meta = sess.get_modelmeta().custom_metadata_map
    if "labels" in meta:
        labels = json.loads(meta["labels"])
    variants = {"png": ("png", 0), "jpeg": ("jpeg", jpeg_quality)}
    counts = {k: Counts(len(labels)) for k in variants}
    times = {k: [] for k in variants}
    for i in range(count):
        img, objects = dataset.generate(seed, i)
        gts = [(o["box"], o["class_id"]) for o in objects]
        for key, (fmt, q) in variants.items():
            data = dataset.encode(img, fmt, q)
            with Image.open(io.BytesIO(data)) as im:
                rgb = np.asarray(im.convert("RGB"))
            x = to_input(rgb)
            t0 = time.perf_counter()
            boxes, lab, scores = sess.run(["boxes", "labels", "scores"], {"images": x})
            times[key].append(time.perf_counter() - t0)
            dets = [(boxes[k].tolist(), int(lab[k]), float(scores[k]))
                    for k in range(len(scores)) if scores[k] >= SCORE_THRESH]
            counts[key].add(dets, gts)
        if log and (i + 1) % 50 == 0:
            log(f"  evaluated {i + 1}/{count}")
    result = {
        "model": model_path,
        "model_bytes": os.path.getsize(model_path),
        "seed": seed,
        "images": count,
        "score_threshold": SCORE_THRESH,
        "iou_threshold": IOU_THRESH,
        "onnxruntime_threads": threads,
    }
    for key in variants:
        r = counts[key].summary(labels)
        r["mean_inference_ms"] = float(np.mean(times[key]) * 1000.0)
        r["median_inference_ms"] = float(np.median(times[key]) * 1000.0)
        if key == "jpeg":
            r["quality"] = jpeg_quality
        result[key] = r
    result["mean_inference_ms"] = float(np.mean(times["png"] + times["jpeg"]) * 1000.0)
    return result


def passes(result: dict, bar: float = 0.95) -> bool:
    return all(result[k]["precision"] >= bar and result[k]["recall"] >= bar for k in ("png", "jpeg"))


def format_result(r: dict) -> str:
    lines = [f"model {r['model']} ({r['model_bytes']} bytes), seed {r['seed']}, {r['images']} images, "
             f"mean inference {r['mean_inference_ms']:.1f} ms ({r['onnxruntime_threads']} threads)"]
    for key in ("png", "jpeg"):
        s = r[key]
        lines.append(f"  {key:4s}: precision {s['precision']:.4f} recall {s['recall']:.4f} "
                     f"({s['true_positives']} correct / {s['detections']} detections / "
                     f"{s['ground_truth']} objects), {s['mean_inference_ms']:.1f} ms/image")
        for name, c in s["per_class"].items():
            lines.append(f"        {name:14s} P {c['precision']:.4f} R {c['recall']:.4f} "
                         f"({c['true_positives']}/{c['detections']}/{c['ground_truth']})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate a shapes ONNX detector with onnxruntime.")
    ap.add_argument("--model", default="models/shapes.onnx")
    ap.add_argument("--seed", type=int, default=EVAL_SEED)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the result as JSON here")
    a = ap.parse_args(argv)
    r = evaluate(a.model, a.seed, a.count, a.threads)
    print(format_result(r))
    print("quality bar (P >= 0.95 and R >= 0.95 on PNG and JPEG):", "PASS" if passes(r) else "FAIL")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
