//! Transfer-decoding an attachment incrementally straight into its SHA-256: the body arrives
//! in pieces cut anywhere, and only a small fixed block of decoded bytes is held (base64 fast
//! path, without building the decoded bytes). Quoted-printable lives in [`qp`](super::qp).

use sha2::{Digest, Sha256};

use super::qp::QuotedPrintable;

/// Table value of characters outside the base64 alphabet (skipped: line breaks, spaces).
const SKIP: u8 = 0x40;
/// Table value of `=`: padding, the end of the data.
const PAD: u8 = 0x80;

/// base64 alphabet → 6-bit values; everything else [`SKIP`] or [`PAD`]. Built at compile
/// time from [`six_bits`].
static TABLE: [u8; 256] = table();

/// Set in [`PLACED`] for characters outside the alphabet.
const NOT_ALPHABET: u32 = 1 << 31;

/// For the fast path: each character's 6 bits already shifted to their place in a group of
/// four (first character highest), or [`NOT_ALPHABET`].
static PLACED: [[u32; 256]; 4] = placed();

/// The value of one base64 character.
const fn six_bits(byte: u8) -> u8 {
    match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        b'=' => PAD,
        _ => SKIP,
    }
}

// Runs only at compile time: an out-of-range index would fail the build, it cannot panic.
#[allow(clippy::indexing_slicing)]
const fn table() -> [u8; 256] {
    let mut table = [SKIP; 256];
    let mut index = 0;
    while index < 256 {
        table[index] = six_bits(index as u8);
        index += 1;
    }
    table
}

// Runs only at compile time, like `table`.
#[allow(clippy::indexing_slicing)]
const fn placed() -> [[u32; 256]; 4] {
    let mut placed = [[NOT_ALPHABET; 256]; 4];
    let mut index = 0;
    while index < 256 {
        let six = six_bits(index as u8);
        if six & (SKIP | PAD) == 0 {
            let mut position = 0;
            while position < 4 {
                placed[position][index] = (six as u32) << (18 - 6 * position);
                position += 1;
            }
        }
        index += 1;
    }
    placed
}

/// Decoded bytes are hashed in blocks of this size (a multiple of 3 and of SHA-256's 64).
const BLOCK: usize = 3 * 1024;

fn value(byte: u8) -> u8 {
    TABLE.get(usize::from(byte)).copied().unwrap_or(SKIP)
}

/// The bits of `byte` at `position` in a group, or [`NOT_ALPHABET`].
fn placed_bits(position: usize, byte: u8) -> u32 {
    PLACED
        .get(position)
        .and_then(|table| table.get(usize::from(byte)))
        .copied()
        .unwrap_or(NOT_ALPHABET)
}

/// Where decoded bytes go: a fixed block, hashed each time it fills, and a byte count.
pub(crate) struct Sink {
    hasher: Sha256,
    block: [u8; BLOCK],
    len: usize,
    total: u64,
}

/// A [`Sink`]'s state saved by [`Sink::checkpoint`], to go back to with [`Sink::rollback`].
pub(crate) struct Checkpoint {
    hasher: Sha256,
    total: u64,
}

impl Sink {
    /// An empty sink.
    pub(crate) fn new() -> Sink {
        Sink {
            hasher: Sha256::new(),
            block: [0; BLOCK],
            len: 0,
            total: 0,
        }
    }

    /// Adds decoded bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.len.saturating_add(bytes.len()) > BLOCK {
            self.flush();
            if bytes.len() > BLOCK {
                self.hasher.update(bytes);
                self.total = self.total.saturating_add(bytes.len() as u64);
                return;
            }
        }
        let end = self.len.saturating_add(bytes.len());
        if let Some(target) = self.block.get_mut(self.len..end) {
            target.copy_from_slice(bytes);
            self.len = end;
        }
    }

    /// The base64 fast path: decodes whole groups of four alphabet characters straight into
    /// the block, up to the first other character (line breaks between groups are skipped);
    /// returns the input left.
    fn groups<'a>(&mut self, mut input: &'a [u8]) -> &'a [u8] {
        loop {
            if BLOCK.saturating_sub(self.len) < 3 {
                self.flush();
            }
            let space = self.block.get_mut(self.len..).unwrap_or_default();
            let mut groups = 0usize;
            let mut stopped = false;
            for (group, out) in input.chunks_exact(4).zip(space.chunks_exact_mut(3)) {
                let (&[a, b, c, d], [x, y, z]) = (group, out) else {
                    break;
                };
                let bits =
                    placed_bits(0, a) | placed_bits(1, b) | placed_bits(2, c) | placed_bits(3, d);
                if bits & NOT_ALPHABET != 0 {
                    stopped = true;
                    break;
                }
                [_, *x, *y, *z] = bits.to_be_bytes();
                groups = groups.saturating_add(1);
            }
            self.len = self.len.saturating_add(groups.saturating_mul(3));
            input = input.get(groups.saturating_mul(4)..).unwrap_or_default();
            if stopped {
                if let Some(tail) = input
                    .strip_prefix(b"\r\n")
                    .or_else(|| input.strip_prefix(b"\n"))
                {
                    input = tail;
                    continue;
                }
                return input;
            }
            if input.len() < 4 || BLOCK.saturating_sub(self.len) >= 3 {
                return input;
            }
        }
    }

    fn flush(&mut self) {
        let full = self.block.get(..self.len).unwrap_or_default();
        self.hasher.update(full);
        self.total = self.total.saturating_add(self.len as u64);
        self.len = 0;
    }

    /// Saves the state (to undo what is pushed next, see [`Sink::rollback`]).
    pub(crate) fn checkpoint(&mut self) -> Checkpoint {
        self.flush();
        Checkpoint {
            hasher: self.hasher.clone(),
            total: self.total,
        }
    }

    /// Forgets every byte pushed since `checkpoint` was taken.
    pub(crate) fn rollback(&mut self, checkpoint: Checkpoint) {
        self.len = 0;
        self.hasher = checkpoint.hasher;
        self.total = checkpoint.total;
    }

    /// The decoded size and SHA-256.
    pub(crate) fn finish(mut self) -> (u64, [u8; 32]) {
        self.flush();
        (self.total, self.hasher.finalize().into())
    }
}

/// Incremental base64 (RFC 2045: characters outside the alphabet are ignored, `=` ends the
/// data). The state between pieces is at most three pending characters.
#[derive(Debug, Default)]
pub(crate) struct Base64 {
    quad: u32,
    have: u8,
    /// `=` was seen: the rest is ignored.
    done: bool,
}

impl Base64 {
    /// Decodes the next encoded bytes into `sink`.
    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut Sink) {
        let mut rest = input;
        while !self.done {
            if self.have == 0 {
                rest = sink.groups(rest);
            }
            let Some((&byte, tail)) = rest.split_first() else {
                break;
            };
            rest = tail;
            match value(byte) {
                PAD => self.done = true,
                SKIP => {}
                six => {
                    self.quad = self.quad << 6 | u32::from(six);
                    self.have = self.have.saturating_add(1);
                    if self.have == 4 {
                        let [_, x, y, z] = self.quad.to_be_bytes();
                        sink.push(&[x, y, z]);
                        self.quad = 0;
                        self.have = 0;
                    }
                }
            }
        }
    }

    /// The data is over: a trailing group of two or three characters gives one or two bytes.
    pub(crate) fn finish(&mut self, sink: &mut Sink) {
        let quad = self.quad;
        match self.have {
            2 => sink.push(&[(quad >> 4) as u8]),
            3 => sink.push(&[(quad >> 10) as u8, (quad >> 2) as u8]),
            _ => {}
        }
        self.have = 0;
        self.quad = 0;
    }
}

/// How a part's body is transfer-decoded.
enum Decoder {
    /// 7bit, 8bit, binary and unknown encodings: taken as they are.
    Raw,
    Base64(Base64),
    QuotedPrintable(Box<QuotedPrintable>),
}

/// Transfer-decodes one part's body, fed in pieces, into its decoded size and SHA-256.
pub(crate) struct BodyDigest {
    decoder: Decoder,
    sink: Sink,
}

impl BodyDigest {
    /// A digest for a body with this Content-Transfer-Encoding (already trimmed): base64 and
    /// quoted-printable are decoded, anything else is hashed as it is.
    pub(crate) fn new(encoding: &[u8]) -> BodyDigest {
        let decoder = if encoding.eq_ignore_ascii_case(b"base64") {
            Decoder::Base64(Base64::default())
        } else if encoding.eq_ignore_ascii_case(b"quoted-printable") {
            Decoder::QuotedPrintable(Box::default())
        } else {
            Decoder::Raw
        };
        BodyDigest {
            decoder,
            sink: Sink::new(),
        }
    }

    /// The next body bytes.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        match &mut self.decoder {
            Decoder::Raw => self.sink.push(bytes),
            Decoder::Base64(base64) => base64.feed(bytes, &mut self.sink),
            Decoder::QuotedPrintable(qp) => qp.feed(bytes, &mut self.sink),
        }
    }

    /// The decoded size and SHA-256 of everything fed.
    pub(crate) fn finish(mut self) -> (u64, [u8; 32]) {
        match &mut self.decoder {
            Decoder::Raw => self.sink.finish(),
            Decoder::Base64(base64) => {
                base64.finish(&mut self.sink);
                self.sink.finish()
            }
            Decoder::QuotedPrintable(qp) => qp.finish(self.sink),
        }
    }
}

/// Decodes a whole base64 text at once (what [`BodyDigest`] does piece by piece).
#[cfg(test)]
pub(crate) fn base64_digest(input: &[u8]) -> (u64, [u8; 32]) {
    let mut digest = BodyDigest::new(b"base64");
    digest.feed(input);
    digest.finish()
}
