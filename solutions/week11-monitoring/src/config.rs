//! Command-line and environment configuration.
//!
//! Every serve setting can come from the environment as well as a flag,
//! because containers are usually configured through the environment.
//!
//! Week 8's settings, plus where the drift reference goes (`train`) and
//! comes from (`serve`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::drift::REFERENCE_FILE_NAME;
use crate::model::DEFAULT_MAX_DEPTH;

#[derive(Debug, Parser)]
#[command(
    name = "wine-service",
    version,
    about = "Serves a wine-quality model over HTTP, with Prometheus metrics"
)]
// Lets `wine-service --port 9000` mean `wine-service serve --port 9000`.
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// The subcommand to run; `serve` when none was given.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the model and write its artifact and drift reference.
    Train(TrainArgs),
    /// Serve predictions and metrics over HTTP (the default).
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Where to write the model artifact (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write the drift reference (JSON): the training data's
    /// deciles per feature. Beside `--out` by default.
    #[arg(long)]
    pub reference_out: Option<PathBuf>,
    /// Maximum depth of the decision tree.
    #[arg(long, default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,
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
pub struct ServeArgs {
    /// Model artifact written by `train`.
    #[arg(long = "model", env = "MODEL_PATH", default_value = "/app/model.json")]
    pub model_path: PathBuf,
    /// Drift reference written by `train` with the model.
    #[arg(
        long = "drift-reference",
        env = "DRIFT_REFERENCE_PATH",
        default_value = "/app/drift-reference.json"
    )]
    pub drift_reference_path: PathBuf,
    /// Address to listen on. All interfaces by default, because inside a
    /// container loopback is unreachable from outside; `127.0.0.1` keeps a
    /// service on a workstation private (benchmarks, local tries).
    #[arg(long, env = "HOST", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub host: IpAddr,
    /// TCP port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_is_the_default() {
        let cli = Cli::try_parse_from(["wine-service", "--port", "9000"]).expect("parses");
        match cli.into_command() {
            Command::Serve(args) => assert_eq!(args.port, 9000),
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn train_writes_the_reference_beside_the_model_by_default() {
        let cli =
            Cli::try_parse_from(["wine-service", "train", "--out", "/tmp/m.json"]).expect("parses");
        match cli.into_command() {
            Command::Train(args) => {
                assert_eq!(args.out, PathBuf::from("/tmp/m.json"));
                assert_eq!(args.max_depth, DEFAULT_MAX_DEPTH);
                assert_eq!(
                    args.reference_path(),
                    PathBuf::from("/tmp/drift-reference.json")
                );
            }
            other => panic!("expected train, got {other:?}"),
        }
        let cli =
            Cli::try_parse_from(["wine-service", "train", "--out", "m.json"]).expect("parses");
        match cli.into_command() {
            Command::Train(args) => {
                assert_eq!(args.reference_path(), PathBuf::from("drift-reference.json"));
            }
            other => panic!("expected train, got {other:?}"),
        }
        let cli = Cli::try_parse_from([
            "wine-service",
            "train",
            "--out",
            "m.json",
            "--reference-out",
            "/x/r.json",
        ])
        .expect("parses");
        match cli.into_command() {
            Command::Train(args) => assert_eq!(args.reference_path(), PathBuf::from("/x/r.json")),
            other => panic!("expected train, got {other:?}"),
        }
    }

    #[test]
    fn serve_reads_the_reference_from_the_image_by_default() {
        if std::env::var_os("DRIFT_REFERENCE_PATH").is_some() {
            return; // the environment rightly wins over the default
        }
        match Cli::try_parse_from(["wine-service"]).map(Cli::into_command) {
            Ok(Command::Serve(args)) => assert_eq!(
                args.drift_reference_path,
                PathBuf::from("/app/drift-reference.json")
            ),
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
