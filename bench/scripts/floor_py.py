#!/usr/bin/env python3
"""The model's own compute, timed in-process in Python: onnxruntime ``session.run`` on the
same .onnx as Lookout (the cross-check of the Rust floor) and, with --torch, the baseline's
eager ``model([img])`` on the same state dict (what the baseline pays before HTTP).

    python bench/scripts/floor_py.py --image X.jpg --onnx M.onnx [--onnx M2.onnx]
        [--torch-weights S.pt] --threads 2 --runs 8 --warmup 1
prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from PIL import Image


def timed(fn, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def summary(samples: list[float]) -> dict:
    return {"median_ms": statistics.median(samples), "min_ms": min(samples),
            "max_ms": max(samples), "runs": len(samples), "samples_ms": samples}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--onnx", action="append", default=[])
    ap.add_argument("--torch-weights")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()

    rgb = np.asarray(Image.open(a.image).convert("RGB"))
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255.0
    result = {"image": a.image, "width": rgb.shape[1], "height": rgb.shape[0],
              "threads": a.threads}

    if a.onnx:
        import onnxruntime as ort
        result["onnxruntime"] = {"version": ort.__version__}
        for path in a.onnx:
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            t0 = time.perf_counter()
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            load_ms = (time.perf_counter() - t0) * 1000.0
            n = []
            s = timed(lambda: n.append(len(sess.run(None, {"images": chw})[2])), a.runs, a.warmup)
            result["onnxruntime"][path] = {**summary(s), "load_ms": load_ms, "detections": n[-1]}
            del sess

    if a.torch_weights:
        import torch
        from torchvision.models.detection import fasterrcnn_resnet50_fpn
        from torchvision.transforms import functional as F
        torch.set_num_threads(a.threads)
        model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                                        box_score_thresh=0.05, box_detections_per_img=100)
        model.load_state_dict(torch.load(a.torch_weights, map_location="cpu", weights_only=True))
        model.eval()
        img = F.to_tensor(Image.open(a.image).convert("RGB"))
        n = []

        def run():
            with torch.inference_mode():
                n.append(len(model([img])[0]["scores"]))

        s = timed(run, a.runs, a.warmup)
        result["torch_eager"] = {**summary(s), "version": torch.__version__, "detections": n[-1]}

    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
