//! Random MIME messages — nested multiparts with boundaries that are prefixes of one another,
//! lines that almost are delimiters, CRLF, LF or mixed line ends, missing closing delimiters,
//! headers without bodies — fed to the streaming parser in random pieces, whole, cut short or
//! with a gap, must give what the former whole-message walker ([`oracle`]) gives. `SEED` and
//! `ROUNDS` change the run, e.g. `SEED=7 ROUNDS=100000 cargo test --release … random_mime`.

use super::oracle::oracle;
use crate::parser::stream::{MimeStream, Parsed};

/// xorshift64.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound.max(1) as u64) as usize
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

const BOUNDARIES: &[&str] = &["b", "b-1", "bb", "=_x", "b-", "B"];
const LINES: &[&[u8]] = &[
    b"hello world",
    b"",
    b"-",
    b"--",
    b"-- ",
    b"--b",
    b"--bx",
    b"--b-",
    b"--b--",
    b"--bb",
    b"--b-1",
    b"--=_x",
    b"--B",
    b"\tindented",
    b"=3D=",
    b"aGVsbG8=",
    b"\r",
    b"--b \t",
];
const SUFFIXES: &[&[u8]] = &[b"", b"", b"", b" ", b"\t", b"  junk", b"-x", b"\r"];

/// Builds one random message.
struct Generator {
    rng: Rng,
    out: Vec<u8>,
    /// 0: CRLF, 1: LF, 2: either, line by line.
    eol: usize,
}

impl Generator {
    fn end_line(&mut self) {
        let crlf = match self.eol {
            0 => true,
            1 => false,
            _ => self.rng.below(2) == 0,
        };
        self.out
            .extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }

    fn line(&mut self, text: &[u8]) {
        self.out.extend_from_slice(text);
        self.end_line();
    }

    fn junk(&mut self, count: usize) {
        for _ in 0..count {
            let line = self.rng.pick(LINES);
            self.line(line);
        }
    }

    fn delimiter(&mut self, boundary: &str, close: bool) {
        self.out.extend_from_slice(b"--");
        self.out.extend_from_slice(boundary.as_bytes());
        if close {
            self.out.extend_from_slice(b"--");
        }
        let suffix = self.rng.pick(SUFFIXES);
        self.line(suffix);
    }

    fn body(&mut self, encoding: usize) {
        let lines = self.rng.below(5);
        for _ in 0..lines {
            let text: Vec<u8> = match encoding {
                // base64, lines of any length
                0 => (0..self.rng.below(80))
                    .map(|_| b"QUJDRGVmZ2g0NTY3+/=="[self.rng.below(20)])
                    .collect(),
                // quoted-printable
                1 => (0..self.rng.below(12))
                    .flat_map(|_| {
                        let piece: &[u8] =
                            [&b"caf=C3=A9"[..], b" ", b"=", b"x", b"=3D", b"\t"][self.rng.below(6)];
                        piece.to_vec()
                    })
                    .collect(),
                _ => self.rng.pick(LINES).to_vec(),
            };
            self.line(&text);
        }
    }

    fn entity(&mut self, depth: usize, top: bool) {
        if top {
            self.line(b"Subject: =?UTF-8?Q?r=C3=A9sum=C3=A9?= test");
            self.line(b"From: A <a@x.org>");
        }
        let kind = self.rng.below(if depth < 4 { 6 } else { 4 });
        let mut boundary = None;
        match kind {
            0 => self.line(b"Content-Type: text/plain; charset=utf-8"),
            1 => self.line(b"Content-Type: application/pdf; name=\"f.pdf\""),
            2 => self.line(b"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9.txt"),
            3 => self.line(b"Content-Type: image/png"),
            _ => {
                let chosen = self.rng.pick(BOUNDARIES);
                self.line(
                    format!("Content-Type: multipart/mixed; boundary=\"{chosen}\"").as_bytes(),
                );
                boundary = Some(chosen);
            }
        }
        if self.rng.below(3) == 0 {
            // Odd header lines: folding, and lines that start like delimiters.
            let odd = self.rng.pick(&[
                &b"X-Fold: a"[..],
                b"\tfolded --b",
                b"--b-1: odd",
                b"-x: y",
                b"--b",
                b"X-CR: a\rb",
            ]);
            self.line(odd);
        }
        let encoding = self.rng.below(3);
        let cte: &[u8] = [
            &b"Content-Transfer-Encoding: base64"[..],
            b"Content-Transfer-Encoding: Quoted-Printable",
            b"X-Other: --b",
        ][encoding];
        self.line(cte);
        if self.rng.below(8) == 0 {
            // Headers and no body.
            return;
        }
        self.end_line();
        match boundary {
            Some(boundary) => {
                let junk = self.rng.below(3);
                self.junk(junk);
                for _ in 0..self.rng.below(4) {
                    self.delimiter(boundary, false);
                    self.entity(depth + 1, false);
                }
                if self.rng.below(4) != 0 {
                    self.delimiter(boundary, true);
                    let junk = self.rng.below(3);
                    self.junk(junk);
                }
            }
            None => self.body(encoding),
        }
    }
}

/// The streaming parser over `content` in random pieces, with a gap of `lost` bytes at `gap`.
fn stream(content: &[u8], gap: Option<(usize, usize)>, complete: bool, rng: &mut Rng) -> Parsed {
    let mut stream = MimeStream::new(64 << 10);
    let feed = |bytes: &[u8], stream: &mut MimeStream, rng: &mut Rng| {
        let mut rest = bytes;
        while !rest.is_empty() {
            let cut = (rng.below(12) + 1).min(rest.len());
            stream.feed(&rest[..cut]);
            rest = &rest[cut..];
        }
    };
    match gap {
        Some((at, lost)) => {
            feed(&content[..at], &mut stream, rng);
            stream.gap();
            feed(&content[(at + lost).min(content.len())..], &mut stream, rng);
        }
        None => feed(content, &mut stream, rng),
    }
    stream.finish(complete)
}

#[test]
fn random_mime_messages_match_the_whole_message_walker() {
    let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = number("SEED").unwrap_or(0x00c0_ffee_1234_5678);
    let rounds = number("ROUNDS").unwrap_or(4000);
    let mut rng = Rng(seed);
    let mut attachments = 0;
    for round in 0..rounds {
        let mut generator = Generator {
            rng: Rng(rng.0 ^ round),
            out: Vec::new(),
            eol: round as usize % 3,
        };
        generator.entity(0, true);
        let content = generator.out;
        let (fields, expected) = oracle(&content, content.len(), true);
        attachments += expected.len();
        let parsed = stream(&content, None, true, &mut rng);
        let show = || String::from_utf8_lossy(&content).into_owned();
        // No header read and no reported field read are the same for a message.
        assert_eq!(
            parsed.fields.unwrap_or_default(),
            fields.unwrap_or_default(),
            "{}",
            show()
        );
        assert_eq!(parsed.attachments, expected, "{}", show());
        // Cut short.
        let end = rng.below(content.len() + 1);
        let (fields, expected) = oracle(&content[..end], end, false);
        let parsed = stream(&content[..end], None, false, &mut rng);
        assert_eq!(
            (parsed.fields.unwrap_or_default(), parsed.attachments),
            (fields.unwrap_or_default(), expected),
            "cut at {end}: {}",
            show()
        );
        // With a gap.
        let at = rng.below(content.len() + 1);
        let lost = rng.below(3) * rng.below(20);
        let mut kept = content[..at].to_vec();
        kept.extend_from_slice(&content[(at + lost).min(content.len())..]);
        let (fields, expected) = oracle(&kept, at, false);
        let parsed = stream(&content, Some((at, lost)), false, &mut rng);
        assert_eq!(
            (parsed.fields.unwrap_or_default(), parsed.attachments),
            (fields.unwrap_or_default(), expected),
            "gap of {lost} at {at}: {}",
            show()
        );
    }
    assert!(attachments > 2000, "{attachments}");
}

#[test]
fn random_mime_messages_with_tiny_bounds_stay_bounded() {
    let mut rng = Rng(0x7157_0b0d_5eed_0001);
    for round in 0..3000u64 {
        let mut generator = Generator {
            rng: Rng(rng.0 ^ round),
            out: Vec::new(),
            eol: round as usize % 3,
        };
        generator.entity(0, true);
        let content = generator.out;
        let max = rng.below(80);
        let mut stream = MimeStream::new(max);
        let mut rest = &content[..];
        while !rest.is_empty() {
            let cut = (rng.below(9) + 1).min(rest.len());
            stream.feed(&rest[..cut]);
            rest = &rest[cut..];
            if rng.below(50) == 0 {
                stream.gap();
            }
            // One header block (at most `max`), a few boundaries, one probe, one decoder.
            assert!(
                stream.held_bytes() < max + (12 << 10),
                "{}",
                stream.held_bytes()
            );
        }
        let parsed = stream.finish(rng.below(2) == 0);
        assert!(parsed.attachments.len() <= content.len());
    }
}
