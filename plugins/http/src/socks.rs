//! SOCKS handshakes at the start of a session (SOCKS4, SOCKS4a; SOCKS5, RFC 1928, with no
//! authentication or username/password, RFC 1929): whether a tunnel opened, where the client
//! asked it to lead, and where its bytes start. Plain Rust, incremental (any split of the two
//! streams), bounded, and never panics on captured bytes.
//!
//! * [`plausible_start`] is the cheap test on a session's first client bytes;
//! * [`Handshake`] follows both sides' messages until the tunnel opens or the handshake fails;
//! * [`Opening`] wraps it for the glue: it keeps what was fed (bytes, gaps, times) so that the
//!   tunnel's bytes, or the whole session when no tunnel opened, can be handed to the HTTP
//!   parser exactly as they came.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use netan_plugin_api::Direction;

/// Unconsumed bytes held per direction while the handshake is not finished (a client may
/// send its first tunnelled bytes before the reply); beyond, the session is not followed.
pub const MAX_HELD: usize = 64 * 1024;
/// Longest SOCKS4 user id and SOCKS4a host name (without their NUL).
const MAX_NAME: usize = 255;

/// The protocol version the client spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SOCKS4: IPv4 destination.
    V4,
    /// SOCKS4a: host name destination (`0.0.0.x` address, then the name).
    V4a,
    /// SOCKS5 (RFC 1928).
    V5,
}

/// A destination address as the client gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// A host name, for the proxy to resolve.
    Domain(String),
}

/// Where the client asked the tunnel to lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: Addr,
    pub port: u16,
}

impl fmt::Display for Target {
    /// `host:port`, `a.b.c.d:port` or `[v6]:port` (as the records write endpoints: a socket
    /// address's own format).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            Addr::Ipv4(a) => std::net::SocketAddr::from((*a, self.port)).fmt(f),
            Addr::Ipv6(a) => std::net::SocketAddr::from((*a, self.port)).fmt(f),
            Addr::Domain(d) => write!(f, "{d}:{}", self.port),
        }
    }
}

/// The command of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Connect,
    Bind,
    UdpAssociate,
}

/// Where a handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Messages still to come.
    Pending,
    /// The proxy granted the request: what follows the handshake's bytes is the tunnel.
    Tunnel,
    /// No tunnel: a refusal, a UDP association, or bytes that are not (or no longer) SOCKS.
    NoTunnel(&'static str),
}

/// Why a message could not be read (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Its bytes have not all come.
    More,
    /// It is not what the handshake expects here.
    Bad(&'static str),
}

type Parsed<T> = Result<(T, usize), Stop>;

/// Reads a message from the front of a buffer; every read is checked.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, at: 0 }
    }

    fn u8(&mut self) -> Result<u8, Stop> {
        let v = *self.b.get(self.at).ok_or(Stop::More)?;
        self.at += 1;
        Ok(v)
    }

    fn u16(&mut self) -> Result<u16, Stop> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        let end = self.at.checked_add(n).ok_or(Stop::Bad("length overflow"))?;
        let v = self.b.get(self.at..end).ok_or(Stop::More)?;
        self.at = end;
        Ok(v)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A NUL-terminated name of at most [`MAX_NAME`] bytes, without its NUL.
    fn nul_terminated(&mut self, what: &'static str) -> Result<&'a [u8], Stop> {
        let rest = self.b.get(self.at..).unwrap_or_default();
        match rest.iter().take(MAX_NAME + 1).position(|&b| b == 0) {
            Some(len) => {
                let name = self.take(len)?;
                self.at += 1;
                Ok(name)
            }
            None if rest.len() > MAX_NAME => Err(Stop::Bad(what)),
            None => Err(Stop::More),
        }
    }

    fn done<T>(&self, v: T) -> Parsed<T> {
        Ok((v, self.at))
    }
}

/// Names (user ids, host names) are text: control bytes mean this is not SOCKS.
fn text_ok(name: &[u8]) -> bool {
    name.iter().all(|&b| b >= 0x20 && b != 0x7f)
}

/// A host name as the records write it.
fn domain(name: &[u8]) -> Result<Addr, Stop> {
    if name.is_empty() || !text_ok(name) {
        return Err(Stop::Bad("bad host name"));
    }
    Ok(Addr::Domain(String::from_utf8_lossy(name).into_owned()))
}

/// The client's first message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hello {
    /// A SOCKS4 or 4a request.
    V4(Request),
    /// A SOCKS5 greeting: the methods offered.
    V5(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    version: Version,
    command: Command,
    target: Target,
}

fn client_hello(b: &[u8]) -> Parsed<Hello> {
    match b.first() {
        None => Err(Stop::More),
        Some(4) => v4_request(b).map(|(r, n)| (Hello::V4(r), n)),
        Some(5) => v5_greeting(b).map(|(m, n)| (Hello::V5(m), n)),
        Some(_) => Err(Stop::Bad("not SOCKS")),
    }
}

/// `VN=4 CD DSTPORT DSTIP USERID NUL [HOST NUL]`.
fn v4_request(b: &[u8]) -> Parsed<Request> {
    let mut r = Reader::new(b);
    if r.u8()? != 4 {
        return Err(Stop::Bad("not SOCKS4"));
    }
    let command = match r.u8()? {
        1 => Command::Connect,
        2 => Command::Bind,
        _ => return Err(Stop::Bad("SOCKS4: unknown command")),
    };
    let port = r.u16()?;
    let ip: [u8; 4] = r.array()?;
    if command == Command::Connect && port == 0 {
        return Err(Stop::Bad("SOCKS4: port 0"));
    }
    if ip == [0; 4] {
        return Err(Stop::Bad("SOCKS4: no destination"));
    }
    let user = r.nul_terminated("SOCKS4: user id too long")?;
    if !text_ok(user) {
        return Err(Stop::Bad("SOCKS4: bad user id"));
    }
    // SOCKS4a: 0.0.0.x (x not 0) says a host name follows the user id.
    let (version, addr) = if let [0, 0, 0, _] = ip {
        let name = r.nul_terminated("SOCKS4a: host name too long")?;
        (Version::V4a, domain(name)?)
    } else {
        (Version::V4, Addr::Ipv4(Ipv4Addr::from(ip)))
    };
    r.done(Request {
        version,
        command,
        target: Target { addr, port },
    })
}

/// Whether a SOCKS4 reply granted the request. `VN CD DSTPORT DSTIP`: VN is 0 (some servers
/// send 4); CD 90 grants, 91 to 93 refuse.
fn v4_reply(b: &[u8]) -> Parsed<Result<(), &'static str>> {
    let mut r = Reader::new(b);
    if !matches!(r.u8()?, 0 | 4) {
        return Err(Stop::Bad("SOCKS4: bad reply"));
    }
    let outcome = match r.u8()? {
        90 => Ok(()),
        91 => Err("SOCKS4: request rejected or failed"),
        92 => Err("SOCKS4: client's identd unreachable"),
        93 => Err("SOCKS4: user id refused by identd"),
        _ => return Err(Stop::Bad("SOCKS4: bad reply code")),
    };
    r.take(6)?;
    r.done(outcome)
}

/// `VER=5 NMETHODS METHODS`: the methods offered.
fn v5_greeting(b: &[u8]) -> Parsed<Vec<u8>> {
    let mut r = Reader::new(b);
    if r.u8()? != 5 {
        return Err(Stop::Bad("not SOCKS5"));
    }
    let n = r.u8()?;
    if n == 0 {
        return Err(Stop::Bad("SOCKS5: no method offered"));
    }
    let methods = r.take(usize::from(n))?;
    if methods.contains(&0xff) {
        return Err(Stop::Bad("SOCKS5: method 0xff offered"));
    }
    r.done(methods.to_vec())
}

/// `VER=5 METHOD`: the method the server chose.
fn v5_method(b: &[u8]) -> Parsed<u8> {
    let mut r = Reader::new(b);
    if r.u8()? != 5 {
        return Err(Stop::Bad("SOCKS5: bad method selection"));
    }
    let m = r.u8()?;
    r.done(m)
}

/// RFC 1929: `VER=1 ULEN UNAME PLEN PASSWD` (the credentials are skipped, not kept).
fn v5_auth(b: &[u8]) -> Parsed<()> {
    let mut r = Reader::new(b);
    if r.u8()? != 1 {
        return Err(Stop::Bad("SOCKS5: bad username/password request"));
    }
    let ulen = r.u8()?;
    r.take(usize::from(ulen))?;
    let plen = r.u8()?;
    r.take(usize::from(plen))?;
    r.done(())
}

/// RFC 1929: `VER STATUS`, status 0 is success. VER is 1 (some servers send 5).
fn v5_auth_status(b: &[u8]) -> Parsed<bool> {
    let mut r = Reader::new(b);
    if !matches!(r.u8()?, 1 | 5) {
        return Err(Stop::Bad("SOCKS5: bad username/password status"));
    }
    let ok = r.u8()? == 0;
    r.done(ok)
}

/// `ATYP ADDR PORT` of a SOCKS5 request or reply.
fn v5_address(r: &mut Reader<'_>) -> Result<Target, Stop> {
    let addr = match r.u8()? {
        1 => Addr::Ipv4(Ipv4Addr::from(r.array::<4>()?)),
        3 => {
            let len = r.u8()?;
            domain(r.take(usize::from(len))?)?
        }
        4 => Addr::Ipv6(Ipv6Addr::from(r.array::<16>()?)),
        _ => return Err(Stop::Bad("SOCKS5: bad address type")),
    };
    let port = r.u16()?;
    Ok(Target { addr, port })
}

/// `VER=5 CMD RSV ATYP DST.ADDR DST.PORT`.
fn v5_request(b: &[u8]) -> Parsed<Request> {
    let mut r = Reader::new(b);
    if r.u8()? != 5 {
        return Err(Stop::Bad("SOCKS5: bad request"));
    }
    let command = match r.u8()? {
        1 => Command::Connect,
        2 => Command::Bind,
        3 => Command::UdpAssociate,
        _ => return Err(Stop::Bad("SOCKS5: unknown command")),
    };
    r.u8()?; // reserved
    let target = v5_address(&mut r)?;
    if command == Command::Connect && target.port == 0 {
        return Err(Stop::Bad("SOCKS5: port 0"));
    }
    r.done(Request {
        version: Version::V5,
        command,
        target,
    })
}

/// `VER=5 REP RSV ATYP BND.ADDR BND.PORT`: whether the request was granted.
fn v5_reply(b: &[u8]) -> Parsed<Result<(), &'static str>> {
    let mut r = Reader::new(b);
    if r.u8()? != 5 {
        return Err(Stop::Bad("SOCKS5: bad reply"));
    }
    let outcome = match r.u8()? {
        0 => Ok(()),
        1 => Err("SOCKS5: general server failure"),
        2 => Err("SOCKS5: connection not allowed by ruleset"),
        3 => Err("SOCKS5: network unreachable"),
        4 => Err("SOCKS5: host unreachable"),
        5 => Err("SOCKS5: connection refused"),
        6 => Err("SOCKS5: TTL expired"),
        7 => Err("SOCKS5: command not supported"),
        8 => Err("SOCKS5: address type not supported"),
        _ => Err("SOCKS5: request failed"),
    };
    r.u8()?; // reserved
    v5_address(&mut r)?;
    r.done(outcome)
}

/// Whether a session's first client bytes can start a SOCKS handshake: a SOCKS4/4a request or
/// a SOCKS5 greeting, complete or cut short only because `head` stops before the end of the
/// part (`part_len` bytes) or the part before the end of the monologue (`more`: monologues
/// come in parts of `monologue_part_size`, which may be a few bytes). Costs nothing on other
/// traffic: the first byte is 4 or 5.
pub fn plausible_start(head: &[u8], part_len: u64, more: bool) -> bool {
    match client_hello(head) {
        Ok(_) => true,
        Err(Stop::More) => more || (head.len() as u64) < part_len,
        Err(Stop::Bad(_)) => false,
    }
}

/// What the handshake waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The client's first message (its version decides the rest).
    Hello,
    /// A SOCKS4 reply; a BIND has two (`second`: the one for the inbound connection).
    V4Reply { second: bool },
    /// The server's method selection.
    V5Method,
    /// The client's username and password.
    V5Auth,
    /// The server's verdict on them.
    V5AuthStatus,
    /// The client's request.
    V5Request,
    /// A SOCKS5 reply; a BIND has two.
    V5Reply { second: bool },
    /// The handshake is over.
    Done,
}

/// The handshake of one session, fed both sides' bytes in order.
#[derive(Debug)]
pub struct Handshake {
    step: Step,
    status: Status,
    version: Option<Version>,
    target: Option<Target>,
    command: Option<Command>,
    /// Methods the client offered (SOCKS5).
    offered: Vec<u8>,
    /// Bytes not yet read, client's and server's.
    held: [Vec<u8>; 2],
    /// Bytes the handshake's messages took, client's and server's.
    used: [u64; 2],
}

impl Default for Handshake {
    fn default() -> Self {
        Self::new()
    }
}

impl Handshake {
    pub fn new() -> Self {
        Handshake {
            step: Step::Hello,
            status: Status::Pending,
            version: None,
            target: None,
            command: None,
            offered: Vec::new(),
            held: [Vec::new(), Vec::new()],
            used: [0, 0],
        }
    }

    /// In-order bytes from one side. Once the handshake is decided they are not looked at.
    pub fn data(&mut self, dir: Direction, bytes: &[u8]) {
        if self.status != Status::Pending {
            return;
        }
        let Some(held) = self.held.get_mut(dir.index()) else {
            return;
        };
        held.extend_from_slice(bytes);
        self.advance();
        if self.status == Status::Pending && self.held.iter().any(|h| h.len() > MAX_HELD) {
            self.fail("SOCKS: handshake too long");
        }
    }

    /// Bytes of one side were lost: a pending handshake cannot be followed any more.
    pub fn gap(&mut self) {
        if self.status == Status::Pending {
            self.fail("SOCKS: gap in the handshake");
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The version the client spoke, once its first message was read.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The destination the client asked for, once its request was read.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// Bytes of the handshake's messages from one side: the tunnel starts after them.
    pub fn used(&self, dir: Direction) -> u64 {
        self.used.get(dir.index()).copied().unwrap_or(0)
    }

    fn fail(&mut self, why: &'static str) {
        self.status = Status::NoTunnel(why);
        self.step = Step::Done;
        self.held = [Vec::new(), Vec::new()];
    }

    /// Reads the messages whose bytes have come, in the protocol's order.
    fn advance(&mut self) {
        while self.status == Status::Pending {
            let next = match self.step {
                Step::Hello => self
                    .read(Direction::ClientToServer, client_hello)
                    .map(|h| self.hello(h)),
                Step::V4Reply { second } => self
                    .read(Direction::ServerToClient, v4_reply)
                    .map(|granted| self.reply(granted, second)),
                Step::V5Method => self
                    .read(Direction::ServerToClient, v5_method)
                    .map(|m| self.method(m)),
                Step::V5Auth => self
                    .read(Direction::ClientToServer, v5_auth)
                    .map(|()| Step::V5AuthStatus),
                Step::V5AuthStatus => {
                    self.read(Direction::ServerToClient, v5_auth_status)
                        .map(|ok| {
                            if ok {
                                Step::V5Request
                            } else {
                                self.fail("SOCKS5: username/password refused");
                                Step::Done
                            }
                        })
                }
                Step::V5Request => self
                    .read(Direction::ClientToServer, v5_request)
                    .map(|r| self.request(r)),
                Step::V5Reply { second } => self
                    .read(Direction::ServerToClient, v5_reply)
                    .map(|granted| self.reply(granted, second)),
                Step::Done => return,
            };
            match next {
                // `fail` may have decided it meanwhile.
                Ok(next) if self.status == Status::Pending => {
                    self.step = next;
                    if next == Step::Done {
                        self.status = Status::Tunnel;
                    }
                }
                Ok(_) => {}
                Err(Stop::More) => return,
                Err(Stop::Bad(why)) => self.fail(why),
            }
        }
    }

    /// Parses a message from the front of one side's held bytes and consumes it.
    fn read<T>(&mut self, dir: Direction, parse: fn(&[u8]) -> Parsed<T>) -> Result<T, Stop> {
        let held = self.held.get_mut(dir.index()).ok_or(Stop::More)?;
        let (v, n) = parse(held)?;
        held.drain(..n.min(held.len()));
        if let Some(u) = self.used.get_mut(dir.index()) {
            *u += n as u64;
        }
        Ok(v)
    }

    fn hello(&mut self, h: Hello) -> Step {
        match h {
            Hello::V4(r) => {
                self.version = Some(r.version);
                self.command = Some(r.command);
                self.target = Some(r.target);
                Step::V4Reply { second: false }
            }
            Hello::V5(methods) => {
                self.version = Some(Version::V5);
                self.offered = methods;
                Step::V5Method
            }
        }
    }

    fn method(&mut self, m: u8) -> Step {
        match m {
            0xff => self.fail("SOCKS5: no acceptable method"),
            _ if !self.offered.contains(&m) => self.fail("SOCKS5: method not offered"),
            0 => return Step::V5Request,
            2 => return Step::V5Auth,
            _ => self.fail("SOCKS5: authentication method not followed"),
        }
        Step::Done
    }

    fn request(&mut self, r: Request) -> Step {
        self.command = Some(r.command);
        self.target = Some(r.target);
        Step::V5Reply { second: false }
    }

    /// After a reply: a refusal ends it; a BIND waits for its second reply (the inbound
    /// connection's); a UDP association opens no TCP tunnel.
    fn reply(&mut self, granted: Result<(), &'static str>, second: bool) -> Step {
        if let Err(why) = granted {
            self.fail(why);
            return Step::Done;
        }
        match self.command {
            Some(Command::Bind) if !second => match self.version {
                Some(Version::V5) => Step::V5Reply { second: true },
                _ => Step::V4Reply { second: true },
            },
            Some(Command::UdpAssociate) => {
                self.fail("SOCKS5: UDP association, no TCP tunnel");
                Step::Done
            }
            _ => Step::Done,
        }
    }
}

/// One thing fed to an [`Opening`], kept to be handed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Data {
        dir: Direction,
        bytes: Vec<u8>,
        ts: u64,
    },
    Gap {
        dir: Direction,
        len: u64,
        ts: u64,
    },
}

impl Event {
    /// The event's bytes (none for a gap).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Event::Data { bytes, .. } => bytes,
            Event::Gap { .. } => &[],
        }
    }
}

/// How the tunnel starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelStart {
    /// With bytes that were never captured.
    Gap,
    /// With these bytes (up to the number asked, from the side that spoke first).
    Data(Vec<u8>),
    /// With these bytes, fewer than asked, that side still speaking: more may follow.
    Growing(Vec<u8>),
}

/// What a session was fed while it is held undecided, as it came (empty bytes and gaps
/// left out), to be replayed once it is decided.
#[derive(Debug, Default)]
pub struct Log(Vec<Event>);

impl Log {
    /// In-order bytes from one side, at capture time `ts`. Returns whether there were any.
    pub fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64) -> bool {
        if bytes.is_empty() {
            return false;
        }
        self.0.push(Event::Data {
            dir,
            bytes: bytes.to_vec(),
            ts,
        });
        true
    }

    /// `len` bytes from one side were never captured. Returns whether there were any.
    pub fn gap(&mut self, dir: Direction, len: u64, ts: u64) -> bool {
        if len == 0 {
            return false;
        }
        self.0.push(Event::Gap { dir, len, ts });
        true
    }

    /// Everything logged, as `(event, bytes of it)`.
    pub fn events(&self) -> impl Iterator<Item = (&Event, &[u8])> + '_ {
        self.0.iter().map(|ev| (ev, ev.bytes()))
    }
}

/// A session that began like SOCKS: the handshake, and everything fed since the start, until
/// the glue decides what to do with the session.
#[derive(Debug, Default)]
pub struct Opening {
    hs: Handshake,
    log: Log,
}

impl Opening {
    pub fn new() -> Self {
        Self::default()
    }

    /// In-order bytes from one side, at capture time `ts`.
    pub fn data(&mut self, dir: Direction, bytes: &[u8], ts: u64) {
        if self.log.data(dir, bytes, ts) {
            self.hs.data(dir, bytes);
        }
    }

    /// `len` bytes from one side were never captured.
    pub fn gap(&mut self, dir: Direction, len: u64, ts: u64) {
        if self.log.gap(dir, len, ts) {
            self.hs.gap();
        }
    }

    pub fn status(&self) -> Status {
        self.hs.status()
    }

    pub fn handshake(&self) -> &Handshake {
        &self.hs
    }

    /// Everything fed, as it came (for a session where no tunnel opened).
    #[cfg(test)]
    pub fn into_events(self) -> Vec<Event> {
        self.log.0
    }

    /// What was fed, borrowed, as `(event, bytes of it)`: once the tunnel opened, what came
    /// after the handshake's bytes (cut off the data, and data left empty by the cut
    /// skipped); else everything, as it came.
    pub fn replay(&self) -> impl Iterator<Item = (&Event, &[u8])> + '_ {
        let mut skip = if self.hs.status() == Status::Tunnel {
            [
                self.hs.used(Direction::ClientToServer),
                self.hs.used(Direction::ServerToClient),
            ]
        } else {
            [0, 0]
        };
        self.log.0.iter().filter_map(move |ev| match ev {
            Event::Data { dir, bytes, .. } => {
                let left = skip.get_mut(dir.index())?;
                let cut = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                *left -= cut as u64;
                bytes
                    .get(cut..)
                    .filter(|r| !r.is_empty())
                    .map(|rest| (ev, rest))
            }
            Event::Gap { .. } => Some((ev, &[][..])),
        })
    }

    /// What was fed after the handshake's bytes: the tunnel, as it came. Empty unless the
    /// tunnel opened.
    #[cfg(test)]
    pub fn tunnel_events(&self) -> Vec<Event> {
        if self.hs.status() != Status::Tunnel {
            return Vec::new();
        }
        self.replay()
            .map(|(ev, rest)| match ev {
                Event::Data { dir, ts, .. } => Event::Data {
                    dir: *dir,
                    bytes: rest.to_vec(),
                    ts: *ts,
                },
                Event::Gap { .. } => ev.clone(),
            })
            .collect()
    }

    /// How the tunnel starts ([`start_of`] what came after the handshake), or `None` while no
    /// tunnelled byte has come. Reads what is held in place (it runs on every part until the
    /// tunnel is decided).
    pub fn tunnel_start(&self, n: usize) -> Option<TunnelStart> {
        if self.hs.status() != Status::Tunnel {
            return None;
        }
        start_of(self.replay(), n)
    }
}

/// How held events start: up to `n` of their first bytes, from the side that spoke first
/// (until that side stops or a gap; `Growing` while fewer have come and nothing else), or
/// `None` when nothing has come. `events` are `(event, bytes of it)`.
pub fn start_of<'a>(
    mut events: impl Iterator<Item = (&'a Event, &'a [u8])>,
    n: usize,
) -> Option<TunnelStart> {
    let (first_dir, mut head) = match events.next()? {
        (Event::Gap { .. }, _) => return Some(TunnelStart::Gap),
        (Event::Data { dir, .. }, rest) => (*dir, rest.to_vec()),
    };
    let mut stopped = false;
    for (ev, rest) in events {
        if head.len() >= n {
            break;
        }
        match ev {
            Event::Data { dir, .. } if *dir == first_dir => head.extend_from_slice(rest),
            _ => {
                stopped = true;
                break;
            }
        }
    }
    Some(if stopped || head.len() >= n {
        head.truncate(n);
        TunnelStart::Data(head)
    } else {
        TunnelStart::Growing(head)
    })
}

/// Feeds an [`Opening`] both directions' bytes, in pieces and with gaps as `data`'s first 8
/// bytes say (for fuzzing), asking after each piece what the analyser asks; checks that a
/// tunnel's start is at most what was asked and that what is handed on is never more than
/// what was fed.
#[doc(hidden)]
pub fn fuzz_opening(data: &[u8]) {
    let (seed, mut input) = data.split_at(8.min(data.len()));
    let seed = seed.iter().fold(0x9e37_79b9_7f4a_7c15u64, |s, &b| {
        (s ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut rng = netan_plugin_api::testing::XorShift(seed | 1);
    let mut o = Opening::new();
    let (mut fed, mut ts) = (0, 0);
    while !input.is_empty() {
        let r = rng.next_u64();
        let dir = if r & 1 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        ts += 1;
        if (r >> 8) & 31 == 0 {
            o.gap(dir, (r >> 16) & 63, ts);
            continue;
        }
        let len = ((r >> 24) % 97).max(1) as usize;
        let (piece, tail) = input.split_at(len.min(input.len()));
        o.data(dir, piece, ts);
        fed += piece.len();
        input = tail;
        let _ = o.status();
        if let Some(TunnelStart::Data(head) | TunnelStart::Growing(head)) = o.tunnel_start(24) {
            assert!(head.len() <= 24, "tunnel start of {} bytes", head.len());
        }
    }
    let handed: usize = o.replay().map(|(_, bytes)| bytes.len()).sum();
    assert!(handed <= fed, "handed on {handed} bytes of {fed}");
}

#[cfg(test)]
pub(crate) mod tests;
