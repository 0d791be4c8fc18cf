//! The target, its `.part`, and hashing what is on disk.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{io_error, PullError};
use crate::source::Pin;

/// `<dir>/<file>.part`
pub fn part_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

/// The length of a regular file, `None` when there is none.
pub(crate) fn file_len(path: &Path) -> Result<Option<u64>, PullError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Err(PullError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("exists and is not a regular file"),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

pub(crate) fn remove_if_present(path: &Path) -> Result<(), PullError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(path)(e)),
        _ => Ok(()),
    }
}

/// A hasher fed with the first `len` bytes of `path`, read on a blocking thread.
pub(crate) async fn hash_prefix(path: PathBuf, len: u64) -> Result<Sha256, PullError> {
    let task_path = path.clone();
    let outcome = tokio::task::spawn_blocking(move || -> io::Result<Sha256> {
        let mut hasher = Sha256::new();
        let mut reader = File::open(&task_path)?.take(len);
        let mut buffer = vec![0u8; 1 << 20];
        let mut read = 0u64;
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            read += n as u64;
        }
        if read != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("shrank to {read} bytes while being read"),
            ));
        }
        Ok(hasher)
    })
    .await;
    match outcome {
        Ok(result) => result.map_err(io_error(&path)),
        Err(join) => Err(PullError::Io {
            path,
            source: io::Error::other(join.to_string()),
        }),
    }
}

pub(crate) async fn sha256_of(path: &Path, len: u64) -> Result<[u8; 32], PullError> {
    Ok(hash_prefix(path.to_path_buf(), len)
        .await?
        .finalize()
        .into())
}

pub(crate) enum Existing {
    Missing,
    Verified,
    Differs(String),
}

/// Whether `target` is already the pinned file.
pub(crate) async fn check_existing(target: &Path, pin: &Pin) -> Result<Existing, PullError> {
    let Some(len) = file_len(target)? else {
        return Ok(Existing::Missing);
    };
    if len != pin.size {
        return Ok(Existing::Differs(format!(
            "is {len} bytes, not the {} pinned",
            pin.size
        )));
    }
    let digest = sha256_of(target, len).await?;
    if digest == pin.sha256 {
        Ok(Existing::Verified)
    } else {
        Ok(Existing::Differs(format!(
            "its sha256 is {}, not the {} pinned",
            hex::encode(digest),
            pin.sha256_hex()
        )))
    }
}

/// Moves a verified `.part` into place: an atomic rename in the same directory.
pub(crate) fn promote(part: &Path, target: &Path) -> Result<(), PullError> {
    fs::rename(part, target).map_err(io_error(target))?;
    // Make the rename itself durable (best effort: not every filesystem allows it).
    if let Some(dir) = target.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_file_sits_beside_the_target() {
        assert_eq!(
            part_path(Path::new("models/FasterRCNN-12.onnx")),
            Path::new("models/FasterRCNN-12.onnx.part")
        );
    }
}
