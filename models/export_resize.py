"""The model's resize rule: read from its transform, predicted like the traced graph, and
overridden by --min-size/--max-size (models/export.py)."""

from __future__ import annotations

from export_common import UserError


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
