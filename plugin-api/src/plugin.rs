//! The plugin author's side: implement [`Plugin`] in ordinary safe Rust, then call
//! [`export_plugin!`](crate::export_plugin). The adapter here turns the trait into the
//! FFI-safe [`Analyser`], and catches every panic on the plugin's side of the boundary so that
//! it reaches the host as an error instead of aborting the process.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, ROption, RResult, RStr, RString, RVec};
use serde::de::DeserializeOwned;

use crate::analyser::{Analyser, AnalyserBox, Analyser_TO};
use crate::error::PluginError;
use crate::event::{Event, Monologue, SessionEnd, SessionStart};
use crate::host::{HostMut, LogLevel};
use crate::info::PluginInfo;
use crate::module::{PluginMod, PluginMod_Ref};
use crate::record::{Fields, Record};

/// Static metadata of a plugin, in plain Rust types.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    /// Short name used in pipelines.
    pub name: &'static str,
    /// The plugin's version (use `env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    /// One line about what it does.
    pub description: &'static str,
    /// Who wrote it.
    pub author: &'static str,
    /// Licence (SPDX expression).
    pub license: &'static str,
    /// Events consumed (see [`crate::events`]).
    pub consumes: &'static [&'static str],
    /// Named events emitted.
    pub emits: &'static [&'static str],
    /// Record kinds written.
    pub records: &'static [&'static str],
    /// Ports analysed by default, on either side of a session (empty: all traffic): the host's
    /// pre-filter, applied before the plugin sees a session.
    pub default_ports: &'static [u16],
}

impl Info {
    /// The FFI form, stamped with the plugin-api version the plugin is built against.
    pub fn to_abi(&self) -> PluginInfo {
        let strings = |list: &[&str]| list.iter().map(|s| RString::from(*s)).collect::<RVec<_>>();
        PluginInfo {
            name: self.name.into(),
            version: self.version.into(),
            api_version: crate::API_VERSION.into(),
            description: self.description.into(),
            author: self.author.into(),
            license: self.license.into(),
            consumes: strings(self.consumes),
            emits: strings(self.emits),
            records: strings(self.records),
            default_ports: self.default_ports.iter().copied().collect(),
        }
    }
}

/// A plugin's configuration: the TOML text of its table in the pipeline file.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// The TOML text (empty when the pipeline gives no configuration).
    pub text: &'a str,
}

impl Config<'_> {
    /// Deserialises the configuration. Use `#[serde(deny_unknown_fields)]` so that a typo is
    /// an error; the error names the offending key, and the host turns that into a
    /// `file:line:column` in the pipeline file.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        toml::from_str(self.text).map_err(|e| {
            let key = e
                .span()
                .and_then(|span| key_at(self.text, span.start))
                .unwrap_or_default();
            PluginError::config(&key, e.message())
        })
    }
}

/// The key of the `key = value` line that holds byte `at` of `text`, as a dotted path when it
/// is in a sub-table (`[extra]` then `deep = 1`: `extra.deep`; on the header itself:
/// `extra`).
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?.trim();
    // `[table]` or `[[array.of.tables]]` (an entry of it): a key path, not a line of a
    // multi-line array (`[1, 2],`).
    let header = |l: &str| {
        let inner = l
            .strip_prefix("[[")
            .and_then(|h| h.strip_suffix("]]"))
            .or_else(|| l.strip_prefix('[').and_then(|h| h.strip_suffix(']')))?
            .trim();
        let path = inner
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.\"' ".contains(c));
        (path && !inner.is_empty()).then(|| inner.to_string())
    };
    if let Some(table) = header(line) {
        return (!table.is_empty()).then_some(table);
    }
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    // The table the line is in: the last header above it, if any.
    let table = text
        .get(..line_start)?
        .lines()
        .rev()
        .find_map(|l| header(l.trim()));
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// What a plugin can do during a call: write records, emit events, log.
pub struct Context<'a, 'h> {
    host: &'a mut HostMut<'h>,
}

impl<'a, 'h> Context<'a, 'h> {
    /// Wraps the host handle of a call.
    pub fn new(host: &'a mut HostMut<'h>) -> Context<'a, 'h> {
        Context { host }
    }

    /// Writes a record of kind `kind` about capture time `ts`.
    pub fn record(&mut self, kind: &str, ts: u64, fields: Fields) {
        self.host.emit_record(Record {
            kind: kind.into(),
            ts,
            fields: fields.0,
        });
    }

    /// Emits event `name` for the plugins that consume it (delivered after the current event).
    pub fn emit(&mut self, name: &str, ts: u64, fields: Fields) {
        self.host.emit_event(Event {
            name: name.into(),
            ts,
            session_id: u64::MAX,
            session_key: RString::new(),
            source: RString::new(),
            fields: fields.0,
        });
    }

    /// Saves extracted content as a file (see [`crate::Host::save_artifact`]); returns its path.
    pub fn save_artifact(&mut self, name: &str, data: &[u8]) -> Result<String, String> {
        self.host
            .save_artifact(name.into(), data.into())
            .into_result()
            .map(|p| p.into())
            .map_err(|e| e.into())
    }

    /// Whether [`Context::save_artifact`] can save anything in this run (`netan run
    /// --extract-dir` given). `true` in a netan older than API 0.1.1.
    pub fn extraction_enabled(&self) -> bool {
        self.host.extraction_enabled()
    }

    /// For an analyser configured to save content: whether this run can save any. When it
    /// cannot, warns that `what` (e.g. "bodies") are not kept, naming the option that would
    /// save them. Call it once (at the first session), not per item.
    pub fn extraction_usable(&mut self, what: &str) -> bool {
        let usable = self.extraction_enabled();
        if !usable {
            self.warn(&format!(
                "extract = true, but this run saves no files (netan run --extract-dir DIR): {what} are not kept"
            ));
        }
        usable
    }

    /// Stops events about the current session reaching this analyser (see
    /// [`crate::Host::release_session`]).
    pub fn release_session(&mut self) {
        self.host.release_session();
    }

    /// Logs a warning.
    pub fn warn(&mut self, message: &str) {
        self.host.log(LogLevel::WARN, message.into());
    }

    /// Logs an informational message.
    pub fn info(&mut self, message: &str) {
        self.host.log(LogLevel::INFO, message.into());
    }
}

/// An analyser plugin in ordinary Rust. Every event method has a no-op default: override
/// those you consume (and list them in [`Info::consumes`]).
///
/// ```
/// use netan_plugin_api::{events, Config, Context, Fields, Info, Monologue, Plugin, PluginError};
///
/// /// Counts monologues.
/// struct Counter(u64);
///
/// impl Plugin for Counter {
///     fn info() -> Info {
///         Info {
///             name: "counter",
///             version: "0.1.0",
///             description: "counts monologues",
///             author: "me",
///             license: "MIT",
///             consumes: &[events::TCP_MONOLOGUE],
///             emits: &[],
///             records: &["counter"],
///             default_ports: &[],
///         }
///     }
///     fn new(_config: Config<'_>) -> Result<Self, PluginError> {
///         Ok(Counter(0))
///     }
///     fn tcp_monologue(&mut self, _ctx: &mut Context<'_, '_>, m: &Monologue<'_>) -> Result<(), PluginError> {
///         if !m.more {
///             self.0 += 1;
///         }
///         Ok(())
///     }
///     // The count spans sessions: with several instances (`--instances N`), each counts its
///     // own sessions and hands its count over, to be merged into the one that finishes.
///     fn partial(&mut self) -> Result<Option<String>, PluginError> {
///         Ok(Some(self.0.to_string()))
///     }
///     fn merge(&mut self, partial: &str) -> Result<(), PluginError> {
///         self.0 += partial
///             .parse::<u64>()
///             .map_err(|e| PluginError::failed(format!("partial state {partial:?}: {e}")))?;
///         Ok(())
///     }
///     fn finish(&mut self, ctx: &mut Context<'_, '_>) -> Result<(), PluginError> {
///         ctx.record("counter", 0, Fields::new().uint("monologues", self.0));
///         Ok(())
///     }
/// }
/// // In a cdylib crate: netan_plugin_api::export_plugin!(Counter);
/// ```
pub trait Plugin: Send + Sized + 'static {
    /// Metadata.
    fn info() -> Info;

    /// Creates an instance from its configuration (reject it with [`PluginError::config`]).
    fn new(config: Config<'_>) -> Result<Self, PluginError>;

    /// `tcp_session_start`.
    fn tcp_session_start(
        &mut self,
        _ctx: &mut Context<'_, '_>,
        _event: &SessionStart<'_>,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    /// `tcp_monologue` (one part of it; see [`Monologue::more`]).
    fn tcp_monologue(
        &mut self,
        _ctx: &mut Context<'_, '_>,
        _event: &Monologue<'_>,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    /// `tcp_session_end`.
    fn tcp_session_end(
        &mut self,
        _ctx: &mut Context<'_, '_>,
        _event: &SessionEnd<'_>,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    /// A named event from another plugin.
    fn event(&mut self, _ctx: &mut Context<'_, '_>, _event: &Event) -> Result<(), PluginError> {
        Ok(())
    }

    /// Partial state to hand to the host for merging (aggregating plugins only).
    fn partial(&mut self) -> Result<Option<String>, PluginError> {
        Ok(None)
    }

    /// Merges another instance's partial state into this one.
    fn merge(&mut self, _partial: &str) -> Result<(), PluginError> {
        Err(PluginError::unsupported(
            "this plugin keeps no state across sessions",
        ))
    }

    /// End of input.
    fn finish(&mut self, _ctx: &mut Context<'_, '_>) -> Result<(), PluginError> {
        Ok(())
    }
}

/// Runs `f`, turning a panic into [`PluginError::panicked`] with the panic message.
fn guard<R>(f: impl FnOnce() -> Result<R, PluginError>) -> RResult<R, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => ROk(v),
        Ok(Err(e)) => RErr(e),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            RErr(PluginError::panicked(message))
        }
    }
}

/// Adapts a [`Plugin`] to the FFI-safe [`Analyser`]. The plugin is held in an `Option` so
/// that dropping it is guarded too: a panic in the plugin's `Drop` is caught here (and
/// reported on stderr) instead of unwinding across the boundary, which would abort the host
/// with every record still unwritten.
#[doc(hidden)]
pub struct Adapter<P: Plugin>(Option<P>);

impl<P: Plugin> Adapter<P> {
    /// Runs `f` on the plugin, guarded.
    fn with<R>(
        &mut self,
        f: impl FnOnce(&mut P) -> Result<R, PluginError>,
    ) -> RResult<R, PluginError> {
        guard(|| match self.0.as_mut() {
            Some(plugin) => f(plugin),
            None => Err(PluginError::failed("the plugin was already dropped")),
        })
    }
}

impl<P: Plugin> Drop for Adapter<P> {
    fn drop(&mut self) {
        let plugin = self.0.take();
        if let RErr(e) = guard(move || {
            drop(plugin);
            Ok(())
        }) {
            eprintln!(
                "netan: a plugin panicked while being dropped: {}",
                e.message
            );
        }
    }
}

impl<P: Plugin> Analyser for Adapter<P> {
    fn tcp_session_start(
        &mut self,
        mut host: HostMut<'_>,
        event: &SessionStart<'_>,
    ) -> RResult<(), PluginError> {
        self.with(|p| p.tcp_session_start(&mut Context::new(&mut host), event))
    }

    fn tcp_monologue(
        &mut self,
        mut host: HostMut<'_>,
        event: &Monologue<'_>,
    ) -> RResult<(), PluginError> {
        self.with(|p| p.tcp_monologue(&mut Context::new(&mut host), event))
    }

    fn tcp_session_end(
        &mut self,
        mut host: HostMut<'_>,
        event: &SessionEnd<'_>,
    ) -> RResult<(), PluginError> {
        self.with(|p| p.tcp_session_end(&mut Context::new(&mut host), event))
    }

    fn event(&mut self, mut host: HostMut<'_>, event: &Event) -> RResult<(), PluginError> {
        self.with(|p| p.event(&mut Context::new(&mut host), event))
    }

    fn partial(&mut self) -> RResult<ROption<RString>, PluginError> {
        self.with(|p| p.partial().map(|x| x.map(RString::from).into()))
    }

    fn merge(&mut self, partial: RStr<'_>) -> RResult<(), PluginError> {
        self.with(|p| p.merge(partial.as_str()))
    }

    fn finish(&mut self, mut host: HostMut<'_>) -> RResult<(), PluginError> {
        self.with(|p| p.finish(&mut Context::new(&mut host)))
    }
}

extern "C" fn info_of<P: Plugin>() -> PluginInfo {
    match catch_unwind(P::info) {
        Ok(info) => info.to_abi(),
        Err(_) => PluginInfo {
            name: "<panicked>".into(),
            version: RString::new(),
            api_version: crate::API_VERSION.into(),
            description: "the plugin's info() panicked".into(),
            author: RString::new(),
            license: RString::new(),
            consumes: RVec::new(),
            emits: RVec::new(),
            records: RVec::new(),
            default_ports: RVec::new(),
        },
    }
}

extern "C" fn new_of<P: Plugin>(config: RStr<'_>) -> RResult<AnalyserBox, PluginError> {
    guard(|| {
        P::new(Config {
            text: config.as_str(),
        })
    })
    .map(|plugin| Analyser_TO::from_value(Adapter(Some(plugin)), TD_Opaque))
}

/// The root module for plugin type `P` (what [`export_plugin!`](crate::export_plugin)
/// exports).
#[doc(hidden)]
pub fn root_module<P: Plugin>() -> PluginMod_Ref {
    use abi_stable::prefix_type::PrefixTypeTrait;
    PluginMod {
        info: info_of::<P>,
        new: new_of::<P>,
    }
    .leak_into_prefix()
}

/// Creates an analyser of plugin type `P` in-process, as the host would through the library
/// (for unit tests of plugins: no dynamic loading needed).
pub fn instantiate<P: Plugin>(config: &str) -> Result<AnalyserBox, PluginError> {
    new_of::<P>(config.into()).into_result()
}

/// Exports a [`Plugin`] type as the library's root module. Use it once, in a `cdylib` crate
/// that depends on `netan-plugin-api` and `abi_stable`:
///
/// ```ignore
/// netan_plugin_api::export_plugin!(MyPlugin);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        // `export_root_module` expands to unsafe code of abi_stable's.
        #[allow(unsafe_code)]
        mod __netan_plugin_export {
            /// The library's root module.
            #[::abi_stable::export_root_module]
            pub fn netan_plugin_root_module() -> $crate::PluginMod_Ref {
                $crate::plugin::root_module::<super::__NetanPluginType>()
            }
        }
        #[doc(hidden)]
        type __NetanPluginType = $plugin;
    };
}

#[cfg(test)]
mod key_tests {
    use super::key_at;

    #[test]
    fn a_key_in_a_sub_table_is_named_by_its_dotted_path() {
        let text = "max_head = 5\n\n[extra]\ndeep = 1\n";
        let at = |s: &str| text.find(s).unwrap();
        assert_eq!(key_at(text, at("5")).as_deref(), Some("max_head"));
        assert_eq!(key_at(text, at("[extra]")).as_deref(), Some("extra"));
        assert_eq!(key_at(text, at("1\n")).as_deref(), Some("extra.deep"));
        // An array of tables, and a multi-line array whose lines look like headers.
        let text = "x = 1\n[y]\nz = [\n  [1, 2],\n]\nw = 3\n[[list]]\na = \"bad\"\n";
        let at = |s: &str| text.find(s).unwrap();
        assert_eq!(key_at(text, at("\"bad")).as_deref(), Some("list.a"));
        assert_eq!(key_at(text, at("[[list")).as_deref(), Some("list"));
        assert_eq!(key_at(text, at("3\n")).as_deref(), Some("y.w"));
    }
}
