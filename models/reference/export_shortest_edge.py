#!/usr/bin/env python3
"""The shapes detector with torchvision's DEFAULT resize (short side 800, long side <= 1333):
a small, trained test model for Lookout's `shortest_edge` path.

    models/.venv/bin/python models/reference/export_shortest_edge.py \
        [--checkpoint models/shapes.pth] [--out detector/tests/fixtures/parity/shapes-800.onnx]

The bundled shapes model keeps images at their own scale (`native_cap`), a rule the graph maps
to itself. torchvision's `GeneralizedRCNNTransform` rule does not always: in float32 a
4000x3000 photo goes to 1066x799, and 1066x799 would go to 1067x800. This model (the same
weights, `GeneralizedRCNNTransform(800, 1333)` with the shapes model's normalisation, exported
exactly as models/export.py exports) lets the Rust tests prove the full-size parity of that
rule, including the sizes where it is not idempotent (see make_parity_large.py). It is a test
model: the shapes were trained at native scale, so it sees them 1.25-1.7x larger than trained.
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(MODELS, "shapes"))
sys.path.insert(0, MODELS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=os.path.join(MODELS, "shapes.pth"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(MODELS),
                                                  "detector/tests/fixtures/parity/shapes-800.onnx"))
    a = ap.parse_args(argv)
    import torch
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    import export as export_lib  # models/export.py
    from model import LABELS, build_model

    model = build_model()
    model.load_state_dict(torch.load(a.checkpoint, map_location="cpu", weights_only=True))
    model.transform = GeneralizedRCNNTransform(
        min_size=800, max_size=1333, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    model.eval()
    export_lib.export_onnx(model, a.out)
    rule = export_lib.resize_rule(model)
    export_lib.write_metadata(a.out, export_lib.standard_props(
        LABELS, "shapes-800",
        "TEST MODEL: the shapes detector's weights behind torchvision's default resize "
        "(short side 800, long side <= 1333), for the shortest_edge parity tests.", rule))
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes), resize {rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
