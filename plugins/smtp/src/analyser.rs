//! Glue between the plugin API and the SMTP parser: monologue parts in, `smtp` records (one
//! per mail transaction) and `smtp_session` records (one per session) out. The only file of
//! this plugin that touches the ABI types.

use std::sync::Arc;

use netan_plugin_api::{
    events, Config, Context, Direction, EndpointText, Fields, Info, Monologue, Piece, Plugin,
    PluginError, SessionEnd, Value,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::parser::{Flags, Message, Session as Parser, SessionSummary, SmtpConfig};

/// The plugin's configuration table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Longest command or reply line kept, in bytes.
    max_line: Option<usize>,
    /// Parse message headers and attachments (MIME).
    parse_mime: Option<bool>,
    /// Longest header block (the message's, or a MIME part's) kept for parsing; message bodies
    /// are never kept.
    max_header_block: Option<usize>,
    /// `max_header_block`'s former name, still accepted (a field of its own rather than a
    /// serde alias, so that an error about it names the key the file has).
    max_message_parse: Option<usize>,
    /// Compute each message's SHA-256 (attachment hashes are computed either way).
    #[serde(default)]
    hash_messages: bool,
    /// Save each message as an `.eml` file (needs `netan run --extract-dir`).
    #[serde(default)]
    extract: bool,
    /// Largest message saved, in bytes.
    max_extract: Option<usize>,
    /// Ports whose traffic is SMTP whatever it looks like (default 25, 587, 2525); sessions on
    /// other ports are analysed when they start like SMTP.
    ports: Option<Vec<u16>>,
}

/// Default ports.
pub const DEFAULT_PORTS: &[u16] = &[25, 587, 2525];

/// The analyser: one parser per session.
pub struct Smtp {
    config: Arc<SmtpConfig>,
    ports: Vec<u16>,
    /// Boxed: a parser is about 2 KB, and the table stays small (and cache-friendly) without
    /// them inline.
    sessions: FxHashMap<u64, Box<Tracked>>,
    /// Sessions off the SMTP ports that opened with a 220 greeting, by who greeted: SMTP only
    /// once the other side answers HELO/EHLO (FTP, and others, greet with 220 too).
    unconfirmed: FxHashMap<u64, Direction>,
    /// Whether `extract` was held against the host's extraction setting yet.
    extraction_checked: bool,
}

/// A session being analysed: its parser, and its endpoints as the records write them
/// (formatted once per session rather than once per record).
struct Tracked {
    parser: Parser,
    endpoints: Option<EndpointText>,
}

/// A 220 greeting: how an SMTP server opens a session (and an FTP server, and others).
fn is_greeting(data: &[u8]) -> bool {
    data.starts_with(b"220 ") || data.starts_with(b"220-")
}

/// HELO or EHLO, in any case: how an SMTP client opens (or answers the greeting).
fn is_hello(data: &[u8]) -> bool {
    data.get(..5)
        .is_some_and(|h| h.eq_ignore_ascii_case(b"EHLO ") || h.eq_ignore_ascii_case(b"HELO "))
}

/// What the first monologue of a session off the SMTP ports says about it.
enum Detection {
    Smtp,
    /// A greeting: SMTP if the answer is HELO/EHLO.
    Greeting,
    NotSmtp,
}

fn detect(m: &Monologue<'_>) -> Detection {
    let head = m.head(5);
    if m.starts_with_gap() {
        Detection::NotSmtp
    } else if is_hello(&head) {
        Detection::Smtp
    } else if is_greeting(&head) {
        Detection::Greeting
    } else {
        Detection::NotSmtp
    }
}

impl Plugin for Smtp {
    fn info() -> Info {
        Info {
            name: "smtp",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "SMTP mail transactions: envelope, headers, attachments, STARTTLS, AUTH mechanism",
            author: "netan team",
            license: "MIT OR Apache-2.0",
            consumes: &[events::TCP_MONOLOGUE, events::TCP_SESSION_END],
            emits: &[],
            records: &["smtp", "smtp_session"],
            // Every session: SMTP is recognised by content on other ports (see `ports`).
            default_ports: &[],
        }
    }

    fn new(config: Config<'_>) -> Result<Self, PluginError> {
        let s: Settings = config.parse()?;
        let (header_key, max_header_block) = match (s.max_header_block, s.max_message_parse) {
            (Some(_), Some(_)) => {
                return Err(PluginError::config(
                    "max_message_parse",
                    "is the former name of `max_header_block`: give one of them",
                ))
            }
            (None, Some(n)) => ("max_message_parse", Some(n)),
            (n, None) => ("max_header_block", n),
        };
        // A limit of 0 would make the analyser useless (every line too long, every header
        // block cut, nothing saved).
        for (key, zero) in [
            ("max_line", s.max_line == Some(0)),
            (header_key, max_header_block == Some(0)),
            ("max_extract", s.max_extract == Some(0)),
        ] {
            if zero {
                return Err(PluginError::config(key, "must be at least 1"));
            }
        }
        let d = SmtpConfig::default();
        let config = SmtpConfig {
            max_line: s.max_line.unwrap_or(d.max_line),
            parse_mime: s.parse_mime.unwrap_or(d.parse_mime),
            max_header_block: max_header_block.unwrap_or(d.max_header_block),
            hash_messages: s.hash_messages,
            extract: s.extract,
            max_extract: s.max_extract.unwrap_or(d.max_extract),
            ..d
        };
        Ok(Smtp {
            config: Arc::new(config),
            ports: s.ports.unwrap_or_else(|| DEFAULT_PORTS.to_vec()),
            sessions: FxHashMap::default(),
            unconfirmed: FxHashMap::default(),
            extraction_checked: false,
        })
    }

    fn tcp_monologue(
        &mut self,
        ctx: &mut Context<'_, '_>,
        m: &Monologue<'_>,
    ) -> Result<(), PluginError> {
        let id = m.session.id;
        let not_smtp = if !self.sessions.contains_key(&id) {
            // On the SMTP ports every session is taken: content is looked at elsewhere only.
            if m.session.uses_port(&self.ports) {
                false
            } else {
                match detect(m) {
                    Detection::Smtp => false,
                    Detection::Greeting => {
                        self.unconfirmed.insert(id, m.direction);
                        false
                    }
                    Detection::NotSmtp => true,
                }
            }
        } else {
            // The first words of the side that did not greet decide.
            match self.unconfirmed.get(&id) {
                Some(&greeter) if greeter != m.direction => {
                    self.unconfirmed.remove(&id);
                    m.starts_with_gap() || !is_hello(&m.head(5))
                }
                _ => false,
            }
        };
        if not_smtp {
            self.sessions.remove(&id);
            ctx.release_session();
            return Ok(());
        }
        if self.config.extract && !self.extraction_checked {
            self.extraction_checked = true;
            if !ctx.extraction_usable("messages") {
                let mut config = (*self.config).clone();
                config.extract = false;
                self.config = Arc::new(config);
            }
        }
        let tracked = self.sessions.entry(id).or_insert_with(|| {
            Box::new(Tracked {
                parser: Parser::new(self.config.clone()),
                endpoints: None,
            })
        });
        let parser = &mut tracked.parser;
        // Once parsing has stopped (STARTTLS, not SMTP) the parser only counts what it is
        // given, for the session record's byte counts: keep feeding it.
        // Chunks as they come (no copy); the part's first bytes carry its start time.
        let mut ts = m.t_start;
        if m.gaps.is_empty() {
            // The usual case: the pieces are the non-empty chunks, walked in place (`pieces`
            // builds a vector for every part).
            for d in m.chunks().filter(|d| !d.is_empty()) {
                parser.data(m.direction, d, ts);
                ts = m.t_end;
            }
        } else {
            for piece in m.pieces() {
                match piece {
                    Piece::Data(d) => {
                        parser.data(m.direction, d, ts);
                        ts = m.t_end;
                    }
                    Piece::Gap(len) => parser.gap(m.direction, len, m.t_end),
                }
            }
        }
        let done = parser.take_messages();
        if !done.is_empty() {
            let endpoints = tracked
                .endpoints
                .get_or_insert_with(|| EndpointText::of(m.session));
            report(ctx, endpoints, done);
        }
        Ok(())
    }

    fn tcp_session_end(
        &mut self,
        ctx: &mut Context<'_, '_>,
        e: &SessionEnd<'_>,
    ) -> Result<(), PluginError> {
        if self.unconfirmed.remove(&e.session.id).is_some() {
            // Greeted, never answered: nothing says it was SMTP.
            self.sessions.remove(&e.session.id);
            return Ok(());
        }
        if let Some(mut tracked) = self.sessions.remove(&e.session.id) {
            tracked.parser.end(e.t_end);
            let done = tracked.parser.take_messages();
            let endpoints = tracked
                .endpoints
                .get_or_insert_with(|| EndpointText::of(e.session));
            report(ctx, endpoints, done);
            summary(ctx, endpoints, tracked.parser.summary(), e.t_end);
        }
        Ok(())
    }
}

fn flag_fields(f: Fields, flags: &Flags) -> Fields {
    f.bool("gap", flags.gap)
        .bool("truncated", flags.truncated)
        .bool("not_smtp", flags.not_smtp)
        .bool("line_too_long", flags.line_too_long)
        .bool("bad_sequence", flags.bad_sequence)
        .bool("bad_syntax", flags.bad_syntax)
        .bool(
            "message_truncated_for_parsing",
            flags.message_truncated_for_parsing,
        )
        .bool("extract_truncated", flags.extract_truncated)
        .bool("reset", flags.reset)
}

/// Room for the fields of an `smtp` record, reserved up front (no regrowth).
const MESSAGE_FIELDS: usize = 42;

/// A recipient as the `rcpt_to` JSON shows it. Fields in key order: the order the records
/// have always had (serde_json's default map sorts keys).
#[derive(Serialize)]
struct RcptJson<'a> {
    address: &'a str,
    code: Option<u16>,
}

/// An attachment as the `attachments` JSON shows it (fields in key order, as above).
#[derive(Serialize)]
struct AttachmentJson<'a> {
    content_type: Option<&'a str>,
    filename: Option<&'a str>,
    sha256: Option<&'a str>,
    size: u64,
}

/// `items` as a JSON array.
fn json_array<T: Serialize>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<T> = items.collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned())
}

/// One `smtp` record per message; the messages' strings move into the records.
fn report(ctx: &mut Context<'_, '_>, endpoints: &EndpointText, messages: Vec<Message>) {
    for m in messages {
        let rcpt = json_array(m.rcpt_to.iter().map(|r| RcptJson {
            address: &r.address,
            code: r.code,
        }));
        let attachments = json_array(m.attachments.iter().map(|a| AttachmentJson {
            content_type: a.content_type.as_deref(),
            filename: a.filename.as_deref(),
            sha256: a.sha256.as_deref(),
            size: a.size,
        }));
        // Extraction names the file after the subject or the message id: kept until then.
        let file_name = m.content.as_deref().filter(|c| !c.is_empty()).map(|_| {
            format!(
                "{}-{}.eml",
                m.transaction,
                m.subject
                    .as_deref()
                    .or(m.message_id.as_deref())
                    .unwrap_or("message")
            )
        });
        let mut f = Fields::with_capacity(MESSAGE_FIELDS)
            .str("client", &endpoints.client)
            .str("server", &endpoints.server)
            .uint("transaction", u64::from(m.transaction))
            .opt_string("helo", m.helo)
            .opt_string("mail_from", m.mail_from)
            .opt_uint("mail_from_code", m.mail_from_code.map(u64::from))
            .json("rcpt_to", rcpt)
            .uint("rcpt_dropped", m.rcpt_dropped)
            .opt_string("date", m.date)
            .opt_string("from", m.from)
            .string_list("to", m.to)
            .string_list("cc", m.cc)
            .opt_string("reply_to", m.reply_to)
            .opt_string("subject", m.subject)
            .opt_string("message_id", m.message_id)
            .opt_string("in_reply_to", m.in_reply_to)
            .opt_string("user_agent", m.user_agent)
            .bool("has_content", m.has_content)
            .bool("chunked", m.chunked)
            .uint("size", m.size)
            .uint("wire_size", m.wire_size)
            .uint("gap_bytes", m.gap_bytes)
            .opt_string("sha256", m.sha256)
            .json("attachments", attachments)
            .bool("tls", m.tls)
            .opt_string("auth_mechanism", m.auth_mechanism)
            .value(
                "auth_success",
                m.auth_success.map_or(Value::Null, Value::Bool),
            )
            .opt_uint("last_reply_code", m.last_reply_code.map(u64::from))
            .opt_string("last_reply_text", m.last_reply_text)
            .uint("t_start_ns", m.ts_start)
            .opt_uint("t_data_ns", m.ts_data)
            .uint("t_end_ns", m.ts_end);
        f = flag_fields(f, &m.flags);
        if let (Some(name), Some(content)) = (file_name, m.content.as_deref()) {
            match ctx.save_artifact(&name, content) {
                Ok(path) => f = f.str("file", &path),
                Err(e) => ctx.warn(&format!("cannot save a message: {e}")),
            }
        }
        ctx.record("smtp", m.ts_start, f);
    }
}

fn summary(ctx: &mut Context<'_, '_>, endpoints: &EndpointText, s: &SessionSummary, t_end: u64) {
    let mut f = Fields::new()
        .str("client", &endpoints.client)
        .str("server", &endpoints.server)
        .opt_uint("greeting_code", s.greeting_code.map(u64::from))
        .opt_str("greeting", s.greeting.as_deref())
        .opt_str("helo", s.helo.as_deref())
        .strs("capabilities", &s.capabilities)
        .bool("tls", s.tls)
        .opt_str("auth_mechanism", s.auth_mechanism.as_deref())
        .value(
            "auth_success",
            s.auth_success.map_or(Value::Null, Value::Bool),
        )
        .uint("transactions", u64::from(s.transactions))
        .uint("commands", s.commands)
        .uint("replies", s.replies)
        .uint("unmatched_replies", s.unmatched_replies)
        .uint("client_bytes", s.client_bytes)
        .uint("server_bytes", s.server_bytes)
        .uint("client_gap_bytes", s.client_gap_bytes)
        .uint("server_gap_bytes", s.server_gap_bytes)
        .opt_uint("last_reply_code", s.last_reply_code.map(u64::from))
        .opt_str("last_reply_text", s.last_reply_text.as_deref());
    f = flag_fields(f, &s.flags);
    ctx.record("smtp_session", s.ts_first.unwrap_or(t_end), f);
}

#[cfg(test)]
mod tests;
