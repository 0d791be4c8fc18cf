//! The page without JavaScript. The plain form posts to `/detect`; the server answers with
//! the same page, rendered by the same components, with the result provided as context: a
//! [`Plain`]. The components then show an `<img>` of the annotated picture where the canvas
//! would be, and the shell leaves out the app's scripts (the answer to a form post is a
//! document, not an app to hydrate; only Leptos' inert resource data remains).

use leptos::prelude::*;

use crate::types::{DetectResponse, Problem};

/// Where the plain form posts (the server mounts its handler here).
pub const FORM_PATH: &str = "/detect";

/// The result of a form post, for the server to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Plain {
    /// The uploaded file's name.
    pub source: String,
    /// The threshold the form asked for: the table and legend show what passes it.
    pub threshold: f32,
    /// Whether the form asked to look for small objects tile by tile.
    pub tile: bool,
    pub outcome: Result<DetectResponse, Problem>,
    /// The annotated picture as a `data:` URL, when there is one.
    pub image: Option<String>,
}

/// The result being rendered without JavaScript, if this is such a page.
pub fn plain() -> Option<Plain> {
    use_context::<Plain>()
}

/// The number of pixels above which the annotated picture of a plain page is a JPEG rather
/// than a PNG (a photo as PNG would make the page many times larger than the photo).
pub const PNG_MAX_PIXELS: u64 = 4_000_000;
