//! `lookout pull-model`: download a known ONNX model (or any file pinned by sha256 and size)
//! into `models/` without PyTorch.
//!
//! A file has ordered sources ([`Plan`]): `--url` when given, then the catalogue's, the
//! Hugging Face Hub first and GitHub LFS after it. Each is streamed to `<dir>/<file>.part`
//! (never held in memory) while its sha256 is computed. A transfer that breaks is resumed by
//! asking the source's first URL again (a redirect's signed URL may have expired) with
//! `Range` from the `.part`'s length, a few times with backoff; a source that still fails
//! gives way to the next. Only a file whose size and sha256 both match the pin is renamed
//! into place; one that does not is deleted and refused. A target that already matches is
//! left alone and nothing is downloaded.

mod catalogue;
mod cli;
mod download;
mod error;
mod files;
mod options;
mod progress;
mod source;
mod transfer;

pub use catalogue::{catalogue_entry, CatalogueEntry, Origin, CATALOGUE};
pub use cli::{listing, run, PullArgs};
pub use download::{pull, Pulled};
pub use error::{AllFailed, Answer, Mismatch, PullError, SourceFailure};
pub use files::part_path;
pub use options::PullOptions;
pub use progress::{Notes, Progress};
pub use source::{file_name_from_url, HubEnv, Pin, Plan, Source, SourceKind, DEFAULT_HUB};
pub use transfer::{parse_content_range, ContentRange, MAX_REDIRECTS};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_entries_are_valid_plans() {
        for entry in CATALOGUE {
            let plan = Plan::for_entry(entry, None, &HubEnv::default()).expect(entry.name);
            assert_eq!(plan.pin.sha256_hex(), entry.sha256);
            assert!(plan.sources.iter().all(|s| s.url.scheme() == "https"));
            assert_eq!(plan.sources.first().map(|s| s.kind), Some(SourceKind::Hub));
        }
        let zoo = catalogue_entry("coco-zoo").expect("coco-zoo");
        assert_eq!(zoo.size, 176_713_194);
        assert_eq!(zoo.file_name, "FasterRCNN-12.onnx");
    }
}
