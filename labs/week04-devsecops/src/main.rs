//! `wine-service train --out model.json` trains and saves the model;
//! `wine-service [serve]` serves it. See the library for the details.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wine_service_hardened::config::{Cli, Command, ServeArgs, TrainArgs};
use wine_service_hardened::pin::PinError;
use wine_service_hardened::{AppState, Model, api};

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
            // Bad configuration is bad input (2); any other refusal to start,
            // a tampered artifact among them, is a failure (1).
            let bad_input = err
                .downcast_ref::<PinError>()
                .is_some_and(PinError::is_bad_input);
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

fn train(args: &TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let artifact = wine_service_hardened::train(args.max_depth)?;
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
    //
    // TODO(week 4): pin the artifact. The model is loaded here without any
    // check that it is the file the image was built with. Read the expected
    // digest with `pin::read_pin(&args.pin_path)`, read the artifact's bytes
    // once with `pin::read_pinned` (finish it in src/pin.rs), and parse those
    // very bytes with `Model::from_bytes`. A mismatch must stop the service
    // with exit code 1 and one log line naming the SHA-256 mismatch.
    let model = Model::load(&args.model_path)?;
    tracing::info!(model_version = %model.model_version, "model loaded");
    let app = api::router(AppState::new(model));

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = wine_service_hardened::bind(args.host, args.port).await?;
        tracing::info!("listening on {}", listener.local_addr()?);
        wine_service_hardened::serve(listener, app, wine_service_hardened::shutdown_signal())
            .await?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}
