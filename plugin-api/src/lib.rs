//! The contract between the netan host and analyser plugins, on one page.
//!
//! A plugin is a dynamic library (`crate-type = ["cdylib"]`) built against this crate alone
//! (plus `abi_stable`). It implements [`Plugin`] in ordinary safe Rust and exports it with
//! [`export_plugin!`]. The host loads it at run time, checks that it was built against a
//! compatible version of this crate with identical type layouts (`abi_stable` does both), and
//! creates one [`Analyser`] per pipeline entry that names it, passing that entry's TOML table.
//!
//! # Events
//!
//! The built-in TCP listener always runs first. An analyser receives, for each session its
//! traffic filter matches: [`SessionStart`], then the session's [`Monologue`]s (large ones in
//! parts, `more` set on all but the last), then [`SessionEnd`]. It also receives the named
//! [`Event`]s it lists in [`Info::consumes`], which other plugins emit through
//! [`Context::emit`] (`http_transaction`, ...), and [`Plugin::finish`] at the end of input.
//! It writes [`Record`]s through [`Context::record`]; the host adds the plugin name, the
//! session key and id, and writes them (JSON Lines).
//!
//! # Guarantees
//!
//! * **Ordering.** Sessions' events interleave in capture order. For one session an analyser
//!   sees start, monologues in order, end — exactly one start and one end, unless it released
//!   the session ([`Context::release_session`]: then nothing more about it). A named event is
//!   delivered after the event during which it was emitted has been handled by every plugin
//!   (a queue, never a re-entrant call), in emission order, to every consuming plugin in
//!   pipeline order. `finish` comes after every session has ended.
//! * **Borrowing.** Event payloads, notably monologue bytes, are borrowed for the call only:
//!   copy what you keep.
//! * **Threading.** Calls on one analyser never overlap. Today every analyser runs on the
//!   host's main thread. A later host will run several instances of one pipeline entry, each
//!   in its own thread on a disjoint set of whole sessions (all events of a session go to one
//!   instance, in order). An analyser that aggregates across sessions (like `portcount`) must
//!   therefore keep its aggregate mergeable: at the end the host calls [`Plugin::partial`] on
//!   every instance but one and [`Plugin::merge`] on the remaining one, then `finish` on it
//!   alone. Per-session analysers need do nothing. Analysers must be `Send`.
//! * **Failure.** A panic in any callback is caught on the plugin's side and reported to the
//!   host as [`PluginError`]; so is an `Err` you return. The host then stops feeding that
//!   analyser (others go on) and exits non-zero at the end, or stops at once if the pipeline
//!   says so. Return errors rather than panic; never abort.
//!
//! # Compatibility
//!
//! [`PluginMod`] is a prefix type and [`Analyser`]/[`Host`] are `sabi_trait`s with
//! `last_prefix_field`: a later version can append functions after the last ones. abi_stable
//! then accepts a plugin built against the newer API in an older netan (the functions it
//! does not have are missing, and calling them is an error the adapter reports), but refuses
//! a plugin built against the older API in the newer netan ("too many fields"): **plugins
//! must be rebuilt when netan's API gains functions**, and the loader says so by naming the
//! file. Loading older plugins too needs the interface types of each API version frozen in a
//! module of their own, which is not done yet. Event and record types do not change within a
//! minor version; codes that will grow ([`EndReason`], [`Handshake`], [`ErrorKind`],
//! [`LogLevel`]) are integer newtypes with named constants.
//!
//! A panic in a plugin's `Drop` is caught as well (and reported on stderr).

#![warn(missing_docs)]
// abi_stable's derives and `sabi_trait` expand to unsafe code and to items named like
// `PluginMod_Ref`; no unsafe code is written by hand in this crate.
#![allow(unsafe_code, non_camel_case_types, non_local_definitions)]

pub mod analyser;
pub mod error;
pub mod event;
pub mod host;
pub mod info;
pub mod json;
pub mod module;
pub mod plugin;
pub mod record;
pub mod testing;

pub use abi_stable;

pub use analyser::{Analyser, AnalyserBox, Analyser_TO};
pub use error::{ErrorKind, PluginError};
pub use event::{
    Direction, EndReason, Endpoint, EndpointText, Event, Gap, Handshake, Monologue, Piece, Session,
    SessionEnd, SessionStart,
};
pub use host::{Host, HostMut, Host_TO, LogLevel};
pub use info::{events, PluginInfo};
pub use module::{PluginMod, PluginMod_Ref};
pub use plugin::{instantiate, Config, Context, Info, Plugin};
pub use record::{Field, Fields, Record, Value};

/// Version of this crate, stamped into every plugin's [`PluginInfo::api_version`].
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The plugin guide's Rust examples are compiled as doctests, so the guide cannot drift from
/// the API it describes.
#[cfg(doctest)]
#[doc = include_str!("../../docs/plugin-guide.md")]
pub struct PluginGuide;
