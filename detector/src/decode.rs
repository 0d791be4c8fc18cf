//! Bytes in, upright 8-bit RGB out, refusing anything too big before allocating for it.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use thiserror::Error;

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

/// The formats Lookout decodes, as people name them.
pub const SUPPORTED_FORMATS: [&str; 6] = ["JPEG", "PNG", "WebP", "GIF", "BMP", "TIFF"];

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Ico => "ICO",
        ImageFormat::Hdr => "Radiance HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Farbfeld => "Farbfeld",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Qoi => "QOI",
        _ => "this kind of",
    }
}

/// Formats people commonly send that the `image` crate does not even recognise: naming them
/// beats telling someone their iPhone photo "is not an image".
fn sniff_unrecognised(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(64)];
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(match &head[8..12] {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => "HEIC/HEIF",
            b"avif" | b"avis" => "AVIF",
            _ => "MP4/QuickTime video",
        });
    }
    if head.starts_with(b"%PDF") {
        return Some("PDF");
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("svg")) {
        return Some("SVG");
    }
    None
}

/// Decodes an image from its bytes (format sniffed from the content, never from a name or a
/// header), applies its EXIF orientation and returns it as 8-bit RGB with any transparency
/// composited on white.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if let Some(name) = sniff_unrecognised(bytes) {
        return Err(ImageError::UnsupportedFormat(name.to_owned()));
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::NotAnImage)?;
    let name = format_name(format);
    if !matches!(
        format,
        ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::WebP
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::Tiff
    ) {
        return Err(ImageError::UnsupportedFormat(name.to_owned()));
    }
    // The decoders are fuzzed upstream, but a panic on hostile bytes must never take down a
    // worker: treat one as corrupt input.
    match catch_unwind(AssertUnwindSafe(|| decode_known(bytes, format, limits))) {
        Ok(result) => result,
        Err(_) => Err(ImageError::Corrupt {
            format: name.to_owned(),
            reason: "the decoder could not make sense of the data".to_owned(),
        }),
    }
}

fn decode_known(
    bytes: &[u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<RgbImage, ImageError> {
    let name = format_name(format);
    let corrupt = |err: image::ImageError| map_decoder_error(err, name, limits);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;

    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    // Decoded RGB(A) plus the converted copy must fit the allocation budget too.
    let bytes_needed =
        u64::from(width) * u64::from(height) * u64::from(decoder.color_type().bytes_per_pixel());
    if bytes_needed > limits.max_alloc {
        return Err(ImageError::TooMuchMemory {
            limit_mib: limits.max_alloc / (1024 * 1024),
        });
    }

    // A broken EXIF block is common in the wild and harmless: show the stored frame.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(into_rgb_on_white(image))
}

fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt {
            format: "image".to_owned(),
            reason: format!("it claims a size of {width}x{height} pixels"),
        });
    }
    if width > limits.max_side || height > limits.max_side {
        return Err(ImageError::TooLarge {
            width,
            height,
            limit: format!("{} pixels per side", limits.max_side),
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            limit: format!("{:.1} megapixels", limits.max_pixels as f64 / 1e6),
        });
    }
    Ok(())
}

fn map_decoder_error(err: image::ImageError, name: &str, limits: &Limits) -> ImageError {
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
                reason: "the data ends before the image does (truncated)".to_owned(),
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
