//! Command-line and environment configuration.
//!
//! Every serve setting can come from the environment as well as a flag,
//! because containers are usually configured through the environment.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::DEFAULT_MAX_DEPTH;

#[derive(Debug, Parser)]
#[command(
    name = "wine-service",
    version,
    about = "Serves a wine-quality model over HTTP"
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
    /// Train the model and write its artifact.
    Train(TrainArgs),
    /// Serve predictions over HTTP (the default).
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Where to write the model artifact (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Maximum depth of the decision tree.
    #[arg(long, default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Model artifact written by `train`.
    #[arg(long = "model", env = "MODEL_PATH", default_value = "/app/model.json")]
    pub model_path: PathBuf,
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
    fn host_defaults_to_all_interfaces() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args).map(Cli::into_command) {
            Ok(Command::Serve(args)) => args.host,
            other => panic!("expected serve, got {other:?}"),
        };
        // A `HOST` in the test's environment would rightly win over the default.
        if std::env::var_os("HOST").is_none() {
            assert_eq!(parse(&["wine-service"]), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        }
        assert_eq!(
            parse(&["wine-service", "serve", "--host", "127.0.0.1"]),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
    }

    #[test]
    fn train_takes_an_output_path() {
        let cli =
            Cli::try_parse_from(["wine-service", "train", "--out", "/tmp/m.json"]).expect("parses");
        match cli.into_command() {
            Command::Train(args) => {
                assert_eq!(args.out, PathBuf::from("/tmp/m.json"));
                assert_eq!(args.max_depth, DEFAULT_MAX_DEPTH);
            }
            other => panic!("expected train, got {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
