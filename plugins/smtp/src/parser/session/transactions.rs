//! Transactions of a session: opening them, their message content (the client's DATA and
//! BDAT bytes), closing them, and reporting them once their replies are in.

use super::super::content::{hex, Content, DotScanner};
use super::super::record::Message;
use super::{Close, Kind, Mode, Session, Transaction, MAX_CLOSING};

impl Session {
    pub(super) fn begin_transaction(&mut self, ts: u64) -> u32 {
        self.next_transaction = self.next_transaction.saturating_add(1);
        let msg = Message {
            transaction: self.next_transaction,
            helo: self.summary.helo.clone(),
            auth_mechanism: self.summary.auth_mechanism.clone(),
            auth_success: self.summary.auth_success,
            ts_start: ts,
            ts_end: ts,
            ..Message::default()
        };
        self.open = Some(Transaction {
            pending: 0,
            msg,
            content: None,
        });
        self.next_transaction
    }

    /// The open transaction, or a new one flagged `bad_sequence` (RCPT, DATA or BDAT without
    /// MAIL FROM).
    pub(super) fn transaction_for(&mut self, ts: u64) -> u32 {
        if let Some(txn) = &self.open {
            return txn.msg.transaction;
        }
        let id = self.begin_transaction(ts);
        self.mark(|flags| flags.bad_sequence = true);
        id
    }

    /// The open transaction, or a new one flagged `gap` (its beginning was not captured).
    pub(super) fn transaction_after_gap(&mut self, ts: u64) -> u32 {
        if let Some(txn) = &self.open {
            return txn.msg.transaction;
        }
        let id = self.begin_transaction(ts);
        self.mark(|flags| flags.gap = true);
        id
    }

    /// Starts content for the open transaction (creating one if needed), unless it has some.
    pub(super) fn begin_content(&mut self, ts: u64, chunked: bool) {
        if self.open.is_none() {
            self.transaction_for(ts);
        }
        if let Some(txn) = self.open.as_mut() {
            if txn.content.is_none() && !txn.msg.has_content {
                txn.content = Some(Content::new(&self.config));
                txn.msg.has_content = true;
                txn.msg.chunked = chunked;
                txn.msg.ts_data = Some(ts);
            }
        }
    }

    /// Client bytes while DATA content is expected.
    pub(super) fn client_body(&mut self, rest: &[u8], ts: u64) -> usize {
        let Mode::Data { scan, .. } = &mut self.client.mode else {
            return 0;
        };
        let Some(content) = self.open.as_mut().and_then(|txn| txn.content.as_mut()) else {
            // No transaction holds content (cannot happen): read commands again.
            self.client.mode = Mode::Command;
            return 0;
        };
        match scan.scan(rest, &self.finder, content) {
            Some(used) => {
                self.end_content(ts, true);
                used
            }
            None => rest.len(),
        }
    }

    /// Client bytes inside a BDAT chunk.
    pub(super) fn client_chunk(&mut self, rest: &[u8], ts: u64) -> usize {
        let Mode::Bdat { remaining, last } = &mut self.client.mode else {
            return 0;
        };
        let take = usize::try_from(*remaining)
            .unwrap_or(usize::MAX)
            .min(rest.len());
        let chunk = rest.get(..take).unwrap_or_default();
        if let Some(content) = self.open.as_mut().and_then(|txn| txn.content.as_mut()) {
            content.push(chunk);
            content.add_wire(take);
        }
        *remaining = remaining.saturating_sub(take as u64);
        if *remaining == 0 {
            let last = *last;
            self.client.mode = Mode::Command;
            if last {
                self.end_content(ts, false);
            }
        }
        take
    }

    /// DATA content starts (354 seen, or client bytes arrived while DATA's reply is unknown).
    pub(super) fn start_data(&mut self, ts: u64) {
        let speculative = self
            .pending
            .iter()
            .any(|pending| pending.kind == Kind::Data);
        self.begin_content(ts, false);
        self.client.mode = Mode::Data {
            scan: DotScanner::new(),
            speculative,
        };
    }

    /// The open transaction's content is over (`<CRLF>.<CRLF>`, or the last BDAT chunk): it
    /// waits for its final reply (queued here for DATA; BDAT queued its own).
    pub(super) fn end_content(&mut self, ts: u64, data: bool) {
        self.client.mode = Mode::Command;
        let Some(mut txn) = self.open.take() else {
            return;
        };
        if let Some(content) = txn.content.take() {
            self.finish_content(&mut txn, content, true);
        }
        txn.msg.ts_end = txn.msg.ts_end.max(ts);
        let id = txn.msg.transaction;
        self.closing.push_back(txn);
        if data {
            self.push_pending(Kind::DataEnd, Some(id), ts);
        }
        self.flush_closing(false);
    }

    /// Closes the open transaction (it then waits for outstanding replies). An empty one is
    /// dropped.
    pub(super) fn close_open(&mut self, why: Close, ts: u64) {
        if matches!(
            self.client.mode,
            Mode::Data { .. } | Mode::Bdat { .. } | Mode::DataPending
        ) {
            self.client.mode = Mode::Command;
        }
        let Some(mut txn) = self.open.take() else {
            return;
        };
        if let Some(content) = txn.content.take() {
            self.finish_content(&mut txn, content, false);
        }
        let msg = &mut txn.msg;
        if msg.mail_from_raw.is_none()
            && msg.rcpt_to.is_empty()
            && msg.rcpt_dropped == 0
            && !msg.has_content
        {
            return;
        }
        if why == Close::Reset {
            msg.flags.reset = true;
        }
        msg.ts_end = msg.ts_end.max(ts);
        self.closing.push_back(txn);
        self.flush_closing(false);
    }

    /// Sizes, hash, MIME fields and extracted bytes of a message whose content is over;
    /// `complete` says its end was seen.
    pub(super) fn finish_content(
        &mut self,
        txn: &mut Transaction,
        content: Content,
        complete: bool,
    ) {
        let msg = &mut txn.msg;
        msg.size = content.size;
        msg.wire_size = content.wire_size;
        msg.gap_bytes = content.gap_bytes;
        let whole = complete && !content.had_gap();
        if !complete {
            msg.flags.truncated = true;
            self.summary.flags.truncated = true;
        }
        let size = content.size;
        let finished = content.finish(complete);
        if whole {
            msg.sha256 = finished.sha256.map(|digest| hex(&digest));
        }
        if let Some(parsed) = finished.mime {
            if let Some(fields) = parsed.fields {
                fields.apply(msg);
            }
            msg.attachments = parsed.attachments;
            if parsed.cut {
                msg.flags.message_truncated_for_parsing = true;
                self.summary.flags.message_truncated_for_parsing = true;
            }
        }
        if let Some(mut copy) = finished.copy {
            if copy.capacity() > copy.len().saturating_mul(2) {
                copy.shrink_to_fit();
            }
            if size > self.config.max_extract as u64 {
                msg.flags.extract_truncated = true;
            }
            msg.content = Some(copy);
        }
    }

    /// Reports closed transactions whose replies are all in (all of them when `force`).
    pub(super) fn flush_closing(&mut self, force: bool) {
        while let Some(front) = self.closing.front() {
            if !force && front.pending > 0 && self.closing.len() <= MAX_CLOSING {
                break;
            }
            let Some(txn) = self.closing.pop_front() else {
                break;
            };
            let mut msg = txn.msg;
            msg.tls = self.summary.tls;
            if msg.auth_mechanism == self.summary.auth_mechanism && msg.auth_success.is_none() {
                msg.auth_success = self.summary.auth_success;
            }
            self.summary.transactions = self.summary.transactions.saturating_add(1);
            self.out.push(msg);
        }
    }

    pub(super) fn txn_mut(&mut self, id: u32) -> Option<&mut Transaction> {
        if self
            .open
            .as_ref()
            .is_some_and(|txn| txn.msg.transaction == id)
        {
            return self.open.as_mut();
        }
        self.closing
            .iter_mut()
            .find(|txn| txn.msg.transaction == id)
    }
}

#[cfg(test)]
impl Session {
    /// Bytes the message in progress holds for parsing (for the flat-memory tests).
    pub(crate) fn content_held_bytes(&self) -> Option<usize> {
        let content = self.open.as_ref()?.content.as_ref()?;
        Some(content.held_bytes())
    }
}
