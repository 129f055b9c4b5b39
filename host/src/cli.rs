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
}

/// Options shared by every command that reads captures.
#[derive(Debug, Args, Clone)]
pub struct CaptureArgs {
    /// Capture files (pcap or pcapng, optionally gzip-compressed) or directories (their files
    /// named *.pcap, *.pcapng, *.cap, *.gz, in name order). All are analysed as one timeline,
    /// in the order given, with TCP sessions carried from one file to the next.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Stop keeping payload of a session after this many bytes (0 = no limit); flags are still
    /// followed, and the flow is marked `capped`. The original's max_session_size.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 0,
        help_heading = "TCP reassembly"
    )]
    pub max_session_size: u64,

    /// Out-of-order bytes held per session waiting for a hole to fill; beyond, the hole is
    /// declared a gap.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, help_heading = "TCP reassembly")]
    pub max_buffered_per_session: usize,

    /// Out-of-order bytes held over all sessions; beyond, holes are declared gaps.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20, help_heading = "TCP reassembly")]
    pub max_buffered: usize,

    /// Sessions open at once; beyond, the least recently active are ended (reason `evicted`).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 262_144,
        help_heading = "TCP reassembly"
    )]
    pub max_sessions: usize,

    /// End a session after this many seconds of capture time without a packet (0 = never).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 3600.0,
        help_heading = "TCP reassembly"
    )]
    pub idle_timeout: f64,

    /// Seconds of capture time a reset session stays open for data still in flight, and a
    /// closed one is remembered to absorb late packets.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 5.0,
        help_heading = "TCP reassembly"
    )]
    pub close_linger: f64,

    /// Bytes of recent data kept per direction to tell a faithful retransmission from one whose
    /// bytes differ (0 = do not compare).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 4096,
        help_heading = "TCP reassembly"
    )]
    pub overlap_window: usize,

    /// Do not open VXLAN tunnels (UDP port 4789); by default their inner frames are decoded.
    #[arg(long, help_heading = "Decoding")]
    pub no_tunnels: bool,

    /// No summary and no progress bar on stderr.
    #[arg(short, long)]
    pub quiet: bool,
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
