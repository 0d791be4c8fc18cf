//! Browser-only code: reading files, uploading with progress, decoding images upright,
//! drawing the canvas, drag and drop, paste, download and copy.
//!
//! Nothing here may panic: every browser call that can fail is handled, and failures end up
//! in the page (the alert, the notice under the canvas, or the flash next to the buttons).

use std::cell::{Cell, RefCell};

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, CanvasRenderingContext2d, DataTransfer, File, FormData, HtmlAnchorElement,
    HtmlCanvasElement, HtmlElement, HtmlImageElement, HtmlInputElement, ImageBitmap,
    ImageBitmapOptions, ImageOrientation, ProgressEvent, RequestInit, RequestMode, ResizeObserver,
    Response, XmlHttpRequest,
};

use super::format;
use super::state::{ImageView, Phase, Ui};
use crate::palette::class_rgb;
use crate::types::{DetectResponse, DetectionOut, Problem};

/// Where the page uploads files (the `detect_upload` server function's URL).
const UPLOAD_URL: &str = "/api/detect_upload";
/// How long an upload plus detection may take before the page gives up.
const UPLOAD_TIMEOUT_MS: u32 = 180_000;
/// The canvas never gets taller than this share of the window.
const MAX_CANVAS_HEIGHT_SHARE: f64 = 0.72;

/// An upload in flight: the request and the callbacks it calls (dropped with it).
struct Inflight {
    xhr: XmlHttpRequest,
    _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

thread_local! {
    /// The decoded, upright image of request `.0`.
    static BITMAP: RefCell<Option<(u64, ImageBitmap)>> = const { RefCell::new(None) };
    static INFLIGHT: RefCell<Option<Inflight>> = const { RefCell::new(None) };
    /// `dragenter` minus `dragleave` on the page, to know when a drag really left it.
    static DRAG_DEPTH: Cell<i32> = const { Cell::new(0) };
    /// The stage width the canvas was last laid out for.
    static STAGE_WIDTH: Cell<f64> = const { Cell::new(-1.0) };
    static DOWNLOAD_URL: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Browser objects that live as long as the page.
    static KEEP: RefCell<Vec<JsValue>> = const { RefCell::new(Vec::new()) };
}

// ---------------------------------------------------------------------------------------
// Wiring

/// Starts listening to the page: paste, drag and drop anywhere, and resizes.
pub fn init(ui: Ui) {
    let _ = window_event_listener(ev::paste, move |e| on_paste(ui, e));
    let _ = window_event_listener(ev::dragenter, move |e| on_drag_enter(ui, e));
    let _ = window_event_listener(ev::dragover, on_drag_over);
    let _ = window_event_listener(ev::dragleave, move |_| on_drag_leave(ui));
    let _ = window_event_listener(ev::drop, move |e| on_drop(ui, e));
    let _ = window_event_listener(ev::resize, move |_| schedule_redraw(ui));

    // The stage's width follows the layout (window size, phone rotation, side panels);
    // redraw on the next frame so resizing the canvas never loops inside the observer.
    let on_resize = Closure::<dyn FnMut(js_sys::Array)>::new(move |_entries: js_sys::Array| {
        let width = ui
            .stage
            .get_untracked()
            .map(|s| s.client_width() as f64)
            .unwrap_or(0.0);
        if width != STAGE_WIDTH.with(Cell::get) {
            schedule_redraw(ui);
        }
    });
    if let (Ok(observer), Some(stage)) = (
        ResizeObserver::new(on_resize.as_ref().unchecked_ref()),
        ui.stage.get_untracked(),
    ) {
        observer.observe(&stage);
        KEEP.with_borrow_mut(|k| k.push(observer.into()));
    }
    KEEP.with_borrow_mut(|k| k.push(on_resize.into_js_value()));
}

fn schedule_redraw(ui: Ui) {
    request_animation_frame(move || redraw(ui));
}

/// Forgets the previous request (aborting its upload) and starts a new one.
fn begin(ui: Ui, source: String, phase: Phase) -> u64 {
    cancel_upload();
    BITMAP.with_borrow_mut(|b| {
        if let Some((_, old)) = b.take() {
            old.close();
        }
    });
    if let Some(canvas) = ui.canvas.get_untracked() {
        let _ = canvas.remove_attribute("data-boxes");
        let _ = canvas.remove_attribute("data-active");
    }
    ui.begin(source, phase)
}

fn cancel_upload() {
    // Take it out first: abort() runs the callbacks, which must not find it borrowed.
    if let Some(old) = INFLIGHT.with_borrow_mut(Option::take) {
        let _ = old.xhr.abort();
        drop(old);
    }
}

fn js_error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        String::from(err.message())
    } else if let Some(s) = e.as_string() {
        s
    } else {
        "unknown error".to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// Inputs

/// The drop zone was clicked: open the file picker.
pub fn choose_file(ui: Ui) {
    if let Some(input) = ui.file_input.get_untracked() {
        input.click();
    }
}

/// A file was chosen in the picker.
pub fn file_chosen(ui: Ui, ev: ev::Event) {
    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
    else {
        return;
    };
    if let Some(file) = input.files().and_then(|f| f.get(0)) {
        let name = file.name();
        start_upload(ui, file.into(), name);
    }
    // Choosing the same file again should upload it again.
    input.set_value("");
}

/// The upload form was submitted with scripts on (Enter in a field): upload the chosen file.
pub fn upload_form_submit(ui: Ui, ev: ev::SubmitEvent) {
    ev.prevent_default();
    let file = ui
        .file_input
        .get_untracked()
        .and_then(|i| i.files())
        .and_then(|f| f.get(0));
    match file {
        Some(file) => {
            let name = file.name();
            start_upload(ui, file.into(), name);
        }
        None => choose_file(ui),
    }
}

/// The URL form was submitted (Enter or the button).
pub fn url_submit(ui: Ui, ev: ev::SubmitEvent) {
    ev.prevent_default();
    start_url(ui, ui.url_text.get_untracked());
}

/// A sample was clicked: fetch it from this site and upload it like a chosen file.
pub fn sample_click(ui: Ui, url: String) {
    let name = url.rsplit('/').next().unwrap_or("sample").to_owned();
    let id = begin(ui, name.clone(), Phase::Uploading { percent: None });
    spawn_local(async move {
        match fetch_blob(&url, false).await {
            Ok(blob) => {
                if ui.is_current(id) {
                    start_upload(ui, blob, name);
                }
            }
            Err(e) => ui.fail(
                id,
                Problem::new(
                    0,
                    "Could not load the sample",
                    format!("{name} did not load ({e}); try again"),
                ),
            ),
        }
    });
}

fn on_paste(ui: Ui, ev: web_sys::ClipboardEvent) {
    let Some(data) = ev.clipboard_data() else {
        return;
    };
    if let Some(file) = first_file(&data) {
        ev.prevent_default();
        let name = match file.name() {
            n if n.is_empty() => "pasted image".to_owned(),
            n => n,
        };
        start_upload(ui, file.into(), name);
        return;
    }
    // Text pasted into a field is just typing.
    if target_is_editable(ev.target()) {
        return;
    }
    let text = data.get_data("text/plain").unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    ev.prevent_default();
    if looks_like_url(text) {
        ui.url_text.set(text.to_owned());
        start_url(ui, text.to_owned());
    } else {
        ui.reject(
            "the clipboard".to_owned(),
            Problem::new(
                400,
                "Nothing to detect",
                "the clipboard holds text, not an image or an image address; copy an image or its link and paste again",
            ),
        );
    }
}

fn has_type(data: &DataTransfer, wanted: &str) -> bool {
    data.types()
        .iter()
        .any(|t| t.as_string().as_deref() == Some(wanted))
}

fn on_drag_enter(ui: Ui, ev: web_sys::DragEvent) {
    if ev.data_transfer().is_some_and(|d| has_type(&d, "Files")) {
        DRAG_DEPTH.with(|d| d.set(d.get() + 1));
        ui.dragging.set(true);
    }
}

fn on_drag_over(ev: web_sys::DragEvent) {
    let Some(data) = ev.data_transfer() else {
        return;
    };
    let files = has_type(&data, "Files");
    let link = has_type(&data, "text/uri-list") && !target_is_editable(ev.target());
    if files || link {
        // Accept the drop here instead of letting the browser open the file.
        ev.prevent_default();
        data.set_drop_effect("copy");
    }
}

fn on_drag_leave(ui: Ui) {
    let depth = DRAG_DEPTH.with(|d| {
        d.set((d.get() - 1).max(0));
        d.get()
    });
    if depth == 0 {
        ui.dragging.set(false);
    }
}

fn on_drop(ui: Ui, ev: web_sys::DragEvent) {
    DRAG_DEPTH.with(|d| d.set(0));
    ui.dragging.set(false);
    let Some(data) = ev.data_transfer() else {
        return;
    };
    if let Some(file) = first_file(&data) {
        ev.prevent_default();
        let name = file.name();
        start_upload(ui, file.into(), name);
        return;
    }
    if target_is_editable(ev.target()) {
        return;
    }
    let link = data
        .get_data("text/uri-list")
        .ok()
        .and_then(|list| {
            list.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
        })
        .or_else(|| {
            data.get_data("text/plain")
                .ok()
                .map(|t| t.trim().to_owned())
        })
        .filter(|t| looks_like_url(t));
    if let Some(url) = link {
        ev.prevent_default();
        ui.url_text.set(url.clone());
        start_url(ui, url);
    }
}

/// The first file in a drop or paste (an image if there is one).
fn first_file(data: &DataTransfer) -> Option<File> {
    let mut files = Vec::new();
    if let Some(list) = data.files() {
        for i in 0..list.length() {
            if let Some(f) = list.get(i) {
                files.push(f);
            }
        }
    }
    if files.is_empty() {
        let items = data.items();
        for i in 0..items.length() {
            if let Some(item) = items.get(i) {
                if item.kind() == "file" {
                    if let Ok(Some(f)) = item.get_as_file() {
                        files.push(f);
                    }
                }
            }
        }
    }
    let image = files.iter().position(|f| f.type_().starts_with("image/"));
    match image {
        Some(i) => Some(files.swap_remove(i)),
        None => files.into_iter().next(),
    }
}

fn target_is_editable(target: Option<web_sys::EventTarget>) -> bool {
    let Some(el) = target.and_then(|t| t.dyn_into::<HtmlElement>().ok()) else {
        return false;
    };
    let tag = el.tag_name().to_ascii_uppercase();
    tag == "INPUT" || tag == "TEXTAREA" || el.is_content_editable()
}

fn looks_like_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && !text.contains(char::is_whitespace)
}

// ---------------------------------------------------------------------------------------
// Uploading a file

/// Checks a file, then uploads it (with progress) while decoding it for the canvas.
pub fn start_upload(ui: Ui, blob: Blob, name: String) {
    let kind = blob.type_();
    if !kind.is_empty() && !kind.starts_with("image/") {
        ui.reject(
            name.clone(),
            Problem::new(
                415,
                "Not an image",
                format!("“{name}” is a {kind} file, not an image; choose a JPEG, PNG, WebP, GIF, BMP or TIFF image"),
            ),
        );
        return;
    }
    if let Some(limit) = ui.upload_limit() {
        if blob.size() > limit as f64 {
            ui.reject(
                name.clone(),
                Problem::new(
                    413,
                    "Image too large",
                    format!(
                        "“{name}” is {}; the upload is larger than the {} limit",
                        format::bytes(blob.size() as u64),
                        format::bytes(limit)
                    ),
                ),
            );
            return;
        }
    }
    let id = begin(ui, name.clone(), Phase::Uploading { percent: Some(0) });
    decode_for_canvas(ui, id, blob.clone());
    if let Err(e) = send_upload(ui, id, &blob, &name) {
        ui.fail(
            id,
            Problem::new(
                0,
                "Could not start the upload",
                format!("the browser refused it ({})", js_error_text(&e)),
            ),
        );
    }
}

fn send_upload(ui: Ui, id: u64, blob: &Blob, name: &str) -> Result<(), JsValue> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open_with_async("POST", UPLOAD_URL, true)?;
    xhr.set_request_header("Accept", "application/json")?;
    xhr.set_timeout(UPLOAD_TIMEOUT_MS);
    let form = FormData::new()?;
    form.append_with_blob_and_filename("image", blob, name)?;

    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        if let Some(e) = e.dyn_ref::<ProgressEvent>() {
            if e.length_computable() && e.total() > 0.0 {
                let percent = ((e.loaded() / e.total()) * 100.0).clamp(0.0, 100.0).floor() as u32;
                ui.set_phase(
                    id,
                    Phase::Uploading {
                        percent: Some(percent),
                    },
                );
            }
        }
    });
    let on_sent = Closure::<dyn FnMut(JsValue)>::new(move |_| ui.set_phase(id, Phase::Detecting));
    let done_xhr = xhr.clone();
    let on_load = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        let status = done_xhr.status().unwrap_or(0);
        let body = done_xhr.response_text().ok().flatten().unwrap_or_default();
        if (200..300).contains(&status) {
            match serde_json::from_str::<DetectResponse>(&body) {
                Ok(response) => {
                    ui.finish(id, response);
                    reveal_result(ui);
                    reveal_result(ui);
                }
                Err(e) => ui.fail(
                    id,
                    Problem::new(
                        502,
                        "Unexpected answer",
                        format!("the server's answer could not be read ({e})"),
                    ),
                ),
            }
        } else {
            ui.fail(id, format::problem_from_http(status, &body));
        }
    });
    let on_error =
        Closure::<dyn FnMut(JsValue)>::new(move |_| ui.fail(id, format::network_problem()));
    let on_timeout = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        ui.fail(
            id,
            Problem::new(
                504,
                "Timed out",
                "the server took too long to answer; try again, or try a smaller image",
            ),
        )
    });

    let upload = xhr.upload()?;
    upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    upload.set_onload(Some(on_sent.as_ref().unchecked_ref()));
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_timeout.as_ref().unchecked_ref()));
    xhr.send_with_opt_form_data(Some(&form))?;

    INFLIGHT.with_borrow_mut(|slot| {
        *slot = Some(Inflight {
            xhr,
            _callbacks: vec![on_progress, on_sent, on_load, on_error, on_timeout],
        })
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Detecting a URL

fn start_url(ui: Ui, raw: String) {
    let url = raw.trim().to_owned();
    if url.is_empty() {
        ui.reject(
            "the address".to_owned(),
            Problem::new(
                400,
                "No address",
                "paste the address of an image first, e.g. https://example.com/photo.jpg",
            ),
        );
        return;
    }
    let parsed = web_sys::Url::new(&url).ok();
    let scheme_ok = parsed.as_ref().is_some_and(|u| {
        let p = u.protocol();
        p == "http:" || p == "https:"
    });
    if !scheme_ok {
        ui.reject(
            url.clone(),
            Problem::new(
                400,
                "Not a web address",
                format!(
                    "“{url}” is not a full web address; it should start with https:// or http://"
                ),
            ),
        );
        return;
    }
    let id = begin(ui, url.clone(), Phase::Detecting);
    spawn_local(async move {
        let result = crate::server_fns::detect_url(url.clone()).await;
        if !ui.is_current(id) {
            return;
        }
        match result {
            Ok(response) => {
                ui.finish(id, response);
                // Fetch the picture only once the server accepted the address.
                match load_remote_bitmap(&url).await {
                    Ok(bitmap) => set_bitmap(ui, id, bitmap),
                    Err(e) => {
                        if ui.is_current(id) {
                            ui.image.set(ImageView::Unavailable);
                            ui.notice.set(Some(format!(
                                "The detections are listed, but this browser could not load the image \
                                 itself to draw them ({e})."
                            )));
                        }
                    }
                }
            }
            Err(problem) => ui.fail(id, problem),
        }
    });
}

/// The image at `url`, upright: fetched with CORS when the site allows it (so the canvas
/// can be downloaded), else through an `<img>`.
async fn load_remote_bitmap(url: &str) -> Result<ImageBitmap, String> {
    if let Ok(blob) = fetch_blob(url, true).await {
        if let Ok(bitmap) = decode(&blob).await {
            return Ok(bitmap);
        }
    }
    let img = HtmlImageElement::new().map_err(|e| js_error_text(&e))?;
    img.set_src(url);
    JsFuture::from(img.decode())
        .await
        .map_err(|e| js_error_text(&e))?;
    let window = web_sys::window().ok_or("no window")?;
    let options = ImageBitmapOptions::new();
    options.set_image_orientation(ImageOrientation::FromImage);
    let promise = window
        .create_image_bitmap_with_html_image_element_and_image_bitmap_options(&img, &options)
        .map_err(|e| js_error_text(&e))?;
    let value = JsFuture::from(promise)
        .await
        .map_err(|e| js_error_text(&e))?;
    value
        .dyn_into::<ImageBitmap>()
        .map_err(|_| "not an image".to_owned())
}

async fn fetch_blob(url: &str, cross_origin: bool) -> Result<Blob, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    if cross_origin {
        init.set_mode(RequestMode::Cors);
    }
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| js_error_text(&e))?;
    let response: Response = response.dyn_into().map_err(|_| "no response".to_owned())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let blob = JsFuture::from(response.blob().map_err(|e| js_error_text(&e))?)
        .await
        .map_err(|e| js_error_text(&e))?;
    blob.dyn_into::<Blob>().map_err(|_| "not a file".to_owned())
}

// ---------------------------------------------------------------------------------------
// Decoding

/// Decodes with the EXIF orientation applied, the frame the server's boxes are in.
async fn decode(blob: &Blob) -> Result<ImageBitmap, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let options = ImageBitmapOptions::new();
    options.set_image_orientation(ImageOrientation::FromImage);
    let promise = window.create_image_bitmap_with_blob_and_image_bitmap_options(blob, &options)?;
    JsFuture::from(promise).await?.dyn_into::<ImageBitmap>()
}

fn decode_for_canvas(ui: Ui, id: u64, blob: Blob) {
    spawn_local(async move {
        match decode(&blob).await {
            Ok(bitmap) => set_bitmap(ui, id, bitmap),
            Err(_) => {
                if ui.is_current(id) {
                    ui.image.set(ImageView::Unavailable);
                    let kind = blob.type_();
                    let what = if kind.is_empty() {
                        "this image".to_owned()
                    } else {
                        format!("{kind} images")
                    };
                    ui.notice.set(Some(format!(
                        "This browser cannot display {what}, so the boxes are not drawn; the detections are listed."
                    )));
                }
            }
        }
    });
}

/// On a small screen the result appears below the fold: bring it into view once.
fn reveal_result(ui: Ui) {
    request_animation_frame(move || {
        let (Some(section), Some(window)) = (ui.result.get_untracked(), web_sys::window()) else {
            return;
        };
        let height = window
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(0.0);
        if section.get_bounding_client_rect().top() > height - 80.0 {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Start);
            options.set_behavior(web_sys::ScrollBehavior::Instant);
            section.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
}

fn set_bitmap(ui: Ui, id: u64, bitmap: ImageBitmap) {
    if !ui.is_current(id) {
        bitmap.close();
        return;
    }
    let (width, height) = (bitmap.width(), bitmap.height());
    BITMAP.with_borrow_mut(|b| *b = Some((id, bitmap)));
    ui.image.set(ImageView::Ready { width, height });
}

// ---------------------------------------------------------------------------------------
// Drawing

/// What one drawing needs: sizes in canvas pixels.
struct Paint<'a> {
    ctx: &'a CanvasRenderingContext2d,
    bitmap: &'a ImageBitmap,
    /// The image frame (the server's width and height).
    frame: (f64, f64),
    /// Canvas pixels per image pixel.
    scale: f64,
    /// Canvas pixels per CSS pixel (line widths, text).
    unit: f64,
}

impl Paint<'_> {
    fn draw(
        &self,
        detections: &[(usize, &DetectionOut)],
        active: Option<usize>,
    ) -> Result<(), JsValue> {
        let ctx = self.ctx;
        let (fw, fh) = self.frame;
        let (w, h) = (fw * self.scale, fh * self.scale);
        ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
        ctx.clear_rect(0.0, 0.0, w, h);
        ctx.set_image_smoothing_enabled(true);
        ctx.draw_image_with_image_bitmap_and_dw_and_dh(self.bitmap, 0.0, 0.0, w, h)?;

        let active_det =
            active.and_then(|a| detections.iter().find(|(i, _)| *i == a).map(|(_, d)| *d));
        if let Some(d) = active_det {
            // Dim everything but the highlighted box.
            ctx.set_fill_style_str("rgba(0, 0, 0, 0.45)");
            ctx.fill_rect(0.0, 0.0, w, h);
            let (x, y, bw, bh) = self.rect(d);
            let sx = self.bitmap.width() as f64 / fw;
            let sy = self.bitmap.height() as f64 / fh;
            if bw > 0.0 && bh > 0.0 {
                ctx.draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                    self.bitmap,
                    x / self.scale * sx,
                    y / self.scale * sy,
                    bw / self.scale * sx,
                    bh / self.scale * sy,
                    x,
                    y,
                    bw,
                    bh,
                )?;
            }
        }

        // Weakest first, so stronger boxes and the highlighted one end up on top.
        let mut order: Vec<&(usize, &DetectionOut)> = detections.iter().collect();
        order.sort_by(|a, b| a.1.score.total_cmp(&b.1.score));
        if let Some(a) = active {
            order.sort_by_key(|(i, _)| *i == a);
        }
        ctx.set_line_join("miter");
        for (i, d) in &order {
            let width = if Some(*i) == active { 3.0 } else { 2.0 };
            self.stroke(d, width)?;
        }
        for (_, d) in &order {
            self.label(d)?;
        }
        Ok(())
    }

    /// The box in canvas pixels, snapped to whole pixels: x, y, width, height.
    fn rect(&self, d: &DetectionOut) -> (f64, f64, f64, f64) {
        let b = d.bbox;
        let x1 = (b.x1 as f64 * self.scale).round();
        let y1 = (b.y1 as f64 * self.scale).round();
        let x2 = (b.x2 as f64 * self.scale).round();
        let y2 = (b.y2 as f64 * self.scale).round();
        (x1, y1, (x2 - x1).max(1.0), (y2 - y1).max(1.0))
    }

    fn stroke(&self, d: &DetectionOut, css_width: f64) -> Result<(), JsValue> {
        let (x, y, w, h) = self.rect(d);
        let line = (css_width * self.unit).round().max(1.0);
        self.ctx.set_line_width(line);
        self.ctx
            .set_stroke_style_str(&rgb_css(class_rgb(d.class_id)));
        self.ctx.stroke_rect(x, y, w, h);
        Ok(())
    }

    fn label(&self, d: &DetectionOut) -> Result<(), JsValue> {
        let ctx = self.ctx;
        let (x, y, _, h) = self.rect(d);
        let (fw, fh) = self.frame;
        let (cw, ch) = (fw * self.scale, fh * self.scale);
        let font = (12.0 * self.unit).round();
        let pad = (4.0 * self.unit).round();
        let tag_h = font + 2.0 * pad;
        ctx.set_font(&format!(
            "600 {font}px system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif"
        ));
        let text = format!("{} {}", d.label, format::score(d.score));
        let text_w = ctx.measure_text(&text)?.width();
        let tag_w = text_w + 2.0 * pad;
        let line = (2.0 * self.unit).round().max(1.0);
        let tx = (x - line / 2.0).min(cw - tag_w).max(0.0);
        // Above the box when there is room, else below it, else just inside its top edge.
        let above = y - line / 2.0 - tag_h;
        let below = y + h + line / 2.0;
        let ty = if above >= 0.0 {
            above
        } else if below + tag_h <= ch {
            below
        } else {
            (y + line / 2.0).min(ch - tag_h).max(0.0)
        };
        let rgb = class_rgb(d.class_id);
        ctx.set_fill_style_str(&rgb_css(rgb));
        ctx.fill_rect(tx, ty, tag_w, tag_h);
        ctx.set_fill_style_str(if luminance(rgb) > 140.0 {
            "#111"
        } else {
            "#fff"
        });
        ctx.set_text_baseline("middle");
        ctx.fill_text(&text, tx + pad, ty + tag_h / 2.0 + self.unit * 0.5)?;
        Ok(())
    }
}

fn rgb_css((r, g, b): (u8, u8, u8)) -> String {
    format!("rgb({r}, {g}, {b})")
}

fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64
}

fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsValue> {
    canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2D canvas"))?
        .dyn_into::<CanvasRenderingContext2d>()
        .map_err(|_| JsValue::from_str("no 2D canvas"))
}

/// The image frame of the current result: the server's size, else the decoded size.
fn frame(ui: Ui, bitmap: &ImageBitmap) -> (f64, f64) {
    ui.shown
        .with_untracked(|s| {
            s.as_ref().map(|s| {
                (
                    s.response.image.width as f64,
                    s.response.image.height as f64,
                )
            })
        })
        .filter(|(w, h)| *w > 0.0 && *h > 0.0)
        .unwrap_or((bitmap.width() as f64, bitmap.height() as f64))
}

/// The visible detections of the current result, with their indices.
fn visible_detections(ui: Ui) -> Vec<(usize, DetectionOut)> {
    let visible = ui.visible.get_untracked();
    ui.shown.with_untracked(|s| {
        s.as_ref()
            .map(|s| {
                visible
                    .iter()
                    .filter_map(|i| s.response.detections.get(*i).map(|d| (*i, d.clone())))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Sizes the canvas to its place in the page (times devicePixelRatio) and draws.
pub fn redraw(ui: Ui) {
    if let Err(e) = try_redraw(ui) {
        ui.notice.set(Some(format!(
            "The image could not be drawn ({}).",
            js_error_text(&e)
        )));
    }
}

fn try_redraw(ui: Ui) -> Result<(), JsValue> {
    let (Some(canvas), Some(stage), Some(window)) = (
        ui.canvas.get_untracked(),
        ui.stage.get_untracked(),
        web_sys::window(),
    ) else {
        return Ok(());
    };
    let id = ui.seq.get_value();
    BITMAP.with_borrow(|slot| {
        let Some((bitmap_id, bitmap)) = slot else {
            return Ok(());
        };
        if *bitmap_id != id {
            return Ok(());
        }
        let (fw, fh) = frame(ui, bitmap);
        let available = stage.client_width() as f64;
        STAGE_WIDTH.with(|w| w.set(available));
        if available <= 0.0 {
            return Ok(());
        }
        let window_h = window.inner_height()?.as_f64().unwrap_or(800.0);
        let max_h = (window_h * MAX_CANVAS_HEIGHT_SHARE).max(240.0);
        let css_w = available.min(max_h * fw / fh).floor().max(1.0);
        let css_h = (css_w * fh / fw).round().max(1.0);
        let dpr = window.device_pixel_ratio();
        let dpr = if dpr.is_finite() && dpr > 0.0 {
            dpr
        } else {
            1.0
        };
        let style = HtmlElement::style(&canvas);
        style.set_property("width", &format!("{css_w}px"))?;
        style.set_property("height", &format!("{css_h}px"))?;
        let (bw, bh) = ((css_w * dpr).round() as u32, (css_h * dpr).round() as u32);
        if canvas.width() != bw {
            canvas.set_width(bw);
        }
        if canvas.height() != bh {
            canvas.set_height(bh);
        }
        let ctx = context_2d(&canvas)?;
        let detections = visible_detections(ui);
        let refs: Vec<(usize, &DetectionOut)> = detections.iter().map(|(i, d)| (*i, d)).collect();
        let active = ui.active.get_untracked();
        Paint {
            ctx: &ctx,
            bitmap,
            frame: (fw, fh),
            scale: bw as f64 / fw,
            unit: dpr,
        }
        .draw(&refs, active)?;
        // What is on the canvas now, for the browser tests (never read by the page).
        let boxes = if ui.shown.with_untracked(Option::is_some) {
            refs.len().to_string()
        } else {
            "pending".to_owned()
        };
        canvas.set_attribute("data-boxes", &boxes)?;
        canvas.set_attribute(
            "data-active",
            &active.map(|a| a.to_string()).unwrap_or_default(),
        )?;
        canvas.set_attribute("data-frame-width", &fw.to_string())?;
        canvas.set_attribute("data-frame-height", &fh.to_string())?;
        canvas.set_attribute("data-request", &id.to_string())
    })
}

/// The pointer moved over the canvas: highlight the smallest box under it.
pub fn canvas_hover(ui: Ui, ev: ev::MouseEvent) {
    let Some(canvas) = ui.canvas.get_untracked() else {
        return;
    };
    let Some((fw, fh)) = ui.shown.with_untracked(|s| {
        s.as_ref().map(|s| {
            (
                s.response.image.width as f64,
                s.response.image.height as f64,
            )
        })
    }) else {
        return;
    };
    let rect = canvas.get_bounding_client_rect();
    if rect.width() <= 0.0 || rect.height() <= 0.0 {
        return;
    }
    let x = (ev.client_x() as f64 - rect.left()) / rect.width() * fw;
    let y = (ev.client_y() as f64 - rect.top()) / rect.height() * fh;
    let hit = visible_detections(ui)
        .into_iter()
        .filter(|(_, d)| {
            let b = d.bbox;
            x >= b.x1 as f64 && x <= b.x2 as f64 && y >= b.y1 as f64 && y <= b.y2 as f64
        })
        .min_by(|a, b| area(&a.1).total_cmp(&area(&b.1)))
        .map(|(i, _)| i);
    if ui.active.get_untracked() != hit {
        ui.active.set(hit);
    }
}

fn area(d: &DetectionOut) -> f64 {
    let b = d.bbox;
    ((b.x2 - b.x1) as f64).max(0.0) * ((b.y2 - b.y1) as f64).max(0.0)
}

// ---------------------------------------------------------------------------------------
// Taking it away

/// Saves the annotated image at the image's own resolution as PNG.
pub fn download(ui: Ui) {
    if let Err(e) = try_download(ui) {
        let text = js_error_text(&e);
        let message = if text.contains("insecure")
            || text.contains("tainted")
            || text.contains("Security")
        {
            "The browser does not allow saving an image from another site; save the original and upload it instead.".to_owned()
        } else {
            format!("Could not make the PNG ({text}).")
        };
        ui.flash(message, false);
    }
}

fn try_download(ui: Ui) -> Result<(), JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let id = ui.seq.get_value();
    let source = ui.source.get_untracked().unwrap_or_default();
    let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
    BITMAP.with_borrow(|slot| {
        let Some((bitmap_id, bitmap)) = slot.as_ref().filter(|(i, _)| *i == id) else {
            return Err(JsValue::from_str("no image to save yet"));
        };
        let _ = bitmap_id;
        let (fw, fh) = frame(ui, bitmap);
        canvas.set_width(fw as u32);
        canvas.set_height(fh as u32);
        let ctx = context_2d(&canvas)?;
        let detections = visible_detections(ui);
        let refs: Vec<(usize, &DetectionOut)> = detections.iter().map(|(i, d)| (*i, d)).collect();
        Paint {
            ctx: &ctx,
            bitmap,
            frame: (fw, fh),
            scale: 1.0,
            // Lines and labels as they look on a ~900 px wide screen.
            unit: (fw.max(fh) / 900.0).max(1.0),
        }
        .draw(&refs, None)
    })?;
    let name = format::download_name(&source);
    let on_blob = Closure::once_into_js(move |blob: JsValue| {
        let Some(blob) = blob.dyn_ref::<Blob>() else {
            ui.flash("Could not make the PNG.", false);
            return;
        };
        if let Err(e) = save_blob(blob, &name) {
            ui.flash(
                format!("Could not save the PNG ({}).", js_error_text(&e)),
                false,
            );
        }
    });
    canvas.to_blob_with_type(on_blob.unchecked_ref(), "image/png")
}

fn save_blob(blob: &Blob, name: &str) -> Result<(), JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let url = web_sys::Url::create_object_url_with_blob(blob)?;
    // The previous download has surely started by now.
    if let Some(old) = DOWNLOAD_URL.with_borrow_mut(|u| u.replace(url.clone())) {
        let _ = web_sys::Url::revoke_object_url(&old);
    }
    let a: HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    Ok(())
}

/// Copies the detections above the threshold as JSON.
pub fn copy_json(ui: Ui) {
    let Some(text) = ui.shown.with_untracked(|s| {
        s.as_ref()
            .map(|s| format::detections_json(&s.response, &s.source, ui.threshold.get_untracked()))
    }) else {
        return;
    };
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    // `navigator.clipboard` is missing on plain-HTTP pages other than localhost.
    let clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null());
    match clipboard {
        Some(clipboard) => {
            let promise = clipboard
                .unchecked_into::<web_sys::Clipboard>()
                .write_text(&text);
            spawn_local(async move {
                match JsFuture::from(promise).await {
                    Ok(_) => copied(ui),
                    Err(e) => {
                        if copy_with_selection(&text) {
                            copied(ui);
                        } else {
                            ui.flash(format!("Could not copy ({}).", js_error_text(&e)), false);
                        }
                    }
                }
            });
        }
        None => {
            if copy_with_selection(&text) {
                copied(ui);
            } else {
                ui.flash("This browser does not allow copying here.", false);
            }
        }
    }
}

fn copied(ui: Ui) {
    let id = ui.flash("Copied", true);
    set_timeout(
        move || {
            if ui.flash.get_untracked().is_some_and(|f| f.id == id) {
                ui.flash.set(None);
            }
        },
        std::time::Duration::from_millis(2500),
    );
}

/// The old way to copy: select the text in a hidden field and ask the document to copy.
fn copy_with_selection(text: &str) -> bool {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return false;
    };
    let Some(body) = document.body() else {
        return false;
    };
    let Ok(area) = document.create_element("textarea").and_then(|e| {
        e.dyn_into::<web_sys::HtmlTextAreaElement>()
            .map_err(JsValue::from)
    }) else {
        return false;
    };
    area.set_value(text);
    let _ = HtmlElement::style(&area).set_property("position", "fixed");
    let _ = HtmlElement::style(&area).set_property("opacity", "0");
    if body.append_child(&area).is_err() {
        return false;
    }
    area.select();
    let ok = document
        .dyn_ref::<web_sys::HtmlDocument>()
        .and_then(|d| d.exec_command("copy").ok())
        .unwrap_or(false);
    area.remove();
    ok
}
