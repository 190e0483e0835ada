//! The `wine-serverless` command line: `lambda` (the default) | `train` |
//! `eval`.
//!
//! [`execute`] parses the arguments, runs the command and returns what to
//! print and the exit code: 2 for anything the caller can fix (a flag, a
//! file, the environment), 1 when the endpoint, the network or the machine
//! fails. It never panics on bad input; `main` only writes its answer out.
//! The function (`lambda`) logs as it runs instead, since it runs until the
//! platform stops it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use crate::cache::Cache;
use crate::client::{ChatClient, DEFAULT_BASE_URL};
use crate::function::{self, ModelPaths};
use crate::harness::{Plan, Settings};
use crate::model::DEFAULT_MAX_DEPTH;
use crate::tree::MAX_DEPTH;
use crate::{AppError, config, harness};

/// The wine-quality model as an AWS Lambda function, and an LLMOps
/// evaluation harness.
#[derive(Debug, Parser)]
#[command(name = "wine-serverless", version)]
// Lets `wine-serverless --model m.json` mean `wine-serverless lambda --model m.json`.
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    lambda: LambdaArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run as an AWS Lambda function, answering week-8 /predict bodies (the default).
    Lambda(LambdaArgs),
    /// Train the wine-quality model and write its artifact.
    Train {
        /// Where to write the artifact (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Maximum depth of the decision tree (1 to 32).
        #[arg(long, default_value_t = DEFAULT_MAX_DEPTH, value_parser = depth, allow_hyphen_values = true)]
        max_depth: usize,
    },
    /// Evaluate every prompt version on the evaluation set; write the report.
    Eval {
        /// The harness configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Where to write the report, instead of the configuration's `out`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The cache folder, instead of the configuration's `cache`.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Args)]
struct LambdaArgs {
    /// The model artifact written by `train`.
    #[arg(long = "model", env = "MODEL_PATH", default_value = "/app/model.json")]
    model_path: PathBuf,
    /// The artifact's SHA-256, written when the image was built. Kept apart
    /// from the artifact: whoever can replace the model must not also choose
    /// what it is checked against.
    #[arg(
        long = "pin",
        env = "MODEL_PIN_PATH",
        default_value = "/app/model.sha256"
    )]
    pin_path: PathBuf,
}

/// `--max-depth`, checked as clap reads it.
fn depth(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(d) if (1..=MAX_DEPTH).contains(&d) => Ok(d),
        _ => Err(format!("`{text}` is not a depth from 1 to {MAX_DEPTH}")),
    }
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
pub async fn execute<I, T>(args: I) -> Output
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // The function's initialisation is timed from here: the process has
    // only just started.
    let started = Instant::now();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // --help and --version are not errors.
        Err(err) if !err.use_stderr() => return Output::new(0, err.to_string(), String::new()),
        Err(err) => {
            // clap's first lines name the problem; its usage block would
            // turn one clear line into ten. One line: the problem, up to the
            // usage block.
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
    let result = match cli.command.unwrap_or(Command::Lambda(cli.lambda)) {
        Command::Lambda(args) => {
            let paths = ModelPaths {
                model: args.model_path,
                pin: args.pin_path,
            };
            let code = function::run(&paths, started).await;
            return Output::new(code, String::new(), String::new());
        }
        Command::Train { out, max_depth } => train(&out, max_depth),
        Command::Eval { config, out, cache } => eval(&config, out, cache).await,
    };
    match result {
        Ok(stdout) => Output::new(0, stdout, String::new()),
        Err(err) => Output::new(err.exit_code(), String::new(), format!("error: {err}\n")),
    }
}

fn train(out: &Path, max_depth: usize) -> Result<String, AppError> {
    let artifact = crate::train(max_depth)?;
    artifact.save(out)?;
    Ok(format!(
        "trained {} on {} wines (training accuracy {:.4}); wrote {}\n",
        artifact.model_version,
        artifact.train_rows,
        artifact.train_accuracy,
        out.display()
    ))
}

/// The API key, from `OPENAI_API_KEY`.
fn api_key() -> Result<String, AppError> {
    let key = std::env::var("OPENAI_API_KEY").unwrap_or_default();
    if key.trim().is_empty() {
        return Err(AppError::Setup(
            "OPENAI_API_KEY is not set: export the endpoint's API key".into(),
        ));
    }
    // It travels in a header, which carries visible ASCII only.
    if !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::Setup(
            "OPENAI_API_KEY holds spaces or characters an HTTP header cannot carry".into(),
        ));
    }
    Ok(key)
}

async fn eval(
    config_path: &Path,
    out: Option<PathBuf>,
    cache: Option<PathBuf>,
) -> Result<String, AppError> {
    let mut config = config::load(config_path)?;
    // The flags are paths as typed: relative to where the tool runs.
    if let Some(out) = out {
        config.out = out;
    }
    if let Some(cache) = cache {
        config.cache = cache;
    }
    // Every input is read, checked and rendered before the first call.
    let plan = Plan::load(&config)?;
    let key = api_key()?;
    let base_url = std::env::var("OPENAI_BASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let mut client = ChatClient::new(&base_url, &key)?;
    let cache = Cache::open(&config.cache)?;
    let settings = Settings {
        model: &config.model,
        temperature: config.temperature,
        max_tokens: config.max_tokens,
        price: config.price,
    };
    let report = harness::run(&plan, &settings, &cache, &mut client).await?;
    report.write(&config.out)?;
    Ok(report.summary(&config.out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        Cli::try_parse_from(args)
            .map(|cli| cli.command.unwrap_or(Command::Lambda(cli.lambda)))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn lambda_is_the_default() {
        match parse(&["wine-serverless", "--model", "m.json"]) {
            Ok(Command::Lambda(args)) => assert_eq!(args.model_path, PathBuf::from("m.json")),
            other => panic!("expected lambda, got {other:?}"),
        }
        assert!(matches!(
            parse(&["wine-serverless"]),
            Ok(Command::Lambda(_))
        ));
        assert!(matches!(
            parse(&["wine-serverless", "lambda", "--pin", "p"]),
            Ok(Command::Lambda(_))
        ));
    }

    #[test]
    fn train_and_eval_take_their_flags() {
        match parse(&["wine-serverless", "train", "--out", "m.json"]) {
            Ok(Command::Train { out, max_depth }) => {
                assert_eq!(
                    (out, max_depth),
                    (PathBuf::from("m.json"), DEFAULT_MAX_DEPTH)
                );
            }
            other => panic!("expected train, got {other:?}"),
        }
        for bad in ["0", "33", "-1", "deep"] {
            let err = parse(&["wine-serverless", "train", "--out", "m", "--max-depth", bad])
                .expect_err(bad);
            assert!(err.contains("depth from 1 to 32"), "{err}");
        }
        match parse(&[
            "wine-serverless",
            "eval",
            "--config",
            "h.toml",
            "--cache",
            "c",
        ]) {
            Ok(Command::Eval { config, out, cache }) => {
                assert_eq!(config, PathBuf::from("h.toml"));
                assert_eq!((out, cache), (None, Some(PathBuf::from("c"))));
            }
            other => panic!("expected eval, got {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[tokio::test]
    async fn bad_usage_is_one_line_and_exit_2() {
        for args in [
            &["wine-serverless", "eval"][..],
            &["wine-serverless", "eval", "--config", "h.toml", "--bogus"],
            &["wine-serverless", "serve"],
            &["wine-serverless", "train"],
        ] {
            let out = execute(args).await;
            assert_eq!(out.code, 2, "{args:?}");
            assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
            assert!(out.stdout.is_empty());
        }
        let help = execute(["wine-serverless", "--help"]).await;
        assert_eq!(help.code, 0);
        assert!(help.stdout.contains("eval"));
    }
}
