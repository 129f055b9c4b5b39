//! Message heads: finding where a head ends, vetting its first bytes, and turning what httparse
//! parsed into owned fields.

use super::model::{HeaderCapture, HttpConfig};

/// Header slots tried first (on the stack); a head with more is retried with
/// `HttpConfig::max_headers` slots.
const STACK_HEADERS: usize = 64;
/// Longest method accepted by the first-bytes check.
const MAX_METHOD: usize = 32;
/// Most spaces accepted between method and target by the first-bytes check.
const MAX_SPACES: usize = 16;
/// Shortest / longest method accepted when looking for a request after lost sync.
const RESYNC_METHOD: std::ops::RangeInclusive<usize> = 3..=16;

/// Where a scan for the end of a header block stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The first line ended just before this index (past its `\n`); scanning may resume there.
    FirstLine(usize),
    /// The block (ended by an empty line) ended just before this index.
    End(usize),
    /// All bytes were scanned, the block goes on.
    More,
}

/// Incremental search for the empty line that ends a head or a trailer section, across any
/// split of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockScan {
    /// 0: inside a line; 1: at the start of a line; 2: at the start of a line after a `\r`.
    state: u8,
    first_line_seen: bool,
}

impl BlockScan {
    /// A scan starting at the first byte of a head (inside its first line).
    pub(crate) fn head() -> Self {
        BlockScan {
            state: 0,
            first_line_seen: false,
        }
    }

    /// A scan starting at the start of a line, first line not reported (trailer sections).
    pub(crate) fn trailers() -> Self {
        BlockScan {
            state: 1,
            first_line_seen: true,
        }
    }

    /// Whether the first line has ended.
    pub(crate) fn first_line_seen(&self) -> bool {
        self.first_line_seen
    }

    /// Scans `data`, the bytes following those already scanned.
    pub(crate) fn scan(&mut self, data: &[u8]) -> Scan {
        let mut i = 0usize;
        loop {
            match self.state {
                0 => {
                    let Some(rest) = data.get(i..) else {
                        return Scan::More;
                    };
                    match memchr::memchr(b'\n', rest) {
                        None => return Scan::More,
                        Some(p) => {
                            i = i.saturating_add(p).saturating_add(1);
                            self.state = 1;
                            if !self.first_line_seen {
                                self.first_line_seen = true;
                                return Scan::FirstLine(i);
                            }
                        }
                    }
                }
                1 => match data.get(i) {
                    None => return Scan::More,
                    Some(b'\n') => return Scan::End(i.saturating_add(1)),
                    Some(b'\r') => {
                        self.state = 2;
                        i = i.saturating_add(1);
                    }
                    Some(_) => {
                        self.state = 0;
                        i = i.saturating_add(1);
                    }
                },
                _ => match data.get(i) {
                    None => return Scan::More,
                    Some(b'\n') => return Scan::End(i.saturating_add(1)),
                    Some(_) => {
                        self.state = 0;
                        i = i.saturating_add(1);
                    }
                },
            }
        }
    }
}

/// Answer of a check that may need more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Plausible.
    Yes,
    /// Not plausible.
    No,
    /// All bytes so far are plausible, more are needed to decide.
    NeedMore,
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte httparse accepts in a request target.
fn is_uri_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// Whether the bytes can start a request: a method token, space(s), a target byte.
pub(crate) fn request_prefix(bytes: impl Iterator<Item = u8>) -> Verdict {
    let mut method = 0usize;
    let mut spaces = 0usize;
    for b in bytes {
        if spaces == 0 {
            if b == b' ' && method > 0 {
                spaces = 1;
            } else if is_tchar(b) && method < MAX_METHOD {
                method += 1;
            } else {
                return Verdict::No;
            }
        } else if b == b' ' && spaces < MAX_SPACES {
            spaces += 1;
        } else {
            return if is_uri_byte(b) {
                Verdict::Yes
            } else {
                Verdict::No
            };
        }
    }
    Verdict::NeedMore
}

/// Whether the bytes can start a response: `HTTP/1.`, a digit, a space.
pub(crate) fn response_prefix(bytes: impl Iterator<Item = u8>) -> Verdict {
    const START: &[u8] = b"HTTP/1.";
    let mut n = 0usize;
    for b in bytes {
        let ok = match START.get(n) {
            Some(&want) => b == want,
            None if n == START.len() => b.is_ascii_digit(),
            None => b == b' ',
        };
        if !ok {
            return Verdict::No;
        }
        n += 1;
        if n == START.len() + 2 {
            return Verdict::Yes;
        }
    }
    Verdict::NeedMore
}

/// Whether `bytes` (at a line start, after lost sync) look like the start of a request line:
/// an upper-case method of 3 to 16 letters, a space, a target byte.
pub(crate) fn resync_request_candidate(bytes: &[u8]) -> Verdict {
    let mut method = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if method == i {
            if b.is_ascii_uppercase() && method < *RESYNC_METHOD.end() {
                method += 1;
                continue;
            }
            if b != b' ' || !RESYNC_METHOD.contains(&method) {
                return Verdict::No;
            }
        } else {
            return if is_uri_byte(b) {
                Verdict::Yes
            } else {
                Verdict::No
            };
        }
    }
    Verdict::NeedMore
}

/// Whether a first-line fragment holds a byte no request or status line can hold.
pub(crate) fn has_line_ctl(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| (b < 0x20 && b != b'\t' && b != b'\r') || b == 0x7f)
}

/// Longest suffix of `bytes` that is a proper prefix of `needle`.
pub(crate) fn partial_suffix(bytes: &[u8], needle: &[u8]) -> usize {
    let max = needle.len().saturating_sub(1).min(bytes.len());
    (1..=max)
        .rev()
        .find(|&n| {
            let start = bytes.len().saturating_sub(n);
            bytes.get(start..) == needle.get(..n)
        })
        .unwrap_or(0)
}

/// A printable excerpt: ASCII as is, `\r` `\n` `\t` `\\` escaped, other bytes as `\xNN`.
pub(crate) fn excerpt(bytes: impl Iterator<Item = u8>, max: usize) -> String {
    let mut s = String::new();
    excerpt_into(&mut s, bytes.take(max));
    s
}

/// Appends the printable form of `bytes` (see [`excerpt`]) to `s`.
pub(crate) fn excerpt_into(s: &mut String, bytes: impl Iterator<Item = u8>) {
    for b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                s.push_str("\\x");
                for nibble in [b >> 4, b & 0xf] {
                    s.push(HEX.get(usize::from(nibble)).map_or('?', |&h| char::from(h)));
                }
            }
        }
    }
}

/// Lenient httparse settings: a passive observer takes what browsers take.
fn parser_config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    c
}

/// Whether a complete first line (ending with `\n`) is a valid request line (`request`) or
/// status line.
pub(crate) fn first_line_ok(line: &[u8], request: bool) -> bool {
    let cfg = parser_config();
    let mut headers = [httparse::EMPTY_HEADER; 0];
    let r = if request {
        let mut req = httparse::Request::new(&mut headers);
        let r = cfg.parse_request(&mut req, line);
        if r.is_err() && req.method.is_some() && req.path.is_none() && !line.is_ascii() {
            // httparse rejects targets that are not UTF-8: check the line with them masked.
            let masked = mask_high(line, line.len());
            let mut headers = [httparse::EMPTY_HEADER; 0];
            let mut req = httparse::Request::new(&mut headers);
            cfg.parse_request(&mut req, &masked)
        } else {
            r
        }
    } else {
        let mut resp = httparse::Response::new(&mut headers);
        cfg.parse_response(&mut resp, line)
    };
    // A lone first line is `Partial`; `TooManyHeaders` means a header line followed.
    matches!(r, Ok(_) | Err(httparse::Error::TooManyHeaders))
}

/// A copy of `bytes` whose first `upto` bytes have their non-ASCII bytes replaced by `x`.
fn mask_high(bytes: &[u8], upto: usize) -> Vec<u8> {
    let mut masked = bytes.to_vec();
    if let Some(l) = masked.get_mut(..upto) {
        l.iter_mut().filter(|b| **b >= 0x80).for_each(|b| *b = b'x');
    }
    masked
}

/// The method and target of an HTTP/0.9 simple request line (`GET /path\r\n`), if it is one.
pub(crate) fn http09_request(line: &[u8]) -> Option<(String, String)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (method, target) = line.split_at_checked(memchr::memchr(b' ', line)?)?;
    let target = target.get(1..)?;
    if method != b"GET" || target.is_empty() || !target.iter().all(|&b| is_uri_byte(b)) {
        return None;
    }
    Some((
        "GET".to_owned(),
        String::from_utf8_lossy(target).into_owned(),
    ))
}

/// What a `Content-Length` header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Length {
    /// Absent.
    #[default]
    Absent,
    /// A valid length.
    Valid(u64),
    /// Not a number, or several different numbers.
    Invalid,
}

/// The headers of a head, summarised.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) host: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) transfer_encoding: Option<String>,
    pub(crate) length: Length,
    /// `Transfer-Encoding` is present and its last coding is `chunked`.
    pub(crate) chunked: bool,
}

/// `v` as a string, invalid UTF-8 replaced (U+FFFD). Header values are nearly always ASCII:
/// validating them whole is much cheaper than `from_utf8_lossy`'s chunk by chunk walk.
fn lossy(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(v).into_owned(),
    }
}

fn join(slot: &mut Option<String>, v: &[u8]) {
    match slot {
        Some(s) => {
            s.push_str(", ");
            s.push_str(&String::from_utf8_lossy(v));
        }
        None => *slot = Some(lossy(v)),
    }
}

/// Parses one `Content-Length` value (a number, or a list of equal numbers).
fn parse_length(v: &[u8]) -> Option<u64> {
    let mut out: Option<u64> = None;
    for part in v.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = part.iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        if out.is_some_and(|o| o != n) {
            return None;
        }
        out = Some(n);
    }
    out
}

fn summarise(headers: &[httparse::Header<'_>], cfg: &HttpConfig) -> Summary {
    let mut s = Summary::default();
    if cfg.headers == HeaderCapture::All {
        s.headers.reserve_exact(headers.len());
    }
    let mut te_last: Option<&[u8]> = None;
    for h in headers {
        let name = h.name;
        if cfg.headers.wants(name) {
            s.headers.push((name.to_owned(), lossy(h.value)));
        }
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        // Dispatch on the length first: most headers are none of these.
        match name.len() {
            4 if is("host") && s.host.is_none() => s.host = Some(lossy(h.value)),
            10 if is("user-agent") && s.user_agent.is_none() => s.user_agent = Some(lossy(h.value)),
            12 if is("content-type") && s.content_type.is_none() => {
                s.content_type = Some(lossy(h.value))
            }
            16 if is("content-encoding") => join(&mut s.content_encoding, h.value),
            17 if is("transfer-encoding") => {
                join(&mut s.transfer_encoding, h.value);
                if h.value
                    .iter()
                    .any(|b| !b.is_ascii_whitespace() && *b != b',')
                {
                    te_last = Some(h.value);
                }
            }
            14 if is("content-length") => {
                s.length = match (s.length, parse_length(h.value)) {
                    (Length::Invalid, _) | (_, None) => Length::Invalid,
                    (Length::Absent, Some(n)) => Length::Valid(n),
                    (Length::Valid(a), Some(b)) if a == b => Length::Valid(a),
                    (Length::Valid(_), Some(_)) => Length::Invalid,
                };
            }
            _ => {}
        }
    }
    s.chunked = te_last.is_some_and(|v| {
        v.rsplit(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .find(|c| !c.is_empty())
            .is_some_and(|c| {
                let c = c
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or_default()
                    .trim_ascii();
                c.eq_ignore_ascii_case(b"chunked")
            })
    });
    s
}

/// What httparse made of a head, owned.
#[derive(Debug)]
pub(crate) enum Parsed<T> {
    /// A complete, valid head.
    Complete(T),
    /// The head is incomplete, or invalid (with the reason); the fields parsed so far.
    Failed(Partial, Option<&'static str>),
}

/// The first-line fields of a head that did not parse completely.
#[derive(Debug, Clone, Default)]
pub(crate) struct Partial {
    pub(crate) method: Option<String>,
    pub(crate) uri: Option<String>,
    pub(crate) version: Option<u8>,
    pub(crate) status: Option<u16>,
    pub(crate) reason: Option<String>,
}

/// A complete request head.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) version: u8,
    pub(crate) summary: Summary,
}

/// A complete response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) version: u8,
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) summary: Summary,
}

/// One parse attempt with a given number of header slots.
enum Attempt<T> {
    Done(Parsed<T>),
    TooManyHeaders,
}

/// `parsed` is what httparse sees: `original`, or a copy of it with non-UTF-8 bytes masked in
/// the request line (the target is then taken from `original`).
fn attempt_request<'b>(
    parsed: &'b [u8],
    original: &[u8],
    headers: &mut [httparse::Header<'b>],
    cfg: &HttpConfig,
) -> Attempt<RequestHead> {
    let mut req = httparse::Request::new(headers);
    let r = parser_config().parse_request(&mut req, parsed);
    let target = |p: &str| {
        if std::ptr::eq(parsed, original) {
            return p.to_owned();
        }
        let off = (p.as_ptr() as usize).wrapping_sub(parsed.as_ptr() as usize);
        original
            .get(off..off.saturating_add(p.len()))
            .map(lossy)
            .unwrap_or_default()
    };
    let partial = || Partial {
        method: req.method.map(str::to_owned),
        uri: req.path.map(target),
        version: req.version,
        ..Partial::default()
    };
    match r {
        Ok(httparse::Status::Complete(_)) => match (req.method, req.path, req.version) {
            (Some(method), Some(uri), Some(version)) => {
                Attempt::Done(Parsed::Complete(RequestHead {
                    method: method.to_owned(),
                    uri: target(uri),
                    version,
                    summary: summarise(req.headers, cfg),
                }))
            }
            _ => Attempt::Done(Parsed::Failed(partial(), Some("incomplete request line"))),
        },
        Ok(httparse::Status::Partial) => Attempt::Done(Parsed::Failed(partial(), None)),
        Err(httparse::Error::TooManyHeaders) => Attempt::TooManyHeaders,
        Err(e) => Attempt::Done(Parsed::Failed(partial(), Some(error_text(e)))),
    }
}

fn attempt_response<'b>(
    head: &'b [u8],
    headers: &mut [httparse::Header<'b>],
    cfg: &HttpConfig,
) -> Attempt<ResponseHead> {
    let mut resp = httparse::Response::new(headers);
    let r = parser_config().parse_response(&mut resp, head);
    let partial = || Partial {
        version: resp.version,
        status: resp.code,
        reason: resp.reason.map(str::to_owned),
        ..Partial::default()
    };
    match r {
        Ok(httparse::Status::Complete(_)) => match (resp.version, resp.code) {
            (Some(version), Some(status)) => Attempt::Done(Parsed::Complete(ResponseHead {
                version,
                status,
                reason: resp.reason.unwrap_or_default().to_owned(),
                summary: summarise(resp.headers, cfg),
            })),
            _ => Attempt::Done(Parsed::Failed(partial(), Some("incomplete status line"))),
        },
        Ok(httparse::Status::Partial) => Attempt::Done(Parsed::Failed(partial(), None)),
        Err(httparse::Error::TooManyHeaders) => Attempt::TooManyHeaders,
        Err(e) => Attempt::Done(Parsed::Failed(partial(), Some(error_text(e)))),
    }
}

fn error_text(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid new line",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// Runs `attempt` with the stack header array, then with `max_headers` slots if needed.
fn with_headers<'b, T>(
    cfg: &HttpConfig,
    mut attempt: impl FnMut(&mut [httparse::Header<'b>]) -> Attempt<T>,
) -> Parsed<T> {
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let stack = stack
        .get_mut(..cfg.max_headers.min(STACK_HEADERS))
        .unwrap_or_default();
    match attempt(stack) {
        Attempt::Done(p) => p,
        Attempt::TooManyHeaders if cfg.max_headers > STACK_HEADERS => {
            let mut heap = vec![httparse::EMPTY_HEADER; cfg.max_headers];
            match attempt(&mut heap) {
                Attempt::Done(p) => p,
                Attempt::TooManyHeaders => {
                    Parsed::Failed(Partial::default(), Some("too many headers"))
                }
            }
        }
        Attempt::TooManyHeaders => Parsed::Failed(Partial::default(), Some("too many headers")),
    }
}

/// Parses a request head (complete, or partial to salvage its first-line fields).
pub(crate) fn parse_request(head: &[u8], cfg: &HttpConfig) -> Parsed<RequestHead> {
    let parsed = with_headers(cfg, |h| attempt_request(head, head, h, cfg));
    let Parsed::Failed(partial, _) = &parsed else {
        return parsed;
    };
    let line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    let non_ascii_line = head.get(..line_end).is_some_and(|l| !l.is_ascii());
    if partial.method.is_none() || partial.uri.is_some() || !non_ascii_line {
        return parsed;
    }
    // httparse rejects a target that is not UTF-8: parse a copy with those bytes masked.
    let masked = mask_high(head, line_end);
    with_headers(cfg, |h| attempt_request(&masked, head, h, cfg))
}

/// Parses a response head (complete, or partial to salvage its status-line fields).
pub(crate) fn parse_response(head: &[u8], cfg: &HttpConfig) -> Parsed<ResponseHead> {
    with_headers(cfg, |h| attempt_response(head, h, cfg))
}

/// Parses a complete trailer section (ending with its empty line).
pub(crate) fn parse_trailers(
    block: &[u8],
    cfg: &HttpConfig,
) -> Result<Vec<(String, String)>, &'static str> {
    let owned = |hs: &[httparse::Header<'_>]| {
        hs.iter()
            .map(|h| (h.name.to_owned(), lossy(h.value)))
            .collect::<Vec<_>>()
    };
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let stack = stack
        .get_mut(..cfg.max_headers.min(STACK_HEADERS))
        .unwrap_or_default();
    match httparse::parse_headers(block, stack) {
        Ok(httparse::Status::Complete((_, hs))) => return Ok(owned(hs)),
        Ok(httparse::Status::Partial) => return Err("incomplete trailers"),
        Err(httparse::Error::TooManyHeaders) if cfg.max_headers > STACK_HEADERS => {}
        Err(e) => return Err(error_text(e)),
    }
    let mut heap = vec![httparse::EMPTY_HEADER; cfg.max_headers];
    match httparse::parse_headers(block, &mut heap) {
        Ok(httparse::Status::Complete((_, hs))) => Ok(owned(hs)),
        Ok(httparse::Status::Partial) => Err("incomplete trailers"),
        Err(e) => Err(error_text(e)),
    }
}

/// Parses a complete chunk-size line (ending with `\n`; a bare `\n` is tolerated).
pub(crate) fn parse_chunk_line(line: &[u8]) -> Option<u64> {
    let parse = |l: &[u8]| match httparse::parse_chunk_size(l) {
        Ok(httparse::Status::Complete((_, size))) => Some(size),
        _ => None,
    };
    if line.ends_with(b"\r\n") {
        parse(line)
    } else {
        let body = line.strip_suffix(b"\n")?;
        let mut fixed = Vec::with_capacity(body.len().saturating_add(2));
        fixed.extend_from_slice(body);
        fixed.extend_from_slice(b"\r\n");
        parse(&fixed)
    }
}
