//! What the event handlers call. In the browser (`hydrate`) these are the real thing in
//! `client`; on the server, where no event ever fires, they do nothing.

#[cfg(feature = "hydrate")]
pub use super::client::{
    canvas_hover, choose_file, copy_json, download, file_chosen, init, redraw, sample_click,
    upload_form_submit, url_submit,
};

#[cfg(not(feature = "hydrate"))]
pub use server_side::*;

#[cfg(not(feature = "hydrate"))]
mod server_side {
    use super::super::state::Ui;
    use leptos::ev;

    pub fn init(_ui: Ui) {}
    pub fn redraw(_ui: Ui) {}
    pub fn choose_file(_ui: Ui) {}
    pub fn file_chosen(_ui: Ui, _ev: ev::Event) {}
    pub fn upload_form_submit(_ui: Ui, _ev: ev::SubmitEvent) {}
    pub fn url_submit(_ui: Ui, _ev: ev::SubmitEvent) {}
    pub fn sample_click(_ui: Ui, _url: String) {}
    pub fn canvas_hover(_ui: Ui, _ev: ev::MouseEvent) {}
    pub fn download(_ui: Ui) {}
    pub fn copy_json(_ui: Ui) {}
}
