//! Streaming MIME: a message's content goes through [`MimeStream`] piece by piece, cut
//! anywhere, and nothing proportional to the message stays in memory.
//!
//! * The message's header block is kept (its fields that are read, up to `max_header_block`
//!   bytes: see [`head`]) and read by `mail-parser` when the blank line ending it arrives:
//!   that gives the reported header fields and the top-level Content-Type.
//! * In a multipart, delimiter lines are recognised on the fly (see [`boundary`]); the line
//!   break before a possible delimiter is held back, since it belongs to the delimiter.
//! * Each part's header block is kept (bounded the same way) and read when it ends: a nested
//!   multipart opens a level, an attachment gets a decoder and a hash (see [`parts`]), any
//!   other body goes by without being looked at beyond its line starts.
//!
//! The parts found are the ones a parser of the whole message would find (the earlier
//! implementation of this crate kept the message and walked it at its end; the tests check
//! that the results match): an attachment's size and hash cover its body between the blank
//! line after its headers and the line break before the next delimiter.
//!
//! [`boundary`]: super::boundary
//! [`head`]: super::head
//! [`parts`]: super::parts

use std::sync::LazyLock;

use memchr::memchr;
use memchr::memmem::Finder;

use super::boundary::{Levels, Probe, Verdict};
use super::head::HeadBlock;
use super::mime::Fields;
use super::parts::{self, Leaf, Plan, MAX_ATTACHMENTS, MAX_PARTS};
use super::record::Attachment;

/// Finds line starts that may begin a delimiter.
static DASH_LINE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n-"));

/// Where the stream is in the MIME structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a header block: the message's own (`top`) or a part's.
    Head { top: bool },
    /// A body: an attachment's (when `leaf` is set) or one that is dropped (text bodies,
    /// preambles, epilogues); delimiter lines of the open levels are watched for.
    Body,
    /// After a delimiter that opens a part: up to the end of its line.
    DelimiterLine,
    /// Nothing more to look at.
    Done,
}

/// The end of the previous line, held back from a body while the next line may be a
/// delimiter (the break before a delimiter belongs to it, not to the part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Nothing,
    /// A CR ended the last piece (a CRLF may be coming).
    Cr,
    Lf,
    CrLf,
}

impl Held {
    fn bytes(self) -> &'static [u8] {
        match self {
            Held::Nothing => b"",
            Held::Cr => b"\r",
            Held::Lf => b"\n",
            Held::CrLf => b"\r\n",
        }
    }
}

/// What the stream found, once the message is over.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The message's header fields (`None` when it had no header).
    pub(crate) fields: Option<Fields>,
    /// The attachments, in order.
    pub(crate) attachments: Vec<Attachment>,
    /// A header block was longer than its bound, or a boundary too long to follow.
    pub(crate) cut: bool,
}

/// The MIME state of one message in progress. Holds at most one header block, the stack of
/// boundaries, one probed line start and one attachment decoder.
pub(crate) struct MimeStream {
    phase: Phase,
    /// The header block being read.
    head: HeadBlock,
    /// In a header block, the line began with a CR: a blank line if a line feed follows.
    head_cr: bool,
    levels: Levels,
    probe: Probe,
    /// The next byte starts a line.
    at_start: bool,
    held: Held,
    /// The attachment being decoded, in `Phase::Body`.
    leaf: Option<Box<Leaf>>,
    /// Content bytes read so far: during a step, the offset of the first byte it is given.
    pos: u64,
    /// The offset of the first gap: an entity gets a hash only if it ends before it.
    intact: Option<u64>,
    /// Where the probed line starts.
    probe_start: u64,
    /// The length of the line break before the current line (1 or 2).
    line_break: u8,
    /// In a header block, the last byte read was a CR.
    prev_cr: bool,
    /// Entities looked at, the message itself included.
    entities: usize,
    parsed: Parsed,
}

impl std::fmt::Debug for MimeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MimeStream")
            .field("phase", &self.phase)
            .field("head", &self.head.bytes().len())
            .field("levels", &self.levels.len())
            .field("attachments", &self.parsed.attachments.len())
            .finish()
    }
}

impl MimeStream {
    /// A stream at the start of a message; header blocks are kept up to `max_head` bytes.
    pub(crate) fn new(max_head: usize) -> MimeStream {
        MimeStream {
            phase: Phase::Head { top: true },
            head: HeadBlock::new(max_head),
            head_cr: false,
            levels: Levels::default(),
            probe: Probe::default(),
            at_start: true,
            held: Held::Nothing,
            leaf: None,
            pos: 0,
            intact: None,
            probe_start: 0,
            line_break: 1,
            prev_cr: false,
            entities: 1,
            parsed: Parsed::default(),
        }
    }

    /// The next content bytes (after dot-unstuffing).
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        let mut stalls = 0u8;
        while !rest.is_empty() {
            let used = match self.phase {
                Phase::Head { top } => self.head_bytes(rest, top),
                Phase::Body => self.body_bytes(rest),
                Phase::DelimiterLine => match memchr(b'\n', rest) {
                    Some(at) => {
                        self.start_part();
                        at.saturating_add(1)
                    }
                    None => rest.len(),
                },
                Phase::Done => rest.len(),
            };
            if used == 0 {
                // A step that consumes nothing changes state; this guards the loop anyway.
                stalls = stalls.saturating_add(1);
                if stalls > 3 {
                    break;
                }
            } else {
                stalls = 0;
            }
            self.pos = self.pos.saturating_add(used as u64);
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    /// Content bytes were lost. What follows is read as if it came right after what came
    /// before; an entity that does not end before the first gap gets no hash.
    pub(crate) fn gap(&mut self) {
        self.intact.get_or_insert(self.pos);
    }

    /// The message is over; `complete` says it was seen whole (its end, and no gap).
    pub(crate) fn finish(mut self, complete: bool) -> Parsed {
        if self.probe.is_active() {
            match self.probe.message_end(&self.levels) {
                Some(level) => self.delimiter(level, true, false),
                None => self.release_probe(),
            }
        }
        match self.phase {
            Phase::Head { top } => {
                if self.head_cr {
                    self.keep_head(b"\r");
                }
                // The entity runs to the end of the message.
                self.end_entity_in_head(top, complete);
            }
            Phase::Body => {
                // The last part runs to the end of the message, its last line break included.
                self.flush_held();
                if let Some(leaf) = self.leaf.take() {
                    self.parsed.attachments.push(leaf.finish(complete));
                }
            }
            Phase::DelimiterLine | Phase::Done => {}
        }
        self.parsed
    }

    // ---- header blocks ---------------------------------------------------------------------

    fn head_bytes(&mut self, rest: &[u8], top: bool) -> usize {
        if self.probe.is_active() {
            return self.probe_bytes(rest);
        }
        let Some(&first) = rest.first() else {
            return 0;
        };
        if self.at_start {
            if self.head_cr {
                self.head_cr = false;
                if first == b'\n' {
                    self.line_break = 2;
                    self.end_head(top, b"\r\n");
                    return 1;
                }
                // A line that starts with CR: an ordinary header line.
                self.keep_head(b"\r");
                self.prev_cr = true;
                self.at_start = false;
            } else if first == b'\n' {
                self.line_break = 1;
                self.end_head(top, b"\n");
                return 1;
            } else if first == b'\r' {
                self.head_cr = true;
                return 1;
            } else if first == b'-' && !self.levels.is_empty() {
                self.start_probe();
                return self.probe_bytes(rest);
            } else {
                self.at_start = false;
            }
        }
        match memchr(b'\n', rest) {
            Some(at) => {
                let used = at.saturating_add(1);
                let cr = match at.checked_sub(1) {
                    Some(before) => rest.get(before) == Some(&b'\r'),
                    None => self.prev_cr,
                };
                self.line_break = if cr { 2 } else { 1 };
                self.keep_head(rest.get(..used).unwrap_or_default());
                self.prev_cr = false;
                self.at_start = true;
                used
            }
            None => {
                self.keep_head(rest);
                self.prev_cr = rest.last() == Some(&b'\r');
                rest.len()
            }
        }
    }

    /// Adds header bytes (the block keeps what it reads, up to its bound).
    fn keep_head(&mut self, bytes: &[u8]) {
        self.head.push(bytes);
    }

    /// The blank line ending a header block: its body starts.
    fn end_head(&mut self, top: bool, blank: &[u8]) {
        if top {
            // The message's headers are read as a message without a body.
            self.head.push_blank(blank);
        }
        let plan = self.read_head(top);
        self.at_start = true;
        self.held = Held::Nothing;
        self.phase = Phase::Body;
        match plan {
            Plan::Multipart(boundary) => self.levels.push(&boundary),
            Plan::Attachment(leaf) => self.leaf = Some(leaf),
            Plan::Ignore => {
                if self.levels.is_empty() {
                    self.phase = Phase::Done;
                }
            }
        }
    }

    /// The entity ends inside its header block (a delimiter, or the end of the message): it
    /// has an empty body. `whole`: its bytes were seen exactly.
    fn end_entity_in_head(&mut self, top: bool, whole: bool) {
        if let Plan::Attachment(leaf) = self.read_head(top) {
            self.parsed.attachments.push(leaf.finish(whole));
        }
        self.phase = Phase::Done;
    }

    /// Reads the header block kept.
    fn read_head(&mut self, top: bool) -> Plan {
        if self.head.was_cut() {
            self.parsed.cut = true;
        }
        let planned = parts::plan(self.head.bytes(), top, self.levels.len());
        self.head.clear();
        self.head_cr = false;
        if planned.boundary_too_long {
            self.parsed.cut = true;
        }
        if top {
            self.parsed.fields = planned.fields;
        }
        planned.plan
    }

    // ---- bodies ----------------------------------------------------------------------------

    fn body_bytes(&mut self, rest: &[u8]) -> usize {
        if self.levels.is_empty() {
            // The message's own body, an attachment: no delimiter can come.
            self.emit(rest);
            return rest.len();
        }
        if self.probe.is_active() {
            return self.probe_bytes(rest);
        }
        let Some(&first) = rest.first() else {
            return 0;
        };
        if self.at_start {
            if first == b'-' {
                self.start_probe();
                return self.probe_bytes(rest);
            }
            self.flush_held();
            self.at_start = false;
        }
        if self.held == Held::Cr {
            if first == b'\n' {
                self.held = Held::CrLf;
                self.line_break = 2;
                self.at_start = true;
                return 1;
            }
            self.flush_held();
        }
        match DASH_LINE.find(rest) {
            Some(at) => {
                let line = rest.get(..at).unwrap_or_default();
                match line.strip_suffix(b"\r") {
                    Some(text) => {
                        self.emit(text);
                        self.held = Held::CrLf;
                        self.line_break = 2;
                    }
                    None => {
                        self.emit(line);
                        self.held = Held::Lf;
                        self.line_break = 1;
                    }
                }
                self.at_start = true;
                at.saturating_add(1)
            }
            None => {
                let (text, held) = if let Some(text) = rest.strip_suffix(b"\r\n") {
                    (text, Held::CrLf)
                } else if let Some(text) = rest.strip_suffix(b"\n") {
                    (text, Held::Lf)
                } else if let Some(text) = rest.strip_suffix(b"\r") {
                    (text, Held::Cr)
                } else {
                    (rest, Held::Nothing)
                };
                self.emit(text);
                self.held = held;
                self.line_break = if held == Held::CrLf { 2 } else { 1 };
                self.at_start = matches!(held, Held::Lf | Held::CrLf);
                rest.len()
            }
        }
    }

    /// Body bytes: into the attachment's decoder, if this body is an attachment's.
    fn emit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(leaf) = self.leaf.as_mut() {
            leaf.feed(bytes);
        }
    }

    /// The held line break turned out to be content.
    fn flush_held(&mut self) {
        let held = std::mem::replace(&mut self.held, Held::Nothing);
        self.emit(held.bytes());
    }

    // ---- delimiters ------------------------------------------------------------------------

    /// Feeds the probed line; returns the bytes used.
    fn probe_bytes(&mut self, rest: &[u8]) -> usize {
        for (at, &byte) in rest.iter().enumerate() {
            let verdict = if byte == b'\n' {
                match self.probe.line_end(&self.levels) {
                    Verdict::Delimiter { level, close } => {
                        self.delimiter(level, close, true);
                        return at.saturating_add(1);
                    }
                    // The line feed is read again as part of an ordinary line.
                    _ => {
                        self.release_probe();
                        return at;
                    }
                }
            } else {
                self.probe.push(byte, &self.levels)
            };
            match verdict {
                Verdict::More => {}
                Verdict::Plain => {
                    self.release_probe();
                    return at.saturating_add(1);
                }
                Verdict::Delimiter { level, close } => {
                    self.delimiter(level, close, false);
                    return at.saturating_add(1);
                }
            }
        }
        rest.len()
    }

    /// The probed line is an ordinary line: its held bytes are content after all.
    fn release_probe(&mut self) {
        let mut bytes = std::mem::take(&mut self.probe);
        match self.phase {
            Phase::Head { .. } => {
                self.keep_head(bytes.bytes());
                self.prev_cr = bytes.bytes().last() == Some(&b'\r');
            }
            _ => {
                self.flush_held();
                let line = bytes.bytes();
                match line.strip_suffix(b"\r") {
                    Some(text) => {
                        self.emit(text);
                        self.held = Held::Cr;
                    }
                    None => self.emit(line),
                }
            }
        }
        bytes.clear();
        self.probe = bytes;
        self.at_start = false;
    }

    /// A delimiter line of `level`: the entity in progress ends, inner levels close, and a new
    /// part begins (after the rest of the line) unless `close`. `line_over`: its line feed was
    /// read.
    fn delimiter(&mut self, level: usize, close: bool, line_over: bool) {
        self.probe.clear();
        self.held = Held::Nothing;
        // The entity ends before the line break that precedes the delimiter: it is whole if
        // that is before the first gap (as when the message was walked whole at its end).
        let end = self.probe_start.saturating_sub(u64::from(self.line_break));
        let whole = self.intact.is_none_or(|intact| end < intact);
        match self.phase {
            Phase::Head { top } => {
                // The line break before the delimiter is not the entity's.
                self.head.strip_last_break();
                self.end_entity_in_head(top, whole);
            }
            Phase::Body => {
                if let Some(leaf) = self.leaf.take() {
                    self.parsed.attachments.push(leaf.finish(whole));
                }
            }
            Phase::DelimiterLine | Phase::Done => {}
        }
        self.levels.truncate(level.saturating_add(1));
        if close {
            self.levels.truncate(level);
            self.phase = if self.levels.is_empty() {
                Phase::Done
            } else {
                Phase::Body
            };
            self.at_start = line_over;
        } else if line_over {
            self.start_part();
        } else {
            self.phase = Phase::DelimiterLine;
        }
    }

    /// A line starting with `-` may be a delimiter: it is held back until known.
    fn start_probe(&mut self) {
        self.probe.start(&self.levels);
        self.probe_start = self.pos;
    }

    /// A part begins: its header block comes next.
    fn start_part(&mut self) {
        self.entities = self.entities.saturating_add(1);
        self.head.clear();
        self.head_cr = false;
        self.at_start = true;
        self.held = Held::Nothing;
        self.line_break = 1;
        self.prev_cr = false;
        self.phase =
            if self.entities > MAX_PARTS || self.parsed.attachments.len() >= MAX_ATTACHMENTS {
                // Past the bounds on work: the part is dropped up to the next delimiter.
                Phase::Body
            } else {
                Phase::Head { top: false }
            };
    }

    /// Bytes held for this message, whatever its size: for the memory tests.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.head.held_bytes()
            + self.levels.held_bytes()
            + self.probe.held_bytes()
            + self.leaf.as_ref().map_or(0, |leaf| leaf.held_bytes())
            + self.parsed.attachments.capacity() * std::mem::size_of::<Attachment>()
    }
}
