//! `wine-service train --out model.json` trains and saves the model;
//! `wine-service [serve]` serves it. See the library for the details.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wine_service_k8s::cli::{Cli, Command};
use wine_service_k8s::config::TrainArgs;

fn main() -> ExitCode {
    // Logs go to stdout, where container runtimes collect them.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .init();

    let result = match Cli::parse().into_command() {
        Command::Train(args) => train(&args),
        Command::Serve(serve) => tokio::runtime::Runtime::new()
            .map_err(Into::into)
            .and_then(|runtime| runtime.block_on(wine_service_k8s::run(&serve))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

fn train(args: &TrainArgs) -> Result<(), wine_service_k8s::Error> {
    let artifact = wine_service_k8s::train(args.max_depth)?;
    artifact.save(&args.out)?;
    tracing::info!(
        model_version = %artifact.model_version,
        data_sha256 = %artifact.data_sha256,
        train_accuracy = artifact.train_accuracy,
        path = %args.out.display(),
        "model trained"
    );
    Ok(())
}
