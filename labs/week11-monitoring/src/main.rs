//! `wine-service train --out model.json` trains and saves the model and,
//! beside it, the drift reference; `wine-service [serve]` serves both. See
//! the library for the details.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wine_service_monitored::config::{Cli, Command, ServeArgs, TrainArgs};
use wine_service_monitored::{AppState, DriftReference, Model, Monitor};

fn main() -> ExitCode {
    // Logs go to stdout, where container runtimes collect them.
    // Colours only for a terminal: escape codes clutter collected logs.
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
    let artifact = wine_service_monitored::train(args.max_depth)?;
    artifact.save(&args.out)?;
    // The reference is of the very data the model was trained on: the same
    // data set, checked by its hash.
    let reference = DriftReference::from_training_data();
    reference.check(&artifact.data_sha256)?;
    let reference_path = args.reference_path();
    reference.save(&reference_path)?;
    tracing::info!(
        model_version = %artifact.model_version,
        data_sha256 = %artifact.data_sha256,
        train_accuracy = artifact.train_accuracy,
        path = %args.out.display(),
        drift_reference = %reference_path.display(),
        "model trained"
    );
    Ok(())
}

fn serve(args: &ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Load before listening, so that the port opening means the model is ready.
    let model = Model::load(&args.model_path)?;
    let reference = DriftReference::load(&args.drift_reference_path, &model.data_sha256)?;
    tracing::info!(model_version = %model.model_version, "model and drift reference loaded");
    let monitor = Arc::new(Monitor::new(&model.model_version, reference));
    let app = wine_service_monitored::router(AppState::new(model), monitor);

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = wine_service_monitored::bind(args.host, args.port).await?;
        tracing::info!("listening on {}", listener.local_addr()?);
        wine_service_monitored::serve(listener, app, wine_service_monitored::shutdown_signal())
            .await?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}
