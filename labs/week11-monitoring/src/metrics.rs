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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Request, State};
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
        // TODO(week 11): add 1 to `requests` for this route, method (see
        // `method_label`) and status, and observe the elapsed seconds in
        // `durations` for this route and method.
        let _ = (route, method, status, elapsed);
        let _ = (&self.requests, &self.durations);
    }

    /// Counts the predictions of one accepted batch and adds its wines to
    /// the drift window, then updates the drift gauges.
    pub fn observe_predictions(&self, inputs: &[WineFeatures], predictions: &[usize]) {
        // TODO(week 11): add 1 to `predictions` per predicted wine, by
        // quality; push every wine into the drift window (`self.drift`, a
        // mutex), then set each feature's `drift_psi` gauge, the
        // `drift_psi_max` gauge and `drift_window_wines` from it (0 while
        // `DriftWindow::psi` says `None`), before the lock is released.
        let _ = (inputs, predictions, &self.predictions, &self.drift);
        let _ = (&self.drift_psi, &self.drift_psi_max);
        let _ = &self.drift_window_wines;
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
    // TODO(week 11): the method's name for the nine standard methods, and
    // OTHER_METHOD for any other: a client can send any token as a method.
    let _ = method;
    OTHER_METHOD
}

/// Middleware: counts and times every request, the 404s of unknown paths
/// included. Added outside every other layer, so the time is the whole
/// handling of the request, up to its response's head.
pub async fn track(State(monitor): State<Arc<Monitor>>, req: Request, next: Next) -> Response {
    // TODO(week 11): note the time, find the route's template (axum puts a
    // `MatchedPath` in the request's extensions; none means UNMATCHED), run
    // the request, then `monitor.observe_request(...)` with its status and
    // the time it took.
    let _ = (&monitor, Instant::now(), UNMATCHED);
    next.run(req).await
}

/// `GET /metrics`: every metric, in the Prometheus text format.
pub async fn metrics(Extension(monitor): Extension<Arc<Monitor>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], monitor.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_monitor_names_its_model() {
        let monitor = Monitor::new("tree-d10-abc", DriftReference::from_training_data());
        let text = monitor.render();
        let line = "wine_model_info{model_version=\"tree-d10-abc\"} 1\n";
        assert!(text.contains(line), "{text}");
    }

    // TODO(week 11): test that requests are counted and timed by route,
    // method and status (`observe_request`, then `render`), that an
    // invented method gets `other`, that predictions are counted per wine,
    // and that drift is 0 below the window's minimum, then computed.
}
