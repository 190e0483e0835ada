//! `winequality train | predict | evaluate`: the command line over the library.
//!
//! main parses the arguments, sets up logging, calls the library, prints the
//! result as one line of JSON on stdout, and turns an error into one line on
//! stderr and an exit code: 2 for anything the caller can fix, 1 otherwise.

// lab:solution
use std::io::IsTerminal;
// lab:end
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
// lab:solution
use tracing_subscriber::EnvFilter;
// lab:end
use winequality::{AppError, Config};

/// Predicts red-wine quality (3 to 8) from eleven lab measurements.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fit a model on the red-wine data; write model.json and metrics.json.
    Train {
        /// The TOML configuration: seed, test fraction, tree depth.
        #[arg(long, default_value = "winequality.toml")]
        config: PathBuf,
        /// Folder for model.json and metrics.json.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Predict the quality of each wine of a CSV file.
    Predict {
        #[arg(long, default_value = "model.json")]
        model: PathBuf,
        /// CSV with a header naming the eleven features in order.
        #[arg(long)]
        input: PathBuf,
    },
    /// Score a model on a CSV file of wines with their true quality.
    Evaluate {
        #[arg(long, default_value = "model.json")]
        model: PathBuf,
        /// CSV with the eleven features, then `quality`.
        #[arg(long)]
        input: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version are not errors.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap's first line names the problem; its usage block would turn
            // one clear line into ten.
            let text = err.to_string();
            eprintln!(
                "{} (see --help)",
                text.lines().next().unwrap_or("error: bad usage")
            );
            return ExitCode::from(2);
        }
    };
    // lab:solution
    // Logs go to stderr, so stdout carries only the result. Quiet unless
    // RUST_LOG asks for more; colours only on a terminal.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    // lab:starter
    // // TODO(week 2): the library logs with `tracing`, but nothing collects
    // // the events yet. Install a `tracing_subscriber::fmt()` subscriber that
    // // writes to stderr (stdout carries the results), with an `EnvFilter` from
    // // RUST_LOG defaulting to "warn", and colours only on a terminal
    // // (`std::io::IsTerminal`).
    // lab:end

    match run(cli.command) {
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

/// Runs one command and returns what it prints, as one line of JSON.
fn run(command: Command) -> Result<String, AppError> {
    let json = match command {
        Command::Train { config, out } => {
            let config = Config::load(&config)?;
            serde_json::to_string(&winequality::train(&config, &out)?)
        }
        Command::Predict { model, input } => {
            serde_json::to_string(&winequality::predict(&model, &input)?)
        }
        Command::Evaluate { model, input } => {
            serde_json::to_string(&winequality::evaluate(&model, &input)?)
        }
    };
    // Plain structs: serialising cannot fail.
    Ok(json.unwrap_or_default())
}
