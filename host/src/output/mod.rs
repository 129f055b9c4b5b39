//! Observers that turn TCP listener events into output: JSON Lines records and dumps.

pub mod flows;
pub mod json;
pub mod monologues;
