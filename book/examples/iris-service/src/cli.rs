//! The command line: `train` writes the model artifact, `serve` serves it.
//!
//! Each serve setting can also come from the environment (`PORT`,
//! `MODEL_PATH`), because that is how containers are configured: the image
//! sets the defaults, and `docker run -e PORT=9000` overrides one without
//! repeating the command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::DEFAULT_MAX_DEPTH;

#[derive(Debug, Parser)]
#[command(name = "iris-service", version, about = "Names iris species over HTTP")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the tree on the iris data and write the artifact.
    Train(TrainArgs),
    /// Serve the artifact over HTTP until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Where to write the artifact (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Levels of splits in the tree.
    #[arg(long, default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TCP port to listen on, on every interface.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// The artifact `train` wrote.
    #[arg(long = "model", env = "MODEL_PATH", default_value = "/app/model.json")]
    pub model_path: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        match Cli::try_parse_from(args).map(|cli| cli.command) {
            Ok(Command::Serve(args)) => args,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_set_the_port_and_model() {
        let args = serve_args(&[
            "iris-service",
            "serve",
            "--port",
            "9000",
            "--model",
            "m.json",
        ]);
        assert_eq!(
            (args.port, args.model_path),
            (9000, PathBuf::from("m.json"))
        );
    }

    #[test]
    fn defaults_suit_the_image() {
        // A PORT or MODEL_PATH in the test's own environment rightly wins.
        let args = serve_args(&["iris-service", "serve"]);
        if std::env::var_os("PORT").is_none() {
            assert_eq!(args.port, 8080);
        }
        if std::env::var_os("MODEL_PATH").is_none() {
            assert_eq!(args.model_path, PathBuf::from("/app/model.json"));
        }
    }

    #[test]
    fn train_takes_an_output_path() {
        match Cli::try_parse_from(["iris-service", "train", "--out", "/tmp/m.json"]) {
            Ok(Cli {
                command: Command::Train(args),
            }) => {
                assert_eq!(args.out, PathBuf::from("/tmp/m.json"));
                assert_eq!(args.max_depth, 3);
            }
            other => panic!("expected train, got {other:?}"),
        }
    }
}
