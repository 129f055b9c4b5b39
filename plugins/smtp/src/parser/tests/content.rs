//! Tests of message content: DATA and BDAT, dot-unstuffing, gaps, MIME fields, caps.

use super::*;
use crate::parser::Attachment;

/// A session that sends `content` (already dot-stuffed, terminator excluded) by DATA.
fn data_session(content: &'static [u8]) -> Vec<Step<'static>> {
    vec![
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go ahead\r\n"),
        C(content),
        C(END),
        S(QUEUED),
    ]
}

#[test]
fn dot_stuffed_lines_are_restored() {
    let outcome = run(&data_session(
        b"Subject: dots\r\n\r\n..leading dot\r\n...\r\n.\t.\r\nmid.dle\r\n..\r\n",
    ));
    let message = single(&outcome);
    let unstuffed: &[u8] = b"Subject: dots\r\n\r\n.leading dot\r\n..\r\n\t.\r\nmid.dle\r\n.\r\n";
    assert_eq!(message.size, unstuffed.len() as u64);
    assert_eq!(message.wire_size, unstuffed.len() as u64 + 4);
    assert_eq!(message.sha256, Some(sha256_hex(unstuffed)));
    assert!(!message.flags.any());
}

#[test]
fn extraction_keeps_the_unstuffed_message() {
    let config = SmtpConfig {
        extract: true,
        ..config()
    };
    let outcome = run_with(config, &data_session(b"Subject: x\r\n\r\n..one\r\ntwo\r\n"));
    let message = single(&outcome);
    assert_eq!(
        message.content.as_deref(),
        Some(&b"Subject: x\r\n\r\n.one\r\ntwo\r\n"[..])
    );
    assert!(!message.flags.extract_truncated);
}

#[test]
fn extraction_beyond_its_cap_is_cut_and_flagged() {
    let config = SmtpConfig {
        extract: true,
        max_extract: 10,
        ..config()
    };
    let outcome = run_with(config, &data_session(b"Subject: cut here\r\n\r\nbody\r\n"));
    let message = single(&outcome);
    assert_eq!(message.content.as_deref(), Some(&b"Subject: c"[..]));
    assert!(message.flags.extract_truncated);
    assert_eq!(message.subject.as_deref(), Some("cut here"));
    assert_eq!(message.size, 27);
    assert!(message.sha256.is_some());
}

#[test]
fn empty_message_has_size_zero_and_empty_hash() {
    let outcome = run(&data_session(b""));
    let message = single(&outcome);
    assert!(message.has_content);
    assert_eq!((message.size, message.wire_size), (0, 0));
    assert_eq!(message.sha256, Some(sha256_hex(b"")));
}

#[test]
fn bare_lf_terminator_is_accepted() {
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\nRCPT TO:<b@y.org>\nDATA\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(b"Subject: lf\n\nbody\n.\nQUIT\n"),
        S(b"250 queued\r\n221 bye\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(message.subject.as_deref(), Some("lf"));
    assert_eq!(message.size, b"Subject: lf\n\nbody\n".len() as u64);
    assert_eq!(message.last_reply_code, Some(250));
}

#[test]
fn bdat_chunks_make_one_message() {
    // zeek-smtp-bdat-multipart-chunked.pcap, with shorter chunks.
    let outcome = run(&[
        S(b"220 example.com ESMTP Postfix (Debian/GNU)\r\n"),
        C(b"EHLO localhost\r\n"),
        S(b"250-example.com\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
        C(b"MAIL FROM:<zeek@localhost>\r\n"),
        S(b"250 2.1.0 Ok\r\n"),
        C(b"RCPT TO:<root@localhost>\r\n"),
        S(b"250 2.1.5 Ok\r\n"),
        C(b"BDAT 20\r\n"),
        C(b"Subject: Zeek Logo\r\n"),
        S(b"250 2.0.0 Ok: 20 bytes\r\n"),
        C(b"BDAT 8 LAST\r\n\r\nHave f"),
        S(b"250 2.0.0 Ok: 28 bytes queued as E4F471CA025\r\n"),
        C(QUIT),
        S(BYE),
    ]);
    let message = single(&outcome);
    assert!(message.chunked && message.has_content);
    assert_eq!(message.size, 28);
    assert_eq!(message.wire_size, 28);
    assert_eq!(message.subject.as_deref(), Some("Zeek Logo"));
    assert_eq!(
        message.sha256,
        Some(sha256_hex(b"Subject: Zeek Logo\r\n\r\nHave f"))
    );
    assert_eq!(
        message.last_reply_text.as_deref(),
        Some("2.0.0 Ok: 28 bytes queued as E4F471CA025")
    );
    assert_eq!(message.ts_data, Some(8000));
    assert!(!message.flags.any());
}

#[test]
fn bdat_chunk_bytes_that_look_like_commands_are_content() {
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 6 LAST\r\nQUIT\r\nRSET\r\n"),
        S(b"250 ok\r\n250 ok\r\n250 queued\r\n250 reset\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(message.size, 6);
    assert_eq!(message.last_reply_text.as_deref(), Some("queued"));
    assert!(!message.flags.reset);
}

#[test]
fn bdat_zero_last_ends_the_message() {
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 3\r\nabcBDAT 0 LAST\r\n"),
        S(b"250 ok\r\n250 ok\r\n250 3 bytes\r\n250 queued\r\n"),
    ]);
    let message = single(&outcome);
    assert_eq!(message.size, 3);
    assert_eq!(message.sha256, Some(sha256_hex(b"abc")));
    assert_eq!(message.last_reply_text.as_deref(), Some("queued"));
}

#[test]
fn malformed_bdat_takes_no_chunk() {
    // zeek-smtp-bdat-cmd-invalid.pcapng
    let outcome = run(&[
        S(b"220 example.com ESMTP Postfix\r\n"),
        C(b"MAIL FROM:<zeek@localhost>\r\n"),
        S(b"250 2.1.0 Ok\r\n"),
        C(b"RCPT TO:<root@localhost>\r\n"),
        S(b"250 2.1.5 Ok\r\n"),
        C(b"BDAT 1234 SCRAMBLE\r\n"),
        S(b"521 5.5.4 Syntax: BDAT count [LAST]\r\n"),
        C(QUIT),
    ]);
    let message = single(&outcome);
    assert!(!message.has_content);
    assert!(message.flags.bad_syntax);
    assert_eq!(message.last_reply_code, Some(521));
    assert_eq!(outcome.summary.commands, 4);
}

#[test]
fn session_ending_inside_data_reports_truncated() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(b"Subject: unfinished\r\n\r\npart of the bo"),
    ]);
    let message = single(&outcome);
    assert!(message.flags.truncated);
    assert!(outcome.summary.flags.truncated);
    assert_eq!(message.subject.as_deref(), Some("unfinished"));
    assert_eq!(message.size, 37);
    assert_eq!(message.sha256, None);
    assert_eq!(message.ts_end, 1_000_000);
}

#[test]
fn session_ending_between_bdat_chunks_reports_truncated() {
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 3\r\nabc"),
        S(b"250 ok\r\n250 ok\r\n250 3 bytes\r\n"),
        C(QUIT),
    ]);
    let message = single(&outcome);
    assert!(message.flags.truncated && message.chunked);
    assert_eq!(message.size, 3);
}

#[test]
fn gap_inside_data_is_counted_and_end_marker_still_found() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(b"Subject: holes\r\n\r\nfirst line\r\n"),
        GapC(1460),
        C(b"tail of a line\r\nlast line\r\n.\r\nQUIT\r\n"),
        S(b"250 queued\r\n221 bye\r\n"),
    ]);
    let message = single(&outcome);
    assert!(message.flags.gap);
    assert!(!message.flags.truncated);
    assert_eq!(message.gap_bytes, 1460);
    assert_eq!(message.subject.as_deref(), Some("holes"));
    assert_eq!(message.size, 30 + 27);
    assert_eq!(message.sha256, None);
    assert_eq!(message.last_reply_text.as_deref(), Some("queued"));
    assert_eq!(outcome.summary.client_gap_bytes, 1460);
    assert_eq!(outcome.summary.last_reply_code, Some(221));
}

#[test]
fn gap_right_before_a_dot_line_does_not_end_the_message() {
    // After a gap the scanner does not know it is at a line start, so ".\r\n" alone
    // right after the gap is content (the next real terminator follows a line feed).
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(b"Subject: x\r\n\r\n"),
        GapC(10),
        C(b".\r\nmore\r\n.\r\n"),
        S(QUEUED),
    ]);
    let message = single(&outcome);
    assert_eq!(message.size, 14 + 3 + 6);
    assert!(message.flags.gap && !message.flags.truncated);
}

#[test]
fn end_marker_lost_in_gap_is_closed_by_the_server_reply() {
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(b"Subject: lost end\r\n\r\nbody\r\n"),
        GapC(5),
        S(b"250 2.0.0 queued\r\n"),
        C(b"MAIL FROM:<next@x.org>\r\n"),
        S(b"250 ok\r\n"),
    ]);
    assert_eq!(outcome.messages.len(), 2);
    let first = &outcome.messages[0];
    assert_eq!(first.subject.as_deref(), Some("lost end"));
    assert!(first.flags.gap && !first.flags.truncated);
    assert_eq!(first.last_reply_text.as_deref(), Some("2.0.0 queued"));
    assert_eq!(outcome.messages[1].mail_from.as_deref(), Some("next@x.org"));
    assert_eq!(outcome.messages[1].mail_from_code, Some(250));
}

#[test]
fn mime_attachment_reports_name_type_size_and_hash() {
    let outcome = run(&data_session(
        b"From: Sender <s@x.org>\r\n\
To: Rcpt <r@y.org>\r\n\
Subject: attachment\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\
\r\n\
--XYZ\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
See attached.\r\n\
--XYZ\r\n\
Content-Type: application/octet-stream; name=\"hello.txt\"\r\n\
Content-Disposition: attachment; filename=\"hello.txt\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
aGVsbG8gd29ybGQK\r\n\
--XYZ\r\n\
Content-Type: image/png; name=\"=?UTF-8?B?bG9nb8OpLnBuZw==?=\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--XYZ--\r\n",
    ));
    let message = single(&outcome);
    assert_eq!(message.from.as_deref(), Some("Sender <s@x.org>"));
    assert_eq!(message.to, vec!["Rcpt <r@y.org>".to_owned()]);
    assert_eq!(message.attachments.len(), 2, "{:#?}", message.attachments);
    let text = &message.attachments[0];
    assert_eq!(text.filename.as_deref(), Some("hello.txt"));
    assert_eq!(
        text.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(text.size, 12);
    assert_eq!(text.sha256, Some(sha256_hex(b"hello world\n")));
    let image = &message.attachments[1];
    assert_eq!(image.filename.as_deref(), Some("logoé.png"));
    assert_eq!(image.content_type.as_deref(), Some("image/png"));
    assert_eq!(image.size, 8);
    assert_eq!(image.sha256, Some(sha256_hex(b"\x89PNG\r\n\x1a\n")));
}

#[test]
fn encoded_words_in_headers_are_decoded() {
    let outcome = run(&data_session(
        b"Subject: =?UTF-8?B?SGVsbG8gV8O2cmxk?= and =?ISO-8859-1?Q?caf=E9?=\r\n\
From: =?ISO-8859-1?Q?Andr=E9?= <andre@x.org>\r\n\
X-Mailer: =?UTF-8?Q?Mail=C3=A9r?= 1.0\r\n\
\r\n\
hi\r\n",
    ));
    let message = single(&outcome);
    assert_eq!(message.subject.as_deref(), Some("Hello Wörld and café"));
    assert_eq!(message.from.as_deref(), Some("André <andre@x.org>"));
    assert_eq!(message.user_agent.as_deref(), Some("Mailér 1.0"));
}

#[test]
fn user_agent_header_is_used_without_x_mailer() {
    let outcome = run(&data_session(
        b"Subject: ua\r\nUser-Agent: Mozilla Thunderbird\r\nReply-To: Team <team@x.org>\r\n\r\nhi\r\n",
    ));
    let message = single(&outcome);
    assert_eq!(message.user_agent.as_deref(), Some("Mozilla Thunderbird"));
    assert_eq!(message.reply_to.as_deref(), Some("Team <team@x.org>"));
}

// Formerly `message_beyond_the_parse_cap_keeps_headers_and_full_hash`: messages used to be kept
// (up to `max_message_parse`) for parsing, and the zip part cut by that cap had no hash. Now
// only header blocks are bounded and bodies stream through, so the whole message is parsed.
#[test]
fn message_far_beyond_the_header_bound_is_parsed_whole() {
    let config = SmtpConfig {
        max_header_block: 160,
        ..config()
    };
    let content: &'static [u8] = b"Subject: big one\r\n\
Content-Type: multipart/mixed; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
short\r\n\
--B\r\n\
Content-Type: application/zip; name=\"a.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
UEsDBBQAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\
--B--\r\n";
    let outcome = run_with(config, &data_session(content));
    let message = single(&outcome);
    assert!(!message.flags.message_truncated_for_parsing);
    assert!(!message.flags.truncated);
    assert_eq!(message.subject.as_deref(), Some("big one"));
    assert_eq!(message.size, content.len() as u64);
    assert_eq!(message.sha256, Some(sha256_hex(content)));
    let zip = mail_parser::decoders::base64::base64_decode(
        b"UEsDBBQAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap_or_default();
    assert_eq!(
        message.attachments,
        vec![Attachment {
            filename: Some("a.zip".to_owned()),
            content_type: Some("application/zip".to_owned()),
            size: 48,
            sha256: Some(sha256_hex(&zip)),
        }]
    );
}

#[test]
fn mime_parsing_can_be_switched_off() {
    let config = SmtpConfig {
        parse_mime: false,
        ..config()
    };
    let outcome = run_with(config, &data_session(b"Subject: not parsed\r\n\r\nx\r\n"));
    let message = single(&outcome);
    assert_eq!(message.subject, None);
    assert_eq!(message.size, 26);
    assert!(message.sha256.is_some());
}

#[test]
fn data_refused_after_speculative_content_drops_it() {
    // The client sends on without waiting for 354; the server refuses DATA.
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nhello\r\n"),
        S(b"250 ok\r\n550 no\r\n554 no valid recipients\r\n500 unrecognized command\r\n"),
        C(QUIT),
        S(BYE),
    ]);
    let message = single(&outcome);
    assert!(!message.has_content);
    assert_eq!(message.ts_data, None);
    assert_eq!(addresses(message), vec![("b@y.org", Some(550))]);
    assert_eq!(message.last_reply_code, Some(554));
    assert!(!message.flags.truncated);
}

#[test]
fn base64_digest_matches_mail_parser_decoding() {
    use crate::parser::decode::base64_digest;
    use mail_parser::decoders::base64::base64_decode;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = 0x0123_4567_89ab_cdefu64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for len in 0..300usize {
        let mut encoded = Vec::new();
        for index in 0..len {
            encoded.push(ALPHABET[(next() % 64) as usize]);
            if index % 76 == 75 {
                encoded.extend_from_slice(b"\r\n");
            }
        }
        // Valid base64 has a length that is a multiple of four once padded.
        while encoded
            .iter()
            .filter(|&&b| b != b'\r' && b != b'\n')
            .count()
            % 4
            != 0
        {
            encoded.push(b'=');
        }
        encoded.extend_from_slice(b"\r\n");
        let expected = base64_decode(&encoded).unwrap_or_default();
        let (size, digest) = base64_digest(&encoded);
        assert_eq!(size, expected.len() as u64, "length {len}");
        assert_eq!(
            crate::parser::content::hex(&digest),
            sha256_hex(&expected),
            "length {len}"
        );
    }
}

#[test]
fn quoted_printable_attachment_is_decoded_before_hashing() {
    let outcome = run(&data_session(
        b"Subject: qp\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
body\r\n\
--b\r\n\
Content-Type: text/csv; name=\"t.csv\"\r\n\
Content-Disposition: attachment; filename=\"t.csv\"\r\n\
Content-Transfer-Encoding: Quoted-Printable\r\n\
\r\n\
caf=C3=A9;1=\r\n\
23\r\n\
--b--\r\n",
    ));
    let message = single(&outcome);
    assert_eq!(message.attachments.len(), 1, "{:#?}", message.attachments);
    let csv = &message.attachments[0];
    assert_eq!(csv.filename.as_deref(), Some("t.csv"));
    assert_eq!(csv.content_type.as_deref(), Some("text/csv"));
    assert_eq!(csv.sha256, Some(sha256_hex("café;123".as_bytes())));
    assert_eq!(csv.size, "café;123".len() as u64);
}

/// A message with a nested multipart/alternative body, an attachment and a forwarded message;
/// the inner boundary starts with the outer one.
pub(super) const NESTED: &[u8] = b"Subject: nested\r\n\
Content-Type: multipart/mixed; boundary=\"abc\"\r\n\
\r\n\
preamble\r\n\
--abc\r\n\
Content-Type: multipart/alternative; boundary=\"abcdef\"\r\n\
\r\n\
--abcdef\r\n\
Content-Type: text/plain\r\n\
\r\n\
plain body\r\n\
--abcdef\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>html body</p>\r\n\
--abcdef--\r\n\
--abc\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
\r\n\
inner body\r\n\
--abc\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0x\r\n\
LjQK\r\n\
--abc--\r\n\
epilogue\r\n";

#[test]
fn nested_multipart_lists_only_attachments() {
    let outcome = run(&data_session(NESTED));
    let message = single(&outcome);
    assert_eq!(message.subject.as_deref(), Some("nested"));
    let found: Vec<_> = message
        .attachments
        .iter()
        .map(|a| {
            (
                a.filename.as_deref(),
                a.content_type.as_deref(),
                a.size,
                a.sha256.clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                None,
                Some("message/rfc822"),
                28,
                Some(sha256_hex(b"Subject: inner\r\n\r\ninner body"))
            ),
            (
                Some("résumé.pdf"),
                Some("application/pdf"),
                9,
                Some(sha256_hex(b"%PDF-1.4\n"))
            ),
        ]
    );
}

#[test]
fn attachment_cut_by_the_end_of_the_session_has_no_hash() {
    let cut = NESTED.len() - b"LjQK\r\n--abc--\r\nepilogue\r\n".len();
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(&NESTED[..cut]),
    ]);
    let message = single(&outcome);
    assert!(message.flags.truncated);
    assert_eq!(message.attachments.len(), 2);
    assert!(message.attachments[0].sha256.is_some());
    assert_eq!(message.attachments[1].sha256, None);
    assert_eq!(message.attachments[1].size, 6);
}

#[test]
fn attachment_after_a_gap_has_no_hash_but_earlier_ones_do() {
    let split = NESTED.len() - b"JVBERi0x\r\nLjQK\r\n--abc--\r\nepilogue\r\n".len();
    let outcome = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(&NESTED[..split]),
        GapC(10),
        C(b"LjQK\r\n--abc--\r\nepilogue\r\n.\r\n"),
        S(QUEUED),
    ]);
    let message = single(&outcome);
    assert!(message.flags.gap && !message.flags.truncated);
    assert_eq!(message.sha256, None);
    assert_eq!(message.attachments.len(), 2);
    assert!(message.attachments[0].sha256.is_some());
    assert_eq!(message.attachments[1].sha256, None);
}
