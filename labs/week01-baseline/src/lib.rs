//! Week 1: a seeded, reproducible baseline on the red-wine data.
//!
//! [`run`] splits the 1,599 wines of linfa-datasets with a seeded generator,
//! fits the majority class and a shallow decision tree on the training rows,
//! scores both on the test rows, and returns the metrics and the tree.
//! [`write_outputs`] writes them as `metrics.json` and `model.json`: the same
//! configuration always gives the same bytes.

pub mod model;
pub mod split;
pub mod tree;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use linfa::prelude::*;
use ndarray::Axis;

pub use model::{TreeModel, majority_class};
pub use split::{Split, split};

/// Everything that decides the outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub seed: u64,
    pub test_fraction: f64,
    pub max_depth: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            test_fraction: 0.2,
            max_depth: 4,
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("test fraction must be strictly between 0 and 1, got {0}")]
    TestFraction(f64),
    #[error("max depth must be from 1 to 32, got {0}")]
    MaxDepth(usize),
    #[error("the split left {train} training and {test} test rows; both must be non-empty")]
    EmptySplit { train: usize, test: usize },
    #[error("training failed: {0}")]
    Training(#[from] tree::TreeError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl BaselineError {
    /// 2 when the caller can fix it (a bad setting), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            BaselineError::TestFraction(_) | BaselineError::MaxDepth(_) => 2,
            _ => 1,
        }
    }
}

/// What `metrics.json` holds: metric name to value.
///
/// TODO(week 1): two runs must write byte-identical files. A `HashMap` writes
/// its keys in a different order every run, and the timestamp changes every
/// second. Use a struct (its fields are written in declaration order: declare
/// them sorted) or a `BTreeMap`, and keep the time out of this file.
pub type Metrics = HashMap<String, f64>;

/// Rounded to six decimals: short, readable, and the same on every machine.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Accuracy and mean absolute error of predictions against the truth.
pub fn score(predicted: &[usize], actual: &[usize]) -> (f64, f64) {
    let n = actual.len().max(1) as f64;
    let hits = predicted.iter().zip(actual).filter(|(p, a)| p == a).count();
    let error: usize = predicted
        .iter()
        .zip(actual)
        .map(|(p, a)| p.abs_diff(*a))
        .sum();
    (round6(hits as f64 / n), round6(error as f64 / n))
}

/// The eleven feature names of the red-wine data, in column order.
pub fn feature_names() -> Vec<String> {
    [
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
    ]
    .map(String::from)
    .to_vec()
}

/// One complete run: split, fit both models, score them on the test rows.
pub fn run(config: &RunConfig) -> Result<(Metrics, TreeModel), BaselineError> {
    if !(1..=32).contains(&config.max_depth) {
        return Err(BaselineError::MaxDepth(config.max_depth));
    }
    let data = linfa_datasets::winequality();
    let s = split(data.nsamples(), config.test_fraction, config.seed)?;
    let records = |rows: &[usize]| data.records().select(Axis(0), rows);
    let targets = |rows: &[usize]| data.targets().select(Axis(0), rows);
    let (train_x, train_y) = (records(&s.train), targets(&s.train));
    let (test_x, test_y) = (records(&s.test), targets(&s.test));
    let actual = test_y.to_vec();

    // TODO(week 1): the majority-class baseline. Find the most frequent
    // quality in the training targets (`majority_class`), predict it for
    // every test wine, score it with `score`, and report its accuracy as
    // `baseline_accuracy`. Without it, nobody can tell whether 0.6 is good.

    let tree = TreeModel::fit(
        train_x.view(),
        train_y.view(),
        feature_names(),
        config.max_depth,
    )?;
    let (accuracy, mae) = score(&tree.predict(test_x.view()), &actual);

    let generated_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let metrics: Metrics = [
        ("accuracy", accuracy),
        ("generated_at", generated_at),
        ("mae", mae),
        ("seed", config.seed as f64),
        ("test_rows", s.test.len() as f64),
        ("train_rows", s.train.len() as f64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok((metrics, tree))
}

/// Writes `metrics.json` and `model.json` into `dir` (made if missing), each
/// pretty-printed and ending with a newline.
pub fn write_outputs(
    dir: &Path,
    metrics: &Metrics,
    model: &TreeModel,
) -> Result<(), BaselineError> {
    let write = |name: &str, json: String| {
        let path = dir.join(name);
        std::fs::write(&path, json + "\n").map_err(|source| BaselineError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| BaselineError::Write {
        path: dir.to_owned(),
        source,
    })?;
    // Serialising these plain structs cannot fail: no maps with non-string keys.
    write(
        "metrics.json",
        serde_json::to_string_pretty(metrics).unwrap_or_default(),
    )?;
    write(
        "model.json",
        serde_json::to_string_pretty(model).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_beats_a_coin_toss() {
        let (m, _) = run(&RunConfig::default()).expect("runs");
        assert!(m["accuracy"] >= 0.5, "{m:?}");
        assert_eq!((m["train_rows"], m["test_rows"]), (1279.0, 320.0));
    }

    #[test]
    fn bad_settings_are_refused_with_exit_code_2() {
        let deep = RunConfig {
            max_depth: 0,
            ..RunConfig::default()
        };
        let err = run(&deep).expect_err("depth 0");
        assert_eq!(err.exit_code(), 2);
    }

    // TODO(week 1): a test that runs twice and compares the bytes written
    // (`write_outputs` into a `tempfile::tempdir()`). Run it a few times in a
    // loop: some sources of non-determinism show up only now and then.
}
