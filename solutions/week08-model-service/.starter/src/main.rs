//! `wine-service train --out model.json` trains and saves the model;
//! `wine-service [serve]` serves it.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wine_service::config::{Cli, Command, ServeArgs, TrainArgs};
use wine_service::{AppState, Model, api};

fn main() -> ExitCode {
    // Logs go to stdout, where container runtimes collect them. Colours only
    // for a terminal: escape codes clutter collected logs.
    // RUST_LOG picks what is logged (`info` when unset; `warn` drops the
    // line per request).
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
        Command::Serve(args) => serve(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

fn train(args: &TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let artifact = wine_service::train(args.max_depth)?;
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

fn serve(args: &ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Load before listening, so that the port opening means the model is ready.
    let model = Model::load(&args.model_path)?;
    tracing::info!(model_version = %model.model_version, "model loaded");
    let app = api::router(AppState::new(model));

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = wine_service::bind(args.port).await?;
        tracing::info!("listening on {}", listener.local_addr()?);
        wine_service::serve(listener, app).await?;
        Ok(())
    })
}
