//! Every event payload that crosses the plugin boundary: sessions, monologues, session ends,
//! gaps, and the named events plugins send each other.
//!
//! Payloads are `#[repr(C)]` and borrowed for the length of a call: a plugin copies what it
//! keeps. Codes that may gain values in later versions (end reasons, handshake states) are
//! newtypes over an integer rather than enums, so an older plugin never meets a value its
//! enum cannot hold.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use abi_stable::std_types::{RSlice, RString, RVec};
use abi_stable::StableAbi;

use crate::record::Field;

/// Which way bytes travel in a session.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// From the client (the side that sent the SYN) to the server.
    ClientToServer = 0,
    /// From the server to the client.
    ServerToClient = 1,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// 0 for client-to-server, 1 for server-to-client: an index into per-direction arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// `c2s` or `s2c`.
    pub fn short_name(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
        }
    }
}

/// One side of a conversation: an IP address (IPv4 in the first 4 bytes) and a TCP port.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// Address bytes; an IPv4 address uses the first 4.
    pub addr: [u8; 16],
    /// Whether the address is IPv6.
    pub v6: bool,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint from a std address and port.
    pub fn new(ip: IpAddr, port: u16) -> Endpoint {
        let mut addr = [0u8; 16];
        let v6 = match ip {
            IpAddr::V4(v4) => {
                for (dst, src) in addr.iter_mut().zip(v4.octets()) {
                    *dst = src;
                }
                false
            }
            IpAddr::V6(v6) => {
                addr = v6.octets();
                true
            }
        };
        Endpoint { addr, v6, port }
    }

    /// The address as a std type.
    pub fn ip(&self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(self.addr))
        } else {
            let [a, b, c, d, ..] = self.addr;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        }
    }
}

impl fmt::Display for Endpoint {
    /// `1.2.3.4:80`, or `[2001:db8::1]:80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip() {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// How much of the TCP handshake was seen.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake(pub u8);

impl Handshake {
    /// SYN, SYN-ACK and the completing ACK.
    pub const COMPLETE: Handshake = Handshake(0);
    /// Part of it.
    pub const PARTIAL: Handshake = Handshake(1);
    /// None: the session was picked up midstream.
    pub const NONE: Handshake = Handshake(2);

    /// `complete`, `partial`, `none` (or `unknown` for a value from a later version).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "complete",
            1 => "partial",
            2 => "none",
            _ => "unknown",
        }
    }
}

/// A TCP session, as passed with every event about it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Number of the session in the run (sessions are numbered in the order of their first
    /// packet, from 0). Unique, unlike the key.
    pub id: u64,
    /// The socketpair key: both `ip:port` strings sorted bytewise, joined by `-`.
    pub key: RString,
    /// The side that sent the SYN (see `docs/reassembly.md` for midstream sessions).
    pub client: Endpoint,
    /// The other side.
    pub server: Endpoint,
    /// Capture time of the session's first packet, in ns since the Unix epoch.
    pub t_first: u64,
    /// Handshake seen.
    pub handshake: Handshake,
}

impl Session {
    /// `(from, to)` of a direction.
    pub fn endpoints(&self, direction: Direction) -> (Endpoint, Endpoint) {
        match direction {
            Direction::ClientToServer => (self.client, self.server),
            Direction::ServerToClient => (self.server, self.client),
        }
    }

    /// Whether either side uses one of `ports` (how analysers pick their sessions by port
    /// before falling back to recognising the content).
    pub fn uses_port(&self, ports: &[u16]) -> bool {
        ports.contains(&self.server.port) || ports.contains(&self.client.port)
    }
}

/// A session's endpoints as records write them (`ip:port`, IPv6 as `[addr]:port`). Formatting
/// an address costs more than most of a record: an analyser that writes several records per
/// session keeps one of these per session (a plain Rust type: it does not cross the ABI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointText {
    /// The client, as text.
    pub client: String,
    /// The server, as text.
    pub server: String,
}

impl EndpointText {
    /// The text of `session`'s endpoints.
    pub fn of(session: &Session) -> EndpointText {
        EndpointText {
            client: session.client.to_string(),
            server: session.server.to_string(),
        }
    }
}

/// `len` bytes that were sent but never captured, at `offset` of the data they sit in.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gap {
    /// Where the missing bytes belong, as an offset into the part's `data`.
    pub offset: u64,
    /// How many bytes are missing.
    pub len: u64,
}

/// `tcp_session_start`: a session began (handshake complete, or first packet of a midstream
/// session, or at the latest just before its first byte).
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct SessionStart<'a> {
    /// The session.
    pub session: &'a Session,
    /// Capture time of the packet that started it, ns.
    pub ts: u64,
}

/// `tcp_monologue`: the bytes one side sent until the other side sent data or the session
/// ended — or a part of them: a large monologue arrives in consecutive parts, all but the last
/// with `more` set (the host sends a part when it reaches `monologue_part_size`, or early when
/// the input it still holds for plugins reaches `max_monologue_buffer`).
///
/// The bytes are not copied for you: they arrive as `chunks`, borrowed slices (mostly one per
/// packet, pointing into the host's input buffer), whose concatenation is the part. Use
/// [`Monologue::pieces`] to walk them in order with the gaps in place, or
/// [`Monologue::to_vec`] when a contiguous copy is really needed.
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct Monologue<'a> {
    /// The session.
    pub session: &'a Session,
    /// Who spoke.
    pub direction: Direction,
    /// Position of the monologue in the session, from 0.
    pub index: u64,
    /// Position of this part in the monologue, from 0.
    pub part: u32,
    /// More parts of this monologue follow.
    pub more: bool,
    /// Offset of this part's first byte within the monologue (gaps excluded).
    pub offset: u64,
    /// The bytes, in order, as borrowed slices; their concatenation is the part's data.
    pub chunks: RSlice<'a, RSlice<'a, u8>>,
    /// Total length of `chunks`.
    pub len: u64,
    /// Bytes missing inside or at the end of this part, in order; offsets count the part's
    /// data (the concatenation of `chunks`).
    pub gaps: RSlice<'a, Gap>,
    /// Capture time of the first packet that contributed to this part, ns (of the packet
    /// that revealed the gap, when the part opens with one).
    pub t_start: u64,
    /// Latest capture time of a packet that contributed to this part, ns.
    pub t_end: u64,
    /// Packets that contributed to this part.
    pub packets: u64,
}

/// One step of a walk through a monologue part: bytes, or bytes that were never captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Captured bytes, in order.
    Data(&'a [u8]),
    /// This many bytes were sent but never captured.
    Gap(u64),
}

impl<'a> Monologue<'a> {
    /// The chunks as plain slices.
    pub fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.chunks.as_slice().iter().map(|c| c.as_slice())
    }

    /// Whether the part carries no byte (a part may hold only gaps).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the part begins with bytes that were never captured.
    pub fn starts_with_gap(&self) -> bool {
        self.gaps.first().is_some_and(|g| g.offset == 0)
    }

    /// Up to `n` of the part's first bytes, stopping at the first gap: what content detection
    /// looks at. Borrowed when the first chunk holds them all, copied otherwise.
    pub fn head(&self, n: usize) -> std::borrow::Cow<'a, [u8]> {
        let until_gap = self
            .gaps
            .first()
            .map_or(n, |g| usize::try_from(g.offset).unwrap_or(n).min(n));
        let mut chunks = self.chunks().filter(|c| !c.is_empty());
        let Some(first) = chunks.next() else {
            return std::borrow::Cow::Borrowed(&[]);
        };
        if first.len() >= until_gap {
            return std::borrow::Cow::Borrowed(first.get(..until_gap).unwrap_or(first));
        }
        let mut out = Vec::with_capacity(until_gap);
        for c in std::iter::once(first).chain(chunks) {
            let take = (until_gap - out.len()).min(c.len());
            out.extend_from_slice(c.get(..take).unwrap_or(c));
            if out.len() == until_gap {
                break;
            }
        }
        std::borrow::Cow::Owned(out)
    }

    /// A contiguous copy of the part's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        for c in self.chunks() {
            v.extend_from_slice(c);
        }
        v
    }

    /// The part in stream order: data pieces (chunks, split where gaps fall) and gaps.
    pub fn pieces(&self) -> Vec<Piece<'a>> {
        let mut out = Vec::with_capacity(self.chunks.len() + self.gaps.len());
        let mut gaps = self.gaps.as_slice().iter().peekable();
        let mut at: u64 = 0;
        for chunk in self.chunks() {
            let mut rest = chunk;
            while !rest.is_empty() {
                while let Some(g) = gaps.next_if(|g| g.offset <= at) {
                    out.push(Piece::Gap(g.len));
                }
                let until = gaps.peek().map_or(rest.len() as u64, |g| {
                    (g.offset - at).min(rest.len() as u64)
                });
                let (now, later) = rest.split_at(usize::try_from(until).unwrap_or(rest.len()));
                if !now.is_empty() {
                    out.push(Piece::Data(now));
                }
                at += now.len() as u64;
                rest = later;
            }
        }
        out.extend(gaps.map(|g| Piece::Gap(g.len)));
        out
    }
}

/// Why a session ended: a code that later versions may extend.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndReason(pub u8);

impl EndReason {
    /// Both sides sent a FIN.
    pub const FIN: EndReason = EndReason(0);
    /// A RST.
    pub const RST: EndReason = EndReason(1);
    /// No packet for the idle timeout.
    pub const TIMEOUT: EndReason = EndReason(2);
    /// End of input.
    pub const EOF: EndReason = EndReason(3);
    /// The port pair was reused by a new connection.
    pub const REUSED: EndReason = EndReason(4);
    /// Ended to keep the number of open sessions within its limit.
    pub const EVICTED: EndReason = EndReason(5);

    /// `fin`, `rst`, `timeout`, `eof`, `reused`, `evicted` (or `unknown`).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "fin",
            1 => "rst",
            2 => "timeout",
            3 => "eof",
            4 => "reused",
            5 => "evicted",
            _ => "unknown",
        }
    }
}

/// `tcp_session_end`: the session ended; its last monologue came before this.
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct SessionEnd<'a> {
    /// The session.
    pub session: &'a Session,
    /// Why.
    pub reason: EndReason,
    /// Capture time of its last packet (of the RST for a reset session), ns.
    pub t_end: u64,
    /// Packets of the session.
    pub packets: u64,
    /// Reassembled payload bytes client → server (gaps excluded).
    pub bytes_c2s: u64,
    /// Reassembled payload bytes server → client.
    pub bytes_s2c: u64,
    /// Gaps in both directions.
    pub gaps: u64,
    /// Monologues.
    pub monologues: u64,
}

/// A named event one plugin emits for others (`http_transaction`, ...). It reaches the
/// plugins that consume its name after the event being handled when it was emitted is done.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Event {
    /// Event name, e.g. `http_transaction`.
    pub name: RString,
    /// Capture time it refers to, ns.
    pub ts: u64,
    /// Id of the session it is about (`u64::MAX` if none); filled in by the host.
    pub session_id: u64,
    /// Key of that session (empty if none); filled in by the host.
    pub session_key: RString,
    /// Name of the plugin entry that emitted it; filled in by the host.
    pub source: RString,
    /// The payload: typed fields.
    pub fields: RVec<Field>,
}

impl Event {
    /// The value of field `name`, if present.
    pub fn get(&self, name: &str) -> Option<&crate::record::Value> {
        self.fields
            .iter()
            .find(|f| f.name.as_str() == name)
            .map(|f| &f.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RString;

    fn session() -> Session {
        let e = Endpoint::new("10.0.0.1".parse().unwrap(), 1);
        Session {
            id: 0,
            key: RString::new(),
            client: e,
            server: e,
            t_first: 0,
            handshake: Handshake::COMPLETE,
        }
    }

    #[test]
    fn pieces_split_chunks_where_gaps_fall() {
        let s = session();
        let chunks = [
            RSlice::from_slice(&b"abc"[..]),
            RSlice::from_slice(&b"defg"[..]),
        ];
        let gaps = [
            Gap { offset: 0, len: 9 },
            Gap { offset: 4, len: 2 },
            Gap { offset: 7, len: 1 },
        ];
        let m = Monologue {
            session: &s,
            direction: Direction::ClientToServer,
            index: 0,
            part: 0,
            more: false,
            offset: 0,
            chunks: chunks.as_slice().into(),
            len: 7,
            gaps: gaps.as_slice().into(),
            t_start: 0,
            t_end: 0,
            packets: 2,
        };
        assert_eq!(
            m.pieces(),
            vec![
                Piece::Gap(9),
                Piece::Data(b"abc"),
                Piece::Data(b"d"),
                Piece::Gap(2),
                Piece::Data(b"efg"),
                Piece::Gap(1)
            ]
        );
        assert_eq!(m.to_vec(), b"abcdefg");
        assert!(!m.is_empty());
        assert!(m.starts_with_gap());
        assert!(s.uses_port(&[80, 1]));
        assert!(!s.uses_port(&[80]));
    }

    fn part<'a>(s: &'a Session, chunks: &'a [RSlice<'a, u8>], gaps: &'a [Gap]) -> Monologue<'a> {
        Monologue {
            session: s,
            direction: Direction::ServerToClient,
            index: 0,
            part: 0,
            more: false,
            offset: 0,
            chunks: chunks.into(),
            len: chunks.iter().map(|c| c.len() as u64).sum(),
            gaps: gaps.into(),
            t_start: 0,
            t_end: 0,
            packets: 1,
        }
    }

    #[test]
    fn head_spans_chunks_and_stops_at_the_first_gap() {
        use std::borrow::Cow;
        let s = session();
        let chunks = [
            RSlice::from_slice(&b""[..]),
            RSlice::from_slice(&b"22"[..]),
            RSlice::from_slice(&b"0 mail"[..]),
            RSlice::from_slice(&b".example"[..]),
        ];
        let m = part(&s, &chunks, &[]);
        assert_eq!(&*m.head(5), b"220 m");
        assert_eq!(&*m.head(100), b"220 mail.example");
        // Inside the first non-empty chunk: borrowed, no copy.
        assert!(matches!(m.head(2), Cow::Borrowed(b"22")));
        // The bytes after a gap are not contiguous with those before it.
        let gaps = [Gap { offset: 4, len: 10 }];
        let m = part(&s, &chunks, &gaps);
        assert_eq!(&*m.head(100), b"220 ");
        assert!(!m.starts_with_gap());
        let m = part(&s, &[], &[]);
        assert!(m.head(8).is_empty());
    }
}
