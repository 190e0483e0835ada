//! The service: week 8's API behind week 9's probes, measured by week 11's
//! metrics, on a model week 4's pin vouches for.
//!
//! The final's own file. Week 9's `run` loads an unpinned model and serves
//! week 8's bare router; week 11's `router` answers `/health` itself, which
//! the probes must answer here; week 4's `serve` loads before listening. The
//! order of events is week 9's, the rest is put together here:
//!
//! 1. listen at once: `/live` 200, `/health` 503 (the [`lifecycle`] answers
//!    both), every other path 503;
//! 2. off the runtime's threads, read the pin, the artifact's bytes (checked
//!    against the pin before they are parsed) and the drift reference (checked
//!    against the model's data); any failure ends the process, exit 1;
//! 3. wait `WARMUP_SECS`, then hand the monitored service to the lifecycle:
//!    ready;
//! 4. on SIGTERM, `/health` 503 while requests are still served for
//!    `SHUTDOWN_DELAY_SECS`, then stop accepting and finish those in flight.
//!
//! Every request is counted once in `/metrics`: those the service answers by
//! week 11's middleware inside it, the probes by the same middleware around
//! the lifecycle's two routes (from the moment the model is loaded: the
//! metrics name the model, so they exist from then on).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use tokio::net::TcpListener;

use crate::api::{self, AppState, PredictInputs};
use crate::cli::{Serve, ServeArgs};
use crate::drift::DriftReference;
use crate::lifecycle::{self, Lifecycle};
use crate::metrics::{self, Monitor};
use crate::model::Model;
use crate::pin;
use crate::schema::PredictResponse;

/// Any failure that ends the service; `main` logs it in one line.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The monitor, once the model it names is loaded.
pub type MonitorSlot = Arc<OnceLock<Arc<Monitor>>>;

/// `POST /predict` as week 8 answers it, with the accepted batch recorded
/// (week 11's handler): its predictions counted by quality, its wines added
/// to the drift window.
pub async fn predict(
    State(state): State<AppState>,
    Extension(monitor): Extension<Arc<Monitor>>,
    PredictInputs(inputs): PredictInputs,
) -> Json<PredictResponse> {
    let response = api::predict_response(&state.model, &inputs);
    monitor.observe_predictions(&inputs, &response.predictions);
    Json(response)
}

/// Week 8's routes but `/health` (the lifecycle's readiness answers it),
/// `POST /predict` monitored, and `GET /metrics`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/predict", post(predict))
        .route("/version", get(api::version))
        .route("/openapi.json", get(api::openapi_json))
        .route("/metrics", get(metrics::metrics))
}

/// The loaded service: week 8's shared layers ([`api::finish`]: the JSON
/// 404, the 1 MiB body limit, request logging), the monitor for the
/// handlers and, outermost, the middleware that counts and times every
/// request, 404s included.
pub fn router(state: AppState, monitor: Arc<Monitor>) -> Router {
    api::finish(routes(), state)
        .layer(Extension(Arc::clone(&monitor)))
        .layer(middleware::from_fn_with_state(monitor, metrics::track))
}

/// Week 11's request middleware for the probes, once there is a monitor.
async fn track_probes(State(slot): State<MonitorSlot>, request: Request, next: Next) -> Response {
    match slot.get() {
        Some(monitor) => metrics::track(State(Arc::clone(monitor)), request, next).await,
        None => next.run(request).await,
    }
}

/// What listens on the port from the start: the lifecycle's probes (counted
/// once the monitor exists) in front of the service it will be handed.
/// `route_layer` wraps the probes' two routes only: what they forward is
/// counted by the service's own middleware, never twice.
pub fn front(lifecycle: Lifecycle, monitor: MonitorSlot) -> Router {
    lifecycle::router(lifecycle).route_layer(middleware::from_fn_with_state(monitor, track_probes))
}

/// Reads the pin, the artifact (checked against it, then parsed from the
/// very bytes checked) and the drift reference (checked against the
/// model's data). Blocking file work.
pub fn load(args: &ServeArgs) -> Result<(Model, DriftReference), Error> {
    let expected = pin::read_pin(&args.pin_path)?;
    let bytes = pin::read_pinned(&args.model_path, &expected)?;
    let model = Model::from_bytes(&bytes)?;
    let reference = DriftReference::load(&args.drift_reference_path, &model.data_sha256)?;
    tracing::info!(
        model_version = %model.model_version,
        model_sha256 = %expected,
        "model loaded and matches its pin; drift reference loaded"
    );
    Ok((model, reference))
}

/// Serves until SIGTERM, in the order Kubernetes expects (see the module's
/// documentation).
pub async fn run(serve: &Serve) -> Result<(), Error> {
    let (args, timing) = (&serve.args, &serve.timing);
    let lifecycle = Lifecycle::new();
    let slot = MonitorSlot::default();
    let listener = bind(args.host, args.port).await?;
    tracing::info!("listening on {}; loading the model", listener.local_addr()?);
    let shutdown = lifecycle::drain_after(
        shutdown_signal(),
        lifecycle.clone(),
        timing.shutdown_delay(),
    );
    let mut server = tokio::spawn(serve_until(
        listener,
        front(lifecycle.clone(), Arc::clone(&slot)),
        shutdown,
    ));

    let paths = args.clone();
    let loading = async {
        let loaded = tokio::task::spawn_blocking(move || load(&paths)).await??;
        tokio::time::sleep(timing.warmup()).await;
        Ok::<_, Error>(loaded)
    };
    tokio::select! {
        loaded = loading => {
            // A model that fails its pin, or cannot load, ends the process:
            // Kubernetes restarts it, and the restarts show.
            let (model, reference) = loaded.inspect_err(|_| server.abort())?;
            let monitor = Arc::new(Monitor::new(&model.model_version, reference));
            let _ = slot.set(Arc::clone(&monitor));
            lifecycle.loaded(router(AppState::new(model), monitor));
            tracing::info!("ready");
            server.await??;
        }
        // SIGTERM while loading: the drain has run its course already.
        served = &mut server => served??,
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Binds `host:port`. In a container `host` must be `0.0.0.0` (the default
/// of `--host`): the loopback interface is unreachable from outside.
pub async fn bind(host: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(host, port)).await
}

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting connections and waits for requests in flight to finish.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{StatusCode, header};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    fn model() -> Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                Model::train_in_memory(crate::model::DEFAULT_MAX_DEPTH).expect("training succeeds")
            })
            .clone()
    }

    fn reference() -> DriftReference {
        static REFERENCE: OnceLock<DriftReference> = OnceLock::new();
        REFERENCE
            .get_or_init(DriftReference::from_training_data)
            .clone()
    }

    /// The front router, its lifecycle, and the monitor handed over once
    /// `loaded` is called.
    struct Pod {
        app: Router,
        lifecycle: Lifecycle,
        slot: MonitorSlot,
    }

    impl Pod {
        fn new() -> Self {
            let (lifecycle, slot) = (Lifecycle::new(), MonitorSlot::default());
            let app = front(lifecycle.clone(), Arc::clone(&slot));
            Self {
                app,
                lifecycle,
                slot,
            }
        }

        /// What `run` does once the model is loaded and warmed up.
        fn loaded(&self) {
            let model = model();
            let monitor = Arc::new(Monitor::new(&model.model_version, reference()));
            let _ = self.slot.set(Arc::clone(&monitor));
            self.lifecycle.loaded(router(AppState::new(model), monitor));
        }

        async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
            let response = self.app.clone().oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }

        async fn get(&self, path: &str) -> (StatusCode, String) {
            self.send(Request::get(path).body(Body::empty()).expect("request"))
                .await
        }
    }

    fn wine(alcohol: f64) -> Value {
        json!({
            "fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0,
            "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0,
            "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51,
            "sulphates": 0.56, "alcohol": alcohol
        })
    }

    fn predict_req(inputs: &[Value]) -> Request<Body> {
        Request::post("/predict")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "inputs": inputs }).to_string()))
            .expect("request")
    }

    /// The sum of the samples of `name` whose labels include every `with`.
    fn sum(text: &str, name: &str, with: &[&str]) -> f64 {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter(|(series, _)| {
                series.split_once('{').map_or(*series, |(n, _)| n) == name
                    && with.iter().all(|w| series.contains(w))
            })
            .filter_map(|(_, value)| value.parse::<f64>().ok())
            .sum()
    }

    #[tokio::test]
    async fn loading_is_alive_not_ready_and_serves_nothing() {
        let pod = Pod::new();
        assert_eq!(pod.get("/live").await.0, StatusCode::OK);
        assert_eq!(pod.get("/health").await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            pod.send(predict_req(&[wine(9.4)])).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(pod.get("/metrics").await.0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn loaded_serves_week_8s_contract_and_drains_on_request() {
        let pod = Pod::new();
        pod.loaded();
        let (status, body) = pod.get("/health").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"status":"ok"}"#)
        );
        let (status, body) = pod.send(predict_req(&[wine(9.4), wine(12.0)])).await;
        assert_eq!(status, StatusCode::OK);
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["predictions"].as_array().map(Vec::len), Some(2));
        let mut bad = wine(9.4);
        bad["colour"] = json!(1);
        let (status, body) = pod.send(predict_req(&[bad])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["field"], "inputs[0].colour");
        let (status, body) = pod.get("/version").await;
        assert_eq!(status, StatusCode::OK);
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["model_version"], model().model_version);

        pod.lifecycle.drain();
        assert_eq!(pod.get("/health").await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(pod.get("/version").await.0, StatusCode::OK);
        assert_eq!(pod.get("/live").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn every_path_week_8_documents_is_served_once_ready() {
        let pod = Pod::new();
        pod.loaded();
        let doc = serde_json::to_value(api::openapi()).expect("serializable");
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() >= 3);
        for (path, item) in paths {
            for method in item.as_object().expect("operations").keys() {
                let request = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(path)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({ "inputs": [wine(9.4)] }).to_string()))
                    .expect("request");
                assert_eq!(pod.send(request).await.0, StatusCode::OK, "{method} {path}");
            }
        }
        assert_eq!(pod.get("/openapi.json").await.0, StatusCode::OK);
    }

    /// Week 11's grader traffic: every request counted once, the probes
    /// included, whoever answers them.
    #[tokio::test]
    async fn the_traffic_sent_is_the_traffic_counted_probes_included() {
        let pod = Pod::new();
        // Before the model loads there is no monitor: nothing to count in.
        assert_eq!(pod.get("/health").await.0, StatusCode::SERVICE_UNAVAILABLE);
        pod.loaded();
        for n in [3, 4, 3, 4, 3, 4, 3] {
            let batch = vec![wine(9.4); n];
            assert_eq!(pod.send(predict_req(&batch)).await.0, StatusCode::OK);
        }
        assert_eq!(
            pod.send(predict_req(&[])).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        for _ in 0..3 {
            assert_eq!(pod.get("/health").await.0, StatusCode::OK);
        }
        assert_eq!(pod.get("/live").await.0, StatusCode::OK);
        assert_eq!(pod.get("/wp-login.php").await.0, StatusCode::NOT_FOUND);

        let (status, text) = pod.get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        let requests = "wine_http_requests_total";
        let predict_ok = r#"route="/predict",method="POST",status="200""#;
        assert_eq!(sum(&text, requests, &[predict_ok]), 7.0, "{text}");
        let predict_bad = r#"route="/predict",method="POST",status="422""#;
        assert_eq!(sum(&text, requests, &[predict_bad]), 1.0);
        let health = r#"route="/health",method="GET",status="200""#;
        assert_eq!(sum(&text, requests, &[health]), 3.0);
        assert_eq!(sum(&text, requests, &[r#"route="/live""#]), 1.0);
        let unmatched = r#"route="unmatched",method="GET",status="404""#;
        assert_eq!(sum(&text, requests, &[unmatched]), 1.0);
        assert_eq!(sum(&text, requests, &[]), 13.0);
        assert_eq!(
            sum(&text, "wine_http_request_duration_seconds_count", &[]),
            13.0
        );
        assert_eq!(sum(&text, "wine_predictions_total", &[]), 24.0);
        let info = format!(r#"model_version="{}""#, model().model_version);
        assert_eq!(sum(&text, "wine_model_info", &[&info]), 1.0);
    }

    #[test]
    fn a_tampered_artifact_is_refused_naming_sha_256() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        let artifact = crate::model::train(1).expect("trains");
        std::fs::write(
            d.join("model.json"),
            serde_json::to_vec(&artifact).expect("json"),
        )
        .expect("w");
        std::fs::write(d.join("model.sha256"), format!("{}\n", "0".repeat(64))).expect("w");
        let args = ServeArgs {
            model_path: d.join("model.json"),
            pin_path: d.join("model.sha256"),
            drift_reference_path: d.join("drift-reference.json"),
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
        };
        let err = load(&args).expect_err("tampered");
        assert!(err.to_string().contains("SHA-256"), "{err}");
        assert!(err.downcast_ref::<pin::PinError>().is_some());
    }
}
