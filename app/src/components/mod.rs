//! The page's components, the same on the server and in the browser. What their event
//! handlers and effects do in the browser is in [`crate::client`].

pub mod classes;
pub mod detections;
pub mod export_menu;
pub mod header;
pub mod home;
pub mod icons;
pub mod input;
pub mod items;
pub mod key;
pub mod legend;
pub mod live;
pub mod live_state;
pub mod not_found;
pub mod result;
pub mod state;
pub mod status;
pub mod strip;
