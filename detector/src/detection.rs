//! The engine's answer: scored, labelled boxes in original-image pixels.

use crate::labels::Labels;

/// The engine's boxes, detections and options are the wire types every part of Lookout
/// speaks; the options' one validator is [`wire::DetectParams::options`].
pub use wire::{
    BoundingBox, DetectOptions, Detection, ParamError, TileMode, DEFAULT_TILE_OVERLAP,
    MAX_DETECTIONS, MAX_TILE_OVERLAP,
};

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
        .filter(|&i| raw.scores[i].is_finite() && wire::passes(raw.scores[i], options.threshold))
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
