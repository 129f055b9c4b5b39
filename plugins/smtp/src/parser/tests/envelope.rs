//! Tests of the envelope: commands paired with replies, transactions, summary.

use super::*;
use crate::parser::command::{parse_command, path_address, Command};

#[test]
fn simple_session_reports_envelope_headers_and_replies() {
    let outcome = run(&simple_session());
    let message = single(&outcome);
    assert_eq!(message.transaction, 1);
    assert_eq!(message.helo.as_deref(), Some("[192.168.133.100]"));
    assert_eq!(message.mail_from.as_deref(), Some("albert@example.com"));
    assert_eq!(
        message.mail_from_raw.as_deref(),
        Some("FROM:<albert@example.com>")
    );
    assert_eq!(message.mail_from_code, Some(250));
    assert_eq!(
        addresses(message),
        vec![
            ("ericlim220@yahoo.com", Some(250)),
            ("felica4uu@hotmail.com", Some(250))
        ]
    );
    assert_eq!(message.subject.as_deref(), Some("Re: Bro SMTP CC Header"));
    assert_eq!(
        message.from.as_deref(),
        Some("Albert Zaharovits <albert@example.com>")
    );
    assert_eq!(message.to, vec!["ericlim220@yahoo.com".to_owned()]);
    assert_eq!(
        message.cc,
        vec![
            "felica4uu@hotmail.com".to_owned(),
            "davis_mark1@outlook.com".to_owned()
        ]
    );
    assert_eq!(
        message.date.as_deref(),
        Some("Sat, 25 Jul 2015 16:43:07 +0300")
    );
    assert_eq!(
        message.message_id.as_deref(),
        Some("<A6202DF2-8E58-4E41-BE0B-C8D3989A4AEE@example.com>")
    );
    assert_eq!(
        message.in_reply_to.as_deref(),
        Some("<9ACEE03C-AB98-4046-AEC1-BF4910C61E96@example.com>")
    );
    assert_eq!(message.user_agent.as_deref(), Some("Apple Mail (2.2102)"));
    assert!(message.has_content && !message.chunked);
    assert_eq!(message.size, BODY.len() as u64);
    assert_eq!(message.wire_size, BODY.len() as u64);
    assert_eq!(message.sha256, Some(sha256_hex(BODY)));
    assert!(message.attachments.is_empty());
    assert_eq!(message.last_reply_code, Some(250));
    assert_eq!(
        message.last_reply_text.as_deref(),
        Some("Ok: queued as 1234")
    );
    assert_eq!(
        (message.ts_start, message.ts_data, message.ts_end),
        (4000, Some(11000), 14000)
    );
    assert!(!message.flags.any(), "{:?}", message.flags);
    assert!(message.content.is_none());
    assert!(!message.tls);

    let summary = &outcome.summary;
    assert_eq!(summary.greeting_code, Some(220));
    assert_eq!(
        summary.greeting.as_deref(),
        Some("uprise ESMTP SubEthaSMTP null")
    );
    assert_eq!(summary.capabilities, vec!["8BITMIME", "AUTH LOGIN", "Ok"]);
    assert_eq!(summary.transactions, 1);
    assert_eq!(summary.commands, 6);
    assert_eq!(summary.replies, 8);
    assert_eq!(summary.unmatched_replies, 0);
    assert_eq!(summary.last_reply_code, Some(221));
    assert!(!summary.flags.any());
}

#[test]
fn pipelined_group_in_one_piece_pairs_each_reply() {
    // sv-smtp-pipelining.pcap: the client does not even wait for 354 before the content.
    let outcome = run(&[
        S(b"220 Air-de-catena.localdomain ESMTP Postfix\r\n"),
        C(b"EHLO ehlo.fr\r\n"),
        S(b"250-Air-de-catena.localdomain\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n"),
        C(
            b"MAIL FROM:<username@domain.com>\r\nRCPT TO:<john.doe@example.com>\r\n\
RCPT TO:<jane@example.com>\r\nDATA\r\nThis is a test\r\n.\r\n",
        ),
        S(
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n\
354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as BCB022014FB060\r\n",
        ),
    ]);
    let message = single(&outcome);
    assert_eq!(message.mail_from.as_deref(), Some("username@domain.com"));
    assert_eq!(
        addresses(message),
        vec![
            ("john.doe@example.com", Some(250)),
            ("jane@example.com", Some(550))
        ]
    );
    assert_eq!(message.size, b"This is a test\r\n".len() as u64);
    assert_eq!(message.last_reply_code, Some(250));
    assert_eq!(
        message.last_reply_text.as_deref(),
        Some("2.0.0 Ok: queued as BCB022014FB060")
    );
    assert!(!message.flags.any());
}

#[test]
fn pipelined_replies_split_before_the_content_still_pair() {
    // Replies to MAIL/RCPT/DATA arrive after the client already started the content.
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(b".\r\nQUIT\r\n"),
        S(b"250 queued\r\n221 bye\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(addresses(message), vec![("b@y.org", Some(250))]);
    assert_eq!(message.subject.as_deref(), Some("s"));
    assert_eq!(message.last_reply_text.as_deref(), Some("queued"));
}

#[test]
fn multi_line_reply_split_across_pieces_counts_once() {
    let outcome = run_split(
        config(),
        &[
            S(b"220-xc90.websitewelcome.com ESMTP Exim 4.69\r\n220-We do not authorize\r\n220 bulk e-mail.\r\n"),
            C(b"EHLO GP\r\n"),
            S(b"250-xc90 Hello GP\r\n250-SIZE 52428800\r\n250-PIPELINING\r\n250 HELP\r\n"),
            C(b"MAIL FROM: <gurpartap@patriots.in>\r\n"),
            S(b"250 OK\r\n"),
        ],
        |bytes| {
            // Cut inside the code, inside the separator and inside the CRLF.
            let cuts = [2usize, 4, 17, 18, 19, 33];
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in cuts {
                if cut < bytes.len() && cut > from {
                    pieces.push(&bytes[from..cut]);
                    from = cut;
                }
            }
            pieces.push(&bytes[from..]);
            pieces
        },
    );
    let summary = &outcome.summary;
    assert_eq!(summary.greeting_code, Some(220));
    assert_eq!(
        summary.greeting.as_deref(),
        Some("xc90.websitewelcome.com ESMTP Exim 4.69")
    );
    assert_eq!(summary.replies, 3);
    assert_eq!(
        summary.capabilities,
        vec!["SIZE 52428800", "PIPELINING", "HELP"]
    );
    let message = single(&outcome);
    assert_eq!(message.mail_from.as_deref(), Some("gurpartap@patriots.in"));
    assert_eq!(message.mail_from_code, Some(250));
}

#[test]
fn two_transactions_in_one_session_are_reported_in_order() {
    let outcome = run(&[
        S(GREETING),
        C(b"HELO client\r\n"),
        S(b"250 hello\r\n"),
        C(b"MAIL FROM:<one@x.org>\r\n"),
        S(OK),
        C(b"RCPT TO:<a@y.org>\r\n"),
        S(OK),
        C(DATA),
        S(GO_AHEAD),
        C(b"Subject: first\r\n\r\n1\r\n.\r\n"),
        S(QUEUED),
        C(b"MAIL FROM:<two@x.org>\r\n"),
        S(OK),
        C(b"RCPT TO:<b@y.org>\r\n"),
        S(OK),
        C(DATA),
        S(GO_AHEAD),
        C(b"Subject: second\r\n\r\n2\r\n.\r\n"),
        S(QUEUED),
        C(QUIT),
        S(BYE),
    ]);
    let subjects: Vec<_> = outcome
        .messages
        .iter()
        .map(|message| {
            (
                message.transaction,
                message.mail_from.as_deref(),
                message.subject.as_deref(),
                message.helo.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        subjects,
        vec![
            (1, Some("one@x.org"), Some("first"), Some("client")),
            (2, Some("two@x.org"), Some("second"), Some("client"))
        ]
    );
    assert_eq!(outcome.summary.transactions, 2);
}

#[test]
fn rset_mid_transaction_reports_it_reset_and_next_starts_fresh() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\n"),
        S(OK),
        C(b"RCPT TO:<b@y.org>\r\n"),
        S(OK),
        C(b"RSET\r\n"),
        S(b"250 2.0.0 Ok\r\n"),
        C(b"MAIL FROM:<c@x.org>\r\nRCPT TO:<d@y.org>\r\n"),
        S(b"250 ok\r\n250 ok\r\n"),
        C(b"BDAT 13 LAST\r\n"),
        C(b"Message Two\r\n"),
        S(b"250 2.0.0 Ok: 13 bytes queued\r\n"),
    ]);
    assert_eq!(outcome.messages.len(), 2);
    let reset = &outcome.messages[0];
    assert_eq!(reset.mail_from.as_deref(), Some("a@x.org"));
    assert!(reset.flags.reset);
    assert!(!reset.has_content && !reset.flags.truncated);
    let second = &outcome.messages[1];
    assert_eq!(second.mail_from.as_deref(), Some("c@x.org"));
    assert_eq!(addresses(second), vec![("d@y.org", Some(250))]);
    assert!(!second.flags.reset);
    assert_eq!(second.size, 13);
}

#[test]
fn rset_without_transaction_reports_nothing() {
    let outcome = run(&[
        S(GREETING),
        C(b"EHLO x\r\n"),
        S(b"250 x\r\n"),
        C(b"RSET\r\n"),
        S(OK),
        C(QUIT),
        S(BYE),
    ]);
    assert!(outcome.messages.is_empty());
    assert_eq!(outcome.summary.helo.as_deref(), Some("x"));
    assert_eq!(outcome.summary.commands, 3);
}

#[test]
fn rcpt_before_mail_is_reported_with_bad_sequence() {
    // zeek-smtp-mail-transactions-invalid.pcap: RCPT without MAIL, DATA refused, then the
    // client sends its content lines as commands.
    let outcome = run(&[
        C(b"EHLO Bob-PC\r\n"),
        S(b"220 tinkyx390 ESMTP Exim 4.94.2\r\n250-tinkyx390 Hello\r\n250 HELP\r\n"),
        C(b"RCPT TO:<alice@example.org>\r\n"),
        S(b"503 sender not yet given\r\n"),
        C(DATA),
        S(b"503-All RCPT commands were rejected with this error:\r\n503-503 sender not yet given\r\n503 valid RCPT command must precede DATA\r\n"),
        C(b"Hello, Alice (2)\r\n"),
        S(b"500 unrecognized command\r\n"),
        C(b".\r\n"),
        S(b"500 unrecognized command\r\n"),
        C(b"MAIL FROM:<bob@example.org>\r\n"),
        S(b"250 OK\r\n"),
        C(b"RCPT TO:<alice@example.org>\r\n"),
        S(b"250 Accepted\r\n"),
        C(DATA),
        S(b"354 Enter message, ending with \".\" on a line by itself\r\n"),
        C(b"Hello, Alice... do you still like me?\r\n.\r\n"),
        S(b"250 OK id=1pgobM-001mwq-Vc\r\n"),
    ]);
    assert_eq!(outcome.summary.greeting_code, Some(220));
    assert_eq!(outcome.messages.len(), 2);
    let orphan = &outcome.messages[0];
    assert_eq!(orphan.mail_from, None);
    assert_eq!(addresses(orphan), vec![("alice@example.org", Some(503))]);
    assert!(orphan.flags.bad_sequence);
    assert!(!orphan.has_content);
    assert_eq!(orphan.last_reply_code, Some(503));
    let good = &outcome.messages[1];
    assert_eq!(good.mail_from.as_deref(), Some("bob@example.org"));
    assert_eq!(good.size, 39);
    assert!(!good.flags.bad_sequence);
    assert_eq!(good.last_reply_code, Some(250));
}

#[test]
fn new_mail_from_closes_the_open_transaction() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<bob@example.org>\r\n"),
        S(b"250 OK\r\n"),
        C(b"MAIL FROM:<bob@example.org>\r\n"),
        S(b"503 sender already given\r\n"),
    ]);
    assert_eq!(outcome.messages.len(), 2);
    assert_eq!(outcome.messages[0].mail_from_code, Some(250));
    assert_eq!(outcome.messages[1].mail_from_code, Some(503));
}

#[test]
fn session_without_mail_from_has_only_a_summary() {
    let outcome = run(&[
        S(b"220 mx.google.com ESMTP hf10si4097299icc.190 - gsmtp\r\n"),
        C(b"EHLO openssl.client.net\r\n"),
        S(b"250-mx.google.com at your service\r\n250-SIZE 35882577\r\n250 CHUNKING\r\n"),
        C(QUIT),
        S(b"221 2.0.0 closing connection\r\n"),
    ]);
    assert!(outcome.messages.is_empty());
    let summary = &outcome.summary;
    assert_eq!(summary.helo.as_deref(), Some("openssl.client.net"));
    assert_eq!(summary.capabilities, vec!["SIZE 35882577", "CHUNKING"]);
    assert_eq!(summary.last_reply_code, Some(221));
    assert_eq!(summary.transactions, 0);
}

#[test]
fn missing_greeting_lets_first_reply_answer_first_command() {
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\n"),
        S(b"250 ok\r\n"),
        C(b"RCPT TO:<b@x.org>\r\n"),
        S(b"251 forwarded\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(message.mail_from_code, Some(250));
    assert_eq!(addresses(message), vec![("b@x.org", Some(251))]);
    assert_eq!(outcome.summary.greeting_code, None);
}

#[test]
fn noop_vrfy_help_are_paired_but_ignored() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nNOOP\r\nVRFY postmaster\r\nHELP\r\nRCPT TO:<b@x.org>\r\n"),
        S(b"250 ok\r\n250 noop\r\n252 cannot verify\r\n214-help\r\n214 end\r\n250 rcpt ok\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(message.mail_from_code, Some(250));
    assert_eq!(addresses(message), vec![("b@x.org", Some(250))]);
    assert_eq!(message.last_reply_text.as_deref(), Some("rcpt ok"));
    assert_eq!(outcome.summary.commands, 5);
}

#[test]
fn recipients_beyond_the_cap_are_counted() {
    let config = SmtpConfig {
        max_recipients: 2,
        ..config()
    };
    let outcome = run_with(
        config,
        &[
            C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<1@x.org>\r\nRCPT TO:<2@x.org>\r\nRCPT TO:<3@x.org>\r\n"),
            S(b"250 a\r\n250 b\r\n250 c\r\n451 d\r\n"),
        ],
    );
    let message = single(&outcome);
    assert_eq!(
        addresses(message),
        vec![("1@x.org", Some(250)), ("2@x.org", Some(250))]
    );
    assert_eq!(message.rcpt_dropped, 1);
    assert_eq!(message.last_reply_code, Some(451));
}

#[test]
fn path_address_handles_real_world_shapes() {
    type Case = (&'static [u8], &'static [u8], Option<&'static str>, bool);
    let cases: [Case; 9] = [
        (b"FROM:<a@b.org>", b"FROM", Some("a@b.org"), true),
        (
            b"FROM: <splotch@dhl.com> ",
            b"FROM",
            Some("splotch@dhl.com"),
            true,
        ),
        (
            b"From:<root@cern.ch> SIZE=695",
            b"FROM",
            Some("root@cern.ch"),
            true,
        ),
        (b"FROM:<>", b"FROM", Some(""), true),
        (
            b"TO:<@relay.org,@r2.org:user@c.org>",
            b"TO",
            Some("user@c.org"),
            true,
        ),
        (
            b"TO:plain@c.org NOTIFY=NEVER",
            b"TO",
            Some("plain@c.org"),
            true,
        ),
        (b"TO : <spaced@c.org>", b"TO", Some("spaced@c.org"), true),
        (b"<nokeyword@c.org>", b"TO", Some("nokeyword@c.org"), false),
        (b"FROM:", b"FROM", None, false),
    ];
    for (argument, keyword, address, well_formed) in cases {
        assert_eq!(
            path_address(argument, keyword),
            (address.map(str::to_owned), well_formed),
            "{}",
            String::from_utf8_lossy(argument)
        );
    }
}

#[test]
fn parse_command_recognises_verbs_case_insensitively() {
    assert_eq!(
        parse_command(b"ehlo  client.example"),
        Command::Helo {
            extended: true,
            name: b"client.example"
        }
    );
    assert_eq!(parse_command(b"data"), Command::Data);
    assert_eq!(parse_command(b"DATA now"), Command::Malformed);
    assert_eq!(
        parse_command(b"BDAT 129"),
        Command::Bdat {
            size: 129,
            last: false
        }
    );
    assert_eq!(
        parse_command(b"bdat 0 last"),
        Command::Bdat {
            size: 0,
            last: true
        }
    );
    assert_eq!(parse_command(b"BDAT"), Command::Malformed);
    assert_eq!(parse_command(b"BDAT 1234 SCRAMBLE"), Command::Malformed);
    assert_eq!(parse_command(b"BDAT SCRAMBLE"), Command::Malformed);
    assert_eq!(
        parse_command(b"BDAT 99999999999999999999"),
        Command::Malformed
    );
    assert_eq!(
        parse_command(b"AUTH PLAIN AGZvbwBiYXI="),
        Command::Auth {
            mechanism: Some(b"PLAIN")
        }
    );
    assert_eq!(parse_command(b"AUTH"), Command::Auth { mechanism: None });
    assert_eq!(parse_command(b"StartTLS"), Command::StartTls);
    assert_eq!(parse_command(b"XCLIENT NAME=x"), Command::Other);
    assert_eq!(parse_command(b""), Command::Other);
}
