//! The `wine-experiments` command line: `validate | labels | sweep | report`
//! over the library.
//!
//! [`execute`] parses the arguments, calls the library, and returns what to
//! print and the exit code: 2 for anything the caller can fix (a flag, an
//! input file, a model file), 1 otherwise (a folder it cannot write, or more
//! quarantined rows than `validate --max-quarantined` allows). It never
//! panics on bad input; `main` only writes its answer out.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::report::ReportConfig;
use crate::sweep::{DEFAULT_DEPTHS, MAX_VALID_PERCENT, SweepConfig, parse_depths};
use crate::{AppError, labels, report, sweep, validate};
use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

/// Managing the wine data and the experiments on it: validate the data,
/// check the labels, sweep the tree's depth, report on a model.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--depths`, checked as clap reads it.
#[derive(Debug, Clone)]
struct Depths(Vec<usize>);

fn depths(text: &str) -> Result<Depths, String> {
    parse_depths(text).map(Depths)
}

/// `--max-quarantined`: a percentage from 0 to 100.
fn percent(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage from 0 to 100")),
    }
}

/// `--repeats` and `--rounds`: a whole number, at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1, got 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check every row of a wine CSV; write accepted.csv, quarantine.csv and validation.json.
    Validate {
        /// The wine CSV: the eleven features, then quality.
        #[arg(long)]
        input: PathBuf,
        /// Folder for the three files (made if missing).
        #[arg(long)]
        out: PathBuf,
        /// Exit 1 (the files still written) when more than this percentage
        /// of the rows is quarantined.
        #[arg(long, value_name = "PERCENT", allow_hyphen_values = true, value_parser = percent)]
        max_quarantined: Option<f64>,
    },
    /// Combine annotators' grades; write labels.csv, review.csv and labels.json.
    Labels {
        /// The annotations CSV: wine,annotator,grade.
        #[arg(long)]
        input: PathBuf,
        /// Folder for the three files (made if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Fit one tree per depth on the validated rows; write runs.jsonl, best.json and model.json.
    Sweep {
        /// The wine CSV (validated first; quarantined rows are left out).
        #[arg(long)]
        input: PathBuf,
        /// Folder for the three files (made if missing).
        #[arg(long)]
        out: PathBuf,
        /// The depths to try, in this order (each 1 to 32).
        #[arg(long, default_value = DEFAULT_DEPTHS, value_parser = depths, allow_hyphen_values = true)]
        depths: Depths,
        /// Seed of the training/validation split.
        #[arg(long, default_value_t = 42, allow_negative_numbers = true)]
        seed: u64,
        /// Share of the rows held out for validation, in percent (1 to 50).
        #[arg(long, default_value_t = 20, allow_negative_numbers = true,
              value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_VALID_PERCENT)))]
        valid_percent: u8,
    },
    /// Permutation importance and throughput of a model; write importance.json, throughput.json and REPORT.md.
    Report {
        /// A model file written by `sweep`.
        #[arg(long)]
        model: PathBuf,
        /// The wine CSV to score on (validated first).
        #[arg(long)]
        input: PathBuf,
        /// Folder for the three files (made if missing).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the shuffles.
        #[arg(long, default_value_t = 7, allow_negative_numbers = true)]
        seed: u64,
        /// Shuffles per feature (at least 1).
        #[arg(long, default_value_t = 5, allow_hyphen_values = true, value_parser = at_least_one)]
        repeats: usize,
        /// Times all rows are predicted for the throughput (at least 1).
        #[arg(long, default_value_t = 20, allow_hyphen_values = true, value_parser = at_least_one)]
        rounds: usize,
    },
}

/// What a run of the tool prints and how it exits. The binary writes it out
/// as it is; a test, or a program built on the library, can read it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    fn new(code: u8, stdout: String, stderr: String) -> Self {
        Output {
            code,
            stdout,
            stderr,
        }
    }
}

/// Runs the tool with these arguments (the program's name first, as
/// `std::env::args_os` gives them).
pub fn execute<I, T>(args: I) -> Output
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // --help and --version are not errors.
        Err(err) if !err.use_stderr() => return Output::new(0, err.to_string(), String::new()),
        Err(err) if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // No command at all: clap would print the whole help as the error.
            return Output::new(
                2,
                String::new(),
                "error: give a command: validate, labels, sweep or report (see --help)\n".into(),
            );
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
            return Output::new(2, String::new(), format!("{problem} (see --help)\n"));
        }
    };
    match run(cli.command) {
        Ok(summary) => Output::new(0, summary, String::new()),
        Err((summary, err)) => Output::new(err.exit_code(), summary, format!("error: {err}\n")),
    }
}

/// Runs one command and returns what it prints; on an error, what it
/// printed before it.
fn run(command: Command) -> Result<String, (String, AppError)> {
    let fail = |err: AppError| (String::new(), err);
    let written = |out: &PathBuf, files: [&str; 3]| {
        let files: Vec<String> = files
            .iter()
            .map(|f| out.join(f).display().to_string())
            .collect();
        format!("wrote {}\n", files.join(", "))
    };
    Ok(match command {
        Command::Validate {
            input,
            out,
            max_quarantined,
        } => {
            let v = validate::validate(&input, &out).map_err(fail)?;
            let summary = v.summary_text()
                + &written(&out, ["accepted.csv", "quarantine.csv", "validation.json"]);
            if let Some(limit) = max_quarantined
                && let Err(err) = v.check_limit(limit, &out)
            {
                // The counts still go to stdout; the verdict is the error.
                return Err((summary, err));
            }
            summary
        }
        Command::Labels { input, out } => {
            let r = labels::labels(&input, &out).map_err(fail)?;
            r.summary_text() + &written(&out, ["labels.csv", "review.csv", "labels.json"])
        }
        Command::Sweep {
            input,
            out,
            depths,
            seed,
            valid_percent,
        } => {
            let config = SweepConfig {
                depths: depths.0,
                seed,
                valid_percent,
            };
            let s = sweep::sweep(&input, &out, &config).map_err(fail)?;
            s.summary_text() + &written(&out, ["runs.jsonl", "best.json", "model.json"])
        }
        Command::Report {
            model,
            input,
            out,
            seed,
            repeats,
            rounds,
        } => {
            let config = ReportConfig {
                seed,
                repeats,
                rounds,
            };
            let r = report::report(&model, &input, &out, config).map_err(fail)?;
            r.summary_text() + &written(&out, ["importance.json", "throughput.json", "REPORT.md"])
        }
    })
}
