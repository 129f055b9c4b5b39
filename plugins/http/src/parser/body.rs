//! Body accounting: byte counts, SHA-256, optional gzip/deflate decoding and capture, streamed
//! without ever holding a whole body.

use std::io::{self, Write};

use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use sha2::{Digest, Sha256};

use super::model::{Body, BodyFraming, HttpConfig};

/// A content coding the parser can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// `gzip` / `x-gzip`.
    Gzip,
    /// `deflate` (zlib-wrapped, or raw deflate as some servers send).
    Deflate,
}

impl Coding {
    /// The coding named by a `Content-Encoding` value, if it is exactly one decodable coding
    /// (`identity` entries aside).
    pub(crate) fn from_header(value: &str) -> Option<Coding> {
        let mut found = None;
        for c in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let coding = if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") {
                Coding::Gzip
            } else if c.eq_ignore_ascii_case("deflate") {
                Coding::Deflate
            } else if c.eq_ignore_ascii_case("identity") {
                continue;
            } else {
                return None;
            };
            if found.replace(coding).is_some() {
                return None;
            }
        }
        found
    }
}

/// Counts decoded bytes, refusing to go past the cap (which stops the decoder).
#[derive(Debug)]
struct Sink {
    n: u64,
    cap: u64,
    capped: bool,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        if len > self.cap.saturating_sub(self.n) {
            self.n = self.cap;
            self.capped = true;
            return Err(io::Error::other("decoded size cap reached"));
        }
        self.n = self.n.saturating_add(len);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A streaming decoder writing into a [`Sink`].
#[derive(Debug)]
enum Decoder {
    Gzip(MultiGzDecoder<Sink>),
    Zlib(ZlibDecoder<Sink>),
    Raw(DeflateDecoder<Sink>),
}

impl Decoder {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Decoder::Gzip(d) => d,
            Decoder::Zlib(d) => d,
            Decoder::Raw(d) => d,
        }
    }

    fn sink(&self) -> &Sink {
        match self {
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Zlib(d) => d.get_ref(),
            Decoder::Raw(d) => d.get_ref(),
        }
    }

    fn try_finish(&mut self) -> io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Zlib(d) => d.try_finish(),
            Decoder::Raw(d) => d.try_finish(),
        }
    }
}

/// Where decoding stands.
#[derive(Debug)]
enum Decode {
    /// Not decoding this body.
    Off,
    /// Deflate, waiting for its first two bytes to tell zlib from raw deflate.
    DeflateStart(Option<u8>),
    /// Gzip, nothing received yet.
    GzipStart,
    /// Decoding.
    Active(Box<Decoder>),
    /// Stopped: decoded byte count, cap reached, error (and whether it is a real decode error).
    Stopped {
        decoded: u64,
        capped: bool,
        error: Option<(String, bool)>,
    },
}

/// Streaming state of one body.
#[derive(Debug)]
pub(crate) struct BodyAcc {
    framing: BodyFraming,
    wire: u64,
    len: u64,
    missing: u64,
    chunks: u64,
    hasher: Option<Sha256>,
    decode: Decode,
    capture: Option<Vec<u8>>,
    capture_cap: u64,
    capture_truncated: bool,
    trailers: Vec<(String, String)>,
}

impl BodyAcc {
    /// A body about to be streamed; `coding` is its content coding, if decodable.
    pub(crate) fn new(cfg: &HttpConfig, framing: BodyFraming, coding: Option<Coding>) -> Self {
        let decode = match coding {
            Some(_) if !cfg.decode_bodies => Decode::Off,
            Some(Coding::Gzip) => Decode::GzipStart,
            Some(Coding::Deflate) => Decode::DeflateStart(None),
            None => Decode::Off,
        };
        BodyAcc {
            framing,
            wire: 0,
            len: 0,
            missing: 0,
            chunks: 0,
            hasher: cfg.hash_bodies.then(Sha256::new),
            decode,
            capture: cfg.capture_bodies.map(|_| Vec::new()),
            capture_cap: cfg.capture_bodies.unwrap_or(0),
            capture_truncated: false,
            trailers: Vec::new(),
        }
    }

    /// `n` framing bytes (chunk-size lines, CRLFs, trailers) went by.
    pub(crate) fn framing_bytes(&mut self, n: usize) {
        self.wire = self
            .wire
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// A chunk with data started.
    pub(crate) fn chunk(&mut self) {
        self.chunks = self.chunks.saturating_add(1);
    }

    /// Trailer fields of a chunked body.
    pub(crate) fn set_trailers(&mut self, trailers: Vec<(String, String)>) {
        self.trailers = trailers;
    }

    /// Content bytes (de-chunked).
    pub(crate) fn content(&mut self, data: &[u8], max_decoded: u64) {
        if data.is_empty() {
            return;
        }
        let n = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.wire = self.wire.saturating_add(n);
        self.len = self.len.saturating_add(n);
        if let Some(h) = &mut self.hasher {
            h.update(data);
        }
        if let Some(c) = &mut self.capture {
            let room = self
                .capture_cap
                .saturating_sub(u64::try_from(c.len()).unwrap_or(u64::MAX));
            let take = usize::try_from(room.min(n)).unwrap_or(0);
            c.extend_from_slice(data.get(..take).unwrap_or_default());
            if take < data.len() {
                self.capture_truncated = true;
            }
        }
        self.decode(data, max_decoded);
    }

    /// `n` content bytes were never captured.
    pub(crate) fn gap(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.wire = self.wire.saturating_add(n);
        self.len = self.len.saturating_add(n);
        self.missing = self.missing.saturating_add(n);
        self.hasher = None;
        if self.capture.is_some() {
            self.capture_truncated = true;
            self.capture_cap = 0;
        }
        self.stop_decoding(Some(("gap in body".to_owned(), false)));
    }

    fn stop_decoding(&mut self, error: Option<(String, bool)>) {
        let (decoded, capped) = match &self.decode {
            Decode::Off | Decode::Stopped { .. } => return,
            Decode::DeflateStart(_) | Decode::GzipStart => (0, false),
            Decode::Active(d) => (d.sink().n, d.sink().capped),
        };
        let error = if capped { None } else { error };
        self.decode = Decode::Stopped {
            decoded,
            capped,
            error,
        };
    }

    fn decode(&mut self, data: &[u8], max_decoded: u64) {
        let sink = || Sink {
            n: 0,
            cap: max_decoded,
            capped: false,
        };
        let mut first: Option<u8> = None;
        match &mut self.decode {
            Decode::Off | Decode::Stopped { .. } => return,
            Decode::Active(_) => {}
            Decode::GzipStart => {
                self.decode = Decode::Active(Box::new(Decoder::Gzip(MultiGzDecoder::new(sink()))));
            }
            Decode::DeflateStart(held) => {
                let mut two = held.iter().chain(data.iter()).copied();
                let (Some(b0), Some(b1)) = (two.next(), two.next()) else {
                    *held = data.first().copied();
                    return;
                };
                first = *held;
                let zlib = b0 & 0x0f == 8 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0;
                let d = if zlib {
                    Decoder::Zlib(ZlibDecoder::new(sink()))
                } else {
                    Decoder::Raw(DeflateDecoder::new(sink()))
                };
                self.decode = Decode::Active(Box::new(d));
            }
        }
        let Decode::Active(d) = &mut self.decode else {
            return;
        };
        let mut result = Ok(());
        if let Some(b) = first {
            result = write_all(d.writer(), &[b]);
        }
        if result.is_ok() {
            result = write_all(d.writer(), data);
        }
        match result {
            Ok(()) => {}
            Err(e) => self.stop_decoding(Some((e.to_string(), true))),
        }
    }

    /// The body as reported, and whether decoding failed on corrupt data (as opposed to a gap
    /// or the cap). `complete`: the body ended normally (decoding is then finished, which
    /// reports truncated compressed data).
    pub(crate) fn finish(mut self, complete: bool) -> (Body, bool) {
        if let Decode::Active(d) = &mut self.decode {
            let r = if complete {
                d.try_finish()
            } else {
                d.writer().flush()
            };
            if let Err(e) = r {
                self.stop_decoding(Some((e.to_string(), complete)));
            }
        }
        if let Decode::DeflateStart(Some(_)) = self.decode {
            // A one-byte deflate body cannot be decoded.
            self.decode = Decode::Stopped {
                decoded: 0,
                capped: false,
                error: Some(("truncated deflate data".to_owned(), complete)),
            };
        }
        let failed = matches!(
            self.decode,
            Decode::Stopped {
                error: Some((_, true)),
                ..
            }
        );
        let (decoded_len, decode_capped, decode_error) = match self.decode {
            Decode::Off => (None, false, None),
            Decode::DeflateStart(_) | Decode::GzipStart => (Some(0), false, None),
            Decode::Active(d) => (Some(d.sink().n), d.sink().capped, None),
            Decode::Stopped {
                decoded,
                capped,
                error,
            } => (Some(decoded), capped, error.map(|(e, _)| e)),
        };
        let sha256 = match self.hasher {
            Some(h) if self.len > 0 && self.missing == 0 => Some(hex(&h.finalize())),
            _ => None,
        };
        let body = Body {
            framing: self.framing,
            wire_len: self.wire,
            len: self.len,
            missing: self.missing,
            decoded_len,
            decode_capped,
            decode_error,
            sha256,
            captured: self.capture,
            capture_truncated: self.capture_truncated,
            chunks: self.chunks,
            trailers: self.trailers,
        };
        (body, failed)
    }
}

/// Writes all of `data`; trailing bytes after the end of the compressed stream are ignored.
fn write_all(w: &mut dyn Write, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match w.write(data) {
            Ok(0) => return Ok(()),
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for &b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            s.push(HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h)));
        }
    }
    s
}
