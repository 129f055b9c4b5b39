//! A throughput measurement on SMTP-heavy traffic (ignored by default; run it in release:
//! `cargo test --release -p netan-plugin-smtp -- --ignored --nocapture throughput`).
//! `SHARE=3` runs only the mix with attachments in 3 messages out of 10; `NO_MIME=1` turns
//! header and attachment parsing off.

use std::time::Instant;

use super::*;

/// xorshift64 for the generated traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One session's monologues: greeting, EHLO, MAIL, RCPT, DATA with a message of `size` bytes
/// (text lines, or text plus a base64 attachment), QUIT.
fn session_script(rng: &mut Rng, size: usize, attachment: bool) -> Vec<(Direction, Vec<u8>)> {
    let mut body = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: load test\r\n\
Date: Thu, 29 Feb 2024 12:34:56 +0000\r\nMIME-Version: 1.0\r\n"
        .to_vec();
    let text_size = if attachment { size * 3 / 10 } else { size };
    if attachment {
        body.extend_from_slice(
            b"Content-Type: multipart/mixed; boundary=\"B0B\"\r\n\r\n--B0B\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n",
        );
    } else {
        body.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
    }
    let start = body.len();
    while body.len() - start < text_size {
        let words = 8 + (rng.next() % 12) as usize;
        for index in 0..words {
            let word =
                [b"lorem", b"ipsum", b"dolor", b"sit.a", b"amet."][(rng.next() % 5) as usize];
            if index == 0 && word[0] == b'.' {
                body.push(b'.');
            }
            body.extend_from_slice(word);
            body.push(b' ');
        }
        body.extend_from_slice(b"\r\n");
    }
    if attachment {
        body.extend_from_slice(
            b"--B0B\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n",
        );
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let lines = size * 7 / 10 / 78;
        for _ in 0..lines {
            let mut bits = rng.next();
            for column in 0..76 {
                if column % 10 == 0 {
                    bits = rng.next();
                }
                body.push(ALPHABET[(bits & 63) as usize]);
                bits >>= 6;
            }
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--B0B--\r\n");
    }
    body.extend_from_slice(b".\r\n");
    vec![
        (
            Direction::ServerToClient,
            b"220 mx.example.net ESMTP Postfix\r\n".to_vec(),
        ),
        (
            Direction::ClientToServer,
            b"EHLO mail.example.org\r\n".to_vec(),
        ),
        (
            Direction::ServerToClient,
            b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250 CHUNKING\r\n"
                .to_vec(),
        ),
        (
            Direction::ClientToServer,
            b"MAIL FROM:<a@example.org> SIZE=0\r\n".to_vec(),
        ),
        (Direction::ServerToClient, b"250 2.1.0 Ok\r\n".to_vec()),
        (
            Direction::ClientToServer,
            b"RCPT TO:<b@example.net>\r\n".to_vec(),
        ),
        (Direction::ServerToClient, b"250 2.1.5 Ok\r\n".to_vec()),
        (Direction::ClientToServer, b"DATA\r\n".to_vec()),
        (
            Direction::ServerToClient,
            b"354 End data with <CR><LF>.<CR><LF>\r\n".to_vec(),
        ),
        (Direction::ClientToServer, body),
        (
            Direction::ServerToClient,
            b"250 2.0.0 Ok: queued as 0123456789A\r\n".to_vec(),
        ),
        (Direction::ClientToServer, b"QUIT\r\n".to_vec()),
        (Direction::ServerToClient, b"221 2.0.0 Bye\r\n".to_vec()),
    ]
}

#[test]
#[ignore = "a measurement, not a check; run in release"]
fn throughput_on_smtp_heavy_traffic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let config = Arc::new(SmtpConfig {
        parse_mime: std::env::var_os("NO_MIME").is_none(),
        ..SmtpConfig::default()
    });
    let only: Option<u64> = std::env::var("SHARE").ok().and_then(|v| v.parse().ok());
    for attachment_share in [0u64, 3, 10] {
        if only.is_some_and(|share| share != attachment_share) {
            continue;
        }
        let scripts: Vec<_> = (0..60)
            .map(|_| {
                // Log-uniform-ish sizes from 1 KiB to 4 MiB.
                let size = 1024usize << (rng.next() % 13);
                let attachment = rng.next() % 10 < attachment_share;
                session_script(&mut rng, size, attachment)
            })
            .collect();
        let total: usize = scripts
            .iter()
            .flat_map(|script| script.iter().map(|(_, bytes)| bytes.len()))
            .sum();
        let started = Instant::now();
        let mut messages = 0usize;
        for _ in 0..3 {
            for script in &scripts {
                let mut session = Session::new(Arc::clone(&config));
                for (ts, (dir, bytes)) in script.iter().enumerate() {
                    for piece in bytes.chunks(1448) {
                        session.data(*dir, piece, ts as u64);
                    }
                }
                session.end(u64::MAX);
                messages += session.take_messages().len();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(messages, scripts.len() * 3);
        println!(
            "attachments in {attachment_share}/10 messages: {:.1} MB in {seconds:.3} s = {:.0} MB/s",
            (total * 3) as f64 / 1e6,
            (total * 3) as f64 / 1e6 / seconds
        );
    }
}
