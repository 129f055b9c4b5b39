//! Multipart delimiter lines (RFC 2046 §5.1.1) recognised on the fly: the stack of open
//! multipart boundaries, and the [`Probe`] that holds back the start of a line beginning with
//! `-` until it is known whether the line is a delimiter, whatever the piece boundaries.
//!
//! A delimiter line starts (after a line feed) with `--boundary` followed by `--`, a space, a
//! tab, a CR, the line feed or the end of the message (so that `--abc` does not match inside
//! `--abcdef`); `--boundary--` closes its multipart. An outer boundary wins over an inner one
//! when a line matches both (the outer multipart's parts are delimited first).

/// Deepest multipart nesting followed.
pub(crate) const MAX_DEPTH: usize = 16;
/// Longest boundary followed, in bytes (RFC 2046 allows 70); a longer one is not followed and
/// flags the message `message_truncated_for_parsing`.
pub(crate) const MAX_BOUNDARY: usize = 256;

/// The boundaries of the open multiparts, outermost first (at most [`MAX_DEPTH`]).
#[derive(Debug, Default)]
pub(crate) struct Levels {
    /// `--` and the boundary, per level.
    delimiters: Vec<Vec<u8>>,
}

impl Levels {
    /// Opens a multipart level. The caller checks [`MAX_DEPTH`] and [`MAX_BOUNDARY`]; this
    /// only refuses beyond them.
    pub(crate) fn push(&mut self, boundary: &[u8]) {
        if self.delimiters.len() < MAX_DEPTH && boundary.len() <= MAX_BOUNDARY {
            let mut delimiter = Vec::with_capacity(boundary.len().saturating_add(2));
            delimiter.extend_from_slice(b"--");
            delimiter.extend_from_slice(boundary);
            self.delimiters.push(delimiter);
        }
    }

    /// Open levels.
    pub(crate) fn len(&self) -> usize {
        self.delimiters.len()
    }

    /// No multipart is open: no delimiter can come.
    pub(crate) fn is_empty(&self) -> bool {
        self.delimiters.is_empty()
    }

    /// Closes every level from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.delimiters.truncate(len);
    }

    /// Bytes held, for the memory tests.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.delimiters.iter().map(Vec::capacity).sum()
    }
}

/// What the probed line turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not known yet: more bytes of the line are needed.
    More,
    /// An ordinary line: the held bytes are content.
    Plain,
    /// A delimiter of `level` (0 = outermost); `close` for `--boundary--`.
    Delimiter { level: usize, close: bool },
}

/// How a line compares with one delimiter, given that the line's bytes so far match the
/// delimiter's prefix (and the byte after it, if any, is allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// Needs more bytes.
    Pending,
    /// A delimiter that opens the next part.
    Open,
    /// The closing delimiter.
    Close,
}

/// The start of a line that may be a delimiter, held back until [`Probe::push`] or
/// [`Probe::line_end`] says what it is. At most [`MAX_BOUNDARY`] + 4 bytes.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    bytes: Vec<u8>,
    /// Levels whose delimiter the line may still be (bit per level).
    candidates: u32,
    active: bool,
}

impl Probe {
    /// Starts probing a line (its first byte comes with the next `push`).
    pub(crate) fn start(&mut self, levels: &Levels) {
        self.bytes.clear();
        self.candidates = 1u32
            .checked_shl(u32::try_from(levels.len()).unwrap_or(u32::MAX))
            .map_or(u32::MAX, |bit| bit.wrapping_sub(1));
        self.active = true;
    }

    /// A line is being probed.
    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// The bytes held back.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Stops probing (the held bytes were dealt with).
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.candidates = 0;
        self.active = false;
    }

    /// Adds the line's next byte (not its line feed) and says what the line is now known to be.
    pub(crate) fn push(&mut self, byte: u8, levels: &Levels) -> Verdict {
        let at = self.bytes.len();
        self.bytes.push(byte);
        for (level, delimiter) in levels.delimiters.iter().enumerate() {
            let bit = 1u32.checked_shl(level as u32).unwrap_or(0);
            if self.candidates & bit == 0 {
                continue;
            }
            let fits = match delimiter.get(at) {
                Some(&expected) => expected == byte,
                None => at > delimiter.len() || matches!(byte, b'-' | b'\r' | b' ' | b'\t'),
            };
            if !fits {
                self.candidates &= !bit;
            }
        }
        match self.first_candidate(levels) {
            None => Verdict::Plain,
            Some((level, Match::Open)) => Verdict::Delimiter {
                level,
                close: false,
            },
            Some((level, Match::Close)) => Verdict::Delimiter { level, close: true },
            Some((_, Match::Pending)) => Verdict::More,
        }
    }

    /// The line ended (a line feed) right after the bytes held: a delimiter or not.
    pub(crate) fn line_end(&self, levels: &Levels) -> Verdict {
        for (level, delimiter) in self.alive(levels) {
            match self.compare(delimiter) {
                Match::Open => {
                    return Verdict::Delimiter {
                        level,
                        close: false,
                    }
                }
                Match::Close => return Verdict::Delimiter { level, close: true },
                // `--boundary` or `--boundary-` then the line feed: a delimiter that opens a
                // part; shorter, it is no delimiter.
                Match::Pending if self.bytes.len() >= delimiter.len() => {
                    return Verdict::Delimiter {
                        level,
                        close: false,
                    };
                }
                Match::Pending => {}
            }
        }
        Verdict::Plain
    }

    /// The message ended right after the bytes held: the level whose delimiter the line is.
    pub(crate) fn message_end(&self, levels: &Levels) -> Option<usize> {
        self.alive(levels)
            .find(|(_, delimiter)| self.bytes.len() >= delimiter.len())
            .map(|(level, _)| level)
    }

    /// The levels still possible, outermost first, with their delimiters.
    fn alive<'a>(&'a self, levels: &'a Levels) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
        levels
            .delimiters
            .iter()
            .enumerate()
            .filter(|(level, _)| {
                let bit = 1u32.checked_shl(*level as u32).unwrap_or(0);
                self.candidates & bit != 0
            })
            .map(|(level, delimiter)| (level, delimiter.as_slice()))
    }

    /// The outermost level still possible and how far it matches. An inner level that already
    /// matches must wait for outer ones to be ruled out.
    fn first_candidate(&self, levels: &Levels) -> Option<(usize, Match)> {
        self.alive(levels)
            .next()
            .map(|(level, delimiter)| (level, self.compare(delimiter)))
    }

    /// How the held bytes compare with an alive delimiter.
    fn compare(&self, delimiter: &[u8]) -> Match {
        let len = delimiter.len();
        match self.bytes.get(len) {
            None => Match::Pending,
            Some(b'-') => match self.bytes.get(len.saturating_add(1)) {
                None => Match::Pending,
                Some(b'-') => Match::Close,
                Some(_) => Match::Open,
            },
            Some(_) => Match::Open,
        }
    }

    /// Capacity held, for the memory tests.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.bytes.capacity()
    }
}
