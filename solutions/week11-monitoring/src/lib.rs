//! Wine-quality model service, monitored: week 8's service (a decision tree
//! trained on the red wine quality data set, served over HTTP with axum) plus
//! Prometheus metrics and an input-drift gauge.
//!
//! - [`model`], [`schema`], [`api`]: week 8's, unchanged (shared copies).
//! - [`metrics`]: the registry, the request middleware, `GET /metrics`.
//! - [`drift`]: the training reference, the window of recent inputs, PSI.
//! - [`config`]: command line and environment.
//! - [`router`]: week 8's routes and layers, with `POST /predict` monitored
//!   and `GET /metrics` added.

pub mod api;
pub mod config;
pub mod drift;
pub mod metrics;
pub mod model;
pub mod schema;
pub mod tree;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
// lab:solution
use axum::{Extension, Json, Router, middleware};
// lab:starter
// use axum::{Extension, Json, Router};
// lab:end
use tokio::net::TcpListener;

pub use api::AppState;
use api::PredictInputs;
pub use drift::{DriftReference, DriftWindow};
pub use metrics::Monitor;
pub use model::{Model, ModelArtifact, train};
use schema::PredictResponse;

/// `POST /predict` as week 8 answers it, with the batch recorded: its
/// predictions counted by quality and its wines added to the drift window.
/// Only accepted batches get here: a rejected request (422, 413, 415) is
/// counted by the middleware but feeds neither.
pub async fn predict(
    State(state): State<AppState>,
    Extension(monitor): Extension<Arc<Monitor>>,
    PredictInputs(inputs): PredictInputs,
) -> Json<PredictResponse> {
    let response = api::predict_response(&state.model, &inputs);
    monitor.observe_predictions(&inputs, &response.predictions);
    Json(response)
}

/// Week 8's routes, `POST /predict` monitored, and `GET /metrics`.
///
/// Week 8's [`api::routes`] cannot be reused as it is: axum refuses a second
/// `POST /predict`, and week 8's handler has no way to report its batch. So
/// the table is written again here with week 8's own handlers; a test checks
/// that every path week 8 documents is still served.
pub fn routes() -> Router<AppState> {
    let routes = Router::new()
        .route("/health", get(api::health))
        .route("/predict", post(predict))
        .route("/version", get(api::version))
        .route("/openapi.json", get(api::openapi_json));
    // lab:solution
    routes.route("/metrics", get(metrics::metrics))
    // lab:starter
    // // TODO(week 11): serve `metrics::metrics` at GET /metrics.
    // routes
    // lab:end
}

/// The complete service: week 8's shared layers ([`api::finish`]: the JSON
/// 404, the body limit, request logging, the state), then the monitor for
/// the handlers and, outermost, the middleware that counts and times every
/// request, 404s included.
pub fn router(state: AppState, monitor: Arc<Monitor>) -> Router {
    // lab:solution
    api::finish(routes(), state)
        .layer(Extension(Arc::clone(&monitor)))
        .layer(middleware::from_fn_with_state(monitor, metrics::track))
    // lab:starter
    // // TODO(week 11): count and time every request: add `metrics::track`
    // // as the outermost layer (`middleware::from_fn_with_state`, with the
    // // monitor as its state).
    // api::finish(routes(), state).layer(Extension(monitor))
    // lab:end
}

/// Binds `host:port`. In a container `host` must be `0.0.0.0` (the default
/// of `--host`): the loopback interface is unreachable from outside.
pub async fn bind(host: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(host, port)).await
}

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting connections and waits for requests in flight to finish.
pub async fn serve(
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
        () = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        () = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use serde_json::{Value, json};
    use std::sync::OnceLock;
    use tower::ServiceExt;

    fn model() -> Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                Model::train_in_memory(model::DEFAULT_MAX_DEPTH).expect("training succeeds")
            })
            .clone()
    }

    fn reference() -> DriftReference {
        static REFERENCE: OnceLock<DriftReference> = OnceLock::new();
        REFERENCE
            .get_or_init(DriftReference::from_training_data)
            .clone()
    }

    /// A fresh service: its own counters, the shared model.
    fn service() -> Router {
        let model = model();
        let monitor = Arc::new(Monitor::new(&model.model_version, reference()));
        router(AppState::new(model), monitor)
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

    fn get_req(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).expect("request")
    }

    async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String, String) {
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            content_type,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    // lab:solution
    /// Every sample of the exposition as (series, value).
    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    fn value(text: &str, series: &str) -> f64 {
        samples(text)
            .into_iter()
            .find(|(s, _)| s == series)
            .map_or(f64::NAN, |(_, v)| v)
    }

    /// The sum of the samples of `name` whose labels include every `with`.
    fn sum(text: &str, name: &str, with: &[&str]) -> f64 {
        samples(text)
            .into_iter()
            .filter(|(s, _)| {
                s.split_once('{').map_or(s.as_str(), |(n, _)| n) == name
                    && with.iter().all(|w| s.contains(w))
            })
            .map(|(_, v)| v)
            .sum()
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_prometheus_text_format() {
        let app = service();
        let (status, content_type, body) = send(&app, get_req("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert!(body.contains("# TYPE wine_predictions_total counter"));
        assert_eq!(
            value(
                &body,
                &format!(
                    r#"wine_model_info{{model_version="{}"}}"#,
                    model().model_version
                )
            ),
            1.0
        );
    }

    #[tokio::test]
    async fn the_traffic_sent_is_the_traffic_counted() {
        let app = service();
        // 7 predicts of 3 and 4 wines alternately (3+4+3+4+3+4+3 = 24 wines),
        // 2 bad requests, 3 health checks, 1 unknown path.
        let mut wines: u32 = 0;
        for i in 0..7 {
            let n: u32 = if i % 2 == 0 { 3 } else { 4 };
            wines += n;
            let batch = vec![wine(9.4); n as usize];
            let (status, _, _) = send(&app, predict_req(&batch)).await;
            assert_eq!(status, StatusCode::OK);
        }
        let mut bad = wine(9.4);
        bad["ph"] = json!(15);
        assert_eq!(
            send(&app, predict_req(&[bad])).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            send(&app, predict_req(&[])).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        for _ in 0..3 {
            assert_eq!(send(&app, get_req("/health")).await.0, StatusCode::OK);
        }
        assert_eq!(
            send(&app, get_req("/wp-login.php")).await.0,
            StatusCode::NOT_FOUND
        );

        let (_, _, text) = send(&app, get_req("/metrics")).await;
        let requests = "wine_http_requests_total";
        let predict_ok = r#"route="/predict",method="POST",status="200""#;
        assert_eq!(sum(&text, requests, &[predict_ok]), 7.0, "{text}");
        let predict_bad = r#"route="/predict",method="POST",status="422""#;
        assert_eq!(sum(&text, requests, &[predict_bad]), 2.0);
        let health = r#"route="/health",method="GET",status="200""#;
        assert_eq!(sum(&text, requests, &[health]), 3.0);
        let unmatched = r#"route="unmatched",method="GET",status="404""#;
        assert_eq!(sum(&text, requests, &[unmatched]), 1.0);
        assert!(!text.contains("wp-login"), "no path reaches a label");
        // This scrape is counted after its answer: not in its own text.
        assert_eq!(sum(&text, requests, &[r#"route="/metrics""#]), 0.0);
        assert_eq!(sum(&text, requests, &[]), 13.0);
        // One histogram observation per request.
        assert_eq!(
            sum(&text, "wine_http_request_duration_seconds_count", &[]),
            13.0
        );
        assert_eq!(
            sum(
                &text,
                "wine_http_request_duration_seconds_count",
                &[r#"route="/predict""#]
            ),
            9.0
        );
        assert_eq!(sum(&text, "wine_predictions_total", &[]), f64::from(wines));

        // The next scrape sees the previous one.
        let (_, _, text) = send(&app, get_req("/metrics")).await;
        let scrape = r#"route="/metrics",method="GET",status="200""#;
        assert_eq!(sum(&text, requests, &[scrape]), 1.0);
    }

    #[tokio::test]
    async fn a_method_not_allowed_keeps_its_route() {
        let app = service();
        assert_eq!(
            send(&app, get_req("/predict")).await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let (_, _, text) = send(&app, get_req("/metrics")).await;
        let series = r#"route="/predict",method="GET",status="405""#;
        assert_eq!(sum(&text, "wine_http_requests_total", &[series]), 1.0);
    }

    #[tokio::test]
    async fn shifted_inputs_raise_the_drift_gauge() {
        let app = service();
        let dataset = linfa_datasets::winequality();
        let names: Vec<&str> = schema::FEATURES.iter().map(|f| f.name).collect();
        let rows: Vec<Value> = dataset
            .records()
            .rows()
            .into_iter()
            .map(|row| {
                let object: serde_json::Map<String, Value> = names
                    .iter()
                    .zip(row.iter())
                    .map(|(name, v)| ((*name).to_owned(), json!(v)))
                    .collect();
                Value::Object(object)
            })
            .collect();
        // Every 3rd training wine: 533 wines spread over the whole file.
        let sample: Vec<Value> = rows.iter().step_by(3).cloned().collect();
        assert_eq!(send(&app, predict_req(&sample)).await.0, StatusCode::OK);
        let (_, _, text) = send(&app, get_req("/metrics")).await;
        let max = value(&text, "wine_input_drift_psi_max");
        assert!(max < 0.1, "in distribution: {max}");

        let shifted: Vec<Value> = sample
            .iter()
            .map(|wine| {
                let mut wine = wine.clone();
                wine["alcohol"] = json!(wine["alcohol"].as_f64().expect("a number") + 3.0);
                wine
            })
            .collect();
        assert_eq!(send(&app, predict_req(&shifted)).await.0, StatusCode::OK);
        let (_, _, text) = send(&app, get_req("/metrics")).await;
        let max = value(&text, "wine_input_drift_psi_max");
        assert!(max > 0.25, "shifted: {max}");
        let alcohol = value(&text, r#"wine_input_drift_psi{feature="alcohol"}"#);
        assert_eq!(alcohol, max);
    }

    // lab:starter
    // // TODO(week 11): test GET /metrics through the router (`oneshot`):
    // // its content type; that the traffic you send (predictions, bad
    // // requests, health checks, an unknown path) is the traffic counted;
    // // that shifted wines raise wine_input_drift_psi_max.
    //
    // lab:end
    #[tokio::test]
    async fn every_path_week_8_documents_is_still_served() {
        let app = service();
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
                let (status, _, _) = send(&app, request).await;
                assert_eq!(status, StatusCode::OK, "{method} {path}");
            }
        }
        assert_eq!(send(&app, get_req("/openapi.json")).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn week_8_errors_are_unchanged() {
        let app = service();
        let (status, _, body) = send(&app, get_req("/nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert!(body["error"].is_string());
        let mut bad = wine(9.4);
        bad["colour"] = json!(1);
        let (status, _, body) = send(&app, predict_req(&[bad])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["field"], "inputs[0].colour");
    }
}
