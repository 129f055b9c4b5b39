//! Application payload, produced lazily: a [`Message`] is a list of [`Part`]s (literal bytes,
//! random binary, text lines, base64 lines) that a [`Pump`] turns into segment-sized pieces on
//! demand, so a 4 MiB mail body never exists in memory as a whole.

use std::collections::VecDeque;

use crate::rng::Rng;

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

/// A piece of a message.
#[derive(Debug)]
pub(crate) enum Part {
    /// These bytes.
    Lit(Vec<u8>),
    /// This many pseudo-random bytes (images, archives, opaque bulk data).
    Binary(u64),
    /// Text lines of words, `len` bytes exactly (a last line may be cut), lines ending in LF.
    Text(u64),
    /// Mail body text: whole CRLF lines of at most 998 bytes until at least `len` bytes; lines
    /// starting with '.' are dot-stuffed (RFC 5321 §4.5.2).
    MailText(u64),
    /// Base64 of random bytes in 76-character CRLF lines until at least `len` bytes.
    Base64(u64),
}

impl Part {
    /// Bytes this part will produce (at least; mail text and base64 end on a whole line).
    pub(crate) fn len(&self) -> u64 {
        match self {
            Part::Lit(v) => v.len() as u64,
            Part::Binary(n) | Part::Text(n) | Part::MailText(n) | Part::Base64(n) => *n,
        }
    }
}

/// One application message: all the bytes one side sends before the other side answers.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) dir: Dir,
    pub(crate) parts: VecDeque<Part>,
}

impl Message {
    /// A message of `parts` from `dir`.
    pub(crate) fn new(dir: Dir, parts: Vec<Part>) -> Message {
        Message {
            dir,
            parts: parts.into(),
        }
    }

    /// A message of literal text.
    pub(crate) fn text(dir: Dir, text: String) -> Message {
        Message::new(dir, vec![Part::Lit(text.into_bytes())])
    }

    /// Approximate length (exact unless it holds mail text or base64).
    pub(crate) fn len(&self) -> u64 {
        self.parts.iter().map(Part::len).sum()
    }
}

/// Vocabulary of generated text.
pub(crate) const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "if",
    "so",
    "no",
    "will",
    "more",
    "can",
    "network",
    "packet",
    "session",
    "capture",
    "stream",
    "segment",
    "window",
    "report",
    "quarterly",
    "invoice",
    "meeting",
    "schedule",
    "attached",
    "please",
    "regards",
    "thanks",
    "server",
    "client",
    "update",
];

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends `len` bytes of words separated by spaces (the last word may be cut).
pub(crate) fn words_into(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    while out.len() - start < len {
        if out.len() > start {
            out.push(b' ');
        }
        let w = rng.pick(WORDS).copied().unwrap_or("x");
        out.extend_from_slice(w.as_bytes());
    }
    out.truncate(start + len);
}

/// A line length for prose: mostly 30-78, some empty, some long.
fn line_len(rng: &mut Rng, max: usize) -> usize {
    let r = rng.below(100);
    let n = match r {
        0..=5 => 0,
        6..=92 => rng.range_usize(30, 78),
        93..=97 => rng.range_usize(79, 400),
        _ => rng.range_usize(400, max),
    };
    n.min(max)
}

/// Appends base64 of `n` random bytes (with padding).
fn base64(rng: &mut Rng, n: usize, out: &mut Vec<u8>) {
    let mut raw = vec![0u8; n];
    rng.fill(&mut raw);
    let sym = |v: u32| BASE64.get((v & 63) as usize).copied().unwrap_or(b'A');
    for chunk in raw.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(v >> 18));
        out.push(sym(v >> 12));
        out.push(if chunk.len() > 1 { sym(v >> 6) } else { b'=' });
        out.push(if chunk.len() > 2 { sym(v) } else { b'=' });
    }
}

/// Turns the current message into segment payloads.
#[derive(Debug)]
pub(crate) struct Pump {
    rng: Rng,
    parts: VecDeque<Part>,
    /// Bytes produced but not yet taken.
    line: Vec<u8>,
    line_pos: usize,
}

impl Pump {
    /// A pump whose content draws from `rng`.
    pub(crate) fn new(rng: Rng) -> Pump {
        Pump {
            rng,
            parts: VecDeque::new(),
            line: Vec::with_capacity(4096),
            line_pos: 0,
        }
    }

    /// Starts sending `msg` (the previous one must be exhausted).
    pub(crate) fn start(&mut self, msg: Message) {
        self.parts = msg.parts;
        self.line.clear();
        self.line_pos = 0;
    }

    /// Whether the current message has no byte left.
    pub(crate) fn is_empty(&self) -> bool {
        self.line_pos >= self.line.len() && self.parts.iter().all(|p| p.len() == 0)
    }

    /// Appends up to `max` bytes of the current message to `out`.
    pub(crate) fn take(&mut self, max: usize, out: &mut Vec<u8>) {
        let goal = out.len() + max;
        while out.len() < goal {
            if self.line_pos < self.line.len() {
                let n = (self.line.len() - self.line_pos).min(goal - out.len());
                if let Some(piece) = self.line.get(self.line_pos..self.line_pos + n) {
                    out.extend_from_slice(piece);
                }
                self.line_pos += n;
                continue;
            }
            self.line.clear();
            self.line_pos = 0;
            if !self.refill() {
                break;
            }
        }
    }

    /// Produces the next piece of the current message into `line`; false when exhausted.
    fn refill(&mut self) -> bool {
        let Some(part) = self.parts.front_mut() else {
            return false;
        };
        let rng = &mut self.rng;
        let line = &mut self.line;
        let finished = match part {
            Part::Lit(v) => {
                std::mem::swap(line, v);
                true
            }
            Part::Binary(left) => {
                let n = (*left).min(16 * 1024) as usize;
                line.resize(n, 0);
                rng.fill(line);
                *left -= n as u64;
                *left == 0
            }
            Part::Text(left) => {
                let n = line_len(rng, 200);
                words_into(rng, n, line);
                line.push(b'\n');
                line.truncate((*left).min(line.len() as u64) as usize);
                *left -= line.len() as u64;
                *left == 0
            }
            Part::MailText(left) => {
                let n = line_len(rng, 997);
                if n > 1 && rng.below(100) < 3 {
                    // A line starting with '.', stuffed: at most 998 bytes on the wire.
                    line.extend_from_slice(b"..");
                    words_into(rng, n - 1, line);
                } else {
                    words_into(rng, n, line);
                }
                line.extend_from_slice(b"\r\n");
                *left = left.saturating_sub(line.len() as u64);
                *left == 0
            }
            Part::Base64(left) => {
                let raw = if *left >= 78 {
                    57
                } else {
                    ((*left).saturating_sub(2) * 3 / 4).max(1) as usize
                };
                base64(rng, raw, line);
                line.extend_from_slice(b"\r\n");
                *left = left.saturating_sub(line.len() as u64);
                *left == 0
            }
        };
        if finished {
            self.parts.pop_front();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(parts: Vec<Part>, seg: usize) -> Vec<u8> {
        let mut p = Pump::new(Rng::new(3));
        p.start(Message::new(Dir::S2c, parts));
        let mut all = Vec::new();
        while !p.is_empty() {
            let mut s = Vec::new();
            p.take(seg, &mut s);
            assert!(!s.is_empty() && s.len() <= seg);
            all.extend_from_slice(&s);
        }
        all
    }

    #[test]
    fn exact_parts_have_exact_lengths() {
        let parts = vec![
            Part::Lit(b"head\r\n".to_vec()),
            Part::Binary(100_000),
            Part::Text(12_345),
            Part::Lit(b"x".to_vec()),
        ];
        assert_eq!(drain(parts, 1448).len(), 6 + 100_000 + 12_345 + 1);
        assert_eq!(drain(vec![Part::Text(1)], 1448).len(), 1);
    }

    #[test]
    fn mail_lines_are_short_and_stuffed() {
        let body = drain(vec![Part::MailText(300_000), Part::Base64(50_000)], 1448);
        assert!(body.len() >= 350_000);
        assert!(body.ends_with(b"\r\n"));
        let text = String::from_utf8(body).unwrap();
        let mut dotted = 0;
        for line in text.split("\r\n") {
            assert!(line.len() <= 998, "{}", line.len());
            assert!(!line.contains('\r') && !line.contains('\n'));
            if line.starts_with('.') {
                assert!(line.starts_with(".."));
                dotted += 1;
            }
        }
        assert!(dotted > 0);
    }
}
