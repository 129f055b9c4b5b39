//! The parser's public data model: its configuration and the transaction records it produces.

/// Which request/response headers are copied into [`Request::headers`] / [`Response::headers`].
///
/// The dedicated fields (host, user agent, content type, ...) are filled whatever this says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HeaderCapture {
    /// Every header, in wire order.
    #[default]
    All,
    /// No header.
    None,
    /// Only the headers whose name is one of these (ASCII case-insensitive), in wire order.
    Names(Vec<String>),
}

impl HeaderCapture {
    /// Whether a header called `name` is to be copied.
    pub fn wants(&self, name: &str) -> bool {
        match self {
            HeaderCapture::All => true,
            HeaderCapture::None => false,
            HeaderCapture::Names(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }
}

/// Settings shared by every [`Session`](super::Session) (hand them over in an `Arc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Decode `Content-Encoding: gzip` / `x-gzip` / `deflate` bodies to report their decoded size.
    /// Default: `false`.
    pub decode_bodies: bool,
    /// Compute the SHA-256 of every body (after de-chunking, before content decoding).
    /// Default: `true`.
    pub hash_bodies: bool,
    /// Most bytes buffered for one message head (request/status line and headers), and for a
    /// chunked body's trailer section; a longer head is flagged `head_too_large`.
    /// Default: 64 KiB.
    pub max_head: usize,
    /// Most header lines accepted in one head (a head with more is a parse error). Default: 1024.
    pub max_headers: usize,
    /// Most decoded bytes produced per body when decoding; decoding stops there
    /// ([`Body::decode_capped`]). Default: 64 MiB.
    pub max_decoded: u64,
    /// Keep up to this many bytes of every body (after de-chunking, still content-coded) in
    /// [`Body::captured`]; `None` keeps nothing. Default: `None`.
    pub capture_bodies: Option<u64>,
    /// Which headers to copy into the records. Default: all.
    pub headers: HeaderCapture,
    /// Most transactions waiting for their response in one session (pipelined requests, or a
    /// capture with only the client side); beyond it the oldest is reported without response.
    /// Default: 1024.
    pub max_pending: usize,
    /// Length in bytes of the printable excerpts of unparseable data. Default: 64.
    pub excerpt_len: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            decode_bodies: false,
            hash_bodies: true,
            max_head: 64 * 1024,
            max_headers: 1024,
            max_decoded: 64 * 1024 * 1024,
            capture_bodies: None,
            headers: HeaderCapture::All,
            max_pending: 1024,
            excerpt_len: 64,
        }
    }
}

/// How a message body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFraming {
    /// The message has no body (request without length, HEAD response, 1xx/204/304, ...).
    #[default]
    None,
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Ended by the end of the connection (response without length).
    CloseDelimited,
}

/// What was seen of one message body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// How the body was delimited.
    pub framing: BodyFraming,
    /// Bytes on the wire, chunked framing and trailers included, missing bytes included.
    pub wire_len: u64,
    /// Bytes after de-chunking (equal to `wire_len` unless chunked), missing bytes included.
    pub len: u64,
    /// Bytes of the body that were never captured (gaps); included in `wire_len` and `len`.
    pub missing: u64,
    /// Size after content decoding, when the body was decoded (see `HttpConfig::decode_bodies`);
    /// a partial count when decoding stopped early (`decode_capped`, `decode_error`).
    pub decoded_len: Option<u64>,
    /// Decoding stopped at `HttpConfig::max_decoded` bytes.
    pub decode_capped: bool,
    /// Why decoding failed or stopped (corrupt data, "gap in body", ...).
    pub decode_error: Option<String>,
    /// Lower-case hex SHA-256 of the de-chunked body; `None` when the body is empty, has missing
    /// bytes, or hashing is off.
    pub sha256: Option<String>,
    /// The first bytes of the de-chunked body, when capture is on; it stops at the first gap.
    pub captured: Option<Vec<u8>>,
    /// `captured` is shorter than the body (cap reached or gap).
    pub capture_truncated: bool,
    /// Number of chunks with data (chunked bodies).
    pub chunks: u64,
    /// Trailer fields of a chunked body, in wire order (not filtered by `HttpConfig::headers`).
    pub trailers: Vec<(String, String)>,
}

/// A parsed request head and its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Method, e.g. `GET`; empty if unknown (head cut before it).
    pub method: String,
    /// Request target as sent; empty if unknown. Non-UTF-8 bytes are replaced (U+FFFD).
    pub uri: String,
    /// `1.0`, `1.1`, `0.9` (simple request without version), or empty if unknown.
    pub version: String,
    /// `Host` header.
    pub host: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// `Content-Encoding` header(s), comma-joined.
    pub content_encoding: Option<String>,
    /// `Transfer-Encoding` header(s), comma-joined.
    pub transfer_encoding: Option<String>,
    /// `Content-Length` header, when valid.
    pub content_length: Option<u64>,
    /// Headers (name, value) in wire order, as selected by `HttpConfig::headers`; values with
    /// non-UTF-8 bytes have them replaced (U+FFFD).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

/// A parsed (final) response head and its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// `1.0`, `1.1`, `0.9` (response to a simple request: no status line), or empty if unknown.
    pub version: String,
    /// Status code; 0 if unknown (HTTP/0.9 response, head cut before it).
    pub status: u16,
    /// Reason phrase (empty if absent or not printable ASCII).
    pub reason: String,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// `Content-Encoding` header(s), comma-joined.
    pub content_encoding: Option<String>,
    /// `Transfer-Encoding` header(s), comma-joined.
    pub transfer_encoding: Option<String>,
    /// `Content-Length` header, when valid.
    pub content_length: Option<u64>,
    /// Headers (name, value) in wire order, as selected by `HttpConfig::headers`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

/// Capture times of a transaction, in nanoseconds since the epoch (the `ts` of the data calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// First byte of the request.
    pub request_start: Option<u64>,
    /// Last byte of the request (end of its body, or of its head).
    pub request_end: Option<u64>,
    /// First byte of the final response (interim 1xx responses are not counted).
    pub response_start: Option<u64>,
    /// Last byte of the response.
    pub response_end: Option<u64>,
    /// `response_start - request_end`, when both are known and in that order.
    pub latency: Option<u64>,
}

/// What went unusual in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flags {
    /// Bytes are missing inside the request or the response (see `Body::missing`, or a head cut
    /// by a gap).
    pub gap: bool,
    /// The request or the response was cut by the end of the session.
    pub truncated: bool,
    /// A side did not speak HTTP at all (see `Transaction::request_excerpt` / `response_excerpt`);
    /// that side was not parsed further.
    pub not_http: bool,
    /// Why part of the transaction could not be parsed, prefixed by `request:` / `response:`
    /// (several reasons are joined by `; `).
    pub parse_error: Option<String>,
    /// Interim (1xx, usually `100 Continue`) responses came before the final response.
    pub interim_100: bool,
    /// `101 Switching Protocols`: the rest of the session is another protocol and was not parsed.
    pub upgraded: bool,
    /// `CONNECT` answered with 2xx: the rest of the session is a tunnel and was not parsed.
    pub tunnel: bool,
    /// A body could not be decoded (corrupt gzip/deflate data); see `Body::decode_error`.
    pub body_decode_error: bool,
    /// A head exceeded `HttpConfig::max_head`.
    pub head_too_large: bool,
    /// Bytes skipped, while looking for a message start, just before this transaction's messages
    /// (or, for a record made only of them, at the end of the session).
    pub resync_skipped_bytes: u64,
    /// Requests were found in the server-to-client stream (capture started midstream, or the
    /// host's idea of the client was wrong) and the roles were swapped.
    pub roles_swapped: bool,
}

impl Flags {
    /// Appends a parse error reason.
    pub fn add_error(&mut self, reason: &str) {
        match &mut self.parse_error {
            Some(s) => {
                s.push_str("; ");
                s.push_str(reason);
            }
            None => self.parse_error = Some(reason.to_owned()),
        }
    }
}

/// One request/response exchange (or a lone request, a lone response, or unparseable data).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transaction {
    /// Position of the transaction in its session, from 0 (order in which they were opened).
    pub seq: u64,
    /// The request; `None` for a response without request, or a client that did not speak HTTP.
    pub request: Option<Request>,
    /// The final response; `None` when none came (or it did not parse as HTTP).
    pub response: Option<Response>,
    /// Printable excerpt of the first request-side bytes that could not be parsed
    /// (`not_http`, skipped bytes), with `\r`, `\n`, `\t`, `\\` and `\xNN` escapes.
    pub request_excerpt: Option<String>,
    /// Likewise for the response side.
    pub response_excerpt: Option<String>,
    /// Timings.
    pub timing: Timing,
    /// Flags.
    pub flags: Flags,
}
