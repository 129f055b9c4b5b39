//! Unit tests for the SMTP parser: scripted sessions built from short excerpts of real
//! captures, fed in one piece, split, byte by byte, with gaps, and as random bytes.

use std::sync::Arc;

use netan_plugin_api::Direction;

use super::{Message, Session, SessionSummary, SmtpConfig};

mod content;
mod decoding;
mod differential;
mod envelope;
mod oracle;
mod pieces;
mod robustness;
mod security;
mod streaming;

/// One event of a scripted session.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    /// Client bytes.
    C(&'a [u8]),
    /// Server bytes.
    S(&'a [u8]),
    /// Client bytes never captured.
    GapC(u64),
    /// Server bytes never captured.
    GapS(u64),
}

use Step::{GapC, GapS, C, S};

/// What a finished session produced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    messages: Vec<Message>,
    summary: SessionSummary,
}

/// The configuration of the scripted tests: the defaults, with message hashing on (it is off by
/// default) so that message hashes are checked too.
fn config() -> SmtpConfig {
    SmtpConfig {
        hash_messages: true,
        ..SmtpConfig::default()
    }
}

/// Runs a script with [`config`], each step in one piece; step `i` has timestamp
/// `(i + 1) * 1000`, and the end comes at `1_000_000`.
fn run(steps: &[Step<'_>]) -> Outcome {
    run_with(config(), steps)
}

fn run_with(config: SmtpConfig, steps: &[Step<'_>]) -> Outcome {
    run_split(config, steps, |bytes| vec![bytes])
}

/// Runs a script, cutting each data step into pieces with `split`.
fn run_split<'a>(
    config: SmtpConfig,
    steps: &[Step<'a>],
    split: impl Fn(&'a [u8]) -> Vec<&'a [u8]>,
) -> Outcome {
    let mut session = Session::new(Arc::new(config));
    let mut messages = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let ts = (index as u64 + 1) * 1000;
        match *step {
            C(bytes) => {
                for piece in split(bytes) {
                    session.data(Direction::ClientToServer, piece, ts);
                }
            }
            S(bytes) => {
                for piece in split(bytes) {
                    session.data(Direction::ServerToClient, piece, ts);
                }
            }
            GapC(len) => session.gap(Direction::ClientToServer, len, ts),
            GapS(len) => session.gap(Direction::ServerToClient, len, ts),
        }
        messages.extend(session.take_messages());
    }
    session.end(1_000_000);
    messages.extend(session.take_messages());
    Outcome {
        messages,
        summary: session.summary().clone(),
    }
}

/// Runs a script feeding every byte on its own.
fn run_bytewise(steps: &[Step<'_>]) -> Outcome {
    run_split(config(), steps, |bytes| bytes.chunks(1).collect())
}

/// The only message of an outcome.
fn single(outcome: &Outcome) -> &Message {
    assert_eq!(outcome.messages.len(), 1, "{:#?}", outcome.messages);
    &outcome.messages[0]
}

fn addresses(message: &Message) -> Vec<(&str, Option<u16>)> {
    message
        .rcpt_to
        .iter()
        .map(|rcpt| (rcpt.address.as_str(), rcpt.code))
        .collect()
}

/// SHA-256 in hex, for expected values.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    super::content::hex(&sha2::Sha256::digest(bytes))
}

// A session modelled on zeek-smtp.pcap (the SubEthaSMTP one), shortened.
const GREETING: &[u8] = b"220 uprise ESMTP SubEthaSMTP null\r\n";
const EHLO: &[u8] = b"EHLO [192.168.133.100]\r\n";
const EHLO_REPLY: &[u8] = b"250-uprise\r\n250-8BITMIME\r\n250-AUTH LOGIN\r\n250 Ok\r\n";
const MAIL: &[u8] = b"MAIL FROM:<albert@example.com>\r\n";
const RCPT1: &[u8] = b"RCPT TO:<ericlim220@yahoo.com>\r\n";
const RCPT2: &[u8] = b"RCPT TO:<felica4uu@hotmail.com>\r\n";
const OK: &[u8] = b"250 Ok\r\n";
const DATA: &[u8] = b"DATA\r\n";
const GO_AHEAD: &[u8] = b"354 End data with <CR><LF>.<CR><LF>\r\n";
const BODY: &[u8] = b"Content-Type: text/plain; charset=us-ascii\r\n\
Mime-Version: 1.0 (Mac OS X Mail 8.2 \\(2102\\))\r\n\
Subject: Re: Bro SMTP CC Header\r\n\
From: Albert Zaharovits <albert@example.com>\r\n\
In-Reply-To: <9ACEE03C-AB98-4046-AEC1-BF4910C61E96@example.com>\r\n\
Date: Sat, 25 Jul 2015 16:43:07 +0300\r\n\
Cc: felica4uu@hotmail.com,\r\n davis_mark1@outlook.com\r\n\
Content-Transfer-Encoding: 7bit\r\n\
Message-Id: <A6202DF2-8E58-4E41-BE0B-C8D3989A4AEE@example.com>\r\n\
To: ericlim220@yahoo.com\r\n\
X-Mailer: Apple Mail (2.2102)\r\n\
\r\n\
\r\n\
> Bro SMTP CC Header\r\n\
> TEST\r\n";
const END: &[u8] = b".\r\n";
const QUEUED: &[u8] = b"250 Ok: queued as 1234\r\n";
const QUIT: &[u8] = b"QUIT\r\n";
const BYE: &[u8] = b"221 Bye\r\n";

/// The whole simple session: one message, two recipients.
fn simple_session() -> Vec<Step<'static>> {
    vec![
        S(GREETING),
        C(EHLO),
        S(EHLO_REPLY),
        C(MAIL),
        S(OK),
        C(RCPT1),
        S(OK),
        C(RCPT2),
        S(OK),
        C(DATA),
        S(GO_AHEAD),
        C(BODY),
        C(END),
        S(QUEUED),
        C(QUIT),
        S(BYE),
    ]
}

/// Every input under `fuzz/corpus/smtp/` (seeds, and inputs a fuzzer kept) through the fuzz
/// entry point, which checks the parser's invariants.
#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/smtp");
    let inputs = netan_plugin_api::testing::replay_corpus(&dir, super::fuzz_parse);
    assert!(inputs >= 5, "{inputs} inputs in {}", dir.display());
}
