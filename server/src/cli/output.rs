//! What `lookout detect` writes: the API's answer for each file (after its path) as JSON, or a
//! dataset export, to stdout, a file, a directory or a ZIP.

use std::io::{self, Write};
use std::path::Path;

use app::export::ExportImage;
use serde::Serialize;
use wire::DetectResponse;

use super::{Done, Run};
use crate::front::Front;

/// One file's JSON record: its path, then the API's answer for it.
#[derive(Serialize)]
struct Record<'a> {
    file: String,
    #[serde(flatten)]
    result: &'a DetectResponse,
}

impl Run {
    pub(super) fn write(&self, front: &Front, done: Vec<Done>) -> Result<(), String> {
        let single = self.args.images.len() == 1 && self.args.images[0].is_file();
        let results: Vec<(String, DetectResponse)> = done
            .into_iter()
            .filter_map(|d| Some((d.path.display().to_string(), d.result.ok()?)))
            .collect();
        let Some(export_format) = self.args.format.export() else {
            let records: Vec<Record<'_>> = results
                .iter()
                .map(|(file, result)| Record {
                    file: file.clone(),
                    result,
                })
                .collect();
            let text = if single {
                match records.first() {
                    Some(record) => serde_json::to_string_pretty(record),
                    None => return Ok(()),
                }
            } else {
                serde_json::to_string_pretty(&records)
            };
            let mut text = text.map_err(|e| e.to_string())?;
            text.push('\n');
            return self.emit("lookout-detections.json", text.as_bytes());
        };
        let images: Vec<ExportImage<'_>> = results
            .iter()
            .map(|(name, result)| ExportImage {
                file_name: name,
                width: result.image.width,
                height: result.image.height,
                detections: &result.detections,
            })
            .collect();
        let summary = front
            .models()
            .default_slot()
            .and_then(|slot| slot.summary());
        let labels = summary
            .as_ref()
            .map(|summary| summary.labels.as_slice())
            .unwrap_or_default();
        let export = app::export::export(export_format, &images, labels, self.options.threshold)
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
