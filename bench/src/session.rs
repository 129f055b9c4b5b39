//! One TCP connection as a packet source: handshake, the script's messages cut into segments
//! (with the receiver's ACK every second segment), reordering and retransmission, and the
//! FIN exchange. [`Session::next_frame`] yields one frame at a time so the main loop can
//! interleave thousands of sessions.
//!
//! Reordering holds a data segment back until one to three later segments of the same message
//! have gone out. Retransmission queues an identical copy of a data segment that goes out a few
//! packets of the same session after the original. ACKs never cover bytes not yet sent: while
//! a segment is held back, the receiver acknowledges only up to it.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use crate::content::{Dir, Message, Pump};
use crate::frame::{self, build, Endpoint, Opts, Segment, ACK, FIN, PSH, SYN};
use crate::rng::Rng;

/// How the generator disturbs data segments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Knobs {
    /// Percent of data segments delivered after a later one.
    pub(crate) reorder: f64,
    /// Percent of data segments sent twice.
    pub(crate) retransmit: f64,
    /// Payload bytes of a full-size segment.
    pub(crate) mss: usize,
}

/// Counters over all sessions.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    pub(crate) data_segments: u64,
    pub(crate) reordered: u64,
    pub(crate) retransmitted: u64,
    pub(crate) retransmitted_bytes: u64,
    pub(crate) pure_acks: u64,
    pub(crate) payload_c2s: u64,
    pub(crate) payload_s2c: u64,
    /// Reorderings drawn for a segment that could not be reordered (the last of its message),
    /// owed to the next segment that can, so short messages do not lower the share.
    pub(crate) reorder_owed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Syn,
    SynAck,
    HandshakeAck,
    Data,
    Close,
    Done,
}

/// A data segment held back to be delivered out of order.
#[derive(Debug)]
struct Held {
    /// Later segments still to go out before this one.
    wait: u64,
    offset: u64,
    frame: Vec<u8>,
    len: usize,
}

/// A retransmitted copy waiting for its turn.
#[derive(Debug)]
struct Delayed {
    /// Frames of this session still to go out before the copy.
    wait: usize,
    frame: Vec<u8>,
}

/// Header bytes in front of a data segment's payload.
const DATA_HEADERS: usize =
    (frame::ETH_LEN + frame::IP_LEN + frame::TCP_LEN + frame::DATA_OPTS_LEN) as usize;

/// A TCP connection being generated.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client: Endpoint,
    pub(crate) server: Endpoint,
    script: VecDeque<Message>,
    closer: Dir,
    pump: Pump,
    phase: Phase,
    /// Direction of the message being sent (or last sent).
    sending: Option<Dir>,
    in_message: bool,
    /// Segments of the current sender the receiver has not acknowledged yet.
    unacked: u32,
    held: Vec<Held>,
    delayed: Vec<Delayed>,
    outq: VecDeque<Vec<u8>>,
}

fn opposite(d: Dir) -> Dir {
    match d {
        Dir::C2s => Dir::S2c,
        Dir::S2c => Dir::C2s,
    }
}

/// Bytes in the capture (records included) of a session with these messages, without
/// retransmitted copies: handshake, data segments, the receiver's pure ACKs (one per two
/// segments, and one after an odd last segment unless the reply carries it) and the FIN
/// exchange. Exact but for mail text and base64, which end on a whole line (a little more).
pub(crate) fn estimate(messages: &[Message], mss: u64) -> u64 {
    let rec = frame::RECORD_LEN;
    let bare = rec + frame::ETH_LEN + frame::IP_LEN + frame::TCP_LEN;
    let data = bare + frame::DATA_OPTS_LEN;
    let syn = bare + frame::SYN_OPTS_LEN;
    let mut total = 2 * syn + bare + 4 * bare;
    let mut unacked = 0;
    let mut iter = messages.iter().peekable();
    while let Some(m) = iter.next() {
        let len = m.len();
        let segs = len.div_ceil(mss);
        let next_same = iter.peek().is_none_or(|n| n.dir == m.dir);
        unacked += segs;
        total += len + segs * data + unacked / 2 * bare;
        unacked %= 2;
        if unacked == 1 && next_same {
            total += bare;
            unacked = 0;
        }
        if !next_same {
            unacked = 0;
        }
    }
    total
}

impl Session {
    /// A session between `client` and `server` that will send `script`, then close with a FIN
    /// from `closer`; its content draws from `content`.
    pub(crate) fn new(
        client: Endpoint,
        server: Endpoint,
        script: Vec<Message>,
        closer: Dir,
        content: Rng,
    ) -> Session {
        Session {
            client,
            server,
            script: script.into(),
            closer,
            pump: Pump::new(content),
            phase: Phase::Syn,
            sending: None,
            in_message: false,
            unacked: 0,
            held: Vec::new(),
            delayed: Vec::new(),
            outq: VecDeque::new(),
        }
    }

    /// Client and server addresses.
    pub(crate) fn addrs(&self) -> (SocketAddrV4, SocketAddrV4) {
        (self.client.addr(), self.server.addr())
    }

    fn ep(&self, d: Dir) -> &Endpoint {
        match d {
            Dir::C2s => &self.client,
            Dir::S2c => &self.server,
        }
    }

    /// The sender of direction `d` and its peer.
    fn pair(&mut self, d: Dir) -> (&mut Endpoint, &Endpoint) {
        match d {
            Dir::C2s => (&mut self.client, &self.server),
            Dir::S2c => (&mut self.server, &self.client),
        }
    }

    /// The next frame of this session at capture time `now` (None once it has closed).
    pub(crate) fn next_frame(
        &mut self,
        now: u64,
        rng: &mut Rng,
        knobs: &Knobs,
        stats: &mut Stats,
    ) -> Option<Vec<u8>> {
        loop {
            if let Some(f) = self.outq.pop_front() {
                self.tick();
                return Some(f);
            }
            if self.phase == Phase::Done {
                return None;
            }
            self.advance(now, rng, knobs, stats);
        }
    }

    /// One frame went out: retransmitted copies whose turn has come go next.
    fn tick(&mut self) {
        let mut due = Vec::new();
        self.delayed.retain_mut(|d| {
            d.wait = d.wait.saturating_sub(1);
            if d.wait == 0 {
                due.push(std::mem::take(&mut d.frame));
                false
            } else {
                true
            }
        });
        for f in due.into_iter().rev() {
            self.outq.push_front(f);
        }
    }

    /// Queues a segment without payload from `from`.
    fn control(&mut self, from: Dir, flags: u8, opts: Opts, now: u64) {
        let acked = opposite(from);
        let ack = match self.held.first() {
            Some(h) if self.sending == Some(acked) => self.ep(acked).seq_at(h.offset),
            _ => self.ep(acked).next_seq(),
        };
        let (src, dst) = self.pair(from);
        let seq = if flags & SYN != 0 {
            src.isn
        } else {
            src.next_seq()
        };
        let seg = Segment {
            seq,
            ack,
            flags,
            opts,
            payload: &[],
        };
        let f = build(src, dst, &seg, now);
        if flags & FIN != 0 {
            src.fin = true;
        }
        self.outq.push_back(f);
    }

    fn advance(&mut self, now: u64, rng: &mut Rng, knobs: &Knobs, stats: &mut Stats) {
        let mss = (knobs.mss + 12).min(usize::from(u16::MAX)) as u16;
        match self.phase {
            Phase::Syn => {
                self.control(Dir::C2s, SYN, Opts::Syn { mss }, now);
                self.phase = Phase::SynAck;
            }
            Phase::SynAck => {
                self.control(Dir::S2c, SYN | ACK, Opts::Syn { mss }, now);
                self.phase = Phase::HandshakeAck;
            }
            Phase::HandshakeAck => {
                self.control(Dir::C2s, ACK, Opts::None, now);
                self.phase = Phase::Data;
            }
            Phase::Data => self.data(now, rng, knobs, stats),
            Phase::Close => {
                // Copies still waiting go out before the FINs.
                for d in std::mem::take(&mut self.delayed) {
                    self.outq.push_back(d.frame);
                }
                let (a, b) = (self.closer, opposite(self.closer));
                self.control(a, FIN | ACK, Opts::None, now);
                self.control(b, ACK, Opts::None, now);
                self.control(b, FIN | ACK, Opts::None, now);
                self.control(a, ACK, Opts::None, now);
                stats.pure_acks += 2;
                self.phase = Phase::Done;
            }
            Phase::Done => {}
        }
    }

    /// Sends the next segment of the script (or moves on to closing).
    fn data(&mut self, now: u64, rng: &mut Rng, knobs: &Knobs, stats: &mut Stats) {
        if !self.in_message {
            let Some(msg) = self.script.pop_front() else {
                self.phase = Phase::Close;
                return;
            };
            if self.sending != Some(msg.dir) {
                // The new sender's first segment acknowledges everything.
                self.unacked = 0;
            }
            self.sending = Some(msg.dir);
            self.pump.start(msg);
            self.in_message = !self.pump.is_empty();
            return;
        }
        let Some(dir) = self.sending else {
            self.in_message = false;
            return;
        };
        let mut payload = Vec::with_capacity(knobs.mss);
        self.pump.take(knobs.mss, &mut payload);
        let last = self.pump.is_empty();
        let (src, dst) = self.pair(dir);
        let offset = src.sent;
        let seg = Segment {
            seq: src.seq_at(offset),
            ack: dst.next_seq(),
            flags: if last { ACK | PSH } else { ACK },
            opts: Opts::Timestamps,
            payload: &payload,
        };
        let f = build(src, dst, &seg, now);
        src.sent += payload.len() as u64;
        stats.data_segments += 1;
        match dir {
            Dir::C2s => stats.payload_c2s += payload.len() as u64,
            Dir::S2c => stats.payload_s2c += payload.len() as u64,
        }
        let mut reorder = rng.percent(knobs.reorder);
        if last {
            stats.reorder_owed += u64::from(reorder);
            reorder = false;
        } else if !reorder && stats.reorder_owed > 0 {
            stats.reorder_owed -= 1;
            reorder = true;
        }
        if reorder {
            stats.reordered += 1;
            self.held.push(Held {
                wait: rng.range(1, 3),
                offset,
                frame: f,
                len: payload.len(),
            });
        } else {
            self.emit(f, payload.len(), now, rng, knobs, stats);
            for h in &mut self.held {
                h.wait = h.wait.saturating_sub(1);
            }
            self.release(|h| h.wait == 0, now, rng, knobs, stats);
        }
        if last {
            self.release(|_| true, now, rng, knobs, stats);
            self.in_message = false;
            let next_same = self.script.front().is_none_or(|m| m.dir == dir);
            if self.unacked > 0 && next_same {
                self.control(opposite(dir), ACK, Opts::None, now);
                stats.pure_acks += 1;
                self.unacked = 0;
            }
        }
    }

    /// Emits the held segments for which `due` holds, in stream order.
    fn release(
        &mut self,
        due: impl Fn(&Held) -> bool,
        now: u64,
        rng: &mut Rng,
        knobs: &Knobs,
        stats: &mut Stats,
    ) {
        while let Some(pos) = self.held.iter().position(&due) {
            let h = self.held.remove(pos);
            self.emit(h.frame, h.len, now, rng, knobs, stats);
        }
    }

    /// Queues a data frame (perhaps also a later copy of it), and the receiver's ACK after
    /// every second segment.
    fn emit(
        &mut self,
        f: Vec<u8>,
        len: usize,
        now: u64,
        rng: &mut Rng,
        knobs: &Knobs,
        stats: &mut Stats,
    ) {
        debug_assert_eq!(f.len(), DATA_HEADERS + len);
        if rng.percent(knobs.retransmit) {
            stats.retransmitted += 1;
            stats.retransmitted_bytes += len as u64;
            // The copy follows the original after one to three more frames of this session.
            let wait = self.outq.len() + 1 + rng.range_usize(1, 3);
            let mut frame = f.clone();
            if let Some(dir) = self.sending {
                let (src, _) = self.pair(dir);
                frame::renumber(&mut frame, src);
            }
            self.delayed.push(Delayed { wait, frame });
        }
        self.outq.push_back(f);
        self.unacked += 1;
        if self.unacked >= 2 {
            if let Some(dir) = self.sending {
                self.control(opposite(dir), ACK, Opts::None, now);
                stats.pure_acks += 1;
            }
            self.unacked = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Part;
    use std::net::Ipv4Addr;

    fn ep(ip: [u8; 4], port: u16, isn: u32) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::from(ip),
            port,
            mac: [2, 0, 0, 0, 0, 1],
            isn,
            sent: 0,
            fin: false,
            ip_id: 1,
            ttl: 64,
            ts_base: 0,
            last_tsval: 0,
            window: 2048,
        }
    }

    /// (flags, seq, ack, payload length) of every frame.
    fn run(knobs: Knobs, seed: u64) -> (Vec<(u8, u32, u32, usize)>, Stats) {
        let script = vec![
            Message::new(Dir::C2s, vec![Part::Binary(300)]),
            Message::new(Dir::S2c, vec![Part::Binary(200_000)]),
        ];
        let mut s = Session::new(
            ep([10, 0, 0, 1], 40000, 7),
            ep([172, 16, 0, 1], 80, 0xffff_0000),
            script,
            Dir::C2s,
            Rng::new(1),
        );
        let (mut rng, mut stats, mut out) = (Rng::new(seed), Stats::default(), Vec::new());
        while let Some(f) = s.next_frame(0, &mut rng, &knobs, &mut stats) {
            let u32_at = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
            let hl = usize::from(f[46] >> 4) * 4;
            out.push((f[47], u32_at(38), u32_at(42), f.len() - 34 - hl));
        }
        (out, stats)
    }

    #[test]
    fn clean_session_shape() {
        let knobs = Knobs {
            reorder: 0.0,
            retransmit: 0.0,
            mss: 1448,
        };
        let (frames, stats) = run(knobs, 1);
        assert_eq!(frames[0].0, SYN);
        assert_eq!(frames[1].0, SYN | ACK);
        assert_eq!(frames[2].0, ACK);
        assert_eq!(stats.payload_s2c, 200_000);
        assert_eq!(stats.payload_c2s, 300);
        let segs = 200_000usize.div_ceil(1448);
        let data = frames.iter().filter(|f| f.3 > 0).count();
        assert_eq!(data, segs + 1);
        // FIN exchange at the end, both ways.
        let n = frames.len();
        assert_eq!(frames[n - 4].0, FIN | ACK);
        assert_eq!(frames[n - 2].0, FIN | ACK);
        // Sequence numbers wrap: server ISN is 0xffff0000 and 200000 bytes go past 2^32.
        assert!(frames.iter().any(|f| f.3 > 0 && f.1 < 0x1000));
    }

    #[test]
    fn estimate_is_exact_without_retransmissions() {
        let knobs = Knobs {
            reorder: 30.0,
            retransmit: 0.0,
            mss: 1000,
        };
        let mk = || {
            vec![
                Message::new(Dir::S2c, vec![Part::Binary(10)]),
                Message::new(Dir::C2s, vec![Part::Binary(2500)]),
                Message::new(Dir::C2s, vec![Part::Binary(1000)]),
                Message::new(Dir::S2c, vec![Part::Binary(5000)]),
                Message::new(Dir::C2s, vec![Part::Binary(3)]),
            ]
        };
        let est = estimate(&mk(), 1000);
        let mut s = Session::new(
            ep([10, 0, 0, 1], 40000, 7),
            ep([172, 16, 0, 1], 25, 9),
            mk(),
            Dir::S2c,
            Rng::new(1),
        );
        let (mut rng, mut stats, mut total) = (Rng::new(2), Stats::default(), 0);
        while let Some(f) = s.next_frame(0, &mut rng, &knobs, &mut stats) {
            total += f.len() as u64 + frame::RECORD_LEN;
        }
        assert!(stats.reordered > 0);
        assert_eq!(total, est);
    }

    #[test]
    fn disturbed_session_delivers_every_byte() {
        let knobs = Knobs {
            reorder: 20.0,
            retransmit: 20.0,
            mss: 1448,
        };
        let (frames, stats) = run(knobs, 5);
        assert!(stats.reordered > 0 && stats.retransmitted > 0);
        let data: Vec<_> = frames.iter().filter(|f| f.3 > 0).collect();
        assert_eq!(data.len() as u64, 139 + 1 + stats.retransmitted);
        let fin = frames.iter().position(|f| f.0 & FIN != 0).unwrap();
        assert!(frames[fin..].iter().all(|f| f.3 == 0));
    }
}
