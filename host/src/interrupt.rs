//! Ctrl-C (SIGINT) and SIGTERM during a run: the first one stops the reading of input, and
//! what was read is analysed to the end as if the input had ended there (sessions still open
//! end, plugins finish, records and the summary are written, the summary says where reading
//! stopped); the exit status is then 128 + the signal's number. A second one ends netan at
//! once, as if it did not catch signals at all (for a finish that takes too long).
//!
//! The handler only stores the signal's number ([`requested`] reads it): the run checks it
//! every 1024 frames, and the reader before every read; a read on a pipe waits with `poll`
//! 100 ms at a time, so a quiet live stream does not hold the stop back (the handler is also
//! installed without `SA_RESTART`, so a read it interrupts returns `EINTR` at once).

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGNAL.store(signal, Ordering::Relaxed);
}

/// Installs the handler for SIGINT and SIGTERM, and forgets a signal an earlier run got (for
/// the analysis commands of [`crate::commands::run`]; [`crate::analyse::analyse`] never
/// installs it). Returns whether it could.
pub fn install() -> bool {
    SIGNAL.store(0, Ordering::Relaxed);
    [libc::SIGINT, libc::SIGTERM].into_iter().all(|signal| {
        // SAFETY: sigaction with a zeroed struct (no flags but SA_RESETHAND, an empty mask)
        // and a handler that only stores into an atomic, which is async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // The second signal gets the default action (the process ends). No SA_RESTART: a
            // blocking read returns EINTR instead of going on waiting.
            action.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) == 0
        }
    })
}

/// The signal that asked the run to stop, if one did.
#[inline]
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// The conventional name of a signal netan stops on.
pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
