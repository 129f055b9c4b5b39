//! The command line (clap derive structs only): what the user typed, before validation.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::flows::FlowOrder;

/// netan takes packet captures apart by conversation: it reassembles every TCP session of
/// pcap and pcapng files and reports sessions, monologues and what protocol analysers make
/// of them.
#[derive(Debug, Parser)]
#[command(name = "netan", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One JSON line per TCP session (in order of session start): endpoints, times, packets,
    /// reassembled bytes per direction, monologues, gaps and why the session ended.
    Flows(FlowsArgs),
    /// One JSON line per monologue (all the bytes one side sent before the other side spoke),
    /// in the order monologues complete.
    Monologues(MonologuesArgs),
    /// Run analyser plugins over captures: the pipeline file's, the `-l` ones, or by default
    /// every bundled plugin found, on its default ports. Records are written as JSON Lines.
    Run(RunArgs),
    /// Validate a pipeline file (plugins found, configurations accepted) and print it resolved.
    Check(CheckArgs),
    /// List the plugins found in the plugin search path, with their metadata.
    Plugins(PluginsArgs),
}

/// Where plugins are looked for.
#[derive(Debug, Args, Clone, Default)]
pub struct PluginDirArgs {
    /// Look for plugin libraries in DIR first (repeatable). Then come the pipeline file's
    /// `[plugins] dirs`, `$NETAN_PLUGIN_PATH` (colon-separated) and the directory of the netan
    /// binary.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Vec<PathBuf>,
}

/// `netan run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline file (TOML; see docs/pipeline.md). Without one, and without -l, every bundled
    /// plugin found runs on its default ports.
    #[arg(short, long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,

    /// Add or override a plugin, as the original's command line did:
    /// `-l NAME[,key=value...]`. `ports=25+587` and `addresses=10.0.0.0/8+10.1.1.1` set its
    /// traffic filter; other keys go into its configuration (TOML values; bare words are
    /// strings; a key alone means true). Merged over the pipeline file. Repeatable.
    #[arg(short = 'l', long = "load", value_name = "SPEC")]
    pub load: Vec<String>,

    /// Write one file per record kind (`http.jsonl`, ...) in DIR instead of JSON Lines on
    /// stdout.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Let plugins extract content (HTTP bodies, e-mails) into DIR, one subdirectory per
    /// pipeline entry, with safe file names (plugins enable it in their configuration).
    #[arg(long, value_name = "DIR")]
    pub extract_dir: Option<PathBuf>,

    /// Run N instances of every analyser, each on a disjoint share of the sessions, merging
    /// their partial state at the end (exercises the protocol multi-core runs will use; the
    /// instances still share one thread).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub instances: usize,

    /// Plugin search path.
    #[command(flatten)]
    pub plugins: PluginDirArgs,

    /// Capture input and reassembly options (they override the pipeline's [tcp] values).
    #[command(flatten)]
    pub capture: CaptureArgs,
}

/// `netan check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The pipeline file.
    #[arg(value_name = "PIPELINE")]
    pub pipeline: PathBuf,

    /// Plugin search path.
    #[command(flatten)]
    pub plugins: PluginDirArgs,
}

/// `netan plugins`.
#[derive(Debug, Args)]
pub struct PluginsArgs {
    /// Plugin search path.
    #[command(flatten)]
    pub plugins: PluginDirArgs,
}

/// Options shared by every command that reads captures.
#[derive(Debug, Args, Clone)]
pub struct CaptureArgs {
    /// Capture files (pcap or pcapng, optionally gzip-compressed), directories (their files
    /// named *.pcap, *.pcapng, *.cap, *.dmp, *.gz, in name order; not hidden files, not
    /// subdirectories) or `-` for standard input
    /// (`tcpdump -w - | netan run -`). All are analysed as one timeline, in the order given,
    /// with TCP sessions carried from one file to the next.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Stop keeping payload of a session after this many bytes (0 = no limit); flags are still
    /// followed, and the flow is marked `capped`. The original's max_session_size.
    /// [default: 0]
    #[arg(long, value_name = "BYTES", help_heading = "TCP reassembly")]
    pub max_session_size: Option<u64>,

    /// Out-of-order data held per session waiting for a hole to fill, counted as its bytes
    /// plus 128 per held segment; beyond, the hole is declared a gap. [default: 4194304]
    #[arg(long, value_name = "BYTES", help_heading = "TCP reassembly")]
    pub max_buffered_per_session: Option<usize>,

    /// Out-of-order data held over all sessions (counted the same way); beyond, holes are
    /// declared gaps.
    /// [default: 67108864]
    #[arg(long, value_name = "BYTES", help_heading = "TCP reassembly")]
    pub max_buffered: Option<usize>,

    /// Sessions open at once; beyond, the least recently active are ended (reason `evicted`).
    /// [default: 262144]
    #[arg(long, value_name = "N", help_heading = "TCP reassembly", value_parser = at_least_one)]
    pub max_sessions: Option<usize>,

    /// End a session after this many seconds of capture time without a packet (0 = never).
    /// [default: 3600]
    #[arg(long, value_name = "SECONDS", help_heading = "TCP reassembly")]
    pub idle_timeout: Option<f64>,

    /// Seconds of capture time a reset session stays open for data still in flight, and a
    /// closed one is remembered to absorb late packets. [default: 5]
    #[arg(long, value_name = "SECONDS", help_heading = "TCP reassembly")]
    pub close_linger: Option<f64>,

    /// Segments remembered per direction (as digests) to tell a faithful retransmission of
    /// delivered data from one whose bytes differ (0 = do not compare). [default: 32]
    #[arg(long, value_name = "N", help_heading = "TCP reassembly")]
    pub overlap_segments: Option<usize>,

    /// Do not open VXLAN tunnels (UDP port 4789); by default their inner frames are decoded.
    #[arg(long, help_heading = "Decoding")]
    pub no_tunnels: bool,

    /// Analyse only sessions with one of these ports on either side (`80+8080`): the other
    /// packets are skipped before reassembly and counted (a pipeline file's `[input] ports`).
    #[arg(long, value_name = "PORTS", help_heading = "Selection")]
    pub ports: Option<String>,

    /// Analyse only sessions with an address in one of these networks on either side
    /// (`10.0.0.0/8+2001:db8::1`); with --ports, both must hold (a pipeline file's `[input]
    /// addresses`).
    #[arg(long, value_name = "NETWORKS", help_heading = "Selection")]
    pub addresses: Option<String>,

    /// No summary and no progress bar on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Also write the run's counters to FILE as one JSON object: everything the summary
    /// says, in full and by name (per input file, frames not used by reason, sessions by end
    /// reason, reassembly counters, limits that bit, where an interrupted run stopped; for
    /// `run`, the plugin path's counters, records by kind and plugin failures). See
    /// docs/architecture.md.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
}

/// `netan flows`.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Add `sha256_c2s` and `sha256_s2c`: the SHA-256 of each direction's reassembled bytes in
    /// stream order, gaps left out (null where a direction carried no byte).
    #[arg(long)]
    pub hash: bool,

    /// Record order: by session start (records wait for older sessions to end), or by session
    /// end (written at once; memory stays flat with long-lived sessions).
    #[arg(long, value_enum, default_value_t = FlowOrder::Start)]
    pub order: FlowOrder,

    /// Capture input and reassembly options.
    #[command(flatten)]
    pub capture: CaptureArgs,
}

/// `netan monologues`.
#[derive(Debug, Args)]
pub struct MonologuesArgs {
    /// Add `sha256`: the SHA-256 of the monologue's bytes.
    #[arg(long)]
    pub hash: bool,

    /// Write each monologue's bytes to a file in DIR, named `<session key>.s<session>.<n>`
    /// (n counts from 1), as the original's `dump` option meant to. Gaps are left out.
    #[arg(long, value_name = "DIR")]
    pub dump_dir: Option<PathBuf>,

    /// Capture input and reassembly options.
    #[command(flatten)]
    pub capture: CaptureArgs,
}

/// A count that must be at least 1 (0 would be taken as 1 in silence).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
