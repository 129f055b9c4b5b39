//! Decoder tests: frames built with etherparse's packet builder, then damaged in every way a
//! capture can damage them.

use super::*;
use etherparse::PacketBuilder;

fn tcp_frame(payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1000, 65535)
        .ack(77)
        .psh();
    let mut out = Vec::new();
    builder.write(&mut out, payload).unwrap();
    out
}

fn decoder() -> Decoder {
    Decoder::new(DecodeOptions::default())
}

#[test]
fn ethernet_ipv4_tcp_gives_the_segment() {
    let frame = tcp_frame(b"hello");
    let mut d = decoder();
    let p = d.decode(0, link::linktype::ETHERNET, &frame).unwrap();
    assert_eq!(p.src.to_string(), "10.0.0.1:40000");
    assert_eq!(p.dst.to_string(), "10.0.0.2:80");
    assert_eq!(
        (p.seq, p.ack, p.payload, p.missing),
        (1000, 77, &b"hello"[..], 0)
    );
    assert!(p.flags.has(TcpFlags::ACK | TcpFlags::PSH));
    assert_eq!(d.stats.tcp, 1);
}

#[test]
fn ethernet_padding_is_not_payload() {
    // A pure ACK padded to the 60-byte Ethernet minimum (tcpflow takes the padding as data).
    let mut frame = tcp_frame(b"");
    frame.resize(60, 0x55);
    let mut d = decoder();
    let p = d.decode(0, link::linktype::ETHERNET, &frame).unwrap();
    assert!(p.payload.is_empty());
}

#[test]
fn a_frame_cut_by_the_snap_length_keeps_its_captured_payload_and_counts_the_rest() {
    let frame = tcp_frame(&[b'x'; 100]);
    let cut = &frame[..frame.len() - 30];
    let mut d = decoder();
    let p = d.decode(0, link::linktype::ETHERNET, cut).unwrap();
    assert_eq!((p.payload.len(), p.missing), (70, 30));
    assert_eq!(
        (d.stats.truncated_segments, d.stats.truncated_bytes),
        (1, 30)
    );
}

#[test]
fn a_tcp_header_cut_by_the_snap_length_still_places_the_segment_with_its_payload_missing() {
    // A 32-byte TCP header (timestamps option) cut after 22 bytes, as a 68-byte snap length
    // does on IPv6: ports, numbers and flags are there; all 100 payload bytes are missing.
    let builder = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1000, 65535)
        .options(&[
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::Timestamp(1, 2),
        ])
        .unwrap()
        .ack(77)
        .fin();
    let mut frame = Vec::new();
    builder.write(&mut frame, &[b'x'; 100]).unwrap();
    let cut = &frame[..14 + 20 + 22];
    let mut d = decoder();
    let p = d.decode(0, link::linktype::ETHERNET, cut).unwrap();
    assert_eq!(p.src.to_string(), "10.0.0.1:40000");
    assert_eq!(
        (p.seq, p.ack, p.payload, p.missing),
        (1000, 77, &b""[..], 100)
    );
    assert!(p.flags.has(TcpFlags::ACK | TcpFlags::FIN));
    assert_eq!(d.stats.skipped(Skip::TcpTruncated), 0);
    // Cut inside the first 14 bytes, nothing places it: skipped, counted.
    assert!(d
        .decode(0, link::linktype::ETHERNET, &frame[..14 + 20 + 10])
        .is_none());
    assert_eq!(d.stats.skipped(Skip::TcpTruncated), 1);
}

#[test]
fn ipv4_total_length_zero_takes_the_captured_length() {
    // TSO / BIG TCP captures: total length 0.
    let mut frame = tcp_frame(b"segmentation offload");
    frame[16] = 0;
    frame[17] = 0;
    let mut d = decoder();
    let p = d.decode(0, link::linktype::ETHERNET, &frame).unwrap();
    assert_eq!(p.payload, b"segmentation offload");
}

/// A raw IPv6 packet (2001:db8::1 port 1234 to fe80::2 port 443) carrying `payload` over TCP,
/// with a hop-by-hop options header whose length byte is `units` (8 * (1 + units) bytes
/// claimed; 8 written) between the IPv6 header and TCP.
fn ipv6_with_hop_by_hop(payload: &[u8], units: u8) -> Vec<u8> {
    let builder = PacketBuilder::ipv6(
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        64,
    )
    .tcp(1234, 443, 5, 100);
    let mut ip = Vec::new();
    builder.write(&mut ip, payload).unwrap();
    let mut with_ext = ip[..40].to_vec();
    with_ext[6] = 0; // next header: hop-by-hop
    let payload_len = u16::from_be_bytes([ip[4], ip[5]]) + 8;
    with_ext[4..6].copy_from_slice(&payload_len.to_be_bytes());
    with_ext.extend_from_slice(&[6, units, 1, 4, 0, 0, 0, 0]);
    with_ext.extend_from_slice(&ip[40..]);
    with_ext
}

#[test]
fn ipv6_with_an_extension_header_is_decoded() {
    let with_ext = ipv6_with_hop_by_hop(b"v6", 0);
    let mut d = decoder();
    let p = d.decode(0, link::linktype::RAW, &with_ext).unwrap();
    assert_eq!(p.src.to_string(), "[2001:db8::1]:1234");
    assert_eq!(p.payload, b"v6");
}

#[test]
fn udp_and_arp_are_counted_not_decoded() {
    let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
        .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
        .udp(53, 53);
    let mut udp = Vec::new();
    builder.write(&mut udp, b"dns").unwrap();
    let mut arp = vec![0u8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    let mut d = decoder();
    assert!(d.decode(0, 1, &udp).is_none());
    assert!(d.decode(0, 1, &arp).is_none());
    assert_eq!(d.stats.skipped(Skip::NotTcp), 1);
    assert_eq!(d.stats.skipped(Skip::NotIp), 1);
}

#[test]
fn unsupported_link_types_are_counted_by_value() {
    let mut d = decoder();
    assert!(d.decode(0, 160, &[0; 40]).is_none());
    assert!(d.decode(0, 160, &[0; 40]).is_none());
    assert_eq!(d.stats.unsupported_linktypes, vec![(160, 2)]);
}

#[test]
fn ipv6_fragments_whose_fragmentable_part_starts_with_an_extension_header_are_reassembled() {
    // Fragmentable part: Destination Options (8 bytes, PadN) then a TCP segment of 20 + 40
    // bytes, split at 24 bytes; each fragment is IPv6 + Fragment header (next header 60).
    let frame = tcp_frame(&[b'g'; 40]);
    let tcp = &frame[14 + 20..];
    let mut part = vec![6u8, 0, 1, 4, 0, 0, 0, 0];
    part.extend_from_slice(tcp);
    let src: [u8; 16] = "2001:db8::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let dst: [u8; 16] = "2001:db8::2"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let mut fragments = Vec::new();
    for (offset, chunk, more) in [(0usize, &part[..24], true), (24, &part[24..], false)] {
        let mut f = vec![0x60, 0, 0, 0];
        f.extend_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[44, 64]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        let off_m = ((offset / 8) as u16) << 3 | u16::from(more);
        f.extend_from_slice(&[60, 0]);
        f.extend_from_slice(&off_m.to_be_bytes());
        f.extend_from_slice(&7u32.to_be_bytes());
        f.extend_from_slice(chunk);
        fragments.push(f);
    }
    let mut d = decoder();
    assert!(d.decode(0, link::linktype::IPV6, &fragments[1]).is_none());
    let p = d.decode(1, link::linktype::IPV6, &fragments[0]).unwrap();
    assert_eq!(p.dst.to_string(), "[2001:db8::2]:80");
    assert_eq!(p.payload, &[b'g'; 40][..]);
    assert_eq!(d.defrag_counters().reassembled, 1);
}

/// `body` (what follows the IPv4 header, protocol `protocol`) in two IPv4 fragments of 32
/// bytes and the rest, each framed with `frame`'s Ethernet and IPv4 headers.
fn ipv4_fragments(frame: &[u8], body: &[u8], protocol: u8) -> Vec<Vec<u8>> {
    let header = &frame[14..14 + 20];
    let mut fragments = Vec::new();
    for (offset, chunk, more) in [(0usize, &body[..32], true), (32, &body[32..], false)] {
        let mut h = header.to_vec();
        let total = (20 + chunk.len()) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        let flags_off = ((offset / 8) as u16) | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&flags_off.to_be_bytes());
        h[9] = protocol;
        h[10] = 0;
        h[11] = 0;
        let mut f = frame[..14].to_vec();
        f.extend_from_slice(&h);
        f.extend_from_slice(chunk);
        fragments.push(f);
    }
    fragments
}

#[test]
fn ipv4_fragments_are_reassembled_into_one_segment() {
    // A TCP segment of 20 + 40 bytes split into fragments of 32 and 28 bytes.
    let frame = tcp_frame(&[b'f'; 40]);
    let fragments = ipv4_fragments(&frame, &frame[14 + 20..], 6);
    let mut d = decoder();
    // Second fragment first.
    assert!(d.decode(0, 1, &fragments[1]).is_none());
    assert_eq!(d.stats.skipped(Skip::FragmentHeld), 1);
    let p = d.decode(1, 1, &fragments[0]).unwrap();
    assert_eq!(p.payload, &[b'f'; 40][..]);
    assert_eq!(d.defrag_counters().reassembled, 1);
}

#[test]
fn ipv4_fragments_carrying_an_authentication_header_are_reassembled() {
    // IPv4 (protocol 51) + AH (12 bytes: next header 6, length 1 = 3 words - 2, no ICV) + a
    // TCP segment of 20 + 40 bytes, split after 32 bytes of the IPv4 payload.
    let frame = tcp_frame(&[b'h'; 40]);
    let mut body = vec![6u8, 1, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1];
    body.extend_from_slice(&frame[14 + 20..]);
    let fragments = ipv4_fragments(&frame, &body, 51);
    let mut d = decoder();
    assert!(d.decode(0, 1, &fragments[0]).is_none());
    let p = d.decode(1, 1, &fragments[1]).unwrap();
    assert_eq!(p.dst.to_string(), "10.0.0.2:80");
    assert_eq!(p.payload, &[b'h'; 40][..]);
    assert_eq!(d.defrag_counters().reassembled, 1);
    assert_eq!(d.defrag_counters().invalid, 0);
}

#[test]
fn vxlan_inner_frames_are_decoded() {
    let inner = tcp_frame(b"inside");
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
    vx.extend_from_slice(&inner);
    let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
        .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
        .udp(50000, 4789);
    let mut outer = Vec::new();
    builder.write(&mut outer, &vx).unwrap();
    let mut d = decoder();
    let p = d.decode(0, 1, &outer).unwrap();
    assert_eq!(p.payload, b"inside");
    assert_eq!(d.stats.tunnelled, 1);
    let mut off = Decoder::new(DecodeOptions {
        tunnels: false,
        ..DecodeOptions::default()
    });
    assert!(off.decode(0, 1, &outer).is_none());
}

#[test]
fn every_prefix_and_every_byte_flip_of_a_frame_decodes_without_panicking() {
    let frame = tcp_frame(b"some payload bytes");
    let mut d = decoder();
    for linktype in [0, 1, 12, 101, 108, 113, 129, 228, 229, 239, 276] {
        for len in 0..=frame.len() {
            let _ = d.decode(0, linktype, &frame[..len]);
        }
        for i in 0..frame.len() {
            for v in [0u8, 0xff, 0x45, 0x60, 0x81] {
                let mut f = frame.clone();
                f[i] = v;
                let _ = d.decode(0, linktype, &f);
            }
        }
    }
    assert!(d.stats.frames > 1000);
}

/// A complete frame (not cut by the snap length) whose IPv4 total length claims more than it
/// holds: its payload is what the frame holds, nothing is counted missing (no invented gap),
/// and the overstatement is counted. The same bytes in a frame the snap length cut are a cut.
#[test]
fn an_ip_length_beyond_a_complete_frame_is_not_missing_payload() {
    let mut frame = tcp_frame(&[b'x'; 10]);
    let total = u16::from_be_bytes([frame[16], frame[17]]) + 950;
    frame[16..18].copy_from_slice(&total.to_be_bytes());
    let mut d = decoder();
    let p = d
        .decode_frame(0, link::linktype::ETHERNET, &frame, false)
        .unwrap();
    assert_eq!((p.payload.len(), p.missing), (10, 0));
    assert_eq!(
        (d.stats.overstated_segments, d.stats.overstated_bytes),
        (1, 950)
    );
    assert_eq!(d.stats.truncated_segments, 0);
    let mut d = decoder();
    let p = d
        .decode_frame(0, link::linktype::ETHERNET, &frame, true)
        .unwrap();
    assert_eq!(p.missing, 950);
    assert_eq!(d.stats.truncated_segments, 1);
}

/// Decodes `frame` (of link type `linktype`, `cut` by the snap length or not) with a fresh
/// decoder, which must give no segment, and returns how many frames it counts under each of
/// `reasons`.
fn skips(linktype: u32, frame: &[u8], cut: bool, reasons: &[Skip]) -> Vec<u64> {
    let mut d = decoder();
    assert!(d.decode_frame(0, linktype, frame, cut).is_none());
    reasons.iter().map(|&r| d.stats.skipped(r)).collect()
}

/// A TCP header cut short is `tcp_truncated` only in a frame the snap length cut; in a
/// complete frame it is malformed: `tcp_invalid`.
#[test]
fn a_header_cut_short_in_a_complete_frame_is_invalid_not_truncated() {
    let frame = tcp_frame(b"");
    // Ethernet 14 + IPv4 20 + 10 bytes of the TCP header, the IP length shrunk to match.
    let mut short = frame[..44].to_vec();
    short[16..18].copy_from_slice(&30u16.to_be_bytes());
    let reasons = [Skip::TcpInvalid, Skip::TcpTruncated];
    assert_eq!(
        skips(link::linktype::ETHERNET, &short, false, &reasons),
        [1, 0]
    );
    assert_eq!(
        skips(link::linktype::ETHERNET, &frame[..44], true, &reasons),
        [0, 1]
    );
}

/// An IPv6 extension header that runs past the packet hides its protocol: the packet is
/// malformed (in a complete frame), not "another protocol than TCP".
#[test]
fn an_unreadable_extension_header_is_an_invalid_packet_not_another_protocol() {
    // A hop-by-hop header claiming 8 * (1 + 200) bytes, where the packet has 8.
    let mut bad = ipv6_with_hop_by_hop(b"", 200)[..48].to_vec();
    bad[4..6].copy_from_slice(&8u16.to_be_bytes());
    let reasons = [Skip::IpInvalid, Skip::NotTcp];
    assert_eq!(skips(link::linktype::RAW, &bad, false, &reasons), [1, 0]);
}

/// Link-layer headers that cannot be read are `link_truncated` only in a frame the snap
/// length cut; in a complete frame, or nested deeper than netan follows, `link_invalid`
/// (not `not_ip`: the frame may well carry IP).
#[test]
fn unreadable_link_headers_are_invalid_unless_the_snap_length_cut_them() {
    let frame = tcp_frame(b"x");
    let mut d = decoder();
    assert!(d
        .decode_frame(0, link::linktype::ETHERNET, &frame[..10], true)
        .is_none());
    assert!(d
        .decode_frame(0, link::linktype::ETHERNET, &frame[..10], false)
        .is_none());
    // 21 stacked 802.1Q tags before the IPv4 packet.
    let mut deep = frame[..12].to_vec();
    for _ in 0..21 {
        deep.extend_from_slice(&[0x81, 0x00, 0, 1]);
    }
    deep.extend_from_slice(&frame[12..]);
    assert!(d
        .decode_frame(0, link::linktype::ETHERNET, &deep, false)
        .is_none());
    assert_eq!(
        (
            d.stats.skipped(Skip::LinkTruncated),
            d.stats.skipped(Skip::LinkInvalid),
            d.stats.skipped(Skip::NotIp)
        ),
        (1, 2, 0)
    );
}
