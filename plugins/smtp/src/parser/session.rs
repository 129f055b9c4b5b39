//! The per-session SMTP state machine and its client side: commands, credentials, gaps. The
//! server side and the queue of commands waiting for replies live in the child module
//! `replies`; opening, closing and reporting transactions, and their DATA and BDAT bytes, in
//! `transactions`.

use std::collections::VecDeque;
use std::sync::Arc;

use memchr::memmem::Finder;
use netan_plugin_api::Direction;

use super::command::{
    has_control_bytes, has_known_verb, is_credential_line, looks_like_http, parse_command,
    path_address, starts_with_verb, trim, Command,
};
use super::config::SmtpConfig;
use super::content::{Content, DotScanner};
use super::lines::{Found, LineReader};
use super::record::{Flags, Message, Recipient, SessionSummary};

mod replies;
mod transactions;

/// Transactions waiting for their last replies that are held before the oldest is reported
/// anyway (only reached when the server side is missing without gaps standing for it).
const MAX_CLOSING: usize = 16;
/// Most EHLO keywords kept.
const MAX_CAPABILITIES: usize = 64;

/// One TCP session's SMTP parser. Feed it both directions in order with [`Session::data`] and
/// [`Session::gap`], finish with [`Session::end`], and collect transactions with
/// [`Session::take_messages`].
///
/// How it reads the two streams:
/// - Client lines are commands; each command that the server answers is queued (a FIFO, so
///   PIPELINING works), and each complete server reply — a multi-line reply counts once —
///   answers the oldest queued command. The server's greeting answers a command queued at start.
/// - `DATA` switches the client stream to message content when the 354 reply arrives, or as soon
///   as client bytes arrive while DATA's reply is still unknown (pipelining clients that do not
///   wait, one-sided captures, a reply lost in a gap). A refusal that arrives later cancels that.
/// - `BDAT n [LAST]` takes the next `n` client bytes as content (RFC 3030).
/// - After `AUTH`, client lines that look like SASL responses (base64, `*`) are credentials:
///   they are skipped and never stored, until the AUTH's final reply.
/// - After a 220 reply to STARTTLS, or client bytes that begin a TLS record after STARTTLS,
///   nothing more is parsed (bytes are only counted) and the session is marked `tls`.
/// - Server bytes that cannot begin a reply, or a first client line that is an HTTP request or
///   holds binary, mark the session `not_smtp` and stop parsing.
/// - A gap in the command or reply stream loses line sync until the next line feed, unless the
///   bytes after the gap plainly start a line, or the other side speaks (a new monologue
///   starts at a line). A server gap gives up the answers of all queued commands. A gap
///   inside message content is counted and the end marker is still looked for.
///
/// RSET abandons the open transaction: it is reported flagged `reset` when it has a MAIL FROM,
/// an RCPT or content, and silently discarded when it has none (an empty transaction).
#[derive(Debug)]
pub struct Session {
    config: Arc<SmtpConfig>,
    client: Client,
    server: Server,
    /// Commands waiting for their reply, oldest first.
    pending: VecDeque<Pending>,
    /// The transaction the client is building.
    open: Option<Transaction>,
    /// Transactions over on the client side that still wait for replies, oldest first.
    closing: VecDeque<Transaction>,
    /// Transactions ready for [`Session::take_messages`].
    out: Vec<Message>,
    summary: SessionSummary,
    next_transaction: u32,
    /// TLS or not SMTP: bytes are only counted.
    stopped: bool,
    ended: bool,
    /// Finds `\n.` in DATA content.
    finder: Finder<'static>,
}

#[derive(Debug, Default)]
struct Client {
    reader: LineReader,
    mode: Mode,
    /// Any byte or gap came from the client.
    started: bool,
    /// The first line was checked (or cannot be, after a gap).
    first_line_done: bool,
    /// STARTTLS was sent and not refused.
    starttls_sent: bool,
    /// A gap broke the command stream and no known command was read since: lines with unknown
    /// verbs are then most likely content whose BDAT/DATA was lost, and are not queued.
    suspect: bool,
}

/// What the client's next bytes are.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Command lines.
    #[default]
    Command,
    /// Command lines, but SASL responses (credentials) are expected.
    Auth,
    /// DATA was sent; its reply is not known yet.
    DataPending,
    /// DATA content. `speculative`: entered before the 354 reply was seen.
    Data { scan: DotScanner, speculative: bool },
    /// A BDAT chunk with `remaining` bytes still to come.
    Bdat { remaining: u64, last: bool },
}

#[derive(Debug, Default)]
struct Server {
    reader: LineReader,
    /// Any byte or gap came from the server.
    started: bool,
    /// The first line was checked (or cannot be, after a gap).
    first_line_done: bool,
    /// The multi-line reply being read, if any.
    reply: Option<PartialReply>,
    /// The text of the current reply's first line (bounded; reused).
    first_text: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct PartialReply {
    code: u16,
    lines: u32,
}

/// A command waiting for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    kind: Kind,
    /// The transaction the reply belongs to.
    txn: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The server greeting (queued when the session starts).
    Greeting,
    Helo,
    Ehlo,
    Mail,
    /// RCPT TO; the index of its [`Recipient`] when kept.
    Rcpt(Option<usize>),
    Data,
    /// The end of DATA content.
    DataEnd,
    Bdat,
    StartTls,
    Auth,
    /// Anything else: RSET, QUIT, NOOP, unknown commands.
    Other,
}

/// A transaction being built or waiting for replies.
#[derive(Debug)]
struct Transaction {
    /// Queued commands whose replies belong to this transaction.
    pending: u32,
    msg: Message,
    /// Content in progress.
    content: Option<Content>,
}

/// Why the open transaction is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// RSET, or HELO/EHLO in the middle of a transaction.
    Reset,
    /// A new MAIL FROM, QUIT, STARTTLS, not SMTP, or the end of the session.
    Other,
}

impl Session {
    /// A parser for one new TCP session.
    pub fn new(config: Arc<SmtpConfig>) -> Session {
        let mut pending = VecDeque::new();
        pending.push_back(Pending {
            kind: Kind::Greeting,
            txn: None,
        });
        Session {
            config,
            client: Client::default(),
            server: Server::default(),
            pending,
            open: None,
            closing: VecDeque::new(),
            out: Vec::new(),
            summary: SessionSummary::default(),
            next_transaction: 0,
            stopped: false,
            ended: false,
            finder: Finder::new(b"\n.").into_owned(),
        }
    }

    /// In-order bytes from one side; `ts` = capture time in ns since the epoch.
    pub fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64) {
        if self.ended || bytes.is_empty() {
            return;
        }
        self.touch(ts);
        let len = bytes.len() as u64;
        match dir {
            Direction::ClientToServer => {
                self.summary.client_bytes = self.summary.client_bytes.saturating_add(len);
                if !self.stopped {
                    self.client_data(bytes, ts);
                }
            }
            Direction::ServerToClient => {
                self.summary.server_bytes = self.summary.server_bytes.saturating_add(len);
                if !self.stopped {
                    self.server_data(bytes, ts);
                }
            }
        }
    }

    /// `len` bytes from one side were never captured.
    pub fn gap(&mut self, dir: Direction, len: u64, ts: u64) {
        if self.ended || len == 0 {
            return;
        }
        self.touch(ts);
        self.summary.flags.gap = true;
        match dir {
            Direction::ClientToServer => {
                self.summary.client_gap_bytes = self.summary.client_gap_bytes.saturating_add(len);
                if !self.stopped {
                    self.client_gap(len, ts);
                }
            }
            Direction::ServerToClient => {
                self.summary.server_gap_bytes = self.summary.server_gap_bytes.saturating_add(len);
                if !self.stopped {
                    self.server_gap(ts);
                }
            }
        }
    }

    /// The session ended: a last line without its line feed is still read, a message in progress
    /// is reported `truncated`, and every transaction is reported, answered or not. Later calls
    /// to `data`, `gap` and `end` are ignored.
    pub fn end(&mut self, ts: u64) {
        if self.ended {
            return;
        }
        self.touch(ts);
        if !self.stopped && matches!(self.client.mode, Mode::Command | Mode::Auth) {
            if let Some(line) = self.client.reader.take_partial() {
                self.client_line(&line, false, ts);
            }
        }
        if !self.stopped {
            if let Some(line) = self.server.reader.take_partial() {
                self.server_line(&line, false, ts);
            }
        }
        self.close_open(Close::Other, ts);
        self.pending.clear();
        self.flush_closing(true);
        self.ended = true;
    }

    /// Transactions completed so far, in order; drains them.
    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.out)
    }

    /// What the session showed so far. The only record of sessions without MAIL FROM; the glue
    /// should report it once, after [`Session::end`].
    pub fn summary(&self) -> &SessionSummary {
        &self.summary
    }

    /// False once nothing more will be parsed (STARTTLS accepted, not SMTP, or ended): the
    /// caller may stop feeding bytes (they would only be counted).
    pub fn is_parsing(&self) -> bool {
        !self.stopped && !self.ended
    }

    fn touch(&mut self, ts: u64) {
        self.summary.ts_first.get_or_insert(ts);
        self.summary.ts_last = Some(ts);
    }

    /// Sets a flag on the session and on the open transaction.
    fn mark(&mut self, set: impl Fn(&mut Flags)) {
        set(&mut self.summary.flags);
        if let Some(txn) = self.open.as_mut() {
            set(&mut txn.msg.flags);
        }
    }

    /// Network text as a `String`, at most `max` bytes of it.
    fn text(bytes: &[u8], max: usize) -> String {
        let bytes = bytes.get(..bytes.len().min(max)).unwrap_or_default();
        String::from_utf8_lossy(bytes).into_owned()
    }

    // ---- client side ----------------------------------------------------------------------

    fn client_data(&mut self, bytes: &[u8], ts: u64) {
        // The server's current monologue is over: its next bytes start a reply line.
        self.server.reader.resync_here();
        if !self.client.started {
            self.client.started = true;
            if bytes.first().is_some_and(|&b| has_control_bytes(&[b])) {
                self.not_smtp(ts);
                return;
            }
        }
        let mut rest = bytes;
        let mut stalls = 0u8;
        while !rest.is_empty() && !self.stopped {
            let used = match self.client.mode {
                Mode::Command | Mode::Auth => self.client_lines(rest, ts),
                Mode::DataPending => {
                    self.start_data(ts);
                    0
                }
                Mode::Data { .. } => self.client_body(rest, ts),
                Mode::Bdat { .. } => self.client_chunk(rest, ts),
            };
            if used == 0 {
                // Every step either consumes bytes or changes mode; this guards the loop anyway.
                stalls = stalls.saturating_add(1);
                if stalls > 3 {
                    break;
                }
            } else {
                stalls = 0;
            }
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    fn client_lines(&mut self, rest: &[u8], ts: u64) -> usize {
        if self.client.starttls_sent
            && self.client.reader.at_line_start()
            && rest.first() == Some(&0x16)
        {
            // A TLS handshake record after STARTTLS: the 220 was not seen, but TLS started.
            self.enter_tls(ts);
            return rest.len();
        }
        if self.client.reader.wants_check() && starts_with_verb(rest) {
            self.client.reader.resync_here();
        }
        let (used, found) = self.client.reader.feed(rest, self.config.max_line);
        match found {
            Found::Nothing => {}
            Found::Input { len, overlong } => {
                self.client_line(rest.get(..len).unwrap_or_default(), overlong, ts);
            }
            Found::Buffer { overlong } => {
                let line = self.client.reader.take();
                self.client_line(&line, overlong, ts);
                self.client.reader.restore(line);
            }
        }
        used
    }

    fn client_line(&mut self, line: &[u8], overlong: bool, ts: u64) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !self.client.first_line_done {
            self.client.first_line_done = true;
            if looks_like_http(line) || has_control_bytes(line) {
                self.not_smtp(ts);
                return;
            }
        }
        if self.client.mode == Mode::Auth {
            if overlong || is_credential_line(line) {
                return;
            }
            self.client.mode = Mode::Command;
        }
        let command = parse_command(line);
        if self.client.suspect {
            if command == Command::Other && !has_known_verb(line) {
                return;
            }
            self.client.suspect = false;
        }
        self.summary.commands = self.summary.commands.saturating_add(1);
        if overlong {
            self.mark(|flags| flags.line_too_long = true);
            let txn = self.open.as_ref().map(|txn| txn.msg.transaction);
            self.push_pending(Kind::Other, txn, ts);
            return;
        }
        match command {
            Command::Helo { extended, name } => {
                self.close_open(Close::Reset, ts);
                self.summary.helo = Some(Self::text(name, self.config.max_line));
                let kind = if extended { Kind::Ehlo } else { Kind::Helo };
                self.push_pending(kind, None, ts);
            }
            Command::Mail { argument } => {
                self.close_open(Close::Other, ts);
                let id = self.begin_transaction(ts);
                let (address, well_formed) = path_address(argument, b"FROM");
                if let Some(txn) = self.open.as_mut() {
                    txn.msg.mail_from = address;
                    txn.msg.mail_from_raw = Some(Self::text(argument, self.config.max_line));
                }
                if !well_formed {
                    self.mark(|flags| flags.bad_syntax = true);
                }
                self.push_pending(Kind::Mail, Some(id), ts);
            }
            Command::Rcpt { argument } => self.rcpt(argument, ts),
            Command::Data => {
                let id = self.transaction_for(ts);
                self.check_ready_for_content();
                self.push_pending(Kind::Data, Some(id), ts);
                self.client.mode = Mode::DataPending;
            }
            Command::Bdat { size, last } => self.bdat(size, last, ts),
            Command::Auth { mechanism } => {
                self.summary.auth_mechanism =
                    mechanism.map(|name| Self::text(name, 20).to_ascii_uppercase());
                self.summary.auth_success = None;
                if mechanism.is_none() {
                    self.mark(|flags| flags.bad_syntax = true);
                }
                self.client.mode = Mode::Auth;
                self.push_pending(Kind::Auth, None, ts);
            }
            Command::Rset => {
                self.close_open(Close::Reset, ts);
                self.push_pending(Kind::Other, None, ts);
            }
            Command::Quit => {
                self.close_open(Close::Other, ts);
                self.push_pending(Kind::Other, None, ts);
            }
            Command::StartTls => {
                self.client.starttls_sent = true;
                self.push_pending(Kind::StartTls, None, ts);
            }
            Command::Malformed => {
                self.mark(|flags| flags.bad_syntax = true);
                let txn = self.open.as_ref().map(|txn| txn.msg.transaction);
                self.push_pending(Kind::Other, txn, ts);
            }
            Command::Other => self.push_pending(Kind::Other, None, ts),
        }
    }

    fn rcpt(&mut self, argument: &[u8], ts: u64) {
        let id = self.transaction_for(ts);
        let (address, well_formed) = path_address(argument, b"TO");
        if !well_formed {
            self.mark(|flags| flags.bad_syntax = true);
        }
        let max = self.config.max_recipients;
        let mut index = None;
        let mut without_mail = false;
        if let Some(txn) = self.open.as_mut() {
            without_mail = txn.msg.mail_from_raw.is_none();
            if txn.msg.rcpt_to.len() < max {
                index = Some(txn.msg.rcpt_to.len());
                txn.msg.rcpt_to.push(Recipient {
                    address: address.unwrap_or_default(),
                    code: None,
                });
            } else {
                txn.msg.rcpt_dropped = txn.msg.rcpt_dropped.saturating_add(1);
            }
        }
        if without_mail {
            self.mark(|flags| flags.bad_sequence = true);
        }
        self.push_pending(Kind::Rcpt(index), Some(id), ts);
    }

    fn bdat(&mut self, size: u64, last: bool, ts: u64) {
        let id = self.transaction_for(ts);
        self.check_ready_for_content();
        self.begin_content(ts, true);
        self.push_pending(Kind::Bdat, Some(id), ts);
        if size > 0 {
            self.client.mode = Mode::Bdat {
                remaining: size,
                last,
            };
        } else if last {
            self.end_content(ts, false);
        }
    }

    /// DATA or BDAT without MAIL FROM or without any RCPT TO is out of sequence.
    fn check_ready_for_content(&mut self) {
        let ready = self.open.as_ref().is_some_and(|txn| {
            txn.msg.mail_from_raw.is_some()
                && (!txn.msg.rcpt_to.is_empty() || txn.msg.rcpt_dropped > 0)
        });
        if !ready {
            self.mark(|flags| flags.bad_sequence = true);
        }
    }

    fn client_gap(&mut self, len: u64, ts: u64) {
        self.client.started = true;
        self.client.first_line_done = true;
        if let Some(txn) = self.open.as_mut() {
            txn.msg.flags.gap = true;
        }
        if self.client.mode == Mode::DataPending {
            // DATA was sent: what is missing is content.
            self.start_data(ts);
        }
        match &mut self.client.mode {
            Mode::Command | Mode::Auth | Mode::DataPending => {
                self.client.reader.lose_sync();
                self.client.suspect = true;
                // Between BDAT chunks the lost bytes may be content (or the next BDAT).
                if let Some(content) = self.open.as_mut().and_then(|txn| txn.content.as_mut()) {
                    content.gap(len);
                }
            }
            Mode::Data { scan, .. } => {
                scan.gap();
                if let Some(content) = self.open.as_mut().and_then(|txn| txn.content.as_mut()) {
                    content.gap(len);
                }
            }
            Mode::Bdat { remaining, last } => {
                let lost = len.min(*remaining);
                *remaining = remaining.saturating_sub(lost);
                let (done, last) = (*remaining == 0, *last);
                if let Some(content) = self.open.as_mut().and_then(|txn| txn.content.as_mut()) {
                    content.gap(lost);
                }
                if done {
                    self.client.mode = Mode::Command;
                    if len > lost {
                        self.client.reader.lose_sync();
                    }
                    if last {
                        self.end_content(ts, false);
                    }
                }
            }
        }
    }

    // ---- stopping -------------------------------------------------------------------------

    /// Not SMTP: reported once, then nothing more is parsed.
    fn not_smtp(&mut self, ts: u64) {
        self.mark(|flags| flags.not_smtp = true);
        self.stop(ts);
    }

    /// STARTTLS succeeded: nothing more can be read.
    fn enter_tls(&mut self, ts: u64) {
        self.summary.tls = true;
        self.stop(ts);
    }

    fn stop(&mut self, ts: u64) {
        self.stopped = true;
        self.close_open(Close::Other, ts);
        self.pending.clear();
        self.flush_closing(true);
    }
}

/// Trimmed, lossy, bounded text of a reply.
fn reply_text(text: &[u8], max: usize) -> String {
    Session::text(trim(text), max)
}

/// Text of an EHLO keyword line.
fn capability(text: &[u8]) -> String {
    Session::text(trim(text), 128)
}

#[cfg(test)]
impl Session {
    /// Capacity of the client line buffer (for the no-allocation test).
    pub(crate) fn client_line_capacity(&self) -> usize {
        self.client.reader.capacity()
    }
}
