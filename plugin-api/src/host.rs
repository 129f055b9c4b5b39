//! `Host`: the callbacks an analyser gets with every event. A plugin has no other way back into
//! the host, and no global state is needed.

use abi_stable::sabi_trait;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RResult, RSlice, RStr, RString};
use abi_stable::StableAbi;

use crate::event::Event;
use crate::record::Record;

/// Severity of a log message.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogLevel(pub u8);

impl LogLevel {
    /// Something is wrong with the input or the plugin, but it goes on.
    pub const WARN: LogLevel = LogLevel(1);
    /// Informational.
    pub const INFO: LogLevel = LogLevel(2);
    /// Details for debugging.
    pub const DEBUG: LogLevel = LogLevel(3);
}

/// What the host offers an analyser during a call.
#[sabi_trait]
pub trait Host {
    /// Writes a record. The host adds the plugin name and the session the current event is
    /// about (none during `finish`).
    fn emit_record(&mut self, record: Record);

    /// Emits a named event for the plugins that consume it. It is queued and delivered after
    /// the current event has been handled by every plugin, in emission order.
    fn emit_event(&mut self, event: Event);

    /// Logs a message on stderr, prefixed with the plugin name.
    fn log(&mut self, level: LogLevel, message: RStr<'_>);

    /// Saves extracted content (an HTTP body, an e-mail) as a file. The host decides where
    /// (its extraction directory, one subdirectory per plugin entry), makes `name` a safe,
    /// unique file name, and returns the path written — or an error message when extraction
    /// is not enabled (`--extract-dir`) or the write failed.
    fn save_artifact(&mut self, name: RStr<'_>, data: RSlice<'_, u8>) -> RResult<RString, RString>;

    /// The analyser is done with the session the current event is about: it receives no more
    /// events about it, not even its end (so it must drop its own state for it now), and the
    /// host stops gathering its monologues if no other analyser wants them. This is how an
    /// analyser that recognises its protocol by content gives up on other traffic cheaply.
    #[sabi(last_prefix_field)]
    fn release_session(&mut self);

    // Functions added after API 0.1.0 go below, each with a default body: the default is what
    // a plugin built against this API gets when it runs in an older netan, whose `Host` lacks
    // the function (see the crate documentation, "Compatibility").

    /// Since API 0.1.1. Whether [`Host::save_artifact`] can save anything in this run
    /// (`netan run --extract-dir` given): an analyser configured to extract can skip holding
    /// bodies in memory when it cannot. An older netan answers `true` (it may be able to:
    /// `save_artifact` says).
    fn extraction_enabled(&self) -> bool {
        true
    }
}

/// The host, as an analyser receives it.
pub type HostMut<'a> = Host_TO<'a, RMut<'a, ()>>;
