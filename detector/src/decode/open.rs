//! Opening a decoder within the limits, and keeping its failures (panics included) to
//! [`ImageError`]s worded for the sender.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::{ImageDecoder, ImageFormat, ImageReader};

use super::format::format_name;
use super::limits::{ImageError, Limits};

/// The decoders are fuzzed upstream, but a panic on hostile bytes must never take down a
/// worker: treat one as corrupt input.
pub(super) fn guarded<T>(
    format: ImageFormat,
    work: impl FnOnce() -> Result<T, ImageError>,
) -> Result<T, ImageError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
        Err(ImageError::Corrupt {
            format: format_name(format).to_owned(),
            reason: "the decoder could not make sense of the data".to_owned(),
        })
    })
}

pub(super) fn open<'a>(
    bytes: &'a [u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<Box<dyn ImageDecoder + 'a>, ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| map_decoder_error(e, format_name(format), limits))?;
    Ok(Box::new(decoder))
}

pub(super) const TRUNCATED: &str = "the data ends before the image does (truncated)";

pub(super) fn map_decoder_error(err: image::ImageError, name: &str, limits: &Limits) -> ImageError {
    match err {
        image::ImageError::Limits(_) => ImageError::TooMuchMemory {
            limit_mib: limits.max_alloc / (1024 * 1024),
        },
        image::ImageError::Unsupported(e) => ImageError::Corrupt {
            format: name.to_owned(),
            reason: format!("it uses a feature this decoder does not support ({e})"),
        },
        image::ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Corrupt {
                format: name.to_owned(),
                reason: TRUNCATED.to_owned(),
            }
        }
        other => ImageError::Corrupt {
            format: name.to_owned(),
            reason: other.to_string(),
        },
    }
}
