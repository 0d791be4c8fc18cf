//! The models `lookout pull-model` knows by name, each pinned by sha256 and size, with the
//! places that serve it in the order they are tried.

/// Where a catalogue file is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A file in a Hugging Face Hub repository; its base is `HF_ENDPOINT` when set.
    Hub {
        repo: &'static str,
        revision: &'static str,
        path: &'static str,
    },
    /// A plain address.
    Web {
        /// Who serves it, for `--list`.
        name: &'static str,
        url: &'static str,
    },
}

/// A model Lookout knows how to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// What `lookout pull-model NAME` calls it.
    pub name: &'static str,
    /// The file it becomes in the models directory.
    pub file_name: &'static str,
    /// Tried in this order (after `--url`, when given).
    pub origins: &'static [Origin],
    /// Lowercase hex.
    pub sha256: &'static str,
    pub size: u64,
    /// One line for `--list`.
    pub summary: &'static str,
    /// How to serve it once downloaded (`{path}` is replaced with its path).
    pub usage: &'static str,
}

/// The ONNX model zoo's files as its own Hub repository publishes them.
const ZOO_HUB_REPO: &str = "onnxmodelzoo/legacy_models";

pub const CATALOGUE: &[CatalogueEntry] = &[CatalogueEntry {
    name: "coco-zoo",
    file_name: "FasterRCNN-12.onnx",
    origins: &[
        // GitHub stopped serving the zoo's LFS files on 1 July 2025 (the zoo's README says so);
        // the zoo republished them on the Hub, which answers with a redirect to a storage host
        // carrying a signed URL that expires (hence resuming through this first URL).
        Origin::Hub {
            repo: ZOO_HUB_REPO,
            revision: "main",
            path: "validated/vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx",
        },
        // Kept second for the day GitHub serves it again, or for a proxy that caches it: it
        // redirects to media.githubusercontent.com, so both hosts must be reachable.
        Origin::Web {
            name: "GitHub LFS (onnx/models)",
            url: "https://github.com/onnx/models/raw/main/validated/vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx",
        },
    ],
    // The pin is the file's Git LFS pointer in onnx/models, read from
    // vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx at commit
    // 673d0d48a4fdf76c7d9db4724db52af8a0c7fedc (the repository later moved `vision/` under
    // `validated/`; a move keeps the pointer): "oid sha256:789104f5...a6", "size 176713194".
    // The zoo's hub manifest agrees: ONNX_HUB_MANIFEST.json at commit
    // 06189933463e51adb5ac34a5ead67cf6a3f51e2d, entry "Faster R-CNN R-50-FPN-fp32",
    // "model_sha" and "model_bytes" (the README's "168.5 MB"). The Hub copy is the same
    // file (same size); the pin is what decides, whichever host answers.
    sha256: "789104f5a47f008450a37e02da8a8d3642766ed10d91238312b1532fe72789a6",
    size: 176_713_194,
    summary: "the ONNX model zoo's Faster R-CNN R-50-FPN (maskrcnn-benchmark, opset 12), COCO, mAP 0.34",
    // Its input is `image` (so the zoo layout is recognised without --layout) and it carries no
    // label metadata: its class ids are the contiguous COCO-80 list, which the detector has
    // built in (`Labels::coco80`).
    usage: "serve it with `lookout --model {path}` (input `image`: the zoo layout is recognised; \
            labels: the contiguous COCO-80 list built into Lookout)",
}];

/// Looks a model up in [`CATALOGUE`].
pub fn catalogue_entry(name: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|entry| entry.name == name)
}

/// The known names, for error messages.
pub fn catalogue_names() -> String {
    CATALOGUE
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}
