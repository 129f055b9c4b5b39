//! A capture file read through memory maps can shrink under netan (another process truncates
//! it) or fail to read (an I/O error on the device); the kernel then raises SIGBUS when the
//! lost pages are touched. Left alone that kills netan with "Bus error". This handler turns
//! it into one message naming the file, and exit status 1 (the input could not be read
//! completely). Records not yet written are lost, as with any fatal error.
//!
//! Only faults inside a window netan mapped are taken: the windows alive are registered here
//! (lock-free, so that the handler can read them) with their file, so the message names the
//! file whose window faulted (a window of the previous file can still be held); any other
//! SIGBUS (a plugin's bug, say) gets the action it had before (the default one, unless another
//! handler was installed), as if there were no handler.

use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

/// A window alive, as its (start, end) addresses and the path of its file as (pointer, length)
/// of a leaked copy; start 0 = free. Atomics only: the handler reads them, and nothing in a
/// signal handler may lock or allocate.
struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    path: AtomicPtr<u8>,
    path_len: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            path: AtomicPtr::new(std::ptr::null_mut()),
            path_len: AtomicUsize::new(0),
        }
    }
}

/// Windows covered. More than this are mapped only with a held-input budget of gigabytes:
/// those beyond are not covered (a fault in one is a plain "Bus error"; the first one
/// uncovered is warned about).
const SLOTS: usize = 256;
static WINDOWS: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];

/// The SIGBUS action before ours, restored for faults that are not ours.
#[cfg(unix)]
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// The path of `path` as a leaked byte string, leaked once per file of the run (a window may
/// outlive the next file's opening, so each keeps its own).
fn leaked(path: &Path) -> &'static [u8] {
    static LAST: std::sync::Mutex<Option<(std::path::PathBuf, &'static [u8])>> =
        std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, bytes)) = last.as_ref() {
        if p == path {
            return bytes;
        }
    }
    let bytes: &'static [u8] = Box::leak(
        path.as_os_str()
            .as_encoded_bytes()
            .to_vec()
            .into_boxed_slice(),
    );
    *last = Some((path.to_path_buf(), bytes));
    bytes
}

/// Registers a mapped window of `len` bytes at `start`, of the file at `path` (the first call
/// installs the handler); returns its slot, to unregister it.
pub(super) fn register(start: usize, len: usize, path: &Path) -> Option<usize> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install);
    let name = leaked(path);
    for (i, slot) in WINDOWS.iter().enumerate() {
        if slot
            .start
            .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            // The end last: until it is set, the slot covers no address.
            slot.path.store(name.as_ptr().cast_mut(), Ordering::Release);
            slot.path_len.store(name.len(), Ordering::Release);
            slot.end.store(start + len, Ordering::Release);
            return Some(i);
        }
    }
    static FULL: Once = Once::new();
    FULL.call_once(|| {
        eprintln!(
            "netan: warning: more than {SLOTS} capture windows mapped at once (max_monologue_buffer of gigabytes): if {} shrinks while they are, netan ends with a plain \"Bus error\"",
            path.display()
        );
    });
    None
}

/// Unregisters the window in `slot` (before it is unmapped).
pub(super) fn unregister(slot: usize) {
    if let Some(slot) = WINDOWS.get(slot) {
        slot.end.store(0, Ordering::Release);
        slot.start.store(0, Ordering::Release);
    }
}

/// The path of the file of the registered window that holds `addr`.
fn window_file(addr: usize) -> Option<&'static [u8]> {
    WINDOWS.iter().find_map(|slot| {
        let start = slot.start.load(Ordering::Acquire);
        let end = slot.end.load(Ordering::Acquire);
        if start == 0 || addr < start || addr >= end {
            return None;
        }
        let ptr = slot.path.load(Ordering::Acquire);
        let len = slot.path_len.load(Ordering::Acquire);
        // SAFETY: a registered slot's path points at a leaked slice of that length (see
        // `leaked`); `as_ref` covers the null of a slot being filled.
        #[allow(unsafe_code)]
        unsafe { ptr.as_ref() }.map(|_| unsafe { std::slice::from_raw_parts(ptr, len) })
    })
}

#[cfg(unix)]
fn install() {
    // SAFETY: installs a handler that only calls async-signal-safe functions (write, _exit,
    // sigaction) and reads atomics; `sigaction` is given a zeroed, then filled, struct, and
    // hands back the previous action, kept for faults that are not ours.
    #[allow(unsafe_code)]
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, &action, &mut previous) == 0 {
            let _ = PREVIOUS.set(previous);
        }
    }
}

#[cfg(not(unix))]
fn install() {}

#[cfg(unix)]
extern "C" fn on_sigbus(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    #[allow(unsafe_code)]
    let addr = unsafe { info.as_ref().map_or(0, |i| i.si_addr() as usize) };
    let Some(path) = window_file(addr) else {
        // Not ours: the previous action (the default one, unless another handler was
        // there), when the faulting access runs again on return.
        // SAFETY: sigaction with a valid struct (or signal() to the default); both are
        // async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            match PREVIOUS.get() {
                Some(previous) => {
                    libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut());
                }
                None => {
                    libc::signal(libc::SIGBUS, libc::SIG_DFL);
                }
            }
        }
        return;
    };
    fn say(bytes: &[u8]) {
        // SAFETY: write(2) on stderr with a valid buffer; async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
    }
    say(b"netan: error: ");
    say(path);
    say(b": the file shrank or could not be read while netan was reading it (capture files are mapped into memory); give netan a copy of a file another program is still changing, or its bytes on standard input\n");
    // SAFETY: _exit ends the process at once; async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(1)
    }
}
