//! What the page needs from the host besides the detection calls: the upload limit (for a
//! friendly pre-check before a large upload starts), the sample images it can offer, the
//! models it can pick from, and whether the server wants an API key.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::types::Problem;

/// Settings the page reads once, when it is rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiSettings {
    /// The largest upload the server accepts, in bytes.
    pub max_upload_bytes: u64,
    /// Same-origin URLs of the sample images (`/samples/...`), sorted.
    pub samples: Vec<String>,
    /// The server was started with `--api-key`: detections need it.
    pub key_required: bool,
    /// The loaded models, the default first.
    pub models: Vec<ModelChoice>,
}

/// A model the page can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChoice {
    /// The name to ask for (`model=...`).
    pub name: String,
    /// The classes it knows (background and placeholders not counted).
    pub classes: usize,
    /// Their names, in class-id order: what the page says the model finds.
    pub labels: Vec<String>,
}

/// The upload limit, the sample images found in the site's `samples/` folder, the loaded
/// models and whether a key is needed.
#[server(prefix = "/api", endpoint = "ui_config")]
pub async fn ui_config() -> Result<UiSettings, Problem> {
    let backend = crate::backend::backend()?;
    Ok(UiSettings {
        max_upload_bytes: backend.max_upload_bytes() as u64,
        samples: list_samples(),
        key_required: backend.key_required(),
        models: backend
            .models()
            .into_iter()
            .map(|m| {
                let labels = crate::format::class_names(&m.labels);
                ModelChoice {
                    classes: labels.len(),
                    labels,
                    name: m.name,
                }
            })
            .collect(),
    })
}

/// `/samples/<name>` for each image in `<site root>/samples`: the site root is
/// `LEPTOS_SITE_ROOT`, else `target/site` (cargo-leptos' default, relative to the working
/// directory). Only plain file names are offered, so nothing needs escaping.
#[cfg(feature = "ssr")]
fn list_samples() -> Vec<String> {
    let root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".to_owned());
    let dir = std::path::Path::new(&root).join("samples");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| is_sample_name(name))
        .collect();
    names.sort();
    names.into_iter().map(|n| format!("/samples/{n}")).collect()
}

#[cfg(feature = "ssr")]
fn is_sample_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let image = [".jpg", ".jpeg", ".png", ".webp"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    let plain = !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    image && plain
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::is_sample_name;

    #[test]
    fn only_plain_image_names_are_samples() {
        assert!(is_sample_name("shapes_9001.jpg"));
        assert!(is_sample_name("A-b.PNG"));
        assert!(!is_sample_name("ground_truth.json"));
        assert!(!is_sample_name(".hidden.jpg"));
        assert!(!is_sample_name("we ird.jpg"));
        assert!(!is_sample_name("x\"y.jpg"));
    }
}
