//! `netan flows`: one JSON line per TCP session, in the order the sessions started.
//!
//! Records are written when a session ends; one that ends while an older session is still
//! open waits until that one has ended (with `--order end` they are written at once instead,
//! which keeps memory flat on captures with long-lived sessions).

use std::collections::BTreeMap;
use std::io::{self, Write};

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use super::json::{hex, JsonLine};
use crate::tcp::{Direction, Monologue, SessionEnd, SessionInfo, TcpObserver};

/// Record order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlowOrder {
    /// In the order sessions started (their first packet).
    Start,
    /// In the order sessions ended.
    End,
}

/// Writes flow records.
pub struct FlowsWriter<W: Write> {
    out: W,
    hash: bool,
    order: FlowOrder,
    hashers: FxHashMap<u64, [Option<Sha256>; 2]>,
    pending: BTreeMap<u64, String>,
    line: String,
    error: Option<io::Error>,
    /// Records written.
    pub written: u64,
}

impl<W: Write> FlowsWriter<W> {
    /// A writer to `out`; with `hash`, each direction's SHA-256 is computed.
    pub fn new(out: W, hash: bool, order: FlowOrder) -> FlowsWriter<W> {
        FlowsWriter {
            out,
            hash,
            order,
            hashers: FxHashMap::default(),
            pending: BTreeMap::new(),
            line: String::with_capacity(512),
            error: None,
            written: 0,
        }
    }

    fn emit(&mut self, text: &str) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(text.as_bytes()) {
                self.error = Some(e);
            }
        }
        self.written += 1;
    }

    /// Writes what is still pending and flushes. Returns the first write error, if any.
    pub fn finish(mut self) -> io::Result<W> {
        let pending = std::mem::take(&mut self.pending);
        for (_, text) in pending {
            self.emit(&text);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// The first write error (a closed pipe, a full disk), if one happened.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

impl<W: Write> TcpObserver for FlowsWriter<W> {
    fn stop_requested(&self) -> bool {
        // Nothing more can be written (stdout closed by `| head`, a full disk): stop reading.
        self.error.is_some()
    }

    fn session_start(&mut self, session: &SessionInfo, _ts: u64) {
        if self.hash {
            self.hashers.insert(session.ordinal, [None, None]);
        }
    }

    fn data(
        &mut self,
        session: &SessionInfo,
        direction: Direction,
        data: &[u8],
        _ts: u64,
        _packet: u64,
    ) {
        if self.hash {
            if let Some(h) = self
                .hashers
                .get_mut(&session.ordinal)
                .and_then(|h| h.get_mut(direction.index()))
            {
                h.get_or_insert_with(Sha256::new).update(data);
            }
        }
    }

    fn gap(&mut self, _session: &SessionInfo, _direction: Direction, _len: u64, _ts: u64) {}

    fn monologue_end(&mut self, _session: &SessionInfo, _monologue: &Monologue) {}

    fn session_end(&mut self, s: &SessionInfo, end: &SessionEnd) {
        let [c2s, s2c] = &end.streams;
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let mut o = JsonLine::new(&mut line);
        o.num("session", s.ordinal)
            .str("key", &s.key)
            .str("client", &s.client.to_string())
            .str("server", &s.server.to_string())
            .time("t_start", s.t_first)
            .time("t_end", end.t_end)
            .num("packets", s.packets)
            .num("bytes_c2s", c2s.bytes)
            .num("bytes_s2c", s2c.bytes)
            .num("monologues", end.monologues)
            .num("gaps", c2s.gaps + s2c.gaps)
            .num("gap_bytes_c2s", c2s.gap_bytes)
            .num("gap_bytes_s2c", s2c.gap_bytes)
            .str("end_reason", end.reason.name())
            .str("handshake", s.handshake.name())
            .num("retransmitted_bytes", c2s.retransmitted + s2c.retransmitted)
            .num("overlap_conflicts", c2s.conflicts + s2c.conflicts)
            .bool("capped", end.capped);
        if self.hash {
            let hashers = self.hashers.remove(&s.ordinal).unwrap_or([None, None]);
            for (name, h) in ["sha256_c2s", "sha256_s2c"].into_iter().zip(hashers) {
                match h {
                    Some(h) => o.str(name, &hex(&h.finalize())),
                    None => o.null(name),
                };
            }
        }
        o.num("first_frame", s.first_frame);
        o.finish();
        match self.order {
            FlowOrder::End => self.emit(&line),
            FlowOrder::Start => {
                self.pending.insert(s.ordinal, line.clone());
                while let Some(entry) = self.pending.first_entry() {
                    if *entry.key() >= end.oldest_open {
                        break;
                    }
                    let text = entry.remove();
                    self.emit(&text);
                }
            }
        }
        self.line = line;
    }
}
