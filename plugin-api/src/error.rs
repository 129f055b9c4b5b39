//! `PluginError`: what a plugin returns when it cannot go on, across the FFI boundary.

use std::fmt;

use abi_stable::std_types::RString;
use abi_stable::StableAbi;

/// The kind of a [`PluginError`]: a code that later versions may extend.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorKind(pub u8);

impl ErrorKind {
    /// The plugin's configuration is wrong; `key` names the offending key.
    pub const CONFIG: ErrorKind = ErrorKind(0);
    /// The plugin failed while handling an event.
    pub const FAILED: ErrorKind = ErrorKind(1);
    /// The plugin panicked; the export macro caught the unwind on the plugin's side.
    pub const PANICKED: ErrorKind = ErrorKind(2);
    /// The plugin does not support the operation (for example merging partial state).
    pub const UNSUPPORTED: ErrorKind = ErrorKind(3);

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "configuration error",
            1 => "failed",
            2 => "panicked",
            3 => "unsupported",
            _ => "error",
        }
    }
}

/// An error from a plugin.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// What kind of error.
    pub kind: ErrorKind,
    /// For configuration errors: the dotted key path within the plugin's table (may be empty).
    pub key: RString,
    /// What went wrong, for a person.
    pub message: RString,
}

impl PluginError {
    /// A configuration error about `key`.
    pub fn config(key: &str, message: impl fmt::Display) -> PluginError {
        PluginError {
            kind: ErrorKind::CONFIG,
            key: key.into(),
            message: message.to_string().into(),
        }
    }

    /// A failure while handling an event.
    pub fn failed(message: impl fmt::Display) -> PluginError {
        PluginError {
            kind: ErrorKind::FAILED,
            key: RString::new(),
            message: message.to_string().into(),
        }
    }

    /// A caught panic.
    pub fn panicked(message: impl fmt::Display) -> PluginError {
        PluginError {
            kind: ErrorKind::PANICKED,
            key: RString::new(),
            message: message.to_string().into(),
        }
    }

    /// An unsupported operation.
    pub fn unsupported(message: impl fmt::Display) -> PluginError {
        PluginError {
            kind: ErrorKind::UNSUPPORTED,
            key: RString::new(),
            message: message.to_string().into(),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.kind.name(), self.message)
        } else {
            write!(
                f,
                "{} at `{}`: {}",
                self.kind.name(),
                self.key,
                self.message
            )
        }
    }
}

impl std::error::Error for PluginError {}
