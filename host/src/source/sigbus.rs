//! A capture file read through memory maps can shrink under netan (another process truncates
//! it) or fail to read (an I/O error on the device); the kernel then raises SIGBUS when the
//! lost pages are touched. Left alone that kills netan with "Bus error". This handler turns
//! it into one message naming the file, and exit status 1 (the input could not be read
//! completely). Records not yet written are lost, as with any fatal error.
//!
//! Only faults inside a window netan mapped are taken: the windows alive are registered here
//! (lock-free, so that the handler can read them); any other SIGBUS (a plugin's bug, say) gets
//! the default action, as if there were no handler.

use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Once;

/// The path of the file being mapped, as bytes: set before its windows are mapped, read by
/// the signal handler (atomics only: nothing in a signal handler may lock or allocate).
static PATH: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static PATH_LEN: AtomicUsize = AtomicUsize::new(0);

/// Windows alive, as (start, end) addresses; 0 = free. More windows than this are mapped only
/// with a held-input budget of gigabytes: those beyond are not covered (a fault in one is a
/// plain "Bus error").
const SLOTS: usize = 256;
static STARTS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static ENDS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// Notes that windows of `path` are about to be read (first call: installs the handler).
pub(super) fn reading(path: &Path) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install);
    let bytes = path.as_os_str().as_encoded_bytes();
    let current = PATH.load(Ordering::Acquire);
    let same = !current.is_null()
        && PATH_LEN.load(Ordering::Acquire) == bytes.len()
        // SAFETY: `current` points at a leaked (never freed) slice of PATH_LEN bytes.
        && {
            #[allow(unsafe_code)]
            let old = unsafe { std::slice::from_raw_parts(current, bytes.len()) };
            old == bytes
        };
    if same {
        return;
    }
    // Leaked: once per capture file of the run, and the handler may read it at any time.
    let leaked: &'static mut [u8] = Box::leak(bytes.to_vec().into_boxed_slice());
    PATH_LEN.store(0, Ordering::Release);
    PATH.store(leaked.as_mut_ptr(), Ordering::Release);
    PATH_LEN.store(leaked.len(), Ordering::Release);
}

/// Registers a mapped window of `len` bytes at `start`; returns its slot, to unregister it.
pub(super) fn register(start: usize, len: usize) -> Option<usize> {
    for (i, slot) in STARTS.iter().enumerate() {
        if slot
            .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            ENDS.get(i)?.store(start + len, Ordering::Release);
            return Some(i);
        }
    }
    None
}

/// Unregisters the window in `slot` (before it is unmapped).
pub(super) fn unregister(slot: usize) {
    if let (Some(start), Some(end)) = (STARTS.get(slot), ENDS.get(slot)) {
        end.store(0, Ordering::Release);
        start.store(0, Ordering::Release);
    }
}

/// Whether `addr` lies in a registered window.
fn in_window(addr: usize) -> bool {
    STARTS.iter().zip(&ENDS).any(|(s, e)| {
        let start = s.load(Ordering::Acquire);
        start != 0 && start <= addr && addr < e.load(Ordering::Acquire)
    })
}

#[cfg(unix)]
fn install() {
    // SAFETY: installs a handler that only calls async-signal-safe functions (write, _exit,
    // sigaction) and reads atomics; `sigaction` is given a zeroed, then filled, struct.
    #[allow(unsafe_code)]
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
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
    if !in_window(addr) {
        // Not ours: the default action, when the faulting access runs again on return.
        // SAFETY: resets SIGBUS to its default disposition; async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
        }
        return;
    }
    fn say(bytes: &[u8]) {
        // SAFETY: write(2) on stderr with a valid buffer; async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
    }
    say(b"netan: error: ");
    let (ptr, len) = (
        PATH.load(Ordering::Acquire),
        PATH_LEN.load(Ordering::Acquire),
    );
    if ptr.is_null() || len == 0 {
        say(b"a capture file");
    } else {
        // SAFETY: PATH points at a leaked slice of PATH_LEN bytes (see `reading`).
        #[allow(unsafe_code)]
        say(unsafe { std::slice::from_raw_parts(ptr, len) });
    }
    say(b": the file shrank or could not be read while netan was reading it (capture files are mapped into memory); give netan a copy of a file another program is still changing, or its bytes on standard input\n");
    // SAFETY: _exit ends the process at once; async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(1)
    }
}
