"""The Python service Lookout replaces, kept small and faithful: FastAPI + pydantic,
``PUT /predict`` with ``{"base64str", "threshold"}``, torchvision Faster R-CNN R50-FPN in eager
PyTorch, served by uvicorn (one worker).

It follows the original tutorial-style service: a synchronous handler (FastAPI runs it on its
thread pool, so concurrent requests run the model concurrently), PIL decoding,
``transforms.ToTensor()``, ``model([img])`` and the boxes/classes above the threshold.
Two deliberate differences, both in the baseline's favour: inference runs under
``torch.inference_mode()`` (the original kept autograd on), and an image with no detection
above the threshold answers empty lists (the original raised IndexError -> 500).

Weights: the seeded state dict that Lookout's ONNX model was exported from
(``models/export_coco.py --random-weights --seed 0 --save-state-dict ...``), so both services
do exactly the same work.

    BASELINE_WEIGHTS=models/coco-fasterrcnn_resnet50_fpn.seed0.pt BASELINE_THREADS=2 \\
        bench/.venv/bin/python -m uvicorn --app-dir bench/baseline app:app \\
        --host 127.0.0.1 --port 8001 --workers 1
"""

from __future__ import annotations

import base64
import io
import os

import torch
import torchvision
from fastapi import FastAPI
from PIL import Image
from pydantic import BaseModel
from torchvision import transforms
from torchvision.models.detection import (FasterRCNN_ResNet50_FPN_Weights,
                                          fasterrcnn_resnet50_fpn)

THREADS = int(os.environ.get("BASELINE_THREADS", "2"))
WEIGHTS = os.environ.get("BASELINE_WEIGHTS", "models/coco-fasterrcnn_resnet50_fpn.seed0.pt")

torch.set_num_threads(THREADS)

# The same 91 COCO category slots as the ONNX model's `labels` metadata.
COCO_INSTANCE_CATEGORY_NAMES = list(FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])

model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                                box_score_thresh=0.05, box_detections_per_img=100)
model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
model.eval()

app = FastAPI(title="Object detection (baseline)")


class Data(BaseModel):
    base64str: str
    threshold: float = 0.5


def base64str_to_PILImage(base64str: str) -> Image.Image:
    base64_img_bytes = base64str.encode("utf-8")
    base64bytes = base64.b64decode(base64_img_bytes)
    bytesObj = io.BytesIO(base64bytes)
    return Image.open(bytesObj).convert("RGB")


@app.put("/predict")
def get_predictionbase64(d: Data):
    img = base64str_to_PILImage(d.base64str)
    img = transforms.ToTensor()(img)
    with torch.inference_mode():
        pred = model([img])
    pred_class = [COCO_INSTANCE_CATEGORY_NAMES[i] for i in list(pred[0]["labels"].numpy())]
    pred_boxes = [[(float(i[0]), float(i[1])), (float(i[2]), float(i[3]))]
                  for i in list(pred[0]["boxes"].numpy())]
    pred_score = list(pred[0]["scores"].numpy())
    keep = [k for k, x in enumerate(pred_score) if x > d.threshold]
    if not keep:
        return {"boxes": [], "classes": []}
    pred_t = keep[-1]
    return {"boxes": pred_boxes[: pred_t + 1], "classes": pred_class[: pred_t + 1]}


@app.get("/healthz")
def healthz():
    return {"status": "ok", "torch": torch.__version__, "torchvision": torchvision.__version__,
            "threads": torch.get_num_threads()}
