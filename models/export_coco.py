#!/usr/bin/env python3
"""Export a torchvision COCO Faster R-CNN to ONNX for Lookout.

    models/.venv/bin/python models/export_coco.py [--arch fasterrcnn_resnet50_fpn]
        [--output models/coco-<arch>.onnx] [--random-weights [--seed 0]]
        [--save-state-dict PATH] [--quantize]

--arch             fasterrcnn_resnet50_fpn (default) | fasterrcnn_resnet50_fpn_v2 |
                   fasterrcnn_mobilenet_v3_large_fpn
--random-weights   the same architecture with seeded random weights (weights=None,
                   weights_backbone=None, torch.manual_seed(seed)); needs no network at all.
                   Useful for plumbing tests only: it detects nothing meaningful.
(default)          torchvision's pretrained COCO_V1 weights. They are taken from the torch hub
                   cache (torch.hub.get_dir()/checkpoints/<file>) when present; otherwise
                   download.pytorch.org must be reachable. If it is not, the script exits with
                   status 2 and one line saying what is needed.
--save-state-dict  also save the model's state dict (torch.save) so a PyTorch baseline can
                   load exactly the same weights.
--quantize         also write an INT8 dynamically quantised copy <output stem>.int8.onnx.

The export is torch.onnx.export(dynamo=False, opset 17) with input ``images`` float32
[3,H,W] RGB /255 and outputs ``boxes`` [N,4], ``labels`` [N] int64, ``scores`` [N]
(box_score_thresh 0.05, detections_per_img 100). Metadata: ``labels`` = the 91 COCO category
slots of torchvision (``weights.meta["categories"]``, incl. "__background__" and "N/A"),
``name``, ``layout`` = "torchvision", ``description``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time

ARCHS = {
    "fasterrcnn_resnet50_fpn": "FasterRCNN_ResNet50_FPN_Weights",
    "fasterrcnn_resnet50_fpn_v2": "FasterRCNN_ResNet50_FPN_V2_Weights",
    "fasterrcnn_mobilenet_v3_large_fpn": "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
}
HERE = os.path.dirname(os.path.abspath(__file__))
DOWNLOAD_HOST = "download.pytorch.org"


def fail(msg: str, code: int = 2) -> None:
    print(f"export_coco: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def reachable(host: str, port: int = 443, timeout: float = 5.0) -> str | None:
    """None when a TCP connection to host:port succeeds within ``timeout`` seconds (DNS
    included), else a short reason."""
    result: list = []

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as e:
            result.append(f"{type(e).__name__}: {e}")

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    if not result:
        return f"no answer within {timeout:.0f} s"
    return result[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Export a torchvision COCO Faster R-CNN to ONNX.")
    ap.add_argument("--arch", choices=sorted(ARCHS), default="fasterrcnn_resnet50_fpn")
    ap.add_argument("--output", help="default: models/coco-<arch>.onnx")
    ap.add_argument("--random-weights", action="store_true")
    ap.add_argument("--seed", type=int, default=0, help="seed for --random-weights")
    ap.add_argument("--save-state-dict", metavar="PATH")
    ap.add_argument("--quantize", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    output = a.output or os.path.join(HERE, f"coco-{a.arch}.onnx")

    import torch
    import torchvision
    from torchvision.models import detection

    torch.set_num_threads(a.threads)
    weights_enum = getattr(detection, ARCHS[a.arch])
    weights = weights_enum.COCO_V1
    categories = list(weights.meta["categories"])  # available offline, no download
    assert len(categories) == 91, len(categories)
    builder = getattr(detection, a.arch)

    if a.random_weights:
        torch.manual_seed(a.seed)
        model = builder(weights=None, weights_backbone=None, num_classes=91,
                        box_score_thresh=0.05, box_detections_per_img=100)
        source = f"RANDOM weights (torch.manual_seed({a.seed})), NOT a trained model: for plumbing tests only"
    else:
        fname = os.path.basename(weights.url)
        cached = os.path.join(torch.hub.get_dir(), "checkpoints", fname)
        if not os.path.isfile(cached):
            why = reachable(DOWNLOAD_HOST)
            if why is not None:
                fail(f"the pretrained weights for {a.arch} are not cached and https://{DOWNLOAD_HOST} "
                     f"is unreachable ({why}); this needs internet access to {weights.url} "
                     f"or that file placed at {cached} (or use --random-weights)")
        try:
            model = builder(weights=weights, box_score_thresh=0.05, box_detections_per_img=100)
        except Exception as e:  # download interrupted, bad hash, ...
            fail(f"could not load the pretrained weights for {a.arch} ({type(e).__name__}: "
                 f"{str(e).splitlines()[0] if str(e) else ''}); needs {weights.url} or the file at {cached}")
        source = f"torchvision {weights} pretrained COCO weights ({fname})"
    model.eval()
    print(f"model {a.arch}: {sum(p.numel() for p in model.parameters())} parameters; {source}", flush=True)

    if a.save_state_dict:
        os.makedirs(os.path.dirname(os.path.abspath(a.save_state_dict)), exist_ok=True)
        torch.save(model.state_dict(), a.save_state_dict)
        print(f"saved state dict to {a.save_state_dict}", flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(3, 480, 640, generator=g)
    t0 = time.monotonic()
    with torch.no_grad():
        torch.onnx.export(
            model, ([x],), output, dynamo=False, opset_version=17,
            input_names=["images"], output_names=["boxes", "labels", "scores"],
            dynamic_axes={"images": {1: "height", 2: "width"}, "boxes": {0: "n"},
                          "labels": {0: "n"}, "scores": {0: "n"}})
    print(f"exported in {time.monotonic() - t0:.0f} s", flush=True)

    import onnx
    m = onnx.load(output)
    props = {
        "labels": json.dumps(categories),
        "name": f"coco-{a.arch}" + ("-random" if a.random_weights else ""),
        "layout": "torchvision",
        "description": (
            f"torchvision {a.arch} ({torchvision.__version__}), {source}. Input 'images': float32 "
            "[3,H,W], RGB, uint8/255, no batch dimension; resize (short side 800, long <= 1333), "
            "normalisation and padding are inside the graph. Outputs: boxes float32 [N,4] x1,y1,x2,y2 "
            "in input pixels, labels int64 [N] (index into the 91 COCO slots of 'labels'), scores "
            "float32 [N], N <= 100, score >= 0.05."),
    }
    if a.random_weights:
        props["random_weights_seed"] = str(a.seed)
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, output)
    print(f"wrote {output} ({os.path.getsize(output)} bytes)", flush=True)

    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(output, so, providers=["CPUExecutionProvider"])
    for i in sess.get_inputs():
        print(f"  input  {i.name}: {i.type} {i.shape}")
    for o in sess.get_outputs():
        print(f"  output {o.name}: {o.type} {o.shape}")
    y = np.random.default_rng(0).random((3, 397, 533), dtype=np.float32)
    t0 = time.monotonic()
    boxes, labels, scores = sess.run(None, {"images": y})
    print(f"  onnxruntime check on 533x397: {len(scores)} detections in {time.monotonic() - t0:.2f} s "
          f"(dtypes {boxes.dtype}, {labels.dtype}, {scores.dtype})", flush=True)

    if a.quantize:
        sys.path.insert(0, HERE)
        import quantize
        qpath = os.path.splitext(output)[0] + ".int8.onnx"
        quantize.quantize(output, qpath)
        print(f"wrote {qpath} ({os.path.getsize(qpath)} bytes)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
