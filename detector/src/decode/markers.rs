//! A JPEG's marker segments, read without decoding: its frame header, and whether its data
//! is complete.

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
