//! Tests of the TCP listener, one per reassembly case, written as packet traces.
//!
//! The client is 10.0.0.1:40000, the server 10.0.0.2:80. `c(..)` builds a client segment and
//! `s(..)` a server segment; sequence numbers are absolute, built from the ISNs below (the
//! client's sits just below the 32-bit wrap, so most traces also cross it).

use super::*;
use crate::decode::{Endpoint, TcpFlags, TcpPacket};

const CLIENT_ISN: u32 = u32::MAX - 99;
const SERVER_ISN: u32 = 5_000;
const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH;
const SEC: u64 = 1_000_000_000;

fn client() -> Endpoint {
    Endpoint {
        ip: "10.0.0.1".parse().unwrap(),
        port: 40000,
    }
}
fn server() -> Endpoint {
    server_at(80)
}

/// A segment: who sends, relative seq (0 = first byte after the SYN), relative ack, flags,
/// payload, bytes cut by the snap length.
#[derive(Clone)]
struct Seg {
    from_client: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
    missing: u32,
}

fn c(rel_seq: i64, rel_ack: i64, flags: u8, payload: &[u8]) -> Seg {
    Seg {
        from_client: true,
        seq: CLIENT_ISN.wrapping_add(1).wrapping_add(rel_seq as u32),
        ack: SERVER_ISN.wrapping_add(1).wrapping_add(rel_ack as u32),
        flags,
        payload: payload.to_vec(),
        missing: 0,
    }
}
fn s(rel_seq: i64, rel_ack: i64, flags: u8, payload: &[u8]) -> Seg {
    Seg {
        from_client: false,
        seq: SERVER_ISN.wrapping_add(1).wrapping_add(rel_seq as u32),
        ack: CLIENT_ISN.wrapping_add(1).wrapping_add(rel_ack as u32),
        flags,
        payload: payload.to_vec(),
        missing: 0,
    }
}
/// The three-way handshake.
fn handshake() -> Vec<Seg> {
    vec![
        c(-1, 0, SYN, b""),
        s(-1, 0, SYN | ACK, b""),
        c(0, 0, ACK, b""),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Start(u64),
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
    Mono(Direction, u64, Vec<Gap>),
    End(EndReason),
}

#[derive(Default)]
struct Recorder {
    events: Vec<(u64, Ev)>,
    ends: Vec<(SessionInfo, SessionEnd)>,
    monos: Vec<(u64, Monologue)>,
}

impl TcpObserver for Recorder {
    fn session_start(&mut self, s: &SessionInfo, ts: u64) {
        self.events.push((s.ordinal, Ev::Start(ts)));
    }
    fn data(&mut self, s: &SessionInfo, d: Direction, data: &[u8], _ts: u64, _packet: u64) {
        // Merge consecutive data of the same direction: tests care about bytes, not calls.
        if let Some((o, Ev::Data(pd, bytes))) = self.events.last_mut() {
            if *o == s.ordinal && *pd == d {
                bytes.extend_from_slice(data);
                return;
            }
        }
        self.events.push((s.ordinal, Ev::Data(d, data.to_vec())));
    }
    fn gap(&mut self, s: &SessionInfo, d: Direction, len: u64, _ts: u64) {
        self.events.push((s.ordinal, Ev::Gap(d, len)));
    }
    fn monologue_end(&mut self, s: &SessionInfo, m: &Monologue) {
        self.events
            .push((s.ordinal, Ev::Mono(m.direction, m.bytes, m.gaps.clone())));
        self.monos.push((s.ordinal, m.clone()));
    }
    fn session_end(&mut self, s: &SessionInfo, e: &SessionEnd) {
        self.events.push((s.ordinal, Ev::End(e.reason)));
        self.ends.push((s.clone(), e.clone()));
    }
}

impl Recorder {
    /// The monologues of session 0 as (direction, bytes as text).
    fn texts(&self, ordinal: u64) -> Vec<(Direction, String)> {
        let mut out: Vec<(Direction, String)> = Vec::new();
        let mut cur: Option<(Direction, String)> = None;
        for (o, ev) in &self.events {
            if *o != ordinal {
                continue;
            }
            match ev {
                Ev::Data(d, b) => {
                    let e = cur.get_or_insert((*d, String::new()));
                    e.1.push_str(&String::from_utf8_lossy(b));
                }
                Ev::Gap(d, n) => {
                    let e = cur.get_or_insert((*d, String::new()));
                    e.1.push_str(&format!("<gap {n}>"));
                }
                Ev::Mono(..) => out.extend(cur.take()),
                _ => {}
            }
        }
        out
    }

    fn end(&self, ordinal: u64) -> &SessionEnd {
        &self
            .ends
            .iter()
            .find(|(s, _)| s.ordinal == ordinal)
            .expect("session ended")
            .1
    }

    fn reasons(&self) -> Vec<EndReason> {
        self.ends.iter().map(|(_, e)| e.reason).collect()
    }
}

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// Feeds `segs` (one millisecond apart, unless `times` says otherwise) and ends the input.
fn run_with(config: TcpConfig, segs: &[Seg]) -> (Recorder, TcpStats) {
    let times: Vec<u64> = (0..segs.len() as u64)
        .map(|i| SEC + i * 1_000_000)
        .collect();
    run_timed(config, segs, &times)
}

fn run_timed(config: TcpConfig, segs: &[Seg], times: &[u64]) -> (Recorder, TcpStats) {
    let mut tcp = TcpListener::new(config);
    let mut rec = Recorder::default();
    for (i, (seg, ts)) in segs.iter().zip(times).enumerate() {
        let (src, dst) = if seg.from_client {
            (client(), server())
        } else {
            (server(), client())
        };
        let pkt = TcpPacket {
            src,
            dst,
            seq: seg.seq,
            ack: seg.ack,
            flags: TcpFlags(seg.flags),
            window: 65535,
            payload: &seg.payload,
            missing: seg.missing,
        };
        tcp.segment(&pkt, i as u64, *ts, &mut rec);
    }
    tcp.finish(&mut rec);
    let stats = tcp.stats();
    (rec, stats)
}

fn run(segs: &[Seg]) -> (Recorder, TcpStats) {
    run_with(TcpConfig::default(), segs)
}

fn trace(parts: &[Vec<Seg>]) -> Vec<Seg> {
    parts.concat()
}

fn text(d: Direction, t: &str) -> (Direction, String) {
    (d, t.to_string())
}

// ---------------------------------------------------------------------------------------
// Handshake, monologues, FIN

#[test]
fn established_request_response_fin_gives_start_two_monologues_end() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK | PSH, b"GET / HTTP/1.0\r\n\r\n"),
            s(0, 18, ACK, b""),
            s(0, 18, ACK | PSH, b"HTTP/1.0 200 OK\r\n\r\n"),
            s(19, 18, ACK, b"body"),
            c(18, 23, ACK | FIN, b""),
            s(23, 19, ACK | FIN, b""),
            c(19, 24, ACK, b""),
        ],
    ]);
    let (rec, stats) = run(&segs);
    let events: Vec<&Ev> = rec.events.iter().map(|(_, e)| e).collect();
    // The session starts on the ACK that completes the handshake (the third packet).
    assert_eq!(events[0], &Ev::Start(SEC + 2_000_000));
    assert_eq!(
        rec.texts(0),
        vec![
            text(C2S, "GET / HTTP/1.0\r\n\r\n"),
            text(S2C, "HTTP/1.0 200 OK\r\n\r\nbody")
        ]
    );
    assert_eq!(rec.reasons(), vec![EndReason::Fin]);
    let end = rec.end(0);
    // Ended by the last ACK, not at the end of input.
    assert_eq!(end.t_end, SEC + 9_000_000);
    assert_eq!(end.streams[0].bytes, 18);
    assert_eq!(end.streams[1].bytes, 23);
    assert_eq!(rec.ends[0].0.handshake, Handshake::Complete);
    assert_eq!(stats.sessions, 1);
    let (_, m) = &rec.monos[1];
    assert_eq!((m.packets, m.index), (2, 1));
}

#[test]
fn monologues_alternate_with_pipelined_requests() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"req1"),
            c(4, 0, ACK, b"req2"),
            s(0, 8, ACK, b"resp1"),
            s(5, 8, ACK, b"resp2"),
            c(8, 10, ACK, b"req3"),
            s(10, 12, ACK, b"resp3"),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![
            text(C2S, "req1req2"),
            text(S2C, "resp1resp2"),
            text(C2S, "req3"),
            text(S2C, "resp3")
        ]
    );
    assert_eq!(rec.reasons(), vec![EndReason::Eof]);
}

#[test]
fn pure_acks_and_fins_never_end_a_monologue() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"one"),
            s(0, 3, ACK, b""),
            c(3, 0, ACK, b"two"),
            c(6, 0, ACK | FIN, b""),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "onetwo")]);
}

#[test]
fn half_close_lets_the_other_side_keep_talking() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"ask"),
            c(3, 0, ACK | FIN, b""),
            s(0, 4, ACK, b"answer part 1 "),
            s(14, 4, ACK, b"part 2"),
            s(20, 4, ACK | FIN, b""),
            c(4, 21, ACK, b""),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "ask"), text(S2C, "answer part 1 part 2")]
    );
    assert_eq!(rec.reasons(), vec![EndReason::Fin]);
}

// ---------------------------------------------------------------------------------------
// Reordering, retransmission, overlap

#[test]
fn out_of_order_segments_are_delivered_in_stream_order() {
    let segs = trace(&[
        handshake(),
        vec![
            c(10, 0, ACK, b"KLMNO"),
            c(5, 0, ACK, b"FGHIJ"),
            c(0, 0, ACK, b"ABCDE"),
            s(0, 15, ACK, b"ok"),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "ABCDEFGHIJKLMNO"), text(S2C, "ok")]
    );
    assert_eq!(rec.end(0).streams[0].reordered, 10);
    assert_eq!(rec.end(0).streams[0].gaps, 0);
}

#[test]
fn retransmission_with_the_same_bytes_is_dropped_and_not_a_conflict() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"hello"),
            c(0, 0, ACK, b"hello"),
            s(0, 5, ACK, b"x"),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "hello"), text(S2C, "x")]);
    let st = rec.end(0).streams[0];
    assert_eq!((st.retransmitted, st.conflicts), (5, 0));
}

#[test]
fn overlap_with_different_bytes_keeps_the_first_copy_and_counts_it() {
    // GOOD then EVIL for the same range (as sv-tcp-overlap.pcap).
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"GOOD"),
            c(0, 0, ACK, b"EVIL"),
            s(0, 4, ACK, b""),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "GOOD")]);
    assert_eq!(rec.end(0).streams[0].conflicts, 1);
}

#[test]
fn overlap_with_held_out_of_order_data_keeps_the_first_copy() {
    let segs = trace(&[
        handshake(),
        vec![
            c(4, 0, ACK, b"held"),         // arrives first, out of order
            c(0, 0, ACK, b"headHELDtail"), // covers it with other bytes, and more
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "headheldtail")]);
    assert_eq!(rec.end(0).streams[0].conflicts, 1);
}

#[test]
fn a_retransmission_that_carries_new_bytes_delivers_only_the_new_ones() {
    // The original dropped such a segment whole (quirk Q4).
    let segs = trace(&[
        handshake(),
        vec![c(0, 0, ACK, b"abc"), c(1, 0, ACK, b"bcdef")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "abcdef")]);
    assert_eq!(rec.end(0).streams[0].retransmitted, 2);
}

#[test]
fn keepalive_probes_are_neither_data_nor_conflicts() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"data"),
            s(0, 4, ACK, b""),
            c(3, 0, ACK, b"\0"), // seq = next - 1, one garbage byte
            c(3, 0, ACK, b""),   // seq = next - 1, no byte
            c(4, 0, ACK, b""),   // a plain ACK
            s(0, 4, ACK, b"reply"),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "data"), text(S2C, "reply")]);
    let st = rec.end(0).streams[0];
    assert_eq!((st.keepalives, st.conflicts), (2, 0));
}

// ---------------------------------------------------------------------------------------
// Sequence numbers

#[test]
fn sequence_numbers_wrap_around_32_bits() {
    // The client's ISN is 100 below the wrap: its stream crosses it after 99 bytes.
    let chunk = vec![b'x'; 60];
    let mut segs = handshake();
    for i in 0..5 {
        segs.push(c(i * 60, 0, ACK, &chunk));
    }
    segs.push(s(0, 300, ACK, b"done"));
    let (rec, _) = run(&segs);
    let texts = rec.texts(0);
    assert_eq!(texts[0].1.len(), 300);
    assert_eq!(rec.end(0).streams[0].gaps, 0);
    assert_eq!(rec.end(0).streams[0].retransmitted, 0);
}

#[test]
fn syn_and_fin_take_one_sequence_number_each() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"a"),
            c(1, 0, ACK | FIN, b"b"),
            s(0, 3, ACK | FIN, b"c"), // acknowledges both bytes and the FIN
            c(3, 2, ACK, b""),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "ab"), text(S2C, "c")]);
    // No byte is missing: the FIN's sequence number is not data.
    assert_eq!(rec.end(0).streams[0].gaps, 0);
    assert_eq!(rec.reasons(), vec![EndReason::Fin]);
}

#[test]
fn data_on_a_syn_is_the_first_data_of_the_stream() {
    // TCP Fast Open (RFC 7413): the SYN carries data, which starts at ISN + 1.
    let segs = vec![
        c(-1, 0, SYN, b"early"),
        s(-1, 5, SYN | ACK, b""),
        c(5, 0, ACK, b" and late"),
        s(0, 14, ACK, b"ok"),
    ];
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "early and late"), text(S2C, "ok")]
    );
}

#[test]
fn bytes_after_the_fin_are_ignored_and_counted() {
    let segs = trace(&[
        handshake(),
        vec![c(0, 0, ACK | FIN, b"last"), c(5, 0, ACK, b"ghost")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "last")]);
    assert_eq!(rec.end(0).streams[0].beyond_fin, 5);
}

// ---------------------------------------------------------------------------------------
// Gaps

#[test]
fn a_lost_segment_acknowledged_by_the_peer_becomes_a_gap_and_the_rest_is_kept() {
    // The original lost everything after a lost segment (quirk Q5).
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"AAAA"),
            // c(4, ..) "BBBB" never captured
            c(8, 0, ACK, b"CCCC"),
            s(0, 12, ACK, b"reply"),
            c(12, 5, ACK, b"more"),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![
            text(C2S, "AAAA<gap 4>CCCC"),
            text(S2C, "reply"),
            text(C2S, "more")
        ]
    );
    let (_, m) = &rec.monos[0];
    assert_eq!(m.gaps, vec![Gap { offset: 4, len: 4 }]);
    assert_eq!(
        m.bytes, 8,
        "gap bytes are not counted, nor filled with zeros"
    );
    let st = rec.end(0).streams[0];
    assert_eq!((st.bytes, st.gaps, st.gap_bytes), (12, 1, 4));
}

#[test]
fn a_pure_ack_above_a_hole_declares_the_gap_and_delivers_what_follows() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"AAAA"),
            c(8, 0, ACK, b"CCCC"),
            s(0, 12, ACK, b""),
            c(12, 0, ACK, b"DDDD"),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "AAAA<gap 4>CCCCDDDD")]);
}

#[test]
fn a_leading_gap_is_reported_at_offset_zero() {
    // As sv-tcp-leading-gap.pcap: the first 4 bytes after the handshake are never captured.
    let segs = trace(&[
        handshake(),
        vec![
            c(4, 0, ACK, b"abcd"),
            c(8, 0, ACK, b"efgh"),
            s(0, 12, ACK, b""),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "<gap 4>abcdefgh")]);
    assert_eq!(rec.monos[0].1.gaps, vec![Gap { offset: 0, len: 4 }]);
}

#[test]
fn an_unseen_tail_acknowledged_before_the_peer_speaks_is_a_gap() {
    let segs = trace(&[
        handshake(),
        vec![c(0, 0, ACK, b"AAAA"), s(0, 10, ACK, b"reply")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "AAAA<gap 6>"), text(S2C, "reply")]
    );
}

/// The handshake, a request "req1" and its answer "resp" (then each side's next byte is at
/// 4).
fn req1_resp() -> Vec<Seg> {
    trace(&[
        handshake(),
        vec![c(0, 0, PSH | ACK, b"req1"), s(0, 4, PSH | ACK, b"resp")],
    ])
}

#[test]
fn a_held_segment_that_acknowledged_the_peers_lost_tail_follows_it() {
    // Both sides lose a segment: the server's tail "TAIL" and the client's "LOST". The
    // client's next segment, held behind its own hole, acknowledged the server's tail: that
    // tail (a gap) was sent before it, and closes the server's monologue before the client's
    // next one starts, whenever the held segment is delivered.
    let segs = trace(&[
        req1_resp(),
        // s(4, 4, "TAIL") and c(4, 8, "LOST") never captured
        vec![c(8, 8, PSH | ACK, b"next"), s(8, 12, PSH | ACK, b"more")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![
            text(C2S, "req1"),
            text(S2C, "resp<gap 4>"),
            text(C2S, "<gap 4>next"),
            text(S2C, "more"),
        ]
    );
    let end = rec.end(0);
    assert_eq!((end.streams[0].gaps, end.streams[1].gaps), (1, 1));
}

#[test]
fn a_packet_whose_bytes_a_held_segment_acknowledged_still_delivers_them() {
    // The server's held "YYYY" acknowledged client bytes up to 8, "REQ2" (4..8) included;
    // "REQ2" arrives next, and its own acknowledgment of the server's bytes releases "YYYY"
    // first: bringing the client up to 8 must not turn "REQ2", about to be placed, into a gap.
    let segs = trace(&[
        req1_resp(),
        vec![s(8, 8, PSH | ACK, b"YYYY"), c(4, 12, PSH | ACK, b"REQ2")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.end(0).streams[0].bytes, 8);
    assert!(rec.texts(0).iter().any(|(_, t)| t.contains("REQ2")));
}

#[test]
fn a_packet_with_no_new_bytes_does_not_hold_back_what_a_held_segment_acknowledged() {
    // As above, but the client's packet that releases "YYYY" is a keep-alive probe or a
    // retransmission of old bytes: it has no bytes of its own to come, so the client's
    // missing bytes that "YYYY" acknowledged come before it, as for a pure ACK.
    for last in [
        c(8, 12, ACK, b""),
        c(3, 12, ACK, b"1"),
        c(0, 12, PSH | ACK, b"req1"),
    ] {
        let segs = trace(&[req1_resp(), vec![s(8, 8, PSH | ACK, b"YYYY"), last]]);
        let (rec, _) = run(&segs);
        assert_eq!(
            rec.texts(0),
            vec![
                text(C2S, "req1"),
                text(S2C, "resp"),
                text(C2S, "<gap 4>"),
                text(S2C, "<gap 4>YYYY"),
            ]
        );
    }
}

#[test]
fn the_peers_gaps_a_held_segment_revealed_take_its_time() {
    // At the end, "XXXX" (5 ms) and "YYYY" (6 ms) are delivered together; "YYYY"
    // acknowledged 8 client bytes never seen: that gap is timed at 6 ms, not at 5 ms (nor at
    // the end, 10 s).
    let segs = trace(&[
        req1_resp(),
        vec![
            s(8, 4, PSH | ACK, b"XXXX"),
            s(12, 12, PSH | ACK, b"YYYY"),
            c(12, 0, ACK, b""),
        ],
    ]);
    let ms = 1_000_000;
    let mut times: Vec<u64> = (0..5).map(|i| SEC + i * ms).collect();
    times.extend([SEC + 5 * ms, SEC + 6 * ms, 10 * SEC]);
    let (rec, _) = run_timed(TcpConfig::default(), &segs, &times);
    let gap_only = rec
        .monos
        .iter()
        .map(|(_, m)| m)
        .find(|m| m.direction == C2S && m.bytes == 0)
        .expect("the client's gap-only monologue");
    assert_eq!(gap_only.gaps, vec![Gap { offset: 0, len: 8 }]);
    assert_eq!(
        (gap_only.t_start, gap_only.t_end),
        (SEC + 6 * ms, SEC + 6 * ms)
    );
}

#[test]
fn an_acknowledgment_of_a_fin_seen_later_is_not_a_missing_byte() {
    // The client's held segment acknowledged the server's FIN (one sequence number after
    // "resp") before that FIN was captured; then the client's lost segment is retransmitted.
    for retransmitted in [false, true] {
        let mut segs = trace(&[
            req1_resp(),
            vec![c(8, 5, PSH | ACK, b"next"), s(4, 4, FIN | ACK, b"")],
        ]);
        if retransmitted {
            segs.push(c(4, 5, PSH | ACK, b"LOST"));
        }
        let (rec, _) = run(&segs);
        assert_eq!(rec.texts(0)[1], text(S2C, "resp"), "{retransmitted}");
        assert_eq!(rec.end(0).streams[1].gaps, 0, "{retransmitted}");
    }
}

#[test]
fn one_unseen_sequence_number_after_the_data_is_taken_for_a_lost_fin() {
    let segs = trace(&[
        handshake(),
        vec![c(0, 0, ACK, b"AAAA"), s(0, 5, ACK, b"bye")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "AAAA"), text(S2C, "bye")]);
    assert_eq!(rec.end(0).streams[0].gaps, 0);
}

#[test]
fn a_packet_delivered_on_both_sides_of_held_data_counts_once() {
    // Q [2,4) is held; P [0,6) then fills the holes on both sides of it (first copy wins
    // for [2,4)): the monologue has two packets, though P's bytes came in two deliveries.
    let segs = trace(&[
        handshake(),
        vec![c(2, 0, ACK, b"QQ"), c(0, 0, ACK, b"PPppPP")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "PPQQPP")]);
    let (_, mono) = rec.monos.first().expect("a monologue");
    assert_eq!(mono.packets, 2);
}

#[test]
fn held_data_behind_a_hole_is_flushed_with_a_gap_at_the_end_of_input() {
    let segs = trace(&[handshake(), vec![c(0, 0, ACK, b"AA"), c(4, 0, ACK, b"CC")]]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "AA<gap 2>CC")]);
    assert_eq!(rec.reasons(), vec![EndReason::Eof]);
}

#[test]
fn a_segment_cut_by_the_snap_length_leaves_a_gap_for_the_missing_bytes() {
    let mut cut = c(0, 0, ACK, b"head");
    cut.missing = 6;
    let segs = trace(&[
        handshake(),
        vec![cut, c(10, 0, ACK, b"next"), s(0, 14, ACK, b"ok")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "head<gap 6>next"), text(S2C, "ok")]
    );
}

#[test]
fn gaps_found_at_the_end_are_timed_by_the_packets_that_showed_them() {
    // The client's second segment is cut whole by the snap length (at 5 ms); nothing
    // acknowledges it and the session ends at EOF, long after (the server's last ACK at
    // 10 s). Its gap is reported at the end, but timed at the packet that carried it.
    let mut cut = c(4, 4, ACK, b"");
    cut.missing = 4;
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, PSH | ACK, b"AAAA"),
            s(0, 4, PSH | ACK, b"okay"),
            cut,
            s(8, 4, PSH | ACK, b"late"),
            s(8, 4, ACK, b""),
        ],
    ]);
    let ms = 1_000_000;
    let mut times: Vec<u64> = (0..7).map(|i| SEC + i * ms).collect();
    times.push(10 * SEC);
    let (rec, _) = run_timed(TcpConfig::default(), &segs, &times);
    assert_eq!(
        rec.texts(0),
        vec![
            text(C2S, "AAAA"),
            text(S2C, "okay<gap 4>late"),
            text(C2S, "<gap 4>"),
        ]
    );
    let last = &rec.monos.last().unwrap().1;
    assert_eq!((last.t_start, last.t_end), (SEC + 5 * ms, SEC + 5 * ms));
}

#[test]
fn a_fin_segment_cut_by_the_snap_length_still_leaves_a_gap_for_the_missing_bytes() {
    // The FIN follows the cut bytes: they were sent (the ACK covers them), not dropped.
    let mut cut = c(0, 0, ACK | FIN, b"head");
    cut.missing = 6;
    let segs = trace(&[
        handshake(),
        vec![cut, s(0, 11, ACK | FIN, b""), c(11, 1, ACK, b"")],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "head<gap 6>")]);
    assert_eq!(rec.reasons(), vec![EndReason::Fin]);
}

#[test]
fn a_capture_of_one_side_reports_the_other_side_as_gaps() {
    // Only the client's packets were captured; its ACKs tell what the server sent.
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"hi"),
            c(2, 7, ACK, b"again"),
            c(7, 12, ACK, b"bye"),
        ],
    ]);
    let (rec, _) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![
            text(C2S, "hi"),
            text(S2C, "<gap 7>"),
            text(C2S, "again"),
            text(S2C, "<gap 5>"),
            text(C2S, "bye")
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Midstream, RST, reuse, timeouts

#[test]
fn midstream_session_starts_at_its_first_packet_and_the_service_port_is_the_server() {
    // The first packet seen is the server's response (as sv-http-start-from-response.pcap).
    let segs = vec![
        s(100, 50, ACK, b"HTTP/1.1 200 OK\r\n"),
        c(50, 117, ACK, b""),
        c(50, 117, ACK, b"GET /next"),
    ];
    let (rec, stats) = run(&segs);
    assert_eq!(rec.events[0].1, Ev::Start(SEC));
    let info = &rec.ends[0].0;
    assert_eq!((info.client, info.server), (client(), server()));
    assert!(info.midstream());
    assert_eq!(stats.midstream, 1);
    assert_eq!(
        rec.texts(0),
        vec![text(S2C, "HTTP/1.1 200 OK\r\n"), text(C2S, "GET /next")]
    );
}

#[test]
fn midstream_without_a_service_port_takes_the_first_sender_as_client() {
    let mut a = c(0, 0, ACK, b"x");
    let b = Endpoint {
        ip: "10.0.0.9".parse().unwrap(),
        port: 5000,
    };
    let mut tcp = TcpListener::new(TcpConfig::default());
    let mut rec = Recorder::default();
    a.payload = b"hello".to_vec();
    let pkt = TcpPacket {
        src: Endpoint {
            ip: "10.0.0.8".parse().unwrap(),
            port: 6000,
        },
        dst: b,
        seq: 1,
        ack: 1,
        flags: TcpFlags(ACK),
        window: 0,
        payload: &a.payload,
        missing: 0,
    };
    tcp.segment(&pkt, 0, SEC, &mut rec);
    tcp.finish(&mut rec);
    assert_eq!(rec.ends[0].0.client.port, 6000);
}

#[test]
fn rst_ends_the_session_after_the_linger_and_keeps_data_sent_in_flight() {
    // As zeek-tcp-rst-inject.pcap: the client keeps sending right after a RST.
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"first"),
            s(0, 5, ACK | RST, b""),
            c(5, 0, ACK, b" second"),
            c(12, 0, ACK, b"late"),
        ],
    ]);
    let mut times: Vec<u64> = (0..6).map(|i| SEC + i * 1_000_000).collect();
    times.push(SEC + 10 * SEC); // 10 s after the RST: past the 5 s linger
    let (rec, stats) = run_timed(TcpConfig::default(), &segs, &times);
    assert_eq!(rec.texts(0), vec![text(C2S, "first second")]);
    assert_eq!(rec.end(0).reason, EndReason::Rst);
    assert_eq!(
        rec.end(0).t_end,
        SEC + 4_000_000,
        "the session ends at its RST"
    );
    // The packet after the linger is a late packet of the closed session, not a new one.
    assert_eq!(stats.sessions, 1);
    assert_eq!(stats.late_packets, 1);
}

#[test]
fn a_rst_outside_the_senders_stream_is_ignored() {
    // A RST a megabyte behind what the server already acknowledged (an injected or stale
    // one): the receiver drops it, and the conversation goes on in the same session.
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK | PSH, b"hello"),
            s(0, 5, ACK | PSH, b"ok"),
            c(-1_000_000, 0, RST, b""),
            c(5, 2, ACK | PSH, b"again"),
            s(2, 10, ACK | PSH, b"fine"),
        ],
    ]);
    let (rec, stats) = run(&segs);
    assert_eq!(stats.rst_ignored, 1);
    assert_eq!(stats.sessions, 1);
    assert_eq!(
        rec.texts(0),
        vec![
            text(C2S, "hello"),
            text(S2C, "ok"),
            text(C2S, "again"),
            text(S2C, "fine")
        ]
    );
    assert_eq!(rec.reasons(), vec![EndReason::Eof]);
}

#[test]
fn a_fin_outside_the_senders_stream_is_ignored() {
    // A bare FIN behind bytes already delivered (stale or injected): taken, it would cut off
    // everything the client says after it. A FIN before what the server acknowledged is
    // as stale; a FIN at the end of the stream still closes it.
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK | PSH, b"AAAA"),
            c(0, 0, FIN | ACK, b""),
            c(4, 0, ACK | PSH, b"BBBB"),
            s(0, 8, ACK | PSH, b"ok"),
            c(2, 2, FIN | ACK, b""),
            c(8, 2, ACK | PSH, b"CCCC"),
            c(12, 2, FIN | ACK, b""),
            s(2, 13, FIN | ACK, b""),
            c(13, 3, ACK, b""),
        ],
    ]);
    let (rec, stats) = run(&segs);
    assert_eq!(stats.fin_ignored, 2);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "AAAABBBB"), text(S2C, "ok"), text(C2S, "CCCC")]
    );
    assert_eq!(rec.reasons(), vec![EndReason::Fin]);
}

#[test]
fn a_fin_captured_after_the_ack_of_it_still_closes_its_direction() {
    // Capture reordering: the server's reply acknowledges the client's last 10 bytes and its
    // FIN before the segment carrying them is captured. The flush on that acknowledgment
    // declares them missing, FIN's sequence number included; the FIN that arrives next is
    // one behind and is the real one.
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK | PSH, b"request"),
            s(0, 7 + 10 + 1, ACK | PSH, b"reply"),
            c(7, 0, FIN | ACK | PSH, b"0123456789"),
            s(5, 18, FIN | ACK, b""),
            c(18, 6, ACK, b""),
        ],
    ]);
    let (rec, stats) = run(&segs);
    assert_eq!(stats.fin_ignored, 0);
    assert_eq!(rec.reasons(), vec![EndReason::Fin]);
}

#[test]
fn a_bare_fin_far_beyond_what_was_sent_is_ignored_and_leaves_no_gap() {
    let segs = trace(&[
        handshake(),
        vec![
            c(3 << 29, 0, FIN | ACK, b""),
            c(0, 0, ACK | PSH, b"AAAA"),
            s(0, 4, ACK | PSH, b"resp"),
            c(4, 4, FIN | ACK, b"CCCC"),
            s(4, 9, FIN | ACK, b""),
            c(9, 5, ACK, b""),
        ],
    ]);
    let (rec, stats) = run(&segs);
    assert_eq!(stats.fin_ignored, 1);
    assert_eq!(stats.streams.gaps, 0);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "AAAA"), text(S2C, "resp"), text(C2S, "CCCC")]
    );
    assert_eq!(rec.reasons(), vec![EndReason::Fin]);
}

#[test]
fn a_server_rst_counts_when_the_syn_ack_was_not_captured_but_data_went_both_ways() {
    let segs = vec![
        c(-1, 0, SYN, b""),
        c(0, 0, ACK | PSH, b"ping"),
        s(0, 4, ACK | PSH, b"pong"),
        s(4, 4, RST | ACK, b""),
    ];
    let (rec, stats) = run(&segs);
    assert_eq!(stats.rst_ignored, 0);
    assert_eq!(rec.reasons(), vec![EndReason::Rst]);
}

#[test]
fn a_closed_pair_is_quiet_for_the_linger_after_it_closed_not_after_its_end_was_noticed() {
    // The RST at 1 s ends the session; nothing else happens until 60 s, when the same pair
    // carries a new exchange without a captured SYN: a new (midstream) session, not late
    // packets of the old one (whose end is only noticed then).
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK | PSH, b"hello"),
            c(5, 0, RST, b""),
            c(100, 50, ACK | PSH, b"new exchange"),
            s(50, 112, ACK | PSH, b"answer"),
        ],
    ]);
    let times = [SEC, SEC, SEC, SEC, SEC, 60 * SEC, 60 * SEC + 1_000];
    let (rec, stats) = run_timed(TcpConfig::default(), &segs, &times);
    assert_eq!(stats.late_packets, 0);
    assert_eq!(stats.sessions, 2);
    assert_eq!(rec.reasons(), vec![EndReason::Rst, EndReason::Eof]);
    assert_eq!(
        rec.texts(1),
        vec![text(C2S, "new exchange"), text(S2C, "answer")]
    );
}

#[test]
fn rst_that_does_not_acknowledge_the_syn_is_ignored() {
    let segs = vec![
        c(-1, 0, SYN, b""),
        s(7, -1, RST | ACK, b""), // acknowledges the ISN itself, not the SYN
        s(-1, 0, SYN | ACK, b""),
        c(0, 0, ACK, b"data"),
    ];
    let (rec, stats) = run(&segs);
    assert_eq!(stats.rst_ignored, 1);
    assert_eq!(rec.texts(0), vec![text(C2S, "data")]);
    assert_eq!(rec.reasons(), vec![EndReason::Eof]);
}

#[test]
fn a_refused_connection_still_gets_one_start_and_one_end() {
    let segs = vec![c(-1, 0, SYN, b""), s(0, 0, RST | ACK, b"")];
    let (rec, _) = run(&segs);
    let kinds: Vec<&Ev> = rec.events.iter().map(|(_, e)| e).collect();
    assert!(matches!(kinds[0], Ev::Start(_)));
    assert_eq!(kinds[1], &Ev::End(EndReason::Rst));
    assert_eq!(rec.ends[0].0.handshake, Handshake::Partial);
}

#[test]
fn a_port_pair_reused_after_close_is_a_new_session() {
    let mut segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK | FIN, b"one"),
            s(0, 4, ACK | FIN, b""),
            c(4, 1, ACK, b""),
        ],
    ]);
    // Same ports, new ISN.
    let mut syn = c(-1, 0, SYN, b"");
    syn.seq = 77_777;
    segs.push(syn);
    let mut data = c(0, 0, ACK, b"two");
    data.seq = 77_778;
    segs.push(data);
    let (rec, stats) = run(&segs);
    assert_eq!(stats.sessions, 2);
    assert_eq!(rec.texts(0), vec![text(C2S, "one")]);
    assert_eq!(rec.texts(1), vec![text(C2S, "two")]);
    assert_eq!(rec.reasons(), vec![EndReason::Fin, EndReason::Eof]);
}

#[test]
fn a_new_syn_on_an_open_session_ends_it_as_reused() {
    let mut segs = trace(&[handshake(), vec![c(0, 0, ACK, b"one")]]);
    let mut syn = c(-1, 0, SYN, b"");
    syn.seq = 123;
    segs.push(syn);
    let (rec, stats) = run(&segs);
    assert_eq!(stats.sessions, 2);
    assert_eq!(rec.reasons(), vec![EndReason::Reused, EndReason::Eof]);
}

#[test]
fn a_retransmitted_syn_is_the_same_session() {
    let segs = trace(&[vec![c(-1, 0, SYN, b"")], handshake()]);
    let (_, stats) = run(&segs);
    assert_eq!(stats.sessions, 1);
}

#[test]
fn late_packets_after_a_fin_close_do_not_start_new_sessions() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK | FIN, b""),
            s(0, 1, ACK | FIN, b""),
            c(1, 1, ACK, b""),
            s(0, 1, ACK | FIN, b""),
        ],
    ]);
    let (_, stats) = run(&segs);
    assert_eq!(stats.sessions, 1);
    assert_eq!(stats.late_packets, 1);
}

#[test]
fn an_idle_session_times_out() {
    let segs = trace(&[
        handshake(),
        vec![c(0, 0, ACK, b"a")],
        vec![c(1, 0, ACK, b"b")],
    ]);
    let config = TcpConfig {
        idle_timeout_ns: 10 * SEC,
        ..TcpConfig::default()
    };
    let times = [SEC, SEC, SEC, SEC, 100 * SEC];
    let (rec, stats) = run_timed(config, &segs, &times);
    // The second data packet comes after the timeout: a second (midstream) session.
    assert_eq!(stats.sessions, 2);
    assert_eq!(rec.reasons(), vec![EndReason::Timeout, EndReason::Eof]);
    assert_eq!(rec.texts(0), vec![text(C2S, "a")]);
    assert_eq!(rec.texts(1), vec![text(C2S, "b")]);
}

// ---------------------------------------------------------------------------------------
// Limits

#[test]
fn max_session_size_drops_payload_beyond_it_and_still_sees_the_fin() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"0123456789"),
            s(0, 10, ACK, b"abcdefghij"),
            c(10, 10, ACK | FIN, b"more"),
            s(10, 15, ACK | FIN, b""),
            c(15, 11, ACK, b""),
        ],
    ]);
    let config = TcpConfig {
        max_session_size: 15,
        ..TcpConfig::default()
    };
    let (rec, stats) = run_with(config, &segs);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "0123456789"), text(S2C, "abcde")]
    );
    let end = rec.end(0);
    assert!(end.capped);
    assert_eq!(end.streams[1].capped + end.streams[0].capped, 9);
    assert_eq!(
        end.reason,
        EndReason::Fin,
        "flags are followed past the cap"
    );
    assert_eq!(stats.limit_session_size, 1);
}

#[test]
fn max_session_size_keeps_the_gaps_before_the_cut_and_drops_what_lies_beyond() {
    // [2,4) is lost; [4,6) and [12,14) are held; the limit (8 bytes) is reached inside
    // [6,10), whose first 2 bytes are kept. The hole before the cut is still a gap (no bytes joined across
    // it); held bytes beyond the cut are dropped, not delivered after a silent jump.
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"AA"),
            c(4, 0, ACK, b"CC"),
            c(12, 0, ACK, b"FF"),
            c(6, 0, ACK, b"DDEE"),
            s(0, 14, ACK, b"ok"),
        ],
    ]);
    let config = TcpConfig {
        max_session_size: 8,
        ..TcpConfig::default()
    };
    let (rec, _) = run_with(config, &segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "AA<gap 2>CCDD")]);
    let end = rec.end(0);
    assert!(end.capped);
    assert_eq!(
        end.streams[0].capped,
        2 + 2,
        "EE, and FF held beyond the cut"
    );
    assert_eq!(end.streams[1].capped, 2, "the server's ok");
    assert_eq!(end.streams[0].gap_bytes, 2);
}

#[test]
fn max_session_size_counts_only_bytes_not_delivered_before() {
    // A retransmission carrying 5 old bytes and 10 new ones, with room for 5 more: the 5
    // new bytes that fit are kept (the old ones do not use up the room).
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"0123456789"),
            c(5, 0, ACK, b"56789abcdefghij"),
        ],
    ]);
    let config = TcpConfig {
        max_session_size: 15,
        ..TcpConfig::default()
    };
    let (rec, _) = run_with(config, &segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "0123456789abcde")]);
    assert_eq!(rec.end(0).streams[0].capped, 5);
}

#[test]
fn the_per_session_buffer_limit_declares_the_hole_a_gap() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"AA"),
            c(4, 0, ACK, b"CCCC"),
            c(8, 0, ACK, b"DDDD"),
            c(12, 0, ACK, b"EEEE"),
        ],
    ]);
    let config = TcpConfig {
        max_buffered_per_session: 6,
        ..TcpConfig::default()
    };
    let (rec, stats) = run_with(config, &segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "AA<gap 2>CCCCDDDDEEEE")]);
    assert_eq!(stats.limit_session_buffer, 1);
}

#[test]
fn the_overall_buffer_limit_declares_holes_gaps() {
    let segs = trace(&[
        handshake(),
        vec![
            c(0, 0, ACK, b"AA"),
            c(4, 0, ACK, b"CCCC"),
            c(8, 0, ACK, b"DDDD"),
        ],
    ]);
    let config = TcpConfig {
        max_buffered_total: 5,
        ..TcpConfig::default()
    };
    let (rec, stats) = run_with(config, &segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "AA<gap 2>CCCCDDDD")]);
    assert!(stats.limit_total_buffer >= 1);
    // What is held costs its bytes and each segment's own memory.
    assert!(stats.peak_buffered <= (8 + 2 * super::stream::HELD_SEGMENT_COST) as u64);
}

#[test]
fn tiny_held_segments_count_their_own_memory_against_the_limit() {
    // A hole, then 200 one-byte segments beyond it: 200 bytes, far below the 4 KiB limit
    // in bytes, but each held segment costs its own memory too (a million of them took
    // 135 MB), so the limit bites and the hole becomes a gap.
    let mut segs = handshake();
    segs.push(c(0, 0, ACK, b"A"));
    for i in 0..200 {
        segs.push(c(2 + i, 0, ACK, b"x"));
    }
    let config = TcpConfig {
        max_buffered_per_session: 4096,
        ..TcpConfig::default()
    };
    let (rec, stats) = run_with(config, &segs);
    assert!(stats.limit_session_buffer >= 1);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, &format!("A<gap 1>{}", "x".repeat(200)))]
    );
    assert!(stats.peak_buffered <= 4096 + super::stream::HELD_SEGMENT_COST as u64);
}

#[test]
fn max_sessions_evicts_the_least_recently_active() {
    let mut tcp = TcpListener::new(TcpConfig {
        max_sessions: 2,
        ..TcpConfig::default()
    });
    let mut rec = Recorder::default();
    for i in 0..3u16 {
        let pkt = packet_from(1000 + i, ACK, b"x");
        tcp.segment(&pkt, u64::from(i), SEC + u64::from(i), &mut rec);
    }
    tcp.finish(&mut rec);
    assert_eq!(
        rec.reasons(),
        vec![EndReason::Evicted, EndReason::Eof, EndReason::Eof]
    );
    assert_eq!(tcp.stats().limit_sessions, 1);
}

/// A packet from 10.0.0.1, port `port`, to the server, sequence and acknowledgment numbers 1:
/// one of many sessions that the tests of the table tell apart by port.
fn packet_from(port: u16, flags: u8, payload: &'static [u8]) -> TcpPacket<'static> {
    TcpPacket {
        src: Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port,
        },
        dst: server(),
        seq: 1,
        ack: 1,
        flags: TcpFlags(flags),
        window: 0,
        payload,
        missing: 0,
    }
}

const CENTURY: u64 = 100 * 365 * 24 * 3600 * SEC;

#[test]
fn a_segment_that_runs_past_the_midstream_start_keeps_its_bytes_from_there_on() {
    // Picked up midstream: the server's first packet acknowledges client offset 0 at
    // relative sequence 10; the client's next segment (a retransmission coalescing what the
    // server had and more) starts 10 bytes before that and carries 20 beyond it.
    let segs = vec![
        s(0, 10, ACK, b""),
        c(0, 0, ACK | PSH, b"0123456789abcdefghijklmnopqrst"),
        s(0, 30, ACK | PSH, b"ok"),
    ];
    let (rec, stats) = run(&segs);
    assert_eq!(
        rec.texts(0),
        vec![text(C2S, "abcdefghijklmnopqrst"), text(S2C, "ok")]
    );
    assert_eq!(stats.streams.before_start, 10);
    assert_eq!(stats.streams.gaps, 0);
}

#[test]
fn max_session_size_cuts_where_the_room_for_new_bytes_runs_out() {
    // [10, 60) held, then [0, 200) with room for 100 bytes: 50 are held, so 50 new ones fit,
    // 10 before the held ones and 40 after; the other 100 are dropped, and counted.
    let segs = trace(&[
        handshake(),
        vec![
            c(10, 0, ACK, &[b'h'; 50]),
            c(0, 0, ACK, &[b'a'; 200]),
            s(0, 200, ACK, b""),
        ],
    ]);
    let config = TcpConfig {
        max_session_size: 100,
        ..TcpConfig::default()
    };
    let (rec, _) = run_with(config, &segs);
    let end = rec.end(0);
    assert_eq!(end.streams[0].bytes, 100);
    assert_eq!(end.streams[0].capped, 100);
    assert_eq!(end.streams[0].gaps, 0);
}

#[test]
fn a_monologue_lists_its_first_gaps_and_counts_the_rest() {
    // A byte after every one-byte hole, the server acknowledging past each: a gap per two
    // packets, for as long as the server stays silent. The list stops growing; the count
    // does not.
    let n = super::MAX_LISTED_GAPS as i64 + 10;
    let mut segs = handshake();
    for i in 0..n {
        segs.push(c(2 * i + 1, 0, ACK, b"x"));
        segs.push(s(0, 2 * i + 2, ACK, b""));
    }
    segs.push(s(0, 2 * n, ACK | PSH, b"ok"));
    let (rec, stats) = run(&segs);
    let (_, m) = &rec.monos[0];
    assert_eq!(m.gaps.len(), super::MAX_LISTED_GAPS);
    assert_eq!(m.gaps_unlisted, 10);
    assert_eq!(m.gap_count(), n as u64);
    assert_eq!(m.bytes, n as u64);
    assert_eq!(stats.streams.gaps, n as u64);
}

#[test]
fn a_retransmission_of_held_bytes_does_not_use_up_max_session_size() {
    // 15 bytes in all, the last 10 first (held), twice, then the first 5: exactly the limit.
    // The second copy of the held bytes is not new: charged again, it capped the session and
    // turned the first 5 bytes, which did arrive, into a gap.
    let segs = trace(&[
        handshake(),
        vec![
            c(5, 0, ACK, b"FGHIJKLMNO"),
            c(5, 0, ACK, b"FGHIJKLMNO"),
            c(0, 0, ACK, b"ABCDE"),
        ],
    ]);
    let config = TcpConfig {
        max_session_size: 15,
        ..TcpConfig::default()
    };
    let (rec, stats) = run_with(config, &segs);
    assert_eq!(rec.texts(0), vec![text(C2S, "ABCDEFGHIJKLMNO")]);
    assert_eq!(stats.limit_session_size, 0);
}

#[test]
fn closed_pairs_remembered_stay_within_max_sessions_whatever_the_clock_does() {
    // One pair closes stamped a century ahead (a bad clock), then ten more at the right
    // time: remembered in the order they closed, the later ones would wait behind the first
    // for a century, and pile up. At most `max_sessions` are kept: the first goes early,
    // counted, and the others then expire on time.
    let mut tcp = TcpListener::new(TcpConfig {
        max_sessions: 4,
        close_linger_ns: 0,
        ..TcpConfig::default()
    });
    let mut rec = Recorder::default();
    tcp.segment(&packet_from(1, RST, b""), 0, CENTURY, &mut rec);
    for i in 0..10u16 {
        let t = SEC + u64::from(i);
        tcp.segment(&packet_from(2 + i, RST, b""), 1 + u64::from(i), t, &mut rec);
    }
    tcp.finish(&mut rec);
    assert_eq!(tcp.stats().limit_closed, 1);
    assert_eq!(tcp.stats().sessions, 11);
}

#[test]
fn a_packet_a_century_from_its_pairs_close_is_not_late() {
    // Late packets (the last ACK after a close) are told by time: within `close_linger` of
    // the close, before or after it (the clocks of two interfaces). A century away, the
    // packet starts a new session.
    let mut tcp = TcpListener::new(TcpConfig {
        close_linger_ns: 0,
        ..TcpConfig::default()
    });
    let mut rec = Recorder::default();
    tcp.segment(&packet_from(1, RST, b""), 0, CENTURY, &mut rec);
    tcp.segment(&packet_from(1, ACK, b"x"), 1, SEC, &mut rec);
    tcp.finish(&mut rec);
    assert_eq!(tcp.stats().late_packets, 0);
    assert_eq!(tcp.stats().sessions, 2);
}

// ---------------------------------------------------------------------------------------
// Ordering

#[test]
fn end_of_input_flushes_sessions_in_the_order_they_started() {
    let mut tcp = TcpListener::new(TcpConfig::default());
    let mut rec = Recorder::default();
    // Ports chosen so that hash order and key order both differ from arrival order.
    for (i, port) in [9000u16, 1500, 65000, 3000].iter().enumerate() {
        tcp.segment(&packet_from(*port, ACK, b"x"), i as u64, SEC, &mut rec);
    }
    tcp.finish(&mut rec);
    let ports: Vec<u16> = rec.ends.iter().map(|(s, _)| s.client.port).collect();
    assert_eq!(ports, vec![9000, 1500, 65000, 3000]);
    let oldest: Vec<u64> = rec.ends.iter().map(|(_, e)| e.oldest_open).collect();
    assert_eq!(oldest, vec![1, 2, 3, u64::MAX]);
}

#[test]
fn every_session_gets_start_before_any_monologue_and_end_last() {
    let segs = trace(&[
        handshake(),
        vec![s(0, 0, ACK, b"banner"), c(0, 6, ACK, b"hello")],
    ]);
    let (rec, _) = run(&segs);
    let kinds: Vec<&Ev> = rec.events.iter().map(|(_, e)| e).collect();
    assert!(matches!(kinds.first(), Some(Ev::Start(_))));
    assert!(matches!(kinds.last(), Some(Ev::End(_))));
    assert_eq!(
        kinds.iter().filter(|e| matches!(e, Ev::Start(_))).count(),
        1
    );
}

#[test]
fn sessions_that_expire_together_end_in_start_order() {
    // A starts before B; B is idle since 5 s, A since 10 s. At 105 s an unrelated packet
    // re-queues both timers (neither has expired yet); at 200 s both have: A ends first.
    let config = TcpConfig {
        idle_timeout_ns: 100 * SEC,
        ..TcpConfig::default()
    };
    let mut tcp = TcpListener::new(config);
    let mut rec = Recorder::default();
    let at = |port: u16| Endpoint {
        ip: "10.0.0.1".parse().unwrap(),
        port,
    };
    let packets: [(u64, u16, u16, u32, &[u8]); 6] = [
        (SEC, 45001, 80, 100, b"A-first"),
        (2 * SEC, 45002, 80, 100, b"B-second"),
        (5 * SEC, 45002, 80, 108, b"B2"),
        (10 * SEC, 45001, 80, 107, b"A2"),
        (105 * SEC, 1, 2, 1, b""),
        (200 * SEC, 3, 4, 1, b""),
    ];
    for (i, (ts, sport, dport, seq, payload)) in packets.into_iter().enumerate() {
        let pkt = TcpPacket {
            src: at(sport),
            dst: server_at(dport),
            seq,
            ack: 900,
            flags: TcpFlags(ACK | PSH),
            window: 65535,
            payload,
            missing: 0,
        };
        tcp.segment(&pkt, i as u64, ts, &mut rec);
    }
    let ended: Vec<u64> = rec.ends.iter().map(|(s, _)| s.ordinal).collect();
    assert_eq!(&ended[..2], &[0, 1], "{ended:?}");
    assert_eq!(rec.reasons()[..2], [EndReason::Timeout, EndReason::Timeout]);
}

fn server_at(port: u16) -> Endpoint {
    Endpoint {
        ip: "10.0.0.2".parse().unwrap(),
        port,
    }
}
