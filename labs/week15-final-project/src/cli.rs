//! The command line of `wine-service`, the one program of the final project:
//! `serve` (the default) and the pipeline's four steps.
//!
//! The final's own file: week 9's `cli.rs` (the timings), week 4's and week
//! 11's `config.rs` (the pin, the drift reference) and week 10's `main.rs`
//! (the stages' flags) each describe a program with fewer subcommands, so
//! their definitions are brought together here, flag for flag.
//!
//! Every serve setting can come from the environment as well as a flag: a
//! container is configured through its environment, a Deployment through its
//! ConfigMap.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::drift::REFERENCE_FILE_NAME;

#[derive(Debug, Parser)]
#[command(
    name = "wine-service",
    version,
    about = "The wine-quality model: its pipeline (prepare, train, evaluate, predict) and its service"
)]
// Lets `wine-service --port 9000` mean `wine-service serve --port 9000`, and
// the image's entry point serve with no argument at all.
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Serve,
}

impl Cli {
    /// The subcommand to run; `serve` when none was given.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve predictions, probes and metrics over HTTP (the default).
    Serve(Serve),
    #[command(flatten)]
    Step(Step),
}

/// The pipeline's steps: the three DVC stages and the production entry.
#[derive(Debug, Clone, Subcommand)]
pub enum Step {
    /// Split the raw data into train.csv and test.csv (params: prepare.*).
    Prepare(PrepareArgs),
    /// Fit the tree on train.csv; write the model artifact the service
    /// serves and its drift reference (params: train.*).
    Train(TrainArgs),
    /// Score the model on test.csv; write metrics and per-wine predictions
    /// (params: evaluate.*).
    Evaluate(EvaluateArgs),
    /// Predict the quality of each wine of a CSV file.
    Predict(PredictArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PrepareArgs {
    /// The raw CSV: the eleven features, then quality.
    #[arg(long)]
    pub data: PathBuf,
    /// The parameters file (reads its `prepare` section).
    #[arg(long, default_value = "params.yaml")]
    pub params: PathBuf,
    /// Folder for train.csv and test.csv.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The parameters file (reads its `train` section).
    #[arg(long, default_value = "params.yaml")]
    pub params: PathBuf,
    /// The raw CSV the split came from: the artifact records its SHA-256 as
    /// the model's `data_sha256`, the data version `GET /version` reports.
    #[arg(long)]
    pub data: PathBuf,
    /// The training CSV written by `prepare`.
    #[arg(long)]
    pub train: PathBuf,
    /// Where the model artifact goes (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Where the drift reference goes (JSON): the training rows' deciles per
    /// feature. Beside `--out` by default.
    #[arg(long)]
    pub reference_out: Option<PathBuf>,
}

impl TrainArgs {
    /// `--reference-out`, or `drift-reference.json` in `--out`'s folder.
    pub fn reference_path(&self) -> PathBuf {
        self.reference_out.clone().unwrap_or_else(|| {
            self.out
                .parent()
                .unwrap_or(Path::new(""))
                .join(REFERENCE_FILE_NAME)
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    /// The parameters file (reads its `evaluate` section).
    #[arg(long, default_value = "params.yaml")]
    pub params: PathBuf,
    #[arg(long, default_value = "models/model.json")]
    pub model: PathBuf,
    /// The test CSV written by `prepare`.
    #[arg(long)]
    pub test: PathBuf,
    /// Where the metrics (JSON) go.
    #[arg(long)]
    pub metrics: PathBuf,
    /// Where the predictions (CSV: row,actual,predicted) go.
    #[arg(long)]
    pub predictions: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    #[arg(long, default_value = "models/model.json")]
    pub model: PathBuf,
    /// CSV with a header naming the eleven features in order (a quality
    /// column after them is ignored).
    #[arg(long)]
    pub input: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct Serve {
    #[command(flatten)]
    pub args: ServeArgs,
    #[command(flatten)]
    pub timing: Timing,
}

/// What the service loads, and where it listens.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Model artifact written by `train`.
    #[arg(long = "model", env = "MODEL_PATH", default_value = "/app/model.json")]
    pub model_path: PathBuf,
    /// File holding the artifact's expected SHA-256, written when the image
    /// was built. Kept outside the artifact: whoever can replace the model
    /// must not also be able to choose what it is checked against.
    #[arg(
        long = "pin",
        env = "MODEL_PIN_PATH",
        default_value = "/app/model.sha256"
    )]
    pub pin_path: PathBuf,
    /// Drift reference written by `train` with the model.
    #[arg(
        long = "drift-reference",
        env = "DRIFT_REFERENCE_PATH",
        default_value = "/app/drift-reference.json"
    )]
    pub drift_reference_path: PathBuf,
    /// Address to listen on. All interfaces by default, because inside a
    /// container loopback is unreachable from outside.
    #[arg(long, env = "HOST", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub host: IpAddr,
    /// TCP port to listen on (the API, the probes and /metrics).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
}

/// How long the service takes to become ready, and to leave.
#[derive(Debug, Clone, Args)]
pub struct Timing {
    /// Seconds of warm-up after the model loads, before the service reports
    /// ready: a stand-in for a large model's load.
    #[arg(long, env = "WARMUP_SECS", default_value_t = 0)]
    pub warmup_secs: u64,
    /// Seconds to keep serving after SIGTERM, answering readiness 503, before
    /// no longer accepting connections. Keep it below the pod's
    /// terminationGracePeriodSeconds.
    #[arg(long, env = "SHUTDOWN_DELAY_SECS", default_value_t = 5)]
    pub shutdown_delay_secs: u64,
}

impl Timing {
    pub fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup_secs)
    }

    pub fn shutdown_delay(&self) -> Duration {
        Duration::from_secs(self.shutdown_delay_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(args)
            .map(Cli::into_command)
            .expect("parses")
    }

    #[test]
    fn serve_is_the_default_and_takes_every_setting() {
        match parse(&[
            "wine-service",
            "--port",
            "9000",
            "--warmup-secs",
            "3",
            "--pin",
            "/x/model.sha256",
        ]) {
            Command::Serve(serve) => {
                assert_eq!(serve.args.port, 9000);
                assert_eq!(serve.timing.warmup(), Duration::from_secs(3));
                assert_eq!(serve.args.pin_path, PathBuf::from("/x/model.sha256"));
            }
            other => panic!("expected serve, got {other:?}"),
        }
        assert!(matches!(
            parse(&["wine-service", "serve", "--host", "127.0.0.1"]),
            Command::Serve(_)
        ));
    }

    #[test]
    fn the_stages_are_subcommands_as_dvc_yaml_runs_them() {
        let command = parse(&[
            "wine-service",
            "train",
            "--params",
            "params.yaml",
            "--data",
            "data/raw/winequality-red.csv",
            "--train",
            "data/prepared/train.csv",
            "--out",
            "models/model.json",
        ]);
        match command {
            Command::Step(Step::Train(args)) => {
                assert_eq!(args.out, PathBuf::from("models/model.json"));
                assert_eq!(
                    args.reference_path(),
                    PathBuf::from("models/drift-reference.json")
                );
            }
            other => panic!("expected train, got {other:?}"),
        }
        assert!(matches!(
            parse(&["wine-service", "predict", "--input", "wines.csv"]),
            Command::Step(Step::Predict(_))
        ));
    }

    #[test]
    fn serve_flags_do_not_mix_with_a_stage() {
        let err = Cli::try_parse_from([
            "wine-service",
            "--port",
            "9000",
            "predict",
            "--input",
            "x.csv",
        ])
        .expect_err("a serve flag before a stage");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
