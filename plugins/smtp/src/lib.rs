//! netan SMTP analyser plugin.
pub mod parser;
