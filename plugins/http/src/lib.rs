//! netan HTTP analyser plugin.
pub mod parser;
