//! Input held beyond the frame: windows of a capture, for consumers that keep frame bytes
//! after the frame has gone (the plugin dispatcher gathers monologue parts without copying
//! them into per-session buffers).
//!
//! A window is `size` bytes of the capture at an offset that is a multiple of `size`: a
//! read-only mapping of a regular, uncompressed capture file ([`FileView::map`]), or memory
//! the consumer copies the bytes it keeps into ([`Window::heap`]: gzip, pipes). A mapping is
//! made without reading anything: the kernel maps a page when it is first touched (by a
//! plugin reading a part), so bytes nobody reads cost neither a copy nor page-table work, and
//! frames themselves are parsed from the reader's block, which stays hot in the cache.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The bytes of one window.
pub struct Window(Storage);

enum Storage {
    Heap(Vec<u8>),
    /// A mapping; `guard` is its slot in the SIGBUS handler's list of windows.
    Mapped {
        map: memmap2::Mmap,
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

impl Window {
    /// A window of `size` bytes of memory, to copy kept bytes into.
    pub fn heap(size: usize) -> Window {
        Window(Storage::Heap(vec![0; size]))
    }

    /// The bytes of a window in memory, to copy into; `None` for a mapping.
    pub fn heap_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.0 {
            Storage::Heap(v) => Some(v),
            Storage::Mapped { .. } => None,
        }
    }

    /// Whether the window is a mapping of the capture file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Storage::Mapped { .. })
    }
}

impl std::ops::Deref for Window {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Storage::Heap(v) => v,
            Storage::Mapped { map, .. } => map,
        }
    }
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Window({} bytes{})",
            self.len(),
            if self.is_mapped() { ", mapped" } else { "" }
        )
    }
}

/// Mappings start on a page boundary; 64 KiB is a multiple of every page size Linux uses on
/// the platforms netan builds for (4 KiB, 16 KiB, 64 KiB). Window sizes are multiples of it.
pub const WINDOW_ALIGN: usize = 64 << 10;

/// A regular, uncompressed capture file, to map windows of.
pub struct FileView {
    file: File,
    path: PathBuf,
}

impl FileView {
    pub(super) fn new(file: File, path: &Path) -> FileView {
        FileView {
            file,
            path: path.to_path_buf(),
        }
    }

    /// Maps `len` bytes of the file from `offset` (a multiple of [`WINDOW_ALIGN`]), without
    /// reading them. The window may run past the file's end: only bytes that were read from
    /// the file are ever looked at through it.
    pub fn map(&self, offset: u64, len: usize) -> io::Result<Window> {
        if offset % WINDOW_ALIGN as u64 != 0 || len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a window starts on a 64 KiB boundary and is not empty",
            ));
        }
        // SAFETY: the mapping is read-only (shared with the page cache). Another process
        // writing the file in place would change bytes under the slices handed out: Rust's
        // model counts that as undefined behaviour, in practice plugins read other bytes than
        // the parser saw (slices are only ever read, with bounds checks). Like every tool
        // that maps its input, netan assumes a capture is not rewritten in place while it is
        // read (the sigbus message says so). A file shrinking while mapped makes reading the
        // lost pages raise SIGBUS: `sigbus` turns that into an error message naming the file
        // and exit status 1 instead of a crash.
        #[allow(unsafe_code)]
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map(&self.file)
        }?;
        let guard = super::sigbus::register(map.as_ptr() as usize, map.len(), &self.path);
        Ok(Window(Storage::Mapped { map, guard }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(data: &[u8]) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(data).unwrap();
        f.flush().unwrap();
        f
    }

    #[test]
    fn a_window_holds_the_bytes_of_the_file_at_its_offset() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
        let f = temp_file(&data);
        let view = FileView::new(f.reopen().unwrap(), f.path());
        let w = view.map(3 * WINDOW_ALIGN as u64, WINDOW_ALIGN).unwrap();
        assert!(w.is_mapped());
        assert_eq!(&w[..], &data[3 * WINDOW_ALIGN..4 * WINDOW_ALIGN]);
        // The last window runs past the end: its bytes up to the end are the file's.
        let last = 15 * WINDOW_ALIGN;
        let w = view.map(last as u64, WINDOW_ALIGN).unwrap();
        assert_eq!(&w[..data.len() - last], &data[last..]);
        // Kept after the view is gone.
        drop(view);
        assert_eq!(w[0], data[last]);
        assert!(FileView::new(f.reopen().unwrap(), f.path())
            .map(100, WINDOW_ALIGN)
            .is_err());
        let mut h = Window::heap(10);
        h.heap_mut().unwrap()[3] = 7;
        assert_eq!(h[3], 7);
        assert!(!h.is_mapped());
    }

    /// Shrinks a mapped 1 MiB file and reads its lost page, in a child (this test binary run
    /// again with `--exact source::window::tests::<test>`: the fault ends the process), through
    /// a window (`through_window`) or through a mapping netan does not know. In the child,
    /// does it; in the parent, returns the child's exit status, its stderr and the file's path.
    #[cfg(unix)]
    fn shrink_in_child(
        test: &str,
        through_window: bool,
    ) -> (std::process::ExitStatus, String, String) {
        if std::env::var_os("NETAN_TEST_SIGBUS").is_some() {
            touch_truncated(through_window);
        }
        let f = temp_file(&vec![9u8; 1 << 20]);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &format!("source::window::tests::{test}"),
                "--nocapture",
            ])
            .env("NETAN_TEST_SIGBUS", "1")
            .env("NETAN_TEST_FILE", f.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status, err, f.path().display().to_string())
    }

    /// In the child: maps `NETAN_TEST_FILE` (as a window, so that the handler is set up, or
    /// directly, unknown to it), empties the file, and reads the lost page.
    #[cfg(unix)]
    fn touch_truncated(through_window: bool) -> ! {
        let path = std::path::PathBuf::from(std::env::var_os("NETAN_TEST_FILE").unwrap());
        let file = File::open(&path).unwrap();
        let w = FileView::new(file.try_clone().unwrap(), &path)
            .map(0, 1 << 20)
            .unwrap();
        // SAFETY (test): a mapping netan does not know about, to be faulted on purpose.
        #[allow(unsafe_code)]
        let other = unsafe { memmap2::Mmap::map(&file).unwrap() };
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let bytes: &[u8] = if through_window { &w } else { &other };
        let byte = std::hint::black_box(bytes[bytes.len() - 1]);
        panic!("read {byte} from a truncated mapping without SIGBUS");
    }

    /// A file that shrinks while mapped: reading its lost pages raises SIGBUS, which must end
    /// netan with a message naming the file and status 1, not "Bus error".
    #[cfg(unix)]
    #[test]
    fn a_mapped_file_that_shrinks_ends_the_run_with_a_message_naming_it() {
        let (status, err, path) = shrink_in_child(
            "a_mapped_file_that_shrinks_ends_the_run_with_a_message_naming_it",
            true,
        );
        assert_eq!(status.code(), Some(1), "{err}");
        assert!(err.contains(&path), "{err}");
        assert!(err.contains("the file shrank"), "{err}");
    }

    /// A SIGBUS outside netan's windows (a plugin's own mapping, say) is not reported as a
    /// capture file shrinking: the process gets the default action.
    #[cfg(unix)]
    #[test]
    fn a_sigbus_outside_the_windows_gets_the_default_action() {
        use std::os::unix::process::ExitStatusExt;
        let (status, err, _) = shrink_in_child(
            "a_sigbus_outside_the_windows_gets_the_default_action",
            false,
        );
        assert_eq!(status.signal(), Some(libc::SIGBUS), "{err}");
        assert!(!err.contains("the file shrank"), "{err}");
    }
}
