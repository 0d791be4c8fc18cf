use leptos::prelude::*;

use super::items::Phase;
use super::state::Ui;
use crate::format;

/// What is happening now (a polite live region with a progress bar), and what went wrong
/// (an alert).
#[component]
pub fn StatusBar() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let source = move || {
        ui.source
            .get()
            .map(|s| short_source(&s))
            .unwrap_or_default()
    };
    let text = move || match ui.phase.get() {
        Phase::Idle => String::new(),
        Phase::Waiting => format!("{} is waiting its turn…", source()),
        Phase::Uploading { percent: Some(p) } => format!("Uploading {}… {p}%", source()),
        Phase::Uploading { percent: None } => format!("Loading {}…", source()),
        Phase::Detecting => format!("Looking for objects in {}…", source()),
        Phase::Done => ui
            .shown
            .with(|s| {
                s.as_ref()
                    .map(|s| format::summary(&s.response, ui.threshold.get()))
            })
            .unwrap_or_default(),
        Phase::Failed => format!("Could not process {}.", source()),
    };
    let busy = move || matches!(ui.phase.get(), Phase::Uploading { .. } | Phase::Detecting);
    // The alert goes with the item on screen; a page rendered after a form post has it too.

    view! {
        <div class="status-row" class:busy=busy>
            <p id="status" class="status" role="status" aria-live="polite">
                {text}
            </p>
            // Determinate while the upload's size is known, else indeterminate (no value).
            {move || {
                let (value, label) = match ui.phase.get() {
                    Phase::Uploading { percent: Some(p) } => (Some(p.to_string()), "Upload progress"),
                    Phase::Uploading { percent: None } | Phase::Detecting => {
                        (None, "Detecting objects")
                    }
                    _ => return None,
                };
                Some(view! { <progress id="progress" max="100" value=value aria-label=label></progress> })
            }}
        </div>
        <div id="alert" class="alert-slot" role="alert">
            {move || {
                ui.error
                    .get()
                    .map(|p| {
                        view! {
                            <div class="alert" data-status=p.status.to_string()>
                                <p class="alert-title">{p.title.clone()}</p>
                                <p class="alert-detail">{capitalise(&p.detail)}</p>
                            </div>
                        }
                    })
            }}
        </div>
    }
}

/// A file name as is; a long URL shortened for the status line.
fn short_source(source: &str) -> String {
    let count = source.chars().count();
    if count <= 60 {
        source.to_owned()
    } else {
        let head: String = source.chars().take(40).collect();
        let tail: String = source.chars().skip(count - 15).collect();
        format!("{head}…{tail}")
    }
}

/// Problem details are written as sentence continuations (`the upload is larger…`).
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with(['.', '!', '?']) {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        assert_eq!(
            capitalise("the upload is too big"),
            "The upload is too big."
        );
        assert_eq!(capitalise("Done."), "Done.");
        assert_eq!(capitalise(""), "");
        assert_eq!(short_source("a.png"), "a.png");
        assert_eq!(short_source(&"x".repeat(100)).chars().count(), 56);
    }
}
