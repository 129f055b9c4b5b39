//! Glue between the plugin API and the HTTP parser: monologue parts in, `http` records and
//! `http_transaction` events out. The only file of this plugin that touches the ABI types.

use std::sync::Arc;

use netan_plugin_api::{
    events, Config, Context, Fields, Info, Monologue, Piece, Plugin, PluginError, Session,
    SessionEnd, Value,
};
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::parser::{Body, HeaderCapture, HttpConfig, Session as Parser, Transaction};

/// Which headers to report: `"all"`, `"none"`, or a list of names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HeaderSetting {
    Word(String),
    Names(Vec<String>),
}

/// The plugin's configuration table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Decode `Content-Encoding: gzip/deflate` bodies (to report their decoded size).
    #[serde(default)]
    decode_bodies: bool,
    /// SHA-256 of each body (off by default: it costs about a fifth of the plugin's time).
    #[serde(default)]
    hash_bodies: bool,
    /// Header lists to report: "none" (default), "all", or a list of names.
    #[serde(default)]
    headers: Option<HeaderSetting>,
    /// Largest message head read, in bytes.
    #[serde(default)]
    max_head: Option<usize>,
    /// Save bodies as files (needs `netan run --extract-dir`).
    #[serde(default)]
    extract: bool,
    /// Largest body saved, in bytes; longer ones are cut (and flagged).
    #[serde(default)]
    extract_max: Option<u64>,
    /// Emit `http_transaction` events for other plugins (`http-perf`).
    #[serde(default = "yes")]
    transactions: bool,
    /// Ports whose traffic is HTTP whatever it looks like (default: the usual HTTP ports);
    /// sessions on other ports are analysed when their first bytes look like HTTP.
    #[serde(default)]
    ports: Option<Vec<u16>>,
}

fn yes() -> bool {
    true
}

/// The analyser: one parser per session.
pub struct Http {
    config: Arc<HttpConfig>,
    extract: bool,
    transactions: bool,
    sessions: FxHashMap<u64, Parser>,
    /// Ports where traffic is taken for HTTP whatever it looks like (and flagged `not_http`
    /// when it is not); elsewhere a session is analysed only if it starts like HTTP.
    ports: Vec<u16>,
}

/// How a session's first bytes look.
fn looks_like_http(data: &[u8]) -> bool {
    const METHODS: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"TRACE ",
        b"PATCH ",
        b"PROPFIND ",
        b"PROPPATCH ",
        b"MKCOL ",
        b"COPY ",
        b"MOVE ",
        b"LOCK ",
        b"UNLOCK ",
        b"SEARCH ",
        b"REPORT ",
        b"SUBSCRIBE ",
        b"NOTIFY ",
        b"M-SEARCH ",
        b"PRI ",
    ];
    let data = strip_probe(data);
    data.starts_with(b"HTTP/1.") || METHODS.iter().any(|m| data.starts_with(m))
}

/// How many leading NUL bytes to skip: the byte a keep-alive probe carries when a capture
/// starts with one (RFC 1122 §4.2.3.6), seen in midstream captures whose first packet is a
/// probe, before the first request.
fn probe_len(data: &[u8]) -> usize {
    let nuls = data.iter().take(4).take_while(|b| **b == 0).count();
    if nuls > 0 && data.get(nuls).is_some_and(|b| b.is_ascii_uppercase()) {
        nuls
    } else {
        0
    }
}

/// `data` without a leading keep-alive byte.
fn strip_probe(data: &[u8]) -> &[u8] {
    data.get(probe_len(data)..).unwrap_or(data)
}

/// Default ports: the usual HTTP and proxy ports.
pub const DEFAULT_PORTS: &[u16] = &[80, 81, 591, 3128, 8000, 8008, 8080, 8081, 8888];

impl Plugin for Http {
    fn info() -> Info {
        Info {
            name: "http",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "HTTP/1.x transactions: requests paired with responses, bodies, timings, anomalies",
            author: "netan team",
            license: "MIT OR Apache-2.0",
            consumes: &[events::TCP_MONOLOGUE, events::TCP_SESSION_END],
            emits: &["http_transaction"],
            records: &["http"],
            // Every session: HTTP is recognised by content on other ports (see `ports`).
            default_ports: &[],
        }
    }

    fn new(config: Config<'_>) -> Result<Self, PluginError> {
        let s: Settings = if config.text.trim().is_empty() {
            toml_defaults()
        } else {
            config.parse()?
        };
        let headers = match s.headers {
            // Like Zeek's http.log and Suricata's eve http: the headers that matter are fields
            // of their own; whole header lists are opt-in (they triple the records' size).
            None => HeaderCapture::None,
            Some(HeaderSetting::Word(w)) if w == "all" => HeaderCapture::All,
            Some(HeaderSetting::Word(w)) if w == "none" => HeaderCapture::None,
            Some(HeaderSetting::Word(w)) => {
                return Err(PluginError::config(
                    "headers",
                    format!("expected \"all\", \"none\" or a list of names, not {w:?}"),
                ))
            }
            Some(HeaderSetting::Names(names)) => HeaderCapture::Names(names),
        };
        let defaults = HttpConfig::default();
        let config = HttpConfig {
            decode_bodies: s.decode_bodies,
            hash_bodies: s.hash_bodies,
            max_head: s.max_head.unwrap_or(defaults.max_head),
            capture_bodies: s.extract.then(|| s.extract_max.unwrap_or(16 << 20)),
            headers,
            ..defaults
        };
        Ok(Http {
            config: Arc::new(config),
            extract: s.extract,
            transactions: s.transactions,
            sessions: FxHashMap::default(),
            ports: s.ports.unwrap_or_else(|| DEFAULT_PORTS.to_vec()),
        })
    }

    fn tcp_monologue(
        &mut self,
        ctx: &mut Context<'_, '_>,
        m: &Monologue<'_>,
    ) -> Result<(), PluginError> {
        let id = m.session.id;
        let first = !self.sessions.contains_key(&id);
        if first
            && !m.session.uses_port(&self.ports)
            && (m.starts_with_gap() || !looks_like_http(&m.head(24)))
        {
            ctx.release_session();
            return Ok(());
        }
        let parser = self
            .sessions
            .entry(id)
            .or_insert_with(|| Parser::new(self.config.clone()));
        if parser.is_done() {
            return Ok(());
        }
        // The first byte of a part gets the part's start time, its last byte the end time: a
        // message that starts or ends there is timed exactly; inside a part, times are known
        // to the part's granularity only.
        let pieces = m.pieces();
        let last_data = pieces.iter().rposition(|p| matches!(p, Piece::Data(_)));
        let mut skip = if first { probe_len(&m.head(8)) } else { 0 };
        for (i, piece) in pieces.iter().enumerate() {
            match *piece {
                Piece::Data(d) => {
                    let cut = skip.min(d.len());
                    skip -= cut;
                    let d = d.get(cut..).unwrap_or(&[]);
                    if d.is_empty() {
                        continue;
                    }
                    match d.split_last() {
                        Some((last, rest)) if Some(i) == last_data => {
                            if !rest.is_empty() {
                                parser.data(m.direction, rest, m.t_start);
                            }
                            parser.data(m.direction, std::slice::from_ref(last), m.t_end);
                        }
                        _ => parser.data(m.direction, d, m.t_start),
                    }
                }
                Piece::Gap(len) => parser.gap(m.direction, len, m.t_end),
            }
        }
        let done: Vec<Transaction> = parser.take_transactions().collect();
        self.report(ctx, m.session, done);
        Ok(())
    }

    fn tcp_session_end(
        &mut self,
        ctx: &mut Context<'_, '_>,
        e: &SessionEnd<'_>,
    ) -> Result<(), PluginError> {
        if let Some(mut parser) = self.sessions.remove(&e.session.id) {
            parser.end(e.t_end);
            let done: Vec<Transaction> = parser.take_transactions().collect();
            self.report(ctx, e.session, done);
        }
        Ok(())
    }
}

/// The defaults, as an empty configuration table gives them.
fn toml_defaults() -> Settings {
    Settings {
        decode_bodies: false,
        hash_bodies: false,
        headers: None,
        max_head: None,
        extract: false,
        extract_max: None,
        transactions: true,
        ports: None,
    }
}

/// `[["Name","value"],...]`.
fn header_json(headers: &[(String, String)]) -> String {
    netan_plugin_api::json::pairs(headers)
}

/// Field names of a body, for the request and the response (literals: no allocation).
const BODY_NAMES: [[&str; 5]; 2] = [
    [
        "request_body_len",
        "request_body_wire_len",
        "request_body_missing",
        "request_body_decoded_len",
        "request_body_sha256",
    ],
    [
        "response_body_len",
        "response_body_wire_len",
        "response_body_missing",
        "response_body_decoded_len",
        "response_body_sha256",
    ],
];

fn body_fields(f: Fields, response: bool, b: &Body) -> Fields {
    let [_, response_names] = BODY_NAMES;
    let [request_names, _] = BODY_NAMES;
    let [len, wire, missing, decoded, sha] = if response {
        response_names
    } else {
        request_names
    };
    f.uint(len, b.len)
        .uint(wire, b.wire_len)
        .uint(missing, b.missing)
        .opt_uint(decoded, b.decoded_len)
        .opt_str(sha, b.sha256.as_deref())
}

impl Http {
    fn report(&mut self, ctx: &mut Context<'_, '_>, session: &Session, done: Vec<Transaction>) {
        for t in done {
            let req = t.request.as_ref();
            let resp = t.response.as_ref();
            let ts = t
                .timing
                .request_start
                .or(t.timing.response_start)
                .unwrap_or(session.t_first);
            let (client, server) = if t.flags.roles_swapped {
                (session.server, session.client)
            } else {
                (session.client, session.server)
            };
            let mut f = Fields::new()
                .str("client", &client.to_string())
                .str("server", &server.to_string())
                .uint("transaction", t.seq)
                .opt_str("method", req.map(|r| r.method.as_str()))
                .opt_str("uri", req.map(|r| r.uri.as_str()))
                .opt_str("host", req.and_then(|r| r.host.as_deref()))
                .opt_str("version", req.map(|r| r.version.as_str()))
                .opt_uint("status", resp.map(|r| u64::from(r.status)))
                .opt_str("reason", resp.map(|r| r.reason.as_str()))
                .opt_str("response_version", resp.map(|r| r.version.as_str()))
                .opt_str("user_agent", req.and_then(|r| r.user_agent.as_deref()))
                .opt_str(
                    "request_content_type",
                    req.and_then(|r| r.content_type.as_deref()),
                )
                .opt_str(
                    "response_content_type",
                    resp.and_then(|r| r.content_type.as_deref()),
                )
                .opt_str(
                    "content_encoding",
                    resp.and_then(|r| r.content_encoding.as_deref()),
                )
                .opt_str(
                    "transfer_encoding",
                    resp.and_then(|r| r.transfer_encoding.as_deref()),
                );
            let headers = self.config.headers != HeaderCapture::None;
            if let Some(r) = req {
                if headers {
                    f = f.json("request_headers", header_json(&r.headers));
                }
                f = body_fields(f, false, &r.body);
            }
            if let Some(r) = resp {
                if headers {
                    f = f.json("response_headers", header_json(&r.headers));
                }
                f = body_fields(f, true, &r.body);
                if !r.body.trailers.is_empty() {
                    f = f.json("trailers", header_json(&r.body.trailers));
                }
            }
            let tm = &t.timing;
            f = f
                .opt_uint("t_request_start_ns", tm.request_start)
                .opt_uint("t_request_end_ns", tm.request_end)
                .opt_uint("t_response_start_ns", tm.response_start)
                .opt_uint("t_response_end_ns", tm.response_end)
                .opt_uint("latency_ns", tm.latency);
            let fl = &t.flags;
            f = f
                .bool("gap", fl.gap)
                .bool("truncated", fl.truncated)
                .bool("not_http", fl.not_http)
                .opt_str("parse_error", fl.parse_error.as_deref())
                .bool("interim_100", fl.interim_100)
                .bool("upgraded", fl.upgraded)
                .bool("tunnel", fl.tunnel)
                .bool("body_decode_error", fl.body_decode_error)
                .bool("head_too_large", fl.head_too_large)
                .bool("roles_swapped", fl.roles_swapped)
                .uint("resync_skipped_bytes", fl.resync_skipped_bytes);
            if let Some(x) = &t.request_excerpt {
                f = f.str("request_excerpt", x);
            }
            if let Some(x) = &t.response_excerpt {
                f = f.str("response_excerpt", x);
            }
            if self.extract {
                for (label, body) in [
                    ("request", req.map(|r| &r.body)),
                    ("response", resp.map(|r| &r.body)),
                ] {
                    let Some(body) = body else { continue };
                    let Some(bytes) = body.captured.as_deref().filter(|b| !b.is_empty()) else {
                        continue;
                    };
                    let name = format!(
                        "{}-{label}-{}",
                        t.seq,
                        req.map_or("", |r| r.uri.rsplit('/').next().unwrap_or(""))
                    );
                    match ctx.save_artifact(&name, bytes) {
                        Ok(path) => {
                            f = f
                                .value_named(
                                    format!("{label}_body_file"),
                                    Value::Str(path.as_str().into()),
                                )
                                .value_named(
                                    format!("{label}_body_file_truncated"),
                                    Value::Bool(body.capture_truncated),
                                )
                        }
                        Err(e) => ctx.warn(&format!("cannot save a {label} body: {e}")),
                    }
                }
            }
            if self.transactions {
                ctx.emit(
                    "http_transaction",
                    ts,
                    Fields::new()
                        .opt_str("host", req.and_then(|r| r.host.as_deref()))
                        .str("server", &server.to_string())
                        .opt_str("method", req.map(|r| r.method.as_str()))
                        .opt_str("uri", req.map(|r| r.uri.as_str()))
                        .opt_uint("status", resp.map(|r| u64::from(r.status)))
                        .opt_uint("latency_ns", tm.latency)
                        .uint("request_body_len", req.map_or(0, |r| r.body.len))
                        .uint("response_body_len", resp.map_or(0, |r| r.body.len))
                        .opt_uint("t_request_start_ns", tm.request_start)
                        .opt_uint("t_response_end_ns", tm.response_end),
                );
            }
            ctx.record("http", ts, f);
        }
    }
}

#[cfg(test)]
mod tests;
