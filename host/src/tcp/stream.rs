//! One direction of a session: out-of-order buffering, retransmissions, overlaps and gaps.
//!
//! Bytes are placed by stream offset (see [`super::seq`]). Data at the expected offset is
//! delivered at once, straight from the packet, without a copy. Data beyond it waits in an
//! ordered map of non-overlapping segments until the hole before it is filled, or until the
//! session declares the hole a gap (the peer acknowledged the missing bytes, a buffer limit was
//! reached, or the session ended). Where copies of the same bytes differ, the copy that arrived
//! first wins, and the disagreement is counted.

use std::collections::BTreeMap;

use super::seq;

/// Receives what a stream delivers, in stream order.
pub(crate) trait Delivery {
    /// Contiguous bytes, from the packet with capture time `ts` and frame number `packet`.
    fn data(&mut self, data: &[u8], ts: u64, packet: u64);
    /// `len` bytes that were sent but never captured.
    fn gap(&mut self, len: u64);
    /// The gaps that follow were shown by a packet captured at `ts` (at the end of a session,
    /// when they are declared long after).
    fn shown_at(&mut self, _ts: u64) {}
    /// Held bytes are about to be delivered whose packet, captured at `ts`, acknowledged the
    /// peer's stream up to offset `ack`: the peer's bytes before it were sent first.
    fn held(&mut self, _ack: u64, _ts: u64) {}
}

/// Where a segment's bytes come from: the packet's capture time and frame number, and how far
/// it acknowledged the peer's stream (an offset in it), if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) ts: u64,
    pub(crate) packet: u64,
    pub(crate) ack: Option<u64>,
}

impl Sent {
    /// Bytes of frame `packet`, captured at `ts`, that acknowledged nothing.
    #[cfg(test)]
    pub(crate) fn at(ts: u64, packet: u64) -> Sent {
        Sent {
            ts,
            packet,
            ack: None,
        }
    }
}

/// Counters for one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes delivered (gaps excluded).
    pub bytes: u64,
    /// Gaps declared.
    pub gaps: u64,
    /// Bytes missing in those gaps.
    pub gap_bytes: u64,
    /// Payload bytes that arrived again (retransmissions and overlaps).
    pub retransmitted: u64,
    /// Segments whose bytes differ from a copy that arrived earlier.
    pub conflicts: u64,
    /// Keep-alive probes.
    pub keepalives: u64,
    /// Payload bytes beyond the FIN, ignored.
    pub beyond_fin: u64,
    /// Payload bytes placed before the start of the stream, ignored.
    pub before_start: u64,
    /// Payload bytes dropped because the session reached `max_session_size`.
    pub capped: u64,
    /// Payload bytes that were held out of order at some point.
    pub reordered: u64,
}

impl StreamStats {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &StreamStats) {
        self.bytes += other.bytes;
        self.gaps += other.gaps;
        self.gap_bytes += other.gap_bytes;
        self.retransmitted += other.retransmitted;
        self.conflicts += other.conflicts;
        self.keepalives += other.keepalives;
        self.beyond_fin += other.beyond_fin;
        self.before_start += other.before_start;
        self.capped += other.capped;
        self.reordered += other.reordered;
    }
}

struct Segment {
    data: Vec<u8>,
    sent: Sent,
}

/// What a held segment costs beyond its bytes, counted against the out-of-order limits: its
/// allocation's header and rounding, its [`Sent`], and its share of the ordered map (measured:
/// a million one-byte segments held took 135 MB more than the same bytes in order).
pub(crate) const HELD_SEGMENT_COST: usize = 128;

/// Digests of the last segments delivered, kept to tell a faithful retransmission from one
/// whose bytes differ without keeping the bytes themselves: each delivered chunk is remembered
/// as (offset, length, 64-bit XXH3 digest keyed with a per-run seed). A retransmission is
/// compared with every remembered chunk it covers completely (retransmissions normally repeat
/// or merge earlier segments), by digest.
struct Recent {
    entries: Vec<Digest>,
    cap: usize,
    next: usize,
}

#[derive(Clone, Copy)]
struct Digest {
    off: u64,
    len: u64,
    hash: u64,
}

/// Key of the digests: random per run, so crafted data cannot be made to collide.
fn digest_seed() -> u64 {
    use std::sync::OnceLock;
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ (std::process::id() as u64).rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15
    })
}

fn digest(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(data, digest_seed())
}

impl Recent {
    fn new(cap: usize) -> Recent {
        Recent {
            entries: Vec::new(),
            cap,
            next: 0,
        }
    }

    fn append(&mut self, off: u64, data: &[u8]) {
        if self.cap == 0 || data.is_empty() {
            return;
        }
        let d = Digest {
            off,
            len: data.len() as u64,
            hash: digest(data),
        };
        if self.entries.len() < self.cap {
            self.entries.push(d);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = d;
        }
        self.next = (self.next + 1) % self.cap;
    }

    /// Whether `data` at `off` differs from a remembered chunk it covers. `None` when it
    /// covers none completely.
    fn differs(&self, off: u64, data: &[u8]) -> Option<bool> {
        let end = off + data.len() as u64;
        let mut compared = false;
        for d in &self.entries {
            if d.off >= off && d.off + d.len <= end {
                compared = true;
                let from = (d.off - off) as usize;
                let slice = data.get(from..from + d.len as usize).unwrap_or(&[]);
                if digest(slice) != d.hash {
                    return Some(true);
                }
            }
        }
        compared.then_some(false)
    }
}

/// One direction of a session.
pub(crate) struct Stream {
    /// Sequence number of stream offset 0, once known.
    pub(crate) base: Option<u32>,
    /// Whether the base came from this side's SYN.
    pub(crate) syn_seen: bool,
    /// Next offset expected: everything before it was delivered or declared a gap.
    pub(crate) next: u64,
    /// Highest offset the peer acknowledged.
    pub(crate) acked: u64,
    /// Capture time of the packet that acknowledged `acked`.
    acked_ts: u64,
    /// Highest offset known to have been sent (captured or cut off by the snap length).
    highest: u64,
    /// Capture time of the packet that showed `highest`.
    highest_ts: u64,
    /// Offset of this side's FIN, once seen.
    pub(crate) fin: Option<u64>,
    segments: BTreeMap<u64, Segment>,
    /// Bytes held out of order.
    pub(crate) buffered: usize,
    recent: Recent,
    /// Set once the session reached `max_session_size`: the offset from which this stream
    /// keeps nothing. Holes before it are gaps like any other; what lies at or beyond it was
    /// dropped on purpose (counted in `stats.capped`), and is neither delivered nor reported
    /// as a gap.
    pub(crate) cap_at: Option<u64>,
    pub(crate) stats: StreamStats,
}

impl Stream {
    pub(crate) fn new(overlap_segments: usize) -> Stream {
        Stream {
            base: None,
            syn_seen: false,
            next: 0,
            acked: 0,
            acked_ts: 0,
            highest: 0,
            highest_ts: 0,
            fin: None,
            segments: BTreeMap::new(),
            buffered: 0,
            recent: Recent::new(overlap_segments),
            cap_at: None,
            stats: StreamStats::default(),
        }
    }

    /// Offset of sequence number `seq`, if the base is known and it falls after the start.
    pub(crate) fn offset(&self, seq: u32) -> Option<u64> {
        self.base
            .and_then(|base| seq::offset_of(seq, base, self.next))
    }

    /// How far the stream is known to reach: what was sent, delivered or acknowledged. A RST
    /// or FIN implausibly far beyond it is not of this connection.
    pub(crate) fn reach(&self) -> u64 {
        self.highest.max(self.next).max(self.acked)
    }

    /// A packet captured at `ts` shows that this side sent bytes up to offset `end` (captured
    /// or cut off by the snap length).
    pub(crate) fn sent_up_to(&mut self, end: u64, ts: u64) {
        if end > self.highest {
            self.highest = end;
            self.highest_ts = ts;
        }
    }

    /// Records an acknowledgment from the peer, captured at `ts`, for sequence number `ack`.
    /// Acknowledgments more than `max_ahead` bytes beyond what is expected are ignored as
    /// implausible.
    pub(crate) fn acknowledge(&mut self, ack: u32, ts: u64, max_ahead: u64) {
        if let Some(off) = self.offset(ack) {
            // A FIN takes one sequence number: an ACK of the FIN acknowledges no data.
            let off = match self.fin {
                Some(fin) => off.min(fin),
                None => off,
            };
            if off > self.acked && off <= self.next.max(self.highest) + max_ahead {
                self.acked = off;
                self.acked_ts = ts;
            }
        }
    }

    /// Whether a segment at `off` carrying `len` bytes with `flags` is a keep-alive probe: at
    /// most one byte, the last one already delivered, and no flag but ACK and PSH.
    pub(crate) fn is_keepalive(
        &self,
        off: u64,
        len: usize,
        flags: crate::decode::TcpFlags,
    ) -> bool {
        use crate::decode::TcpFlags;
        len <= 1 && off + 1 == self.next && flags.0 & !(TcpFlags::ACK | TcpFlags::PSH) == 0
    }

    /// Whether a segment at `off` carrying `len` bytes would deliver bytes right away.
    pub(crate) fn would_deliver(&self, off: u64, len: usize) -> bool {
        len > 0
            && off <= self.next
            && off + len as u64 > self.next
            && self.fin.is_none_or(|fin| self.next < fin)
    }

    /// First offset held out of order.
    pub(crate) fn first_buffered(&self) -> Option<u64> {
        self.segments.keys().next().copied()
    }

    /// Takes in a segment's payload at stream offset `off`. Returns the number of bytes that
    /// went into the out-of-order buffer.
    pub(crate) fn segment(
        &mut self,
        off: u64,
        data: &[u8],
        keepalive: bool,
        sent: Sent,
        out: &mut impl Delivery,
    ) -> usize {
        let mut off = off;
        let mut data = data;
        if let Some(fin) = self.fin {
            let end = off + data.len() as u64;
            if end > fin {
                let keep = fin.saturating_sub(off).min(data.len() as u64) as usize;
                self.stats.beyond_fin += (data.len() - keep) as u64;
                data = data.get(..keep).unwrap_or(&[]);
            }
        }
        if data.is_empty() {
            return 0;
        }
        let end = off + data.len() as u64;
        if end <= self.next {
            if keepalive {
                self.stats.keepalives += 1;
            } else {
                self.retransmission(off, data);
            }
            return 0;
        }
        if off < self.next {
            let old = (self.next - off) as usize;
            self.retransmission(off, data.get(..old).unwrap_or(&[]));
            data = data.get(old..).unwrap_or(&[]);
            off = self.next;
        }
        if off == self.next {
            let room = match self.first_buffered() {
                Some(first) => ((first - off) as usize).min(data.len()),
                None => data.len(),
            };
            let (now, later) = data.split_at(room);
            self.deliver(now, sent.ts, sent.packet, out);
            let held = self.insert(off + room as u64, later, sent);
            self.drain(out);
            held
        } else {
            self.insert(off, data, sent)
        }
    }

    fn retransmission(&mut self, off: u64, data: &[u8]) {
        self.stats.retransmitted += data.len() as u64;
        if self.recent.differs(off, data) == Some(true) {
            self.stats.conflicts += 1;
        }
    }

    fn deliver(&mut self, data: &[u8], ts: u64, packet: u64, out: &mut impl Delivery) {
        if data.is_empty() {
            return;
        }
        self.recent.append(self.next, data);
        self.next += data.len() as u64;
        self.stats.bytes += data.len() as u64;
        out.data(data, ts, packet);
    }

    fn declare_gap(&mut self, len: u64, out: &mut impl Delivery) {
        if len == 0 {
            return;
        }
        let start = self.next;
        self.next += len;
        // Beyond the cap, bytes are dropped on purpose, not missing.
        let len = match self.cap_at {
            Some(cap) => cap.saturating_sub(start).min(len),
            None => len,
        };
        if len == 0 {
            return;
        }
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        out.gap(len);
    }

    /// Buffers the parts of `data` (at `off`, beyond `next`) not already held; held copies
    /// win. Returns the bytes added.
    fn insert(&mut self, off: u64, data: &[u8], sent: Sent) -> usize {
        if data.is_empty() {
            return 0;
        }
        let end = off + data.len() as u64;
        // Held segments that overlap [off, end) (collected: holding the bytes between them
        // changes the map).
        let overlapping: Vec<(u64, u64)> = self.held_in(off, end).collect();
        let mut added = 0;
        let mut cursor = off;
        for (s, e) in overlapping {
            if s > cursor {
                added += self.hold(cursor, data_range(data, off, cursor, s), sent);
            }
            // Compare the bytes both copies carry.
            let from = s.max(off);
            let to = e.min(end);
            if from < to {
                self.stats.retransmitted += to - from;
                let held = self
                    .segments
                    .get(&s)
                    .and_then(|g| g.data.get((from - s) as usize..(to - s) as usize));
                if held != Some(data_range(data, off, from, to)) {
                    self.stats.conflicts += 1;
                }
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            added += self.hold(cursor, data_range(data, off, cursor, end), sent);
        }
        added
    }

    /// The held segments that overlap [`from`, `to`), as offset ranges, in order: the one
    /// starting before `from`, if it reaches past it, then every one starting inside.
    fn held_in(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let before = self.segments.range(..from).next_back();
        before
            .into_iter()
            .chain(self.segments.range(from..to))
            .map(|(&s, seg)| (s, s + seg.data.len() as u64))
            .filter(move |&(_, e)| e > from)
    }

    /// Where, from `from` on, `room` bytes that no held segment covers have gone by (at most
    /// `to`): what a segment over [`from`, `to`) can keep when only `room` new bytes may be.
    pub(crate) fn after_unheld(&self, from: u64, to: u64, room: u64) -> u64 {
        let mut at = from;
        let mut left = room;
        for (s, e) in self.held_in(from, to) {
            // Unheld bytes before this held segment.
            let free = s.saturating_sub(at);
            if free >= left {
                return at + left;
            }
            left -= free;
            at = at.max(e.min(to));
        }
        (at + left).min(to)
    }

    /// Bytes of [`from`, `to`) that no held segment covers.
    pub(crate) fn unheld(&self, from: u64, to: u64) -> u64 {
        let covered: u64 = self
            .held_in(from, to)
            .map(|(s, e)| e.min(to).saturating_sub(s.max(from)))
            .sum();
        to.saturating_sub(from).saturating_sub(covered)
    }

    /// What holding this stream's out-of-order data costs: its bytes, and each held segment's
    /// own memory.
    pub(crate) fn held_cost(&self) -> usize {
        self.buffered + self.segments.len() * HELD_SEGMENT_COST
    }

    fn hold(&mut self, off: u64, data: &[u8], sent: Sent) -> usize {
        if data.is_empty() {
            return 0;
        }
        self.buffered += data.len();
        self.stats.reordered += data.len() as u64;
        self.segments.insert(
            off,
            Segment {
                data: data.to_vec(),
                sent,
            },
        );
        data.len()
    }

    /// Delivers held segments that are now contiguous with `next`.
    fn drain(&mut self, out: &mut impl Delivery) {
        while let Some(entry) = self.segments.first_entry() {
            let start = *entry.key();
            if start > self.next {
                break;
            }
            let seg = entry.remove();
            self.buffered -= seg.data.len();
            let skip = ((self.next - start) as usize).min(seg.data.len());
            let fresh = seg.data.get(skip..).unwrap_or(&[]);
            if let (Some(ack), false) = (seg.sent.ack, fresh.is_empty()) {
                out.held(ack, seg.sent.ts);
            }
            self.deliver(fresh, seg.sent.ts, seg.sent.packet, out);
        }
    }

    /// Delivers everything up to offset `target`: held data where there is some, gaps for the
    /// holes between.
    pub(crate) fn flush_to(&mut self, target: u64, out: &mut impl Delivery) {
        self.drain(out);
        while self.next < target {
            let first = self.segments.first_key_value();
            let hole_end = first.map_or(target, |(&first, _)| first.min(target));
            // The held segment right after the hole acknowledged the peer: the peer's bytes
            // it acknowledged come before the hole too (the missing bytes' own
            // acknowledgment is unknown), so that they stay one monologue with it.
            if let Some((ack, ts)) = first
                .filter(|(&first, _)| first == hole_end)
                .and_then(|(_, seg)| Some((seg.sent.ack?, seg.sent.ts)))
            {
                out.held(ack, ts);
            }
            self.declare_gap(hole_end - self.next, out);
            self.drain(out);
        }
    }

    /// Gives up on the first hole: declares it a gap and delivers what follows it.
    /// Returns false when nothing was held.
    pub(crate) fn skip_first_hole(&mut self, out: &mut impl Delivery) -> bool {
        match self.first_buffered() {
            Some(first) => {
                self.flush_to(first, out);
                true
            }
            None => false,
        }
    }

    /// How far the peer's acknowledgments reach, as a stream offset: every byte before it was
    /// sent. One unseen sequence number right after all known data is taken to be an
    /// uncaptured FIN (a FIN takes one sequence number), not a missing byte.
    pub(crate) fn acked_target(&self) -> u64 {
        self.target_of(self.acked)
    }

    /// What an acknowledgment of offset `ack` shows was sent: every byte before it, but for
    /// one unseen sequence number right after all known data (an uncaptured FIN), and never
    /// beyond the FIN (an acknowledgment taken before the FIN was seen can count it).
    pub(crate) fn target_of(&self, ack: u64) -> u64 {
        let known = self.highest.max(self.next);
        match self.fin {
            Some(fin) => ack.min(fin),
            None if ack == known + 1 => known,
            None => ack,
        }
    }

    /// How far the stream is known to reach: acknowledged, or announced by a packet cut short
    /// by the snap length, but never beyond the FIN.
    fn known_end(&self) -> u64 {
        let end = self.acked_target().max(self.highest);
        match self.fin {
            Some(fin) => end.min(fin),
            None => end,
        }
    }

    /// Delivers everything held and declares the remaining holes, as at the end of a session.
    /// Each gap is timed by the packet that showed it, not by the end: a hole before held data
    /// by the held segment's, the missing tail by the packet that announced or acknowledged
    /// its end.
    pub(crate) fn finish(&mut self, out: &mut impl Delivery) {
        // (Each round delivers at least the first held segment.)
        while let Some(ts) = self.segments.first_key_value().map(|(_, seg)| seg.sent.ts) {
            out.shown_at(ts);
            self.skip_first_hole(out);
        }
        let target = self.known_end();
        if target > self.next {
            out.shown_at(if self.highest >= self.acked_target() {
                self.highest_ts
            } else {
                self.acked_ts
            });
        }
        self.flush_to(target, out);
    }

    /// Records that the session's `max_session_size` dropped `n` payload bytes.
    pub(crate) fn cap(&mut self, n: u64) {
        self.stats.capped += n;
    }

    /// The session reached `max_session_size`: this stream keeps nothing from offset `at` on.
    /// Held bytes there are dropped (and counted); holes before it stay gaps.
    pub(crate) fn cap_from(&mut self, at: u64) {
        if self.cap_at.is_some() {
            return;
        }
        self.cap_at = Some(at);
        // Held segments at or beyond the cut go whole; one that straddles it is cut.
        let beyond = self.segments.split_off(&at);
        let mut dropped: usize = beyond.values().map(|seg| seg.data.len()).sum();
        if let Some((&o, seg)) = self.segments.iter_mut().next_back() {
            let keep = at.saturating_sub(o) as usize;
            if seg.data.len() > keep {
                dropped += seg.data.len() - keep;
                seg.data.truncate(keep);
            }
        }
        self.buffered -= dropped;
        self.stats.capped += dropped as u64;
    }

    /// End of the bytes this stream holds or delivered: where it would stop if nothing more
    /// were kept.
    pub(crate) fn kept_end(&self) -> u64 {
        let held = self
            .segments
            .iter()
            .next_back()
            .map_or(0, |(&o, seg)| o + seg.data.len() as u64);
        self.next.max(held)
    }

    /// Sequence number of the next expected byte.
    #[cfg(test)]
    pub(crate) fn next_seq(&self) -> Option<u32> {
        self.base.map(|b| seq::seq_of(self.next, b))
    }
}

/// The part of `data` (which starts at stream offset `off`) between offsets `from` and `to`.
fn data_range(data: &[u8], off: u64, from: u64, to: u64) -> &[u8] {
    data.get((from - off) as usize..(to - off) as usize)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests;
