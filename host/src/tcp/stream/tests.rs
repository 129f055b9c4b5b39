//! Unit tests of one direction's reassembly, driven offset by offset.

use super::*;

#[derive(Default)]
struct Out {
    text: String,
}

impl Delivery for Out {
    fn data(&mut self, data: &[u8], _ts: u64, _packet: u64) {
        self.text.push_str(&String::from_utf8_lossy(data));
    }
    fn gap(&mut self, len: u64) {
        self.text.push_str(&format!("<{len}>"));
    }
}

fn stream() -> Stream {
    let mut s = Stream::new(16);
    s.base = Some(1000);
    s
}

#[test]
fn in_order_data_is_delivered_at_once_and_nothing_is_held() {
    let mut s = stream();
    let mut out = Out::default();
    assert_eq!(s.segment(0, b"abc", false, Sent::at(0, 0), &mut out), 0);
    assert_eq!(s.segment(3, b"def", false, Sent::at(0, 1), &mut out), 0);
    assert_eq!(out.text, "abcdef");
    assert_eq!(s.buffered, 0);
    assert_eq!(s.next_seq(), Some(1006));
}

#[test]
fn a_segment_spanning_several_held_ones_fills_only_the_holes() {
    let mut s = stream();
    let mut out = Out::default();
    s.segment(2, b"CD", false, Sent::at(0, 0), &mut out);
    s.segment(6, b"GH", false, Sent::at(0, 1), &mut out);
    assert_eq!(s.buffered, 4);
    // Covers 0..10 with other letters: held copies (CD, GH) win where they overlap.
    s.segment(0, b"abcdefghij", false, Sent::at(0, 2), &mut out);
    assert_eq!(out.text, "abCDefGHij");
    assert_eq!(s.buffered, 0);
    assert_eq!(s.stats.conflicts, 2);
    assert_eq!(s.stats.retransmitted, 4);
}

#[test]
fn conflicts_with_delivered_data_are_found_for_remembered_segments() {
    let mut s = stream(); // remembers 16 segments
    let mut out = Out::default();
    for i in 0..20u64 {
        s.segment(
            i * 4,
            format!("s{i:03}").as_bytes(),
            false,
            Sent::at(0, i),
            &mut out,
        );
    }
    // Segment 0 is no longer remembered: a changed copy cannot be told apart.
    s.segment(0, b"XXXX", false, Sent::at(0, 20), &mut out);
    assert_eq!(s.stats.conflicts, 0);
    // Segment 19 is: a changed copy is a conflict, a faithful one is not.
    s.segment(76, b"XXXX", false, Sent::at(0, 21), &mut out);
    assert_eq!(s.stats.conflicts, 1);
    s.segment(76, b"s019", false, Sent::at(0, 22), &mut out);
    assert_eq!(s.stats.conflicts, 1);
    // A retransmission merging segments 17 and 18 is compared with both.
    s.segment(68, b"s017s0X8", false, Sent::at(0, 23), &mut out);
    assert_eq!(s.stats.conflicts, 2);
    s.segment(68, b"s017s018", false, Sent::at(0, 24), &mut out);
    assert_eq!(s.stats.conflicts, 2);
    // A partial overlap covers no whole segment: not compared.
    s.segment(70, b"ZZ", false, Sent::at(0, 25), &mut out);
    assert_eq!(s.stats.conflicts, 2);
    assert_eq!(out.text.len(), 80);
}

#[test]
fn flush_to_declares_holes_and_stops_at_the_target() {
    let mut s = stream();
    let mut out = Out::default();
    s.segment(0, b"ab", false, Sent::at(0, 0), &mut out);
    s.segment(4, b"ef", false, Sent::at(0, 1), &mut out);
    s.segment(10, b"kl", false, Sent::at(0, 2), &mut out);
    s.flush_to(8, &mut out);
    assert_eq!(out.text, "ab<2>ef<2>");
    assert_eq!(s.next, 8);
    assert_eq!(s.first_buffered(), Some(10));
    s.finish(&mut out);
    assert_eq!(out.text, "ab<2>ef<2><2>kl");
    assert_eq!((s.stats.gaps, s.stats.gap_bytes, s.stats.bytes), (3, 6, 6));
}

#[test]
fn acknowledgments_beyond_the_fin_acknowledge_no_data() {
    let mut s = stream();
    let mut out = Out::default();
    s.segment(0, b"abc", false, Sent::at(0, 0), &mut out);
    s.fin = Some(3);
    s.acknowledge(1004, 0, 1 << 30);
    assert_eq!(s.acked, 3);
    s.finish(&mut out);
    assert_eq!(s.stats.gaps, 0);
}

#[test]
fn implausible_acknowledgments_are_ignored() {
    let mut s = stream();
    s.acknowledge(1000 + (1 << 20), 0, 1 << 16);
    assert_eq!(s.acked, 0);
}

#[test]
fn data_before_the_stream_start_has_no_offset() {
    let s = stream();
    assert_eq!(s.offset(999), None);
    assert_eq!(s.offset(1000), Some(0));
}
