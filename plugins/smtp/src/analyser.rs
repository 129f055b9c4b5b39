//! Glue between the plugin API and the SMTP parser: monologue parts in, `smtp` records (one
//! per mail transaction) and `smtp_session` records (one per session) out. The only file of
//! this plugin that touches the ABI types.

use std::sync::Arc;

use netan_plugin_api::{
    events, Config, Context, Direction, Fields, Info, Monologue, Piece, Plugin, PluginError,
    Session, SessionEnd,
};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::json;

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
    /// are never kept. `max_message_parse` is accepted as its former name.
    #[serde(alias = "max_message_parse")]
    max_header_block: Option<usize>,
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
    sessions: FxHashMap<u64, Parser>,
    /// Sessions off the SMTP ports that opened with a 220 greeting, by who greeted: SMTP only
    /// once the other side answers HELO/EHLO (FTP, and others, greet with 220 too).
    unconfirmed: FxHashMap<u64, Direction>,
}

/// A 220 greeting: how an SMTP server opens a session (and an FTP server, and others).
fn is_greeting(data: &[u8]) -> bool {
    data.starts_with(b"220 ") || data.starts_with(b"220-")
}

/// HELO or EHLO, in any case: how an SMTP client opens (or answers the greeting).
fn is_hello(data: &[u8]) -> bool {
    let upper: Vec<u8> = data.iter().take(5).map(u8::to_ascii_uppercase).collect();
    upper.starts_with(b"EHLO ") || upper.starts_with(b"HELO ")
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
        let d = SmtpConfig::default();
        let config = SmtpConfig {
            max_line: s.max_line.unwrap_or(d.max_line),
            parse_mime: s.parse_mime.unwrap_or(d.parse_mime),
            max_header_block: s.max_header_block.unwrap_or(d.max_header_block),
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
        })
    }

    fn tcp_monologue(
        &mut self,
        ctx: &mut Context<'_, '_>,
        m: &Monologue<'_>,
    ) -> Result<(), PluginError> {
        let id = m.session.id;
        let not_smtp = if !self.sessions.contains_key(&id) {
            match (m.session.uses_port(&self.ports), detect(m)) {
                (true, _) | (false, Detection::Smtp) => false,
                (false, Detection::Greeting) => {
                    self.unconfirmed.insert(id, m.direction);
                    false
                }
                (false, Detection::NotSmtp) => true,
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
        let parser = self
            .sessions
            .entry(id)
            .or_insert_with(|| Parser::new(self.config.clone()));
        // Once parsing has stopped (STARTTLS, not SMTP) the parser only counts what it is
        // given, for the session record's byte counts: keep feeding it.
        // Chunks as they come (no copy); the part's first bytes carry its start time.
        let mut ts = m.t_start;
        for piece in m.pieces() {
            match piece {
                Piece::Data(d) => {
                    parser.data(m.direction, d, ts);
                    ts = m.t_end;
                }
                Piece::Gap(len) => parser.gap(m.direction, len, m.t_end),
            }
        }
        let done = parser.take_messages();
        report(ctx, m.session, done);
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
        if let Some(mut parser) = self.sessions.remove(&e.session.id) {
            parser.end(e.t_end);
            let done = parser.take_messages();
            report(ctx, e.session, done);
            summary(ctx, e.session, parser.summary(), e.t_end);
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

fn report(ctx: &mut Context<'_, '_>, session: &Session, messages: Vec<Message>) {
    for m in messages {
        let rcpt: Vec<serde_json::Value> = m
            .rcpt_to
            .iter()
            .map(|r| json!({"address": r.address, "code": r.code}))
            .collect();
        let attachments: Vec<serde_json::Value> = m
            .attachments
            .iter()
            .map(|a| json!({"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}))
            .collect();
        let mut f = Fields::new()
            .str("client", &session.client.to_string())
            .str("server", &session.server.to_string())
            .uint("transaction", u64::from(m.transaction))
            .opt_str("helo", m.helo.as_deref())
            .opt_str("mail_from", m.mail_from.as_deref())
            .opt_uint("mail_from_code", m.mail_from_code.map(u64::from))
            .json("rcpt_to", serde_json::Value::Array(rcpt).to_string())
            .uint("rcpt_dropped", m.rcpt_dropped)
            .opt_str("date", m.date.as_deref())
            .opt_str("from", m.from.as_deref())
            .strs("to", &m.to)
            .strs("cc", &m.cc)
            .opt_str("reply_to", m.reply_to.as_deref())
            .opt_str("subject", m.subject.as_deref())
            .opt_str("message_id", m.message_id.as_deref())
            .opt_str("in_reply_to", m.in_reply_to.as_deref())
            .opt_str("user_agent", m.user_agent.as_deref())
            .bool("has_content", m.has_content)
            .bool("chunked", m.chunked)
            .uint("size", m.size)
            .uint("wire_size", m.wire_size)
            .uint("gap_bytes", m.gap_bytes)
            .opt_str("sha256", m.sha256.as_deref())
            .json(
                "attachments",
                serde_json::Value::Array(attachments).to_string(),
            )
            .bool("tls", m.tls)
            .opt_str("auth_mechanism", m.auth_mechanism.as_deref())
            .value(
                "auth_success",
                m.auth_success
                    .map_or(netan_plugin_api::Value::Null, netan_plugin_api::Value::Bool),
            )
            .opt_uint("last_reply_code", m.last_reply_code.map(u64::from))
            .opt_str("last_reply_text", m.last_reply_text.as_deref())
            .uint("t_start_ns", m.ts_start)
            .opt_uint("t_data_ns", m.ts_data)
            .uint("t_end_ns", m.ts_end);
        f = flag_fields(f, &m.flags);
        if let Some(content) = m.content.as_deref().filter(|c| !c.is_empty()) {
            let name = format!(
                "{}-{}.eml",
                m.transaction,
                m.subject
                    .as_deref()
                    .or(m.message_id.as_deref())
                    .unwrap_or("message")
            );
            match ctx.save_artifact(&name, content) {
                Ok(path) => f = f.str("file", &path),
                Err(e) => ctx.warn(&format!("cannot save a message: {e}")),
            }
        }
        ctx.record("smtp", m.ts_start, f);
    }
}

fn summary(ctx: &mut Context<'_, '_>, session: &Session, s: &SessionSummary, t_end: u64) {
    let mut f = Fields::new()
        .str("client", &session.client.to_string())
        .str("server", &session.server.to_string())
        .opt_uint("greeting_code", s.greeting_code.map(u64::from))
        .opt_str("greeting", s.greeting.as_deref())
        .opt_str("helo", s.helo.as_deref())
        .strs("capabilities", &s.capabilities)
        .bool("tls", s.tls)
        .opt_str("auth_mechanism", s.auth_mechanism.as_deref())
        .value(
            "auth_success",
            s.auth_success
                .map_or(netan_plugin_api::Value::Null, netan_plugin_api::Value::Bool),
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
