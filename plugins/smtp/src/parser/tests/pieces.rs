//! Tests that the way bytes are cut into pieces never changes the result.

use super::*;

/// Scripts exercising every mode: DATA with stuffing, pipelining, BDAT, AUTH, RSET, MIME.
fn scripts() -> Vec<Vec<Step<'static>>> {
    vec![
        simple_session(),
        vec![
            S(GREETING),
            C(b"EHLO x\r\nAUTH LOGIN\r\n"),
            S(b"250-x\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n"),
            C(b"dXNlcg==\r\n"),
            S(b"334 UGFzc3dvcmQ6\r\n"),
            C(b"cGFzcw==\r\n"),
            S(b"235 ok\r\n"),
            C(b"MAIL FROM:<a@x.org> SIZE=10\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n"),
            S(b"250 ok\r\n250 ok\r\n451 later\r\n354 go\r\n"),
            C(b"Subject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\n..stuffed\r\n.\r\nRSET\r\n"),
            S(b"250 queued\r\n250 reset\r\n"),
            C(b"MAIL FROM:<>\r\nRCPT TO:<d@y.org>\r\nBDAT 5\r\nab\r\nc"),
            S(b"250 ok\r\n250 ok\r\n250 5 bytes\r\n"),
            C(b"BDAT 4 LAST\r\n.\r\n.QUIT\r\n"),
            S(b"250 queued\r\n221 bye\r\n"),
        ],
        // Attachments in nested multiparts: their names, sizes and hashes too.
        vec![
            S(GREETING),
            C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
            S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
            C(super::content::NESTED),
            C(b".\r\nQUIT\r\n"),
            S(b"250 queued\r\n221 bye\r\n"),
        ],
    ]
}

#[test]
fn byte_by_byte_feeding_matches_one_piece() {
    for script in scripts() {
        let whole = run(&script);
        let bytewise = run_bytewise(&script);
        assert_eq!(whole, bytewise);
        assert!(!whole.messages.is_empty());
    }
}

#[test]
fn every_two_piece_split_matches_one_piece() {
    for script in scripts() {
        let whole = run(&script);
        let longest = script
            .iter()
            .map(|step| match step {
                C(bytes) | S(bytes) => bytes.len(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        for cut in 0..=longest {
            let split = run_split(config(), &script, |bytes| {
                let cut = cut.min(bytes.len());
                vec![&bytes[..cut], &bytes[cut..]]
            });
            assert_eq!(whole, split, "cut at {cut}");
        }
    }
}

#[test]
fn end_marker_split_at_every_position_gives_the_same_message() {
    let tail: &[u8] = b"line one\r\n..two\r\nlast\r\n.\r\nQUIT\r\n";
    let reference = run(&[
        C(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"),
        S(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        C(tail),
        S(b"250 queued\r\n221 bye\r\n"),
    ]);
    let message = single(&reference);
    assert_eq!(message.size, b"line one\r\n.two\r\nlast\r\n".len() as u64);
    assert_eq!(message.last_reply_text.as_deref(), Some("queued"));
    // Cut the content in three at every pair of positions around the end marker.
    let marker = tail.len() - b"\r\n.\r\nQUIT\r\n".len();
    for first in marker.saturating_sub(3)..tail.len() {
        for second in first..=tail.len() {
            let mut session = Session::new(Arc::new(config()));
            session.data(
                Direction::ClientToServer,
                b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n",
                1000,
            );
            session.data(
                Direction::ServerToClient,
                b"250 ok\r\n250 ok\r\n354 go\r\n",
                2000,
            );
            for piece in [&tail[..first], &tail[first..second], &tail[second..]] {
                session.data(Direction::ClientToServer, piece, 3000);
            }
            session.data(
                Direction::ServerToClient,
                b"250 queued\r\n221 bye\r\n",
                4000,
            );
            session.end(1_000_000);
            let messages = session.take_messages();
            assert_eq!(messages, reference.messages, "cuts at {first} and {second}");
        }
    }
}

#[test]
fn line_buffer_is_reused_without_growing() {
    let mut session = Session::new(Arc::new(config()));
    session.data(Direction::ServerToClient, GREETING, 1);
    let mut capacity = None;
    for round in 0..200u64 {
        // Each command arrives in two pieces, so it goes through the line buffer.
        session.data(Direction::ClientToServer, b"NOOP wi", round);
        session.data(Direction::ClientToServer, b"th some text\r\n", round);
        session.data(Direction::ServerToClient, b"250 ok\r\n", round);
        let now = session.client_line_capacity();
        assert!(now > 0);
        if let Some(before) = capacity {
            assert_eq!(before, now);
        }
        capacity = Some(now);
    }
    assert_eq!(session.summary().commands, 200);
}
