//! The life of a pod, as Kubernetes sees it: loading, ready, draining.
//!
//! Kubernetes asks two questions, through two probes:
//!
//! - *liveness* (`GET /live`): is the process healthy? No means "restart it".
//!   It is yes from the moment the port opens until the process exits, even
//!   while the model loads: a loading pod is not a broken one, and restarting
//!   it would only start the loading again.
//! - *readiness* (`GET /health`): may it have traffic? No means "take it out
//!   of the Service's endpoints", with no restart. It is no while the model
//!   loads, yes once it is loaded, and no again after SIGTERM, while the pod
//!   drains.
//!
//! [`router`] answers both probes itself, and hands every other request to
//! the week-8 service once the model is loaded (503 before).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceExt;

/// Where the service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Listening, the model not yet loaded: alive, not ready.
    Loading,
    /// Serving predictions: alive and ready.
    Ready,
    /// SIGTERM received: still serving, no longer ready.
    Draining,
}

/// The shared state of the probes: the phase, and the service once loaded.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    phase: AtomicU8,
    app: OnceLock<Router>,
}

const LOADING: u8 = 0;
const READY: u8 = 1;
const DRAINING: u8 = 2;

impl Lifecycle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn phase(&self) -> Phase {
        match self.inner.phase.load(Ordering::Acquire) {
            LOADING => Phase::Loading,
            READY => Phase::Ready,
            phase => {
                debug_assert_eq!(phase, DRAINING, "the phases are 0, 1 and 2");
                Phase::Draining
            }
        }
    }

    /// The model is loaded and `app` serves it: ready, unless SIGTERM came
    /// first (a draining pod never becomes ready again).
    pub fn loaded(&self, app: Router) {
        // Set before the phase, so that a request let through finds it.
        let _ = self.inner.app.set(app);
        let _ =
            self.inner
                .phase
                .compare_exchange(LOADING, READY, Ordering::AcqRel, Ordering::Acquire);
    }

    /// SIGTERM: not ready from now on, whatever the phase was.
    pub fn drain(&self) {
        self.inner.phase.store(DRAINING, Ordering::Release);
    }

    fn app(&self) -> Option<&Router> {
        self.inner.app.get()
    }
}

/// The probes and, behind them, the service: `GET /live`, `GET /health`,
/// and everything else forwarded to the loaded service.
pub fn router(lifecycle: Lifecycle) -> Router {
    Router::new()
        .route("/live", get(live))
        .route("/health", get(ready))
        .fallback(forward)
        .with_state(lifecycle)
}

/// Liveness: the process answers, so it is alive.
async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

/// Readiness: 200 only while the service should have traffic.
async fn ready(State(lifecycle): State<Lifecycle>) -> Response {
    let (status, word) = match lifecycle.phase() {
        Phase::Loading => (StatusCode::SERVICE_UNAVAILABLE, "loading"),
        Phase::Ready => (StatusCode::OK, "ok"),
        Phase::Draining => (StatusCode::SERVICE_UNAVAILABLE, "draining"),
    };
    (status, Json(json!({ "status": word }))).into_response()
}

/// Every other request: to the service once it is loaded, 503 before.
/// While draining it is still served: requests keep arriving for a few
/// seconds after SIGTERM, until every node has heard the pod is leaving.
async fn forward(State(lifecycle): State<Lifecycle>, request: Request) -> Response {
    match lifecycle.app() {
        Some(app) => match app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "the model is still loading", "field": null })),
        )
            .into_response(),
    }
}

/// Completes once the service should stop accepting connections: `signal`
/// (SIGTERM) has come, the lifecycle is draining, and `delay` has passed.
///
/// The delay is for Kubernetes: SIGTERM and the removal of the pod from the
/// Service's endpoints happen at the same time, and every node's proxy takes
/// a moment to hear of it. A pod that stopped accepting at once would refuse
/// the requests still sent its way; one that keeps serving for a few seconds,
/// saying it is not ready, loses none.
pub async fn drain_after(
    signal: impl std::future::Future<Output = ()>,
    lifecycle: Lifecycle,
    delay: Duration,
) {
    signal.await;
    lifecycle.drain();
    tracing::info!(
        delay_secs = delay.as_secs_f64(),
        "draining: not ready, still serving"
    );
    tokio::time::sleep(delay).await;
    tracing::info!("no longer accepting connections; finishing the requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;

    async fn fetch(app: &Router, path: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    fn service() -> Router {
        Router::new().route("/predict", get(|| async { "predicted" }))
    }

    #[tokio::test]
    async fn loading_is_alive_but_not_ready() {
        let app = router(Lifecycle::new());
        assert_eq!(fetch(&app, "/live").await.0, StatusCode::OK);
        let (status, body) = fetch(&app, "/health").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "loading");
        assert_eq!(
            fetch(&app, "/predict").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn loaded_is_ready_and_serves() {
        let lifecycle = Lifecycle::new();
        let app = router(lifecycle.clone());
        lifecycle.loaded(service());
        assert_eq!(lifecycle.phase(), Phase::Ready);
        let (status, body) = fetch(&app, "/health").await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("ok"))
        );
        let request = Request::get("/predict")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn draining_is_not_ready_but_still_serves() {
        let lifecycle = Lifecycle::new();
        let app = router(lifecycle.clone());
        lifecycle.loaded(service());
        lifecycle.drain();
        let (status, body) = fetch(&app, "/health").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "draining");
        assert_eq!(fetch(&app, "/live").await.0, StatusCode::OK);
        let request = Request::get("/predict")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_pod_drained_while_loading_never_becomes_ready() {
        let lifecycle = Lifecycle::new();
        lifecycle.drain();
        lifecycle.loaded(service());
        assert_eq!(lifecycle.phase(), Phase::Draining);
    }

    #[tokio::test]
    async fn the_drain_waits_for_its_delay() {
        let lifecycle = Lifecycle::new();
        let started = std::time::Instant::now();
        drain_after(async {}, lifecycle.clone(), Duration::from_millis(200)).await;
        assert_eq!(lifecycle.phase(), Phase::Draining);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
