//! `http-perf`: HTTP performance per server — the original's HTTPClientPerf, as numbers
//! instead of a PostScript timeline. It consumes only the `http_transaction` events the `http`
//! plugin emits, and reports per server (the request's Host header, else the server address):
//! transactions, request and response bytes, and latency (first response byte minus last
//! request byte) min, median, p95 and max. Records (`http_perf`, one per server, most
//! transactions first) and a readable table on stderr at the end.
//!
//! Latencies are kept in a log-scale histogram (see [`histogram`]): memory per server is fixed
//! whatever the number of transactions, median and p95 are exact to within 1%, min and max are
//! exact. Histograms merge exactly, so several instances combine into the same result.

pub mod histogram;

use std::collections::BTreeMap;

use netan_plugin_api::{Config, Context, Event, Fields, Info, Plugin, PluginError, Value};
use serde::Deserialize;

use histogram::Histogram;

/// Configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Print the table on stderr at the end (default true).
    table: Option<bool>,
    /// Rows of that table (the servers with most transactions; default 20, 0 = all).
    table_rows: Option<usize>,
    /// Keep only the `top` servers with most transactions in records and table (0 = all).
    #[serde(default)]
    top: usize,
    /// Servers counted one by one (default 10000); the transactions of any further server
    /// are counted together under `(other servers)`, so that memory stays bounded whatever
    /// the traffic's Host headers.
    max_servers: Option<usize>,
}

/// Where the servers beyond `max_servers` are counted.
const OTHER_SERVERS: &str = "(other servers)";

/// `name` with tab, newline, carriage return and backslash escaped (the partial state's
/// fields are tab-separated lines): reversible, so merged names are the names.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape`].
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Totals for one server.
#[derive(Debug, Default, Clone, PartialEq)]
struct Server {
    transactions: u64,
    /// Transactions that had a response (and so a latency).
    answered: u64,
    request_bytes: u64,
    response_bytes: u64,
    latency: Histogram,
}

impl Server {
    /// Counts one `http_transaction` event.
    fn count(&mut self, e: &Event) {
        self.transactions += 1;
        self.request_bytes = self
            .request_bytes
            .saturating_add(uint(e, "request_body_len").unwrap_or(0));
        self.response_bytes = self
            .response_bytes
            .saturating_add(uint(e, "response_body_len").unwrap_or(0));
        if let Some(latency) = uint(e, "latency_ns") {
            self.answered += 1;
            self.latency.record(latency);
        }
    }

    fn merge(&mut self, other: &Server) {
        self.transactions = self.transactions.saturating_add(other.transactions);
        self.answered = self.answered.saturating_add(other.answered);
        self.request_bytes = self.request_bytes.saturating_add(other.request_bytes);
        self.response_bytes = self.response_bytes.saturating_add(other.response_bytes);
        self.latency.merge(&other.latency);
    }
}

/// The analyser.
pub struct HttpPerf {
    settings: Settings,
    servers: BTreeMap<String, Server>,
    last_ts: u64,
}

fn uint(e: &Event, name: &str) -> Option<u64> {
    e.get(name).and_then(Value::as_u64)
}

impl HttpPerf {
    /// The totals of server `name`: its own while fewer than `max_servers` are counted,
    /// else those of [`OTHER_SERVERS`]. (The name is copied only for a server not seen
    /// before.)
    fn server(&mut self, name: &str) -> &mut Server {
        let max = self.settings.max_servers.unwrap_or(10_000);
        let name = if self.servers.contains_key(name) || self.servers.len() < max {
            name
        } else {
            OTHER_SERVERS
        };
        self.servers.entry(name.to_owned()).or_default()
    }
}

impl Plugin for HttpPerf {
    fn info() -> Info {
        Info {
            name: "http-perf",
            version: env!("CARGO_PKG_VERSION"),
            description: "HTTP transactions, bytes and latency (min, median, p95, max) per server",
            author: "netan team",
            license: "MIT OR Apache-2.0",
            consumes: &["http_transaction"],
            emits: &[],
            records: &["http_perf"],
            default_ports: &[],
        }
    }

    fn new(config: Config<'_>) -> Result<Self, PluginError> {
        let settings: Settings = config.parse()?;
        if settings.max_servers == Some(0) {
            return Err(PluginError::config(
                "max_servers",
                "must be at least 1 (the servers beyond it are counted as one row)",
            ));
        }
        Ok(HttpPerf {
            settings,
            servers: BTreeMap::new(),
            last_ts: 0,
        })
    }

    fn event(&mut self, _ctx: &mut Context<'_, '_>, e: &Event) -> Result<(), PluginError> {
        // The server the client meant: its Host header, else the destination it asked a SOCKS
        // proxy for, else the address it talked to.
        let name = ["host", "socks", "server"]
            .iter()
            .find_map(|k| e.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()))
            .unwrap_or("?");
        match self.servers.get_mut(name) {
            Some(server) => server.count(e),
            None => self.server(name).count(e),
        }
        self.last_ts = self.last_ts.max(e.ts);
        Ok(())
    }

    /// `last_ts<TAB>NS` (the latest transaction seen: the records' time), then one line per
    /// server: name, transactions, answered, request and response bytes, latency histogram.
    fn partial(&mut self) -> Result<Option<String>, PluginError> {
        let mut out = format!("last_ts\t{}\n", self.last_ts);
        for (name, s) in &self.servers {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\n",
                escape(name),
                s.transactions,
                s.answered,
                s.request_bytes,
                s.response_bytes,
                s.latency.serialise()
            ));
        }
        Ok(Some(out))
    }

    fn merge(&mut self, partial: &str) -> Result<(), PluginError> {
        for line in partial.lines().filter(|l| !l.is_empty()) {
            let fields: Vec<&str> = line.split('\t').collect();
            if let ["last_ts", ts] = fields[..] {
                let ts: u64 = ts.parse().map_err(|e| {
                    PluginError::failed(format!("bad partial state line {line:?}: {e}"))
                })?;
                self.last_ts = self.last_ts.max(ts);
                continue;
            }
            let [name, t, a, rq, rs, hist] = fields[..] else {
                return Err(PluginError::failed(format!(
                    "bad partial state line {line:?}"
                )));
            };
            let num = |s: &str| {
                s.parse::<u64>()
                    .map_err(|e| PluginError::failed(format!("bad number {s:?}: {e}")))
            };
            let other = Server {
                transactions: num(t)?,
                answered: num(a)?,
                request_bytes: num(rq)?,
                response_bytes: num(rs)?,
                latency: Histogram::deserialise(hist).map_err(PluginError::failed)?,
            };
            self.server(&unescape(name)).merge(&other);
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context<'_, '_>) -> Result<(), PluginError> {
        let mut rows: Vec<(&String, &Server)> = self.servers.iter().collect();
        rows.sort_by(|a, b| b.1.transactions.cmp(&a.1.transactions).then(a.0.cmp(b.0)));
        if self.settings.top > 0 {
            rows.truncate(self.settings.top);
        }
        let ms = |ns: Option<u64>| ns.map_or("-".to_string(), |n| format!("{:.3}", n as f64 / 1e6));
        let mut table = format!(
            "HTTP performance per server ({} servers)\n{:<40} {:>7} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}\n",
            self.servers.len(),
            "server",
            "trans",
            "req bytes",
            "resp bytes",
            "min ms",
            "median ms",
            "p95 ms",
            "max ms"
        );
        let table_rows = match self.settings.table_rows.unwrap_or(20) {
            0 => usize::MAX,
            n => n,
        };
        for (row, (name, s)) in rows.iter().enumerate() {
            let h = &s.latency;
            ctx.record(
                "http_perf",
                self.last_ts,
                Fields::new()
                    .str("server", name)
                    .uint("transactions", s.transactions)
                    .uint("answered", s.answered)
                    .uint("request_bytes", s.request_bytes)
                    .uint("response_bytes", s.response_bytes)
                    .opt_uint("latency_min_ns", h.min())
                    .opt_uint("latency_median_ns", h.quantile(0.5))
                    .opt_uint("latency_p95_ns", h.quantile(0.95))
                    .opt_uint("latency_max_ns", h.max()),
            );
            if row >= table_rows {
                continue;
            }
            let shown: String = name.chars().take(40).collect();
            table.push_str(&format!(
                "{:<40} {:>7} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}\n",
                shown,
                s.transactions,
                s.request_bytes,
                s.response_bytes,
                ms(h.min()),
                ms(h.quantile(0.5)),
                ms(h.quantile(0.95)),
                ms(h.max())
            ));
        }
        if rows.len() > table_rows {
            table.push_str(&format!(
                "... and {} more servers (see the http_perf records)\n",
                rows.len() - table_rows
            ));
        }
        if self.settings.table.unwrap_or(true) && !rows.is_empty() {
            ctx.info(table.trim_end());
        }
        Ok(())
    }
}

netan_plugin_api::export_plugin!(HttpPerf);

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RString;
    use netan_plugin_api::testing::{self, Recorder};
    use netan_plugin_api::{Field, Record};

    fn transaction(host: &str, latency: Option<u64>, body: u64) -> Event {
        let mut fields = vec![
            Field {
                name: "host".into(),
                value: Value::Str(host.into()),
            },
            Field {
                name: "response_body_len".into(),
                value: Value::UInt(body),
            },
        ];
        if let Some(l) = latency {
            fields.push(Field {
                name: "latency_ns".into(),
                value: Value::UInt(l),
            });
        }
        Event {
            name: "http_transaction".into(),
            ts: 1,
            session_id: 0,
            session_key: RString::new(),
            source: "http".into(),
            fields: fields.into(),
        }
    }

    fn finish(p: &mut HttpPerf) -> Vec<Record> {
        let mut rec = Recorder::default();
        rec.with_context(|ctx| p.finish(ctx)).unwrap();
        rec.records
    }

    fn field(r: &Record, name: &str) -> Value {
        testing::field(r, name).unwrap().clone()
    }

    #[test]
    fn latencies_are_summarised_per_server() {
        let mut p = HttpPerf::new(Config {
            text: "table = false",
        })
        .unwrap();
        let mut rec = Recorder::default();
        rec.with_context(|ctx| {
            for ms in 1..=100u64 {
                p.event(ctx, &transaction("a.example", Some(ms * 1_000_000), 10))
                    .unwrap();
            }
            p.event(ctx, &transaction("b.example", None, 5)).unwrap();
        });
        let records = finish(&mut p);
        assert_eq!(records.len(), 2);
        let a = &records[0];
        assert_eq!(field(a, "server").as_str(), Some("a.example"));
        assert_eq!(field(a, "transactions").as_u64(), Some(100));
        assert_eq!(field(a, "response_bytes").as_u64(), Some(1000));
        assert_eq!(field(a, "latency_min_ns").as_u64(), Some(1_000_000));
        assert_eq!(field(a, "latency_max_ns").as_u64(), Some(100_000_000));
        let median = field(a, "latency_median_ns").as_u64().unwrap() as f64;
        let p95 = field(a, "latency_p95_ns").as_u64().unwrap() as f64;
        assert!((median / 50e6 - 1.0).abs() < 0.02, "{median}");
        assert!((p95 / 95e6 - 1.0).abs() < 0.02, "{p95}");
        // A server without answered transactions has no latency.
        assert_eq!(field(&records[1], "latency_median_ns"), Value::Null);
    }

    /// Without a Host header, a transaction in a SOCKS tunnel counts for the destination the
    /// client asked the proxy for, not for the proxy.
    #[test]
    fn a_tunnelled_transaction_without_host_counts_for_the_socks_destination() {
        let mut p = HttpPerf::new(Config {
            text: "table = false",
        })
        .unwrap();
        fn event(fields: &[(&'static str, &str)]) -> Event {
            Event {
                fields: fields
                    .iter()
                    .map(|&(name, v)| Field {
                        name: name.into(),
                        value: Value::Str(v.into()),
                    })
                    .collect::<Vec<_>>()
                    .into(),
                ..transaction("", None, 0)
            }
        }
        let mut rec = Recorder::default();
        rec.with_context(|ctx| {
            let proxy = ("server", "10.0.0.1:1080");
            p.event(ctx, &event(&[("socks", "www.example:80"), proxy]))
                .unwrap();
            p.event(
                ctx,
                &event(&[("host", "a.example"), ("socks", "www.example:80"), proxy]),
            )
            .unwrap();
            p.event(ctx, &event(&[proxy])).unwrap();
        });
        let mut names: Vec<String> = finish(&mut p)
            .iter()
            .filter_map(|r| field(r, "server").as_str().map(str::to_string))
            .collect();
        names.sort();
        assert_eq!(names, ["10.0.0.1:1080", "a.example", "www.example:80"]);
    }

    #[test]
    fn partial_states_merge_to_the_same_result() {
        let mut whole = HttpPerf::new(Config {
            text: "table = false",
        })
        .unwrap();
        let mut a = HttpPerf::new(Config {
            text: "table = false",
        })
        .unwrap();
        let mut b = HttpPerf::new(Config {
            text: "table = false",
        })
        .unwrap();
        let mut rec = Recorder::default();
        rec.with_context(|ctx| {
            for i in 0..50u64 {
                let mut e = transaction(if i % 3 == 0 { "x" } else { "y" }, Some(i * 7_777), i);
                // The last transaction goes to `b`: the merged records must still carry its time.
                e.ts = 1_000 + i;
                whole.event(ctx, &e).unwrap();
                if i % 2 == 0 {
                    a.event(ctx, &e).unwrap()
                } else {
                    b.event(ctx, &e).unwrap()
                };
            }
        });
        let partial = b.partial().unwrap().unwrap();
        a.merge(&partial).unwrap();
        // Names with the separators of the partial state's lines survive it.
        for name in ["a\tb.example", "x\\ny", "\\"] {
            assert_eq!(unescape(&escape(name)), name);
            assert!(!escape(name).contains(['\t', '\n']));
        }
        let merged = finish(&mut a);
        assert!(merged.iter().all(|r| r.ts == 1_049), "{merged:?}");
        assert_eq!(merged, finish(&mut whole));
        assert!(a.merge("x\t1").is_err());
    }

    #[test]
    fn servers_beyond_the_limit_are_counted_together() {
        // No server of its own at all would leave only the "other servers" row: refused.
        let e = HttpPerf::new(Config {
            text: "max_servers = 0",
        })
        .err()
        .unwrap();
        assert_eq!(e.key.as_str(), "max_servers");
        let mut h = HttpPerf::new(Config {
            text: "table = false\nmax_servers = 3",
        })
        .unwrap();
        let mut rec = Recorder::default();
        rec.with_context(|ctx| {
            for i in 0..10u64 {
                let host = format!("h{i}");
                h.event(ctx, &transaction(&host, Some(1_000), 1)).unwrap();
            }
            h.event(ctx, &transaction("h1", Some(1_000), 1)).unwrap();
        });
        assert_eq!(h.servers.len(), 4);
        assert_eq!(h.servers[OTHER_SERVERS].transactions, 7);
        assert_eq!(h.servers["h1"].transactions, 2);
    }
}
