//! Reading one client command line: the verb, its argument, and the address inside MAIL FROM /
//! RCPT TO. Pure functions over byte slices; no state.

/// One client command, borrowed from its line (CRLF already removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// HELO (`extended == false`) or EHLO with its argument (trimmed).
    Helo { extended: bool, name: &'a [u8] },
    /// MAIL with everything after the verb (`FROM:<…> params`).
    Mail { argument: &'a [u8] },
    /// RCPT with everything after the verb (`TO:<…> params`).
    Rcpt { argument: &'a [u8] },
    /// DATA without an argument.
    Data,
    /// `BDAT <size> [LAST]` with a valid size.
    Bdat { size: u64, last: bool },
    /// AUTH; `mechanism` is `None` when the name is not a valid SASL mechanism name. Any initial
    /// response is deliberately not returned.
    Auth { mechanism: Option<&'a [u8]> },
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
    /// STARTTLS.
    StartTls,
    /// A known command with a malformed argument (`BDAT x`, `DATA x`): the server will refuse it.
    Malformed,
    /// NOOP, VRFY, EXPN, HELP, ETRN, unknown verbs, empty lines: answered by the server, otherwise
    /// ignored.
    Other,
}

/// Verbs recognised as the start of a command line when re-synchronising after a gap, and
/// whose bare form is never taken for an AUTH credential line.
const VERBS: [&[u8]; 16] = [
    b"HELO",
    b"EHLO",
    b"MAIL",
    b"RCPT",
    b"DATA",
    b"BDAT",
    b"RSET",
    b"QUIT",
    b"NOOP",
    b"VRFY",
    b"EXPN",
    b"HELP",
    b"AUTH",
    b"STARTTLS",
    b"ETRN",
    b"TURN",
];

/// Splits a line into its verb and the argument after the first run of spaces.
fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let (verb, rest) = line.split_at_checked(end).unwrap_or((line, &[]));
    (verb, trim(rest))
}

/// Trims ASCII spaces, tabs, CRs and LFs on both ends.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(*b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |at| at.saturating_add(1));
    bytes.get(start..end).unwrap_or_default()
}

/// Parses one command line (without CRLF).
pub(crate) fn parse_command(line: &[u8]) -> Command<'_> {
    let (verb, argument) = split_verb(line);
    let is = |name: &[u8]| verb.eq_ignore_ascii_case(name);
    if is(b"EHLO") || is(b"HELO") {
        Command::Helo {
            extended: is(b"EHLO"),
            name: argument,
        }
    } else if is(b"MAIL") {
        Command::Mail { argument }
    } else if is(b"RCPT") {
        Command::Rcpt { argument }
    } else if is(b"DATA") {
        if argument.is_empty() {
            Command::Data
        } else {
            Command::Malformed
        }
    } else if is(b"BDAT") {
        parse_bdat(argument).map_or(Command::Malformed, |(size, last)| Command::Bdat {
            size,
            last,
        })
    } else if is(b"AUTH") {
        let (name, _initial_response) = split_verb(argument);
        let valid = !name.is_empty()
            && name.len() <= 20
            && name
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        Command::Auth {
            mechanism: valid.then_some(name),
        }
    } else if is(b"RSET") {
        Command::Rset
    } else if is(b"QUIT") {
        Command::Quit
    } else if is(b"STARTTLS") {
        Command::StartTls
    } else {
        Command::Other
    }
}

/// `<size> [LAST]`, RFC 3030. Anything else is malformed (and then no chunk follows).
fn parse_bdat(argument: &[u8]) -> Option<(u64, bool)> {
    let (size, rest) = split_verb(argument);
    if size.is_empty() || size.len() > 19 || !size.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = size.iter().try_fold(0u64, |acc, &digit| {
        acc.checked_mul(10)?
            .checked_add(u64::from(digit.wrapping_sub(b'0')))
    })?;
    if rest.is_empty() {
        Some((size, false))
    } else if rest.eq_ignore_ascii_case(b"LAST") {
        Some((size, true))
    } else {
        None
    }
}

/// The address of a MAIL FROM / RCPT TO argument such as `FROM:<a@b> SIZE=1`, `FROM: <a@b>` or
/// `TO:a@b`, without `<>` and without a source route (`<@relay:a@b>` gives `a@b`).
///
/// Returns the address (`""` for `<>`) and whether the argument was well formed (keyword and
/// colon present). Without the keyword, an address in `<>` is still returned.
pub(crate) fn path_address(argument: &[u8], keyword: &[u8]) -> (Option<String>, bool) {
    let mut rest = trim(argument);
    let mut well_formed = false;
    if let Some((head, tail)) = rest.split_at_checked(keyword.len()) {
        if head.eq_ignore_ascii_case(keyword) {
            let tail = trim(tail);
            if let Some(after_colon) = tail.strip_prefix(b":") {
                rest = trim(after_colon);
                well_formed = true;
            }
        }
    }
    if rest.is_empty() {
        return (None, false);
    }
    let path = if let Some(inner) = rest.strip_prefix(b"<") {
        let end = inner.iter().position(|&b| b == b'>').unwrap_or(inner.len());
        inner.get(..end).unwrap_or_default()
    } else if well_formed {
        let end = rest
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(rest.len());
        rest.get(..end).unwrap_or_default()
    } else if let Some(open) = rest.iter().position(|&b| b == b'<') {
        let inner = rest.get(open.saturating_add(1)..).unwrap_or_default();
        let end = inner.iter().position(|&b| b == b'>').unwrap_or(inner.len());
        inner.get(..end).unwrap_or_default()
    } else {
        return (None, false);
    };
    // A source route (`@a,@b:user@c`, RFC 5321 §4.1.2) precedes the mailbox after a colon.
    let path = if path.first() == Some(&b'@') {
        path.iter()
            .position(|&b| b == b':')
            .and_then(|at| path.get(at.saturating_add(1)..))
            .unwrap_or(path)
    } else {
        path
    };
    (
        Some(String::from_utf8_lossy(trim(path)).into_owned()),
        well_formed,
    )
}

/// True when a line read while AUTH is in progress is a SASL response (a credential) rather
/// than a command: base64 text (or `*` to cancel, or empty). Credential lines are skipped and
/// never stored. A bare known verb such as `QUIT` counts as a command.
pub(crate) fn is_credential_line(line: &[u8]) -> bool {
    let line = trim(line);
    if line == b"*" {
        return true;
    }
    let base64 = line
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    base64 && !VERBS.iter().any(|verb| line.eq_ignore_ascii_case(verb))
}

/// True when `bytes` (the start of a piece after a gap) begins with a known verb followed by a
/// space or the end of the line: the piece then very likely starts a command.
pub(crate) fn starts_with_verb(bytes: &[u8]) -> bool {
    VERBS.iter().any(|verb| {
        bytes
            .get(..verb.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(verb))
            && matches!(bytes.get(verb.len()), Some(b' ' | b'\r' | b'\n'))
    })
}

/// True when the line's first word is a known SMTP verb.
pub(crate) fn has_known_verb(line: &[u8]) -> bool {
    let (verb, _) = split_verb(line);
    VERBS.iter().any(|known| verb.eq_ignore_ascii_case(known))
}

/// True when a first client line is an HTTP request line (`GET / HTTP/1.1`, `CONNECT h:25
/// HTTP/1.0`, `PRI * HTTP/2.0`).
pub(crate) fn looks_like_http(line: &[u8]) -> bool {
    let (method, _) = split_verb(line);
    !method.is_empty()
        && method.iter().all(u8::is_ascii_uppercase)
        && memchr::memmem::find(line, b" HTTP/").is_some()
}

/// True when bytes contain ASCII control characters other than tab, CR and LF: binary data
/// (TLS, SSH packets…), never a command.
pub(crate) fn has_control_bytes(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f)
}
