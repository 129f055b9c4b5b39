//! Classic libpcap files: the file header through `pcap-file`, then one record after another.
//!
//! Record lengths are checked before a record is read, so a corrupt length (the corpus has
//! files with 4 MB and 3.9 GB record headers after good records) is reported as corruption at
//! its offset instead of being read into memory. Timestamps whose fraction is out of range are
//! carried into the seconds and counted, as tcpdump and tshark show them.

use std::io::Read;
use std::path::Path;

use pcap_file::pcap::{PcapHeader, PcapParser};
use pcap_file::{Endianness, TsResolution};

use super::buffer::ByteBuffer;
use super::{CaptureError, FrameMeta, SourceCounters, Step, Truncation, MAX_RECORD_LEN};

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// libpcap's MAXIMUM_SNAPLEN: records up to this size are accepted whatever the file's
/// snap length says (BIG TCP captures hold 80 KB frames in files that claim less).
const LIBPCAP_MAX_SNAPLEN: u32 = 262_144;

pub(super) struct PcapState {
    parser: PcapParser,
    linktype: u32,
    nanos: bool,
    little: bool,
    max_len: u32,
    /// The file header's snap length (0: none given).
    snaplen: u32,
}

impl PcapState {
    pub(super) fn open<R: Read>(
        path: &Path,
        buf: &mut ByteBuffer<R>,
    ) -> Result<PcapState, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !buf.fill(FILE_HEADER_LEN).map_err(io_err)? {
            return Err(CaptureError::Corrupt {
                path: path.to_path_buf(),
                what: "file header",
                offset: 0,
                reason: format!(
                    "the pcap file header needs {FILE_HEADER_LEN} bytes, the file has {}",
                    buf.available().len()
                ),
            });
        }
        let (_, parser) = PcapParser::new(buf.available()).map_err(|e| CaptureError::Corrupt {
            path: path.to_path_buf(),
            what: "file header",
            offset: 0,
            reason: e.to_string(),
        })?;
        buf.consume(FILE_HEADER_LEN);
        let header: PcapHeader = parser.header();
        // Every pcap writer since 1998 writes 2.4; libpcap and Wireshark refuse other major
        // versions, whose records may be laid out otherwise.
        if header.version_major != 2 {
            return Err(CaptureError::Corrupt {
                path: path.to_path_buf(),
                what: "file header",
                offset: 0,
                reason: format!(
                    "pcap version {}.{}: only 2.x is read",
                    header.version_major, header.version_minor
                ),
            });
        }
        Ok(PcapState {
            // The upper bits of the field carry FCS information (libpcap's LT_FCS_*); the
            // link type is the low 16 bits (LT_LINKTYPE).
            linktype: u32::from(header.datalink) & 0xffff,
            nanos: header.ts_resolution == TsResolution::NanoSecond,
            little: header.endianness == Endianness::Little,
            max_len: header.snaplen.max(LIBPCAP_MAX_SNAPLEN),
            snaplen: header.snaplen,
            parser,
        })
    }

    pub(super) fn next<R: Read>(
        &mut self,
        path: &Path,
        buf: &mut ByteBuffer<R>,
        counters: &mut SourceCounters,
    ) -> Result<Step, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        };
        let offset = buf.offset();
        if !buf.fill(RECORD_HEADER_LEN).map_err(io_err)? {
            let present = buf.available().len();
            return Ok(if present == 0 {
                Step::End
            } else {
                Step::Truncated(Truncation {
                    offset,
                    present,
                    expected: RECORD_HEADER_LEN,
                    stream_cut: false,
                })
            });
        }
        let incl_len = self.read_u32(buf.available(), 8);
        if incl_len > self.max_len || incl_len as usize > MAX_RECORD_LEN {
            return Err(CaptureError::Corrupt {
                path: path.to_path_buf(),
                what: "record",
                offset,
                reason: format!(
                    "captured length {incl_len} exceeds the largest plausible record ({} bytes)",
                    self.max_len.min(MAX_RECORD_LEN as u32)
                ),
            });
        }
        let total = RECORD_HEADER_LEN + incl_len as usize;
        if !buf.fill(total).map_err(io_err)? {
            // A capture cut while it was written ends inside a record of a plausible length;
            // one that claims more than the snap length and than is left is a corrupt length
            // in mid-file, whose rest would otherwise be dropped with only a warning.
            let present = buf.available().len();
            if self.snaplen > 0 && incl_len > self.snaplen {
                return Err(CaptureError::Corrupt {
                    path: path.to_path_buf(),
                    what: "record",
                    offset,
                    reason: format!(
                        "captured length {incl_len} is more than the snap length {} and than the file holds ({} bytes after the record header): a corrupt length; the rest of the file was not read",
                        self.snaplen,
                        present.saturating_sub(RECORD_HEADER_LEN)
                    ),
                });
            }
            return Ok(Step::Truncated(Truncation {
                offset,
                present: buf.available().len(),
                expected: total,
                stream_cut: false,
            }));
        }
        let (_, raw) =
            self.parser
                .next_raw_packet(buf.available())
                .map_err(|e| CaptureError::Corrupt {
                    path: path.to_path_buf(),
                    what: "record",
                    offset,
                    reason: e.to_string(),
                })?;
        let (frac_limit, frac_scale) = if self.nanos {
            (1_000_000_000, 1)
        } else {
            (1_000_000, 1000)
        };
        if raw.ts_frac >= frac_limit {
            counters.invalid_timestamp += 1;
        }
        let ts = u64::from(raw.ts_sec) * 1_000_000_000 + u64::from(raw.ts_frac) * frac_scale;
        let mut orig_len = raw.orig_len;
        if orig_len < incl_len {
            counters.caplen_over_len += 1;
            orig_len = incl_len;
        }
        buf.consume(total);
        Ok(Step::Frame(FrameMeta {
            ts,
            linktype: self.linktype,
            orig_len,
            data_start: RECORD_HEADER_LEN,
            data_len: incl_len as usize,
            offset,
        }))
    }

    fn read_u32(&self, bytes: &[u8], at: usize) -> u32 {
        super::u32_at(bytes, at, self.little).unwrap_or(0)
    }
}
