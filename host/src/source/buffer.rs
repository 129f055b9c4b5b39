//! A growable read buffer over any `Read`, with the file offset of every byte, so that the
//! format parsers can look at whole records in place and errors can name byte offsets.
//!
//! The bytes live in a shared block (`Arc<Vec<u8>>`). While nobody else holds the block it is
//! reused in place (the unconsumed tail moved to the front, more read behind it). A consumer
//! that wants to keep frame bytes beyond the frame (the plugin dispatcher gathers monologue
//! parts without copying them) clones the block; the next fill then reads into a fresh block
//! (or a retired one nobody holds any more) and leaves the held one untouched.

use std::io::{self, Read};
use std::sync::Arc;

/// Default capacity. Bytes are parsed and hashed right after `read` brought them in: a block
/// that fits in a core's L2 cache is still there when they are (1 MiB measured faster than
/// 4 MiB and than 256 KiB, whose reads cost more in the kernel; docs/performance.md).
pub const BLOCK_SIZE: usize = 1 << 20;

/// Retired blocks kept to be reused once their last holder lets go: more than the plugin
/// dispatcher pins at its default `max_monologue_buffer` (16 blocks), so that reading never
/// has to fault in fresh memory once the run is warm.
const RETIRED: usize = 64;

pub(super) struct ByteBuffer<R> {
    reader: R,
    buf: Arc<Vec<u8>>,
    /// Blocks given up while still held elsewhere, to reuse when they are free again.
    retired: Vec<Arc<Vec<u8>>>,
    /// First byte not yet consumed.
    start: usize,
    /// End of valid data.
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Start of the record consumed last (index into `buf`).
    record_start: usize,
    /// Counts block switches, so consumers can tell blocks apart.
    generation: u64,
    /// Read until the block is full, not only until the bytes asked for are there: for
    /// files, where a read returns at once, so that blocks held by consumers are full (a
    /// gzip stream hands out a few KiB per read). Not for pipes: waiting for a block's worth
    /// of a slow live stream would hold back what has arrived.
    greedy: bool,
    /// The reader reported its input cut short (`UnexpectedEof`: a gzip stream without its
    /// end); taken as the end of input, and told to the format parser's caller.
    cut_short: bool,
    /// A read error, kept until the bytes read before it are used up (a corrupt gzip member
    /// must not cost the records decompressed before it).
    failed: Option<io::Error>,
}

impl<R: Read> ByteBuffer<R> {
    pub(super) fn new(reader: R) -> Self {
        ByteBuffer {
            reader,
            buf: Arc::new(vec![0; BLOCK_SIZE]),
            retired: Vec::new(),
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            record_start: 0,
            generation: 0,
            greedy: false,
            cut_short: false,
            failed: None,
        }
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

    /// The current block and its generation.
    pub(super) fn block(&self) -> (&Arc<Vec<u8>>, u64) {
        (&self.buf, self.generation)
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
        if Arc::get_mut(&mut self.buf).is_none() {
            self.switch_block(need);
        } else if self.start + need > self.buf.len() {
            // Move the unconsumed tail to the front, growing the buffer if one record needs
            // more than its capacity.
            let (start, end) = (self.start, self.end);
            if let Some(buf) = Arc::get_mut(&mut self.buf) {
                buf.copy_within(start..end, 0);
                if need > buf.len() {
                    buf.resize(need.next_power_of_two(), 0);
                }
            }
            self.base += self.start as u64;
            self.end -= self.start;
            self.record_start = self.record_start.saturating_sub(self.start);
            self.start = 0;
        }
        while !self.eof
            && (self.end - self.start < need || (self.greedy && self.end < self.buf.len()))
        {
            let end = self.end;
            let Some(space) = Arc::get_mut(&mut self.buf).and_then(|b| b.get_mut(end..)) else {
                break;
            };
            match self.reader.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
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
        match self.failed.take() {
            Some(e) => Err(io::Error::new(
                e.kind(),
                format!("{e} (after byte offset {})", self.base + self.end as u64),
            )),
            None => Ok(false),
        }
    }

    /// Continues in another block (a retired one nobody holds, else a new one), with the
    /// unconsumed tail copied to its front; the current block is left to its holders.
    fn switch_block(&mut self, need: usize) {
        let size = BLOCK_SIZE.max(need.next_power_of_two());
        // Blocks grown for a record larger than BLOCK_SIZE go once nobody holds them: kept,
        // they would be reused for ordinary input and hold that much memory per block.
        self.retired
            .retain(|b| b.len() == BLOCK_SIZE || Arc::strong_count(b) > 1);
        // The most recently retired free block first: it is the likeliest still in cache.
        let free = self
            .retired
            .iter()
            .rposition(|b| Arc::strong_count(b) == 1 && b.len() == size);
        let mut next = match free {
            Some(i) => self.retired.remove(i),
            None => Arc::new(vec![0; size]),
        };
        let tail = self.buf.get(self.start..self.end).unwrap_or(&[]);
        if let Some(b) = Arc::get_mut(&mut next) {
            if let Some(dst) = b.get_mut(..tail.len()) {
                dst.copy_from_slice(tail);
            }
        }
        let old = std::mem::replace(&mut self.buf, next);
        if self.retired.len() >= RETIRED {
            self.retired.remove(0);
        }
        self.retired.push(old);
        self.base += self.start as u64;
        self.end -= self.start;
        self.record_start = self.record_start.saturating_sub(self.start);
        self.start = 0;
        self.generation += 1;
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
    fn a_held_block_is_left_alone_and_reading_goes_on_in_another() {
        let data: Vec<u8> = (0..BLOCK_SIZE * 3).map(|i| (i % 251) as u8).collect();
        let mut b = ByteBuffer::new(&data[..]);
        assert!(b.fill(100).unwrap());
        b.consume(BLOCK_SIZE - 10);
        let (held, generation) = (b.block().0.clone(), b.block().1);
        let before: Vec<u8> = held.get(..BLOCK_SIZE).unwrap().to_vec();
        assert!(b.fill(50).unwrap());
        assert_eq!(b.block().1, generation + 1);
        // The held block still has its bytes; the new one continues the stream.
        assert_eq!(held.get(..BLOCK_SIZE).unwrap(), &before[..]);
        assert_eq!(
            &b.available()[..50],
            &data[BLOCK_SIZE - 10..BLOCK_SIZE + 40]
        );
        assert_eq!(b.offset(), (BLOCK_SIZE - 10) as u64);
        drop(held);
        // Once nobody holds it, a retired block is reused instead of allocating.
        b.consume(b.available().len());
        assert!(b.fill(10).unwrap());
    }

    #[test]
    fn fill_grows_for_records_larger_than_capacity() {
        let data = vec![7u8; BLOCK_SIZE * 2 + 5];
        let mut b = ByteBuffer::new(&data[..]);
        b.fill(10).unwrap();
        b.consume(5);
        assert!(b.fill(BLOCK_SIZE + 100).unwrap());
        assert_eq!(b.offset(), 5);
        b.consume(BLOCK_SIZE + 100);
        assert_eq!(b.record(0, 4), &[7, 7, 7, 7]);
        assert_eq!(b.offset(), BLOCK_SIZE as u64 + 105);
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

    #[test]
    fn blocks_grown_for_a_large_record_are_not_reused_for_ordinary_input() {
        let data = vec![3u8; BLOCK_SIZE * 8];
        let mut b = ByteBuffer::new(&data[..]);
        assert!(b.fill(10).unwrap());
        // A consumer holds the block: a 3 MiB record goes to a new, larger block.
        let held = b.block().0.clone();
        b.consume(5);
        assert!(b.fill(3 * BLOCK_SIZE).unwrap());
        let big = b.block().0.clone();
        assert_eq!(big.len(), 4 * BLOCK_SIZE);
        b.consume(b.available().len());
        // Held again, the big block is left for the next read, which gets a BLOCK_SIZE one.
        assert!(b.fill(10).unwrap());
        assert_eq!(b.block().0.len(), BLOCK_SIZE);
        drop((held, big));
        // Now free, the big block is dropped rather than reused: every later block is small.
        let held = b.block().0.clone();
        b.consume(b.available().len());
        assert!(b.fill(10).unwrap());
        assert_eq!(b.block().0.len(), BLOCK_SIZE);
        assert!(b.retired.iter().all(|r| r.len() == BLOCK_SIZE));
        drop(held);
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
