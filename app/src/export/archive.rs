//! ZIP archives, written in memory with the `zip` crate (pure-Rust deflate, no clock).

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::{unique_names, ExportError};

/// Files whose bytes are already compressed are stored as they are.
const STORED_EXTENSIONS: [&str; 10] = [
    "png", "jpg", "jpeg", "webp", "gif", "zip", "gz", "avif", "heic", "mp4",
];

/// Packs files into a ZIP, for example annotated images. Each name is a name a user gave:
/// it becomes a safe, unique base name by the rules of [`unique_names`] (the same names
/// [`super::export`] gives the same list), so no entry can point outside the folder it is
/// extracted into. Entries keep the given order; compressed formats (PNG, JPEG, WebP...) are
/// stored, others deflated. Every entry is dated 1980-01-01, so equal input gives equal bytes.
pub fn zip_files(files: Vec<(String, Vec<u8>)>) -> Result<Vec<u8>, ExportError> {
    let names = unique_names(files.iter().map(|(name, _)| name.as_str()));
    let entries: Vec<(String, Vec<u8>)> = names
        .into_iter()
        .zip(files)
        .map(|(name, (_, bytes))| (name, bytes))
        .collect();
    write_zip(&entries)
}

/// Writes entries whose names the export made itself (safe relative paths).
pub(super) fn write_zip(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ExportError> {
    let zip_err = |e: &dyn std::fmt::Display| ExportError::Zip(e.to_string());
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let method = match ext {
            Some(e) if STORED_EXTENSIONS.contains(&e.as_str()) => CompressionMethod::Stored,
            _ => CompressionMethod::Deflated,
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(bytes.len() >= u32::MAX as usize);
        zip.start_file(name.as_str(), options)
            .map_err(|e| zip_err(&e))?;
        zip.write_all(bytes).map_err(|e| zip_err(&e))?;
    }
    let cursor = zip.finish().map_err(|e| zip_err(&e))?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::unzip;
    use super::*;

    #[test]
    fn user_names_become_safe_unique_entries() {
        let files = vec![
            ("../../evil.png".to_owned(), b"png-bytes".to_vec()),
            ("/abs/evil.png".to_owned(), b"second".to_vec()),
            (
                r"C:\dir\notes.txt".to_owned(),
                b"text text text text".to_vec(),
            ),
            ("ctrl\u{7}.jpg".to_owned(), Vec::new()),
        ];
        let bytes = zip_files(files).unwrap();
        let entries = unzip(&bytes);
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["evil.png", "evil-2.png", "notes.txt", "ctrl_.jpg"]);
        assert_eq!(entries[0].1, "png-bytes");
        assert_eq!(entries[1].1, "second");
        assert_eq!(entries[2].1, "text text text text");

        let mut zip = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
        for i in 0..zip.len() {
            let f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            assert!(f.enclosed_name().is_some(), "{name}");
            let want = if name.ends_with(".txt") {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            };
            assert_eq!(f.compression(), want, "{name}");
        }
    }

    #[test]
    fn equal_input_gives_equal_bytes() {
        let files = || vec![("a.txt".to_owned(), b"hello".to_vec())];
        assert_eq!(zip_files(files()).unwrap(), zip_files(files()).unwrap());
        assert!(unzip(&zip_files(Vec::new()).unwrap()).is_empty());
    }
}
