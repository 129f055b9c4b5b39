//! A capture file read through memory maps can shrink under netan (another process truncates
//! it) or fail to read (an I/O error on the device); the kernel then raises SIGBUS when the
//! lost pages are touched. Left alone that kills netan with "Bus error". This handler turns
//! it into one message naming the file, and exit status 1 (the input could not be read
//! completely). Records not yet written are lost, as with any fatal error.

use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Once;

/// The path of the file being mapped, as bytes: set before its windows are mapped, read by
/// the signal handler (atomics only: nothing in a signal handler may lock or allocate).
static PATH: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static PATH_LEN: AtomicUsize = AtomicUsize::new(0);

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

#[cfg(unix)]
fn install() {
    // SAFETY: installs a handler that only calls async-signal-safe functions (write, _exit)
    // and reads atomics; `sigaction` is given a zeroed, then filled, struct.
    #[allow(unsafe_code)]
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

#[cfg(not(unix))]
fn install() {}

#[cfg(unix)]
extern "C" fn on_sigbus(_signal: libc::c_int) {
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
