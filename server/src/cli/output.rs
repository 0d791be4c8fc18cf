//! What `lookout detect` writes: Lookout's JSON or a dataset export, to stdout, a file, a
//! directory or a ZIP.

use std::io::{self, Write};
use std::path::Path;

use app::export::ExportImage;
use app::types::{BoxPx, DetectionOut};
use detector::Engine;

use super::{Done, Run};

impl Run {
    pub(super) fn write(&self, engine: &Engine, done: Vec<Done>) -> Result<(), String> {
        let single = self.args.images.len() == 1 && self.args.images[0].is_file();
        let Some(export_format) = self.args.format.export() else {
            let mut results: Vec<serde_json::Value> = done
                .into_iter()
                .filter_map(|d| {
                    let r = d.result.ok()?;
                    Some(serde_json::json!({
                        "file": d.path.display().to_string(),
                        "image": { "width": r.width, "height": r.height },
                        "detections": r.detections,
                        "timing_ms": { "inference": r.timings.inference_ms },
                    }))
                })
                .collect();
            let output = if single {
                match results.pop() {
                    Some(object) => object,
                    None => return Ok(()),
                }
            } else {
                serde_json::Value::Array(results)
            };
            let mut text = serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?;
            text.push('\n');
            return self.emit("lookout-detections.json", text.as_bytes());
        };
        let outs: Vec<(String, u32, u32, Vec<DetectionOut>)> = done
            .into_iter()
            .filter_map(|d| {
                let r = d.result.ok()?;
                Some((
                    d.path.display().to_string(),
                    r.width,
                    r.height,
                    r.detections.into_iter().map(detection_out).collect(),
                ))
            })
            .collect();
        let images: Vec<ExportImage<'_>> = outs
            .iter()
            .map(|(name, width, height, detections)| ExportImage {
                file_name: name,
                width: *width,
                height: *height,
                detections,
            })
            .collect();
        let export = app::export::export(
            export_format,
            &images,
            &engine.info().labels,
            self.options.threshold,
        )
        .map_err(|e| e.to_string())?;
        self.emit(export.file_name, &export.bytes)
    }

    /// Writes an output to stdout, to the --out file, into the --out directory (named
    /// `default_name`), or, for YOLO/VOC, unpacks the ZIP into the --out directory.
    fn emit(&self, default_name: &str, bytes: &[u8]) -> Result<(), String> {
        let Some(out) = &self.args.out else {
            let mut stdout = io::stdout().lock();
            return stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"));
        };
        let is_zip = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if self.args.format.is_archive() && !is_zip {
            return unpack(bytes, out);
        }
        let target = if out.is_dir() {
            out.join(default_name)
        } else {
            out.clone()
        };
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, bytes)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))
    }
}

fn detection_out(d: detector::Detection) -> DetectionOut {
    DetectionOut {
        label: d.label,
        class_id: d.class_id,
        score: d.score,
        bbox: BoxPx {
            x1: d.bbox.x1,
            y1: d.bbox.y1,
            x2: d.bbox.x2,
            y2: d.bbox.y2,
        },
    }
}

/// Unpacks an export ZIP (YOLO, VOC) into `dir`. The entry names are the export's own safe
/// relative paths; any other kind is refused.
fn unpack(bytes: &[u8], dir: &Path) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let Some(relative) = entry.enclosed_name() else {
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            return Err(format!("the export has an unsafe entry name {name:?}"));
        };
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mut file = std::fs::File::create(&target)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        io::copy(&mut entry, &mut file)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}
