//! The session table: finds the session of each segment, creates sessions, ends them on time,
//! and keeps memory within the configured limits.
//!
//! Sessions are numbered in the order of their first packet, and every decision that touches
//! several sessions at once (timers that fall due together, the end of input, evictions) takes
//! them in that order, so output is the same on every run.
//!
//! Timers are kept lazily in a heap: each open session has an entry for the earliest moment it
//! could expire; when that moment comes the session is checked and either ended or re-queued.
//! A session that ended by FIN or RST leaves a tombstone for `close_linger`, so that late
//! packets (the last ACK, retransmitted FINs) do not start phantom sessions.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

/// Maps keyed by what the capture says (addresses and ports): hashed with a per-run random
/// seed (foldhash's quality variant), so that a capture cannot be crafted to make its keys
/// collide (FxHash, unseeded and linear in its input, let 200k crafted SYNs take 30 s
/// instead of 1).
type FlowMap<V> = std::collections::HashMap<FlowKey, V, foldhash::quality::RandomState>;

use crate::decode::{Endpoint, TcpFlags, TcpPacket};

use super::session::Session;
use super::{EndReason, TcpConfig, TcpObserver, TcpStats};

/// Both endpoints, in a fixed order, so that both directions find the same session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey(Endpoint, Endpoint);

impl std::hash::Hash for FlowKey {
    /// In as few words as the addresses take (two for an IPv4 pair, five for IPv6): the key
    /// is hashed for every packet, and each word is a step of the seeded hash.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        use std::net::IpAddr;
        let ports = (u32::from(self.0.port) << 16) | u32::from(self.1.port);
        match (self.0.ip, self.1.ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                state.write_u64((u64::from(a.to_bits()) << 32) | u64::from(b.to_bits()));
                state.write_u32(ports);
            }
            (a, b) => {
                let wide = |ip: IpAddr| match ip {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
                    IpAddr::V6(v6) => v6.to_bits(),
                };
                // The families differ from IPv4 pairs by the word count; a mixed pair (never
                // one session in practice) is told from a v6 pair by its mapped address.
                state.write_u128(wide(a));
                state.write_u128(wide(b));
                state.write_u32(ports);
            }
        }
    }
}

impl FlowKey {
    fn new(a: Endpoint, b: Endpoint) -> FlowKey {
        if a <= b {
            FlowKey(a, b)
        } else {
            FlowKey(b, a)
        }
    }
}

/// The TCP listener: feed it segments in capture order with [`TcpListener::segment`], then
/// call [`TcpListener::finish`] at the end of the input.
pub struct TcpListener {
    config: TcpConfig,
    index: FlowMap<usize>,
    slots: Vec<Option<(FlowKey, Session)>>,
    free: Vec<usize>,
    /// Ordinals of the open sessions.
    open: BTreeSet<u64>,
    /// (deadline, ordinal, slot) of each open session's next possible expiry.
    timers: BinaryHeap<Reverse<(u64, u64, usize)>>,
    /// Recently closed port pairs, with the time they closed.
    closed: FlowMap<u64>,
    closed_order: VecDeque<(u64, FlowKey)>,
    next_ordinal: u64,
    buffered_total: usize,
    /// Capture time of the current packet: the clock of every timer. When captures go back in
    /// time (files given out of order), timers simply wait until time catches up.
    clock: u64,
    stats: TcpStats,
}

impl TcpListener {
    /// A listener with the given settings.
    pub fn new(config: TcpConfig) -> TcpListener {
        TcpListener {
            config,
            index: FlowMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            open: BTreeSet::new(),
            timers: BinaryHeap::new(),
            closed: FlowMap::default(),
            closed_order: VecDeque::new(),
            next_ordinal: 0,
            buffered_total: 0,
            clock: 0,
            stats: TcpStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.open.len()
    }

    /// What the out-of-order data held now costs (its bytes and each segment's own memory).
    pub fn buffered(&self) -> usize {
        self.buffered_total
    }

    /// Processes one segment, captured at `ts` (ns) as frame number `frame`.
    pub fn segment(
        &mut self,
        pkt: &TcpPacket<'_>,
        frame: u64,
        ts: u64,
        obs: &mut impl TcpObserver,
    ) {
        self.stats.segments += 1;
        self.clock = ts;
        self.run_timers(obs);

        let key = FlowKey::new(pkt.src, pkt.dst);
        let syn = pkt.flags.has(TcpFlags::SYN) && !pkt.flags.has(TcpFlags::ACK);
        let mut slot = self.index.get(&key).copied();
        if let Some(s) = slot {
            let reason = self.session(s).and_then(|session| {
                if let Some(reason) = self.expiry(session) {
                    Some(reason)
                } else if syn
                    && session.client_isn != Some(pkt.seq)
                    && (session.is_established() || session.client_isn.is_some())
                {
                    Some(EndReason::Reused)
                } else {
                    None
                }
            });
            if let Some(reason) = reason {
                // An expired session ends on its own terms; a live one is replaced.
                let reason = match reason {
                    EndReason::Reused => self.session(s).map_or(reason, |x| x.natural_end(reason)),
                    other => other,
                };
                self.end_slot(s, reason, obs);
                self.closed.remove(&key);
                slot = None;
            }
        }
        let s = match slot {
            Some(s) => s,
            None => {
                if let Some(&closed_at) = self.closed.get(&key) {
                    // Within the linger either way: a packet stamped a little before the close
                    // (clocks of two interfaces) is as late; one from long before or after is
                    // not of that connection.
                    if !syn && self.clock.abs_diff(closed_at) <= self.config.close_linger_ns {
                        self.stats.late_packets += 1;
                        return;
                    }
                    self.closed.remove(&key);
                }
                self.create(key, pkt, frame, ts)
            }
        };

        let Some((_, session)) = self.slots.get_mut(s).and_then(|x| x.as_mut()) else {
            return;
        };
        let before = session.held_cost();
        let had_deadline = (session.reset_at, session.closing_since);
        let outcome = session.process(pkt, frame, ts, &self.config, obs);
        let after = session.held_cost();
        let ordinal = session.info.ordinal;
        let new_deadline = (session.reset_at, session.closing_since) != had_deadline;
        let reason = if session.reset_at.is_some() {
            EndReason::Rst
        } else {
            EndReason::Fin
        };
        self.buffered_total = self.buffered_total + after - before;
        self.stats.peak_buffered = self.stats.peak_buffered.max(self.buffered_total as u64);
        if outcome.forced_gap {
            self.stats.limit_session_buffer += 1;
        }
        if outcome.capped_now {
            self.stats.limit_session_size += 1;
        }
        if outcome.rst_ignored {
            self.stats.rst_ignored += 1;
        }
        if outcome.fin_ignored {
            self.stats.fin_ignored += 1;
        }
        if outcome.ended {
            self.end_slot(s, reason, obs);
        } else if new_deadline {
            let deadline = self.clock.saturating_add(self.config.close_linger_ns);
            self.push_timer(deadline, ordinal, s);
        }
        self.enforce_total_buffer(s, ts, obs);
        if self.open.len() > self.config.max_sessions {
            self.evict(obs);
        }
    }

    /// Ends every open session (end of input), in the order they started.
    pub fn finish(&mut self, obs: &mut impl TcpObserver) {
        let mut order: Vec<(u64, usize, EndReason)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, x)| {
                x.as_ref()
                    .map(|(_, s)| (s.info.ordinal, i, s.natural_end(EndReason::Eof)))
            })
            .collect();
        order.sort_unstable();
        for (_, slot, reason) in order {
            self.end_slot(slot, reason, obs);
        }
        self.timers.clear();
        self.closed.clear();
        self.closed_order.clear();
    }

    fn session(&self, slot: usize) -> Option<&Session> {
        self.slots
            .get(slot)
            .and_then(|x| x.as_ref())
            .map(|(_, s)| s)
    }

    fn create(&mut self, key: FlowKey, pkt: &TcpPacket<'_>, frame: u64, ts: u64) -> usize {
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        let mut session = Session::new(ordinal, frame, ts, pkt, &self.config);
        self.stats.sessions += 1;
        if session.info.midstream() {
            self.stats.midstream += 1;
        }
        let slot = self.free.pop().unwrap_or(self.slots.len());
        session.info.slot = slot;
        let slot = match Some(slot).filter(|&i| i < self.slots.len()) {
            Some(i) => {
                if let Some(x) = self.slots.get_mut(i) {
                    *x = Some((key, session));
                }
                i
            }
            None => {
                self.slots.push(Some((key, session)));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, slot);
        self.open.insert(ordinal);
        self.stats.peak_sessions = self.stats.peak_sessions.max(self.open.len() as u64);
        if self.config.idle_timeout_ns > 0 {
            self.push_timer(
                self.clock.saturating_add(self.config.idle_timeout_ns),
                ordinal,
                slot,
            );
        }
        slot
    }

    /// Queues a check of the session `ordinal` in `slot` at `deadline`. Entries of sessions
    /// that ended stay queued until their deadline (an hour of capture time for the idle
    /// timer), so when they outnumber the open sessions' several times over they are dropped
    /// at once: the heap stays within a few entries per open session, however many sessions
    /// start and end within an idle timeout.
    fn push_timer(&mut self, deadline: u64, ordinal: u64, slot: usize) {
        self.timers.push(Reverse((deadline, ordinal, slot)));
        if self.timers.len() > 4 * self.open.len() + 1024 {
            let mut timers = std::mem::take(&mut self.timers);
            timers.retain(|Reverse((_, ordinal, slot))| {
                self.session(*slot)
                    .is_some_and(|s| s.info.ordinal == *ordinal)
            });
            self.timers = timers;
        }
    }

    /// Why a session is due to end at the current time, if it is.
    fn expiry(&self, s: &Session) -> Option<EndReason> {
        let linger = self.config.close_linger_ns;
        if s.reset_at
            .is_some_and(|t| self.clock > t.saturating_add(linger))
        {
            Some(EndReason::Rst)
        } else if s
            .closing_since
            .is_some_and(|t| self.clock > t.saturating_add(linger))
        {
            Some(EndReason::Fin)
        } else if self.config.idle_timeout_ns > 0
            && self.clock > s.info.t_last.saturating_add(self.config.idle_timeout_ns)
        {
            Some(EndReason::Timeout)
        } else {
            None
        }
    }

    /// The earliest time a session could expire.
    fn deadline(&self, s: &Session) -> u64 {
        let linger = self.config.close_linger_ns;
        let mut d = u64::MAX;
        if let Some(t) = s.reset_at.or(s.closing_since) {
            d = d.min(t.saturating_add(linger).saturating_add(1));
        }
        if self.config.idle_timeout_ns > 0 {
            d = d.min(
                s.info
                    .t_last
                    .saturating_add(self.config.idle_timeout_ns)
                    .saturating_add(1),
            );
        }
        d
    }

    fn run_timers(&mut self, obs: &mut impl TcpObserver) {
        // Every session that expires now, ended in start order (whatever order their timers
        // were queued in: a timer re-queued at another packet sorts by its new deadline).
        let mut due: Vec<(u64, usize, EndReason)> = Vec::new();
        while let Some(&Reverse((deadline, ordinal, slot))) = self.timers.peek() {
            if deadline > self.clock {
                break;
            }
            self.timers.pop();
            let Some(session) = self.session(slot).filter(|s| s.info.ordinal == ordinal) else {
                continue; // ended already
            };
            match self.expiry(session) {
                Some(reason) => due.push((ordinal, slot, reason)),
                None => {
                    let next = self.deadline(session);
                    if next != u64::MAX {
                        self.timers.push(Reverse((next, ordinal, slot)));
                    }
                }
            }
        }
        due.sort_unstable();
        due.dedup_by_key(|d| d.0);
        for (_, slot, reason) in due {
            self.end_slot(slot, reason, obs);
        }
        // Closed pairs are remembered in the order they closed, which is the order of their
        // times only while capture time goes forward: a pair stamped far ahead (a bad clock)
        // would hold every later one behind it. So there are never more than `max_sessions`
        // of them: beyond, the oldest go early (counted).
        let linger = self.config.close_linger_ns;
        while let Some(&(at, key)) = self.closed_order.front() {
            let due = self.clock.saturating_sub(at) > linger;
            let over = self.closed_order.len() > self.config.max_sessions;
            if !due && !over {
                break;
            }
            self.closed_order.pop_front();
            if self.closed.get(&key) == Some(&at) {
                self.closed.remove(&key);
                if !due {
                    self.stats.limit_closed += 1;
                }
            }
        }
    }

    fn end_slot(&mut self, slot: usize, reason: EndReason, obs: &mut impl TcpObserver) {
        let Some((key, mut session)) = self.slots.get_mut(slot).and_then(|x| x.take()) else {
            return;
        };
        self.free.push(slot);
        self.index.remove(&key);
        self.open.remove(&session.info.ordinal);
        self.buffered_total -= session.held_cost();
        let oldest_open = self.open.first().copied().unwrap_or(u64::MAX);
        // When the pair really closed: its RST or FIN exchange plus the linger, not when the
        // end was noticed (timers are lazy: that can be any later packet).
        let linger = self.config.close_linger_ns;
        let closed_at = session
            .reset_at
            .or(session.closing_since)
            .map_or(self.clock, |t| t.saturating_add(linger).min(self.clock));
        session.end(reason, oldest_open, obs);
        self.stats.streams.add(&session.totals());
        if let Some(n) = self.stats.ended.get_mut(reason as usize) {
            *n += 1;
        }
        if matches!(reason, EndReason::Fin | EndReason::Rst) {
            self.closed.insert(key, closed_at);
            self.closed_order.push_back((closed_at, key));
        }
    }

    /// Keeps the out-of-order bytes of all sessions within `max_buffered_total`, giving up on
    /// holes of the current session first, then of the session holding most.
    fn enforce_total_buffer(&mut self, current: usize, ts: u64, obs: &mut impl TcpObserver) {
        while self.buffered_total > self.config.max_buffered_total {
            self.stats.limit_total_buffer += 1;
            let target = if self.session(current).is_some_and(|s| s.held_cost() > 0) {
                current
            } else {
                let largest = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, x)| {
                        x.as_ref()
                            .map(|(_, s)| (s.held_cost(), Reverse(s.info.ordinal), i))
                    })
                    .max();
                match largest {
                    Some((held, _, i)) if held > 0 => i,
                    _ => break,
                }
            };
            let Some((_, session)) = self.slots.get_mut(target).and_then(|x| x.as_mut()) else {
                break;
            };
            let before = session.held_cost();
            if !session.skip_a_hole(ts, obs) {
                break;
            }
            self.buffered_total = self.buffered_total + session.held_cost() - before;
        }
    }

    /// Ends the least recently active sixteenth of the sessions (at least one).
    fn evict(&mut self, obs: &mut impl TcpObserver) {
        let mut by_age: Vec<(u64, u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.as_ref().map(|(_, s)| (s.info.t_last, s.info.ordinal, i)))
            .collect();
        by_age.sort_unstable();
        let n = (by_age.len() / 16).max(1);
        let mut victims: Vec<(u64, usize)> =
            by_age.iter().take(n).map(|&(_, o, i)| (o, i)).collect();
        victims.sort_unstable();
        for (_, slot) in victims {
            self.stats.limit_sessions += 1;
            self.end_slot(slot, EndReason::Evicted, obs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn ep(ip: IpAddr, port: u16) -> Endpoint {
        Endpoint { ip, port }
    }

    /// The flow table's hash is keyed per run: what collides in one run does not in another,
    /// so a capture cannot be made to collide (FxHash, which the table used, is unkeyed).
    #[test]
    fn flow_keys_hash_with_a_per_run_key_and_both_directions_alike() {
        let a = ep(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
        let b = ep(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);
        let v6 = ep(IpAddr::V6(Ipv6Addr::LOCALHOST), 80);
        let one = foldhash::quality::RandomState::default();
        let other = foldhash::quality::RandomState::default();
        for key in [FlowKey::new(a, b), FlowKey::new(a, v6)] {
            assert_ne!(one.hash_one(key), other.hash_one(key));
        }
        assert_eq!(
            one.hash_one(FlowKey::new(a, b)),
            one.hash_one(FlowKey::new(b, a))
        );
        // Ports and addresses both count.
        let c = ep(a.ip, 40001);
        assert_ne!(
            one.hash_one(FlowKey::new(a, b)),
            one.hash_one(FlowKey::new(c, b))
        );
    }
}
