"""What the export modules share (models/export.py and its export_*.py modules): paths, the
architectures, the verification tolerances, the user-error type and the log."""

from __future__ import annotations

import os

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
