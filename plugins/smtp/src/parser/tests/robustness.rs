//! Tests of hostile and incomplete input: one-sided captures, gaps in the command stream,
//! over-long lines, random bytes.

use super::*;
use crate::parser::fuzz_parse;
use netan_plugin_api::testing::XorShift as Rng;

#[test]
fn one_sided_capture_with_server_gaps_still_reports_envelope_and_subject() {
    let outcome = run(&[
        GapS(35),
        C(EHLO),
        GapS(50),
        C(MAIL),
        GapS(8),
        C(RCPT1),
        GapS(8),
        C(RCPT2),
        GapS(8),
        C(DATA),
        GapS(37),
        C(BODY),
        C(END),
        GapS(24),
        C(QUIT),
        GapS(9),
    ]);
    let message = single(&outcome);
    assert_eq!(message.mail_from.as_deref(), Some("albert@example.com"));
    assert_eq!(
        addresses(message),
        vec![
            ("ericlim220@yahoo.com", None),
            ("felica4uu@hotmail.com", None)
        ]
    );
    assert_eq!(message.subject.as_deref(), Some("Re: Bro SMTP CC Header"));
    assert_eq!(message.size, BODY.len() as u64);
    assert_eq!(message.sha256, Some(sha256_hex(BODY)));
    assert_eq!(message.last_reply_code, None);
    assert!(message.flags.gap);
    assert_eq!(outcome.summary.server_gap_bytes, 179);
}

#[test]
fn client_only_capture_without_gap_events_still_reports_everything() {
    let outcome = run(&[
        C(EHLO),
        C(MAIL),
        C(RCPT1),
        C(DATA),
        C(BODY),
        C(END),
        C(b"MAIL FROM:<second@x.org>\r\nRCPT TO:<z@y.org>\r\nDATA\r\nSubject: two\r\n\r\n.\r\n"),
        C(QUIT),
    ]);
    assert_eq!(outcome.messages.len(), 2);
    assert_eq!(
        outcome.messages[0].subject.as_deref(),
        Some("Re: Bro SMTP CC Header")
    );
    assert_eq!(
        outcome.messages[1].mail_from.as_deref(),
        Some("second@x.org")
    );
    assert_eq!(outcome.messages[1].subject.as_deref(), Some("two"));
}

#[test]
fn server_only_capture_reports_summary_without_inventing_transactions() {
    let outcome = run(&[
        S(GREETING),
        GapC(24),
        S(EHLO_REPLY),
        GapC(32),
        S(OK),
        GapC(6),
        S(GO_AHEAD),
        GapC(500),
        S(QUEUED),
    ]);
    assert!(outcome.messages.is_empty());
    assert_eq!(outcome.summary.greeting_code, Some(220));
    assert!(outcome.summary.unmatched_replies >= 3);
    assert!(!outcome.summary.flags.not_smtp);
}

#[test]
fn gap_in_command_stream_resynchronises_at_next_line() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<lost"),
        GapC(20),
        C(b"rest of lost line\r\nRCPT TO:<kept@y.org>\r\n"),
        S(b"250 ok\r\n250 ok\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(message.mail_from.as_deref(), Some("a@x.org"));
    assert_eq!(addresses(message), vec![("kept@y.org", Some(250))]);
    assert!(message.flags.gap);
}

#[test]
fn gap_ending_on_a_command_boundary_keeps_the_next_command() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\n"),
        GapC(21),
        C(b"RCPT TO:<kept@y.org>\r\n"),
        S(b"250 ok\r\n250 ok\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(addresses(message), vec![("kept@y.org", Some(250))]);
}

#[test]
fn lost_data_command_is_recovered_from_the_354_reply() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\n"),
        S(b"250 ok\r\n250 ok\r\n"),
        GapC(6),
        S(GO_AHEAD),
        C(b"Subject: found\r\n\r\nbody\r\n.\r\n"),
        S(QUEUED),
    ]);
    let message = single(&outcome);
    assert_eq!(message.subject.as_deref(), Some("found"));
    assert!(message.flags.gap);
    assert_eq!(message.last_reply_code, Some(250));
}

#[test]
fn server_gap_gives_up_pending_replies_and_pairs_later_ones() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\n"),
        GapS(16),
        C(b"RCPT TO:<c@y.org>\r\n"),
        S(b"250 c ok\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(message.mail_from_code, None);
    assert_eq!(
        addresses(message),
        vec![("b@y.org", None), ("c@y.org", Some(250))]
    );
    assert!(message.flags.gap);
}

#[test]
fn too_long_command_line_is_flagged_and_skipped() {
    let mut long = b"RCPT TO:<".to_vec();
    long.extend(std::iter::repeat_n(b'a', 5000));
    long.extend_from_slice(b"@y.org>\r\nRCPT TO:<short@y.org>\r\n");
    let long: &'static [u8] = long.leak();
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\n"),
        S(OK),
        C(long),
        S(b"500 line too long\r\n250 ok\r\n"),
    ]);
    let message = single(&outcome);
    assert!(message.flags.line_too_long);
    assert!(outcome.summary.flags.line_too_long);
    assert_eq!(addresses(message), vec![("short@y.org", Some(250))]);
    assert_eq!(message.last_reply_code, Some(250));
}

#[test]
fn too_long_reply_line_still_answers_its_command() {
    let mut reply = b"250 ".to_vec();
    reply.extend(std::iter::repeat_n(b'x', 9000));
    reply.extend_from_slice(b"\r\n");
    let reply: &'static [u8] = reply.leak();
    let config = SmtpConfig {
        max_reply_text: 16,
        ..config()
    };
    let outcome = run_with(
        config,
        &[S(GREETING), C(b"MAIL FROM:<a@x.org>\r\n"), S(reply)],
    );
    let message = single(&outcome);
    assert_eq!(message.mail_from_code, Some(250));
    assert_eq!(message.last_reply_text.as_deref(), Some("xxxxxxxxxxxxxxxx"));
    assert!(outcome.summary.flags.line_too_long);
}

#[test]
fn session_can_move_between_threads() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Session>();
    assert_send::<Message>();
}

#[test]
fn end_is_idempotent_and_later_input_is_ignored() {
    let mut session = Session::new(Arc::new(config()));
    session.data(Direction::ClientToServer, b"MAIL FROM:<a@x.org>\r\n", 1);
    session.end(2);
    session.end(3);
    session.data(Direction::ClientToServer, b"MAIL FROM:<b@x.org>\r\n", 4);
    session.gap(Direction::ServerToClient, 10, 5);
    assert_eq!(session.take_messages().len(), 1);
    assert!(session.take_messages().is_empty());
    assert!(!session.is_parsing());
    assert_eq!(session.summary().ts_last, Some(2));
}

#[test]
fn last_line_without_line_feed_is_read_at_the_end() {
    let outcome = run(&[S(GREETING), C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>")]);
    assert_eq!(addresses(single(&outcome)), vec![("b@y.org", None)]);
}

/// Random bytes, biased towards SMTP's alphabet so that the interesting states are reached.
fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: [&[u8]; 16] = [
        b"\r\n",
        b"\n",
        b".\r\n",
        b"..",
        b"MAIL FROM:<a@b>",
        b"RCPT TO:<c@d>",
        b"DATA\r\n",
        b"BDAT 7",
        b" LAST\r\n",
        b"AUTH LOGIN\r\n",
        b"STARTTLS\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
        b"250-x\r\n",
        b"334 \r\n",
        b"220 hi\r\n",
    ];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        match rng.below(4) {
            0 => out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize]),
            1 => out.push(rng.next_u64() as u8),
            _ => {
                const ALPHABET: &[u8] = b"abc.:<>@ \r\n0123456789";
                out.push(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]);
            }
        }
    }
    out
}

#[test]
fn random_bytes_with_random_splits_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..300 {
        let small = round % 2 == 1;
        let config = if small {
            SmtpConfig {
                max_line: 12,
                max_reply_text: 4,
                max_header_block: 40,
                extract: true,
                max_extract: 20,
                max_recipients: 1,
                max_pending: 2,
                ..config()
            }
        } else {
            config()
        };
        let mut session = Session::new(Arc::new(config));
        // Start most rounds like a real session so parsing goes past the first line.
        if round % 3 != 0 {
            session.data(Direction::ServerToClient, GREETING, 0);
            session.data(Direction::ClientToServer, b"EHLO x\r\n", 0);
        }
        for ts in 0..40 {
            let dir = if rng.below(2) == 0 {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            if rng.below(10) == 0 {
                session.gap(dir, rng.below(5000), ts);
            } else {
                let len = rng.below(300) as usize;
                let bytes = random_bytes(&mut rng, len);
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let cut = (rng.below(40) as usize + 1).min(rest.len());
                    session.data(dir, &rest[..cut], ts);
                    rest = &rest[cut..];
                }
            }
            let _ = session.take_messages();
        }
        session.end(1000);
        for message in session.take_messages() {
            assert!(message.size <= message.wire_size || message.chunked || message.flags.gap);
        }
    }
}

#[test]
fn fuzz_entry_point_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    fuzz_parse(&[]);
    fuzz_parse(&[1]);
    for _ in 0..300 {
        let len = rng.below(2000) as usize;
        let bytes = random_bytes(&mut rng, len);
        fuzz_parse(&bytes);
    }
    let mut script = vec![0u8, 0, 0, 0];
    for step in simple_session() {
        if let C(bytes) | S(bytes) = step {
            script.extend_from_slice(bytes);
        }
    }
    fuzz_parse(&script);
}

#[test]
fn lost_bdat_command_does_not_turn_its_chunk_into_commands() {
    // zeek-smtp-bdat-multipart-chunked.pcap with one "BDAT 129" segment lost: the chunk's
    // lines are not queued as commands, so later replies still pair correctly.
    let outcome = run(&[
        C(b"MAIL FROM:<zeek@localhost>\r\nRCPT TO:<root@localhost>\r\n"),
        S(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
        C(b"BDAT 20\r\n"),
        C(b"Subject: Zeek Logo\r\n"),
        S(b"250 2.0.0 Ok: 20 bytes\r\n"),
        GapC(10),
        C(b"\r\nThis is Zeek's logo.\r\n--000000000000d45a4a060c52a952\r\nContent-Type: image/png; na"),
        S(b"250 2.0.0 Ok: 129 bytes\r\n"),
        C(b"BDAT 4 LAST\r\n"),
        C(b"end\n"),
        S(b"250 2.0.0 Ok: 153 bytes queued as E4F471CA025\r\n"),
        C(QUIT),
        S(BYE),
    ]);
    let message = single(&outcome);
    assert_eq!(message.subject.as_deref(), Some("Zeek Logo"));
    assert!(message.flags.gap && !message.flags.truncated);
    assert_eq!(message.sha256, None);
    assert_eq!(message.size, 24);
    assert_eq!(
        message.last_reply_text.as_deref(),
        Some("2.0.0 Ok: 153 bytes queued as E4F471CA025")
    );
    assert_eq!(outcome.summary.commands, 5);
    assert_eq!(outcome.summary.unmatched_replies, 1);
}

#[test]
fn data_command_and_content_lost_together_end_at_the_final_reply() {
    // sv-smtp-pipelining.pcap with the client's only segment lost.
    let outcome = run(&[
        S(b"220 Air-de-catena.localdomain ESMTP Postfix\r\n"),
        C(b"EHLO ehlo.fr\r\n"),
        S(b"250-Air-de-catena.localdomain\r\n250 SMTPUTF8\r\n"),
        GapC(90),
        S(
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n\
250 2.0.0 Ok: queued as BCB022014FB060\r\n",
        ),
    ]);
    let message = single(&outcome);
    assert!(message.flags.gap);
    assert!(!message.flags.truncated && !message.flags.bad_sequence);
    assert_eq!(message.last_reply_code, Some(250));
    assert_eq!(message.sha256, None);
    assert_eq!(outcome.summary.unmatched_replies, 2);
}
