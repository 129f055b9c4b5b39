//! Incremental HTTP/1.x parser: turns the two byte streams of a TCP session into transactions.
//!
//! One [`Session`] per TCP session. The glue feeds it each side's bytes in order, in pieces split
//! anywhere ([`Session::data`]), reports bytes that were never captured ([`Session::gap`]) and
//! the end of the session ([`Session::end`]); [`Session::take_transactions`] hands out the
//! completed [`Transaction`]s in order.
//!
//! Heads are located with `memchr`, buffered only when they straddle pieces (up to
//! [`HttpConfig::max_head`]), and parsed with `httparse`. Bodies are never buffered: they are
//! counted, hashed, optionally decoded and captured as they stream by. Responses are paired with
//! requests in order (pipelining). After lost sync (gap inside a head or chunked framing, junk
//! between messages) the parser skips to the next plausible message start.

mod body;
mod head;
mod model;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use memchr::memmem::Finder;
use netan_plugin_api::Direction;

use body::{BodyAcc, Coding};
use head::{BlockScan, Length, Parsed, Partial, Scan, Summary, Verdict};
pub use model::{
    Body, BodyFraming, Flags, HeaderCapture, HttpConfig, Request, Response, Timing, Transaction,
};

/// Longest chunk-size line (with extensions) accepted.
const CHUNK_LINE_MAX: usize = 4096;
/// How a status line starts; what is looked for when resynchronising a response stream.
const HTTP1: &[u8] = b"HTTP/1.";
/// The searcher for [`HTTP1`], built once and shared by every session (it is a few hundred
/// bytes: a copy per session would only bloat the sessions' state).
fn http1_finder() -> &'static Finder<'static> {
    static FINDER: OnceLock<Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| Finder::new(HTTP1))
}

/// Steps without progress after which the parser drops a byte (a safety net; never expected).
const MAX_STALLS: u32 = 64;

/// Which kind of messages a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Req,
    Resp,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Req => "request",
            Role::Resp => "response",
        }
    }
}

/// What a stream is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading (or waiting for) a message head.
    Head,
    /// Streaming a body.
    Body,
    /// Sync lost: looking for the next message start.
    Resync,
    /// After a `CONNECT` request: holding the client's bytes until the response says whether a
    /// tunnel follows.
    AwaitConnect,
    /// Not parsed any more (not HTTP, tunnel, upgrade).
    Stopped,
}

/// How the current body ends.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// Bytes left.
    Length(u64),
    /// Chunked, at this point of the framing.
    Chunked(Chunk),
    /// At the end of the session.
    Close,
}

/// Position in a chunked body.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Reading a chunk-size line (buffered in `DirState::buf`).
    Size,
    /// Inside chunk data: bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data (`cr`: the `\r` was seen).
    DataEnd { cr: bool },
    /// Reading the trailer section (buffered in `DirState::buf`).
    Trailers,
}

/// What follows a head.
enum Next {
    NoBody,
    Body(Framing, BodyFraming),
    Lost(&'static str),
}

/// Parsing state of one stream.
#[derive(Debug)]
struct DirState {
    phase: Phase,
    /// Partial head, chunk-size line or trailers; the client's bytes while awaiting a CONNECT
    /// response.
    buf: Vec<u8>,
    /// The current head has begun (leading empty lines skipped).
    started: bool,
    /// The current head's first bytes passed the plausibility check.
    prefix_ok: bool,
    scan: BlockScan,
    /// The current head is a guess made while resynchronising: if it fails it is skipped
    /// silently.
    tentative: bool,
    /// Nothing decided yet about this stream (no message, no gap): junk now means "not HTTP".
    fresh: bool,
    /// Bytes or gaps were seen.
    seen_data: bool,
    /// Slot of the current message.
    slot: Option<u64>,
    start_ts: u64,
    last_ts: u64,
    framing: Framing,
    acc: Option<BodyAcc>,
    /// Bytes skipped while resynchronising, not yet reported.
    skipped: u64,
    skip_excerpt: Vec<u8>,
    /// Resync: the next byte starts a line (or follows a gap).
    line_start: bool,
    /// Resync: the next byte cannot start a message (a head starting there just failed).
    skip_first: bool,
    /// Slot of the CONNECT request whose response is awaited.
    connect_slot: Option<u64>,
    /// The bytes held while awaiting a CONNECT response overflowed or hit a gap.
    connect_lost: bool,
    /// When the first of the bytes held while awaiting a CONNECT response came.
    held_ts: u64,
    /// Not HTTP: the slot whose excerpt still takes this stream's bytes, and how many it has.
    excerpt_slot: Option<u64>,
    excerpt_raw: usize,
}

impl DirState {
    fn new() -> Self {
        DirState {
            phase: Phase::Head,
            buf: Vec::new(),
            started: false,
            prefix_ok: false,
            scan: BlockScan::head(),
            tentative: false,
            fresh: true,
            seen_data: false,
            slot: None,
            start_ts: 0,
            last_ts: 0,
            framing: Framing::Close,
            acc: None,
            skipped: 0,
            skip_excerpt: Vec::new(),
            line_start: false,
            skip_first: false,
            connect_slot: None,
            connect_lost: false,
            held_ts: 0,
            excerpt_slot: None,
            excerpt_raw: 0,
        }
    }

    /// Ready for the next head.
    fn enter_head(&mut self) {
        self.phase = Phase::Head;
        self.started = false;
        self.tentative = false;
        self.buf.clear();
    }

    /// Sync lost: look for the next message start.
    fn enter_resync(&mut self, line_start: bool, skip_first: bool) {
        self.enter_head();
        self.phase = Phase::Resync;
        self.fresh = false;
        self.line_start = line_start;
        self.skip_first = skip_first;
    }

    /// A guessed message start: try it as a head.
    fn enter_tentative(&mut self) {
        self.enter_head();
        self.tentative = true;
    }

    fn skip(&mut self, bytes: &[u8], excerpt_len: usize) {
        self.skipped = self
            .skipped
            .saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        let room = excerpt_len.saturating_sub(self.skip_excerpt.len());
        self.skip_excerpt
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }

    /// Reports the skipped bytes in `tx`.
    fn attach_skip(&mut self, role: Role, tx: &mut Transaction) {
        if self.skipped == 0 {
            return;
        }
        tx.flags.resync_skipped_bytes = tx.flags.resync_skipped_bytes.saturating_add(self.skipped);
        let excerpt = match role {
            Role::Req => &mut tx.request_excerpt,
            Role::Resp => &mut tx.response_excerpt,
        };
        if excerpt.is_none() {
            *excerpt = Some(head::excerpt(self.skip_excerpt.iter().copied(), usize::MAX));
        }
        self.skipped = 0;
        self.skip_excerpt.clear();
    }
}

/// A transaction being assembled.
#[derive(Debug)]
struct Slot {
    tx: Transaction,
    /// The request message is still being read.
    req_open: bool,
    /// A final response (or what stands for it) was paired with this slot.
    resp_assigned: bool,
    /// The response message is still being read.
    resp_open: bool,
    /// A lone "not HTTP" response kept back: the client's first bytes may join it.
    hold: bool,
    /// The request / response excerpt (not HTTP) is still being filled.
    collecting: [bool; 2],
}

impl Slot {
    fn complete(&self) -> bool {
        !self.req_open
            && self.resp_assigned
            && !self.resp_open
            && !self.hold
            && self.collecting == [false; 2]
    }
}

/// Transactions of a session: those being assembled (ids from `base`), and those done.
#[derive(Debug, Default)]
struct Book {
    q: VecDeque<Slot>,
    base: u64,
    /// Id of the slot the next final response pairs with.
    cursor: u64,
    out: Vec<Transaction>,
    max_pending: usize,
    swapped: bool,
    /// A tunnel or upgrade ended parsing.
    tunnel: bool,
    /// Client bytes held during a CONNECT, to parse again as HTTP, and when they came.
    replay: Vec<u8>,
    replay_ts: u64,
}

impl Book {
    fn next_id(&self) -> u64 {
        self.base
            .saturating_add(u64::try_from(self.q.len()).unwrap_or(u64::MAX))
    }

    fn get(&mut self, id: u64) -> Option<&mut Slot> {
        let i = usize::try_from(id.checked_sub(self.base)?).ok()?;
        self.q.get_mut(i)
    }

    fn tx(&mut self, id: u64) -> Option<&mut Transaction> {
        self.get(id).map(|s| &mut s.tx)
    }

    fn push(&mut self) -> u64 {
        while self.q.len() >= self.max_pending.max(1) {
            if let Some(mut s) = self.q.pop_front() {
                self.base = self.base.saturating_add(1);
                if !s.resp_assigned {
                    s.tx.flags.add_error(
                        "too many transactions pending: reported without waiting for the response",
                    );
                }
                self.out.push(finalize(s.tx));
            }
        }
        self.cursor = self.cursor.max(self.base);
        let id = self.next_id();
        let tx = Transaction {
            seq: id,
            flags: Flags {
                roles_swapped: self.swapped,
                ..Flags::default()
            },
            ..Transaction::default()
        };
        self.q.push_back(Slot {
            tx,
            req_open: false,
            resp_assigned: false,
            resp_open: false,
            hold: false,
            collecting: [false; 2],
        });
        id
    }

    /// A new request (or request-side record): releases held slots first.
    fn push_request(&mut self) -> u64 {
        self.release_holds();
        self.push()
    }

    /// The slot the next response pairs with, created (lone) if no request waits; whether it
    /// was created.
    fn response_slot(&mut self) -> (u64, bool) {
        self.cursor = self.cursor.max(self.base);
        if self.cursor < self.next_id() {
            (self.cursor, false)
        } else {
            (self.push(), true)
        }
    }

    /// Pairs a final response with its slot (advancing the pairing).
    fn assign_response(&mut self) -> (u64, bool) {
        let (id, created) = self.response_slot();
        if let Some(s) = self.get(id) {
            s.resp_assigned = true;
        }
        self.cursor = id.saturating_add(1);
        (id, created)
    }

    /// The request of the slot the next response pairs with.
    fn pending_request(&mut self) -> Option<&Request> {
        let id = self.cursor.max(self.base);
        self.get(id).and_then(|s| s.tx.request.as_ref())
    }

    fn release_holds(&mut self) {
        if self.q.iter().any(|s| s.hold) {
            self.q.iter_mut().for_each(|s| s.hold = false);
            self.emit_ready();
        }
    }

    fn emit_ready(&mut self) {
        while self.q.front().is_some_and(Slot::complete) {
            if let Some(s) = self.q.pop_front() {
                self.base = self.base.saturating_add(1);
                self.out.push(finalize(s.tx));
            }
        }
    }

    fn flush_all(&mut self) {
        while let Some(s) = self.q.pop_front() {
            self.base = self.base.saturating_add(1);
            self.out.push(finalize(s.tx));
        }
    }
}

fn finalize(mut tx: Transaction) -> Transaction {
    let t = &mut tx.timing;
    t.latency = match (t.response_start, t.request_end) {
        (Some(resp), Some(req)) => resp.checked_sub(req),
        _ => None,
    };
    tx
}

fn version_str(v: Option<u8>) -> String {
    match v {
        Some(0) => "1.0".to_owned(),
        Some(1) => "1.1".to_owned(),
        Some(n) => format!("1.{n}"),
        None => String::new(),
    }
}

fn length_of(s: &Summary) -> Option<u64> {
    match s.length {
        Length::Valid(n) => Some(n),
        _ => None,
    }
}

fn request_from(method: String, uri: String, version: String, s: Summary) -> Request {
    Request {
        method,
        uri,
        version,
        content_length: length_of(&s),
        host: s.host,
        user_agent: s.user_agent,
        content_type: s.content_type,
        content_encoding: s.content_encoding,
        transfer_encoding: s.transfer_encoding,
        headers: s.headers,
        body: Body::default(),
    }
}

fn response_from(version: String, status: u16, reason: String, s: Summary) -> Response {
    Response {
        version,
        status,
        reason,
        content_length: length_of(&s),
        content_type: s.content_type,
        content_encoding: s.content_encoding,
        transfer_encoding: s.transfer_encoding,
        headers: s.headers,
        body: Body::default(),
    }
}

/// Ends the current message of `st` (its body, if any, goes into its slot).
fn finish_msg(book: &mut Book, st: &mut DirState, role: Role, truncated: bool) {
    let body = st.acc.take().map(|acc| acc.finish(!truncated));
    if let Some(tx) = st.slot.take().and_then(|id| book.get(id)) {
        match role {
            Role::Req => {
                tx.req_open = false;
                tx.tx.timing.request_end = Some(st.last_ts);
            }
            Role::Resp => {
                tx.resp_open = false;
                tx.tx.timing.response_end = Some(st.last_ts);
            }
        }
        let tx = &mut tx.tx;
        tx.flags.truncated |= truncated;
        if let Some((body, failed)) = body {
            tx.flags.gap |= body.missing > 0;
            tx.flags.body_decode_error |= failed;
            match role {
                Role::Req => {
                    if let Some(r) = &mut tx.request {
                        r.body = body;
                    }
                }
                Role::Resp => {
                    if let Some(r) = &mut tx.response {
                        r.body = body;
                    }
                }
            }
        }
    }
    st.enter_head();
    book.emit_ready();
}

/// One step of work on one stream, with the session's other parts.
struct Cx<'a> {
    cfg: &'a HttpConfig,
    book: &'a mut Book,
    me: &'a mut DirState,
    other: &'a mut DirState,
    role: Role,
    ts: u64,
}

impl Cx<'_> {
    fn step(&mut self, input: &[u8]) -> usize {
        match self.me.phase {
            Phase::Head => self.head(input),
            Phase::Body => self.body(input),
            Phase::Resync => self.resync(input),
            Phase::AwaitConnect => self.await_connect(input),
            Phase::Stopped => {
                self.collect_excerpt(input);
                input.len()
            }
        }
    }

    /// After "not HTTP": the stream's first bytes go on filling the record's excerpt.
    fn collect_excerpt(&mut self, input: &[u8]) {
        let Some(id) = self.me.excerpt_slot else {
            return;
        };
        let take = self
            .cfg
            .excerpt_len
            .saturating_sub(self.me.excerpt_raw)
            .min(input.len());
        let role = self.role;
        if let Some(tx) = self.book.tx(id) {
            let excerpt = match role {
                Role::Req => &mut tx.request_excerpt,
                Role::Resp => &mut tx.response_excerpt,
            };
            head::excerpt_into(
                excerpt.get_or_insert_with(String::new),
                input.get(..take).unwrap_or_default().iter().copied(),
            );
        }
        self.me.excerpt_raw = self.me.excerpt_raw.saturating_add(take);
        if self.me.excerpt_raw >= self.cfg.excerpt_len {
            self.stop_collecting();
        }
    }

    fn stop_collecting(&mut self) {
        let Some(id) = self.me.excerpt_slot.take() else {
            return;
        };
        let i = usize::from(self.role == Role::Resp);
        if let Some(c) = self.book.get(id).and_then(|s| s.collecting.get_mut(i)) {
            *c = false;
        }
        self.book.emit_ready();
    }

    fn error(&mut self, id: Option<u64>, what: &str) {
        if let Some(tx) = id.and_then(|id| self.book.tx(id)) {
            tx.flags.add_error(&format!("{}: {what}", self.role.name()));
        }
    }

    // ----- heads -----

    fn head(&mut self, input: &[u8]) -> usize {
        if !self.me.started {
            let blank = input
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            if blank > 0 {
                return blank;
            }
            let st = &mut *self.me;
            st.started = true;
            st.prefix_ok = false;
            st.scan = BlockScan::head();
            st.buf.clear();
            st.start_ts = self.ts;
        }
        self.me.last_ts = self.ts;
        if !self.me.prefix_ok {
            let bytes = self.me.buf.iter().chain(input.iter()).copied();
            let verdict = match self.role {
                Role::Req => head::request_prefix(bytes),
                Role::Resp => head::response_prefix(bytes),
            };
            match verdict {
                Verdict::Yes => self.me.prefix_ok = true,
                Verdict::NeedMore => {}
                Verdict::No => return self.bad_start(input, 0),
            }
        }
        let max_head = self.cfg.max_head;
        let had = self.me.buf.len();
        let request = self.role == Role::Req;
        let mut off = 0usize;
        let mut appended = 0usize;
        // End (in `input`) of a first line not yet checked with httparse: when the whole head is
        // in `input`, parsing it checks the line anyway.
        let mut unchecked: Option<usize> = None;
        loop {
            let rest = input.get(off..).unwrap_or_default();
            let scan = self.me.scan.scan(rest);
            if let (Some(end), Scan::More | Scan::End(_)) = (unchecked, scan) {
                let over = match scan {
                    Scan::End(k) => had.saturating_add(off).saturating_add(k) > max_head,
                    _ => had.saturating_add(input.len()) > max_head,
                };
                // Checked now unless the head is complete, small enough, and parses.
                if !matches!(scan, Scan::End(_)) || over {
                    unchecked = None;
                    if !head::first_line_ok(input.get(..end).unwrap_or_default(), request) {
                        return self.bad_start(input, appended);
                    }
                }
            }
            match scan {
                Scan::More => {
                    if had.saturating_add(input.len()) > max_head {
                        return self.too_large(input, had, appended);
                    }
                    if !self.me.scan.first_line_seen() && head::has_line_ctl(rest) {
                        return self.bad_start(input, appended);
                    }
                    self.me
                        .buf
                        .extend_from_slice(input.get(appended..).unwrap_or_default());
                    return input.len();
                }
                Scan::FirstLine(k) => {
                    off = off.saturating_add(k);
                    if had.saturating_add(off) > max_head {
                        return self.too_large(input, had, appended);
                    }
                    if had > 0 {
                        self.me
                            .buf
                            .extend_from_slice(input.get(appended..off).unwrap_or_default());
                        appended = off;
                    }
                    let (ok, simple) = {
                        let line = if had > 0 {
                            self.me.buf.as_slice()
                        } else {
                            input.get(..off).unwrap_or_default()
                        };
                        let simple = if request && !self.me.tentative {
                            head::http09_request(line)
                        } else {
                            None
                        };
                        let ok = simple.is_some() || had == 0 || head::first_line_ok(line, request);
                        (ok, simple)
                    };
                    if let Some((method, uri)) = simple {
                        self.simple_request(method, uri);
                        return off;
                    }
                    if !ok {
                        return self.bad_start(input, appended);
                    }
                    if had == 0 {
                        unchecked = Some(off);
                    }
                }
                Scan::End(k) => {
                    off = off.saturating_add(k);
                    if had.saturating_add(off) > max_head {
                        return self.too_large(input, had, appended);
                    }
                    if had > 0 {
                        self.me
                            .buf
                            .extend_from_slice(input.get(appended..off).unwrap_or_default());
                    }
                    return self.head_complete(input, had > 0, off, unchecked);
                }
            }
        }
    }

    /// The head is complete: in `buf` if `buffered`, else in `input[..len]`; its first line,
    /// `input[..end]`, is still to be checked if `unchecked` is `Some(end)`.
    fn head_complete(
        &mut self,
        input: &[u8],
        buffered: bool,
        len: usize,
        unchecked: Option<usize>,
    ) -> usize {
        let request = self.role == Role::Req;
        let bytes = if buffered {
            self.me.buf.as_slice()
        } else {
            input.get(..len).unwrap_or_default()
        };
        match self.role {
            Role::Req => match head::parse_request(bytes, self.cfg) {
                Parsed::Complete(h) => {
                    self.me.buf.clear();
                    self.request_head(h);
                    len
                }
                Parsed::Failed(p, reason) => {
                    let line = unchecked.and_then(|end| input.get(..end));
                    if line.is_some_and(|l| !head::first_line_ok(l, request)) {
                        return self.bad_start(input, 0);
                    }
                    self.head_failed(input, buffered, p, reason, len)
                }
            },
            Role::Resp => match head::parse_response(bytes, self.cfg) {
                Parsed::Complete(h) => {
                    self.me.buf.clear();
                    self.response_head(h);
                    len
                }
                Parsed::Failed(p, reason) => {
                    let line = unchecked.and_then(|end| input.get(..end));
                    if line.is_some_and(|l| !head::first_line_ok(l, request)) {
                        return self.bad_start(input, 0);
                    }
                    self.head_failed(input, buffered, p, reason, len)
                }
            },
        }
    }

    /// A complete head did not parse (it is in `buf` if `buffered`, else in `input[..len]`).
    fn head_failed(
        &mut self,
        input: &[u8],
        buffered: bool,
        p: Partial,
        reason: Option<&str>,
        len: usize,
    ) -> usize {
        let unbuffered = if buffered {
            &[][..]
        } else {
            input.get(..len).unwrap_or_default()
        };
        if self.me.tentative {
            return self.abandon_head(unbuffered, len);
        }
        self.me.buf.extend_from_slice(unbuffered);
        let reason = format!("invalid head ({})", reason.unwrap_or("incomplete"));
        self.head_record(p, Some(&reason), |_| {});
        self.me.enter_resync(true, false);
        len
    }

    /// The first bytes of a head cannot start a message. `appended`: bytes of `input` already
    /// in `buf`.
    fn bad_start(&mut self, input: &[u8], appended: usize) -> usize {
        if self.role == Role::Resp
            && !self.me.tentative
            && self
                .book
                .pending_request()
                .is_some_and(|r| r.version == "0.9")
        {
            return self.simple_response(appended);
        }
        if self.me.tentative || !self.me.fresh {
            return self.abandon_head(&[], appended);
        }
        self.not_http(input, appended)
    }

    /// Skips the bytes of a head that is not one (those in `buf`, then `extra`), and resumes
    /// looking for a message start after them; returns `consumed`.
    fn abandon_head(&mut self, extra: &[u8], consumed: usize) -> usize {
        let excerpt_len = self.cfg.excerpt_len;
        let st = &mut *self.me;
        let buf = std::mem::take(&mut st.buf);
        st.skip(&buf, excerpt_len);
        st.skip(extra, excerpt_len);
        let last = extra.last().or(buf.last());
        let line_start = last == Some(&b'\n');
        let skip_first = last.is_none();
        st.buf = buf;
        st.enter_resync(line_start, skip_first);
        consumed
    }

    /// A head longer than `max_head`: keep its first `max_head` bytes for the record, skip the
    /// rest by resynchronising.
    fn too_large(&mut self, input: &[u8], had: usize, appended: usize) -> usize {
        let take = self.cfg.max_head.saturating_sub(had).max(appended);
        self.me
            .buf
            .extend_from_slice(input.get(appended..take).unwrap_or_default());
        if self.me.tentative {
            return self.abandon_head(&[], take);
        }
        let p = self.partial_of_buf();
        self.head_record(p, Some("head too large"), |f| f.head_too_large = true);
        self.me.enter_resync(false, false);
        take
    }

    /// First-line fields of the partial head in `buf`.
    fn partial_of_buf(&self) -> Partial {
        match self.role {
            Role::Req => match head::parse_request(&self.me.buf, self.cfg) {
                Parsed::Complete(h) => Partial {
                    method: Some(h.method),
                    uri: Some(h.uri),
                    version: Some(h.version),
                    ..Partial::default()
                },
                Parsed::Failed(p, _) => p,
            },
            Role::Resp => match head::parse_response(&self.me.buf, self.cfg) {
                Parsed::Complete(h) => Partial {
                    version: Some(h.version),
                    status: Some(h.status),
                    reason: Some(h.reason),
                    ..Partial::default()
                },
                Parsed::Failed(p, _) => p,
            },
        }
    }

    /// Records a message whose head could not be (completely) parsed.
    fn head_record(&mut self, p: Partial, reason: Option<&str>, flags: impl FnOnce(&mut Flags)) {
        let excerpt = match self.role {
            Role::Req if p.method.is_none() => Some(head::excerpt(
                self.me.buf.iter().copied(),
                self.cfg.excerpt_len,
            )),
            Role::Resp if p.status.is_none() => Some(head::excerpt(
                self.me.buf.iter().copied(),
                self.cfg.excerpt_len,
            )),
            _ => None,
        };
        let id = match self.role {
            Role::Req => self.book.push_request(),
            Role::Resp => self.book.assign_response().0,
        };
        self.me.fresh = false;
        let (start, end) = (self.me.start_ts, self.me.last_ts);
        let Some(tx) = self.book.tx(id) else { return };
        match self.role {
            Role::Req => {
                tx.request = Some(Request {
                    method: p.method.unwrap_or_default(),
                    uri: p.uri.unwrap_or_default(),
                    version: version_str(p.version),
                    ..Request::default()
                });
                tx.request_excerpt = excerpt;
                tx.timing.request_start = Some(start);
                tx.timing.request_end = Some(end);
            }
            Role::Resp => {
                tx.response = Some(Response {
                    version: version_str(p.version),
                    status: p.status.unwrap_or(0),
                    reason: p.reason.unwrap_or_default(),
                    ..Response::default()
                });
                tx.response_excerpt = excerpt;
                tx.timing.response_start = Some(start);
                tx.timing.response_end = Some(end);
            }
        }
        if let Some(reason) = reason {
            tx.flags
                .add_error(&format!("{}: {reason}", self.role.name()));
        }
        flags(&mut tx.flags);
        self.me.attach_skip(self.role, tx);
        if self.role == Role::Resp {
            self.resolve_connect(id, false);
        }
        self.book.emit_ready();
    }

    /// The stream's first bytes are not HTTP: record them and stop parsing this stream.
    fn not_http(&mut self, input: &[u8], appended: usize) -> usize {
        let rest = input.get(appended..).unwrap_or_default();
        let excerpt_len = self.cfg.excerpt_len;
        let excerpt = head::excerpt(self.me.buf.iter().chain(rest).copied(), excerpt_len);
        let raw = self
            .me
            .buf
            .len()
            .saturating_add(rest.len())
            .min(excerpt_len);
        let start = self.me.start_ts;
        let id = match self.role {
            Role::Req => {
                let held = self.book.q.iter().position(|s| s.hold);
                let id = match held {
                    Some(i) => self
                        .book
                        .base
                        .saturating_add(u64::try_from(i).unwrap_or(u64::MAX)),
                    None => self.book.push_request(),
                };
                if let Some(s) = self.book.get(id) {
                    s.hold = false;
                    s.tx.request_excerpt = Some(excerpt);
                    s.tx.flags.not_http = true;
                    s.tx.timing.request_start = Some(start);
                }
                id
            }
            Role::Resp => {
                let (id, created) = self.book.assign_response();
                let hold = created && !self.other.seen_data;
                if let Some(s) = self.book.get(id) {
                    s.hold = hold;
                    s.tx.response_excerpt = Some(excerpt);
                    s.tx.flags.not_http = true;
                    s.tx.timing.response_start = Some(start);
                }
                self.resolve_connect(id, false);
                id
            }
        };
        if raw < excerpt_len {
            self.me.excerpt_slot = Some(id);
            self.me.excerpt_raw = raw;
            let i = usize::from(self.role == Role::Resp);
            if let Some(c) = self.book.get(id).and_then(|s| s.collecting.get_mut(i)) {
                *c = true;
            }
        }
        self.me.phase = Phase::Stopped;
        self.me.fresh = false;
        self.me.buf.clear();
        self.book.emit_ready();
        input.len()
    }

    /// An HTTP/0.9 simple request (`GET /path` without version): complete as it is.
    fn simple_request(&mut self, method: String, uri: String) {
        let id = self.book.push_request();
        if let Some(tx) = self.book.tx(id) {
            tx.request = Some(request_from(
                method,
                uri,
                "0.9".to_owned(),
                Summary::default(),
            ));
            tx.timing.request_start = Some(self.me.start_ts);
            self.me.attach_skip(self.role, tx);
        }
        self.me.fresh = false;
        self.me.slot = Some(id);
        finish_msg(self.book, self.me, self.role, false);
    }

    /// The response to an HTTP/0.9 request: no head, the body lasts until the end. The bytes
    /// already in `buf` (and `appended` bytes of the input) are its first bytes.
    fn simple_response(&mut self, appended: usize) -> usize {
        let (id, _) = self.book.assign_response();
        let start = self.me.start_ts;
        if let Some(s) = self.book.get(id) {
            s.resp_open = true;
            s.tx.response = Some(Response {
                version: "0.9".to_owned(),
                ..Response::default()
            });
            s.tx.timing.response_start = Some(start);
            self.me.attach_skip(self.role, &mut s.tx);
        }
        let st = &mut *self.me;
        st.fresh = false;
        st.slot = Some(id);
        st.framing = Framing::Close;
        let mut acc = BodyAcc::new(self.cfg, BodyFraming::CloseDelimited, None);
        acc.content(&st.buf, self.cfg.max_decoded);
        st.acc = Some(acc);
        st.buf.clear();
        st.phase = Phase::Body;
        appended
    }

    fn request_head(&mut self, h: head::RequestHead) {
        let s = h.summary;
        let connect = h.method.eq_ignore_ascii_case("CONNECT");
        let coding = s.content_encoding.as_deref().and_then(Coding::from_header);
        let next = if s.transfer_encoding.is_some() {
            if s.chunked {
                Next::Body(Framing::Chunked(Chunk::Size), BodyFraming::Chunked)
            } else {
                Next::Lost("transfer-encoding without chunked")
            }
        } else {
            match s.length {
                Length::Absent | Length::Valid(0) => Next::NoBody,
                Length::Valid(n) => Next::Body(Framing::Length(n), BodyFraming::ContentLength),
                Length::Invalid => Next::Lost("invalid content-length"),
            }
        };
        let id = self.book.push_request();
        if let Some(slot) = self.book.get(id) {
            slot.req_open = true;
            slot.tx.request = Some(request_from(
                h.method,
                h.uri,
                version_str(Some(h.version)),
                s,
            ));
            slot.tx.timing.request_start = Some(self.me.start_ts);
            self.me.attach_skip(self.role, &mut slot.tx);
        }
        let st = &mut *self.me;
        st.fresh = false;
        st.tentative = false;
        st.slot = Some(id);
        st.connect_slot = connect.then_some(id);
        st.connect_lost = false;
        self.after_head(next, coding);
    }

    fn response_head(&mut self, h: head::ResponseHead) {
        let s = h.summary;
        self.me.fresh = false;
        if (100..200).contains(&h.status) && h.status != 101 {
            // Interim response: the final one follows.
            let (id, _) = self.book.response_slot();
            if let Some(tx) = self.book.tx(id) {
                tx.flags.interim_100 = true;
                self.me.attach_skip(self.role, tx);
            }
            self.me.enter_head();
            return;
        }
        let (id, _) = self.book.assign_response();
        let (head_req, connect_req) = match self.book.tx(id).and_then(|tx| tx.request.as_ref()) {
            Some(r) => (
                r.method.eq_ignore_ascii_case("HEAD"),
                r.method.eq_ignore_ascii_case("CONNECT"),
            ),
            None => (false, false),
        };
        let upgraded = h.status == 101;
        let tunnel = connect_req && (200..300).contains(&h.status);
        let coding = s.content_encoding.as_deref().and_then(Coding::from_header);
        let next = if upgraded || tunnel || head_req || h.status == 204 || h.status == 304 {
            Next::NoBody
        } else if s.transfer_encoding.is_some() {
            if s.chunked {
                Next::Body(Framing::Chunked(Chunk::Size), BodyFraming::Chunked)
            } else {
                Next::Body(Framing::Close, BodyFraming::CloseDelimited)
            }
        } else {
            match s.length {
                Length::Valid(0) => Next::NoBody,
                Length::Valid(n) => Next::Body(Framing::Length(n), BodyFraming::ContentLength),
                Length::Absent => Next::Body(Framing::Close, BodyFraming::CloseDelimited),
                Length::Invalid => Next::Body(Framing::Close, BodyFraming::CloseDelimited),
            }
        };
        let invalid_length = s.transfer_encoding.is_none() && s.length == Length::Invalid;
        if let Some(slot) = self.book.get(id) {
            slot.resp_open = true;
            let tx = &mut slot.tx;
            tx.response = Some(response_from(
                version_str(Some(h.version)),
                h.status,
                h.reason,
                s,
            ));
            tx.timing.response_start = Some(self.me.start_ts);
            tx.flags.upgraded |= upgraded;
            tx.flags.tunnel |= tunnel;
            if invalid_length {
                tx.flags
                    .add_error("response: invalid content-length (read until close)");
            }
            self.me.attach_skip(self.role, tx);
        }
        self.me.tentative = false;
        self.me.slot = Some(id);
        self.resolve_connect(id, tunnel);
        if upgraded || tunnel {
            finish_msg(self.book, self.me, self.role, false);
            self.stop_session();
            return;
        }
        self.after_head(next, coding);
    }

    fn after_head(&mut self, next: Next, coding: Option<Coding>) {
        match next {
            Next::NoBody => self.msg_done(),
            Next::Body(framing, kind) => {
                let st = &mut *self.me;
                st.framing = framing;
                st.acc = Some(BodyAcc::new(self.cfg, kind, coding));
                st.phase = Phase::Body;
            }
            Next::Lost(reason) => {
                self.error(self.me.slot, reason);
                finish_msg(self.book, self.me, self.role, false);
                self.me.enter_resync(true, false);
            }
        }
    }

    /// The current message ended normally.
    fn msg_done(&mut self) {
        finish_msg(self.book, self.me, self.role, false);
        if self.role == Role::Req && self.me.connect_slot.is_some() {
            self.me.phase = Phase::AwaitConnect;
        }
    }

    /// The final response to slot `id` is known: if the client awaits it after a CONNECT, start
    /// the tunnel or resume parsing the client's bytes.
    fn resolve_connect(&mut self, id: u64, tunnel: bool) {
        let o = &mut *self.other;
        if o.connect_slot != Some(id) {
            return;
        }
        o.connect_slot = None;
        if tunnel || o.phase != Phase::AwaitConnect {
            return;
        }
        if o.connect_lost {
            o.enter_resync(false, false);
        } else {
            std::mem::swap(&mut self.book.replay, &mut o.buf);
            self.book.replay_ts = o.held_ts;
            o.enter_head();
        }
    }

    /// Upgrade or tunnel: nothing more of this session is HTTP.
    fn stop_session(&mut self) {
        if self.other.slot.is_some() {
            let role = match self.role {
                Role::Req => Role::Resp,
                Role::Resp => Role::Req,
            };
            finish_msg(self.book, self.other, role, true);
        }
        for st in [&mut *self.me, &mut *self.other] {
            st.phase = Phase::Stopped;
            // What follows is the tunnel's, not junk.
            st.skipped = 0;
            st.skip_excerpt.clear();
            st.buf.clear();
        }
        self.book.tunnel = true;
        self.book.emit_ready();
    }

    // ----- bodies -----

    fn body(&mut self, input: &[u8]) -> usize {
        self.me.last_ts = self.ts;
        let max_decoded = self.cfg.max_decoded;
        match self.me.framing {
            Framing::Close => {
                if let Some(acc) = &mut self.me.acc {
                    acc.content(input, max_decoded);
                }
                input.len()
            }
            Framing::Length(left) => {
                let n = self.content(input, left);
                let left = left.saturating_sub(n as u64);
                self.me.framing = Framing::Length(left);
                if left == 0 {
                    self.msg_done();
                }
                n
            }
            Framing::Chunked(chunk) => self.chunked(chunk, input),
        }
    }

    /// Feeds up to `left` content bytes of `input`; returns how many.
    fn content(&mut self, input: &[u8], left: u64) -> usize {
        let n = usize::try_from(left).map_or(input.len(), |l| l.min(input.len()));
        if let Some(acc) = &mut self.me.acc {
            acc.content(input.get(..n).unwrap_or_default(), self.cfg.max_decoded);
        }
        n
    }

    fn framing_bytes(&mut self, n: usize) {
        if let Some(acc) = &mut self.me.acc {
            acc.framing_bytes(n);
        }
    }

    fn chunked(&mut self, chunk: Chunk, input: &[u8]) -> usize {
        match chunk {
            Chunk::Size => {
                let Some(p) = memchr::memchr(b'\n', input) else {
                    if self.me.buf.len().saturating_add(input.len()) > CHUNK_LINE_MAX {
                        return self.body_lost("chunk-size line too long", false);
                    }
                    self.me.buf.extend_from_slice(input);
                    self.framing_bytes(input.len());
                    return input.len();
                };
                let k = p.saturating_add(1);
                if self.me.buf.len().saturating_add(k) > CHUNK_LINE_MAX {
                    return self.body_lost("chunk-size line too long", false);
                }
                let size = if self.me.buf.is_empty() {
                    head::parse_chunk_line(input.get(..k).unwrap_or_default())
                } else {
                    self.me
                        .buf
                        .extend_from_slice(input.get(..k).unwrap_or_default());
                    head::parse_chunk_line(&self.me.buf)
                };
                self.me.buf.clear();
                self.framing_bytes(k);
                match size {
                    None => {
                        self.body_lost("invalid chunk size", false);
                    }
                    Some(0) => {
                        self.me.framing = Framing::Chunked(Chunk::Trailers);
                        self.me.scan = BlockScan::trailers();
                    }
                    Some(n) => {
                        if let Some(acc) = &mut self.me.acc {
                            acc.chunk();
                        }
                        self.me.framing = Framing::Chunked(Chunk::Data(n));
                    }
                }
                k
            }
            Chunk::Data(left) => {
                let n = self.content(input, left);
                let left = left.saturating_sub(n as u64);
                self.me.framing = Framing::Chunked(if left == 0 {
                    Chunk::DataEnd { cr: false }
                } else {
                    Chunk::Data(left)
                });
                n
            }
            Chunk::DataEnd { cr } => match input.first() {
                Some(b'\r') if !cr => {
                    self.framing_bytes(1);
                    self.me.framing = Framing::Chunked(Chunk::DataEnd { cr: true });
                    1
                }
                Some(b'\n') => {
                    self.framing_bytes(1);
                    self.me.framing = Framing::Chunked(Chunk::Size);
                    1
                }
                _ => self.body_lost("no CRLF after chunk data", false),
            },
            Chunk::Trailers => {
                let mut off = 0usize;
                loop {
                    match self.me.scan.scan(input.get(off..).unwrap_or_default()) {
                        Scan::FirstLine(k) => off = off.saturating_add(k),
                        Scan::More => {
                            if self.me.buf.len().saturating_add(input.len()) > self.cfg.max_head {
                                return self.body_lost("trailers too large", false);
                            }
                            self.me.buf.extend_from_slice(input);
                            self.framing_bytes(input.len());
                            return input.len();
                        }
                        Scan::End(k) => {
                            let end = off.saturating_add(k);
                            let block = input.get(..end).unwrap_or_default();
                            let trailers = if self.me.buf.is_empty() {
                                head::parse_trailers(block, self.cfg)
                            } else {
                                self.me.buf.extend_from_slice(block);
                                head::parse_trailers(&self.me.buf, self.cfg)
                            };
                            self.framing_bytes(end);
                            match trailers {
                                Ok(t) => {
                                    if let Some(acc) = &mut self.me.acc {
                                        acc.set_trailers(t);
                                    }
                                }
                                Err(e) => {
                                    self.error(self.me.slot, &format!("invalid trailers ({e})"))
                                }
                            }
                            self.msg_done();
                            return end;
                        }
                    }
                }
            }
        }
    }

    /// Chunked framing broke: end the message, flag it, resynchronise from here. Consumes
    /// nothing.
    fn body_lost(&mut self, reason: &str, gap: bool) -> usize {
        self.error(self.me.slot, reason);
        if gap {
            if let Some(tx) = self.me.slot.and_then(|id| self.book.tx(id)) {
                tx.flags.gap = true;
            }
        }
        finish_msg(self.book, self.me, self.role, false);
        self.me.enter_resync(true, false);
        0
    }

    // ----- lost sync -----

    fn resync(&mut self, input: &[u8]) -> usize {
        let skip_first = std::mem::take(&mut self.me.skip_first);
        let excerpt_len = self.cfg.excerpt_len;
        let found = match self.role {
            Role::Resp => {
                let from = usize::from(skip_first).min(input.len());
                let hay = input.get(from..).unwrap_or_default();
                match http1_finder().find(hay) {
                    Some(p) => Some(from.saturating_add(p)),
                    None => {
                        let t = head::partial_suffix(hay, HTTP1);
                        (t > 0).then(|| input.len().saturating_sub(t))
                    }
                }
            }
            Role::Req => {
                let mut cand = (self.me.line_start && !skip_first).then_some(0usize);
                let mut found = None;
                let mut from = 0usize;
                loop {
                    if let Some(c) = cand {
                        let rest = input.get(c..).unwrap_or_default();
                        if !rest.is_empty() && head::resync_request_candidate(rest) != Verdict::No {
                            found = Some(c);
                            break;
                        }
                    }
                    match memchr::memchr(b'\n', input.get(from..).unwrap_or_default()) {
                        Some(p) => {
                            let next = from.saturating_add(p).saturating_add(1);
                            cand = Some(next);
                            from = next;
                        }
                        None => break,
                    }
                }
                found
            }
        };
        match found {
            Some(c) => {
                self.me
                    .skip(input.get(..c).unwrap_or_default(), excerpt_len);
                self.me.enter_tentative();
                c
            }
            None => {
                self.me.skip(input, excerpt_len);
                self.me.line_start = input.last() == Some(&b'\n');
                input.len()
            }
        }
    }

    fn await_connect(&mut self, input: &[u8]) -> usize {
        let excerpt_len = self.cfg.excerpt_len;
        let st = &mut *self.me;
        if !st.connect_lost && st.buf.len().saturating_add(input.len()) > self.cfg.max_head {
            st.connect_lost = true;
            let buf = std::mem::take(&mut st.buf);
            st.skip(&buf, excerpt_len);
            st.buf = buf;
            st.buf.clear();
        }
        if st.connect_lost {
            st.skip(input, excerpt_len);
        } else {
            if st.buf.is_empty() {
                st.held_ts = self.ts;
            }
            st.buf.extend_from_slice(input);
        }
        input.len()
    }

    // ----- gaps and end -----

    fn gap(&mut self, len: u64) {
        self.me.seen_data = true;
        match self.me.phase {
            Phase::Stopped => self.stop_collecting(),
            Phase::Resync => {
                self.me.line_start = true;
                self.me.skip_first = false;
            }
            Phase::AwaitConnect => {
                if !self.me.connect_lost {
                    let excerpt_len = self.cfg.excerpt_len;
                    let st = &mut *self.me;
                    st.connect_lost = true;
                    let buf = std::mem::take(&mut st.buf);
                    st.skip(&buf, excerpt_len);
                    st.buf = buf;
                    st.buf.clear();
                }
            }
            Phase::Head => {
                if self.me.started && !self.me.tentative {
                    let p = self.partial_of_buf();
                    self.head_record(p, Some("gap in head"), |f| f.gap = true);
                } else if self.me.started {
                    self.abandon_head(&[], 0);
                }
                self.me.enter_resync(true, false);
            }
            Phase::Body => self.body_gap(len),
        }
        self.me.fresh = false;
    }

    fn body_gap(&mut self, len: u64) {
        match self.me.framing {
            Framing::Close => {
                if let Some(acc) = &mut self.me.acc {
                    acc.gap(len);
                }
            }
            Framing::Length(left) | Framing::Chunked(Chunk::Data(left)) => {
                let n = len.min(left);
                if let Some(acc) = &mut self.me.acc {
                    acc.gap(n);
                }
                let left = left.saturating_sub(n);
                let chunked = matches!(self.me.framing, Framing::Chunked(_));
                if chunked && len > n {
                    self.body_lost("gap in chunked framing", true);
                } else if chunked {
                    self.me.framing = Framing::Chunked(if left == 0 {
                        Chunk::DataEnd { cr: false }
                    } else {
                        Chunk::Data(left)
                    });
                } else {
                    self.me.framing = Framing::Length(left);
                    if left == 0 {
                        self.msg_done();
                        if len > n {
                            self.gap(len.saturating_sub(n));
                        }
                    }
                }
            }
            Framing::Chunked(_) => {
                self.body_lost("gap in chunked framing", true);
            }
        }
    }

    /// The session ended: close what this stream has open.
    fn end(&mut self) {
        match self.me.phase {
            Phase::Head if self.me.started => {
                if self.me.tentative {
                    self.abandon_head(&[], 0);
                } else {
                    let p = self.partial_of_buf();
                    self.head_record(p, None, |f| f.truncated = true);
                }
            }
            Phase::Body => match self.me.framing {
                Framing::Close => self.msg_done(),
                _ => finish_msg(self.book, self.me, self.role, true),
            },
            Phase::AwaitConnect => {
                // Whatever followed an unanswered CONNECT is not reported as junk.
                self.me.buf.clear();
                self.me.skipped = 0;
                self.me.skip_excerpt.clear();
            }
            Phase::Stopped => self.stop_collecting(),
            _ => {}
        }
        self.me.phase = Phase::Stopped;
        if self.me.skipped > 0 {
            let id = match self.role {
                Role::Req => self.book.push_request(),
                Role::Resp => self.book.assign_response().0,
            };
            self.error(Some(id), "unparsed bytes");
            if let Some(tx) = self.book.tx(id) {
                self.me.attach_skip(self.role, tx);
            }
        }
    }
}

/// The HTTP parser for one TCP session.
#[derive(Debug)]
pub struct Session {
    cfg: Arc<HttpConfig>,
    /// The stream carrying requests (normally client-to-server).
    req: DirState,
    /// The stream carrying responses.
    resp: DirState,
    book: Book,
    roles_decided: bool,
    ended: bool,
}

impl Session {
    /// A parser for a new session.
    pub fn new(config: Arc<HttpConfig>) -> Session {
        let max_pending = config.max_pending;
        Session {
            cfg: config,
            req: DirState::new(),
            resp: DirState::new(),
            book: Book {
                max_pending,
                ..Book::default()
            },
            roles_decided: false,
            ended: false,
        }
    }

    /// In-order bytes from one side; `ts` is the capture time (ns since the epoch) of the
    /// packets that carried them.
    pub fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64) {
        if self.ended || bytes.is_empty() {
            return;
        }
        if !self.roles_decided {
            self.decide_roles(dir, bytes);
        }
        let role = self.role_of(dir);
        self.feed(role, bytes, ts);
    }

    /// `len` bytes from one side were never captured, at this point of its stream.
    pub fn gap(&mut self, dir: Direction, len: u64, ts: u64) {
        if self.ended || len == 0 {
            return;
        }
        self.roles_decided = true;
        let role = self.role_of(dir);
        let mut cx = self.cx(role, ts);
        cx.gap(len);
        if role == Role::Req {
            self.book.release_holds();
        }
    }

    /// The session ended (FIN, RST, timeout, end of input): bodies delimited by the close end,
    /// cut messages are reported truncated, requests without response are reported. Later calls
    /// are ignored. (Timings come from the data calls: a message's end is the `ts` of its last
    /// bytes, not this `ts`.)
    pub fn end(&mut self, ts: u64) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.cx(Role::Req, ts).end();
        self.cx(Role::Resp, ts).end();
        self.book.flush_all();
    }

    /// Transactions completed so far, in order (drained from the session).
    pub fn take_transactions(&mut self) -> std::vec::Drain<'_, Transaction> {
        self.book.out.drain(..)
    }

    /// Whether requests were found in the server-to-client stream (roles swapped).
    pub fn roles_swapped(&self) -> bool {
        self.book.swapped
    }

    /// Whether more bytes would be ignored: the session ended, was upgraded or tunnelled, or
    /// neither side is parsed any more (nor still fills the excerpt of a "not HTTP" record).
    /// Transactions may still be pending until [`Session::end`].
    pub fn is_done(&self) -> bool {
        self.ended
            || self.book.tunnel
            || (self.req.phase == Phase::Stopped
                && self.resp.phase == Phase::Stopped
                && self.req.excerpt_slot.is_none()
                && self.resp.excerpt_slot.is_none())
    }

    fn role_of(&self, dir: Direction) -> Role {
        match (dir, self.book.swapped) {
            (Direction::ClientToServer, false) | (Direction::ServerToClient, true) => Role::Req,
            _ => Role::Resp,
        }
    }

    /// The first bytes of the session decide whether the SYN sender really is the client.
    fn decide_roles(&mut self, dir: Direction, bytes: &[u8]) {
        self.roles_decided = true;
        self.book.swapped = match dir {
            Direction::ClientToServer => {
                head::response_prefix(bytes.iter().copied()) == Verdict::Yes
            }
            Direction::ServerToClient => {
                head::request_prefix(bytes.iter().copied()) == Verdict::Yes
                    && memchr::memchr(b'\n', bytes)
                        .and_then(|p| bytes.get(..=p))
                        .is_some_and(|line| head::first_line_ok(line, true))
            }
        };
    }

    fn cx(&mut self, role: Role, ts: u64) -> Cx<'_> {
        let (me, other) = match role {
            Role::Req => (&mut self.req, &mut self.resp),
            Role::Resp => (&mut self.resp, &mut self.req),
        };
        Cx {
            cfg: &self.cfg,
            book: &mut self.book,
            me,
            other,
            role,
            ts,
        }
    }

    fn feed(&mut self, role: Role, bytes: &[u8], ts: u64) {
        let mut input = bytes;
        loop {
            input = self.feed_until_replay(role, input, ts);
            // A refused CONNECT: parse the client bytes held meanwhile before the rest of the
            // responses, so that they pair in order. (Only responses trigger this.)
            if self.book.replay.is_empty() {
                break;
            }
            let replay = std::mem::take(&mut self.book.replay);
            let replay_ts = self.book.replay_ts;
            self.feed_until_replay(Role::Req, &replay, replay_ts);
            if input.is_empty() {
                break;
            }
        }
    }

    /// Feeds `bytes` to a stream until they are all used, or until client bytes are to be
    /// replayed; returns what is left.
    fn feed_until_replay<'b>(&mut self, role: Role, bytes: &'b [u8], ts: u64) -> &'b [u8] {
        let mut cx = self.cx(role, ts);
        cx.me.seen_data = true;
        let mut input = bytes;
        let mut stalls = 0u32;
        while !input.is_empty() && !cx.book.tunnel && cx.book.replay.is_empty() {
            let n = cx.step(input);
            if n == 0 {
                stalls = stalls.saturating_add(1);
                if stalls > MAX_STALLS {
                    debug_assert!(false, "HTTP parser made no progress");
                    // Never expected: drop one byte and look for the next message.
                    let excerpt_len = cx.cfg.excerpt_len;
                    finish_msg(cx.book, cx.me, role, false);
                    cx.me.skip(input.get(..1).unwrap_or_default(), excerpt_len);
                    cx.me.enter_resync(false, false);
                    input = input.get(1..).unwrap_or_default();
                    stalls = 0;
                }
            } else {
                stalls = 0;
            }
            input = input.get(n..).unwrap_or_default();
        }
        if cx.book.tunnel {
            return &[];
        }
        input
    }
}

/// Runs a session over `data`, split into both directions, pieces and gaps as its first bytes
/// say (for fuzzing).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    let Some((seed_bytes, rest)) = data.split_at_checked(8.min(data.len())) else {
        return;
    };
    let mut seed = seed_bytes.iter().fold(0x9e37_79b9_7f4a_7c15u64, |s, &b| {
        (s ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let flags = seed_bytes.first().copied().unwrap_or(0);
    let cfg = HttpConfig {
        decode_bodies: flags & 1 != 0,
        capture_bodies: (flags & 2 != 0).then_some(64),
        max_head: if flags & 4 != 0 { 64 } else { 4096 },
        max_pending: if flags & 8 != 0 { 2 } else { 1024 },
        headers: if flags & 16 != 0 {
            HeaderCapture::None
        } else {
            HeaderCapture::All
        },
        ..HttpConfig::default()
    };
    let mut session = Session::new(Arc::new(cfg));
    let mut input = rest;
    let mut ts = 0u64;
    while !input.is_empty() {
        let r = next();
        let dir = if r & 1 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        ts = ts.saturating_add(r >> 60);
        if (r >> 8) & 31 == 0 {
            session.gap(dir, (r >> 16) & 63, ts);
            continue;
        }
        let len = usize::try_from((r >> 24) % 97).unwrap_or(1).max(1);
        let (piece, tail) = input
            .split_at_checked(len.min(input.len()))
            .unwrap_or((input, &[]));
        session.data(dir, piece, ts);
        input = tail;
        if (r >> 40) & 7 == 0 {
            session.take_transactions().for_each(drop);
        }
    }
    session.end(ts);
    session.take_transactions().for_each(drop);
}
