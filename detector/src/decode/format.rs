//! What the bytes are, from their first bytes alone.

use image::ImageFormat;

use super::limits::ImageError;

pub(super) fn format_name(format: ImageFormat) -> &'static str {
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

/// The format's name, from the first bytes alone: a free check that refuses what is not an
/// image Lookout decodes before any work is spent on it.
pub fn sniff_format(bytes: &[u8]) -> Result<&'static str, ImageError> {
    sniff(bytes).map(format_name)
}

/// The format, sniffed from the content; refuses what Lookout does not decode.
pub(super) fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
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
