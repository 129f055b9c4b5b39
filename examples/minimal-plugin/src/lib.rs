//! The smallest netan plugin: it subscribes to every TCP event and does nothing with them.
//! Copy this crate to start a new analyser. It also serves the overhead benchmark (the cost of
//! crossing the plugin boundary per session and per monologue).

use netan_plugin_api::{events, Config, Info, Plugin, PluginError};

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

    fn new(_config: Config<'_>) -> Result<Self, PluginError> {
        Ok(Minimal)
    }
}

netan_plugin_api::export_plugin!(Minimal);
