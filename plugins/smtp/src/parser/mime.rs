//! The header fields reported for a message, read by `mail-parser` from the message's header
//! block as soon as the blank line ending it arrives (see [`parts`](super::parts)), and held
//! until the message ends.

use std::sync::LazyLock;

use mail_parser::{Address, HeaderValue, MessageParser};

use super::record::Message;

/// Most addresses listed per To/Cc field.
const MAX_ADDRESSES: usize = 1024;
/// Longest header value kept, in bytes.
const MAX_HEADER: usize = 4096;

/// The header parser: the MIME headers, the headers reported, and X-Mailer and User-Agent as
/// (RFC 2047 decoded) text; every other header is skipped (Date, Message-ID and In-Reply-To are
/// reported as written, from their raw bytes). Built once; parsing does not mutate it.
pub(crate) static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_minimal_headers()
        .with_message_ids()
        .header_text("X-Mailer")
        .header_text("User-Agent")
        .default_header_ignore()
});

/// The reported header fields of a message, kept from its header block to its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    subject: Option<String>,
    date: Option<String>,
    message_id: Option<String>,
    in_reply_to: Option<String>,
    from: Option<String>,
    reply_to: Option<String>,
    to: Vec<String>,
    cc: Vec<String>,
    user_agent: Option<String>,
}

impl Fields {
    /// Moves the fields into `message`.
    pub(crate) fn apply(self, message: &mut Message) {
        message.subject = self.subject;
        message.date = self.date;
        message.message_id = self.message_id;
        message.in_reply_to = self.in_reply_to;
        message.from = self.from;
        message.reply_to = self.reply_to;
        message.to = self.to;
        message.cc = self.cc;
        message.user_agent = self.user_agent;
    }
}

/// The reported header fields of a message's parsed header block.
pub(crate) fn fields(parsed: &mail_parser::Message<'_>) -> Fields {
    Fields {
        subject: parsed.subject().map(|subject| bounded(subject, MAX_HEADER)),
        date: raw_header(parsed, "Date"),
        message_id: raw_header(parsed, "Message-ID"),
        in_reply_to: raw_header(parsed, "In-Reply-To"),
        from: parsed.from().and_then(|from| join(from)),
        reply_to: parsed.reply_to().and_then(|to| join(to)),
        to: parsed.all_to().flat_map(list).take(MAX_ADDRESSES).collect(),
        cc: parsed.all_cc().flat_map(list).take(MAX_ADDRESSES).collect(),
        user_agent: text_header(parsed, "X-Mailer").or_else(|| text_header(parsed, "User-Agent")),
    }
}

/// A header as written (folding removed, trimmed), when present and not empty.
fn raw_header(parsed: &mail_parser::Message<'_>, name: &'static str) -> Option<String> {
    let raw = parsed.header_raw(name)?;
    let unfolded: String = raw.chars().filter(|&c| c != '\r' && c != '\n').collect();
    let trimmed = unfolded.trim();
    (!trimmed.is_empty()).then(|| bounded(trimmed, MAX_HEADER))
}

/// A text header, decoded.
fn text_header(parsed: &mail_parser::Message<'_>, name: &'static str) -> Option<String> {
    match parsed.header(name)? {
        HeaderValue::Text(text) => Some(bounded(text.trim(), MAX_HEADER)),
        HeaderValue::TextList(list) => Some(bounded(list.join(", ").trim(), MAX_HEADER)),
        _ => None,
    }
    .filter(|text| !text.is_empty())
}

/// Each address of an address header, formatted `Name <address>` or `address`.
fn list(address: &Address<'_>) -> Vec<String> {
    address
        .iter()
        .filter_map(|addr| {
            let text = match (addr.name(), addr.address()) {
                (Some(name), Some(address)) => format!("{name} <{address}>"),
                (None, Some(address)) => address.to_owned(),
                (Some(name), None) => name.to_owned(),
                (None, None) => return None,
            };
            Some(bounded(&text, MAX_HEADER))
        })
        .take(MAX_ADDRESSES)
        .collect()
}

/// All addresses of a header joined with `, `.
fn join(address: &Address<'_>) -> Option<String> {
    let all = list(address);
    (!all.is_empty()).then(|| bounded(&all.join(", "), MAX_HEADER))
}

/// Copies at most `max` bytes of `text`, cut on a character boundary.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while end > 0 && !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or_default().to_owned()
}
