//! Pure helpers shared by the page, the browser code and the server: wording, numbers, the
//! score rule the page shows detections by, and the JSON the "Copy JSON" button puts on the
//! clipboard. No components here: the server words its answers with these too.

use crate::types::{DetectResponse, DetectionOut, Problem};

/// Whether a detection passes the score threshold: the contract's one rule.
pub fn passes(d: &DetectionOut, threshold: f32) -> bool {
    wire::passes(d.score, threshold)
}

/// `0.93`
pub fn score(score: f32) -> String {
    format!("{score:.2}")
}

/// `x1, y1 – x2, y2` in whole pixels.
pub fn bbox(d: &DetectionOut) -> String {
    let b = d.bbox;
    format!("{:.0}, {:.0} – {:.0}, {:.0}", b.x1, b.y1, b.x2, b.y2)
}

/// `x1,y1,x2,y2` with one decimal, for `data-box` (read by the browser tests).
pub fn bbox_data(d: &DetectionOut) -> String {
    let b = d.bbox;
    format!("{:.1},{:.1},{:.1},{:.1}", b.x1, b.y1, b.x2, b.y2)
}

/// A duration in milliseconds, worded for people: `8.4 ms`, `95 ms`, `1.25 s`.
pub fn millis(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        "–".to_owned()
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// A byte count: `4 MiB`, `1.5 MiB`, `300 KiB`, `12 bytes`.
pub fn bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        if n.is_multiple_of(MIB) {
            format!("{} MiB", n / MIB)
        } else {
            format!("{:.1} MiB", n as f64 / MIB as f64)
        }
    } else if n >= KIB {
        format!("{:.0} KiB", n as f64 / KIB as f64)
    } else if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}

/// `1 object`, `3 objects`.
pub fn objects(n: usize) -> String {
    if n == 1 {
        "1 object".to_owned()
    } else {
        format!("{n} objects")
    }
}

/// `1 image`, `3 images`.
pub fn images(n: usize) -> String {
    if n == 1 {
        "1 image".to_owned()
    } else {
        format!("{n} images")
    }
}

/// Whether a label names a class a person would look for (not `__background__`, nor the
/// `N/A` placeholders of torchvision's COCO ids).
fn is_class(label: &str) -> bool {
    !label.is_empty() && !label.starts_with("__") && label != "N/A"
}

/// The number of real classes a model knows.
pub fn class_count(labels: &[String]) -> usize {
    labels.iter().filter(|l| is_class(l)).count()
}

/// The names of the real classes a model knows, in class-id order.
pub fn class_names(labels: &[String]) -> Vec<String> {
    labels.iter().filter(|l| is_class(l)).cloned().collect()
}

/// One line saying what was found, e.g. `Found 3 objects above 0.50 (2 weaker hidden)`.
pub fn summary(response: &DetectResponse, threshold: f32) -> String {
    let total = response.detections.len();
    let shown = response
        .detections
        .iter()
        .filter(|d| passes(d, threshold))
        .count();
    let hidden = total - shown;
    let t = score(threshold);
    match (shown, hidden) {
        (0, 0) => "No objects found".to_owned(),
        (0, h) => format!("No objects above {t} ({} weaker hidden)", h),
        (s, 0) => format!("Found {} above {t}", objects(s)),
        (s, h) => format!("Found {} above {t} ({} weaker hidden)", objects(s), h),
    }
}

/// The detections above the threshold as pretty JSON: what "Copy JSON" copies.
pub fn detections_json(response: &DetectResponse, source: &str, threshold: f32) -> String {
    let detections: Vec<&DetectionOut> = response
        .detections
        .iter()
        .filter(|d| passes(d, threshold))
        .collect();
    let value = serde_json::json!({
        "source": source,
        "model": response.model.name,
        "image": response.image,
        "threshold": (threshold * 100.0).round() / 100.0,
        "detections": detections,
    });
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_owned())
}

/// `photo.jpg` -> `photo-lookout.png`; URLs and odd names give a safe file name.
pub fn download_name(source: &str) -> String {
    let last = source
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let stem = last.rsplit_once('.').map(|(s, _)| s).unwrap_or(last);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let clean = clean.trim_matches('-');
    if clean.is_empty() {
        "lookout.png".to_owned()
    } else {
        format!("{clean}-lookout.png")
    }
}

/// The problem to show for an HTTP answer that failed: the server's own Problem JSON when
/// the body holds one, else words chosen from the status code.
pub fn problem_from_http(status: u16, body: &str) -> Problem {
    if let Ok(p) = serde_json::from_str::<Problem>(body) {
        if !p.title.is_empty() {
            return p;
        }
    }
    match status {
        0 => network_problem(),
        413 => Problem::new(413, "Image too large", "the image is larger than this server accepts; try a smaller one"),
        415 => Problem::new(
            415,
            "Not an image",
            "the file is not an image this server can read; try a JPEG, PNG, WebP, GIF, BMP or TIFF",
        ),
        429 | 503 => Problem::new(
            status,
            "Lookout is busy",
            "too many images are being processed right now; try again in a few seconds",
        ),
        504 => Problem::new(504, "Timed out", "the detection took too long; try a smaller image"),
        _ => Problem::new(
            status,
            "Something went wrong",
            format!("the server answered with HTTP status {status}; try again"),
        ),
    }
}

/// The problem for a request that never got an answer.
pub fn network_problem() -> Problem {
    Problem::new(
        0,
        "Could not reach Lookout",
        "the request did not get through; check your connection and try again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BoxPx, ImageSize, ModelSummary, TimingMs};

    fn det(label: &str, score: f32) -> DetectionOut {
        DetectionOut {
            label: label.to_owned(),
            class_id: 1,
            score,
            bbox: BoxPx {
                x1: 1.0,
                y1: 2.4,
                x2: 30.5,
                y2: 40.0,
            },
        }
    }

    fn response(scores: &[f32]) -> DetectResponse {
        DetectResponse {
            model: ModelSummary {
                name: "shapes".into(),
                layout: "torchvision".into(),
                sha256: "x".into(),
                labels: vec!["__background__".into(), "red_rectangle".into()],
            },
            image: ImageSize {
                width: 64,
                height: 48,
            },
            detections: scores.iter().map(|s| det("red_rectangle", *s)).collect(),
            timing_ms: TimingMs::default(),
            tiles: None,
        }
    }

    #[test]
    fn wording() {
        assert_eq!(millis(8.44), "8.4 ms");
        assert_eq!(millis(95.4), "95 ms");
        assert_eq!(millis(1250.0), "1.25 s");
        assert_eq!(bytes(4 * 1024 * 1024), "4 MiB");
        assert_eq!(bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(bytes(2048), "2 KiB");
        assert_eq!(objects(1), "1 object");
        assert_eq!(images(3), "3 images");
        assert_eq!(bbox(&det("a", 0.5)), "1, 2 – 30, 40");
        assert_eq!(
            class_count(&["__background__".into(), "a".into(), "b".into()]),
            2
        );
        assert_eq!(
            class_names(&[
                "__background__".into(),
                "a".into(),
                "N/A".into(),
                "b".into()
            ]),
            ["a", "b"]
        );
    }

    #[test]
    fn summary_counts_hidden_detections() {
        assert_eq!(summary(&response(&[]), 0.5), "No objects found");
        assert_eq!(
            summary(&response(&[0.9, 0.2]), 0.5),
            "Found 1 object above 0.50 (1 weaker hidden)"
        );
        assert_eq!(
            summary(&response(&[0.9, 0.5]), 0.5),
            "Found 2 objects above 0.50"
        );
        assert_eq!(
            summary(&response(&[0.1]), 0.5),
            "No objects above 0.50 (1 weaker hidden)"
        );
    }

    #[test]
    fn json_holds_only_detections_above_the_threshold() {
        let json = detections_json(&response(&[0.9, 0.2]), "a.png", 0.5);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["detections"].as_array().unwrap().len(), 1);
        assert_eq!(v["detections"][0]["label"], "red_rectangle");
        assert!(v["detections"][0]["box"]["x1"].is_number());
        assert_eq!(v["image"]["width"], 64);
        assert_eq!(v["source"], "a.png");
    }

    #[test]
    fn download_names_are_safe() {
        assert_eq!(download_name("photo.jpg"), "photo-lookout.png");
        assert_eq!(
            download_name("https://example.com/a/b/cat%20pic.png?x=1"),
            "cat-20pic-lookout.png"
        );
        assert_eq!(download_name("https://example.com/"), "example-lookout.png");
        assert_eq!(download_name(""), "lookout.png");
        assert_eq!(download_name("../../\"x\".jpg"), "x-lookout.png");
    }

    #[test]
    fn problems_from_http() {
        let p = problem_from_http(
            500,
            r#"{"type":"about:blank","title":"Not an image","status":415,"detail":"d"}"#,
        );
        assert_eq!((p.status, p.title.as_str()), (415, "Not an image"));
        assert_eq!(problem_from_http(413, "<html>").title, "Image too large");
        assert_eq!(problem_from_http(503, "").title, "Lookout is busy");
        assert_eq!(problem_from_http(0, "").status, 0);
        assert_eq!(problem_from_http(418, "").status, 418);
    }
}
