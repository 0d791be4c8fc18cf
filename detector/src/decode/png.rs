//! PNG: the chunks worth decoding.

use std::borrow::Cow;

use image::ImageFormat;

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
pub(super) fn sanitise(bytes: &[u8], format: ImageFormat) -> Cow<'_, [u8]> {
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
