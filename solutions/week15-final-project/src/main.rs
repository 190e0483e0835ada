//! `wine-service [serve]` serves the model; `wine-service prepare | train |
//! evaluate | predict` are the pipeline's steps, as DVC runs them. See the
//! library for the details.
//!
//! The two halves keep their weeks' manners. `serve` logs to stdout (where
//! container runtimes collect logs) and exits 1 when it cannot start (2 for a
//! pin that is not a digest). A step prints its result as one line of JSON on
//! stdout, or one line on stderr and exit 2 for anything the caller can fix
//! (a flag, the parameters, an input file), 1 otherwise; never a panic.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wine_final::cli::{Cli, Serve, Step};
// lab:solution
use wine_final::cli::Command;
// lab:end
use wine_final::pin::PinError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version are not errors.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap's first lines name the problem; its usage block would turn
            // one clear line into ten.
            let text = err.to_string();
            let problem: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            let problem = if problem.is_empty() {
                "error: bad usage".to_owned()
            } else {
                problem.join(" ")
            };
            eprintln!("{problem} (see --help)");
            return ExitCode::from(2);
        }
    };
    // lab:solution
    match cli.into_command() {
        Command::Serve(serve) => serve_until_stopped(&serve),
        Command::Step(step) => run_step(step),
    }
    // lab:starter
    // // TODO(week 15): `serve` (the default, what the image's entry point
    // // runs) goes to `serve_until_stopped`; every other subcommand is a
    // // pipeline step, for `run_step`.
    // let _ = cli.into_command();
    // todo!("week 15: run the service or the pipeline step asked for")
    // lab:end
}

/// Runs the service until SIGTERM; exit 0 once it has drained.
// lab:starter
// #[allow(dead_code, reason = "TODO(week 15): called by main")]
// lab:end
fn serve_until_stopped(serve: &Serve) -> ExitCode {
    // Colours only for a terminal: escape codes clutter collected logs.
    // RUST_LOG picks what is logged (`info` when unset).
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .init();
    let result = tokio::runtime::Runtime::new()
        .map_err(Into::into)
        .and_then(|runtime| runtime.block_on(wine_final::service::run(serve)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            // Bad configuration is bad input (2); any other refusal to start,
            // a tampered artifact among them, is a failure (1).
            let bad_input = err
                .downcast_ref::<PinError>()
                .is_some_and(PinError::is_bad_input);
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

/// Runs one pipeline step: its JSON on stdout, or its error on stderr.
// lab:starter
// #[allow(dead_code, reason = "TODO(week 15): called by main")]
// lab:end
fn run_step(step: Step) -> ExitCode {
    match wine_final::pipeline::run(step) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
