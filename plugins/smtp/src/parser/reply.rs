//! Reading one server reply line: `ddd text`, `ddd-text` (more lines follow) or a bare `ddd`.

/// One reply line, borrowed from the line (CRLF already removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyLine<'a> {
    /// The three-digit code.
    pub(crate) code: u16,
    /// `ddd-…`: more lines of the same reply follow.
    pub(crate) more: bool,
    /// The text after the code and its separator.
    pub(crate) text: &'a [u8],
}

/// Parses a reply line. The first digit must be 1–5 (RFC 5321 §4.2); anything else is not a
/// reply.
pub(crate) fn parse_reply_line(line: &[u8]) -> Option<ReplyLine<'_>> {
    let (digits, rest) = line.split_at_checked(3)?;
    let code = code_of(digits)?;
    let (more, text) = match rest.split_first() {
        None => (false, rest),
        Some((b' ', text)) => (false, text),
        Some((b'-', text)) => (true, text),
        Some((b'\r', _)) => (false, &[][..]),
        Some(_) => return None,
    };
    Some(ReplyLine { code, more, text })
}

fn code_of(digits: &[u8]) -> Option<u16> {
    match digits {
        [first @ b'1'..=b'5', second @ b'0'..=b'9', third @ b'0'..=b'9'] => Some(
            u16::from(first - b'0') * 100 + u16::from(second - b'0') * 10 + u16::from(third - b'0'),
        ),
        _ => None,
    }
}

/// True when `bytes` (the start of a piece after a gap) begins like a reply line.
pub(crate) fn starts_like_reply(bytes: &[u8]) -> bool {
    bytes.get(..3).and_then(code_of).is_some()
        && matches!(bytes.get(3), Some(b' ' | b'-' | b'\r' | b'\n'))
}

/// True when the first byte a server sends can begin a reply (a digit 1–5; a capture that
/// starts mid-session may begin with a 354 or 334). Spots TLS, SSH or HTTP servers at once.
pub(crate) fn can_start_reply(first: u8) -> bool {
    matches!(first, b'1'..=b'5')
}
