//! How each door's answer is read back: its status, problem kind and detail, and the
//! detections and tiles it reports, whatever its encoding (JSON, a batch item, the page).

use reqwest::header;

use crate::doors::Door;

/// A door's answer, read back (what every answer carries is checked on the way).
pub struct Answer {
    pub status: u16,
    /// The problem's `type` (the JSON doors; the form answers with the page).
    pub kind: Option<String>,
    /// The problem's detail: the JSON problem's, or the text of the form page's alert.
    pub detail: Option<String>,
    pub content_type: String,
    /// The body; for a one-image batch answered in JSON, its one item's `result` or
    /// `problem` (what a single request would have answered).
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                &self.text()[..self.body.len().min(300)]
            )
        })
    }
}

/// Reads a door's answer, checking the headers every answer carries whatever it says.
pub async fn answer(door: Door, response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{door:?} {status}: {name}"
        );
    }
    assert!(headers.contains_key("x-request-id"), "{door:?}: request id");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap().to_vec();
    let batch_results = (door.is_batch() && status == 200 && content_type == "application/json")
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).unwrap())
        .filter(|answer| answer.get("results").is_some());
    if let Some(answer) = batch_results {
        // One image: its item is what a single request would have answered.
        let results = answer["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{door:?}: {answer}");
        let item = &results[0];
        let status = u16::try_from(item["status"].as_u64().unwrap()).unwrap();
        return match item.get("problem") {
            Some(problem) => {
                assert_eq!(problem["status"], status);
                Answer {
                    status,
                    kind: Some(problem["type"].as_str().unwrap().to_owned()),
                    detail: problem["detail"].as_str().map(str::to_owned),
                    content_type: "application/problem+json".to_owned(),
                    body: problem.to_string().into_bytes(),
                }
            }
            None => Answer {
                status,
                kind: None,
                detail: None,
                content_type,
                body: item["result"].to_string().into_bytes(),
            },
        };
    }
    let (kind, detail) = if door.answers_html() {
        // A person without JavaScript gets the page, whatever went wrong.
        assert!(
            content_type.starts_with("text/html"),
            "{door:?} {status}: {content_type}"
        );
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains(r#"id="upload-form""#), "{door:?} {status}");
        (None, alert_detail(&html))
    } else if status < 400 {
        (None, None)
    } else {
        assert_eq!(
            content_type,
            "application/problem+json",
            "{door:?} {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], status);
        (
            Some(problem["type"].as_str().unwrap().to_owned()),
            problem["detail"].as_str().map(str::to_owned),
        )
    };
    Answer {
        status,
        kind,
        detail,
        content_type,
        body,
    }
}

/// The text of the page's alert (`<p class="alert-detail">`), if it has one.
fn alert_detail(html: &str) -> Option<String> {
    let open = r#"<p class="alert-detail">"#;
    let start = html.find(open)? + open.len();
    let end = start + html[start..].find("</p>")?;
    Some(
        html[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&amp;", "&"),
    )
}

/// One detection as every door reports it: label, score, box (x1, y1, x2, y2).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub label: String,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// The detections in a successful answer: the old API's lists, Lookout's JSON (the URL
/// server function's under `result`), or the form page's table rows.
pub fn found(door: Door, answer: &Answer) -> Vec<Found> {
    if door.answers_html() {
        return answer
            .text()
            .split("<tr")
            .skip(1)
            .map(|tag| &tag[..tag.find('>').unwrap()])
            .filter(|tag| tag.contains("data-box="))
            .map(|tag| {
                let attr = |name: &str| {
                    let at = tag.find(&format!(r#"{name}=""#)).unwrap() + name.len() + 2;
                    &tag[at..at + tag[at..].find('"').unwrap()]
                };
                let b: Vec<f32> = attr("data-box")
                    .split(',')
                    .map(|v| v.parse().unwrap())
                    .collect();
                Found {
                    label: attr("data-label").to_owned(),
                    score: attr("data-score").parse().unwrap(),
                    bbox: [b[0], b[1], b[2], b[3]],
                }
            })
            .collect();
    }
    let body = answer.json();
    if door == Door::Predict {
        let boxes = body["boxes"].as_array().unwrap();
        return (0..boxes.len())
            .map(|i| {
                let b = &boxes[i];
                let at = |p: usize, c: usize| b[p][c].as_f64().unwrap() as f32;
                Found {
                    label: body["classes"][i].as_str().unwrap().to_owned(),
                    score: body["scores"][i].as_f64().unwrap() as f32,
                    bbox: [at(0, 0), at(0, 1), at(1, 0), at(1, 1)],
                }
            })
            .collect();
    }
    let result = if door == Door::PageUrl {
        &body["result"]
    } else {
        &body
    };
    result["detections"]
        .as_array()
        .unwrap_or_else(|| panic!("{door:?}: no detections in {body}"))
        .iter()
        .map(|d| {
            let b = &d["box"];
            let at = |k: &str| b[k].as_f64().unwrap() as f32;
            Found {
                label: d["label"].as_str().unwrap().to_owned(),
                score: d["score"].as_f64().unwrap() as f32,
                bbox: [at("x1"), at("y1"), at("x2"), at("y2")],
            }
        })
        .collect()
}

/// The `tiles` a JSON answer reports (`None` for the doors that report none: the old API and
/// the form).
pub fn tiles(door: Door, answer: &Answer) -> Option<serde_json::Value> {
    if door == Door::Predict || door.answers_html() {
        return None;
    }
    let body = answer.json();
    let result = if door == Door::PageUrl {
        &body["result"]
    } else {
        &body
    };
    Some(
        result
            .get("tiles")
            .cloned()
            .unwrap_or(serde_json::Value::Null),
    )
}

/// The status, the problem kind (JSON doors) and the body, checking what every answer
/// carries whatever it says.
pub async fn outcome(door: Door, response: reqwest::Response) -> (u16, Option<String>, String) {
    let answer = answer(door, response).await;
    let text = answer.text();
    (answer.status, answer.kind, text)
}

pub fn check(
    door: Door,
    case: &str,
    want: (u16, Option<&str>, &str),
    got: (u16, Option<String>, String),
) {
    let (status, kind, says) = want;
    assert_eq!(got.0, status, "{door:?} / {case}: {}", got.2);
    if !door.answers_html() {
        assert_eq!(
            got.1.as_deref(),
            kind.map(|k| format!("urn:lookout:problem:{k}")).as_deref(),
            "{door:?} / {case}"
        );
    }
    assert!(
        got.2.to_lowercase().contains(&says.to_lowercase()),
        "{door:?} / {case}: `{says}` not in {}",
        &got.2[..got.2.len().min(600)]
    );
}
