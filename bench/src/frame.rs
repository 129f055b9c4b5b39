//! Wire format: Ethernet II / IPv4 / TCP frames with correct lengths and checksums, and the
//! classic pcap file they are streamed into (nanosecond magic `0xa1b23c4d`, little-endian,
//! LINKTYPE_ETHERNET).
//!
//! Frames are built by appending fields to a `Vec<u8>`, so no offset arithmetic (and no
//! indexing) is needed; the two checksums are computed before their headers are appended.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{Context, Result};

/// TCP flag bits.
pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;

/// Ethernet II header length.
pub(crate) const ETH_LEN: u64 = 14;
/// IPv4 header length (no options).
pub(crate) const IP_LEN: u64 = 20;
/// TCP header length without options: pure ACKs and FINs (54-byte frames).
pub(crate) const TCP_LEN: u64 = 20;
/// TCP options on data segments: NOP, NOP, timestamps (so 1448-byte payloads make 1514-byte
/// frames, as on a 1500-byte MTU Linux link).
pub(crate) const DATA_OPTS_LEN: u64 = 12;
/// TCP options on SYN and SYN-ACK: MSS, SACK permitted, timestamps, NOP, window scale.
pub(crate) const SYN_OPTS_LEN: u64 = 20;
/// pcap record header length.
pub(crate) const RECORD_LEN: u64 = 16;
/// pcap file header length.
pub(crate) const FILE_HEADER_LEN: u64 = 24;
/// Window scale announced in SYNs.
const WSCALE: u8 = 7;

/// One side of a connection and its sending state.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) ip: Ipv4Addr,
    pub(crate) port: u16,
    pub(crate) mac: [u8; 6],
    /// Initial sequence number.
    pub(crate) isn: u32,
    /// Payload bytes sent so far (each byte once, whatever was retransmitted).
    pub(crate) sent: u64,
    /// Whether this side has sent its FIN.
    pub(crate) fin: bool,
    /// IPv4 identification of the next packet.
    pub(crate) ip_id: u16,
    pub(crate) ttl: u8,
    /// Offset of this host's TCP timestamp clock (ms).
    pub(crate) ts_base: u32,
    /// Last timestamp this side sent (echoed by the peer).
    pub(crate) last_tsval: u32,
    /// Advertised window (scaled by 2^7).
    pub(crate) window: u16,
}

impl Endpoint {
    /// Sequence number of the payload byte at stream `offset`.
    pub(crate) fn seq_at(&self, offset: u64) -> u32 {
        self.isn.wrapping_add(1).wrapping_add(offset as u32)
    }

    /// Next sequence number this side will use (after its FIN if sent): what the peer acks.
    pub(crate) fn next_seq(&self) -> u32 {
        self.seq_at(self.sent).wrapping_add(u32::from(self.fin))
    }

    /// `ip:port`, as netan prints endpoints.
    pub(crate) fn addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.ip, self.port)
    }

    /// Takes the next IPv4 identification and the TCP timestamp for capture time `now_ns`.
    fn stamp(&mut self, now_ns: u64) -> (u16, u32) {
        let id = self.ip_id;
        self.ip_id = self.ip_id.wrapping_add(1);
        let tsval = self.ts_base.wrapping_add((now_ns / 1_000_000) as u32);
        self.last_tsval = tsval;
        (id, tsval)
    }
}

/// Which TCP options a segment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opts {
    /// None: pure ACKs, FINs (20-byte header).
    None,
    /// NOP NOP timestamps: data segments (32-byte header).
    Timestamps,
    /// MSS, SACK permitted, timestamps, NOP, window scale: SYN and SYN-ACK (40-byte header).
    Syn { mss: u16 },
}

/// One TCP segment to encode.
#[derive(Debug)]
pub(crate) struct Segment<'a> {
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) opts: Opts,
    pub(crate) payload: &'a [u8],
}

/// Sums big-endian 16-bit words (an odd last byte padded with zero) into `acc`.
fn sum16(bytes: &[u8], mut acc: u64) -> u64 {
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        if let [a, b] = w {
            acc += u64::from(u16::from_be_bytes([*a, *b]));
        }
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a one's-complement sum into the 16-bit checksum.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Encodes `seg` from `src` to `dst` at capture time `now_ns` as an Ethernet frame.
pub(crate) fn build(src: &mut Endpoint, dst: &Endpoint, seg: &Segment<'_>, now_ns: u64) -> Vec<u8> {
    let (ip_id, tsval) = src.stamp(now_ns);
    let mut opts: Vec<u8> = Vec::with_capacity(SYN_OPTS_LEN as usize);
    let ts = |o: &mut Vec<u8>| {
        o.extend_from_slice(&[8, 10]);
        o.extend_from_slice(&tsval.to_be_bytes());
        o.extend_from_slice(&dst.last_tsval.to_be_bytes());
    };
    match seg.opts {
        Opts::None => {}
        Opts::Timestamps => {
            opts.extend_from_slice(&[1, 1]);
            ts(&mut opts);
        }
        Opts::Syn { mss } => {
            opts.extend_from_slice(&[2, 4]);
            opts.extend_from_slice(&mss.to_be_bytes());
            opts.extend_from_slice(&[4, 2]);
            ts(&mut opts);
            opts.extend_from_slice(&[1, 3, 3, WSCALE]);
        }
    }
    let tcp_len = TCP_LEN as usize + opts.len() + seg.payload.len();
    let ip_total = IP_LEN as usize + tcp_len;

    let mut tcp: Vec<u8> = Vec::with_capacity(TCP_LEN as usize + opts.len());
    tcp.extend_from_slice(&src.port.to_be_bytes());
    tcp.extend_from_slice(&dst.port.to_be_bytes());
    tcp.extend_from_slice(&seg.seq.to_be_bytes());
    let ack = if seg.flags & ACK != 0 { seg.ack } else { 0 };
    tcp.extend_from_slice(&ack.to_be_bytes());
    let data_offset = ((TCP_LEN as usize + opts.len()) / 4) as u8;
    tcp.push(data_offset << 4);
    tcp.push(seg.flags);
    tcp.extend_from_slice(&src.window.to_be_bytes());
    let checksum_at = tcp.len();
    tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    tcp.extend_from_slice(&opts);

    let mut pseudo = sum16(&src.ip.octets(), 0);
    pseudo = sum16(&dst.ip.octets(), pseudo);
    pseudo += 6 + tcp_len as u64;
    let tcp_sum = fold(sum16(seg.payload, sum16(&tcp, pseudo)));
    if let Some(c) = tcp.get_mut(checksum_at..checksum_at + 2) {
        c.copy_from_slice(&tcp_sum.to_be_bytes());
    }

    let mut ip: Vec<u8> = Vec::with_capacity(IP_LEN as usize);
    ip.extend_from_slice(&[0x45, 0]);
    ip.extend_from_slice(&(ip_total as u16).to_be_bytes());
    ip.extend_from_slice(&ip_id.to_be_bytes());
    ip.extend_from_slice(&[0x40, 0, src.ttl, 6, 0, 0]); // DF, TTL, TCP, checksum
    ip.extend_from_slice(&src.ip.octets());
    ip.extend_from_slice(&dst.ip.octets());
    let ip_sum = fold(sum16(&ip, 0));
    if let Some(c) = ip.get_mut(10..12) {
        c.copy_from_slice(&ip_sum.to_be_bytes());
    }

    let mut frame = Vec::with_capacity(ETH_LEN as usize + ip_total);
    frame.extend_from_slice(&dst.mac);
    frame.extend_from_slice(&src.mac);
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&tcp);
    frame.extend_from_slice(seg.payload);
    frame
}

/// Gives an already built frame a new IPv4 identification (a retransmission is a new packet
/// carrying the same TCP segment) and fixes the IPv4 header checksum.
pub(crate) fn renumber(frame: &mut [u8], src: &mut Endpoint) {
    let id = src.ip_id;
    src.ip_id = src.ip_id.wrapping_add(1);
    if let Some(f) = frame.get_mut(18..20) {
        f.copy_from_slice(&id.to_be_bytes());
    }
    if let Some(f) = frame.get_mut(24..26) {
        f.copy_from_slice(&[0, 0]);
    }
    let sum = fold(sum16(frame.get(14..34).unwrap_or(&[]), 0));
    if let Some(f) = frame.get_mut(24..26) {
        f.copy_from_slice(&sum.to_be_bytes());
    }
}

/// A classic pcap file written record by record through a `BufWriter`.
pub(crate) struct PcapWriter {
    out: BufWriter<File>,
    /// Records written.
    pub(crate) packets: u64,
    /// Bytes written, file header included.
    pub(crate) bytes: u64,
}

impl PcapWriter {
    /// Creates `file` and writes the file header.
    pub(crate) fn create(file: &std::path::Path) -> Result<PcapWriter> {
        let f = File::create(file).with_context(|| format!("creating {}", file.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        let mut header = Vec::with_capacity(FILE_HEADER_LEN as usize);
        header.extend_from_slice(&0xa1b2_3c4d_u32.to_le_bytes()); // nanosecond magic
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&262_144u32.to_le_bytes()); // snaplen
        header.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            packets: 0,
            bytes: FILE_HEADER_LEN,
        })
    }

    /// Appends one record captured at `ts_ns` (ns since the epoch).
    pub(crate) fn write(&mut self, ts_ns: u64, frame: &[u8]) -> Result<()> {
        let len = frame.len() as u32;
        let mut rec = [0u8; RECORD_LEN as usize];
        for (d, s) in rec.iter_mut().zip(
            ((ts_ns / 1_000_000_000) as u32)
                .to_le_bytes()
                .into_iter()
                .chain(((ts_ns % 1_000_000_000) as u32).to_le_bytes())
                .chain(len.to_le_bytes())
                .chain(len.to_le_bytes()),
        ) {
            *d = s;
        }
        self.out.write_all(&rec)?;
        self.out.write_all(frame)?;
        self.packets += 1;
        self.bytes += RECORD_LEN + frame.len() as u64;
        Ok(())
    }

    /// Flushes and closes the file.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all().ok();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: [u8; 4], port: u16) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::from(ip),
            port,
            mac: [2, 0, 0, 0, 0, 1],
            isn: 0xffff_fff0,
            sent: 0,
            fin: false,
            ip_id: 1,
            ttl: 64,
            ts_base: 0,
            last_tsval: 0,
            window: 2048,
        }
    }

    #[test]
    fn lengths_and_checksums() {
        let (mut a, b) = (ep([10, 0, 0, 1], 40000), ep([172, 16, 0, 1], 80));
        let payload = vec![0xabu8; 1448];
        let seg = Segment {
            seq: a.seq_at(0),
            ack: 1,
            flags: ACK | PSH,
            opts: Opts::Timestamps,
            payload: &payload,
        };
        let f = build(&mut a, &b, &seg, 5_000_000);
        assert_eq!(f.len(), 1514);
        // IPv4 total length and a zero one's-complement sum over the header.
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 1500);
        assert_eq!(fold(sum16(&f[14..34], 0)), 0);
        // TCP checksum verifies with the pseudo header.
        let mut p = sum16(&f[26..34], 0);
        p += 6 + 1480;
        assert_eq!(fold(sum16(&f[34..], p)), 0);
        let ack = Segment {
            seq: 0,
            ack: 0,
            flags: ACK,
            opts: Opts::None,
            payload: &[],
        };
        assert_eq!(build(&mut a, &b, &ack, 0).len(), 54);
        let syn = Segment {
            seq: 0,
            ack: 0,
            flags: SYN,
            opts: Opts::Syn { mss: 1460 },
            payload: &[],
        };
        assert_eq!(build(&mut a, &b, &syn, 0).len(), 74);
        assert_eq!(a.seq_at(0x20), 0x11);
        let mut copy = f.clone();
        renumber(&mut copy, &mut a);
        assert_ne!(copy[18..20], f[18..20]);
        assert_eq!(fold(sum16(&copy[14..34], 0)), 0);
        assert_eq!(copy[34..], f[34..]);
    }
}
