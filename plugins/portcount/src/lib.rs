//! `portcount`: sessions, packets and bytes per server port — the original's PortCounter, and
//! the reference plugin for authors: it shows configuration (with a key that is checked),
//! per-session events, an aggregate that can be merged across instances, and records written
//! at the end.
//!
//! Pipeline entry:
//!
//! ```toml
//! [[plugin]]
//! name = "portcount"
//! [plugin.config]
//! top = 10   # only the 10 ports with most bytes (0, the default, means all)
//! ```
//!
//! Output: one `portcount` record per server port, most bytes first, with `port`, `sessions`,
//! `packets`, `bytes_c2s`, `bytes_s2c`.

use std::collections::BTreeMap;

use netan_plugin_api::{events, Config, Context, Fields, Info, Plugin, PluginError, SessionEnd};
use serde::Deserialize;

/// Configuration: the pipeline entry's `config` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Keep only the `top` ports with most bytes; 0 keeps all.
    #[serde(default)]
    top: usize,
}

/// Totals for one server port.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Count {
    sessions: u64,
    packets: u64,
    bytes_c2s: u64,
    bytes_s2c: u64,
}

impl Count {
    /// Adds `other` (saturating: a merged partial state comes from outside).
    fn add(&mut self, other: &Count) {
        self.sessions = self.sessions.saturating_add(other.sessions);
        self.packets = self.packets.saturating_add(other.packets);
        self.bytes_c2s = self.bytes_c2s.saturating_add(other.bytes_c2s);
        self.bytes_s2c = self.bytes_s2c.saturating_add(other.bytes_s2c);
    }
}

/// The analyser: totals per server port.
pub struct PortCount {
    settings: Settings,
    ports: BTreeMap<u16, Count>,
    last_ts: u64,
}

impl Plugin for PortCount {
    fn info() -> Info {
        Info {
            name: "portcount",
            version: env!("CARGO_PKG_VERSION"),
            description: "sessions, packets and bytes per server port",
            author: "netan team",
            license: "MIT OR Apache-2.0",
            consumes: &[events::TCP_SESSION_END],
            emits: &[],
            records: &["portcount"],
            default_ports: &[],
        }
    }

    fn new(config: Config<'_>) -> Result<Self, PluginError> {
        Ok(PortCount {
            settings: config.parse()?,
            ports: BTreeMap::new(),
            last_ts: 0,
        })
    }

    fn tcp_session_end(
        &mut self,
        _ctx: &mut Context<'_, '_>,
        end: &SessionEnd<'_>,
    ) -> Result<(), PluginError> {
        let count = self.ports.entry(end.session.server.port).or_default();
        count.add(&Count {
            sessions: 1,
            packets: end.packets,
            bytes_c2s: end.bytes_c2s,
            bytes_s2c: end.bytes_s2c,
        });
        self.last_ts = self.last_ts.max(end.t_end);
        Ok(())
    }

    /// `last_ts NS` (the latest session end seen: the records' time), then one line per port:
    /// `port sessions packets bytes_c2s bytes_s2c`.
    fn partial(&mut self) -> Result<Option<String>, PluginError> {
        let mut lines = vec![format!("last_ts {}", self.last_ts)];
        lines.extend(self.ports.iter().map(|(port, c)| {
            format!(
                "{port} {} {} {} {}",
                c.sessions, c.packets, c.bytes_c2s, c.bytes_s2c
            )
        }));
        Ok(Some(lines.join("\n")))
    }

    fn merge(&mut self, partial: &str) -> Result<(), PluginError> {
        for line in partial.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(ts) = line.strip_prefix("last_ts ") {
                let ts: u64 = ts.trim().parse().map_err(|e| {
                    PluginError::failed(format!("bad partial state line {line:?}: {e}"))
                })?;
                self.last_ts = self.last_ts.max(ts);
                continue;
            }
            let numbers: Vec<u64> = line
                .split_whitespace()
                .map(|n| n.parse::<u64>())
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    PluginError::failed(format!("bad partial state line {line:?}: {e}"))
                })?;
            let [port, sessions, packets, bytes_c2s, bytes_s2c] = numbers[..] else {
                return Err(PluginError::failed(format!(
                    "bad partial state line {line:?}"
                )));
            };
            let port = u16::try_from(port)
                .map_err(|e| PluginError::failed(format!("bad port {port}: {e}")))?;
            self.ports.entry(port).or_default().add(&Count {
                sessions,
                packets,
                bytes_c2s,
                bytes_s2c,
            });
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context<'_, '_>) -> Result<(), PluginError> {
        let mut rows: Vec<(&u16, &Count)> = self.ports.iter().collect();
        rows.sort_by_key(|(port, c)| (std::cmp::Reverse(c.bytes_c2s + c.bytes_s2c), **port));
        let keep = if self.settings.top == 0 {
            rows.len()
        } else {
            self.settings.top
        };
        for (port, c) in rows.into_iter().take(keep) {
            ctx.record(
                "portcount",
                self.last_ts,
                Fields::new()
                    .uint("port", u64::from(*port))
                    .uint("sessions", c.sessions)
                    .uint("packets", c.packets)
                    .uint("bytes_c2s", c.bytes_c2s)
                    .uint("bytes_s2c", c.bytes_s2c),
            );
        }
        Ok(())
    }
}

netan_plugin_api::export_plugin!(PortCount);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_configuration_keys_are_rejected_with_the_key() {
        let err = PortCount::new(Config {
            text: "colour = \"red\"\n",
        })
        .err()
        .unwrap();
        assert_eq!(err.key.as_str(), "colour");
        assert!(err.message.contains("unknown field"), "{err}");
        assert!(PortCount::new(Config { text: "top = 3" }).is_ok());
        assert!(PortCount::new(Config { text: "" }).is_ok());
    }

    #[test]
    fn partial_state_merges_into_the_same_totals() {
        let mut a = PortCount::new(Config { text: "" }).unwrap();
        let mut b = PortCount::new(Config { text: "" }).unwrap();
        a.last_ts = 5;
        b.last_ts = 9;
        a.ports.insert(
            80,
            Count {
                sessions: 2,
                packets: 10,
                bytes_c2s: 100,
                bytes_s2c: 1000,
            },
        );
        b.ports.insert(
            80,
            Count {
                sessions: 1,
                packets: 5,
                bytes_c2s: 50,
                bytes_s2c: 500,
            },
        );
        b.ports.insert(
            25,
            Count {
                sessions: 1,
                packets: 7,
                bytes_c2s: 70,
                bytes_s2c: 7,
            },
        );
        let p = b.partial().unwrap().unwrap();
        a.merge(&p).unwrap();
        assert_eq!(
            a.ports[&80],
            Count {
                sessions: 3,
                packets: 15,
                bytes_c2s: 150,
                bytes_s2c: 1500
            }
        );
        assert_eq!(a.ports[&25].packets, 7);
        // The records' time is the latest session end of all instances.
        assert_eq!(a.last_ts, 9);
        assert!(a.merge("80 1 2").is_err());
        assert!(a.merge("last_ts x").is_err());
    }
}
