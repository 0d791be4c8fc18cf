//! JPEG: its frame header, whether its data is complete, and decoding a large one straight
//! at a reduced scale.

use std::io::Cursor;
use std::sync::Arc;

use image::{DynamicImage, ImageDecoder, ImageFormat, RgbImage};

use super::format::{format_name, sniff};
use super::probe::probe_decoder;
use super::{decode, guarded, open, Decoded, ImageError, Limits, TRUNCATED};

/// Decodes an image no larger than needed: a [`Probe::reducible`](super::Probe::reducible) JPEG straight at `1 /
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
            image: Arc::new(image.into_rgb8()),
            original_width: probe.upright_width,
            original_height: probe.upright_height,
            pitch,
        })
    })
}

/// A JPEG's frame header, as far as the reduced decode cares.
#[derive(Debug, Clone, Copy)]
pub(super) struct JpegFrame {
    /// Start-of-frame marker: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, others
    /// (lossless, hierarchical, arithmetic coding) are left to the full decoder.
    marker: u8,
    precision: u8,
    components: u8,
    pub(super) progressive: bool,
}

impl JpegFrame {
    pub(super) fn reducible(&self) -> bool {
        matches!(self.marker, 0xC0..=0xC2)
            && self.precision == 8
            && matches!(self.components, 1 | 3)
    }
}

/// The first start-of-frame header of a JPEG (walking the marker segments before the scan).
pub(super) fn jpeg_frame(bytes: &[u8]) -> Option<JpegFrame> {
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

/// Whether a JPEG's entropy-coded data reaches its end-of-image marker. Decoders fill a
/// truncated image with grey and report success; detecting on that picture would mislead.
/// The scan starts after the first start-of-scan header, so the end marker of an EXIF
/// thumbnail (inside an APP1 segment, before any scan) does not count.
pub(super) fn jpeg_is_complete(bytes: &[u8]) -> bool {
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
