//! Benchmarks of the HTTP/1.x parser (`netan_http::parser::Session`, no plugin ABI involved)
//! over synthetic keep-alive sessions built at start-up: 160 request/response exchanges per
//! session, each side's monologue fed in 1448-byte pieces (one TCP segment's payload each, as
//! the host hands them over), default configuration (bodies hashed, all headers kept).
//!
//! * `http/content_length`: GETs and some POSTs, responses with `Content-Length` bodies of
//!   mixed sizes (0 B to 250 KB);
//! * `http/chunked`: the same exchanges with `Transfer-Encoding: chunked` response bodies;
//! * `http/small`: small bodies only (0 to 2 KB, both framings): head parsing dominates.
//!
//! Throughput is in bytes of both directions fed to the parser.
//!
//! Run: `cargo bench -p netan-plugin-http --bench parser` (one: append a filter, e.g.
//! `-- chunked`).

// Benches run over fixed synthetic inputs built here: a failure to build them is a bug of the
// bench itself, and panicking is the right answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netan_http::parser::{BodyFraming, HttpConfig, Session};
use netan_plugin_api::testing::XorShift as Rng;
use netan_plugin_api::Direction;

const EXCHANGES: usize = 160;
const SEGMENT: usize = 1448;

/// Body bytes: printable, varied.
fn body(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789 <>/=\n"[(i * 7 + seed) % 42])
        .collect()
}

fn request(i: usize, post_body: Option<&[u8]>) -> Vec<u8> {
    let method = if post_body.is_some() { "POST" } else { "GET" };
    let mut r = format!(
        "{method} /static/app/{i}/resource-{i}.js?v=3&session=ab12cd34 HTTP/1.1\r\n\
         Host: www.example.com\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
         Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
         Accept-Language: en-GB,en;q=0.5\r\n\
         Accept-Encoding: gzip, deflate, br\r\n\
         Referer: https://www.example.com/index.html\r\n\
         Cookie: sid=0123456789abcdef; theme=dark; consent=yes\r\n\
         Connection: keep-alive\r\n"
    )
    .into_bytes();
    if let Some(b) = post_body {
        r.extend_from_slice(
            format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                b.len()
            )
            .as_bytes(),
        );
    }
    r.extend_from_slice(b"\r\n");
    if let Some(b) = post_body {
        r.extend_from_slice(b);
    }
    r
}

fn response(i: usize, content: &[u8], chunked: bool) -> Vec<u8> {
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {}", content.len())
    };
    let mut r = format!(
        "HTTP/1.1 200 OK\r\n\
         Date: Tue, 15 Nov 1994 08:12:31 GMT\r\n\
         Server: Apache/2.4.62 (Unix)\r\n\
         Content-Type: application/javascript; charset=utf-8\r\n\
         Cache-Control: public, max-age=31536000\r\n\
         ETag: \"5e1-{i:08x}\"\r\n\
         Keep-Alive: timeout=5, max=1000\r\n\
         {framing}\r\n\r\n"
    )
    .into_bytes();
    if chunked {
        // Mostly 8 KiB chunks, the odd one smaller, then the last chunk.
        for (n, piece) in content.chunks(8192).enumerate() {
            let piece = if n % 5 == 4 && piece.len() > 100 {
                let (a, b) = piece.split_at(100);
                r.extend_from_slice(format!("{:x}\r\n", a.len()).as_bytes());
                r.extend_from_slice(a);
                r.extend_from_slice(b"\r\n");
                b
            } else {
                piece
            };
            r.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            r.extend_from_slice(piece);
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"0\r\n\r\n");
    } else {
        r.extend_from_slice(content);
    }
    r
}

/// A keep-alive session: alternating request and response monologues, and the body length
/// each response must report.
struct Input {
    monologues: Vec<(Direction, Vec<u8>)>,
    body_lens: Vec<u64>,
    bytes: u64,
}

fn build(chunked: bool, small: bool, seed: u64) -> Input {
    let mut rng = Rng(seed);
    let mut monologues = Vec::new();
    let mut body_lens = Vec::new();
    for i in 0..EXCHANGES {
        let post = (i % 5 == 3).then(|| body(200 + (rng.below(2000) as usize), i));
        monologues.push((Direction::ClientToServer, request(i, post.as_deref())));
        let len = if small {
            rng.below(2048) as usize
        } else {
            match rng.below(6) as usize {
                0 => 0,
                1 => 100 + (rng.below(400) as usize),
                2 => 1_000 + (rng.below(3_000) as usize),
                3 => 8_000 + (rng.below(16_000) as usize),
                4 => 30_000 + (rng.below(60_000) as usize),
                _ => 150_000 + (rng.below(100_000) as usize),
            }
        };
        let framing = if small { i % 2 == 1 } else { chunked };
        monologues.push((
            Direction::ServerToClient,
            response(i, &body(len, i), framing),
        ));
        body_lens.push(len as u64);
    }
    let bytes = monologues.iter().map(|(_, m)| m.len() as u64).sum();
    Input {
        monologues,
        body_lens,
        bytes,
    }
}

/// Runs one session over the input; returns the transactions' response body lengths.
fn parse(cfg: &Arc<HttpConfig>, input: &Input) -> Vec<u64> {
    let mut session = Session::new(Arc::clone(cfg));
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut lens = Vec::with_capacity(EXCHANGES);
    for (dir, bytes) in &input.monologues {
        for piece in bytes.chunks(SEGMENT) {
            ts += 10_000;
            session.data(*dir, piece, ts);
        }
        lens.extend(
            session
                .take_transactions()
                .filter_map(|t| t.response.map(|r| r.body.len)),
        );
    }
    session.end(ts);
    lens.extend(
        session
            .take_transactions()
            .filter_map(|t| t.response.map(|r| r.body.len)),
    );
    lens
}

/// Checks once that the parser reads the input as intended (every exchange, whole bodies,
/// no flag).
fn check(cfg: &Arc<HttpConfig>, input: &Input, chunked: bool) {
    let mut session = Session::new(Arc::clone(cfg));
    for (dir, bytes) in &input.monologues {
        session.data(*dir, bytes, 1);
    }
    session.end(2);
    let txs: Vec<_> = session.take_transactions().collect();
    assert_eq!(txs.len(), EXCHANGES);
    for (t, &len) in txs.iter().zip(&input.body_lens) {
        assert!(
            !t.flags.gap && !t.flags.truncated && !t.flags.not_http,
            "{t:#?}"
        );
        assert_eq!(t.flags.parse_error, None, "{t:#?}");
        let body = &t.response.as_ref().unwrap().body;
        assert_eq!(body.len, len);
        if chunked && len > 0 {
            assert_eq!(body.framing, BodyFraming::Chunked);
        }
    }
    assert_eq!(parse(cfg, input), input.body_lens);
}

fn benches(c: &mut Criterion) {
    let cfg = Arc::new(HttpConfig::default());
    let inputs = [
        ("content_length", build(false, false, 0x2545_f491_4f6c_dd1d)),
        ("chunked", build(true, false, 0x2545_f491_4f6c_dd1d)),
        ("small", build(false, true, 0x9e37_79b9_7f4a_7c15)),
    ];
    let mut g = c.benchmark_group("http");
    for (name, input) in &inputs {
        check(&cfg, input, *name == "chunked");
        g.throughput(Throughput::Bytes(input.bytes));
        g.bench_function(*name, |b| b.iter(|| black_box(parse(&cfg, input))));
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = parser;
    config = config();
    targets = benches
}
criterion_main!(parser);
