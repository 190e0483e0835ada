//! `wine-chatbot`: serves the chatbot on `0.0.0.0:$PORT` until SIGTERM.
//! See the library for the details.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;
use wine_chatbot::{AppError, Config};

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stdout, where container runtimes collect them. Colours
    // only for a terminal: escape codes clutter collected logs.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line that names the problem (and the path, for the notes).
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), AppError> {
    let config = Config::from_env()?;
    // Index before listening, so that an open port means ready.
    let app = wine_chatbot::app(&config)?;
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::Listen {
            port: config.port,
            reason: e.to_string(),
        })?;
    match listener.local_addr() {
        Ok(addr) => tracing::info!("listening on {addr}"),
        Err(_) => tracing::info!("listening on port {}", config.port),
    }
    wine_chatbot::serve(
        listener,
        app,
        wine_chatbot::shutdown_signal(),
        wine_chatbot::SHUTDOWN_GRACE,
    )
    .await
    .map_err(|e| AppError::Serve(e.to_string()))?;
    tracing::info!("shut down cleanly");
    Ok(())
}
