//! IPv4 and IPv6 fragment reassembly, bounded in memory and time.
//!
//! Fragments are collected per (source, destination, identification, protocol). A datagram
//! is handed on once its last fragment has arrived and every byte before it is covered. Where
//! fragments overlap, the bytes that arrived first win (the same rule as TCP reassembly).
//! Incomplete datagrams are dropped after [`DefragLimits::timeout_ns`] of capture time, and the
//! number in flight and their total size are capped; every drop is counted.

use std::collections::HashMap;
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
    /// (offset, bytes) in arrival order.
    pieces: Vec<(usize, Vec<u8>)>,
    /// End of the datagram, once the last fragment was seen.
    end: Option<usize>,
    bytes: usize,
    first_ts: u64,
    /// Arrival number of the first fragment, to evict the oldest first.
    serial: u64,
}

/// The fragment table.
#[derive(Debug, Default)]
pub(crate) struct Defrag {
    limits: DefragLimits,
    pending: HashMap<FragmentKey, Pending>,
    bytes: usize,
    serial: u64,
    pub(crate) counters: DefragCounters,
    /// The datagram completed last; borrowed by the decoder.
    pub(crate) done: Vec<u8>,
}

const MAX_DATAGRAM: usize = 65_535;

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
            while self.pending.len() >= self.limits.max_datagrams
                || (self.bytes + data.len() > self.limits.max_bytes && !self.pending.is_empty())
            {
                self.evict_oldest();
            }
            self.serial += 1;
            let serial = self.serial;
            self.pending.insert(
                key.clone(),
                Pending {
                    pieces: Vec::new(),
                    end: None,
                    bytes: 0,
                    first_ts: ts,
                    serial,
                },
            );
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
        p.pieces.push((offset, data.to_vec()));
        p.bytes += data.len();
        self.bytes += data.len();
        let Some(total) = p.end else { return false };
        // Complete when the pieces, in offset order, cover 0..total without a hole.
        let mut order: Vec<usize> = (0..p.pieces.len()).collect();
        order.sort_by_key(|&i| p.pieces.get(i).map_or(0, |x| x.0));
        let mut covered = 0;
        for &i in &order {
            if let Some((off, bytes)) = p.pieces.get(i) {
                if *off > covered {
                    return false;
                }
                covered = covered.max(off + bytes.len());
            }
        }
        if covered < total {
            return false;
        }
        let Some(p) = self.pending.remove(&key) else {
            return false;
        };
        self.bytes -= p.bytes;
        // First copy wins: write pieces in arrival order, each only where nothing was yet.
        self.done.clear();
        self.done.resize(total, 0);
        let mut filled = vec![false; total];
        for (off, bytes) in &p.pieces {
            for (i, b) in bytes.iter().enumerate() {
                let at = off + i;
                if at < total && !filled.get(at).copied().unwrap_or(true) {
                    if let (Some(slot), Some(f)) = (self.done.get_mut(at), filled.get_mut(at)) {
                        *slot = *b;
                        *f = true;
                    }
                }
            }
        }
        self.counters.reassembled += 1;
        true
    }

    fn expire(&mut self, now: u64) {
        let timeout = self.limits.timeout_ns;
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|_, p| {
            let keep = now.saturating_sub(p.first_ts) <= timeout;
            if !keep {
                freed += p.bytes;
            }
            keep
        });
        self.bytes -= freed;
        self.counters.timed_out += (before - self.pending.len()) as u64;
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.serial)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            if let Some(p) = self.pending.remove(&k) {
                self.bytes -= p.bytes;
                self.counters.evicted += 1;
            }
        }
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
}
