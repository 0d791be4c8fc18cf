//! The page's components. Browser-only code lives in `client` (built with `hydrate`);
//! `actions` is what event handlers call, and does nothing on the server.

pub mod format;
pub mod home;
pub mod icons;
pub mod input;
pub mod not_found;
pub mod result;
pub mod state;
pub mod status;

mod actions;
#[cfg(feature = "hydrate")]
mod client;
