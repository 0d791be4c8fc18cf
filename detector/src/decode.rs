//! Bytes in, upright 8-bit RGB out, refusing anything too big before allocating for it.

use std::borrow::Cow;
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

/// What an image will cost to decode, learnt from its headers alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The format, as people name it (`"JPEG"`, `"PNG"`, ...).
    pub format: &'static str,
    /// The stored size (before the EXIF orientation is applied).
    pub width: u32,
    pub height: u32,
    /// The size as a browser shows it: the EXIF orientation applied (boxes are in these).
    pub upright_width: u32,
    pub upright_height: u32,
    /// A generous estimate of the memory decoding at full size takes at its peak, in bytes:
    /// the decoder's own buffer and working planes, the RGB copy, and a rotated copy when the
    /// orientation needs one. [`Probe::decode_bytes_at`] gives it for a reduced decode.
    pub decode_bytes: u64,
    /// A baseline or progressive 8-bit JPEG with one or three components: it can be decoded
    /// straight at 1/2, 1/4 or 1/8 of its size (see [`decode_reduced`]).
    pub reducible: bool,
    /// A progressive JPEG: its decoder keeps every DCT coefficient at full size, whatever
    /// the output scale.
    pub progressive: bool,
}

impl Probe {
    /// The upright size, `(width, height)`.
    pub fn upright(&self) -> (u32, u32) {
        (self.upright_width, self.upright_height)
    }

    /// The largest reduction (1, 2, 4 or 8 original pixels per decoded pixel) at which this
    /// image still decodes to at least `needed` upright pixels on both sides: 1 unless the
    /// image is a [`Probe::reducible`] JPEG larger than what is needed.
    pub fn pitch_for(&self, needed: (u32, u32)) -> u32 {
        if !self.reducible {
            return 1;
        }
        let (w, h) = self.upright();
        [8u32, 4, 2]
            .into_iter()
            .find(|&k| w.div_ceil(k) >= needed.0 && h.div_ceil(k) >= needed.1)
            .unwrap_or(1)
    }

    /// [`Probe::decode_bytes`] for a decode at `pitch` (see [`Probe::pitch_for`]).
    pub fn decode_bytes_at(&self, pitch: u32) -> u64 {
        if pitch <= 1 || !self.reducible {
            return self.decode_bytes;
        }
        let reduced =
            u64::from(self.width.div_ceil(pitch)) * u64::from(self.height.div_ceil(pitch));
        // Component planes (3), the decoder's RGB output (3), taken over as the picture, and
        // a rotated copy (3); plus, for progressive files, every coefficient at full size
        // (two bytes each, three components at most).
        let coefficients = if self.progressive {
            u64::from(self.width) * u64::from(self.height) * 2 * 3
        } else {
            0
        };
        reduced * 9 + coefficients
    }
}

/// An upright RGB picture as the model path needs it: the whole image, or (for a large
/// JPEG) the image decoded straight at a reduced scale, with the size of the original.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub image: std::sync::Arc<RgbImage>,
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
        Self::shared(std::sync::Arc::new(image))
    }

    /// A shared picture at its own scale.
    pub fn shared(image: std::sync::Arc<RgbImage>) -> Self {
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

/// Reads only the headers: the format, the size (for a GIF, the larger of its logical screen
/// and its first frame, which is what really gets allocated) and what decoding will cost.
/// Refuses what breaks `limits`, and truncated JPEGs, without allocating for the pixels.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, ImageError> {
    let format = sniff(bytes)?;
    guarded(format, || {
        let bytes = sanitise(bytes, format);
        let mut decoder = open(&bytes, format, limits)?;
        probe_decoder(&mut *decoder, format, &bytes, limits)
    })
}

/// Decodes an image no larger than needed: a [`Probe::reducible`] JPEG straight at `1 /
/// pitch` of its size (the decoder's scaled inverse DCT, so the full-size pixels never
/// exist), anything else at full size (`pitch` is then ignored). Same checks, orientation and
/// colour handling as [`decode`]; the result says which scale it is at.
pub fn decode_reduced(bytes: &[u8], limits: &Limits, pitch: u32) -> Result<Decoded, ImageError> {
    let format = sniff(bytes)?;
    if format != ImageFormat::Jpeg || pitch <= 1 {
        return decode(bytes, limits).map(Decoded::full);
    }
    guarded(format, || {
        let name = format_name(format);
        let mut decoder = open(bytes, format, limits)?;
        let probe = probe_decoder(&mut *decoder, format, bytes, limits)?;
        let pitch = [8u32, 4, 2]
            .into_iter()
            .find(|&k| k <= pitch)
            .filter(|_| probe.reducible)
            .unwrap_or(1);
        if pitch == 1 {
            drop(decoder);
            return decode(bytes, limits).map(Decoded::full);
        }
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        drop(decoder);
        let corrupt = |reason: String| ImageError::Corrupt {
            format: name.to_owned(),
            reason,
        };
        let mut jpeg = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        jpeg.set_max_decoding_buffer_size(usize::try_from(limits.max_alloc).unwrap_or(usize::MAX));
        let want = (
            probe.width.div_ceil(pitch).min(u32::from(u16::MAX)) as u16,
            probe.height.div_ceil(pitch).min(u32::from(u16::MAX)) as u16,
        );
        let (w, h) = jpeg
            .scale(want.0, want.1)
            .map_err(|e| corrupt(e.to_string()))?;
        let pixels = jpeg.decode().map_err(|e| match e {
            jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                corrupt(TRUNCATED.to_owned())
            }
            other => corrupt(other.to_string()),
        })?;
        let info = jpeg
            .info()
            .ok_or_else(|| corrupt("the decoder returned no image information".to_owned()))?;
        let (w, h) = (u32::from(w), u32::from(h));
        let image = match info.pixel_format {
            jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(w, h, pixels),
            jpeg_decoder::PixelFormat::L8 => image::GrayImage::from_raw(w, h, pixels)
                .map(|grey| DynamicImage::ImageLuma8(grey).into_rgb8()),
            other => return Err(corrupt(format!("unexpected pixel format {other:?}"))),
        }
        .ok_or_else(|| {
            corrupt("the decoder returned fewer pixels than the image has".to_owned())
        })?;
        let mut image = DynamicImage::ImageRgb8(image);
        image.apply_orientation(orientation);
        Ok(Decoded {
            image: std::sync::Arc::new(image.into_rgb8()),
            original_width: probe.upright_width,
            original_height: probe.upright_height,
            pitch,
        })
    })
}

/// Decodes an image from its bytes (format sniffed from the content, never from a name or a
/// header), applies its EXIF orientation and returns it as 8-bit RGB with any transparency
/// composited on white. Runs [`probe`]'s checks first.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbImage, ImageError> {
    let format = sniff(bytes)?;
    guarded(format, || {
        let bytes = sanitise(bytes, format);
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

/// The format's name, from the first bytes alone: a free check that refuses what is not an
/// image Lookout decodes before any work is spent on it.
pub fn sniff_format(bytes: &[u8]) -> Result<&'static str, ImageError> {
    sniff(bytes).map(format_name)
}

/// The format, sniffed from the content; refuses what Lookout does not decode.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if let Some(name) = sniff_unrecognised(bytes) {
        return Err(ImageError::UnsupportedFormat(name.to_owned()));
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::WebP
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::Tiff
    ) {
        return Err(ImageError::UnsupportedFormat(
            format_name(format).to_owned(),
        ));
    }
    Ok(format)
}

/// The decoders are fuzzed upstream, but a panic on hostile bytes must never take down a
/// worker: treat one as corrupt input.
fn guarded<T>(
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

fn open<'a>(
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

fn probe_decoder(
    decoder: &mut dyn ImageDecoder,
    format: ImageFormat,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Probe, ImageError> {
    let name = format_name(format);
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    // A GIF frame may be larger than the logical screen it claims: the decoder allocates
    // for the frame, so the frame is what the limits must judge.
    let (alloc_w, alloc_h) = if format == ImageFormat::Gif {
        let (fw, fh) = gif_first_frame_extent(bytes, name)?;
        let extent = (fw.max(width), fh.max(height));
        check_dimensions(extent.0, extent.1, limits)?;
        extent
    } else {
        (width, height)
    };
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageError::Corrupt {
            format: name.to_owned(),
            reason: TRUNCATED.to_owned(),
        });
    }
    let frame = if format == ImageFormat::Jpeg {
        jpeg_frame(bytes)
    } else {
        None
    };
    // A broken EXIF block is harmless: the stored frame is shown.
    let swaps = matches!(
        decoder.orientation(),
        Ok(image::metadata::Orientation::Rotate90
            | image::metadata::Orientation::Rotate270
            | image::metadata::Orientation::Rotate90FlipH
            | image::metadata::Orientation::Rotate270FlipH)
    );
    let (upright_width, upright_height) = if swaps {
        (height, width)
    } else {
        (width, height)
    };
    let pixels = u64::from(alloc_w) * u64::from(alloc_h);
    let native = u64::from(decoder.color_type().bytes_per_pixel());
    if pixels * native > limits.max_alloc {
        return Err(ImageError::TooMuchMemory {
            limit_mib: limits.max_alloc / (1024 * 1024),
        });
    }
    // JPEG decoders keep per-component planes besides their output.
    let working = if format == ImageFormat::Jpeg { 3 } else { 0 };
    Ok(Probe {
        format: name,
        width,
        height,
        upright_width,
        upright_height,
        decode_bytes: pixels * (native + working + 3 + 3),
        reducible: frame.is_some_and(|f| f.reducible()),
        progressive: frame.is_some_and(|f| f.progressive),
    })
}

/// A JPEG's frame header, as far as the reduced decode cares.
#[derive(Debug, Clone, Copy)]
struct JpegFrame {
    /// Start-of-frame marker: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, others
    /// (lossless, hierarchical, arithmetic coding) are left to the full decoder.
    marker: u8,
    precision: u8,
    components: u8,
    progressive: bool,
}

impl JpegFrame {
    fn reducible(&self) -> bool {
        matches!(self.marker, 0xC0..=0xC2)
            && self.precision == 8
            && matches!(self.components, 1 | 3)
    }
}

/// The first start-of-frame header of a JPEG (walking the marker segments before the scan).
fn jpeg_frame(bytes: &[u8]) -> Option<JpegFrame> {
    let mut i = 2;
    loop {
        let (&ff, &marker) = (bytes.get(i)?, bytes.get(i + 1)?);
        if ff != 0xFF {
            return None;
        }
        match marker {
            0xFF => i += 1,
            0xD9 | 0xDA => return None,
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let len = bytes.get(i + 2..i + 4)?;
                let length = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                    let header = bytes.get(i + 4..i + 10)?;
                    return Some(JpegFrame {
                        marker,
                        precision: header[0],
                        components: header[5],
                        progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE),
                    });
                }
                i += 2 + length;
            }
        }
    }
}

/// The extent (right and bottom edge) of a GIF's first frame, from its descriptor alone.
fn gif_first_frame_extent(bytes: &[u8], name: &str) -> Result<(u32, u32), ImageError> {
    let corrupt = |e: gif::DecodingError| ImageError::Corrupt {
        format: name.to_owned(),
        reason: match e {
            gif::DecodingError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                TRUNCATED.to_owned()
            }
            other => other.to_string(),
        },
    };
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(corrupt)?;
    match decoder.next_frame_info().map_err(corrupt)? {
        Some(frame) => Ok((
            u32::from(frame.left) + u32::from(frame.width),
            u32::from(frame.top) + u32::from(frame.height),
        )),
        None => Err(ImageError::Corrupt {
            format: name.to_owned(),
            reason: "it contains no frame".to_owned(),
        }),
    }
}

const TRUNCATED: &str = "the data ends before the image does (truncated)";

/// Whether a JPEG's entropy-coded data reaches its end-of-image marker. Decoders fill a
/// truncated image with grey and report success; detecting on that picture would mislead.
/// The scan starts after the first start-of-scan header, so the end marker of an EXIF
/// thumbnail (inside an APP1 segment, before any scan) does not count.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2; // after SOI
    loop {
        let (Some(&ff), Some(&marker)) = (bytes.get(i), bytes.get(i + 1)) else {
            return false;
        };
        if ff != 0xFF {
            return false;
        }
        match marker {
            0xFF => i += 1,               // fill byte before a marker
            0xD9 => return false,         // end of image before any scan
            0x01 | 0xD0..=0xD7 => i += 2, // markers without a length
            _ => {
                let Some(len) = bytes.get(i + 2..i + 4) else {
                    return false;
                };
                let length = usize::from(u16::from_be_bytes([len[0], len[1]]));
                i += 2 + length;
                if marker == 0xDA {
                    break;
                }
            }
        }
    }
    // In entropy-coded data 0xFF is followed by 0x00 (stuffing), a restart marker, or a real
    // marker (further scans of a progressive file); the image ends at 0xFF 0xD9.
    bytes
        .get(i..)
        .is_some_and(|data| data.windows(2).any(|pair| pair == [0xFF, 0xD9]))
}

/// PNG ancillary chunks worth keeping: they change how pixels look or are oriented.
/// Everything else (colour profiles, text, private chunks) is dropped before decoding,
/// because decoders inflate compressed ones in full: a 255 KB file can carry a 256 MiB
/// "colour profile".
const PNG_KEPT_ANCILLARY: [&[u8; 4]; 9] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"bKGD", b"pHYs", b"eXIf", b"acTL",
];
/// Largest ancillary chunk kept (an eXIf block holds the orientation; real ones are a few KB).
const PNG_MAX_ANCILLARY_BYTES: u32 = 64 * 1024;

/// For PNG: the bytes without the ancillary chunks that decoders would inflate or that are
/// over the cap. Other formats, and PNGs with nothing to drop, pass through without a copy.
fn sanitise(bytes: &[u8], format: ImageFormat) -> Cow<'_, [u8]> {
    const SIGNATURE: usize = 8;
    if format != ImageFormat::Png || bytes.len() < SIGNATURE {
        return Cow::Borrowed(bytes);
    }
    let mut kept: Vec<std::ops::Range<usize>> = Vec::new();
    let mut dropped = false;
    let mut i = SIGNATURE;
    while let Some(header) = bytes.get(i..i + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = &header[4..8];
        let end = i
            .saturating_add(12)
            .saturating_add(length as usize)
            .min(bytes.len());
        let critical = kind[0].is_ascii_uppercase();
        let known = PNG_KEPT_ANCILLARY.iter().any(|k| k.as_slice() == kind);
        if critical || (known && length <= PNG_MAX_ANCILLARY_BYTES) {
            kept.push(i..end);
        } else {
            dropped = true;
        }
        if kind == b"IEND" || end == bytes.len() {
            break;
        }
        i = end;
    }
    if !dropped {
        return Cow::Borrowed(bytes);
    }
    let mut clean = Vec::with_capacity(bytes.len());
    clean.extend_from_slice(&bytes[..SIGNATURE]);
    for range in kept {
        clean.extend_from_slice(&bytes[range]);
    }
    Cow::Owned(clean)
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
