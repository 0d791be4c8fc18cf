//! Lookout's web UI: a server-rendered Leptos page, hydrated in the browser.

pub mod components;
pub mod export;
pub mod palette;
pub mod server_fns;
pub mod types;
pub mod ui_server_fns;

#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(feature = "ssr")]
pub mod nojs;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};

/// Marks the document as scripted before the body is painted, so the CSS can show the
/// drop zone, URL field and samples at once, and the plain form only when scripts are off.
/// (`<head>` is not hydrated, so this cannot cause a hydration mismatch.)
const JS_CLASS_SCRIPT: &str = "document.documentElement.classList.add(\"js\")";

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <script>{JS_CLASS_SCRIPT}</script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
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
        <Stylesheet id="leptos" href="/pkg/lookout.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Title text="Lookout: object detection" />
        <Meta name="description" content="Upload an image or paste a URL and see every detected object boxed and labelled." />
        <Meta name="theme-color" content="#f6f7f9" />
        <Router>
            <Routes fallback=components::not_found::NotFound>
                // Async: the server waits for the model name and settings, so the page is
                // complete even with JavaScript off.
                <Route path=StaticSegment("") view=components::home::HomePage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
