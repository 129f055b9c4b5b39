//! Sinks: where analyser records go. Analysers never write output themselves; the host formats
//! their records here.

pub mod jsonl;

use netan_plugin_api::Record;

/// The session a record is about.
#[derive(Debug, Clone, Copy)]
pub struct SessionRef<'a> {
    /// Session number.
    pub id: u64,
    /// Socketpair key.
    pub key: &'a str,
}

/// Receives records.
pub trait Sink {
    /// One record from the pipeline entry labelled `plugin`.
    fn record(&mut self, plugin: &str, session: Option<SessionRef<'_>>, record: &Record);
    /// Flushes everything; the first write error, if any.
    fn finish(&mut self) -> std::io::Result<()>;
    /// Whether a write failed (a closed pipe, a full disk): the run can stop reading.
    fn failed(&self) -> bool {
        false
    }
}
pub mod artifacts;
