//! IPv4 and IPv6 fragment reassembly, bounded in memory and time.
//!
//! Fragments are collected per (source, destination, identification, protocol). A datagram
//! is handed on once its last fragment has arrived and every byte before it is covered. Where
//! fragments overlap, the bytes that arrived first win (the same rule as TCP reassembly).
//! Incomplete datagrams are dropped after [`DefragLimits::timeout_ns`] of capture time, and the
//! number in flight and their total size are capped; every drop is counted.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Bounds for the fragment table.
#[derive(Debug, Clone, Copy)]
pub struct DefragLimits {
    /// Datagrams under reassembly at once.
    pub max_datagrams: usize,
    /// Bytes held in fragments at once.
    pub max_bytes: usize,
    /// Capture time after which an incomplete datagram is dropped.
    pub timeout_ns: u64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 4096,
            max_bytes: 32 << 20,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Counters of the fragment table.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefragCounters {
    /// Fragments received.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Incomplete datagrams dropped on timeout.
    pub timed_out: u64,
    /// Incomplete datagrams dropped because a limit was reached.
    pub evicted: u64,
    /// Fragments that were inconsistent (overrunning 65535 bytes, two different ends, ...).
    pub invalid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FragmentKey {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) id: u32,
    pub(crate) protocol: u8,
}

#[derive(Debug)]
struct Pending {
    /// The datagram as far as it is known (first copy of each byte wins).
    data: Vec<u8>,
    /// Byte ranges of `data` filled, sorted and merged: a fragment adds only the bytes no
    /// earlier one gave, so duplicates cost nothing and memory stays within one datagram.
    covered: Vec<(usize, usize)>,
    /// End of the datagram, once the last fragment was seen.
    end: Option<usize>,
    /// Arrival number of the first fragment, to evict the oldest first.
    serial: u64,
}

impl Pending {
    /// Copies the parts of `bytes` (at `offset`) that no earlier fragment gave.
    fn fill(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset + bytes.len();
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        // The uncovered stretches of [offset, end), walking the sorted ranges; each is copied
        // and appended as a range, then the list is sorted and merged again (no allocation
        // beyond the list's own growth).
        let mut at = offset;
        let known = self.covered.len();
        for i in 0..=known {
            // Past the known ranges (ranges pushed meanwhile sit there too): the end.
            let (s, e) = if i < known {
                self.covered.get(i).copied().unwrap_or((end, end))
            } else {
                (end, end)
            };
            if e <= at {
                continue;
            }
            let stop = s.min(end);
            if stop > at {
                if let (Some(dst), Some(src)) = (
                    self.data.get_mut(at..stop),
                    bytes.get(at - offset..stop - offset),
                ) {
                    dst.copy_from_slice(src);
                }
                self.covered.push((at, stop));
            }
            at = at.max(e);
            if at >= end {
                break;
            }
        }
        self.covered.sort_unstable();
        self.covered.dedup_by(|later, earlier| {
            let touches = later.0 <= earlier.1;
            if touches {
                earlier.1 = earlier.1.max(later.1);
            }
            touches
        });
    }

    /// Whether every byte before the end is there.
    fn complete(&self) -> bool {
        self.end.is_some_and(|end| {
            end == 0
                || self
                    .covered
                    .first()
                    .is_some_and(|&(s, e)| s == 0 && e >= end)
        })
    }
}

/// The fragment table.
#[derive(Debug, Default)]
pub(crate) struct Defrag {
    limits: DefragLimits,
    pending: HashMap<FragmentKey, Pending>,
    /// (first fragment's time, serial, key) of each datagram, in arrival order: expiry and
    /// eviction take from the front (entries of datagrams already gone are skipped).
    order: VecDeque<(u64, u64, FragmentKey)>,
    bytes: usize,
    serial: u64,
    pub(crate) counters: DefragCounters,
    /// The datagram completed last; borrowed by the decoder.
    pub(crate) done: Vec<u8>,
}

const MAX_DATAGRAM: usize = 65_535;

/// Whether an `order` entry (`serial`, `key`) is still its datagram's: not one gone, nor one
/// that a later datagram of the same key replaced.
fn is_live(pending: &HashMap<FragmentKey, Pending>, serial: u64, key: &FragmentKey) -> bool {
    pending.get(key).is_some_and(|p| p.serial == serial)
}

impl Defrag {
    pub(crate) fn new(limits: DefragLimits) -> Defrag {
        Defrag {
            limits,
            ..Defrag::default()
        }
    }

    /// Adds a fragment. Returns true when it completed its datagram, whose payload is then in
    /// `self.done`.
    pub(crate) fn add(
        &mut self,
        key: FragmentKey,
        offset: usize,
        more: bool,
        data: &[u8],
        ts: u64,
    ) -> bool {
        self.counters.fragments += 1;
        self.expire(ts);
        let end = offset + data.len();
        if end > MAX_DATAGRAM {
            self.counters.invalid += 1;
            return false;
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.limits.max_datagrams {
                if !self.evict_oldest(None) {
                    break;
                }
            }
            self.serial += 1;
            self.order.push_back((ts, self.serial, key.clone()));
            self.pending.insert(
                key.clone(),
                Pending {
                    data: Vec::new(),
                    covered: Vec::new(),
                    end: None,
                    serial: self.serial,
                },
            );
        }
        // The memory bound holds on every fragment: a datagram grows only to its highest
        // byte, and others make room for it, oldest first.
        let growth = self
            .pending
            .get(&key)
            .map_or(0, |p| end.saturating_sub(p.data.len()));
        while self.bytes + growth > self.limits.max_bytes {
            if !self.evict_oldest(Some(&key)) {
                // Nothing else to evict: this datagram alone is over the limit.
                self.take(&key);
                self.counters.evicted += 1;
                return false;
            }
        }
        let Some(p) = self.pending.get_mut(&key) else {
            return false;
        };
        if !more {
            if p.end.is_some_and(|e| e != end) {
                self.counters.invalid += 1;
                return false;
            }
            p.end = Some(end);
        }
        let before = p.data.len();
        p.fill(offset, data);
        self.bytes += p.data.len() - before;
        if !p.complete() {
            return false;
        }
        let total = p.end.unwrap_or(0);
        let Some(p) = self.take(&key) else {
            return false;
        };
        // The datagram's buffer becomes the result (no copy); complete, it holds at least
        // `total` bytes.
        self.done = p.data;
        self.done.truncate(total);
        self.counters.reassembled += 1;
        true
    }

    /// Takes datagram `key` out (its bytes no longer held).
    fn take(&mut self, key: &FragmentKey) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.bytes -= p.data.len();
        self.prune_order();
        Some(p)
    }

    /// Drops the `order` entries of datagrams gone once they are more than the live ones:
    /// otherwise, behind one old incomplete datagram at the front (kept until its timeout),
    /// every datagram completed meanwhile would leave an entry, outside the memory bound.
    fn prune_order(&mut self) {
        if self.order.len() > 2 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.order
                .retain(|(_, serial, key)| is_live(pending, *serial, key));
        }
    }

    /// Drops the datagrams whose first fragment is older than the timeout.
    fn expire(&mut self, now: u64) {
        let timeout = self.limits.timeout_ns;
        while let Some((first_ts, serial, key)) = self.order.front() {
            let live = is_live(&self.pending, *serial, key);
            if live && now.saturating_sub(*first_ts) <= timeout {
                break;
            }
            if let Some((_, _, key)) = self.order.pop_front() {
                if live {
                    self.take(&key);
                    self.counters.timed_out += 1;
                }
            }
        }
    }

    /// Evicts the oldest datagram other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: Option<&FragmentKey>) -> bool {
        let mut kept = None;
        let mut evicted = false;
        while let Some((ts, serial, key)) = self.order.pop_front() {
            let live = is_live(&self.pending, serial, &key);
            if !live {
                continue;
            }
            if Some(&key) == keep {
                kept = Some((ts, serial, key));
                continue;
            }
            self.take(&key);
            self.counters.evicted += 1;
            evicted = true;
            break;
        }
        if let Some(k) = kept {
            self.order.push_front(k);
        }
        evicted
    }

    /// Datagrams still incomplete (reported at the end of a run).
    pub(crate) fn incomplete(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragmentKey {
        FragmentKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id,
            protocol: 6,
        }
    }

    #[test]
    fn fragments_out_of_order_complete_the_datagram() {
        let mut d = Defrag::new(DefragLimits::default());
        assert!(!d.add(key(1), 8, false, b"89", 0));
        assert!(d.add(key(1), 0, true, b"01234567", 1));
        assert_eq!(d.done, b"0123456789");
        assert_eq!(d.incomplete(), 0);
    }

    #[test]
    fn overlapping_fragments_keep_the_first_copy() {
        let mut d = Defrag::new(DefragLimits::default());
        assert!(!d.add(key(2), 0, true, b"AAAAAAAA", 0));
        assert!(d.add(key(2), 4, false, b"BBBBBB", 1));
        assert_eq!(d.done, b"AAAAAAAABB");
    }

    #[test]
    fn stale_datagrams_time_out_and_are_counted() {
        let mut d = Defrag::new(DefragLimits {
            timeout_ns: 10,
            ..DefragLimits::default()
        });
        d.add(key(3), 0, true, b"01234567", 0);
        d.add(key(4), 0, true, b"01234567", 100);
        assert_eq!(d.counters.timed_out, 1);
        assert_eq!(d.incomplete(), 1);
    }

    #[test]
    fn the_datagram_limit_evicts_the_oldest() {
        let mut d = Defrag::new(DefragLimits {
            max_datagrams: 2,
            ..DefragLimits::default()
        });
        for id in 0..5 {
            d.add(key(id), 0, true, b"01234567", 0);
        }
        assert_eq!(d.incomplete(), 2);
        assert_eq!(d.counters.evicted, 3);
    }

    #[test]
    fn conflicting_ends_are_invalid() {
        let mut d = Defrag::new(DefragLimits::default());
        d.add(key(5), 8, false, b"xx", 0);
        assert!(!d.add(key(5), 8, false, b"xxxx", 0));
        assert_eq!(d.counters.invalid, 1);
    }

    #[test]
    fn duplicate_fragments_hold_no_more_memory() {
        let mut d = Defrag::new(DefragLimits::default());
        for i in 0..10_000u64 {
            assert!(!d.add(key(6), 0, true, b"01234567", i));
        }
        assert_eq!((d.bytes, d.incomplete()), (8, 1));
        assert!(d.add(key(6), 8, false, b"89", 10_000));
        assert_eq!(d.done, b"0123456789");
        assert_eq!(d.bytes, 0);
    }

    #[test]
    fn the_byte_limit_holds_on_every_fragment_evicting_the_oldest() {
        let mut d = Defrag::new(DefragLimits {
            max_bytes: 100,
            ..DefragLimits::default()
        });
        d.add(key(7), 0, true, &[1; 40], 0);
        d.add(key(8), 0, true, &[2; 40], 1);
        // Datagram 8 grows to 80 bytes: 7 (the oldest) makes room.
        d.add(key(8), 40, true, &[2; 40], 2);
        assert!(d.bytes <= 100, "{}", d.bytes);
        assert_eq!((d.incomplete(), d.counters.evicted), (1, 1));
        // One datagram alone over the limit is dropped, counted.
        d.add(key(8), 80, true, &[2; 40], 3);
        assert_eq!((d.incomplete(), d.counters.evicted, d.bytes), (0, 2, 0));
    }

    /// Behind one datagram that never completes (it waits for its timeout at the front of
    /// the queue), many datagrams that do complete leave no trace.
    #[test]
    fn completed_datagrams_behind_a_stuck_one_hold_nothing() {
        let mut d = Defrag::new(DefragLimits::default());
        d.add(key(1), 0, true, b"lost", 0);
        for id in 2..100_000u32 {
            d.add(key(id), 8, false, b"b", 1);
            assert!(d.add(key(id), 0, true, b"aaaaaaaa", 1));
        }
        assert_eq!(d.incomplete(), 1);
        assert!(
            d.order.len() <= 2 * d.pending.len() + 65,
            "{}",
            d.order.len()
        );
    }
}
