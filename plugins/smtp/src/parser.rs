//! Incremental SMTP parser: reassembled client and server byte streams in, one [`Message`] per
//! mail transaction out. Plain Rust with no plugin ABI types, so it is easy to test and fuzz.
//!
//! One [`Session`] per TCP session. Feed it each direction's bytes in order, split anywhere
//! ([`Session::data`]), bytes that were never captured as lengths ([`Session::gap`]), and the
//! end ([`Session::end`]). Completed transactions come out of [`Session::take_messages`];
//! [`Session::summary`] describes the session as a whole (the only record for sessions that
//! never sent MAIL FROM). The rules it follows are documented on [`Session`].
//!
//! Memory is bounded by [`SmtpConfig`]: one partial line per direction, the queue of commands
//! waiting for replies, and for the message in progress one header block (at most
//! `max_header_block` bytes), the open multipart boundaries and one attachment decoder: message
//! content streams through and is never kept, except for the bounded `max_extract` copy when
//! extraction is on. Nothing panics on any input.
//!
//! ```
//! use std::sync::Arc;
//! use netan_plugin_api::Direction::{ClientToServer, ServerToClient};
//! use netan_smtp::parser::{Session, SmtpConfig};
//!
//! let mut session = Session::new(Arc::new(SmtpConfig::default()));
//! session.data(ServerToClient, b"220 mx.example.org ESMTP\r\n", 1);
//! session.data(ClientToServer, b"EHLO client\r\nMAIL FROM:<a@example.org>\r\n", 2);
//! session.data(ClientToServer, b"RCPT TO:<b@example.net>\r\nDATA\r\n", 3);
//! session.data(ServerToClient, b"250 mx\r\n250 OK\r\n250 OK\r\n354 go\r\n", 4);
//! session.data(ClientToServer, b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n", 5);
//! session.data(ServerToClient, b"250 queued\r\n221 bye\r\n", 6);
//! session.end(7);
//! let messages = session.take_messages();
//! assert_eq!(messages[0].mail_from.as_deref(), Some("a@example.org"));
//! assert_eq!(messages[0].rcpt_to[0].address, "b@example.net");
//! assert_eq!(messages[0].subject.as_deref(), Some("hi"));
//! assert_eq!(messages[0].last_reply_code, Some(250));
//! ```

mod boundary;
mod command;
mod config;
mod content;
mod decode;
mod head;
mod lines;
mod mime;
mod parts;
mod qp;
mod record;
mod reply;
mod session;
mod stream;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use netan_plugin_api::Direction;

pub use config::SmtpConfig;
pub use record::{Attachment, Flags, Message, Recipient, SessionSummary};
pub use session::Session;

/// Runs a [`Session`] over arbitrary bytes, for fuzz targets. The first four bytes choose the
/// limits and seed a small PRNG that cuts the rest into pieces of both directions and gaps:
/// bit 0 of the first byte picks tiny limits, bit 1 extraction, bit 2 starts the session with
/// a valid greeting and EHLO (so that the not-SMTP checks do not stop it at once), bit 3 lets
/// the direction change only after a line feed, bit 4 message hashing. Never panics (that is
/// what the fuzzer checks).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    let (head, body) = data.split_at_checked(4).unwrap_or((data, &[]));
    let mut seed = head.iter().fold(0x9e37_79b9_7f4a_7c15u64, |acc, &b| {
        (acc << 8) ^ u64::from(b) ^ (acc >> 56)
    });
    let mode = head.first().copied().unwrap_or(0);
    let config = if mode & 1 == 0 {
        SmtpConfig {
            extract: mode & 2 != 0,
            hash_messages: mode & 16 != 0,
            ..SmtpConfig::default()
        }
    } else {
        SmtpConfig {
            max_line: 16,
            max_reply_text: 8,
            max_header_block: 64,
            extract: mode & 2 != 0,
            max_extract: 32,
            max_recipients: 2,
            max_pending: 3,
            hash_messages: mode & 16 != 0,
            ..SmtpConfig::default()
        }
    };
    let mut session = Session::new(Arc::new(config));
    if mode & 4 != 0 {
        session.data(Direction::ServerToClient, b"220 fuzz ESMTP\r\n", 0);
        session.data(Direction::ClientToServer, b"EHLO fuzz\r\n", 0);
    }
    let mut dir = Direction::ClientToServer;
    let mut rest = body;
    let mut ts = 0u64;
    while !rest.is_empty() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ts = ts.wrapping_add(1);
        let len = usize::try_from((seed >> 8) % 97)
            .unwrap_or(1)
            .saturating_add(1);
        let (piece, tail) = rest.split_at_checked(len).unwrap_or((rest, &[]));
        if (seed >> 20) % 23 == 0 {
            session.gap(dir, piece.len() as u64, ts);
        } else {
            session.data(dir, piece, ts);
        }
        let may_turn = mode & 8 == 0 || piece.last() == Some(&b'\n');
        if may_turn && seed & 1 == 1 {
            dir = dir.reverse();
        }
        if (seed >> 30) % 7 == 0 {
            let _ = session.take_messages();
            let _ = session.summary();
        }
        rest = tail;
    }
    session.end(ts);
    let _ = session.take_messages();
}
