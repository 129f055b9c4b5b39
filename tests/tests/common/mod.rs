//! Shared helpers of the end-to-end tests: find (and if needed build) the `netan` binary and
//! the plugin libraries, run it, compare with golden files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repo")
        .to_path_buf()
}

/// `target/<profile>` of the running test binary (which lives in `target/<profile>/deps`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The `netan` binary, built (with every plugin library of the workspace) on first use, in the
/// profile the tests run in. `cargo test` alone does not build other packages' binaries.
pub fn netan() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = target_dir();
            if std::env::var_os("NETAN_TEST_SKIP_BUILD").is_some() {
                return dir.join("netan");
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(root())
                .args(["build", "--workspace", "--quiet"]);
            if dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            if let Some(target) = dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target);
            }
            let status = cmd.status().expect("running cargo build");
            assert!(status.success(), "cargo build --workspace failed");
            let bin = dir.join("netan");
            assert!(bin.exists(), "{} missing after the build", bin.display());
            bin
        })
        .clone()
}

/// Runs netan with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(netan())
        .args(args)
        .output()
        .expect("running netan")
}

/// Runs netan and returns stdout, asserting the exit status.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "netan {args:?} failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A shipped test capture.
/// Standard output of `netan run -q -l LIST CAPTURE` for a shipped capture (must succeed).
pub fn plugin_output(list: &str, name: &str) -> String {
    run_ok(&["run", "-q", "-l", list, capture(name).to_str().unwrap()])
}

/// The records of `netan run -q -l LIST CAPTURE` for a shipped capture.
pub fn plugin_records(list: &str, name: &str) -> Vec<serde_json::Value> {
    json_lines(&plugin_output(list, name))
}

pub fn capture(name: &str) -> PathBuf {
    root().join("tests/captures").join(name)
}

/// All shipped test captures, by name.
pub fn captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests/captures"))
        .expect("tests/captures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md"))
        .collect();
    names.sort();
    names
}

/// Compares `got` with the golden file `tests/golden/<name>`; with `NETAN_BLESS=1` writes it
/// instead. Returns a description of the first difference, if any.
pub fn golden(name: &str, got: &str) -> Option<String> {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("NETAN_BLESS").is_some() {
        std::fs::write(&path, got).expect("writing golden file");
        return None;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want == got {
        return None;
    }
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            return Some(format!(
                "{}: line {} differs\n  expected: {}\n  got:      {}\n(run with NETAN_BLESS=1 to accept, then review the diff)",
                path.display(),
                i + 1,
                a.unwrap_or(&"<none>"),
                b.unwrap_or(&"<none>")
            ));
        }
    }
    Some(format!("{}: differs", path.display()))
}

/// Starts netan with `args` and its standard streams piped; returns it and its input.
pub fn spawn_with_input(args: &[&str]) -> (std::process::Child, std::process::ChildStdin) {
    use std::process::Stdio;
    let mut child = Command::new(netan())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting netan");
    let input = child.stdin.take().expect("netan's input");
    (child, input)
}

/// Runs netan with `args` and `input` as its standard input.
pub fn run_with_stdin(args: &[&str], input: std::process::Stdio) -> Output {
    Command::new(netan())
        .args(args)
        .stdin(input)
        .output()
        .expect("running netan")
}

/// Parses JSON lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A classic pcap file's global header and records (either byte order), or `None` if it is
/// not one.
pub fn pcap_records(bytes: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
    let header = bytes.get(..24)?;
    let big_endian = match header.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => return None,
    };
    let mut records = Vec::new();
    let mut at = 24;
    while let Some(len) = bytes.get(at + 8..at + 12) {
        let len: [u8; 4] = len.try_into().unwrap();
        let len = if big_endian {
            u32::from_be_bytes(len)
        } else {
            u32::from_le_bytes(len)
        } as usize;
        records.push(bytes.get(at..at + 16 + len)?);
        at += 16 + len;
    }
    Some((header, records))
}

/// Capture time in ns as `netan` writes it: seconds with nine decimals.
pub fn secs(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}
