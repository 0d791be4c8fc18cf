//! Small inline SVG icons (decorative: hidden from screen readers).

use leptos::prelude::*;

/// A viewfinder: four corners around a filled square.
#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">
            <path
                d="M4 8.5V6a2 2 0 0 1 2-2h2.5M15.5 4H18a2 2 0 0 1 2 2v2.5M20 15.5V18a2 2 0 0 1-2 2h-2.5M8.5 20H6a2 2 0 0 1-2-2v-2.5"
                fill="none"
                stroke="currentColor"
                stroke-width="2"
                stroke-linecap="round"
            ></path>
            <rect x="8.5" y="8.5" width="7" height="7" rx="1.5" fill="currentColor"></rect>
        </svg>
    }
}

/// An image with an arrow: "add a picture".
#[component]
pub fn ImageIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="36" height="36" aria-hidden="true" focusable="false">
            <rect x="3" y="4" width="18" height="16" rx="2.5" fill="none" stroke="currentColor" stroke-width="1.6"></rect>
            <circle cx="8.5" cy="9.5" r="1.8" fill="currentColor"></circle>
            <path d="M4 17.5l5-5 3.5 3.5 2.5-2.5 5 4.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round"></path>
        </svg>
    }
}

#[component]
pub fn DownloadIcon() -> impl IntoView {
    view! {
        <svg class="btn-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <path d="M12 4v11M7 10.5l5 5 5-5M5 20h14" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"></path>
        </svg>
    }
}

#[component]
pub fn CopyIcon() -> impl IntoView {
    view! {
        <svg class="btn-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <rect x="8" y="8" width="12" height="12" rx="2" fill="none" stroke="currentColor" stroke-width="2"></rect>
            <path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2" fill="none" stroke="currentColor" stroke-width="2"></path>
        </svg>
    }
}

#[component]
pub fn ExportIcon() -> impl IntoView {
    view! {
        <svg class="btn-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <path d="M12 15V4M7 8.5l5-5 5 5M5 14v4a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-4" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"></path>
        </svg>
    }
}

/// A class's colour, as a small square (an SVG `fill`, which needs no inline style).
#[component]
pub fn Swatch(class_id: i64) -> impl IntoView {
    let colour = crate::palette::class_css(class_id);
    let fill = colour.clone();
    view! {
        <svg class="swatch" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true" focusable="false" data-colour=colour>
            <rect width="12" height="12" rx="3" fill=fill></rect>
        </svg>
    }
}

/// A camera body and lens.
#[component]
pub fn CameraIcon() -> impl IntoView {
    view! {
        <svg class="btn-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <path d="M4 8h3l2-2.5h6L17 8h3v11H4z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"></path>
            <circle cx="12" cy="13" r="3.2" fill="none" stroke="currentColor" stroke-width="2"></circle>
        </svg>
    }
}

/// A film frame with a play mark.
#[component]
pub fn VideoIcon() -> impl IntoView {
    view! {
        <svg class="btn-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <rect x="3" y="5" width="18" height="14" rx="2.5" fill="none" stroke="currentColor" stroke-width="2"></rect>
            <path d="M10 9v6l5-3z" fill="currentColor"></path>
        </svg>
    }
}
