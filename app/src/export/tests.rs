//! Tests of the export rules every format shares.

use super::test_support::{det, labels};
use super::*;

#[test]
fn formats_parse_and_name_themselves() {
    for f in ExportFormat::ALL {
        assert_eq!(f.as_str().parse::<ExportFormat>(), Ok(f));
        assert_eq!(f.to_string(), f.as_str());
        assert!(f.file_name().starts_with("lookout"));
    }
    assert_eq!("Pascal-VOC".parse::<ExportFormat>(), Ok(ExportFormat::Voc));
    assert_eq!(" CSV ".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
    assert_eq!(
        "zip".parse::<ExportFormat>(),
        Err(wire::ParamError::Format("zip".into()))
    );
}

#[test]
fn placeholders_are_not_classes_and_unknown_ids_come_last() {
    let names = labels(&["__background__", "person", "N/A", "car", ""]);
    let dets = [
        det("class_9", 9, 0.9, [0.0, 0.0, 1.0, 1.0]),
        det("class_2", 2, 0.9, [0.0, 0.0, 1.0, 1.0]),
        det("class_7", 7, 0.1, [0.0, 0.0, 1.0, 1.0]), // below the threshold: no class
        det("car", 3, 0.9, [0.0, 0.0, 1.0, 1.0]),
    ];
    let images = [ExportImage {
        file_name: "a.jpg",
        width: 10,
        height: 10,
        detections: &dets,
    }];
    let set = Prepared::new(&images, &names, 0.5).unwrap();
    let classes: Vec<(i64, &str)> = set
        .classes
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    assert_eq!(
        classes,
        [(1, "person"), (3, "car"), (2, "class_2"), (9, "class_9")]
    );
    let idx: Vec<usize> = set.images[0].dets.iter().map(|d| d.class_index).collect();
    assert_eq!(idx, [3, 2, 1]);
}

#[test]
fn boxes_are_named_by_their_class() {
    let names = labels(&["__background__", "person"]);
    let dets = [
        det("someone", 1, 0.9, [0.0, 0.0, 1.0, 1.0]),
        det("", 5, 0.9, [0.0, 0.0, 1.0, 1.0]),
    ];
    let images = [ExportImage {
        file_name: "a.jpg",
        width: 10,
        height: 10,
        detections: &dets,
    }];
    let set = Prepared::new(&images, &names, 0.5).unwrap();
    let got: Vec<&str> = set.images[0]
        .dets
        .iter()
        .map(|d| set.class_name(d))
        .collect();
    assert_eq!(got, ["person", "class_5"]);
}

#[test]
fn boxes_are_ordered_and_clamped() {
    let dets = [det("a", 1, 0.9, [30.0, 25.0, -5.0, 5.0])];
    let images = [ExportImage {
        file_name: "a.jpg",
        width: 20,
        height: 10,
        detections: &dets,
    }];
    let set = Prepared::new(&images, &labels(&["__background__", "a"]), 0.0).unwrap();
    let d = set.images[0].dets[0];
    assert_eq!((d.x1, d.y1, d.x2, d.y2), (0.0, 5.0, 20.0, 10.0));
}

#[test]
fn bad_input_is_refused_with_the_file_named() {
    let names = labels(&["__background__", "a"]);
    let nan = [det("a", 1, 0.9, [0.0, f32::NAN, 1.0, 1.0])];
    let inf_score = [det("a", 1, f32::INFINITY, [0.0, 0.0, 1.0, 1.0])];
    let cases: [(ExportImage<'_>, f32, ExportError); 4] = [
        (
            ExportImage {
                file_name: "dir/x.png",
                width: 10,
                height: 10,
                detections: &nan,
            },
            0.5,
            ExportError::NotFinite {
                file: "x.png".into(),
                index: 0,
            },
        ),
        (
            ExportImage {
                file_name: "y.png",
                width: 10,
                height: 10,
                detections: &inf_score,
            },
            0.5,
            ExportError::NotFinite {
                file: "y.png".into(),
                index: 0,
            },
        ),
        (
            ExportImage {
                file_name: "z.png",
                width: 0,
                height: 10,
                detections: &[],
            },
            0.5,
            ExportError::EmptyImage {
                file: "z.png".into(),
                width: 0,
                height: 10,
            },
        ),
        (
            ExportImage {
                file_name: "w.png",
                width: 1,
                height: 1,
                detections: &[],
            },
            1.5,
            ExportError::BadThreshold(1.5),
        ),
    ];
    for (image, threshold, want) in cases {
        for format in ExportFormat::ALL {
            let got = export(format, &[image], &names, threshold);
            assert_eq!(got, Err(want.clone()), "{format}");
        }
    }
    assert!(matches!(
        export(ExportFormat::Csv, &[], &names, f32::NAN),
        Err(ExportError::BadThreshold(_))
    ));
}

#[test]
fn every_format_exports_an_empty_set() {
    for format in ExportFormat::ALL {
        let e = export(format, &[], &[], 0.5).unwrap();
        assert_eq!(e.file_name, format.file_name());
        assert!(!e.bytes.is_empty(), "{format}");
    }
}
