//! Decoding: a captured frame in, a TCP segment out; anything else is counted under its reason
//! and skipped. Never fatal, never a panic, whatever the bytes.
//!
//! The link layer is peeled by [`link`], the IP layer and the TCP header are read with
//! `etherparse`'s lax slicing, so that a packet cut short by the snap length is used as far as
//! it goes: the payload bytes the IP header announces but the capture does not hold are
//! reported as [`TcpPacket::missing`], and TCP reassembly turns them into a gap. IPv4 and IPv6
//! fragments are reassembled by [`defrag`]; VXLAN tunnels (UDP port 4789) are opened and the
//! inner frame decoded.

pub mod defrag;
pub(crate) mod link;

use std::fmt;
use std::net::IpAddr;

use etherparse::{IpNumber, LaxIpSlice, TcpSlice};

use defrag::{Defrag, DefragLimits, FragmentKey};
use link::{LinkError, Network};

/// One side of a TCP conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    /// `1.2.3.4:80`, or `[2001:db8::1]:80` for IPv6.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// TCP header flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: no more data from sender.
    pub const FIN: u8 = 0x01;
    /// SYN: synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub const RST: u8 = 0x04;
    /// PSH: push function.
    pub const PSH: u8 = 0x08;
    /// ACK: the acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// URG: the urgent pointer is significant.
    pub const URG: u8 = 0x20;

    /// Whether every flag in `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// A decoded TCP segment, borrowing its payload from the frame (or from the fragment table).
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<'a> {
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when ACK is set).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled).
    pub window: u16,
    /// The payload bytes that were captured.
    pub payload: &'a [u8],
    /// Payload bytes that follow `payload` on the wire but were cut off by the snap length.
    pub missing: u32,
}

/// Why a frame gave no TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Skip {
    /// The link type is not one netan decodes.
    UnsupportedLinktype,
    /// The link-layer headers are cut short by the snap length.
    LinkTruncated,
    /// The link-layer headers are invalid: cut short in a frame the snap length did not cut,
    /// or encapsulations (VLAN tags, MPLS labels, PPPoE) nested deeper than netan follows.
    LinkInvalid,
    /// The frame carries no IP (ARP, LLDP, STP, ...).
    NotIp,
    /// The IP header is cut short by the snap length.
    IpTruncated,
    /// The IP header is invalid (bad version, header length, ...), or cut short in a frame
    /// the snap length did not cut.
    IpInvalid,
    /// An IP packet of another protocol (UDP, ICMP, ...).
    NotTcp,
    /// The TCP header is cut short by the snap length.
    TcpTruncated,
    /// The TCP header is invalid (data offset below 5 words), or cut short in a frame the
    /// snap length did not cut.
    TcpInvalid,
    /// An IP fragment held until its datagram is complete (not lost: counted separately).
    FragmentHeld,
    /// An IP fragment that could not be used (cut by the snap length, inconsistent, ...).
    FragmentInvalid,
}

impl Skip {
    /// Every reason, in report order.
    pub const ALL: [Skip; 11] = [
        Skip::UnsupportedLinktype,
        Skip::LinkTruncated,
        Skip::LinkInvalid,
        Skip::NotIp,
        Skip::IpTruncated,
        Skip::IpInvalid,
        Skip::NotTcp,
        Skip::TcpTruncated,
        Skip::TcpInvalid,
        Skip::FragmentHeld,
        Skip::FragmentInvalid,
    ];

    /// Name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Skip::UnsupportedLinktype => "unsupported_linktype",
            Skip::LinkTruncated => "link_truncated",
            Skip::LinkInvalid => "link_invalid",
            Skip::NotIp => "not_ip",
            Skip::IpTruncated => "ip_truncated",
            Skip::IpInvalid => "ip_invalid",
            Skip::NotTcp => "not_tcp",
            Skip::TcpTruncated => "tcp_truncated",
            Skip::TcpInvalid => "tcp_invalid",
            Skip::FragmentHeld => "fragment_held",
            Skip::FragmentInvalid => "fragment_invalid",
        }
    }
}

/// Counters kept by the decoder.
#[derive(Debug, Default, Clone)]
pub struct DecodeStats {
    /// Frames seen.
    pub frames: u64,
    /// TCP segments produced.
    pub tcp: u64,
    /// Frames skipped, by [`Skip`] reason.
    pub skipped: [u64; Skip::ALL.len()],
    /// Link types met that are not supported, with their frame counts.
    pub unsupported_linktypes: Vec<(u32, u64)>,
    /// TCP segments whose payload was cut by the snap length.
    pub truncated_segments: u64,
    /// Payload bytes lost to the snap length.
    pub truncated_bytes: u64,
    /// TCP segments of complete frames (not cut by the snap length) whose IP length claims
    /// more than the frame holds: taken as what the frame holds (no bytes are invented as
    /// missing; a real loss still shows in the sequence numbers).
    pub overstated_segments: u64,
    /// What those IP lengths claimed beyond the frames.
    pub overstated_bytes: u64,
    /// Frames that came out of a VXLAN tunnel.
    pub tunnelled: u64,
}

impl DecodeStats {
    /// Frames skipped for `reason`.
    pub fn skipped(&self, reason: Skip) -> u64 {
        self.skipped.get(reason as usize).copied().unwrap_or(0)
    }
}

/// Decoding options.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Open VXLAN tunnels and decode the inner frames.
    pub tunnels: bool,
    /// Bounds for IP fragment reassembly.
    pub defrag: DefragLimits,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            tunnels: true,
            defrag: DefragLimits::default(),
        }
    }
}

/// Turns frames into TCP segments.
pub struct Decoder {
    options: DecodeOptions,
    defrag: Defrag,
    /// Counters; read them at the end of a run.
    pub stats: DecodeStats,
}

const VXLAN_PORT: u16 = 4789;
const MAX_TUNNEL_DEPTH: usize = 3;

impl Decoder {
    /// A decoder with the given options.
    pub fn new(options: DecodeOptions) -> Decoder {
        Decoder {
            options,
            defrag: Defrag::new(options.defrag),
            stats: DecodeStats::default(),
        }
    }

    /// Fragment-table counters.
    pub fn defrag_counters(&self) -> defrag::DefragCounters {
        self.defrag.counters
    }

    /// Datagrams whose fragments never all arrived (so far).
    pub fn incomplete_datagrams(&self) -> usize {
        self.defrag.incomplete()
    }

    /// Decodes one frame. `None` when it carries no usable TCP segment; the reason is counted.
    pub fn decode<'a>(
        &'a mut self,
        ts: u64,
        linktype: u32,
        frame: &'a [u8],
    ) -> Option<TcpPacket<'a>> {
        self.decode_frame(ts, linktype, frame, true)
    }

    /// [`Decoder::decode`], knowing whether the frame was `cut` by the snap length (its
    /// original length is larger than what was captured). Only a cut frame can be missing
    /// bytes that its IP header counts.
    pub fn decode_frame<'a>(
        &'a mut self,
        ts: u64,
        linktype: u32,
        frame: &'a [u8],
        cut: bool,
    ) -> Option<TcpPacket<'a>> {
        self.stats.frames += 1;
        let result = decode_frame(
            &self.options,
            &mut self.defrag,
            &mut self.stats,
            ts,
            linktype,
            frame,
        );
        match result {
            Ok(mut p) => {
                self.stats.tcp += 1;
                if p.missing > 0 && !cut {
                    self.stats.overstated_segments += 1;
                    self.stats.overstated_bytes += u64::from(p.missing);
                    p.missing = 0;
                }
                if p.missing > 0 {
                    self.stats.truncated_segments += 1;
                    self.stats.truncated_bytes += u64::from(p.missing);
                }
                Some(p)
            }
            Err(reason) => {
                // A header cut short in a frame the snap length did not cut was not cut by
                // the capture: it is malformed.
                let reason = match reason {
                    Skip::LinkTruncated if !cut => Skip::LinkInvalid,
                    Skip::IpTruncated if !cut => Skip::IpInvalid,
                    Skip::TcpTruncated if !cut => Skip::TcpInvalid,
                    other => other,
                };
                if let Some(c) = self.stats.skipped.get_mut(reason as usize) {
                    *c += 1;
                }
                if reason == Skip::UnsupportedLinktype {
                    match self
                        .stats
                        .unsupported_linktypes
                        .iter_mut()
                        .find(|(l, _)| *l == linktype)
                    {
                        Some((_, n)) => *n += 1,
                        None => self.stats.unsupported_linktypes.push((linktype, 1)),
                    }
                }
                None
            }
        }
    }
}

fn decode_frame<'a>(
    options: &DecodeOptions,
    defrag: &'a mut Defrag,
    stats: &mut DecodeStats,
    ts: u64,
    linktype: u32,
    frame: &'a [u8],
) -> Result<TcpPacket<'a>, Skip> {
    let net = link::network(linktype, frame).map_err(|e| match e {
        LinkError::Unsupported => Skip::UnsupportedLinktype,
        LinkError::Truncated => Skip::LinkTruncated,
        LinkError::TooDeep => Skip::LinkInvalid,
    })?;
    match net {
        Network::Ip(bytes) => ip(options, defrag, stats, ts, bytes, 0),
        Network::Other => Err(Skip::NotIp),
    }
}

fn ip<'a>(
    options: &DecodeOptions,
    defrag: &'a mut Defrag,
    stats: &mut DecodeStats,
    ts: u64,
    bytes: &'a [u8],
    depth: usize,
) -> Result<TcpPacket<'a>, Skip> {
    use etherparse::err::ip::LaxHeaderSliceError;
    let (slice, _ext_err) = LaxIpSlice::from_slice(bytes).map_err(|e| match e {
        LaxHeaderSliceError::Len(_) => Skip::IpTruncated,
        LaxHeaderSliceError::Content(_) => Skip::IpInvalid,
    })?;
    let src = slice.source_addr();
    let dst = slice.destination_addr();
    let payload = slice.payload();
    // Bytes the IP header says the packet has beyond what was captured.
    let wire_len = match &slice {
        LaxIpSlice::Ipv4(v4) => usize::from(v4.header().total_len()),
        LaxIpSlice::Ipv6(v6) => 40 + usize::from(v6.header().payload_length()),
    };
    let missing = if payload.incomplete {
        wire_len.saturating_sub(bytes.len())
    } else {
        0
    };
    let protocol = payload.ip_number;

    if payload.fragmented {
        if payload.incomplete {
            return Err(Skip::FragmentInvalid);
        }
        let (id, offset, more, protocol, fragmentable) = match &slice {
            LaxIpSlice::Ipv4(v4) => {
                // The fragmentable part is everything after the IPv4 header, an
                // Authentication Header included (RFC 4302 §3.3.2): read after reassembly,
                // not per fragment (etherparse reads it in the first fragment, which
                // misplaces the offsets of the others).
                let h = v4.header();
                let start = usize::from(h.ihl()) * 4;
                // A total length of 0 (TSO) or one that does not even cover the header: as
                // captured, as for a packet that is not a fragment.
                let end = match usize::from(h.total_len()) {
                    total if total < start => bytes.len(),
                    total => total.min(bytes.len()),
                };
                (
                    u32::from(h.identification()),
                    usize::from(h.fragments_offset().byte_offset()),
                    h.more_fragments(),
                    h.protocol(),
                    bytes.get(start..end).unwrap_or_default(),
                )
            }
            LaxIpSlice::Ipv6(v6) => {
                // The fragmentable part is everything after the Fragment header, extension
                // headers included (RFC 8200 §4.5): those are read after reassembly, not per
                // fragment (etherparse goes on reading them, which misplaces the offsets).
                use etherparse::Ipv6ExtensionSlice as Ext;
                let mut at = 40;
                let mut frag = None;
                for ext in v6.extensions().clone() {
                    at += match &ext {
                        Ext::HopByHop(s) | Ext::Routing(s) | Ext::DestinationOptions(s) => {
                            s.slice().len()
                        }
                        Ext::Fragment(f) => f.slice().len(),
                        Ext::Authentication(a) => a.slice().len(),
                    };
                    if let Ext::Fragment(f) = ext {
                        frag = Some(f);
                        break;
                    }
                }
                let Some(f) = frag else {
                    return Err(Skip::FragmentInvalid);
                };
                let h = f.to_header();
                let end = wire_len.min(bytes.len());
                (
                    h.identification,
                    usize::from(h.fragment_offset.byte_offset()),
                    h.more_fragments,
                    f.next_header(),
                    bytes.get(at..end).unwrap_or_default(),
                )
            }
        };
        let key = FragmentKey {
            src,
            dst,
            id,
            protocol: protocol.0,
        };
        let before = defrag.counters.invalid;
        if !defrag.add(key, offset, more, fragmentable, ts) {
            return Err(if defrag.counters.invalid > before {
                Skip::FragmentInvalid
            } else {
                Skip::FragmentHeld
            });
        }
        let datagram: &'a [u8] = &defrag.done;
        let (protocol, datagram) = skip_extensions(protocol, datagram);
        return transport(
            options, None, stats, ts, src, dst, protocol, datagram, 0, depth,
        );
    }
    transport(
        options,
        Some(defrag),
        stats,
        ts,
        src,
        dst,
        protocol,
        payload.payload,
        missing,
        depth,
    )
}

/// Extension headers etherparse reads (hop-by-hop, routing, fragment, authentication,
/// destination options): a payload of one of these types is one it could not read.
fn is_extension_header(p: IpNumber) -> bool {
    matches!(p.0, 0 | 43 | 44 | 51 | 60)
}

/// A TCP segment whose header the snap length cut: ports, sequence and acknowledgment
/// numbers and flags come from the first 14 bytes; the payload (the IP payload beyond the
/// header length the data offset gives) is all missing.
fn cut_tcp_header<'a>(
    src: IpAddr,
    dst: IpAddr,
    bytes: &'a [u8],
    missing: usize,
) -> Result<TcpPacket<'a>, Skip> {
    let (Some(sport), Some(dport), Some(seq), Some(ack), Some(&offset), Some(&flag_bits)) = (
        link::be16(bytes, 0),
        link::be16(bytes, 2),
        link::be32(bytes, 4),
        link::be32(bytes, 8),
        bytes.get(12),
        bytes.get(13),
    ) else {
        return Err(Skip::TcpTruncated);
    };
    let header_len = usize::from(offset >> 4) * 4;
    let total = bytes.len() + missing;
    if header_len < 20 || header_len > total {
        return Err(Skip::TcpInvalid);
    }
    // The flag bits netan follows sit at the same places as in TcpFlags.
    let flags = flag_bits
        & (TcpFlags::FIN
            | TcpFlags::SYN
            | TcpFlags::RST
            | TcpFlags::PSH
            | TcpFlags::ACK
            | TcpFlags::URG);
    Ok(TcpPacket {
        src: Endpoint {
            ip: src,
            port: sport,
        },
        dst: Endpoint {
            ip: dst,
            port: dport,
        },
        seq,
        ack,
        flags: TcpFlags(flags),
        window: link::be16(bytes, 14).unwrap_or(0),
        payload: &[],
        missing: u32::try_from(total - header_len).unwrap_or(u32::MAX),
    })
}

/// A reassembled datagram's leading extension headers (IPv6 Hop-by-Hop, Routing, Destination
/// Options; an Authentication Header, IPv4's or IPv6's), skipped: the protocol and bytes after
/// them.
fn skip_extensions(protocol: IpNumber, mut bytes: &[u8]) -> (IpNumber, &[u8]) {
    let mut protocol = protocol;
    while let (Some(&next), Some(&len)) = (bytes.first(), bytes.get(1)) {
        let len = usize::from(len);
        let size = match protocol.0 {
            // Length in 8-octet units, not counting the first 8 (RFC 8200 §4.3-4.6).
            0 | 43 | 60 => (len + 1) * 8,
            // Length in 4-octet units, minus 2 (RFC 4302 §2.2).
            51 => (len + 2) * 4,
            _ => break,
        };
        let Some(rest) = bytes.get(size..) else {
            break;
        };
        protocol = IpNumber(next);
        bytes = rest;
    }
    (protocol, bytes)
}

#[allow(clippy::too_many_arguments)]
fn transport<'a>(
    options: &DecodeOptions,
    defrag: Option<&'a mut Defrag>,
    stats: &mut DecodeStats,
    ts: u64,
    src: IpAddr,
    dst: IpAddr,
    protocol: IpNumber,
    bytes: &'a [u8],
    missing: usize,
    depth: usize,
) -> Result<TcpPacket<'a>, Skip> {
    match protocol {
        IpNumber::TCP => {
            use etherparse::err::tcp::HeaderSliceError;
            let tcp = match TcpSlice::from_slice(bytes) {
                Ok(tcp) => tcp,
                Err(HeaderSliceError::Len(_)) if missing > 0 => {
                    // The snap length cut the header (its options, usually): what is there
                    // still places the segment, and its payload is all missing.
                    return cut_tcp_header(src, dst, bytes, missing);
                }
                Err(HeaderSliceError::Len(_)) => return Err(Skip::TcpTruncated),
                Err(HeaderSliceError::Content(_)) => return Err(Skip::TcpInvalid),
            };
            let mut flags = 0;
            for (set, bit) in [
                (tcp.fin(), TcpFlags::FIN),
                (tcp.syn(), TcpFlags::SYN),
                (tcp.rst(), TcpFlags::RST),
                (tcp.psh(), TcpFlags::PSH),
                (tcp.ack(), TcpFlags::ACK),
                (tcp.urg(), TcpFlags::URG),
            ] {
                if set {
                    flags |= bit;
                }
            }
            Ok(TcpPacket {
                src: Endpoint {
                    ip: src,
                    port: tcp.source_port(),
                },
                dst: Endpoint {
                    ip: dst,
                    port: tcp.destination_port(),
                },
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: TcpFlags(flags),
                window: tcp.window_size(),
                payload: tcp.payload(),
                missing: u32::try_from(missing).unwrap_or(u32::MAX),
            })
        }
        IpNumber::UDP if options.tunnels && depth < MAX_TUNNEL_DEPTH => {
            let Some(defrag) = defrag else {
                return Err(Skip::NotTcp);
            };
            let dst_port = link::be16(bytes, 2);
            let vxlan = bytes.get(8..16);
            match (dst_port, vxlan) {
                (Some(VXLAN_PORT), Some(header))
                    if header.first().is_some_and(|f| f & 0x08 != 0) =>
                {
                    let inner = bytes.get(16..).unwrap_or(&[]);
                    match link::ethernet(inner, 0) {
                        Ok(Network::Ip(inner_ip)) => {
                            stats.tunnelled += 1;
                            ip(options, defrag, stats, ts, inner_ip, depth + 1)
                        }
                        Ok(Network::Other) => Err(Skip::NotIp),
                        Err(LinkError::TooDeep) => Err(Skip::LinkInvalid),
                        Err(_) => Err(Skip::LinkTruncated),
                    }
                }
                _ => Err(Skip::NotTcp),
            }
        }
        // etherparse stops at an extension header it cannot read (IPv6's, or an IPv4
        // Authentication Header) and gives that header's own type: the packet is cut or
        // malformed, not "another protocol" (`decode_frame` calls it invalid when the snap
        // length did not cut the frame). Decided here, off the TCP path.
        p if is_extension_header(p) => Err(Skip::IpTruncated),
        _ => Err(Skip::NotTcp),
    }
}

#[cfg(test)]
mod tests;
