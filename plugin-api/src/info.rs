//! `PluginInfo`: who a plugin is and what it consumes and produces, declared once, typed.

use abi_stable::std_types::{RString, RVec};
use abi_stable::StableAbi;

/// The TCP events a plugin may consume.
pub mod events {
    /// `tcp_session_start`.
    pub const TCP_SESSION_START: &str = "tcp_session_start";
    /// `tcp_monologue`.
    pub const TCP_MONOLOGUE: &str = "tcp_monologue";
    /// `tcp_session_end`.
    pub const TCP_SESSION_END: &str = "tcp_session_end";
    /// All three.
    pub const TCP: [&str; 3] = [TCP_SESSION_START, TCP_MONOLOGUE, TCP_SESSION_END];
}

/// A plugin's metadata, as `netan plugins` lists it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Short name used in pipelines (`http`).
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// Version of `netan-plugin-api` the plugin was built with.
    pub api_version: RString,
    /// One line about what it does.
    pub description: RString,
    /// Who wrote it.
    pub author: RString,
    /// Licence (SPDX expression).
    pub license: RString,
    /// Events it consumes: any of the TCP events, and names other plugins emit.
    pub consumes: RVec<RString>,
    /// Named events it emits for other plugins.
    pub emits: RVec<RString>,
    /// Record kinds it writes.
    pub records: RVec<RString>,
    /// Ports it analyses by default, on either side of a session (empty: any traffic).
    pub default_ports: RVec<u16>,
}

impl PluginInfo {
    /// Whether the plugin consumes event `name`.
    pub fn consumes(&self, name: &str) -> bool {
        self.consumes.iter().any(|c| c.as_str() == name)
    }
}
