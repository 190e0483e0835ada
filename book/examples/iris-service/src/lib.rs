//! Iris species service: the course's decision tree, trained on the 150
//! flowers of the iris data set, served over HTTP with axum. It is the week-8
//! chapter's worked example, a sibling of the lab's wine-quality service:
//! the same techniques on other data, behind another contract.
//!
//! - [`flowers`]: request and response types, parsing and validation.
//! - [`http`]: routes, handlers, extractors and the JSON error type.
//! - [`model`]: training, and the artifact file with its checks.
//! - [`cli`]: command line and environment.
//! - [`tree`]: the course's decision tree, a copy of week 1's.
//! - [`serve`] and [`shutdown_signal`]: running until told to stop.

pub mod cli;
pub mod flowers;
pub mod http;
pub mod model;
// A byte-for-byte copy of week 1's file: a test below checks, so that the
// sibling always trains with the course's one tree.
pub mod tree;

use std::future::Future;

use tokio::net::TcpListener;

// ANCHOR: shutdown
/// Serves `app` until `shutdown` completes; then stops accepting connections,
/// lets the requests in flight finish, and returns.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on SIGTERM (what `docker stop` and Kubernetes send first) or on
/// Ctrl-C. A signal that cannot be watched is logged and never fires, rather
/// than stopping the service at once.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(err) => {
                tracing::warn!("cannot watch for Ctrl-C: {err}");
                std::future::pending().await
            }
        }
    };
    let sigterm = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
                "SIGTERM"
            }
            Err(err) => {
                tracing::warn!("cannot watch for SIGTERM: {err}");
                std::future::pending().await
            }
        }
    };
    let name = tokio::select! { name = ctrl_c => name, name = sigterm => name };
    tracing::info!("{name} received: finishing requests in flight, then stopping");
}
// ANCHOR_END: shutdown

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::Ipv4Addr;
    use std::time::Duration;

    #[test]
    fn the_tree_is_an_exact_copy_of_week_one() {
        // Outside the course repository (a Docker build) this path does not
        // exist, but only tests read it.
        assert!(
            include_str!("tree.rs")
                == include_str!("../../../../solutions/week01-baseline/src/tree.rs"),
            "src/tree.rs differs from week 1's: copy solutions/week01-baseline/src/tree.rs \
             over it again"
        );
    }

    #[tokio::test]
    async fn shutdown_lets_the_request_in_flight_finish() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("bound");

        // The slow handler says when it has started; that starts the shutdown,
        // so the signal arrives while the request is in flight.
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        let slow = axum::routing::get(move || async move {
            let _ = started.send(());
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        });
        let app = axum::Router::new().route("/slow", slow);
        let shutdown = async move {
            let _ = tokio::task::spawn_blocking(move || has_started.recv()).await;
        };
        let server = tokio::spawn(serve(listener, app, shutdown));

        let client = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(address)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        });
        let response = client.await.expect("client ran").expect("a response");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("done"), "{response}");

        let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(
            matches!(stopped, Ok(Ok(Ok(())))),
            "serve returns: {stopped:?}"
        );
        assert!(
            std::net::TcpStream::connect(address).is_err(),
            "no longer listening"
        );
    }
}
