"""The tiny torchvision Faster R-CNN used for the synthetic shapes.

* backbone: 6 conv layers (3x3, BatchNorm, ReLU), 16 then 32 channels; four stride-2 layers
  (feature stride 16) followed by two dilated layers (dilation 2 and 4) so the receptive field
  (~255 px with the RPN conv) covers the largest (200 px) objects;
* one feature map, anchors sqrt(area) 24/48/96/192 px x aspect ratios 0.5/1/2 (objects are
  32..200 px on their longer side, aspect 0.5..2);
* RoI pooling: MultiScaleRoIAlign on the single map, 7x7, sampling ratio 2; box head
  TwoMLPHead(32*7*7 -> 128 -> 128);
* NATIVE SCALE: the shapes are defined in pixels, so the model does not rescale images the way
  torchvision's default transform does (short side -> min_size). ``NativeScaleTransform`` keeps
  every image whose longer side is <= MAX_LONG_SIDE (1333) at its own size and only shrinks
  larger images so that their longer side is 1333 (the ONNX graph contains that Resize with a
  computed scale, 1.0 for normal images). Normalisation (ImageNet mean/std) and zero-padding to
  a multiple of 32 happen inside the graph as usual; boxes come back in original pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes
from torchvision.ops import MultiScaleRoIAlign

LABELS = ["__background__", "red_rectangle", "green_ellipse", "blue_triangle"]
MAX_LONG_SIDE = 1333
ANCHOR_SIZES = (24, 48, 96, 192)
ASPECT_RATIOS = (0.5, 1.0, 2.0)
CHANNELS = 32
REPRESENTATION = 128


def _conv(cin, cout, stride=1, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Backbone(nn.Sequential):
    def __init__(self, channels: int = CHANNELS):
        super().__init__(
            _conv(3, 16, stride=2),
            _conv(16, channels, stride=2),
            _conv(channels, channels, stride=2),
            _conv(channels, channels, stride=2),
            _conv(channels, channels, dilation=2),
            _conv(channels, channels, dilation=4),
        )
        self.out_channels = channels


class NativeScaleTransform(GeneralizedRCNNTransform):
    """GeneralizedRCNNTransform that keeps images at their own size (long side <= max_long)."""

    def __init__(self, max_long: int = MAX_LONG_SIDE, **kw):
        super().__init__(min_size=max_long, max_size=max_long,
                         image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], **kw)
        self.max_long = int(max_long)

    def resize(self, image, target=None):
        h, w = image.shape[-2:]
        if torchvision._is_tracing():
            from torchvision.models.detection.transform import _fake_cast_onnx, _get_shape_onnx
            im_shape = _get_shape_onnx(image)
            long_side = torch.max(im_shape).to(dtype=torch.float32)
            scale = torch.clamp(float(self.max_long) / long_side, max=1.0)
            image = F.interpolate(image[None], size=None, scale_factor=_fake_cast_onnx(scale),
                                  mode="bilinear", recompute_scale_factor=True,
                                  align_corners=False)[0]
        else:
            long_side = max(int(h), int(w))
            if long_side > self.max_long:
                image = F.interpolate(image[None], scale_factor=self.max_long / long_side,
                                      mode="bilinear", recompute_scale_factor=True,
                                      align_corners=False)[0]
        if target is not None and "boxes" in target:
            target["boxes"] = resize_boxes(target["boxes"], (h, w), image.shape[-2:])
        return image, target


def build_model(num_classes: int = len(LABELS), max_long: int = MAX_LONG_SIDE,
                score_thresh: float = 0.05, detections: int = 100) -> FasterRCNN:
    anchor_gen = AnchorGenerator(sizes=(ANCHOR_SIZES,), aspect_ratios=(ASPECT_RATIOS,))
    roi_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    model = FasterRCNN(
        Backbone(),
        num_classes=None,
        min_size=max_long, max_size=max_long,  # replaced by NativeScaleTransform below
        rpn_anchor_generator=anchor_gen,
        box_roi_pool=roi_pool,
        box_head=TwoMLPHead(CHANNELS * 7 * 7, REPRESENTATION),
        box_predictor=FastRCNNPredictor(REPRESENTATION, num_classes),
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        rpn_batch_size_per_image=256,
        box_batch_size_per_image=128,
        box_score_thresh=score_thresh,
        box_detections_per_img=detections,
    )
    model.transform = NativeScaleTransform(max_long)
    return model
