//! What to do with one MIME entity once its header block is read: follow a multipart, hash an
//! attachment, or let a text body go by. Each header block is read by `mail-parser`; the bytes
//! of bodies are handled by [`stream`](super::stream).

use mail_parser::MimeHeaders;

use super::boundary::{MAX_BOUNDARY, MAX_DEPTH};
use super::command::trim;
use super::content::hex;
use super::decode::BodyDigest;
use super::mime::{self, bounded, Fields, PARSER};
use super::record::Attachment;

/// Most MIME entities looked at per message (a bound on work for hostile messages).
pub(crate) const MAX_PARTS: usize = 4096;
/// Most attachments listed per message.
pub(crate) const MAX_ATTACHMENTS: usize = 1024;
/// Longest file name or content type kept, in bytes.
const MAX_TEXT: usize = 1024;

/// What an entity's body is.
pub(crate) enum Plan {
    /// A multipart whose parts are delimited by this boundary.
    Multipart(Vec<u8>),
    /// A leaf listed as an attachment: its body is decoded into its hash.
    Attachment(Box<Leaf>),
    /// Nothing to report: a text body, a multipart without a usable boundary, or a message
    /// whose top level is plain text.
    Ignore,
}

/// What reading one header block gave.
pub(crate) struct Planned {
    /// What to do with the body.
    pub(crate) plan: Plan,
    /// The reported header fields, for the message's own header block.
    pub(crate) fields: Option<Fields>,
    /// A multipart boundary was too long to follow.
    pub(crate) boundary_too_long: bool,
}

/// Reads an entity's header block. `top`: the message's own headers (their fields are
/// reported, and a plain-text message is not walked at all); `depth`: the multiparts it is in.
pub(crate) fn plan(head: &[u8], top: bool, depth: usize) -> Planned {
    let mut planned = Planned {
        plan: Plan::Ignore,
        fields: None,
        boundary_too_long: false,
    };
    let Some(headers) = PARSER.parse_headers(head) else {
        return planned;
    };
    let kind = headers.content_type();
    if top {
        planned.fields = Some(mime::fields(&headers));
        let plain_text = kind.is_none_or(|kind| kind.ctype().eq_ignore_ascii_case("text"));
        if plain_text && headers.content_disposition().is_none() {
            return planned;
        }
    }
    let ctype = kind.map(|kind| kind.ctype().to_ascii_lowercase());
    let subtype = kind
        .and_then(|kind| kind.subtype())
        .map(str::to_ascii_lowercase);
    if ctype.as_deref() == Some("multipart") {
        if let Some(boundary) = kind.and_then(|kind| kind.attribute("boundary")) {
            if depth < MAX_DEPTH && !boundary.is_empty() {
                if boundary.len() > MAX_BOUNDARY {
                    planned.boundary_too_long = true;
                } else {
                    planned.plan = Plan::Multipart(boundary.as_bytes().to_vec());
                }
            }
        }
        return planned;
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
        return planned;
    }
    let encoding = headers
        .content_transfer_encoding()
        .map_or(&b""[..], |encoding| trim(encoding.as_bytes()));
    planned.plan = Plan::Attachment(Box::new(Leaf {
        filename: filename.map(|name| bounded(name, MAX_TEXT)),
        content_type: ctype.map(|ctype| match subtype {
            Some(subtype) => bounded(&format!("{ctype}/{subtype}"), MAX_TEXT),
            None => bounded(&ctype, MAX_TEXT),
        }),
        digest: BodyDigest::new(encoding),
    }));
    planned
}

/// An attachment whose body is streaming through its decoder into its hash.
pub(crate) struct Leaf {
    filename: Option<String>,
    content_type: Option<String>,
    digest: BodyDigest,
}

impl Leaf {
    /// The next body bytes (transfer-encoded).
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.digest.feed(bytes);
    }

    /// The attachment, with its hash when `whole` (its body was seen exactly).
    pub(crate) fn finish(self, whole: bool) -> Attachment {
        let (size, digest) = self.digest.finish();
        Attachment {
            filename: self.filename,
            content_type: self.content_type,
            size,
            sha256: whole.then(|| hex(&digest)),
        }
    }

    /// Bytes held (at most: a quoted-printable decoder is counted whatever the encoding), for
    /// the memory tests.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        std::mem::size_of::<Leaf>()
            + std::mem::size_of::<super::qp::QuotedPrintable>()
            + self.filename.as_ref().map_or(0, String::capacity)
            + self.content_type.as_ref().map_or(0, String::capacity)
    }
}
