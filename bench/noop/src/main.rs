//! `bench-noop [ADDR]`: the limit of the serving stack, for `cargo xtask bench serve`.
//!
//! It runs axum on the same multi-threaded tokio runtime as the week-8
//! reference, but `POST /predict` only reads the body (as any handler must)
//! and answers a fixed prediction: no JSON parsing, no validation, no model,
//! no request log. Whatever the reference serves less than this is the cost
//! of its own work. Listens on ADDR, 127.0.0.1:8080 by default.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

/// What the reference answers for the bench's wine, give or take the version.
const PREDICTION: &str = r#"{"predictions":[5],"model_version":"noop"}"#;
const HEALTH: &str = r#"{"status":"ok"}"#;

fn json(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

// The body is read, as any real handler must, but never parsed: reading it
// is the stack's work, parsing it is the service's.
async fn predict(_body: Bytes) -> impl IntoResponse {
    json(PREDICTION)
}

async fn health() -> impl IntoResponse {
    json(HEALTH)
}

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let addr: SocketAddr = match arg.as_deref().unwrap_or("127.0.0.1:8080").parse() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("bench-noop: bad address: {err} (usage: bench-noop [IP:PORT])");
            return ExitCode::from(2);
        }
    };
    let app = Router::new()
        .route("/predict", post(predict))
        .route("/health", get(health));
    // `Runtime::new()`, like the reference: one worker thread per core.
    let served = tokio::runtime::Runtime::new().and_then(|runtime| {
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            println!("bench-noop listening on {}", listener.local_addr()?);
            axum::serve(listener, app).await
        })
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-noop: {err}");
            ExitCode::FAILURE
        }
    }
}
