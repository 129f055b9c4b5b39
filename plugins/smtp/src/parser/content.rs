//! Message content: the DATA scanner (end marker and dot-unstuffing, RFC 5321 §4.5.2) and the
//! accumulator that counts each message, hashes it (when asked), streams it through the MIME
//! parser and keeps a bounded copy of it only when extraction is on.

use memchr::memmem::Finder;
use sha2::{Digest, Sha256};

use super::config::SmtpConfig;
use super::stream::{MimeStream, Parsed};

/// Counts, hashes and parses the bytes of one message as they arrive; keeps a copy (up to
/// `max_extract`) only for extraction. Its `Debug` shows sizes, not the message.
pub(crate) struct Content {
    /// The message's SHA-256, when `hash_messages` is on.
    hasher: Option<Sha256>,
    /// Headers and attachments, when `parse_mime` is on.
    mime: Option<MimeStream>,
    /// The copy for extraction, when `extract` is on.
    copy: Option<Vec<u8>>,
    max_extract: usize,
    /// Content bytes after unstuffing.
    pub(crate) size: u64,
    /// Content bytes as sent (dot-stuffed), terminator excluded.
    pub(crate) wire_size: u64,
    /// Content bytes lost in gaps.
    pub(crate) gap_bytes: u64,
    /// Some content was lost (even an unknown amount).
    had_gap: bool,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("mime", &self.mime)
            .field("copy", &self.copy.as_ref().map(Vec::len))
            .field("size", &self.size)
            .field("wire_size", &self.wire_size)
            .field("gap_bytes", &self.gap_bytes)
            .finish()
    }
}

/// A message's content once it is over.
#[derive(Debug)]
pub(crate) struct Finished {
    /// SHA-256 of every captured byte (after unstuffing), when `hash_messages` is on.
    pub(crate) sha256: Option<[u8; 32]>,
    /// What the MIME parser found, when `parse_mime` is on.
    pub(crate) mime: Option<Parsed>,
    /// The first `max_extract` bytes, when `extract` is on.
    pub(crate) copy: Option<Vec<u8>>,
}

impl Content {
    /// Starts a message.
    pub(crate) fn new(config: &SmtpConfig) -> Content {
        Content {
            hasher: config.hash_messages.then(Sha256::new),
            mime: config
                .parse_mime
                .then(|| MimeStream::new(config.max_header_block)),
            copy: config.extract.then(Vec::new),
            max_extract: config.max_extract,
            size: 0,
            wire_size: 0,
            gap_bytes: 0,
            had_gap: false,
        }
    }

    /// Adds message bytes (already unstuffed).
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.size = self.size.saturating_add(bytes.len() as u64);
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(bytes);
        }
        if let Some(mime) = self.mime.as_mut() {
            mime.feed(bytes);
        }
        if let Some(copy) = self.copy.as_mut() {
            let room = self.max_extract.saturating_sub(copy.len());
            copy.extend_from_slice(bytes.get(..bytes.len().min(room)).unwrap_or_default());
        }
    }

    /// Counts bytes that were on the wire.
    pub(crate) fn add_wire(&mut self, count: usize) {
        self.wire_size = self.wire_size.saturating_add(count as u64);
    }

    /// `len` content bytes were never captured (0 when the amount is unknown).
    pub(crate) fn gap(&mut self, len: u64) {
        self.gap_bytes = self.gap_bytes.saturating_add(len);
        self.had_gap = true;
        if let Some(mime) = self.mime.as_mut() {
            mime.gap();
        }
    }

    /// True once any content was lost (even an unknown amount).
    pub(crate) fn had_gap(&self) -> bool {
        self.had_gap
    }

    /// Ends the message; `complete` says its end was seen.
    pub(crate) fn finish(self, complete: bool) -> Finished {
        let whole = complete && !self.had_gap;
        Finished {
            sha256: self.hasher.map(|hasher| hasher.finalize().into()),
            mime: self.mime.map(|mime| mime.finish(whole)),
            copy: self.copy,
        }
    }

    /// Bytes held for this message besides the extraction copy: bounded whatever its size.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.mime.as_ref().map_or(0, MimeStream::held_bytes)
    }
}

/// What the DATA scanner holds back at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Nothing held back.
    Nothing,
    /// A line began with `.` (held back: it is either stuffing or the terminator).
    Dot,
    /// A line began with `.` and `\r` (held back).
    DotCr,
}

/// Finds the end of DATA content (a line holding only `.`) and removes dot-stuffing, scanning
/// with `memmem` for `\n.` so that ordinary lines cost nothing per byte here.
///
/// Lines end at LF (a preceding CR stays part of the content); the terminator is `.` followed by
/// CRLF or a bare LF. Any piece boundary is fine: the held-back dot is the only state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DotScanner {
    line_start: bool,
    dot: Held,
}

impl DotScanner {
    /// A scanner at the beginning of the content (which is a line start).
    pub(crate) fn new() -> DotScanner {
        DotScanner {
            line_start: true,
            dot: Held::Nothing,
        }
    }

    /// Feeds content bytes. Returns `Some(n)` when the terminator ended within the first `n`
    /// bytes of `bytes` (the rest belongs to the command stream), `None` when all of `bytes`
    /// was content.
    pub(crate) fn scan(
        &mut self,
        bytes: &[u8],
        finder: &Finder<'_>,
        content: &mut Content,
    ) -> Option<usize> {
        let mut at = 0usize;
        while let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) {
            if self.line_start {
                let Some(&first) = rest.first() else { break };
                match (self.dot, first) {
                    (Held::Nothing, b'.') => {
                        self.dot = Held::Dot;
                        at = at.saturating_add(1);
                        continue;
                    }
                    (Held::Nothing, _) => self.line_start = false,
                    (Held::Dot | Held::DotCr, b'\n') => {
                        *self = DotScanner::new();
                        return Some(at.saturating_add(1));
                    }
                    (Held::Dot, b'\r') => {
                        self.dot = Held::DotCr;
                        at = at.saturating_add(1);
                        continue;
                    }
                    (Held::Dot, _) => {
                        // A stuffed dot: on the wire, not in the message.
                        content.add_wire(1);
                        self.dot = Held::Nothing;
                        self.line_start = false;
                    }
                    (Held::DotCr, _) => {
                        // `.` `\r` then more text: the dot was stuffing, the CR is content.
                        content.add_wire(2);
                        content.push(b"\r");
                        self.dot = Held::Nothing;
                        self.line_start = false;
                    }
                }
            }
            // Inside a line: everything up to the next line that starts with a dot is content.
            match finder.find(rest) {
                Some(found) => {
                    let end = found.saturating_add(1);
                    let run = rest.get(..end).unwrap_or_default();
                    content.push(run);
                    content.add_wire(run.len());
                    at = at.saturating_add(end);
                    self.line_start = true;
                }
                None => {
                    content.push(rest);
                    content.add_wire(rest.len());
                    self.line_start = rest.last() == Some(&b'\n');
                    at = bytes.len();
                }
            }
        }
        None
    }

    /// True when the next byte starts a line and nothing is held back.
    pub(crate) fn at_line_start(&self) -> bool {
        self.line_start && self.dot == Held::Nothing
    }

    /// Content bytes were lost: whatever line state there was is unknown now, so the next
    /// terminator must be preceded by a line feed seen after the gap.
    pub(crate) fn gap(&mut self) {
        self.line_start = false;
        self.dot = Held::Nothing;
    }
}

/// Lower-case hex of a digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digest.len().saturating_mul(2));
    for &byte in digest {
        for nibble in [byte >> 4, byte & 0x0f] {
            if let Some(&digit) = DIGITS.get(usize::from(nibble)) {
                out.push(char::from(digit));
            }
        }
    }
    out
}
