//! The `netan` command line: bad input of every kind, multi-file timelines, dumps, help.

mod common;

use std::path::Path;

use common::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

fn t1() -> Vec<u8> {
    std::fs::read(capture("na-t1-google.pcap")).unwrap()
}

#[test]
fn a_missing_file_is_one_error_line_naming_it_and_exit_1() {
    let out = run(&["flows", "/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("/nonexistent/capture.pcap"));
}

#[test]
fn a_directory_with_no_capture_in_it_is_an_error_naming_it_and_the_rest_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "notes.txt", b"not a capture");
    let google = capture("na-t1-google.pcap");
    let out = run(&[
        "flows",
        dir.path().to_str().unwrap(),
        google.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(dir.path().to_str().unwrap()), "{err}");
    assert!(
        errors[0].contains("no capture file in this directory"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn a_file_that_is_not_a_capture_is_refused_and_the_others_still_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let notes = write(dir.path(), "notes.txt", b"these are notes, not packets");
    let good = capture("na-t1-google.pcap");
    let out = run(&["flows", &notes, good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.txt: not a pcap or pcapng capture"),
        "{err}"
    );
    assert_eq!(json_lines(&String::from_utf8_lossy(&out.stdout)).len(), 1);
}

#[test]
fn a_corrupt_record_names_its_offset_and_what_came_before_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = t1();
    let offset = bytes.len();
    // A record header announcing 3.9 GB, as in the corpus's sv-smtp-to-comma-bad-record.pcap.
    bytes.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0x0d, 0x0a, 0x01, 0xea, 0x0d, 0x0a, 0x01, 0xea, 1, 2, 3,
    ]);
    let path = write(dir.path(), "bad.pcap", &bytes);
    let out = run(&["flows", "--hash", &path]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("bad.pcap: corrupt record at byte offset {offset}")),
        "{err}"
    );
    let flows = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["bytes_s2c"], 2245);
}

#[test]
fn a_capture_cut_inside_a_record_is_a_warning_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = t1();
    let path = write(dir.path(), "cut.pcap", &bytes[..bytes.len() - 10]);
    let out = run(&["flows", &path]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("cut.pcap") && err.contains("byte offset"),
        "{err}"
    );
    assert_eq!(json_lines(&String::from_utf8_lossy(&out.stdout)).len(), 1);
}

#[test]
fn an_empty_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.pcap", b"");
    let out = run(&["flows", &path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("empty.pcap: not a pcap or pcapng capture")
    );
}

#[test]
fn several_files_are_one_timeline_with_sessions_carried_across() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = t1();
    let (header, records) = pcap_records(&bytes).unwrap();
    let (first, second) = records.split_at(5);
    let a = write(
        dir.path(),
        "part-1.pcap",
        &[header, &first.concat()].concat(),
    );
    let b = write(
        dir.path(),
        "part-2.pcap",
        &[header, &second.concat()].concat(),
    );
    let whole = run_ok(&[
        "flows",
        "--hash",
        "-q",
        capture("na-t1-google.pcap").to_str().unwrap(),
    ]);
    let split = run_ok(&["flows", "--hash", "-q", &a, &b]);
    assert_eq!(split, whole);
    // A directory means its captures in name order.
    let from_dir = run_ok(&["flows", "--hash", "-q", dir.path().to_str().unwrap()]);
    assert_eq!(from_dir, whole);
}

#[test]
fn gzip_captures_are_read_like_plain_ones() {
    let flows = json_lines(&run_ok(&[
        "flows",
        "-q",
        capture("zeek-http-1000-requests-one-dropped.pcap.gz")
            .to_str()
            .unwrap(),
    ]));
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["client"], "[::1]:44730");
}

#[test]
fn dump_dir_writes_each_monologue_and_the_hashes_agree() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    // A scratch file left by an earlier run (killed, or out of space) joins no dump.
    std::fs::create_dir(&dump).unwrap();
    std::fs::write(dump.join(".partial.s0"), b"LEFT BY AN EARLIER RUN").unwrap();
    let out = run_ok(&[
        "monologues",
        "--hash",
        "-q",
        "--dump-dir",
        dump.to_str().unwrap(),
        capture("na-t6-http-pipelining.pcap").to_str().unwrap(),
    ]);
    let monos = json_lines(&out);
    assert_eq!(monos.len(), 16);
    for m in &monos {
        let file = m["file"].as_str().unwrap();
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(bytes.len() as u64, m["bytes"].as_u64().unwrap(), "{file}");
        assert!(!bytes.starts_with(b"LEFT"), "{file}");
        assert!(file.ends_with(&format!(".{}", m["monologue"].as_u64().unwrap() + 1)));
    }
    // Nothing else is left in the directory.
    assert_eq!(std::fs::read_dir(&dump).unwrap().count(), 16);
}

#[test]
fn the_summary_reports_packets_sessions_and_skips() {
    let out = run(&[
        "flows",
        capture("tcpdump-unsupported-link-type-160.pcap")
            .to_str()
            .unwrap(),
        capture("na-t1-google.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("12 packets"), "{err}");
    assert!(err.contains("1 TCP sessions"), "{err}");
    assert!(err.contains("unsupported_linktype 1"), "{err}");
    assert!(err.contains("limits hit: none"), "{err}");
    assert!(err.contains("packets/s"), "{err}");
}

/// Asserts that two runs wrote the same records (shown as text when they differ).
fn assert_same_stdout(out: &std::process::Output, expected: &std::process::Output) {
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&expected.stdout)
    );
}

/// Runs netan quietly with `args` (the command first) and `--stats`: its output, which must
/// be a success, and the stats file read back.
fn run_with_stats(args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let (command, rest) = args.split_first().unwrap();
    let mut all = vec![*command, "-q", "--stats", stats.to_str().unwrap()];
    all.extend_from_slice(rest);
    let out = run(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    (out, v)
}

#[test]
fn stats_holds_the_summary_counters_by_name() {
    let linktype = capture("tcpdump-unsupported-link-type-160.pcap");
    let google = capture("na-t1-google.pcap");
    let (out, v) = run_with_stats(&[
        "flows",
        linktype.to_str().unwrap(),
        google.to_str().unwrap(),
    ]);
    // The same figures as the summary's (see the test above), by name.
    assert_eq!(v["frames"], 12);
    assert_eq!(v["tcp"]["sessions"], 1);
    assert_eq!(v["decode"]["not_used"]["unsupported_linktype"], 1);
    assert_eq!(v["decode"]["unsupported_linktypes"]["160"], 1);
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    assert_eq!(v["files"][1]["path"], google.to_str().unwrap());
    assert!(v["interrupted"].is_null());
    // Every end reason and skip reason is there, zero or not, and sums agree with the flows.
    let flows = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
    let ended: u64 = v["tcp"]["ended"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(ended, flows);
    assert_eq!(v["tcp"]["ended"].as_object().unwrap().len(), 6);
    assert!(v["decode"]["not_used"].as_object().unwrap().len() >= 10);
    assert!(v.get("plugins").is_none());
}

#[test]
fn stats_of_a_plugin_run_count_its_records_by_kind() {
    let smtp = root().join("examples/captures/smtp.pcap");
    let (out, v) = run_with_stats(&["run", smtp.to_str().unwrap()]);
    let mut kinds = std::collections::BTreeMap::<String, u64>::new();
    for r in json_lines(&String::from_utf8_lossy(&out.stdout)) {
        *kinds
            .entry(r["type"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(kinds.contains_key("smtp"), "{kinds:?}");
    let counted: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(v["plugins"]["records"].clone()).unwrap();
    assert_eq!(counted, kinds);
    assert!(v["plugins"]["parts"].as_u64().unwrap() > 0);
    assert_eq!(v["plugins"]["failures"], serde_json::json!([]));
}

/// A stats file that cannot be written is said before the run (exit 2, nothing analysed),
/// not after a whole run whose counters are then lost.
#[test]
fn a_stats_file_that_cannot_be_written_is_refused_before_the_run() {
    let google = capture("na-t1-google.pcap");
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "/nonexistent/dir/stats.json".to_string(),
        dir.path().display().to_string(),
    ] {
        for command in ["flows", "run"] {
            let out = run(&[command, "--stats", &bad, google.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(2), "{command} {bad}");
            let err = String::from_utf8_lossy(&out.stderr);
            let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
            assert_eq!(errors.len(), 1, "{err}");
            assert!(errors[0].contains(&format!("--stats {bad}")), "{err}");
            assert!(out.stdout.is_empty(), "{command}: analysed anyway");
        }
    }
}

#[test]
fn max_session_size_is_reported_as_a_limit_that_bit() {
    let out = run(&[
        "flows",
        "--max-session-size",
        "1000",
        capture("na-t1-google.pcap").to_str().unwrap(),
    ]);
    let flows = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(flows[0]["capped"], true);
    assert_eq!(
        flows[0]["bytes_s2c"].as_u64().unwrap() + flows[0]["bytes_c2s"].as_u64().unwrap(),
        1000
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_session_size cut 1 sessions"));
}

#[test]
fn help_explains_every_option() {
    for cmd in ["flows", "monologues"] {
        let help = run_ok(&[cmd, "--help"]);
        for opt in [
            "--max-session-size",
            "--max-buffered-per-session",
            "--max-buffered",
            "--max-sessions",
            "--idle-timeout",
            "--close-linger",
            "--overlap-segments",
            "--no-tunnels",
            "--quiet",
            "--hash",
        ] {
            assert!(help.contains(opt), "{cmd} --help does not mention {opt}");
        }
    }
}

#[test]
fn bad_option_values_are_usage_errors() {
    let out = run(&[
        "flows",
        "--idle-timeout",
        "-5",
        capture("na-t1-google.pcap").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["flows"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Starts `netan ARGS -` with `capture`'s bytes in its input pipe, which stays open
/// (a live stream that has gone quiet), and waits until netan handles SIGINT (its handler is
/// installed) and, if `caught_up`, until it has caught up with the bytes: it sleeps, waiting
/// on the empty pipe.
#[cfg(target_os = "linux")]
fn netan_on_a_quiet_pipe(
    args: &[&str],
    capture: &[u8],
    caught_up: bool,
) -> (std::process::Child, std::process::ChildStdin) {
    use std::io::Write;
    let mut with_input: Vec<&str> = args.to_vec();
    with_input.push("-");
    let (child, mut input) = spawn_with_input(&with_input);
    // Smaller than a pipe's buffer: the write does not wait for netan.
    assert!(capture.len() < 65536);
    input.write_all(capture).unwrap();
    input.flush().unwrap();
    let stat = format!("/proc/{}/stat", child.id());
    let ready = || {
        let sleeping = std::fs::read_to_string(&stat)
            .ok()
            .and_then(|s| s.rsplit(") ").next().map(|rest| rest.starts_with('S')));
        handles_sigint(&child) && (!caught_up || sleeping == Some(true))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "netan never waited for input"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, input)
}

/// Whether the process has a handler for SIGINT (signal 2: bit 1 of its SigCgt mask).
#[cfg(target_os = "linux")]
fn handles_sigint(child: &std::process::Child) -> bool {
    std::fs::read_to_string(format!("/proc/{}/status", child.id())).is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|m| m & 2 != 0)
    })
}

/// Waits for netan to end (its input pipe still open), failing if it has not within 60 s.
#[cfg(target_os = "linux")]
fn ends(mut child: std::process::Child) -> std::process::Output {
    use std::io::Read;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("netan did not stop on the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

/// Runs `netan ARGS -` on `capture` through a pipe that stays open (see
/// [`netan_on_a_quiet_pipe`]), sends it signal `name`, and checks that it stops with `code`
/// and says so; returns its output and standard error.
#[cfg(target_os = "linux")]
fn stopped_by(
    name: &str,
    code: i32,
    args: &[&str],
    capture: &[u8],
    caught_up: bool,
) -> (std::process::Output, String) {
    let (child, input) = netan_on_a_quiet_pipe(args, capture, caught_up);
    signal(&child, name);
    let out = ends(child);
    drop(input);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(
        err.contains(&format!(
            "netan: interrupted by SIG{name}: reading stopped at byte offset"
        )),
        "{err}"
    );
    (out, err)
}

#[cfg(target_os = "linux")]
fn signal(child: &std::process::Child, name: &str) {
    let number = match name {
        "INT" => libc::SIGINT,
        "TERM" => libc::SIGTERM,
        _ => panic!("no signal {name}"),
    };
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to the child process started by this test.
    let sent = unsafe { libc::kill(pid, number) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
}

/// The number after `label` in `text` ("... 12 TCP sessions ..." with label " TCP sessions").
fn count_before(text: &str, label: &str) -> u64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("no `{label}` in {text}"));
    text[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before `{label}` in {text}"))
}

#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_stops_reading_and_what_was_read_is_reported_with_exit_130() {
    let capture = std::fs::read(root().join("examples/captures/smtp.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let args = ["flows", "--stats", stats.to_str().unwrap()];
    let (out, err) = stopped_by("INT", 130, &args, &capture, true);
    let note = err
        .lines()
        .find(|l| l.starts_with("netan: interrupted by SIGINT: reading stopped at byte offset"))
        .unwrap_or_else(|| panic!("no interruption note in {err}"));
    assert!(note.contains(" of standard input after "), "{note}");
    // Not a cut file: no truncation warning, no error.
    assert!(!err.contains("warning") && !err.contains("error"), "{err}");
    // Every session read was ended and reported, as at the end of the input; the summary
    // counts the frames the note says were read.
    let flows = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert!(!flows.is_empty(), "netan had read the whole capture: {err}");
    assert_eq!(
        flows.len() as u64,
        count_before(&err, " TCP sessions"),
        "{err}"
    );
    assert_eq!(
        count_before(note, " frames"),
        count_before(&err, " packets, "),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(v["interrupted"]["signal"], "SIGINT");
    assert_eq!(v["interrupted"]["path"], "-");
    assert_eq!(v["interrupted"]["frames"], v["frames"]);
    // With everything read before the signal, the result is that of the whole file.
    let whole = run(&[
        "flows",
        root().join("examples/captures/smtp.pcap").to_str().unwrap(),
    ]);
    assert_same_stdout(&out, &whole);
}

#[cfg(target_os = "linux")]
#[test]
fn sigterm_stops_a_plugin_run_which_still_writes_its_records_with_exit_143() {
    let path = root().join("examples/captures/smtp.pcap");
    let capture = std::fs::read(&path).unwrap();
    let (out, err) = stopped_by("TERM", 143, &["run", "-l", "smtp"], &capture, true);
    let whole = run(&["run", "-l", "smtp", path.to_str().unwrap()]);
    let records = String::from_utf8_lossy(&out.stdout);
    assert!(records.lines().count() > 0, "{err}");
    assert_eq!(records, String::from_utf8_lossy(&whole.stdout));
}

#[test]
fn a_dash_reads_standard_input_from_a_pipe_a_redirected_file_or_gzip() {
    use std::io::Write;
    use std::process::Stdio;
    let path = root().join("examples/captures/smtp.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let whole = run(&["flows", path.to_str().unwrap()]);
    assert!(whole.status.success());
    // A pipe (written by a thread: netan reads while it is written).
    let pipe_of = |data: Vec<u8>| {
        let (child, mut input) = spawn_with_input(&["flows", "-"]);
        let writer = std::thread::spawn(move || input.write_all(&data).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    };
    let piped = pipe_of(bytes.clone());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gzipped = pipe_of(gz.finish().unwrap());
    let redirected = run_with_stdin(
        &["flows", "-"],
        Stdio::from(std::fs::File::open(&path).unwrap()),
    );
    for out in [&piped, &gzipped, &redirected] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!whole.stdout.is_empty());
        assert_eq!(out.stdout, whole.stdout, "{err}");
    }
}

#[test]
fn standard_input_redirected_part_way_into_a_file_gives_plugins_the_bytes_read() {
    use std::io::{Seek, SeekFrom, Write};
    // 1000 bytes of something else, then the capture; netan's input starts after them (as
    // after `dd bs=1000 count=1 of=/dev/null` in `(dd ...; netan run -) < file`). Kept bytes
    // must come from where they were read, not from the same offsets of the file.
    let path = root().join("examples/captures/http-pipelining.pcap");
    let dir = tempfile::tempdir().unwrap();
    let combined = dir.path().join("combined.bin");
    let mut f = std::fs::File::create(&combined).unwrap();
    f.write_all(&[0x5a; 1000]).unwrap();
    f.write_all(&std::fs::read(&path).unwrap()).unwrap();
    drop(f);
    let mut input = std::fs::File::open(&combined).unwrap();
    input.seek(SeekFrom::Start(1000)).unwrap();
    let out = run_with_stdin(&["run", "-"], std::process::Stdio::from(input));
    let whole = run(&["run", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&whole.stdout).contains("\"http\""));
    assert_same_stdout(&out, &whole);
}

#[cfg(target_os = "linux")]
#[test]
fn a_signal_while_frames_are_worked_on_is_seen_before_the_quiet_pipe_is_waited_on() {
    // The signal comes as soon as netan handles it, whatever it is doing: working on the
    // frames or already waiting. Either way it must not wait on the quiet pipe for good.
    let capture = std::fs::read(root().join("examples/captures/smtp.pcap")).unwrap();
    for _ in 0..3 {
        let (out, err) = stopped_by("TERM", 143, &["flows"], &capture, false);
        let flows = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
        assert_eq!(flows, count_before(&err, " TCP sessions"), "{err}");
    }
}

#[test]
fn a_dash_is_standard_input_even_beside_a_directory_named_dash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("-")).unwrap();
    let path = root().join("examples/captures/smtp.pcap");
    let out = std::process::Command::new(netan())
        .args(["flows", "-"])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let whole = run(&["flows", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!whole.stdout.is_empty());
    assert_eq!(out.stdout, whole.stdout);
}

#[test]
fn stats_are_written_when_the_reader_of_the_records_went_away() {
    // `netan flows x --stats s.json | head -0`: stdout closed before the end.
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let mut child = std::process::Command::new(netan())
        .args(["flows", "--stats", stats.to_str().unwrap()])
        .arg(root().join("tests/captures/zeek-http-1000-requests-one-dropped.pcap.gz"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert!(v["frames"].as_u64().unwrap() > 0);
}

/// A named pipe in `dir` (made with mkfifo(1)).
#[cfg(target_os = "linux")]
fn fifo(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("capture.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    path
}

#[cfg(target_os = "linux")]
#[test]
fn a_named_pipe_is_read_once_its_writer_comes_and_ctrl_c_stops_the_wait() {
    use std::io::Write;
    let path = root().join("examples/captures/smtp.pcap");
    let whole = run(&["flows", path.to_str().unwrap()]);
    // The writer comes after netan opened the pipe.
    let dir = tempfile::tempdir().unwrap();
    let pipe = fifo(dir.path());
    let (child, input) = spawn_with_input(&["flows", pipe.to_str().unwrap()]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&pipe)
        .unwrap()
        .write_all(&std::fs::read(&path).unwrap())
        .unwrap();
    let out = ends(child);
    drop(input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_stdout(&out, &whole);
    // No writer ever comes: Ctrl-C ends the wait.
    let dir = tempfile::tempdir().unwrap();
    let pipe = fifo(dir.path());
    let (child, input) = spawn_with_input(&["flows", pipe.to_str().unwrap()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !handles_sigint(&child) {
        assert!(std::time::Instant::now() < deadline, "no handler");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    signal(&child, "INT");
    let out = ends(child);
    drop(input);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ports_select_the_sessions_analysed_and_the_rest_is_counted() {
    // The HTTP capture then the SMTP one, as one timeline, with only port 25: the flows are
    // the SMTP capture's port-25 sessions, and every other segment is counted as skipped.
    let http = root().join("examples/captures/http-pipelining.pcap");
    let smtp = root().join("examples/captures/smtp.pcap");
    let (out, v) = run_with_stats(&[
        "flows",
        "--ports",
        "25",
        http.to_str().unwrap(),
        smtp.to_str().unwrap(),
    ]);
    let flows = |stdout: &[u8]| json_lines(&String::from_utf8_lossy(stdout));
    let summary = |f: &serde_json::Value| {
        (
            f["key"].as_str().unwrap().to_string(),
            f["bytes_c2s"].as_u64().unwrap(),
            f["bytes_s2c"].as_u64().unwrap(),
        )
    };
    let selected = flows(&out.stdout);
    let on_25: Vec<_> = flows(&run(&["flows", smtp.to_str().unwrap()]).stdout)
        .into_iter()
        .filter(|f| {
            f["key"].as_str().unwrap().contains(":25-")
                || f["key"].as_str().unwrap().ends_with(":25")
        })
        .collect();
    assert!(!on_25.is_empty());
    assert_eq!(
        selected.iter().map(summary).collect::<Vec<_>>(),
        on_25.iter().map(summary).collect::<Vec<_>>()
    );
    // Every TCP segment was either analysed (a packet of a selected session) or skipped.
    assert_eq!(v["selection"]["ports"], serde_json::json!([25]));
    let skipped = v["selection"]["segments_skipped"].as_u64().unwrap();
    let analysed: u64 = selected
        .iter()
        .map(|f| f["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(v["tcp"]["late_packets"], 0);
    assert_eq!(
        skipped + analysed,
        v["decode"]["tcp_segments"].as_u64().unwrap()
    );
    assert!(skipped > 0);
    // The summary says what was selected and skipped.
    let said = run(&[
        "flows",
        "--ports",
        "25",
        http.to_str().unwrap(),
        smtp.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        err.contains(&format!(
            "selected sessions on ports 25: {skipped} TCP segments outside skipped"
        )),
        "{err}"
    );
}

#[test]
fn a_bad_selection_is_a_usage_error() {
    let smtp = root().join("examples/captures/smtp.pcap");
    let out = run(&[
        "flows",
        "--addresses",
        "10.0.0.0/40",
        smtp.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--addresses: address `10.0.0.0/40`"), "{err}");
}

#[test]
fn a_pipelines_input_selection_applies_to_every_plugin_and_the_command_line_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write(
        dir.path(),
        "select.toml",
        b"[input]\nports = [25]\n\n[[plugin]]\nname = \"http\"\nany = true\n\n[[plugin]]\nname = \"smtp\"\n",
    );
    let http = root().join("examples/captures/http-pipelining.pcap");
    let smtp = root().join("examples/captures/smtp.pcap");
    let kinds = |args: &[&str]| -> (std::collections::BTreeSet<String>, serde_json::Value) {
        let mut all = vec!["run", "-p", pipeline.as_str()];
        all.extend_from_slice(args);
        all.extend([http.to_str().unwrap(), smtp.to_str().unwrap()]);
        let (out, v) = run_with_stats(&all);
        let kinds = json_lines(&String::from_utf8_lossy(&out.stdout))
            .iter()
            .map(|r| r["type"].as_str().unwrap().to_string())
            .collect();
        (kinds, v)
    };
    // Port 25 only: the HTTP plugin, which takes any port, sees no HTTP session.
    let (seen, v) = kinds(&[]);
    assert!(seen.contains("smtp") && !seen.contains("http"), "{seen:?}");
    assert_eq!(v["selection"]["ports"], serde_json::json!([25]));
    // --ports replaces the file's ports.
    let (seen, v) = kinds(&["--ports", "80"]);
    assert!(seen.contains("http") && !seen.contains("smtp"), "{seen:?}");
    assert_eq!(v["selection"]["ports"], serde_json::json!([80]));
}

/// One located error and exit 2 for `netan run` with this pipeline text and arguments.
fn refused(pipeline: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, pipeline).unwrap();
    let smtp = root().join("examples/captures/smtp.pcap");
    let mut all = vec!["run", "-q", "-p", path.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push(smtp.to_str().unwrap());
    let out = run(&all);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{pipeline} {args:?}: {err}");
    assert!(out.stdout.is_empty(), "{err}");
    err.replace(path.to_str().unwrap(), "p.toml")
}

#[test]
fn a_name_and_a_path_that_disagree_are_refused() {
    let lib = netan().with_file_name(format!(
        "{}netan_http{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let err = refused(
        &format!(
            "[[plugin]]\nname = \"smtp\"\npath = \"{}\"\n",
            lib.display()
        ),
        &[],
    );
    assert!(err.contains("p.toml:2:8"), "{err}");
    assert!(err.contains("is plugin `http`"), "{err}");
}

#[test]
fn analyser_limits_of_zero_are_refused_with_the_key() {
    for (spec, key) in [
        ("http,max_head=0", "max_head"),
        ("http,extract_max=0", "extract_max"),
        ("smtp,max_line=0", "max_line"),
        ("smtp,max_extract=0", "max_extract"),
        ("smtp,max_header_block=0", "max_header_block"),
        // The former name is named as the file has it.
        ("smtp,max_message_parse=0", "max_message_parse"),
    ] {
        let err = refused("", &["-l", spec]);
        assert!(err.contains(&format!("`{key}`")), "{spec}: {err}");
        assert!(err.contains("must be at least 1"), "{spec}: {err}");
    }
}

#[test]
fn a_configuration_error_names_the_option_that_set_the_key() {
    // Two options merge into one entry: the error is the first's, which set the key.
    let err = refused("", &["-l", "http,max_head=0", "-l", "http,extract_max=5"]);
    assert!(err.contains("`-l http,max_head=0`"), "{err}");
    assert!(!err.contains("extract_max"), "{err}");
}

#[test]
fn a_limit_given_under_both_its_names_is_refused() {
    let err = refused("", &["-l", "smtp,max_header_block=64,max_message_parse=64"]);
    assert!(err.contains("`max_message_parse`"), "{err}");
    assert!(err.contains("give one of them"), "{err}");
}

#[test]
fn an_extraction_or_plugin_directory_that_cannot_be_used_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();
    let err = refused("", &["-l", "http,extract", "--extract-dir", f]);
    assert!(err.contains("extraction directory"), "{err}");
    let missing = dir.path().join("no-such-dir");
    for bad in [f, missing.to_str().unwrap()] {
        let err = refused("", &["--plugin-dir", bad]);
        assert!(err.contains(&format!("--plugin-dir {bad}")), "{err}");
        let out = run(&["plugins", "--plugin-dir", bad]);
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn entry_slips_that_would_pass_silently_are_refused() {
    let err = refused(
        "[[plugin]]\nname = \"http\"\nevents = [\"tcp_monologue\", \"tcp_monologue\", \"tcp_monologue\"]\n",
        &[],
    );
    assert_eq!(
        err.matches("lists `tcp_monologue` more than once").count(),
        1,
        "{err}"
    );
    let err = refused(
        "[[plugin]]\nname = \"minimal\"\n[plugin.config]\nverbose = true\n",
        &[],
    );
    assert!(err.contains("p.toml:4:1"), "{err}");
    assert!(err.contains("unknown field `verbose`"), "{err}");
    for args in [["--max-sessions", "0"], ["--instances", "0"]] {
        let err = refused("", &args);
        assert!(err.contains("must be at least 1"), "{args:?}: {err}");
    }
}

/// A configuration mistake in the file is located in the file even when an `-l` for the same
/// entry sets other keys; one the `-l` sets is the option's.
#[test]
fn a_config_error_is_blamed_on_where_the_key_was_written() {
    let file = "[[plugin]]\nname = \"http\"\n[plugin.config]\nheaders = \"some\"\n";
    let err = refused(file, &["-l", "http,decode_bodies"]);
    assert!(err.contains("p.toml:4:1"), "{err}");
    assert!(!err.contains("command line"), "{err}");
    let err = refused(file, &["-l", "http,headers=most"]);
    assert!(err.contains("command line `-l http,headers=most`"), "{err}");
}

/// Configuration errors in sub-tables point at them, not at the `[plugin.config]` header.
#[test]
fn a_config_error_in_a_sub_table_is_located_there() {
    for (text, at) in [
        (
            "[[plugin]]\nname = \"http\"\n[plugin.config]\nmax_head = 5\n\n[plugin.config.extra]\ndeep = 1\n",
            "p.toml:6:1",
        ),
        (
            "[[plugin]]\nname = \"http\"\n[plugin.config]\nmax_head = 5\nextra = { deep = 1 }\n",
            "p.toml:5:1",
        ),
        ("[[plugin]]\nname = \"http\"\nconfig.max_head = \"x\"\n", "p.toml:3:1"),
    ] {
        let err = refused(text, &[]);
        assert!(err.contains(at), "{text}: {err}");
    }
}

/// `text` is in what `netan WITH` (which succeeds) says on stderr, not in what `netan
/// WITHOUT` says.
fn said_only_by(with: &[&str], without: &[&str], text: &str) {
    let out = run(with);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(text), "{with:?}: {err}");
    let out = run(without);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains(text), "{without:?}: {err}");
}

/// A consumer that received none of its events gets a note: here the emitter is configured
/// not to emit them, which nothing else would show.
#[test]
fn a_consumer_that_received_no_event_is_noted() {
    let http = root().join("examples/captures/http-pipelining.pcap");
    let http = http.to_str().unwrap();
    said_only_by(
        &[
            "run",
            "-l",
            "http,transactions=false",
            "-l",
            "http-perf",
            http,
        ],
        &["run", "-l", "http", "-l", "http-perf", http],
        "plugin `http-perf` received no http_transaction event",
    );
}

#[test]
fn an_entry_the_selection_leaves_nothing_to_is_warned_about() {
    let smtp = root().join("examples/captures/smtp.pcap");
    let smtp = smtp.to_str().unwrap();
    said_only_by(
        &[
            "run",
            "-q",
            "-l",
            "portcount,ports=80",
            "--ports",
            "25",
            smtp,
        ],
        &[
            "run",
            "-q",
            "-l",
            "portcount,ports=80+25",
            "--ports",
            "25",
            smtp,
        ],
        "plugin `portcount` (ports 80) and the selection (ports 25) share no port",
    );
}

/// `--stats` to a named pipe: checked before the run without being opened (an early open
/// and close would give the reader its end of file), written once at the end.
#[cfg(target_os = "linux")]
#[test]
fn stats_go_to_a_named_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo(dir.path());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let smtp = root().join("examples/captures/smtp.pcap");
    run_ok(&[
        "flows",
        "-q",
        "--stats",
        fifo.to_str().unwrap(),
        smtp.to_str().unwrap(),
    ]);
    let text = reader.join().unwrap();
    let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stats["netan_version"], env!("CARGO_PKG_VERSION"), "{text}");
}

/// Labels that differ only in what a file name cannot hold keep their extracted files apart
/// (and are not refused: a label is any text).
#[test]
fn labels_that_differ_only_in_unsafe_characters_extract_apart() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "[[plugin]]\nname = \"http\"\nlabel = \"a/b\"\n[plugin.config]\nextract = true\n\n[[plugin]]\nname = \"http\"\nlabel = \"a_b\"\n[plugin.config]\nextract = true\n\n[[plugin]]\nname = \"http\"\nlabel = \"веб\"\n[plugin.config]\nextract = true\n",
    )
    .unwrap();
    let out_dir = dir.path().join("ex");
    let http = root().join("examples/captures/http-pipelining.pcap");
    run_ok(&[
        "run",
        "-q",
        "-p",
        pipeline.to_str().unwrap(),
        "--extract-dir",
        out_dir.to_str().unwrap(),
        http.to_str().unwrap(),
    ]);
    let mut dirs: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    assert!(dirs.contains(&"a_b".to_string()), "{dirs:?}");
    assert!(dirs.iter().any(|d| d.starts_with("a_b-")), "{dirs:?}");
    assert!(dirs.iter().any(|d| d.starts_with("___-")), "{dirs:?}");
    let per_dir: Vec<usize> = dirs
        .iter()
        .map(|d| std::fs::read_dir(out_dir.join(d)).unwrap().count())
        .collect();
    assert!(
        per_dir.iter().all(|&n| n > 0 && n == per_dir[0]),
        "{per_dir:?}"
    );
}

/// `netan check` and `netan plugins` into a reader that went away (`| head -1`) end quietly,
/// without a panic.
#[test]
fn check_and_plugins_into_a_closed_pipe_end_quietly() {
    let annotated = root().join("examples/pipelines/annotated.toml");
    for args in [vec!["check", annotated.to_str().unwrap()], vec!["plugins"]] {
        let mut child = std::process::Command::new(netan())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}
