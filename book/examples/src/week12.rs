//! Week 12: managing the wine data and the experiments run on it. A validator
//! that quarantines bad rows and counts them by reason; a check for
//! inconsistent labels; a hyper-parameter sweep over the tree's depth with a
//! run log and selection of the best run; permutation feature importance; and
//! a throughput measurement.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use linfa::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Ix1};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tree::{Tree, TreeError};

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
pub const HEADER: &str = "fixed_acidity,volatile_acidity,citric_acid,residual_sugar,chlorides,\
free_sulfur_dioxide,total_sulfur_dioxide,density,ph,sulphates,alcohol,quality";

// ANCHOR: validate
// ANCHOR: validate_bounds
/// Plausible ranges, wider than the data set's own: a value outside is an
/// error of measurement or entry, not an unusual wine.
const BOUNDS: [(f64, f64); 11] = [
    (3.0, 20.0),  // fixed acidity, g/L tartaric acid
    (0.0, 2.0),   // volatile acidity, g/L acetic acid
    (0.0, 1.5),   // citric acid, g/L
    (0.0, 70.0),  // residual sugar, g/L
    (0.0, 1.0),   // chlorides, g/L sodium chloride
    (0.0, 300.0), // free sulfur dioxide, mg/L
    (0.0, 500.0), // total sulfur dioxide, mg/L
    (0.98, 1.05), // density, g/cm³
    (2.5, 4.5),   // pH
    (0.0, 2.5),   // sulphates, g/L potassium sulphate
    (5.0, 20.0),  // alcohol, % by volume
];
const FREE_SO2: usize = 5;
const TOTAL_SO2: usize = 6;

#[derive(Debug, Clone, PartialEq)]
pub struct WineRow {
    pub features: [f64; 11],
    pub quality: u8,
}
// ANCHOR_END: validate_bounds

// ANCHOR: validate_records
/// Why a row was quarantined. The first failing check names the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    FieldCount,
    NotANumber,
    NotFinite,
    OutOfRange,
    /// Free sulfur dioxide is part of the total, so it cannot exceed it.
    Inconsistent,
    BadLabel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// 1-based line number in the file, header included.
    pub line: usize,
    pub reason: Reason,
    /// The column at fault, when there is one.
    pub column: Option<&'static str>,
    pub raw: String,
}

#[derive(Debug, Default)]
pub struct ValidationReport {
    pub accepted: Vec<WineRow>,
    pub quarantined: Vec<Quarantined>,
}

impl ValidationReport {
    pub fn counts(&self) -> BTreeMap<Reason, usize> {
        let mut counts = BTreeMap::new();
        for q in &self.quarantined {
            *counts.entry(q.reason).or_insert(0) += 1;
        }
        counts
    }
}
// ANCHOR_END: validate_records

// ANCHOR: validate_row
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("the header is {found:?}, expected the twelve wine columns")]
    Header { found: String },
}

fn check_row(line: &str) -> Result<WineRow, (Reason, Option<&'static str>)> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != FEATURES.len() + 1 {
        return Err((Reason::FieldCount, None));
    }
    let mut features = [0.0; 11];
    for (i, (field, name)) in fields.iter().zip(FEATURES).enumerate() {
        let value: f64 = field
            .parse()
            .map_err(|_| (Reason::NotANumber, Some(name)))?;
        if !value.is_finite() {
            return Err((Reason::NotFinite, Some(name)));
        }
        let (low, high) = BOUNDS[i];
        if !(low..=high).contains(&value) {
            return Err((Reason::OutOfRange, Some(name)));
        }
        features[i] = value;
    }
    if features[FREE_SO2] > features[TOTAL_SO2] {
        return Err((Reason::Inconsistent, Some(FEATURES[FREE_SO2])));
    }
    let quality = fields[11]
        .parse::<u8>()
        .ok()
        .filter(|q| *q <= 10)
        .ok_or((Reason::BadLabel, Some("quality")))?;
    Ok(WineRow { features, quality })
}
// ANCHOR_END: validate_row

// ANCHOR: validate_file
/// Splits a CSV file into accepted rows and quarantined rows. A wrong header
/// rejects the whole file: no row of it can be read with confidence.
pub fn validate_csv(text: &str) -> Result<ValidationReport, FileError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if header.trim() != HEADER {
        return Err(FileError::Header {
            found: header.to_owned(),
        });
    }
    let mut report = ValidationReport::default();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match check_row(line) {
            Ok(row) => report.accepted.push(row),
            Err((reason, column)) => report.quarantined.push(Quarantined {
                line: i + 2,
                reason,
                column,
                raw: line.to_owned(),
            }),
        }
    }
    Ok(report)
}
// ANCHOR_END: validate_file
// ANCHOR_END: validate

// ANCHOR: labels
/// Wines with identical measurements but different quality labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelConflict {
    pub features: [f64; 11],
    pub rows: usize,
    pub qualities: BTreeSet<u8>,
}

pub fn label_conflicts(rows: &[WineRow]) -> Vec<LabelConflict> {
    let mut groups: BTreeMap<[u64; 11], (usize, BTreeSet<u8>)> = BTreeMap::new();
    for row in rows {
        let key = row.features.map(f64::to_bits);
        let group = groups.entry(key).or_default();
        group.0 += 1;
        group.1.insert(row.quality);
    }
    groups
        .into_iter()
        .filter(|(_, (_, qualities))| qualities.len() > 1)
        .map(|(key, (rows, qualities))| LabelConflict {
            features: key.map(f64::from_bits),
            rows,
            qualities,
        })
        .collect()
}
// ANCHOR_END: labels

// ANCHOR: sweep
// ANCHOR: sweep_metrics
pub type WineData = Dataset<f64, usize, Ix1>;

/// SHA-256 of the rows a run trained on, so a run names its data.
pub fn data_sha256(data: &WineData) -> String {
    let mut hasher = Sha256::new();
    for (row, target) in data.records().rows().into_iter().zip(data.targets()) {
        for value in row {
            hasher.update(value.to_le_bytes());
        }
        hasher.update((*target as u64).to_le_bytes());
    }
    hex::encode(hasher.finalize())
}

pub fn accuracy(predicted: ArrayView1<usize>, actual: ArrayView1<usize>) -> f64 {
    let correct = predicted.iter().zip(actual).filter(|(p, a)| p == a).count();
    correct as f64 / actual.len().max(1) as f64
}

fn mean_absolute_error(predicted: ArrayView1<usize>, actual: ArrayView1<usize>) -> f64 {
    let total: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(&p, &a)| (p as f64 - a as f64).abs())
        .sum();
    total / actual.len().max(1) as f64
}
// ANCHOR_END: sweep_metrics

// ANCHOR: sweep_records
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunParams {
    pub max_depth: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    pub train_accuracy: f64,
    pub valid_accuracy: f64,
    pub valid_mae: f64,
}

/// One line of the run log: everything needed to tell what a run was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: usize,
    pub params: RunParams,
    pub data_sha256: String,
    pub model_sha256: String,
    pub metrics: RunMetrics,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("training failed: {0}")]
    Training(#[from] TreeError),
    #[error("cannot serialise the model: {0}")]
    Json(#[from] serde_json::Error),
}

pub struct Sweep {
    pub log: Vec<RunRecord>,
    pub models: Vec<Tree>,
}
// ANCHOR_END: sweep_records

// ANCHOR: sweep_run
/// Trains one tree per depth, logging every run, good or bad.
pub fn sweep(train: &WineData, valid: &WineData, depths: &[usize]) -> Result<Sweep, SweepError> {
    let data_sha256 = data_sha256(train);
    let (train_x, train_y) = (train.records().view(), train.targets().view());
    let mut result = Sweep {
        log: Vec::new(),
        models: Vec::new(),
    };
    for (run, &max_depth) in depths.iter().enumerate() {
        let tree = Tree::fit(train_x, train_y, max_depth)?;
        let on_valid = Array1::from(tree.predict(valid.records().view()));
        let model_json = serde_json::to_vec(&tree)?;
        result.log.push(RunRecord {
            run,
            params: RunParams { max_depth },
            data_sha256: data_sha256.clone(),
            model_sha256: hex::encode(Sha256::digest(&model_json)),
            metrics: RunMetrics {
                train_accuracy: accuracy(
                    Array1::from(tree.predict(train_x)).view(),
                    train.targets().view(),
                ),
                valid_accuracy: accuracy(on_valid.view(), valid.targets().view()),
                valid_mae: mean_absolute_error(on_valid.view(), valid.targets().view()),
            },
        });
        result.models.push(tree);
    }
    Ok(result)
}
// ANCHOR_END: sweep_run

// ANCHOR: sweep_select
/// The stated selection rule: highest validation accuracy; on a tie, the
/// lower mean absolute error, then the shallower tree.
pub fn best_run(log: &[RunRecord]) -> Option<&RunRecord> {
    log.iter().max_by(|a, b| {
        let (ma, mb) = (&a.metrics, &b.metrics);
        ma.valid_accuracy
            .total_cmp(&mb.valid_accuracy)
            .then(mb.valid_mae.total_cmp(&ma.valid_mae))
            .then(b.params.max_depth.cmp(&a.params.max_depth))
    })
}

/// The run log as JSON Lines: one run per line, appendable, greppable.
pub fn to_jsonl(log: &[RunRecord]) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for record in log {
        out.push_str(&serde_json::to_string(record)?);
        out.push('\n');
    }
    Ok(out)
}
// ANCHOR_END: sweep_select
// ANCHOR_END: sweep

// ANCHOR: importance
// ANCHOR: importance_type
#[derive(Debug, Clone, PartialEq)]
pub struct Importance {
    pub feature: &'static str,
    /// Mean fall in accuracy when the column is shuffled.
    pub mean_drop: f64,
    pub std_dev: f64,
}
// ANCHOR_END: importance_type

// ANCHOR: importance_compute
/// Permutation importance: shuffle one column at a time, breaking its link
/// with the label, and measure how much accuracy the model loses.
pub fn permutation_importance(
    model: &Tree,
    records: ArrayView2<f64>,
    targets: ArrayView1<usize>,
    repeats: usize,
    seed: u64,
) -> Vec<Importance> {
    let baseline = accuracy(Array1::from(model.predict(records)).view(), targets);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    FEATURES
        .iter()
        .enumerate()
        .map(|(j, &feature)| {
            let drops: Vec<f64> = (0..repeats)
                .map(|_| {
                    let mut shuffled = records.to_owned();
                    let mut column = shuffled.column(j).to_vec();
                    column.shuffle(&mut rng);
                    shuffled.column_mut(j).assign(&Array1::from(column));
                    let predicted = Array1::from(model.predict(shuffled.view()));
                    baseline - accuracy(predicted.view(), targets)
                })
                .collect();
            let n = drops.len().max(1) as f64;
            let mean_drop = drops.iter().sum::<f64>() / n;
            let variance = drops.iter().map(|d| (d - mean_drop).powi(2)).sum::<f64>() / n;
            Importance {
                feature,
                mean_drop,
                std_dev: variance.sqrt(),
            }
        })
        .collect()
}
// ANCHOR_END: importance_compute
// ANCHOR_END: importance

// ANCHOR: throughput
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub rows: usize,
    pub seconds: f64,
    pub rows_per_second: f64,
}

/// Predicts the whole batch `rounds` times and reports rows per second.
pub fn measure_throughput(model: &Tree, records: &Array2<f64>, rounds: usize) -> Throughput {
    let start = Instant::now();
    let mut checksum = 0usize;
    for _ in 0..rounds {
        // Use the result, so the work cannot be optimised away.
        let predicted = model.predict(std::hint::black_box(records).view());
        checksum = checksum.wrapping_add(predicted.iter().sum::<usize>());
    }
    std::hint::black_box(checksum);
    let seconds = start.elapsed().as_secs_f64().max(f64::EPSILON);
    let rows = records.nrows() * rounds;
    Throughput {
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds,
    }
}
// ANCHOR_END: throughput

/// A seeded shuffle of the wine data, cut into training and validation sets.
pub fn wine_split(seed: u64, valid_percent: usize) -> (WineData, WineData) {
    let data = linfa_datasets::winequality();
    let mut rows: Vec<usize> = (0..data.nsamples()).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let (valid, train) = rows.split_at(rows.len() * valid_percent / 100);
    let subset = |idx: &[usize]| {
        Dataset::new(
            data.records().select(ndarray::Axis(0), idx),
            data.targets().select(ndarray::Axis(0), idx),
        )
    };
    (subset(train), subset(valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wine_csv() -> String {
        let data = linfa_datasets::winequality();
        let mut text = format!("{HEADER}\n");
        for (row, quality) in data.records().rows().into_iter().zip(data.targets()) {
            let fields: Vec<String> = row.iter().map(f64::to_string).collect();
            text.push_str(&format!("{},{quality}\n", fields.join(",")));
        }
        text
    }

    // ANCHOR: validate_tests
    // ANCHOR: validate_tests_real
    #[test]
    fn every_real_wine_passes_validation() {
        let report = validate_csv(&wine_csv()).expect("header is right");
        assert_eq!(report.accepted.len(), 1599);
        assert_eq!(report.quarantined, vec![]);
    }
    // ANCHOR_END: validate_tests_real

    // ANCHOR: validate_tests_corrupt
    #[test]
    fn corrupted_rows_are_quarantined_and_counted_by_reason() {
        let good = "7.4,0.7,0.0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4,5";
        let fixture = [
            HEADER,
            good,
            "7.4,0.7,0.0,1.9,0.076,11,34,0.9978,3.51,0.56,5", // a column lost
            "7.4,0.7,n/a,1.9,0.076,11,34,0.9978,3.51,0.56,9.4,5",
            "7.4,0.7,0.0,1.9,0.076,11,34,0.9978,NaN,0.56,9.4,5",
            "7.4,0.7,0.0,1.9,0.076,11,34,0.9978,35.1,0.56,9.4,5", // pH typed ×10
            "7.4,0.7,0.0,1.9,0.076,11,34,9.978,3.51,0.56,9.4,5",
            "7.4,0.7,0.0,1.9,0.076,40,34,0.9978,3.51,0.56,9.4,5", // free > total
            "7.4,0.7,0.0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4,5.5",
            "7.4,0.7,0.0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4,12",
            "",
            good,
        ]
        .join("\n");
        let report = validate_csv(&fixture).expect("header is right");

        assert_eq!(report.accepted.len(), 2);
        let expected = BTreeMap::from([
            (Reason::FieldCount, 1),
            (Reason::NotANumber, 1),
            (Reason::NotFinite, 1),
            (Reason::OutOfRange, 2),
            (Reason::Inconsistent, 1),
            (Reason::BadLabel, 2),
        ]);
        assert_eq!(report.counts(), expected);
        let ph = &report.quarantined[3];
        assert_eq!(
            (ph.line, ph.reason, ph.column),
            (6, Reason::OutOfRange, Some("ph"))
        );
    }
    // ANCHOR_END: validate_tests_corrupt
    // ANCHOR_END: validate_tests

    #[test]
    fn a_wrong_header_rejects_the_file() {
        let err = validate_csv("a,b,c\n1,2,3\n").expect_err("rejected");
        assert_eq!(
            err,
            FileError::Header {
                found: "a,b,c".to_owned()
            }
        );
    }

    #[test]
    fn duplicate_wines_with_different_labels_are_found() {
        let report = validate_csv(&wine_csv()).expect("valid");
        let mut rows = report.accepted;
        let conflicts_before = label_conflicts(&rows).len();

        let mut copy = rows[0].clone();
        copy.quality = if copy.quality == 5 { 6 } else { 5 };
        rows.push(copy.clone());
        let conflicts = label_conflicts(&rows);
        assert_eq!(conflicts.len(), conflicts_before + 1);
        assert!(conflicts.iter().any(|c| c.features == copy.features));
    }

    // ANCHOR: sweep_tests
    #[test]
    fn the_sweep_logs_every_run_and_selects_the_best_by_the_stated_rule() {
        let (train, valid) = wine_split(42, 20);
        let depths = [2, 4, 6, 8, 10];
        let result = sweep(&train, &valid, &depths).expect("training succeeds");

        assert_eq!(result.log.len(), depths.len());
        let jsonl = to_jsonl(&result.log).expect("serialises");
        assert_eq!(jsonl.lines().count(), depths.len());
        for (line, record) in jsonl.lines().zip(&result.log) {
            let parsed: RunRecord = serde_json::from_str(line).expect("each line is a run");
            assert_eq!(&parsed, record);
        }

        let best = best_run(&result.log).expect("there are runs");
        let top = result
            .log
            .iter()
            .map(|r| r.metrics.valid_accuracy)
            .fold(f64::MIN, f64::max);
        assert_eq!(best.metrics.valid_accuracy, top);

        // The chosen model, evaluated again, gives the accuracy its run logged.
        let model = &result.models[best.run];
        let predicted = Array1::from(model.predict(valid.records().view()));
        let again = accuracy(predicted.view(), valid.targets().view());
        assert_eq!(again, best.metrics.valid_accuracy);
    }
    // ANCHOR_END: sweep_tests

    #[test]
    fn ties_go_to_the_lower_error_then_the_shallower_tree() {
        let run = |run, max_depth, valid_accuracy, valid_mae| RunRecord {
            run,
            params: RunParams { max_depth },
            data_sha256: String::new(),
            model_sha256: String::new(),
            metrics: RunMetrics {
                train_accuracy: 1.0,
                valid_accuracy,
                valid_mae,
            },
        };
        let log = [
            run(0, 8, 0.6, 0.45),
            run(1, 4, 0.6, 0.40),
            run(2, 6, 0.6, 0.40),
            run(3, 2, 0.5, 0.30),
        ];
        assert_eq!(best_run(&log).map(|r| r.run), Some(1));
        assert_eq!(best_run(&[]), None);
    }

    // ANCHOR: importance_tests
    #[test]
    fn features_the_tree_never_splits_on_have_zero_importance() {
        let (train, valid) = wine_split(42, 20);
        let (x, y) = (train.records().view(), train.targets().view());
        let tree = Tree::fit(x, y, 3).expect("training succeeds");
        let unused: Vec<usize> = (0..FEATURES.len())
            .filter(|j| !tree.features().contains(j))
            .collect();
        assert!(!unused.is_empty(), "a depth-3 tree uses at most 7 features");

        let importance =
            permutation_importance(&tree, valid.records().view(), valid.targets().view(), 5, 1);
        for j in unused {
            assert_eq!(importance[j].mean_drop, 0.0, "{}", FEATURES[j]);
        }
        assert!(importance.iter().any(|i| i.mean_drop > 0.01));

        let again =
            permutation_importance(&tree, valid.records().view(), valid.targets().view(), 5, 1);
        assert_eq!(importance, again, "the same seed gives the same report");
    }
    // ANCHOR_END: importance_tests

    #[test]
    fn throughput_counts_every_predicted_row() {
        let (train, valid) = wine_split(42, 20);
        let (x, y) = (train.records().view(), train.targets().view());
        let tree = Tree::fit(x, y, 6).expect("training succeeds");
        let records = valid.records().to_owned();
        let t = measure_throughput(&tree, &records, 10);
        assert_eq!(t.rows, records.nrows() * 10);
        assert!(t.seconds > 0.0 && t.rows_per_second > 0.0);
    }

    #[test]
    fn the_data_hash_names_the_rows() {
        let (a, _) = wine_split(42, 20);
        let (b, _) = wine_split(42, 20);
        let (c, _) = wine_split(43, 20);
        assert_eq!(data_sha256(&a), data_sha256(&b));
        assert_ne!(data_sha256(&a), data_sha256(&c));
    }
}
