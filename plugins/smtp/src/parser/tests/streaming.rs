//! Tests of streaming MIME: results that do not depend on how the content is cut, nesting,
//! header-block bounds, hostile shapes, and memory that stays flat whatever the message size.

use super::content::NESTED;
use super::*;
use crate::parser::stream::{MimeStream, Parsed};
use crate::parser::Attachment;

/// Header blocks kept in these tests (the default).
const MAX_HEAD: usize = 64 << 10;

/// Parses a whole message fed in the pieces that `cuts` (sorted positions) make.
fn parse_cut(content: &[u8], cuts: &[usize]) -> Parsed {
    let mut stream = MimeStream::new(MAX_HEAD);
    let mut from = 0;
    for &cut in cuts.iter().chain([content.len()].iter()) {
        let cut = cut.clamp(from, content.len());
        stream.feed(&content[from..cut]);
        from = cut;
    }
    stream.finish(true)
}

fn parse_bytewise(content: &[u8]) -> Parsed {
    let mut stream = MimeStream::new(MAX_HEAD);
    for byte in content.chunks(1) {
        stream.feed(byte);
    }
    stream.finish(true)
}

/// Standard base64 of `bytes`, in lines of 76 characters ending with `eol`.
pub(super) fn base64_encode(bytes: &[u8], eol: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for (index, group) in bytes.chunks(3).enumerate() {
        let bits = group
            .iter()
            .enumerate()
            .fold(0u32, |acc, (at, &b)| acc | u32::from(b) << (16 - 8 * at));
        for at in 0..4 {
            if at <= group.len() {
                out.push(ALPHABET[(bits >> (18 - 6 * at) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
        if index % 19 == 18 {
            out.extend_from_slice(eol);
        }
    }
    out.extend_from_slice(eol);
    out
}

/// A message with two base64 attachments after a text part.
const ATTACHMENTS: &[u8] = b"From: Sender <s@x.org>\r\n\
Subject: attachment\r\n\
Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\
\r\n\
--XYZ\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
See attached.\r\n\
-- \r\n\
--XY signature\r\n\
--XYZ\r\n\
Content-Disposition: attachment; filename=\"hello.txt\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
aGVsbG8g\r\nd29y\r\n bGQK\r\n\
--XYZ \r\n\
Content-Type: image/png; name=\"=?UTF-8?B?bG9nb8OpLnBuZw==?=\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--XYZ--\r\n\
epilogue\r\n";

/// A message with a quoted-printable attachment and bare LF line ends.
const QUOTED: &[u8] = b"Subject: qp\n\
Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
Content-Type: text/csv; name=\"t.csv\"\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
caf=C3=A9;1=\n\
23  \t\n\
=3D-\n\
--b--\n";

#[test]
fn attachments_split_at_every_byte_position_match_one_piece() {
    for content in [ATTACHMENTS, NESTED, QUOTED] {
        let whole = parse_cut(content, &[]);
        assert!(!whole.attachments.is_empty());
        assert!(whole.attachments.iter().all(|a| a.sha256.is_some()));
        for cut in 0..=content.len() {
            assert_eq!(parse_cut(content, &[cut]), whole, "cut at {cut}");
        }
        assert_eq!(parse_bytewise(content), whole);
    }
}

#[test]
fn attachments_are_read_the_same_in_any_piece() {
    let parsed = parse_cut(ATTACHMENTS, &[]);
    assert_eq!(
        parsed.attachments,
        vec![
            Attachment {
                filename: Some("hello.txt".to_owned()),
                content_type: None,
                size: 12,
                sha256: Some(sha256_hex(b"hello world\n")),
            },
            Attachment {
                filename: Some("logoé.png".to_owned()),
                content_type: Some("image/png".to_owned()),
                size: 8,
                sha256: Some(sha256_hex(b"\x89PNG\r\n\x1a\n")),
            },
        ]
    );
    let quoted = parse_cut(QUOTED, &[]);
    assert_eq!(quoted.attachments.len(), 1);
    assert_eq!(
        quoted.attachments[0].sha256,
        Some(sha256_hex("café;123\n=-".as_bytes()))
    );
}

#[test]
fn boundary_split_across_three_pieces_at_every_position_is_found() {
    let whole = parse_cut(NESTED, &[]);
    let starts: Vec<usize> = NESTED
        .windows(6)
        .enumerate()
        .filter(|(_, window)| window == b"\r\n--ab")
        .map(|(at, _)| at)
        .collect();
    assert!(starts.len() >= 5);
    for start in starts {
        let end = (start + 14).min(NESTED.len());
        for first in start.saturating_sub(2)..end {
            for second in first..=end {
                let parsed = parse_cut(NESTED, &[first, second]);
                assert_eq!(parsed, whole, "cuts at {first} and {second}");
            }
        }
    }
}

#[test]
fn nested_multipart_three_deep_is_followed_and_closed_by_an_outer_delimiter() {
    // The innermost multipart is never closed: the outer delimiter ends it.
    let content = b"Subject: deep\r\n\
Content-Type: multipart/mixed; boundary=\"a\"\r\n\
\r\n\
--a\r\n\
Content-Type: multipart/related; boundary=\"a-b\"\r\n\
\r\n\
--a-b\r\n\
Content-Type: multipart/alternative; boundary=\"a-b-c\"\r\n\
\r\n\
--a-b-c\r\n\
Content-Type: application/octet-stream; name=\"inner.bin\"\r\n\
\r\n\
inner\r\n\
--a-b-c\r\n\
Content-Type: text/plain\r\n\
\r\n\
text\r\n\
--a\r\n\
Content-Type: application/pdf; name=\"outer.pdf\"\r\n\
\r\n\
outer\r\n\
--a--\r\n";
    let parsed = parse_cut(content, &[]);
    let names: Vec<_> = parsed
        .attachments
        .iter()
        .map(|a| (a.filename.as_deref(), a.size, a.sha256.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            (Some("inner.bin"), 5, Some(sha256_hex(b"inner"))),
            (Some("outer.pdf"), 5, Some(sha256_hex(b"outer"))),
        ]
    );
    assert_eq!(parse_bytewise(content), parsed);
}

#[test]
fn part_header_longer_than_its_bound_is_flagged_and_read_from_its_start() {
    let mut content = b"Subject: long part header\r\n\
Content-Type: multipart/mixed; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: application/zip; name=\"a.zip\"\r\n\
Content-Disposition: attachment; x-padding=\""
        .to_vec();
    content.extend(std::iter::repeat_n(b'x', 100_000));
    content.extend_from_slice(b"\"\r\n\r\nabc\r\n--B--\r\n");
    let config = SmtpConfig {
        max_header_block: 200,
        ..config()
    };
    let outcome = run_with(
        config,
        &[
            C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
            S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
            C(&content),
            C(END),
            S(QUEUED),
        ],
    );
    let message = single(&outcome);
    assert!(message.flags.message_truncated_for_parsing);
    assert!(outcome.summary.flags.message_truncated_for_parsing);
    assert_eq!(message.subject.as_deref(), Some("long part header"));
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].filename.as_deref(), Some("a.zip"));
    assert_eq!(message.attachments[0].sha256, Some(sha256_hex(b"abc")));
}

/// The reported fields of a message whose content is `content`, parsed with header blocks
/// of at most `max` bytes in pieces of 7 bytes; and whether a block was cut.
fn fields_of(content: &[u8], max: usize) -> (Message, bool) {
    let mut stream = MimeStream::new(max);
    for piece in content.chunks(7) {
        stream.feed(piece);
    }
    let parsed = stream.finish(true);
    let mut message = Message::default();
    if let Some(fields) = parsed.fields {
        fields.apply(&mut message);
    }
    (message, parsed.cut)
}

#[test]
fn message_header_field_longer_than_its_bound_is_left_out_whole() {
    let mut content = b"Subject: first\r\nX-Mailer: ".to_vec();
    content.extend(std::iter::repeat_n(b'y', 5000));
    content.extend_from_slice(b"\r\nTo: late@x.org\r\n\r\nbody\r\n");
    let (message, cut) = fields_of(&content, 64);
    assert!(cut);
    assert_eq!(message.subject.as_deref(), Some("first"));
    assert_eq!(message.user_agent, None);
    assert_eq!(message.to, vec!["late@x.org".to_owned()]);
}

#[test]
fn fields_not_read_do_not_count_towards_the_bound() {
    let mut content = Vec::new();
    for hop in 0..2000 {
        content.extend_from_slice(
            format!("Received: from hop{hop}.example.org\r\n\tby mx.example.net; today\r\n")
                .as_bytes(),
        );
    }
    content.extend_from_slice(b"Subject: after the hops\r\n\r\nbody\r\n");
    assert!(content.len() > 64 << 10);
    let (message, cut) = fields_of(&content, 1024);
    assert!(!cut);
    assert_eq!(message.subject.as_deref(), Some("after the hops"));
}

#[test]
fn thousands_of_recipients_leave_room_for_the_other_fields() {
    // zeek-smtp-many-addresses.pcap: one Cc field per address, the Subject last.
    let mut content = b"From: a@x.org\r\nTo: first@y.org,\r\n second@y.org\r\n".to_vec();
    for index in 0..3000 {
        content.extend_from_slice(format!("CC: person{index}@example.org\r\n").as_bytes());
    }
    content.extend_from_slice(b"Subject: Test message\r\n\r\nbody\r\n");
    let (message, cut) = fields_of(&content, 64 << 10);
    assert!(cut);
    assert_eq!(message.subject.as_deref(), Some("Test message"));
    assert_eq!(message.from.as_deref(), Some("a@x.org"));
    assert_eq!(message.to, vec!["first@y.org", "second@y.org"]);
    // The first 1024 are reported either way.
    assert_eq!(message.cc.len(), 1024);
    assert_eq!(message.cc[1023], "person1023@example.org");
}

#[test]
fn boundary_longer_than_followed_is_flagged() {
    let boundary = "q".repeat(300);
    let content = format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n\
Content-Type: application/zip\r\n\r\nzip\r\n--{boundary}--\r\n"
    );
    let parsed = parse_cut(content.as_bytes(), &[]);
    assert!(parsed.cut);
    assert!(parsed.attachments.is_empty());
}

/// A session sending one message of about `size` bytes in 1448-byte pieces: a text part and
/// a base64 attachment; returns the message and the most bytes the parser held meanwhile.
fn huge_message(size: usize, config: SmtpConfig) -> (Message, usize, Vec<u8>) {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..size * 3 / 4)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u8
        })
        .collect();
    let mut content = b"Subject: huge\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
--=_b\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n--=_b\r\n\
Content-Type: application/octet-stream; name=\"big.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    content.extend(base64_encode(&data, b"\r\n"));
    content.extend_from_slice(b"--=_b--\r\n.\r\n");
    let mut session = Session::new(Arc::new(config));
    session.data(
        Direction::ClientToServer,
        b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n",
        1,
    );
    session.data(
        Direction::ServerToClient,
        b"250 ok\r\n250 ok\r\n354 go\r\n",
        2,
    );
    let mut most = 0;
    for piece in content.chunks(1448) {
        session.data(Direction::ClientToServer, piece, 3);
        most = most.max(session.content_held_bytes().unwrap_or(0));
    }
    session.data(Direction::ServerToClient, b"250 queued\r\n", 4);
    session.end(5);
    let messages = session.take_messages();
    assert_eq!(messages.len(), 1);
    (messages[0].clone(), most, data)
}

#[test]
fn message_far_larger_than_any_bound_keeps_memory_flat() {
    let (message, most, data) = huge_message(12 << 20, config());
    assert!(message.size > 12 << 20);
    assert!(!message.flags.any(), "{:?}", message.flags);
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].size, data.len() as u64);
    assert_eq!(message.attachments[0].sha256, Some(sha256_hex(&data)));
    // One header block, the boundary and one decoder: a few KiB, whatever the size.
    assert!(most < 16 << 10, "held {most} bytes");
}

#[test]
fn message_hash_is_off_by_default_and_on_when_asked() {
    let (message, _, _) = huge_message(1 << 16, SmtpConfig::default());
    assert_eq!(message.sha256, None);
    assert!(message.attachments[0].sha256.is_some());
    let (message, _, _) = huge_message(1 << 16, config());
    assert!(message.sha256.is_some());
}

#[test]
fn extraction_keeps_a_bounded_copy_while_mime_streams() {
    let config = SmtpConfig {
        extract: true,
        max_extract: 1000,
        ..config()
    };
    let (message, _, data) = huge_message(1 << 16, config);
    assert_eq!(message.content.as_ref().map(Vec::len), Some(1000));
    assert!(message
        .content
        .as_ref()
        .unwrap()
        .starts_with(b"Subject: huge\r\n"));
    assert!(message.flags.extract_truncated);
    assert_eq!(message.attachments[0].sha256, Some(sha256_hex(&data)));
}

/// Feeds `content` after a multipart header in pieces of `piece` bytes; checks that the bytes
/// held stay small, and returns what was found.
fn hostile(content: &[u8], piece: usize) -> Parsed {
    let mut stream = MimeStream::new(MAX_HEAD);
    stream.feed(b"Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n");
    let mut most = 0;
    for chunk in content.chunks(piece) {
        stream.feed(chunk);
        most = most.max(stream.held_bytes());
    }
    assert!(most < 8 << 10, "held {most} bytes");
    stream.finish(true)
}

#[test]
fn hostile_shapes_stay_small_and_linear() {
    // Lines that look like the delimiter until their last byte, in 1-byte pieces.
    let near: Vec<u8> = b"--BOUNDARX\r\n".repeat(50_000);
    assert!(hostile(&near, 1).attachments.is_empty());
    // The delimiter's prefix over and over, without any line feed.
    let prefix: Vec<u8> = b"--BOUNDAR".repeat(100_000);
    assert!(hostile(&prefix, 3).attachments.is_empty());
    // A CR-only stream inside an attachment.
    let mut cr = b"--BOUNDARY\r\nContent-Type: application/zip\r\n\r\n".to_vec();
    cr.extend(b"\r--BOUNDARY\rabc".repeat(100_000));
    let parsed = hostile(&cr, 1000);
    assert_eq!(parsed.attachments.len(), 1);
    assert_eq!(parsed.attachments[0].size, 15 * 100_000);
    // Hundreds of nested multiparts: followed down to the depth bound only.
    let mut deep = Vec::new();
    for level in 0..300 {
        deep.extend_from_slice(
            format!(
                "--{}\r\nContent-Type: multipart/mixed; boundary=\"L{level}\"\r\n\r\n",
                if level == 0 {
                    "BOUNDARY".to_owned()
                } else {
                    format!("L{}", level - 1)
                }
            )
            .as_bytes(),
        );
    }
    deep.extend_from_slice(b"--L299\r\nContent-Type: application/zip\r\n\r\nzip\r\n");
    assert!(hostile(&deep, 1).attachments.is_empty());
    // A header block that never ends, and parts without end.
    let endless: Vec<u8> = b"--BOUNDARY\r\nX: y\r\n".repeat(20_000);
    assert!(hostile(&endless, 5).attachments.is_empty());
}

#[test]
fn attachment_cut_by_a_gap_after_its_delimiter_keeps_its_hash() {
    let delimiter = NESTED.len() - b"\r\n--abc--\r\nepilogue\r\n".len();
    // A gap once the part's last line break (or more) was seen: the part is whole.
    for after in [1, 2, 4] {
        let mut stream = MimeStream::new(MAX_HEAD);
        stream.feed(&NESTED[..delimiter + after]);
        stream.gap();
        stream.feed(&NESTED[delimiter + after..]);
        let parsed = stream.finish(false);
        assert_eq!(parsed.attachments.len(), 2);
        assert!(parsed.attachments[1].sha256.is_some(), "gap at +{after}");
    }
    // A gap before it: bytes of the part may be missing.
    for before in [0, 1] {
        let mut stream = MimeStream::new(MAX_HEAD);
        stream.feed(&NESTED[..delimiter - before]);
        stream.gap();
        stream.feed(&NESTED[delimiter - before..]);
        let parsed = stream.finish(false);
        assert_eq!(parsed.attachments[1].sha256, None, "gap at -{before}");
    }
}
