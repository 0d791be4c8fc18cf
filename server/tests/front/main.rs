//! Every door onto the detector x every case a person can send: the same status and the same
//! problem type on every door, because every door is the same front.
//!
//! A door added later without being wired into this table fails
//! `every_door_that_takes_an_image_is_in_the_matrix`.
//!
//! One test binary, in files by concern: `doors` (each door, how a case is sent through it and
//! how its answer is read, and the check that no door is missing), `cases` (what a person can
//! send, and the matrix of every door x every case), `options` (every option of the contract,
//! valid and invalid, x every door) and `refusals` (the key, and a full engine). The command
//! line (`lookout detect`) is a door of the tables too, through `cli`.

#[path = "../common/mod.rs"]
mod common;

mod answers;
mod cases;
mod cli;
mod doors;
mod options;
mod refusals;
mod rows;

const LIMIT: usize = 12 * 1024 * 1024;
