//! The `netan` binary: parse the command line, run it, turn errors into one message and an
//! exit status (0 done, 1 some input could not be read completely, 2 nothing could be done).

use std::process::ExitCode;

use clap::Parser;

// mimalloc keeps freed memory for reuse instead of returning it to the kernel at once: the
// per-session monologue buffers of `netan run` come and go by the thousand, and with the
// system allocator a third of the plugin path's cost was page faults and zeroing.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = netan::cli::Cli::parse();
    match netan::commands::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("netan: error: {e:#}");
            ExitCode::from(netan::commands::EXIT_FATAL)
        }
    }
}
