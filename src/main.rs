//! The `sonovec` binary: parse the command line, run one command, exit with its code.

mod cli;

use std::io;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    quiet_caught_panics();
    // This process and its workers run analyses and little else.
    sonovec::analyzer::give_back_freed_memory(true);
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code() as u8),
        // A reader that went away (`sonovec analyze f | head`) is not an error.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sonovec: {err}");
            ExitCode::from(cli::Outcome::Io.exit_code() as u8)
        }
    }
}

/// Panics inside an analysis are caught and reported in the track's record; printing them too
/// would bury the user's terminal in decoder backtraces. Every other panic is printed as usual.
fn quiet_caught_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !sonovec::analyzer::panic_is_caught_here() {
            default_hook(info);
        }
    }));
}
