//! Bytes in, upright 8-bit RGB out, refusing anything too big before allocating for it.
//!
//! `limits` says what one image may cost, `format` what the bytes are, `markers` reads a
//! JPEG's headers, `probe` what decoding will cost (from the headers alone), `open` opens a
//! decoder within the limits, `whole` decodes the whole image, `jpeg` a large JPEG straight
//! at a reduced scale, and `png` drops the chunks a decoder would inflate for nothing. The
//! modules stand in that order: each uses only those before it.

mod format;
mod jpeg;
mod limits;
mod markers;
mod open;
mod png;
mod probe;
mod whole;

pub use format::sniff_format;
pub use jpeg::decode_reduced;
pub use limits::{ImageError, Limits};
pub use probe::{probe, Probe};
pub use whole::{decode, Decoded};
