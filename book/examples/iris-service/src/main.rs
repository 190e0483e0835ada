//! `iris-service train --out model.json` trains and saves the model, at image
//! build time; `iris-service serve` serves it. The library does the work.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use iris_service::cli::{Cli, Command, ServeArgs, TrainArgs};
use iris_service::model::{self, Model};
use tracing_subscriber::EnvFilter;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    // Logs go to stdout, where container runtimes collect them; colours only
    // on a terminal. RUST_LOG chooses what is logged (`info` when unset).
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .init();

    let result = match Cli::parse().command {
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

fn train(args: &TrainArgs) -> Result {
    let artifact = model::train(args.max_depth)?;
    artifact.save(&args.out)?;
    tracing::info!(
        model_version = %artifact.model_version,
        data_sha256 = %artifact.data_sha256,
        path = %args.out.display(),
        "model trained"
    );
    Ok(())
}

fn serve(args: &ServeArgs) -> Result {
    // Load first: once the port is open, the service can answer.
    let model = Model::load(&args.model_path)?;
    tracing::info!(model_version = %model.version, "model loaded");
    let app = iris_service::http::router(model);
    tokio::runtime::Runtime::new()?.block_on(async {
        // Every interface: inside a container, loopback is unreachable from
        // outside, so 127.0.0.1 would serve no one.
        let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, args.port));
        let listener = tokio::net::TcpListener::bind(address).await?;
        tracing::info!("listening on {}", listener.local_addr()?);
        iris_service::serve(listener, app, iris_service::shutdown_signal()).await?;
        tracing::info!("stopped cleanly");
        Ok(())
    })
}
