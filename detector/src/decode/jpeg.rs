//! Decoding a large JPEG straight at a reduced scale.

use std::io::Cursor;
use std::sync::Arc;

use image::{DynamicImage, ImageDecoder, ImageFormat, RgbImage};

use super::format::{format_name, sniff};
use super::limits::{ImageError, Limits};
use super::open::{guarded, open, TRUNCATED};
use super::probe::probe_decoder;
use super::whole::{decode, Decoded};

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
