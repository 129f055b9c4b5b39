//! `Host`: the callbacks an analyser gets with every event. A plugin has no other way back into
//! the host, and no global state is needed.

use abi_stable::sabi_trait;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::RStr;
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
    #[sabi(last_prefix_field)]
    fn log(&mut self, level: LogLevel, message: RStr<'_>);
}

/// The host, as an analyser receives it.
pub type HostMut<'a> = Host_TO<'a, RMut<'a, ()>>;
