//! Wine-quality model service: a decision tree trained on the red wine
//! quality data set, served over HTTP with axum.
//!
//! - [`model`]: training, the artifact file, prediction (complete).
//! - [`schema`]: request and response types (validation to write).
//! - [`api`]: router and handlers (several to finish).
//! - [`config`]: command line and environment (complete).

pub mod api;
pub mod config;
pub mod model;
pub mod schema;
pub mod tree;

use std::net::SocketAddr;

use tokio::net::TcpListener;

pub use api::{AppState, router};
pub use model::{Model, ModelArtifact, train};

/// Binds `0.0.0.0:port`: all interfaces, because inside a container the
/// loopback interface is unreachable from outside.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await
}

/// Serves `app` on `listener` until the process is killed.
//
// TODO(week 8): shut down gracefully on SIGTERM (what `docker stop` sends)
// and Ctrl-C: finish requests in flight, then return so the process exits 0.
// Look at `axum::serve(..).with_graceful_shutdown(..)` and
// `tokio::signal::unix::signal(SignalKind::terminate())`.
// Without a handler, SIGTERM kills the process; inside a container, where the
// service is PID 1, it is ignored instead, and `docker stop` has to wait and
// SIGKILL it.
pub async fn serve(listener: TcpListener, app: axum::Router) -> std::io::Result<()> {
    axum::serve(listener, app).await
}
