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
//! current API with abi_stable's own checker, and every type a 0.1.0 plugin has (the plain
//! types included, which the frozen module shares with today's API) against a dump of their
//! layouts in `abi/v0_1_0.txt`; `tests/fixtures/api-0.1.0` is a plugin library built from
//! [`v0_1_0`] that the end-to-end tests load into today's netan.
//!
//! When the API gains a function: append it (with a default body for `sabi_trait` methods:
//! what the other side gets when it lacks the function; `#[sabi(missing_field(option))]` for a
//! field of `PluginMod`), bump the patch version of
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
    use std::collections::BTreeSet;
    use std::fmt::Write;

    use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
    use abi_stable::std_types::UTypeId;
    use abi_stable::type_layout::{TLData, TypeLayout};
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

    /// Every type reachable from `layout` (fields, and the parameters and results of function
    /// pointers: the vtables' methods), one paragraph per type, in name order: names, sizes,
    /// alignments, kinds, fields and signatures, without package versions.
    fn dump(
        layout: &'static TypeLayout,
        seen: &mut BTreeSet<UTypeId>,
        types: &mut Vec<(String, String)>,
    ) {
        // Types are told apart by identity: generic instances print alike (`RObject<'lt>`).
        if !seen.insert(layout.get_utypeid()) {
            return;
        }
        // `sabi_trait` vtables are all named `VTable`: their module (`Host_trait`, ...) tells
        // them apart. Other modules are left out: the frozen copies live elsewhere than the
        // originals did, and abi_stable does not compare modules.
        let module = layout.mod_path().to_string();
        let module = module.rsplit("::").next().filter(|m| m.ends_with("_trait"));
        let key = format!(
            "{} {}{}",
            layout.package(),
            module.map(|m| format!("{m}::")).unwrap_or_default(),
            layout.full_type()
        );
        let mut text = format!(
            "{key}: size {} align {} {:?}\n",
            layout.size(),
            layout.alignment(),
            layout.data_discriminant()
        );
        if let TLData::Enum(e) = layout.data() {
            let _ = writeln!(text, "  variants {} {:?}", e.variant_names, e.field_count);
        }
        let mut next = Vec::new();
        let fields = layout.get_fields().into_iter().flat_map(|f| f.iter());
        for f in fields.chain(layout.phantom_fields().iter()) {
            let _ = writeln!(text, "  {}: {}", f.name(), f.full_type());
            next.push(f.layout());
            for func in f.function_range().iter() {
                let _ = writeln!(text, "    {func}");
                next.extend(func.param_type_layouts.iter().map(|l| l()));
                next.extend(func.return_type_layout().map(|l| l()));
            }
        }
        types.push((key, text));
        for l in next {
            dump(l, seen, types);
        }
    }

    /// The whole type tree of API 0.1.0, as plugins built against it have it, must never
    /// change: `history::v0_1_0` freezes the prefix types, but events, records and the other
    /// plain types are today's, so a change to one of them (a field added, reordered or
    /// retyped) would pass the extension check above and still break every 0.1.0 plugin.
    /// The dump is checked against `abi/v0_1_0.txt`; `NETAN_BLESS_ABI=1` rewrites the file
    /// (only ever when freezing a new version, never for 0.1.0).
    #[test]
    fn api_0_1_0_types_are_unchanged() {
        let mut types = Vec::new();
        dump(
            <super::v0_1_0::PluginMod_Ref as StableAbi>::LAYOUT,
            &mut BTreeSet::new(),
            &mut types,
        );
        types.sort();
        let text: String = types
            .into_iter()
            .map(|(_, text)| text)
            .collect::<Vec<_>>()
            .join("\n");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("abi/v0_1_0.txt");
        if std::env::var_os("NETAN_BLESS_ABI").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap();
        if text != golden {
            let first = text
                .lines()
                .zip(golden.lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("now: {a}\nwas: {b}"))
                .unwrap_or_else(|| "(one is longer)".to_string());
            panic!(
                "the types of plugin API 0.1.0 changed (a type that is not a prefix type \
                 must not change within a line; see history.rs). First difference:\n{first}"
            );
        }
    }
}
