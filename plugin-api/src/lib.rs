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
//! A plugin built against any `0.1.z` of this crate loads in any netan built against any
//! `0.1.z'`, older or newer. [`PluginMod`] is a prefix type and [`Analyser`]/[`Host`] are
//! `sabi_trait`s with `last_prefix_field`: a version adds functions only after the last ones
//! (bumping the patch number), each `sabi_trait` method with a default body, which is what the
//! other side gets when its counterpart lacks the method: a newer plugin calling a [`Host`]
//! function an older netan lacks gets the default (documented per function, e.g.
//! [`Host::extraction_enabled`]); a newer netan calling an [`Analyser`] method an older
//! plugin lacks gets the default. abi_stable's own load check accepts only libraries at least
//! as new as the loader, so netan checks a plugin built against an older API the other way
//! round (its types must be a prefix of today's). [`history`] keeps every released version's
//! interface types frozen; a unit test holds each against the current API and an
//! end-to-end test loads a plugin built from `history::v0_1_0` beside current ones. Types
//! that are not prefix types (events, records, [`PluginInfo`], [`PluginError`]) never change
//! within a line; a change to one starts a new line (0.2) whose plugins must be rebuilt.
//! Codes that will grow ([`EndReason`], [`Handshake`], [`ErrorKind`], [`LogLevel`]) are
//! integer newtypes with named constants.
//!
//! A panic in a plugin's `Drop` is caught as well (and reported on stderr).

#![warn(missing_docs)]
// abi_stable's derives and `sabi_trait` expand to unsafe code and to items named like
// `PluginMod_Ref`; no unsafe code is written by hand in this crate.
#![allow(unsafe_code, non_camel_case_types, non_local_definitions)]

pub mod analyser;
pub mod error;
pub mod event;
pub mod history;
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
