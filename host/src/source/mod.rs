//! Capture input: turns pcap, pcapng and gzip-compressed capture files into one stream of
//! [`Frame`]s, reading through a large buffer so that a capture is never held in memory whole.
//!
//! * [`CaptureFile`] reads one file. The format is recognised from the first bytes, not from
//!   the file name: classic pcap (microsecond or nanosecond, either byte order), pcapng (any
//!   number of sections and interfaces, each interface with its own link type and timestamp
//!   resolution) and either of them gzip-compressed.
//! * [`expand_inputs`] turns the command-line arguments (files and directories) into the
//!   ordered list of files that are analysed as one timeline.
//!
//! Errors carry the file name and the byte offset of the record that could not be read. For a
//! gzip file the offset counts decompressed bytes. A file that ends in the middle of a record is
//! not an error: [`CaptureFile::truncation`] says where it stopped and the caller warns.

mod buffer;
mod pcap;
mod pcapng;
mod sigbus;
mod window;

pub use window::{FileView, Window, WINDOW_ALIGN};

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use buffer::ByteBuffer;

/// `N` bytes of `bytes` at `at`, stored little-endian (`little`) or not, in little-endian
/// order: what `from_le_bytes` reads, whatever the file's byte order.
fn little_endian<const N: usize>(bytes: &[u8], at: usize, little: bool) -> Option<[u8; N]> {
    let mut b: [u8; N] = crate::decode::link::array(bytes, at)?;
    if !little {
        b.reverse();
    }
    Some(b)
}

/// The `u32` at `at` of `bytes`, stored little-endian (`little`) or big-endian.
fn u32_at(bytes: &[u8], at: usize, little: bool) -> Option<u32> {
    little_endian(bytes, at, little).map(u32::from_le_bytes)
}

/// Largest record or block accepted, in bytes. Anything larger is treated as corruption
/// rather than read into memory (libpcap's own bound for pcapng blocks is 16 MiB).
pub const MAX_RECORD_LEN: usize = 64 << 20;

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture timestamp, nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Link-layer type of the interface that captured the frame (LINKTYPE_* value).
    pub linktype: u32,
    /// Length of the frame on the wire; larger than `data.len()` when the snap length cut it.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// Byte offset of the record in the (decompressed) file, for diagnostics.
    pub offset: u64,
    /// Byte offset of `data` in the (decompressed) file: where a consumer that keeps frame
    /// bytes finds them in a [`Window`].
    pub data_offset: u64,
}

/// Why a capture file could not be read (further).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{}: {source}", input_name(path))]
    Io {
        /// The capture file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a pcap or pcapng capture (nor a gzip-compressed one).
    #[error(
        "{}: not a pcap or pcapng capture (first bytes {magic})",
        input_name(path)
    )]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// The first bytes, in hex.
        magic: String,
    },
    /// A record or block is malformed; everything before `offset` was read.
    #[error(
        "{}: corrupt {what} at byte offset {offset}: {reason}",
        input_name(path)
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// "record", "block", "file header", ...
        what: &'static str,
        /// Byte offset of the record (decompressed bytes for gzip input).
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where a capture file ended in the middle of a record.
#[derive(Debug, Clone)]
pub struct Truncation {
    /// Byte offset where the incomplete record starts.
    pub offset: u64,
    /// Bytes present of that record.
    pub present: usize,
    /// Bytes the record header announced (or the minimum header size when the header itself
    /// was cut).
    pub expected: usize,
    /// The compressed (gzip) stream itself is cut short: the decompressor found its end
    /// missing. With `present` and `expected` 0, the cut fell between two records.
    pub stream_cut: bool,
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.stream_cut && self.present == 0 && self.expected == 0 {
            return write!(
                f,
                "the gzip stream is cut short after byte offset {} of the capture (between \
                 two records); everything before it was analysed",
                self.offset
            );
        }
        write!(
            f,
            "{} inside the record at byte offset {} ({} of {} bytes present); \
             everything before it was analysed",
            if self.stream_cut {
                "the gzip stream is cut short"
            } else {
                "file ends"
            },
            self.offset,
            self.present,
            self.expected
        )
    }
}

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    PcapNg,
}

enum Parser {
    Pcap(pcap::PcapState),
    PcapNg(pcapng::PcapNgState),
}

/// Counters about the records of one file that were read but carry no frame, or that had to be
/// repaired.
#[derive(Debug, Default, Clone, Copy)]
pub struct SourceCounters {
    /// pcapng packets that name an interface that was never described.
    pub unknown_interface: u64,
    /// Records whose timestamp fraction was out of range (for example microseconds ≥ 10⁶);
    /// the excess is carried into the seconds.
    pub invalid_timestamp: u64,
    /// Records whose captured length exceeds the original length (the original length is
    /// then taken to be the captured length).
    pub caplen_over_len: u64,
}

/// A capture file opened for reading.
pub struct CaptureFile {
    path: PathBuf,
    buf: ByteBuffer<Box<dyn Read + Send>>,
    parser: Parser,
    format: Format,
    compressed: bool,
    /// The file again, when it is regular and uncompressed: windows of it can be mapped.
    plain: Option<FileView>,
    /// Compressed bytes the decoder has read (gzip files only).
    disk_read: Arc<AtomicU64>,
    truncation: Option<Truncation>,
    counters: SourceCounters,
    finished: bool,
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The input name that stands for standard input (`tcpdump -w - | netan run -`).
pub const STDIN: &str = "-";

/// How messages name input `path`: "standard input" for [`STDIN`].
pub fn input_name(path: &Path) -> String {
    if path == Path::new(STDIN) {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}

/// The size of input `path` on disk, if it is a file (not standard input): what a progress
/// bar counts.
pub fn disk_size(path: &Path) -> Option<u64> {
    (path != Path::new(STDIN))
        .then(|| std::fs::metadata(path).ok())
        .flatten()
        .map(|m| m.len())
}

/// Standard input as a file of its own (the same open file: reading goes on where the shell
/// left it), so that it is read like any other input: a whole block at a time when it is a
/// regular file, as bytes come when it is a pipe.
fn stdin_file() -> std::io::Result<File> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "standard input is a terminal, not a capture (pipe one in: tcpdump -w - | netan run -)",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        Ok(File::from(std::io::stdin().as_fd().try_clone_to_owned()?))
    }
    #[cfg(not(unix))]
    {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "reading standard input needs a Unix system; give a file name",
        ))
    }
}

/// Opens `path` for reading without waiting: a named pipe's open would wait for its writer,
/// and an open that waits cannot be stopped by Ctrl-C (the standard library retries it). The
/// reads wait instead, watching for Ctrl-C ([`buffer::Stoppable`]). (`O_NONBLOCK` changes
/// nothing else for the kinds of file read here.)
fn open_file(path: &Path) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        blocking(&file)?;
        Ok(file)
    }
    #[cfg(not(unix))]
    File::open(path)
}

/// Makes reads of `file` wait again (it was opened with `O_NONBLOCK`).
#[cfg(unix)]
fn blocking(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl with F_GETFL / F_SETFL on a descriptor this function's caller owns and
    // keeps open; it reads and sets the descriptor's status flags, nothing else.
    #[allow(unsafe_code)]
    let done = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if done {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl CaptureFile {
    /// Opens `path` (standard input for [`STDIN`]) and reads its file header.
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        };
        let stdin = path == Path::new(STDIN);
        let mut file = if stdin { stdin_file() } else { open_file(path) }.map_err(io_err)?;
        let kind = file.metadata().map(|m| m.file_type()).ok();
        if kind.is_some_and(|k| k.is_dir()) {
            return Err(io_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is a directory",
            )));
        }
        // A regular file is read a whole block at a time; a pipe as its bytes come.
        let regular = kind.is_some_and(|k| k.is_file());
        // Windows are mapped at the file's own offsets: only when reading starts at its first
        // byte (standard input redirected from a file may start further on).
        let at_start = !stdin || file.stream_position().is_ok_and(|p| p == 0);
        let plain = (regular && at_start)
            .then(|| file.try_clone().ok())
            .flatten();
        let mut raw = ByteBuffer::new(
            Box::new(buffer::Stoppable::new(file, regular)) as Box<dyn Read + Send>
        );
        raw.fill(4).map_err(io_err)?;
        let compressed = raw.available().starts_with(&[0x1f, 0x8b]);
        let disk_read = Arc::new(AtomicU64::new(0));
        let mut buf = if compressed {
            let inner = Counted {
                inner: raw.into_reader_with_pending(),
                read: disk_read.clone(),
            };
            ByteBuffer::new(
                Box::new(flate2::read::MultiGzDecoder::new(inner)) as Box<dyn Read + Send>
            )
        } else {
            raw
        };
        buf.set_greedy(regular);
        if !buf.fill(4).map_err(io_err)? && buf.cut_short() {
            return Err(io_err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the gzip stream is cut short before the capture's first bytes",
            )));
        }
        let head = buf.available();
        let magic: Option<[u8; 4]> = head.get(..4).and_then(|m| m.try_into().ok());
        let format = match magic {
            Some([0xa1, 0xb2, 0xc3, 0xd4])
            | Some([0xd4, 0xc3, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0x3c, 0x4d])
            | Some([0x4d, 0x3c, 0xb2, 0xa1]) => Format::Pcap,
            Some([0x0a, 0x0d, 0x0d, 0x0a]) => Format::PcapNg,
            _ => {
                return Err(CaptureError::NotACapture {
                    path: path.to_path_buf(),
                    magic: if head.is_empty() {
                        "none: the file is empty".to_string()
                    } else {
                        head.iter().take(4).map(|b| format!("{b:02x}")).collect()
                    },
                })
            }
        };
        let parser = match format {
            Format::Pcap => Parser::Pcap(pcap::PcapState::open(path, &mut buf)?),
            Format::PcapNg => Parser::PcapNg(pcapng::PcapNgState::open(path, &mut buf)?),
        };
        Ok(CaptureFile {
            path: path.to_path_buf(),
            buf,
            parser,
            format,
            compressed,
            plain: plain
                .filter(|_| !compressed)
                .map(|file| FileView::new(file, path)),
            disk_read,
            truncation: None,
            counters: SourceCounters::default(),
            finished: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the file is gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// A view to map windows of the file from, for a regular uncompressed file (`None` for
    /// gzip and pipes: a consumer that keeps frame bytes copies them), handed over once.
    pub fn view(&mut self) -> Option<FileView> {
        self.plain.take()
    }

    /// Bytes of the (decompressed) file consumed so far.
    pub fn position(&self) -> u64 {
        self.buf.offset()
    }

    /// Bytes of the file on disk read so far (compressed bytes for a gzip file): what a
    /// progress bar over file sizes counts.
    pub fn disk_position(&self) -> u64 {
        if self.compressed {
            self.disk_read.load(Ordering::Relaxed)
        } else {
            self.position()
        }
    }

    /// Set once the file turned out to end inside a record.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// Whether reading ended because the user asked the run to stop (a read waiting for input
    /// was interrupted by Ctrl-C or SIGTERM): not a truncation.
    pub fn interrupted(&self) -> bool {
        self.buf.interrupted()
    }

    /// Counters of repaired or skipped records.
    pub fn counters(&self) -> SourceCounters {
        self.counters
    }

    /// Reads the next frame. `Ok(None)` at the end of the file (including a file cut short in
    /// the middle of a record: see [`CaptureFile::truncation`]).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let step = match &mut self.parser {
            Parser::Pcap(p) => p.next(&self.path, &mut self.buf, &mut self.counters),
            Parser::PcapNg(p) => p.next(&self.path, &mut self.buf, &mut self.counters),
        };
        match step {
            Ok(Step::Frame(meta)) => {
                let data = self.buf.record(meta.data_start, meta.data_len);
                Ok(Some(Frame {
                    ts: meta.ts,
                    linktype: meta.linktype,
                    orig_len: meta.orig_len,
                    data,
                    offset: meta.offset,
                    data_offset: meta.offset + meta.data_start as u64,
                }))
            }
            // Reading stopped at the user's request: the input ends where it was, whatever
            // the parser made of the record it was in.
            Ok(Step::End | Step::Truncated(_)) if self.buf.interrupted() => {
                self.finished = true;
                Ok(None)
            }
            Ok(Step::End) => {
                self.finished = true;
                if self.buf.cut_short() {
                    self.truncation = Some(Truncation {
                        offset: self.buf.offset(),
                        present: 0,
                        expected: 0,
                        stream_cut: true,
                    });
                }
                Ok(None)
            }
            Ok(Step::Truncated(mut t)) => {
                self.finished = true;
                t.stream_cut = self.buf.cut_short();
                self.truncation = Some(t);
                Ok(None)
            }
            Err(e) => {
                self.finished = true;
                Err(e)
            }
        }
    }
}

/// What a format parser found next. Frame data stays in the buffer; `data_start` is relative
/// to the start of the record that was just consumed (see [`ByteBuffer::record`]).
enum Step {
    Frame(FrameMeta),
    End,
    Truncated(Truncation),
}

struct FrameMeta {
    ts: u64,
    linktype: u32,
    orig_len: u32,
    data_start: usize,
    data_len: usize,
    offset: u64,
}

/// Names that a directory scan takes as capture files.
const CAPTURE_EXTENSIONS: &[&str] = &[
    ".pcap",
    ".pcapng",
    ".cap",
    ".dmp",
    ".pcap.gz",
    ".pcapng.gz",
    ".cap.gz",
    ".gz",
];

/// The files to analyse, in order, and the directory entries passed over.
#[derive(Debug, Default)]
pub struct InputList {
    /// Capture files in analysis order.
    pub files: Vec<PathBuf>,
    /// Files inside directory arguments that were not taken (no capture extension).
    pub skipped: Vec<PathBuf>,
    /// Directory arguments with no capture file in them (see [`no_capture_in`]).
    pub empty: Vec<PathBuf>,
}

/// What a directory argument with no capture file in it is: an input that could not be read.
pub fn no_capture_in(dir: &Path) -> CaptureError {
    let names: Vec<&str> = CAPTURE_EXTENSIONS
        .iter()
        .map(|e| e.trim_start_matches('.'))
        .collect();
    CaptureError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no capture file in this directory (names ending in .{})",
                names.join(", .")
            ),
        ),
    }
}

/// Expands command-line inputs: a file is taken as is (whatever its name); a directory
/// contributes its regular files whose names end in a capture extension, sorted by name.
/// Directories are not searched recursively.
pub fn expand_inputs(args: &[PathBuf]) -> Result<InputList, CaptureError> {
    let mut list = InputList::default();
    for arg in args {
        // A file that cannot be looked at is kept: opening it reports the error in its turn.
        // `-` is standard input, whatever the current directory holds under that name.
        if arg == Path::new(STDIN) || !std::fs::metadata(arg).is_ok_and(|m| m.is_dir()) {
            list.files.push(arg.clone());
            continue;
        }
        let rd = std::fs::read_dir(arg).map_err(|source| CaptureError::Io {
            path: arg.clone(),
            source,
        })?;
        let mut entries = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|source| CaptureError::Io {
                path: arg.clone(),
                source,
            })?;
            let path = entry.path();
            // Only regular files are read: a subdirectory (not searched), a dangling link or a
            // named pipe (which would wait for a writer) is passed over, and listed as such.
            if !path.is_file() {
                list.skipped.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_lowercase();
            if CAPTURE_EXTENSIONS.iter().any(|ext| name.ends_with(ext)) && !name.starts_with('.') {
                entries.push(path);
            } else {
                list.skipped.push(path);
            }
        }
        if entries.is_empty() {
            list.empty.push(arg.clone());
        }
        entries.sort();
        list.files.extend(entries);
    }
    Ok(list)
}

#[cfg(test)]
mod tests;
