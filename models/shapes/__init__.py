"""Synthetic coloured-shapes dataset and the tiny Faster R-CNN trained on it."""
