#!/usr/bin/env python3
"""Turn a torchvision detection checkpoint into an ONNX file that Lookout serves.

    models/.venv/bin/python models/export.py CHECKPOINT --arch ARCH --labels FILE
        [--num-classes N] [--output PATH] [--name NAME] [--description TEXT]
        [--min-size N] [--max-size N] [--add-background] [--trust-pickle]
        [--check-images A.png B.jpg ...] [--threads 2]

    make export-model ARGS="CHECKPOINT --arch ARCH --labels FILE ..."

CHECKPOINT   a ``state_dict`` (``torch.save(model.state_dict(), path)``; also a training
             checkpoint dict holding it under "model", "state_dict" or "model_state_dict", with
             an optional "module."/"model." key prefix), loaded with
             ``torch.load(weights_only=True)``, which cannot run code from the file; or a
             FULL pickled model (``torch.save(model, path)``), which only loads with
             ``weights_only=False``, i.e. by running code from the file: that needs
             ``--trust-pickle``. The script says which it found.
--arch       fasterrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn_v2,
             fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_mobilenet_v3_large_320_fpn,
             retinanet_resnet50_fpn, retinanet_resnet50_fpn_v2, ssd300_vgg16,
             ssdlite320_mobilenet_v3_large (torchvision builders), or ``shapes`` (the demo
             architecture of models/shapes/model.py build_model, native scale).
--labels     class names, by class id: a text file with one name per line (blank lines are
             skipped), a JSON list, or a JSON object {"id": "name"}. BACKGROUND: torchvision's
             convention, which Lookout's metadata follows, is that class id i is entry i and
             id 0 is the background slot (Faster R-CNN and SSD never report it; torchvision's
             own COCO RetinaNet keeps the same 91 slots). So a list must have num_classes
             entries, the first being the background. A list that leaves the background out
             (num_classes - 1 names) is refused unless ``--add-background`` says so, which
             inserts "__background__" at id 0. A JSON object names ids explicitly: a missing
             id 0 becomes "__background__", other missing ids "N/A" (torchvision's COCO
             spelling), ids >= num_classes are an error. Optional for --arch shapes (its four
             names).
--num-classes  the number of class slots (background included). Optional: it is read from the
             checkpoint's predictor (e.g. roi_heads.box_predictor.cls_score.weight); when given
             it must agree with the checkpoint and with the labels, or the script stops.
--min-size/--max-size  override the model's resize (GeneralizedRCNNTransform min_size/max_size;
             for --arch shapes, --max-size is the native-scale cap and --min-size is refused;
             SSD models resize to a fixed size and take neither).

The export is the one export_coco.py always did: ``torch.onnx.export(dynamo=False,
opset_version=17)``, input ``images`` float32 [3,H,W] (RGB, uint8/255, no batch), outputs
``boxes`` [N,4], ``labels`` [N] int64, ``scores`` [N], dynamic H, W and N, traced on a seeded
random 640x480 image. Metadata (ONNX metadata_props): ``labels`` (JSON list by class id),
``name``, ``layout`` = "torchvision", ``description``, ``resize`` (JSON, the model's own resize
rule, see resize_rule()).

Verification: the eager PyTorch model and the ONNX file (onnxruntime, CPU) run on the parity
fixtures (detector/tests/fixtures/parity/*.png) or ``--check-images``; detections are matched
by label and nearest box, and the script fails (exit 1) when a box coordinate differs by more
than 1e-3 px + 2e-5 x the image's longer side (--box-tol, --box-rtol; the relative part covers
float32 noise that grows with depth: up to 0.0044 px for a random-weight ResNet-50 FPN, 6e-5 px
for the shapes model), a score by more than 1e-4 (--score-tol), or a detection has no partner. It also checks that the ``resize``
rule written to the metadata predicts the size the graph's own Resize produces.

User mistakes (unknown arch, missing file, wrong class count, keys that do not fit the
architecture, ...) are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

# The export is split by concern into the export_*.py modules beside this file; every name they
# hold is imported here too, so `import export` (export_coco.py, stamp_metadata.py, shapes/train.py,
# reference/, tests/) finds it where it always was.
from export_checkpoint import (  # noqa: F401
    _freeze_batchnorms_like, _guess_arch, _is_bookkeeping, _meta_state, _shapes_module, _strip_prefix,
    build, check_keys, check_num_classes, class_keys, classes_in_state, load_checkpoint, load_model)
from export_common import (  # noqa: F401
    ALL_ARCHS, ARCHS, BOX_RTOL, BOX_TOL, FIXTURES, HERE, PROG, ROOT, SCORE_TOL, SHAPES, SHAPES_DIR,
    TRACE_SEED, UserError, _shorten, log)
from export_graph import (  # noqa: F401
    OUTPUTS, _ordered, describe_rule, export_onnx, set_metadata, standard_props, write_metadata)
from export_labels import read_labels  # noqa: F401
from export_resize import (  # noqa: F401
    _transform_kind, apply_size_overrides, predict_resize, resize_rule)
from export_verify import (  # noqa: F401
    _eager_at, cutoffs, default_images, load_image, match, resize_probe, verify)


def serve_commands(name: str, output: str) -> list[str]:
    path = os.path.abspath(output)
    rel = os.path.relpath(path, ROOT)
    shown = rel if not rel.startswith("..") else path
    return [f"target/release/lookout --model {name}={shown}",
            f"target/release/lookout --model {shown}",
            f"make run ARGS=\"--model {shown}\""]


# ----------------------------------------------------------------------------- the whole job

def export_and_verify(model, *, arch: str, labels: list[str], name: str, description: str,
                      output: str, images: list[str], threads: int = 2,
                      extra_props: dict | None = None, box_tol: float = BOX_TOL,
                      box_rtol: float = BOX_RTOL, score_tol: float = SCORE_TOL) -> bool:
    """Export, write the metadata, verify. Shared by this script and export_coco.py."""
    import torch
    torch.set_num_threads(threads)
    rule = resize_rule(model)
    if rule is None:
        log(f"warning: the model's transform ({type(model.transform).__name__}) is not one this script "
            "knows; no 'resize' metadata is written (Lookout then leaves resizing to the graph)")
    secs = export_onnx(model, output)
    props = standard_props(labels, name, description, rule)
    props.update(extra_props or {})
    write_metadata(output, props)
    log(f"exported {output} ({os.path.getsize(output)} bytes) in {secs:.0f} s (torch.onnx.export, "
        "dynamo=False, opset 17)")
    log(f"metadata: name={name!r}, layout='torchvision', labels={len(labels)} classes, "
        f"resize={props.get('resize', '(none)')}")
    import onnxruntime as ort
    sess = ort.InferenceSession(output, providers=["CPUExecutionProvider"])
    for i in sess.get_inputs():
        log(f"  input  {i.name}: {i.type} {i.shape}")
    for o in sess.get_outputs():
        log(f"  output {o.name}: {o.type} {o.shape}")
    del sess
    ok = verify(model, output, images, rule, threads, box_tol=box_tol, score_tol=score_tol,
                box_rtol=box_rtol)
    return ok


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user mistake here
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr, flush=True)
        sys.exit(2)


def parse_args(argv):
    ap = _Parser(prog="models/export.py", description=__doc__.split("\n\n")[0],
                 formatter_class=argparse.RawDescriptionHelpFormatter,
                 epilog="See the top of models/export.py and models/README.md for the details.")
    ap.add_argument("checkpoint", help="state_dict or (with --trust-pickle) a full pickled model")
    ap.add_argument("--arch", required=True, metavar="ARCH", help="one of: " + ", ".join(ALL_ARCHS))
    ap.add_argument("--labels", metavar="FILE", help="class names by id (text lines, JSON list or "
                    "{\"id\": name}); required except for --arch shapes")
    ap.add_argument("--num-classes", type=int, metavar="N",
                    help="class slots incl. background; checked against the checkpoint and labels")
    ap.add_argument("--add-background", action="store_true",
                    help="the labels file leaves out class 0: insert \"__background__\" there")
    ap.add_argument("--output", metavar="PATH", help="default: the checkpoint's path with .onnx")
    ap.add_argument("--name", help="the model's name in Lookout (default: the output file's stem)")
    ap.add_argument("--description", help="free text stored in the metadata")
    ap.add_argument("--min-size", type=int, metavar="N", help="override the transform's min_size")
    ap.add_argument("--max-size", type=int, metavar="N", help="override the transform's max_size")
    ap.add_argument("--trust-pickle", action="store_true",
                    help="allow a full pickled model (torch.load weights_only=False runs code in it)")
    ap.add_argument("--check-images", nargs="+", metavar="IMG",
                    help="images to verify on (default: detector/tests/fixtures/parity/*.png)")
    ap.add_argument("--box-tol", type=float, default=BOX_TOL, metavar="PX",
                    help=f"verification: absolute box tolerance in pixels (default {BOX_TOL:g})")
    ap.add_argument("--box-rtol", type=float, default=BOX_RTOL, metavar="R",
                    help=f"verification: plus this fraction of the image's longer side (default "
                         f"{BOX_RTOL:g}; 0 for a purely absolute tolerance)")
    ap.add_argument("--score-tol", type=float, default=SCORE_TOL, metavar="S",
                    help=f"verification: score tolerance (default {SCORE_TOL:g})")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    if a.arch not in ALL_ARCHS:
        ap.error(f"unknown --arch {a.arch!r}; choose one of: {', '.join(ALL_ARCHS)}")
    for flag in ("num_classes", "min_size", "max_size"):
        v = getattr(a, flag)
        if v is not None and v < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1 (got {v})")
    return a


def run(a) -> int:
    if not os.path.isfile(a.checkpoint):
        raise UserError(f"checkpoint not found: {a.checkpoint}")
    if a.labels is None and a.arch != SHAPES:
        raise UserError("--labels FILE is required: one class name per line, class 0 being the background")
    if a.labels is not None and not os.path.isfile(a.labels):
        raise UserError(f"labels file not found: {a.labels}")
    images = a.check_images or default_images()
    for p in images:
        if not os.path.isfile(p):
            raise UserError(f"check image not found: {p}")
    if not images:
        raise UserError(f"no images to verify on: {FIXTURES}/*.png is empty; pass --check-images")
    output = a.output or os.path.splitext(a.checkpoint)[0] + ".onnx"
    if os.path.abspath(output) == os.path.abspath(a.checkpoint):
        raise UserError(f"--output {output} would overwrite the checkpoint")
    out_dir = os.path.dirname(os.path.abspath(output))
    if os.path.exists(out_dir) and not os.access(out_dir, os.W_OK):
        raise UserError(f"cannot write to {out_dir}")

    log("loading torch ...")
    import torch
    import torchvision
    torch.set_num_threads(a.threads)
    model, n, how = load_model(a.arch, a.checkpoint, a.trust_pickle, a.num_classes)
    log(f"checkpoint {a.checkpoint}: {how}")
    log(f"model {a.arch}: {sum(p.numel() for p in model.parameters())} parameters, {n} class slots")
    if a.labels is None:
        labels = list(_shapes_module().LABELS)
        if len(labels) != n:
            raise UserError(f"--labels FILE is required: the checkpoint has {n} class slots, not the "
                            f"shapes demo's {len(labels)}")
        note = "the shapes demo's names (no --labels given)"
    else:
        labels, note = read_labels(a.labels, n, a.add_background)
    shown = ", ".join(f"{i}={v}" for i, v in enumerate(labels[:8])) + (", ..." if len(labels) > 8 else "")
    log(f"labels: {note}: {shown}")
    apply_size_overrides(model, a.arch, a.min_size, a.max_size)
    rule = resize_rule(model)
    name = a.name or os.path.splitext(os.path.basename(output))[0]
    description = a.description or (
        f"{a.arch} (torchvision {torchvision.__version__}) exported by models/export.py from "
        f"{os.path.basename(a.checkpoint)}. Input 'images': float32 [3,H,W], RGB, uint8/255, no batch "
        f"dimension; resize ({describe_rule(rule)}), normalisation and padding are inside the graph. "
        "Outputs: boxes float32 [N,4] x1,y1,x2,y2 in input pixels, labels int64 [N] (index into "
        "'labels'), scores float32 [N].")
    ok = export_and_verify(model, arch=a.arch, labels=labels, name=name, description=description,
                           output=output, images=images, threads=a.threads, box_tol=a.box_tol,
                           box_rtol=a.box_rtol, score_tol=a.score_tol)
    if not ok:
        print(f"{PROG}: error: verification FAILED: the ONNX file {output} does not reproduce the eager "
              "model on the lines marked FAIL above (see the 'for scale' notes; --box-tol, --box-rtol and "
              "--score-tol widen the tolerances)", file=sys.stderr, flush=True)
        return 1
    log("verification passed.")
    log("serve it with (the multi-model form, the single-model form, or through make):")
    for c in serve_commands(name, output):
        log(f"  {c}")
    return 0


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        return run(a)
    except UserError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
