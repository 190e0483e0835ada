//! Metrics checks: traffic the grader sends, and what the service's
//! Prometheus exposition must show for it.
//!
//! ```toml
//! [[checks]]
//! id = "metrics.requests"
//! kind = "metrics"
//! traffic = [
//!   { request = { method = "POST", path = "/predict", rows = 3 }, times = 4 },
//!   { request = { method = "POST", path = "/predict" }, sample = 500, seed = 7, batch = 100, shift = { alcohol = 3.0 } },
//! ]
//! expect = [
//!   { sample = "wine_http_requests_total", labels = { route = "/predict", status = "200" }, increase = 4 },
//!   { sample = "wine_input_drift_psi_max", above = 0.25 },
//! ]
//! ```
//!
//! The exposition at `path` (`/metrics`) is read before and after the
//! traffic. An expectation sums every sample of its name whose labels include
//! `labels`; `increase` compares the two readings, `above` and `below` the
//! second.

use super::request::RequestSpec;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a metrics check sends and expects.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub traffic: Vec<Traffic>,
    pub expect: Vec<SampleExpect>,
}

fn default_path() -> String {
    "/metrics".into()
}

/// Requests sent between the two readings, in order.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub request: RequestSpec,
    /// Sent this many times.
    #[serde(default = "one")]
    pub times: u32,
    /// Instead of the request's body: this many of the lab's rows, drawn
    /// with `seed`, sent `batch` at a time.
    pub sample: Option<usize>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Added to these numeric fields of every row sent: traffic shifted
    /// away from the data the model learnt from.
    #[serde(default)]
    pub shift: BTreeMap<String, f64>,
}

fn one() -> u32 {
    1
}

fn default_batch() -> usize {
    100
}

/// One expectation on the exposition after the traffic.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SampleExpect {
    /// The sample's name as exposed (`..._total`, `..._count`).
    pub sample: String,
    /// Labels the samples must carry (others may be there too).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The sum went up by exactly this much during the traffic.
    pub increase: Option<f64>,
    /// The sum after the traffic is above this.
    pub above: Option<f64>,
    /// The sum after the traffic is below this.
    pub below: Option<f64>,
}

impl SampleExpect {
    /// `name{a="x",b="y"}`, for messages.
    pub fn selector(&self) -> String {
        if self.labels.is_empty() {
            return self.sample.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{}{{{}}}", self.sample, labels.join(","))
    }
}

impl MetricsSpec {
    pub(super) fn validate(&self, has_rows: bool) -> Result<(), String> {
        if !self.path.starts_with('/') {
            return Err("path must start with '/'".into());
        }
        if self.expect.is_empty() {
            return Err("expect: a metrics check needs at least one expectation".into());
        }
        for t in &self.traffic {
            t.request.validate()?;
            if !(1..=10_000).contains(&t.times) {
                return Err("traffic.times must be from 1 to 10000".into());
            }
            if t.sample.is_some() || !t.shift.is_empty() {
                if !has_rows {
                    return Err("traffic.sample needs the lab's [rows]".into());
                }
                if t.request.has_body() {
                    return Err(
                        "traffic.sample makes the body: the request takes none of its own".into(),
                    );
                }
                if t.sample.is_none() {
                    return Err("traffic.shift applies to rows drawn with traffic.sample".into());
                }
                if !(1..=1000).contains(&t.batch) {
                    return Err("traffic.batch must be from 1 to 1000".into());
                }
            }
        }
        for e in &self.expect {
            if e.increase.is_none() && e.above.is_none() && e.below.is_none() {
                return Err(format!(
                    "expect: {} needs increase, above or below",
                    e.selector()
                ));
            }
        }
        Ok(())
    }
}
