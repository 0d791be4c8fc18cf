"""Building the architecture and loading a checkpoint into it (models/export.py)."""

from __future__ import annotations

import os
import sys

from export_common import ALL_ARCHS, SHAPES, SHAPES_DIR, UserError, _shorten


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
