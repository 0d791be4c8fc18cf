//! The result page for browsers without JavaScript: the server's `POST /detect` answers with
//! one of these complete HTML documents (same stylesheet and header as the app).

use std::fmt::Write as _;

use crate::components::format;
use crate::components::icons::LOGO_SVG;
use crate::components::status::capitalise;
use crate::palette::class_css;
use crate::types::{DetectResponse, Problem};

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, model: Option<&str>, main: &str) -> String {
    let model = match model {
        Some(name) => format!(
            r#"<p class="model"><span class="model-label">Model</span> <strong class="model-name" id="model-name">{}</strong></p>"#,
            escape(name)
        ),
        None => String::new(),
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<link rel="stylesheet" href="/pkg/lookout.css">
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
</head>
<body>
<div class="app">
<header class="top"><h1 class="brand"><a href="/">{logo}<span>Lookout</span></a></h1>{model}</header>
<main class="page" id="main">
{main}
</main>
</div>
</body>
</html>
"##,
        title = escape(title),
        logo = LOGO_SVG,
    )
}

const BACK_LINK: &str = r#"<p class="back"><a class="btn" href="/">← Detect another image</a></p>"#;

/// The result of a no-JS upload: the annotated image (a `data:` URI of the server's PNG),
/// the detections above `threshold` as a table, the timings, and a link back to `/`.
pub fn result_document(
    response: &DetectResponse,
    threshold: f32,
    annotated_png_data_uri: &str,
) -> String {
    let shown: Vec<_> = response
        .detections
        .iter()
        .filter(|d| format::passes(d, threshold))
        .collect();
    let t = response.timing_ms;
    let mut main = String::new();
    main.push_str(BACK_LINK);
    let _ = write!(
        main,
        r#"<div class="status-row"><p id="status" class="status">{} · model {} · total {}</p></div>"#,
        escape(&format::summary(response, threshold)),
        escape(&format::millis(t.inference)),
        escape(&format::millis(t.total)),
    );
    main.push_str(
        r#"<section id="result" class="result" aria-label="Result"><div class="result-grid">"#,
    );
    let _ = write!(
        main,
        r#"<figure class="card stage-card"><div class="stage"><img id="annotated" src="{src}" width="{w}" height="{h}" alt="{alt}"></div>"#,
        src = escape(annotated_png_data_uri),
        w = response.image.width,
        h = response.image.height,
        alt = escape(&format!(
            "The image with {} boxed",
            format::objects(shown.len())
        )),
    );
    // Legend: each class shown, with its colour and count.
    let mut classes: Vec<(i64, &str, usize)> = Vec::new();
    for d in &shown {
        match classes.iter_mut().find(|c| c.0 == d.class_id) {
            Some(c) => c.2 += 1,
            None => classes.push((d.class_id, &d.label, 1)),
        }
    }
    classes.sort_by_key(|c| c.0);
    main.push_str(
        r#"<figcaption><ul class="legend" id="legend" aria-label="Colours of the classes">"#,
    );
    for (id, label, count) in &classes {
        let _ = write!(
            main,
            r#"<li data-class-id="{id}"><span class="swatch" style="--c:{c}"></span><span class="legend-label">{l}</span><span class="legend-count">{count}</span></li>"#,
            c = escape(&class_css(*id)),
            l = escape(label),
        );
    }
    main.push_str("</ul></figcaption></figure>");

    let _ = write!(
        main,
        r#"<div class="card detections"><h2 class="card-title">Detections <span class="count" id="detection-count">{}</span></h2><div class="table-wrap"><table id="detections"><thead><tr><th scope="col">Object</th><th scope="col" class="num">Score</th><th scope="col" class="num">Box (x1, y1 – x2, y2)</th></tr></thead><tbody>"#,
        escape(&format::objects(shown.len())),
    );
    for (i, d) in shown.iter().enumerate() {
        let _ = write!(
            main,
            r#"<tr class="det" data-index="{i}" data-label="{label}" data-class-id="{cid}" data-score="{score}" data-box="{bx}"><td class="obj"><span class="swatch" style="--c:{c}"></span><span class="det-label">{label}</span></td><td class="num">{s}</td><td class="num box">{b}</td></tr>"#,
            label = escape(&d.label),
            cid = d.class_id,
            score = d.score,
            bx = escape(&format::bbox_data(d)),
            c = escape(&class_css(d.class_id)),
            s = escape(&format::score(d.score)),
            b = escape(&format::bbox(d)),
        );
    }
    main.push_str("</tbody></table></div>");
    if shown.is_empty() {
        let _ = write!(
            main,
            r#"<p class="empty" id="no-detections">No objects above {}. Go back and try a lower threshold.</p>"#,
            escape(&format::score(threshold)),
        );
    }
    main.push_str("</div></div></section>");

    let title = format!("Lookout: {}", format::summary(response, threshold));
    document(&title, Some(&response.model.name), &main)
}

/// Why a no-JS upload failed, in the page's alert style, with a link back to `/`.
pub fn error_document(problem: &Problem) -> String {
    let mut main = String::new();
    main.push_str(BACK_LINK);
    let _ = write!(
        main,
        r#"<div id="alert" class="alert-slot" role="alert"><div class="alert" data-status="{status}"><p class="alert-title">{title}</p><p class="alert-detail">{detail}</p></div></div>"#,
        status = problem.status,
        title = escape(&problem.title),
        detail = escape(&capitalise(&problem.detail)),
    );
    document(&format!("Lookout: {}", problem.title), None, &main)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BoxPx, DetectionOut, ImageSize, ModelSummary, TimingMs};

    fn response() -> DetectResponse {
        DetectResponse {
            model: ModelSummary {
                name: "shapes <b>".into(),
                layout: "torchvision".into(),
                sha256: "0".into(),
                labels: vec![],
            },
            image: ImageSize {
                width: 640,
                height: 480,
            },
            detections: vec![
                DetectionOut {
                    label: "red_rectangle".into(),
                    class_id: 1,
                    score: 0.97,
                    bbox: BoxPx {
                        x1: 10.0,
                        y1: 20.0,
                        x2: 110.0,
                        y2: 90.0,
                    },
                },
                DetectionOut {
                    label: "<script>alert(1)</script>".into(),
                    class_id: 2,
                    score: 0.2,
                    bbox: BoxPx {
                        x1: 1.0,
                        y1: 2.0,
                        x2: 3.0,
                        y2: 4.0,
                    },
                },
            ],
            timing_ms: TimingMs {
                decode: 1.0,
                queue: 0.0,
                inference: 95.0,
                total: 120.0,
            },
        }
    }

    #[test]
    fn result_lists_detections_above_the_threshold_and_escapes() {
        let html = result_document(&response(), 0.5, "data:image/png;base64,AAAA\"x");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(r#"<link rel="stylesheet" href="/pkg/lookout.css">"#));
        assert!(html.contains(r#"src="data:image/png;base64,AAAA&quot;x""#));
        assert!(html.contains(r#"width="640" height="480""#));
        assert!(html.contains("red_rectangle"));
        assert!(
            !html.contains("<script>"),
            "below the threshold, and escaped anyway"
        );
        assert!(html.contains("shapes &lt;b&gt;"));
        assert!(html.contains(r#"href="/""#));
        assert_eq!(html.matches("<tr class=\"det\"").count(), 1);
        assert!(html.contains("95 ms"));

        let all = result_document(&response(), 0.1, "data:,");
        assert!(all.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!all.contains("<script>"));
    }

    #[test]
    fn error_document_escapes_the_problem() {
        let p = Problem::new(415, "Not an image", "the file <x> is text");
        let html = error_document(&p);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("Not an image"));
        assert!(html.contains("The file &lt;x&gt; is text."));
        assert!(html.contains(r#"data-status="415""#));
        assert!(html.contains(r#"href="/""#));
    }

    #[test]
    fn documents_balance_their_tags() {
        for html in [
            result_document(&response(), 0.1, "data:,"),
            error_document(&Problem::new(400, "a", "b")),
        ] {
            for tag in [
                "html", "head", "body", "div", "main", "header", "table", "tbody", "tr", "td", "p",
                "ul", "li", "figure", "section", "svg", "a",
            ] {
                let open = html.matches(&format!("<{tag}>")).count()
                    + html.matches(&format!("<{tag} ")).count();
                let close = html.matches(&format!("</{tag}>")).count();
                assert_eq!(open, close, "<{tag}> in {html}");
            }
        }
    }
}
