//! Where the records go, and what happens when that goes wrong: directories that cannot be
//! written to, a reader that goes away, a directory an earlier run wrote to.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// A directory that exists but in which even root cannot make a file (sysfs), if this machine
/// has one.
fn unwritable_dir() -> Option<&'static str> {
    let dir = "/sys/kernel";
    let probe = std::path::Path::new(dir).join("netan-test-probe");
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(_) if std::path::Path::new(dir).is_dir() => Some(dir),
        Err(_) => None,
    }
}

#[test]
fn a_directory_that_cannot_be_written_to_is_refused_before_reading() {
    let Some(dir) = unwritable_dir() else {
        eprintln!("no unwritable directory on this machine: nothing to check");
        return;
    };
    let google = capture("na-t1-google.pcap");
    let google = google.to_str().unwrap();
    for (args, what) in [
        (
            vec![
                "run",
                "-q",
                "-l",
                "http,extract",
                "--extract-dir",
                dir,
                google,
            ],
            "extraction directory",
        ),
        (
            vec!["run", "-q", "-l", "portcount", "--output-dir", dir, google],
            "output directory",
        ),
        (
            vec!["monologues", "-q", "--dump-dir", dir, google],
            "dump directory",
        ),
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("the {what} {dir} cannot be written to")),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_run_refused_for_its_stats_path_makes_no_extraction_directory() {
    let dir = tempfile::tempdir().unwrap();
    let extract = dir.path().join("extracted");
    let stats = dir.path().join("no-such-dir").join("s.json");
    let out = run(&[
        "run",
        "-q",
        "--extract-dir",
        extract.to_str().unwrap(),
        "--stats",
        stats.to_str().unwrap(),
        capture("na-t1-google.pcap").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!extract.exists());
}

#[test]
fn a_reader_that_goes_away_still_hears_of_an_input_that_could_not_be_read() {
    let google = capture("na-t1-google.pcap");
    let mut child = Command::new(netan())
        .args([
            "flows",
            "/nonexistent/capture.pcap",
            google.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader is gone before netan writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("/nonexistent/capture.pcap"), "{err}");
    // No summary for a reader that went away.
    assert!(!err.contains("TCP sessions"), "{err}");
}

#[test]
fn an_output_directory_an_earlier_run_wrote_to_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out_dir = out_dir.to_str().unwrap();
    let smtp = root().join("examples/captures/smtp.pcap");
    let google = capture("na-t1-google.pcap");
    let first = run(&[
        "run",
        "-l",
        "smtp",
        "--output-dir",
        out_dir,
        smtp.to_str().unwrap(),
    ]);
    assert!(first.status.success());
    assert!(!String::from_utf8_lossy(&first.stderr).contains("earlier run"));
    let second = run(&[
        "run",
        "-l",
        "http",
        "--output-dir",
        out_dir,
        google.to_str().unwrap(),
    ]);
    assert!(second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("also holds smtp.jsonl, smtp_session.jsonl from an earlier run"),
        "{err}"
    );
}

#[test]
fn stats_say_whether_the_output_was_complete() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("s.json");
    run_ok(&[
        "flows",
        "-q",
        "--stats",
        stats.to_str().unwrap(),
        capture("na-t1-google.pcap").to_str().unwrap(),
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(v["output_closed"], false);
    assert_eq!(v["output_error"], serde_json::Value::Null);
    // Written whole: no scratch file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
