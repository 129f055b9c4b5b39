//! The commands behind the CLI: turn validated arguments into an analysis run, print records
//! on stdout and the summary and diagnostics on stderr, and decide the exit status.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::analyse::{analyse, AnalyseOptions, RunReport};
use crate::cli::{
    CaptureArgs, CheckArgs, Cli, Command, FlowsArgs, MonologuesArgs, PluginsArgs, RunArgs,
};
use crate::decode::DecodeOptions;
use crate::dispatch::Dispatcher;
use crate::output::flows::FlowsWriter;
use crate::output::monologues::MonologuesWriter;
use crate::pipeline::{Filter, LoadSpec, Pipeline, PipelineSource};
use crate::plugins::SearchPath;
use crate::sink::jsonl::{JsonlSink, Target};
use crate::sink::Sink;
use crate::source::input_name;
use crate::summary::summary;
use crate::tcp::TcpConfig;

/// Exit status: some input could not be read completely (everything readable was analysed).
pub const EXIT_INPUT_ERROR: u8 = 1;
/// Exit status: nothing could be done (bad arguments, unusable output).
pub const EXIT_FATAL: u8 = 2;

fn seconds_to_ns(name: &str, secs: f64) -> Result<u64> {
    if !secs.is_finite() || secs < 0.0 {
        bail!("--{name} must be a number of seconds ≥ 0, not {secs}");
    }
    Ok((secs * 1e9).min(u64::MAX as f64) as u64)
}

/// Turns the capture options into analysis settings, over `tcp`, `decode` and `select` (the
/// defaults, or a pipeline's): every option given on the command line wins.
pub fn analyse_options(
    args: &CaptureArgs,
    tcp: TcpConfig,
    decode: DecodeOptions,
    select: Filter,
) -> Result<AnalyseOptions> {
    let ports =
        Filter::parse(args.ports.as_deref(), None).map_err(|e| anyhow::anyhow!("--ports: {e}"))?;
    let addresses = Filter::parse(None, args.addresses.as_deref())
        .map_err(|e| anyhow::anyhow!("--addresses: {e}"))?;
    let select = Filter {
        ports: if args.ports.is_some() {
            ports.ports
        } else {
            select.ports
        },
        networks: if args.addresses.is_some() {
            addresses.networks
        } else {
            select.networks
        },
    };
    // The stats file is written at the end: a path that cannot be one is said before the run,
    // not after it. Nothing is opened now (a named pipe would see its end of file early).
    if let Some(path) = &args.stats {
        if let Some(problem) = unwritable_file(path) {
            bail!("--stats {}: {problem}", path.display());
        }
    }
    let mut tcp = tcp;
    if let Some(v) = args.max_session_size {
        tcp.max_session_size = v;
    }
    if let Some(v) = args.max_buffered_per_session {
        tcp.max_buffered_per_session = v;
    }
    if let Some(v) = args.max_buffered {
        tcp.max_buffered_total = v;
    }
    if let Some(v) = args.max_sessions {
        tcp.max_sessions = v.max(1);
    }
    if let Some(v) = args.idle_timeout {
        tcp.idle_timeout_ns = seconds_to_ns("idle-timeout", v)?;
    }
    if let Some(v) = args.close_linger {
        tcp.close_linger_ns = seconds_to_ns("close-linger", v)?;
    }
    if let Some(v) = args.overlap_segments {
        tcp.overlap_segments = v;
    }
    let decode = DecodeOptions {
        tunnels: decode.tunnels && !args.no_tunnels,
        ..decode
    };
    Ok(AnalyseOptions {
        tcp,
        decode,
        select,
        progress: !args.quiet,
    })
}

/// Prints the warnings and errors of a run, where it was interrupted (even with `--quiet`:
/// the records cover only what was read) and its summary, on stderr.
pub fn report(report: &RunReport, quiet: bool) {
    let mut err = io::stderr().lock();
    report_inputs(&mut err, report);
    note_interruption(&mut err, report);
    if !quiet {
        let _ = write!(err, "{}", summary(report));
    }
}

/// The inputs' warnings (a file cut short) and errors (a file that could not be read).
fn report_inputs(err: &mut impl Write, report: &RunReport) {
    for file in &report.files {
        if let Some(t) = &file.truncated {
            let _ = writeln!(err, "netan: warning: {}: {t}", input_name(&file.path));
        }
        if let Some(e) = &file.error {
            let _ = writeln!(err, "netan: error: {e}");
        }
    }
}

/// Says where reading stopped if the user stopped the run.
fn note_interruption(err: &mut impl Write, report: &RunReport) {
    if let Some(i) = &report.interrupted {
        let _ = writeln!(
            err,
            "netan: interrupted by {}: reading stopped at byte offset {} of {} after {} frames; what was read was analysed to the end (sessions still open ended there, as at the end of the input)",
            crate::interrupt::name(i.signal),
            i.offset,
            input_name(&i.path),
            i.frames
        );
    }
}

/// How writing a run's records ended.
enum Output {
    Written,
    /// Standard output was closed (`| head`): the reader has what it wanted.
    Closed,
    /// Writing failed (a full disk, an I/O error).
    Failed {
        /// What was being written, and why it failed.
        why: String,
        /// It failed while reading (which then stopped), not at the last flush.
        while_reading: bool,
    },
}

impl Output {
    /// How writing ended: `written` is the last flush's result, `early` whether a write had
    /// failed before it.
    fn of(written: io::Result<()>, what: &str, early: bool) -> Output {
        match written {
            Ok(()) => Output::Written,
            Err(e) if is_broken_pipe(&e) => Output::Closed,
            Err(e) => Output::Failed {
                why: format!("{what}: {e}"),
                while_reading: early,
            },
        }
    }
}

/// Ends a run whose records are written: the report (with standard output closed, no summary,
/// the reader has what it wanted, but the inputs' errors and an interruption), `--stats` if
/// asked, and the exit status,
/// decided here for every command: 128 + the signal's number (as a shell reports a process a
/// signal ended) when the user stopped the run; else 1 when some input could not be read, a
/// plugin failed (`plugins_failed`), writing the records failed or the stats could not be
/// written; else 0.
fn conclude(
    args: &CaptureArgs,
    run: &RunReport,
    output: &Output,
    plugins: Option<serde_json::Value>,
    plugins_failed: bool,
) -> ExitCode {
    match output {
        Output::Closed => {
            // No summary for a reader that went away; what went wrong is still said.
            let mut err = io::stderr().lock();
            report_inputs(&mut err, run);
            note_interruption(&mut err, run);
        }
        Output::Failed { why, while_reading } => {
            if *while_reading {
                eprintln!(
                    "netan: error: {why} (the records stop there: reading stopped, and sessions still open were not ended; the summary covers what was read, and its record counts include lines that were buffered and not written)"
                );
            } else {
                eprintln!(
                    "netan: error: {why} (at the last flush, after everything was read: the last records, up to 64 KiB of them, were not written)"
                );
            }
            report(run, args.quiet);
        }
        Output::Written => report(run, args.quiet),
    }
    let stats_written = write_stats(args, run, output, plugins);
    let failed = !stats_written
        || run.had_errors()
        || plugins_failed
        || matches!(output, Output::Failed { .. });
    match &run.interrupted {
        Some(i) => ExitCode::from(u8::try_from(128 + i.signal).unwrap_or(EXIT_INPUT_ERROR)),
        None if failed => ExitCode::from(EXIT_INPUT_ERROR),
        None => ExitCode::SUCCESS,
    }
}

/// Whether an error is a closed stdout (`netan flows x | head`): not worth a message.
fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn flows(args: &FlowsArgs) -> Result<ExitCode> {
    let options = analyse_options(
        &args.capture,
        TcpConfig::default(),
        DecodeOptions::default(),
        Filter::default(),
    )?;
    let stdout = io::stdout().lock();
    let mut writer = FlowsWriter::new(
        BufWriter::with_capacity(1 << 16, stdout),
        args.hash,
        args.order,
    );
    let run = analyse(&args.capture.captures, &options, &mut writer)?;
    let early = writer.failed();
    let output = Output::of(writer.finish().map(drop), "writing the flow records", early);
    Ok(conclude(&args.capture, &run, &output, None, false))
}

fn monologues(args: &MonologuesArgs) -> Result<ExitCode> {
    let options = analyse_options(
        &args.capture,
        TcpConfig::default(),
        DecodeOptions::default(),
        Filter::default(),
    )?;
    if let Some(dir) = &args.dump_dir {
        make_dir(dir, "dump directory")?;
    }
    let stdout = io::stdout().lock();
    let mut writer = MonologuesWriter::new(
        BufWriter::with_capacity(1 << 16, stdout),
        args.hash,
        args.dump_dir.clone(),
    );
    let run = analyse(&args.capture.captures, &options, &mut writer)?;
    let early = writer.failed();
    let output = Output::of(writer.finish().map(drop), "writing the monologues", early);
    Ok(conclude(&args.capture, &run, &output, None, false))
}

/// Writes `--stats FILE` if it was asked for: the run's counters, and for `run` the plugin
/// path's. Returns false (after one error message) if it could not be written.
fn write_stats(
    args: &CaptureArgs,
    run: &RunReport,
    output: &Output,
    plugins: Option<serde_json::Value>,
) -> bool {
    let Some(path) = &args.stats else {
        return true;
    };
    let mut stats = crate::summary::stats_json(run);
    if let Some(map) = stats.as_object_mut() {
        if let Some(plugins) = plugins {
            map.insert("plugins".to_string(), plugins);
        }
        let (closed, error) = match output {
            Output::Written => (false, None),
            Output::Closed => (true, None),
            Output::Failed { why, .. } => (false, Some(why.clone())),
        };
        map.insert("output_closed".to_string(), closed.into());
        map.insert("output_error".to_string(), error.into());
    }
    let written = serde_json::to_string_pretty(&stats)
        .map_err(io::Error::other)
        .and_then(|text| write_whole(path, (text + "\n").as_bytes()));
    if let Err(e) = &written {
        eprintln!("netan: error: writing the stats to {}: {e}", path.display());
    }
    written.is_ok()
}

/// Writes `data` to `path` whole or not at all when `path` is (or will be) a regular file: into
/// a new file beside it, renamed over it once complete, so that a full disk leaves the last
/// complete file (or none) rather than a cut one. Anything else there (a named pipe,
/// `/dev/stdout`, a symbolic link) is written to directly.
fn write_whole(path: &std::path::Path, data: &[u8]) -> io::Result<()> {
    // Not through a symbolic link: the rename would replace the link, not what it names.
    let regular = std::fs::symlink_metadata(path).map_or(true, |m| m.is_file());
    let name = path.file_name().filter(|_| regular);
    let Some(name) = name else {
        return std::fs::write(path, data);
    };
    let mut scratch = name.to_os_string();
    scratch.push(format!(".netan-{}.tmp", std::process::id()));
    let scratch = path.with_file_name(scratch);
    let written = std::fs::write(&scratch, data).and_then(|()| std::fs::rename(&scratch, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&scratch);
    }
    written
}

/// Runs a parsed command line. The analysis commands install netan's Ctrl-C and SIGTERM
/// handler first ([`crate::interrupt`]), for the rest of the process.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    if matches!(
        cli.command,
        Command::Flows(_) | Command::Monologues(_) | Command::Run(_)
    ) && !crate::interrupt::install()
    {
        eprintln!("netan: warning: Ctrl-C will end netan at once (the signal handler could not be installed)");
    }
    match &cli.command {
        Command::Flows(args) => flows(args),
        Command::Monologues(args) => monologues(args),
        Command::Run(args) => run_plugins(args),
        Command::Check(args) => check(args),
        Command::Plugins(args) => list_plugins(args),
    }
}

/// A line into a `String` (writing to a `String` cannot fail).
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Writes a command's text to stdout; a reader that went away (`| head -1`) ends it quietly,
/// as it would any Unix tool, instead of a panic.
fn print_out(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if !is_broken_pipe(&e) => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// Why a file cannot be written at `path`, if that can be told without opening it: a
/// directory there, or no directory to make it in.
fn unwritable_file(path: &std::path::Path) -> Option<String> {
    if path.is_dir() {
        return Some("is a directory".to_string());
    }
    if path.exists() {
        return None;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    crate::plugins::not_a_directory(parent)
        .map(|problem| format!("its directory {}: {problem}", parent.display()))
}

/// Warns about entries whose ports the selection (`[input] ports`, `--ports`) does not
/// share: both match either side of a session, so such an entry sees only sessions from one
/// list's port to the other's, mostly none. A warning, not an error: `--ports` narrowing a
/// pipeline for one run is deliberate.
fn warn_unreachable(pipeline: &Pipeline, select: &Filter) {
    if select.ports.is_empty() {
        return;
    }
    for e in &pipeline.entries {
        let ports = &e.filter.ports;
        if !ports.is_empty() && !ports.iter().any(|p| select.ports.contains(p)) {
            let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
            eprintln!(
                "netan: warning: plugin `{}` (ports {}) and the selection (ports {}) share no port: it sees only sessions between one of its ports and one of the selection's",
                e.label,
                list(ports),
                list(&select.ports)
            );
        }
    }
}

/// Makes directory `dir` (with its parents), and checks that files can be made in it, or says
/// why not: before the run, not in an error or a warning per file after it.
fn make_dir(dir: &std::path::Path, what: &str) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("the {what} {} exists and is not a directory", dir.display());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the {what} {}", dir.display()))?;
    let probe = dir.join(format!(".netan-write-check.{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| format!("the {what} {} cannot be written to", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `--plugin-dir` directories that cannot be searched: an error, not a silent skip. Entries
/// of `$NETAN_PLUGIN_PATH` that cannot be are warned about (like `$PATH`, it may name
/// directories that are not there). Called once per command.
fn check_plugin_dirs(dirs: &[std::path::PathBuf]) -> Result<()> {
    for dir in dirs {
        if let Some(problem) = crate::plugins::not_a_directory(dir) {
            anyhow::bail!("--plugin-dir {}: {problem}", dir.display());
        }
    }
    if let Some(env) = std::env::var_os("NETAN_PLUGIN_PATH") {
        for dir in std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()) {
            if let Some(problem) = crate::plugins::not_a_directory(&dir) {
                eprintln!(
                    "netan: warning: $NETAN_PLUGIN_PATH entry {}: {problem}",
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

fn load_pipeline(
    file: Option<&std::path::Path>,
    specs: &[String],
    dirs: &[std::path::PathBuf],
) -> Result<Pipeline> {
    check_plugin_dirs(dirs)?;
    let specs = specs
        .iter()
        .map(|s| LoadSpec::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let source = PipelineSource {
        file: file.map(|f| f.to_path_buf()),
        specs,
        plugin_dirs: dirs.to_vec(),
    };
    Pipeline::load(&source).map_err(|e| anyhow::anyhow!("{e}"))
}

fn run_plugins(args: &RunArgs) -> Result<ExitCode> {
    let mut pipeline = load_pipeline(
        args.pipeline.as_deref(),
        &args.load,
        &args.plugins.plugin_dir,
    )?;
    if let Some(dir) = &args.output_dir {
        pipeline.output_dir = Some(dir.clone());
    }
    if let Some(dir) = &args.extract_dir {
        pipeline.extract_dir = Some(dir.clone());
    }
    if pipeline.entries.is_empty() {
        if args.pipeline.is_none() && args.load.is_empty() {
            eprintln!(
                "netan: warning: {} runs no plugin (none found in {}); only the TCP listener runs",
                pipeline.source,
                SearchPath::standard(&args.plugins.plugin_dir, &pipeline.plugin_dirs).describe()
            );
        } else {
            eprintln!(
                "netan: warning: {} lists no plugin; only the TCP listener runs",
                pipeline.source
            );
        }
    }
    let options = analyse_options(
        &args.capture,
        pipeline.tcp,
        pipeline.decode,
        pipeline.select.clone(),
    )?;
    warn_unreachable(&pipeline, &options.select);
    // Extracted files go there as they are found: a directory that cannot be made or written
    // to is said now (after the other options are checked, so that a refused run leaves
    // nothing made), once, not in a warning per file after a run that exits 0.
    if let Some(dir) = &pipeline.extract_dir {
        make_dir(dir, "extraction directory")?;
    }
    let target = match &pipeline.output_dir {
        Some(dir) => {
            make_dir(dir, "output directory")?;
            Target::Directory(dir.clone())
        }
        None => Target::Stream(Box::new(BufWriter::with_capacity(1 << 16, io::stdout()))),
    };
    let mut sink = JsonlSink::new(target);
    let (run, failures, stats, stopped, extracted, starved) = {
        let mut dispatcher = Dispatcher::new(&pipeline, args.instances, &mut sink)?;
        dispatcher.set_quiet(args.capture.quiet);
        let run = analyse(&args.capture.captures, &options, &mut dispatcher)?;
        dispatcher.finish();
        let extracted = dispatcher.artifacts().map(|a| a.counts);
        (
            run,
            dispatcher.failures().to_vec(),
            dispatcher.stats.clone(),
            dispatcher.stopped(),
            extracted,
            dispatcher.starved(),
        )
    };
    let plugin_stats = serde_json::json!({
        "analysers": pipeline.entries.len(),
        "records": sink.counts,
        "parts": stats.parts,
        "early_parts": stats.early_parts,
        "peak_pinned_bytes": stats.peak_pinned_bytes,
        "events": stats.events,
        "events_dropped": stats.events_dropped,
        "released_sessions": stats.released,
        "failures": failures
            .iter()
            .map(|f| serde_json::json!({
                "plugin": f.label,
                "call": f.call,
                "session": f.session,
                "error": f.error.to_string(),
            }))
            .collect::<Vec<_>>(),
        "extracted": extracted.map(|e| serde_json::json!({
            "files": e.files,
            "bytes": e.bytes,
            "refused": e.refused,
            "failed": e.failed,
        })),
    });
    let early = sink.failed();
    let output = Output::of(sink.finish(), "writing the records", early);
    let plugins_failed = !failures.is_empty() || stopped;
    let extraction_failed = extracted.map_or(0, |e| e.failed);
    let code = conclude(
        &args.capture,
        &run,
        &output,
        Some(plugin_stats),
        plugins_failed || extraction_failed > 0,
    );
    // A reader that went away gets no summary; failures are still said.
    let closed = matches!(output, Output::Closed);
    if !args.capture.quiet && !closed {
        let mut kinds: Vec<(&String, &u64)> = sink.counts.iter().collect();
        kinds.sort();
        let records: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        eprintln!(
            "netan: plugins: {} analysers; records: {}; {} monologue parts ({} sent early to stay within max_monologue_buffer; peak {} of capture windows held for them); {} events between plugins{}",
            pipeline.entries.len(),
            if records.is_empty() { "none".to_string() } else { records.join(", ") },
            stats.parts,
            stats.early_parts,
            crate::summary::human_bytes(stats.peak_pinned_bytes),
            stats.events,
            if stats.events_dropped > 0 { format!(" ({} dropped)", stats.events_dropped) } else { String::new() },
        );
        // Only for plugins the user chose: the default pipeline runs http-perf on every
        // capture, HTTP or not.
        let chosen = args.pipeline.is_some() || !args.load.is_empty();
        for (label, events) in starved.iter().filter(|_| chosen) {
            eprintln!(
                "netan: note: plugin `{label}` received no {} event in this run: the plugins that emit {} found nothing to send on this traffic, or are configured not to",
                events.join(" or "),
                if events.len() == 1 { "it" } else { "them" }
            );
        }
        if let (Some(e), Some(dir)) = (extracted, &pipeline.extract_dir) {
            eprintln!(
                "netan: extracted {} files ({}) under {}{}",
                e.files,
                crate::summary::human_bytes(e.bytes),
                dir.display(),
                if e.refused > 0 {
                    format!(
                        "; {} refused over extract_max_total ({})",
                        e.refused,
                        crate::summary::human_bytes(pipeline.extract_max_total)
                    )
                } else {
                    String::new()
                }
            );
        }
        if let Some(dir) = &pipeline.output_dir {
            note_earlier_records(dir, &sink);
        }
    }
    if extraction_failed > 0 {
        eprintln!(
            "netan: error: {extraction_failed} extracted file(s) could not be written; see the warnings above"
        );
    }
    if plugins_failed {
        eprintln!(
            "netan: {} plugin failure(s); see the errors above",
            failures.len()
        );
    }
    Ok(code)
}

/// Says which record files in output directory `dir` this run did not write (an earlier
/// run's, of kinds this one had none of): files of the kinds it wrote are replaced, the others
/// are left as they were, and a reader of the directory should know which are which.
fn note_earlier_records(dir: &std::path::Path, sink: &JsonlSink) {
    let written: std::collections::HashSet<&std::path::Path> = sink.file_names().collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut earlier: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && !written.contains(p.as_path()))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if earlier.is_empty() {
        return;
    }
    earlier.sort();
    eprintln!(
        "netan: note: {} also holds {} from an earlier run (this run wrote none of their kinds)",
        dir.display(),
        earlier.join(", ")
    );
}

/// A sink that keeps nothing (for `netan check`).
struct NullSink;

impl Sink for NullSink {
    fn record(
        &mut self,
        _plugin: &str,
        _session: Option<crate::sink::SessionRef<'_>>,
        _record: &netan_plugin_api::Record,
    ) {
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let pipeline = load_pipeline(Some(&args.pipeline), &[], &args.plugins.plugin_dir)?;
    let mut sink = NullSink;
    // Creating the analysers lets every plugin accept or reject its configuration.
    Dispatcher::new(&pipeline, 1, &mut sink)?;
    warn_unreachable(&pipeline, &pipeline.select);
    print_out(&format!(
        "{}{}: OK\n",
        pipeline.describe(),
        args.pipeline.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn list_plugins(args: &PluginsArgs) -> Result<ExitCode> {
    check_plugin_dirs(&args.plugins.plugin_dir)?;
    let search = SearchPath::standard(&args.plugins.plugin_dir, &[]);
    let found = search.discover();
    let mut out = String::new();
    outln!(out, "plugin search path: {}", search.describe());
    if found.is_empty() {
        outln!(out, "no plugins found");
    }
    let mut broken = false;
    for plugin in &found {
        match plugin {
            Ok(p) => {
                let i = &p.info;
                let list = |v: &abi_stable::std_types::RVec<abi_stable::std_types::RString>| {
                    if v.is_empty() {
                        "-".to_string()
                    } else {
                        v.iter()
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                let ports: Vec<String> = i.default_ports.iter().map(u16::to_string).collect();
                outln!(out, "{} {} - {}", i.name, i.version, i.description);
                outln!(out, "    library:  {}", p.path.display());
                outln!(
                    out,
                    "    api:      netan-plugin-api {}   author: {}   licence: {}",
                    i.api_version,
                    i.author,
                    i.license
                );
                outln!(out, "    consumes: {}", list(&i.consumes));
                outln!(out, "    emits:    {}", list(&i.emits));
                outln!(out, "    records:  {}", list(&i.records));
                outln!(
                    out,
                    "    ports:    {}",
                    if ports.is_empty() {
                        "any".to_string()
                    } else {
                        ports.join(", ")
                    }
                );
            }
            Err(e) => {
                broken = true;
                eprintln!("netan: error: {e}");
            }
        }
    }
    print_out(&out)?;
    Ok(if broken {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}
