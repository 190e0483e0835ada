//! A retrieval chatbot over the course's own notes, served over HTTP:
//!
//! - [`notes`] reads the markdown notes, [`retrieval`] ranks them for a
//!   question with BM25;
//! - [`memory`] keeps each session's last turns, bounded;
//! - [`upstream`] calls an OpenAI-compatible endpoint and reads its
//!   streamed answer; [`chat`] builds the grounded prompt and relays the
//!   answer as it is written, in the events of [`sse`];
//! - [`schema`] validates request bodies, [`api`] routes and answers,
//!   [`config`] reads the environment, [`error`] says why a start failed.
//!
//! [`app`] builds the whole service from a [`Config`], so that tests need
//! no environment; [`serve`] runs it until a shutdown signal.

pub mod api;
pub mod chat;
pub mod config;
pub mod error;
pub mod memory;
pub mod notes;
pub mod retrieval;
pub mod schema;
pub mod sse;
pub mod upstream;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

pub use api::{AppState, router};
pub use config::Config;
pub use error::AppError;

use crate::chat::Chat;
use crate::memory::SessionStore;
use crate::retrieval::Index;
use crate::upstream::Upstream;

/// How long open streams may go on after a shutdown signal before they are
/// cut: well inside the ten seconds `docker stop` waits before SIGKILL.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The service's state: the notes read and indexed, empty memory, the
/// model's client. Fails, naming the path, when the notes cannot be read.
pub fn state(config: &Config) -> Result<AppState, AppError> {
    let notes = notes::load(&config.notes_dir)?;
    tracing::info!(
        notes = notes.len(),
        dir = %config.notes_dir.display(),
        "notes indexed"
    );
    let upstream = Upstream::new(
        config.base_url.as_deref(),
        config.api_key.as_deref(),
        &config.model,
    )?;
    match upstream.url() {
        Some(url) => tracing::info!(url, model = upstream.model(), "language model"),
        None => tracing::warn!("OPENAI_BASE_URL is not set: /chat will answer 502"),
    }
    Ok(AppState {
        chat: Chat {
            index: Arc::new(Index::new(notes)),
            sessions: Arc::new(Mutex::new(SessionStore::default())),
            upstream: Arc::new(upstream),
        },
    })
}

/// The complete service for `config`.
pub fn app(config: &Config) -> Result<axum::Router, AppError> {
    Ok(router(state(config)?))
}

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting connections and lets requests in flight finish, for `grace`
/// at most: an answer still streaming after that is cut.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let stopping = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        if rx.wait_for(|stop| *stop).await.is_err() {
            // The sender is gone without a signal: no shutdown is coming.
            std::future::pending::<()>().await;
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(stopping(rx.clone()));
    let deadline = async move {
        stopping(rx).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = async move { server.await } => result,
        () = deadline => {
            tracing::info!("open streams cut after {} s", grace.as_secs());
            Ok(())
        }
    }
}

/// Completes on the first SIGTERM (what `docker stop` and Kubernetes send)
/// or Ctrl-C (SIGINT).
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

/// An error and its causes on one line, `outer: inner: innermost`. HTTP
/// clients hide the useful part (connection refused, a timeout) in the
/// cause, and a log reader should see it without a debugger.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let part = inner.to_string();
        // Some errors repeat their cause in their own message.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    one_line(&text)
}

/// Text folded onto one line, with runs of whitespace as single spaces, so
/// that an error message quoting a server's answer stays one log line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_is_one_line_without_repeats() {
        #[derive(Debug, thiserror::Error)]
        #[error("request failed")]
        struct Outer(#[source] std::io::Error);
        let err = Outer(std::io::Error::other("connection\nrefused"));
        assert_eq!(error_chain(&err), "request failed: connection refused");
        assert_eq!(one_line("  a \n b\t"), "a b");
    }
}
