//! Tests of the glue: monologue parts in, records, events and releases out.

use super::*;
use abi_stable::std_types::{RSlice, RString};
use netan_plugin_api::testing::{field, Recorder};
use netan_plugin_api::Direction::{ClientToServer as C2S, ServerToClient as S2C};
use netan_plugin_api::{Direction, Endpoint, Gap, Handshake, Monologue, Session, Value};

use crate::socks::tests::{V4_OK, V5_HELLO, V5_NO_AUTH};

fn session(server_port: u16) -> Session {
    Session {
        id: 7,
        key: RString::from("10.0.0.1:40000-10.0.0.2:80"),
        client: Endpoint::new("10.0.0.1".parse().unwrap(), 40000),
        server: Endpoint::new("10.0.0.2".parse().unwrap(), server_port),
        t_first: 1,
        handshake: Handshake::COMPLETE,
    }
}

/// One chunk holding `data`.
fn one(data: &[u8]) -> [RSlice<'_, u8>; 1] {
    [RSlice::from_slice(data)]
}

fn part<'a>(
    s: &'a Session,
    dir: Direction,
    index: u64,
    chunks: &'a [RSlice<'a, u8>],
    gaps: &'a [Gap],
) -> Monologue<'a> {
    Monologue {
        session: s,
        direction: dir,
        index,
        part: 0,
        more: false,
        offset: 0,
        chunks: chunks.into(),
        len: chunks.iter().map(|c| c.len() as u64).sum(),
        gaps: gaps.into(),
        t_start: 1_000 * (index + 1),
        t_end: 1_000 * (index + 1) + 500,
        packets: 1,
    }
}

/// A monologue sent as two parts: `a` (more to come), then `b`.
fn two_parts<'a>(
    s: &'a Session,
    dir: Direction,
    index: u64,
    a: &'a [RSlice<'a, u8>],
    b: &'a [RSlice<'a, u8>],
) -> [Monologue<'a>; 2] {
    let first = Monologue {
        more: true,
        ..part(s, dir, index, a, &[])
    };
    let second = Monologue {
        part: 1,
        offset: first.len,
        ..part(s, dir, index, b, &[])
    };
    [first, second]
}

fn end(s: &Session) -> netan_plugin_api::SessionEnd<'_> {
    netan_plugin_api::SessionEnd {
        session: s,
        reason: netan_plugin_api::EndReason::FIN,
        t_end: 10_000,
        packets: 10,
        bytes_c2s: 0,
        bytes_s2c: 0,
        gaps: 0,
        monologues: 2,
    }
}

/// Feeds `script` as successive monologues of `s` (monologue `i` is the `i`th, one part).
fn play(h: &mut Http, ctx: &mut Context<'_, '_>, s: &Session, script: &[(Direction, &[u8])]) {
    for (i, (d, bytes)) in script.iter().enumerate() {
        h.tcp_monologue(ctx, &part(s, *d, i as u64, &one(bytes), &[]))
            .unwrap();
    }
}

/// Feeds a request (monologue 0) and its response (monologue 1) of session `s`, whole.
fn exchange(h: &mut Http, ctx: &mut Context<'_, '_>, s: &Session, req: &[u8], resp: &[u8]) {
    play(h, ctx, s, &[(C2S, req), (S2C, resp)]);
}

fn http(config: &str) -> Http {
    Http::new(Config { text: config }).unwrap()
}

const REQ: &[u8] = b"GET /a HTTP/1.1\r\nHost: example.org\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

#[test]
fn a_transaction_gives_a_record_and_an_event_with_part_timings() {
    let s = session(80);
    let mut h = http("");
    let mut rec = Recorder::default();
    rec.with_context(|ctx| {
        exchange(&mut h, ctx, &s, REQ, RESP);
        h.tcp_session_end(ctx, &end(&s)).unwrap();
    });
    assert_eq!(rec.records.len(), 1);
    let r = &rec.records[0];
    assert_eq!(field(r, "method").and_then(Value::as_str), Some("GET"));
    assert_eq!(
        field(r, "host").and_then(Value::as_str),
        Some("example.org")
    );
    assert_eq!(field(r, "status").and_then(Value::as_u64), Some(200));
    assert_eq!(
        field(r, "t_request_start_ns").and_then(Value::as_u64),
        Some(1_000)
    );
    assert_eq!(
        field(r, "t_response_end_ns").and_then(Value::as_u64),
        Some(2_500)
    );
    assert_eq!(
        field(r, "latency_ns").and_then(Value::as_u64),
        Some(2_000 - 1_500)
    );
    // Header lists are opt-in.
    assert!(field(r, "request_headers").is_none());
    assert_eq!(rec.events.len(), 1);
    assert_eq!(rec.events[0].name.as_str(), "http_transaction");
}

#[test]
fn header_lists_and_hashes_are_reported_when_asked() {
    let s = session(80);
    let mut h = http("headers = \"all\"\nhash_bodies = true\n");
    let mut rec = Recorder::default();
    rec.with_context(|ctx| {
        exchange(&mut h, ctx, &s, REQ, RESP);
    });
    let r = &rec.records[0];
    assert_eq!(
        field(r, "request_headers"),
        Some(&Value::Json(r#"[["Host","example.org"]]"#.into()))
    );
    assert_eq!(
        field(r, "response_body_sha256").and_then(Value::as_str),
        Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
}

#[test]
fn chunked_trailers_of_requests_and_of_responses_are_both_reported() {
    let s = session(80);
    let mut h = http("");
    let req: &[u8] =
        b"POST /up HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\n\
        3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n";
    let resp: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        2\r\nok\r\n0\r\nX-Done: yes\r\n\r\n";
    let mut rec = Recorder::default();
    rec.with_context(|ctx| {
        exchange(&mut h, ctx, &s, req, resp);
    });
    let r = &rec.records[0];
    assert_eq!(
        field(r, "request_trailers"),
        Some(&Value::Json(r#"[["X-Sum","1"]]"#.into()))
    );
    assert_eq!(
        field(r, "trailers"),
        Some(&Value::Json(r#"[["X-Done","yes"]]"#.into()))
    );
    assert_eq!(
        field(r, "request_body_len").and_then(Value::as_u64),
        Some(3)
    );
}

#[test]
fn a_gap_inside_a_body_reaches_the_parser() {
    let s = session(80);
    let mut h = http("");
    let mut rec = Recorder::default();
    let body = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
    let gaps = [Gap {
        offset: body.len() as u64,
        len: 5,
    }];
    rec.with_context(|ctx| {
        h.tcp_monologue(ctx, &part(&s, Direction::ClientToServer, 0, &one(REQ), &[]))
            .unwrap();
        h.tcp_monologue(
            ctx,
            &part(&s, Direction::ServerToClient, 1, &one(body), &gaps),
        )
        .unwrap();
        h.tcp_session_end(ctx, &end(&s)).unwrap();
    });
    let r = &rec.records[0];
    assert_eq!(field(r, "gap"), Some(&Value::Bool(true)));
    assert_eq!(
        field(r, "response_body_missing").and_then(Value::as_u64),
        Some(5)
    );
    assert_eq!(
        field(r, "response_body_len").and_then(Value::as_u64),
        Some(10)
    );
}

#[test]
fn non_http_on_port_80_is_a_flagged_record() {
    let (_, rec) = converse_on(
        80,
        &[
            (S2C, b"SSH-2.0-OpenSSH_9.6\r\n"),
            (C2S, b"SSH-2.0-client\r\n"),
        ],
    );
    assert_eq!(rec.releases, 0);
    assert_eq!(rec.records.len(), 1);
    assert_eq!(field(&rec.records[0], "not_http"), Some(&Value::Bool(true)));
}

#[test]
fn the_excerpts_of_non_http_take_the_first_bytes_of_later_monologues_too() {
    let (_, rec) = converse_on(
        80,
        &[
            (S2C, b"SSH-2.0-OpenSSH_8\r\n"),
            (C2S, b"SSH-2.0-client\r\n"),
            (S2C, b"\x00\x00\x01"),
            (C2S, b"\x00\x02"),
        ],
    );
    let r = &rec.records[0];
    assert_eq!(field(r, "not_http"), Some(&Value::Bool(true)));
    let excerpt = |name| {
        field(r, name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    // Escaped as the records write them: the later monologues' bytes follow the banners.
    assert_eq!(
        excerpt("response_excerpt"),
        "SSH-2.0-OpenSSH_8\\r\\n\\x00\\x00\\x01"
    );
    assert_eq!(excerpt("request_excerpt"), "SSH-2.0-client\\r\\n\\x00\\x02");
}

#[test]
fn other_traffic_off_the_http_ports_is_released_and_http_there_is_analysed() {
    let mut h = http("");
    let mut rec = Recorder::default();
    rec.with_context(|ctx| play(&mut h, ctx, &session(5000), &[(S2C, b"220 mail ESMTP\r\n")]));
    assert_eq!(rec.releases, 1);
    assert!(rec.records.is_empty());
    let s2 = Session {
        id: 8,
        ..session(5000)
    };
    rec.with_context(|ctx| exchange(&mut h, ctx, &s2, REQ, RESP));
    assert_eq!(rec.releases, 1);
    assert_eq!(rec.records.len(), 1);
}

#[test]
fn a_leading_keepalive_byte_does_not_hide_the_request() {
    let s = session(80);
    let mut h = http("");
    let mut rec = Recorder::default();
    let mut probe_then_request = vec![0u8];
    probe_then_request.extend_from_slice(REQ);
    rec.with_context(|ctx| {
        h.tcp_monologue(
            ctx,
            &part(
                &s,
                Direction::ClientToServer,
                0,
                &one(&probe_then_request),
                &[],
            ),
        )
        .unwrap();
        h.tcp_monologue(
            ctx,
            &part(&s, Direction::ServerToClient, 1, &one(RESP), &[]),
        )
        .unwrap();
    });
    let r = &rec.records[0];
    assert_eq!(field(r, "method").and_then(Value::as_str), Some("GET"));
    assert_eq!(field(r, "not_http"), Some(&Value::Bool(false)));
}

#[test]
fn a_keepalive_byte_in_a_chunk_of_its_own_is_skipped_too() {
    let s = session(80);
    let mut h = http("");
    let mut rec = Recorder::default();
    let chunks = [
        RSlice::from_slice(&b"\0"[..]),
        RSlice::from_slice(&REQ[..10]),
        RSlice::from_slice(&REQ[10..]),
    ];
    rec.with_context(|ctx| {
        h.tcp_monologue(ctx, &part(&s, Direction::ClientToServer, 0, &chunks, &[]))
            .unwrap();
        h.tcp_monologue(
            ctx,
            &part(&s, Direction::ServerToClient, 1, &one(RESP), &[]),
        )
        .unwrap();
    });
    let r = &rec.records[0];
    assert_eq!(field(r, "uri").and_then(Value::as_str), Some("/a"));
}

#[test]
fn bodies_are_extracted_through_the_host() {
    let s = session(80);
    let mut h = http("extract = true\nextract_max = 3\n");
    let mut rec = Recorder {
        artifacts: Some(Vec::new()),
        ..Recorder::default()
    };
    rec.with_context(|ctx| {
        exchange(&mut h, ctx, &s, REQ, RESP);
    });
    let saved = rec.artifacts.as_ref().unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].1, b"hel");
    assert!(saved[0].0.contains("response"));
    assert_eq!(
        field(&rec.records[0], "response_body_file_truncated"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn bad_configurations_are_rejected_with_their_key() {
    let e = Http::new(Config {
        text: "headers = \"some\"",
    })
    .err()
    .unwrap();
    assert_eq!(e.key.as_str(), "headers");
    let e = Http::new(Config {
        text: "decode = true",
    })
    .err()
    .unwrap();
    assert_eq!(e.key.as_str(), "decode");
}

/// Feeds `script` as successive monologues of `s` (one part each), then ends the session
/// unless `end_it` is false.
fn converse(
    h: &mut Http,
    rec: &mut Recorder,
    s: &Session,
    script: &[(Direction, &[u8])],
    end_it: bool,
) {
    rec.with_context(|ctx| {
        play(h, ctx, s, script);
        if end_it {
            h.tcp_session_end(ctx, &end(s)).unwrap();
        }
    });
}

/// Plays `script` on a fresh plugin for a session on `port`, then ends the session.
fn converse_on(port: u16, script: &[(Direction, &[u8])]) -> (Http, Recorder) {
    let (mut h, mut rec) = (http(""), Recorder::default());
    converse(&mut h, &mut rec, &session(port), script, true);
    (h, rec)
}

/// Plays `script` on a fresh plugin for a session on `port` (not ended) and checks that the
/// plugin released the session, keeping nothing and writing nothing.
fn assert_released(port: u16, script: &[(Direction, &[u8])]) {
    let (mut h, mut rec) = (http(""), Recorder::default());
    converse(&mut h, &mut rec, &session(port), script, false);
    assert_eq!(rec.releases, 1);
    assert!(h.sessions.is_empty());
    assert!(rec.records.is_empty());
}

const V5_REQ: &[u8] = b"\x05\x01\x00\x03\x0bexample.org\x00\x50";
const V5_OK: &[u8] = b"\x05\x00\x00\x01\x0a\x00\x00\x02\x04\x38";
const V4_TO_443: &[u8] = b"\x04\x01\x01\xbb\x0a\x00\x00\x03\x00";
const V4_REFUSED: &[u8] = b"\x00\x5b\x00\x00\x00\x00\x00\x00";

#[test]
fn http_in_a_socks5_tunnel_on_any_port_is_analysed_and_says_where_it_led() {
    let script: [(Direction, &[u8]); 6] = [
        (C2S, V5_HELLO),
        (S2C, V5_NO_AUTH),
        (C2S, V5_REQ),
        (S2C, V5_OK),
        (C2S, REQ),
        (S2C, RESP),
    ];
    let (_, rec) = converse_on(8124, &script);
    assert_eq!(rec.releases, 0);
    assert_eq!(rec.records.len(), 1);
    let r = &rec.records[0];
    assert_eq!(
        field(r, "socks").and_then(Value::as_str),
        Some("example.org:80")
    );
    assert_eq!(field(r, "uri").and_then(Value::as_str), Some("/a"));
    assert_eq!(field(r, "status").and_then(Value::as_u64), Some(200));
    assert_eq!(field(r, "not_http"), Some(&Value::Bool(false)));
    // Timed as if the session had started with the request (the fifth monologue).
    assert_eq!(
        field(r, "t_request_start_ns").and_then(Value::as_u64),
        Some(5_000)
    );
    assert_eq!(rec.events.len(), 1);
}

#[test]
fn a_request_sent_with_the_socks4_request_waits_for_the_reply() {
    let client = [V4_TO_443.to_vec(), REQ.to_vec()].concat();
    let script: [(Direction, &[u8]); 3] = [(C2S, &client), (S2C, V4_OK), (S2C, RESP)];
    let (_, rec) = converse_on(1080, &script);
    assert_eq!(rec.records.len(), 1);
    let r = &rec.records[0];
    assert_eq!(
        field(r, "socks").and_then(Value::as_str),
        Some("10.0.0.3:443")
    );
    assert_eq!(field(r, "method").and_then(Value::as_str), Some("GET"));
    assert_eq!(field(r, "status").and_then(Value::as_u64), Some(200));
}

#[test]
fn a_refused_socks_request_off_the_http_ports_is_released_without_records() {
    assert_released(1080, &[(C2S, V4_TO_443), (S2C, V4_REFUSED)]);
}

#[test]
fn a_refused_socks_request_on_an_http_port_is_flagged_not_http_as_before() {
    let (_, rec) = converse_on(8080, &[(C2S, V4_TO_443), (S2C, V4_REFUSED)]);
    assert_eq!(rec.releases, 0);
    assert_eq!(rec.records.len(), 1);
    let r = &rec.records[0];
    assert_eq!(field(r, "not_http"), Some(&Value::Bool(true)));
    assert!(field(r, "socks").is_none());
    assert_eq!(
        field(r, "request_excerpt").and_then(Value::as_str),
        Some("\\x04\\x01\\x01\\xbb\\n\\x00\\x00\\x03\\x00")
    );
}

#[test]
fn a_tunnelled_request_whose_first_part_is_too_short_to_tell_waits_for_the_rest() {
    // Off the HTTP ports, a tunnel is taken only if it starts like HTTP: "GE" alone cannot
    // tell, so the next part decides (records do not depend on where parts are cut).
    let s = session(1080);
    let mut h = http("");
    let mut rec = Recorder::default();
    let (head, rest) = REQ.split_at(2);
    let (c1, c2, c3, c4, c5) = (one(V4_TO_443), one(V4_OK), one(head), one(rest), one(RESP));
    rec.with_context(|ctx| {
        h.tcp_monologue(ctx, &part(&s, C2S, 0, &c1, &[])).unwrap();
        h.tcp_monologue(ctx, &part(&s, S2C, 1, &c2, &[])).unwrap();
        for cut in two_parts(&s, C2S, 2, &c3, &c4) {
            h.tcp_monologue(ctx, &cut).unwrap();
        }
        h.tcp_monologue(ctx, &part(&s, S2C, 3, &c5, &[])).unwrap();
        h.tcp_session_end(ctx, &end(&s)).unwrap();
    });
    assert_eq!(rec.releases, 0);
    assert_eq!(rec.records.len(), 1);
    let r = &rec.records[0];
    assert_eq!(field(r, "uri").and_then(Value::as_str), Some("/a"));
    assert_eq!(
        field(r, "socks").and_then(Value::as_str),
        Some("10.0.0.3:443")
    );
}

#[test]
fn first_bytes_are_http_not_http_or_too_short_to_tell() {
    assert_eq!(looks_like_http(b"GET / HTTP/1.1"), Looks::Http);
    assert_eq!(looks_like_http(b"HTTP/1.1 200 OK"), Looks::Http);
    assert_eq!(looks_like_http(b"\x00GET /"), Looks::Http);
    for short in [&b"G"[..], b"GE", b"PROPFIN", b"HTTP/", b"M-SEARCH"] {
        assert_eq!(looks_like_http(short), Looks::Undecided, "{short:?}");
    }
    for not in [&b""[..], b"GEX", b"get /", b"\x16\x03\x01", b"SSH-2.0"] {
        assert_eq!(looks_like_http(not), Looks::NotHttp, "{not:?}");
    }
}

#[test]
fn a_session_whose_first_part_is_too_short_to_tell_waits_for_the_rest() {
    // Off the HTTP ports a session is analysed only if it starts like HTTP: a first part of
    // "GE" cannot tell, so it is held and the next part decides, with the held bytes' times
    // (records do not depend on where parts are cut).
    let s = session(2375);
    let mut h = http("");
    let mut rec = Recorder::default();
    let (head, rest) = REQ.split_at(2);
    let (c1, c2, c3) = (one(head), one(rest), one(RESP));
    rec.with_context(|ctx| {
        let [first, mut second] = two_parts(&s, C2S, 0, &c1, &c2);
        h.tcp_monologue(ctx, &first).unwrap();
        assert!(h.sessions.contains_key(&s.id), "released too early");
        (second.t_start, second.t_end) = (1_200, 1_300);
        h.tcp_monologue(ctx, &second).unwrap();
        h.tcp_monologue(ctx, &part(&s, S2C, 1, &c3, &[])).unwrap();
        h.tcp_session_end(ctx, &end(&s)).unwrap();
    });
    assert_eq!(rec.releases, 0);
    assert_eq!(rec.records.len(), 1);
    let r = &rec.records[0];
    assert_eq!(field(r, "uri").and_then(Value::as_str), Some("/a"));
    assert_eq!(field(r, "status").and_then(Value::as_u64), Some(200));
    // The request started with the first part's bytes.
    assert_eq!(
        field(r, "t_request_start_ns").and_then(Value::as_u64),
        Some(1_000)
    );
}

#[test]
fn a_session_that_only_ever_says_a_method_prefix_is_released_or_dropped() {
    // "GE", then the other side: the start is complete and is not HTTP.
    assert_released(2375, &[(C2S, b"GE"), (S2C, b"220 ready\r\n")]);
    // "HTTP/" then bytes that are not a status line.
    assert_released(2375, &[(C2S, b"HTTP/"), (C2S, b"2 hello")]);
    // "GE" and the session ends: nothing written, nothing kept.
    let (h, rec) = converse_on(2375, &[(C2S, b"GE")]);
    assert!(rec.records.is_empty());
    assert!(h.sessions.is_empty());
}

#[test]
fn a_tunnel_that_only_ever_says_a_method_prefix_is_released() {
    // "GE" and then the other side: the start is complete and is not HTTP.
    assert_released(
        1080,
        &[(C2S, V4_TO_443), (S2C, V4_OK), (C2S, b"GE"), (S2C, b"\x00")],
    );
}

#[test]
fn tls_in_a_socks_tunnel_is_released_without_records() {
    assert_released(1080, &[(C2S, V4_TO_443), (S2C, V4_OK), (C2S, TLS_HELLO)]);
}

#[test]
fn tls_in_a_socks_tunnel_through_a_proxy_on_an_http_port_is_released_too() {
    // A tunnel is judged by where it leads, not by the proxy's port (unlike a refused
    // request, which stays the proxy's traffic and is flagged `not_http` there).
    assert_released(8080, &[(C2S, V4_TO_443), (S2C, V4_OK), (C2S, TLS_HELLO)]);
}

const TLS_HELLO: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

#[test]
fn a_tunnel_to_an_http_port_is_parsed_whatever_it_carries() {
    let script: [(Direction, &[u8]); 6] = [
        (C2S, V5_HELLO),
        (S2C, V5_NO_AUTH),
        (C2S, V5_REQ),
        (S2C, V5_OK),
        (S2C, b"SSH-2.0-OpenSSH_9.6\r\n"),
        (C2S, b"SSH-2.0-client\r\n"),
    ];
    let (_, rec) = converse_on(1080, &script);
    assert_eq!(rec.releases, 0);
    assert_eq!(rec.records.len(), 1);
    let r = &rec.records[0];
    assert_eq!(field(r, "not_http"), Some(&Value::Bool(true)));
    assert_eq!(
        field(r, "socks").and_then(Value::as_str),
        Some("example.org:80")
    );
}

#[test]
fn a_session_ending_during_the_handshake_gives_no_record_off_the_http_ports() {
    let s = session(1080);
    let mut h = http("");
    let mut rec = Recorder::default();
    converse(&mut h, &mut rec, &s, &[(C2S, V5_HELLO)], true);
    assert!(rec.records.is_empty());
    assert!(h.sessions.is_empty());
    // A tunnel that carried nothing gives none either.
    let s = session(1080);
    converse(
        &mut h,
        &mut rec,
        &s,
        &[(C2S, V4_TO_443), (S2C, V4_OK)],
        true,
    );
    assert!(rec.records.is_empty());
    assert_eq!(rec.releases, 0);
}

#[test]
fn socks_bytes_from_the_server_or_garbage_from_the_client_are_released_at_once() {
    let mut h = http("");
    let mut rec = Recorder::default();
    let s = session(1080);
    converse(&mut h, &mut rec, &s, &[(S2C, V5_HELLO)], false);
    assert_eq!(rec.releases, 1);
    let s = Session {
        id: 9,
        ..session(1080)
    };
    converse(&mut h, &mut rec, &s, &[(C2S, b"\x05\x00\x00")], false);
    assert_eq!(rec.releases, 2);
    assert!(h.sessions.is_empty());
}
