"""torch.onnx.export and the ONNX metadata (models/export.py)."""

from __future__ import annotations

import json
import os
import time
import warnings

from export_common import TRACE_SEED, log


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
