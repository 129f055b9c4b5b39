//! Tests of the glue: monologue parts in, records, artifacts and releases out (in-process, no
//! library loading).

use super::*;
use abi_stable::std_types::{RSlice, RString};
use netan_plugin_api::testing::{field, Recorder};
use netan_plugin_api::{
    instantiate, Direction, EndReason, Endpoint, Gap, Handshake, LogLevel, Monologue, Record,
    Session, SessionEnd, Value,
};
use sha2::{Digest, Sha256};

use Direction::{ClientToServer as C, ServerToClient as S};

fn session(id: u64, server_port: u16) -> Session {
    Session {
        id,
        key: RString::from(format!("10.0.0.1:40000-10.0.0.2:{server_port}")),
        client: Endpoint::new("10.0.0.1".parse().unwrap(), 40000),
        server: Endpoint::new("10.0.0.2".parse().unwrap(), server_port),
        t_first: 1,
        handshake: Handshake::COMPLETE,
    }
}

fn smtp(config: &str) -> Smtp {
    Smtp::new(Config { text: config }).unwrap()
}

/// One monologue part, as the host would deliver it.
#[derive(Debug, Clone)]
struct Part<'a> {
    dir: Direction,
    index: u64,
    part: u32,
    more: bool,
    offset: u64,
    chunks: Vec<&'a [u8]>,
    gaps: Vec<Gap>,
    t_start: u64,
    t_end: u64,
}

impl<'a> Part<'a> {
    /// Monologue `index`, whole, in one chunk; its packets arrived at `1000 × (index + 1)` ns
    /// and 500 ns later.
    fn new(dir: Direction, index: u64, data: &'a [u8]) -> Part<'a> {
        let t = 1_000 * (index + 1);
        Part {
            dir,
            index,
            part: 0,
            more: false,
            offset: 0,
            chunks: vec![data],
            gaps: Vec::new(),
            t_start: t,
            t_end: t + 500,
        }
    }
}

fn deliver(h: &mut Smtp, ctx: &mut Context<'_, '_>, s: &Session, p: &Part<'_>) {
    let chunks: Vec<RSlice<'_, u8>> = p.chunks.iter().map(|c| RSlice::from_slice(c)).collect();
    let m = Monologue {
        session: s,
        direction: p.dir,
        index: p.index,
        part: p.part,
        more: p.more,
        offset: p.offset,
        chunks: chunks.as_slice().into(),
        len: p.chunks.iter().map(|c| c.len() as u64).sum(),
        gaps: p.gaps.as_slice().into(),
        t_start: p.t_start,
        t_end: p.t_end,
        packets: p.chunks.len() as u64,
    };
    h.tcp_monologue(ctx, &m).unwrap();
}

const T_END: u64 = 100_000;

fn end(h: &mut Smtp, ctx: &mut Context<'_, '_>, s: &Session) {
    let e = SessionEnd {
        session: s,
        reason: EndReason::FIN,
        t_end: T_END,
        packets: 20,
        bytes_c2s: 0,
        bytes_s2c: 0,
        gaps: 0,
        monologues: 0,
    };
    h.tcp_session_end(ctx, &e).unwrap();
}

/// Runs `parts` through a new analyser with `config`, then ends the session.
fn run_parts(config: &str, s: &Session, parts: &[Part<'_>]) -> Recorder {
    let mut h = smtp(config);
    let mut rec = Recorder {
        artifacts: Some(Vec::new()),
        ..Recorder::default()
    };
    rec.with_context(|ctx| {
        for p in parts {
            deliver(&mut h, ctx, s, p);
        }
        end(&mut h, ctx, s);
    });
    rec
}

/// Each `(direction, bytes)` as a whole monologue in one chunk, in order.
fn script<'a>(lines: &[(Direction, &'a [u8])]) -> Vec<Part<'a>> {
    lines
        .iter()
        .zip(0u64..)
        .map(|(&(dir, data), index)| Part::new(dir, index, data))
        .collect()
}

fn run(config: &str, s: &Session, lines: &[(Direction, &[u8])]) -> Recorder {
    run_parts(config, s, &script(lines))
}

/// A record as the JSON sink writes its fields (pre-serialised JSON must parse).
fn to_json(r: &Record) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("type".into(), r.kind.as_str().into());
    for f in r.fields.iter() {
        let v = match &f.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::UInt(u) => (*u).into(),
            Value::Float(x) => (*x).into(),
            Value::Str(s) => s.as_str().into(),
            Value::Bytes(b) => b
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
                .into(),
            Value::StrList(l) => l.iter().map(|s| s.as_str()).collect::<Vec<_>>().into(),
            Value::Json(j) => serde_json::from_str(j.as_str())
                .unwrap_or_else(|e| panic!("field {}: invalid JSON {j}: {e}", f.name)),
        };
        map.insert(f.name.to_string(), v);
    }
    serde_json::Value::Object(map)
}

fn of_kind(rec: &Recorder, kind: &str) -> Vec<serde_json::Value> {
    rec.records
        .iter()
        .filter(|r| r.kind.as_str() == kind)
        .map(to_json)
        .collect()
}

const GREETING: &[u8] = b"220 mx.example.org ESMTP ready\r\n";
const EHLO: &[u8] = b"EHLO client.example.com\r\n";
const EHLO_REPLY: &[u8] =
    b"250-mx.example.org hello\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250 CHUNKING\r\n";
/// A message as sent after DATA: one dot-stuffed line, then the end marker.
const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.net>, carol@example.net\r\n\
Cc: dave@example.org\r\n\
Subject: Quarterly report\r\n\
Message-ID: <1@example.com>\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
X-Mailer: netan-test\r\n\
\r\n\
Hello Bob,\r\n\
..this line starts with a dot\r\n\
bye\r\n\
.\r\n";

/// `MESSAGE` as the recipient gets it: unstuffed, without the end marker.
fn unstuffed() -> Vec<u8> {
    let wire = &MESSAGE[..MESSAGE.len() - 3];
    let text = String::from_utf8(wire.to_vec()).unwrap();
    text.replace("\r\n..", "\r\n.").into_bytes()
}

/// A whole session: greeting, EHLO, MAIL FROM, two RCPT TO (one refused), DATA, QUIT.
fn conversation() -> Vec<(Direction, &'static [u8])> {
    vec![
        (S, GREETING),
        (C, EHLO),
        (S, EHLO_REPLY),
        (C, b"MAIL FROM:<alice@example.com> SIZE=300\r\n"),
        (S, b"250 2.1.0 ok\r\n"),
        (C, b"RCPT TO:<bob@example.net>\r\n"),
        (S, b"250 2.1.5 ok\r\n"),
        (C, b"RCPT TO:<nobody@example.net>\r\n"),
        (S, b"550 5.1.1 no such user\r\n"),
        (C, b"DATA\r\n"),
        (S, b"354 go ahead\r\n"),
        (C, MESSAGE),
        (S, b"250 2.0.0 queued as 42\r\n"),
        (C, b"QUIT\r\n"),
        (S, b"221 2.0.0 bye\r\n"),
    ]
}

#[test]
fn a_session_on_port_25_gives_a_transaction_record_and_a_session_record() {
    let s = session(7, 25);
    let lines = conversation();
    let rec = run("", &s, &lines);
    assert_eq!(rec.releases, 0);
    let kinds: Vec<&str> = rec.records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["smtp", "smtp_session"]);

    // The transaction, timed by the parts that carried MAIL FROM (monologue 3), the 354
    // (monologue 10) and the final reply (monologue 12).
    assert_eq!(rec.records[0].ts, 4_000);
    let m = &of_kind(&rec, "smtp")[0];
    assert_eq!(m["client"], "10.0.0.1:40000");
    assert_eq!(m["server"], "10.0.0.2:25");
    assert_eq!(m["transaction"], 1);
    assert_eq!(m["helo"], "client.example.com");
    assert_eq!(m["mail_from"], "alice@example.com");
    assert_eq!(m["mail_from_code"], 250);
    assert_eq!(
        m["rcpt_to"],
        serde_json::json!([
            {"address": "bob@example.net", "code": 250},
            {"address": "nobody@example.net", "code": 550}
        ])
    );
    assert_eq!(m["rcpt_dropped"], 0);
    assert_eq!(m["from"], "Alice <alice@example.com>");
    assert_eq!(
        m["to"],
        serde_json::json!(["Bob <bob@example.net>", "carol@example.net"])
    );
    assert_eq!(m["cc"], serde_json::json!(["dave@example.org"]));
    assert_eq!(m["subject"], "Quarterly report");
    assert_eq!(m["message_id"], "<1@example.com>");
    assert_eq!(m["date"], "Mon, 1 Jan 2024 10:00:00 +0000");
    assert_eq!(m["user_agent"], "netan-test");
    assert_eq!(m["has_content"], true);
    assert_eq!(m["chunked"], false);
    // Without the end marker; the wire size keeps the stuffed dot.
    assert_eq!(m["wire_size"], (MESSAGE.len() - 3) as u64);
    assert_eq!(m["size"], unstuffed().len() as u64);
    assert_eq!(m["size"], m["wire_size"].as_u64().unwrap() - 1);
    assert_eq!(m["gap_bytes"], 0);
    assert_eq!(m["sha256"], serde_json::Value::Null, "hashing is opt-in");
    assert_eq!(m["attachments"], serde_json::json!([]));
    assert_eq!(m["last_reply_code"], 250);
    assert_eq!(m["last_reply_text"], "2.0.0 queued as 42");
    assert_eq!(m["t_start_ns"], 4_000);
    assert_eq!(m["t_data_ns"], 11_000);
    assert_eq!(m["t_end_ns"], 13_000);
    assert_eq!(m["tls"], false);
    assert_eq!(m["auth_mechanism"], serde_json::Value::Null);
    assert_eq!(m["auth_success"], serde_json::Value::Null);
    for flag in [
        "gap",
        "truncated",
        "not_smtp",
        "line_too_long",
        "bad_sequence",
        "bad_syntax",
        "message_truncated_for_parsing",
        "extract_truncated",
        "reset",
    ] {
        assert_eq!(m[flag], false, "{flag}");
    }
    assert!(m.get("file").is_none(), "extraction is opt-in");

    // The session, timed by its first byte.
    assert_eq!(rec.records[1].ts, 1_000);
    let sum = &of_kind(&rec, "smtp_session")[0];
    assert_eq!(sum["greeting_code"], 220);
    assert_eq!(sum["greeting"], "mx.example.org ESMTP ready");
    assert_eq!(sum["helo"], "client.example.com");
    assert_eq!(
        sum["capabilities"],
        serde_json::json!(["PIPELINING", "SIZE 1000000", "CHUNKING"])
    );
    assert_eq!(sum["transactions"], 1);
    assert_eq!(sum["commands"], 6);
    assert_eq!(sum["replies"], 8);
    assert_eq!(sum["unmatched_replies"], 0);
    let bytes = |d: Direction| -> u64 {
        lines
            .iter()
            .filter(|(dir, _)| *dir == d)
            .map(|(_, b)| b.len() as u64)
            .sum()
    };
    assert_eq!(sum["client_bytes"], bytes(C));
    assert_eq!(sum["server_bytes"], bytes(S));
    assert_eq!(sum["client_gap_bytes"], 0);
    assert_eq!(sum["last_reply_code"], 221);
    assert_eq!(sum["last_reply_text"], "2.0.0 bye");
    assert_eq!(sum["tls"], false);
    assert_eq!(sum["gap"], false);
}

/// Every monologue of `lines` cut into parts at `part_cuts` (offsets into the monologue) and
/// each part into chunks of at most `chunk` bytes; all times equal within a monologue, so that
/// only the cutting differs.
fn cut<'a>(lines: &[(Direction, &'a [u8])], part_cuts: &[usize], chunk: usize) -> Vec<Part<'a>> {
    let mut out = Vec::new();
    for (&(dir, data), index) in lines.iter().zip(0u64..) {
        let mut bounds: Vec<usize> = part_cuts
            .iter()
            .copied()
            .filter(|&c| c > 0 && c < data.len())
            .collect();
        bounds.insert(0, 0);
        bounds.push(data.len());
        bounds.dedup();
        let parts = bounds.len() - 1;
        for (n, w) in bounds.windows(2).enumerate() {
            let bytes = &data[w[0]..w[1]];
            let t = 1_000 * (index + 1);
            out.push(Part {
                dir,
                index,
                part: n as u32,
                more: n + 1 < parts,
                offset: w[0] as u64,
                chunks: bytes.chunks(chunk.max(1)).collect(),
                gaps: Vec::new(),
                t_start: t,
                t_end: t,
            });
        }
    }
    out
}

#[test]
fn chunks_and_parts_cut_anywhere_give_the_same_records() {
    let s = session(7, 25);
    let lines = conversation();
    let whole = run_parts("", &s, &cut(&lines, &[], usize::MAX));
    assert_eq!(
        field(&whole.records[0], "subject").and_then(Value::as_str),
        Some("Quarterly report")
    );
    // Byte by byte in one part.
    let bytewise = run_parts("", &s, &cut(&lines, &[], 1));
    assert_eq!(bytewise.records, whole.records);
    // Three parts of odd-sized chunks.
    let parts = run_parts("", &s, &cut(&lines, &[7, 61], 5));
    assert_eq!(parts.records, whole.records);
    // Two parts, cut at every offset of the longest monologue (and the others at once).
    for at in 1..MESSAGE.len() {
        let two = run_parts("", &s, &cut(&lines, &[at], 3));
        assert_eq!(two.records, whole.records, "cut at {at}");
    }
}

#[test]
fn a_gap_inside_a_message_is_flagged_and_counted_and_the_session_goes_on() {
    let s = session(7, 25);
    let mut lines = conversation();
    // Before QUIT, a second transaction that must come out clean.
    let quit = lines.len() - 2;
    lines.splice(
        quit..quit,
        [
            (
                C,
                &b"MAIL FROM:<second@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"[..],
            ),
            (S, &b"250 ok\r\n250 ok\r\n354 go\r\n"[..]),
            (C, &b"Subject: second\r\n\r\nhi\r\n.\r\n"[..]),
            (S, &b"250 queued\r\n"[..]),
        ],
    );
    let mut parts = script(&lines);
    // 40 bytes of the first message's body were never captured (inside the line after
    // "Hello Bob,").
    let body = MESSAGE
        .windows(10)
        .position(|w| w == b"Hello Bob,")
        .unwrap();
    let at = body + 14;
    let message = parts.iter_mut().find(|p| p.chunks[0] == MESSAGE).unwrap();
    message.gaps = vec![Gap {
        offset: at as u64,
        len: 40,
    }];
    let rec = run_parts("hash_messages = true", &s, &parts);
    let msgs = of_kind(&rec, "smtp");
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    let first = &msgs[0];
    assert_eq!(first["gap"], true);
    assert_eq!(first["gap_bytes"], 40);
    assert_eq!(first["truncated"], false, "the end marker was still found");
    assert_eq!(first["size"], unstuffed().len() as u64);
    assert_eq!(first["subject"], "Quarterly report");
    assert_eq!(first["last_reply_code"], 250);
    assert_eq!(
        first["sha256"],
        serde_json::Value::Null,
        "no hash of a message with a hole"
    );
    let second = &msgs[1];
    assert_eq!(second["transaction"], 2);
    assert_eq!(second["mail_from"], "second@example.com");
    assert_eq!(second["subject"], "second");
    assert_eq!(second["gap"], false);
    assert_eq!(second["last_reply_code"], 250);
    let want = Sha256::digest(b"Subject: second\r\n\r\nhi\r\n");
    let want: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(second["sha256"], want.as_str());
    let sum = &of_kind(&rec, "smtp_session")[0];
    assert_eq!(sum["gap"], true);
    assert_eq!(sum["client_gap_bytes"], 40);
    assert_eq!(sum["server_gap_bytes"], 0);
    assert_eq!(sum["transactions"], 2);
    assert_eq!(sum["last_reply_code"], 221);
}

#[test]
fn smtp_off_the_usual_ports_is_found_by_its_first_bytes() {
    // By the server's greeting.
    let s = session(1, 2600);
    let rec = run("", &s, &conversation());
    assert_eq!(rec.releases, 0);
    let msgs = of_kind(&rec, "smtp");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["server"], "10.0.0.2:2600");
    assert_eq!(msgs[0]["mail_from"], "alice@example.com");
    assert_eq!(of_kind(&rec, "smtp_session").len(), 1);
    // By the client's EHLO, in lower case, when the greeting was not captured.
    let s = session(2, 2600);
    let rec = run(
        "",
        &s,
        &[
            (C, b"ehlo client\r\nMAIL FROM:<x@example.com>\r\n"),
            (S, b"250 hi\r\n250 ok\r\n"),
        ],
    );
    assert_eq!(rec.releases, 0);
    assert_eq!(of_kind(&rec, "smtp")[0]["mail_from"], "x@example.com");
}

#[test]
fn other_protocols_off_the_smtp_ports_are_released_without_records() {
    for first in [
        &b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"[..],
        b"SSH-2.0-OpenSSH_9.6\r\n",
        // Looks like a reply code, but no SMTP greeting.
        b"200 OK\r\n",
    ] {
        let s = session(3, 2600);
        let mut h = smtp("");
        let mut rec = Recorder::default();
        rec.with_context(|ctx| {
            deliver(&mut h, ctx, &s, &Part::new(C, 0, first));
            end(&mut h, ctx, &s);
        });
        assert_eq!(rec.releases, 1, "{}", String::from_utf8_lossy(first));
        assert!(rec.records.is_empty(), "{:?}", rec.records);
        assert!(
            h.sessions.is_empty(),
            "no parser kept for a released session"
        );
    }
}

#[test]
fn a_220_greeting_off_the_smtp_ports_is_smtp_only_if_answered_by_helo_or_ehlo() {
    // FTP greets with 220 too: the client's USER settles it.
    let s = session(7, 2121);
    let rec = run(
        "",
        &s,
        &[
            (S, b"220 ProFTPD Server ready.\r\n"),
            (C, b"USER anonymous\r\n"),
        ],
    );
    assert_eq!(rec.releases, 1);
    assert!(rec.records.is_empty(), "{:?}", rec.records);
    // Greeted and never answered (the capture ends): nothing says it was SMTP.
    let s = session(8, 2121);
    let rec = run("", &s, &[(S, b"220 mail.example.com ESMTP\r\n")]);
    assert!(rec.records.is_empty(), "{:?}", rec.records);
    // A greeting split over two parts, then EHLO: SMTP, with the whole greeting.
    let s = session(9, 2121);
    let rec = run(
        "",
        &s,
        &[
            (S, b"220-mail.example.com ESMTP\r\n"),
            (S, b"220 welcome\r\n"),
            (C, b"EHLO client\r\n"),
            (S, b"250 hi\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"221 bye\r\n"),
        ],
    );
    assert_eq!(rec.releases, 0);
    let sum = &of_kind(&rec, "smtp_session")[0];
    assert_eq!(sum["last_reply_code"], 221);
}

#[test]
fn a_session_that_starts_with_a_gap_off_the_smtp_ports_is_released() {
    let s = session(4, 2600);
    let mut p = Part::new(S, 0, GREETING);
    // The greeting follows bytes that were never captured: nothing to recognise it by.
    p.gaps = vec![Gap { offset: 0, len: 10 }];
    let rec = run_parts("", &s, &[p]);
    assert_eq!(rec.releases, 1);
    assert!(rec.records.is_empty());
    // On port 25 the same part is analysed.
    let s = session(5, 25);
    let mut p = Part::new(S, 0, GREETING);
    p.gaps = vec![Gap { offset: 0, len: 10 }];
    let rec = run_parts("", &s, &[p]);
    assert_eq!(rec.releases, 0);
    let sum = &of_kind(&rec, "smtp_session")[0];
    assert_eq!(sum["server_gap_bytes"], 10);
    assert_eq!(sum["gap"], true);
}

#[test]
fn the_ports_setting_replaces_the_default_ports() {
    // Port 2600 listed: whatever it carries is analysed, and flagged when it is not SMTP.
    let s = session(6, 2600);
    let rec = run(
        "ports = [2600]",
        &s,
        &[(C, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n")],
    );
    assert_eq!(rec.releases, 0);
    assert_eq!(of_kind(&rec, "smtp_session")[0]["not_smtp"], true);
    // Port 25 no longer listed: only content detection is left.
    let s = session(7, 25);
    let rec = run("ports = [2600]", &s, &[(C, b"GET / HTTP/1.1\r\n\r\n")]);
    assert_eq!(rec.releases, 1);
    assert!(rec.records.is_empty());
}

#[test]
fn non_smtp_on_port_25_is_a_flagged_session_record() {
    let s = session(8, 25);
    let rec = run(
        "",
        &s,
        &[
            (C, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"),
            (S, b"HTTP/1.1 200 OK\r\n\r\n"),
        ],
    );
    assert_eq!(rec.releases, 0);
    assert!(of_kind(&rec, "smtp").is_empty());
    let sum = &of_kind(&rec, "smtp_session")[0];
    assert_eq!(sum["not_smtp"], true);
    assert_eq!(sum["commands"], 0);
}

#[test]
fn auth_credentials_never_appear_in_any_record() {
    // AUTH PLAIN with an initial response (refused), then AUTH LOGIN with username and
    // password lines (accepted), then a transaction.
    const PLAIN: &str = "AHpvcnJvAHMzY3IzdC1wbGFpbg=="; // \0zorro\0s3cr3t-plain
    const USER: &str = "em9ycm8="; // zorro
    const PASSWORD: &str = "aHVudGVyMg=="; // hunter2
    let auth_plain = format!("AUTH PLAIN {PLAIN}\r\n");
    let user = format!("{USER}\r\n");
    let password = format!("{PASSWORD}\r\n");
    let s = session(9, 587);
    let rec = run(
        "",
        &s,
        &[
            (S, GREETING),
            (C, EHLO),
            (S, b"250-mx.example.org\r\n250 AUTH PLAIN LOGIN\r\n"),
            (C, auth_plain.as_bytes()),
            (S, b"535 5.7.8 authentication failed\r\n"),
            (C, b"AUTH LOGIN\r\n"),
            (S, b"334 VXNlcm5hbWU6\r\n"),
            (C, user.as_bytes()),
            (S, b"334 UGFzc3dvcmQ6\r\n"),
            (C, password.as_bytes()),
            (S, b"235 2.7.0 accepted\r\n"),
            (C, b"MAIL FROM:<alice@example.com>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"221 bye\r\n"),
        ],
    );
    let all: Vec<serde_json::Value> = rec.records.iter().map(to_json).collect();
    assert_eq!(all.len(), 2);
    let text = serde_json::to_string(&all).unwrap();
    for secret in [
        PLAIN,
        USER,
        PASSWORD,
        "zorro",
        "s3cr3t",
        "hunter2",
        // A prefix survives a cut or a different padding.
        &PLAIN[..12],
        &PASSWORD[..8],
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // Also no trace in the records' debug form (raw fields, before JSON).
    let debug = format!("{:?}", rec.records);
    assert!(!debug.contains(PASSWORD) && !debug.contains(PLAIN));
    // The mechanism is reported, and the outcome of the last AUTH.
    for r in &all {
        assert_eq!(r["auth_mechanism"], "LOGIN", "{r}");
        assert_eq!(r["auth_success"], true, "{r}");
    }
    // Credential lines are not commands: EHLO, 2 × AUTH, MAIL, QUIT.
    assert_eq!(all[1]["commands"], 5);
    assert_eq!(all[0]["mail_from"], "alice@example.com");
}

#[test]
fn pipelined_commands_pair_with_their_replies_in_order() {
    let s = session(10, 25);
    let rec = run(
        "",
        &s,
        &[
            (S, GREETING),
            (C, EHLO),
            (S, EHLO_REPLY),
            (
                C,
                b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<a@example.net>\r\n\
RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n",
            ),
            (
                S,
                b"250 sender ok\r\n250 a ok\r\n450 b later\r\n550-c unknown\r\n550 c really\r\n\
354 go\r\n",
            ),
            (C, b"Subject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n"),
            (S, b"250 queued\r\n221 bye\r\n"),
        ],
    );
    let m = &of_kind(&rec, "smtp")[0];
    assert_eq!(m["mail_from_code"], 250);
    assert_eq!(
        m["rcpt_to"],
        serde_json::json!([
            {"address": "a@example.net", "code": 250},
            {"address": "b@example.net", "code": 450},
            {"address": "c@example.net", "code": 550}
        ])
    );
    assert_eq!(m["subject"], "piped");
    assert_eq!(m["last_reply_code"], 250);
    assert_eq!(m["last_reply_text"], "queued");
    let sum = &of_kind(&rec, "smtp_session")[0];
    // A multi-line reply counts once.
    assert_eq!(sum["replies"], 9);
    assert_eq!(sum["unmatched_replies"], 0);
    assert_eq!(sum["last_reply_code"], 221);
}

#[test]
fn bdat_chunks_make_one_message() {
    let s = session(11, 25);
    let msg = b"Subject: chunked\r\n\r\nfirst part, second part\r\n";
    let (a, b) = msg.split_at(25);
    let bdat1 = format!("BDAT {}\r\n", a.len());
    let bdat2 = format!("BDAT {} LAST\r\n", b.len());
    let mut second = bdat2.into_bytes();
    second.extend_from_slice(b);
    let mut first = bdat1.into_bytes();
    first.extend_from_slice(a);
    let mut parts = script(&[
        (S, GREETING),
        (C, EHLO),
        (S, EHLO_REPLY),
        (
            C,
            b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\n",
        ),
        (S, b"250 ok\r\n250 ok\r\n"),
        (C, &first),
        (S, b"250 2.0.0 chunk ok\r\n"),
        (C, &second),
        (S, b"250 2.0.0 message ok\r\n"),
    ]);
    // The last chunk arrives in two pieces, cut inside the BDAT line.
    let last = parts.iter_mut().find(|p| p.chunks[0] == second).unwrap();
    last.chunks = vec![&second[..6], &second[6..]];
    let rec = run_parts("hash_messages = true", &s, &parts);
    let msgs = of_kind(&rec, "smtp");
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m["chunked"], true);
    assert_eq!(m["size"], msg.len() as u64);
    assert_eq!(m["wire_size"], msg.len() as u64);
    assert_eq!(m["subject"], "chunked");
    assert_eq!(m["last_reply_text"], "2.0.0 message ok");
    let want: String = Sha256::digest(msg)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(m["sha256"], want.as_str());
}

#[test]
fn starttls_marks_the_session_and_nothing_after_it_is_parsed_but_bytes_are_counted() {
    let s = session(12, 25);
    let hello: &[u8] = b"\x16\x03\x01\x00\x30\x01\x00\x00\x2cMAIL FROM:<hidden@example.com>\r\n";
    let lines: Vec<(Direction, &[u8])> = vec![
        (S, GREETING),
        (C, EHLO),
        (S, b"250-mx.example.org\r\n250 STARTTLS\r\n"),
        (C, b"STARTTLS\r\n"),
        (S, b"220 2.0.0 Ready to start TLS\r\n"),
        (C, hello),
        (S, b"\x16\x03\x03\x00\x5d\x02\x00\x00\x59"),
        // Encrypted in reality; were it parsed, it would make a transaction.
        (
            C,
            b"MAIL FROM:<plain@example.com>\r\nRCPT TO:<x@example.net>\r\n",
        ),
        (S, b"250 ok\r\n250 ok\r\n"),
    ];
    let rec = run("", &s, &lines);
    assert!(of_kind(&rec, "smtp").is_empty(), "{:?}", rec.records);
    let sum = &of_kind(&rec, "smtp_session")[0];
    assert_eq!(sum["tls"], true);
    assert_eq!(sum["not_smtp"], false);
    assert_eq!(sum["commands"], 2);
    assert_eq!(sum["last_reply_text"], "2.0.0 Ready to start TLS");
    let bytes = |d: Direction| -> u64 {
        lines
            .iter()
            .filter(|(dir, _)| *dir == d)
            .map(|(_, b)| b.len() as u64)
            .sum()
    };
    // The encrypted rest is counted, not parsed.
    assert_eq!(sum["client_bytes"], bytes(C));
    assert_eq!(sum["server_bytes"], bytes(S));
}

#[test]
fn mime_parsing_and_limits_follow_the_settings() {
    let s = session(13, 25);
    // Headers not read: sizes only.
    let rec = run("parse_mime = false", &s, &conversation());
    let m = &of_kind(&rec, "smtp")[0];
    assert_eq!(m["subject"], serde_json::Value::Null);
    assert_eq!(m["to"], serde_json::json!([]));
    assert_eq!(m["size"], unstuffed().len() as u64);
    // Lines longer than max_line are skipped and flagged.
    let rec = run("max_line = 16", &s, &conversation());
    let sum = &of_kind(&rec, "smtp_session")[0];
    assert_eq!(sum["line_too_long"], true);
    let rec = run("", &s, &conversation());
    assert_eq!(of_kind(&rec, "smtp_session")[0]["line_too_long"], false);
    // A header block larger than max_header_block is cut for parsing (and flagged).
    let rec = run("max_header_block = 64", &s, &conversation());
    let m = &of_kind(&rec, "smtp")[0];
    assert_eq!(m["message_truncated_for_parsing"], true);
    assert_eq!(m["size"], unstuffed().len() as u64);
    // Its former name is still accepted.
    let rec = run("max_message_parse = 64", &s, &conversation());
    assert_eq!(
        of_kind(&rec, "smtp")[0]["message_truncated_for_parsing"],
        true
    );
}

#[test]
fn extraction_hands_the_unstuffed_message_to_the_host_as_an_eml_file() {
    let s = session(14, 25);
    let rec = run("extract = true", &s, &conversation());
    let saved = rec.artifacts.as_ref().unwrap();
    assert_eq!(saved.len(), 1);
    let (name, bytes) = &saved[0];
    assert_eq!(name, "1-Quarterly report.eml");
    assert_eq!(bytes, &unstuffed());
    let m = &of_kind(&rec, "smtp")[0];
    assert_eq!(m["file"], "artifacts/1-Quarterly report.eml");
    assert_eq!(m["extract_truncated"], false);

    // Cut at max_extract, and flagged.
    let rec = run("extract = true\nmax_extract = 20", &s, &conversation());
    let saved = rec.artifacts.as_ref().unwrap();
    assert_eq!(saved[0].1, unstuffed()[..20]);
    assert_eq!(of_kind(&rec, "smtp")[0]["extract_truncated"], true);

    // Not extracted without `extract`.
    let rec = run("", &s, &conversation());
    assert!(rec.artifacts.as_ref().unwrap().is_empty());

    // The host saves nothing (no --extract-dir): one warning, records without a file.
    let mut h = smtp("extract = true");
    let mut rec = Recorder::default();
    rec.with_context(|ctx| {
        for p in script(&conversation()) {
            deliver(&mut h, ctx, &s, &p);
        }
        end(&mut h, ctx, &s);
    });
    let m = &of_kind(&rec, "smtp")[0];
    assert!(m.get("file").is_none());
    assert_eq!(m["subject"], "Quarterly report");
    assert_eq!(rec.logs.len(), 1, "{:?}", rec.logs);
    assert!(
        rec.logs
            .iter()
            .all(|(level, text)| *level == LogLevel::WARN
                && text.contains("this run saves no files")),
        "{:?}",
        rec.logs
    );
}

#[test]
fn bad_configurations_are_rejected_with_their_key() {
    for (text, key) in [
        ("max_lines = 100", "max_lines"),
        ("ports = \"25\"", "ports"),
        ("ports = [25, 70000]", "ports"),
        ("extract = \"yes\"", "extract"),
        ("hash_messages = true\nmax_extract = -1", "max_extract"),
    ] {
        let e = Smtp::new(Config { text }).err().unwrap();
        assert_eq!(e.key.as_str(), key, "{text}: {}", e.message);
    }
    // Through the plugin ABI, as the host creates it.
    let e = instantiate::<Smtp>("parse_mime = 3").err().unwrap();
    assert_eq!(e.key.as_str(), "parse_mime");
    assert!(instantiate::<Smtp>("").is_ok());
    assert!(instantiate::<Smtp>(
        "ports = [25, 2600]\nmax_line = 1000\nparse_mime = true\nmax_header_block = 4096\n\
hash_messages = true\nextract = true\nmax_extract = 1024"
    )
    .is_ok());
}

#[test]
fn the_plugin_describes_itself() {
    let info = Smtp::info();
    assert_eq!(info.name, "smtp");
    assert_eq!(info.records, ["smtp", "smtp_session"]);
    assert!(
        info.default_ports.is_empty(),
        "sessions are picked by content"
    );
    assert_eq!(
        info.consumes,
        [events::TCP_MONOLOGUE, events::TCP_SESSION_END]
    );
}
