//! pcapng files: blocks are framed here (so that a corrupt length is caught before anything is
//! read into memory) and decoded by `pcap-file`.
//!
//! Each section may have its own byte order; each interface its own link type, timestamp
//! resolution (`if_tsresol`, powers of ten or of two) and offset (`if_tsoffset`). Enhanced,
//! obsolete and simple packet blocks all produce frames. A simple packet block has no
//! timestamp: it takes the timestamp of the packet before it. Blocks of other types
//! (name resolution, statistics, custom, unknown) are skipped without being decoded.

use std::io::Read;
use std::path::Path;

use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::Endianness;

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
    /// Timestamp units per second.
    units_per_sec: u128,
    /// `if_tsoffset`, in seconds.
    offset_secs: u64,
}

impl Interface {
    fn from_block(idb: &InterfaceDescriptionBlock<'_>) -> Interface {
        let mut units_per_sec: u128 = 1_000_000;
        let mut offset_secs = 0;
        for opt in &idb.options {
            match opt {
                InterfaceDescriptionOption::IfTsResol(r) => {
                    let exp = u32::from(r & 0x7f);
                    units_per_sec = if r & 0x80 == 0 {
                        10u128.checked_pow(exp).unwrap_or(u128::MAX)
                    } else {
                        2u128.checked_pow(exp).unwrap_or(u128::MAX)
                    };
                }
                InterfaceDescriptionOption::IfTsOffset(o) => offset_secs = *o,
                _ => {}
            }
        }
        Interface {
            linktype: u32::from(idb.linktype),
            snaplen: idb.snaplen,
            units_per_sec: units_per_sec.max(1),
            offset_secs,
        }
    }

    fn nanos(&self, units: u64) -> u64 {
        let ns = u128::from(units) * 1_000_000_000 / self.units_per_sec;
        let ns = ns + u128::from(self.offset_secs) * 1_000_000_000;
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

pub(super) struct PcapNgState {
    parser: PcapNgParser,
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
        let len = match block_len(path, buf, true, offset)? {
            Ok(len) => len,
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
        let (_, parser) =
            PcapNgParser::new(buf.available()).map_err(|e| CaptureError::Corrupt {
                path: path.to_path_buf(),
                what: "section header block",
                offset,
                reason: e.to_string(),
            })?;
        buf.consume(len);
        Ok(PcapNgState {
            little: parser.section().endianness == Endianness::Little,
            parser,
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
                Ok(0) => return Ok(Step::End),
                Ok(len) => len,
                Err(t) => return Ok(Step::Truncated(t)),
            };
            let corrupt = |reason: String| CaptureError::Corrupt {
                path: path.to_path_buf(),
                what: "block",
                offset,
                reason,
            };
            let block = buf.available().get(..len).unwrap_or(&[]);
            let (_, raw) = self
                .parser
                .next_raw_block(block)
                .map_err(|e| corrupt(e.to_string()))?;
            let kind = raw.type_;
            let frame = match kind {
                SECTION_HEADER => {
                    self.little = self.parser.section().endianness == Endianness::Little;
                    self.interfaces.clear();
                    None
                }
                INTERFACE_DESCRIPTION => {
                    if let Some(idb) = self.parser.interfaces().last() {
                        self.interfaces.push(Interface::from_block(idb));
                    }
                    None
                }
                ENHANCED_PACKET | PACKET | SIMPLE_PACKET => {
                    let parsed = if self.little {
                        raw.try_into_block::<byteorder_le>()
                    } else {
                        raw.try_into_block::<byteorder_be>()
                    }
                    .map_err(|e| corrupt(e.to_string()))?;
                    let (iface_id, units, caplen, orig_len, start) = match parsed {
                        Block::EnhancedPacket(b) => (
                            b.interface_id,
                            Some(u64::try_from(b.timestamp.as_nanos()).unwrap_or(u64::MAX)),
                            b.data.len(),
                            b.original_len,
                            PACKET_DATA_START,
                        ),
                        Block::Packet(b) => (
                            u32::from(b.interface_id),
                            Some(b.timestamp),
                            b.data.len(),
                            b.original_len,
                            PACKET_DATA_START,
                        ),
                        Block::SimplePacket(b) => {
                            // The body holds the packet plus padding to 32 bits; the original
                            // length and the interface's snap length bound the real data.
                            let snap = self.interfaces.first().map_or(u32::MAX, |i| i.snaplen);
                            let snap = if snap == 0 { u32::MAX } else { snap };
                            let caplen = b.data.len().min(b.original_len.min(snap) as usize);
                            (0, None, caplen, b.original_len, SIMPLE_DATA_START)
                        }
                        _ => return Err(corrupt("unexpected block type".to_string())),
                    };
                    match self.interfaces.get(iface_id as usize) {
                        None => {
                            counters.unknown_interface += 1;
                            None
                        }
                        Some(iface) => {
                            if let Some(units) = units {
                                self.last_ts = iface.nanos(units);
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

#[allow(non_camel_case_types)]
type byteorder_le = byteorder_slice::LittleEndian;
#[allow(non_camel_case_types)]
type byteorder_be = byteorder_slice::BigEndian;

/// Reads the next block's total length and makes sure the whole block is in the buffer.
/// `Ok(Ok(0))` at a clean end of file; `Ok(Err(_))` when the file ends inside the block.
fn block_len<R: Read>(
    path: &Path,
    buf: &mut ByteBuffer<R>,
    little: bool,
    offset: u64,
) -> Result<Result<usize, Truncation>, CaptureError> {
    let io_err = |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !buf.fill(12).map_err(io_err)? {
        let present = buf.available().len();
        return Ok(if present == 0 {
            Ok(0)
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
    let word = |at: usize, little: bool| {
        let b: [u8; 4] = head
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 4]);
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
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
    Ok(Ok(len))
}
