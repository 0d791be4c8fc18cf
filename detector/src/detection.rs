//! The engine's answer: scored, labelled boxes in original-image pixels.

use serde::{Deserialize, Serialize};

use crate::labels::Labels;

/// The engine's boxes and detections are the wire types every part of Lookout speaks.
pub use wire::{BoundingBox, Detection};

/// How many detections a caller wants back, and how the image is looked at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectOptions {
    /// Keep detections scoring at least this (0..=1).
    pub threshold: f32,
    /// Keep at most this many, best first.
    pub max_detections: usize,
    /// Whether a large image is also looked at tile by tile (small objects).
    pub tile: TileMode,
    /// How much neighbouring tiles overlap, as a fraction of the tile (0..=0.5).
    pub tile_overlap: f32,
}

/// Tiled detection (SAHI-style): besides the whole image at the model's working size, a
/// large image is cut into overlapping tiles of the working size, each looked at in the
/// original pixels, and the detections are merged. Finds objects that the whole-image pass
/// shrinks below what the model can see, at the cost of one run per tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TileMode {
    /// One run on the whole image.
    #[default]
    Off,
    /// Tiles when the model would shrink the image (to less than 3/4 of its size); one run
    /// otherwise.
    Auto,
}

impl TileMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TileMode::Off => "off",
            TileMode::Auto => "auto",
        }
    }
}

impl std::str::FromStr for TileMode {
    type Err = OptionsError;
    fn from_str(s: &str) -> Result<Self, OptionsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(TileMode::Off),
            "auto" => Ok(TileMode::Auto),
            other => Err(OptionsError::Tile(other.to_owned())),
        }
    }
}

/// The tile overlap when the caller gives none (SAHI's default).
pub const DEFAULT_TILE_OVERLAP: f32 = 0.2;
/// The largest tile overlap a caller may ask for.
pub const MAX_TILE_OVERLAP: f32 = 0.5;

/// Why detection options were refused, worded for the caller.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    #[error("threshold must be between 0 and 1, got {0}")]
    Threshold(f32),
    #[error("max_detections must be between 1 and {MAX_DETECTIONS}, got {0}")]
    MaxDetections(usize),
    #[error("tile must be `auto` or `off`, got `{0}`")]
    Tile(String),
    #[error("tile_overlap must be between 0 and {MAX_TILE_OVERLAP}, got {0}")]
    TileOverlap(f32),
}

/// The most detections a caller may ask for (torchvision's models return at most 100; the
/// cap only guards against absurd values).
pub const MAX_DETECTIONS: usize = 1000;

impl DetectOptions {
    /// The one validator for options, used by every way into the engine.
    pub fn new(threshold: f32, max_detections: usize) -> Result<Self, OptionsError> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(OptionsError::Threshold(threshold));
        }
        if !(1..=MAX_DETECTIONS).contains(&max_detections) {
            return Err(OptionsError::MaxDetections(max_detections));
        }
        Ok(Self {
            threshold,
            max_detections,
            ..Self::default()
        })
    }

    /// These options with tiled detection set (see [`TileMode`]); `overlap` defaults to
    /// [`DEFAULT_TILE_OVERLAP`] and must be within `0..=`[`MAX_TILE_OVERLAP`].
    pub fn with_tiling(self, tile: TileMode, overlap: Option<f32>) -> Result<Self, OptionsError> {
        let tile_overlap = overlap.unwrap_or(DEFAULT_TILE_OVERLAP);
        if !(0.0..=MAX_TILE_OVERLAP).contains(&tile_overlap) {
            return Err(OptionsError::TileOverlap(tile_overlap));
        }
        Ok(Self {
            tile,
            tile_overlap,
            ..self
        })
    }
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            max_detections: 100,
            tile: TileMode::Off,
            tile_overlap: DEFAULT_TILE_OVERLAP,
        }
    }
}

/// Class-wise greedy non-maximum suppression: best first, a detection is dropped when a
/// kept one of the same class overlaps it by `iou` or more. The result is sorted by score.
pub fn merge_nms(mut detections: Vec<Detection>, iou: f32) -> Vec<Detection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(detections.len());
    for d in detections {
        let clash = kept
            .iter()
            .any(|k| k.class_id == d.class_id && k.bbox.iou(&d.bbox) >= iou);
        if !clash {
            kept.push(d);
        }
    }
    kept
}

/// Raw model outputs, borrowed from the session.
pub(crate) struct RawOutputs<'a> {
    pub boxes: &'a [f32],
    pub labels: &'a [i64],
    pub scores: &'a [f32],
}

/// Scales boxes back to the original image, clips them to it, filters and sorts by score.
pub(crate) fn postprocess(
    raw: RawOutputs<'_>,
    labels: &Labels,
    options: &DetectOptions,
    scale: (f32, f32),
    image_size: (u32, u32),
) -> Vec<Detection> {
    let (w, h) = (image_size.0 as f32, image_size.1 as f32);
    let n = raw
        .scores
        .len()
        .min(raw.labels.len())
        .min(raw.boxes.len() / 4);
    let mut out: Vec<Detection> = (0..n)
        .filter(|&i| raw.scores[i].is_finite() && raw.scores[i] >= options.threshold)
        .map(|i| {
            let b = &raw.boxes[i * 4..i * 4 + 4];
            let clip = |v: f32, max: f32| {
                if v.is_finite() {
                    v.clamp(0.0, max)
                } else {
                    0.0
                }
            };
            Detection {
                label: labels.name(raw.labels[i]),
                class_id: raw.labels[i],
                score: raw.scores[i],
                bbox: BoundingBox {
                    x1: clip(b[0] * scale.0, w),
                    y1: clip(b[1] * scale.1, h),
                    x2: clip(b[2] * scale.0, w),
                    y2: clip(b[3] * scale.1, h),
                },
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(options.max_detections);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::LabelSource;

    #[test]
    fn filters_sorts_scales_and_clips() {
        let labels = Labels::new(
            vec!["bg".into(), "a".into(), "b".into()],
            LabelSource::Metadata,
        );
        let boxes = [
            0.0, 0.0, 10.0, 10.0, 5.0, 5.0, 500.0, 20.0, 1.0, 1.0, 2.0, 2.0,
        ];
        let raw = RawOutputs {
            boxes: &boxes,
            labels: &[1, 2, 1],
            scores: &[0.6, 0.9, 0.2],
        };
        let opts = DetectOptions::new(0.5, 10).unwrap();
        let d = postprocess(raw, &labels, &opts, (2.0, 0.5), (100, 100));
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].label, "b");
        assert_eq!(
            d[0].bbox,
            BoundingBox {
                x1: 10.0,
                y1: 2.5,
                x2: 100.0,
                y2: 10.0
            }
        );
        assert_eq!(d[1].label, "a");
        assert_eq!(
            d[1].bbox,
            BoundingBox {
                x1: 0.0,
                y1: 0.0,
                x2: 20.0,
                y2: 5.0
            }
        );
    }

    #[test]
    fn max_detections_keeps_the_best() {
        let labels = Labels::generic();
        let raw = RawOutputs {
            boxes: &[0.0; 12],
            labels: &[1, 2, 3],
            scores: &[0.7, 0.8, 0.9],
        };
        let opts = DetectOptions::new(0.0, 2).unwrap();
        let d = postprocess(raw, &labels, &opts, (1.0, 1.0), (10, 10));
        assert_eq!(d.iter().map(|d| d.class_id).collect::<Vec<_>>(), vec![3, 2]);
    }

    #[test]
    fn tiling_options_are_validated() {
        let base = DetectOptions::default();
        assert_eq!(base.tile, TileMode::Off);
        let tiled = base.with_tiling("AUTO".parse().unwrap(), None).unwrap();
        assert_eq!(
            (tiled.tile, tiled.tile_overlap),
            (TileMode::Auto, DEFAULT_TILE_OVERLAP)
        );
        assert_eq!(
            base.with_tiling(TileMode::Auto, Some(0.5))
                .unwrap()
                .tile_overlap,
            0.5
        );
        for bad in [-0.1, 0.51, f32::NAN] {
            assert!(
                base.with_tiling(TileMode::Auto, Some(bad)).is_err(),
                "{bad}"
            );
        }
        let err = "sometimes".parse::<TileMode>().unwrap_err();
        assert!(err.to_string().contains("auto"), "{err}");
    }

    #[test]
    fn merging_keeps_the_best_of_each_class() {
        let det = |class_id: i64, score: f32, x1: f32| Detection {
            label: format!("c{class_id}"),
            class_id,
            score,
            bbox: BoundingBox {
                x1,
                y1: 0.0,
                x2: x1 + 10.0,
                y2: 10.0,
            },
        };
        let merged = merge_nms(
            vec![
                det(1, 0.6, 1.0), // overlaps the 0.9 one of its class: dropped
                det(1, 0.9, 0.0),
                det(2, 0.7, 0.0),  // another class at the same place: kept
                det(1, 0.8, 50.0), // elsewhere: kept
            ],
            0.5,
        );
        let got: Vec<(i64, f32)> = merged.iter().map(|d| (d.class_id, d.score)).collect();
        assert_eq!(got, vec![(1, 0.9), (1, 0.8), (2, 0.7)]);
    }
}
