//! The `netan` binary: parse the command line, run it, turn errors into one message and an
//! exit status (0 done, 1 some input could not be read completely, 2 nothing could be done).

use std::process::ExitCode;

use clap::Parser;

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
