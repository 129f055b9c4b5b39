//! The smallest netan plugin: it subscribes to every TCP event and does nothing with them.
//! Copy this crate to start a new analyser. It also serves the overhead benchmark (the cost of
//! crossing the plugin boundary per session and per monologue).

use netan_plugin_api::{events, Config, Info, Plugin, PluginError};
use serde::Deserialize;

/// Its settings: none yet. `deny_unknown_fields` turns a typo in a pipeline file into an
/// error at the key's `file:line:column` instead of a setting silently ignored; keep it when
/// you add fields.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {}

/// The analyser.
pub struct Minimal;

impl Plugin for Minimal {
    fn info() -> Info {
        Info {
            name: "minimal",
            version: env!("CARGO_PKG_VERSION"),
            description: "does nothing with every TCP event (a template, and a benchmark)",
            author: "netan team",
            license: "MIT OR Apache-2.0",
            consumes: &events::TCP,
            emits: &[],
            records: &[],
            default_ports: &[],
        }
    }

    fn new(config: Config<'_>) -> Result<Self, PluginError> {
        let Settings {} = config.parse()?;
        Ok(Minimal)
    }
}

netan_plugin_api::export_plugin!(Minimal);
