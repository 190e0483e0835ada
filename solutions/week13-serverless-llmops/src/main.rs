//! `wine-serverless`: the command line of [`wine_serverless::cli`].

use std::io::Write;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let out = wine_serverless::cli::execute(std::env::args_os()).await;
    // A closed pipe is not worth a panic: what could be written was.
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    ExitCode::from(out.code)
}
