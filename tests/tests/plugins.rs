//! Plugins through the real loader: several libraries in one run, plugin-to-plugin events,
//! every way a plugin or a pipeline can be wrong, output options.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn lib(name: &str) -> PathBuf {
    target_dir().join(format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Writes `name` in `dir` with netan-gen (3 % of data segments reordered, 1 % retransmitted,
/// and `args`), returning its path.
fn generate(dir: &std::path::Path, name: &str, args: &[&str]) -> String {
    let cap = dir.join(name);
    let gen = Command::new(target_dir().join("netan-gen"))
        .args(["--reorder", "3", "--retransmit", "1"])
        .args(args)
        .arg("--output")
        .arg(&cap)
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    cap.to_string_lossy().into_owned()
}

/// Parts sent early, from a run's summary ("... monologue parts (N sent early ...").
fn early_parts(stderr: &str) -> u64 {
    stderr
        .split(" sent early")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no early-part count in the summary: {stderr}"))
}

/// Writes a pipeline file, built after the plugins so that `lib()` paths exist.
fn pipeline(dir: &std::path::Path, text: &str) -> String {
    netan();
    let text = text
        .replace("@events", &lib("fixture_events").display().to_string())
        .replace("@pong", &lib("fixture_pong").display().to_string())
        .replace(
            "@not_a_plugin",
            &lib("fixture_not_a_plugin").display().to_string(),
        )
        .replace(
            "@bad_layout",
            &lib("fixture_bad_layout").display().to_string(),
        )
        .replace(
            "@api_0_1_0",
            &lib("fixture_api_0_1_0").display().to_string(),
        )
        .replace(
            "@wrong_version",
            &lib("fixture_wrong_version").display().to_string(),
        );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn t6() -> String {
    capture("na-t6-http-pipelining.pcap")
        .to_string_lossy()
        .into_owned()
}

fn records(stdout: &[u8]) -> Vec<serde_json::Value> {
    json_lines(&String::from_utf8_lossy(stdout))
}

#[test]
fn two_plugin_libraries_in_one_run_both_receive_events() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\nname = \"portcount\"\n\n[[plugin]]\npath = \"@events\"\n",
    );
    let out = run(&["run", "-q", "-p", &p, &t6()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out.stdout);
    let fixture: Vec<_> = recs.iter().filter(|r| r["type"] == "fixture").collect();
    let ports: Vec<_> = recs.iter().filter(|r| r["type"] == "portcount").collect();
    // 1 session: start, 16 monologues, end.
    assert_eq!(fixture.len(), 18);
    assert_eq!(fixture[0]["event"], "start");
    assert_eq!(fixture[17]["event"], "end");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["port"], 80);
    assert_eq!(
        ports[0]["bytes_s2c"].as_u64().unwrap() + ports[0]["bytes_c2s"].as_u64().unwrap(),
        7242 + 70074
    );
    // Every record carries its plugin, session key and a capture time.
    for r in &fixture {
        assert_eq!(r["plugin"], "fixture-events");
        assert_eq!(r["key"], "172.30.3.6:33976-212.58.253.67:80");
        assert!(r["ts"].as_f64().unwrap() > 1e9);
    }
}

#[test]
fn events_a_plugin_emits_reach_the_consumer_after_the_current_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // The consumer is listed *before* the emitter: delivery still follows the queue.
    let p = pipeline(
        dir.path(),
        "[[plugin]]\npath = \"@pong\"\n\n[[plugin]]\npath = \"@events\"\n",
    );
    let out = run(&["run", "-q", "-p", &p, &t6()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out.stdout);
    let pongs: Vec<usize> = (0..recs.len())
        .filter(|&i| recs[i]["type"] == "pong")
        .collect();
    assert_eq!(pongs.len(), 16);
    for (n, &i) in pongs.iter().enumerate() {
        // Right after the monologue record that emitted it.
        let before = &recs[i - 1];
        assert_eq!(before["event"], "monologue");
        assert_eq!(before["index"], recs[i]["index"]);
        assert_eq!(recs[i]["seen"], n as u64 + 1);
        assert_eq!(recs[i]["source"], "fixture-events");
        assert_eq!(recs[i]["key"], before["key"]);
    }
}

/// Events an emitter sends from `finish` reach a consumer listed before it: the consumer
/// finishes after the emitter (its own last record counts them), and nothing reaches a plugin
/// after its `finish`.
#[test]
fn a_consumer_finishes_after_the_plugins_whose_events_it_consumes() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\npath = \"@pong\"\n\n[[plugin]]\npath = \"@events\"\n[plugin.config]\nping_in_finish = true\n",
    );
    let out = run(&["run", "-q", "-p", &p, &t6()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("had finished"), "{err}");
    let recs = records(&out.stdout);
    let pongs: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "pong").collect();
    // 16 monologue ends, then the one from finish, last.
    assert_eq!(pongs.len(), 17);
    assert_eq!(pongs[16]["index"], 999_999);
    let total: Vec<&serde_json::Value> =
        recs.iter().filter(|r| r["type"] == "pong_total").collect();
    assert_eq!(total.len(), 1);
    assert_eq!(total[0]["seen"], 17);
    assert_eq!(
        recs.last().map(|r| &r["type"]),
        Some(&serde_json::json!("pong_total"))
    );
}

/// A plugin built against API 0.1.0 (its `Host` has one function fewer than today's) loads in
/// today's netan beside current plugins, in either order, and gets every session's events:
/// its per-session byte totals equal `netan flows`'.
#[test]
fn a_plugin_built_against_an_older_api_runs_beside_current_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let capture = capture("zeek-smtp.pcap");
    let capture = capture.to_str().unwrap();
    let flows = records(&run(&["flows", capture]).stdout);
    assert_eq!(flows.len(), 6);
    for text in [
        "[[plugin]]\npath = \"@api_0_1_0\"\n\n[[plugin]]\nname = \"smtp\"\n",
        "[[plugin]]\nname = \"smtp\"\n\n[[plugin]]\npath = \"@api_0_1_0\"\n",
    ] {
        let p = pipeline(dir.path(), text);
        let recs = json_lines(&run_ok(&["run", "-q", "-p", &p, capture]));
        assert_eq!(recs.iter().filter(|r| r["type"] == "smtp").count(), 2);
        let old: Vec<_> = recs.iter().filter(|r| r["type"] == "old_api").collect();
        assert_eq!(old.len(), flows.len());
        for f in &flows {
            let r = old
                .iter()
                .find(|r| r["key"] == f["key"] && r["session"] == f["session"])
                .unwrap_or_else(|| panic!("no old_api record for {}", f["key"]));
            assert_eq!(r["bytes_c2s"], f["bytes_c2s"], "{}", f["key"]);
            assert_eq!(r["bytes_s2c"], f["bytes_s2c"], "{}", f["key"]);
            assert_eq!(r["plugin"], "fixture-api-0-1-0");
        }
        let total: Vec<_> = recs
            .iter()
            .filter(|r| r["type"] == "old_api_total")
            .collect();
        assert_eq!(total.len(), 1);
        assert_eq!(total[0]["sessions"], flows.len() as u64);
    }
    // `netan check` lists it with the API version it was built against.
    let p = pipeline(dir.path(), "[[plugin]]\npath = \"@api_0_1_0\"\n");
    let text = run_ok(&["check", &p]);
    assert!(text.contains("fixture-api-0-1-0"), "{text}");
}

#[test]
fn a_library_that_is_not_a_plugin_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for (placeholder, expect) in [
        (
            "@not_a_plugin",
            "not a netan plugin: it exports no abi_stable root module",
        ),
        ("@bad_layout", "incompatible plugin: its types do not match"),
        ("@wrong_version", "built against netan-plugin-api 9.0.0"),
        ("/nonexistent/libnetan_x.so", "no such plugin library"),
    ] {
        let p = pipeline(
            dir.path(),
            &format!("[[plugin]]\npath = \"{placeholder}\"\n"),
        );
        let out = run(&["run", "-p", &p, &t6()]);
        assert_eq!(out.status.code(), Some(2), "{placeholder}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("pipeline.toml:2:8"), "{err}");
        assert!(err.contains(expect), "{placeholder}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_panicking_plugin_is_stopped_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\npath = \"@events\"\n[plugin.config]\npanic_on_monologue = 3\n\n[[plugin]]\nname = \"portcount\"\n",
    );
    let out = run(&["run", "-p", &p, &t6()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "plugin `fixture-events` panicked: fixture panics on monologue part 3 in tcp_monologue"
        ),
        "{err}"
    );
    assert!(err.contains("it gets no more events"), "{err}");
    let recs = records(&out.stdout);
    // start + 2 monologues, then nothing more from the fixture; portcount still reports.
    assert_eq!(recs.iter().filter(|r| r["type"] == "fixture").count(), 3);
    assert_eq!(recs.iter().filter(|r| r["type"] == "portcount").count(), 1);
    // Nothing more is gathered for it either: the three parts it was given are all there are.
    assert!(err.contains(" 3 monologue parts ("), "{err}");
}

#[test]
fn on_error_stop_ends_the_run_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[plugins]\non_error = \"stop\"\n\n[[plugin]]\npath = \"@events\"\n[plugin.config]\nfail_on_start = true\n\n[[plugin]]\nname = \"portcount\"\n",
    );
    let out = run(&["run", "-p", &p, &t6()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the run stops"));
    assert!(
        records(&out.stdout).is_empty(),
        "portcount never reached finish"
    );
}

#[test]
fn a_plugin_that_rejects_its_configuration_is_located_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\nname = \"portcount\"\n[plugin.config]\ntop = 3\ncolour = \"red\"\n",
    );
    let out = run(&["run", "-p", &p, &t6()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pipeline.toml:5:1: plugin `portcount` rejects its configuration"),
        "{err}"
    );
    assert!(err.contains("unknown field `colour`"), "{err}");
    // `netan check` says the same.
    let out = run(&["check", &p]);
    assert_eq!(out.status.code(), Some(2));
    // An inline table is located inside itself, not at a later entry's key of that name.
    let p = pipeline(
        dir.path(),
        "[[plugin]]\nname = \"portcount\"\nconfig = { top = 3, colour = \"red\" }\n\n[[plugin]]\nname = \"http\"\n[plugin.config]\ncolour = 1\n",
    );
    let err = String::from_utf8_lossy(&run(&["check", &p]).stderr).into_owned();
    assert!(
        err.contains("pipeline.toml:3:21: plugin `portcount` rejects its configuration"),
        "{err}"
    );
}

#[test]
fn a_pipeline_that_puts_a_plugin_before_tcp_or_removes_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expect) in [
        (
            "[[plugin]]\nname = \"tcp\"\n\n[[plugin]]\nname = \"portcount\"\n",
            "pipeline.toml:2:8: the TCP listener is not a pipeline entry",
        ),
        (
            "[tcp]\nenabled = false\n",
            "pipeline.toml:2:11: `enabled`: the TCP listener cannot be removed",
        ),
        (
            "[[plugin]]\nname = \"portcount\"\nposition = \"first\"\n",
            "pipeline.toml:3:12: `position`: only the built-in TCP listener runs first",
        ),
    ] {
        let p = pipeline(dir.path(), text);
        let out = run(&["check", &p]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{err}");
    }
    let out = run(&["run", "-l", "tcp", &t6()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unknown_keys_plugins_and_events_are_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expect) in [
        (
            "[tcp]\nmax_sesion_size = 1\n",
            "pipeline.toml:2:1: unknown field `max_sesion_size`",
        ),
        (
            "[[plugin]]\nname = \"portcount\"\nports = \"80\"\n",
            "pipeline.toml:3:9: invalid type",
        ),
        (
            "[[plugin]]\nname = \"portcont\"\n",
            "pipeline.toml:2:8: no plugin named `portcont`",
        ),
        (
            "[[plugin]]\nname = \"portcount\"\nevents = [\"tcp_monologue\"]\n",
            "pipeline.toml:3:11: unknown event `tcp_monologue` for plugin `portcount`",
        ),
        (
            "[[plugin]]\npath = \"@pong\"\n",
            "consumes `fixture_ping`, which no plugin of this pipeline emits",
        ),
    ] {
        let p = pipeline(dir.path(), text);
        let out = run(&["check", &p]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{text}: {err}");
    }
}

#[test]
fn check_prints_the_resolved_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "[tcp]\nmax_session_size = 5000\n\n[[plugin]]\nname = \"portcount\"\nports = [80, 8080]\n[plugin.config]\ntop = 2\n");
    let text = run_ok(&["check", &p]);
    assert!(
        text.contains("0. tcp (built in, always first): max_session_size=5000"),
        "{text}"
    );
    assert!(text.contains("1. portcount = plugin `portcount`"), "{text}");
    assert!(text.contains("on ports 80,8080"), "{text}");
    assert!(text.contains("config: top = 2"), "{text}");
    assert!(text.trim_end().ends_with("OK"));
}

#[test]
fn the_short_command_line_form_is_merged_over_the_pipeline_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\nname = \"portcount\"\nports = [25]\n",
    );
    // The file alone sees no port-25 traffic in this capture.
    assert!(run_ok(&["run", "-q", "-p", &p, &t6()]).is_empty());
    // -l overrides the entry's filter.
    let out = run_ok(&["run", "-q", "-p", &p, "-l", "portcount,ports=80+443", &t6()]);
    assert_eq!(json_lines(&out).len(), 1);
    // -l alone, with configuration.
    let out = run(&["run", "-q", "-l", "portcount,top=0,colour=red", &t6()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("command line `-l portcount,top=0,colour=red`"));
}

#[test]
fn output_dir_writes_one_file_per_record_kind() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\nname = \"portcount\"\n\n[[plugin]]\npath = \"@events\"\n",
    );
    let outdir = dir.path().join("out");
    let out = run(&[
        "run",
        "-q",
        "-p",
        &p,
        "--output-dir",
        outdir.to_str().unwrap(),
        &t6(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let fixture = std::fs::read_to_string(outdir.join("fixture.jsonl")).unwrap();
    let ports = std::fs::read_to_string(outdir.join("portcount.jsonl")).unwrap();
    assert_eq!(fixture.lines().count(), 18);
    assert_eq!(ports.lines().count(), 1);
}

#[test]
fn large_monologues_arrive_in_parts_that_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[tcp]\nmonologue_part_size = 4096\n\n[[plugin]]\npath = \"@events\"\n",
    );
    let parts: Vec<serde_json::Value> = records(&run(&["run", "-q", "-p", &p, &t6()]).stdout)
        .into_iter()
        .filter(|r| r["event"] == "monologue")
        .collect();
    let monos = json_lines(&run_ok(&["monologues", "-q", &t6()]));
    assert!(
        parts.len() > monos.len(),
        "some monologue exceeds 4096 bytes"
    );
    for m in &monos {
        let mine: Vec<&serde_json::Value> = parts
            .iter()
            .filter(|p| p["index"] == m["monologue"])
            .collect();
        let total: u64 = mine.iter().map(|p| p["bytes"].as_u64().unwrap()).sum();
        assert_eq!(total, m["bytes"].as_u64().unwrap());
        let mut offset = 0;
        for (i, p) in mine.iter().enumerate() {
            assert_eq!(p["part"], i as u64);
            assert_eq!(p["offset"], offset);
            assert_eq!(p["more"], i + 1 < mine.len());
            assert!(p["bytes"].as_u64().unwrap() <= 4096);
            offset += p["bytes"].as_u64().unwrap();
        }
    }
}

#[test]
fn several_instances_merge_to_the_same_aggregate() {
    let caps = [
        t6(),
        capture("zeek-smtp.pcap").to_string_lossy().into_owned(),
        capture("zeek-ftp-ipv6.pcap").to_string_lossy().into_owned(),
    ];
    let mut args = vec!["run", "-q", "-l", "portcount"];
    args.extend(caps.iter().map(String::as_str));
    let one = run_ok(&args);
    let mut args3 = vec!["run", "-q", "--instances", "3", "-l", "portcount"];
    args3.extend(caps.iter().map(String::as_str));
    let three = run_ok(&args3);
    assert!(json_lines(&one).len() >= 3);
    assert_eq!(one, three);
}

/// Every bundled plugin, on every shipped capture: three instances sharing the sessions give
/// the records one instance gives, in the same order, aggregates (and their times) included.
#[test]
fn the_default_pipeline_gives_the_same_records_with_three_instances() {
    let mut records = 0;
    for name in captures() {
        let cap = capture(&name).to_string_lossy().into_owned();
        let one = run(&["run", "-q", &cap]);
        let three = run(&["run", "-q", "--instances", "3", &cap]);
        assert_eq!(one.status.code(), three.status.code(), "{name}");
        assert!(
            one.stdout == three.stdout,
            "{name}: records differ with three instances"
        );
        records += one.stdout.iter().filter(|&&b| b == b'\n').count();
    }
    assert!(records > 1000, "records compared: {records}");
}

#[test]
fn plugins_lists_the_bundled_plugins_with_metadata() {
    let text = run_ok(&["plugins"]);
    assert!(
        text.contains("portcount 0.1.0 - sessions, packets and bytes per server port"),
        "{text}"
    );
    assert!(text.contains("consumes: tcp_session_end"), "{text}");
    assert!(text.contains("licence: MIT OR Apache-2.0"), "{text}");
    // Fixture libraries are not named like plugins, so they are not discovered.
    assert!(!text.contains("fixture"), "{text}");
}

/// A library named like a plugin whose metadata names another is not listed as if it could be
/// loaded by name: `netan plugins` says why it cannot (and exits 1, as for any refused file).
#[test]
fn plugins_flags_a_library_whose_file_name_is_not_its_plugin_name() {
    let dir = tempfile::tempdir().unwrap();
    netan();
    let other = dir.path().join(format!(
        "{}netan_other{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::copy(lib("netan_portcount"), &other).unwrap();
    let out = run(&["plugins", "--plugin-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("its metadata names it `portcount`"), "{err}");
    assert!(err.contains(&other.display().to_string()), "{err}");
}

/// The capture held for pending parts stays within `max_monologue_buffer` with few sessions
/// too. Sending parts early could empty the newest window, which was kept (the newest always
/// is) and then, once a newer one was taken, referred to by no chunk and never let go: the
/// oldest window had no chunk left to send, so nothing made room any more and the windows
/// piled up (1.2 MB held against 256 KiB here).
#[test]
fn the_capture_held_for_pending_parts_stays_within_the_budget_with_few_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let cap = generate(
        dir.path(),
        "few.pcap",
        &[
            "--size",
            "2MiB",
            "--concurrency",
            "3",
            "--body-min",
            "64KiB",
            "--body-max",
            "512KiB",
        ],
    );
    let budget = 262_144.0;
    let p = pipeline(
        dir.path(),
        "[tcp]\nmax_monologue_buffer = 262144\n\n[[plugin]]\nname = \"minimal\"\n",
    );
    let out = run(&["run", "-p", &p, &cap]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // "...; peak 245.8 KB of capture windows held for them)".
    let peak = stderr
        .split(" of capture windows held")
        .next()
        .and_then(|s| s.rsplit("peak ").next())
        .and_then(|s| s.split_once(' '))
        .and_then(|(n, unit)| {
            let n: f64 = n.parse().ok()?;
            let scale = match unit {
                "B" => 1.0,
                "KB" => 1e3,
                "MB" => 1e6,
                _ => return None,
            };
            Some(n * scale)
        })
        .unwrap_or_else(|| panic!("no peak of capture held in the summary: {stderr}"));
    assert!(
        early_parts(&stderr) > 0,
        "no part had to go early: {stderr}"
    );
    // The summary rounds to 0.1 KB.
    assert!(peak <= budget + 100.0, "{peak} bytes held: {stderr}");
}

/// Many sessions in flight and little room for pending parts: parts go out early, pointing
/// into input blocks that the reader must not overwrite while they are held. Each whole
/// monologue must still be what `netan monologues --hash` reads (same bytes, same order), and
/// the parts are the same when the capture is gzip'd.
#[test]
fn parts_sent_early_under_a_small_buffer_carry_exactly_the_monologues() {
    let dir = tempfile::tempdir().unwrap();
    let cap = generate(
        dir.path(),
        "busy.pcap",
        &[
            "--size",
            "12MiB",
            "--concurrency",
            "300",
            "--body-min",
            "8KiB",
            "--body-max",
            "96KiB",
        ],
    );
    let p = pipeline(
        dir.path(),
        "[tcp]\nmax_monologue_buffer = 1048576\n\n[[plugin]]\npath = \"@events\"\nany = true\n\n[plugin.config]\nhash = true\n",
    );
    let out = run(&["run", "-p", &p, &cap]);
    assert!(out.status.success());
    // Parts go out at points that depend on file offsets only (the windows of the capture),
    // not on how the input is read: gzip'd (decompressed a few KiB per read) or through a
    // pipe (bytes as they come), the same parts, so the same records.
    let gz = format!("{cap}.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &std::fs::read(&cap).unwrap()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let zipped = run(&["run", "-p", &p, &gz]);
    assert!(zipped.status.success());
    assert!(
        zipped.stdout == out.stdout,
        "a gzip'd capture gives other parts"
    );
    // Through a pipe, plain and gzip'd (the decompressor then gets its bytes as they come).
    for (input, what) in [(&cap, "a capture"), (&gz, "a gzip'd capture")] {
        let (child, mut stdin) = spawn_with_input(&["run", "-p", &p, "/dev/stdin"]);
        let bytes = std::fs::read(input).unwrap();
        let writer = std::thread::spawn(move || {
            // Small writes: the reader gets the bytes a few KiB at a time.
            for piece in bytes.chunks(3000) {
                std::io::Write::write_all(&mut stdin, piece).unwrap();
            }
        });
        let piped = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(
            piped.status.success(),
            "{}",
            String::from_utf8_lossy(&piped.stderr)
        );
        assert!(
            piped.stdout == out.stdout,
            "{what} through a pipe gives other parts"
        );
    }
    let early = early_parts(&String::from_utf8_lossy(&out.stderr));
    assert!(early > 1000, "parts sent early: {early}");
    let whole: Vec<serde_json::Value> = records(&out.stdout)
        .into_iter()
        .filter(|r| r["event"] == "monologue" && r["more"] == false)
        .collect();
    let monos = json_lines(&run_ok(&["monologues", "-q", "--hash", &cap]));
    assert!(monos.len() > 300);
    assert_eq!(whole.len(), monos.len());
    let by_id: std::collections::HashMap<(u64, u64), &serde_json::Value> = whole
        .iter()
        .map(|r| {
            let id = (r["session"].as_u64().unwrap(), r["index"].as_u64().unwrap());
            (id, r)
        })
        .collect();
    for m in &monos {
        let id = (
            m["session"].as_u64().unwrap(),
            m["monologue"].as_u64().unwrap(),
        );
        let r = by_id
            .get(&id)
            .unwrap_or_else(|| panic!("no last part for {id:?}"));
        assert_eq!(r["sha256"], m["sha256"], "monologue {id:?}");
        assert_eq!(
            r["offset"].as_u64().unwrap() + r["bytes"].as_u64().unwrap(),
            m["bytes"].as_u64().unwrap()
        );
    }
}

/// `"name":VALUE` of a JSON line, as written (timestamps keep their nine decimals).
fn raw_field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let at = line
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + key.len();
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    &rest[..end]
}

/// The listener's settings the cross-checks run under: the defaults, and limits tight enough
/// to bite on the shipped captures (sessions capped, evicted, timed out, reordering cut short),
/// as a pipeline's `[tcp]` table and as the same options of `flows` and `monologues`.
const TCP_SETTINGS: [(&str, &[&str]); 2] = [
    ("", &[]),
    (
        "[tcp]\nmax_session_size = 500\nmax_sessions = 2\nidle_timeout = 1\nmax_buffered_per_session = 3000\n\n",
        &[
            "--max-session-size",
            "500",
            "--max-sessions",
            "2",
            "--idle-timeout",
            "1",
            "--max-buffered-per-session",
            "3000",
        ],
    ),
];

/// On every shipped capture, with the default settings and with tight limits, a monologue
/// part's bytes (SHA-256), times, size, gap count and packet count are the monologue's as
/// `netan monologues` reports them; the times also when it opens with bytes never captured (a gap has no packet: it starts when the packet
/// that revealed it was captured, not at time 0).
#[test]
fn monologue_parts_carry_the_monologues_times_also_after_a_leading_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leading_gaps, mut compared) = (0, 0);
    for ((tcp, flags), name) in TCP_SETTINGS
        .iter()
        .flat_map(|s| captures().into_iter().map(move |n| (*s, n)))
    {
        let p = pipeline(
            dir.path(),
            &format!(
                "{tcp}[[plugin]]\npath = \"@events\"\nany = true\n\n[plugin.config]\nhash = true\n"
            ),
        );
        let cap = capture(&name).to_string_lossy().into_owned();
        let out = run(&["run", "-p", &p, &cap]);
        let monos = run(&[&["monologues", "-q", "--hash"], flags, &[cap.as_str()]].concat());
        // Both read the same input: where one stops with an error, so does the other.
        assert_eq!(out.status.code(), monos.status.code(), "{name}");
        let monos = String::from_utf8_lossy(&monos.stdout).into_owned();
        let parts: std::collections::HashMap<(u64, u64), serde_json::Value> = records(&out.stdout)
            .into_iter()
            .filter(|r| r["event"] == "monologue")
            .map(|r| {
                assert_eq!(r["part"], 0, "{name}: small captures come in whole parts");
                (
                    (r["session"].as_u64().unwrap(), r["index"].as_u64().unwrap()),
                    r,
                )
            })
            .collect();
        for line in monos.lines() {
            let m: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = (
                m["session"].as_u64().unwrap(),
                m["monologue"].as_u64().unwrap(),
            );
            let r = parts
                .get(&id)
                .unwrap_or_else(|| panic!("{name}: no part for monologue {id:?}"));
            for (field, ns) in [("t_start", "t_start_ns"), ("t_end", "t_end_ns")] {
                assert_eq!(
                    secs(r[ns].as_u64().unwrap()),
                    raw_field(line, field),
                    "{name}: {field} of monologue {id:?}"
                );
            }
            for field in ["bytes", "gaps", "packets"] {
                assert_eq!(r[field], m[field], "{name}: {field} of monologue {id:?}");
            }
            if m["bytes"] != 0 {
                assert_eq!(
                    r["sha256"], m["sha256"],
                    "{name}: bytes of monologue {id:?}"
                );
            }
            compared += 1;
            if m["gap_list"][0]["offset"] == 0 && m["bytes"].as_u64().unwrap() > 0 {
                leading_gaps += 1;
            }
        }
    }
    assert!(compared > 1000, "monologues compared: {compared}");
    assert!(
        leading_gaps >= 2,
        "monologues opening with a gap: {leading_gaps}"
    );
}

/// On every shipped capture, with the default settings and with tight limits, what a plugin
/// learns at a session's end (reason, times, packets,
/// bytes each way, gaps, monologues) is what `netan flows` reports for that session.
#[test]
fn session_ends_agree_with_netan_flows_on_every_capture() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for ((tcp, flags), name) in TCP_SETTINGS
        .iter()
        .flat_map(|s| captures().into_iter().map(move |n| (*s, n)))
    {
        let p = pipeline(
            dir.path(),
            &format!("{tcp}[[plugin]]\npath = \"@events\"\nany = true\n"),
        );
        let cap = capture(&name).to_string_lossy().into_owned();
        let out = run(&["run", "-p", &p, &cap]);
        let flows = run(&[&["flows", "-q"], flags, &[cap.as_str()]].concat());
        assert_eq!(out.status.code(), flows.status.code(), "{name}");
        let ends: std::collections::HashMap<u64, serde_json::Value> = records(&out.stdout)
            .into_iter()
            .filter(|r| r["event"] == "end")
            .map(|r| (r["session"].as_u64().unwrap(), r))
            .collect();
        let flows = String::from_utf8_lossy(&flows.stdout).into_owned();
        assert_eq!(ends.len(), flows.lines().count(), "{name}: sessions");
        for line in flows.lines() {
            let f: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = f["session"].as_u64().unwrap();
            let r = ends
                .get(&id)
                .unwrap_or_else(|| panic!("{name}: no end for session {id}"));
            assert_eq!(r["reason"], f["end_reason"], "{name}: session {id}");
            assert_eq!(r["key"], f["key"], "{name}: session {id}");
            for field in ["packets", "bytes_c2s", "bytes_s2c", "gaps", "monologues"] {
                assert_eq!(r[field], f[field], "{name}: {field} of session {id}");
            }
            for (field, ns) in [("t_start", "t_first_ns"), ("t_end", "t_end_ns")] {
                assert_eq!(
                    secs(r[ns].as_u64().unwrap()),
                    raw_field(line, field),
                    "{name}: {field} of session {id}"
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 50, "sessions compared: {compared}");
}

/// Every bundled plugin, on every shipped capture: monologues cut into 7-byte parts give the
/// records whole monologues give, times aside (inside a part, times are known to the part's
/// granularity only: smaller parts time messages more finely).
#[test]
fn records_do_not_depend_on_where_monologues_are_cut_into_parts() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[tcp]\nmonologue_part_size = 7\n");
    for name in ["http", "http-perf", "smtp", "portcount"] {
        text.push_str(&format!("\n[[plugin]]\nname = \"{name}\"\n"));
    }
    let p = pipeline(dir.path(), &text);
    let timeless = |stdout: &[u8]| -> Vec<serde_json::Value> {
        records(stdout)
            .into_iter()
            .map(|mut r| {
                if let Some(o) = r.as_object_mut() {
                    o.retain(|k, _| k != "ts" && !k.starts_with("t_") && !k.contains("latency"));
                }
                r
            })
            .collect()
    };
    let (mut records_compared, mut kinds) = (0, std::collections::BTreeSet::new());
    for name in captures() {
        let cap = capture(&name).to_string_lossy().into_owned();
        let whole = run(&["run", "-q", &cap]);
        let cut = run(&["run", "-q", "-p", &p, &cap]);
        assert_eq!(whole.status.code(), cut.status.code(), "{name}");
        let (whole, cut) = (timeless(&whole.stdout), timeless(&cut.stdout));
        assert_eq!(whole.len(), cut.len(), "{name}: record count");
        for (w, c) in whole.iter().zip(&cut) {
            assert_eq!(w, c, "{name}");
            kinds.insert(w["type"].as_str().unwrap_or("").to_string());
        }
        records_compared += whole.len();
    }
    assert!(
        records_compared > 1000,
        "records compared: {records_compared}"
    );
    for kind in ["http", "http_perf", "smtp", "smtp_session", "portcount"] {
        assert!(kinds.contains(kind), "no {kind} record compared: {kinds:?}");
    }
}

/// A classic pcap file cut into three files at record boundaries (header repeated), or `None`
/// if it is not one.
fn split_in_three(bytes: &[u8]) -> Option<[Vec<u8>; 3]> {
    let (header, records) = pcap_records(bytes)?;
    let n = records.len();
    let file = |r: &[&[u8]]| [header, &r.concat()].concat();
    Some([
        file(&records[..n / 3]),
        file(&records[n / 3..2 * n / 3]),
        file(&records[2 * n / 3..]),
    ])
}

/// Every bundled plugin, on every shipped classic pcap capture cut into three files: the
/// records are those of the whole file (parts pending at a file's end still refer to that
/// file's input blocks when the next file's are read).
#[test]
fn a_capture_cut_into_three_files_gives_the_records_of_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for name in captures() {
        let whole_path = capture(&name);
        let Some(thirds) = split_in_three(&std::fs::read(&whole_path).unwrap()) else {
            continue;
        };
        let paths: Vec<String> = thirds
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let p = dir.path().join(format!("{name}.{i}.pcap"));
                std::fs::write(&p, bytes).unwrap();
                p.to_string_lossy().into_owned()
            })
            .collect();
        let whole = run(&["run", "-q", whole_path.to_str().unwrap()]);
        let mut args = vec!["run", "-q"];
        args.extend(paths.iter().map(String::as_str));
        let cut = run(&args);
        assert_eq!(whole.status.code(), cut.status.code(), "{name}");
        assert!(
            whole.stdout == cut.stdout,
            "{name}: records differ when the capture is cut into three files"
        );
        compared += 1;
    }
    assert!(compared >= 20, "captures compared: {compared}");
}

/// Every bundled plugin, on every shipped capture: gzip'd, the capture gives the same
/// records; with `--output-dir`, the same records are split into one file per kind.
#[test]
fn gzip_and_output_dir_give_the_same_records_on_every_capture() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for name in captures() {
        let path = capture(&name).to_string_lossy().into_owned();
        let plain = run(&["run", "-q", &path]);
        if !name.ends_with(".gz") {
            let gz = dir.path().join(format!("{name}.gz"));
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&std::fs::read(&path).unwrap()).unwrap();
            std::fs::write(&gz, enc.finish().unwrap()).unwrap();
            let zipped = run(&["run", "-q", gz.to_str().unwrap()]);
            assert_eq!(plain.status.code(), zipped.status.code(), "{name}");
            assert!(
                plain.stdout == zipped.stdout,
                "{name}: gzip changes the records"
            );
        }
        let out_dir = dir.path().join(format!("{name}.out"));
        let split = run(&[
            "run",
            "-q",
            "--output-dir",
            out_dir.to_str().unwrap(),
            &path,
        ]);
        assert_eq!(plain.status.code(), split.status.code(), "{name}");
        assert!(
            split.stdout.is_empty(),
            "{name}: records on stdout with --output-dir"
        );
        let mut from_files: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(&out_dir).into_iter().flatten() {
            let entry = entry.unwrap();
            let kind = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            for line in text.lines() {
                let r: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(format!("{}.jsonl", r["type"].as_str().unwrap()), kind);
                from_files.push(line.to_string());
            }
        }
        let mut from_stdout: Vec<String> = String::from_utf8_lossy(&plain.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        from_files.sort();
        from_stdout.sort();
        assert_eq!(from_files, from_stdout, "{name}: --output-dir");
        compared += from_stdout.len();
    }
    assert!(compared > 1000, "records compared: {compared}");
}

/// The default pipeline leaves out a bundled plugin that is not installed, but one that is
/// there and cannot be loaded (a stale build earlier in the search path) is an error naming
/// the file: never a run that silently lacks it.
#[test]
fn a_broken_library_in_place_of_a_bundled_plugin_is_an_error_not_an_omission() {
    let dir = tempfile::tempdir().unwrap();
    let shadow = dir.path().join("libnetan_http.so");
    std::fs::copy(lib("fixture_wrong_version"), &shadow).unwrap();
    let out = run(&["run", "--plugin-dir", dir.path().to_str().unwrap(), &t6()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&shadow.display().to_string()) && err.contains("incompatible plugin"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// Relative paths in a pipeline file are the file's: the same file works from any directory.
#[test]
fn relative_paths_in_a_pipeline_file_are_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("conf");
    std::fs::create_dir_all(sub.join("plugs")).unwrap();
    std::fs::copy(lib("fixture_events"), sub.join("plugs/libevents.so")).unwrap();
    let p = sub.join("p.toml");
    std::fs::write(
        &p,
        "[output]\ndir = \"out\"\n\n[[plugin]]\npath = \"plugs/libevents.so\"\nany = true\n",
    )
    .unwrap();
    // Run from elsewhere (the test's own directory).
    let out = run(&["run", "-q", "-p", p.to_str().unwrap(), &t6()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sub.join("out/fixture.jsonl").is_file());
}

/// Mistakes found only once the plugins are loaded are located too.
#[test]
fn duplicate_and_empty_labels_are_located_at_their_entry() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\nname = \"portcount\"\n\n[[plugin]]\nname = \"portcount\"\n",
    );
    let err = String::from_utf8_lossy(&run(&["check", &p]).stderr).into_owned();
    assert!(
        err.contains("pipeline.toml:5:8: two entries are labelled `portcount`"),
        "{err}"
    );
    let p = pipeline(
        dir.path(),
        "[[plugin]]\nname = \"portcount\"\nlabel = \"\"\n",
    );
    let err = String::from_utf8_lossy(&run(&["check", &p]).stderr).into_owned();
    assert!(err.contains("pipeline.toml:2:8: `label` is empty"), "{err}");
}

/// `-l NAME` merges into an entry of the file that loads NAME by its path.
#[test]
fn the_short_form_merges_into_an_entry_given_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[plugin]]\npath = \"{}\"\n",
        lib("netan_portcount").display()
    );
    let p = pipeline(dir.path(), &text);
    let smtp = capture("zeek-smtp.pcap").to_string_lossy().into_owned();
    let all = records(&run(&["run", "-q", "-p", &p, &smtp]).stdout);
    let out = run_ok(&["run", "-q", "-p", &p, "-l", "portcount,top=1", &smtp]);
    assert!(all.len() > 1);
    assert_eq!(json_lines(&out).len(), 1);
}

/// A plugin that panics in its destructor (after its last call) loses no record of the run:
/// the panic is caught on its side and reported.
#[test]
fn a_panic_while_a_plugin_is_dropped_is_caught_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "[[plugin]]\npath = \"@events\"\n[plugin.config]\npanic_on_drop = true\n\n[[plugin]]\nname = \"portcount\"\n",
    );
    let out = run(&["run", "-p", &p, &t6()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a plugin panicked while being dropped: fixture panics when dropped"),
        "{err}"
    );
    assert!(!err.contains("Aborting"), "{err}");
    let recs = records(&out.stdout);
    assert!(recs.iter().filter(|r| r["type"] == "fixture").count() > 3);
    assert_eq!(recs.iter().filter(|r| r["type"] == "portcount").count(), 1);
}

/// More entries than a pipeline holds: one error at the first entry too many, not a plugin's.
#[test]
fn a_pipeline_with_too_many_entries_is_refused_at_the_first_one_too_many() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..130)
        .map(|i| format!("[[plugin]]\nname = \"portcount\"\nlabel = \"p{i}\"\n\n"))
        .collect();
    let p = pipeline(dir.path(), &text);
    let out = run(&["check", &p]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    // Entry 129 starts on line 4 * 128 + 1; its name on the next line.
    assert!(err.contains("pipeline.toml:514:8"), "{err}");
    assert!(err.contains("at most 128 plugin entries"), "{err}");
}

/// `path = "libx.so"` in a pipeline file given by a bare name (`-p pipeline.toml`) is the file
/// next to it, not a name for the system's library search.
#[test]
fn a_plugin_path_without_a_directory_is_the_file_in_the_pipelines_directory() {
    let dir = tempfile::tempdir().unwrap();
    netan();
    let lib = lib("fixture_events");
    let name = lib.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::copy(&lib, dir.path().join(&name)).unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        format!("[[plugin]]\npath = \"{name}\"\n"),
    )
    .unwrap();
    let out = Command::new(netan())
        .current_dir(dir.path())
        .args(["run", "-q", "-p", "pipeline.toml", &t6()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(records(&out.stdout).iter().any(|r| r["type"] == "fixture"));
}
