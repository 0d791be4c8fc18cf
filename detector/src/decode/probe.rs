//! What an image will cost to decode, from its headers, checked against the limits before
//! anything is allocated for its pixels.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat};

use super::format::{format_name, sniff};
use super::limits::{ImageError, Limits};
use super::markers::{jpeg_frame, jpeg_is_complete};
use super::open::{guarded, open, TRUNCATED};
use super::png;

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
    /// straight at 1/2, 1/4 or 1/8 of its size (see [`decode_reduced`](super::decode_reduced)).
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

/// Reads only the headers: the format, the size (for a GIF, the larger of its logical screen
/// and its first frame, which is what really gets allocated) and what decoding will cost.
/// Refuses what breaks `limits`, and truncated JPEGs, without allocating for the pixels.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, ImageError> {
    let format = sniff(bytes)?;
    guarded(format, || {
        let bytes = png::sanitise(bytes, format);
        let mut decoder = open(&bytes, format, limits)?;
        probe_decoder(&mut *decoder, format, &bytes, limits)
    })
}

pub(super) fn probe_decoder(
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
