//! A growable read buffer over any `Read`, with the file offset of every byte, so that the
//! format parsers can look at whole records in place and errors can name byte offsets.
//!
//! One block of [`BLOCK_SIZE`] bytes, reused in place: when a record runs past its end, the
//! unconsumed tail moves to the front and more is read behind it (the block grows for a
//! record larger than itself, and shrinks back after). Nothing outside the buffer keeps its
//! bytes: the plugin dispatcher holds monologue bytes in windows of its own
//! ([`super::window`]), so the block stays hot in the cache, as for `netan flows`.

use std::io::{self, Read};

/// Default capacity. Bytes are parsed and hashed right after `read` brought them in: a block
/// that fits in a core's L2 cache is still there when they are (1 MiB measured faster than
/// 4 MiB and than 256 KiB, whose reads cost more in the kernel; docs/performance.md).
pub(super) const BLOCK_SIZE: usize = 1 << 20;

pub(super) struct ByteBuffer<R> {
    reader: R,
    buf: Vec<u8>,
    /// First byte not yet consumed.
    start: usize,
    /// End of valid data.
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Start of the record consumed last (index into `buf`).
    record_start: usize,
    /// Read until the block is full, not only until the bytes asked for are there: for
    /// files, where a read returns at once (a gzip stream hands out a few KiB per read:
    /// fewer, larger refills). Not for pipes: waiting for a block's worth of a slow live
    /// stream would hold back what has arrived.
    greedy: bool,
    /// The reader reported its input cut short (`UnexpectedEof`: a gzip stream without its
    /// end); taken as the end of input, and told to the format parser's caller.
    cut_short: bool,
    /// A read error, kept until the bytes read before it are used up (a corrupt gzip member
    /// must not cost the records decompressed before it).
    failed: Option<io::Error>,
    /// The input ended because the reader said the run must stop ([`Stoppable`]).
    interrupted: bool,
}

/// Whether the user asked the run to stop (Ctrl-C, SIGTERM).
fn stop_requested() -> bool {
    crate::interrupt::requested().is_some()
}

/// A reader (the file itself, under any decompression) that ends the input when the run must
/// stop: it looks before every read, so that a stop asked for while frames were being worked
/// on is seen before the next read waits on a quiet pipe, and again when a signal interrupts
/// a read that was waiting (instead of retrying it blindly). The stop is an error of its own,
/// [`Stopped`], which decoders pass up as it is (flate2 retries a read that fails with
/// `Interrupted`, and would wait on).
pub(super) struct Stoppable<R> {
    inner: R,
    stop: fn() -> bool,
    /// The descriptor of a pipe or terminal `inner` reads: waited on with `poll` a slice of
    /// time at a time, so that a stop asked for just before a read starts waiting is still
    /// seen (a regular file's reads never wait).
    waits_on: Option<i32>,
}

/// How long a read on a pipe waits before looking at the stop again, in milliseconds.
const POLL_MS: i32 = 100;

impl Stoppable<std::fs::File> {
    /// `file`, stopping when Ctrl-C or SIGTERM asked the run to stop; `regular` when it is a
    /// regular file (reads that never wait).
    pub(super) fn new(file: std::fs::File, regular: bool) -> Self {
        #[cfg(unix)]
        let waits_on = (!regular).then(|| std::os::fd::AsRawFd::as_raw_fd(&file));
        #[cfg(not(unix))]
        let waits_on = {
            let _ = regular;
            None
        };
        Stoppable {
            inner: file,
            stop: stop_requested,
            waits_on,
        }
    }
}

/// Waits until `fd` has something to read (or has ended or failed: the read then says), for
/// at most [`POLL_MS`]. Returns whether to read now.
#[cfg(unix)]
fn readable(fd: i32) -> bool {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll reads and writes the one pollfd it is given, which lives on this stack
    // frame for the call; `fd` is the open descriptor of the file this reader owns.
    #[allow(unsafe_code)]
    let ready = unsafe { libc::poll(&mut pollfd, 1, POLL_MS) };
    // 0: time is up; -1: a signal (EINTR) or a failure poll cannot tell more of than read.
    ready > 0 || (ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted)
}

#[cfg(not(unix))]
fn readable(_fd: i32) -> bool {
    true
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if (self.stop)() {
                return Err(io::Error::other(Stopped));
            }
            if self.waits_on.is_some_and(|fd| !readable(fd)) {
                continue;
            }
            match self.inner.read(out) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// The error [`Stoppable`] ends the input with.
#[derive(Debug)]
pub(super) struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reading stopped at the user's request")
    }
}

impl std::error::Error for Stopped {}

/// Whether `e` is [`Stoppable`]'s stop.
fn is_stop(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Stopped>())
}

impl<R: Read> ByteBuffer<R> {
    pub(super) fn new(reader: R) -> Self {
        ByteBuffer {
            reader,
            buf: vec![0; BLOCK_SIZE],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            record_start: 0,
            greedy: false,
            cut_short: false,
            failed: None,
            interrupted: false,
        }
    }

    /// Whether the input ended because the user asked the run to stop (a read waiting for
    /// input was interrupted): what was read before is whole, nothing is missing.
    pub(super) fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Makes every fill read until the block is full (see `greedy`).
    pub(super) fn set_greedy(&mut self, greedy: bool) {
        self.greedy = greedy;
    }

    /// The bytes read but not consumed yet.
    pub(super) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// File offset of the first unconsumed byte.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Reads until at least `need` bytes are available or the input ends. Returns whether
    /// `need` bytes are available.
    pub(super) fn fill(&mut self, need: usize) -> io::Result<bool> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        if self.eof {
            return self.failure();
        }
        if self.start + need > self.buf.len() {
            // Move the unconsumed tail to the front, growing the block if one record needs
            // more than its capacity, or back to its size once records fit again.
            let (start, end) = (self.start, self.end);
            self.buf.copy_within(start..end, 0);
            if need > self.buf.len() {
                self.buf.resize(need.next_power_of_two(), 0);
            } else if self.buf.len() > BLOCK_SIZE && need <= BLOCK_SIZE && end - start <= BLOCK_SIZE
            {
                self.buf.truncate(BLOCK_SIZE);
                self.buf.shrink_to_fit();
            }
            self.base += start as u64;
            self.end -= start;
            self.record_start = self.record_start.saturating_sub(start);
            self.start = 0;
        }
        while !self.eof
            && (self.end - self.start < need || (self.greedy && self.end < self.buf.len()))
        {
            let end = self.end;
            let Some(space) = self.buf.get_mut(end..) else {
                break;
            };
            match self.reader.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The run must stop: the input ends here, cleanly.
                Err(e) if is_stop(&e) => {
                    self.eof = true;
                    self.interrupted = true;
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.eof = true;
                    self.cut_short = true;
                }
                Err(e) => {
                    self.eof = true;
                    self.failed = Some(e);
                }
            }
        }
        if self.end - self.start >= need {
            return Ok(true);
        }
        self.failure()
    }

    /// Not enough bytes are left: the read error that ended the input (with where), or
    /// `Ok(false)` at a clean end.
    fn failure(&mut self) -> io::Result<bool> {
        let (record, end) = (self.base + self.start as u64, self.base + self.end as u64);
        match self.failed.take() {
            // Between records: where reading stopped. Inside one: where that record starts
            // (what was lost), and how far the readable part went.
            Some(e) if record == end => Err(io::Error::new(
                e.kind(),
                format!("{e} (after byte offset {end})"),
            )),
            Some(e) => Err(io::Error::new(
                e.kind(),
                format!(
                    "{e} (in the record at byte offset {record}; the readable part ends at byte offset {end})"
                ),
            )),
            None => Ok(false),
        }
    }

    /// Whether the input ended because the reader found it cut short.
    pub(super) fn cut_short(&self) -> bool {
        self.cut_short
    }

    /// Marks `n` available bytes as consumed: they form the current record.
    pub(super) fn consume(&mut self, n: usize) {
        self.record_start = self.start;
        self.start = (self.start + n).min(self.end);
    }

    /// `len` bytes at `rel` within the record consumed last.
    pub(super) fn record(&self, rel: usize, len: usize) -> &[u8] {
        let from = self.record_start + rel;
        self.buf.get(from..from + len).unwrap_or(&[])
    }

    /// Gives up the buffer: returns a reader that yields the unconsumed bytes, then the rest
    /// of the input.
    pub(super) fn into_reader_with_pending(self) -> io::Chain<io::Cursor<Vec<u8>>, R> {
        let pending = self.available().to_vec();
        io::Cursor::new(pending).chain(self.reader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call, like a pipe.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// A reader whose every read fails (chained after good bytes: a stream corrupt midway).
    struct Broken;

    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "corrupt deflate",
            ))
        }
    }

    /// A read error inside a record names where the record starts (what was lost), not only
    /// where the readable bytes end.
    #[test]
    fn a_read_error_inside_a_record_names_the_records_offset() {
        let data: Vec<u8> = (0..=255).collect();
        let mut b = ByteBuffer::new((&data[..150]).chain(Broken));
        assert!(b.fill(100).unwrap());
        b.consume(100);
        let err = b.fill(100).unwrap_err().to_string();
        assert!(
            err.contains(
                "in the record at byte offset 100; the readable part ends at byte offset 150"
            ),
            "{err}"
        );
    }

    /// A reader whose reads after the first `ok` bytes are interrupted by a signal, `times`
    /// times, before the rest comes.
    struct Signalled<'a> {
        data: &'a [u8],
        ok: usize,
        times: usize,
    }

    impl Read for Signalled<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.ok == 0 && self.times > 0 {
                self.times -= 1;
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n =
                out.len()
                    .min(self.data.len())
                    .min(if self.ok > 0 { self.ok } else { usize::MAX });
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.ok -= n.min(self.ok);
            Ok(n)
        }
    }

    #[test]
    fn an_interrupted_read_is_tried_again_unless_the_run_must_stop() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let data: Vec<u8> = (0..100).collect();
        let reader = |times, stop| Stoppable {
            inner: Signalled {
                data: &data,
                ok: 10,
                times,
            },
            stop,
            waits_on: None,
        };
        // Another signal's EINTR: the read goes on, nothing is lost.
        let mut b = ByteBuffer::new(reader(3, || false));
        assert!(b.fill(100).unwrap());
        assert_eq!(b.available(), &data[..]);
        assert!(!b.interrupted());
        // Ctrl-C while a read waits: the input ends where it was, cleanly (no error), and
        // says so.
        // (The stop comes with the EINTR: the third look, after the first read and the
        // interrupted second one.)
        static LOOKS: AtomicUsize = AtomicUsize::new(0);
        let mut b = ByteBuffer::new(Stoppable {
            inner: Signalled {
                data: &data,
                ok: 10,
                times: 1,
            },
            stop: || LOOKS.fetch_add(1, Ordering::Relaxed) >= 2,
            waits_on: None,
        });
        assert!(!b.fill(100).unwrap());
        assert_eq!(b.available(), &data[..10]);
        assert!(b.interrupted());
        assert!(!b.cut_short());
        // Ctrl-C while frames were worked on: seen before the next read, which never waits.
        let mut b = ByteBuffer::new(reader(0, || true));
        assert!(!b.fill(1).unwrap());
        assert!(b.interrupted());
        // Through a decoder that retries EINTR itself (flate2): the stop still ends it.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        let mut b = ByteBuffer::new(flate2::read::MultiGzDecoder::new(Stoppable {
            inner: &gz[..],
            stop: || true,
            waits_on: None,
        }));
        assert!(!b.fill(1).unwrap());
        assert!(b.interrupted());
    }

    #[test]
    fn fill_collects_short_reads_and_reports_eof() {
        let data: Vec<u8> = (0..=255).collect();
        let mut b = ByteBuffer::new(Trickle {
            data: &data,
            step: 7,
        });
        assert!(b.fill(100).unwrap());
        assert_eq!(&b.available()[..100], &data[..100]);
        b.consume(100);
        assert_eq!(b.offset(), 100);
        assert_eq!(b.record(0, 3), &[0, 1, 2]);
        assert!(!b.fill(1000).unwrap());
        assert_eq!(b.available(), &data[100..]);
    }

    #[test]
    fn the_block_grows_for_a_large_record_and_shrinks_back_after() {
        let data: Vec<u8> = (0..BLOCK_SIZE * 8).map(|i| (i % 251) as u8).collect();
        let mut b = ByteBuffer::new(&data[..]);
        assert!(b.fill(10).unwrap());
        b.consume(5);
        assert!(b.fill(3 * BLOCK_SIZE).unwrap());
        assert_eq!(b.offset(), 5);
        assert_eq!(b.buf.len(), 4 * BLOCK_SIZE);
        b.consume(3 * BLOCK_SIZE);
        assert_eq!(b.record(0, 3), &data[5..8]);
        assert_eq!(b.offset(), 3 * BLOCK_SIZE as u64 + 5);
        // Ordinary records after it: once the tail moves, the block is its usual size again,
        // and every record is still the input's bytes at its offset.
        for _ in 0..40 {
            assert!(b.fill(100_000).unwrap());
            let at = b.offset() as usize;
            b.consume(100_000);
            assert_eq!(b.record(0, 100_000), &data[at..at + 100_000]);
        }
        assert_eq!(b.buf.len(), BLOCK_SIZE);
    }

    #[test]
    fn a_greedy_buffer_fills_its_block_from_short_reads_and_a_plain_one_stops_at_need() {
        let data: Vec<u8> = (0..BLOCK_SIZE * 2).map(|i| (i % 253) as u8).collect();
        // A gzip decoder or a pipe hands out a few KiB per read.
        let mut greedy = ByteBuffer::new(Trickle {
            data: &data,
            step: 4096,
        });
        greedy.set_greedy(true);
        assert!(greedy.fill(10).unwrap());
        assert_eq!(greedy.available().len(), BLOCK_SIZE);
        assert_eq!(greedy.available(), &data[..BLOCK_SIZE]);
        let mut plain = ByteBuffer::new(Trickle {
            data: &data,
            step: 4096,
        });
        assert!(plain.fill(10).unwrap());
        assert_eq!(plain.available().len(), 4096);
    }

    /// A reader whose input stops short, as a gzip decoder reports a stream without its end.
    struct CutShort<'a>(&'a [u8]);

    impl Read for CutShort<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "incomplete deflate stream",
                ));
            }
            let n = out.len().min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn input_cut_short_ends_the_input_and_is_remembered() {
        let data = [1u8, 2, 3, 4, 5];
        let mut b = ByteBuffer::new(CutShort(&data));
        assert!(!b.fill(10).unwrap());
        assert_eq!(b.available(), &data);
        assert!(b.cut_short());
        let mut whole = ByteBuffer::new(&data[..]);
        assert!(!whole.fill(10).unwrap());
        assert!(!whole.cut_short());
    }
}
