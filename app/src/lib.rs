//! Lookout's web UI: a server-rendered Leptos page, hydrated in the browser.
//!
//! - [`components`]: the page, the same with or without JavaScript ([`nojs`]).
//! - [`client`]: what runs in the browser only (files, uploads, the canvas, downloads).
//! - [`draw`]: how a detection is drawn, for the canvas and the server's annotated images.
//! - [`format`]: wording and numbers (scores, sizes, counts, problems), for the page, the
//!   browser code and the server alike.
//! - [`server_fns`], [`ui_server_fns`]: the page's calls to the server; [`types`]: the wire types.
//! - [`export`]: dataset exports, the same in the server and in the browser.

// The page's view types nest deeply; type erasure (`into_any`) would cost WASM size instead.
#![recursion_limit = "256"]

pub mod client;
pub mod components;
pub mod draw;
pub mod export;
pub mod format;
pub mod nojs;
pub mod palette;
pub mod server_fns;
pub mod types;
pub mod ui_server_fns;

#[cfg(feature = "ssr")]
pub mod backend;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};

/// Marks the document as scripted before the body is painted, so the CSS can show the
/// drop zone, URL field and samples at once, and the plain form only when scripts are off.
/// (`<head>` is not hydrated, so this cannot cause a hydration mismatch.)
const JS_CLASS_SCRIPT: &str = "document.documentElement.classList.add(\"js\")";

/// The page's Content-Security-Policy: scripts from this site and the inline ones carrying
/// this response's `nonce` (the hydration bootstrap, the `js` class, Leptos' resource data),
/// WebAssembly compilation, styles from this site only, requests (and the live stream's
/// WebSocket) to this site only, video files the person chose (`blob:` URLs made by the
/// page), and no framing.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
         connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The page's own headers: its policy (with this response's nonce), and no caching of the
/// HTML itself (the assets it names are cached for good: their names change with them).
#[cfg(feature = "ssr")]
fn page_headers() {
    use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY};
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::use_nonce()
        .map(|n| n.to_string())
        .unwrap_or_default();
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        response.insert_header(CONTENT_SECURITY_POLICY, policy);
    }
    response.insert_header(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// The HTML document around the app, rendered on the server. A page answering a form post
/// ([`nojs::Plain`]) is a plain document: the app's scripts are left out.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    page_headers();
    let scripted = nojs::plain().is_none();
    let nonce = leptos::nonce::use_nonce();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <HashedStylesheet options=options.clone() id="leptos" />
                {scripted
                    .then(|| {
                        view! {
                            <script nonce=nonce>{JS_CLASS_SCRIPT}</script>
                            <AutoReload options=options.clone() />
                            <HydrationScripts options=options.clone() />
                        }
                    })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Title text="Lookout: object detection" />
        <Meta name="description" content="Upload an image or paste a URL and see every detected object boxed and labelled." />
        <Meta name="theme-color" content="#f6f7f9" />
        <Router>
            <Routes fallback=components::not_found::NotFound>
                // Async: the server waits for the settings, so the page is complete even with
                // JavaScript off.
                <Route path=StaticSegment("") view=components::home::HomePage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_allows_no_inline_script_without_the_nonce() {
        let policy = super::content_security_policy("abc");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"));
        assert!(policy.contains("connect-src 'self';"));
        assert!(policy.contains("media-src 'self' blob:;"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
    }
}
