//! What the service measures, and `GET /metrics`, which shows it to
//! Prometheus in its text exposition format (version 0.0.4).
//!
//! [`Monitor`] holds the registry of metrics (made with `prometheus-client`,
//! the Prometheus organisation's crate) and the drift window. The
//! [`track`] middleware counts and times every request; the monitored
//! `POST /predict` handler (in the crate root) calls
//! [`Monitor::observe_predictions`]. Every name, label and meaning is listed
//! in README.md, section Metrics.
//!
//! Labels are kept to bounded sets, whatever clients send: the route is the
//! route's template (or `unmatched`), the method one of the nine standard
//! ones (or `other`), the status a number, the quality a class of the model.
//! A label set per path or per client would grow with every request, and
//! every label set is a time series Prometheus must store.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::drift::{DriftReference, DriftWindow};
use crate::schema::{FEATURES, WineFeatures};

/// The `route` label of a request that matched no route (a 404): one label
/// for every unknown path, so that scanners cannot create a series per path.
pub const UNMATCHED: &str = "unmatched";

/// The `method` label of a method outside the standard nine.
pub const OTHER_METHOD: &str = "other";

/// The qualities the model can predict: their counters exist, at 0, from the
/// start, so that `rate()` sees the first prediction of each.
pub const QUALITIES: std::ops::RangeInclusive<usize> = 3..=8;

/// Upper bounds of the latency histogram's buckets, in seconds: from half a
/// millisecond (a prediction takes microseconds) to 5 s, then `+Inf`.
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// `Content-Type` of `GET /metrics`: `text/plain; version=0.0.4; charset=utf-8`.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QualityLabels {
    quality: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeatureLabels {
    feature: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model_version: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A gauge holding an `f64`.
type FloatGauge = Gauge<f64, AtomicU64>;

/// Everything the service measures, shared by every request (in an `Arc`).
#[derive(Debug)]
pub struct Monitor {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    predictions: Family<QualityLabels, Counter>,
    drift_psi: Family<FeatureLabels, FloatGauge>,
    drift_psi_max: FloatGauge,
    drift_window_wines: Gauge,
    /// The window of recent inputs; its lock is held while the drift gauges
    /// are set, so concurrent requests cannot leave stale values behind.
    drift: Mutex<DriftWindow>,
}

impl Monitor {
    /// The metrics of a service serving `model_version`, with the drift
    /// window measured against `reference`.
    pub fn new(model_version: &str, reference: DriftReference) -> Self {
        Self::with_window(model_version, DriftWindow::new(reference))
    }

    /// As [`Monitor::new`], with a window of the caller's making.
    pub fn with_window(model_version: &str, window: DriftWindow) -> Self {
        let mut registry = Registry::default();
        // prometheus-client appends `_total` to counters and a full stop to
        // every help text.
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "wine_http_requests",
            "HTTP requests answered, by route template, method and status code",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "wine_http_request_duration_seconds",
            "Time from receiving a request to its response, in seconds, by route template and method",
            durations.clone(),
        );
        let predictions = Family::<QualityLabels, Counter>::default();
        registry.register(
            "wine_predictions",
            "Wines predicted, by predicted quality (one per wine, not per request)",
            predictions.clone(),
        );
        let drift_psi = Family::<FeatureLabels, FloatGauge>::default();
        registry.register(
            "wine_input_drift_psi",
            "Population Stability Index of the recent inputs against the training data, by feature (0 until the window holds its minimum)",
            drift_psi.clone(),
        );
        let drift_psi_max = FloatGauge::default();
        registry.register(
            "wine_input_drift_psi_max",
            "The largest wine_input_drift_psi of all features",
            drift_psi_max.clone(),
        );
        let drift_window_wines = Gauge::default();
        registry.register(
            "wine_input_drift_window_wines",
            "Wines in the drift window now (it keeps the last 500 accepted)",
            drift_window_wines.clone(),
        );
        let model_info = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "wine_model_info",
            "The model being served, as a label; the value is always 1",
            model_info.clone(),
        );
        model_info
            .get_or_create(&ModelLabels {
                model_version: model_version.to_owned(),
            })
            .set(1);
        // Known label values exist from the start, at 0.
        for quality in QUALITIES {
            let _ = predictions.get_or_create(&QualityLabels {
                quality: quality.to_string(),
            });
        }
        for feature in FEATURES {
            let _ = drift_psi.get_or_create(&FeatureLabels {
                feature: feature.name,
            });
        }
        Self {
            registry,
            requests,
            durations,
            predictions,
            drift_psi,
            drift_psi_max,
            drift_window_wines,
            drift: Mutex::new(window),
        }
    }

    /// Counts and times one answered request.
    pub fn observe_request(
        &self,
        route: &str,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method,
                status: status.as_u16().to_string(),
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts the predictions of one accepted batch and adds its wines to
    /// the drift window, then updates the drift gauges.
    pub fn observe_predictions(&self, inputs: &[WineFeatures], predictions: &[usize]) {
        for quality in predictions {
            self.predictions
                .get_or_create(&QualityLabels {
                    quality: quality.to_string(),
                })
                .inc();
        }
        // A panic elsewhere while the lock was held leaves a window that is
        // still consistent (each push completes or never starts): use it.
        let mut window = self.drift.lock().unwrap_or_else(PoisonError::into_inner);
        for wine in inputs {
            window.push(&wine.to_array());
        }
        let psi = window.psi().unwrap_or([0.0; FEATURES.len()]);
        for (feature, value) in FEATURES.iter().zip(psi) {
            self.drift_psi
                .get_or_create(&FeatureLabels {
                    feature: feature.name,
                })
                .set(value);
        }
        self.drift_psi_max.set(psi.into_iter().fold(0.0, f64::max));
        self.drift_window_wines
            .set(i64::try_from(window.len()).unwrap_or(i64::MAX));
    }

    /// The metrics in the Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut body = String::new();
        // Writing to a String cannot fail; the encoder still says it might.
        if let Err(err) = prometheus_text::encode(&mut body, &self.registry) {
            tracing::error!("cannot encode the metrics: {err}");
        }
        body
    }
}

/// The `method` label: the method's name if it is one of the nine standard
/// methods, `other` for any other (a client can invent methods).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => OTHER_METHOD,
    }
}

/// Middleware: counts and times every request, the 404s of unknown paths
/// included. Added outside every other layer, so the time is the whole
/// handling of the request, up to its response's head.
pub async fn track(State(monitor): State<Arc<Monitor>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // axum records the template that matched ("/predict") before it runs a
    // route's layers; requests that matched no route have none.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = req.method().clone();
    let response = next.run(req).await;
    monitor.observe_request(&route, &method, response.status(), started.elapsed());
    response
}

/// `GET /metrics`: every metric, in the Prometheus text format.
pub async fn metrics(Extension(monitor): Extension<Arc<Monitor>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], monitor.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn reference() -> DriftReference {
        static REFERENCE: OnceLock<DriftReference> = OnceLock::new();
        REFERENCE
            .get_or_init(DriftReference::from_training_data)
            .clone()
    }

    fn wine() -> WineFeatures {
        WineFeatures::from_array([
            7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4,
        ])
    }

    /// The value of the sample whose line starts with `series ` (name and
    /// labels exactly as rendered).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|value| value.parse().ok())
        })
    }

    #[test]
    fn a_new_monitor_shows_every_metric_at_zero() {
        let monitor = Monitor::new("tree-d10-abc", reference());
        let text = monitor.render();
        assert_eq!(
            sample(&text, r#"wine_model_info{model_version="tree-d10-abc"}"#),
            Some(1.0)
        );
        for quality in QUALITIES {
            let series = format!(r#"wine_predictions_total{{quality="{quality}"}}"#);
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
        for feature in FEATURES {
            let series = format!(r#"wine_input_drift_psi{{feature="{}"}}"#, feature.name);
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
        assert_eq!(sample(&text, "wine_input_drift_psi_max"), Some(0.0));
        // The request metrics have no series before the first request.
        for (name, kind) in [
            ("wine_predictions_total", "counter"),
            ("wine_input_drift_psi", "gauge"),
            ("wine_input_drift_psi_max", "gauge"),
            ("wine_model_info", "gauge"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name}: {text}"
            );
        }
        assert!(!text.contains("# EOF"), "0.0.4 has no EOF marker");
        assert!(!text.contains("wine_http_requests_total"), "{text}");
    }

    #[test]
    fn requests_are_counted_and_timed_by_route_method_and_status() {
        let monitor = Monitor::new("v", reference());
        let ms = Duration::from_millis(3);
        monitor.observe_request("/predict", &Method::POST, StatusCode::OK, ms);
        monitor.observe_request("/predict", &Method::POST, StatusCode::OK, ms);
        monitor.observe_request(
            "/predict",
            &Method::POST,
            StatusCode::UNPROCESSABLE_ENTITY,
            ms,
        );
        let text = monitor.render();
        let count = |status| {
            sample(
                &text,
                &format!(
                    r#"wine_http_requests_total{{route="/predict",method="POST",status="{status}"}}"#
                ),
            )
        };
        assert_eq!(count(200), Some(2.0));
        assert_eq!(count(422), Some(1.0));
        let histogram =
            r#"wine_http_request_duration_seconds_count{route="/predict",method="POST"}"#;
        assert_eq!(sample(&text, histogram), Some(3.0));
        let bucket = r#"wine_http_request_duration_seconds_bucket{route="/predict",method="POST",le="0.0025"}"#;
        assert_eq!(sample(&text, bucket), Some(0.0), "{text}");
        let bucket = r#"wine_http_request_duration_seconds_bucket{route="/predict",method="POST",le="0.005"}"#;
        assert_eq!(sample(&text, bucket), Some(3.0), "{text}");
    }

    #[test]
    fn invented_methods_share_one_label() {
        let invented = Method::from_bytes(b"BREW").expect("a valid token");
        assert_eq!(method_label(&invented), OTHER_METHOD);
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }

    #[test]
    fn predictions_are_counted_per_wine() {
        let monitor = Monitor::new("v", reference());
        monitor.observe_predictions(&[wine(), wine(), wine()], &[5, 5, 6]);
        let text = monitor.render();
        assert_eq!(
            sample(&text, r#"wine_predictions_total{quality="5"}"#),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, r#"wine_predictions_total{quality="6"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, r#"wine_predictions_total{quality="3"}"#),
            Some(0.0)
        );
        assert_eq!(sample(&text, "wine_input_drift_window_wines"), Some(3.0));
    }

    #[test]
    fn drift_is_zero_below_the_minimum_then_computed() {
        let window = DriftWindow::with_sizes(reference(), 10, 5);
        let monitor = Monitor::with_window("v", window);
        // The same wine over and over: as far from the training spread as a
        // sample can be.
        monitor.observe_predictions(&[wine(); 4], &[5; 4]);
        assert_eq!(
            sample(&monitor.render(), "wine_input_drift_psi_max"),
            Some(0.0)
        );
        monitor.observe_predictions(&[wine()], &[5]);
        let text = monitor.render();
        let max = sample(&text, "wine_input_drift_psi_max").expect("a max");
        assert!(max > 0.25, "{max}");
        let worst = FEATURES
            .iter()
            .filter_map(|f| {
                sample(
                    &text,
                    &format!(r#"wine_input_drift_psi{{feature="{}"}}"#, f.name),
                )
            })
            .fold(0.0, f64::max);
        assert_eq!(worst, max);
    }
}
