//! The interface types of every released API version, frozen: what plugins built against
//! those versions export, kept so that compatibility is checked rather than hoped for.
//!
//! `abi_stable` accepts a library whose prefix types (root module, `sabi_trait` vtables) have
//! *more* fields than the loader's, never fewer. The netan loader therefore checks a plugin
//! built against an older API the other way round: the older API's types must be a prefix of
//! this one's (see `host/src/plugins.rs`). What makes that safe is that each version only
//! appends to [`PluginMod`](crate::PluginMod), [`Analyser`](crate::Analyser) and
//! [`Host`](crate::Host), and never changes a type that is not a prefix type (events,
//! records, errors, metadata). The unit tests below hold every frozen version against the
//! current API with abi_stable's own checker, and `tests/fixtures/api-0.1.0` is a plugin
//! library built from [`v0_1_0`] that the end-to-end tests load into today's netan.
//!
//! When the API gains a function: append it (with a default body for `sabi_trait` methods:
//! what the other side gets when it lacks the function), bump the patch version of
//! `netan-plugin-api` (0.x: the patch number is the compatible "minor"), and freeze the
//! version just released here as a new module. A change to any other type is a new
//! incompatible line (0.2), which starts a new history.
//!
//! Not for plugin authors: use the crate root.

#![allow(missing_docs)]

/// API 0.1.0 (the first release): `Host` without `extraction_enabled`.
pub mod v0_1_0 {
    use abi_stable::library::RootModule;
    use abi_stable::sabi_trait;
    use abi_stable::sabi_types::{RMut, VersionStrings};
    use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RStr, RString};
    use abi_stable::{declare_root_module_statics, StableAbi};

    use crate::error::PluginError;
    use crate::event::{Event, Monologue, SessionEnd, SessionStart};
    use crate::host::LogLevel;
    use crate::info::PluginInfo;
    use crate::record::Record;

    #[sabi_trait]
    pub trait Host {
        fn emit_record(&mut self, record: Record);
        fn emit_event(&mut self, event: Event);
        fn log(&mut self, level: LogLevel, message: RStr<'_>);
        fn save_artifact(
            &mut self,
            name: RStr<'_>,
            data: RSlice<'_, u8>,
        ) -> RResult<RString, RString>;
        #[sabi(last_prefix_field)]
        fn release_session(&mut self);
    }

    pub type HostMut<'a> = Host_TO<'a, RMut<'a, ()>>;

    #[sabi_trait]
    pub trait Analyser: Send {
        fn tcp_session_start(
            &mut self,
            host: HostMut<'_>,
            event: &SessionStart<'_>,
        ) -> RResult<(), PluginError>;
        fn tcp_monologue(
            &mut self,
            host: HostMut<'_>,
            event: &Monologue<'_>,
        ) -> RResult<(), PluginError>;
        fn tcp_session_end(
            &mut self,
            host: HostMut<'_>,
            event: &SessionEnd<'_>,
        ) -> RResult<(), PluginError>;
        fn event(&mut self, host: HostMut<'_>, event: &Event) -> RResult<(), PluginError>;
        fn partial(&mut self) -> RResult<ROption<RString>, PluginError>;
        fn merge(&mut self, partial: RStr<'_>) -> RResult<(), PluginError>;
        #[sabi(last_prefix_field)]
        fn finish(&mut self, host: HostMut<'_>) -> RResult<(), PluginError>;
    }

    pub type AnalyserBox = Analyser_TO<'static, RBox<()>>;

    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginMod_Ref)))]
    #[sabi(missing_field(panic))]
    pub struct PluginMod {
        pub info: extern "C" fn() -> PluginInfo,
        #[sabi(last_prefix_field)]
        pub new: extern "C" fn(config: RStr<'_>) -> RResult<AnalyserBox, PluginError>,
    }

    impl RootModule for PluginMod_Ref {
        declare_root_module_statics! {PluginMod_Ref}
        const BASE_NAME: &'static str = "netan_plugin";
        const NAME: &'static str = "netan_plugin";
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("0.1.0");
    }
}

#[cfg(test)]
mod tests {
    use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
    use abi_stable::StableAbi;

    /// Today's API extends 0.1.0 (what the netan loader relies on to load 0.1.0 plugins) and
    /// is not a prefix of it (so the check can fail: the loader must pick the direction).
    #[test]
    fn the_current_api_extends_every_frozen_version() {
        let old = <super::v0_1_0::PluginMod_Ref as StableAbi>::LAYOUT;
        let now = <crate::PluginMod_Ref as StableAbi>::LAYOUT;
        if let Err(e) = check_layout_compatibility(old, now) {
            panic!("the API no longer extends 0.1.0: {e}");
        }
        assert!(check_layout_compatibility(now, old).is_err());
    }
}
