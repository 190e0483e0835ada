//! The week-8 wine-quality service, ready for Kubernetes: it listens at once,
//! says it is alive while the model loads, ready once it has, and on SIGTERM
//! drains before it stops.
//!
//! - [`lifecycle`]: the probes (`/live`, `/health`) and the drain.
//! - [`cli`]: the command line, week 8's plus the timings.
//! - [`api`], [`model`], [`schema`], [`config`]: week 8's service, shared
//!   with it file for file.
//! - [`run`]: the order of events, from the port opening to the exit.

pub mod api;
pub mod cli;
pub mod config;
pub mod lifecycle;
pub mod model;
pub mod schema;
pub mod tree;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpListener;

pub use api::{AppState, router};
pub use lifecycle::{Lifecycle, Phase};
pub use model::{Model, ModelArtifact, train};

/// Any failure that ends the service; `main` logs it in one line.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Binds `host:port`. In a container `host` must be `0.0.0.0` (the default
/// of `--host`): the loopback interface is unreachable from outside.
pub async fn bind(host: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(host, port)).await
}

/// Serves until SIGTERM.
///
/// TODO(week 9): this is week 8's order: load the model, then listen, so the
/// port opens only once the service is ready, and a pod that is loading looks
/// dead. Listen first (alive, not ready: see `lifecycle`), then load and warm
/// up the model off the runtime's threads (`tokio::task::spawn_blocking`),
/// then `lifecycle.loaded(...)`.
pub async fn run(serve: &cli::Serve) -> Result<(), Error> {
    let (args, timing) = (&serve.args, &serve.timing);
    let lifecycle = Lifecycle::new();
    let model = Model::load(&args.model_path)?;
    tokio::time::sleep(timing.warmup()).await;
    lifecycle.loaded(api::router(AppState::new(model)));
    let listener = bind(args.host, args.port).await?;
    tracing::info!("listening on {}", listener.local_addr()?);
    let shutdown = lifecycle::drain_after(
        shutdown_signal(),
        lifecycle.clone(),
        timing.shutdown_delay(),
    );
    serve_until(listener, lifecycle::router(lifecycle), shutdown).await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting connections and waits for requests in flight to finish.
pub async fn serve_until(
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
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
