//! Bytes in, upright 8-bit RGB out, refusing anything too big before allocating for it.
//!
//! `format` tells what the bytes are, `probe` what decoding them will cost (from the headers
//! alone), `jpeg` decodes a large JPEG straight at a reduced scale, and `png` drops the
//! chunks a decoder would inflate for nothing.

mod format;
mod jpeg;
mod png;
mod probe;

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use thiserror::Error;

pub use format::sniff_format;
pub use jpeg::decode_reduced;
pub use probe::{probe, Probe};

use format::{format_name, sniff};
use probe::probe_decoder;

/// What a caller lets one image cost. The defaults refuse decompression bombs while
/// accepting any photo a phone or camera produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest width or height, in pixels.
    pub max_side: u32,
    /// Largest width x height.
    pub max_pixels: u64,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_side: 16_384,
            max_pixels: 40_000_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// Why an image was refused, worded for the person who sent it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ImageError {
    #[error("the data is empty: no image was sent")]
    Empty,
    #[error("the data is not an image (its first bytes match no known image format)")]
    NotAnImage,
    #[error("{0} images are not supported; send JPEG, PNG, WebP, GIF, BMP or TIFF")]
    UnsupportedFormat(String),
    #[error("the image is {width}x{height} pixels, which exceeds the limit of {limit}")]
    TooLarge {
        width: u32,
        height: u32,
        limit: String,
    },
    #[error("decoding this image would need more than the {limit_mib} MiB memory limit")]
    TooMuchMemory { limit_mib: u64 },
    #[error("the {format} image is corrupt or truncated: {reason}")]
    Corrupt { format: String, reason: String },
}

/// An upright RGB picture as the model path needs it: the whole image, or (for a large
/// JPEG) the image decoded straight at a reduced scale, with the size of the original.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub image: Arc<RgbImage>,
    /// The upright size of the original image: boxes are given in these pixels.
    pub original_width: u32,
    pub original_height: u32,
    /// Original pixels per decoded pixel along each axis: 1, or 2, 4 or 8 after a reduced
    /// JPEG decode (the decoded image is then `ceil(original / pitch)` on each side).
    pub pitch: u32,
}

impl Decoded {
    /// A picture at its own scale.
    pub fn full(image: RgbImage) -> Self {
        Self::shared(Arc::new(image))
    }

    /// A shared picture at its own scale.
    pub fn shared(image: Arc<RgbImage>) -> Self {
        Self {
            original_width: image.width(),
            original_height: image.height(),
            image,
            pitch: 1,
        }
    }

    /// The original's upright size, `(width, height)`.
    pub fn original(&self) -> (u32, u32) {
        (self.original_width, self.original_height)
    }

    /// The picture as a resampling source standing for the original.
    pub fn source(&self) -> crate::resample::Source<'_> {
        crate::resample::Source {
            pitch: self.pitch,
            ..crate::resample::Source::whole(&self.image)
        }
    }
}

impl From<RgbImage> for Decoded {
    fn from(image: RgbImage) -> Self {
        Self::full(image)
    }
}

impl From<Arc<RgbImage>> for Decoded {
    fn from(image: Arc<RgbImage>) -> Self {
        Self::shared(image)
    }
}

/// Decodes an image from its bytes (format sniffed from the content, never from a name or a
/// header), applies its EXIF orientation and returns it as 8-bit RGB with any transparency
/// composited on white. Runs [`probe`]'s checks first.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbImage, ImageError> {
    let format = sniff(bytes)?;
    guarded(format, || {
        let bytes = png::sanitise(bytes, format);
        let mut decoder = open(&bytes, format, limits)?;
        probe_decoder(&mut *decoder, format, &bytes, limits)?;
        // A broken EXIF block is common in the wild and harmless: show the stored frame.
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut image = DynamicImage::from_decoder(decoder)
            .map_err(|e| map_decoder_error(e, format_name(format), limits))?;
        image.apply_orientation(orientation);
        Ok(into_rgb_on_white(image))
    })
}

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

/// Drops alpha by compositing on white, which is what a browser shows for a transparent
/// image on a plain page, and narrows 16-bit channels to 8 bits.
fn into_rgb_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut out = RgbImage::new(width, height);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(src[3]);
        for c in 0..3 {
            let value = u32::from(src[c]) * alpha + 255 * (255 - alpha);
            dst[c] = ((value + 127) / 255) as u8;
        }
    }
    out
}
