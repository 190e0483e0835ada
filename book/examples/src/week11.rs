//! Week 11: monitoring the wine-quality service. Data drift measured with the
//! population stability index (PSI) and the two-sample Kolmogorov–Smirnov
//! test against the training data; the service's metrics in the Prometheus
//! text exposition format through the `prometheus` crate; and a retraining
//! rule.

use ndarray::ArrayView2;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The eleven inputs of the model, in column order.
pub const FEATURES: [&str; 11] = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "ph",
    "sulphates",
    "alcohol",
];

// ANCHOR: psi
// ANCHOR: psi_reference
/// Proportions are floored at this value so that an empty bin does not make
/// the logarithm infinite.
const MIN_PROPORTION: f64 = 1e-4;

/// One feature of the training data, summarised for drift checks.
#[derive(Debug, Clone)]
pub struct FeatureReference {
    pub name: String,
    /// The training values, sorted: the KS test needs them all.
    sorted: Vec<f64>,
    /// Inner bin edges at the reference's quantiles, without duplicates.
    edges: Vec<f64>,
    /// Share of the training values in each bin.
    expected: Vec<f64>,
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Share of `values` in each bin `[edge[i-1], edge[i])`, floored.
fn proportions(edges: &[f64], values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; edges.len() + 1];
    for &v in values {
        counts[edges.partition_point(|&e| e <= v)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts
        .into_iter()
        .map(|c| (c as f64 / n).max(MIN_PROPORTION))
        .collect()
}
// ANCHOR_END: psi_reference

// ANCHOR: psi_new
impl FeatureReference {
    /// Cuts the training values into `bins` bins of (nearly) equal count.
    /// Features with repeated values (sulfur dioxide is whole numbers) get
    /// fewer bins, since equal edges are merged.
    pub fn new(name: &str, values: &[f64], bins: usize) -> Self {
        let sorted = sorted(values);
        let mut edges: Vec<f64> = (1..bins)
            .filter_map(|i| sorted.get(i * sorted.len() / bins).copied())
            .collect();
        edges.dedup();
        // An edge at the minimum would only open an empty bin below it.
        let lowest = sorted.first().copied().unwrap_or(f64::NEG_INFINITY);
        edges.retain(|&e| e > lowest);
        let expected = proportions(&edges, &sorted);
        Self {
            name: name.to_owned(),
            sorted,
            edges,
            expected,
        }
    }

    /// PSI = Σ (live% − ref%) · ln(live% / ref%) over the bins.
    pub fn psi(&self, live: &[f64]) -> f64 {
        proportions(&self.edges, live)
            .iter()
            .zip(&self.expected)
            .map(|(a, e)| (a - e) * (a / e).ln())
            .sum()
    }
    // ANCHOR_END: psi_new

    // ANCHOR: psi_ks
    /// The two-sample KS statistic D = max |F_ref(x) − F_live(x)|.
    pub fn ks_statistic(&self, live: &[f64]) -> f64 {
        let (a, b) = (&self.sorted, sorted(live));
        let (n, m) = (a.len() as f64, b.len() as f64);
        let (mut i, mut j, mut d) = (0, 0, 0.0_f64);
        while i < a.len() && j < b.len() {
            // Step past every copy of the smaller value in both samples.
            let x = a[i].min(b[j]);
            while i < a.len() && a[i] <= x {
                i += 1;
            }
            while j < b.len() && b[j] <= x {
                j += 1;
            }
            d = d.max((i as f64 / n - j as f64 / m).abs());
        }
        d
    }

    pub fn ks_p_value(&self, live: &[f64]) -> f64 {
        ks_p_value(self.ks_statistic(live), self.sorted.len(), live.len())
    }
}
// ANCHOR_END: psi_ks

// ANCHOR: psi_p_value
/// Asymptotic p-value of the two-sample KS statistic `d` for samples of
/// sizes `n` and `m` (the Kolmogorov distribution, with Stephens' correction).
pub fn ks_p_value(d: f64, n: usize, m: usize) -> f64 {
    let en = ((n * m) as f64 / (n + m) as f64).sqrt();
    let lambda = (en + 0.12 + 0.11 / en) * d;
    // Q(λ) = 2 Σ_{k≥1} (−1)^(k−1) exp(−2 k² λ²)
    let (mut sum, mut sign, mut previous) = (0.0, 1.0, 0.0_f64);
    for k in 1..=100 {
        let term = sign * 2.0 * (-2.0 * (k * k) as f64 * lambda * lambda).exp();
        sum += term;
        if term.abs() <= 1e-3 * previous || term.abs() <= 1e-8 * sum {
            return sum.clamp(0.0, 1.0);
        }
        sign = -sign;
        previous = term.abs();
    }
    1.0 // the series did not settle: λ is tiny, the samples agree
}
// ANCHOR_END: psi_p_value
// ANCHOR_END: psi

// ANCHOR: monitor
// ANCHOR: monitor_types
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    pub feature: String,
    pub psi: f64,
    pub ks: f64,
    pub p_value: f64,
}

/// The training data of every feature, to compare live inputs against.
#[derive(Debug, Clone)]
pub struct DriftReference {
    features: Vec<FeatureReference>,
}
// ANCHOR_END: monitor_types

// ANCHOR: monitor_compare
impl DriftReference {
    pub fn fit(records: ArrayView2<f64>, bins: usize) -> Self {
        let features = FEATURES
            .iter()
            .zip(records.columns())
            .map(|(name, column)| FeatureReference::new(name, &column.to_vec(), bins))
            .collect();
        Self { features }
    }

    /// Drift of each feature of a window of live inputs.
    pub fn compare(&self, live: ArrayView2<f64>) -> Vec<FeatureDrift> {
        self.features
            .iter()
            .zip(live.columns())
            .map(|(reference, column)| {
                let values = column.to_vec();
                FeatureDrift {
                    feature: reference.name.clone(),
                    psi: reference.psi(&values),
                    ks: reference.ks_statistic(&values),
                    p_value: reference.ks_p_value(&values),
                }
            })
            .collect()
    }
}
// ANCHOR_END: monitor_compare
// ANCHOR_END: monitor

// ANCHOR: metrics
// ANCHOR: metrics_types
/// Latency buckets in seconds: 1 ms to about 1 s, each twice the last.
const LATENCY_BUCKETS: [f64; 11] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
];

/// Every metric the service exposes on `GET /metrics`.
#[derive(Debug, Clone)]
pub struct ServiceMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    predictions: IntCounterVec,
    drift_psi: GaugeVec,
}
// ANCHOR_END: metrics_types

// ANCHOR: metrics_new
impl ServiceMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("wine".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer a request")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let predictions = IntCounterVec::new(
            Opts::new("predictions_total", "Predicted wine quality, by class"),
            &["quality"],
        )?;
        let drift_psi = GaugeVec::new(
            Opts::new(
                "input_drift_psi",
                "PSI of recent inputs against the training data",
            ),
            &["feature"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(predictions.clone()))?;
        registry.register(Box::new(drift_psi.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            predictions,
            drift_psi,
        })
    }
    // ANCHOR_END: metrics_new

    // ANCHOR: metrics_observe
    /// Called once per answered request.
    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    pub fn observe_prediction(&self, quality: u8) {
        self.predictions
            .with_label_values(&[quality.to_string()])
            .inc();
    }

    pub fn set_drift(&self, drift: &[FeatureDrift]) {
        for d in drift {
            self.drift_psi.with_label_values(&[&d.feature]).set(d.psi);
        }
    }

    /// The body of `GET /metrics`, and its `Content-Type`.
    pub fn encode(&self) -> prometheus::Result<(String, String)> {
        let encoder = TextEncoder::new();
        let body = encoder.encode_to_string(&self.registry.gather())?;
        Ok((body, encoder.format_type().to_owned()))
    }
}
// ANCHOR_END: metrics_observe
// ANCHOR_END: metrics

// ANCHOR: retrain
// ANCHOR: retrain_types
/// When to retrain. Drift alone is noisy, so it must last; age alone is a
/// backstop for the drift the inputs cannot show (concept drift).
#[derive(Debug, Clone)]
pub struct RetrainRule {
    pub psi_threshold: f64,
    /// A window with fewer rows says too little to act on.
    pub min_rows: usize,
    /// How many windows in a row must drift.
    pub consecutive_windows: usize,
    pub max_model_age_days: u32,
}

/// One monitoring window: how many inputs it held and its largest PSI.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub rows: usize,
    pub max_psi: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Keep,
    RetrainForDrift { windows: usize },
    RetrainForAge { days: u32 },
}
// ANCHOR_END: retrain_types

// ANCHOR: retrain_decide
impl RetrainRule {
    /// `windows` is oldest first; the decision looks at the most recent.
    pub fn decide(&self, windows: &[Window], model_age_days: u32) -> Decision {
        let drifting = windows
            .iter()
            .rev()
            .filter(|w| w.rows >= self.min_rows)
            .take_while(|w| w.max_psi > self.psi_threshold)
            .count();
        if drifting >= self.consecutive_windows {
            Decision::RetrainForDrift { windows: drifting }
        } else if model_age_days > self.max_model_age_days {
            Decision::RetrainForAge {
                days: model_age_days,
            }
        } else {
            Decision::Keep
        }
    }
}
// ANCHOR_END: retrain_decide
// ANCHOR_END: retrain

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Axis};
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    use rand_chacha::ChaCha8Rng;

    const ALCOHOL: usize = 10;

    /// The wines split at random: 1,200 for the reference, 399 as "live".
    fn reference_and_live() -> (Array2<f64>, Array2<f64>) {
        let records = linfa_datasets::winequality().records().to_owned();
        let mut rows: Vec<usize> = (0..records.nrows()).collect();
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(7));
        let (train, live) = rows.split_at(1200);
        (
            records.select(Axis(0), train),
            records.select(Axis(0), live),
        )
    }

    // ANCHOR: tests
    // ANCHOR: tests_drift
    #[test]
    fn in_distribution_inputs_do_not_drift() {
        let (train, live) = reference_and_live();
        let drift = DriftReference::fit(train.view(), 10).compare(live.view());
        for d in &drift {
            assert!(d.psi < 0.1, "{}: PSI {}", d.feature, d.psi);
            assert!(d.p_value > 0.01, "{}: p {}", d.feature, d.p_value);
        }
    }

    #[test]
    fn shifted_alcohol_drifts_and_nothing_else_does() {
        let (train, mut live) = reference_and_live();
        live.column_mut(ALCOHOL).mapv_inplace(|v| v + 1.0); // one point stronger
        let drift = DriftReference::fit(train.view(), 10).compare(live.view());
        for (i, d) in drift.iter().enumerate() {
            if i == ALCOHOL {
                assert!(d.psi > 0.25, "alcohol PSI {}", d.psi);
                assert!(d.ks > 0.3 && d.p_value < 1e-6, "{d:?}");
            } else {
                assert!(d.psi < 0.1, "{}: PSI {}", d.feature, d.psi);
            }
        }
    }
    // ANCHOR_END: tests_drift

    // ANCHOR: tests_metrics
    #[test]
    fn metrics_count_the_traffic_in_the_text_format() {
        let metrics = ServiceMetrics::new().expect("metrics register");
        for seconds in [0.0015, 0.003, 0.003] {
            metrics.observe_request("/predict", 200, seconds);
        }
        metrics.observe_request("/predict", 422, 0.0005);
        metrics.observe_prediction(5);
        metrics.observe_prediction(6);
        metrics.observe_prediction(5);
        metrics.set_drift(&[FeatureDrift {
            feature: "alcohol".to_owned(),
            psi: 0.5,
            ks: 0.4,
            p_value: 1e-9,
        }]);

        let (body, content_type) = metrics.encode().expect("encodes");
        assert_eq!(content_type, "text/plain; version=0.0.4");
        for line in [
            "# TYPE wine_http_requests_total counter",
            r#"wine_http_requests_total{route="/predict",status="200"} 3"#,
            r#"wine_http_requests_total{route="/predict",status="422"} 1"#,
            "# TYPE wine_http_request_duration_seconds histogram",
            r#"wine_http_request_duration_seconds_bucket{route="/predict",le="0.001"} 1"#,
            r#"wine_http_request_duration_seconds_bucket{route="/predict",le="0.002"} 2"#,
            r#"wine_http_request_duration_seconds_bucket{route="/predict",le="0.004"} 4"#,
            r#"wine_http_request_duration_seconds_bucket{route="/predict",le="+Inf"} 4"#,
            r#"wine_http_request_duration_seconds_count{route="/predict"} 4"#,
            r#"wine_predictions_total{quality="5"} 2"#,
            r#"wine_input_drift_psi{feature="alcohol"} 0.5"#,
        ] {
            assert!(
                body.lines().any(|l| l == line),
                "no line {line:?} in\n{body}"
            );
        }
    }
    // ANCHOR_END: tests_metrics
    // ANCHOR_END: tests

    #[test]
    fn identical_samples_have_zero_drift() {
        let (train, _) = reference_and_live();
        let reference = FeatureReference::new("alcohol", &train.column(ALCOHOL).to_vec(), 10);
        let same = train.column(ALCOHOL).to_vec();
        assert!(reference.psi(&same).abs() < 1e-12);
        assert_eq!(reference.ks_statistic(&same), 0.0);
        assert_eq!(reference.ks_p_value(&same), 1.0);
    }

    #[test]
    fn ks_matches_a_hand_computed_case() {
        // F_a and F_b differ most just after 2: 2/4 against 0/2.
        let reference = FeatureReference::new("x", &[1.0, 2.0, 3.0, 4.0], 2);
        assert_eq!(reference.ks_statistic(&[3.0, 4.0]), 0.5);
        // Q(λ) with λ = (√500 + 0.12 + 0.11/√500) · 0.1 ≈ 2.25: p ≈ 0.00008.
        let p = ks_p_value(0.1, 1000, 1000);
        assert!((7e-5..9e-5).contains(&p), "p = {p}");
    }

    #[test]
    fn repeated_values_merge_bins() {
        let values: Vec<f64> = (0..100).map(|i| f64::from(i % 3)).collect();
        let reference = FeatureReference::new("whole", &values, 10);
        assert_eq!(reference.edges, vec![1.0, 2.0]);
    }

    #[test]
    fn retraining_needs_sustained_drift_or_an_old_model() {
        let rule = RetrainRule {
            psi_threshold: 0.25,
            min_rows: 500,
            consecutive_windows: 3,
            max_model_age_days: 90,
        };
        let calm = Window {
            rows: 1000,
            max_psi: 0.04,
        };
        let drift = Window {
            rows: 1000,
            max_psi: 0.4,
        };
        let tiny = Window {
            rows: 20,
            max_psi: 2.0,
        };

        assert_eq!(
            rule.decide(&[calm.clone(), drift.clone()], 10),
            Decision::Keep
        );
        assert_eq!(
            rule.decide(
                &[
                    calm.clone(),
                    drift.clone(),
                    tiny.clone(),
                    drift.clone(),
                    drift.clone()
                ],
                10
            ),
            Decision::RetrainForDrift { windows: 3 }
        );
        assert_eq!(rule.decide(&[tiny.clone(), tiny], 10), Decision::Keep);
        assert_eq!(
            rule.decide(&[drift, calm], 120),
            Decision::RetrainForAge { days: 120 }
        );
    }
}
