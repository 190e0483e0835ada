//! `wine-pipeline prepare | train | evaluate | predict`: the command line over
//! the library, one subcommand per DVC stage and one for production.
//!
//! main parses the arguments, calls the library, prints the result as one line
//! of JSON on stdout, and turns an error into one line on stderr and an exit
//! code: 2 for anything the caller can fix (a flag, the parameters, an input
//! file), 1 otherwise. It never panics on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wine_pipeline::{AppError, EvaluateParams, PrepareParams, Section, TrainParams};

/// The wine-quality pipeline: prepare the data, train a decision tree,
/// evaluate it, and predict with it.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Split the raw data into train.csv and test.csv (params: prepare.*).
    Prepare {
        /// The raw CSV: the eleven features, then quality.
        #[arg(long)]
        data: PathBuf,
        /// The parameters file (reads its `prepare` section).
        #[arg(long, default_value = "params.yaml")]
        params: PathBuf,
        /// Folder for train.csv and test.csv.
        #[arg(long)]
        out: PathBuf,
    },
    /// Fit the decision tree on train.csv; write the model as JSON (params: train.*).
    Train {
        /// The parameters file (reads its `train` section).
        #[arg(long, default_value = "params.yaml")]
        params: PathBuf,
        /// The training CSV written by `prepare`.
        #[arg(long)]
        train: PathBuf,
        /// Where the model goes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Score the model on test.csv; write metrics and per-wine predictions (params: evaluate.*).
    Evaluate {
        /// The parameters file (reads its `evaluate` section).
        #[arg(long, default_value = "params.yaml")]
        params: PathBuf,
        #[arg(long, default_value = "models/model.json")]
        model: PathBuf,
        /// The test CSV written by `prepare`.
        #[arg(long)]
        test: PathBuf,
        /// Where the metrics (JSON) go.
        #[arg(long)]
        metrics: PathBuf,
        /// Where the predictions (CSV: row,actual,predicted) go.
        #[arg(long)]
        predictions: PathBuf,
    },
    /// Predict the quality of each wine of a CSV file (production).
    Predict {
        #[arg(long, default_value = "models/model.json")]
        model: PathBuf,
        /// CSV with a header naming the eleven features in order (a
        /// quality column after them is ignored).
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
            // clap's first lines name the problem (and the missing flags,
            // one per line); its usage block would turn one clear line into
            // ten. One line: the problem, up to the usage block.
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
        Command::Prepare { data, params, out } => {
            let params = PrepareParams::load(&params)?;
            serde_json::to_string(&wine_pipeline::prepare(&data, &params, &out)?)
        }
        Command::Train { params, train, out } => {
            let params = TrainParams::load(&params)?;
            serde_json::to_string(&wine_pipeline::train(&params, &train, &out)?)
        }
        Command::Evaluate {
            params,
            model,
            test,
            metrics,
            predictions,
        } => {
            let params = EvaluateParams::load(&params)?;
            serde_json::to_string(&wine_pipeline::evaluate(
                &params,
                &model,
                &test,
                &metrics,
                &predictions,
            )?)
        }
        Command::Predict { model, input } => {
            serde_json::to_string(&wine_pipeline::predict(&model, &input)?)
        }
    };
    // Plain structs: serialising cannot fail.
    Ok(json.unwrap_or_default())
}
