//! The size a model works at: its resize rule, read from the model's metadata.
//!
//! torchvision's detection models resize every image inside the graph
//! (`GeneralizedRCNNTransform`): the scale is `min(min_size / short, max_size / long)`,
//! computed in float32, and the output size is `floor(side * scale)`. The project's export
//! scripts write the rule into the ONNX metadata under `resize` (JSON), so Lookout can tell
//! what the model will see before it runs it.

use serde::{Deserialize, Serialize};

/// The smallest side, in pixels, that a model is handed after its resize. Below this the
/// backbone's feature maps collapse (the shapes model's stride is 16, FPN models pool to
/// stride 64 after padding to 32) and onnxruntime fails inside the graph.
pub const MIN_WORKING_SIDE: u32 = 32;

/// How a model scales an image before its backbone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ResizeRule {
    /// torchvision's default: the short side to `min_size`, unless the long side would then
    /// pass `max_size` (scales up as well as down).
    ShortestEdge { min_size: u32, max_size: u32 },
    /// Keep the image's own scale; only shrink it so the long side is at most `max_long`
    /// (the shapes demo model: its objects are defined in pixels).
    NativeCap { max_long: u32 },
}

impl Default for ResizeRule {
    /// torchvision's `GeneralizedRCNNTransform` defaults for its Faster R-CNN models.
    fn default() -> Self {
        ResizeRule::ShortestEdge {
            min_size: 800,
            max_size: 1333,
        }
    }
}

impl ResizeRule {
    /// Parses the metadata value, e.g. `{"rule": "shortest_edge", "min_size": 800,
    /// "max_size": 1333}`. Unknown extra keys (interpolation, antialias) are ignored.
    pub fn from_metadata(value: &str) -> Result<Self, String> {
        let rule: ResizeRule = serde_json::from_str(value).map_err(|e| {
            format!("the `resize` metadata is not a resize rule Lookout knows: {e}")
        })?;
        let ok = match rule {
            ResizeRule::ShortestEdge { min_size, max_size } => min_size > 0 && max_size > 0,
            ResizeRule::NativeCap { max_long } => max_long > 0,
        };
        if ok {
            Ok(rule)
        } else {
            Err("the `resize` metadata has a zero size".to_owned())
        }
    }

    /// The scale factor the graph applies, in float32 as the traced graph computes it.
    /// The traced graph divides as a float32 reciprocal and a multiply; plain division picks
    /// a different size for about one image size in eight.
    pub fn scale(&self, width: u32, height: u32) -> f32 {
        let short = width.min(height) as f32;
        let long = width.max(height) as f32;
        match *self {
            ResizeRule::ShortestEdge { min_size, max_size } => {
                (min_size as f32 * short.recip()).min(max_size as f32 * long.recip())
            }
            ResizeRule::NativeCap { max_long } => (max_long as f32 * long.recip()).min(1.0),
        }
    }

    /// The size the model works at for an image of `width` x `height`: ONNX `Resize` with
    /// scales gives `floor(side * scale)`.
    pub fn working_size(&self, width: u32, height: u32) -> (u32, u32) {
        let scale = self.scale(width, height);
        let side = |v: u32| (v as f32 * scale).floor() as u32;
        (side(width), side(height))
    }

    /// Refuses an image the model cannot process: after its resize the short side would be
    /// under [`MIN_WORKING_SIDE`] (a panorama too extreme, or a tiny image the rule does
    /// not enlarge). The reason is worded for the person who sent it.
    pub fn check(&self, width: u32, height: u32) -> Result<(), String> {
        let (w, h) = self.working_size(width, height);
        if w.min(h) >= MIN_WORKING_SIDE {
            return Ok(());
        }
        let scale = self.scale(width, height);
        if scale < 1.0 {
            // Shrinking for the long side squeezed the short one.
            let max_ratio = match *self {
                ResizeRule::ShortestEdge { max_size, .. } => max_size,
                ResizeRule::NativeCap { max_long } => max_long,
            } as f32
                / MIN_WORKING_SIDE as f32;
            Err(format!(
                "the image is {width}x{height} pixels; its aspect ratio is more extreme than the model can process (at most about {max_ratio:.0}:1)"
            ))
        } else {
            Err(format!(
                "the image is {width}x{height} pixels, too small for this model: each side must be at least {MIN_WORKING_SIDE} pixels"
            ))
        }
    }

    /// `(min_size, max_size)` in torchvision's terms, for reports.
    pub fn describe(&self) -> String {
        match *self {
            ResizeRule::ShortestEdge { min_size, max_size } => {
                format!("short side to {min_size}, long side at most {max_size}")
            }
            ResizeRule::NativeCap { max_long } => {
                format!("own scale, long side at most {max_long}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_default_rule() {
        let rule = ResizeRule::default();
        // Sizes the exported graph's own Resize picks (checked in Python onnxruntime).
        assert_eq!(rule.working_size(640, 480), (1066, 800));
        assert_eq!(rule.working_size(4000, 3000), (1066, 799));
        assert_eq!(rule.working_size(100, 219), (608, 1332));
        assert!(rule.check(4032, 3024).is_ok());
        assert!(
            rule.check(1, 1).is_ok(),
            "torchvision enlarges small images"
        );
        let err = rule.check(16_000, 1).unwrap_err();
        assert!(
            err.contains("16000x1") && err.contains("aspect ratio"),
            "{err}"
        );
    }

    #[test]
    fn native_cap_rule() {
        let rule = ResizeRule::NativeCap { max_long: 1333 };
        assert_eq!(rule.working_size(640, 480), (640, 480));
        assert_eq!(rule.working_size(2666, 1000), (1333, 500));
        assert_eq!(rule.working_size(4000, 3000), (1333, 999));
        let err = rule.check(20, 20).unwrap_err();
        assert!(err.contains("too small"), "{err}");
        assert!(rule.check(32, 32).is_ok());
        assert!(rule.check(16_000, 300).is_err());
    }

    #[test]
    fn metadata_round_trip() {
        let rule = ResizeRule::from_metadata(
            r#"{"rule": "shortest_edge", "min_size": 512, "max_size": 1024, "interpolation": "bilinear"}"#,
        )
        .unwrap();
        assert_eq!(
            rule,
            ResizeRule::ShortestEdge {
                min_size: 512,
                max_size: 1024
            }
        );
        assert_eq!(
            ResizeRule::from_metadata(r#"{"rule":"native_cap","max_long":1333}"#).unwrap(),
            ResizeRule::NativeCap { max_long: 1333 }
        );
        assert!(ResizeRule::from_metadata(r#"{"rule":"fancy"}"#).is_err());
        assert!(ResizeRule::from_metadata(r#"{"rule":"native_cap","max_long":0}"#).is_err());
    }
}
