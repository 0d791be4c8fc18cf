//! Class names for a model's integer labels.

use std::path::Path;

/// Label names indexed by class id. Index 0 is the background slot in torchvision's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    names: Vec<String>,
    source: LabelSource,
}

/// Where the names came from, reported by `/v1/models` so an operator can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// The ONNX metadata property `labels`.
    Metadata,
    /// A `<model>.labels.json` file beside the model.
    Sidecar,
    /// The ONNX model zoo's COCO-80 list (zoo layout without its own labels).
    Coco80,
    /// No names known: `class_<id>`.
    Generic,
}

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("the model's `labels` metadata is not a JSON array of strings: {0}")]
    BadMetadata(serde_json::Error),
    #[error("{path} is not a JSON array of strings: {reason}")]
    BadSidecar { path: String, reason: String },
}

impl Labels {
    pub fn new(names: Vec<String>, source: LabelSource) -> Self {
        Self { names, source }
    }

    /// The metadata string wins, then the sidecar file, then `fallback`.
    pub fn resolve(
        metadata: Option<&str>,
        model_path: &Path,
        fallback: Labels,
    ) -> Result<Self, LabelsError> {
        if let Some(json) = metadata {
            let names: Vec<String> =
                serde_json::from_str(json).map_err(LabelsError::BadMetadata)?;
            return Ok(Self::new(names, LabelSource::Metadata));
        }
        let sidecar = sidecar_path(model_path);
        if sidecar.is_file() {
            let bad = |reason: String| LabelsError::BadSidecar {
                path: sidecar.display().to_string(),
                reason,
            };
            let text = std::fs::read_to_string(&sidecar).map_err(|e| bad(e.to_string()))?;
            let names: Vec<String> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            return Ok(Self::new(names, LabelSource::Sidecar));
        }
        Ok(fallback)
    }

    pub fn generic() -> Self {
        Self::new(Vec::new(), LabelSource::Generic)
    }

    /// The ONNX model zoo's Faster R-CNN: contiguous ids 1..=80 over COCO's 80 classes.
    pub fn coco80() -> Self {
        let names = std::iter::once("__background__")
            .chain(COCO80)
            .map(str::to_owned)
            .collect();
        Self::new(names, LabelSource::Coco80)
    }

    /// The name for a class id; unknown or empty slots read `class_<id>`.
    pub fn name(&self, class_id: i64) -> String {
        usize::try_from(class_id)
            .ok()
            .and_then(|i| self.names.get(i))
            .filter(|n| !n.is_empty() && n.as_str() != "N/A")
            .cloned()
            .unwrap_or_else(|| format!("class_{class_id}"))
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn source(&self) -> LabelSource {
        self.source
    }
}

/// `model.onnx` -> `model.labels.json`.
pub fn sidecar_path(model_path: &Path) -> std::path::PathBuf {
    model_path.with_extension("labels.json")
}

const COCO80: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fall_back_to_class_id() {
        let labels = Labels::new(
            vec!["__background__".into(), "cat".into(), "N/A".into()],
            LabelSource::Metadata,
        );
        assert_eq!(labels.name(1), "cat");
        assert_eq!(labels.name(2), "class_2");
        assert_eq!(labels.name(7), "class_7");
        assert_eq!(labels.name(-1), "class_-1");
    }

    #[test]
    fn coco80_is_contiguous_from_one() {
        let labels = Labels::coco80();
        assert_eq!(labels.name(1), "person");
        assert_eq!(labels.name(80), "toothbrush");
        assert_eq!(labels.names().len(), 81);
    }

    #[test]
    fn metadata_wins_over_sidecar_and_sidecar_over_fallback() {
        let dir = std::env::temp_dir().join(format!("lookout-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("m.onnx");
        std::fs::write(sidecar_path(&model), r#"["bg","from_sidecar"]"#).unwrap();
        let from_meta =
            Labels::resolve(Some(r#"["bg","from_meta"]"#), &model, Labels::generic()).unwrap();
        assert_eq!(from_meta.name(1), "from_meta");
        assert_eq!(from_meta.source(), LabelSource::Metadata);
        let from_sidecar = Labels::resolve(None, &model, Labels::generic()).unwrap();
        assert_eq!(from_sidecar.name(1), "from_sidecar");
        std::fs::remove_file(sidecar_path(&model)).unwrap();
        let generic = Labels::resolve(None, &model, Labels::generic()).unwrap();
        assert_eq!(generic.name(1), "class_1");
        assert!(Labels::resolve(Some("{not json"), &model, Labels::generic()).is_err());
    }
}
