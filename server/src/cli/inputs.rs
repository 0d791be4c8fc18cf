//! The images `lookout detect` runs on: the files named on the command line, and the image
//! files found by walking the folders named.

use std::path::{Path, PathBuf};

use super::progress::Reporter;

/// One input, as found on the command line or in a folder.
pub(super) struct Input {
    pub(super) path: PathBuf,
    /// Found by walking a folder (else named on the command line).
    pub(super) found: bool,
}

/// Extensions taken as images without looking inside.
const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "jfif",
];

/// Adds `path` (a file, or a folder walked for images) to `inputs`.
pub(super) fn collect(
    path: &Path,
    inputs: &mut Vec<Input>,
    reporter: &Reporter,
) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        inputs.push(Input {
            path: path.to_path_buf(),
            found: false,
        });
        return Ok(());
    }
    walk(path, inputs, reporter);
    Ok(())
}

/// Walks a folder in name order. Unreadable entries are reported; links to folders are not
/// followed (no cycles).
fn walk(dir: &Path, inputs: &mut Vec<Input>, reporter: &Reporter) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            reporter.note(&format!(
                "{}: skipped, cannot read the folder: {e}",
                dir.display()
            ));
            return;
        }
    };
    let mut paths: Vec<(PathBuf, std::fs::FileType)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in paths {
        if kind.is_dir() {
            walk(&path, inputs, reporter);
        } else if (kind.is_file() || (kind.is_symlink() && path.is_file()))
            && looks_like_image(&path)
        {
            inputs.push(Input { path, found: true });
        } else if kind.is_file() {
            reporter.note(&format!("{}: skipped, not an image", path.display()));
        }
    }
}

/// An image extension, or (for other names) first bytes that are an image.
fn looks_like_image(path: &Path) -> bool {
    let by_name = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(e))
    });
    by_name || sniffs_as_image(path)
}

fn sniffs_as_image(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    detector::sniff_format(&head[..n]).is_ok()
}
