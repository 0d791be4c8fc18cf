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
    /// Every image to `width` x `height`, whatever its aspect ratio (torchvision's SSD).
    FixedSize { width: u32, height: u32 },
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
            ResizeRule::FixedSize { width, height } => width > 0 && height > 0,
        };
        if ok {
            Ok(rule)
        } else {
            Err("the `resize` metadata has a zero size".to_owned())
        }
    }

    /// The scale factor the graph applies, in float32 as the traced graph computes it.
    /// The traced graph divides as a float32 reciprocal and a multiply; plain division picks
    /// a different size for about one image size in eight. For [`ResizeRule::FixedSize`],
    /// which scales each axis on its own, the smaller of the two.
    pub fn scale(&self, width: u32, height: u32) -> f32 {
        let short = width.min(height).max(1) as f32;
        let long = width.max(height).max(1) as f32;
        match *self {
            ResizeRule::ShortestEdge { min_size, max_size } => {
                (min_size as f32 * short.recip()).min(max_size as f32 * long.recip())
            }
            ResizeRule::NativeCap { max_long } => (max_long as f32 * long.recip()).min(1.0),
            ResizeRule::FixedSize {
                width: fw,
                height: fh,
            } => (fw as f32 / width.max(1) as f32).min(fh as f32 / height.max(1) as f32),
        }
    }

    /// The size the model works at for an image of `width` x `height`: ONNX `Resize` with
    /// scales gives `floor(side * scale)`.
    pub fn working_size(&self, width: u32, height: u32) -> (u32, u32) {
        if let ResizeRule::FixedSize {
            width: fw,
            height: fh,
        } = *self
        {
            return (fw, fh);
        }
        let scale = self.scale(width, height);
        let side = |v: u32| (v as f32 * scale).floor() as u32;
        (side(width), side(height))
    }

    /// What Lookout hands the graph for an image of `width` x `height` so that the model sees
    /// exactly what it would see if it were given the whole image (see [`FeedPlan`]).
    pub fn plan(&self, width: u32, height: u32) -> FeedPlan {
        let working = self.working_size(width, height);
        if working.0 >= width && working.1 >= height {
            // The graph keeps or enlarges the image: nothing to save by resizing first.
            return FeedPlan::Original;
        }
        if self.working_size(working.0, working.1) == working {
            return FeedPlan::Working { working };
        }
        match self.compensating_size(working) {
            Some(feed) => FeedPlan::Compensated { working, feed },
            None => FeedPlan::Approximate { working },
        }
    }

    /// The smallest size at least `working` that this rule maps to `working` exactly, looked
    /// for up to twice `working` (in practice it is within a few pixels, or about 10% more
    /// pixels for rules whose sizes are powers of two).
    fn compensating_size(&self, working: (u32, u32)) -> Option<(u32, u32)> {
        let (ww, wh) = working;
        let fits = |pw: u32, ph: u32| self.working_size(pw, ph) == working;
        // Walk the longer axis; try the few sizes of the other axis that keep the aspect ratio.
        for ph in wh..=wh.saturating_mul(2) {
            let base = (u64::from(ww) * u64::from(ph) / u64::from(wh.max(1))) as u32;
            for pw in base.saturating_sub(3).max(ww)..=base + 3 {
                if fits(pw, ph) {
                    return Some((pw, ph));
                }
            }
        }
        for pw in ww..=ww.saturating_mul(2) {
            let base = (u64::from(wh) * u64::from(pw) / u64::from(ww.max(1))) as u32;
            for ph in base.saturating_sub(3).max(wh)..=base + 3 {
                if fits(pw, ph) {
                    return Some((pw, ph));
                }
            }
        }
        None
    }

    /// Refuses an image the model cannot process: after its resize the short side would be
    /// under [`MIN_WORKING_SIDE`] (a panorama too extreme, or a tiny image the rule does
    /// not enlarge). The reason is worded for the person who sent it.
    pub fn check(&self, width: u32, height: u32) -> Result<(), String> {
        let (w, h) = self.working_size(width, height);
        if w.min(h) >= MIN_WORKING_SIDE {
            return Ok(());
        }
        if let ResizeRule::FixedSize { .. } = *self {
            return Err(format!(
                "the model works at {w}x{h} pixels, too small for it to process any image"
            ));
        }
        let scale = self.scale(width, height);
        if scale < 1.0 {
            // Shrinking for the long side squeezed the short one.
            let max_ratio = match *self {
                ResizeRule::ShortestEdge { max_size, .. } => max_size,
                ResizeRule::NativeCap { max_long } => max_long,
                ResizeRule::FixedSize { width, height } => width.max(height),
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
            ResizeRule::FixedSize { width, height } => format!("every image to {width}x{height}"),
        }
    }
}

/// What Lookout builds the input tensor at, for a torchvision-layout model whose graph
/// resizes by a [`ResizeRule`]. The aim is that the graph's own resize changes nothing, so
/// that the model sees the same pixels as when it is handed the whole photo, for a fraction
/// of the memory and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedPlan {
    /// The image as it is: the graph keeps it or enlarges it itself.
    Original,
    /// Resampled to the working size, which the rule maps to itself: the graph's resize is
    /// an identity.
    Working { working: (u32, u32) },
    /// The rule does not map the working size to itself (`shortest_edge` computes in float32,
    /// so for ~13% of sizes a 1066x799 picture would be resized again to 1067x800). The
    /// working-size picture is then expanded to `feed`, a size the rule maps to `working`,
    /// by the exact inverse of the graph's bilinear resize: the graph's resize of `feed`
    /// gives back the working-size picture (to float rounding).
    Compensated {
        working: (u32, u32),
        feed: (u32, u32),
    },
    /// No compensating size exists within twice the working size (not seen for real rules):
    /// the working-size picture, which the graph resizes once more by a pixel or so.
    Approximate { working: (u32, u32) },
}

impl FeedPlan {
    /// The size of the tensor Lookout builds, for an image of `original` size.
    pub fn feed_size(&self, original: (u32, u32)) -> (u32, u32) {
        match *self {
            FeedPlan::Original => original,
            FeedPlan::Working { working } | FeedPlan::Approximate { working } => working,
            FeedPlan::Compensated { feed, .. } => feed,
        }
    }

    /// The size Lookout resamples the image to before any compensation.
    pub fn resample_size(&self, original: (u32, u32)) -> (u32, u32) {
        match *self {
            FeedPlan::Original => original,
            FeedPlan::Working { working }
            | FeedPlan::Approximate { working }
            | FeedPlan::Compensated { working, .. } => working,
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
    fn plans_make_the_graphs_resize_an_identity() {
        let rule = ResizeRule::default();
        // Enlarged by the graph itself.
        assert_eq!(rule.plan(640, 480), FeedPlan::Original);
        // 4032x3024 -> 1066x800, which maps to itself.
        assert_eq!(
            rule.plan(4032, 3024),
            FeedPlan::Working {
                working: (1066, 800)
            }
        );
        // 4000x3000 -> 1066x799, which the graph would resize again to 1067x800; 1068x801
        // is resized to 1066x799 exactly.
        assert_eq!(rule.working_size(1066, 799), (1067, 800));
        assert_eq!(
            rule.plan(4000, 3000),
            FeedPlan::Compensated {
                working: (1066, 799),
                feed: (1068, 801)
            }
        );
        assert_eq!(rule.working_size(1068, 801), (1066, 799));
        let native = ResizeRule::NativeCap { max_long: 1333 };
        assert_eq!(native.plan(800, 600), FeedPlan::Original);
        for (w, h) in [
            (4032, 3024),
            (4000, 3000),
            (3000, 4000),
            (6000, 4000),
            (1500, 900),
        ] {
            match native.plan(w, h) {
                FeedPlan::Working { working } => {
                    assert_eq!(native.working_size(working.0, working.1), working)
                }
                other => panic!("native_cap is idempotent, got {other:?} for {w}x{h}"),
            }
        }
        let ssd = ResizeRule::FixedSize {
            width: 300,
            height: 300,
        };
        assert_eq!(
            ssd.plan(640, 480),
            FeedPlan::Working {
                working: (300, 300)
            }
        );
        assert!(ssd.check(4000, 3000).is_ok());
    }

    /// Every downscaling size of the common rules gets a plan whose feed the rule maps to the
    /// working size of the original image.
    #[test]
    fn every_plan_feeds_a_size_the_rule_maps_to_the_working_size() {
        let rules = [
            ResizeRule::default(),
            ResizeRule::ShortestEdge {
                min_size: 512,
                max_size: 1024,
            },
            ResizeRule::ShortestEdge {
                min_size: 640,
                max_size: 1066,
            },
            ResizeRule::NativeCap { max_long: 1333 },
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |lo: u32, hi: u32| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            lo + (state % u64::from(hi - lo)) as u32
        };
        for rule in rules {
            let mut compensated = 0;
            for _ in 0..400 {
                let (w, h) = (next(900, 8000), next(900, 8000));
                let plan = rule.plan(w, h);
                let working = rule.working_size(w, h);
                let feed = plan.feed_size((w, h));
                assert!(
                    !matches!(plan, FeedPlan::Approximate { .. }),
                    "{rule:?} {w}x{h}"
                );
                if plan != FeedPlan::Original {
                    assert_eq!(
                        rule.working_size(feed.0, feed.1),
                        working,
                        "{rule:?} {w}x{h}"
                    );
                    assert!(feed.0 <= working.0 * 2 && feed.1 <= working.1 * 2);
                }
                compensated += usize::from(matches!(plan, FeedPlan::Compensated { .. }));
            }
            assert!(compensated < 200, "{rule:?}: {compensated}");
        }
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
        assert_eq!(
            ResizeRule::from_metadata(
                r#"{"rule": "fixed_size", "width": 300, "height": 300, "interpolation": "bilinear", "antialias": false}"#
            )
            .unwrap(),
            ResizeRule::FixedSize {
                width: 300,
                height: 300
            }
        );
        assert!(ResizeRule::from_metadata(r#"{"rule":"fancy"}"#).is_err());
        assert!(ResizeRule::from_metadata(r#"{"rule":"native_cap","max_long":0}"#).is_err());
    }
}
