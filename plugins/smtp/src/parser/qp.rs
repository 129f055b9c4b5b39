//! Incremental quoted-printable decoding (RFC 2045 §6.7) into a [`Sink`], byte for byte the
//! way `mail-parser`'s `quoted_printable_decode` decodes a whole body, so that attachment sizes
//! and hashes do not depend on how the body was cut into pieces:
//!
//! * `=XY` is a byte, `=` before the line break is a soft break (whitespace may come between);
//! * CR is dropped, and every line break is written `\r\n` once any CR was seen, `\n` before;
//! * whitespace at the end of a line is dropped (held back until the line goes on or ends);
//! * a malformed `=` makes the whole body count as it is, undecoded (a raw hash runs alongside).

use sha2::{Digest, Sha256};

use super::decode::{Checkpoint, Sink};

/// Trailing whitespace held back inline; a longer run is written speculatively and undone from
/// a [`Checkpoint`] if the line ends.
const HELD_WHITESPACE: usize = 64;

/// Where the decoder is in an escape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After `=`.
    Eq,
    /// After `=` and one hex digit (its value).
    Hex1(u8),
}

/// The decoder's state between pieces: bounded whatever the input.
pub(crate) struct QuotedPrintable {
    escape: Escape,
    /// A CR was seen: line breaks are written CRLF from then on.
    crlf: bool,
    /// Whitespace written since the last other byte, not yet in the sink.
    whitespace: [u8; HELD_WHITESPACE],
    whitespace_len: usize,
    /// A run longer than `whitespace` went to the sink after this checkpoint.
    speculative: Option<Checkpoint>,
    /// A malformed escape was seen: the body is taken undecoded.
    failed: bool,
    /// The undecoded body, for when decoding fails.
    raw: Sha256,
    raw_size: u64,
}

impl Default for QuotedPrintable {
    fn default() -> QuotedPrintable {
        QuotedPrintable {
            escape: Escape::None,
            crlf: false,
            whitespace: [0; HELD_WHITESPACE],
            whitespace_len: 0,
            speculative: None,
            failed: false,
            raw: Sha256::new(),
            raw_size: 0,
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

/// Whitespace as `mail-parser` counts it at line ends (CR and LF are handled before).
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\x0c')
}

/// Bytes copied as they are outside an escape.
fn is_plain(byte: u8) -> bool {
    !matches!(byte, b'=' | b'\r' | b'\n') && !is_blank(byte)
}

impl QuotedPrintable {
    /// Decodes the next encoded bytes into `sink`.
    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut Sink) {
        self.raw.update(input);
        self.raw_size = self.raw_size.saturating_add(input.len() as u64);
        let mut rest = input;
        while !self.failed {
            if self.escape == Escape::None {
                // Fast path: a run of ordinary bytes.
                let run = rest
                    .iter()
                    .position(|&b| !is_plain(b))
                    .unwrap_or(rest.len());
                if run > 0 {
                    self.commit_whitespace(sink);
                    sink.push(rest.get(..run).unwrap_or_default());
                    rest = rest.get(run..).unwrap_or_default();
                }
            }
            let Some((&byte, tail)) = rest.split_first() else {
                break;
            };
            rest = tail;
            self.byte(byte, sink);
        }
    }

    fn byte(&mut self, byte: u8, sink: &mut Sink) {
        match byte {
            b'=' => {
                if self.escape == Escape::None {
                    self.escape = Escape::Eq;
                } else {
                    self.fail();
                }
            }
            b'\n' => {
                if self.escape == Escape::Eq {
                    self.escape = Escape::None;
                    self.commit_whitespace(sink);
                } else {
                    self.drop_whitespace(sink);
                    sink.push(if self.crlf { b"\r\n" } else { b"\n" });
                }
            }
            b'\r' => self.crlf = true,
            _ => match self.escape {
                Escape::None => {
                    if is_blank(byte) {
                        self.hold_whitespace(byte, sink);
                    } else {
                        self.commit_whitespace(sink);
                        sink.push(&[byte]);
                    }
                }
                Escape::Eq => match hex_value(byte) {
                    Some(high) => self.escape = Escape::Hex1(high),
                    None if byte.is_ascii_whitespace() => {}
                    None => self.fail(),
                },
                Escape::Hex1(high) => {
                    self.escape = Escape::None;
                    match hex_value(byte) {
                        Some(low) => {
                            self.commit_whitespace(sink);
                            sink.push(&[high << 4 | low]);
                        }
                        None => self.fail(),
                    }
                }
            },
        }
    }

    fn hold_whitespace(&mut self, byte: u8, sink: &mut Sink) {
        if self.speculative.is_some() {
            sink.push(&[byte]);
            return;
        }
        if let Some(slot) = self.whitespace.get_mut(self.whitespace_len) {
            *slot = byte;
            self.whitespace_len = self.whitespace_len.saturating_add(1);
            return;
        }
        self.speculative = Some(sink.checkpoint());
        sink.push(&self.whitespace);
        sink.push(&[byte]);
        self.whitespace_len = 0;
    }

    /// The held whitespace is followed by more of the line: it stays.
    fn commit_whitespace(&mut self, sink: &mut Sink) {
        if self.speculative.take().is_none() && self.whitespace_len > 0 {
            sink.push(
                self.whitespace
                    .get(..self.whitespace_len)
                    .unwrap_or_default(),
            );
        }
        self.whitespace_len = 0;
    }

    /// The held whitespace ends its line: it goes.
    fn drop_whitespace(&mut self, sink: &mut Sink) {
        if let Some(checkpoint) = self.speculative.take() {
            sink.rollback(checkpoint);
        }
        self.whitespace_len = 0;
    }

    fn fail(&mut self) {
        self.failed = true;
        self.speculative = None;
        self.whitespace_len = 0;
    }

    /// The decoded size and SHA-256, or those of the undecoded body when an escape was
    /// malformed.
    pub(crate) fn finish(&mut self, mut sink: Sink) -> (u64, [u8; 32]) {
        if self.failed {
            let raw = std::mem::replace(&mut self.raw, Sha256::new());
            return (self.raw_size, raw.finalize().into());
        }
        self.commit_whitespace(&mut sink);
        sink.finish()
    }
}
