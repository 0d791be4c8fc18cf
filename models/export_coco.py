#!/usr/bin/env python3
"""Export a torchvision COCO detector (Faster R-CNN by default) to ONNX for Lookout.

    models/.venv/bin/python models/export_coco.py [--arch fasterrcnn_resnet50_fpn]
        [--output models/coco-<arch>.onnx] [--random-weights [--seed 0]]
        [--save-state-dict PATH] [--quantize]

--arch             fasterrcnn_resnet50_fpn (default) | fasterrcnn_resnet50_fpn_v2 |
                   fasterrcnn_mobilenet_v3_large_fpn | fasterrcnn_mobilenet_v3_large_320_fpn |
                   retinanet_resnet50_fpn | retinanet_resnet50_fpn_v2 | ssd300_vgg16 |
                   ssdlite320_mobilenet_v3_large
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

This is the COCO case of models/export.py, which does the export, the metadata and the
verification: torch.onnx.export(dynamo=False, opset 17) with input ``images`` float32 [3,H,W]
RGB /255 and outputs ``boxes`` [N,4], ``labels`` [N] int64, ``scores`` [N] (Faster R-CNN:
box_score_thresh 0.05, detections_per_img 100; the others keep torchvision's defaults).
Metadata: ``labels`` = the 91 COCO category slots of torchvision (``weights.meta["categories"]``,
incl. "__background__" and "N/A"), ``name``, ``layout`` = "torchvision", ``description``,
``resize`` (the model's resize rule as JSON) and, for --random-weights, ``random_weights_seed``.
Then the eager model and the ONNX file are compared on detector/tests/fixtures/parity/*.png
(exit 1 if they disagree).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export  # noqa: E402  (models/export.py: export, metadata, verification)

ARCHS = {arch: weights for arch, (weights, _family) in export.ARCHS.items()}
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
    ap = argparse.ArgumentParser(description="Export a torchvision COCO detector to ONNX.")
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
    family = export.ARCHS[a.arch][1]
    # Faster R-CNN keeps the settings this script always used (the benchmark relies on the seeded
    # weights staying the same); the other families keep torchvision's defaults.
    kw = dict(box_score_thresh=0.05, box_detections_per_img=100) if family == "fasterrcnn" else {}

    if a.random_weights:
        torch.manual_seed(a.seed)
        model = builder(weights=None, weights_backbone=None, num_classes=91, **kw)
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
            model = builder(weights=weights, **kw)
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

    rule = export.resize_rule(model)
    thresh, limit = export.cutoffs(model)
    name = f"coco-{a.arch}" + ("-random" if a.random_weights else "")
    description = (
        f"torchvision {a.arch} ({torchvision.__version__}), {source}. Input 'images': float32 "
        f"[3,H,W], RGB, uint8/255, no batch dimension; resize ({export.describe_rule(rule)}), "
        "normalisation and padding are inside the graph. Outputs: boxes float32 [N,4] x1,y1,x2,y2 "
        "in input pixels, labels int64 [N] (index into the 91 COCO slots of 'labels'), scores "
        f"float32 [N], N <= {limit}, score >= {thresh:g}.")
    extra = {"random_weights_seed": str(a.seed)} if a.random_weights else {}
    ok = export.export_and_verify(model, arch=a.arch, labels=categories, name=name,
                                  description=description, output=output,
                                  images=export.default_images(), threads=a.threads,
                                  extra_props=extra)
    if not ok:
        fail(f"verification FAILED: the ONNX file {output} does not reproduce the eager model "
             "(see the lines marked FAIL above)", code=1)
    print("verification passed. Serve it with:", flush=True)
    for c in export.serve_commands(name, output):
        print(f"  {c}", flush=True)

    if a.quantize:
        import quantize
        qpath = os.path.splitext(output)[0] + ".int8.onnx"
        quantize.quantize(output, qpath)
        print(f"wrote {qpath} ({os.path.getsize(qpath)} bytes)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
