//! Wine-quality model service: a decision tree trained on the red wine
//! quality data set, served over HTTP with axum.
//!
//! - [`model`]: training, the artifact file, prediction.
//! - [`pin`]: the artifact's SHA-256 pin, checked before it is parsed.
//! - [`schema`]: request and response types, input validation.
//! - [`api`]: router, handlers, error responses.
//! - [`config`]: command line and environment.
//! - [`serve`] and [`shutdown_signal`]: running the server.

pub mod api;
pub mod config;
pub mod model;
pub mod pin;
pub mod schema;
pub mod tree;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpListener;

pub use api::{AppState, router};
pub use model::{Model, ModelArtifact, train};

/// Binds `host:port`. In a container `host` must be `0.0.0.0` (the default
/// of `--host`): the loopback interface is unreachable from outside.
pub async fn bind(host: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(host, port)).await
}

// ANCHOR: shutdown
/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting connections and waits for requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on the first SIGTERM (what `docker stop` and Kubernetes send) or
/// Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            // Without a handler there is no Ctrl-C to wait for; rely on SIGTERM.
            tracing::warn!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::warn!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        () = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}
// ANCHOR_END: shutdown
