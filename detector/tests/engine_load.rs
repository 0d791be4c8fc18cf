//! Loading a model with the real onnxruntime: what is read from it, and how a model that
//! cannot serve is refused.

mod common;

use common::{config, engine};
use detector::{Engine, EngineConfig, EngineError, Layout, ModelError};

#[test]
fn model_metadata_is_read_at_load() {
    let engine = engine();
    let info = engine.info();
    assert_eq!(info.layout, Layout::Torchvision);
    assert_eq!(
        info.labels,
        vec![
            "__background__",
            "red_rectangle",
            "green_ellipse",
            "blue_triangle"
        ]
    );
    assert_eq!(info.label_source, detector::LabelSource::Metadata);
    assert_eq!(info.inputs.len(), 1);
    assert_eq!(info.inputs[0].name, "images");
    assert_eq!(info.inputs[0].dtype, "f32");
    assert_eq!(info.sha256.len(), 64);
    assert_eq!(info.intra_threads, 2);
}

#[test]
fn a_missing_model_is_named() {
    let err = Engine::load(&EngineConfig::new("/nonexistent/model.onnx")).unwrap_err();
    assert!(matches!(
        err,
        EngineError::Model(ModelError::NotFound { .. })
    ));
    assert!(err.to_string().contains("/nonexistent/model.onnx"));
}

#[test]
fn a_model_that_is_not_onnx_is_refused_clearly() {
    let path =
        std::env::temp_dir().join(format!("lookout-not-a-model-{}.onnx", std::process::id()));
    std::fs::write(&path, b"definitely not protobuf").unwrap();
    let err = Engine::load(&EngineConfig::new(&path)).unwrap_err();
    std::fs::remove_file(&path).ok();
    assert!(
        matches!(err, EngineError::Model(ModelError::Load { .. })),
        "{err:?}"
    );
}

#[test]
fn the_wrong_layout_says_what_was_expected_and_found() {
    let mut config = config();
    config.layout = Some(Layout::Zoo);
    config.warm_up = false;
    let err = Engine::load(&config).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, EngineError::Model(ModelError::Signature { .. })),
        "{err:?}"
    );
    assert!(text.contains("expected input `image`"), "{text}");
    assert!(text.contains("images: f32 [3, "), "{text}");
}
