//! `wine-experiments`: the command line of [`wine_experiments::cli`].

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let out = wine_experiments::cli::execute(std::env::args_os());
    // A closed pipe is not worth a panic: what could be written was.
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    ExitCode::from(out.code)
}
