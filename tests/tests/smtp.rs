//! The SMTP analyser through the real binary: every MAIL FROM and RCPT TO address and every
//! message subject tshark 4.0 finds in the shipped captures
//! (`tests/golden/<capture>.tshark-smtp.txt`) is what netan finds too, nothing more and nothing
//! less, and the records carry what a user checks: STARTTLS, BDAT, PIPELINING, AUTH, extraction.
//!
//! Each golden file is tshark's answer, stored raw, one line per frame:
//!
//! ```text
//! tshark -n -r CAPTURE -Y smtp.req -T fields -E occurrence=a -E aggregator=$'\x1f' \
//!     -e smtp.req.command -e smtp.req.parameter | sed 's/^/req\t/'
//! tshark -n -r CAPTURE -Y imf -T fields -E occurrence=a -E aggregator=$'\x1f' \
//!     -e imf.subject | sed 's/^/subject\t/'
//! ```
//!
//! (TShark 4.0.17, Debian 12). The items are read from it the way
//! `../shared/tools/compare-app.py smtp` reads them.

mod common;

use std::collections::HashMap;

use common::*;

/// Multiset of ("from", address), ("rcpt", address) and ("subject", text) items.
type Items = HashMap<Vec<String>, usize>;

fn add(items: &mut Items, kind: &str, value: &str) {
    *items
        .entry(vec![kind.to_string(), value.to_string()])
        .or_default() += 1;
}

/// The address in a MAIL/RCPT parameter as tshark shows it (`FROM: <a@b>`, `To:<a@b> SIZE=1`),
/// lower case (domains and, in practice, local parts are case-insensitive).
fn address(parameter: &str) -> String {
    let p = parameter.trim();
    let inner = match (p.find('<'), p.find('>')) {
        (Some(open), Some(close)) if open < close => &p[open + 1..close],
        _ => p.split_once(':').map_or(p, |(_, rest)| rest),
    };
    inner.trim().to_lowercase()
}

fn reference(name: &str) -> Option<Items> {
    let text = std::fs::read_to_string(root().join(format!("tests/golden/{name}.tshark-smtp.txt")))
        .ok()?;
    let mut items = Items::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        match cols[..] {
            ["req", commands, parameters] => {
                // Several commands of one frame (PIPELINING) are aggregated with \x1f. tshark
                // lists a parameter only for commands that have one, so a trailing DATA has
                // none: pairing stops at the shorter list, as compare-app.py does.
                for (command, parameter) in commands.split('\u{1f}').zip(parameters.split('\u{1f}'))
                {
                    let upper = parameter.trim_start().to_uppercase();
                    if command.eq_ignore_ascii_case("MAIL") && upper.starts_with("FROM") {
                        add(&mut items, "from", &address(parameter));
                    } else if command.eq_ignore_ascii_case("RCPT") && upper.starts_with("TO") {
                        add(&mut items, "rcpt", &address(parameter));
                    }
                }
            }
            ["subject", subject] if !subject.trim().is_empty() => {
                add(&mut items, "subject", subject.trim());
            }
            _ => {}
        }
    }
    Some(items)
}

/// netan's items, from its `smtp` records.
///
/// One normalisation: subjects of messages sent with BDAT (`chunked`) are left out, because
/// tshark 4.0 does not hand BDAT chunks to its IMF dissector (it finds no `imf` frame, hence no
/// subject, in `zeek-smtp-bdat-multipart-chunked.pcap`, whose message has `Subject: Zeek Logo`).
/// Their envelope addresses are compared like any other.
fn netan_items(records: &[serde_json::Value]) -> Items {
    let mut items = Items::new();
    for r in records.iter().filter(|r| r["type"] == "smtp") {
        if let Some(from) = r["mail_from"].as_str() {
            add(&mut items, "from", &from.to_lowercase());
        }
        for rcpt in r["rcpt_to"].as_array().into_iter().flatten() {
            add(
                &mut items,
                "rcpt",
                &rcpt["address"].as_str().unwrap_or("").to_lowercase(),
            );
        }
        if let Some(subject) = r["subject"].as_str() {
            if r["chunked"] != true && !subject.trim().is_empty() {
                add(&mut items, "subject", subject.trim());
            }
        }
    }
    items
}

fn of_type<'a>(records: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

#[test]
fn envelopes_and_subjects_equal_tsharks_on_every_shipped_capture() {
    let mut compared = 0;
    let mut with_reference = Vec::new();
    let mut failures = Vec::new();
    for name in captures() {
        // No golden file: tshark finds no SMTP command and no message in that capture
        // (checked for every shipped capture when the golden files were made), so netan must
        // not find any either.
        let reference = reference(&name);
        if reference.is_some() {
            with_reference.push(name.clone());
        } else if name.contains("smtp") {
            failures.push(format!("{name}: no tests/golden/{name}.tshark-smtp.txt"));
        }
        let want = reference.unwrap_or_default();
        let out = run(&["run", "-q", "-l", "smtp", capture(&name).to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = netan_items(&json_lines(&String::from_utf8_lossy(&out.stdout)));
        compared += want.values().sum::<usize>();
        if got != want {
            failures.push(format!("{name}:\n  tshark {want:?}\n  netan  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        with_reference,
        [
            "zeek-smtp-bdat-multipart-chunked.pcap",
            "zeek-smtp-multi-addr.pcap",
            "zeek-smtp-starttls.pcap",
            "zeek-smtp.pcap"
        ]
    );
    // zeek-smtp.pcap 8, the BDAT capture 2, multi-addr 3, STARTTLS none.
    assert_eq!(compared, 13);
}

#[test]
fn records_carry_the_envelope_headers_attachments_and_replies() {
    let recs = plugin_records("smtp", "zeek-smtp.pcap");
    // Two SMTP sessions (the capture's TLS session on 443 is released).
    let kinds: Vec<&str> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["smtp", "smtp_session", "smtp", "smtp_session"]);
    let m = &recs[0];
    assert_eq!(m["key"], "10.10.1.4:1470-74.53.140.153:25");
    assert_eq!(m["client"], "10.10.1.4:1470");
    assert_eq!(m["server"], "74.53.140.153:25");
    assert_eq!(m["transaction"], 1);
    assert_eq!(m["helo"], "GP");
    assert_eq!(m["mail_from"], "gurpartap@patriots.in");
    assert_eq!(m["mail_from_code"], 250);
    assert_eq!(
        m["rcpt_to"],
        serde_json::json!([{"address": "raj_deol2002in@yahoo.co.in", "code": 250}])
    );
    assert_eq!(m["from"], "Gurpartap Singh <gurpartap@patriots.in>");
    assert_eq!(m["to"], serde_json::json!(["raj_deol2002in@yahoo.co.in"]));
    assert_eq!(m["subject"], "SMTP");
    assert_eq!(m["date"], "Mon, 5 Oct 2009 11:36:07 +0530");
    assert_eq!(m["user_agent"], "Microsoft Office Outlook 12.0");
    // One line of the message is dot-stuffed on the wire.
    assert_eq!(
        (m["size"].as_u64(), m["wire_size"].as_u64()),
        (Some(14545), Some(14546))
    );
    // The attachment as Python's email package decodes it from the extracted message.
    assert_eq!(
        m["attachments"],
        serde_json::json!([{
            "filename": "NEWS.txt",
            "content_type": "text/plain",
            "size": 10807,
            "sha256": "ac04c5d2cd8fa9a2670c959806f5181a56b3e9bb1cc7da150af98ba074c86b55"
        }])
    );
    assert_eq!(m["auth_mechanism"], "LOGIN");
    assert_eq!(m["auth_success"], true);
    assert_eq!(m["last_reply_code"], 250);
    assert_eq!(m["last_reply_text"], "OK id=1Mugho-0003Dg-Un");
    for flag in ["gap", "truncated", "not_smtp", "bad_sequence", "reset"] {
        assert_eq!(m[flag], false, "{flag}");
    }
    let s = &recs[1];
    assert_eq!(s["greeting_code"], 220);
    assert_eq!(
        s["capabilities"],
        serde_json::json!([
            "SIZE 52428800",
            "PIPELINING",
            "AUTH PLAIN LOGIN",
            "STARTTLS",
            "HELP"
        ])
    );
    assert_eq!(s["transactions"], 1);
    assert_eq!(s["last_reply_code"], 221);

    let m = &recs[2];
    assert_eq!(m["mail_from"], "albert@example.com");
    let rcpts: Vec<&str> = m["rcpt_to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        rcpts,
        [
            "ericlim220@yahoo.com",
            "felica4uu@hotmail.com",
            "davis_mark1@outlook.com"
        ]
    );
    assert_eq!(m["to"], serde_json::json!(["ericlim220@yahoo.com"]));
    assert_eq!(
        m["cc"],
        serde_json::json!(["felica4uu@hotmail.com", "davis_mark1@outlook.com"])
    );
    assert_eq!(m["subject"], "Re: Bro SMTP CC Header");
    assert_eq!(
        m["in_reply_to"],
        "<9ACEE03C-AB98-4046-AEC1-BF4910C61E96@example.com>"
    );
    assert_eq!(m["auth_mechanism"], serde_json::Value::Null);
}

#[test]
fn auth_credentials_never_reach_the_output() {
    // The client logs in with AUTH LOGIN: username Z3VycGFydGFwQHBhdHJpb3RzLmlu
    // (gurpartap@patriots.in) and password cHVuamFiQDEyMw== (punjab@123), in base64 on their
    // own lines.
    let out = plugin_output("smtp", "zeek-smtp.pcap");
    assert!(out.contains("\"auth_mechanism\":\"LOGIN\""), "{out}");
    for secret in [
        "Z3VycGFydGFwQHBhdHJpb3RzLmlu",
        "cHVuamFiQDEyMw",
        "punjab@123",
        "punjab",
    ] {
        assert!(!out.contains(secret), "{secret} in the output");
    }
    let recs = json_lines(&out);
    // EHLO, AUTH, MAIL, RCPT, DATA, QUIT: the two credential lines are not commands.
    assert_eq!(of_type(&recs, "smtp_session")[0]["commands"], 6);
}

#[test]
fn starttls_is_reported_and_the_encrypted_rest_is_counted_not_parsed() {
    let recs = plugin_records("smtp", "zeek-smtp-starttls.pcap");
    assert!(of_type(&recs, "smtp").is_empty(), "{recs:?}");
    let sessions = of_type(&recs, "smtp_session");
    assert_eq!(sessions.len(), 1);
    let s = sessions[0];
    assert_eq!(s["tls"], true);
    assert_eq!(s["not_smtp"], false);
    assert_eq!(s["helo"], "openssl.client.net");
    assert!(s["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "STARTTLS"));
    // EHLO and STARTTLS; nothing of the TLS records is taken for a command or a reply.
    assert_eq!(s["commands"], 2);
    assert_eq!(s["replies"], 3);
    assert_eq!(s["unmatched_replies"], 0);
    assert_eq!(s["last_reply_code"], 220);
    assert_eq!(s["last_reply_text"], "2.0.0 Ready to start TLS");
    // Every byte of the session is counted: the same totals as `netan flows`.
    let flows = json_lines(&run_ok(&[
        "flows",
        "-q",
        capture("zeek-smtp-starttls.pcap").to_str().unwrap(),
    ]));
    assert_eq!(flows.len(), 1);
    assert_eq!(s["client_bytes"], flows[0]["bytes_c2s"]);
    assert_eq!(s["server_bytes"], flows[0]["bytes_s2c"]);
    assert!(s["client_bytes"].as_u64().unwrap() > 800);
}

#[test]
fn bdat_chunks_are_reassembled_into_one_message() {
    let recs = plugin_records("smtp", "zeek-smtp-bdat-multipart-chunked.pcap");
    let msgs = of_type(&recs, "smtp");
    assert_eq!(msgs.len(), 1);
    let m = msgs[0];
    assert_eq!(m["chunked"], true);
    assert_eq!(m["has_content"], true);
    // 26 chunks of 129 bytes and a LAST one of 106 (tshark's BDAT parameters).
    assert_eq!(m["size"], 26 * 129 + 106);
    assert_eq!(m["wire_size"], 26 * 129 + 106);
    assert_eq!(m["subject"], "Zeek Logo");
    assert_eq!(m["from"], "Arne Welzel <arne.welzel@corelight.com>");
    // The PNG split across many chunks, as Python's email package decodes it from the
    // extracted message.
    assert_eq!(
        m["attachments"],
        serde_json::json!([{
            "filename": "zeek-logo.png",
            "content_type": "image/png",
            "size": 2011,
            "sha256": "de85e2b5b3664e82b758cf4fce54e972bc1f2aa40992368b3f8935a56d2a04cc"
        }])
    );
    // The reply to BDAT LAST ends the transaction.
    assert_eq!(m["last_reply_code"], 250);
    assert_eq!(
        m["last_reply_text"],
        "2.0.0 Ok: 3462 bytes queued as E4F471CA025"
    );
    assert_eq!(m["truncated"], false);
    let s = of_type(&recs, "smtp_session")[0];
    // EHLO, MAIL, RCPT, 27 × BDAT, QUIT; the greeting and one reply each.
    assert_eq!(s["commands"], 31);
    assert_eq!(s["replies"], 32);
    assert_eq!(s["unmatched_replies"], 0);
    assert!(s["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CHUNKING"));
}

#[test]
fn pipelined_commands_pair_with_their_replies() {
    // RCPT TO and DATA go in one segment, their replies (250, 354) come back in one.
    let name = "zeek-smtp-multi-addr.pcap";
    let recs = plugin_records("smtp", name);
    let msgs = of_type(&recs, "smtp");
    assert_eq!(msgs.len(), 1);
    let m = msgs[0];
    assert_eq!(m["mail_from"], "root@gras-os-desk.cern.ch");
    assert_eq!(m["mail_from_code"], 250);
    assert_eq!(
        m["rcpt_to"],
        serde_json::json!([{"address": "jan.grashofer@cern.ch", "code": 250}])
    );
    assert_eq!(m["subject"], "Testmail");
    assert_eq!(
        m["to"],
        serde_json::json!([
            "Jan Grashoefer <jan.grashoefer@gmail.com>",
            "addr-spec@example.com",
            "angle-addr@example.com",
            "Test Member <name-addr@example.com>",
            "jan.grashofer@cern.ch"
        ])
    );
    assert_eq!(m["last_reply_code"], 250);
    assert!(m["last_reply_text"]
        .as_str()
        .unwrap()
        .ends_with("Queued mail for delivery"));
    // Times: MAIL FROM's monologue, the one carrying the 354, the one carrying the final 250.
    let monologues = json_lines(&run_ok(&[
        "monologues",
        "-q",
        capture(name).to_str().unwrap(),
    ]));
    // The capture's times are whole microseconds: rounding the seconds to them is exact.
    let start_ns = |i: usize| -> u64 {
        let t = monologues[i]["t_start"].as_f64().unwrap();
        (t * 1e6).round() as u64 * 1000
    };
    assert_eq!(m["t_start_ns"], start_ns(3));
    assert_eq!(m["t_data_ns"], start_ns(6));
    assert_eq!(m["t_end_ns"], start_ns(8));
    let s = of_type(&recs, "smtp_session")[0];
    // After the message the server times out the idle client: a reply to no command.
    assert_eq!(s["unmatched_replies"], 1);
    assert_eq!(s["last_reply_code"], 451);
}

#[test]
fn extraction_writes_each_message_as_an_eml_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(&[
        "run",
        "-q",
        "-l",
        "smtp,extract",
        "--extract-dir",
        dir.path().to_str().unwrap(),
        capture("zeek-smtp.pcap").to_str().unwrap(),
    ]);
    let recs = json_lines(&out);
    let msgs = of_type(&recs, "smtp");
    assert_eq!(msgs.len(), 2);
    for m in msgs {
        let file = m["file"].as_str().expect("a saved message");
        assert!(file.starts_with(dir.path().to_str().unwrap()), "{file}");
        assert!(file.ends_with(".eml"), "{file}");
        let bytes = std::fs::read(file).unwrap();
        // The message as its recipient gets it: dot-unstuffed, without the end marker.
        assert_eq!(bytes.len() as u64, m["size"].as_u64().unwrap());
        let text = String::from_utf8_lossy(&bytes);
        let subject = format!("Subject: {}\r\n", m["subject"].as_str().unwrap());
        assert!(text.contains(&subject), "{file}");
        assert!(
            !text.contains("\r\n..MsoChpDefault"),
            "dot-stuffing left in"
        );
        assert_eq!(m["extract_truncated"], false);
    }
    // Without --extract-dir nothing is written, the records have no file, and the plugin
    // says so once (it asks the host, API 0.1.1) instead of failing a save per message.
    let out = run(&[
        "run",
        "-q",
        "-l",
        "smtp,extract",
        capture("zeek-smtp.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("this run saves no files").count(), 1, "{err}");
    assert!(!err.contains("cannot save"), "{err}");
    let recs = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(of_type(&recs, "smtp").len(), 2);
    assert!(of_type(&recs, "smtp")
        .iter()
        .all(|m| m.get("file").is_none()));
}
