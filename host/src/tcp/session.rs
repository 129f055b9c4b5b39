//! One TCP connection seen from the wire: which side is the client, how far the handshake and
//! the close got, and which side is speaking (the current monologue).
//!
//! States are not tracked the way an endpoint tracks them (RFC 9293 §3.3.2): an observer sees
//! both sides, may miss packets, and may join late. What matters here is
//! * the base sequence number of each direction (from its SYN, else from the peer's ACK, else
//!   from the first segment seen);
//! * when the session starts (the ACK that completes the handshake, as in the original; the
//!   first packet of a midstream session; at the latest just before its first byte);
//! * when it ends (the ACK of the second FIN; a RST, after `close_linger`; idle timeout; end of
//!   input; reuse of the port pair);
//! * monologue boundaries: a monologue ends when the other side delivers in-order data.
//!
//! Per packet, the acknowledgment is processed before the payload: bytes the peer had received
//! (and so had been sent earlier) are delivered, or declared gaps, before this packet's data.

use crate::decode::{Endpoint, TcpFlags, TcpPacket};

use super::stream::{Delivery, Sent, Stream};
use super::{Direction, EndReason, Gap, Monologue, SessionEnd, TcpConfig, TcpObserver};

/// How much of the handshake was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// SYN, SYN-ACK and the ACK that completes it.
    Complete,
    /// Some of it (a SYN, or a SYN-ACK), but the session never got established that way.
    Partial,
    /// None: the session was picked up midstream.
    None,
}

impl Handshake {
    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Handshake::Complete => "complete",
            Handshake::Partial => "partial",
            Handshake::None => "none",
        }
    }
}

/// What is known about a session, passed with every event.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Creation order, from 0: sessions are numbered in the order of their first packet.
    pub ordinal: u64,
    /// Index of the session in the listener's table: unique among the sessions open at any
    /// moment, reused after a session ends, and below the peak number of open sessions.
    /// Observers index their own per-session state with it instead of hashing.
    pub slot: usize,
    /// The original's `socketpair_key`: both `ip:port` strings, sorted bytewise, joined by `-`.
    pub key: String,
    /// The side that sent the SYN (for a midstream session, see `docs/reassembly.md`).
    pub client: Endpoint,
    /// The other side.
    pub server: Endpoint,
    /// Frame number (from 0, across all input files) of the first packet.
    pub first_frame: u64,
    /// Capture time of the first packet, ns.
    pub t_first: u64,
    /// Capture time of the latest packet, ns.
    pub t_last: u64,
    /// Packets so far, both directions.
    pub packets: u64,
    /// Handshake seen so far.
    pub handshake: Handshake,
}

impl SessionInfo {
    /// `from` and `to` endpoints of a direction.
    pub fn endpoints(&self, direction: Direction) -> (Endpoint, Endpoint) {
        match direction {
            Direction::ClientToServer => (self.client, self.server),
            Direction::ServerToClient => (self.server, self.client),
        }
    }

    /// Whether the session was picked up without any part of the handshake.
    pub fn midstream(&self) -> bool {
        self.handshake == Handshake::None
    }
}

/// Builds the socketpair key of two endpoints.
pub(crate) fn socketpair_key(a: &Endpoint, b: &Endpoint) -> String {
    let (a, b) = (a.to_string(), b.to_string());
    if a <= b {
        format!("{a}-{b}")
    } else {
        format!("{b}-{a}")
    }
}

/// The monologue being built.
struct Current {
    direction: Direction,
    t_start: u64,
    t_end: u64,
    packets: u64,
    recent_packets: super::RecentPackets,
    bytes: u64,
    gaps: Vec<Gap>,
    gaps_unlisted: u64,
}

/// Monologue bookkeeping, apart from the streams so that both can be borrowed at once.
struct Monologues {
    current: Option<Current>,
    count: u64,
}

impl Monologues {
    fn close(&mut self, info: &SessionInfo, obs: &mut impl TcpObserver) {
        if let Some(c) = self.current.take() {
            let m = Monologue {
                direction: c.direction,
                index: self.count,
                t_start: c.t_start,
                t_end: c.t_end,
                packets: c.packets,
                bytes: c.bytes,
                gaps: c.gaps,
                gaps_unlisted: c.gaps_unlisted,
            };
            self.count += 1;
            obs.monologue_end(info, &m);
        }
    }

    /// Makes sure the current monologue is `direction`'s, closing the other side's.
    fn speak(
        &mut self,
        info: &SessionInfo,
        direction: Direction,
        ts: u64,
        obs: &mut impl TcpObserver,
    ) -> &mut Current {
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.direction != direction)
        {
            self.close(info, obs);
        }
        self.current.get_or_insert_with(|| Current {
            direction,
            t_start: ts,
            t_end: ts,
            packets: 0,
            recent_packets: super::RecentPackets::default(),
            bytes: 0,
            gaps: Vec::new(),
            gaps_unlisted: 0,
        })
    }
}

/// The [`Delivery`] of one direction: turns stream output into observer events.
struct Speaker<'a, O> {
    info: &'a SessionInfo,
    monologues: &'a mut Monologues,
    obs: &'a mut O,
    direction: Direction,
    /// Time of the packet being processed (used for gaps, which have no packet of their own).
    now: u64,
    /// The other direction's stream, brought up to what a held segment acknowledged before
    /// the segment is delivered (none while that stream is itself delivering).
    peer: Option<&'a mut Stream>,
    /// How far `peer` may be brought up: not into the bytes of the packet being processed,
    /// when it is the peer's and is yet to be placed (`u64::MAX`: no bound).
    peer_limit: u64,
}

impl<O: TcpObserver> Delivery for Speaker<'_, O> {
    fn data(&mut self, data: &[u8], ts: u64, packet: u64) {
        let cur = self
            .monologues
            .speak(self.info, self.direction, ts, self.obs);
        if cur.recent_packets.first_time(packet) {
            cur.packets += 1;
        }
        if cur.bytes == 0 && cur.gaps.is_empty() {
            cur.t_start = ts;
        }
        cur.t_end = cur.t_end.max(ts);
        cur.bytes += data.len() as u64;
        self.obs.data(self.info, self.direction, data, ts, packet);
    }

    fn gap(&mut self, len: u64) {
        let cur = self
            .monologues
            .speak(self.info, self.direction, self.now, self.obs);
        if cur.gaps.len() < super::MAX_LISTED_GAPS {
            cur.gaps.push(Gap {
                offset: cur.bytes,
                len,
            });
        } else {
            cur.gaps_unlisted += 1;
        }
        self.obs.gap(self.info, self.direction, len, self.now);
    }

    fn shown_at(&mut self, ts: u64) {
        self.now = ts;
    }

    /// As for a packet that delivers (see [`Session::process`]): the peer's bytes that the
    /// held segment (captured at `ts`) acknowledged were sent before it, so they come first
    /// (delivered if held, gaps where never captured, timed at `ts`), in the peer's monologue.
    fn held(&mut self, ack: u64, ts: u64) {
        let Some(peer) = self.peer.as_deref_mut() else {
            return;
        };
        let target = peer.target_of(ack).min(self.peer_limit);
        if target > peer.next {
            let mut out = Speaker {
                info: self.info,
                monologues: &mut *self.monologues,
                obs: &mut *self.obs,
                direction: self.direction.reverse(),
                // The peer's gaps are shown by the held segment's acknowledgment.
                now: ts,
                peer: None,
                peer_limit: u64::MAX,
            };
            peer.flush_to(target, &mut out);
        }
    }
}

/// What a packet did to its session.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The session ended with this packet.
    pub(crate) ended: bool,
    /// The per-session out-of-order limit forced a gap.
    pub(crate) forced_gap: bool,
    /// The session has just reached `max_session_size`.
    pub(crate) capped_now: bool,
    /// A RST was ignored.
    pub(crate) rst_ignored: bool,
    /// A FIN was ignored.
    pub(crate) fin_ignored: bool,
}

/// One connection.
pub(crate) struct Session {
    pub(crate) info: SessionInfo,
    /// Indexed by [`Direction::index`].
    streams: [Stream; 2],
    monologues: Monologues,
    started: bool,
    /// Whether each side's FIN was acknowledged.
    fin_acked: [bool; 2],
    /// Capture time of the first accepted RST.
    pub(crate) reset_at: Option<u64>,
    /// Capture time at which both FINs had been seen.
    pub(crate) closing_since: Option<u64>,
    /// Initial sequence number of the client's SYN.
    pub(crate) client_isn: Option<u32>,
    syn_ack_seen: bool,
    capped: bool,
    ended: bool,
}

/// An acknowledgment this far beyond the expected data is taken to be bogus.
const MAX_ACK_AHEAD: u64 = 1 << 30;

impl Session {
    /// A session for `first`, the first packet seen of it.
    pub(crate) fn new(
        ordinal: u64,
        frame: u64,
        ts: u64,
        first: &TcpPacket<'_>,
        config: &TcpConfig,
    ) -> Session {
        let flags = first.flags;
        // The client is the side that sent the SYN. With only a SYN-ACK, the side it goes to.
        // Without either (midstream), the side with the ephemeral port if exactly one port is
        // below 1024, else the sender of the first packet.
        let (client, server, handshake) = if flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::ACK) {
            (first.src, first.dst, Handshake::Partial)
        } else if flags.has(TcpFlags::SYN) {
            (first.dst, first.src, Handshake::Partial)
        } else if first.src.port < 1024 && first.dst.port >= 1024 {
            (first.dst, first.src, Handshake::None)
        } else {
            (first.src, first.dst, Handshake::None)
        };
        Session {
            info: SessionInfo {
                ordinal,
                slot: 0,
                key: socketpair_key(&client, &server),
                client,
                server,
                first_frame: frame,
                t_first: ts,
                t_last: ts,
                packets: 0,
                handshake,
            },
            streams: [
                Stream::new(config.overlap_segments),
                Stream::new(config.overlap_segments),
            ],
            monologues: Monologues {
                current: None,
                count: 0,
            },
            started: false,
            fin_acked: [false; 2],
            reset_at: None,
            closing_since: None,
            client_isn: None,
            syn_ack_seen: false,
            capped: false,
            ended: false,
        }
    }

    /// Direction of a packet sent by `src`.
    pub(crate) fn direction_of(&self, src: &Endpoint) -> Direction {
        if *src == self.info.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }

    /// What holding out-of-order data costs in both directions: the bytes, and each held
    /// segment's own memory ([`super::stream::HELD_SEGMENT_COST`]). The out-of-order limits
    /// count this.
    pub(crate) fn held_cost(&self) -> usize {
        self.streams.iter().map(|s| s.held_cost()).sum()
    }

    /// Whether the session has carried payload or completed its handshake (so that a SYN with
    /// another sequence number must be a new connection).
    pub(crate) fn is_established(&self) -> bool {
        self.info.handshake == Handshake::Complete
            || self
                .streams
                .iter()
                .any(|s| s.stats.bytes > 0 || s.buffered > 0)
    }

    fn ensure_started(&mut self, ts: u64, obs: &mut impl TcpObserver) {
        if !self.started {
            self.started = true;
            obs.session_start(&self.info, ts);
        }
    }

    /// Processes one packet of this session, sent in `direction`.
    pub(crate) fn process(
        &mut self,
        pkt: &TcpPacket<'_>,
        frame: u64,
        ts: u64,
        config: &TcpConfig,
        obs: &mut impl TcpObserver,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let direction = self.direction_of(&pkt.src);
        let d = direction.index();
        let o = direction.reverse().index();
        let flags = pkt.flags;
        self.info.packets += 1;
        self.info.t_last = self.info.t_last.max(ts);

        // Whether the sender's stream was placed before this packet (for RST validity).
        let sender_placed = self.streams_get(d).base.is_some();
        // Base sequence numbers.
        let mut data_seq = pkt.seq;
        if flags.has(TcpFlags::SYN) {
            data_seq = pkt.seq.wrapping_add(1);
            if flags.has(TcpFlags::ACK) {
                self.syn_ack_seen = true;
            } else {
                self.client_isn = Some(pkt.seq);
            }
            let stream = self.stream_mut(d);
            if !stream.syn_seen && stream.stats.bytes == 0 && stream.buffered == 0 {
                stream.base = Some(data_seq);
                stream.next = 0;
                stream.syn_seen = true;
            }
        } else if self.streams_get(d).base.is_none() {
            self.stream_mut(d).base = Some(pkt.seq);
        }
        if flags.has(TcpFlags::ACK)
            && self.streams_get(o).base.is_none()
            && !flags.has(TcpFlags::RST)
        {
            // The peer's next byte is what this side acknowledges.
            self.stream_mut(o).base = Some(pkt.ack);
        }
        if self.info.handshake == Handshake::None {
            // Midstream: the session starts at its first packet.
            self.ensure_started(ts, obs);
        }

        // RST validity. While only the client's SYN is known (nothing shows the server
        // answered), a server RST must acknowledge it. Once the sender's stream is placed, a RST
        // must fall in it (RFC 9293 §3.10.7.4: not before what its peer already acknowledged,
        // nor implausibly far beyond what was sent); one outside is ignored, as the receiver
        // ignores it.
        if flags.has(TcpFlags::RST) {
            let syn_sent = !self.syn_ack_seen
                && self.client_isn.is_some()
                && direction == Direction::ServerToClient
                && !sender_placed;
            let valid = if syn_sent {
                flags.has(TcpFlags::ACK)
                    && self.client_isn.map(|isn| isn.wrapping_add(1)) == Some(pkt.ack)
            } else {
                let st = self.streams_get(d);
                !sender_placed
                    || st.offset(pkt.seq).is_some_and(|off| {
                        off >= st.acked.min(st.next) && off <= st.reach() + MAX_ACK_AHEAD
                    })
            };
            if !valid {
                outcome.rst_ignored = true;
                return outcome;
            }
        }

        // Acknowledgment: what the peer has received.
        if flags.has(TcpFlags::ACK) {
            let peer = self.stream_mut(o);
            peer.acknowledge(pkt.ack, ts, MAX_ACK_AHEAD);
            if let (Some(fin), Some(off)) = (peer.fin, peer.offset(pkt.ack)) {
                if off > fin {
                    if let Some(acked) = self.fin_acked.get_mut(o) {
                        *acked = true;
                    }
                }
            }
            // Handshake completion: the client acknowledges the server's SYN.
            if direction == Direction::ClientToServer
                && !flags.has(TcpFlags::SYN)
                && self.syn_ack_seen
                && self.info.handshake == Handshake::Partial
                && self.streams_get(o).syn_seen
                && self.streams_get(o).offset(pkt.ack).is_some()
            {
                self.info.handshake = Handshake::Complete;
                self.ensure_started(ts, obs);
            }
        }

        // Where this packet's payload goes. A segment that starts before offset 0 but runs
        // past it (a midstream capture whose first acknowledgment fell inside a segment later
        // retransmitted, or coalesced) keeps its bytes from offset 0 on; only those before it
        // are ignored.
        let mut body = pkt.payload;
        let mut at = self.streams_get(d).offset(data_seq);
        if let (None, Some(base)) = (at, self.streams_get(d).base) {
            let before = base.wrapping_sub(data_seq) as usize;
            if let Some(rest) = body.get(before..).filter(|r| !r.is_empty()) {
                self.stream_mut(d).stats.before_start += before as u64;
                body = rest;
                at = Some(0);
            }
        }
        let len = body.len();
        let placed = if len > 0 || pkt.missing > 0 || flags.has(TcpFlags::FIN) {
            if at.is_none() {
                self.stream_mut(d).stats.before_start += len as u64;
            }
            at
        } else {
            // A keep-alive probe without its byte: an empty ACK one below the next offset.
            if at.is_some_and(|off| self.streams_get(d).is_keepalive(off, 0, flags)) {
                self.stream_mut(d).stats.keepalives += 1;
            }
            None
        };
        let delivers =
            placed.is_some_and(|off| self.streams_get(d).would_deliver(off, len)) && !self.capped;
        // How far this packet acknowledged the peer (as far as the acknowledgment was taken),
        // kept with its bytes if some of them wait out of order (only then worked out).
        let may_wait = placed.is_some() && (!delivers || self.streams_get(d).buffered > 0);
        let acks = if may_wait && flags.has(TcpFlags::ACK) {
            let peer = self.streams_get(o);
            peer.offset(pkt.ack).map(|off| off.min(peer.acked))
        } else {
            None
        };
        let sent = Sent {
            ts,
            packet: frame,
            ack: acks,
        };

        // Bytes of the other side that the peer acknowledged: sent before this packet, so
        // delivered (or declared missing) before it.
        let peer = self.streams_get(o);
        if peer.acked > peer.next {
            let interior = peer
                .first_buffered()
                .is_some_and(|first| first < peer.acked);
            if interior || delivers {
                let target = peer.acked_target();
                if target > peer.next {
                    self.ensure_started(ts, obs);
                    // Held bytes of the other side delivered now may bring this side's stream
                    // up to what they acknowledged, but not into this packet's own bytes,
                    // which come next.
                    // (Only a packet that brings bytes past `next`, or a FIN, has bytes of its
                    // own to come; from `next` at the earliest.)
                    let next = self.streams_get(d).next;
                    let own = placed
                        .filter(|&off| {
                            off + len as u64 + u64::from(pkt.missing) > next
                                || flags.has(TcpFlags::FIN)
                        })
                        .map_or(u64::MAX, |off| off.max(next));
                    self.with_speaker_upto(o, ts, own, obs, |stream, out| {
                        stream.flush_to(target, out)
                    });
                }
            }
        }

        // This packet's payload.
        if let Some(off) = placed {
            let mut payload = body;
            // A FIN follows every byte the segment carried, captured or cut off by the snap
            // length. It must fall in the stream, as a RST must, judged by what was known
            // before this packet: not before bytes already delivered or acknowledged (give or
            // take its own sequence number, which the peer acknowledges, and which a flush
            // on that acknowledgment may have declared missing before the FIN was captured),
            // nor implausibly far beyond what was sent. One that does not is stale or
            // injected: taken, it would cut off the rest of the direction (or, far ahead,
            // make a phantom gap).
            let fin_at = off + len as u64 + u64::from(pkt.missing);
            let bad_fin = flags.has(TcpFlags::FIN) && {
                let st = self.streams_get(d);
                !(fin_at + 1 >= st.next
                    && fin_at + 1 >= st.acked
                    && fin_at <= st.reach() + MAX_ACK_AHEAD)
            };
            // A bare FIN ignored says nothing of what was sent.
            if !(bad_fin && len == 0 && pkt.missing == 0) {
                let stream = self.stream_mut(d);
                stream.sent_up_to(fin_at, ts);
            }
            if config.max_session_size > 0 && len > 0 {
                let used: u64 = self
                    .streams
                    .iter()
                    .map(|s| s.stats.bytes + s.buffered as u64)
                    .sum();
                // Only bytes neither delivered nor held yet count against the limit: a
                // retransmission that carries old bytes with new ones gets room for the new
                // ones (held bytes are in `used` already).
                let st = self.streams_get(d);
                let old = (st.next.saturating_sub(off) as usize).min(len);
                let fresh = st.unheld(off + old as u64, off + len as u64) as usize;
                let room = if self.capped {
                    0
                } else {
                    config.max_session_size.saturating_sub(used)
                };
                if (fresh as u64) > room {
                    // Cut where `room` more new bytes have gone by (held bytes on the way are
                    // kept: their copies are held anyway).
                    let from = off + old as u64;
                    let cut = st.after_unheld(from, off + len as u64, room);
                    let keep = ((cut - off) as usize).min(len);
                    self.stream_mut(d).cap((fresh - room as usize) as u64);
                    payload = payload.get(..keep).unwrap_or(&[]);
                    if !self.capped {
                        self.capped = true;
                        outcome.capped_now = true;
                        let cut = off + keep as u64;
                        for (i, stream) in self.streams.iter_mut().enumerate() {
                            let at = if i == d { cut } else { stream.kept_end() };
                            stream.cap_from(at);
                        }
                    }
                }
            }
            if !payload.is_empty() {
                let keepalive = self.streams_get(d).is_keepalive(off, payload.len(), flags);
                if delivers || self.streams_get(d).first_buffered().is_some() {
                    self.ensure_started(ts, obs);
                }
                self.with_speaker(d, ts, obs, |stream, out| {
                    stream.segment(off, payload, keepalive, sent, out);
                });
                // Per-session out-of-order limit: give up on holes until within it.
                while self.held_cost() > config.max_buffered_per_session {
                    outcome.forced_gap = true;
                    let target = if self.streams_get(d).buffered > 0 {
                        d
                    } else {
                        o
                    };
                    self.ensure_started(ts, obs);
                    if !self
                        .with_speaker(target, ts, obs, |stream, out| stream.skip_first_hole(out))
                    {
                        break;
                    }
                }
            }
            if bad_fin {
                outcome.fin_ignored = true;
            } else if flags.has(TcpFlags::FIN) {
                let stream = self.stream_mut(d);
                if stream.fin.is_none() {
                    stream.fin = Some(fin_at);
                }
            }
        }

        if flags.has(TcpFlags::RST) && self.reset_at.is_none() {
            self.reset_at = Some(ts);
        }
        if self.closing_since.is_none() && self.streams.iter().all(|s| s.fin.is_some()) {
            self.closing_since = Some(ts);
        }
        if self.fin_acked.iter().all(|a| *a) && self.streams.iter().all(|s| s.fin.is_some()) {
            outcome.ended = true;
        }
        if self.reset_at.is_some() && config.close_linger_ns == 0 {
            outcome.ended = true;
        }
        outcome
    }

    /// Why the session would end now if nothing else ended it: a RST or FIN exchange seen
    /// earlier, else `otherwise`.
    pub(crate) fn natural_end(&self, otherwise: EndReason) -> EndReason {
        if self.reset_at.is_some() {
            EndReason::Rst
        } else if self.closing_since.is_some() {
            EndReason::Fin
        } else {
            otherwise
        }
    }

    /// Gives up on the first hole of whichever direction holds data (for the overall
    /// out-of-order limit). Returns false when nothing was held.
    pub(crate) fn skip_a_hole(&mut self, ts: u64, obs: &mut impl TcpObserver) -> bool {
        let Some(index) = (0..2).find(|&i| self.streams_get(i).buffered > 0) else {
            return false;
        };
        self.ensure_started(ts, obs);
        self.with_speaker(index, ts, obs, |stream, out| stream.skip_first_hole(out))
    }

    /// Ends the session: delivers everything held, declares what is missing, closes the last
    /// monologue and reports the end.
    pub(crate) fn end(&mut self, reason: EndReason, oldest_open: u64, obs: &mut impl TcpObserver) {
        if self.ended {
            return;
        }
        self.ended = true;
        let t_end = match reason {
            EndReason::Rst => self.reset_at.unwrap_or(self.info.t_last),
            _ => self.info.t_last,
        };
        self.ensure_started(t_end, obs);
        // The side that is speaking finishes first, so its last bytes stay in its monologue.
        let first = self
            .monologues
            .current
            .as_ref()
            .map_or(Direction::ClientToServer, |c| c.direction);
        for direction in [first, first.reverse()] {
            self.with_speaker(direction.index(), t_end, obs, |stream, out| {
                stream.finish(out)
            });
        }
        self.monologues.close(&self.info, obs);
        let end = SessionEnd {
            reason,
            t_end,
            monologues: self.monologues.count,
            streams: [self.streams_get(0).stats, self.streams_get(1).stats],
            capped: self.capped,
            oldest_open,
        };
        obs.session_end(&self.info, &end);
    }

    /// Counters of both directions added together.
    pub(crate) fn totals(&self) -> super::StreamStats {
        let mut t = super::StreamStats::default();
        for s in &self.streams {
            t.add(&s.stats);
        }
        t
    }

    fn streams_get(&self, index: usize) -> &Stream {
        let [c, s] = &self.streams;
        if index == 0 {
            c
        } else {
            s
        }
    }

    fn stream_mut(&mut self, index: usize) -> &mut Stream {
        let [c, s] = &mut self.streams;
        if index == 0 {
            c
        } else {
            s
        }
    }

    /// Runs `f` on one stream with a [`Speaker`] for its direction.
    fn with_speaker<O: TcpObserver, R>(
        &mut self,
        index: usize,
        now: u64,
        obs: &mut O,
        f: impl FnOnce(&mut Stream, &mut Speaker<'_, O>) -> R,
    ) -> R {
        self.with_speaker_upto(index, now, u64::MAX, obs, f)
    }

    /// [`Self::with_speaker`], bringing the other direction's stream up to `peer_limit` at
    /// most.
    fn with_speaker_upto<O: TcpObserver, R>(
        &mut self,
        index: usize,
        now: u64,
        peer_limit: u64,
        obs: &mut O,
        f: impl FnOnce(&mut Stream, &mut Speaker<'_, O>) -> R,
    ) -> R {
        let direction = if index == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let [c, s] = &mut self.streams;
        let (stream, peer) = if index == 0 { (c, s) } else { (s, c) };
        let mut out = Speaker {
            info: &self.info,
            monologues: &mut self.monologues,
            obs,
            direction,
            now,
            peer: Some(peer),
            peer_limit,
        };
        f(stream, &mut out)
    }
}
