//! Sequence numbers: 32-bit values that wrap (RFC 9293 §3.4). Each direction of a session maps
//! them onto a 64-bit stream offset that never wraps, by taking the signed 32-bit distance from
//! the offset it expects next. Any segment within ±2 GiB of that point is placed correctly, so a
//! stream may run through any number of wraparounds.

/// Places `seq` in a stream whose offset 0 has sequence number `base`, given that offset `next`
/// is expected next. Returns `None` when the segment would start before offset 0 (data sent
/// before the start of the stream, or a wild sequence number).
pub(crate) fn offset_of(seq: u32, base: u32, next: u64) -> Option<u64> {
    let next_seq = base.wrapping_add(next as u32);
    let delta = seq.wrapping_sub(next_seq) as i32;
    let off = next as i128 + delta as i128;
    u64::try_from(off).ok()
}

/// The sequence number of stream offset `off`.
#[cfg(test)]
pub(crate) fn seq_of(off: u64, base: u32) -> u32 {
    base.wrapping_add(off as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_stream_across_the_wrap() {
        let base = u32::MAX - 10; // offset 0 sits 11 bytes below the wrap
        assert_eq!(offset_of(base, base, 0), Some(0));
        assert_eq!(offset_of(5, base, 10), Some(16));
        // Four full wraps later the same arithmetic still holds.
        let next = 4 * (1u64 << 32) + 100;
        assert_eq!(offset_of(seq_of(next, base), base, next), Some(next));
        assert_eq!(
            offset_of(seq_of(next + 1460, base), base, next),
            Some(next + 1460)
        );
        assert_eq!(
            offset_of(seq_of(next - 1460, base), base, next),
            Some(next - 1460)
        );
    }

    #[test]
    fn segments_before_the_stream_start_have_no_offset() {
        assert_eq!(offset_of(90, 100, 0), None);
        assert_eq!(offset_of(100, 100, 0), Some(0));
    }
}
