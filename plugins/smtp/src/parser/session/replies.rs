//! The server side of a session: reply lines, and pairing each complete reply with the oldest
//! command waiting in the FIFO.

use super::super::content::Content;
use super::super::lines::Found;
use super::super::reply::{can_start_reply, parse_reply_line, starts_like_reply};
use super::{capability, reply_text, Kind, Mode, PartialReply, Pending, Session, MAX_CAPABILITIES};

impl Session {
    /// Queues a command that the server will answer. Beyond `max_pending` (a capture without
    /// the server side, and no gaps standing for it) the oldest is given up as unanswered.
    pub(super) fn push_pending(&mut self, kind: Kind, txn: Option<u32>, ts: u64) {
        if let Some(open) = txn.and_then(|id| self.txn_mut(id)) {
            open.pending = open.pending.saturating_add(1);
        }
        self.pending.push_back(Pending { kind, txn });
        while self.pending.len() > self.config.max_pending.max(1) {
            let Some(oldest) = self.pending.pop_front() else {
                break;
            };
            self.resolve(oldest, None, ts);
        }
    }

    pub(super) fn server_data(&mut self, bytes: &[u8], ts: u64) {
        // The client's current monologue is over: its next bytes start a command line. After a
        // gap, a partial line is leftover content, not the start of a command.
        if self.client.suspect {
            self.client.reader.discard_partial();
        }
        self.client.reader.resync_here();
        if !self.server.started {
            self.server.started = true;
            if bytes.first().is_some_and(|&first| !can_start_reply(first)) {
                self.not_smtp(ts);
                return;
            }
        }
        let mut rest = bytes;
        while !rest.is_empty() && !self.stopped {
            if self.server.reader.wants_check() && starts_like_reply(rest) {
                self.server.reader.resync_here();
            }
            let (used, found) = self.server.reader.feed(rest, self.config.max_line);
            match found {
                Found::Nothing => {}
                Found::Input { len, overlong } => {
                    self.server_line(rest.get(..len).unwrap_or_default(), overlong, ts);
                }
                Found::Buffer { overlong } => {
                    let line = self.server.reader.take();
                    self.server_line(&line, overlong, ts);
                    self.server.reader.restore(line);
                }
            }
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    pub(super) fn server_gap(&mut self, ts: u64) {
        self.server.started = true;
        self.server.first_line_done = true;
        self.server.reader.lose_sync();
        self.server.reply = None;
        // The replies of every queued command may be in the gap: give them all up.
        if let Some(txn) = self.open.as_mut() {
            txn.msg.flags.gap = true;
        }
        while let Some(pending) = self.pending.pop_front() {
            if let Some(txn) = pending.txn.and_then(|id| self.txn_mut(id)) {
                txn.msg.flags.gap = true;
            }
            self.resolve(pending, None, ts);
        }
        self.flush_closing(false);
    }

    pub(super) fn server_line(&mut self, line: &[u8], overlong: bool, ts: u64) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let first = !self.server.first_line_done;
        self.server.first_line_done = true;
        if overlong {
            self.mark(|flags| flags.line_too_long = true);
        }
        let Some(reply) = parse_reply_line(line) else {
            if first {
                self.not_smtp(ts);
            }
            return;
        };
        let to_ehlo = reply.code == 250
            && self
                .pending
                .front()
                .is_some_and(|pending| pending.kind == Kind::Ehlo);
        let partial = self.server.reply.get_or_insert(PartialReply {
            code: reply.code,
            lines: 0,
        });
        partial.lines = partial.lines.saturating_add(1);
        let (code, lines) = (partial.code, partial.lines);
        if lines == 1 {
            let keep = reply.text.len().min(self.config.max_reply_text);
            self.server.first_text.clear();
            self.server
                .first_text
                .extend_from_slice(reply.text.get(..keep).unwrap_or_default());
            if to_ehlo && reply.more {
                self.summary.capabilities.clear();
            }
        } else if to_ehlo && self.summary.capabilities.len() < MAX_CAPABILITIES {
            self.summary.capabilities.push(capability(reply.text));
        }
        if !reply.more {
            self.server.reply = None;
            self.reply(code, reply.text, ts);
        }
    }

    /// A complete reply: it answers the oldest queued command.
    fn reply(&mut self, code: u16, text: &[u8], ts: u64) {
        self.summary.replies = self.summary.replies.saturating_add(1);
        if code != 334 {
            self.summary.last_reply_code = Some(code);
            self.summary.last_reply_text = Some(reply_text(text, self.config.max_reply_text));
        }
        loop {
            let Some(front) = self.pending.front().copied() else {
                if code == 354 {
                    self.unsolicited_354(ts);
                } else {
                    self.unmatched_reply(code, text, ts);
                }
                break;
            };
            if front.kind == Kind::Greeting && !matches!(code, 220 | 421 | 554) {
                // The greeting was not captured; this reply answers a command.
                self.pending.pop_front();
                continue;
            }
            if code == 354 && front.kind != Kind::Data {
                if self
                    .pending
                    .iter()
                    .any(|pending| pending.kind == Kind::Data)
                {
                    // Replies before it were lost: catch up with the DATA it answers.
                    self.pending.pop_front();
                    self.resolve(front, None, ts);
                    continue;
                }
                self.unsolicited_354(ts);
                break;
            }
            if code == 334 {
                // An AUTH challenge: the command keeps waiting for its final reply.
                break;
            }
            self.pending.pop_front();
            self.resolve(front, Some((code, text)), ts);
            break;
        }
        self.flush_closing(false);
    }

    /// Applies a reply (`None`: never seen) to the command it answers.
    pub(super) fn resolve(&mut self, pending: Pending, reply: Option<(u16, &[u8])>, ts: u64) {
        let code = reply.map(|(code, _)| code);
        if let Some(id) = pending.txn {
            let text = reply.map(|(_, text)| reply_text(text, self.config.max_reply_text));
            if let Some(txn) = self.txn_mut(id) {
                txn.pending = txn.pending.saturating_sub(1);
                if code.is_some() {
                    txn.msg.last_reply_code = code;
                    txn.msg.last_reply_text = text;
                    txn.msg.ts_end = txn.msg.ts_end.max(ts);
                }
                match pending.kind {
                    Kind::Mail => txn.msg.mail_from_code = code,
                    Kind::Rcpt(Some(index)) => {
                        if let Some(recipient) = txn.msg.rcpt_to.get_mut(index) {
                            recipient.code = code;
                        }
                    }
                    _ => {}
                }
            }
        }
        match (pending.kind, code) {
            (Kind::Greeting, Some(code)) => {
                self.summary.greeting_code = Some(code);
                self.summary.greeting = Some(reply_text(
                    &self.server.first_text,
                    self.config.max_reply_text,
                ));
            }
            (Kind::Data, Some(code)) => self.data_reply(code, ts),
            (Kind::StartTls, Some(220)) => self.enter_tls(ts),
            (Kind::StartTls, Some(_)) => self.client.starttls_sent = false,
            (Kind::Auth, Some(code)) => {
                let success = (200..300).contains(&code);
                self.summary.auth_success = Some(success);
                if let Some(txn) = self.open.as_mut() {
                    txn.msg.auth_success = Some(success);
                }
                if self.client.mode == Mode::Auth {
                    self.client.mode = Mode::Command;
                }
            }
            _ => {}
        }
    }

    /// The reply to DATA: 354 confirms content mode; a refusal cancels it.
    fn data_reply(&mut self, code: u16, ts: u64) {
        match &mut self.client.mode {
            Mode::DataPending if code == 354 => self.start_data(ts),
            Mode::Data { speculative, .. } if code == 354 => *speculative = false,
            Mode::DataPending => self.client.mode = Mode::Command,
            Mode::Data {
                speculative: true,
                scan,
            } => {
                // The client sent on without waiting and the server refused DATA: those bytes
                // were (refused) command lines, not a message. Drop them.
                let at_line_start = scan.at_line_start();
                self.client.mode = Mode::Command;
                if let Some(txn) = self.open.as_mut() {
                    txn.content = None;
                    txn.msg.has_content = false;
                    txn.msg.ts_data = None;
                }
                if !at_line_start {
                    self.client.reader.lose_sync();
                }
            }
            _ => {}
        }
    }

    /// A reply with no command waiting for it.
    fn unmatched_reply(&mut self, code: u16, text: &[u8], ts: u64) {
        let in_content = matches!(self.client.mode, Mode::Data { .. } | Mode::Bdat { .. });
        let content_gap = self
            .open
            .as_ref()
            .and_then(|txn| txn.content.as_ref())
            .is_some_and(Content::had_gap);
        if in_content && content_gap {
            // The server answered the end of a message whose end fell into a gap.
            self.end_content(ts, true);
            if let Some(pending) = self.pending.pop_front() {
                self.resolve(pending, Some((code, text)), ts);
            }
        } else {
            self.summary.unmatched_replies = self.summary.unmatched_replies.saturating_add(1);
        }
    }

    /// A 354 that answers no DATA we saw (the command was lost in a gap): what the client sends
    /// next is content.
    fn unsolicited_354(&mut self, ts: u64) {
        if self.summary.client_bytes == 0 || self.client.mode != Mode::Command {
            self.summary.unmatched_replies = self.summary.unmatched_replies.saturating_add(1);
            return;
        }
        while let Some(pending) = self.pending.pop_front() {
            self.resolve(pending, None, ts);
        }
        self.transaction_after_gap(ts);
        self.mark(|flags| flags.gap = true);
        self.client.reader.resync_here();
        self.client.suspect = false;
        self.start_data(ts);
        // Content may already have been lost with the DATA command: a reply that comes while
        // it is still open ends it.
        if let Some(content) = self.open.as_mut().and_then(|txn| txn.content.as_mut()) {
            content.gap(0);
        }
    }
}
