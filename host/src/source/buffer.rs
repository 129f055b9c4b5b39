//! A growable read buffer over any `Read`, with the file offset of every byte, so that the
//! format parsers can look at whole records in place and errors can name byte offsets.

use std::io::{self, Read};

/// Default capacity: large enough that reads are few and far between, small enough to stay
/// in the last-level cache of most machines alongside the session table.
const DEFAULT_CAPACITY: usize = 4 << 20;

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
}

impl<R: Read> ByteBuffer<R> {
    pub(super) fn new(reader: R) -> Self {
        ByteBuffer {
            reader,
            buf: vec![0; DEFAULT_CAPACITY],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            record_start: 0,
        }
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
        if self.start + need > self.buf.len() {
            // Move the unconsumed tail to the front, growing the buffer if one record needs
            // more than its capacity.
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.record_start = self.record_start.saturating_sub(self.start);
            self.start = 0;
            if need > self.buf.len() {
                self.buf.resize(need.next_power_of_two(), 0);
            }
        }
        while self.end - self.start < need && !self.eof {
            let Some(space) = self.buf.get_mut(self.end..) else {
                break;
            };
            match self.reader.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start >= need)
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
    fn fill_grows_for_records_larger_than_capacity() {
        let data = vec![7u8; DEFAULT_CAPACITY * 2 + 5];
        let mut b = ByteBuffer::new(&data[..]);
        b.fill(10).unwrap();
        b.consume(5);
        assert!(b.fill(DEFAULT_CAPACITY + 100).unwrap());
        assert_eq!(b.offset(), 5);
        b.consume(DEFAULT_CAPACITY + 100);
        assert_eq!(b.record(0, 4), &[7, 7, 7, 7]);
        assert_eq!(b.offset(), DEFAULT_CAPACITY as u64 + 105);
    }
}
