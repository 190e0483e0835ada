//! Week 1: a reproducible baseline on the iris flowers.
//!
//! This is a sibling of the week 1 lab, not its answer: the same techniques on
//! another data set. A run takes a [`RunConfig`], splits the 150 flowers (four
//! measurements each, three species numbered 0, 1 and 2) into a training and a
//! test set with a seeded random number generator, fits two baselines (the
//! majority class and a shallow decision tree) and evaluates both on the test
//! set. The result is a [`Metrics`] value written as canonical JSON, so that two
//! runs with the same configuration produce byte-identical files.

use std::collections::BTreeMap;
use std::io::Write;

use linfa::prelude::*;
use ndarray::{ArrayView1, ArrayView2, Axis, Ix1};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::tree::{Tree, TreeError};

// ANCHOR: config
/// Everything that decides the outcome of a run. Two runs with equal
/// configurations (and the same code and data) must give equal metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunConfig {
    /// Seed of the random number generator that shuffles the rows.
    pub seed: u64,
    /// Share of the rows held out for testing, strictly between 0 and 1.
    pub test_fraction: f64,
    /// Split each species separately, so that every species appears in both
    /// sets in the same proportion.
    pub stratified: bool,
    /// Depth limit of the decision tree.
    pub max_depth: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            test_fraction: 0.2,
            stratified: true,
            max_depth: 3,
        }
    }
}
// ANCHOR_END: config

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("test_fraction must be strictly between 0 and 1, got {0}")]
    TestFraction(f64),
    #[error("max_depth must be at least 1")]
    MaxDepth,
    #[error("the split left {train} training and {test} test rows; both must be non-empty")]
    EmptySplit { train: usize, test: usize },
    #[error("training failed: {0}")]
    Training(#[from] TreeError),
    #[error("cannot serialise: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write metrics: {0}")]
    Io(#[from] std::io::Error),
}

// ANCHOR: split_groups
/// Row indices of the training and the test set, each in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits rows into a training and a test set.
///
/// The only source of randomness is a ChaCha8 generator seeded from
/// `config.seed`, so the same seed always gives the same split. With
/// `stratified`, each species is shuffled and cut on its own, in
/// ascending class order (a `BTreeMap`, never a `HashMap`, whose iteration
/// order changes from run to run).
pub fn split_indices(targets: &[usize], config: &RunConfig) -> Result<Split, BaselineError> {
    let fraction = config.test_fraction;
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(BaselineError::TestFraction(fraction));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);

    let groups: Vec<Vec<usize>> = if config.stratified {
        let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (row, &class) in targets.iter().enumerate() {
            by_class.entry(class).or_default().push(row);
        }
        by_class.into_values().collect()
    } else {
        vec![(0..targets.len()).collect()]
    };
    // ANCHOR_END: split_groups

    // ANCHOR: split_cut

    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut rows in groups {
        rows.shuffle(&mut rng);
        // Rounding keeps each class's share close to `fraction`.
        let n_test = (rows.len() as f64 * fraction).round() as usize;
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    // Sorted, so that the order of rows inside each set does not depend on
    // the shuffle: only membership does.
    train.sort_unstable();
    test.sort_unstable();
    if train.is_empty() || test.is_empty() {
        return Err(BaselineError::EmptySplit {
            train: train.len(),
            test: test.len(),
        });
    }
    Ok(Split { train, test })
}
// ANCHOR_END: split_cut

// ANCHOR: metrics_types
/// How well one model did on the test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelMetrics {
    /// Share of test flowers whose species was predicted correctly.
    pub accuracy: f64,
    /// Per species, the share of its test flowers predicted correctly.
    pub recall: BTreeMap<usize, f64>,
}

/// What a run reports: the configuration and data it ran on, and one entry
/// per model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub config: RunConfig,
    /// SHA-256 of the data set's numbers (see [`dataset_sha256`]).
    pub data_sha256: String,
    pub train_rows: usize,
    pub test_rows: usize,
    pub models: BTreeMap<String, ModelMetrics>,
}

// ANCHOR_END: metrics_types

// ANCHOR: metrics_evaluate
/// Rounds to six decimals, so files stay short and readable.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Scores predictions against the true species.
pub fn evaluate(predicted: &[usize], actual: &[usize]) -> ModelMetrics {
    assert_eq!(predicted.len(), actual.len(), "one prediction per row");
    // For each true species: (correctly predicted, all) test flowers.
    let mut counts: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for (&p, &a) in predicted.iter().zip(actual) {
        let (hits, all) = counts.entry(a).or_default();
        *hits += usize::from(p == a);
        *all += 1;
    }
    let correct: usize = counts.values().map(|&(hits, _)| hits).sum();
    let recall = counts
        .into_iter()
        .map(|(class, (hits, all))| (class, round6(hits as f64 / all as f64)))
        .collect();
    ModelMetrics {
        accuracy: round6(correct as f64 / actual.len().max(1) as f64),
        recall,
    }
}
// ANCHOR_END: metrics_evaluate

/// SHA-256 (lowercase hex) of a data set: every feature value and then the
/// label of each row, as little-endian `f64` bytes. It changes when any number
/// changes, and does not depend on how the data was stored.
pub fn dataset_sha256(records: ArrayView2<f64>, targets: ArrayView1<usize>) -> String {
    let mut hasher = Sha256::new();
    for (row, &target) in records.rows().into_iter().zip(targets) {
        for value in row {
            hasher.update(value.to_le_bytes());
        }
        hasher.update((target as f64).to_le_bytes());
    }
    hex::encode(hasher.finalize())
}

// ANCHOR: majority
/// The most frequent class; on a tie, the smallest one, so that the answer
/// never depends on iteration order.
pub fn majority_class(targets: &[usize]) -> Option<usize> {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for &class in targets {
        *counts.entry(class).or_default() += 1;
    }
    // `max_by_key` returns the last maximum; iterating in descending class
    // order makes that the smallest class among equals.
    counts
        .into_iter()
        .rev()
        .max_by_key(|&(_, count)| count)
        .map(|(class, _)| class)
}
// ANCHOR_END: majority

// ANCHOR: stable_tree
/// Fits the course's decision tree ([`crate::tree`], the file every lab
/// shares) on the training rows. The seed has done its work already: it
/// chose the rows. The tree itself draws nothing at random.
pub fn fit_tree(
    train: &Dataset<f64, usize, Ix1>,
    config: &RunConfig,
) -> Result<Tree, BaselineError> {
    let records = train.records().view();
    Ok(Tree::fit(
        records,
        train.targets().view(),
        config.max_depth,
    )?)
}
// ANCHOR_END: stable_tree

// ANCHOR: run_split
/// One complete run: split, fit both baselines, evaluate them.
pub fn run(config: &RunConfig) -> Result<Metrics, BaselineError> {
    if config.max_depth == 0 {
        return Err(BaselineError::MaxDepth);
    }
    let data = linfa_datasets::iris();
    let data_sha256 = dataset_sha256(data.records().view(), data.targets().view());

    let targets: Vec<usize> = data.targets().to_vec();
    let split = split_indices(&targets, config)?;
    let subset = |rows: &[usize]| {
        Dataset::new(
            data.records().select(Axis(0), rows),
            data.targets().select(Axis(0), rows),
        )
    };
    let (train, test) = (subset(&split.train), subset(&split.test));
    let actual = test.targets().to_vec();
    // ANCHOR_END: run_split

    // ANCHOR: run_models
    let mut models = BTreeMap::new();

    // Baseline 1: always answer the most common species in the training set.
    let train_targets = train.targets().to_vec();
    let majority = majority_class(&train_targets).ok_or(BaselineError::EmptySplit {
        train: 0,
        test: actual.len(),
    })?;
    let always_majority = vec![majority; actual.len()];
    models.insert(
        "majority_class".to_owned(),
        evaluate(&always_majority, &actual),
    );

    // Baseline 2: a shallow decision tree, the same on every run.
    let tree = fit_tree(&train, config)?;
    let predicted = tree.predict(test.records().view());
    models.insert("decision_tree".to_owned(), evaluate(&predicted, &actual));

    Ok(Metrics {
        config: config.clone(),
        data_sha256,
        train_rows: split.train.len(),
        test_rows: split.test.len(),
        models,
    })
}
// ANCHOR_END: run_models

// ANCHOR: canonical_json
/// Writes a JSON value in one canonical form: object keys sorted, no
/// insignificant whitespace, numbers in serde_json's shortest round-trip
/// notation. Equal values always give equal bytes, whatever order the maps
/// inside them were built in.
pub fn to_canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // A `Value::String` prints as a correctly escaped JSON string.
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

// ANCHOR_END: canonical_json

// ANCHOR: canonical_write
/// Writes the metrics as canonical JSON followed by a newline.
pub fn write_metrics(metrics: &Metrics, mut out: impl Write) -> Result<(), BaselineError> {
    let json = to_canonical_json(&serde_json::to_value(metrics)?);
    out.write_all(json.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}
// ANCHOR_END: canonical_write

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics_bytes(config: &RunConfig) -> Vec<u8> {
        let metrics = run(config).expect("a valid config runs");
        let mut bytes = Vec::new();
        write_metrics(&metrics, &mut bytes).expect("writing to memory succeeds");
        bytes
    }

    // ANCHOR: determinism_test
    #[test]
    fn repeated_runs_give_byte_identical_metrics() {
        let config = RunConfig::default();
        let first = metrics_bytes(&config);
        // Not just two runs: a flaw that shows up one run in two (as a
        // learner that breaks ties in hash-map order does) slips past a
        // single comparison half the time.
        for _ in 0..5 {
            assert_eq!(metrics_bytes(&config), first, "same config, same bytes");
        }
    }

    #[test]
    fn a_different_seed_gives_a_different_split() {
        let targets = linfa_datasets::iris().targets().to_vec();
        let a = split_indices(&targets, &RunConfig::default()).expect("valid");
        let b = split_indices(
            &targets,
            &RunConfig {
                seed: 7,
                ..RunConfig::default()
            },
        )
        .expect("valid");
        assert_ne!(a, b, "the seed must matter, or it is not really used");
    }
    // ANCHOR_END: determinism_test

    #[test]
    fn the_tree_beats_the_majority_baseline() {
        let metrics = run(&RunConfig::default()).expect("runs");
        let tree = &metrics.models["decision_tree"];
        let majority = &metrics.models["majority_class"];
        // Three species of 50 flowers each: the majority class is right
        // about a third of the time, a depth-3 tree nearly always.
        assert!(majority.accuracy < 0.4, "{metrics:?}");
        assert!(tree.accuracy >= 0.9, "{metrics:?}");
        assert!(tree.accuracy > majority.accuracy + 0.5, "{metrics:?}");
        assert_eq!((metrics.train_rows, metrics.test_rows), (120, 30));
    }

    #[test]
    fn split_is_a_partition_in_the_right_proportion() {
        let targets = linfa_datasets::iris().targets().to_vec();
        for stratified in [true, false] {
            let config = RunConfig {
                stratified,
                ..RunConfig::default()
            };
            let split = split_indices(&targets, &config).expect("valid");
            let mut all: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..targets.len()).collect::<Vec<_>>());
            // 20% of 150 is exactly 30, and of each species' 50 exactly 10.
            assert_eq!(split.test.len(), 30);
        }
    }

    #[test]
    fn stratified_split_keeps_every_class_in_both_sets() {
        let targets = linfa_datasets::iris().targets().to_vec();
        let split = split_indices(&targets, &RunConfig::default()).expect("valid");
        for class in 0..=2 {
            let in_set = |rows: &[usize]| rows.iter().filter(|&&r| targets[r] == class).count();
            assert_eq!(in_set(&split.train), 40, "species {class} in train");
            assert_eq!(in_set(&split.test), 10, "species {class} in test");
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        let targets = vec![0, 1, 0, 1];
        for fraction in [0.0, 1.0, -0.5, f64::NAN] {
            let config = RunConfig {
                test_fraction: fraction,
                ..RunConfig::default()
            };
            assert!(matches!(
                split_indices(&targets, &config),
                Err(BaselineError::TestFraction(_))
            ));
        }
        let tiny = RunConfig {
            test_fraction: 0.01,
            ..RunConfig::default()
        };
        assert!(matches!(
            split_indices(&targets, &tiny),
            Err(BaselineError::EmptySplit { .. })
        ));
        let no_depth = RunConfig {
            max_depth: 0,
            ..RunConfig::default()
        };
        assert!(matches!(run(&no_depth), Err(BaselineError::MaxDepth)));
    }

    #[test]
    fn majority_breaks_ties_towards_the_smallest_class() {
        assert_eq!(majority_class(&[1, 0, 1, 0]), Some(0));
        assert_eq!(majority_class(&[2, 1, 1]), Some(1));
        assert_eq!(majority_class(&[]), None);
    }

    #[test]
    fn evaluate_counts_hits_overall_and_per_species() {
        let m = evaluate(&[0, 1, 2, 2, 0], &[0, 1, 1, 2, 2]);
        assert_eq!(m.accuracy, 0.6);
        assert_eq!(m.recall, BTreeMap::from([(0, 1.0), (1, 0.5), (2, 0.5)]));
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"z": [1, 2.5], "y": "é\n"}}"#)
            .expect("valid JSON");
        let b: Value =
            serde_json::from_str(r#"{"a":{"y":"é\n","z":[1,2.5]},"b":1}"#).expect("valid JSON");
        assert_eq!(
            to_canonical_json(&a),
            r#"{"a":{"y":"é\n","z":[1,2.5]},"b":1}"#
        );
        assert_eq!(to_canonical_json(&a), to_canonical_json(&b));
    }

    #[test]
    fn metrics_file_names_config_data_and_models() {
        let text = String::from_utf8(metrics_bytes(&RunConfig::default())).expect("UTF-8");
        assert!(text.ends_with("}\n"));
        assert!(text.starts_with(r#"{"config":{"max_depth":3,"seed":42,"stratified":true,"test_fraction":0.2},"data_sha256":""#), "{text}");
        assert!(
            text.contains(r#""models":{"decision_tree":{"accuracy":"#),
            "{text}"
        );
        assert!(!text.contains(' '), "no whitespace: {text}");
    }
}
