//! The commands behind the CLI: turn validated arguments into an analysis run, print records
//! on stdout and the summary and diagnostics on stderr, and decide the exit status.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::analyse::{analyse, AnalyseOptions, RunReport};
use crate::cli::{CaptureArgs, Cli, Command, FlowsArgs, MonologuesArgs};
use crate::decode::DecodeOptions;
use crate::output::flows::FlowsWriter;
use crate::output::monologues::MonologuesWriter;
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

/// Turns the capture options into analysis settings.
pub fn analyse_options(args: &CaptureArgs) -> Result<AnalyseOptions> {
    Ok(AnalyseOptions {
        tcp: TcpConfig {
            max_session_size: args.max_session_size,
            max_buffered_per_session: args.max_buffered_per_session,
            max_buffered_total: args.max_buffered,
            max_sessions: args.max_sessions.max(1),
            idle_timeout_ns: seconds_to_ns("idle-timeout", args.idle_timeout)?,
            close_linger_ns: seconds_to_ns("close-linger", args.close_linger)?,
            overlap_window: args.overlap_window,
        },
        decode: DecodeOptions {
            tunnels: !args.no_tunnels,
            ..DecodeOptions::default()
        },
        progress: !args.quiet,
    })
}

/// Prints the summary, warnings and errors of a run on stderr; returns the exit status.
pub fn report(report: &RunReport, quiet: bool) -> ExitCode {
    let mut err = io::stderr().lock();
    for file in &report.files {
        if let Some(t) = &file.truncated {
            let _ = writeln!(err, "netan: warning: {}: {t}", file.path.display());
        }
        if let Some(e) = &file.error {
            let _ = writeln!(err, "netan: error: {e}");
        }
    }
    if !quiet {
        let _ = write!(err, "{}", summary(report));
    }
    if report.had_errors() {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether an error is a closed stdout (`netan flows x | head`): not worth a message.
fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn flows(args: &FlowsArgs) -> Result<ExitCode> {
    let options = analyse_options(&args.capture)?;
    let stdout = io::stdout().lock();
    let mut writer = FlowsWriter::new(
        BufWriter::with_capacity(1 << 16, stdout),
        args.hash,
        args.order,
    );
    let run = analyse(&args.capture.captures, &options, &mut writer)?;
    match writer.finish() {
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("writing the flow records"),
        Ok(_) => {}
    }
    Ok(report(&run, args.capture.quiet))
}

fn monologues(args: &MonologuesArgs) -> Result<ExitCode> {
    let options = analyse_options(&args.capture)?;
    if let Some(dir) = &args.dump_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the dump directory {}", dir.display()))?;
    }
    let stdout = io::stdout().lock();
    let mut writer = MonologuesWriter::new(
        BufWriter::with_capacity(1 << 16, stdout),
        args.hash,
        args.dump_dir.clone(),
    );
    let run = analyse(&args.capture.captures, &options, &mut writer)?;
    match writer.finish() {
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("writing the monologues"),
        Ok(_) => {}
    }
    Ok(report(&run, args.capture.quiet))
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Flows(args) => flows(args),
        Command::Monologues(args) => monologues(args),
    }
}
