//! Glue between the plugin API and the HTTP parser: monologue parts in, `http` records and
//! `http_transaction` events out. The only file of this plugin that touches the ABI types.

use std::sync::Arc;

use netan_plugin_api::{
    events, Config, Context, Direction, EndpointText, Fields, Info, Monologue, Piece, Plugin,
    PluginError, Session, SessionEnd, Value,
};
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::parser::{Body, HeaderCapture, HttpConfig, Session as Parser, Transaction};
use crate::socks::{self, Event, Opening, Status, TunnelStart};

/// What decides the shape of the records (the parts of the settings `report` needs).
#[derive(Debug, Clone, Copy)]
struct Output {
    /// Header lists are reported.
    headers: bool,
    /// Bodies are saved as files.
    extract: bool,
    /// `http_transaction` events are emitted.
    transactions: bool,
}

/// A session being analysed: its parser, and its endpoints as the records write them
/// (formatted once per session rather than once per transaction).
struct Tracked {
    parser: Parser,
    endpoints: Option<EndpointText>,
    /// A session that began like a SOCKS handshake, until the tunnel is found (or not): what
    /// it was fed is held here, not in the parser.
    opening: Option<Box<Opening>>,
    /// The destination of the SOCKS tunnel the session's HTTP runs in (`host:port`).
    socks: Option<String>,
    /// A session off the HTTP ports whose first bytes are too short to tell (a strict prefix
    /// of a method or of `HTTP/1.`), until they tell: what it was fed is held here, as it came
    /// (the other side speaks, bytes are missing or the session ends: it is decided then too).
    /// A decision needs at most ten bytes of the first side (`PROPPATCH `), so what waits
    /// stays that small.
    start: Option<Box<socks::Log>>,
}

/// Bytes of a session's start read to tell what it is: enough for every method and
/// `HTTP/1.x`, and for a SOCKS request's head.
const START_BYTES: usize = 24;

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
    output: Output,
    /// Boxed: the table stays small (and cache-friendly) however big a parser's state is.
    sessions: FxHashMap<u64, Box<Tracked>>,
    /// Ports where traffic is taken for HTTP whatever it looks like (and flagged `not_http`
    /// when it is not); elsewhere a session is analysed only if it starts like HTTP.
    ports: Vec<u16>,
    /// Whether `extract` was held against the host's extraction setting yet.
    extraction_checked: bool,
}

/// What a session's first bytes say about HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Looks {
    Http,
    NotHttp,
    /// A strict prefix of a request or status line's start: more bytes will tell.
    Undecided,
}

/// How a session's first bytes look.
fn looks_like_http(data: &[u8]) -> Looks {
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
    const STATUS: &[u8] = b"HTTP/1.";
    let data = strip_probe(data);
    if data.starts_with(STATUS) || METHODS.iter().any(|m| data.starts_with(m)) {
        Looks::Http
    } else if !data.is_empty()
        && (STATUS.starts_with(data) || METHODS.iter().any(|m| m.starts_with(data)))
    {
        Looks::Undecided
    } else {
        Looks::NotHttp
    }
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
        // A limit of 0 would make the analyser useless (every head too large, every body
        // cut to nothing).
        for (key, zero) in [
            ("max_head", s.max_head == Some(0)),
            ("extract_max", s.extract_max == Some(0)),
        ] {
            if zero {
                return Err(PluginError::config(key, "must be at least 1"));
            }
        }
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
            output: Output {
                headers: config.headers != HeaderCapture::None,
                extract: s.extract,
                transactions: s.transactions,
            },
            config: Arc::new(config),
            sessions: FxHashMap::default(),
            ports: s.ports.unwrap_or_else(|| DEFAULT_PORTS.to_vec()),
            extraction_checked: false,
        })
    }

    fn tcp_monologue(
        &mut self,
        ctx: &mut Context<'_, '_>,
        m: &Monologue<'_>,
    ) -> Result<(), PluginError> {
        let id = m.session.id;
        let first = !self.sessions.contains_key(&id);
        let mut socks_start = false;
        let mut undecided = false;
        // A keep-alive probe byte before the first request is dropped (a part's first byte gets
        // the part's start time: see below).
        let mut skip = 0;
        if first {
            let head = m.head(START_BYTES);
            skip = probe_len(&head);
            // A SOCKS handshake is followed, on any port, to the HTTP it may tunnel.
            socks_start = m.direction == Direction::ClientToServer
                && !m.starts_with_gap()
                && socks::plausible_start(&head, m.len, m.more);
            if !socks_start && !m.session.uses_port(&self.ports) {
                match looks_like_http(&head) {
                    _ if m.starts_with_gap() => {
                        ctx.release_session();
                        return Ok(());
                    }
                    Looks::Http => {}
                    // Too short to tell (a prefix of a method): held until more comes.
                    Looks::Undecided => undecided = true,
                    Looks::NotHttp => {
                        ctx.release_session();
                        return Ok(());
                    }
                }
            }
        }
        if first && self.output.extract && !self.extraction_checked {
            self.extraction_checked = true;
            if !ctx.extraction_usable("bodies") {
                self.output.extract = false;
                let mut config = (*self.config).clone();
                config.capture_bodies = None;
                self.config = Arc::new(config);
            }
        }
        let tracked = self.sessions.entry(id).or_insert_with(|| {
            Box::new(Tracked {
                parser: Parser::new(self.config.clone()),
                endpoints: None,
                opening: socks_start.then(|| Box::new(Opening::new())),
                socks: None,
                start: undecided.then(Box::default),
            })
        });
        if tracked.parser.is_done() {
            return Ok(());
        }
        // The first byte of a part gets the part's start time, its last byte the end time: a
        // message that starts or ends there is timed exactly; inside a part, times are known
        // to the part's granularity only.

        // A start too short to tell, or a SOCKS opening, holds what it is fed until it is
        // decided.
        let settled = if let Some(start) = tracked.start.as_deref_mut() {
            feed_part(start, m, &mut skip);
            settle_start(tracked, false)
        } else if let Some(opening) = tracked.opening.as_deref_mut() {
            feed_part(opening, m, &mut skip);
            settle(tracked, &self.ports, m.session, false)
        } else {
            feed_part(&mut tracked.parser, m, &mut skip);
            Settled::Parsing
        };
        match settled {
            Settled::Parsing => {}
            Settled::Wait => return Ok(()),
            Settled::Drop => {
                self.sessions.remove(&id);
                ctx.release_session();
                return Ok(());
            }
        }
        let done = tracked.parser.take_transactions();
        if done.len() > 0 {
            let endpoints = tracked
                .endpoints
                .get_or_insert_with(|| EndpointText::of(m.session));
            report(
                self.output,
                ctx,
                m.session,
                endpoints,
                tracked.socks.as_deref(),
                done,
            );
        }
        Ok(())
    }

    fn tcp_session_end(
        &mut self,
        ctx: &mut Context<'_, '_>,
        e: &SessionEnd<'_>,
    ) -> Result<(), PluginError> {
        if let Some(mut tracked) = self.sessions.remove(&e.session.id) {
            if tracked.opening.is_some()
                && settle(&mut tracked, &self.ports, e.session, true) != Settled::Parsing
            {
                return Ok(());
            }
            if tracked.start.is_some() && settle_start(&mut tracked, true) != Settled::Parsing {
                return Ok(());
            }
            tracked.parser.end(e.t_end);
            let endpoints = tracked
                .endpoints
                .get_or_insert_with(|| EndpointText::of(e.session));
            report(
                self.output,
                ctx,
                e.session,
                endpoints,
                tracked.socks.as_deref(),
                tracked.parser.take_transactions(),
            );
        }
        Ok(())
    }
}

/// Where a part's bytes and gaps go: the parser, or a SOCKS opening that holds them.
trait Feed {
    fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64);
    fn gap(&mut self, dir: Direction, len: u64, ts: u64);
}

impl Feed for Parser {
    fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64) {
        Parser::data(self, dir, bytes, ts);
    }
    fn gap(&mut self, dir: Direction, len: u64, ts: u64) {
        Parser::gap(self, dir, len, ts);
    }
}

impl Feed for socks::Log {
    fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64) {
        socks::Log::data(self, dir, bytes, ts);
    }
    fn gap(&mut self, dir: Direction, len: u64, ts: u64) {
        socks::Log::gap(self, dir, len, ts);
    }
}

impl Feed for Opening {
    fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64) {
        Opening::data(self, dir, bytes, ts);
    }
    fn gap(&mut self, dir: Direction, len: u64, ts: u64) {
        Opening::gap(self, dir, len, ts);
    }
}

/// Feeds a monologue part, less the `skip` leading bytes still to drop.
fn feed_part<F: Feed>(sink: &mut F, m: &Monologue<'_>, skip: &mut usize) {
    if m.gaps.is_empty() {
        // The usual case: the pieces are the non-empty chunks, walked in place (`pieces`
        // builds a vector for every part).
        let chunks = m.chunks.as_slice();
        let last_data = chunks.iter().rposition(|c| !c.is_empty());
        for (i, chunk) in chunks.iter().enumerate() {
            feed_data(sink, m, chunk.as_slice(), Some(i) == last_data, skip);
        }
    } else {
        let pieces = m.pieces();
        let last_data = pieces.iter().rposition(|p| matches!(p, Piece::Data(_)));
        for (i, piece) in pieces.iter().enumerate() {
            match *piece {
                Piece::Data(d) => feed_data(sink, m, d, Some(i) == last_data, skip),
                Piece::Gap(len) => sink.gap(m.direction, len, m.t_end),
            }
        }
    }
}

/// What becomes of a session that began like SOCKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Handshake or tunnel start still to come: keep holding.
    Wait,
    /// Its bytes went to the parser: analyse it as usual from now on.
    Parsing,
    /// Not for this plugin (no tunnel off the HTTP ports, or a tunnel that is not HTTP): drop
    /// it, and release it if it goes on.
    Drop,
}

/// Decides a session that began like SOCKS, after a part (or at its end, `at_end`).
///
/// A tunnel is judged as a session to its destination would be: HTTP whatever it carries if
/// the destination port is one of `ports`, else only if its first bytes look like HTTP. With
/// no tunnel, the session is judged as before by its own ports: on an HTTP port the parser gets
/// everything (flagged `not_http`, as any other traffic there), elsewhere it is dropped.
fn settle(tracked: &mut Tracked, ports: &[u16], session: &Session, at_end: bool) -> Settled {
    let Some(opening) = tracked.opening.as_deref() else {
        return Settled::Parsing;
    };
    match opening.status() {
        Status::Pending if !at_end => return Settled::Wait,
        Status::Pending | Status::NoTunnel(_) => {
            if !session.uses_port(ports) {
                return Settled::Drop;
            }
        }
        Status::Tunnel => {
            let target = opening.handshake().target();
            if !target.is_some_and(|t| ports.contains(&t.port)) {
                // A start too short to tell waits for more of it, unless it is complete.
                match start_looks(opening.tunnel_start(START_BYTES)) {
                    Looks::Http => {}
                    Looks::Undecided if !at_end => return Settled::Wait,
                    Looks::Undecided | Looks::NotHttp => return Settled::Drop,
                }
            }
            tracked.socks = target.map(ToString::to_string);
        }
    }
    // What was held goes to the parser, in place: all of it, or the tunnel's bytes.
    if let Some(opening) = tracked.opening.take() {
        replay(&mut tracked.parser, opening.replay());
    }
    Settled::Parsing
}

/// What a held start says: HTTP, not HTTP, or too short to tell while it may still grow
/// (`None`: nothing has come yet).
fn start_looks(start: Option<TunnelStart>) -> Looks {
    match start {
        Some(TunnelStart::Growing(head)) => looks_like_http(&head),
        Some(TunnelStart::Data(head)) => match looks_like_http(&head) {
            Looks::Undecided => Looks::NotHttp,
            looks => looks,
        },
        Some(TunnelStart::Gap) => Looks::NotHttp,
        None => Looks::Undecided,
    }
}

/// Feeds what a session's start held to the parser, as it came: `(event, bytes of it)`.
fn replay<'a>(parser: &mut Parser, held: impl Iterator<Item = (&'a Event, &'a [u8])>) {
    for (ev, bytes) in held {
        match *ev {
            Event::Data { dir, ts, .. } => parser.data(dir, bytes, ts),
            Event::Gap { dir, len, ts } => parser.gap(dir, len, ts),
        }
    }
}

/// Decides a session whose first bytes were too short to tell, after a part (or at its end,
/// `at_end`): HTTP once they look like it (what was held goes to the parser, in place), not
/// HTTP once they cannot (dropped), else it waits.
fn settle_start(tracked: &mut Tracked, at_end: bool) -> Settled {
    let Some(start) = tracked.start.as_deref() else {
        return Settled::Parsing;
    };
    match start_looks(socks::start_of(start.events(), START_BYTES)) {
        Looks::Http => {}
        Looks::Undecided if !at_end => return Settled::Wait,
        Looks::Undecided | Looks::NotHttp => return Settled::Drop,
    }
    if let Some(start) = tracked.start.take() {
        replay(&mut tracked.parser, start.events());
    }
    Settled::Parsing
}

/// Feeds captured bytes, less the `skip` leading bytes still to drop; the last bytes of the
/// part (`last`) give their final byte the part's end time.
fn feed_data<F: Feed>(parser: &mut F, m: &Monologue<'_>, d: &[u8], last: bool, skip: &mut usize) {
    let cut = (*skip).min(d.len());
    *skip -= cut;
    let d = d.get(cut..).unwrap_or(&[]);
    match d.split_last() {
        None => {}
        Some((last_byte, rest)) if last => {
            if !rest.is_empty() {
                parser.data(m.direction, rest, m.t_start);
            }
            parser.data(m.direction, std::slice::from_ref(last_byte), m.t_end);
        }
        Some(_) => parser.data(m.direction, d, m.t_start),
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

/// Room for the fields of the largest `http` record, reserved up front (no regrowth).
const RECORD_FIELDS: usize = 50;
/// The fields of an `http_transaction` event (`Fields::new` reserves more: a larger
/// allocation, which the allocator serves on a slower path).
const EVENT_FIELDS: usize = 11;

/// Turns finished transactions into records (and events): their strings move into the
/// records, except those the event or the extraction still needs.
fn report(
    out: Output,
    ctx: &mut Context<'_, '_>,
    session: &Session,
    endpoints: &EndpointText,
    socks: Option<&str>,
    done: impl Iterator<Item = Transaction>,
) {
    for mut t in done {
        let tm = t.timing;
        let ts = tm
            .request_start
            .or(tm.response_start)
            .unwrap_or(session.t_first);
        let (client, server) = if t.flags.roles_swapped {
            (&endpoints.server, &endpoints.client)
        } else {
            (&endpoints.client, &endpoints.server)
        };
        let event = out.transactions.then(|| {
            let req = t.request.as_ref();
            let resp = t.response.as_ref();
            Fields::with_capacity(EVENT_FIELDS)
                .opt_str("host", req.and_then(|r| r.host.as_deref()))
                .str("server", server)
                .opt_str("socks", socks)
                .opt_str("method", req.map(|r| r.method.as_str()))
                .opt_str("uri", req.map(|r| r.uri.as_str()))
                .opt_uint("status", resp.map(|r| u64::from(r.status)))
                .opt_uint("latency_ns", tm.latency)
                .uint("request_body_len", req.map_or(0, |r| r.body.len))
                .uint("response_body_len", resp.map_or(0, |r| r.body.len))
                .opt_uint("t_request_start_ns", tm.request_start)
                .opt_uint("t_response_end_ns", tm.response_end)
        });
        // Strings only the record needs move into it.
        let (version, user_agent, request_content_type) = match &mut t.request {
            Some(r) => (
                Some(std::mem::take(&mut r.version)),
                r.user_agent.take(),
                r.content_type.take(),
            ),
            None => (None, None, None),
        };
        let (reason, response_version, response_content_type, content_encoding, transfer_encoding) =
            match &mut t.response {
                Some(r) => (
                    Some(std::mem::take(&mut r.reason)),
                    Some(std::mem::take(&mut r.version)),
                    r.content_type.take(),
                    r.content_encoding.take(),
                    r.transfer_encoding.take(),
                ),
                None => (None, None, None, None, None),
            };
        let req = t.request.as_ref();
        let resp = t.response.as_ref();
        let mut f = Fields::with_capacity(RECORD_FIELDS)
            .str("client", client)
            .str("server", server);
        if let Some(s) = socks {
            // Only in tunnelled records: the others stay as they were.
            f = f.str("socks", s);
        }
        f = f
            .uint("transaction", t.seq)
            .opt_str("method", req.map(|r| r.method.as_str()))
            .opt_str("uri", req.map(|r| r.uri.as_str()))
            .opt_str("host", req.and_then(|r| r.host.as_deref()))
            .opt_string("version", version)
            .opt_uint("status", resp.map(|r| u64::from(r.status)))
            .opt_string("reason", reason)
            .opt_string("response_version", response_version)
            .opt_string("user_agent", user_agent)
            .opt_string("request_content_type", request_content_type)
            .opt_string("response_content_type", response_content_type)
            .opt_string("content_encoding", content_encoding)
            .opt_string("transfer_encoding", transfer_encoding);
        if let Some(r) = req {
            if out.headers {
                f = f.json("request_headers", header_json(&r.headers));
            }
            f = body_fields(f, false, &r.body);
            if !r.body.trailers.is_empty() {
                f = f.json("request_trailers", header_json(&r.body.trailers));
            }
        }
        if let Some(r) = resp {
            if out.headers {
                f = f.json("response_headers", header_json(&r.headers));
            }
            f = body_fields(f, true, &r.body);
            if !r.body.trailers.is_empty() {
                f = f.json("trailers", header_json(&r.body.trailers));
            }
        }
        f = f
            .opt_uint("t_request_start_ns", tm.request_start)
            .opt_uint("t_request_end_ns", tm.request_end)
            .opt_uint("t_response_start_ns", tm.response_start)
            .opt_uint("t_response_end_ns", tm.response_end)
            .opt_uint("latency_ns", tm.latency);
        let fl = &mut t.flags;
        f = f
            .bool("gap", fl.gap)
            .bool("truncated", fl.truncated)
            .bool("not_http", fl.not_http)
            .opt_string("parse_error", fl.parse_error.take())
            .bool("interim_100", fl.interim_100)
            .bool("upgraded", fl.upgraded)
            .bool("tunnel", fl.tunnel)
            .bool("body_decode_error", fl.body_decode_error)
            .bool("head_too_large", fl.head_too_large)
            .bool("roles_swapped", fl.roles_swapped)
            .uint("resync_skipped_bytes", fl.resync_skipped_bytes);
        if let Some(x) = t.request_excerpt.take() {
            f = f.string("request_excerpt", x);
        }
        if let Some(x) = t.response_excerpt.take() {
            f = f.string("response_excerpt", x);
        }
        if out.extract {
            f = extract(ctx, &t, f);
        }
        if let Some(event) = event {
            ctx.emit("http_transaction", ts, event);
        }
        ctx.record("http", ts, f);
    }
}

/// Saves the transaction's captured bodies as files, and adds their names to the record.
fn extract(ctx: &mut Context<'_, '_>, t: &Transaction, mut f: Fields) -> Fields {
    let req = t.request.as_ref();
    let resp = t.response.as_ref();
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
    f
}

#[cfg(test)]
mod tests;
