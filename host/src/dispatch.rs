//! Dispatch: turns the TCP listener's events into plugin calls, in pipeline order, and runs
//! the queue of events plugins emit for each other.
//!
//! * Each analyser sees the sessions its traffic filter matches (decided at session start).
//! * Monologue bytes are gathered per session without being copied into per-session
//!   buffers: a part is a list of chunks, ranges of windows of the capture (fixed-size,
//!   aligned ranges of the file: [`crate::source::Window`]). For a regular uncompressed file
//!   a window is a mapping of the file made without reading it, so bytes no plugin reads cost
//!   nothing; for gzip and pipes the window is memory the chunk's bytes are copied into, at
//!   the same place. Bytes that are not the frame's own (data the TCP listener held out of
//!   order, reassembled IP fragments) are copied into the chunk. A part goes out when its
//!   monologue ends or reaches `monologue_part_size` (flagged `more`), or early (counted)
//!   when the windows pending parts refer to reach `max_monologue_buffer` and one more is
//!   needed: the parts that refer to the oldest window go, oldest first. Windows depend only
//!   on file offsets, so a capture gives the same parts however it is read (a file, gzip'd, a
//!   pipe). Plugin calls are per session and per monologue part, never per packet.
//! * What a data segment touches of its session is one cache line in a dense array (`Hot`);
//!   what delivering a part reads of the rest is one more (the first of `SessionState`).
//!   Segments are staged so that their lines are prefetched and waited for together, and
//!   parts sent early are prefetched a few ahead (docs/performance.md: with thousands of
//!   sessions in flight, these cache misses are most of the plugin path's cost).
//! * A named event a plugin emits is queued; the queue is drained after the TCP event that
//!   caused it has reached every analyser, so the order is the same on every run and no call
//!   is re-entrant.
//! * An analyser that fails (returns an error or panics — the export macro catches panics on
//!   the plugin's side) is reported once and gets no more events; the others go on, and the
//!   run exits non-zero (or stops at once, with `on_error = "stop"`).
//! * Several instances of one entry (`--instances N`) each get a disjoint share of the
//!   sessions, all events of a session going to one instance; at the end the host collects
//!   their partial state into the first, which alone gets `finish` (the protocol a multi-core
//!   host will use).

use std::collections::VecDeque;
use std::io::Write;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RResult, RSlice, RStr, RString};
use netan_plugin_api::{
    events, AnalyserBox, EndReason as ApiEndReason, Endpoint as ApiEndpoint, Event, Gap as ApiGap,
    Handshake as ApiHandshake, Host, HostMut, Host_TO, LogLevel, Monologue as ApiMonologue,
    PluginError, Record, Session as ApiSession, SessionEnd as ApiSessionEnd,
    SessionStart as ApiSessionStart,
};

use crate::pipeline::{Filter, OnError, Pipeline};
use crate::sink::artifacts::Artifacts;
use crate::sink::{SessionRef, Sink};
use crate::source::{FileView, Window};
use crate::tcp::{
    Direction, EndReason, Handshake, Monologue, SessionEnd, SessionInfo, TcpObserver,
};

/// Named events handled in one drain at most: beyond, plugins are emitting in a loop.
const MAX_EVENTS_PER_DRAIN: usize = 100_000;

/// A failure of an analyser.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Pipeline entry.
    pub label: String,
    /// The call that failed.
    pub call: &'static str,
    /// Session key, if the call was about one.
    pub session: Option<String>,
    /// The plugin's error.
    pub error: PluginError,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin `{}` {} in {}", self.label, self.error, self.call)?;
        if let Some(key) = &self.session {
            write!(f, " (session {key})")?;
        }
        Ok(())
    }
}

/// Counters of the dispatcher.
#[derive(Debug, Default, Clone)]
pub struct DispatchStats {
    /// Monologue parts delivered (calls of `tcp_monologue`).
    pub parts: u64,
    /// Parts sent before their monologue ended because `max_monologue_buffer` was reached.
    pub early_parts: u64,
    /// Named events delivered.
    pub events: u64,
    /// Named events dropped because a drain exceeded its bound.
    pub events_dropped: u64,
    /// Peak of the capture held for pending parts: in each window held, up to the last byte
    /// a part refers to (the memory it can take; windows are counted whole against
    /// `max_monologue_buffer`).
    pub peak_pinned_bytes: u64,
    /// Sessions analysers released (not their protocol).
    pub released: u64,
}

struct Slot {
    label: String,
    instances: Vec<AnalyserBox>,
    filter: Filter,
    start: bool,
    end: bool,
    named: Vec<String>,
    /// Named events the plugin emits (its metadata).
    emits: Vec<String>,
    failed: bool,
    /// `finish` was called: no event reaches it any more.
    finished: bool,
    /// Named events delivered to it.
    received: u64,
    /// Named events emitted to it after its `finish` (not delivered; warned about once).
    after_finish: u64,
    /// With several instances: the messages printed so far (at most [`MAX_WARNED`]) and by
    /// which instance, so that one printed by an instance is not printed again by another.
    warned: Vec<(usize, String)>,
}

/// Messages remembered per entry to print each once over its instances.
const MAX_WARNED: usize = 64;

/// One chunk of a pending part: `len` bytes at `start` of the window in slot `window` of
/// [`Dispatcher::pinned`] (the frame's own bytes, kept alive there), or, with `window` =
/// [`OWNED`], bytes the dispatcher had to copy (data the TCP listener held out of order,
/// reassembled IP fragments: anything that is not the frame's own bytes), at byte `start` of
/// the part's `owned` bytes.
///
/// 16 bytes: slots are few (as many as windows can be pinned at once), frame numbers are kept
/// modulo 2^32 (they are only compared within one part, to count its packets), and a part
/// holds at most u32::MAX bytes.
#[derive(Clone, Copy)]
struct Entry {
    window: u32,
    start: u32,
    len: u32,
    /// Frame the bytes came from, modulo 2^32 (parts count the packets they hold).
    packet: u32,
}

impl Entry {
    /// A chunk of `len` bytes at `start` of window `window`, from frame `packet` (kept modulo
    /// 2^32).
    fn new(window: u32, start: usize, len: u32, packet: u64) -> Entry {
        Entry {
            window,
            start: start as u32,
            len,
            packet: packet as u32,
        }
    }
}

/// `Entry::window` of copied bytes (never a window's slot).
const OWNED: u32 = u32::MAX;

/// What a copied chunk costs beyond its bytes, counted with them against their bound.
const ENTRY_SIZE: usize = std::mem::size_of::<Entry>();

/// How far down `holding` early parts' state is loaded ahead of sending them.
const PREFETCH_AHEAD: usize = 8;

/// Segments staged before they are gathered (see [`Dispatcher::stage`]).
const STAGE: usize = 16;

/// A data segment whose bytes are the frame's own, in the newest window (mapped), waiting to
/// be gathered into its session's part.
#[derive(Clone, Copy)]
struct Staged {
    t: usize,
    /// The bytes' place in the file and their length (at most a window's).
    offset: u64,
    len: u32,
    direction: Direction,
    ts: u64,
    packet: u64,
}

impl Staged {
    const NONE: Staged = Staged {
        t: 0,
        offset: 0,
        len: 0,
        direction: Direction::ClientToServer,
        ts: 0,
        packet: 0,
    };
}

/// Staged chunks gathered in a row (all in the newest window): how many and where the last
/// ends.
#[derive(Default)]
struct Run {
    chunks: usize,
    used: usize,
}

/// Copied-byte lists larger than this are not kept for a session's next part.
const KEEP_OWNED: usize = 4096;

/// The table slot of no session (events and calls about none).
const NO_SLOT: usize = usize::MAX;

/// Chunk lists longer than this are not kept for the next session in their slot.
const KEEP_CHUNKS: usize = 256;

/// A window held for pending parts, with the number of chunks that refer to it.
struct Pinned {
    /// Its slot in [`Pins`] (never [`OWNED`]), which chunks name.
    window: u32,
    /// The capture file (counted over the run) and the window's place in it.
    file: u64,
    index: u64,
    bytes: Window,
    chunks: usize,
    /// End of the last byte a chunk referred to (the part of the window in use).
    used: usize,
}

/// The windows pending parts refer to: each in a slot that chunks name, so that a chunk finds
/// its window without a search, and in the order they were taken (the oldest goes first when
/// room is needed). Slots are reused, so there are never more than windows pinned at once.
struct Pins {
    slots: Vec<Option<Pinned>>,
    /// Slots in use, oldest window first.
    order: VecDeque<u32>,
    /// The last of `order` ([`OWNED`] when empty), read for every chunk.
    newest: u32,
}

impl Default for Pins {
    fn default() -> Pins {
        Pins {
            slots: Vec::new(),
            order: VecDeque::new(),
            newest: OWNED,
        }
    }
}

impl Pins {
    /// Windows pinned.
    fn len(&self) -> usize {
        self.order.len()
    }

    fn get(&self, slot: u32) -> Option<&Pinned> {
        self.slots.get(slot as usize)?.as_ref()
    }

    fn get_mut(&mut self, slot: u32) -> Option<&mut Pinned> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Slot of the newest window.
    fn newest_slot(&self) -> Option<u32> {
        (self.newest != OWNED).then_some(self.newest)
    }

    fn newest(&self) -> Option<&Pinned> {
        self.get(self.newest_slot()?)
    }

    fn newest_mut(&mut self) -> Option<&mut Pinned> {
        self.get_mut(self.newest_slot()?)
    }

    fn oldest(&self) -> Option<&Pinned> {
        self.get(*self.order.front()?)
    }

    /// Pins a window as the newest, in a free slot. Returns the slot.
    fn add(&mut self, make: impl FnOnce(u32) -> Pinned) -> u32 {
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        } as u32;
        if let Some(entry) = self.slots.get_mut(slot as usize) {
            *entry = Some(make(slot));
        }
        self.order.push_back(slot);
        self.newest = slot;
        slot
    }

    /// Unpins the window in `slot`.
    fn remove(&mut self, slot: u32) -> Option<Pinned> {
        let gone = self.slots.get_mut(slot as usize)?.take()?;
        if let Some(i) = self.order.iter().rposition(|&s| s == slot) {
            self.order.remove(i);
        }
        self.newest = self.order.back().copied().unwrap_or(OWNED);
        Some(gone)
    }
}

/// What `data` touches for every segment of a session, kept in a dense array apart from the
/// rest of the session's state ([`SessionState`], touched once per part and per session): one
/// cache line per session, the list of the part's chunks included (its entries are written
/// in order, a store that does not wait for its cache line, and read once, when the part
/// goes).
#[derive(Default)]
#[repr(align(64))]
struct Hot {
    /// The pending part's chunks (the allocation is kept from part to part).
    chunks: Vec<Entry>,
    /// Bytes in the pending part.
    len: u64,
    t_start: u64,
    t_end: u64,
    /// Numbers the pending part in the dispatcher's `holding` list, once listed (modulo
    /// 2^32: an entry of a part gone that meets a new part of the same number, 2^32 parts
    /// later, only sends that part early).
    seq: u32,
    /// The session's parts are gathered (its entries meet those that take monologues).
    gather: bool,
    direction: Option<Direction>,
    /// The part has bytes or gaps, so its times are set.
    opened: bool,
    /// The part is listed in the dispatcher's `holding` list.
    listed: bool,
    /// The part has gaps or copied bytes (in its session's [`PartExtra`], which is not read
    /// for a part without: sessions keep theirs once allocated).
    extra: bool,
}

impl Hot {
    /// Adds a chunk to the pending part (opening it). Returns the part's length after it.
    #[inline(always)]
    fn push(&mut self, entry: Entry, direction: Direction, ts: u64) -> u64 {
        self.chunks.push(entry);
        self.extra |= entry.window == OWNED;
        if self.direction.is_none() {
            self.direction = Some(direction);
        }
        self.open_at(ts, ts);
        self.opened = true;
        self.t_end = self.t_end.max(ts);
        self.len += u64::from(entry.len);
        self.len
    }

    /// Times a part that has neither bytes nor gaps yet by what opens it (its first bytes, a
    /// gap found at a packet, or the listener's monologue for an empty one).
    fn open_at(&mut self, t_start: u64, t_end: u64) {
        if !self.opened {
            self.t_start = t_start;
            self.t_end = t_end;
        }
    }
}

/// The rest of the monologue part being gathered for one session.
#[derive(Default)]
struct Part {
    index: u64,
    offset: u64,
    part: u32,
    /// Gaps and copied bytes, which most parts have none of: allocated by the session's first
    /// part that has some (and kept for its next parts), so that a part without them reads
    /// one pointer, in the line its delivery reads anyway.
    extra: Option<Box<PartExtra>>,
}

/// What few parts have.
#[derive(Default)]
struct PartExtra {
    gaps: Vec<ApiGap>,
    /// Bytes of the part's [`OWNED`] chunks, one after another.
    owned: Vec<u8>,
}

impl Part {
    fn extra(&mut self) -> &mut PartExtra {
        self.extra.get_or_insert_with(Box::default)
    }
}

/// Everything but the per-segment state of a session. What a part's delivery reads (whether
/// the slot holds a session, its id, the entries it goes to, the part's numbering) is its
/// first cache line; the API view follows, read only by a plugin that looks at the session
/// (a call gets its address). An `Option` would keep its tag in the API view's address.
#[repr(C, align(64))]
struct SessionState {
    /// Entries whose filter matches and that have not released the session.
    slots: SlotSet,
    /// `session.id`, here in the first line.
    id: u64,
    part: Part,
    /// The table slot holds an open session (else the rest is left from the last one).
    open: bool,
    /// Lent to the calls in place (`Analysers` lives apart from the sessions), neither
    /// copied nor reference-counted per part.
    session: ApiSession,
}

/// The state of open sessions by the listener's table slot.
#[derive(Default)]
struct SessionTable(Vec<SessionState>);

impl SessionTable {
    fn get(&self, t: usize) -> Option<&SessionState> {
        self.0.get(t).filter(|s| s.open)
    }

    fn get_mut(&mut self, t: usize) -> Option<&mut SessionState> {
        self.0.get_mut(t).filter(|s| s.open)
    }

    /// Starts loading the first line of slot `t`, open or not (reading whether it is open
    /// would wait for the line).
    fn prefetch(&self, t: usize) {
        if let Some(state) = self.0.get(t) {
            prefetch(state);
        }
    }

    /// Slots the table has room for (the listener's peak of open sessions).
    fn len(&self) -> usize {
        self.0.len()
    }

    fn iter(&self) -> impl Iterator<Item = Option<&SessionState>> {
        self.0.iter().map(|s| s.open.then_some(s))
    }

    /// Opens `state` in slot `t`.
    fn open(&mut self, t: usize, state: SessionState) {
        if self.0.len() <= t {
            self.0.resize_with(t + 1, SessionState::closed);
        }
        if let Some(entry) = self.0.get_mut(t) {
            *entry = state;
        }
    }

    /// Slot `t` holds no session any more.
    fn close(&mut self, t: usize) {
        if let Some(entry) = self.0.get_mut(t) {
            *entry = SessionState::closed();
        }
    }
}

impl SessionState {
    /// What a slot holds before its first session and after each.
    fn closed() -> SessionState {
        SessionState {
            slots: SlotSet::default(),
            id: 0,
            part: Part::default(),
            open: false,
            session: ApiSession {
                id: 0,
                key: RString::new(),
                client: ApiEndpoint::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
                server: ApiEndpoint::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
                t_first: 0,
                handshake: ApiHandshake::NONE,
            },
        }
    }
}

/// A set of pipeline entries (slot numbers below [`SlotSet::MAX`]), iterated in pipeline order.
/// `Copy`, so a per-part loop over it costs nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SlotSet(u128);

impl SlotSet {
    /// Pipeline entries a run can hold.
    const MAX: usize = crate::pipeline::MAX_ENTRIES;

    fn insert(&mut self, slot: usize) {
        if slot < Self::MAX {
            self.0 |= 1 << slot;
        }
    }

    fn remove(&mut self, slot: usize) {
        if slot < Self::MAX {
            self.0 &= !(1 << slot);
        }
    }

    fn contains(self, slot: usize) -> bool {
        slot < Self::MAX && self.0 & (1 << slot) != 0
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The entries in both sets.
    fn and(self, other: SlotSet) -> SlotSet {
        SlotSet(self.0 & other.0)
    }

    /// Whether the sets share an entry.
    fn meets(self, other: SlotSet) -> bool {
        self.0 & other.0 != 0
    }

    fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let slot = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                slot
            })
        })
    }
}

/// The session a call is about: its id, its key (read only if the plugin writes or logs) and
/// its table slot (which the events the plugin emits about it carry in the queue).
#[derive(Clone, Copy)]
struct About<'a> {
    id: u64,
    key: &'a RString,
    t: usize,
}

/// The [`Host`] implementation handed to a plugin for one call.
struct HostImpl<'a> {
    label: &'a str,
    /// Print informational messages (off with `--quiet`).
    verbose: bool,
    /// The session the call is about.
    session: Option<About<'a>>,
    /// The instance called, out of how many, and the messages the entry's instances printed.
    instance: usize,
    instances: usize,
    warned: &'a mut Vec<(usize, String)>,
    sink: &'a mut dyn Sink,
    queue: &'a mut VecDeque<(Event, usize)>,
    artifacts: Option<&'a mut Artifacts>,
    released: bool,
    /// A record was written during the call.
    wrote: bool,
}

impl Host for HostImpl<'_> {
    fn emit_record(&mut self, record: Record) {
        let session = self.session.map(|a| SessionRef {
            id: a.id,
            key: a.key.as_str(),
        });
        self.sink.record(self.label, session, &record);
        self.wrote = true;
    }

    fn emit_event(&mut self, mut event: Event) {
        let mut t = NO_SLOT;
        if let Some(a) = self.session {
            event.session_id = a.id;
            event.session_key = a.key.clone();
            t = a.t;
        }
        event.source = self.label.into();
        self.queue.push_back((event, t));
    }

    fn log(&mut self, level: LogLevel, message: RStr<'_>) {
        let what = match level {
            LogLevel::WARN => "warning",
            LogLevel::INFO => "info",
            _ => "debug",
        };
        if level <= LogLevel::WARN || (level <= LogLevel::INFO && self.verbose) {
            // Several instances of an entry each say what they are set up with (`extract`
            // without an extraction directory, say): once is enough.
            if self.instances > 1 {
                let message = message.as_str();
                if self
                    .warned
                    .iter()
                    .any(|(i, m)| *i != self.instance && m == message)
                {
                    return;
                }
                if self.warned.len() < MAX_WARNED {
                    self.warned.push((self.instance, message.to_string()));
                }
            }
            eprintln!("netan: {what}: plugin `{}`: {message}", self.label);
        }
    }

    fn save_artifact(&mut self, name: RStr<'_>, data: RSlice<'_, u8>) -> RResult<RString, RString> {
        match &mut self.artifacts {
            None => RErr("extraction is not enabled (give netan run --extract-dir DIR)".into()),
            Some(store) => match store.save(
                self.label,
                self.session.map(|a| a.id),
                name.as_str(),
                data.as_slice(),
            ) {
                Ok(path) => ROk(path.to_string_lossy().into_owned().into()),
                Err(e) => RErr(e.into()),
            },
        }
    }

    fn release_session(&mut self) {
        self.released = self.session.is_some();
    }

    fn extraction_enabled(&self) -> bool {
        self.artifacts.is_some()
    }
}

/// Largest window (mapping one costs two system calls; windows from 2 to 8 MiB measured
/// alike on the benchmark capture).
const MAX_WINDOW: usize = 8 << 20;

/// A hint to start loading the cache line at `p` (it never faults and changes nothing, whatever
/// the address).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint to the cache: it reads nothing the program sees and
    // cannot fault, whatever the address; SSE is part of the x86_64 baseline.
    #[allow(unsafe_code)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The window size for a held-input budget of `max_buffered` bytes: a quarter of it (the
/// budget counts whole windows), a multiple of [`crate::source::WINDOW_ALIGN`], at most
/// [`MAX_WINDOW`].
fn window_size(max_buffered: usize) -> usize {
    let align = crate::source::WINDOW_ALIGN;
    (max_buffered / 4).clamp(align, MAX_WINDOW) / align * align
}

/// Drives the analysers of a pipeline.
pub struct Dispatcher<'s> {
    /// The analysers and what calling them needs.
    an: Analysers<'s>,
    /// Open sessions, indexed by the listener's table slot.
    sessions: SessionTable,
    /// What a segment touches of each open session, by the same index (default for a slot
    /// with no session: nothing gathered).
    hot: Vec<Hot>,
    /// The bytes of the frame being analysed (address range only, never read through) and
    /// their offset in the file.
    frame: (usize, usize, u64),
    /// The capture file being read: its number in the run, and a view to map windows of it
    /// from (`None` for gzip and pipes: windows in memory, kept bytes copied into them).
    file: (u64, Option<FileView>),
    /// Size of a window.
    window_size: usize,
    /// Data segments not gathered yet, in order. What gathering a segment reads first is its
    /// session's hot line, which is not in the cache with thousands of sessions in flight:
    /// staged, a segment's line is prefetched when it arrives and read a few segments later,
    /// so that these waits overlap each other and the listener's work instead of following
    /// one another. Only segments whose bytes are the frame's own and lie in the newest
    /// window, mapped, are staged: gathering them needs neither the bytes nor a new window
    /// (which could send parts early). Every other event gathers what is staged first, so
    /// plugins see the same calls in the same order as without the stage.
    stage: [Staged; STAGE],
    /// Segments staged.
    staged: usize,
    /// The file offsets the newest window covers, if it is a mapping of the current file
    /// (else empty): the segments that can be staged. Kept as the window is taken or the file
    /// changes ([`Self::newest_mapped_range`]), to check in one range test per segment.
    stage_range: (u64, u64),
    /// The window (number in the file, offset) the last chunk fell in: the input goes
    /// forward, so the next chunk mostly falls in it too, without a division.
    last_window: Option<(u64, u64)>,
    /// Windows pinned by pending parts, in the slots their chunks name, and oldest first
    /// (few: their memory stays within `max_monologue_buffer`).
    pinned: Pins,
    /// Windows in memory no part refers to any more, kept to be reused.
    spare: Vec<Window>,
    /// The capture the pinned windows hold up to the last byte a chunk referred to.
    held_bytes: usize,
    /// Pending parts that hold bytes, as (table slot, part `seq`), in the order
    /// they took their first bytes: the oldest first, to send early when the windows are
    /// full, and what `flush_all` visits instead of every open session. Entries of parts sent
    /// since (or of ended sessions) are skipped.
    holding: VecDeque<(usize, u32)>,
    /// `seq` of the next part listed.
    next_seq: u32,
    /// The slice list of the last part delivered, kept for its allocation.
    slices: Vec<RSlice<'static, u8>>,
    /// Bytes in owned chunks of pending parts.
    owned_bytes: usize,
    part_size: usize,
    max_buffered: usize,
    verbosity: u8,
    /// Entries that take monologues and have not failed: a session's parts are gathered while
    /// its `slots` meet these.
    takes_monologues: SlotSet,
    /// Counters.
    pub stats: DispatchStats,
}

/// The pipeline's analysers and what a call needs besides them, apart from the sessions'
/// state, so that a call can borrow a session's API view in place.
struct Analysers<'s> {
    slots: Vec<Slot>,
    /// Events plugins emitted, with the table slot of the session they are about (or
    /// [`NO_SLOT`]).
    queue: VecDeque<(Event, usize)>,
    sink: &'s mut dyn Sink,
    on_error: OnError,
    stop: bool,
    /// The output failed (stdout closed by `| head`, a full disk): noted after each call that
    /// wrote, so that the per-frame check is a flag, not a call into the sink.
    output_failed: bool,
    /// Where extracted content goes, if anywhere.
    artifacts: Option<Artifacts>,
    /// Suppress plugins' informational messages (`--quiet`).
    quiet: bool,
    /// Failures, in order.
    failures: Vec<Failure>,
}

/// What a call left for the dispatcher to do.
#[derive(Clone, Copy, Default)]
struct Outcome {
    /// The analyser released the session.
    released: bool,
    /// The analyser failed (it gets no more events).
    failed: bool,
}

/// The outcomes of a round of calls about one session, by entry.
#[derive(Clone, Copy, Default)]
struct Outcomes {
    released: SlotSet,
    failed: SlotSet,
}

impl Outcomes {
    fn add(&mut self, slot: usize, outcome: Outcome) {
        if outcome.released {
            self.released.insert(slot);
        }
        if outcome.failed {
            self.failed.insert(slot);
        }
    }

    fn of(&self, slot: usize) -> Outcome {
        Outcome {
            released: self.released.contains(slot),
            failed: self.failed.contains(slot),
        }
    }
}

impl Analysers<'_> {
    /// Calls `f` on the analyser instance of `slot` that handles `session` (its id and key,
    /// for records and messages; `None`: a call about no session, by the first instance),
    /// with a host handle; records a failure if it fails.
    fn call(
        &mut self,
        slot: usize,
        session: Option<About<'_>>,
        call: &'static str,
        f: impl FnOnce(&mut AnalyserBox, HostMut<'_>) -> RResult<(), PluginError>,
    ) -> Outcome {
        let Some(s) = self.slots.get_mut(slot) else {
            return Outcome::default();
        };
        if s.failed || self.stop {
            return Outcome::default();
        }
        let n = s.instances.len().max(1) as u64;
        let id = session.map_or(0, |a| a.id);
        // (Mostly one instance: no division.)
        let which = if n == 1 { 0 } else { (id % n) as usize };
        let Some(instance) = s.instances.get_mut(which) else {
            return Outcome::default();
        };
        let mut host = HostImpl {
            label: &s.label,
            verbose: !self.quiet,
            session,
            instance: which,
            instances: n as usize,
            warned: &mut s.warned,
            sink: &mut *self.sink,
            queue: &mut self.queue,
            artifacts: self.artifacts.as_mut(),
            released: false,
            wrote: false,
        };
        let result = f(instance, Host_TO::from_ptr(&mut host, TD_Opaque));
        let released = host.released;
        if host.wrote {
            self.output_failed = self.sink.failed();
        }
        let failed = result.is_err();
        if let Err(error) = result.into_result() {
            s.failed = true;
            let failure = Failure {
                label: s.label.clone(),
                call,
                session: session.map(|a| a.key.to_string()),
                error,
            };
            eprintln!(
                "netan: error: {failure}; it gets no more events{}",
                if self.on_error == OnError::Stop {
                    " and the run stops"
                } else {
                    ""
                }
            );
            self.failures.push(failure);
            if self.on_error == OnError::Stop {
                self.stop = true;
            }
        }
        Outcome { released, failed }
    }
}

/// Why a pipeline could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "{location}: plugin `{label}` {}: {error}",
    if error.kind == netan_plugin_api::ErrorKind::CONFIG {
        "rejects its configuration"
    } else {
        "could not be set up"
    }
)]
pub struct SetupError {
    /// Where the offending configuration is.
    pub location: String,
    /// The entry.
    pub label: String,
    /// The plugin's complaint.
    pub error: PluginError,
}

impl<'s> Dispatcher<'s> {
    /// Creates the analysers of `pipeline` (`instances` of each entry), writing to `sink`.
    pub fn new(
        pipeline: &Pipeline,
        instances: usize,
        sink: &'s mut dyn Sink,
    ) -> Result<Dispatcher<'s>, SetupError> {
        let mut slots = Vec::new();
        let mut takes_monologues = SlotSet::default();
        // The pipeline refuses more entries than a slot set holds (pipeline::MAX_ENTRIES).
        debug_assert!(pipeline.entries.len() <= SlotSet::MAX);
        for entry in &pipeline.entries {
            let mut made = Vec::new();
            for _ in 0..instances.max(1) {
                let created = (entry.plugin.module.new())(RStr::from_str(&entry.config));
                match created.into_result() {
                    Ok(a) => made.push(a),
                    Err(error) => {
                        return Err(SetupError {
                            location: entry.locate(error.key.as_str()),
                            label: entry.label.clone(),
                            error,
                        })
                    }
                }
            }
            let has = |e: &str| entry.events.iter().any(|x| x == e);
            if has(events::TCP_MONOLOGUE) {
                takes_monologues.insert(slots.len());
            }
            slots.push(Slot {
                label: entry.label.clone(),
                instances: made,
                filter: entry.filter.clone(),
                start: has(events::TCP_SESSION_START),
                end: has(events::TCP_SESSION_END),
                named: entry
                    .events
                    .iter()
                    .filter(|e| !events::TCP.contains(&e.as_str()))
                    .cloned()
                    .collect(),
                emits: entry
                    .plugin
                    .info
                    .emits
                    .iter()
                    .map(|e| e.to_string())
                    .collect(),
                failed: false,
                finished: false,
                received: 0,
                after_finish: 0,
                warned: Vec::new(),
            });
        }
        Ok(Dispatcher {
            takes_monologues,
            an: Analysers {
                slots,
                queue: VecDeque::new(),
                sink,
                on_error: pipeline.on_error,
                stop: false,
                output_failed: false,
                artifacts: pipeline
                    .extract_dir
                    .clone()
                    .map(|dir| Artifacts::new(dir, pipeline.extract_max_total)),
                quiet: false,
                failures: Vec::new(),
            },
            sessions: SessionTable::default(),
            hot: Vec::new(),
            frame: (0, 0, 0),
            file: (0, None),
            window_size: window_size(pipeline.max_monologue_buffer),
            last_window: None,
            stage: [Staged::NONE; STAGE],
            staged: 0,
            stage_range: (0, 0),
            pinned: Pins::default(),
            spare: Vec::new(),
            held_bytes: 0,
            slices: Vec::new(),
            holding: VecDeque::new(),
            next_seq: 0,
            owned_bytes: 0,
            // At most u32::MAX: chunk entries count a part's bytes in 32 bits.
            part_size: pipeline.monologue_part_size.clamp(1, u32::MAX as usize),
            max_buffered: pipeline.max_monologue_buffer,
            verbosity: pipeline.verbosity,
            stats: DispatchStats::default(),
        })
    }

    /// Suppresses plugins' informational messages (`--quiet`).
    pub fn set_quiet(&mut self, quiet: bool) {
        self.an.quiet = quiet;
    }

    /// Where extracted content went, if anywhere.
    pub fn artifacts(&self) -> Option<&Artifacts> {
        self.an.artifacts.as_ref()
    }

    /// The analysers' failures, in order.
    pub fn failures(&self) -> &[Failure] {
        &self.an.failures
    }

    /// Calls `f` for each entry of `slots` (in pipeline order) with the API view of the
    /// session in table slot `t` (id `id`), lent in place; settles releases and failures
    /// after the calls.
    fn call_each(
        &mut self,
        t: usize,
        id: u64,
        slots: SlotSet,
        call: &'static str,
        f: impl Fn(&mut AnalyserBox, HostMut<'_>, &ApiSession) -> RResult<(), PluginError>,
    ) {
        let mut outcomes = Outcomes::default();
        if let Some(state) = self.sessions.get(t) {
            let session = &state.session;
            for slot in slots.iter() {
                let key = Some(About {
                    id,
                    key: &session.key,
                    t,
                });
                let outcome = self.an.call(slot, key, call, |a, host| f(a, host, session));
                outcomes.add(slot, outcome);
            }
        }
        self.settle_all(slots, t, id, outcomes);
    }

    /// Settles the outcomes of a round of calls to `slots` about session `id` (in table slot
    /// `t`).
    fn settle_all(&mut self, slots: SlotSet, t: usize, id: u64, outcomes: Outcomes) {
        if outcomes.released.is_empty() && outcomes.failed.is_empty() {
            return;
        }
        for slot in slots.iter() {
            self.settle(slot, t, id, outcomes.of(slot));
        }
    }

    /// The entries of `slots` whose analysers take `wants` (session start or end).
    fn wanting(&self, slots: SlotSet, wants: impl Fn(&Slot) -> bool) -> SlotSet {
        let mut out = SlotSet::default();
        for slot in slots.iter() {
            if self.an.slots.get(slot).is_some_and(&wants) {
                out.insert(slot);
            }
        }
        out
    }

    /// Applies a call's outcome: the session released by the analyser, or the analyser
    /// failed (nothing more is gathered for it).
    fn settle(&mut self, slot: usize, t: usize, id: u64, outcome: Outcome) {
        if outcome.released {
            self.release(slot, t, id);
        }
        if outcome.failed && self.takes_monologues.contains(slot) {
            self.takes_monologues.remove(slot);
            let takes = self.takes_monologues;
            for (state, hot) in self.sessions.iter().zip(self.hot.iter_mut()) {
                if let Some(state) = state {
                    hot.gather = state.slots.meets(takes);
                }
            }
        }
    }

    /// Analyser `slot` wants no more events about session `id`, in table slot `t` (unless it
    /// has ended since: an event drained after its session).
    fn release(&mut self, slot: usize, t: usize, id: u64) {
        let takes = self.takes_monologues;
        let Some(state) = self.sessions.get_mut(t).filter(|s| s.id == id) else {
            return;
        };
        state.slots.remove(slot);
        let gather = state.slots.meets(takes);
        if let Some(hot) = self.hot.get_mut(t) {
            hot.gather = gather;
        }
        self.stats.released += 1;
    }

    /// Windows pending parts may pin: `max_monologue_buffer`, and at least one window.
    fn max_pinned(&self) -> usize {
        self.max_buffered.max(self.window_size)
    }

    /// Bytes copied into pending parts may reach a quarter of `max_monologue_buffer`.
    fn max_owned(&self) -> usize {
        self.max_buffered / 4
    }

    /// Drops the chunks of a part (delivered or abandoned): unpins their windows and frees
    /// their copied bytes. `chunks` is left empty, with its allocation.
    fn release_chunks(&mut self, chunks: &mut Vec<Entry>, extra: Option<&mut PartExtra>) {
        let mut copied = 0;
        for entry in chunks.iter() {
            if entry.window == OWNED {
                copied += 1;
            } else {
                self.unpin_chunk(entry.window);
            }
        }
        chunks.clear();
        if let Some(extra) = extra {
            self.owned_bytes = self
                .owned_bytes
                .saturating_sub(extra.owned.len() + copied * ENTRY_SIZE);
            // The bound counts copied bytes, not what their lists keep allocated: a session
            // keeps a small list for its next parts, not a large one (with thousands of
            // sessions holding out-of-order data now and then, kept lists added up to more
            // than the bound).
            if extra.owned.capacity() > KEEP_OWNED {
                extra.owned = Vec::new();
            } else {
                extra.owned.clear();
            }
            extra.gaps.clear();
        }
    }

    /// A chunk of the window in slot `window` is gone. A window no chunk refers to any more
    /// goes, but for the newest, which the input is likely still in: it stays (mapped) until a
    /// newer window is taken, so that small parts do not map and unmap it over and over.
    fn unpin_chunk(&mut self, window: u32) {
        let newest = self.pinned.newest_slot();
        if let Some(p) = self.pinned.get_mut(window) {
            p.chunks = p.chunks.saturating_sub(1);
            if p.chunks == 0 && Some(window) != newest {
                if let Some(gone) = self.pinned.remove(window) {
                    self.unpin(gone);
                }
            }
        }
    }

    /// The bytes of a chunk, found in the pinned windows or among the part's copied bytes.
    fn chunk_bytes<'a>(entry: &Entry, pinned: &'a Pins, owned: &'a [u8]) -> &'a [u8] {
        let (start, len) = (entry.start as usize, entry.len as usize);
        let bytes = if entry.window == OWNED {
            owned.get(start..start + len)
        } else {
            pinned
                .get(entry.window)
                .and_then(|p| p.bytes.get(start..start + len))
        };
        // A chunk always finds its bytes (its window is pinned while it exists): a slot let go
        // too early would be taken by another window, whose bytes a chunk would then read.
        debug_assert!(bytes.is_some(), "chunk bytes not found");
        debug_assert!(
            entry.window == OWNED
                || pinned
                    .get(entry.window)
                    .is_some_and(|p| p.chunks > 0 && start + len <= p.used),
            "a chunk's window was let go"
        );
        bytes.unwrap_or(&[])
    }

    /// A window no part refers to any more: a mapping goes, memory is kept for reuse.
    fn unpin(&mut self, gone: Pinned) {
        self.held_bytes -= gone.used;
        let mut bytes = gone.bytes;
        if bytes.heap_mut().is_some()
            && bytes.len() == self.window_size
            && self.spare.len() * self.window_size < self.max_pinned()
        {
            self.spare.push(bytes);
        }
    }

    /// The window holding bytes at `index * window_size` of the current file, pinned for one
    /// more chunk (taken first if no pending part refers to it; making room first if the
    /// windows pinned reach `max_monologue_buffer`). Returns its slot.
    fn pin(&mut self, index: u64) -> u32 {
        let file = self.file.0;
        if let Some(p) = self
            .pinned
            .newest_mut()
            .filter(|p| p.file == file && p.index == index)
        {
            p.chunks += 1;
            return p.window;
        }
        // The newest window, kept with no chunk, is left behind.
        self.unpin_empty_newest();
        if self.pinned.len() * self.window_size >= self.max_pinned() {
            self.make_room();
            // Parts sent early may have held the newest window's last chunks: it goes too (no
            // chunk would unpin it once it is not the newest, and the windows would pile up
            // behind it).
            self.unpin_empty_newest();
        }
        let size = self.window_size;
        // A mapping of the file, else memory (also when the mapping fails: the bytes are then
        // copied, which changes nothing but the cost).
        let bytes = self
            .file
            .1
            .as_ref()
            .and_then(|view| view.map(index * size as u64, size).ok())
            .or_else(|| self.spare.pop())
            .unwrap_or_else(|| Window::heap(size));
        let window = self.pinned.add(|window| Pinned {
            window,
            file,
            index,
            bytes,
            chunks: 1,
            used: 0,
        });
        self.stage_range = self.newest_mapped_range();
        window
    }

    /// Lets the newest window go if no chunk refers to it.
    fn unpin_empty_newest(&mut self) {
        if let Some(slot) = self
            .pinned
            .newest()
            .filter(|p| p.chunks == 0)
            .map(|p| p.window)
        {
            if let Some(gone) = self.pinned.remove(slot) {
                self.unpin(gone);
            }
        }
    }

    /// The file offsets the newest window covers if it is a mapping of the current file,
    /// else none (what [`Self::stage_range`] keeps, to check in one range test).
    fn newest_mapped_range(&self) -> (u64, u64) {
        match self.pinned.newest() {
            Some(p) if p.file == self.file.0 && p.bytes.is_mapped() => {
                let base = p.index * self.window_size as u64;
                (base, base + self.window_size as u64)
            }
            _ => (0, 0),
        }
    }

    /// Lists the pending part of the session in table slot `t` (once: its `listed` flag,
    /// cleared when the part goes) in `holding`. Entries of parts gone are dropped when the
    /// list grows past twice the session table (its peak of open sessions), so the list stays
    /// bounded.
    fn hold(&mut self, t: usize) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let Some(hot) = self.hot.get_mut(t) else {
            return;
        };
        hot.listed = true;
        hot.seq = seq;
        self.holding.push_back((t, seq));
        if self.holding.len() > 2 * self.sessions.len() + 1024 {
            let mut holding = std::mem::take(&mut self.holding);
            holding.retain(|&(t, seq)| self.is_listed(t, seq));
            self.holding = holding;
        }
    }

    /// Whether `holding`'s entry (`t`, `seq`) is still the pending part of the session in
    /// table slot `t`.
    fn is_listed(&self, t: usize, seq: u32) -> bool {
        self.hot.get(t).is_some_and(|h| h.listed && h.seq == seq)
    }

    /// Unlists `holding`'s entry (`t`, `seq`) if it is still a pending part; returns whether
    /// that part has bytes to send.
    fn unlist(&mut self, t: usize, seq: u32) -> bool {
        match self.hot.get_mut(t) {
            Some(hot) if hot.listed && hot.seq == seq => {
                hot.listed = false;
                hot.len > 0
            }
            _ => false,
        }
    }

    /// The file offset of `data` if it is the frame's own bytes.
    fn frame_offset(&self, data: &[u8]) -> Option<u64> {
        let (frame_at, frame_len, frame_offset) = self.frame;
        let at = data.as_ptr() as usize;
        (at >= frame_at && at + data.len() <= frame_at + frame_len)
            .then(|| frame_offset + (at - frame_at) as u64)
    }

    /// Whether the frame's own bytes at file offset `offset` (`len` of them) can be staged:
    /// they lie within the newest window of this file, mapped.
    fn stageable(&self, offset: u64, len: usize) -> bool {
        debug_assert_eq!(self.stage_range, self.newest_mapped_range());
        let (lo, hi) = self.stage_range;
        offset >= lo && offset + len as u64 <= hi
    }

    /// A data segment that cannot be staged (bytes not the frame's own, at file offset
    /// `offset` if they are, or not in the newest window): gathered now, after what is staged.
    #[inline(never)]
    fn data_unstaged(
        &mut self,
        t: usize,
        direction: Direction,
        data: &[u8],
        offset: Option<u64>,
        ts: u64,
        packet: u64,
    ) {
        self.gather_staged();
        self.gather(t, direction, Some(data), offset, data.len(), ts, packet);
    }

    /// Gathers the staged segments, in order: first their sessions' hot lines are read (they
    /// were prefetched when the segments arrived) to prefetch where each chunk list grows.
    fn gather_staged(&mut self) {
        let n = self.staged;
        if n == 0 {
            return;
        }
        self.staged = 0;
        for x in self.stage.get(..n).unwrap_or_default() {
            if let Some(hot) = self.hot.get(x.t).filter(|h| h.gather) {
                prefetch(hot.chunks.as_ptr().wrapping_add(hot.chunks.len()));
            }
        }
        // Most segments fit in their part (no part is cut): one chunk each, in the newest
        // window, which is pinned already. Its count of chunks and the part of it in use are
        // updated once for the run of such segments.
        let part_size = self.part_size as u64;
        let base = self.stage_range.0;
        let mut run = Run::default();
        for i in 0..n {
            let Some(&x) = self.stage.get(i) else {
                break;
            };
            if let Some(window) = self.pinned.newest_slot() {
                let fits = |h: &&mut Hot| h.gather && h.len + u64::from(x.len) < part_size;
                if let Some(hot) = self.hot.get_mut(x.t).filter(fits).filter(|_| x.len > 0) {
                    let start = (x.offset - base) as usize;
                    let entry = Entry::new(window, start, x.len, x.packet);
                    hot.push(entry, x.direction, x.ts);
                    run.chunks += 1;
                    run.used = run.used.max(start + x.len as usize);
                    if !hot.listed {
                        self.hold(x.t);
                    }
                    continue;
                }
            }
            self.end_staged_run(&mut run);
            self.gather(
                x.t,
                x.direction,
                None,
                Some(x.offset),
                x.len as usize,
                x.ts,
                x.packet,
            );
        }
        self.end_staged_run(&mut run);
    }

    /// Counts a run of staged chunks in the newest window, which they all lie in.
    fn end_staged_run(&mut self, run: &mut Run) {
        if run.chunks > 0 {
            if let Some(p) = self.pinned.newest_mut() {
                p.chunks += run.chunks;
            }
            self.note_used(run.used);
        }
        *run = Run::default();
    }

    /// The newest window is in use up to `end`: the capture held counts it.
    fn note_used(&mut self, end: usize) {
        if let Some(p) = self.pinned.newest_mut() {
            if end > p.used {
                self.held_bytes += end - p.used;
                p.used = end;
                self.stats.peak_pinned_bytes =
                    self.stats.peak_pinned_bytes.max(self.held_bytes as u64);
            }
        }
    }

    /// Adds a chunk to the part of the session in table slot `t` (listing the part if it
    /// is its first). Returns whether the part is full.
    fn add_chunk(&mut self, t: usize, entry: Entry, direction: Direction, ts: u64) -> bool {
        let part_size = self.part_size as u64;
        let Some(hot) = self.hot.get_mut(t) else {
            return false;
        };
        let full = hot.push(entry, direction, ts) >= part_size;
        if !hot.listed {
            self.hold(t);
        }
        full
    }

    /// Adds `len` bytes of a data segment to the part of the session in table slot `t`: at
    /// file offset `offset` if they are the frame's own (referred to in the window there; a
    /// window in memory needs `data`, the bytes, to be copied into), else copied from `data`.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &mut self,
        t: usize,
        direction: Direction,
        data: Option<&[u8]>,
        offset: Option<u64>,
        len: usize,
        ts: u64,
        packet: u64,
    ) {
        let part_size = self.part_size;
        let window_size = self.window_size;
        let mut done = 0;
        while done < len {
            let room = match self.hot.get(t) {
                Some(hot) if hot.gather => {
                    // At most u32::MAX bytes per chunk (the log's lengths).
                    (part_size as u64)
                        .saturating_sub(hot.len)
                        .clamp(1, u32::MAX as u64) as usize
                }
                _ => return,
            };
            // The frame's own bytes are at a known place in the file: referred to in the
            // window there (a chunk ends at the window's end), not copied into the part.
            let place = offset.map(|offset| {
                let offset = offset + done as u64;
                let (index, base) = match self.last_window {
                    Some((index, base)) if offset >= base && offset - base < window_size as u64 => {
                        (index, base)
                    }
                    _ => {
                        let index = offset / window_size as u64;
                        let base = index * window_size as u64;
                        self.last_window = Some((index, base));
                        (index, base)
                    }
                };
                (index, (offset - base) as usize)
            });
            let take = match place {
                Some((_, start)) => room.min(window_size - start),
                None => room,
            }
            .min(len - done);
            let now = data.and_then(|d| d.get(done..done + take));
            done += take;
            let chunk_len = take as u32;
            let entry = match place {
                Some((index, start)) => {
                    let window = self.pin(index);
                    if let Some(p) = self.pinned.newest_mut() {
                        // A window in memory (gzip, a pipe): the bytes go to their place in it.
                        if let Some((dst, now)) = p
                            .bytes
                            .heap_mut()
                            .and_then(|b| b.get_mut(start..start + take))
                            .zip(now)
                        {
                            dst.copy_from_slice(now);
                        }
                    }
                    self.note_used(start + take);
                    Entry::new(window, start, chunk_len, packet)
                }
                None => {
                    let Some(owned) = self.sessions.get_mut(t).map(|s| &mut s.part.extra().owned)
                    else {
                        return;
                    };
                    // Below u32::MAX: the part's bytes are (`part_size` is at most that).
                    let at = owned.len();
                    owned.extend_from_slice(now.unwrap_or_default());
                    self.owned_bytes += take + ENTRY_SIZE;
                    Entry::new(OWNED, at, chunk_len, packet)
                }
            };
            if self.add_chunk(t, entry, direction, ts) {
                self.flush_part(t, true);
            }
        }
        if self.owned_bytes > self.max_owned() {
            self.flush_all();
        }
    }

    /// Sends early the pending parts that refer to the oldest window, oldest part first, until
    /// no part refers to it: run when the windows pinned reach `max_monologue_buffer` and one
    /// more is needed. Parts that started later keep gathering, so parts sent early span
    /// about the whole budget of input rather than half of it on average.
    fn make_room(&mut self) {
        let Some(oldest) = self.pinned.oldest().map(|p| p.window) else {
            return;
        };
        while self
            .pinned
            .oldest()
            .is_some_and(|p| p.window == oldest && p.chunks > 0)
        {
            self.prefetch_held();
            let Some((t, seq)) = self.holding.pop_front() else {
                break;
            };
            if self.unlist(t, seq) && self.flush_part(t, true) {
                self.stats.early_parts += 1;
            }
        }
    }

    /// Starts loading what sending the parts a few entries down `holding` will read: their
    /// hot line and cold state [`PREFETCH_AHEAD`] entries ahead, and half as far ahead (the
    /// hot line loaded by then), their chunk list. Early parts go by the hundred at a time and
    /// each would otherwise wait for these, one after the other.
    fn prefetch_held(&self) {
        if let Some(&(t, _)) = self.holding.get(PREFETCH_AHEAD) {
            if let Some(hot) = self.hot.get(t) {
                prefetch(hot);
            }
            self.sessions.prefetch(t);
        }
        if let Some(&(t, _)) = self.holding.get(PREFETCH_AHEAD / 2) {
            if let Some(first) = self.hot.get(t).and_then(|h| h.chunks.first()) {
                prefetch(first);
            }
        }
    }

    /// Sends every pending part early (all continue), releasing every pinned window: run when
    /// the bytes copied into pending parts reach their bound.
    fn flush_all(&mut self) {
        while !self.holding.is_empty() {
            self.prefetch_held();
            let Some((t, seq)) = self.holding.pop_front() else {
                break;
            };
            if self.unlist(t, seq) && self.flush_part(t, true) {
                self.stats.early_parts += 1;
            }
        }
    }

    /// Delivers queued named events until the queue is empty.
    #[inline]
    fn drain(&mut self) {
        if !self.an.queue.is_empty() {
            self.drain_queue();
        }
    }

    #[inline(never)]
    fn drain_queue(&mut self) {
        let mut handled = 0;
        while let Some((event, t)) = self.an.queue.pop_front() {
            handled += 1;
            if handled > MAX_EVENTS_PER_DRAIN {
                self.stats.events_dropped += 1 + self.an.queue.len() as u64;
                self.an.queue.clear();
                eprintln!("netan: warning: plugins emitted more than {MAX_EVENTS_PER_DRAIN} events in a row; the rest were dropped");
                break;
            }
            let session = (event.session_id != u64::MAX).then_some(event.session_id);
            for slot in 0..self.an.slots.len() {
                let consumes = self
                    .an
                    .slots
                    .get(slot)
                    .is_some_and(|s| s.named.iter().any(|n| n.as_str() == event.name.as_str()));
                if !consumes {
                    continue;
                }
                // A consumer that has finished gets nothing more (its `finish` was its last
                // call): only a cycle of plugins emitting to each other in `finish` gets here
                // (see `finish_order`).
                if let Some(s) = self.an.slots.get_mut(slot).filter(|s| s.finished) {
                    self.stats.events_dropped += 1;
                    s.after_finish += 1;
                    if s.after_finish == 1 {
                        eprintln!(
                            "netan: warning: plugin `{}` had finished when `{}` was emitted to it (from a `finish` that came after its own: plugins that emit to each other, or to themselves, in `finish`): it was not delivered",
                            s.label, event.name
                        );
                    }
                    continue;
                }
                if let Some(id) = session {
                    // Events about a session reach consumers whose filter matches it.
                    let state = self.sessions.get(t).filter(|s| s.id == id);
                    if let Some(state) = state {
                        if !state.slots.contains(slot) {
                            continue;
                        }
                    }
                }
                self.stats.events += 1;
                if let Some(s) = self.an.slots.get_mut(slot) {
                    s.received += 1;
                }
                let id = session.unwrap_or(0);
                let ctx = session.map(|id| About {
                    id,
                    key: &event.session_key,
                    t,
                });
                let outcome = self
                    .an
                    .call(slot, ctx, "event", |a, host| a.event(host, &event));
                self.settle(slot, t, id, outcome);
            }
        }
    }

    /// Sends the part gathered for the session in table slot `t` to the analysers that want
    /// monologues; `more` when the monologue goes on. Returns whether any analyser got it (a
    /// part of a session every analyser released goes to nobody and is not counted).
    fn flush_part(&mut self, t: usize, more: bool) -> bool {
        let (Some(state), Some(hot)) = (self.sessions.get_mut(t), self.hot.get_mut(t)) else {
            return false;
        };
        let Some(direction) = hot.direction else {
            return false;
        };
        let (len, t_start, t_end, has_extra) = (hot.len, hot.t_start, hot.t_end, hot.extra);
        let mut chunks = std::mem::take(&mut hot.chunks);
        // The session's next part starts now (no plugin call touches it; a release in the
        // calls below clears `gather` in the new one). The chunk list's allocation goes back
        // to it once the part is delivered.
        *hot = Hot {
            gather: hot.gather,
            direction: if more { Some(direction) } else { None },
            ..Hot::default()
        };
        // Gaps and copied bytes are taken out for the calls (they are released after them),
        // and read only for a part that has some: sessions keep theirs once allocated.
        let mut kept = state.part.extra.take();
        let part = Part {
            extra: None,
            ..state.part
        };
        state.part = if more {
            Part {
                part: part.part + 1,
                offset: part.offset + len,
                ..part
            }
        } else {
            Part {
                index: part.index + 1,
                ..Part::default()
            }
        };
        let (id, slots) = (state.id, state.slots);
        // The session's API view and the pinned windows are lent to the calls in place (no
        // plugin callback touches the dispatcher's state), and the list of slices reuses the
        // last part's allocation. Releases and failures are settled after the calls.
        let takers = slots.and(self.takes_monologues);
        let delivered = !takers.is_empty();
        let mut outcomes = Outcomes::default();
        if delivered {
            let packets = count_packets(&chunks);
            let session = &state.session;
            let (owned, gaps) = match kept.as_deref().filter(|_| has_extra) {
                Some(x) => (x.owned.as_slice(), x.gaps.as_slice()),
                None => (&[][..], &[][..]),
            };
            let mut slices: Vec<RSlice<'_, u8>> = std::mem::take(&mut self.slices);
            slices.extend(
                chunks
                    .iter()
                    .map(|e| RSlice::from_slice(Self::chunk_bytes(e, &self.pinned, owned))),
            );
            let event = ApiMonologue {
                session,
                direction,
                index: part.index,
                part: part.part,
                more,
                offset: part.offset,
                chunks: slices.as_slice().into(),
                len,
                gaps: gaps.into(),
                t_start,
                t_end,
                packets,
            };
            self.stats.parts += 1;
            for slot in takers.iter() {
                let outcome = self.an.call(
                    slot,
                    Some(About {
                        id,
                        key: &session.key,
                        t,
                    }),
                    events::TCP_MONOLOGUE,
                    |a, host| a.tcp_monologue(host, &event),
                );
                outcomes.add(slot, outcome);
            }
            slices.clear();
            // Empty, so this only changes the element lifetime; collecting in place keeps
            // the allocation.
            self.slices = slices
                .into_iter()
                .map(|_| RSlice::from_slice(&[]))
                .collect();
        }
        self.settle_all(takers, t, id, outcomes);
        self.release_chunks(&mut chunks, kept.as_deref_mut().filter(|_| has_extra));
        if let Some(h) = self.hot.get_mut(t) {
            h.chunks = chunks;
        }
        if let Some(x) = kept {
            // The copied bytes' list is kept (empty) for the session's next part.
            if let Some(state) = self.sessions.get_mut(t) {
                state.part.extra = Some(x);
            }
        }
        self.drain();
        delivered
    }

    /// Ends the run: the partial-state protocol, then `finish` on every analyser, in order.
    /// Not after a failure that stops the run, nor once the output failed (`| head`, a full
    /// disk): the analysers' final records would go nowhere.
    pub fn finish(&mut self) {
        if self.stop_requested() {
            return;
        }
        self.gather_staged();
        for slot in finish_order(&self.an.slots) {
            let Some(s) = self.an.slots.get_mut(slot) else {
                continue;
            };
            // Events reach no entry after this point (whatever happens below): they are only
            // delivered by the drain after its `finish`, which counts and warns about them.
            s.finished = true;
            if s.failed || self.an.stop {
                continue;
            }
            // Fold the other instances' partial state into the first.
            let mut failure = None;
            let (first, rest) = s.instances.split_at_mut(1);
            if let Some(first) = first.first_mut() {
                for other in rest {
                    let partial =
                        other
                            .partial()
                            .into_result()
                            .and_then(|p| match p.into_option() {
                                Some(text) => {
                                    first.merge(RStr::from_str(text.as_str())).into_result()
                                }
                                None => Ok(()),
                            });
                    if let Err(error) = partial {
                        failure = Some(error);
                        break;
                    }
                }
            }
            if let Some(error) = failure {
                s.failed = true;
                let f = Failure {
                    label: s.label.clone(),
                    call: "partial/merge",
                    session: None,
                    error,
                };
                eprintln!("netan: error: {f}");
                self.an.failures.push(f);
                continue;
            }
            let outcome = self.an.call(slot, None, "finish", |a, host| a.finish(host));
            self.settle(slot, NO_SLOT, 0, outcome);
            self.drain();
        }
    }

    /// Entries that consume named events and received none in the whole run, with those
    /// events: worth a note, since the emitter may be configured not to emit them
    /// (`transactions = false` of `http`) or run on other traffic.
    pub fn starved(&self) -> Vec<(String, Vec<String>)> {
        self.an
            .slots
            .iter()
            .filter(|s| !s.named.is_empty() && s.received == 0 && !s.failed)
            .map(|s| (s.label.clone(), s.named.clone()))
            .collect()
    }

    /// Whether the run must stop (an analyser failed and the pipeline says stop).
    pub fn stopped(&self) -> bool {
        self.an.stop
    }

    fn trace_session(&self, what: &str, s: &SessionInfo, ts: u64) {
        if self.verbosity & 0x04 != 0 {
            let _ = writeln!(
                std::io::stderr(),
                "  ====[{}] tcp session {what} [{} -> {}]",
                clock(ts),
                s.client,
                s.server
            );
        }
    }
}

/// The order in which entries finish: pipeline order, except that an entry finishes only
/// after every other entry that emits an event it consumes (so that what emitters send from
/// `finish` still reaches their consumers). When every entry left waits on another, they
/// wait in cycles: the first entry whose prerequisites all wait on it in turn (a member of
/// a cycle nothing outside it feeds) goes next, so an entry downstream of a cycle still
/// finishes after it.
fn finish_order(slots: &[Slot]) -> Vec<usize> {
    let feeds = |j: usize, i: usize| {
        j != i
            && slots.get(i).is_some_and(|s| {
                slots
                    .get(j)
                    .is_some_and(|e| e.emits.iter().any(|ev| s.named.contains(ev)))
            })
    };
    let mut left: Vec<usize> = (0..slots.len()).collect();
    let mut order = Vec::with_capacity(slots.len());
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|&i| !left.iter().any(|&j| feeds(j, i)))
            .or_else(|| {
                // Whether `from` reaches `to` through entries still left.
                let reaches = |from: usize, to: usize| {
                    let mut seen = vec![from];
                    let mut next = vec![from];
                    while let Some(a) = next.pop() {
                        for &b in &left {
                            if feeds(a, b) && !seen.contains(&b) {
                                if b == to {
                                    return true;
                                }
                                seen.push(b);
                                next.push(b);
                            }
                        }
                    }
                    false
                };
                left.iter().position(|&i| {
                    left.iter()
                        .filter(|&&j| feeds(j, i))
                        .all(|&j| reaches(i, j))
                })
            })
            .unwrap_or(0);
        order.push(left.remove(ready));
    }
    order
}

/// The packets a part's chunks came from, counted as the listener counts a monologue's: each
/// once, however many of its chunks the part holds (the last four packets are remembered).
fn count_packets(chunks: &[Entry]) -> u64 {
    // Mostly each packet's chunks are consecutive (split at a window's end) and packets go
    // up, by less than 2^30 from one to the next (frame numbers are kept modulo 2^32): then
    // none of the last four can come again, and the count is the number of changes.
    let mut last: Option<u32> = None;
    let mut changes = 0;
    let rising = chunks.iter().all(|e| {
        let step = last.map_or(1, |p| e.packet.wrapping_sub(p));
        last = Some(e.packet);
        changes += u64::from(step != 0);
        step < 1 << 30
    });
    if rising {
        return changes;
    }
    let mut recent = crate::tcp::RecentPackets::default();
    let mut last = None;
    chunks
        .iter()
        // The same packet as the last chunk's is not looked up again.
        .filter(|e| {
            last.replace(e.packet) != Some(e.packet) && recent.first_time(u64::from(e.packet))
        })
        .count() as u64
}

/// `HH:MM:SS.uuuuuu` (UTC) of a capture time, as the original's traces.
fn clock(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        day / 3600,
        day % 3600 / 60,
        day % 60,
        ns % 1_000_000_000 / 1000
    )
}

fn api_session(s: &SessionInfo) -> ApiSession {
    ApiSession {
        id: s.ordinal,
        key: RString::from(s.key.as_str()),
        client: ApiEndpoint::new(s.client.ip, s.client.port),
        server: ApiEndpoint::new(s.server.ip, s.server.port),
        t_first: s.t_first,
        handshake: match s.handshake {
            Handshake::Complete => ApiHandshake::COMPLETE,
            Handshake::Partial => ApiHandshake::PARTIAL,
            Handshake::None => ApiHandshake::NONE,
        },
    }
}

fn api_reason(r: EndReason) -> ApiEndReason {
    match r {
        EndReason::Fin => ApiEndReason::FIN,
        EndReason::Rst => ApiEndReason::RST,
        EndReason::Timeout => ApiEndReason::TIMEOUT,
        EndReason::Eof => ApiEndReason::EOF,
        EndReason::Reused => ApiEndReason::REUSED,
        EndReason::Evicted => ApiEndReason::EVICTED,
    }
}

impl TcpObserver for Dispatcher<'_> {
    fn session_start(&mut self, s: &SessionInfo, ts: u64) {
        self.gather_staged();
        let mut slots = SlotSet::default();
        for (i, slot) in self.an.slots.iter().enumerate() {
            // A failed analyser gets nothing more: new sessions gather nothing for it.
            if !slot.failed
                && slot
                    .filter
                    .matches((s.client.ip, s.client.port), (s.server.ip, s.server.port))
            {
                slots.insert(i);
            }
        }
        if slots.is_empty() && self.verbosity == 0 {
            return;
        }
        self.trace_session("start", s, ts);
        let state = SessionState {
            id: s.ordinal,
            session: api_session(s),
            slots,
            part: Part::default(),
            open: true,
        };
        self.sessions.open(s.slot, state);
        if self.hot.len() <= s.slot {
            self.hot.resize_with(s.slot + 1, Hot::default);
        }
        if let Some(hot) = self.hot.get_mut(s.slot) {
            // A new session in the slot: the last one's chunk list (empty) is kept.
            *hot = Hot {
                chunks: std::mem::take(&mut hot.chunks),
                gather: slots.meets(self.takes_monologues),
                ..Hot::default()
            };
        }
        let starts = self.wanting(slots, |x| x.start);
        self.call_each(
            s.slot,
            s.ordinal,
            starts,
            events::TCP_SESSION_START,
            |a, host, session| a.tcp_session_start(host, &ApiSessionStart { session, ts }),
        );
        self.drain();
    }

    fn keeps_input(&self) -> bool {
        !self.takes_monologues.is_empty()
    }

    fn input_file(&mut self, view: Option<FileView>) {
        self.gather_staged();
        // Windows of the last file still pinned keep their own mapping or memory.
        self.file = (self.file.0 + 1, view);
        self.frame = (0, 0, 0);
        // The newest window is of the last file: nothing can be staged until one of this
        // file is taken.
        self.stage_range = self.newest_mapped_range();
    }

    fn input_frame(&mut self, data: &[u8], offset: u64) {
        self.frame = (data.as_ptr() as usize, data.len(), offset);
    }

    fn input_end(&mut self) {
        self.gather_staged();
        self.frame = (0, 0, 0);
    }

    #[inline]
    fn data(&mut self, s: &SessionInfo, direction: Direction, data: &[u8], ts: u64, packet: u64) {
        // No analyser takes monologues (any more): no session gathers anything.
        if self.takes_monologues.is_empty() {
            return;
        }
        let t = s.slot;
        let offset = self.frame_offset(data);
        if let Some(offset) = offset.filter(|&o| self.stageable(o, data.len())) {
            if let Some(hot) = self.hot.get(t) {
                prefetch(hot);
            }
            if let Some(x) = self.stage.get_mut(self.staged) {
                // Within a window: the length fits in 32 bits.
                *x = Staged {
                    t,
                    offset,
                    len: data.len() as u32,
                    direction,
                    ts,
                    packet,
                };
                self.staged += 1;
                if self.staged == STAGE {
                    self.gather_staged();
                }
                return;
            }
        }
        self.data_unstaged(t, direction, data, offset, ts, packet);
    }

    fn gap(&mut self, s: &SessionInfo, direction: Direction, len: u64, ts: u64) {
        self.gather_staged();
        let Some(hot) = self.hot.get_mut(s.slot).filter(|h| h.gather) else {
            return;
        };
        if hot.direction.is_none() {
            hot.direction = Some(direction);
        }
        // A part that opens with a gap starts when the gap was found, as the listener's
        // monologue does (not at time 0).
        hot.open_at(ts, ts);
        hot.opened = true;
        hot.extra = true;
        let offset = hot.len;
        let mut full = false;
        if let Some(state) = self.sessions.get_mut(s.slot) {
            let gaps = &mut state.part.extra().gaps;
            gaps.push(ApiGap { offset, len });
            full = gaps.len() >= crate::tcp::MAX_LISTED_GAPS;
        }
        // A part's gap list is bounded as the listener's is: a part with that many goes now,
        // to be continued (its bytes were bounded by the part size already).
        if full {
            self.flush_part(s.slot, true);
        }
    }

    fn monologue_end(&mut self, s: &SessionInfo, m: &Monologue) {
        self.gather_staged();
        if self.verbosity & 0x02 != 0 {
            let (from, _) = s.endpoints(m.direction);
            let _ = writeln!(
                std::io::stderr(),
                "    ==[{}] [Mono from {:>21}]{:10.6}s, {:3}pkts, {:6}b",
                clock(m.t_end),
                from.to_string(),
                (m.t_end.saturating_sub(m.t_start)) as f64 / 1e9,
                m.packets,
                m.bytes
            );
        }
        let Some(hot) = self.hot.get_mut(s.slot).filter(|h| h.gather) else {
            return;
        };
        hot.direction = Some(m.direction);
        hot.open_at(m.t_start, m.t_end);
        if let Some(state) = self.sessions.get_mut(s.slot) {
            state.part.index = m.index;
        }
        // flush_part leaves the session's next monologue ready, with its buffer.
        self.flush_part(s.slot, false);
    }

    fn session_end(&mut self, s: &SessionInfo, end: &SessionEnd) {
        self.gather_staged();
        self.trace_session("end", s, end.t_end);
        let Some(state) = self.sessions.get_mut(s.slot) else {
            return;
        };
        // A part still pending (bytes after the last monologue ended) is dropped.
        let mut extra = state.part.extra.take();
        let slots = state.slots;
        let mut chunks = self
            .hot
            .get_mut(s.slot)
            .map(|h| std::mem::take(&mut h.chunks))
            .unwrap_or_default();
        self.release_chunks(&mut chunks, extra.as_deref_mut());
        if let Some(hot) = self.hot.get_mut(s.slot) {
            // Kept for the slot's next session, unless a long part made it large.
            if chunks.capacity() <= KEEP_CHUNKS {
                hot.chunks = chunks;
            }
        }
        let [c2s, s2c] = &end.streams;
        let ends = self.wanting(slots, |x| x.end);
        self.call_each(
            s.slot,
            s.ordinal,
            ends,
            events::TCP_SESSION_END,
            |a, host, session| {
                let event = ApiSessionEnd {
                    session,
                    reason: api_reason(end.reason),
                    t_end: end.t_end,
                    packets: s.packets,
                    bytes_c2s: c2s.bytes,
                    bytes_s2c: s2c.bytes,
                    gaps: c2s.gaps + s2c.gaps,
                    monologues: end.monologues,
                };
                a.tcp_session_end(host, &event)
            },
        );
        // Events about this session emitted just now still see its filter matches.
        self.drain();
        self.sessions.close(s.slot);
        if let Some(hot) = self.hot.get_mut(s.slot) {
            *hot = Hot {
                chunks: std::mem::take(&mut hot.chunks),
                ..Hot::default()
            };
        }
    }

    fn stop_requested(&self) -> bool {
        // A failed output (stdout closed by `| head`, a full disk) ends the run too: nothing
        // more could be written.
        self.an.stop || self.an.output_failed
    }
}

#[cfg(test)]
mod tests {
    use super::{finish_order, Slot};

    fn slot(consumes: &[&str], emits: &[&str]) -> Slot {
        Slot {
            label: String::new(),
            instances: Vec::new(),
            filter: crate::pipeline::Filter::default(),
            start: false,
            end: false,
            named: consumes.iter().map(|s| s.to_string()).collect(),
            emits: emits.iter().map(|s| s.to_string()).collect(),
            failed: false,
            finished: false,
            received: 0,
            after_finish: 0,
            warned: Vec::new(),
        }
    }

    #[test]
    fn consumers_finish_after_their_emitters_and_after_a_cycle_they_hang_from() {
        // Listed consumer first: A consumes b (from B), B consumes c (from C).
        let chain = [slot(&["b"], &[]), slot(&["c"], &["b"]), slot(&[], &["c"])];
        assert_eq!(finish_order(&chain), vec![2, 1, 0]);
        // P consumes x, emitted by X and Y, which emit to each other: the cycle first (in
        // pipeline order), P after it.
        let cycle = [
            slot(&["x"], &[]),
            slot(&["y"], &["x"]),
            slot(&["x"], &["y", "x"]),
        ];
        let order = finish_order(&cycle);
        assert_eq!(order.last(), Some(&0), "{order:?}");
        // Nothing to wait for: pipeline order.
        let free = [slot(&[], &[]), slot(&["tcp"], &[]), slot(&[], &["z"])];
        assert_eq!(finish_order(&free), vec![0, 1, 2]);
    }

    use super::SlotSet;

    #[test]
    fn what_delivering_a_part_reads_of_its_session_is_one_cache_line() {
        use super::{Hot, SessionState};
        use std::mem::{align_of, offset_of};
        assert_eq!(align_of::<SessionState>(), 64);
        // Everything before the API view (slots, id, part numbering, open) is in the first line.
        assert_eq!(offset_of!(SessionState, session), 64);
        assert!(offset_of!(SessionState, open) < 64);
        assert_eq!(std::mem::size_of::<Hot>(), 64);
    }

    #[test]
    fn slot_sets_iterate_in_pipeline_order_and_ignore_slots_beyond_the_limit() {
        let mut s = SlotSet::default();
        assert!(s.is_empty());
        for slot in [127, 3, 0, 64, 3] {
            s.insert(slot);
        }
        s.insert(SlotSet::MAX);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 3, 64, 127]);
        s.remove(3);
        assert!(!s.contains(3) && s.contains(64) && !s.contains(SlotSet::MAX));
        s.remove(0);
        s.remove(64);
        s.remove(127);
        assert!(s.is_empty());
    }

    /// The count as the listener makes it: each packet once, the last four remembered.
    fn packets_as_the_listener_counts(packets: &[u32]) -> u64 {
        let mut recent = crate::tcp::RecentPackets::default();
        packets
            .iter()
            .filter(|&&p| recent.first_time(u64::from(p)))
            .count() as u64
    }

    #[test]
    fn a_part_counts_its_packets_as_the_listener_counts_a_monologues() {
        use super::{count_packets, Entry};
        let cases: &[&[u32]] = &[
            &[],
            &[7],
            // One packet's chunks split at a window's end, then the next packets.
            &[7, 7, 8, 9, 9, 12],
            // Held data delivered after later packets: the same packet again, within the last
            // four (counted once) and beyond them (counted again).
            &[5, 9, 5, 10],
            &[5, 6, 7, 8, 9, 5],
            // Frame numbers kept modulo 2^32 across the wrap.
            &[u32::MAX - 1, u32::MAX, 0, 1],
            // Steps of 2^30 and more, and steps back.
            &[0, 1 << 30, 0, 1 << 31, 3 << 30, 0],
            // Three steps just under 2^31 come back to the first packet.
            &[0, 0x7fff_ffff, 0xffff_fffe, 0],
            &[100, 50, 100, 25],
        ];
        for &packets in cases {
            let chunks: Vec<Entry> = packets
                .iter()
                .map(|&p| Entry::new(0, 0, 1, u64::from(p)))
                .collect();
            let mut last = None;
            let distinct: Vec<u32> = packets
                .iter()
                .copied()
                .filter(|&p| last.replace(p) != Some(p))
                .collect();
            assert_eq!(
                count_packets(&chunks),
                packets_as_the_listener_counts(&distinct),
                "{packets:?}"
            );
        }
    }

    #[test]
    fn pinned_windows_keep_their_slot_and_their_order() {
        use super::{Pinned, Pins, Window};
        let pinned = |window| Pinned {
            window,
            file: 1,
            index: u64::from(window),
            bytes: Window::heap(16),
            chunks: 1,
            used: 0,
        };
        let mut pins = Pins::default();
        assert!(pins.newest().is_none() && pins.oldest().is_none());
        let a = pins.add(pinned);
        let b = pins.add(pinned);
        let c = pins.add(pinned);
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(pins.len(), 3);
        // A window from the middle goes: the others keep their slots, and its slot is the
        // next one taken, as the newest.
        assert!(pins.remove(b).is_some() && pins.remove(b).is_none());
        assert_eq!(pins.get(c).map(|p| p.index), Some(2));
        assert_eq!(pins.add(pinned), b);
        assert_eq!(pins.newest_slot(), Some(b));
        assert_eq!(pins.oldest().map(|p| p.window), Some(a));
        // The newest goes: the one before is the newest again.
        assert!(pins.remove(b).is_some());
        assert_eq!(pins.newest_slot(), Some(c));
        assert!(pins.remove(a).is_some() && pins.remove(c).is_some());
        assert_eq!((pins.len(), pins.newest_slot()), (0, None));
    }
}
