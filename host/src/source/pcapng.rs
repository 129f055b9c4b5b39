//! pcapng files: blocks are framed here (so that a corrupt length is caught before anything is
//! read into memory) and decoded here too, as tolerantly as Wireshark reads them: an option
//! list may end without `opt_endofopt`, a malformed option ends the list (the block is kept),
//! reserved fields and options netan does not use are ignored. (`pcap-file` 2.0 refused such
//! files whole, and read obsolete packet blocks' timestamps with their halves swapped in
//! little-endian sections.)
//!
//! Each section may have its own byte order; each interface its own link type, timestamp
//! resolution (`if_tsresol`, powers of ten or of two) and offset (`if_tsoffset`, signed
//! seconds). Enhanced, obsolete and simple packet blocks all produce frames. A simple packet
//! block has no timestamp: it takes the timestamp of the packet before it. Blocks of other
//! types (name resolution, statistics, custom, unknown) are skipped without being decoded.

use std::io::Read;
use std::path::Path;

use super::buffer::ByteBuffer;
use super::{CaptureError, FrameMeta, SourceCounters, Step, Truncation, MAX_RECORD_LEN};

const SECTION_HEADER: u32 = 0x0A0D_0D0A;
const INTERFACE_DESCRIPTION: u32 = 1;
const PACKET: u32 = 2;
const SIMPLE_PACKET: u32 = 3;
const ENHANCED_PACKET: u32 = 6;
/// Offset of the packet data within an enhanced (or obsolete) packet block.
const PACKET_DATA_START: usize = 28;
/// Offset of the packet data within a simple packet block.
const SIMPLE_DATA_START: usize = 12;

/// How to turn one interface's timestamps into nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// Timestamp units per second; `None` for a resolution finer than 10^-18 s (`if_tsresol`
    /// 10^39 or 2^127 would read every time as 0): no time of it can be read.
    units_per_sec: Option<i128>,
    /// `if_tsoffset`, in nanoseconds (signed).
    offset_ns: i128,
}

/// A block's fields, read in its section's byte order.
struct BlockFields<'a> {
    block: &'a [u8],
    little: bool,
}

impl BlockFields<'_> {
    /// `N` bytes at `at`, in little-endian order whatever the section's.
    fn le<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        super::little_endian(self.block, at, self.little)
    }

    fn u16(&self, at: usize) -> Option<u16> {
        self.le(at).map(u16::from_le_bytes)
    }

    fn u32(&self, at: usize) -> Option<u32> {
        super::u32_at(self.block, at, self.little)
    }

    fn i64(&self, at: usize) -> Option<i64> {
        self.le(at).map(i64::from_le_bytes)
    }

    /// The options from `at` to the block's trailing length: (code, value) until
    /// `opt_endofopt`, the end of the block, or an option that does not fit.
    fn options(&self, at: usize) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        let end = self.block.len().saturating_sub(4);
        let mut at = at;
        std::iter::from_fn(move || {
            let code = self.u16(at).filter(|_| at + 4 <= end)?;
            let len = usize::from(self.u16(at + 2)?);
            let value = self
                .block
                .get(at + 4..at + 4 + len)
                .filter(|_| at + 4 + len <= end)?;
            if code == 0 {
                return None;
            }
            at += 4 + len.div_ceil(4) * 4;
            Some((code, value))
        })
    }
}

impl Interface {
    /// An interface description block: link type, snap length, `if_tsresol` (option 9),
    /// `if_tsoffset` (option 14); the reserved field and other options are ignored.
    fn from_block(f: &BlockFields<'_>) -> Option<Interface> {
        let mut units_per_sec: u128 = 1_000_000;
        let mut offset_secs = 0;
        for (code, value) in f.options(16) {
            match (code, value) {
                (9, [r, ..]) => {
                    let exp = u32::from(r & 0x7f);
                    units_per_sec = if r & 0x80 == 0 {
                        10u128.checked_pow(exp).unwrap_or(u128::MAX)
                    } else {
                        2u128.checked_pow(exp).unwrap_or(u128::MAX)
                    };
                }
                (14, v) if v.len() >= 8 => {
                    let opt = BlockFields {
                        block: v,
                        little: f.little,
                    };
                    offset_secs = opt.i64(0).unwrap_or(0);
                }
                _ => {}
            }
        }
        Some(Interface {
            linktype: u32::from(f.u16(8)?),
            snaplen: f.u32(12)?,
            units_per_sec: i128::try_from(units_per_sec.max(1))
                .ok()
                .filter(|&u| u <= 1_000_000_000_000_000_000),
            offset_ns: i128::from(offset_secs) * 1_000_000_000,
        })
    }

    /// The capture time of `units` in nanoseconds since the epoch; `None` when it cannot be
    /// one: a resolution finer than 10^-18 s, or an offset (`if_tsoffset`) that puts it
    /// before 1970 or past 2554.
    fn nanos(&self, units: u64) -> Option<u64> {
        // Both terms are far within i128: units < 2^64 times 10^9, an i64 of seconds in ns.
        let ns = i128::from(units) * 1_000_000_000 / self.units_per_sec? + self.offset_ns;
        u64::try_from(ns).ok()
    }
}

pub(super) struct PcapNgState {
    little: bool,
    interfaces: Vec<Interface>,
    last_ts: u64,
}

impl PcapNgState {
    pub(super) fn open<R: Read>(
        path: &Path,
        buf: &mut ByteBuffer<R>,
    ) -> Result<PcapNgState, CaptureError> {
        let offset = buf.offset();
        // The first block is a section header (the format was recognised by its type);
        // framing it checks its byte-order magic.
        let little = match block_len(path, buf, true, offset)? {
            Ok((_, little)) => little,
            Err(t) => {
                return Err(CaptureError::Corrupt {
                    path: path.to_path_buf(),
                    what: "section header block",
                    offset,
                    reason: format!(
                        "the file ends inside its first block ({} of {} bytes present)",
                        t.present, t.expected
                    ),
                })
            }
        };
        Ok(PcapNgState {
            little,
            interfaces: Vec::new(),
            last_ts: 0,
        })
    }

    pub(super) fn next<R: Read>(
        &mut self,
        path: &Path,
        buf: &mut ByteBuffer<R>,
        counters: &mut SourceCounters,
    ) -> Result<Step, CaptureError> {
        loop {
            let offset = buf.offset();
            let len = match block_len(path, buf, self.little, offset)? {
                Ok((0, _)) => return Ok(Step::End),
                Ok((len, little)) => {
                    // A section header sets the byte order of its section.
                    self.little = little;
                    len
                }
                Err(t) => return Ok(Step::Truncated(t)),
            };
            let corrupt = |reason: String| CaptureError::Corrupt {
                path: path.to_path_buf(),
                what: "block",
                offset,
                reason,
            };
            let block = buf.available().get(..len).unwrap_or(&[]);
            let f = BlockFields {
                block,
                little: self.little,
            };
            let kind = f.u32(0).unwrap_or(0);
            let frame = match kind {
                SECTION_HEADER => {
                    // A reader must not read a section of another major version (pcapng
                    // specification, section header block).
                    let major = f.u16(12).unwrap_or(0);
                    if major != 1 {
                        return Err(corrupt(format!(
                            "section header version {major}.{}: only 1.x is pcapng",
                            f.u16(14).unwrap_or(0)
                        )));
                    }
                    self.interfaces.clear();
                    None
                }
                INTERFACE_DESCRIPTION => {
                    let iface = Interface::from_block(&f)
                        .ok_or_else(|| corrupt("interface description block too short".into()))?;
                    self.interfaces.push(iface);
                    None
                }
                ENHANCED_PACKET | PACKET | SIMPLE_PACKET => {
                    let fixed = |what: &str| corrupt(format!("{what} block too short"));
                    let (iface_id, units, caplen, orig_len, start) = match kind {
                        ENHANCED_PACKET | PACKET => {
                            let iface_id = if kind == ENHANCED_PACKET {
                                f.u32(8)
                            } else {
                                f.u16(8).map(u32::from)
                            }
                            .ok_or_else(|| fixed("packet"))?;
                            let high = f.u32(12).ok_or_else(|| fixed("packet"))?;
                            let low = f.u32(16).ok_or_else(|| fixed("packet"))?;
                            let caplen = f.u32(20).ok_or_else(|| fixed("packet"))? as usize;
                            let orig_len = f.u32(24).ok_or_else(|| fixed("packet"))?;
                            let room = len.saturating_sub(PACKET_DATA_START + 4);
                            if caplen > room {
                                return Err(corrupt(format!(
                                    "captured length {caplen} exceeds the block ({room} bytes of data)"
                                )));
                            }
                            let units = (u64::from(high) << 32) | u64::from(low);
                            (iface_id, Some(units), caplen, orig_len, PACKET_DATA_START)
                        }
                        _ => {
                            // The body holds the packet plus padding to 32 bits; the original
                            // length and the interface's snap length bound the real data.
                            let orig_len = f.u32(8).ok_or_else(|| fixed("simple packet"))?;
                            let room = len.saturating_sub(SIMPLE_DATA_START + 4);
                            let snap = self.interfaces.first().map_or(u32::MAX, |i| i.snaplen);
                            let snap = if snap == 0 { u32::MAX } else { snap };
                            let caplen = room.min(orig_len.min(snap) as usize);
                            (0, None, caplen, orig_len, SIMPLE_DATA_START)
                        }
                    };
                    match self.interfaces.get(iface_id as usize) {
                        None => {
                            counters.unknown_interface += 1;
                            None
                        }
                        Some(iface) => {
                            if let Some(units) = units {
                                // A time that cannot be one is counted; the frame keeps the
                                // last good time (never 0 or the end of time).
                                match iface.nanos(units) {
                                    Some(ns) => self.last_ts = ns,
                                    None => counters.invalid_timestamp += 1,
                                }
                            }
                            let mut orig_len = orig_len;
                            if (orig_len as usize) < caplen {
                                counters.caplen_over_len += 1;
                                orig_len = u32::try_from(caplen).unwrap_or(u32::MAX);
                            }
                            Some(FrameMeta {
                                ts: self.last_ts,
                                linktype: iface.linktype,
                                orig_len,
                                data_start: start,
                                data_len: caplen,
                                offset,
                            })
                        }
                    }
                }
                _ => None,
            };
            buf.consume(len);
            if let Some(frame) = frame {
                return Ok(Step::Frame(frame));
            }
        }
    }
}

/// Reads the next block's total length and byte order (`little`, the section's, unless the
/// block is a section header, which declares its own) and makes sure the whole block is in the
/// buffer. `Ok(Ok((0, _)))` at a clean end of file; `Ok(Err(_))` when the file ends inside
/// the block.
fn block_len<R: Read>(
    path: &Path,
    buf: &mut ByteBuffer<R>,
    little: bool,
    offset: u64,
) -> Result<Result<(usize, bool), Truncation>, CaptureError> {
    let io_err = |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !buf.fill(12).map_err(io_err)? {
        let present = buf.available().len();
        return Ok(if present == 0 {
            Ok((0, little))
        } else {
            Err(Truncation {
                offset,
                present,
                expected: 12,
                stream_cut: false,
            })
        });
    }
    let head = buf.available();
    let word = |at: usize, little: bool| super::u32_at(head, at, little).unwrap_or(0);
    let little = if word(0, false) == SECTION_HEADER {
        // A section header carries its own byte order in its magic number.
        match word(8, false) {
            0x1A2B_3C4D => false,
            0x4D3C_2B1A => true,
            other => {
                return Err(CaptureError::Corrupt {
                    path: path.to_path_buf(),
                    what: "section header block",
                    offset,
                    reason: format!("bad byte-order magic {other:#010x}"),
                })
            }
        }
    } else {
        little
    };
    let len = word(4, little) as usize;
    if len < 12 || len % 4 != 0 || len > MAX_RECORD_LEN {
        return Err(CaptureError::Corrupt {
            path: path.to_path_buf(),
            what: "block",
            offset,
            reason: format!(
                "block total length {len} is not a multiple of 4 between 12 and {MAX_RECORD_LEN}"
            ),
        });
    }
    if !buf.fill(len).map_err(io_err)? {
        return Ok(Err(Truncation {
            offset,
            present: buf.available().len(),
            expected: len,
            stream_cut: false,
        }));
    }
    // The total length is written at both ends of a block: a block whose lengths differ is
    // corrupt, and trusting the first would swallow the blocks it wrongly covers in silence.
    let trailer = super::u32_at(buf.available(), len - 4, little).unwrap_or(0) as usize;
    if trailer != len {
        return Err(CaptureError::Corrupt {
            path: path.to_path_buf(),
            what: "block",
            offset,
            reason: format!("block total lengths differ: {len} at its start, {trailer} at its end"),
        });
    }
    Ok(Ok((len, little)))
}
