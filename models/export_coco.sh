#!/usr/bin/env bash
# Exports a torchvision COCO detector to ONNX and verifies it (needs the internet for the
# pretrained weights; pass --random-weights --seed 0 for the same architecture offline). Any
# other checkpoint: models/export.py (make export-model).
#   models/export_coco.sh [--arch fasterrcnn_resnet50_fpn (default)|fasterrcnn_resnet50_fpn_v2|
#       fasterrcnn_mobilenet_v3_large_fpn|fasterrcnn_mobilenet_v3_large_320_fpn|retinanet_resnet50_fpn|
#       retinanet_resnet50_fpn_v2|ssd300_vgg16|ssdlite320_mobilenet_v3_large] [--quantize]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(models/venv.sh)
exec "$python" models/export_coco.py "$@"
