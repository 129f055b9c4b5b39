//! The three traffic profiles: what each session says, as a list of [`Message`]s.
//!
//! * `bulk`: a small request, then one large transfer (mostly server to client);
//! * `http`: keep-alive HTTP/1.1 — GETs with browser headers, `200 OK` responses with
//!   `Content-Length` or chunked bodies, some `304 Not Modified`;
//! * `smtp`: greeting, EHLO, one to three mail transactions with one to five recipients and a
//!   dot-stuffed MIME message (some with a base64 attachment), QUIT.

use std::fmt::Write as _;

use crate::content::{Dir, Message, Part};
use crate::rng::Rng;

/// Traffic profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Profile {
    /// Large transfers of opaque data, full-size segments.
    Bulk,
    /// Keep-alive HTTP/1.1 sessions.
    Http,
    /// SMTP sessions.
    Smtp,
}

impl Profile {
    /// Server port.
    pub(crate) fn port(self) -> u16 {
        match self {
            Profile::Bulk => 5001,
            Profile::Http => 80,
            Profile::Smtp => 25,
        }
    }

    /// Default range of the main payload size: transfer, response body, mail body.
    pub(crate) fn default_body(self) -> (u64, u64) {
        match self {
            Profile::Bulk => (64 << 10, 8 << 20),
            Profile::Http => (200, 2 << 20),
            Profile::Smtp => (1 << 10, 4 << 20),
        }
    }

    /// Name used in the summary.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Profile::Bulk => "bulk",
            Profile::Http => "http",
            Profile::Smtp => "smtp",
        }
    }
}

/// What a session knows about itself when its script is written.
#[derive(Debug)]
pub(crate) struct Context {
    /// Session number (0-based, in order of creation).
    pub(crate) index: u64,
    /// Client address, dotted.
    pub(crate) client_ip: String,
    /// Index of the server in the pool.
    pub(crate) server: u32,
    /// Approximate capture time of the session, seconds since the epoch.
    pub(crate) unix_time: u64,
    /// Range of the main payload size.
    pub(crate) body: (u64, u64),
}

/// A session's script and which side closes first.
#[derive(Debug)]
pub(crate) struct Script {
    pub(crate) messages: Vec<Message>,
    pub(crate) closer: Dir,
}

/// Writes the script of one session.
pub(crate) fn script(profile: Profile, ctx: &Context, rng: &mut Rng) -> Script {
    match profile {
        Profile::Bulk => bulk(ctx, rng),
        Profile::Http => http(ctx, rng),
        Profile::Smtp => smtp(ctx, rng),
    }
}

fn bulk(ctx: &Context, rng: &mut Rng) -> Script {
    let size = rng.log_uniform(ctx.body.0, ctx.body.1);
    let request = Part::Binary(rng.range(64, 512));
    let reply = Part::Binary(rng.range(16, 64));
    // One session in ten uploads; the rest download.
    let messages = if rng.below(10) == 0 {
        vec![
            Message::new(Dir::C2s, vec![request, Part::Binary(size)]),
            Message::new(Dir::S2c, vec![reply]),
        ]
    } else {
        vec![
            Message::new(Dir::C2s, vec![request]),
            Message::new(Dir::S2c, vec![Part::Binary(size)]),
        ]
    };
    Script {
        messages,
        closer: if rng.below(2) == 0 {
            Dir::C2s
        } else {
            Dir::S2c
        },
    }
}

/// `Mon, 01 Jan 2024 00:00:00 GMT`-style date (RFC 7231 IMF-fixdate / RFC 5322 with `zone`).
fn http_date(unix: u64, zone: &str) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} {}",
        DAYS.get((days % 7) as usize).copied().unwrap_or("Mon"),
        day,
        MONTHS.get((month - 1) as usize).copied().unwrap_or("Jan"),
        year,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        zone
    )
}

fn hex(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        let _ = write!(s, "{:016x}", rng.next_u64());
    }
    s.truncate(n);
    s
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "curl/8.5.0",
];

/// Resource kinds: path extension, Content-Type, Accept, whether the body is text.
const KINDS: &[(&str, &str, &str, bool)] = &[
    (
        "html",
        "text/html; charset=utf-8",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        true,
    ),
    ("css", "text/css", "text/css,*/*;q=0.1", true),
    ("js", "application/javascript", "*/*", true),
    (
        "json",
        "application/json",
        "application/json, text/plain, */*",
        true,
    ),
    ("jpg", "image/jpeg", "image/avif,image/webp,*/*", false),
    ("png", "image/png", "image/avif,image/webp,*/*", false),
    ("bin", "application/octet-stream", "*/*", false),
];

fn http(ctx: &Context, rng: &mut Rng) -> Script {
    let host = format!("www.site{}.example.com", ctx.server);
    let ua = rng.pick(USER_AGENTS).copied().unwrap_or("curl/8.5.0");
    let transactions = rng.range(1, 20);
    let closer = if rng.below(3) == 0 {
        Dir::S2c
    } else {
        Dir::C2s
    };
    let mut messages = Vec::with_capacity(2 * transactions as usize);
    for t in 0..transactions {
        let (ext, ctype, accept, text) =
            rng.pick(KINDS)
                .copied()
                .unwrap_or(("bin", "application/octet-stream", "*/*", false));
        let not_modified = rng.below(10) == 0;
        let etag = hex(rng, 16);
        let path = format!(
            "/assets/{}/{}-{}.{ext}",
            hex(rng, 4),
            rng.pick(crate::content::WORDS).copied().unwrap_or("item"),
            rng.below(100_000)
        );
        // Request: padded with a cookie to 300-500 bytes.
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: {accept}\r\n\
             Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n\
             Connection: keep-alive\r\n"
        );
        if not_modified {
            let _ = write!(req, "If-None-Match: \"{etag}\"\r\n");
        }
        let target = rng.range_usize(300, 500);
        let fixed = req.len() + "Cookie: sid=\r\n\r\n".len();
        let _ = write!(
            req,
            "Cookie: sid={}\r\n\r\n",
            hex(rng, target.saturating_sub(fixed).max(8))
        );
        messages.push(Message::text(Dir::C2s, req));

        let last = t + 1 == transactions;
        let connection = if last && closer == Dir::S2c {
            "close"
        } else {
            "keep-alive"
        };
        let date = http_date(ctx.unix_time + t, "GMT");
        if not_modified {
            messages.push(Message::text(
                Dir::S2c,
                format!(
                    "HTTP/1.1 304 Not Modified\r\nDate: {date}\r\nServer: nginx/1.24.0\r\n\
                     ETag: \"{etag}\"\r\nCache-Control: max-age=3600\r\nConnection: {connection}\r\n\r\n"
                ),
            ));
            continue;
        }
        let size = rng.log_uniform(ctx.body.0, ctx.body.1);
        let body = |n: u64| if text { Part::Text(n) } else { Part::Binary(n) };
        let chunked = rng.below(5) == 0;
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nDate: {date}\r\nServer: nginx/1.24.0\r\nContent-Type: {ctype}\r\n"
        );
        if chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else {
            let _ = write!(head, "Content-Length: {size}\r\n");
        }
        let _ = write!(
            head,
            "Last-Modified: {}\r\nETag: \"{etag}\"\r\nCache-Control: max-age=3600\r\n\
             Connection: {connection}\r\n\r\n",
            http_date(
                ctx.unix_time.saturating_sub(86_400 * rng.range(1, 900)),
                "GMT"
            )
        );
        let mut parts = vec![Part::Lit(head.into_bytes())];
        if chunked {
            let mut left = size;
            while left > 0 {
                let n = rng.range(8 << 10, 64 << 10).min(left);
                parts.push(Part::Lit(format!("{n:x}\r\n").into_bytes()));
                parts.push(body(n));
                parts.push(Part::Lit(b"\r\n".to_vec()));
                left -= n;
            }
            parts.push(Part::Lit(b"0\r\n\r\n".to_vec()));
        } else {
            parts.push(body(size));
        }
        messages.push(Message::new(Dir::S2c, parts));
    }
    Script { messages, closer }
}

const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
];

fn mailbox(rng: &mut Rng, domain: &str) -> String {
    format!(
        "{}.{}{}@{domain}",
        rng.pick(NAMES).copied().unwrap_or("alice"),
        rng.pick(NAMES).copied().unwrap_or("bob"),
        rng.below(100)
    )
}

fn smtp(ctx: &Context, rng: &mut Rng) -> Script {
    let mx = format!("mx{}.example.net", ctx.server);
    let helo = format!("mail{}.example.org", ctx.index % 10_000);
    let mut m = vec![
        Message::text(Dir::S2c, format!("220 {mx} ESMTP Postfix (Debian/GNU)\r\n")),
        Message::text(Dir::C2s, format!("EHLO {helo}\r\n")),
        Message::text(
            Dir::S2c,
            format!(
                "250-{mx}\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-VRFY\r\n250-ETRN\r\n\
                 250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
            ),
        ),
    ];
    let transactions = rng.range(1, 3);
    for t in 0..transactions {
        let from = mailbox(rng, "example.org");
        m.push(Message::text(
            Dir::C2s,
            format!("MAIL FROM:<{from}> SIZE=0\r\n"),
        ));
        m.push(Message::text(Dir::S2c, "250 2.1.0 Ok\r\n".to_string()));
        let rcpts: Vec<String> = (0..rng.range(1, 5))
            .map(|_| mailbox(rng, "example.net"))
            .collect();
        for r in &rcpts {
            m.push(Message::text(Dir::C2s, format!("RCPT TO:<{r}>\r\n")));
            m.push(Message::text(Dir::S2c, "250 2.1.5 Ok\r\n".to_string()));
        }
        m.push(Message::text(Dir::C2s, "DATA\r\n".to_string()));
        m.push(Message::text(
            Dir::S2c,
            "354 End data with <CR><LF>.<CR><LF>\r\n".to_string(),
        ));

        let size = rng.log_uniform(ctx.body.0, ctx.body.1);
        let date = http_date(ctx.unix_time + t, "+0000");
        let subject_len = rng.range_usize(10, 60);
        let mut subject = Vec::new();
        crate::content::words_into(rng, subject_len, &mut subject);
        let mut head = format!(
            "Received: from {helo} ({helo} [{}])\r\n\tby {mx} (Postfix) with ESMTPS id {}\r\n\
             \tfor <{}>; {date}\r\nFrom: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\n\
             Message-ID: <{}.{}@example.org>\r\nMIME-Version: 1.0\r\n",
            ctx.client_ip,
            hex(rng, 10).to_uppercase(),
            rcpts
                .first()
                .map_or("postmaster@example.net", String::as_str),
            rcpts
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(", "),
            String::from_utf8_lossy(&subject).trim(),
            hex(rng, 12),
            hex(rng, 8),
        );
        let mut parts = Vec::new();
        if rng.below(10) < 3 {
            let boundary = format!("----=_Part_{}", hex(rng, 16));
            let attach = size * 7 / 10;
            let _ = write!(
                head,
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            );
            parts.push(Part::Lit(head.into_bytes()));
            parts.push(Part::MailText(size - attach));
            parts.push(Part::Lit(
                format!(
                    "\r\n--{boundary}\r\nContent-Type: application/pdf; name=\"report-{t}.pdf\"\r\n\
                     Content-Transfer-Encoding: base64\r\n\
                     Content-Disposition: attachment; filename=\"report-{t}.pdf\"\r\n\r\n"
                )
                .into_bytes(),
            ));
            parts.push(Part::Base64(attach));
            parts.push(Part::Lit(format!("--{boundary}--\r\n").into_bytes()));
        } else {
            head.push_str(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            );
            parts.push(Part::Lit(head.into_bytes()));
            parts.push(Part::MailText(size));
        }
        parts.push(Part::Lit(b".\r\n".to_vec()));
        m.push(Message::new(Dir::C2s, parts));
        m.push(Message::text(
            Dir::S2c,
            format!(
                "250 2.0.0 Ok: queued as {}\r\n",
                hex(rng, 11).to_uppercase()
            ),
        ));
    }
    m.push(Message::text(Dir::C2s, "QUIT\r\n".to_string()));
    m.push(Message::text(Dir::S2c, "221 2.0.0 Bye\r\n".to_string()));
    Script {
        messages: m,
        closer: Dir::S2c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(http_date(0, "GMT"), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(1_709_210_096, "GMT"),
            "Thu, 29 Feb 2024 12:34:56 GMT"
        );
    }

    #[test]
    fn http_requests_are_300_to_500_bytes() {
        let mut rng = Rng::new(9);
        for i in 0..50 {
            let ctx = Context {
                index: i,
                client_ip: "10.0.0.1".into(),
                server: 3,
                unix_time: 1_704_067_200,
                body: Profile::Http.default_body(),
            };
            for m in script(Profile::Http, &ctx, &mut rng).messages {
                if m.dir == Dir::C2s {
                    assert!((300..=520).contains(&m.len()), "{}", m.len());
                }
            }
        }
    }
}
