//! Test support for plugin authors: a [`Host`] that records what a plugin does, so analysers
//! can be unit-tested in-process, without loading a library.
//!
//! ```
//! use netan_plugin_api::testing::Recorder;
//! use netan_plugin_api::Fields;
//!
//! let mut recorder = Recorder::default();
//! recorder.with_context(|ctx| ctx.record("demo", 7, Fields::new().uint("n", 1)));
//! assert_eq!(recorder.records.len(), 1);
//! ```

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RResult, RSlice, RStr, RString};

use crate::event::Event;
use crate::host::{Host, Host_TO, LogLevel};
use crate::plugin::Context;
use crate::record::{Record, Value};

/// Records every record, event and log message a plugin produces.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Records, in order.
    pub records: Vec<Record>,
    /// Emitted events, in order.
    pub events: Vec<Event>,
    /// Log messages, in order.
    pub logs: Vec<(LogLevel, String)>,
    /// Artifacts saved, as (name, bytes); `save_artifact` fails unless this is `Some`.
    pub artifacts: Option<Vec<(String, Vec<u8>)>>,
    /// How many times the plugin released its session.
    pub releases: u64,
}

impl Host for Recorder {
    fn emit_record(&mut self, record: Record) {
        self.records.push(record);
    }

    fn emit_event(&mut self, event: Event) {
        self.events.push(event);
    }

    fn log(&mut self, level: LogLevel, message: RStr<'_>) {
        self.logs.push((level, message.to_string()));
    }

    fn save_artifact(&mut self, name: RStr<'_>, data: RSlice<'_, u8>) -> RResult<RString, RString> {
        match &mut self.artifacts {
            Some(list) => {
                list.push((name.to_string(), data.to_vec()));
                ROk(format!("artifacts/{name}").into())
            }
            None => RErr("extraction is not enabled".into()),
        }
    }

    fn release_session(&mut self) {
        self.releases += 1;
    }

    fn extraction_enabled(&self) -> bool {
        self.artifacts.is_some()
    }
}

impl Recorder {
    /// Runs `f` with a [`Context`] whose host is this recorder.
    pub fn with_context<R>(&mut self, f: impl FnOnce(&mut Context<'_, '_>) -> R) -> R {
        let mut host = Host_TO::from_ptr(self, TD_Opaque);
        let mut ctx = Context::new(&mut host);
        f(&mut ctx)
    }
}

/// The value of field `name` of a record, if present.
pub fn field<'a>(record: &'a Record, name: &str) -> Option<&'a Value> {
    record
        .fields
        .iter()
        .find(|f| f.name.as_str() == name)
        .map(|f| &f.value)
}

/// xorshift64: deterministic pseudo-random numbers for tests, fuzz-like loops and benchmark
/// inputs (the same seed always gives the same sequence). Not for anything else.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 bits. The seed must not be 0 (the sequence would stay 0).
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Runs `run` on the contents of every file in `dir` (a fuzz corpus: the seeds, and any input
/// a fuzzer kept), in name order; returns how many. Panics when the directory or a file
/// cannot be read: for tests.
pub fn replay_corpus(dir: &std::path::Path, mut run: impl FnMut(&[u8])) -> usize {
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for p in &paths {
        run(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    }
    paths.len()
}
