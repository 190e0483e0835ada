//! The command line: week 8's, with the two timings Kubernetes needs.
//!
//! Every setting can come from the environment as well as a flag: a
//! Deployment sets them from its ConfigMap.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{ServeArgs, TrainArgs};

#[derive(Debug, Parser)]
#[command(
    name = "wine-service",
    version,
    about = "Serves a wine-quality model over HTTP, with Kubernetes' probes"
)]
// Lets `wine-service --port 9000` mean `wine-service serve --port 9000`.
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
    /// Train the model and write its artifact.
    Train(TrainArgs),
    /// Serve predictions over HTTP (the default).
    Serve(Serve),
}

#[derive(Debug, Clone, Args)]
pub struct Serve {
    #[command(flatten)]
    pub args: ServeArgs,
    #[command(flatten)]
    pub timing: Timing,
}

/// How long the service takes to become ready, and to leave.
#[derive(Debug, Clone, Args)]
pub struct Timing {
    /// Seconds of warm-up after the model loads, before the service reports
    /// ready: a stand-in for a large model's load, so that the probes can be
    /// watched at work.
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

    fn serve(args: &[&str]) -> Serve {
        match Cli::try_parse_from(args).map(Cli::into_command) {
            Ok(Command::Serve(serve)) => serve,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn timings_are_flags_too() {
        let s = serve(&[
            "wine-service",
            "--warmup-secs",
            "3",
            "--shutdown-delay-secs",
            "2",
            "--port",
            "9000",
        ]);
        assert_eq!(s.timing.warmup(), Duration::from_secs(3));
        assert_eq!(s.timing.shutdown_delay(), Duration::from_secs(2));
        assert_eq!(s.args.port, 9000);
    }

    #[test]
    fn a_bad_timing_is_a_usage_error() {
        let err = Cli::try_parse_from(["wine-service", "--warmup-secs", "soon"])
            .expect_err("not a number");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn train_is_week_8s() {
        let cli =
            Cli::try_parse_from(["wine-service", "train", "--out", "/tmp/m.json"]).expect("parses");
        assert!(matches!(cli.into_command(), Command::Train(_)));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
