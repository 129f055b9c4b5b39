//! The HTTP analyser through the real binary: every transaction tshark 4.0 finds in the shipped
//! captures (method, URI, Host header, status; `tests/golden/<capture>.tshark-http.txt`) is
//! found by netan too, the records carry what a user checks, and http-perf consumes the
//! http plugin's events.

mod common;

use std::collections::HashMap;

use common::*;

/// Multiset of ("req", method, uri, host) and ("status", code) items.
type Items = HashMap<Vec<String>, usize>;

fn reference(name: &str) -> Option<Items> {
    let text = std::fs::read_to_string(root().join(format!("tests/golden/{name}.tshark-http.txt")))
        .ok()?;
    let mut items = Items::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        // tshark aggregates several requests of one frame with \x1f: split them.
        let split: Vec<Vec<&str>> = cols.iter().map(|c| c.split('\u{1f}').collect()).collect();
        let n = split.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..n {
            let item: Vec<String> = split
                .iter()
                .map(|c| c.get(i).or(c.first()).unwrap_or(&"").to_string())
                .collect();
            *items.entry(item).or_default() += 1;
        }
    }
    Some(items)
}

fn netan_items(records: &[serde_json::Value]) -> Items {
    let mut items = Items::new();
    for r in records.iter().filter(|r| r["type"] == "http") {
        if let Some(m) = r["method"].as_str() {
            let item = vec![
                "req".to_string(),
                m.to_string(),
                r["uri"].as_str().unwrap_or("").to_string(),
                r["host"].as_str().unwrap_or("").to_string(),
            ];
            *items.entry(item).or_default() += 1;
        }
        if let Some(s) = r["status"].as_u64() {
            *items
                .entry(vec!["status".to_string(), s.to_string()])
                .or_default() += 1;
        }
    }
    items
}

#[test]
fn transactions_equal_tsharks_on_every_shipped_http_capture() {
    let mut compared = 0;
    let mut failures = Vec::new();
    for name in captures() {
        let Some(want) = reference(&name) else {
            continue;
        };
        let out = run(&["run", "-q", "-l", "http", capture(&name).to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = netan_items(&json_lines(&String::from_utf8_lossy(&out.stdout)));
        for (item, n) in &want {
            let have = got.get(item).copied().unwrap_or(0);
            compared += n;
            if have < *n {
                failures.push(format!("{name}: tshark has {n} × {item:?}, netan {have}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared > 2000, "only {compared} items compared");
}

#[test]
fn records_carry_request_response_timing_and_flags() {
    let recs = plugin_records("http", "na-t1-google.pcap");
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["type"], "http");
    assert_eq!(r["key"], "145.246.233.194:33403-216.239.59.147:80");
    assert_eq!(
        (r["method"].as_str(), r["uri"].as_str(), r["host"].as_str()),
        (Some("GET"), Some("/index.html"), Some("www.google.com"))
    );
    assert_eq!(
        (r["status"].as_u64(), r["reason"].as_str()),
        (Some(200), Some("OK"))
    );
    assert_eq!(r["user_agent"], "Wget/1.8.2");
    assert_eq!(r["response_content_type"], "text/html");
    assert_eq!(r["response_body_len"], 1925);
    // The original's t_start/t_end for this transaction: request monologue start, response
    // monologue end.
    assert_eq!(r["t_request_start_ns"], 1_096_989_582_687_684_000u64);
    assert_eq!(r["t_response_end_ns"], 1_096_989_582_739_386_000u64);
    for flag in ["gap", "truncated", "not_http"] {
        assert_eq!(r[flag], false, "{flag}");
    }
}

#[test]
fn a_gap_inside_a_body_is_flagged_and_counted() {
    let recs = plugin_records("http", "zeek-http-entity-gap.pcap");
    let r = recs
        .iter()
        .find(|r| r["status"].as_u64().is_some())
        .expect("a response");
    assert_eq!(r["gap"], true);
    assert!(r["response_body_missing"].as_u64().unwrap() > 0);
}

#[test]
fn pipelined_requests_pair_with_their_responses_in_order() {
    let recs = plugin_records("http", "na-t6-http-pipelining.pcap");
    assert_eq!(recs.len(), 10);
    // The original's test 42 pins the first transaction: /emp/embed.js with a 6332-byte body.
    assert!(
        recs[0]["uri"].as_str().unwrap().ends_with("/emp/embed.js"),
        "{}",
        recs[0]["uri"]
    );
    assert_eq!(recs[0]["response_body_len"], 6332);
    assert!(recs.iter().all(|r| r["status"] == 200 && r["gap"] == false));
    let seq: Vec<u64> = recs
        .iter()
        .map(|r| r["transaction"].as_u64().unwrap())
        .collect();
    assert_eq!(seq, (0..10).collect::<Vec<_>>());
}

#[test]
fn http_perf_summarises_the_http_plugins_transactions() {
    let out = run(&[
        "run",
        "-l",
        "http",
        "-l",
        "http-perf",
        capture("zeek-http-1000-requests-one-dropped.pcap.gz")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.status.success());
    let recs = json_lines(&String::from_utf8_lossy(&out.stdout));
    let perf: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "http_perf").collect();
    assert_eq!(perf.len(), 1);
    let p = perf[0];
    let http = recs.iter().filter(|r| r["type"] == "http").count() as u64;
    assert_eq!(p["transactions"].as_u64().unwrap(), http);
    assert_eq!(
        p["answered"].as_u64().unwrap(),
        http - 1,
        "one response was dropped"
    );
    let (min, median, p95, max) = (
        p["latency_min_ns"].as_u64().unwrap(),
        p["latency_median_ns"].as_u64().unwrap(),
        p["latency_p95_ns"].as_u64().unwrap(),
        p["latency_max_ns"].as_u64().unwrap(),
    );
    assert!(min <= median && median <= p95 && p95 <= max);
    // The readable table goes to stderr.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP performance per server"), "{err}");
}

#[test]
fn extraction_writes_bodies_with_safe_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(&[
        "run",
        "-q",
        "-l",
        "http,extract",
        "--extract-dir",
        dir.path().to_str().unwrap(),
        capture("na-t1-google.pcap").to_str().unwrap(),
    ]);
    let r = &json_lines(&out)[0];
    let file = r["response_body_file"].as_str().expect("a saved body");
    assert!(file.starts_with(dir.path().to_str().unwrap()));
    assert_eq!(std::fs::read(file).unwrap().len(), 1925);
    assert_eq!(r["response_body_file_truncated"], false);
}

#[test]
fn extraction_without_an_extract_dir_is_said_once_and_keeps_no_bodies() {
    let out = run(&[
        "run",
        "-q",
        "-l",
        "http,extract",
        capture("na-t6-http-pipelining.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // One warning for the run (the plugin asks the host), not one failed save per body.
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("plugin `http`"), "{err}");
    assert!(err.contains("this run saves no files"), "{err}");
    let recs = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(recs.len(), 10);
    assert!(recs.iter().all(|r| r.get("response_body_file").is_none()));
    // With three instances sharing the sessions, each instance warns at its first session:
    // the host prints the warning once.
    let out = run(&[
        "run",
        "-q",
        "--instances",
        "3",
        "-l",
        "http,extract",
        capture("zeek-http-cooper-grill-dvwa.pcapng")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("this run saves no files").count(), 1, "{err}");
}

/// HTTP inside SOCKS tunnels (SOCKS5 to a host name on port 8124; SOCKS4 on the BSD loopback
/// link type): every transaction is found (the tshark comparison above covers the items) and
/// each record names the destination the client asked the proxy for, without any flag set.
#[test]
fn http_in_socks_tunnels_names_the_destination() {
    for (name, destination, transactions) in [
        ("zeek-socks.pcap", "www.osnews.com:80", 7),
        ("zeek-socks-null.pcap", "192.150.187.12:80", 1),
    ] {
        let recs: Vec<serde_json::Value> = plugin_records("http", name)
            .into_iter()
            .filter(|r| r["type"] == "http")
            .collect();
        assert_eq!(recs.len(), transactions, "{name}");
        for r in &recs {
            assert_eq!(r["socks"], destination, "{name}");
            for flag in ["not_http", "gap", "truncated"] {
                assert_eq!(r[flag], false, "{name}: {flag}");
            }
        }
    }
    // Elsewhere the field is absent: records of plain sessions are as they were.
    let recs = plugin_records("http", "na-t1-google.pcap");
    assert!(recs.iter().all(|r| r.get("socks").is_none()));
}
