//! `Analyser`: the FFI-safe trait an analyser instance implements, one method per event. Plugin
//! authors do not implement it directly: they implement [`crate::Plugin`], and
//! [`crate::export_plugin!`] adapts it (and catches panics).

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, ROption, RResult, RStr, RString};

use crate::error::PluginError;
use crate::event::{Event, Monologue, SessionEnd, SessionStart};
use crate::host::HostMut;

/// An analyser instance, as the host drives it.
///
/// Guarantees the host gives (see the crate documentation): calls on one instance never
/// overlap; for one session the order is start, monologues, end; `finish` comes last.
#[sabi_trait]
pub trait Analyser: Send {
    /// `tcp_session_start`.
    fn tcp_session_start(
        &mut self,
        host: HostMut<'_>,
        event: &SessionStart<'_>,
    ) -> RResult<(), PluginError>;

    /// `tcp_monologue` (one part of it).
    fn tcp_monologue(
        &mut self,
        host: HostMut<'_>,
        event: &Monologue<'_>,
    ) -> RResult<(), PluginError>;

    /// `tcp_session_end`.
    fn tcp_session_end(
        &mut self,
        host: HostMut<'_>,
        event: &SessionEnd<'_>,
    ) -> RResult<(), PluginError>;

    /// A named event another plugin emitted.
    fn event(&mut self, host: HostMut<'_>, event: &Event) -> RResult<(), PluginError>;

    /// Hands over the instance's partial state (for aggregating plugins), serialised in any
    /// format the plugin's `merge` understands; `None` when it keeps none.
    fn partial(&mut self) -> RResult<ROption<RString>, PluginError>;

    /// Merges the partial state of another instance of the same pipeline entry.
    fn merge(&mut self, partial: RStr<'_>) -> RResult<(), PluginError>;

    /// End of input: every session has ended. Write aggregate records here.
    #[sabi(last_prefix_field)]
    fn finish(&mut self, host: HostMut<'_>) -> RResult<(), PluginError>;
}

/// An owned analyser instance behind the FFI boundary.
pub type AnalyserBox = Analyser_TO<'static, RBox<()>>;
