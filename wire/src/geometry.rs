//! Where objects are: boxes in original-image pixels, detections, and what tiling looked at.

use serde::{Deserialize, Serialize};

/// A box in original-image pixels (EXIF orientation applied): (x1, y1) top-left, (x2, y2)
/// bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BoundingBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BoundingBox {
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    /// Intersection over union, 0 for disjoint boxes.
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// One detected object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Detection {
    /// The class name (from the model's labels).
    pub label: String,
    /// The model's class id.
    pub class_id: i64,
    /// 0..1
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
}

/// What a tiled detection (`tile=auto`) looked at besides the whole image.
///
/// Tiles are planned against the request's deadline and the model's measured cost per run:
/// a slow model gets fewer, larger tiles rather than a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Tiles {
    /// Tiles run (0: the image is small enough that the model sees it near its own scale).
    pub count: u32,
    /// The width of each tile, in original pixels (0 when the image was not tiled).
    pub width: u32,
    /// The height of each tile, in original pixels (0 when the image was not tiled).
    pub height: u32,
    /// Tiles planned but left out because the deadline came near (normally 0).
    pub skipped: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_half_overlapping_boxes() {
        let a = BoundingBox {
            x1: 0.0,
            y1: 0.0,
            x2: 10.0,
            y2: 10.0,
        };
        let b = BoundingBox {
            x1: 5.0,
            y1: 0.0,
            x2: 15.0,
            y2: 10.0,
        };
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
        let far = BoundingBox {
            x1: 20.0,
            y1: 20.0,
            x2: 30.0,
            y2: 30.0,
        };
        assert_eq!(a.iou(&far), 0.0);
    }

    #[test]
    fn json_shape_is_the_api_contract() {
        let d = Detection {
            label: "cat".into(),
            class_id: 17,
            score: 0.5,
            bbox: BoundingBox {
                x1: 1.0,
                y1: 2.0,
                x2: 3.0,
                y2: 4.0,
            },
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"label": "cat", "class_id": 17, "score": 0.5,
                               "box": {"x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0}})
        );
    }
}
