//! The TCP listener: segments in, session events out. It is built into the host and always
//! runs first; analysers start at the byte stream it produces.
//!
//! Read first: RFC 9293 (TCP, §3.4 sequence numbers, §3.10.7 segment arrival), RFC 1122
//! §4.2.3.6 (keep-alives), RFC 7413 (data on SYN). `docs/reassembly.md` states the semantics
//! this module implements, decision by decision.
//!
//! * [`seq`] maps wrapping 32-bit sequence numbers onto 64-bit stream offsets;
//! * [`stream`] reassembles one direction: out-of-order data, retransmissions, overlaps, gaps;
//! * [`session`] follows one connection: handshake, monologues, FIN/RST, limits;
//! * [`table`] finds the session of a segment, creates, ages and ends sessions.
//!
//! The listener reports to a [`TcpObserver`]: session start, the bytes of each direction in
//! stream order (with gaps for bytes never captured), monologue boundaries and session end.
//! A monologue is what one side sends until the other side sends data or the session ends.

pub(crate) mod seq;
pub(crate) mod session;
pub(crate) mod stream;
pub(crate) mod table;

pub use netan_plugin_api::Direction;
pub use session::{Handshake, SessionInfo};
pub use stream::StreamStats;
pub use table::TcpListener;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndReason {
    /// Both sides sent a FIN.
    Fin,
    /// A RST was sent (the session stayed open for `close_linger` afterwards).
    Rst,
    /// No packet for `idle_timeout`.
    Timeout,
    /// The input ended.
    Eof,
    /// A new connection (a SYN with another initial sequence number) reused the port pair.
    Reused,
    /// Dropped to keep the number of open sessions within `max_sessions`.
    Evicted,
}

impl EndReason {
    /// Every reason, in the order of [`TcpStats::ended`].
    pub const ALL: [EndReason; 6] = [
        EndReason::Fin,
        EndReason::Rst,
        EndReason::Timeout,
        EndReason::Eof,
        EndReason::Reused,
        EndReason::Evicted,
    ];

    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::Timeout => "timeout",
            EndReason::Eof => "eof",
            EndReason::Reused => "reused",
            EndReason::Evicted => "evicted",
        }
    }
}

/// A gap: bytes that were sent but never captured, placed within a monologue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Offset in the monologue's data where the missing bytes belong.
    pub offset: u64,
    /// Number of bytes missing.
    pub len: u64,
}

/// A finished monologue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monologue {
    /// Who spoke.
    pub direction: Direction,
    /// Position within the session (0 is the first monologue).
    pub index: u64,
    /// Capture time of the first packet that contributed, in ns.
    pub t_start: u64,
    /// Latest capture time of a packet that contributed, in ns.
    pub t_end: u64,
    /// Packets that contributed bytes.
    pub packets: u64,
    /// Bytes delivered (gaps excluded).
    pub bytes: u64,
    /// Gaps, in order: the first [`MAX_LISTED_GAPS`].
    pub gaps: Vec<Gap>,
    /// Gaps beyond those listed (a direction that left a hole after nearly every byte, for
    /// as long as the other side stayed silent): counted, not kept.
    pub gaps_unlisted: u64,
}

/// Gaps listed per monologue (16 bytes each); beyond, they are counted only, so that a
/// monologue's memory does not grow with every packet of a direction full of holes.
pub const MAX_LISTED_GAPS: usize = 4096;

impl Monologue {
    /// Gaps in the monologue, listed or not.
    pub fn gap_count(&self) -> u64 {
        self.gaps.len() as u64 + self.gaps_unlisted
    }
}

/// How a session ended, with its totals.
#[derive(Debug, Clone)]
pub struct SessionEnd {
    /// Why.
    pub reason: EndReason,
    /// Time of the last packet of the session (of the RST for a reset session).
    pub t_end: u64,
    /// Monologues emitted.
    pub monologues: u64,
    /// Per-direction counters, indexed by [`Direction::index`].
    pub streams: [StreamStats; 2],
    /// Whether `max_session_size` cut the session's payload.
    pub capped: bool,
    /// Ordinal of the oldest session still open after this one ended (`u64::MAX` if none):
    /// every session that started before it has now ended.
    pub oldest_open: u64,
}

/// Receives the listener's events. Every session gets exactly one `session_start` and one
/// `session_end`; between them, `data` and `gap` calls in stream order, grouped into
/// monologues that `monologue_end` closes.
pub trait TcpObserver {
    /// A session started (handshake complete, or first packet of a midstream session, or at
    /// the latest just before its first byte or its end).
    fn session_start(&mut self, session: &SessionInfo, ts: u64);
    /// In-order bytes from one side, from the packet captured at `ts` as frame `packet`. They
    /// belong to the current monologue of that side.
    fn data(
        &mut self,
        session: &SessionInfo,
        direction: Direction,
        data: &[u8],
        ts: u64,
        packet: u64,
    );
    /// Bytes from one side that were never captured, found at capture time `ts` (the time of
    /// the packet that revealed them: a gap has no packet of its own).
    fn gap(&mut self, session: &SessionInfo, direction: Direction, len: u64, ts: u64);
    /// The current monologue is complete.
    fn monologue_end(&mut self, session: &SessionInfo, monologue: &Monologue);
    /// The session ended.
    fn session_end(&mut self, session: &SessionInfo, end: &SessionEnd);
    /// Whether the observer keeps frame bytes beyond the frame (the plugin dispatcher, in
    /// windows of the capture: [`crate::source::Window`]). When not (the default),
    /// [`TcpObserver::input_file`], [`TcpObserver::input_frame`] and
    /// [`TcpObserver::input_end`] are not called.
    fn keeps_input(&self) -> bool {
        false
    }
    /// A new capture file starts (its frames' offsets count from 0 again), with a view to map
    /// windows of it from if it is a regular uncompressed file (else kept bytes are copied).
    fn input_file(&mut self, _view: Option<crate::source::FileView>) {}
    /// The next frame's bytes and their offset in the (decompressed) file: `data` bytes from
    /// the listener that lie inside them are at the matching offsets.
    fn input_frame(&mut self, _data: &[u8], _offset: u64) {}
    /// The capture file's frames are over (its read buffer goes: no later bytes are its).
    fn input_end(&mut self) {}
    /// Whether the run must stop now (checked after every frame).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Listener settings. The defaults suit captures from a few KB to many GB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// Payload bytes kept per session; beyond, payload is dropped (and counted) while flags
    /// are still followed. 0 = no limit. (The original's `max_session_size`.)
    pub max_session_size: u64,
    /// Out-of-order bytes held per session before the first hole is declared a gap.
    pub max_buffered_per_session: usize,
    /// Out-of-order bytes held over all sessions before holes are declared gaps.
    pub max_buffered_total: usize,
    /// Sessions open at once; beyond, the least recently active are ended (`evicted`).
    pub max_sessions: usize,
    /// Capture time without a packet after which a session ends (`timeout`). 0 = never.
    pub idle_timeout_ns: u64,
    /// How long a reset or closed session stays around to absorb late packets, in ns.
    pub close_linger_ns: u64,
    /// Segments of each direction remembered (by digest) after delivery, to tell
    /// retransmissions that repeat their bytes from ones that change them. 0 turns the check
    /// off. (Overlaps with data still held out of order are always compared, byte by byte.)
    pub overlap_segments: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_session_size: 0,
            max_buffered_per_session: 4 << 20,
            max_buffered_total: 64 << 20,
            max_sessions: 262_144,
            idle_timeout_ns: 3_600_000_000_000,
            close_linger_ns: 5_000_000_000,
            overlap_segments: 32,
        }
    }
}

/// Listener-wide counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TcpStats {
    /// Segments processed.
    pub segments: u64,
    /// Sessions created.
    pub sessions: u64,
    /// Sessions picked up without a handshake.
    pub midstream: u64,
    /// Sessions ended, by reason (indexed in [`EndReason`] order).
    pub ended: [u64; EndReason::ALL.len()],
    /// Packets for a session that had ended shortly before (late ACKs, FIN retransmissions).
    pub late_packets: u64,
    /// RSTs ignored because they could not belong to the connection (no ACK of the SYN, or
    /// outside the sender's stream).
    pub rst_ignored: u64,
    /// FINs ignored because they fall outside the sender's stream: before bytes already
    /// delivered or acknowledged, or implausibly far beyond what was sent.
    pub fin_ignored: u64,
    /// Times the per-session out-of-order limit forced a gap.
    pub limit_session_buffer: u64,
    /// Times the overall out-of-order limit forced a gap.
    pub limit_total_buffer: u64,
    /// Sessions whose payload `max_session_size` cut.
    pub limit_session_size: u64,
    /// Sessions ended by `max_sessions`.
    pub limit_sessions: u64,
    /// Closed port pairs forgotten before their `close_linger` ran out, because as many as
    /// `max_sessions` were remembered (capture time stalled or went backwards).
    pub limit_closed: u64,
    /// Peak out-of-order bytes held.
    pub peak_buffered: u64,
    /// Peak sessions open at once.
    pub peak_sessions: u64,
    /// Reassembly counters summed over both directions of every ended session.
    pub streams: StreamStats,
}

#[cfg(test)]
mod tests;

/// The last few packets that contributed to a monologue (or a part of one), to count each
/// packet once: a packet's bytes can come in several deliveries, with bytes held from another
/// packet between them (a retransmission that fills holes on both sides of held data).
/// Compact (it sits in per-session state the per-packet path touches): frame numbers, with
/// `u64::MAX` for none (a capture never has that many frames).
#[derive(Debug, Clone, Copy)]
pub struct RecentPackets {
    ids: [u64; 4],
    next: u8,
}

impl Default for RecentPackets {
    fn default() -> Self {
        RecentPackets {
            ids: [u64::MAX; 4],
            next: 0,
        }
    }
}

impl RecentPackets {
    /// Whether `packet` is new here (and remembers it).
    pub fn first_time(&mut self, packet: u64) -> bool {
        if self.ids.contains(&packet) {
            return false;
        }
        if let Some(slot) = self.ids.get_mut(usize::from(self.next)) {
            *slot = packet;
        }
        self.next = (self.next + 1) % 4;
        true
    }
}
