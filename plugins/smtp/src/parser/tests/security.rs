//! Tests of AUTH (credentials never kept), STARTTLS and non-SMTP sessions.

use super::*;

/// Asserts that no secret (nor its base64 form) appears in anything the session reported.
fn assert_no_secret(outcome: &Outcome, secrets: &[&str]) {
    let shown = format!("{:?}\n{:?}", outcome.messages, outcome.summary);
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret:?} leaked into {shown}");
    }
}

#[test]
fn auth_plain_initial_response_is_never_stored() {
    // base64("\0alice\0Sup3rSecret!") = AGFsaWNlAFN1cDNyU2VjcmV0IQ==
    let outcome = run(&[
        S(GREETING),
        C(b"EHLO client\r\n"),
        S(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n"),
        C(b"AUTH PLAIN AGFsaWNlAFN1cDNyU2VjcmV0IQ==\r\n"),
        S(b"235 2.7.0 Authentication successful\r\n"),
        C(b"MAIL FROM:<alice@x.org>\r\n"),
        S(OK),
        C(b"RCPT TO:<bob@y.org>\r\n"),
        S(OK),
        C(QUIT),
        S(BYE),
    ]);
    let message = single(&outcome);
    assert_eq!(message.auth_mechanism.as_deref(), Some("PLAIN"));
    assert_eq!(message.auth_success, Some(true));
    assert_eq!(outcome.summary.auth_mechanism.as_deref(), Some("PLAIN"));
    assert_eq!(outcome.summary.auth_success, Some(true));
    assert_no_secret(&outcome, &["AGFsaWNlAFN1cDNyU2VjcmV0IQ", "Sup3rSecret"]);
}

#[test]
fn auth_login_two_rounds_are_skipped_and_never_stored() {
    // zeek-smtp.pcap: AUTH LOGIN, 334 Username:, user, 334 Password:, password, 235.
    let outcome = run(&[
        S(b"220-xc90.websitewelcome.com ESMTP Exim 4.69\r\n220 and/or bulk e-mail.\r\n"),
        C(b"EHLO GP\r\n"),
        S(b"250-xc90.websitewelcome.com Hello GP\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"),
        C(b"AUTH LOGIN\r\n"),
        S(b"334 VXNlcm5hbWU6\r\n"),
        C(b"Z3VycGFydGFwQHBhdHJpb3RzLmlu\r\n"),
        S(b"334 UGFzc3dvcmQ6\r\n"),
        C(b"cHVuamFiQDEyMw==\r\n"),
        S(b"235 Authentication succeeded\r\n"),
        C(b"MAIL FROM: <gurpartap@patriots.in>\r\n"),
        S(b"250 OK\r\n"),
        C(b"RCPT TO: <raj_deol2002in@yahoo.co.in>\r\n"),
        S(b"250 Accepted\r\n"),
        C(QUIT),
        S(BYE),
    ]);
    let message = single(&outcome);
    assert_eq!(message.auth_mechanism.as_deref(), Some("LOGIN"));
    assert_eq!(message.auth_success, Some(true));
    assert_eq!(message.mail_from_code, Some(250));
    assert_eq!(
        addresses(message),
        vec![("raj_deol2002in@yahoo.co.in", Some(250))]
    );
    // Credential lines are not commands; the 334 challenges are not the last reply.
    assert_eq!(outcome.summary.commands, 5);
    assert_eq!(outcome.summary.replies, 8);
    assert_no_secret(
        &outcome,
        &[
            "Z3VycGFydGFw",
            "cHVuamFi",
            "punjab@123",
            "VXNlcm5hbWU6",
            "UGFzc3dvcmQ6",
        ],
    );
}

#[test]
fn auth_login_one_sided_capture_still_skips_credentials() {
    // Only the client side: the base64 lines must be taken for credentials, and MAIL after
    // them for a command again.
    let outcome = run(&[
        GapS(30),
        C(b"EHLO Percival\r\n"),
        GapS(94),
        C(b"AUTH LOGIN\r\n"),
        GapS(18),
        C(b"Z2FsdW50\r\n"),
        GapS(18),
        C(b"VjF2MXRyMG4=\r\n"),
        GapS(27),
        C(b"MAIL FROM: <xxxxxx@xxxxx.co.uk>\r\n"),
        GapS(8),
    ]);
    let message = single(&outcome);
    assert_eq!(message.mail_from.as_deref(), Some("xxxxxx@xxxxx.co.uk"));
    assert_eq!(message.auth_mechanism.as_deref(), Some("LOGIN"));
    assert_eq!(message.auth_success, None);
    assert_no_secret(&outcome, &["Z2FsdW50", "VjF2MXRyMG4", "galunt", "V1v1tr0n"]);
}

#[test]
fn auth_cram_md5_failure_is_reported() {
    let outcome = run(&[
        S(GREETING),
        C(b"AUTH CRAM-MD5\r\n"),
        S(b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
        C(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        S(b"535 5.7.8 Authentication credentials invalid\r\n"),
        C(QUIT),
        S(BYE),
    ]);
    let summary = &outcome.summary;
    assert_eq!(summary.auth_mechanism.as_deref(), Some("CRAM-MD5"));
    assert_eq!(summary.auth_success, Some(false));
    assert_eq!(summary.commands, 2);
    assert_no_secret(
        &outcome,
        &["dGltIGI5MTNh", "b913a602c7eda7a495b4e6e7334d3890"],
    );
}

#[test]
fn auth_cancelled_with_star_is_not_a_command() {
    let outcome = run(&[
        S(GREETING),
        C(b"AUTH XOAUTH2\r\n"),
        S(b"334 \r\n"),
        C(b"*\r\n"),
        S(b"501 5.7.0 Authentication cancelled\r\n"),
        C(b"MAIL FROM:<a@x.org>\r\n"),
        S(OK),
    ]);
    let message = single(&outcome);
    assert_eq!(message.auth_mechanism.as_deref(), Some("XOAUTH2"));
    assert_eq!(message.auth_success, Some(false));
    assert_eq!(message.mail_from_code, Some(250));
}

#[test]
fn starttls_accepted_marks_tls_and_stops_parsing() {
    // zeek-smtp-starttls.pcap
    const HELLO: &[u8] =
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03MAIL FROM:<hidden@x.org>\r\n";
    const LATER: &[u8] = b"MAIL FROM:<looks@plain.org>\r\nRCPT TO:<x@y.org>\r\nDATA\r\n";
    let outcome = run(&[
        S(b"220 mx.google.com ESMTP hf10si4097299icc.190 - gsmtp\r\n"),
        C(b"EHLO openssl.client.net\r\n"),
        S(b"250-mx.google.com at your service\r\n250-STARTTLS\r\n250 CHUNKING\r\n"),
        C(b"STARTTLS\r\n"),
        S(b"220 2.0.0 Ready to start TLS\r\n"),
        C(HELLO),
        S(b"\x16\x03\x03\x00\x5d\x02\x00\x00\x59"),
        C(LATER),
    ]);
    assert!(outcome.messages.is_empty());
    let summary = &outcome.summary;
    assert!(summary.tls);
    assert!(!summary.flags.not_smtp);
    assert_eq!(summary.helo.as_deref(), Some("openssl.client.net"));
    assert_eq!(summary.commands, 2);
    assert_eq!(
        summary.client_bytes,
        (25 + 10 + HELLO.len() + LATER.len()) as u64
    );
}

#[test]
fn starttls_with_open_transaction_reports_it_with_tls() {
    let outcome = run(&[
        S(GREETING),
        C(b"MAIL FROM:<a@x.org>\r\n"),
        S(OK),
        C(b"STARTTLS\r\n"),
        S(b"220 go ahead\r\n"),
    ]);
    let message = single(&outcome);
    assert!(message.tls);
    assert_eq!(message.mail_from.as_deref(), Some("a@x.org"));
}

#[test]
fn starttls_refused_keeps_parsing() {
    let outcome = run(&[
        S(GREETING),
        C(b"STARTTLS\r\n"),
        S(b"454 4.7.0 TLS not available\r\n"),
        C(b"MAIL FROM:<a@x.org>\r\n"),
        S(OK),
    ]);
    assert!(!outcome.summary.tls);
    assert_eq!(single(&outcome).mail_from_code, Some(250));
}

#[test]
fn starttls_reply_lost_then_client_hello_marks_tls() {
    let outcome = run(&[
        GapS(30),
        C(b"EHLO x\r\n"),
        GapS(40),
        C(b"STARTTLS\r\n"),
        GapS(30),
        C(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
    ]);
    assert!(outcome.summary.tls);
    assert!(!outcome.summary.flags.not_smtp);
}

#[test]
fn http_request_on_port_25_is_not_smtp() {
    let outcome = run(&[
        C(b"GET / HTTP/1.1\r\nHost: mail.example.org\r\n\r\n"),
        S(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        C(b"MAIL FROM:<a@x.org>\r\n"),
    ]);
    assert!(outcome.messages.is_empty());
    assert!(outcome.summary.flags.not_smtp);
    assert_eq!(outcome.summary.commands, 0);
}

#[test]
fn http_connect_is_not_smtp() {
    // zeek-http-connect-with-smtp.pcap: SMTP tunnelled through an HTTP proxy.
    let outcome = run(&[
        C(b"CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\n\r\n"),
        S(b"HTTP/1.0 200 Connection established\r\n\r\n"),
    ]);
    assert!(outcome.summary.flags.not_smtp);
}

#[test]
fn tls_client_hello_on_port_25_is_not_smtp() {
    let outcome = run(&[C(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x5e\x9a\n\x00\x01",
    )]);
    assert!(outcome.summary.flags.not_smtp);
    assert!(!outcome.summary.tls);
    assert!(outcome.messages.is_empty());
}

#[test]
fn tls_server_on_port_25_is_not_smtp() {
    let outcome = run(&[
        S(b"\x16\x03\x03\x00\x5d\x02\x00\x00\x59\x03\x03"),
        C(b"EHLO x\r\n"),
    ]);
    assert!(outcome.summary.flags.not_smtp);
    assert_eq!(outcome.summary.commands, 0);
}

#[test]
fn ssh_banner_is_not_smtp() {
    let outcome = run(&[S(b"SSH-2.0-OpenSSH_9.6\r\n"), C(b"SSH-2.0-PuTTY\r\n")]);
    assert!(outcome.summary.flags.not_smtp);
}

#[test]
fn server_first_line_that_is_no_reply_is_not_smtp() {
    let outcome = run(&[S(b"2xx hello\r\n"), C(b"EHLO x\r\n")]);
    assert!(outcome.summary.flags.not_smtp);
}

#[test]
fn credential_split_across_pieces_is_not_shown_by_session_debug() {
    let mut session = Session::new(Arc::new(config()));
    session.data(Direction::ServerToClient, GREETING, 1);
    session.data(Direction::ClientToServer, b"AUTH PLAIN AGFsaWNlAFN1cDNy", 2);
    let shown = format!("{session:?}");
    assert!(!shown.contains("AGFsaWNl"), "{shown}");
    session.data(Direction::ClientToServer, b"U2VjcmV0IQ==\r\n", 3);
    session.end(4);
    let shown = format!("{session:?} {:?}", session.take_messages());
    assert!(
        !shown.contains("AGFsaWNl") && !shown.contains("U2VjcmV0"),
        "{shown}"
    );
}
