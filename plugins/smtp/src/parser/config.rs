//! Limits and switches for the SMTP parser: every memory bound lives here.

/// Settings shared (through an `Arc`) by every [`Session`](super::Session) of one analyser.
///
/// Every buffer the parser keeps is bounded by one of these numbers, so a hostile peer cannot
/// make a session grow without limit. The defaults suit a passive monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Longest command or reply line buffered, in bytes, without its line feed. A longer line is
    /// flagged `line_too_long` and skipped up to the next line feed; only its first `max_line`
    /// bytes are looked at. Default 4096 (RFC 5321 allows 512 for commands, 1000 for text).
    pub max_line: usize,
    /// Longest reply text kept in `last_reply_text` and in the session summary. Default 512.
    pub max_reply_text: usize,
    /// Read each message's headers (with `mail-parser`) and follow its MIME structure to list
    /// its attachments, as the content streams in. Default `true`. When `false`, messages get
    /// sizes (and a SHA-256 with `hash_messages`) but no header fields and no attachments.
    pub parse_mime: bool,
    /// Longest header block kept for parsing, in bytes: the message's headers, and each MIME
    /// part's. Only the fields that are read are kept (Subject, From, To, Cc, Reply-To, Date,
    /// Message-ID, In-Reply-To, X-Mailer, User-Agent and the Content-* ones; `Received:` and
    /// the like cost nothing), and To and Cc together may fill at most three quarters of it. A
    /// field that does not fit is left out (from a line end on) and
    /// `message_truncated_for_parsing` is flagged. Header blocks are the only part of a message
    /// kept for parsing; bodies stream through. Default 64 KiB.
    pub max_header_block: usize,
    /// Compute each message's SHA-256 ([`Message::sha256`]). Default `false`: it costs one
    /// hash of every message byte. Attachment hashes are computed either way.
    ///
    /// [`Message::sha256`]: super::Message::sha256
    pub hash_messages: bool,
    /// Keep each message's bytes (after dot-unstuffing) in [`Message::content`] so that the
    /// caller can write an `.eml` file. Default `false`.
    ///
    /// [`Message::content`]: super::Message::content
    pub extract: bool,
    /// How many bytes of each message are kept for extraction; beyond this the copy is cut and
    /// `extract_truncated` is flagged. Default 10 MiB.
    pub max_extract: usize,
    /// How many RCPT TO addresses are kept per transaction; further ones are only counted in
    /// [`Message::rcpt_dropped`](super::Message::rcpt_dropped). Default 4096.
    pub max_recipients: usize,
    /// How many commands may wait for their reply. When a capture holds only the client side
    /// and no gaps stand for the server side, the oldest are given up as unanswered. Default 256.
    pub max_pending: usize,
}

impl Default for SmtpConfig {
    fn default() -> SmtpConfig {
        SmtpConfig {
            max_line: 4096,
            max_reply_text: 512,
            parse_mime: true,
            max_header_block: 64 << 10,
            hash_messages: false,
            extract: false,
            max_extract: 10 << 20,
            max_recipients: 4096,
            max_pending: 256,
        }
    }
}
