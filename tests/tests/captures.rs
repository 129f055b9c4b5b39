//! netan over real captures: golden outputs, and agreement with tshark/tcpflow.
//!
//! Every capture in `tests/captures/` (see its README for sources and what each exercises) is
//! run through `netan flows --hash` and `netan monologues --hash`; both outputs must equal the
//! reviewed golden files. Independently of the golden files, every flow direction without a
//! gap must carry exactly the bytes (count and SHA-256) of the reference reassembly in
//! `tests/golden/<capture>.reference.txt`, and every reference direction must be found.

mod common;

use std::collections::HashMap;

use common::*;

fn norm(endpoint: &str) -> String {
    // `[2001:db8::1]:80` → `2001:db8::1:80`, as the reference files write IPv6.
    endpoint.replace(['[', ']'], "")
}

#[test]
fn flows_match_the_golden_files() {
    let mut failures = Vec::new();
    for name in captures() {
        let path = capture(&name);
        let out = run(&["flows", "--hash", "-q", path.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).unwrap();
        if let Some(diff) = golden(&format!("{name}.flows.jsonl"), &text) {
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn monologues_match_the_golden_files() {
    let mut failures = Vec::new();
    for name in captures() {
        let path = capture(&name);
        let out = run(&["monologues", "--hash", "-q", path.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).unwrap();
        if let Some(diff) = golden(&format!("{name}.monologues.jsonl"), &text) {
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn gap_free_directions_equal_the_reference_reassembly() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for name in captures() {
        let reference =
            std::fs::read_to_string(root().join(format!("tests/golden/{name}.reference.txt")))
                .unwrap_or_default();
        // direction → [(bytes, sha)]; an ambiguous capture lists both tools' answers.
        let mut want: HashMap<String, Vec<(u64, String)>> = HashMap::new();
        for line in reference.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let [dir, n, sha] = parts[..] {
                want.entry(dir.to_string())
                    .or_default()
                    .push((n.parse().unwrap(), sha.to_string()));
            }
        }
        let out = run(&["flows", "--hash", "-q", capture(&name).to_str().unwrap()]);
        let flows = json_lines(&String::from_utf8(out.stdout).unwrap());
        let mut seen: HashMap<String, bool> = HashMap::new();
        for f in &flows {
            let (c, s) = (
                norm(f["client"].as_str().unwrap()),
                norm(f["server"].as_str().unwrap()),
            );
            let gaps = f["gaps"].as_u64().unwrap() > 0;
            for (from, to, bytes, sha) in [
                (&c, &s, f["bytes_c2s"].as_u64().unwrap(), &f["sha256_c2s"]),
                (&s, &c, f["bytes_s2c"].as_u64().unwrap(), &f["sha256_s2c"]),
            ] {
                let dir = format!("{from}>{to}");
                if bytes == 0 {
                    continue;
                }
                seen.insert(dir.clone(), gaps);
                if gaps {
                    continue;
                }
                checked += 1;
                let got = (bytes, sha.as_str().unwrap().to_string());
                if !want.get(&dir).is_some_and(|w| w.contains(&got)) {
                    failures.push(format!(
                        "{name}: {dir} netan {} bytes, reference {:?}",
                        got.0,
                        want.get(&dir)
                    ));
                }
            }
        }
        for dir in want.keys() {
            if !seen.contains_key(dir) {
                failures.push(format!(
                    "{name}: reference direction {dir} missing from netan's flows"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 60, "only {checked} directions were compared");
}

/// Captures where the original program's quirks make it wrong (docs/reassembly.md lists why).
const PERL_QUIRKS: &[&str] = &[
    "pa-frag-tcp-80-ipv4.pcap", // no IP reassembly: fragments decoded as TCP (Q11)
    "tcpdump-bigtcp-ipv4.pcap", // IPv4 total length 0 mishandled
    "zeek-http-entity-gap.pcap", // a lost segment loses the rest of the direction (Q5)
    "zeek-mpls-in-vlan.pcap",   // no MPLS decoding (Q11)
    "zeek-tcp-fast-open.pcap",  // data on SYN misplaced (Q8)
    "zeek-tcp-reassembly.pcap", // Q4/Q5
    "zeek-tcp-rst-inject.pcap", // RST ends the session at once; data in flight becomes a new session
    "zeek-smtp.pcap",           // an overlapping retransmission dropped whole (Q4)
];

#[test]
fn monologues_equal_the_original_programs_on_clean_captures() {
    let mut compared = 0;
    let mut failures = Vec::new();
    for name in captures() {
        let Ok(log) = std::fs::read_to_string(root().join(format!("tests/golden/{name}.perl.txt")))
        else {
            continue;
        };
        // key → monologues (from, bytes, sha) in order, as the original logged them.
        let mut perl: HashMap<String, Vec<(String, u64, String)>> = HashMap::new();
        for line in log.lines().filter(|l| l.starts_with("tcp_monologue ")) {
            let kv: HashMap<&str, &str> = line
                .split_whitespace()
                .filter_map(|p| p.split_once('='))
                .collect();
            perl.entry(kv["key"].to_string()).or_default().push((
                kv["from"].to_string(),
                kv["bytes"].parse().unwrap(),
                kv["sha256"].to_string(),
            ));
        }
        if perl.is_empty() || PERL_QUIRKS.contains(&name.as_str()) {
            continue;
        }
        let out = run(&[
            "monologues",
            "--hash",
            "-q",
            capture(&name).to_str().unwrap(),
        ]);
        let mut ours: HashMap<String, Vec<(String, u64, String)>> = HashMap::new();
        // Monologues made only of a gap (a side whose bytes were never captured) have no
        // counterpart in the original, which never reported missing data.
        for m in json_lines(&String::from_utf8(out.stdout).unwrap())
            .into_iter()
            .filter(|m| m["bytes"] != 0)
        {
            ours.entry(m["key"].as_str().unwrap().to_string())
                .or_default()
                .push((
                    m["from"].as_str().unwrap().to_string(),
                    m["bytes"].as_u64().unwrap(),
                    m["sha256"].as_str().unwrap_or("").to_string(),
                ));
        }
        compared += 1;
        if perl != ours {
            failures.push(format!("{name}: original {perl:?}\n netan {ours:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 10, "only {compared} captures compared");
}
