//! A header block kept for `mail-parser` (the message's own, or a MIME part's), bounded: only
//! the fields that are read are kept, so that `Received:`, `DKIM-Signature:` and the like cost
//! nothing, and the address lists (To, Cc) may fill at most three quarters of the bound, so
//! that a message with thousands of recipients still shows its Subject.
//!
//! Fields are split the way `mail-parser` splits them: a line that starts with a space or a tab
//! continues the field before it; elsewhere leading whitespace is skipped, and a line of
//! whitespace ends the headers for `mail-parser` (what follows is not kept); a field's name is
//! everything before its colon, whitespace left out, in any case. A field (or the rest of one)
//! that does not fit is left out whole, at a line end, and the block is flagged as cut.

use memchr::memchr;

/// Longest field name looked at; longer names are not among the kept ones.
const NAME_MAX: usize = 32;
/// The fields kept (lower case): the ones reported, and the MIME ones.
const KEPT: &[&[u8]] = &[
    b"from",
    b"to",
    b"cc",
    b"reply-to",
    b"subject",
    b"date",
    b"message-id",
    b"in-reply-to",
    b"x-mailer",
    b"user-agent",
    b"content-type",
    b"content-disposition",
    b"content-transfer-encoding",
];
/// Fields that may repeat without limit: their share of the bound is limited.
const LISTS: &[&[u8]] = &[b"to", b"cc"];

/// Where the block is in its current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At the start of a line.
    Start,
    /// Reading a field's name (held in `name` until its colon).
    Name,
    /// In a line that is kept.
    Keep,
    /// In a line that is left out.
    Drop,
    /// After a line of whitespace: `mail-parser` reads no further, nothing more is kept.
    Closed,
}

/// The field the current line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// None yet, or a line that was no field: whitespace before a name is skipped.
    None,
    Kept,
    Dropped,
}

/// One header block in progress.
#[derive(Debug)]
pub(crate) struct HeadBlock {
    buf: Vec<u8>,
    max: usize,
    line: Line,
    field: Field,
    /// The current field is an address list.
    list: bool,
    /// Bytes of address lists kept.
    list_bytes: usize,
    /// The start of the current line, as received, while its name is read.
    name: [u8; NAME_MAX],
    name_len: usize,
    /// Where the current line starts in `buf`.
    line_start: usize,
    /// The last line that ended was kept: `buf` ends with its line break.
    last_kept: bool,
    /// Something was left out for lack of room.
    cut: bool,
}

impl HeadBlock {
    /// An empty block of at most `max` bytes.
    pub(crate) fn new(max: usize) -> HeadBlock {
        HeadBlock {
            buf: Vec::new(),
            max,
            line: Line::Start,
            field: Field::None,
            list: false,
            list_bytes: 0,
            name: [0; NAME_MAX],
            name_len: 0,
            line_start: 0,
            last_kept: false,
            cut: false,
        }
    }

    /// Empties the block for the next one (keeping its allocation).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.line = Line::Start;
        self.field = Field::None;
        self.list = false;
        self.list_bytes = 0;
        self.name_len = 0;
        self.line_start = 0;
        self.last_kept = false;
        self.cut = false;
    }

    /// The block's next bytes (never its blank line).
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        while let Some(&first) = bytes.first() {
            let used = match self.line {
                Line::Start => {
                    if matches!(first, b' ' | b'\t') && self.field != Field::None {
                        // A continuation line.
                        self.line_start = self.buf.len();
                        self.line = if self.field == Field::Kept {
                            Line::Keep
                        } else {
                            Line::Drop
                        };
                        0
                    } else if first == b'\n' {
                        // A line of whitespace: the end of the headers for `mail-parser`.
                        self.last_kept = false;
                        self.line = Line::Closed;
                        1
                    } else if first.is_ascii_whitespace() {
                        // Whitespace before a name: skipped.
                        self.field = Field::None;
                        1
                    } else {
                        self.line = Line::Name;
                        self.name_len = 0;
                        0
                    }
                }
                Line::Name => self.name_bytes(bytes),
                Line::Keep => {
                    let (line, ends) = match memchr(b'\n', bytes) {
                        Some(at) => (bytes.get(..=at).unwrap_or_default(), true),
                        None => (bytes, false),
                    };
                    self.keep(line);
                    if ends {
                        self.end_line();
                    }
                    line.len()
                }
                Line::Drop => match memchr(b'\n', bytes) {
                    Some(at) => {
                        self.end_line();
                        at.saturating_add(1)
                    }
                    None => bytes.len(),
                },
                Line::Closed => bytes.len(),
            };
            bytes = bytes.get(used..).unwrap_or_default();
        }
    }

    /// Reads a field's name up to its colon; returns the bytes used.
    fn name_bytes(&mut self, bytes: &[u8]) -> usize {
        for (at, &byte) in bytes.iter().enumerate() {
            if byte == b'\n' {
                // No colon: not a field (skipped, as `mail-parser` does).
                self.field = Field::None;
                self.end_line();
                return at.saturating_add(1);
            }
            let Some(slot) = self.name.get_mut(self.name_len) else {
                // Too long for a kept name.
                self.field = Field::Dropped;
                self.line = Line::Drop;
                return at;
            };
            *slot = byte;
            self.name_len = self.name_len.saturating_add(1);
            if byte == b':' {
                let name = self.name.get(..self.name_len).unwrap_or_default();
                let (kept, list) = classify(name);
                self.line_start = self.buf.len();
                if kept {
                    self.field = Field::Kept;
                    self.list = list;
                    self.line = Line::Keep;
                    let held = self.name;
                    self.keep(held.get(..self.name_len).unwrap_or_default());
                } else {
                    self.field = Field::Dropped;
                    self.line = Line::Drop;
                }
                return at.saturating_add(1);
            }
        }
        bytes.len()
    }

    /// Adds bytes of a kept line, or leaves the rest of the field out if they do not fit.
    fn keep(&mut self, bytes: &[u8]) {
        if self.line != Line::Keep {
            return;
        }
        let line = self.buf.len().saturating_sub(self.line_start);
        let total = self.buf.len().saturating_add(bytes.len());
        let list_total = self
            .list_bytes
            .saturating_add(line)
            .saturating_add(bytes.len());
        let share = self.max / 4 * 3;
        if total > self.max || (self.list && list_total > share) {
            self.buf.truncate(self.line_start);
            self.cut = true;
            self.field = Field::Dropped;
            self.line = Line::Drop;
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// A line feed ended the current line.
    fn end_line(&mut self) {
        self.last_kept = self.line == Line::Keep;
        if self.last_kept && self.list {
            let line = self.buf.len().saturating_sub(self.line_start);
            self.list_bytes = self.list_bytes.saturating_add(line);
        }
        self.line = Line::Start;
    }

    /// The block ends at a delimiter, whose preceding line break is not the block's: it is
    /// taken off the last line if that line was kept.
    pub(crate) fn strip_last_break(&mut self) {
        if self.line == Line::Start && self.last_kept && self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
    }

    /// Adds the blank line that ends a message's header block.
    pub(crate) fn push_blank(&mut self, blank: &[u8]) {
        self.buf.extend_from_slice(blank);
    }

    /// The kept bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Something was left out for lack of room.
    pub(crate) fn was_cut(&self) -> bool {
        self.cut
    }

    /// Capacity held, for the memory tests.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

/// Whether a field whose line starts with `name` (colon included) is kept, and whether it is
/// an address list.
fn classify(name: &[u8]) -> (bool, bool) {
    let mut lower = [0u8; NAME_MAX];
    let mut len = 0usize;
    for &byte in name.strip_suffix(b":").unwrap_or(name) {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if let Some(slot) = lower.get_mut(len) {
            *slot = byte.to_ascii_lowercase();
            len = len.saturating_add(1);
        }
    }
    let name = lower.get(..len).unwrap_or_default();
    (KEPT.contains(&name), LISTS.contains(&name))
}
