//! The main loop: every frame of every input file, in order, through the decoder into the TCP
//! listener, which reports to an observer; then the end of input, and a report of everything
//! that was counted, skipped or went wrong.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::decode::{DecodeOptions, DecodeStats, Decoder};
use crate::interrupt;
use crate::source::{
    disk_size, expand_inputs, no_capture_in, CaptureError, CaptureFile, SourceCounters,
};
use crate::tcp::{TcpConfig, TcpListener, TcpObserver, TcpStats};

/// Settings of one analysis run.
#[derive(Debug, Clone, Default)]
pub struct AnalyseOptions {
    /// TCP listener settings.
    pub tcp: TcpConfig,
    /// Decoder settings.
    pub decode: DecodeOptions,
    /// The sessions analysed at all (any by default): other packets are skipped before the
    /// TCP listener, and counted.
    pub select: crate::pipeline::Filter,
    /// Show a progress bar (only drawn when stderr is a terminal and the input is large).
    pub progress: bool,
}

/// What happened to one input file.
#[derive(Debug)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Frames read from it.
    pub frames: u64,
    /// Bytes read (decompressed for gzip files).
    pub bytes: u64,
    /// Set when the file ended inside a record: a warning, not an error.
    pub truncated: Option<String>,
    /// Set when the file could not be read to its end.
    pub error: Option<CaptureError>,
    /// Records that were repaired or skipped.
    pub counters: SourceCounters,
}

/// Everything a run counted.
#[derive(Debug)]
pub struct RunReport {
    /// Per input file, in the order analysed.
    pub files: Vec<FileReport>,
    /// Files passed over in directory arguments.
    pub skipped_files: Vec<PathBuf>,
    /// Decoder counters.
    pub decode: DecodeStats,
    /// IP fragment counters.
    pub defrag: crate::decode::defrag::DefragCounters,
    /// Datagrams whose fragments never all arrived.
    pub incomplete_datagrams: usize,
    /// TCP listener counters.
    pub tcp: TcpStats,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Set when the user stopped the reading (Ctrl-C, SIGTERM) before the end of the input.
    pub interrupted: Option<Interruption>,
    /// The selection (`--ports`, `--addresses`; any by default).
    pub select: crate::pipeline::Filter,
    /// TCP segments outside it, skipped before the listener.
    pub not_selected: u64,
}

/// Where reading stopped when the user asked the run to stop: what was read before was
/// analysed to the end, as if the input ended there.
#[derive(Debug, Clone)]
pub struct Interruption {
    /// The signal (SIGINT, SIGTERM).
    pub signal: i32,
    /// The file being read, or about to be opened.
    pub path: PathBuf,
    /// Bytes of it read (decompressed for gzip files).
    pub offset: u64,
    /// Frames read over all files.
    pub frames: u64,
}

impl RunReport {
    /// Frames read over all files.
    pub fn frames(&self) -> u64 {
        self.files.iter().map(|f| f.frames).sum()
    }

    /// Bytes read over all files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Whether some input could not be read completely.
    pub fn had_errors(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some())
    }
}

/// Frames between two looks at Ctrl-C and the progress bar.
const CHECK_EVERY: u64 = 1024;

/// Input larger than this gets a progress bar (when stderr is a terminal).
const PROGRESS_THRESHOLD: u64 = 64 << 20;

/// Analyses `inputs` (files and directories) as one timeline, reporting to `obs`.
pub fn analyse(
    inputs: &[PathBuf],
    options: &AnalyseOptions,
    obs: &mut impl TcpObserver,
) -> Result<RunReport, CaptureError> {
    let started = Instant::now();
    let list = expand_inputs(inputs)?;
    let mut decoder = Decoder::new(options.decode);
    let mut tcp = TcpListener::new(options.tcp);
    // A directory argument with nothing to read is an input that could not be read.
    let mut files: Vec<FileReport> = list
        .empty
        .into_iter()
        .map(|dir| FileReport {
            error: Some(no_capture_in(&dir)),
            path: dir,
            frames: 0,
            bytes: 0,
            truncated: None,
            counters: SourceCounters::default(),
        })
        .collect();
    // Sizes on disk, looked up once: the progress bar's total, and its position between files.
    let sizes: Vec<u64> = list
        .files
        .iter()
        .map(|p| disk_size(p).unwrap_or(0))
        .collect();
    let total_size: u64 = sizes.iter().sum();
    let progress =
        (options.progress && std::io::stderr().is_terminal() && total_size >= PROGRESS_THRESHOLD)
            .then(|| progress_bar(total_size));
    let mut frame_index: u64 = 0;
    let mut done_bytes: u64 = 0;
    let keeps_input = obs.keeps_input();
    let select_any = options.select.is_any();
    let mut not_selected = 0;
    let mut interrupted = None;
    // Where reading stopped, if the user asked it to (Ctrl-C, SIGTERM).
    let stop_here = |path: &PathBuf, offset, frames| {
        interrupt::requested().map(|signal| Interruption {
            signal,
            path: path.clone(),
            offset,
            frames,
        })
    };

    for (path, size) in list.files.iter().zip(&sizes) {
        interrupted = stop_here(path, 0, frame_index);
        if interrupted.is_some() {
            break;
        }
        let mut report = FileReport {
            path: path.clone(),
            frames: 0,
            bytes: 0,
            truncated: None,
            error: None,
            counters: SourceCounters::default(),
        };
        let mut file = match CaptureFile::open(path) {
            Ok(f) => f,
            Err(e) => {
                // Interrupted while waiting for the first bytes (a pipe): not the file's fault.
                interrupted = stop_here(path, 0, frame_index);
                if interrupted.is_some() {
                    break;
                }
                report.error = Some(e);
                files.push(report);
                continue;
            }
        };
        if keeps_input {
            obs.input_file(file.view());
        }
        loop {
            match file.next_frame() {
                Ok(Some(frame)) => {
                    report.frames += 1;
                    if keeps_input {
                        obs.input_frame(frame.data, frame.data_offset);
                    }
                    if let Some(pkt) = decoder.decode_frame(
                        frame.ts,
                        frame.linktype,
                        frame.data,
                        frame.orig_len as usize > frame.data.len(),
                    ) {
                        if select_any
                            || options
                                .select
                                .matches((pkt.src.ip, pkt.src.port), (pkt.dst.ip, pkt.dst.port))
                        {
                            tcp.segment(&pkt, frame_index, frame.ts, obs);
                        } else {
                            not_selected += 1;
                        }
                    }
                    frame_index += 1;
                    if obs.stop_requested() {
                        break;
                    }
                    // Every 1024 frames (well under a millisecond): Ctrl-C, and the progress bar.
                    // A read waiting on a pipe notices Ctrl-C at once (see `interrupt`).
                    if frame_index % CHECK_EVERY == 0 {
                        interrupted = stop_here(path, file.position(), frame_index);
                        if interrupted.is_some() {
                            break;
                        }
                        if let Some(bar) = &progress {
                            if frame_index % (8 * CHECK_EVERY) == 0 {
                                bar.set_position(done_bytes + file.disk_position());
                            }
                        }
                    }
                }
                Ok(None) => {
                    if file.interrupted() {
                        interrupted = stop_here(path, file.position(), frame_index);
                    }
                    break;
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
        if keeps_input {
            obs.input_end();
        }
        report.bytes = file.position();
        let stopping = obs.stop_requested();
        report.truncated = file.truncation().map(|t| t.to_string());
        report.counters = file.counters();
        done_bytes += size;
        files.push(report);
        if stopping || interrupted.is_some() {
            break;
        }
    }
    if !obs.stop_requested() {
        tcp.finish(obs);
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(RunReport {
        files,
        skipped_files: list.skipped,
        decode: decoder.stats.clone(),
        defrag: decoder.defrag_counters(),
        incomplete_datagrams: decoder.incomplete_datagrams(),
        tcp: tcp.stats(),
        elapsed: started.elapsed(),
        interrupted,
        select: options.select.clone(),
        not_selected,
    })
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}
