#!/usr/bin/env python3
"""Train the tiny shapes Faster R-CNN on CPU, export it to ONNX, evaluate it, write the report.

    models/.venv/bin/python models/shapes/train.py [--minutes 13] [--seed 0] [--quantize]

* Training data is generated on the fly (``dataset.py``): step s uses dataset seed 1000 + s,
  images 0..batch-1; about half of the images are re-encoded as JPEG (quality 50..95, PIL, in
  memory) as augmentation.
* AdamW, linear warm-up then cosine decay driven by ELAPSED TIME, so that training stops at
  ``--minutes`` whatever the machine's speed (the number of steps therefore varies).
* Everything is seeded (torch.manual_seed, numpy), torch uses 2 threads. The run is
  deterministic only up to floating-point non-determinism and, because the schedule is tied
  to wall-clock time, up to the number of steps that fit into the budget.
* Export: ``models/shapes.onnx`` (torch.onnx.export, dynamo=False, opset 17, dynamic H/W) with
  metadata ``labels``, ``name``, ``layout``, ``description``, ``resize`` (the native-scale cap as
  JSON, from models/export.py resize_rule); verified with onnxruntime on an
  image size other than the trace size.
* Evaluation: ``evaluate.py`` on 200 held-out images (seed 20261124) as PNG and JPEG q90;
  writes ``models/shapes.report.md`` and ``models/shapes.report.json``.
* ``--quantize`` also writes and evaluates an INT8 (dynamic) copy ``models/shapes.int8.onnx``.
* The trained PyTorch weights are saved as ``models/shapes.pth`` (state dict, ~1 MB);
  ``--export-only`` skips training and exports/evaluates that checkpoint.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import dataset  # noqa: E402
import evaluate  # noqa: E402
import export as export_lib  # noqa: E402  (models/export.py)
from model import LABELS, MAX_LONG_SIDE, build_model  # noqa: E402

MODELS = os.path.dirname(HERE)
TRAIN_SEED_BASE = 1000
TRACE_SEED = 31337            # image used to trace the export (not a training seed range issue)
CHECK_SEED = 31338            # image used to check the dynamic axes


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def make_batch(step: int, batch: int, aug_rng: np.random.Generator):
    images, targets = [], []
    for k in range(batch):
        img, objects = dataset.generate(TRAIN_SEED_BASE + step, k)
        if aug_rng.random() < 0.5:
            img = dataset.jpeg_roundtrip(img, int(aug_rng.integers(50, 96)))
        images.append(torch.from_numpy(evaluate.to_input(img)))
        boxes = torch.tensor([o["box"] for o in objects], dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([o["class_id"] for o in objects], dtype=torch.int64)
        targets.append({"boxes": boxes, "labels": labels})
    return images, targets


def train(model, args) -> dict:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    aug_rng = np.random.default_rng(args.seed)
    budget = args.minutes * 60.0
    model.train()
    t0 = time.monotonic()
    step = 0
    avg = {}
    last_ckpt = t0
    history = []
    load_start = os.getloadavg()
    while True:
        elapsed = time.monotonic() - t0
        if elapsed >= budget:
            break
        frac = elapsed / budget
        warm = min(1.0, (step + 1) / args.warmup_steps)
        lr = args.lr * warm * (args.final_lr_frac + (1 - args.final_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        images, targets = make_batch(step, args.batch, aug_rng)
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        for k, v in losses.items():
            v = float(v.detach())
            avg[k] = 0.95 * avg.get(k, v) + 0.05 * v
        step += 1
        if step % args.log_every == 0:
            total = sum(avg.values())
            log(f"step {step} t={elapsed:.0f}s lr={lr:.2e} loss={total:.4f} " +
                " ".join(f"{k.replace('loss_', '')}={v:.4f}" for k, v in avg.items()))
            history.append({"step": step, "elapsed_s": round(elapsed, 1), "loss": round(total, 5)})
        if time.monotonic() - last_ckpt > 120:
            torch.save(model.state_dict(), args.checkpoint)
            last_ckpt = time.monotonic()
    elapsed = time.monotonic() - t0
    torch.save(model.state_dict(), args.checkpoint)
    log(f"training done: {step} steps, {step * args.batch} images, {elapsed:.0f}s")
    return {"steps": step, "images_seen": step * args.batch, "train_seconds": round(elapsed, 1),
            "final_losses": {k: round(v, 5) for k, v in avg.items()},
            "loss_history": history,
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()]}


def export(model, path: str) -> dict:
    import onnx
    import onnxruntime as ort
    model.eval()
    img, _ = dataset.generate(TRACE_SEED, 0, width=640, height=480)
    x = torch.from_numpy(evaluate.to_input(img))
    with torch.no_grad():
        torch.onnx.export(
            model, ([x],), path, dynamo=False, opset_version=17,
            input_names=["images"], output_names=["boxes", "labels", "scores"],
            dynamic_axes={"images": {1: "height", 2: "width"}, "boxes": {0: "n"},
                          "labels": {0: "n"}, "scores": {0: "n"}})
    m = onnx.load(path)
    props = {
        "labels": json.dumps(LABELS),
        "name": "shapes-frcnn",
        "layout": "torchvision",
        "description": (
            "Tiny torchvision Faster R-CNN trained on synthetic coloured shapes "
            "(red_rectangle, green_ellipse, blue_triangle). Input 'images': float32 [3,H,W], RGB, "
            "uint8/255, no batch dimension. Outputs: boxes float32 [N,4] x1,y1,x2,y2 in input "
            "pixels, labels int64 [N] (index into 'labels'), scores float32 [N], N <= 100, score >= 0.05, "
            f"sorted by score. Native scale: images whose longer side is <= {MAX_LONG_SIDE} px are "
            f"not resized; larger ones are shrunk inside the graph to a longer side of {MAX_LONG_SIDE}."),
        # the resize rule of the model's own transform, for callers that resize first (issue #11)
        "resize": json.dumps(export_lib.resize_rule(model)),
    }
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    size = os.path.getsize(path)
    log(f"exported {path} ({size} bytes)")

    # dynamic axes really work: run a size different from the trace size, compare with eager
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    io_info = {"inputs": [{"name": i.name, "shape": [str(d) for d in i.shape], "type": i.type}
                          for i in sess.get_inputs()],
               "outputs": [{"name": o.name, "shape": [str(d) for d in o.shape], "type": o.type}
                           for o in sess.get_outputs()]}
    checks = []
    for (w, h) in [(533, 397), (800, 320), (1500, 900)]:
        img2, objs = dataset.generate(CHECK_SEED, 0, width=w, height=h)
        x2 = evaluate.to_input(img2)
        boxes, labels, scores = sess.run(None, {"images": x2})
        with torch.no_grad():
            ref = model([torch.from_numpy(x2)])[0]
        n = min(len(scores), len(ref["scores"]))
        keep = (scores >= 0.5).sum()
        diff = float(np.abs(boxes[:n] - ref["boxes"][:n].numpy()).max()) if n else 0.0
        checks.append({"width": w, "height": h, "detections": int(len(scores)),
                       "detections_ge_0.5": int(keep), "ground_truth": len(objs),
                       "eager_detections": int(len(ref["scores"])),
                       "max_abs_box_diff_vs_eager": round(diff, 4)})
        log(f"onnxruntime check {w}x{h}: {len(scores)} dets ({keep} >= 0.5, {len(objs)} GT); "
            f"eager {len(ref['scores'])} dets; max box diff {diff:.4f}")
    if size > 2 * 1024 * 1024:
        raise SystemExit(f"model too large: {size} bytes > 2 MiB")
    return {"path": path, "bytes": size, "io": io_info, "dynamic_axes_checks": checks,
            "metadata": props}


def write_report(args, info: dict, path_md: str, path_json: str) -> None:
    with open(path_json, "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    ev = info["evaluation"]
    t = info.get("training", {})
    L = []
    L.append("# shapes-frcnn: training and evaluation report\n")
    L.append(f"Generated {info['date']} by `{info['command']}`.\n")
    L.append("## Result\n")
    L.append(f"Quality bar (precision >= 0.95 and recall >= 0.95 on PNG and JPEG q90): "
             f"**{'PASS' if info['passes_bar'] else 'FAIL'}**\n")
    L.append("| set | precision | recall | correct | detections | objects | mean ms/image |")
    L.append("|---|---|---|---|---|---|---|")
    for key in ("png", "jpeg"):
        s = ev[key]
        L.append(f"| {key.upper()}{' q' + str(s['quality']) if key == 'jpeg' else ''} | "
                 f"{s['precision']:.4f} | {s['recall']:.4f} | {s['true_positives']} | "
                 f"{s['detections']} | {s['ground_truth']} | {s['mean_inference_ms']:.1f} |")
    L.append("")
    L.append("Per class (precision / recall):\n")
    L.append("| class | PNG P | PNG R | JPEG P | JPEG R |")
    L.append("|---|---|---|---|---|")
    for name in LABELS[1:]:
        a, b = ev["png"]["per_class"][name], ev["jpeg"]["per_class"][name]
        L.append(f"| {name} | {a['precision']:.4f} | {a['recall']:.4f} | {b['precision']:.4f} | {b['recall']:.4f} |")
    L.append("")
    L.append(f"Evaluation: {ev['images']} images from dataset seed **{ev['seed']}** (never used in "
             f"training; training uses seeds {TRAIN_SEED_BASE}..{TRAIN_SEED_BASE + max(t.get('steps', 1) - 1, 0)}), "
             f"each as PNG and as JPEG quality 90 (PIL encode/decode), run through the EXPORTED ONNX "
             f"model with onnxruntime {info['versions']['onnxruntime']} ({ev['onnxruntime_threads']} intra-op threads). "
             f"Input RGB uint8 -> float32 / 255, CHW. A detection is correct at score >= 0.5, IoU >= 0.5 and the "
             f"right label (greedy matching by score, each ground truth matched once). "
             f"Re-run: `models/.venv/bin/python models/shapes/evaluate.py --model models/shapes.onnx`.\n")
    if "int8" in info:
        q = info["int8"]
        L.append("## INT8 (dynamic quantisation)\n")
        L.append(f"`models/quantize.py` (onnxruntime.quantization.quantize_dynamic, QInt8 weights): "
                 f"{q['model_bytes']} bytes vs {ev['model_bytes']} bytes fp32.\n")
        L.append("| model | PNG P | PNG R | JPEG P | JPEG R | mean ms/image |")
        L.append("|---|---|---|---|---|---|")
        for nm, r in (("fp32", ev), ("int8", q)):
            L.append(f"| {nm} | {r['png']['precision']:.4f} | {r['png']['recall']:.4f} | "
                     f"{r['jpeg']['precision']:.4f} | {r['jpeg']['recall']:.4f} | {r['mean_inference_ms']:.1f} |")
        L.append("")
        L.append(info.get("int8_verdict", "") + "\n")
    L.append("## Training\n")
    if t:
        L.append(f"- command: `{info['command']}`")
        L.append(f"- seed {args.seed}; training budget {args.minutes} min (wall clock); "
                 f"{t['steps']} steps x batch {args.batch} = {t['images_seen']} generated images "
                 f"in {t['train_seconds']} s")
        L.append(f"- optimizer AdamW lr {args.lr} (warm-up {args.warmup_steps} steps, cosine decay to "
                 f"{args.final_lr_frac} x lr driven by elapsed time), weight decay {args.weight_decay}, "
                 f"grad-norm clip 10")
        L.append(f"- data: generated on the fly, step s = dataset seed {TRAIN_SEED_BASE}+s; ~50% of the "
                 f"images re-encoded as JPEG quality 50..95 in memory")
        L.append(f"- final smoothed losses: " + ", ".join(f"{k} {v}" for k, v in t["final_losses"].items()))
        L.append(f"- load average at start / end: {t['loadavg_start']} / {t['loadavg_end']} "
                 f"(the machine was shared with other builds while training)")
    else:
        L.append("- exported from an existing checkpoint (`--export-only`), no training in this run")
    L.append(f"- machine: `nproc` = {info['machine']['nproc']}, {info['machine']['platform']}, "
             f"torch threads {args.threads}")
    L.append(f"- versions: torch {info['versions']['torch']}, torchvision {info['versions']['torchvision']}, "
             f"onnx {info['versions']['onnx']}, onnxruntime {info['versions']['onnxruntime']}, "
             f"numpy {info['versions']['numpy']}")
    L.append(f"- whole script (train + export + evaluation{' + INT8' if args.quantize else ''}): "
             f"{info.get('total_seconds', '?')} s wall clock")
    L.append("- threads: the machine has 2 cores and was shared with Rust builds; measured there, one "
             "training step with 2 torch threads took 5.8 s vs 1.2 s with 1 thread (OpenMP threads "
             "spin-waiting on an oversubscribed CPU), hence `--threads 1` when the machine is shared")
    L.append(f"- PyTorch weights: `models/shapes.pth` (state dict; `--export-only` re-exports from it)")
    L.append("- determinism: seeded (torch.manual_seed, numpy) and single-process, but only "
             "deterministic up to floating-point non-determinism, and the number of steps depends on "
             "the machine's speed because the schedule is tied to the wall-clock budget.\n")
    L.append("## Model\n")
    ex = info["export"]
    L.append(f"- file `models/shapes.onnx`, {ex['bytes']} bytes, {info['parameters']} parameters; "
             f"torch.onnx.export dynamo=False, opset 17")
    L.append("- architecture: torchvision FasterRCNN; backbone 6 conv3x3+BN+ReLU layers (16, then 32 "
             "channels; 4 stride-2 layers -> feature stride 16; last two dilated 2 and 4); anchors "
             "24/48/96/192 px x ratios 0.5/1/2 on the single map; MultiScaleRoIAlign 7x7; "
             "TwoMLPHead 1568->128->128; 4 classes incl. background; box_score_thresh 0.05, "
             "detections_per_img 100, RPN test pre/post-NMS top-n 300/100")
    L.append(f"- min_size/max_size: NOT the torchvision default resize. The shapes are defined in pixels, so the "
             f"transform keeps native scale: images whose longer side is <= {MAX_LONG_SIDE} are not resized, "
             f"larger ones are shrunk inside the graph so that their longer side is {MAX_LONG_SIDE} "
             f"(equivalent to min_size = max_size = {MAX_LONG_SIDE} with the scale capped at 1). "
             f"Normalisation (ImageNet mean/std) and padding to a multiple of 32 are in the graph; boxes come "
             f"back in input-image pixels.")
    for io_ in ex["io"]["inputs"]:
        L.append(f"- input `{io_['name']}`: {io_['type']} {io_['shape']} (RGB, uint8/255, CHW, no batch)")
    for io_ in ex["io"]["outputs"]:
        L.append(f"- output `{io_['name']}`: {io_['type']} {io_['shape']}")
    L.append(f"- metadata: labels = `{ex['metadata']['labels']}`, name = `{ex['metadata']['name']}`, "
             f"layout = `{ex['metadata']['layout']}`")
    L.append("- dynamic axes checked with onnxruntime on sizes other than the 640x480 trace: " +
             "; ".join(f"{c['width']}x{c['height']}: {c['detections_ge_0.5']} detections >= 0.5 for "
                       f"{c['ground_truth']} objects, max |box - eager| {c['max_abs_box_diff_vs_eager']}"
                       for c in ex["dynamic_axes_checks"]))
    L.append("")
    with open(path_md, "w") as f:
        f.write("\n".join(L))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Train, export and evaluate the shapes detector.")
    ap.add_argument("--minutes", type=float, default=13.0, help="wall-clock training budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--final-lr-frac", type=float, default=0.02)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--out", default=os.path.join(MODELS, "shapes.onnx"))
    ap.add_argument("--report", default=os.path.join(MODELS, "shapes.report"),
                    help="report path without extension (.md and .json are written)")
    ap.add_argument("--checkpoint", default=os.path.join(MODELS, "shapes.pth"),
                    help="PyTorch state dict, saved during/after training (read by --export-only "
                         "and export_zoo_layout.py)")
    ap.add_argument("--eval-count", type=int, default=200)
    ap.add_argument("--eval-seed", type=int, default=evaluate.EVAL_SEED)
    ap.add_argument("--quantize", action="store_true", help="also write and evaluate an INT8 copy")
    ap.add_argument("--export-only", action="store_true", help="skip training, use --checkpoint")
    args = ap.parse_args(argv)
    for p in (args.out, args.report, args.checkpoint):
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    t_all = time.monotonic()
    model = build_model()
    nparams = sum(p.numel() for p in model.parameters())
    log(f"model: {nparams} parameters; torch {torch.__version__}, {args.threads} threads")
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": "models/.venv/bin/python models/shapes/train.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "parameters": nparams}
    if args.export_only:
        model.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
    else:
        info["training"] = train(model, args)
    info["export"] = export(model, args.out)

    import onnx
    import onnxruntime
    import torchvision
    info["versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                        "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                        "numpy": np.__version__, "python": platform.python_version()}
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    info["machine"] = {"nproc": nproc, "platform": platform.platform(), "cpu_count": os.cpu_count()}
    info["args"] = vars(args)

    log(f"evaluating {args.out} on {args.eval_count} images (seed {args.eval_seed}) ...")
    ev = evaluate.evaluate(args.out, args.eval_seed, args.eval_count, threads=2, log=log)
    info["evaluation"] = ev
    info["passes_bar"] = evaluate.passes(ev)
    log("\n" + evaluate.format_result(ev))
    if args.quantize:
        import quantize
        qpath = os.path.splitext(args.out)[0] + ".int8.onnx"
        quantize.quantize(args.out, qpath)
        log(f"evaluating INT8 copy {qpath} ...")
        q = evaluate.evaluate(qpath, args.eval_seed, args.eval_count, threads=2, log=log)
        info["int8"] = q
        log("\n" + evaluate.format_result(q))
        faster = q["mean_inference_ms"] < 0.9 * ev["mean_inference_ms"]
        same = evaluate.passes(q)
        info["int8_verdict"] = (
            f"INT8 is {ev['mean_inference_ms'] / q['mean_inference_ms']:.2f}x the fp32 speed and "
            f"{'still passes' if same else 'FAILS'} the quality bar; "
            + ("worth shipping as an option." if (faster and same) else
               "not worth shipping: the fp32 model is the product (the int8 file is not committed)."))
        log(info["int8_verdict"])
    info["total_seconds"] = round(time.monotonic() - t_all, 1)  # report writing excluded (<1 s)
    write_report(args, info, args.report + ".md", args.report + ".json")
    log(f"wrote {args.report}.md/.json; total {info['total_seconds']} s; "
        f"bar {'PASS' if info['passes_bar'] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
