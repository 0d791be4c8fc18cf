//! Decoding a whole image: the picture the model path takes, upright and in 8-bit RGB.

use std::sync::Arc;

use image::{DynamicImage, ImageDecoder, RgbImage};

use super::format::{format_name, sniff};
use super::limits::{ImageError, Limits};
use super::open::{guarded, map_decoder_error, open};
use super::png;
use super::probe::probe_decoder;

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
