//! Unit tests of the SOCKS handshakes: each version and address type, authentication,
//! refusals, input split at every byte, cut short, and garbage.

use netan_plugin_api::testing::XorShift as Rng;
use netan_plugin_api::Direction;

use super::*;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// zeek-socks-null.pcap: SOCKS4 CONNECT 192.150.187.12:80, empty user id; reply VN 0, granted.
const V4_REQ: &[u8] = b"\x04\x01\x00\x50\xc0\x96\xbb\x0c\x00";
pub(crate) const V4_OK: &[u8] = b"\x00\x5a\x00\x00\x00\x00\x00\x00";
/// zeek-socks.pcap: SOCKS5, no authentication, CONNECT www.osnews.com:80.
pub(crate) const V5_HELLO: &[u8] = b"\x05\x01\x00";
pub(crate) const V5_NO_AUTH: &[u8] = b"\x05\x00";
const V5_REQ_DOMAIN: &[u8] = b"\x05\x01\x00\x03\x0ewww.osnews.com\x00\x50";
const V5_OK: &[u8] = b"\x05\x00\x00\x01\xc0\xa8\x00\x1f\x0a\x80";
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: www.osnews.com\r\n\r\n";

/// Feeds the conversation, each message cut into pieces of at most `piece` bytes.
fn run(script: &[(Direction, &[u8])], piece: usize) -> Opening {
    let mut o = Opening::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        for p in bytes.chunks(piece.max(1)) {
            o.data(*dir, p, i as u64);
        }
    }
    o
}

/// The tunnel's bytes per direction, joined.
fn tunnelled(o: &Opening) -> (Vec<u8>, Vec<u8>) {
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for ev in o.tunnel_events() {
        if let Event::Data { dir, bytes, .. } = ev {
            if dir == C2S { &mut c } else { &mut s }.extend(bytes);
        }
    }
    (c, s)
}

fn target(o: &Opening) -> Option<String> {
    o.handshake().target().map(ToString::to_string)
}

#[test]
fn socks4_connect_opens_a_tunnel_to_the_ipv4_destination() {
    let o = run(&[(C2S, V4_REQ), (S2C, V4_OK), (C2S, GET)], usize::MAX);
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(o.handshake().version(), Some(Version::V4));
    assert_eq!(target(&o).as_deref(), Some("192.150.187.12:80"));
    assert_eq!(o.handshake().used(C2S), 9);
    assert_eq!(o.handshake().used(S2C), 8);
    assert_eq!(tunnelled(&o), (GET.to_vec(), Vec::new()));
}

#[test]
fn socks4_replies_with_version_4_and_user_ids_are_accepted() {
    let req = b"\x04\x01\x1f\x90\x0a\x00\x00\x01alice\x00";
    let o = run(&[(C2S, req), (S2C, b"\x04\x5a\x1f\x90\x0a\x00\x00\x01")], 1);
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(target(&o).as_deref(), Some("10.0.0.1:8080"));
}

#[test]
fn socks4a_carries_a_host_name_after_the_user_id() {
    let req = b"\x04\x01\x00\x50\x00\x00\x00\x01bob\x00example.org\x00";
    let o = run(&[(C2S, req), (S2C, V4_OK)], usize::MAX);
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(o.handshake().version(), Some(Version::V4a));
    assert_eq!(target(&o).as_deref(), Some("example.org:80"));
    assert_eq!(o.handshake().used(C2S), req.len() as u64);
}

#[test]
fn socks4_refusals_open_no_tunnel() {
    for (code, why) in [
        (0x5b, "SOCKS4: request rejected or failed"),
        (0x5c, "SOCKS4: client's identd unreachable"),
        (0x5d, "SOCKS4: user id refused by identd"),
    ] {
        let reply = [0, code, 0, 0, 0, 0, 0, 0];
        let o = run(&[(C2S, V4_REQ), (S2C, &reply), (C2S, GET)], usize::MAX);
        assert_eq!(o.status(), Status::NoTunnel(why));
        assert!(o.tunnel_events().is_empty());
        assert_eq!(o.tunnel_start(24), None);
    }
    // A reply code outside the protocol is not SOCKS either.
    let o = run(
        &[(C2S, V4_REQ), (S2C, b"\x00\x01\x00\x00\x00\x00\x00\x00")],
        3,
    );
    assert_eq!(o.status(), Status::NoTunnel("SOCKS4: bad reply code"));
}

#[test]
fn socks4_bind_waits_for_the_second_reply() {
    let req = b"\x04\x02\x00\x14\x0a\x00\x00\x02\x00";
    let mut o = run(&[(C2S, req), (S2C, V4_OK)], usize::MAX);
    assert_eq!(o.status(), Status::Pending);
    o.data(S2C, V4_OK, 9);
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(o.handshake().used(S2C), 16);
}

#[test]
fn socks5_without_authentication_to_a_host_name() {
    let script: [(Direction, &[u8]); 5] = [
        (C2S, V5_HELLO),
        (S2C, V5_NO_AUTH),
        (C2S, V5_REQ_DOMAIN),
        (S2C, V5_OK),
        (C2S, GET),
    ];
    let o = run(&script, usize::MAX);
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(o.handshake().version(), Some(Version::V5));
    assert_eq!(target(&o).as_deref(), Some("www.osnews.com:80"));
    assert_eq!(o.handshake().used(C2S), 3 + 21);
    assert_eq!(o.handshake().used(S2C), 2 + 10);
    assert_eq!(tunnelled(&o), (GET.to_vec(), Vec::new()));
}

#[test]
fn socks5_ipv4_and_ipv6_destinations() {
    let v4 = b"\x05\x01\x00\x01\x5d\xb8\xd8\x22\x00\x50";
    let o = run(
        &[(C2S, V5_HELLO), (S2C, V5_NO_AUTH), (C2S, v4), (S2C, V5_OK)],
        usize::MAX,
    );
    assert_eq!(target(&o).as_deref(), Some("93.184.216.34:80"));
    let mut v6 = b"\x05\x01\x00\x04".to_vec();
    v6.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    v6.extend_from_slice(&443u16.to_be_bytes());
    // The reply's bound address may be of another type than the request's.
    let mut reply6 = b"\x05\x00\x00\x04".to_vec();
    reply6.extend_from_slice(&[0; 18]);
    let o = run(
        &[
            (C2S, V5_HELLO),
            (S2C, V5_NO_AUTH),
            (C2S, &v6),
            (S2C, &reply6),
        ],
        1,
    );
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(target(&o).as_deref(), Some("[2001:db8::1]:443"));
}

#[test]
fn socks5_username_password_authentication() {
    let hello = b"\x05\x02\x00\x02";
    let auth = b"\x01\x05alice\x06s3cret";
    let script: [(Direction, &[u8]); 6] = [
        (C2S, hello),
        (S2C, b"\x05\x02"),
        (C2S, auth),
        (S2C, b"\x01\x00"),
        (C2S, V5_REQ_DOMAIN),
        (S2C, V5_OK),
    ];
    for piece in [1, 2, usize::MAX] {
        let o = run(&script, piece);
        assert_eq!(o.status(), Status::Tunnel, "pieces of {piece}");
        assert_eq!(o.handshake().used(C2S), (4 + 14 + 21) as u64);
        assert_eq!(o.handshake().used(S2C), (2 + 2 + 10) as u64);
    }
    // Some servers answer the sub-negotiation with version 5.
    let mut lenient = script;
    lenient[3] = (S2C, b"\x05\x00");
    assert_eq!(run(&lenient, usize::MAX).status(), Status::Tunnel);
    // Refused credentials.
    let mut refused = script;
    refused[3] = (S2C, b"\x01\x01");
    assert_eq!(
        run(&refused, usize::MAX).status(),
        Status::NoTunnel("SOCKS5: username/password refused")
    );
}

#[test]
fn socks5_method_selections_that_open_no_tunnel() {
    for (hello, choice, why) in [
        (
            &b"\x05\x01\x00"[..],
            &b"\x05\xff"[..],
            "SOCKS5: no acceptable method",
        ),
        (b"\x05\x01\x00", b"\x05\x02", "SOCKS5: method not offered"),
        (
            b"\x05\x02\x00\x01",
            b"\x05\x01",
            "SOCKS5: authentication method not followed",
        ),
        (b"\x05\x01\x00", b"\x04\x00", "SOCKS5: bad method selection"),
    ] {
        let o = run(&[(C2S, hello), (S2C, choice)], usize::MAX);
        assert_eq!(o.status(), Status::NoTunnel(why));
    }
}

#[test]
fn socks5_failure_replies_open_no_tunnel() {
    for (code, why) in [
        (1, "SOCKS5: general server failure"),
        (2, "SOCKS5: connection not allowed by ruleset"),
        (4, "SOCKS5: host unreachable"),
        (5, "SOCKS5: connection refused"),
        (8, "SOCKS5: address type not supported"),
        (0x42, "SOCKS5: request failed"),
    ] {
        let reply = [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
        let o = run(
            &[
                (C2S, V5_HELLO),
                (S2C, V5_NO_AUTH),
                (C2S, V5_REQ_DOMAIN),
                (S2C, &reply),
                (S2C, b"HTTP/1.1 502 Bad Gateway\r\n\r\n"),
            ],
            usize::MAX,
        );
        assert_eq!(o.status(), Status::NoTunnel(why));
        assert!(o.tunnel_events().is_empty());
        // Everything fed is still there, to be handed on as it came.
        assert_eq!(o.into_events().len(), 5);
    }
}

#[test]
fn socks5_bind_has_two_replies_and_udp_association_no_tunnel() {
    let bind = b"\x05\x02\x00\x01\x0a\x00\x00\x02\x00\x14";
    let mut o = run(
        &[
            (C2S, V5_HELLO),
            (S2C, V5_NO_AUTH),
            (C2S, bind),
            (S2C, V5_OK),
        ],
        usize::MAX,
    );
    assert_eq!(o.status(), Status::Pending);
    o.data(S2C, V5_OK, 5);
    assert_eq!(o.status(), Status::Tunnel);
    let udp = b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00";
    let o = run(
        &[(C2S, V5_HELLO), (S2C, V5_NO_AUTH), (C2S, udp), (S2C, V5_OK)],
        usize::MAX,
    );
    assert_eq!(
        o.status(),
        Status::NoTunnel("SOCKS5: UDP association, no TCP tunnel")
    );
}

#[test]
fn bytes_sent_before_the_reply_and_in_the_replys_segment_belong_to_the_tunnel() {
    // The client sends its request before the reply; the server's first response bytes ride
    // in the reply's segment.
    let mut client = V4_REQ.to_vec();
    client.extend_from_slice(GET);
    let mut server = V4_OK.to_vec();
    server.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    let o = run(&[(C2S, &client), (S2C, &server)], usize::MAX);
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(
        tunnelled(&o),
        (GET.to_vec(), b"HTTP/1.1 200 OK\r\n".to_vec())
    );
    // Times stay with their bytes: the request is the first event, at time 0.
    assert_eq!(
        o.tunnel_events().first(),
        Some(&Event::Data {
            dir: C2S,
            bytes: GET.to_vec(),
            ts: 0
        })
    );
    assert_eq!(o.tunnel_start(3), Some(TunnelStart::Data(b"GET".to_vec())));
}

#[test]
fn the_tunnel_start_is_the_first_speakers_bytes_or_a_gap() {
    let mut o = run(&[(C2S, V4_REQ), (S2C, V4_OK)], usize::MAX);
    assert_eq!(o.tunnel_start(24), None);
    o.data(S2C, b"220 ", 3);
    o.data(S2C, b"smtp.example.org ESMTP ready\r\n", 3);
    o.data(C2S, b"EHLO x\r\n", 4);
    assert_eq!(
        o.tunnel_start(10),
        Some(TunnelStart::Data(b"220 smtp.e".to_vec()))
    );
    let mut o = run(&[(C2S, V4_REQ), (S2C, V4_OK)], usize::MAX);
    o.gap(C2S, 100, 3);
    assert_eq!(o.status(), Status::Tunnel);
    assert_eq!(o.tunnel_start(24), Some(TunnelStart::Gap));
}

#[test]
fn a_tunnel_start_shorter_than_asked_is_growing_until_the_other_side_speaks() {
    let mut o = run(&[(C2S, V4_REQ), (S2C, V4_OK)], usize::MAX);
    o.data(C2S, b"GE", 3);
    assert_eq!(
        o.tunnel_start(24),
        Some(TunnelStart::Growing(b"GE".to_vec()))
    );
    o.data(C2S, b"T /", 4);
    assert_eq!(
        o.tunnel_start(24),
        Some(TunnelStart::Growing(b"GET /".to_vec()))
    );
    o.data(S2C, b"x", 5);
    assert_eq!(
        o.tunnel_start(24),
        Some(TunnelStart::Data(b"GET /".to_vec()))
    );
}

#[test]
fn a_gap_during_the_handshake_ends_it() {
    let mut o = run(&[(C2S, V5_HELLO)], usize::MAX);
    o.gap(S2C, 2, 1);
    assert_eq!(o.status(), Status::NoTunnel("SOCKS: gap in the handshake"));
    assert_eq!(o.into_events().len(), 2);
}

#[test]
fn every_split_gives_the_same_tunnel() {
    let script: [(Direction, &[u8]); 6] = [
        (C2S, V5_HELLO),
        (S2C, V5_NO_AUTH),
        (C2S, V5_REQ_DOMAIN),
        (S2C, V5_OK),
        (C2S, GET),
        (S2C, b"HTTP/1.1 204 No Content\r\n\r\n"),
    ];
    let whole = run(&script, usize::MAX);
    for piece in 1..40 {
        let o = run(&script, piece);
        assert_eq!(o.status(), Status::Tunnel, "pieces of {piece}");
        assert_eq!(target(&o), target(&whole));
        assert_eq!(tunnelled(&o), tunnelled(&whole), "pieces of {piece}");
    }
}

#[test]
fn a_handshake_cut_short_stays_pending() {
    let client: Vec<u8> = [V5_HELLO, V5_REQ_DOMAIN].concat();
    let server: Vec<u8> = [V5_NO_AUTH, V5_OK].concat();
    for cut in 0..server.len() {
        let o = run(&[(C2S, &client), (S2C, &server[..cut])], usize::MAX);
        assert_eq!(o.status(), Status::Pending, "server cut at {cut}");
    }
    for cut in 0..V4_REQ.len() {
        let o = run(&[(C2S, &V4_REQ[..cut]), (S2C, &[])], usize::MAX);
        assert_eq!(o.status(), Status::Pending, "client cut at {cut}");
    }
    let req = b"\x04\x01\x00\x50\x00\x00\x00\x01bob\x00example.org\x00";
    for cut in 0..req.len() {
        let o = run(&[(C2S, &req[..cut])], 1);
        assert_eq!(o.status(), Status::Pending, "SOCKS4a cut at {cut}");
    }
}

#[test]
fn malformed_handshakes_open_no_tunnel() {
    let long_name = [&b"\x04\x01\x00\x50\x0a\x00\x00\x01"[..], &[b'a'; 300][..]].concat();
    for (client, why) in [
        (
            &b"\x04\x03\x00\x50\x0a\x00\x00\x01\x00"[..],
            "SOCKS4: unknown command",
        ),
        (b"\x04\x01\x00\x00\x0a\x00\x00\x01\x00", "SOCKS4: port 0"),
        (
            b"\x04\x01\x00\x50\x00\x00\x00\x00\x00",
            "SOCKS4: no destination",
        ),
        (
            b"\x04\x01\x00\x50\x0a\x00\x00\x01a\x01b\x00",
            "SOCKS4: bad user id",
        ),
        (b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00", "bad host name"),
        (&long_name, "SOCKS4: user id too long"),
        (b"\x05\x00", "SOCKS5: no method offered"),
        (b"\x05\x01\xff", "SOCKS5: method 0xff offered"),
        (b"\x16\x03\x01\x00\xa5", "not SOCKS"),
    ] {
        let o = run(&[(C2S, client)], usize::MAX);
        assert_eq!(o.status(), Status::NoTunnel(why), "{client:?}");
    }
    for (request, why) in [
        (
            &b"\x05\x04\x00\x01\x0a\x00\x00\x01\x00\x50"[..],
            "SOCKS5: unknown command",
        ),
        (
            b"\x05\x01\x00\x02\x0a\x00\x00\x01\x00\x50",
            "SOCKS5: bad address type",
        ),
        (b"\x05\x01\x00\x03\x00\x00\x50", "bad host name"),
        (
            b"\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x00",
            "SOCKS5: port 0",
        ),
        (b"GET / HTTP/1.1\r\n\r\n", "SOCKS5: bad request"),
    ] {
        let o = run(
            &[(C2S, V5_HELLO), (S2C, V5_NO_AUTH), (C2S, request)],
            usize::MAX,
        );
        assert_eq!(o.status(), Status::NoTunnel(why), "{request:?}");
    }
}

#[test]
fn a_handshake_that_never_ends_is_given_up_at_the_bound() {
    let mut o = run(&[(C2S, V4_REQ)], usize::MAX);
    let junk = vec![b'x'; 4096];
    for i in 0..(MAX_HELD / junk.len() + 1) {
        o.data(C2S, &junk, i as u64);
    }
    assert_eq!(o.status(), Status::NoTunnel("SOCKS: handshake too long"));
}

#[test]
fn plausible_starts() {
    for (head, len) in [
        (V4_REQ, 9),
        (
            b"\x04\x01\x00\x50\x00\x00\x00\x01bob\x00example.org\x00",
            27,
        ),
        (V5_HELLO, 3),
        (b"\x05\x02\x00\x02", 4),
        // Greeting and request sent together.
        (b"\x05\x01\x00\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x50", 13),
        // A head cut at 24 bytes of a longer part.
        (b"\x04\x01\x00\x50\x0a\x00\x00\x01a-rather-long-user", 40),
    ] {
        assert!(plausible_start(head, len, false), "{head:?}");
    }
    // A part cut before the end of the monologue (small parts): the message may go on.
    assert!(plausible_start(b"\x04\x01\x00\x50\x0a\x00\x00", 7, true));
    assert!(plausible_start(b"\x05", 1, true));
    for (head, len) in [
        (&b""[..], 0),
        (b"GET / HTTP/1.1\r\n", 16),
        (b"\x16\x03\x01\x02\x00\x01", 517),
        (b"SSH-2.0-OpenSSH_9.6\r\n", 21),
        (b"\x04\x03\x00\x50\x0a\x00\x00\x01\x00", 9),
        (b"\x05\x00", 2),
        // The whole part is there, and it is not a whole message.
        (b"\x04\x01\x00\x50\x0a\x00", 6),
        (b"\x05\x03\x00\x02", 4),
        // Control bytes in a user id.
        (b"\x04\x01\x00\x50\x0a\x00\x00\x01\r\n\x00", 11),
    ] {
        assert!(!plausible_start(head, len, false), "{head:?}");
    }
}

#[test]
fn random_input_never_panics_and_the_tunnel_is_what_follows_the_handshake() {
    let mut rng = Rng(0x50c4_5eed);
    let pieces: [&[u8]; 10] = [
        V4_REQ,
        V4_OK,
        V5_HELLO,
        V5_NO_AUTH,
        V5_REQ_DOMAIN,
        V5_OK,
        b"\x01\x05alice\x06s3cret",
        b"\x01\x00",
        b"\x05\x02",
        GET,
    ];
    let mut tunnels = 0;
    for _ in 0..5000 {
        let mut o = Opening::new();
        let mut fed = (Vec::new(), Vec::new());
        for ts in 0..rng.below(12) {
            let dir = if rng.below(2) == 0 { C2S } else { S2C };
            let mut bytes = Vec::new();
            match rng.below(8) {
                0 => o.gap(dir, rng.below(50), ts),
                1 => bytes = (0..rng.below(40)).map(|_| rng.next_u64() as u8).collect(),
                _ => bytes = pieces[rng.below(pieces.len() as u64) as usize].to_vec(),
            }
            let cut = rng.below(bytes.len() as u64 + 1) as usize;
            o.data(dir, &bytes[..cut], ts);
            o.data(dir, &bytes[cut..], ts);
            if dir == C2S { &mut fed.0 } else { &mut fed.1 }.extend(bytes);
            let head: Vec<u8> = (0..rng.below(30)).map(|_| rng.next_u64() as u8).collect();
            let _ = plausible_start(&head, 30, false);
        }
        let _ = o.tunnel_start(24);
        let _ = target(&o);
        let (c, s) = tunnelled(&o);
        if o.status() == Status::Tunnel
            && o.tunnel_events()
                .iter()
                .all(|e| matches!(e, Event::Data { .. }))
        {
            tunnels += 1;
            let used = |d| usize::try_from(o.handshake().used(d)).unwrap();
            assert_eq!(c, fed.0[used(C2S)..]);
            assert_eq!(s, fed.1[used(S2C)..]);
        } else if o.status() != Status::Tunnel {
            assert!(o.tunnel_events().is_empty());
        }
    }
    assert!(tunnels > 10, "only {tunnels} tunnels opened");
}

/// Every input under `fuzz/corpus/socks/` (seeds, and inputs a fuzzer kept) through the fuzz
/// entry point.
#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/socks");
    let inputs = netan_plugin_api::testing::replay_corpus(&dir, fuzz_opening);
    assert!(inputs >= 5, "{inputs} inputs in {}", dir.display());
}
