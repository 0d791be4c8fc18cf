#!/usr/bin/env bash
# Exports torchvision's COCO Faster R-CNN to ONNX (needs the internet for the pretrained
# weights; pass --random-weights --seed 0 for the same architecture offline).
#   models/export_coco.sh [--arch fasterrcnn_resnet50_fpn|fasterrcnn_resnet50_fpn_v2|fasterrcnn_mobilenet_v3_large_fpn] [--quantize]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(models/venv.sh)
exec "$python" models/export_coco.py "$@"
