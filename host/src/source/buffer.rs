//! A growable read buffer over any `Read`, or over a capture file mapped into memory, with the
//! file offset of every byte, so that the format parsers can look at whole records in place
//! and errors can name byte offsets.
//!
//! The bytes live in a shared [`Block`] (`Arc<Block>`). A regular, uncompressed file is mapped
//! a window at a time: each block is a read-only mapping of about [`BLOCK_SIZE`] bytes of the
//! file, nothing is copied, and a window goes (is unmapped) when its last holder lets go. Any
//! other input (gzip, a pipe) is read into heap blocks: while nobody else holds the block it
//! is reused in place (the unconsumed tail moved to the front, more read behind it). A
//! consumer that wants to keep frame bytes beyond the frame (the plugin dispatcher gathers
//! monologue parts without copying them) clones the block; the next fill then continues in a
//! fresh block (or a retired one nobody holds any more) and leaves the held one untouched.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

/// The bytes of one input block: read into memory, or a window of a capture file mapped into
/// memory.
pub struct Block(Storage);

enum Storage {
    Heap(Vec<u8>),
    /// A mapping that starts on an aligned offset; the block is what follows `skip`.
    /// `guard` is its slot in the SIGBUS handler's list of windows.
    Mapped {
        map: memmap2::Mmap,
        skip: usize,
        guard: Option<usize>,
    },
}

impl Drop for Storage {
    fn drop(&mut self) {
        // Out of the handler's list before the window is unmapped.
        if let Storage::Mapped {
            guard: Some(slot), ..
        } = self
        {
            super::sigbus::unregister(*slot);
        }
    }
}

impl Block {
    fn heap(bytes: Vec<u8>) -> Block {
        Block(Storage::Heap(bytes))
    }

    fn heap_mut(&mut self) -> Option<&mut Vec<u8>> {
        match &mut self.0 {
            Storage::Heap(v) => Some(v),
            Storage::Mapped { .. } => None,
        }
    }

    /// Whether the block is a window of a mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Storage::Mapped { .. })
    }
}

impl std::ops::Deref for Block {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Storage::Heap(v) => v,
            Storage::Mapped { map, skip, .. } => map.get(*skip..).unwrap_or(&[]),
        }
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Block({} bytes{})",
            self.len(),
            if self.is_mapped() { ", mapped" } else { "" }
        )
    }
}

/// A capture file read through memory maps.
struct Mapping {
    file: File,
    /// Its path, for the message if it shrinks while mapped.
    path: std::path::PathBuf,
    /// The file's length when last looked at.
    len: u64,
}

/// Mappings start on a page boundary; 64 KiB is a multiple of every page size Linux uses on
/// the platforms netan builds for (4 KiB, 16 KiB, 64 KiB).
const MAP_ALIGN: u64 = 64 << 10;

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
    /// Set when the input is a file read through memory maps (`reader` is then unused).
    map: Option<Mapping>,
    /// Size of a new block or window ([`BLOCK_SIZE`] unless set).
    block_size: usize,
    buf: Arc<Block>,
    /// Blocks given up while still held elsewhere, to reuse when they are free again.
    retired: Vec<Arc<Block>>,
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
            map: None,
            block_size: BLOCK_SIZE,
            buf: Arc::new(Block::heap(vec![0; BLOCK_SIZE])),
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

    /// A buffer whose blocks are `block_size` bytes (a held block's bytes are then laid out
    /// as a mapped file's windows of that size are: the same blocks whichever way the input
    /// comes in).
    pub(super) fn with_block_size(reader: R, block_size: usize) -> Self {
        let mut b = ByteBuffer::new(reader);
        b.block_size = block_size.max(MAP_ALIGN as usize);
        b.buf = Arc::new(Block::heap(vec![0; b.block_size]));
        b
    }

    /// A buffer over the regular file `file` (at `path`), read through memory maps of
    /// windows of `window` bytes (no copy). Each window starts at the first byte not consumed
    /// when it is mapped, as a read block starts with the unconsumed bytes moved to its
    /// front. `None` when the file cannot be mapped (or is empty): read it.
    pub(super) fn mapped(
        file: &File,
        path: &std::path::Path,
        window: usize,
        reader: R,
    ) -> Option<Self> {
        let len = file.metadata().ok().map(|m| m.len()).filter(|&n| n > 0)?;
        let mut b = ByteBuffer::new(reader);
        b.block_size = window.max(MAP_ALIGN as usize);
        b.buf = Arc::new(Block::heap(Vec::new()));
        b.map = Some(Mapping {
            file: file.try_clone().ok()?,
            path: path.to_path_buf(),
            len,
        });
        b.map_window(0, 1).ok().map(|_| b)
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
    pub(super) fn block(&self) -> (&Arc<Block>, u64) {
        (&self.buf, self.generation)
    }

    /// Reads until at least `need` bytes are available or the input ends. Returns whether
    /// `need` bytes are available.
    pub(super) fn fill(&mut self, need: usize) -> io::Result<bool> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        if self.map.is_some() {
            let from = self.base + self.start as u64;
            return self.map_window(from, need);
        }
        if self.eof {
            return self.failure();
        }
        if Arc::get_mut(&mut self.buf)
            .and_then(Block::heap_mut)
            .is_none()
        {
            self.switch_block(need);
        } else if self.start + need > self.buf.len() {
            // Move the unconsumed tail to the front, growing the buffer if one record needs
            // more than its capacity.
            let (start, end) = (self.start, self.end);
            if let Some(buf) = Arc::get_mut(&mut self.buf).and_then(Block::heap_mut) {
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
            let Some(space) = Arc::get_mut(&mut self.buf)
                .and_then(Block::heap_mut)
                .and_then(|b| b.get_mut(end..))
            else {
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
        let block_size = self.block_size;
        let size = block_size.max(need.next_power_of_two());
        // Blocks grown for a record larger than a block go once nobody holds them: kept, they
        // would be reused for ordinary input and hold that much memory per block.
        self.retired
            .retain(|b| b.len() == block_size || Arc::strong_count(b) > 1);
        // The most recently retired free block first: it is the likeliest still in cache.
        let free = self
            .retired
            .iter()
            .rposition(|b| Arc::strong_count(b) == 1 && b.len() == size);
        let mut next = match free {
            Some(i) => self.retired.remove(i),
            None => Arc::new(Block::heap(vec![0; size])),
        };
        let tail = self.buf.get(self.start..self.end).unwrap_or(&[]);
        if let Some(b) = Arc::get_mut(&mut next).and_then(Block::heap_mut) {
            if let Some(dst) = b.get_mut(..tail.len()) {
                dst.copy_from_slice(tail);
            }
        }
        let old = std::mem::replace(&mut self.buf, next);
        if self.retired.len() >= (RETIRED * BLOCK_SIZE / block_size).max(4) {
            self.retired.remove(0);
        }
        self.retired.push(old);
        self.base += self.start as u64;
        self.end -= self.start;
        self.record_start = self.record_start.saturating_sub(self.start);
        self.start = 0;
        self.generation += 1;
    }

    /// Maps the window of the file that starts at offset `from`: a block's worth of bytes,
    /// or more for a record that needs more (as [`ByteBuffer::switch_block`] sizes blocks), or
    /// as many as the file has; it becomes the current block. Returns whether `need` bytes
    /// are available.
    fn map_window(&mut self, from: u64, need: usize) -> io::Result<bool> {
        let Some(map) = self.map.as_mut() else {
            return Ok(false);
        };
        // The file's length now: a capture still being written may have grown since, one
        // truncated may have shrunk (then the input ends there, as when reading it).
        if let Ok(m) = map.file.metadata() {
            map.len = m.len();
        }
        let size = self.block_size.max(need.next_power_of_two()) as u64;
        let len = size.min(map.len.saturating_sub(from));
        let current_end = self.base + self.end as u64;
        if from + len <= current_end {
            // Nothing beyond what the current window holds.
            return Ok(self.end - self.start >= need);
        }
        let at = from - from % MAP_ALIGN;
        let skip = (from - at) as usize;
        let window = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(skip))
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "window too large"))?;
        // SAFETY: the mapping is read-only (a shared mapping of the file: another process
        // writing the file in place changes the bytes under the slices, which are only ever
        // read with bounds checks, so that gives other bytes, never undefined behaviour). What
        // it cannot guard against is the file shrinking while mapped, which makes reading the
        // lost pages raise SIGBUS: `sigbus` turns that into an error message naming the file
        // and exit status 1 instead of a crash. Populated: the window's pages are mapped in
        // one go rather than a fault at a time.
        #[allow(unsafe_code)]
        let mmap = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(window)
                .populate()
                .map(&map.file)
        }
        .map_err(|e| io::Error::new(e.kind(), format!("cannot map the file into memory: {e}")))?;
        let _ = mmap.advise(memmap2::Advice::Sequential);
        let guard = super::sigbus::register(mmap.as_ptr() as usize, mmap.len(), &map.path);
        self.buf = Arc::new(Block(Storage::Mapped {
            map: mmap,
            skip,
            guard,
        }));
        self.base = from;
        self.start = 0;
        self.record_start = 0;
        self.end = len as usize;
        self.generation += 1;
        Ok(self.end >= need)
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

    fn temp_file(data: &[u8]) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(data).unwrap();
        f.flush().unwrap();
        f
    }

    fn mapped(f: &tempfile::NamedTempFile, window: usize) -> ByteBuffer<io::Empty> {
        ByteBuffer::mapped(f.as_file(), f.path(), window, io::empty()).unwrap()
    }

    /// Walks `data` in records of the given lengths through a buffer, collecting each
    /// record's bytes and the generation of the block it was in.
    fn records<R: Read>(b: &mut ByteBuffer<R>, lens: &[usize]) -> Vec<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        for &len in lens {
            if !b.fill(len).unwrap() {
                break;
            }
            b.consume(len);
            out.push((b.record(0, len).to_vec(), b.block().1));
        }
        out
    }

    #[test]
    fn a_mapped_file_gives_the_same_records_as_a_read_one_across_windows() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 249) as u8).collect();
        let f = temp_file(&data);
        // Records of awkward sizes, one larger than a window.
        let lens: Vec<usize> = (0..400)
            .map(|i| [1, 1500, 9000, 65_537, 200_000][i % 5])
            .chain([300_000])
            .collect();
        let mut read = ByteBuffer::new(&data[..]);
        let mut map = mapped(&f, 64 << 10);
        assert!(map.block().0.is_mapped());
        let (a, b) = (records(&mut read, &lens), records(&mut map, &lens));
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.0 == y.0));
        // Each window is a block of its own, numbered in order.
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(b.last().unwrap().1 > 10);
        // The end: as many bytes as there are, and no more.
        let rest = map.available().len();
        assert!(!map.fill(rest + 1).unwrap());
        assert_eq!(map.available().len(), rest);
        assert_eq!(map.offset() + rest as u64, data.len() as u64);
    }

    /// Walks records of the given lengths holding every block, as the plugin dispatcher
    /// does: (offset of each record, its block's number counted from the first block).
    fn held_walk<R: Read>(b: &mut ByteBuffer<R>, lens: &[usize]) -> Vec<(u64, u64)> {
        let mut held = Vec::new();
        let mut out = Vec::new();
        for &len in lens {
            if !b.fill(len).unwrap() {
                break;
            }
            let at = b.offset();
            b.consume(len);
            out.push((at, b.block().1));
            held.push(b.block().0.clone());
        }
        let first = out.first().map_or(0, |x| x.1);
        out.iter().map(|&(at, g)| (at, g - first)).collect()
    }

    /// With every block held, a read file and a mapped one put each record in the same block:
    /// the same parts go out early either way.
    #[test]
    fn held_blocks_of_a_read_file_and_windows_of_a_mapped_one_split_the_input_alike() {
        let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 247) as u8).collect();
        let f = temp_file(&data);
        let lens: Vec<usize> = (0..300).map(|i| [60, 1514, 9000, 70_000][i % 4]).collect();
        let mut read = ByteBuffer::with_block_size(&data[..], 256 << 10);
        read.set_greedy(true);
        let a = held_walk(&mut read, &lens);
        let b = held_walk(&mut mapped(&f, 256 << 10), &lens);
        assert!(a.len() > 100 && a.last().unwrap().1 > 5);
        assert_eq!(a, b);
    }

    #[test]
    fn a_held_window_keeps_its_bytes_after_the_buffer_moves_on() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
        let f = temp_file(&data);
        let mut b = mapped(&f, 64 << 10);
        assert!(b.fill(100).unwrap());
        let held = b.block().0.clone();
        b.consume(b.available().len());
        assert!(b.fill(100).unwrap());
        drop(b);
        assert_eq!(&held[..100], &data[..100]);
    }

    #[test]
    fn a_mapped_file_that_grows_is_read_to_its_new_end() {
        use std::io::Write;
        let mut f = temp_file(&[1u8; 100_000]);
        let mut b = mapped(&f, 64 << 10);
        assert!(b.fill(100_000).unwrap());
        b.consume(100_000);
        assert!(!b.fill(1).unwrap());
        f.write_all(&[2u8; 5000]).unwrap();
        f.flush().unwrap();
        assert!(b.fill(5000).unwrap());
        assert_eq!(b.available(), &[2u8; 5000][..]);
    }

    /// A file truncated ahead of the reader (by another program) ends the input where it now
    /// ends, as when reading it: no window is mapped past the new end.
    #[test]
    fn a_mapped_file_truncated_ahead_of_the_reader_ends_there() {
        let f = temp_file(&[5u8; 1 << 20]);
        let mut b = mapped(&f, 64 << 10);
        assert!(b.fill(1000).unwrap());
        b.consume(1000);
        f.as_file().set_len(300_000).unwrap();
        let mut read = 1000;
        while b.fill(1).unwrap() {
            let n = b.available().len();
            b.consume(n);
            read += n;
        }
        assert_eq!(read, 300_000);
    }

    /// Runs this test binary again with `NETAN_TEST_SIGBUS=<case>` and the file `path`: the
    /// cases below end the process, so they run in a child.
    #[cfg(unix)]
    fn child(case: &str, test: &str, path: &std::path::Path) -> std::process::Output {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture"])
            .env("NETAN_TEST_SIGBUS", case)
            .env("NETAN_TEST_FILE", path)
            .output()
            .unwrap()
    }

    /// In the child: maps `NETAN_TEST_FILE` (through a buffer, so that the handler is set up,
    /// or directly, unknown to it), empties the file, and reads the lost page.
    #[cfg(unix)]
    fn touch_truncated(through_buffer: bool) -> ! {
        let path = std::path::PathBuf::from(std::env::var_os("NETAN_TEST_FILE").unwrap());
        let file = File::open(&path).unwrap();
        let mut b = ByteBuffer::mapped(&file, &path, 1 << 20, io::empty()).unwrap();
        assert!(b.fill(10).unwrap());
        // SAFETY (test): a mapping netan does not know about, to be faulted on purpose.
        #[allow(unsafe_code)]
        let other = unsafe { memmap2::Mmap::map(&file).unwrap() };
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let bytes: &[u8] = if through_buffer {
            b.available()
        } else {
            &other
        };
        let byte = std::hint::black_box(bytes[bytes.len() - 1]);
        panic!("read {byte} from a truncated mapping without SIGBUS");
    }

    /// A file that shrinks while mapped: reading its lost pages raises SIGBUS, which must end
    /// netan with a message naming the file and status 1, not "Bus error".
    #[cfg(unix)]
    #[test]
    fn a_mapped_file_that_shrinks_ends_the_run_with_a_message_naming_it() {
        if std::env::var_os("NETAN_TEST_SIGBUS").is_some() {
            touch_truncated(true);
        }
        let f = temp_file(&vec![9u8; 1 << 20]);
        let out = child(
            "ours",
            "source::buffer::tests::a_mapped_file_that_shrinks_ends_the_run_with_a_message_naming_it",
            f.path(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
        assert!(err.contains("the file shrank"), "{err}");
    }

    /// A SIGBUS outside netan's windows (a plugin's own mapping, say) is not reported as a
    /// capture file shrinking: the process gets the default action.
    #[cfg(unix)]
    #[test]
    fn a_sigbus_outside_the_windows_gets_the_default_action() {
        if std::env::var_os("NETAN_TEST_SIGBUS").is_some() {
            touch_truncated(false);
        }
        let f = temp_file(&vec![9u8; 1 << 20]);
        let out = child(
            "other",
            "source::buffer::tests::a_sigbus_outside_the_windows_gets_the_default_action",
            f.path(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGBUS), "{err}");
        assert!(!err.contains("the file shrank"), "{err}");
    }
}
