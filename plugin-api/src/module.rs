//! `PluginMod`: the root module a plugin library exports. It is a prefix type, so later
//! versions can append functions without breaking plugins already built.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr};
use abi_stable::{declare_root_module_statics, package_version_strings, StableAbi};

use crate::analyser::AnalyserBox;
use crate::error::PluginError;
use crate::info::PluginInfo;

/// The root module of a netan plugin library.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginMod_Ref)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The plugin's metadata.
    pub info: extern "C" fn() -> PluginInfo,

    /// Creates an analyser for one pipeline entry, from the TOML text of its configuration
    /// table (empty for none). May reject the configuration.
    ///
    /// Fields appended after this one (a later API version) must be declared with
    /// `#[sabi(missing_field(option))]`: a plugin built before them lacks them, and the host
    /// must get `None` then, not a panic (see `history`).
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(config: RStr<'_>) -> RResult<AnalyserBox, PluginError>,
}

impl RootModule for PluginMod_Ref {
    declare_root_module_statics! {PluginMod_Ref}
    const BASE_NAME: &'static str = "netan_plugin";
    const NAME: &'static str = "netan_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
