//! What the SMTP parser reports: one [`Message`] per mail transaction, one [`SessionSummary`]
//! per session, and the [`Flags`] both carry.

/// Things that went wrong or are unusual. Each is a plain `bool` so that the glue can map them
/// one to one onto output fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// Bytes were never captured inside this transaction (either direction), or, on the
    /// session summary, anywhere in the session. Sizes and hashes then describe only what was
    /// seen; see [`Message::sha256`].
    pub gap: bool,
    /// The message content is incomplete at its end: the session ended (or the transaction was
    /// abandoned) after DATA/BDAT content started but before `<CRLF>.<CRLF>` or `BDAT … LAST`.
    pub truncated: bool,
    /// The session is not SMTP (e.g. an HTTP request, TLS or SSH bytes on port 25). Reported once,
    /// on the summary (and on a transaction that was open at the time); parsing then stops.
    pub not_smtp: bool,
    /// A command or reply line was longer than [`SmtpConfig::max_line`] and was skipped.
    ///
    /// [`SmtpConfig::max_line`]: super::SmtpConfig::max_line
    pub line_too_long: bool,
    /// Commands came in an order RFC 5321 forbids: RCPT, DATA or BDAT without MAIL, DATA or BDAT
    /// without any RCPT.
    pub bad_sequence: bool,
    /// A command's argument could not be parsed (MAIL without `FROM:`, RCPT without `TO:`,
    /// `BDAT` without a valid size, AUTH with an invalid mechanism name).
    pub bad_syntax: bool,
    /// A header block (the message's or a MIME part's) did not fit in
    /// [`SmtpConfig::max_header_block`], so some of its fields were left out, or a multipart
    /// boundary was too long to follow (more than 256 bytes). Size and hash still cover the
    /// whole message.
    ///
    /// [`SmtpConfig::max_header_block`]: super::SmtpConfig::max_header_block
    pub message_truncated_for_parsing: bool,
    /// Extraction was on and the message was longer than [`SmtpConfig::max_extract`], so
    /// [`Message::content`] holds only its beginning.
    ///
    /// [`SmtpConfig::max_extract`]: super::SmtpConfig::max_extract
    pub extract_truncated: bool,
    /// The transaction was abandoned by RSET (or by a new HELO/EHLO, which RFC 5321 treats the
    /// same way).
    pub reset: bool,
}

impl Flags {
    /// True when any flag is set.
    pub fn any(&self) -> bool {
        *self != Flags::default()
    }
}

/// One RCPT TO command and the server's answer to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Recipient {
    /// The forward-path without `<>` (and without any source route); empty for `<>`.
    pub address: String,
    /// The reply code, or `None` when the reply was never seen (one-sided capture, gap).
    pub code: Option<u16>,
}

/// One attachment: a MIME leaf part that is not a plain-text or HTML body, or that has a file
/// name or `Content-Disposition: attachment` (files, inline images, nested `message/rfc822`
/// messages, calendar invitations…). Each part's headers are read by `mail-parser`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Attachment {
    /// The file name from `Content-Disposition: …; filename=` or `Content-Type: …; name=`,
    /// RFC 2047/2231 decoded.
    pub filename: Option<String>,
    /// `type/subtype`, lower case, when the part has a Content-Type.
    pub content_type: Option<String>,
    /// Size after transfer decoding (base64, quoted-printable; 7bit, 8bit and binary as they
    /// are). No charset conversion is done.
    pub size: u64,
    /// SHA-256 (lower-case hex) of the decoded content, when the part was seen whole: `None` for
    /// a part cut by a gap or by the end of the session (its size then counts only what was
    /// seen).
    pub sha256: Option<String>,
}

/// One mail transaction: from MAIL FROM to the reply after the end of its content, or until
/// RSET, QUIT, a new MAIL FROM, STARTTLS or the end of the session abandoned it.
///
/// A transaction can also start without MAIL FROM when RCPT, DATA or BDAT come first; it is then
/// flagged `bad_sequence`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// 1-based number of this transaction in its session (Zeek's `trans_depth`).
    pub transaction: u32,
    /// The HELO/EHLO argument most recently sent in this session before the transaction began.
    pub helo: Option<String>,
    /// The MAIL FROM reverse-path without `<>`; `Some("")` for the null sender `<>` of bounces.
    pub mail_from: Option<String>,
    /// The whole MAIL argument as sent, e.g. `FROM:<a@example.com> SIZE=1024 BODY=8BITMIME`.
    pub mail_from_raw: Option<String>,
    /// The reply code to MAIL FROM, when seen.
    pub mail_from_code: Option<u16>,
    /// Every RCPT TO, in order, with its reply code (at most
    /// [`SmtpConfig::max_recipients`](super::SmtpConfig::max_recipients)).
    pub rcpt_to: Vec<Recipient>,
    /// RCPT TO commands beyond `max_recipients`, counted but not kept.
    pub rcpt_dropped: u64,
    /// The `Date:` header as written (unfolded, trimmed).
    pub date: Option<String>,
    /// The `From:` header, RFC 2047 decoded: `Name <address>` or `address`.
    pub from: Option<String>,
    /// Each address of the `To:` header(s), formatted like `from`.
    pub to: Vec<String>,
    /// Each address of the `Cc:` header(s), formatted like `from`.
    pub cc: Vec<String>,
    /// The `Reply-To:` header, formatted like `from` (several addresses joined by `, `).
    pub reply_to: Option<String>,
    /// The `Subject:` header, RFC 2047 decoded.
    pub subject: Option<String>,
    /// The `Message-ID:` header as written (with its `<>`).
    pub message_id: Option<String>,
    /// The `In-Reply-To:` header as written.
    pub in_reply_to: Option<String>,
    /// `X-Mailer:`, or else `User-Agent:`.
    pub user_agent: Option<String>,
    /// Message content (DATA or BDAT) was seen for this transaction.
    pub has_content: bool,
    /// The content came by BDAT (RFC 3030 CHUNKING) rather than DATA.
    pub chunked: bool,
    /// Captured content bytes after dot-unstuffing (for BDAT: the chunk bytes), i.e. the size of
    /// the message itself. Bytes lost in gaps are not included; see `gap_bytes`.
    pub size: u64,
    /// Captured content bytes as sent on the wire: with the dot-stuffing, without the
    /// terminating `.<CRLF>` line (for BDAT: the chunk bytes, without the BDAT command lines).
    pub wire_size: u64,
    /// Content bytes that were never captured.
    pub gap_bytes: u64,
    /// SHA-256 (lower-case hex) of the message (after dot-unstuffing), when
    /// [`SmtpConfig::hash_messages`](super::SmtpConfig::hash_messages) is on (it is off by
    /// default). Only set when the whole message was seen: `None` with `gap` or `truncated`.
    pub sha256: Option<String>,
    /// The message's attachments, in order (see [`Attachment`]; at most 1024).
    pub attachments: Vec<Attachment>,
    /// STARTTLS had succeeded in this session by the time the transaction was reported (it then
    /// ended the transaction: nothing after STARTTLS is readable).
    pub tls: bool,
    /// The SASL mechanism of the session's last AUTH command (upper case), e.g. `PLAIN`,
    /// `LOGIN`, `CRAM-MD5`, `XOAUTH2`. Credentials are never kept anywhere.
    pub auth_mechanism: Option<String>,
    /// Whether that AUTH succeeded (a 2xx final reply, normally 235); `None` when unknown.
    pub auth_success: Option<bool>,
    /// The last reply code the server gave to a command of this transaction (for a complete
    /// message: the reply after the end of the content).
    pub last_reply_code: Option<u16>,
    /// The text of that reply's last line, without the code (at most
    /// [`SmtpConfig::max_reply_text`](super::SmtpConfig::max_reply_text) bytes).
    pub last_reply_text: Option<String>,
    /// Capture time (ns since the epoch) of the data that carried MAIL FROM (or whatever command
    /// began the transaction).
    pub ts_start: u64,
    /// Capture time when the message content began (the 354 reply, the first BDAT, or the first
    /// content bytes when the 354 was not seen).
    pub ts_data: Option<u64>,
    /// Capture time of the transaction's last event: its final reply, or the moment it was
    /// abandoned.
    pub ts_end: u64,
    /// The message bytes after dot-unstuffing, when [`SmtpConfig::extract`] is on and content
    /// was seen (at most `max_extract` bytes, see `extract_truncated`).
    ///
    /// [`SmtpConfig::extract`]: super::SmtpConfig::extract
    pub content: Option<Vec<u8>>,
    /// Anomalies within this transaction.
    pub flags: Flags,
}

/// What a session showed as a whole. Always available from
/// [`Session::summary`](super::Session::summary); for sessions that never sent MAIL FROM
/// (e.g. only EHLO, STARTTLS, QUIT, or not SMTP at all) it is the only record there is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSummary {
    /// The server's greeting reply code (normally 220), when seen.
    pub greeting_code: Option<u16>,
    /// The text of the greeting's first line.
    pub greeting: Option<String>,
    /// The last HELO/EHLO argument.
    pub helo: Option<String>,
    /// The EHLO keywords the server announced (one per reply line after the first, as written,
    /// at most 64).
    pub capabilities: Vec<String>,
    /// STARTTLS was accepted (220): everything after it is encrypted and only counted.
    pub tls: bool,
    /// The SASL mechanism of the last AUTH command.
    pub auth_mechanism: Option<String>,
    /// Whether that AUTH succeeded; `None` when unknown.
    pub auth_success: Option<bool>,
    /// Commands seen (credential lines after AUTH are not commands).
    pub commands: u64,
    /// Complete replies seen (a multi-line reply counts once).
    pub replies: u64,
    /// Replies that matched no command (e.g. the client side was not captured).
    pub unmatched_replies: u64,
    /// Transactions reported so far through [`Session::take_messages`](super::Session::take_messages).
    pub transactions: u32,
    /// The last reply code of the session (334 AUTH challenges excepted).
    pub last_reply_code: Option<u16>,
    /// The text of that reply's last line.
    pub last_reply_text: Option<String>,
    /// Bytes captured from the client.
    pub client_bytes: u64,
    /// Bytes captured from the server.
    pub server_bytes: u64,
    /// Client bytes never captured.
    pub client_gap_bytes: u64,
    /// Server bytes never captured.
    pub server_gap_bytes: u64,
    /// Capture time of the first data or gap, if any.
    pub ts_first: Option<u64>,
    /// Capture time of the last data, gap or end.
    pub ts_last: Option<u64>,
    /// Anomalies anywhere in the session: each flag is set when it was set on any transaction,
    /// or happened outside one (`reset` and `extract_truncated` are per transaction only).
    pub flags: Flags,
}
