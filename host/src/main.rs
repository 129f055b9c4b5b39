//! The `netan` binary: parse the command line, run it, turn errors into one message and an
//! exit status (0 done, 1 some input could not be read completely, 2 nothing could be done,
//! 128 + the signal's number when Ctrl-C or SIGTERM stopped the reading: see
//! [`netan::interrupt`]).

use std::process::ExitCode;

use clap::Parser;

// mimalloc keeps freed memory for reuse instead of returning it to the kernel at once: the
// per-session monologue buffers of `netan run` come and go by the thousand, and with the
// system allocator a third of the plugin path's cost was page faults and zeroing.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, v3: the 16th option).
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// Tells mimalloc to keep freed memory instead of returning it to the kernel 10 ms later:
/// netan's memory is bounded by its own limits, and with purging every reused page came back
/// as a transparent huge page to be zeroed again (a quarter of `netan run`'s time, measured
/// with perf).
fn keep_freed_memory() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; any option
    // number and value are accepted, at any time, from any thread.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = netan::cli::Cli::parse();
    match netan::commands::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("netan: error: {e:#}");
            ExitCode::from(netan::commands::EXIT_FATAL)
        }
    }
}
