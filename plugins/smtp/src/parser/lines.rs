//! Splitting one direction's byte stream into bounded lines, across arbitrary piece boundaries.

use memchr::memchr;

/// Where the next complete line is, after [`LineReader::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// No complete line yet (the bytes were buffered or skipped).
    Nothing,
    /// A complete line lies at the start of the input: `input[..len]`, line feed excluded. When
    /// `overlong`, the line was longer than the limit and `len` is the limit.
    Input { len: usize, overlong: bool },
    /// A complete line is in [`LineReader::take`]'s buffer (it began in an earlier piece).
    /// When `overlong`, the buffer holds only the line's first `max` bytes.
    Buffer { overlong: bool },
}

/// Buffers at most one partial line; complete lines inside a piece are returned in place, so the
/// common case copies nothing. Its `Debug` shows no bytes: a partial line may be a credential.
#[derive(Default)]
pub(crate) struct LineReader {
    buf: Vec<u8>,
    /// The buffered line already exceeded the limit: the rest of it is being dropped.
    overflow: bool,
    /// Line sync was lost (a gap): drop bytes up to the next line feed.
    skipping: bool,
    /// Set by a gap: the next piece may start exactly at a line (a lost segment usually ends
    /// where a write ended), which the caller may check before skipping.
    check_next: bool,
}

impl std::fmt::Debug for LineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineReader")
            .field("buffered", &self.buf.len())
            .field("overflow", &self.overflow)
            .field("skipping", &self.skipping)
            .finish()
    }
}

impl LineReader {
    /// Consumes bytes from `input` up to and including the first line feed (or all of it) and
    /// says whether a line is complete. Returns the number of bytes consumed (at least one when
    /// `input` is not empty).
    pub(crate) fn feed(&mut self, input: &[u8], max: usize) -> (usize, Found) {
        self.check_next = false;
        let newline = memchr(b'\n', input);
        if self.skipping {
            return match newline {
                Some(at) => {
                    self.skipping = false;
                    (at.saturating_add(1), Found::Nothing)
                }
                None => (input.len(), Found::Nothing),
            };
        }
        match newline {
            Some(at) => {
                let used = at.saturating_add(1);
                let head = input.get(..at).unwrap_or_default();
                if self.buf.is_empty() && !self.overflow {
                    let overlong = at > max;
                    let len = if overlong { max } else { at };
                    return (used, Found::Input { len, overlong });
                }
                let overlong = self.overflow || self.buf.len().saturating_add(at) > max;
                self.push_bounded(head, max);
                self.overflow = false;
                (used, Found::Buffer { overlong })
            }
            None => {
                if self.buf.len().saturating_add(input.len()) > max {
                    self.overflow = true;
                }
                self.push_bounded(input, max);
                (input.len(), Found::Nothing)
            }
        }
    }

    fn push_bounded(&mut self, bytes: &[u8], max: usize) {
        let room = max.saturating_sub(self.buf.len());
        let take = bytes.len().min(room);
        self.buf
            .extend_from_slice(bytes.get(..take).unwrap_or_default());
    }

    /// Takes the buffered line out (to be handed back with [`LineReader::restore`], which keeps
    /// the allocation).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Gives back the buffer taken by [`LineReader::take`], emptied.
    pub(crate) fn restore(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if self.buf.is_empty() {
            self.buf = buf;
        }
    }

    /// The partial line buffered at the end of the stream, if any (taken out).
    pub(crate) fn take_partial(&mut self) -> Option<Vec<u8>> {
        if self.skipping || self.buf.is_empty() {
            return None;
        }
        self.overflow = false;
        Some(self.take())
    }

    /// True when the reader sits exactly at the start of a line.
    pub(crate) fn at_line_start(&self) -> bool {
        self.buf.is_empty() && !self.skipping && !self.overflow
    }

    /// True once per gap: the caller may look whether the next piece starts a line.
    pub(crate) fn wants_check(&self) -> bool {
        self.skipping && self.check_next
    }

    /// Bytes were lost: drop any partial line and skip to the next line feed.
    pub(crate) fn lose_sync(&mut self) {
        self.buf.clear();
        self.overflow = false;
        self.skipping = true;
        self.check_next = true;
    }

    /// The caller knows the next byte starts a line (the peer took its turn, or the bytes after a
    /// gap look like a line start): stop skipping.
    pub(crate) fn resync_here(&mut self) {
        if self.skipping {
            self.skipping = false;
            self.check_next = false;
            self.buf.clear();
            self.overflow = false;
        }
    }

    /// Drops a partial line (known to be garbage) without skipping anything after it.
    pub(crate) fn discard_partial(&mut self) {
        self.buf.clear();
        self.overflow = false;
    }

    /// Capacity kept between lines (for tests of the no-allocation steady state).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}
