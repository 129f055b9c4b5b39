//! Unit tests of the HTTP parser: conversations fed whole, split at every byte, with gaps, and
//! random input.

use std::io::Write;
use std::sync::Arc;

use netan_plugin_api::Direction;
use sha2::{Digest, Sha256};

use super::*;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// One event of a conversation.
#[derive(Clone, Copy)]
enum Ev<'a> {
    /// Client bytes.
    C(&'a [u8]),
    /// Server bytes.
    S(&'a [u8]),
    /// Client bytes lost.
    CGap(u64),
    /// Server bytes lost.
    SGap(u64),
}

use netan_plugin_api::testing::XorShift as Rng;
use Ev::{CGap, SGap, C, S};

fn config() -> HttpConfig {
    HttpConfig::default()
}

/// Event `i` happens at `ts(i)`.
fn ts(i: usize) -> u64 {
    1_000 * (i as u64 + 1)
}

/// Feeds the events, every data event cut into pieces of at most `piece` bytes, then ends.
fn run_pieces(cfg: HttpConfig, events: &[Ev<'_>], piece: usize) -> Vec<Transaction> {
    let mut s = Session::new(Arc::new(cfg));
    let mut out = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        match *ev {
            C(b) | S(b) => {
                let dir = if matches!(ev, C(_)) { C2S } else { S2C };
                for p in b.chunks(piece.max(1)) {
                    s.data(dir, p, ts(i));
                }
            }
            CGap(n) => s.gap(C2S, n, ts(i)),
            SGap(n) => s.gap(S2C, n, ts(i)),
        }
        out.extend(s.take_transactions());
    }
    s.end(ts(events.len()));
    out.extend(s.take_transactions());
    out
}

fn run_cfg(cfg: HttpConfig, events: &[Ev<'_>]) -> Vec<Transaction> {
    run_pieces(cfg, events, usize::MAX)
}

fn run(events: &[Ev<'_>]) -> Vec<Transaction> {
    run_cfg(config(), events)
}

fn req(t: &Transaction) -> &Request {
    t.request.as_ref().expect("request")
}

fn resp(t: &Transaction) -> &Response {
    t.response.as_ref().expect("response")
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn no_flags(t: &Transaction) {
    let f = &t.flags;
    assert!(!f.gap && !f.truncated && !f.not_http, "{t:#?}");
    assert_eq!(f.parse_error, None, "{t:#?}");
    assert_eq!(f.resync_skipped_bytes, 0, "{t:#?}");
}

const GET1: &[u8] =
    b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n\r\n";
const OK1: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello";

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes()
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn simple_get_200_reports_all_fields() {
    let txs = run(&[C(GET1), S(OK1)]);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    no_flags(t);
    assert_eq!(t.seq, 0);
    let r = req(t);
    assert_eq!(r.method, "GET");
    assert_eq!(r.uri, "/index.html");
    assert_eq!(r.version, "1.1");
    assert_eq!(r.host.as_deref(), Some("example.com"));
    assert_eq!(r.user_agent.as_deref(), Some("test/1.0"));
    assert_eq!(r.headers.len(), 3);
    assert_eq!(r.headers[2], ("Accept".to_owned(), "*/*".to_owned()));
    assert_eq!(r.body, Body::default());
    let p = resp(t);
    assert_eq!(p.version, "1.1");
    assert_eq!(p.status, 200);
    assert_eq!(p.reason, "OK");
    assert_eq!(p.content_type.as_deref(), Some("text/html"));
    assert_eq!(p.content_length, Some(5));
    assert_eq!(p.body.framing, BodyFraming::ContentLength);
    assert_eq!((p.body.wire_len, p.body.len, p.body.missing), (5, 5, 0));
    assert_eq!(p.body.decoded_len, None);
    assert_eq!(p.body.sha256.as_deref(), Some(sha(b"hello").as_str()));
    assert_eq!(p.body.captured, None);
    let tm = t.timing;
    assert_eq!(tm.request_start, Some(ts(0)));
    assert_eq!(tm.request_end, Some(ts(0)));
    assert_eq!(tm.response_start, Some(ts(1)));
    assert_eq!(tm.response_end, Some(ts(1)));
    assert_eq!(tm.latency, Some(ts(1) - ts(0)));
}

#[test]
fn transaction_is_reported_before_end() {
    let mut s = Session::new(Arc::new(config()));
    s.data(C2S, GET1, 1);
    assert_eq!(s.take_transactions().count(), 0);
    s.data(S2C, OK1, 2);
    assert_eq!(s.take_transactions().count(), 1);
    s.end(3);
    assert_eq!(s.take_transactions().count(), 0);
}

#[test]
fn keep_alive_three_transactions_in_order() {
    let (g1, g2, g3) = (get("/1"), get("/2"), get("/3"));
    let (o1, o2, o3) = (ok("a"), ok("bb"), ok("ccc"));
    let txs = run(&[C(&g1), S(&o1), C(&g2), S(&o2), C(&g3), S(&o3)]);
    assert_eq!(txs.len(), 3);
    for (i, t) in txs.iter().enumerate() {
        no_flags(t);
        assert_eq!(t.seq, i as u64);
        assert_eq!(req(t).uri, format!("/{}", i + 1));
        assert_eq!(resp(t).body.len, i as u64 + 1);
        assert_eq!(t.timing.request_start, Some(ts(2 * i)));
        assert_eq!(t.timing.response_end, Some(ts(2 * i + 1)));
    }
}

#[test]
fn pipelined_requests_pair_with_responses_in_order() {
    let reqs = [get("/a"), get("/b"), get("/c")].concat();
    let resps = [ok("1"), ok("22"), ok("333")].concat();
    let txs = run(&[C(&reqs), S(&resps)]);
    assert_eq!(txs.len(), 3);
    for (t, (uri, len)) in txs.iter().zip([("/a", 1), ("/b", 2), ("/c", 3)]) {
        no_flags(t);
        assert_eq!(req(t).uri, uri);
        assert_eq!(resp(t).body.len, len);
    }
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
5;name=value;other\r\nhello\r\n7\r\n, world\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n";

#[test]
fn chunked_body_with_extensions_and_trailers_is_dechunked() {
    let txs = run(&[C(GET1), S(CHUNKED), C(&get("/next")), S(&ok("x"))]);
    assert_eq!(txs.len(), 2);
    let t = &txs[0];
    no_flags(t);
    let b = &resp(t).body;
    assert_eq!(resp(t).transfer_encoding.as_deref(), Some("chunked"));
    assert_eq!(b.framing, BodyFraming::Chunked);
    assert_eq!(b.len, 12);
    let head_len = CHUNKED.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(b.wire_len, (CHUNKED.len() - head_len) as u64);
    assert_eq!(b.chunks, 2);
    assert_eq!(b.sha256.as_deref(), Some(sha(b"hello, world").as_str()));
    assert_eq!(
        b.trailers,
        vec![
            ("X-Checksum".to_owned(), "abc".to_owned()),
            ("X-Other".to_owned(), "1".to_owned())
        ]
    );
    no_flags(&txs[1]);
    assert_eq!(req(&txs[1]).uri, "/next");
}

#[test]
fn chunked_request_body_is_dechunked() {
    let post =
        b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let txs = run(&[C(post), S(&ok("")), C(&get("/2")), S(&ok("z"))]);
    assert_eq!(txs.len(), 2);
    no_flags(&txs[0]);
    let b = &req(&txs[0]).body;
    assert_eq!((b.len, b.chunks, b.trailers.len()), (3, 1, 0));
    assert_eq!(resp(&txs[0]).body.framing, BodyFraming::None);
    assert_eq!(req(&txs[1]).uri, "/2");
}

#[test]
fn head_response_with_content_length_has_no_body() {
    let head = b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n";
    let resp_head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    let txs = run(&[C(head), S(resp_head), C(&get("/2")), S(&ok("ab"))]);
    assert_eq!(txs.len(), 2);
    no_flags(&txs[0]);
    assert_eq!(resp(&txs[0]).content_length, Some(1000));
    assert_eq!(resp(&txs[0]).body.framing, BodyFraming::None);
    assert_eq!(resp(&txs[0]).body.len, 0);
    no_flags(&txs[1]);
    assert_eq!(resp(&txs[1]).body.len, 2);
}

#[test]
fn status_304_and_204_have_no_body() {
    let r304 = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: x\r\n\r\n";
    let r204 = b"HTTP/1.1 204 No Content\r\n\r\n";
    let reqs = [get("/a"), get("/b"), get("/c")].concat();
    let resps = [&r304[..], &r204[..], &ok("end")[..]].concat();
    let txs = run(&[C(&reqs), S(&resps)]);
    assert_eq!(txs.len(), 3);
    assert_eq!(resp(&txs[0]).status, 304);
    assert_eq!(resp(&txs[1]).status, 204);
    for t in &txs[..2] {
        no_flags(t);
        assert_eq!(resp(t).body.framing, BodyFraming::None);
    }
    assert_eq!(resp(&txs[2]).body.len, 3);
}

#[test]
fn continue_100_then_200_is_one_transaction() {
    let head =
        b"POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    let txs = run(&[
        C(head),
        S(b"HTTP/1.1 100 Continue\r\n\r\n"),
        C(b"data"),
        S(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    no_flags(t);
    assert!(t.flags.interim_100);
    assert_eq!(resp(t).status, 201);
    assert_eq!(req(t).body.len, 4);
    assert_eq!(t.timing.request_end, Some(ts(2)));
    assert_eq!(t.timing.response_start, Some(ts(3)));
    assert_eq!(t.timing.latency, Some(ts(3) - ts(2)));
}

#[test]
fn close_delimited_body_ends_at_end() {
    let txs = run(&[
        C(b"GET / HTTP/1.0\r\n\r\n"),
        S(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome "),
        S(b"body bytes"),
    ]);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    no_flags(t);
    assert_eq!(req(t).version, "1.0");
    let b = &resp(t).body;
    assert_eq!(b.framing, BodyFraming::CloseDelimited);
    assert_eq!(b.len, 15);
    assert_eq!(b.sha256.as_deref(), Some(sha(b"some body bytes").as_str()));
    assert_eq!(t.timing.response_end, Some(ts(2)));
}

fn encoded_response(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn gzip_body_is_decoded_when_enabled() {
    let plain = b"hello hello hello hello hello hello hello hello, compressed world".repeat(50);
    let gz = gzip(&plain);
    let r = encoded_response("gzip", &gz);
    let cfg = HttpConfig {
        decode_bodies: true,
        ..config()
    };
    let txs = run_cfg(cfg.clone(), &[C(GET1), S(&r)]);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    no_flags(t);
    assert!(!t.flags.body_decode_error);
    let b = &resp(t).body;
    assert_eq!(resp(t).content_encoding.as_deref(), Some("gzip"));
    assert_eq!(b.len, gz.len() as u64);
    assert_eq!(b.decoded_len, Some(plain.len() as u64));
    assert_eq!(b.sha256.as_deref(), Some(sha(&gz).as_str()));
    // Byte by byte gives the same.
    assert_eq!(run_pieces(cfg, &[C(GET1), S(&r)], 1), txs);
    // Off by default.
    let txs = run(&[C(GET1), S(&r)]);
    assert_eq!(resp(&txs[0]).body.decoded_len, None);
}

#[test]
fn chunked_x_gzip_body_is_decoded() {
    let plain = b"abcdefgh".repeat(1000);
    let gz = gzip(&plain);
    let (a, b) = gz.split_at(gz.len() / 2);
    let mut r =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for part in [a, b] {
        r.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        r.extend_from_slice(part);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    let txs = run_cfg(
        HttpConfig {
            decode_bodies: true,
            ..config()
        },
        &[C(GET1), S(&r)],
    );
    let body = &resp(&txs[0]).body;
    assert_eq!(body.len, gz.len() as u64);
    assert_eq!(body.decoded_len, Some(plain.len() as u64));
    assert!(body.wire_len > body.len);
}

#[test]
fn deflate_zlib_and_raw_bodies_are_decoded() {
    let plain = b"deflate me please, deflate me please".repeat(20);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&plain).unwrap();
    let zlib = z.finish().unwrap();
    let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    d.write_all(&plain).unwrap();
    let raw = d.finish().unwrap();
    for body in [zlib, raw] {
        let r = encoded_response("deflate", &body);
        for piece in [usize::MAX, 1] {
            let cfg = HttpConfig {
                decode_bodies: true,
                ..config()
            };
            let txs = run_pieces(cfg, &[C(GET1), S(&r)], piece);
            assert!(!txs[0].flags.body_decode_error, "{txs:#?}");
            assert_eq!(resp(&txs[0]).body.decoded_len, Some(plain.len() as u64));
        }
    }
}

#[test]
fn corrupt_gzip_body_is_flagged_not_fatal() {
    let mut gz = gzip(&b"some data to compress".repeat(100));
    let n = gz.len();
    gz[n / 2..n - 8].iter_mut().for_each(|b| *b ^= 0x5a);
    let r = encoded_response("gzip", &gz);
    let txs = run_cfg(
        HttpConfig {
            decode_bodies: true,
            ..config()
        },
        &[C(GET1), S(&r), C(&get("/2")), S(&ok("fine"))],
    );
    assert_eq!(txs.len(), 2);
    assert!(txs[0].flags.body_decode_error);
    assert!(resp(&txs[0]).body.decode_error.is_some());
    assert_eq!(resp(&txs[0]).body.len, gz.len() as u64);
    no_flags(&txs[1]);
    assert!(!txs[1].flags.body_decode_error);
}

#[test]
fn truncated_gzip_body_is_a_decode_error() {
    let gz = gzip(&b"0123456789".repeat(100));
    let cut = &gz[..gz.len() - 10];
    let r = encoded_response("gzip", cut);
    let txs = run_cfg(
        HttpConfig {
            decode_bodies: true,
            ..config()
        },
        &[C(GET1), S(&r)],
    );
    assert!(txs[0].flags.body_decode_error);
}

#[test]
fn decoded_size_is_capped() {
    let plain = vec![b'a'; 1 << 20];
    let r = encoded_response("gzip", &gzip(&plain));
    let cfg = HttpConfig {
        decode_bodies: true,
        max_decoded: 100_000,
        ..config()
    };
    let txs = run_cfg(cfg, &[C(GET1), S(&r)]);
    let b = &resp(&txs[0]).body;
    assert!(b.decode_capped);
    assert_eq!(b.decoded_len, Some(100_000));
    assert!(!txs[0].flags.body_decode_error);
}

#[test]
fn body_capture_keeps_up_to_cap() {
    let cfg = HttpConfig {
        capture_bodies: Some(3),
        ..config()
    };
    let post = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
    let txs = run_cfg(cfg, &[C(post), S(OK1)]);
    let t = &txs[0];
    assert_eq!(req(t).body.captured.as_deref(), Some(&b"ab"[..]));
    assert!(!req(t).body.capture_truncated);
    assert_eq!(resp(t).body.captured.as_deref(), Some(&b"hel"[..]));
    assert!(resp(t).body.capture_truncated);
}

#[test]
fn header_capture_names_selects_headers() {
    let cfg = HttpConfig {
        headers: HeaderCapture::Names(vec!["accept".to_owned()]),
        ..config()
    };
    let txs = run_cfg(cfg, &[C(GET1), S(OK1)]);
    let r = req(&txs[0]);
    assert_eq!(r.headers, vec![("Accept".to_owned(), "*/*".to_owned())]);
    assert_eq!(r.host.as_deref(), Some("example.com"));
    assert!(resp(&txs[0]).headers.is_empty());
    let txs = run_cfg(
        HttpConfig {
            headers: HeaderCapture::None,
            ..config()
        },
        &[C(GET1), S(OK1)],
    );
    assert!(req(&txs[0]).headers.is_empty());
}

#[test]
fn request_without_response_is_reported_at_end() {
    let mut s = Session::new(Arc::new(config()));
    s.data(C2S, GET1, 5);
    s.data(C2S, &get("/second"), 6);
    assert_eq!(s.take_transactions().count(), 0);
    s.end(7);
    let txs: Vec<_> = s.take_transactions().collect();
    assert_eq!(txs.len(), 2);
    for t in &txs {
        no_flags(t);
        assert!(t.response.is_none());
        assert_eq!(t.timing.latency, None);
    }
    assert_eq!(req(&txs[1]).uri, "/second");
}

#[test]
fn truncated_body_is_flagged() {
    let txs = run(&[
        C(GET1),
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"),
    ]);
    assert_eq!(txs.len(), 1);
    assert!(txs[0].flags.truncated);
    assert_eq!(resp(&txs[0]).body.len, 9);
    assert_eq!(
        resp(&txs[0]).body.sha256.as_deref(),
        Some(sha(b"only this").as_str())
    );
}

#[test]
fn truncated_head_is_flagged_with_partial_fields() {
    let txs = run(&[C(b"GET /partial HTTP/1.1\r\nHost: h\r\n")]);
    assert_eq!(txs.len(), 1);
    assert!(txs[0].flags.truncated);
    assert_eq!(req(&txs[0]).method, "GET");
    assert_eq!(req(&txs[0]).uri, "/partial");
}

#[test]
fn gap_inside_content_length_body_counts_missing_bytes() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    let txs = run(&[
        C(GET1),
        S(head),
        S(b"abc"),
        SGap(4),
        S(b"def"),
        C(&get("/2")),
        S(&ok("ok")),
    ]);
    assert_eq!(txs.len(), 2);
    let t = &txs[0];
    assert!(t.flags.gap);
    assert!(!t.flags.truncated);
    assert_eq!(t.flags.parse_error, None);
    let b = &resp(t).body;
    assert_eq!((b.wire_len, b.len, b.missing), (10, 10, 4));
    assert_eq!(b.sha256, None);
    no_flags(&txs[1]);
    assert_eq!(resp(&txs[1]).body.len, 2);
}

#[test]
fn gap_inside_chunk_data_is_counted() {
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc";
    let txs = run(&[
        C(GET1),
        S(head),
        SGap(5),
        S(b"de\r\n0\r\n\r\n"),
        C(&get("/2")),
        S(&ok("ok")),
    ]);
    assert_eq!(txs.len(), 2);
    assert!(txs[0].flags.gap);
    assert_eq!(txs[0].flags.parse_error, None);
    assert_eq!(
        (resp(&txs[0]).body.len, resp(&txs[0]).body.missing),
        (10, 5)
    );
    no_flags(&txs[1]);
}

#[test]
fn gap_in_chunk_size_line_loses_sync_then_resyncs() {
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1";
    let txs = run(&[
        C(GET1),
        S(head),
        SGap(20),
        S(b"zz\r\n0\r\n\r\n"),
        C(&get("/2")),
        S(&ok("ok")),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert!(txs[0].flags.gap);
    assert!(txs[0]
        .flags
        .parse_error
        .as_deref()
        .unwrap()
        .contains("gap in chunked framing"));
    assert_eq!(req(&txs[1]).uri, "/2");
    assert_eq!(resp(&txs[1]).status, 200);
    assert_eq!(resp(&txs[1]).body.len, 2);
    assert!(txs[1].flags.resync_skipped_bytes > 0);
}

#[test]
fn gap_inside_request_head_resyncs_on_next_request() {
    let txs = run(&[
        C(b"GET /lost HTTP/1.1\r\nHost: a"),
        CGap(30),
        C(b"er: x\r\n\r\n"),
        S(&ok("first")),
        C(&get("/found")),
        S(&ok("second")),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    let t = &txs[0];
    assert!(t.flags.gap);
    assert!(t
        .flags
        .parse_error
        .as_deref()
        .unwrap()
        .contains("gap in head"));
    assert_eq!(req(t).uri, "/lost");
    assert_eq!(resp(t).body.len, 5);
    let t = &txs[1];
    assert_eq!(req(t).uri, "/found");
    assert_eq!(resp(t).body.len, 6);
    assert_eq!(t.flags.resync_skipped_bytes, 9);
    assert_eq!(t.request_excerpt.as_deref(), Some("er: x\\r\\n\\r\\n"));
}

#[test]
fn gap_inside_response_head_resyncs_on_next_response() {
    let txs = run(&[
        C(&[get("/1"), get("/2")].concat()),
        S(b"HTTP/1.1 200 OK\r\nContent-Le"),
        SGap(10),
        S(b"\r\n\r\nbody-of-unknown-length"),
        S(&ok("two")),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert!(txs[0].flags.gap);
    assert_eq!(resp(&txs[0]).status, 200);
    assert_eq!(resp(&txs[1]).body.len, 3);
    assert!(txs[1].flags.resync_skipped_bytes > 0);
}

#[test]
fn gap_at_stream_start_then_midstream_body_resyncs() {
    let txs = run(&[SGap(100), S(b"tail of a body\r\n"), S(&ok("x"))]);
    assert_eq!(txs.len(), 1, "{txs:#?}");
    assert!(txs[0].request.is_none());
    assert_eq!(resp(&txs[0]).status, 200);
    assert_eq!(txs[0].flags.resync_skipped_bytes, 16);
    assert!(!txs[0].flags.not_http);
}

#[test]
fn ssh_banner_is_not_http() {
    let txs = run(&[
        C(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n"),
        S(b"SSH-2.0-OpenSSH_8.2\r\n\x00\x00\x01\x14\x0a\x14"),
        C(b"\x00\x00\x05\xdc\x06\x14binary"),
    ]);
    assert_eq!(txs.len(), 1, "{txs:#?}");
    let t = &txs[0];
    assert!(t.flags.not_http);
    assert!(t.request.is_none() && t.response.is_none());
    // The excerpt is the stream's first `excerpt_len` bytes, whatever the pieces.
    assert_eq!(
        t.request_excerpt.as_deref(),
        Some("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\\r\\n\\x00\\x00\\x05\\xdc\\x06\\x14binary")
    );
    assert!(t
        .response_excerpt
        .as_deref()
        .unwrap()
        .starts_with("SSH-2.0-OpenSSH_8.2\\r\\n\\x00"));
}

#[test]
fn server_first_protocol_is_one_not_http_record() {
    let txs = run(&[
        S(b"220 mail.example.com ESMTP\r\n"),
        C(b"EHLO me\r\n"),
        S(b"250 ok\r\n"),
    ]);
    assert_eq!(txs.len(), 1, "{txs:#?}");
    assert!(txs[0].flags.not_http);
    assert_eq!(txs[0].request_excerpt.as_deref(), Some("EHLO me\\r\\n"));
    assert_eq!(
        txs[0].response_excerpt.as_deref(),
        Some("220 mail.example.com ESMTP\\r\\n250 ok\\r\\n")
    );
}

#[test]
fn tls_client_hello_is_not_http() {
    let hello =
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x9b\x00\x00\x00GET / HTTP/1.1\r\n\r\n";
    let txs = run(&[C(hello), S(b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03")]);
    assert_eq!(txs.len(), 1, "{txs:#?}");
    assert!(txs[0].flags.not_http);
    assert!(txs[0]
        .request_excerpt
        .as_deref()
        .unwrap()
        .starts_with("\\x16\\x03\\x01"));
    assert!(txs[0].response_excerpt.is_some());
}

#[test]
fn garbage_request_answered_with_400_is_paired() {
    let txs = run(&[
        C(b"\x00\x01\x02garbage"),
        S(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(txs.len(), 1);
    assert!(txs[0].flags.not_http);
    assert!(txs[0].request.is_none());
    assert_eq!(resp(&txs[0]).status, 400);
}

#[test]
fn http2_preface_is_not_http() {
    let txs = run(&[C(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04")]);
    assert_eq!(txs.len(), 1);
    assert!(txs[0].flags.not_http);
}

#[test]
fn response_first_midstream_is_reported_without_request() {
    let txs = run(&[
        S(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop"),
        C(GET1),
        S(OK1),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert!(txs[0].request.is_none());
    assert_eq!(resp(&txs[0]).status, 404);
    no_flags(&txs[0]);
    assert_eq!(req(&txs[1]).uri, "/index.html");
    assert_eq!(resp(&txs[1]).status, 200);
}

#[test]
fn requests_in_server_stream_swap_roles() {
    let mut s = Session::new(Arc::new(config()));
    s.data(S2C, GET1, 1);
    s.data(C2S, OK1, 2);
    s.end(3);
    assert!(s.roles_swapped());
    let txs: Vec<_> = s.take_transactions().collect();
    assert_eq!(txs.len(), 1);
    assert!(txs[0].flags.roles_swapped);
    assert_eq!(req(&txs[0]).uri, "/index.html");
    assert_eq!(resp(&txs[0]).status, 200);
}

#[test]
fn connect_200_then_opaque_bytes_is_a_tunnel() {
    let connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let mut s = Session::new(Arc::new(config()));
    s.data(C2S, connect, 1);
    s.data(C2S, b"\x16\x03\x01\x00\xa5early tls", 2);
    s.data(
        S2C,
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03",
        3,
    );
    assert!(s.is_done());
    s.data(C2S, b"\x17\x03\x03 more tls", 4);
    s.data(S2C, b"HTTP/1.1 200 OK\r\n\r\n", 5);
    s.end(6);
    let txs: Vec<_> = s.take_transactions().collect();
    assert_eq!(txs.len(), 1, "{txs:#?}");
    let t = &txs[0];
    assert!(t.flags.tunnel && !t.flags.upgraded);
    assert_eq!(req(t).method, "CONNECT");
    assert_eq!(req(t).uri, "example.com:443");
    assert_eq!(resp(t).status, 200);
    assert_eq!(t.flags.parse_error, None);
    assert_eq!(t.flags.resync_skipped_bytes, 0);
}

#[test]
fn connect_refused_resumes_parsing_client_bytes() {
    let connect = b"CONNECT example.com:443 HTTP/1.1\r\n\r\n";
    let txs = run(&[
        C(connect),
        C(&get("/after")),
        S(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"),
        S(&ok("x")),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert_eq!(resp(&txs[0]).status, 407);
    assert!(!txs[0].flags.tunnel);
    assert_eq!(req(&txs[1]).uri, "/after");
    assert_eq!(resp(&txs[1]).status, 200);
}

#[test]
fn connect_refused_with_pipelined_responses_pairs_in_order() {
    let connect = b"CONNECT example.com:443 HTTP/1.1\r\n\r\n";
    let resps = [
        &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"[..],
        &ok("one")[..],
        &ok("two")[..],
    ]
    .concat();
    let txs = run(&[C(connect), C(&[get("/1"), get("/2")].concat()), S(&resps)]);
    assert_eq!(txs.len(), 3, "{txs:#?}");
    assert_eq!(resp(&txs[0]).status, 403);
    assert_eq!(
        (req(&txs[1]).uri.as_str(), resp(&txs[1]).body.len),
        ("/1", 3)
    );
    assert_eq!(
        (req(&txs[2]).uri.as_str(), resp(&txs[2]).body.len),
        ("/2", 3)
    );
    assert_eq!(txs[1].timing.request_start, Some(ts(1)));
}

#[test]
fn upgrade_101_then_websocket_bytes_stops_parsing() {
    let up = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let txs = run(&[
        C(up),
        S(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"),
        C(b"\x81\x85\x00\x00\x00\x00hello"),
        S(b"\x88\x00"),
    ]);
    assert_eq!(txs.len(), 1, "{txs:#?}");
    let t = &txs[0];
    assert!(t.flags.upgraded && !t.flags.tunnel);
    assert!(!t.flags.interim_100);
    assert_eq!(resp(t).status, 101);
    assert_eq!(t.flags.parse_error, None);
}

#[test]
fn http09_simple_request_and_response() {
    let txs = run(&[C(b"GET /old.html\r\n"), S(b"<html>old</html>")]);
    assert_eq!(txs.len(), 1, "{txs:#?}");
    let t = &txs[0];
    assert_eq!(req(t).version, "0.9");
    assert_eq!(req(t).uri, "/old.html");
    assert_eq!(resp(t).version, "0.9");
    assert_eq!(resp(t).status, 0);
    assert_eq!(resp(t).body.len, 16);
    assert!(!t.flags.not_http);
}

#[test]
fn junk_between_messages_is_skipped_and_counted() {
    let junk = b"\x00\x01junk junk\r\n";
    let txs = run(&[
        C(GET1),
        S(OK1),
        C(&[&junk[..], &get("/2")[..]].concat()),
        S(&ok("b")),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    no_flags(&txs[0]);
    assert_eq!(req(&txs[1]).uri, "/2");
    assert_eq!(txs[1].flags.resync_skipped_bytes, junk.len() as u64);
    assert!(txs[1]
        .request_excerpt
        .as_deref()
        .unwrap()
        .starts_with("\\x00\\x01junk"));
}

#[test]
fn junk_between_responses_is_skipped() {
    let txs = run(&[
        C(&[get("/1"), get("/2")].concat()),
        S(&[&ok("a")[..], b"xx", &ok("b")[..]].concat()),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert_eq!(resp(&txs[1]).body.len, 1);
    assert_eq!(txs[1].flags.resync_skipped_bytes, 2);
}

#[test]
fn trailing_junk_is_reported_at_end() {
    let txs = run(&[C(GET1), S(&[OK1, b"\x00trailing"].concat())]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    no_flags(&txs[0]);
    assert_eq!(txs[1].flags.resync_skipped_bytes, 9);
    assert!(txs[1].flags.parse_error.is_some());
}

#[test]
fn head_too_large_is_flagged_and_resyncs() {
    let cfg = HttpConfig {
        max_head: 200,
        ..config()
    };
    let big = format!("GET /big HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(500));
    let events = [
        C(big.as_bytes()),
        S(b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n"),
        C(&get("/small")),
        S(&ok("x")),
    ];
    for piece in [usize::MAX, 1, 7] {
        let txs = run_pieces(cfg.clone(), &events, piece);
        assert_eq!(txs.len(), 2, "{txs:#?}");
        assert!(txs[0].flags.head_too_large);
        assert_eq!(req(&txs[0]).uri, "/big");
        assert_eq!(resp(&txs[0]).status, 431);
        assert_eq!(req(&txs[1]).uri, "/small");
        assert_eq!(resp(&txs[1]).status, 200);
    }
}

#[test]
fn invalid_request_content_length_is_a_parse_error() {
    let bad = b"POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n";
    let txs = run(&[C(bad), S(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")]);
    assert_eq!(txs.len(), 1);
    assert!(txs[0]
        .flags
        .parse_error
        .as_deref()
        .unwrap()
        .contains("content-length"));
    assert_eq!(resp(&txs[0]).status, 400);
}

#[test]
fn bare_lf_line_endings_are_accepted() {
    let txs = run(&[
        C(b"GET /lf HTTP/1.1\nHost: h\n\n"),
        S(b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n"),
    ]);
    assert_eq!(txs.len(), 1);
    no_flags(&txs[0]);
    assert_eq!(req(&txs[0]).host.as_deref(), Some("h"));
    assert_eq!(resp(&txs[0]).body.len, 2);
}

#[test]
fn non_utf8_uri_and_header_are_kept_lossy() {
    let txs = run(&[C(b"GET /caf\xe9 HTTP/1.1\r\nHost: h\xff\r\n\r\n"), S(OK1)]);
    assert_eq!(txs.len(), 1, "{txs:#?}");
    no_flags(&txs[0]);
    assert_eq!(req(&txs[0]).uri, "/caf\u{fffd}");
    assert_eq!(req(&txs[0]).host.as_deref(), Some("h\u{fffd}"));
}

#[test]
fn leading_blank_lines_are_ignored() {
    let txs = run(&[C(b"\r\n\r\n"), C(GET1), S(OK1)]);
    assert_eq!(txs.len(), 1);
    no_flags(&txs[0]);
}

#[test]
fn many_headers_are_parsed_beyond_the_stack_array() {
    let mut h = String::from("GET / HTTP/1.1\r\n");
    for i in 0..200 {
        h.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    h.push_str("\r\n");
    let txs = run(&[C(h.as_bytes()), S(OK1)]);
    assert_eq!(req(&txs[0]).headers.len(), 200);
    let cfg = HttpConfig {
        max_headers: 100,
        ..config()
    };
    let txs = run_cfg(cfg, &[C(h.as_bytes()), S(OK1)]);
    assert!(txs[0]
        .flags
        .parse_error
        .as_deref()
        .unwrap()
        .contains("too many headers"));
}

#[test]
fn too_many_pending_requests_are_reported_early() {
    let cfg = HttpConfig {
        max_pending: 2,
        ..config()
    };
    let mut s = Session::new(Arc::new(cfg));
    for i in 0..5 {
        s.data(C2S, &get(&format!("/{i}")), i);
    }
    assert_eq!(s.take_transactions().count(), 3);
    s.end(10);
    assert_eq!(s.take_transactions().count(), 2);
}

/// Conversations that must parse the same whatever the split.
fn corpus() -> Vec<Vec<(bool, Vec<u8>)>> {
    let gz = gzip(b"compressible compressible compressible");
    vec![
        vec![(true, GET1.to_vec()), (false, OK1.to_vec())],
        vec![
            (true, [get("/a"), get("/b"), get("/c")].concat()),
            (false, [ok("1"), CHUNKED.to_vec(), ok("333")].concat()),
        ],
        vec![
            (true, b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".to_vec()),
            (false, b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
            (true, b"abc".to_vec()),
            (false, encoded_response("gzip", &gz)),
        ],
        vec![
            (true, b"HEAD / HTTP/1.1\r\n\r\nGET /2 HTTP/1.0\r\n\r\n".to_vec()),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.0 200 OK\r\n\r\nclose delimited".to_vec()),
        ],
        vec![(true, b"GET /old\r\n".to_vec()), (false, b"raw 0.9 body".to_vec())],
        vec![(true, b"SSH-2.0-x\r\n".to_vec()), (false, b"SSH-2.0-y\r\n".to_vec())],
        vec![
            (true, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n".to_vec()),
            (false, b"HTTP/1.1 101 Switching\r\n\r\n\x81\x00".to_vec()),
        ],
        vec![
            (true, b"POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1;a=b\r\nx\r\n0\r\nT: v\r\n\r\n".to_vec()),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()),
        ],
        vec![
            (true, [GET1, b"\x00junk\r\n".as_slice(), get("/r").as_slice()].concat()),
            (false, [OK1, b"xx".as_slice(), ok("y").as_slice()].concat()),
        ],
    ]
}

#[test]
fn byte_by_byte_split_gives_same_transactions_as_one_piece() {
    let cfg = HttpConfig {
        decode_bodies: true,
        capture_bodies: Some(16),
        ..config()
    };
    for conv in corpus() {
        let events: Vec<Ev<'_>> = conv
            .iter()
            .map(|(c, b)| if *c { C(b) } else { S(b) })
            .collect();
        let whole = run_pieces(cfg.clone(), &events, usize::MAX);
        assert!(!whole.is_empty());
        for piece in [1, 2, 3, 5, 13] {
            assert_eq!(
                run_pieces(cfg.clone(), &events, piece),
                whole,
                "piece {piece}"
            );
        }
    }
}

#[test]
fn every_split_point_gives_same_transactions() {
    for conv in corpus() {
        let events: Vec<Ev<'_>> = conv
            .iter()
            .map(|(c, b)| if *c { C(b) } else { S(b) })
            .collect();
        let whole = run_pieces(config(), &events, usize::MAX);
        for (i, (c, bytes)) in conv.iter().enumerate() {
            for cut in 1..bytes.len() {
                let mut s = Session::new(Arc::new(config()));
                let mut out = Vec::new();
                for (j, (c2, b2)) in conv.iter().enumerate() {
                    let dir = if *c2 { C2S } else { S2C };
                    if i == j {
                        s.data(dir, &b2[..cut], ts(j));
                        s.data(dir, &b2[cut..], ts(j));
                    } else {
                        s.data(dir, b2, ts(j));
                    }
                    out.extend(s.take_transactions());
                }
                s.end(ts(conv.len()));
                out.extend(s.take_transactions());
                assert_eq!(out, whole, "event {i} ({c}) cut at {cut}");
            }
        }
    }
}

#[test]
fn random_bytes_and_splits_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let alphabet: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"CONNECT ",
        b"/ ",
        b"HTTP/1.1",
        b"HTTP/1.0 ",
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b"200 OK",
        b"100 Continue",
        b"101 ",
        b"204 ",
        b"304 ",
        b"Content-Length: ",
        b"Transfer-Encoding: chunked",
        b"Content-Encoding: gzip",
        b"Content-Encoding: deflate",
        b"5",
        b"0",
        b"ffffffffffffffffff",
        b";ext=1",
        b": ",
        b"\x00",
        b"\xff",
        b"abc",
        b"1f",
        b"Upgrade: websocket",
        b"\x1f\x8b\x08\x00",
    ];
    for round in 0..3000 {
        let cfg = HttpConfig {
            decode_bodies: round % 2 == 0,
            capture_bodies: (round % 3 == 0).then_some(8),
            max_head: if round % 5 == 0 { 40 } else { 65536 },
            max_pending: if round % 7 == 0 { 2 } else { 1024 },
            ..config()
        };
        let capture = cfg.capture_bodies.is_some();
        let mut s = Session::new(Arc::new(cfg));
        for _ in 0..rng.below(40) {
            let dir = if rng.below(2) == 0 { C2S } else { S2C };
            match rng.below(10) {
                0 => s.gap(dir, rng.below(100), rng.next_u64()),
                1 => {
                    let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next_u64() as u8).collect();
                    s.data(dir, &bytes, rng.next_u64());
                }
                _ => {
                    let mut bytes = Vec::new();
                    for _ in 0..rng.below(12) {
                        bytes
                            .extend_from_slice(alphabet[rng.below(alphabet.len() as u64) as usize]);
                    }
                    let mut rest = &bytes[..];
                    while !rest.is_empty() {
                        let n = (rng.below(rest.len() as u64) + 1) as usize;
                        s.data(dir, &rest[..n], rng.next_u64());
                        rest = &rest[n..];
                    }
                }
            }
            if rng.below(4) == 0 {
                s.take_transactions().for_each(drop);
            }
        }
        s.end(rng.next_u64());
        let txs: Vec<_> = s.take_transactions().collect();
        for (i, t) in txs.iter().enumerate() {
            if i > 0 {
                assert!(t.seq > txs[i - 1].seq, "{txs:#?}");
            }
            let bodies = [
                t.request.as_ref().map(|r| &r.body),
                t.response.as_ref().map(|r| &r.body),
            ];
            for b in bodies.into_iter().flatten() {
                assert!(b.wire_len >= b.len && b.len >= b.missing, "{b:#?}");
                assert!(b.captured.as_ref().is_none_or(|c| c.len() <= 8));
                assert_eq!(
                    b.captured.is_some(),
                    capture && b.framing != BodyFraming::None
                );
            }
        }
        // Calls after the end are ignored.
        s.data(C2S, GET1, 0);
        s.gap(S2C, 5, 0);
        s.end(0);
        assert_eq!(s.take_transactions().count(), 0);
    }
}

/// Rounds of the mutation test (`NETAN_HTTP_MUTATION_ROUNDS` overrides, for long runs).
fn mutation_rounds() -> u64 {
    std::env::var("NETAN_HTTP_MUTATION_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

#[test]
fn mutated_conversations_with_gaps_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let corpus = corpus();
    for round in 0..mutation_rounds() {
        let conv = &corpus[rng.below(corpus.len() as u64) as usize];
        let cfg = HttpConfig {
            decode_bodies: round % 2 == 0,
            capture_bodies: (round % 3 == 0).then_some(4),
            max_head: [30, 100, 65536][rng.below(3) as usize],
            max_pending: [1, 2, 1024][rng.below(3) as usize],
            excerpt_len: [0, 5, 64][rng.below(3) as usize],
            ..config()
        };
        let mut s = Session::new(Arc::new(cfg));
        for (client, bytes) in conv {
            let mut bytes = bytes.clone();
            for _ in 0..rng.below(4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len() as u64) as usize;
                match rng.below(3) {
                    0 => bytes[at] = rng.next_u64() as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, b"\r\n :;0HTTP/1.1 "[rng.below(15) as usize]),
                }
            }
            let dir = if *client ^ (rng.below(20) == 0) {
                C2S
            } else {
                S2C
            };
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = (rng.below(rest.len() as u64) + 1) as usize;
                if rng.below(8) == 0 {
                    s.gap(dir, n as u64, 1);
                } else {
                    s.data(dir, &rest[..n], 1);
                }
                rest = &rest[n..];
            }
        }
        s.end(2);
        s.take_transactions().for_each(drop);
    }
}

#[test]
fn fuzz_parse_handles_assorted_inputs() {
    fuzz_parse(&[]);
    fuzz_parse(&[1, 2, 3]);
    let mut rng = Rng(77);
    for _ in 0..500 {
        let mut data: Vec<u8> = (0..8).map(|_| rng.next_u64() as u8).collect();
        let parts: [&[u8]; 5] = [
            GET1,
            OK1,
            CHUNKED,
            b"\x00\xff",
            b"HTTP/1.1 100 Continue\r\n\r\n",
        ];
        for _ in 0..rng.below(20) {
            data.extend_from_slice(parts[rng.below(5) as usize]);
        }
        fuzz_parse(&data);
    }
}

#[test]
fn connect_with_lost_early_bytes_reports_no_junk() {
    let cfg = HttpConfig {
        max_head: 64,
        ..config()
    };
    let txs = run_cfg(
        cfg,
        &[
            C(b"CONNECT h:443 HTTP/1.1\r\n\r\n"),
            C(&[0x16u8; 100]),
            S(b"HTTP/1.1 200 OK\r\n\r\n"),
        ],
    );
    assert_eq!(txs.len(), 1, "{txs:#?}");
    assert!(txs[0].flags.tunnel);
    assert_eq!(txs[0].flags.resync_skipped_bytes, 0);
}

#[test]
fn few_max_headers_is_enforced_below_the_stack_array() {
    let cfg = HttpConfig {
        max_headers: 2,
        ..config()
    };
    let txs = run_cfg(cfg, &[C(GET1), S(OK1)]);
    assert!(txs[0]
        .flags
        .parse_error
        .as_deref()
        .unwrap()
        .contains("too many headers"));
}

#[test]
fn gaps_give_same_transactions_whatever_the_split() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc";
    let convs: Vec<Vec<Ev<'_>>> = vec![
        vec![C(GET1), S(head), SGap(4), S(b"def"), C(GET1), S(OK1)],
        vec![
            C(GET1),
            S(chunked),
            SGap(5),
            S(b"de\r\n0\r\n\r\n"),
            C(GET1),
            S(OK1),
        ],
        vec![
            C(b"GET /x HTTP/1.1\r\nHo"),
            CGap(9),
            C(b"\r\n\r\n"),
            C(GET1),
            S(OK1),
            S(OK1),
        ],
        vec![SGap(7), S(b"junk\r\nmore junk"), S(OK1), C(GET1)],
    ];
    for events in convs {
        let whole = run_pieces(config(), &events, usize::MAX);
        for piece in [1, 2, 7] {
            assert_eq!(run_pieces(config(), &events, piece), whole, "piece {piece}");
        }
    }
}

#[test]
fn early_response_waits_for_the_end_of_the_request() {
    let mut s = Session::new(Arc::new(config()));
    s.data(
        C2S,
        b"POST /big HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc",
        1,
    );
    s.data(
        S2C,
        b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n",
        2,
    );
    assert_eq!(s.take_transactions().count(), 0);
    s.data(C2S, b"def", 3);
    let txs: Vec<_> = s.take_transactions().collect();
    assert_eq!(txs.len(), 1);
    no_flags(&txs[0]);
    assert_eq!(req(&txs[0]).body.len, 6);
    assert_eq!(resp(&txs[0]).status, 413);
    assert_eq!(txs[0].timing.request_end, Some(3));
    assert_eq!(txs[0].timing.latency, None);
}

#[test]
fn request_like_junk_line_is_skipped_when_resynchronising() {
    let txs = run(&[
        C(GET1),
        S(OK1),
        C(b"\x01\x02\nTHE END IS NEAR\r\n\r\nGET /real HTTP/1.1\r\n\r\n"),
        S(&ok("r")),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert_eq!(req(&txs[1]).uri, "/real");
    assert_eq!(txs[1].flags.resync_skipped_bytes, 22);
    assert_eq!(txs[1].flags.parse_error, None);
}

#[test]
fn response_without_length_after_keep_alive_reads_until_close() {
    let txs = run(&[
        C(&[get("/1"), get("/2")].concat()),
        S(&[&ok("a")[..], b"HTTP/1.1 200 OK\r\n\r\nrest"].concat()),
    ]);
    assert_eq!(txs.len(), 2);
    assert_eq!(resp(&txs[1]).body.framing, BodyFraming::CloseDelimited);
    assert_eq!(resp(&txs[1]).body.len, 4);
}

#[test]
fn invalid_chunk_size_is_a_parse_error_then_resync() {
    let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    let txs = run(&[
        C(&[get("/1"), get("/2")].concat()),
        S(&[&bad[..], &ok("b")[..]].concat()),
    ]);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert!(txs[0]
        .flags
        .parse_error
        .as_deref()
        .unwrap()
        .contains("invalid chunk size"));
    assert_eq!(resp(&txs[1]).body.len, 1);
}

#[test]
fn is_done_after_both_sides_are_not_http_and_their_excerpts_are_full() {
    let mut s = Session::new(Arc::new(config()));
    s.data(C2S, b"\x16\x03\x01", 1);
    assert!(!s.is_done());
    s.data(S2C, b"\x16\x03\x03", 2);
    // Neither side is parsed any more, but the records' excerpts still take bytes.
    assert!(!s.is_done());
    s.data(C2S, &[0x17; 100], 3);
    assert!(!s.is_done());
    s.data(S2C, &[0x17; 100], 4);
    assert!(s.is_done());
}

#[test]
fn hostile_input_fed_byte_by_byte_finishes_quickly() {
    let n = 70_000;
    let patterns: Vec<(bool, Vec<u8>)> = vec![
        (true, [&b"GET"[..], &vec![b' '; n]].concat()),
        (
            true,
            [&b"GET / HTTP/1.1\r\nX: "[..], &vec![b'a'; n]].concat(),
        ),
        (false, [&b"HTTP/1.1 200 "[..], &vec![b'x'; n]].concat()),
        (false, [&ok("a")[..], &b"HTTP/1.".repeat(n / 7)].concat()),
        (false, [&ok("a")[..], &vec![b'H'; n]].concat()),
        (true, [GET1, &b"GET GET GET\n".repeat(n / 12)].concat()),
        (
            false,
            [
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1"[..],
                &vec![b'0'; n],
            ]
            .concat(),
        ),
    ];
    let start = std::time::Instant::now();
    for (client, bytes) in &patterns {
        let mut s = Session::new(Arc::new(config()));
        let dir = if *client { C2S } else { S2C };
        if !*client {
            s.data(C2S, GET1, 0);
        }
        for b in bytes.chunks(1) {
            s.data(dir, b, 1);
        }
        s.end(2);
        assert!(s.take_transactions().count() >= 1);
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn session_is_send_and_config_is_shareable() {
    fn send<T: Send>() {}
    fn sync<T: Send + Sync>() {}
    send::<Session>();
    sync::<HttpConfig>();
    send::<Transaction>();
}

/// Every input under `fuzz/corpus/http/` (seeds, and inputs a fuzzer kept) through the fuzz
/// entry point, which checks the parser's invariants.
#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/http");
    let inputs = netan_plugin_api::testing::replay_corpus(&dir, super::fuzz_parse);
    assert!(inputs >= 5, "{inputs} inputs in {}", dir.display());
}
