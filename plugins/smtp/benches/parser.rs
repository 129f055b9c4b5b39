//! Benchmarks of the SMTP parser (`netan_smtp::parser::Session`, no plugin ABI involved) over
//! synthetic sessions built at start-up, client and server monologues alternating (no
//! pipelining): greeting, EHLO and its multi-line reply, then per message MAIL FROM, 1 to 3
//! RCPT TO, DATA, the content (dot-stuffed where needed) and its reply; QUIT at the end. Each
//! monologue is fed in 1448-byte pieces (one TCP segment's payload each, as the host hands them
//! over); default configuration (MIME parsed, attachments decoded and hashed).
//!
//! * `smtp/attachments`: 8 sessions of 6 messages, each a multipart/mixed MIME message with a
//!   text part and a base64 attachment of mixed size (500 B to 400 KB);
//! * `smtp/plain`: 40 sessions of 10 short text messages: commands and replies dominate.
//!
//! Throughput is in bytes of both directions fed to the parser.
//!
//! Run: `cargo bench -p netan-plugin-smtp --bench parser` (one: append a filter, e.g.
//! `-- plain`).

// Benches run over fixed synthetic inputs built here: a failure to build them is a bug of the
// bench itself, and panicking is the right answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netan_plugin_api::testing::XorShift as Rng;
use netan_plugin_api::Direction::{self, ClientToServer, ServerToClient};
use netan_smtp::parser::{Session, SmtpConfig};

const SEGMENT: usize = 1448;

/// Base64 with 76-character lines, as mail user agents write it.
fn base64_lines(data: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = Vec::with_capacity(data.len() * 4 / 3 + 4);
    for group in data.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= group.len() {
                text.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]);
            } else {
                text.push(b'=');
            }
        }
    }
    let mut out = Vec::with_capacity(text.len() + text.len() / 38 + 2);
    for line in text.chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Paragraphs of text, CRLF lines; one line starts with a dot (dot-stuffed on the wire).
fn text_body(lines: usize, seed: usize) -> String {
    let mut s = String::new();
    for i in 0..lines {
        if i == lines / 2 {
            s.push_str("..a line that starts with a dot, stuffed on the wire\r\n");
        }
        s.push_str(&format!(
            "Line {i} of message {seed}: the quick brown fox jumps over the lazy dog.\r\n"
        ));
    }
    s
}

/// One message's DATA content, dot-stuffed, with the terminating `.` line.
fn message(n: usize, attachment: Option<usize>) -> Vec<u8> {
    let mut m = format!(
        "Received: from client.example.org (client.example.org [192.0.2.10])\r\n\
         \tby mx.example.net (Postfix) with ESMTPS id 4Xy{n:05}\r\n\
         \tfor <bob@example.net>; Tue, 15 Nov 2022 08:12:31 +0000\r\n\
         Date: Tue, 15 Nov 2022 08:12:30 +0000\r\n\
         From: Alice Example <alice@example.org>\r\n\
         To: Bob <bob@example.net>, carol@example.net\r\n\
         Cc: =?UTF-8?Q?Dani=C3=A8le?= <dani@example.net>\r\n\
         Subject: Quarterly report {n}\r\n\
         Message-ID: <{n}.1668499950@client.example.org>\r\n\
         X-Mailer: BenchMailer 1.0\r\n\
         MIME-Version: 1.0\r\n"
    );
    match attachment {
        None => {
            m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
            m.push_str(&text_body(12, n));
        }
        Some(size) => {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"=_boundary_{n}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\
                 --=_boundary_{n}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 7bit\r\n\r\n\
                 {}\
                 --=_boundary_{n}\r\n\
                 Content-Type: application/pdf; name=\"report-{n}.pdf\"\r\n\
                 Content-Disposition: attachment; filename=\"report-{n}.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n",
                text_body(8, n)
            ));
            let data: Vec<u8> = (0..size).map(|i| (i * 31 + n) as u8).collect();
            let mut bytes = m.into_bytes();
            bytes.extend_from_slice(&base64_lines(&data));
            bytes.extend_from_slice(format!("--=_boundary_{n}--\r\n").as_bytes());
            m = String::from_utf8(bytes).unwrap();
        }
    }
    let mut wire = m.replace("\r\n.", "\r\n..").into_bytes();
    wire.extend_from_slice(b".\r\n");
    wire
}

/// Sessions of alternating monologues, and the attachment sizes the parser must report.
struct Input {
    sessions: Vec<Vec<(Direction, Vec<u8>)>>,
    messages: usize,
    attachment_sizes: Vec<u64>,
    bytes: u64,
}

fn build(sessions: usize, messages: usize, attachments: bool, seed: u64) -> Input {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut attachment_sizes = Vec::new();
    for s in 0..sessions {
        let mut m: Vec<(Direction, Vec<u8>)> = Vec::new();
        let mut say = |dir, text: &[u8]| m.push((dir, text.to_vec()));
        say(ServerToClient, b"220 mx.example.net ESMTP Postfix\r\n");
        say(ClientToServer, b"EHLO client.example.org\r\n");
        say(
            ServerToClient,
            b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
              250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n",
        );
        for k in 0..messages {
            let n = s * messages + k;
            say(
                ClientToServer,
                format!("MAIL FROM:<alice{n}@example.org> SIZE=4096 BODY=8BITMIME\r\n").as_bytes(),
            );
            say(ServerToClient, b"250 2.1.0 Ok\r\n");
            for r in 0..=(rng.below(3) as usize) {
                say(
                    ClientToServer,
                    format!("RCPT TO:<user{r}@example.net>\r\n").as_bytes(),
                );
                say(ServerToClient, b"250 2.1.5 Ok\r\n");
            }
            say(ClientToServer, b"DATA\r\n");
            say(ServerToClient, b"354 End data with <CR><LF>.<CR><LF>\r\n");
            let size = attachments.then(|| match rng.below(4) as usize {
                0 => 500 + (rng.below(4_000) as usize),
                1 => 10_000 + (rng.below(40_000) as usize),
                2 => 60_000 + (rng.below(90_000) as usize),
                _ => 200_000 + (rng.below(200_000) as usize),
            });
            attachment_sizes.extend(size.map(|s| s as u64));
            say(ClientToServer, &message(n, size));
            say(
                ServerToClient,
                format!("250 2.0.0 Ok: queued as 4Xy{n:05}\r\n").as_bytes(),
            );
        }
        say(ClientToServer, b"QUIT\r\n");
        say(ServerToClient, b"221 2.0.0 Bye\r\n");
        out.push(m);
    }
    let bytes = out
        .iter()
        .flatten()
        .map(|(_, text)| text.len() as u64)
        .sum();
    Input {
        sessions: out,
        messages: sessions * messages,
        attachment_sizes,
        bytes,
    }
}

/// Runs every session over its input; returns the messages' attachment sizes.
fn parse(cfg: &Arc<SmtpConfig>, input: &Input) -> Vec<u64> {
    let mut sizes = Vec::with_capacity(input.attachment_sizes.len());
    let mut ts = 1_700_000_000_000_000_000u64;
    for monologues in &input.sessions {
        let mut session = Session::new(Arc::clone(cfg));
        for (dir, bytes) in monologues {
            for piece in bytes.chunks(SEGMENT) {
                ts += 10_000;
                session.data(*dir, piece, ts);
            }
        }
        session.end(ts);
        for m in session.take_messages() {
            sizes.extend(m.attachments.iter().map(|a| a.size));
        }
    }
    sizes
}

/// Checks once that the parser reads the input as intended: every message, every
/// attachment whole, no flag.
fn check(cfg: &Arc<SmtpConfig>, input: &Input) {
    let mut messages = Vec::new();
    for monologues in &input.sessions {
        let mut session = Session::new(Arc::clone(cfg));
        for (dir, bytes) in monologues {
            session.data(*dir, bytes, 1);
        }
        session.end(2);
        assert!(!session.summary().flags.any(), "{:#?}", session.summary());
        messages.extend(session.take_messages());
    }
    assert_eq!(messages.len(), input.messages);
    for m in &messages {
        assert!(!m.flags.any(), "{m:#?}");
        assert_eq!(m.last_reply_code, Some(250));
        assert!(m.subject.is_some() && !m.rcpt_to.is_empty());
        assert!(m.attachments.iter().all(|a| a.sha256.is_some()));
    }
    assert_eq!(parse(cfg, input), input.attachment_sizes);
}

fn benches(c: &mut Criterion) {
    let cfg = Arc::new(SmtpConfig::default());
    let inputs = [
        ("attachments", build(8, 6, true, 0x2545_f491_4f6c_dd1d)),
        ("plain", build(40, 10, false, 0x9e37_79b9_7f4a_7c15)),
    ];
    let mut g = c.benchmark_group("smtp");
    for (name, input) in &inputs {
        check(&cfg, input);
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
