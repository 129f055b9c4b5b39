//! The former whole-message walker, kept as an oracle: it read a message kept whole once it
//! was over. Random MIME messages, fed to the streaming parser in random pieces (with gaps and
//! cut ends), must give what this gives on the whole bytes.

use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{MessageParser, MimeHeaders};
use memchr::memchr;
use memchr::memmem;
use sha2::{Digest, Sha256};

use crate::parser::command::trim;
use crate::parser::content::hex;
use crate::parser::decode::BodyDigest;
use crate::parser::mime::{bounded, fields, Fields, PARSER};
use crate::parser::Attachment;

const MAX_DEPTH: usize = 16;
const MAX_PARTS: usize = 4096;
const MAX_ATTACHMENTS: usize = 1024;
const MAX_TEXT: usize = 1024;

/// What the former `mime::apply` found in `raw`, the message's first bytes.
pub(super) fn oracle(
    raw: &[u8],
    intact: usize,
    complete: bool,
) -> (Option<Fields>, Vec<Attachment>) {
    let Some(headers) = PARSER.parse_headers(raw) else {
        return (None, Vec::new());
    };
    let found = fields(&headers);
    let plain_text = headers
        .content_type()
        .is_none_or(|kind| kind.ctype().eq_ignore_ascii_case("text"));
    if plain_text && headers.content_disposition().is_none() {
        return (Some(found), Vec::new());
    }
    (
        Some(found),
        Walk::attachments(&PARSER, raw, complete, intact),
    )
}

/// The former whole-body decoding.
fn body_digest(encoding: &[u8], body: &[u8]) -> (u64, [u8; 32]) {
    if encoding.eq_ignore_ascii_case(b"base64") {
        let mut digest = BodyDigest::new(b"base64");
        digest.feed(body);
        return digest.finish();
    }
    if encoding.eq_ignore_ascii_case(b"quoted-printable") {
        if let Some(decoded) = quoted_printable_decode(body) {
            return (decoded.len() as u64, Sha256::digest(&decoded).into());
        }
    }
    (body.len() as u64, Sha256::digest(body).into())
}

/// The state of one walk.
struct Walk<'a> {
    parser: &'a MessageParser,
    raw: &'a [u8],
    /// `raw` is the whole message exactly.
    complete: bool,
    /// Bytes of `raw` known to be exact (before the first gap).
    intact: usize,
    parts: usize,
    found: Vec<Attachment>,
}

impl<'a> Walk<'a> {
    /// Lists the attachments of `raw` (a message, or its first bytes): `complete` says `raw` is
    /// the whole message; otherwise attachments not seen to end before `intact` get no hash.
    fn attachments(
        parser: &'a MessageParser,
        raw: &'a [u8],
        complete: bool,
        intact: usize,
    ) -> Vec<Attachment> {
        let mut walk = Walk {
            parser,
            raw,
            complete,
            intact,
            parts: 0,
            found: Vec::new(),
        };
        walk.entity(0, raw.len(), 0);
        walk.found
    }

    /// One MIME entity, `raw[start..end]`: headers, then a body that is either a multipart
    /// (walked) or a leaf (an attachment or a text body).
    fn entity(&mut self, start: usize, end: usize, depth: usize) {
        self.parts = self.parts.saturating_add(1);
        if self.parts > MAX_PARTS || self.found.len() >= MAX_ATTACHMENTS {
            return;
        }
        let entity = self.raw.get(start..end).unwrap_or_default();
        let (header_len, body_start) = split_headers(entity);
        let Some(headers) = self
            .parser
            .parse_headers(entity.get(..header_len).unwrap_or_default())
        else {
            return;
        };
        let kind = headers.content_type();
        let ctype = kind.map(|kind| kind.ctype().to_ascii_lowercase());
        let subtype = kind
            .and_then(|kind| kind.subtype())
            .map(str::to_ascii_lowercase);
        let body_start = start.saturating_add(body_start).min(end);
        if ctype.as_deref() == Some("multipart") {
            if let Some(boundary) = kind.and_then(|kind| kind.attribute("boundary")) {
                if depth < MAX_DEPTH && !boundary.is_empty() {
                    for (part_start, part_end) in
                        parts(self.raw, body_start, end, boundary.as_bytes())
                    {
                        self.entity(part_start, part_end, depth.saturating_add(1));
                    }
                }
            }
            return;
        }
        let filename = headers.attachment_name();
        let attachment_disposition = headers
            .content_disposition()
            .is_some_and(|disposition| disposition.ctype().eq_ignore_ascii_case("attachment"));
        let text_body = ctype.as_deref().is_none_or(|ctype| ctype == "text")
            && subtype
                .as_deref()
                .is_none_or(|sub| sub == "plain" || sub == "html");
        if text_body && filename.is_none() && !attachment_disposition {
            return;
        }
        let body = self.raw.get(body_start..end).unwrap_or_default();
        let encoding = headers
            .content_transfer_encoding()
            .map_or(&b""[..], |encoding| trim(encoding.as_bytes()));
        let (size, digest) = body_digest(encoding, body);
        let whole = self.complete || end < self.intact;
        self.found.push(Attachment {
            filename: filename.map(|name| bounded(name, MAX_TEXT)),
            content_type: ctype.map(|ctype| match subtype {
                Some(subtype) => bounded(&format!("{ctype}/{subtype}"), MAX_TEXT),
                None => bounded(&ctype, MAX_TEXT),
            }),
            size,
            sha256: whole.then(|| hex(&digest)),
        });
    }
}

/// Where an entity's headers end and its body starts (after the first empty line).
fn split_headers(entity: &[u8]) -> (usize, usize) {
    if entity.starts_with(b"\r\n") {
        return (0, 2);
    }
    if entity.starts_with(b"\n") {
        return (0, 1);
    }
    let crlf =
        memmem::find(entity, b"\n\r\n").map(|at| (at.saturating_add(1), at.saturating_add(3)));
    let lf = memmem::find(entity, b"\n\n").map(|at| (at.saturating_add(1), at.saturating_add(2)));
    match (crlf, lf) {
        (Some(crlf), Some(lf)) => crlf.min(lf),
        (Some(found), None) | (None, Some(found)) => found,
        (None, None) => (entity.len(), entity.len()),
    }
}

/// The parts of a multipart body `raw[start..end]` (RFC 2046 §5.1.1): the bytes between
/// delimiter lines `--boundary`, each without the line break that precedes the next delimiter.
/// The preamble and epilogue are skipped; a last part without a closing delimiter (a message
/// that was cut) runs to `end`.
fn parts(raw: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let body = raw.get(start..end).unwrap_or_default();
    let mut delimiter = Vec::with_capacity(boundary.len().saturating_add(2));
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delimiter);
    let mut found = Vec::new();
    let mut open: Option<usize> = None;
    let mut from = 0usize;
    while let Some(at) = next_delimiter(body, from, &finder, delimiter.len()) {
        if let Some(part_start) = open.take() {
            let mut part_end = at;
            if at > 0 && body.get(at.saturating_sub(1)) == Some(&b'\n') {
                part_end = part_end.saturating_sub(1);
                if body.get(part_end.saturating_sub(1)) == Some(&b'\r') && part_end > part_start {
                    part_end = part_end.saturating_sub(1);
                }
            }
            found.push((
                start.saturating_add(part_start),
                start.saturating_add(part_end.max(part_start)),
            ));
            if found.len() >= MAX_PARTS {
                return found;
            }
        }
        let after = at.saturating_add(delimiter.len());
        let tail = body.get(after..).unwrap_or_default();
        if tail.starts_with(b"--") {
            return found;
        }
        match memchr(b'\n', tail) {
            Some(newline) => {
                let next = after.saturating_add(newline).saturating_add(1);
                open = Some(next);
                from = next;
            }
            None => return found,
        }
    }
    if let Some(part_start) = open {
        found.push((start.saturating_add(part_start), end));
    }
    found
}

/// The next delimiter line at or after `from`: at a line start, and followed by `--`, spaces
/// or the end of the line (so that `--abc` does not match inside `--abcdef`).
fn next_delimiter(
    body: &[u8],
    mut from: usize,
    finder: &memmem::Finder<'_>,
    len: usize,
) -> Option<usize> {
    loop {
        let at = from.saturating_add(finder.find(body.get(from..)?)?);
        let line_start = at == 0 || body.get(at.saturating_sub(1)) == Some(&b'\n');
        let follows = body.get(at.saturating_add(len)).copied();
        let ends = matches!(follows, None | Some(b'-' | b'\r' | b'\n' | b' ' | b'\t'));
        if line_start && ends {
            return Some(at);
        }
        from = at.saturating_add(1);
    }
}
