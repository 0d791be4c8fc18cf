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
import glob
import json
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHAPES_DIR = os.path.join(HERE, "shapes")
FIXTURES = os.path.join(ROOT, "detector", "tests", "fixtures", "parity")
PROG = "export"

# arch -> (torchvision builder, weights enum, family). The family decides the keyword names of
# the score threshold / detection count and where they live on the model.
ARCHS = {
    "fasterrcnn_resnet50_fpn": ("FasterRCNN_ResNet50_FPN_Weights", "fasterrcnn"),
    "fasterrcnn_resnet50_fpn_v2": ("FasterRCNN_ResNet50_FPN_V2_Weights", "fasterrcnn"),
    "fasterrcnn_mobilenet_v3_large_fpn": ("FasterRCNN_MobileNet_V3_Large_FPN_Weights", "fasterrcnn"),
    "fasterrcnn_mobilenet_v3_large_320_fpn": ("FasterRCNN_MobileNet_V3_Large_320_FPN_Weights", "fasterrcnn"),
    "retinanet_resnet50_fpn": ("RetinaNet_ResNet50_FPN_Weights", "retinanet"),
    "retinanet_resnet50_fpn_v2": ("RetinaNet_ResNet50_FPN_V2_Weights", "retinanet"),
    "ssd300_vgg16": ("SSD300_VGG16_Weights", "ssd"),
    "ssdlite320_mobilenet_v3_large": ("SSDLite320_MobileNet_V3_Large_Weights", "ssd"),
}
SHAPES = "shapes"
ALL_ARCHS = list(ARCHS) + [SHAPES]

# Eager PyTorch vs onnxruntime: a box coordinate may differ by BOX_TOL px plus BOX_RTOL times
# the image's longer side. The relative part is there because the two runtimes' kernels round
# differently, the difference grows with depth, and box regression scales it by the box size:
# the tiny shapes model agrees within 6e-5 px, export_coco.py --random-weights (ResNet-50 FPN) by
# up to 0.0044 px on a 333x517 image (allowed there: 0.001 + 2e-5 * 517 = 0.0113 px). A real
# export mistake (another resize, normalisation, class order) is off by far more.
BOX_TOL = 1e-3     # px
BOX_RTOL = 2e-5    # of the image's longer side
SCORE_TOL = 1e-4   # abs score difference
TRACE_SEED = 1234  # the random 640x480 image the export is traced on (as export_coco.py did)


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit status 2."""


def log(msg: str = "") -> None:
    print(msg, flush=True)


def _shorten(names, n: int = 4) -> str:
    names = list(names)
    s = ", ".join(names[:n])
    return s + (f", ... ({len(names)} in all)" if len(names) > n else "")


# ----------------------------------------------------------------------------- labels

def read_labels(path: str, num_classes: int, add_background: bool) -> tuple[list[str], str]:
    """Class names by class id (see the module doc for the background rules), and a note
    saying how the file was read."""
    if not os.path.isfile(path):
        raise UserError(f"labels file not found: {path}")
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"could not read the labels file {path} as UTF-8 text ({e})") from None
    try:
        data = json.loads(text)
        form = "JSON"
    except ValueError:
        data = [line.strip() for line in text.splitlines() if line.strip()]
        form = "text, one name per line"
    if isinstance(data, dict):
        names: dict[int, str] = {}
        for k, v in data.items():
            try:
                i = int(k)
            except ValueError:
                raise UserError(f"{path}: JSON object keys must be class ids, found {k!r}") from None
            if not isinstance(v, str):
                raise UserError(f"{path}: the name of class {i} is not a string ({v!r})")
            if i < 0 or i >= num_classes:
                raise UserError(f"{path}: class id {i} is outside 0..{num_classes - 1} "
                                f"(the checkpoint has {num_classes} class slots, background included)")
            names[i] = v
        if add_background and 0 in names:
            raise UserError(f"{path} names class 0 ({names[0]!r}) and --add-background was given: "
                            "drop one of them")
        labels = [names.get(i, "__background__" if i == 0 else "N/A") for i in range(num_classes)]
        filled = [i for i in range(num_classes) if i not in names]
        note = f"{form} object {{id: name}}"
        if filled:
            note += f"; ids not named filled in: {_shorten(f'{i}={labels[i]}' for i in filled)}"
        return labels, note
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
        raise UserError(f"{path}: expected one name per line, a JSON list of names, or a JSON object "
                        "{\"id\": \"name\"}")
    note = f"{form} ({len(data)} names)"
    if add_background:
        if len(data) != num_classes - 1:
            raise UserError(f"--add-background: {path} has {len(data)} names, but the model has "
                            f"{num_classes} class slots, so it needs {num_classes - 1} names plus the "
                            f"background (or {num_classes} names without --add-background)")
        return ["__background__"] + data, note + ', "__background__" inserted as class 0 (--add-background)'
    if len(data) == num_classes - 1:
        raise UserError(f"{path} has {len(data)} names for {num_classes} class slots: if the file leaves "
                        "out the background class 0, pass --add-background; otherwise the class count "
                        "is wrong")
    if len(data) != num_classes:
        raise UserError(f"{path} has {len(data)} names but the model has {num_classes} class slots "
                        f"(background included): they must agree")
    return list(data), note + "; entry i names class id i, entry 0 is the background slot"


# ----------------------------------------------------------------------------- model building

def _shapes_module():
    """models/shapes/model.py, imported the way train.py does (as ``model``, so that models
    pickled by the shapes scripts unpickle)."""
    if SHAPES_DIR not in sys.path:
        sys.path.insert(0, SHAPES_DIR)
    import model as shapes_model  # noqa: E402
    return shapes_model


def build(arch: str, num_classes: int):
    """A fresh model of the architecture with random weights (nothing is downloaded)."""
    if arch == SHAPES:
        return _shapes_module().build_model(num_classes=num_classes)
    from torchvision.models import detection
    return getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=num_classes)


def _meta_state(arch: str, num_classes: int) -> dict:
    """Parameter names and shapes of the architecture, without allocating its weights."""
    import torch
    try:
        with torch.device("meta"):
            sd = build(arch, num_classes).state_dict()
    except Exception:  # a builder that does not support the meta device: build for real
        sd = build(arch, num_classes).state_dict()
    return {k: tuple(v.shape) for k, v in sd.items()}


def class_keys(arch: str) -> dict[str, int]:
    """The parameters whose first dimension is (per-class multiplier) x num_classes, e.g.
    {"roi_heads.box_predictor.cls_score.weight": 1, "...bbox_pred.weight": 4} for Faster R-CNN."""
    a, b = _meta_state(arch, 2), _meta_state(arch, 3)
    out = {}
    for k, s in a.items():
        if b[k] != s:
            per = b[k][0] - s[0]
            assert s[0] == 2 * per, (k, s, b[k])
            out[k] = per
    return out


def classes_in_state(arch: str, sd: dict, where: str) -> int:
    """The number of class slots a state dict was trained with, read from the predictor."""
    keys = class_keys(arch)
    present = [k for k in keys if k in sd]
    if not present:
        raise UserError(f"{where} has none of the {arch} predictor weights ({_shorten(keys, 2)}); "
                        "is --arch right?")
    found = {}
    for k in present:
        n0 = int(sd[k].shape[0])
        if n0 % keys[k]:
            raise UserError(f"{where}: {k} has {n0} rows, not a multiple of {keys[k]}; is --arch right?")
        found[k] = n0 // keys[k]
    if len(set(found.values())) != 1:
        raise UserError(f"{where}: the predictor layers disagree on the class count "
                        f"({_shorten(f'{k}: {v}' for k, v in found.items())})")
    return next(iter(found.values()))


def _is_bookkeeping(key: str) -> bool:
    return key.endswith("num_batches_tracked")  # BatchNorm's step counter: unused in eval


def _strip_prefix(sd: dict, expected: set) -> tuple[dict, str]:
    """Remove a "module." (DataParallel) / "model." (Lightning) prefix when that fits better."""
    best, best_hits, best_prefix = sd, len(expected & set(sd)), ""
    for prefix in ("module.", "model.", "model.module.", "module.model."):
        if not all(k.startswith(prefix) for k in sd):
            continue
        cand = {k[len(prefix):]: v for k, v in sd.items()}
        hits = len(expected & set(cand))
        if hits > best_hits:
            best, best_hits, best_prefix = cand, hits, prefix
    return best, best_prefix


def _guess_arch(keys: set, but: str) -> str | None:
    best, best_score = None, 0.0
    for arch in ALL_ARCHS:
        if arch == but:
            continue
        try:
            exp = {k for k in _meta_state(arch, 3) if not _is_bookkeeping(k)}
        except Exception:
            continue
        score = len(exp & keys) / max(1, len(exp | keys))
        if score > best_score:
            best, best_score = arch, score
    return best if best_score > 0.9 else None


def check_keys(arch: str, sd: dict, num_classes: int, where: str) -> None:
    """Fail with one line when the state dict does not fit the architecture."""
    exp = _meta_state(arch, num_classes)
    want = {k for k in exp if not _is_bookkeeping(k)}
    have = {k for k in sd if not _is_bookkeeping(k)}
    missing, unexpected = sorted(want - have), sorted(have - want)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({_shorten(missing, 3)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({_shorten(unexpected, 3)})")
        guess = _guess_arch(have, arch) if len(missing) + len(unexpected) > 2 else None
        hint = f"; the keys look like --arch {guess}" if guess else "; is --arch right?"
        raise UserError(f"{where} does not fit {arch}: keys {' and '.join(parts)}{hint}")
    wrong = [f"{k} {tuple(sd[k].shape)} vs {exp[k]}" for k in sorted(want)
             if tuple(sd[k].shape) != exp[k]]
    if wrong:
        raise UserError(f"{where} does not fit {arch}: {len(wrong)} tensors have other shapes "
                        f"({_shorten(wrong, 2)}); is --arch right?")


def _freeze_batchnorms_like(model, sd: dict) -> int:
    """torchvision builds ResNet/MobileNet backbones with FrozenBatchNorm2d when pretrained
    weights are used and with BatchNorm2d otherwise; a checkpoint from the pretrained model has
    no num_batches_tracked entries. Swap the BatchNorm2d layers the checkpoint stored as frozen
    ones back to FrozenBatchNorm2d so that the exported graph is the trained model's."""
    import torch
    from torchvision.ops.misc import FrozenBatchNorm2d
    swapped = 0
    for name, mod in list(model.named_modules()):
        if (type(mod) is torch.nn.BatchNorm2d and f"{name}.running_mean" in sd
                and f"{name}.num_batches_tracked" not in sd):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            setattr(parent, name.rsplit(".", 1)[-1], FrozenBatchNorm2d(mod.num_features, eps=mod.eps))
            swapped += 1
    return swapped


def load_checkpoint(path: str, trust_pickle: bool):
    """(kind, object, how): kind is "state_dict" or "model"."""
    import argparse as _argparse
    import pickle

    import torch
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    try:
        # argparse.Namespace: torchvision's reference scripts store their args beside the weights
        with torch.serialization.safe_globals([_argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
        how = "torch.load(weights_only=True)"
    except pickle.UnpicklingError as e:
        if not trust_pickle:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"{path} is not a plain state_dict (weights_only load refused it: {first[:160]}); "
                            "if it is a full pickled model from a source you trust, pass --trust-pickle "
                            "to load it with weights_only=False (that runs code stored in the file)") from None
        _shapes_module()  # so that pickles of the shapes model find their classes
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e2:
            raise UserError(f"could not unpickle {path} ({type(e2).__name__}: {str(e2)[:200]})") from None
        how = "torch.load(weights_only=False), allowed by --trust-pickle"
    except Exception as e:
        raise UserError(f"could not read {path} as a PyTorch checkpoint ({type(e).__name__}: "
                        f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''})") from None
    if isinstance(obj, torch.nn.Module):
        return "model", obj, how
    if isinstance(obj, dict):
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return "state_dict", dict(obj), how
        for key in ("model", "state_dict", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, torch.nn.Module):
                return "model", inner, how + f", model under key {key!r}"
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return "state_dict", dict(inner), how + f", state_dict under key {key!r}"
        raise UserError(f"{path} holds a dict without model weights (keys: {_shorten(map(str, obj), 5)}); "
                        "expected a state_dict, or one under 'model'/'state_dict'/'model_state_dict'")
    raise UserError(f"{path} holds a {type(obj).__name__}, not a state_dict or a model")


def load_model(arch: str, checkpoint: str, trust_pickle: bool, num_classes: int | None):
    """The eval-mode model and a one-line account of how it was loaded."""
    import torch
    kind, obj, how = load_checkpoint(checkpoint, trust_pickle)
    if kind == "state_dict":
        expected = set(_meta_state(arch, 3))
        sd, prefix = _strip_prefix(obj, expected)
        where = f"the state_dict in {checkpoint}"
        n = classes_in_state(arch, sd, where)
        check_num_classes(num_classes, n, arch, sd)
        check_keys(arch, sd, n, where)
        model = build(arch, n)
        frozen = _freeze_batchnorms_like(model, sd)
        result = model.load_state_dict(sd, strict=False)
        bad = [k for k in list(result.missing_keys) + list(result.unexpected_keys) if not _is_bookkeeping(k)]
        assert not bad, bad  # check_keys said they fit
        desc = (f"a state_dict ({len(sd)} tensors; {how}"
                + (f"; key prefix {prefix!r} removed" if prefix else "")
                + (f"; {frozen} BatchNorm layers stored as frozen" if frozen else "") + ")")
    else:
        model = obj
        sd = model.state_dict()
        where = f"the {type(model).__name__} pickled in {checkpoint}"
        n = classes_in_state(arch, sd, where)
        check_num_classes(num_classes, n, arch, sd)
        check_keys(arch, sd, n, where)
        desc = f"a full pickled model ({type(model).__name__}; {how})"
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    torch.set_grad_enabled(False)
    return model, n, desc


def check_num_classes(given: int | None, found: int, arch: str, sd: dict) -> None:
    if given is None or given == found:
        return
    key = next(k for k in class_keys(arch) if k in sd)
    raise UserError(f"--num-classes {given} but the checkpoint's predictor has {found} class slots "
                    f"({key} {list(sd[key].shape)})")


# ----------------------------------------------------------------------------- resize rule

def _transform_kind(t) -> str:
    from torchvision.models.detection.transform import GeneralizedRCNNTransform
    if type(t).__name__ == "NativeScaleTransform" and hasattr(t, "max_long"):
        return "native_cap"
    if isinstance(t, GeneralizedRCNNTransform) and type(t).resize is GeneralizedRCNNTransform.resize:
        return "fixed_size" if t.fixed_size is not None else "shortest_edge"
    return "unknown"


def resize_rule(model) -> dict | None:
    """The ``resize`` metadata of the model's own transform (what its ONNX graph does to an
    image before the backbone), or None for a transform this script does not know.

    shortest_edge  torchvision's GeneralizedRCNNTransform: scale = min(min_size / short,
                   max_size / long), new = floor(dim * scale). As traced into ONNX all of it is
                   float32, and ``a / t`` is Reciprocal then Mul: scale = min(f32(min_size) *
                   (1 / f32(short)), f32(max_size) * (1 / f32(long))), new = floor(f32(dim) * scale).
    native_cap     models/shapes/model.py NativeScaleTransform: scale = min(1, max_long / long)
                   (float32, Reciprocal then Mul, then Clip at 1), new = floor(f32(dim) * scale).
    fixed_size     SSD: every image is resized to width x height whatever its aspect ratio.
    All resample bilinearly (half-pixel centres, align_corners=False) without antialiasing."""
    t = model.transform
    kind = _transform_kind(t)
    if kind == "native_cap":
        return {"rule": "native_cap", "max_long": int(t.max_long), "interpolation": "bilinear",
                "antialias": False}
    if kind == "shortest_edge":
        return {"rule": "shortest_edge", "min_size": int(t.min_size[-1]), "max_size": int(t.max_size),
                "interpolation": "bilinear", "antialias": False}
    if kind == "fixed_size":
        h, w = t.fixed_size  # GeneralizedRCNNTransform resizes to size = [fixed_size[1], fixed_size[0]]
        return {"rule": "fixed_size", "width": int(w), "height": int(h), "interpolation": "bilinear",
                "antialias": False}
    return None


def predict_resize(rule: dict, width: int, height: int) -> tuple[int, int]:
    """(new_width, new_height) by the rule, computed like the traced graph (float32)."""
    import numpy as np
    f = np.float32
    one = f(1.0)
    if rule["rule"] == "fixed_size":
        return int(rule["width"]), int(rule["height"])
    short, long = f(min(width, height)), f(max(width, height))
    if rule["rule"] == "shortest_edge":
        scale = min(f(rule["min_size"]) * (one / short), f(rule["max_size"]) * (one / long))
    elif rule["rule"] == "native_cap":
        scale = min(f(rule["max_long"]) * (one / long), one)
    else:
        raise ValueError(rule["rule"])
    return int(np.floor(f(width) * scale)), int(np.floor(f(height) * scale))


def apply_size_overrides(model, arch: str, min_size: int | None, max_size: int | None) -> None:
    if min_size is None and max_size is None:
        return
    t = model.transform
    kind = _transform_kind(t)
    if kind == "native_cap":
        if min_size is not None:
            raise UserError("--min-size: the shapes architecture keeps images at their own size "
                            "(native scale) and has no minimum; use --max-size for its cap")
        t.max_long = int(max_size)
    elif kind == "shortest_edge":
        if min_size is not None:
            t.min_size = (int(min_size),)
        if max_size is not None:
            t.max_size = int(max_size)
    elif kind == "fixed_size":
        raise UserError(f"--min-size/--max-size: {arch} resizes every image to a fixed "
                        f"{t.fixed_size[1]}x{t.fixed_size[0]}, there is no min/max size to change")
    else:
        raise UserError(f"--min-size/--max-size: the model's transform ({type(t).__name__}) is not one "
                        "this script knows how to change")


# ----------------------------------------------------------------------------- export

OUTPUTS = ["boxes", "labels", "scores"]


def _ordered(model):
    """torch.onnx.export names a traced model's outputs by POSITION, and the detection models
    return a dict whose order differs: Faster R-CNN gives boxes, labels, scores, but RetinaNet
    and SSD give boxes, scores, labels (exported as is, their 'labels' output would hold the
    scores). Those are wrapped so that the outputs come out in Lookout's order."""
    import torch

    class Ordered(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, images):
            out = self.inner(images)[0]
            return out["boxes"], out["labels"], out["scores"]
    return Ordered(model).eval()  # export restores the mode it found, recursively


def export_onnx(model, output: str) -> float:
    """torch.onnx.export exactly as export_coco.py always did; returns the seconds it took."""
    import torch
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    g = torch.Generator().manual_seed(TRACE_SEED)
    x = torch.rand(3, 480, 640, generator=g)
    with torch.no_grad():
        keys = list(model([x])[0].keys())
    if keys[:3] != OUTPUTS:
        log(f"the model returns {', '.join(keys)}: exported through a wrapper that returns "
            f"{', '.join(OUTPUTS)} in that order")
        model = _ordered(model)
    t0 = time.monotonic()
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer's TracerWarnings/UserWarnings about torchvision internals and the legacy
        # exporter's DeprecationWarning are expected here and drown the useful output
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, ([x],), output, dynamo=False, opset_version=17,
            input_names=["images"], output_names=OUTPUTS,
            dynamic_axes={"images": {1: "height", 2: "width"}, "boxes": {0: "n"},
                          "labels": {0: "n"}, "scores": {0: "n"}})
    model.eval()
    return time.monotonic() - t0


def write_metadata(path: str, props: dict, replace_all: bool = True) -> None:
    """Set ONNX metadata_props; with replace_all=False the other keys stay, in their order."""
    import onnx
    m = onnx.load(path)
    set_metadata(m, props, replace_all)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def set_metadata(m, props: dict, replace_all: bool) -> None:
    if replace_all:
        del m.metadata_props[:]
    existing = {p.key: p for p in m.metadata_props}
    for k, v in props.items():
        if k in existing:
            existing[k].value = v
        else:
            m.metadata_props.add(key=k, value=v)


def standard_props(labels: list[str], name: str, description: str, rule: dict | None) -> dict:
    props = {"labels": json.dumps(labels), "name": name, "layout": "torchvision",
             "description": description}
    if rule is not None:
        props["resize"] = json.dumps(rule)
    return props


def describe_rule(rule: dict | None) -> str:
    if rule is None:
        return "the model's own (not described in the metadata)"
    if rule["rule"] == "shortest_edge":
        return f"short side {rule['min_size']}, long side <= {rule['max_size']}"
    if rule["rule"] == "native_cap":
        return f"none up to a longer side of {rule['max_long']} px, larger images shrunk to it"
    if rule["rule"] == "fixed_size":
        return f"every image to {rule['width']}x{rule['height']}"
    return json.dumps(rule)


# ----------------------------------------------------------------------------- verification

def load_image(path: str):
    """PIL decode -> RGB -> float32 / 255 (a division, like Lookout) -> CHW."""
    import numpy as np
    from PIL import Image
    try:
        with Image.open(path) as im:
            x = np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    except Exception as e:
        raise UserError(f"could not read the check image {path} ({type(e).__name__}: {e})") from None
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def resize_probe(onnx_model):
    """An onnxruntime session over the graph's first bilinear Resize (the transform's), which
    answers the size the graph resizes an image to; None when there is no such node."""
    import onnx
    import onnxruntime as ort
    from onnx import helper
    m = onnx.load(onnx_model) if isinstance(onnx_model, str) else onnx_model
    node = next((n for n in m.graph.node if n.op_type == "Resize" and any(
        a.name == "mode" and helper.get_attribute_value(a) == b"linear" for a in n.attribute)), None)
    if node is None:
        return None
    # the nodes the Resize output depends on (onnx.utils.Extractor needs shape information the
    # exported graphs do not carry for that tensor)
    producer = {o: n for n in m.graph.node for o in n.output}
    needed, stack, seen = [], [node.output[0]], set()
    while stack:
        t = stack.pop()
        if t in seen or t not in producer:
            continue
        seen.add(t)
        n = producer[t]
        if id(n) not in {id(k) for k in needed}:
            needed.append(n)
            stack.extend(i for i in n.input if i)
    keep = {id(n) for n in needed}
    nodes = [n for n in m.graph.node if id(n) in keep]  # original (topological) order
    used = {i for n in nodes for i in n.input}
    inits = [i for i in m.graph.initializer if i.name in used]
    in_name, out_name = m.graph.input[0].name, node.output[0]
    graph = helper.make_graph(nodes, "resize_probe", [m.graph.input[0]],
                              [helper.make_tensor_value_info(out_name, onnx.TensorProto.FLOAT, None)], inits)
    sub = helper.make_model(graph, opset_imports=m.opset_import, ir_version=m.ir_version)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(sub.SerializeToString(), so, providers=["CPUExecutionProvider"])

    def size_of(x) -> tuple[int, int]:
        shape = sess.run([out_name], {in_name: x})[0].shape
        return int(shape[-1]), int(shape[-2])
    return size_of


def cutoffs(model) -> tuple[float, int]:
    """(score threshold, detections per image) of the model's post-processing."""
    holder = model.roi_heads if hasattr(model, "roi_heads") else model
    return float(holder.score_thresh), int(holder.detections_per_img)


def match(eager: dict, onnx_out: dict, thresh: float, limit: int, score_tol: float = SCORE_TOL):
    """Pair each ONNX detection with the eager detection of the same label whose box is nearest
    (max abs coordinate difference), best first. Returns (pairs, unexplained): pairs are
    (i_onnx, j_eager, box_diff, score_diff); unexplained lists detections without a partner that
    are not at a cut-off (score within score_tol of the score threshold, or of the lowest kept
    score when a side holds ``limit`` detections). box_diff is the largest |a - b| over the
    four coordinates."""
    import numpy as np
    eb, el, es = eager["boxes"], eager["labels"], eager["scores"]
    ob, ol, os_ = onnx_out["boxes"], onnx_out["labels"], onnx_out["scores"]
    cand = []
    for i in range(len(os_)):
        for j in np.flatnonzero(el == ol[i]):
            d = float(np.abs(ob[i].astype(np.float64) - eb[j].astype(np.float64)).max())
            cand.append((d, abs(float(os_[i]) - float(es[j])), i, int(j)))
    cand.sort()
    used_i, used_j, pairs = set(), set(), []
    for d, sd, i, j in cand:
        if i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        pairs.append((i, j, d, sd))

    def at_cutoff(score, scores_all):
        if abs(score - thresh) <= score_tol:
            return True
        return len(scores_all) >= limit and abs(score - float(np.min(scores_all))) <= score_tol
    unexplained = []
    for i in range(len(os_)):
        if i not in used_i and not at_cutoff(float(os_[i]), es):
            unexplained.append(("onnx", i, float(os_[i])))
    for j in range(len(es)):
        if j not in used_j and not at_cutoff(float(es[j]), os_):
            unexplained.append(("eager", j, float(es[j])))
    return pairs, unexplained


def _eager_at(model, x, size_wh: tuple[int, int] | None) -> dict:
    """Eager detections; with size_wh, the transform's resize is forced to that size (same
    bilinear interpolation, only the output size is given instead of computed)."""
    import torch
    import torch.nn.functional as F
    t = torch.from_numpy(x)
    if size_wh is None:
        with torch.no_grad():
            out = model([t])[0]
    else:
        tr = model.transform

        def forced(image, target=None):
            return F.interpolate(image[None], size=(size_wh[1], size_wh[0]), mode="bilinear",
                                 align_corners=False)[0], target
        tr.resize = forced
        try:
            with torch.no_grad():
                out = model([t])[0]
        finally:
            del tr.resize
    return {k: out[k].detach().numpy() for k in ("boxes", "labels", "scores")}


def verify(model, onnx_path: str, images: list[str], rule: dict | None, threads: int = 2,
           box_tol: float = BOX_TOL, score_tol: float = SCORE_TOL, box_rtol: float = BOX_RTOL) -> bool:
    """Eager PyTorch vs the ONNX file on each image; prints a line per image; True when all agree."""
    import numpy as np
    import onnxruntime as ort
    import torch
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    probe = resize_probe(onnx_path)
    thresh, limit = cutoffs(model)
    log(f"verifying: eager PyTorch vs onnxruntime {ort.__version__} on {len(images)} image(s). Every "
        f"detection (score >= {thresh:g}) is paired with the other side's detection of the same label "
        f"and nearest box; pass when every box coordinate agrees within {box_tol:g} px + {box_rtol:g} x "
        f"the image's longer side, every score within {score_tol:g}, and no detection lacks a partner "
        f"(except one at the score or count cut-off).")
    ok = True
    for path in images:
        x = load_image(path)
        h, w = x.shape[1:]
        name = os.path.basename(path)
        notes = []
        eager_size = None
        with torch.no_grad():
            il, _ = model.transform([torch.from_numpy(x)])
        eh, ew = il.image_sizes[0]
        eager_size = (int(ew), int(eh))
        graph_size = probe(x) if probe is not None else None
        if rule is not None and graph_size is not None:
            want = predict_resize(rule, w, h)
            if want != graph_size:
                ok = False
                notes.append(f"FAIL: the metadata resize rule predicts {want[0]}x{want[1]} but the graph "
                             f"resizes to {graph_size[0]}x{graph_size[1]}")
        onnx_out = dict(zip(["boxes", "labels", "scores"],
                            sess.run(["boxes", "labels", "scores"], {"images": x})))
        forced = None
        if graph_size is not None and graph_size != eager_size:
            # torchvision's eager transform computes the size in float64, the traced graph in
            # float32: on some sizes they differ by a pixel. Compare like with like.
            plain = _eager_at(model, x, None)
            p_pairs, _ = match(plain, onnx_out, thresh, limit, score_tol)
            p_diff = max((p[2] for p in p_pairs), default=0.0)
            notes.append(f"eager resizes to {eager_size[0]}x{eager_size[1]} (float64 arithmetic), the graph "
                         f"to {graph_size[0]}x{graph_size[1]} (float32): eager rerun at the graph's size "
                         f"(at its own size it differed by up to {p_diff:.4f} px)")
            forced = graph_size
        eager = _eager_at(model, x, forced)
        pairs, unexplained = match(eager, onnx_out, thresh, limit, score_tol)
        box_diff = max((p[2] for p in pairs), default=0.0)
        score_diff = max((p[3] for p in pairs), default=0.0)
        allowed = box_tol + box_rtol * max(w, h)
        bad = bool(box_diff > allowed or score_diff > score_tol or unexplained)
        ok = ok and not bad
        size_txt = f"resized {graph_size[0]}x{graph_size[1]}" if graph_size else "no resize node found"
        log(f"  {name} {w}x{h} ({size_txt}): eager {len(eager['scores'])} detections, onnx "
            f"{len(onnx_out['scores'])}, paired {len(pairs)}; max |box diff| {box_diff:.6f} px "
            f"(allowed {allowed:.4f}), "
            f"max |score diff| {score_diff:.2e}" + ("  FAIL" if bad else "  ok"))
        if unexplained:
            notes.append("without a partner: " + _shorten(f"{side} #{k} score {s:.4f}" for side, k, s in unexplained))
        if bad and len(onnx_out["scores"]) >= 4 and len(np.unique(onnx_out["scores"])) <= len(onnx_out["scores"]) // 2:
            notes.append(f"the {len(onnx_out['scores'])} detections share only {len(np.unique(onnx_out['scores']))} "
                         "distinct scores: which of tied boxes survive top-k and NMS is arbitrary, so the two "
                         "runtimes may keep different ones (typical of untrained weights)")
        if bad:
            # for scale: how much does the eager model itself move under float-rounding-sized noise?
            nb, ns, nu = 0.0, 0.0, 0
            for seed in range(3):
                noisy = (x + np.random.default_rng(seed).normal(0, 1e-6, x.shape)).clip(0, 1).astype(np.float32)
                n_pairs, n_un = match(eager, _eager_at(model, noisy, forced), thresh, limit, score_tol)
                nb = max([nb] + [p[2] for p in n_pairs])
                ns = max([ns] + [p[3] for p in n_pairs])
                nu = max(nu, len(n_un))
            notes.append(
                f"for scale, eager against itself with 1e-6 noise on the input (3 draws): max |box diff| "
                f"{nb:.6f} px, max |score diff| {ns:.2e}, up to {nu} without a partner. If that is as "
                "large, the model amplifies rounding noise (untrained weights can; so can a borderline "
                "decision, which a few draws may miss) and the export is not at fault")
        if not len(onnx_out["scores"]):
            notes.append(f"no detections on either side: nothing scored >= {thresh:g} on this image")
        for n in notes:
            log(f"      {n}")
    return ok


def default_images() -> list[str]:
    return sorted(glob.glob(os.path.join(FIXTURES, "*.png")))


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
