//! What one image may cost, and why one is refused.

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
