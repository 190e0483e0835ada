//! The wine-quality pipeline behind the `wine-pipeline` tool, one function per
//! DVC stage, and the production entry:
//!
//! - [`prepare`]: the raw data split in two with the seeded shuffle
//!   (`prepare.seed`, `prepare.test_fraction`): `train.csv` and `test.csv`,
//!   the raw file's own lines under the same header;
//! - [`train`]: the course's decision tree (`train.max_depth`) fitted on
//!   `train.csv`, saved as JSON;
//! - [`evaluate`]: the research path: the saved model on `test.csv`, its
//!   metrics (`metrics.json`) and one prediction per wine (a CSV DVC plots as
//!   a confusion matrix);
//! - [`predict`]: the production path: a model file and a CSV of wines in,
//!   the predictions out.
//!
//! `evaluate` and `predict` load the model with the same [`load_model`] and
//! predict with the same [`predict_wines`]: what the metrics say about the
//! model is what production gets from it.
//!
//! Everything a stage writes is a function of its inputs alone: no clock, no
//! randomness but the seeded split, no `HashMap` order, floats printed the
//! shortest way that reads back exactly. Same inputs, same bytes, so DVC's
//! hashes in `dvc.lock` hold from one run (and one machine) to the next.

pub mod data;
pub mod error;
pub mod model;
pub mod params;
pub mod split;
pub mod tree;

use std::collections::BTreeSet;
use std::path::Path;

use ndarray::Array2;
use serde::Serialize;

pub use data::{FEATURES, Labels, Wines, parse_csv};
pub use error::{AppError, TrainError};
pub use model::TreeModel;
pub use params::{EvaluateParams, PrepareParams, Section, TrainParams};

/// What `prepare` prints on stdout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrepareSummary {
    pub test: String,
    pub test_rows: usize,
    pub train: String,
    pub train_rows: usize,
}

/// What `train` prints on stdout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    pub max_depth: usize,
    pub model: String,
    pub rows: usize,
}

/// What `metrics.json` holds (and `evaluate` prints); fields in alphabetical
/// order, so keys are sorted. Not rounded: each is the exact `f64` of its
/// formula, so anyone can recompute it from the predictions file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Share of wines whose predicted quality is the true one.
    pub accuracy: f64,
    /// The mean over qualities (those that are true or predicted at least
    /// once) of each quality's F1 score, `2 tp / (2 tp + fp + fn)`.
    pub macro_f1: f64,
    /// Mean absolute difference between predicted and true quality.
    pub mae: f64,
    /// How many wines were scored.
    pub rows: usize,
    /// Share of wines predicted within `evaluate.tolerance` quality points.
    pub within_tolerance: f64,
}

impl Metrics {
    /// Scores `predicted` against `actual` (the same length, not empty).
    pub fn compute(predicted: &[usize], actual: &[usize], tolerance: usize) -> Metrics {
        let rows = actual.len();
        let n = rows.max(1) as f64;
        let pairs = || predicted.iter().zip(actual);
        let hits = pairs().filter(|(p, a)| p == a).count();
        let near = pairs()
            .filter(|(p, a)| p.abs_diff(**a) <= tolerance)
            .count();
        let error: usize = pairs().map(|(p, a)| p.abs_diff(*a)).sum();
        let classes: BTreeSet<usize> = predicted.iter().chain(actual).copied().collect();
        let f1 = |c: usize| {
            let tp = pairs().filter(|(p, a)| **p == c && **a == c).count();
            let fp = pairs().filter(|(p, a)| **p == c && **a != c).count();
            let fn_ = pairs().filter(|(p, a)| **p != c && **a == c).count();
            (2 * tp) as f64 / (2 * tp + fp + fn_) as f64
        };
        let macro_f1 = if classes.is_empty() {
            0.0
        } else {
            classes.iter().map(|&c| f1(c)).sum::<f64>() / classes.len() as f64
        };
        Metrics {
            accuracy: hits as f64 / n,
            macro_f1,
            mae: error as f64 / n,
            rows,
            within_tolerance: near as f64 / n,
        }
    }
}

/// What `predict` prints on stdout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Predictions {
    pub predictions: Vec<usize>,
}

fn read(path: &Path) -> Result<String, AppError> {
    std::fs::read_to_string(path).map_err(|source| AppError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes `text` to `path`, making its folder first.
pub fn write_file(path: &Path, text: &str) -> Result<(), AppError> {
    let failed = |source| AppError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)
}

/// Pretty JSON with a final newline, as the stages write it. Plain structs
/// with string keys: serialising cannot fail.
pub fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Reads and parses a CSV file of wines.
pub fn load_wines(path: &Path, labels: Labels) -> Result<Wines, AppError> {
    parse_csv(&read(path)?, labels).map_err(|source| AppError::Data {
        path: path.to_owned(),
        source,
    })
}

/// The production entry to a model: reads a file written by `train` and
/// checks it is one (the eleven features, in order; a tree that only uses
/// them, with finite thresholds).
pub fn load_model(path: &Path) -> Result<TreeModel, AppError> {
    let invalid = |reason: String| AppError::Model {
        path: path.to_owned(),
        reason,
    };
    let model: TreeModel =
        serde_json::from_str(&read(path)?).map_err(|e| invalid(e.to_string()))?;
    if model.features != FEATURES {
        return Err(invalid(
            "its features are not the eleven of the wine data, in order".into(),
        ));
    }
    model.check().map_err(|e| invalid(e.to_string()))?;
    Ok(model)
}

/// The wines' features as the model's input matrix, one row per wine.
fn matrix(wines: &Wines) -> Array2<f64> {
    let flat: Vec<f64> = wines.features.iter().flatten().copied().collect();
    // Eleven values per row by construction.
    Array2::from_shape_vec((wines.features.len(), FEATURES.len()), flat).unwrap_or_default()
}

/// The one prediction code path, shared by `evaluate` and `predict`.
pub fn predict_wines(model: &TreeModel, wines: &Wines) -> Vec<usize> {
    model.predict(matrix(wines).view())
}

/// `prepare`: splits the raw data with the seeded shuffle into
/// `out/train.csv` and `out/test.csv`.
// lab:solution
pub fn prepare(
    data: &Path,
    params: &PrepareParams,
    out: &Path,
) -> Result<PrepareSummary, AppError> {
    let wines = load_wines(data, Labels::Required)?;
    let rows = split::split(wines.features.len(), params.test_fraction, params.seed)?;
    let (train, test) = (out.join("train.csv"), out.join("test.csv"));
    write_file(&train, &wines.select(&rows.train).to_csv())?;
    write_file(&test, &wines.select(&rows.test).to_csv())?;
    Ok(PrepareSummary {
        test: test.display().to_string(),
        test_rows: rows.test.len(),
        train: train.display().to_string(),
        train_rows: rows.train.len(),
    })
}
// lab:starter
// ///
// /// TODO(week 10): read the raw wines (`load_wines(data, Labels::Required)`),
// /// split their indices with `split::split` and the parameters, and write
// /// each part with `Wines::select` and `Wines::to_csv`.
// pub fn prepare(
//     _data: &Path,
//     _params: &PrepareParams,
//     _out: &Path,
// ) -> Result<PrepareSummary, AppError> {
//     Err(AppError::NotYet("prepare"))
// }
// lab:end

/// `train`: fits the tree on `train_csv` and writes the model to `out`.
// lab:solution
pub fn train(params: &TrainParams, train_csv: &Path, out: &Path) -> Result<TrainSummary, AppError> {
    let wines = load_wines(train_csv, Labels::Required)?;
    let targets = ndarray::Array1::from(wines.qualities.clone());
    let names = FEATURES.map(String::from).to_vec();
    let model = TreeModel::fit(
        matrix(&wines).view(),
        targets.view(),
        names,
        params.max_depth,
    )
    .map_err(TrainError::from)?;
    write_file(out, &to_json(&model))?;
    Ok(TrainSummary {
        max_depth: params.max_depth,
        model: out.display().to_string(),
        rows: wines.features.len(),
    })
}
// lab:starter
// ///
// /// TODO(week 10): read the labelled wines, fit a `TreeModel` of
// /// `params.max_depth` on them (feature names: `FEATURES`), and write it as
// /// JSON. The same rows and depth must give the same bytes.
// pub fn train(
//     _params: &TrainParams,
//     _train_csv: &Path,
//     _out: &Path,
// ) -> Result<TrainSummary, AppError> {
//     Err(AppError::NotYet("train"))
// }
// lab:end

/// `evaluate`: scores the model on `test_csv`; writes the metrics to
/// `metrics` and one `row,actual,predicted` line per wine to `predictions`
/// (`row` counts the test file's wines from 0).
// lab:solution
pub fn evaluate(
    params: &EvaluateParams,
    model: &Path,
    test_csv: &Path,
    metrics: &Path,
    predictions: &Path,
) -> Result<Metrics, AppError> {
    // The production entry: the model as `predict` reads it.
    let model = load_model(model)?;
    let wines = load_wines(test_csv, Labels::Required)?;
    let predicted = predict_wines(&model, &wines);
    let scores = Metrics::compute(&predicted, &wines.qualities, params.tolerance);
    let mut table = String::from("row,actual,predicted\n");
    for (row, (actual, predicted)) in wines.qualities.iter().zip(&predicted).enumerate() {
        table.push_str(&format!("{row},{actual},{predicted}\n"));
    }
    write_file(predictions, &table)?;
    write_file(metrics, &to_json(&scores))?;
    Ok(scores)
}
// lab:starter
// ///
// /// TODO(week 10): load the model with `load_model` and the test wines,
// /// predict with `predict_wines` (the code `predict` uses), score with
// /// `Metrics::compute`, and write both files.
// pub fn evaluate(
//     _params: &EvaluateParams,
//     _model: &Path,
//     _test_csv: &Path,
//     _metrics: &Path,
//     _predictions: &Path,
// ) -> Result<Metrics, AppError> {
//     Err(AppError::NotYet("evaluate"))
// }
// lab:end

/// `predict`: the quality of each wine in `input`, in file order (a
/// `quality` column, if the file has one, is ignored).
pub fn predict(model: &Path, input: &Path) -> Result<Predictions, AppError> {
    let model = load_model(model)?;
    let wines = load_wines(input, Labels::Ignored)?;
    Ok(Predictions {
        predictions: predict_wines(&model, &wines),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_their_formulas() {
        let m = Metrics::compute(&[5, 6, 6, 7], &[5, 6, 5, 5], 1);
        assert_eq!(m.accuracy, 0.5);
        assert_eq!(m.mae, 0.75);
        assert_eq!(m.within_tolerance, 0.75);
        assert_eq!(m.rows, 4);
        // Quality 5: tp 1, fp 0, fn 2 -> 0.5; 6: tp 1, fp 1, fn 0 -> 2/3;
        // 7: tp 0, fp 1 -> 0.
        assert!((m.macro_f1 - (0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-15);
        let perfect = Metrics::compute(&[3, 8], &[3, 8], 0);
        assert_eq!((perfect.accuracy, perfect.macro_f1), (1.0, 1.0));
    }

    #[test]
    fn a_file_that_is_not_a_model_is_input_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("model.json");
        std::fs::write(&path, "{\"weights\": []}").expect("w");
        let err = load_model(&path).expect_err("not a model");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.to_string().lines().count(), 1);
    }

    // lab:starter
    // #[ignore = "TODO(week 10): passes once prepare, train and evaluate are written"]
    // lab:end
    #[test]
    fn the_stages_are_deterministic_and_evaluate_agrees_with_predict() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        let raw = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/raw/winequality-red.csv");
        let split = PrepareParams {
            seed: 42,
            test_fraction: 0.2,
        };
        let summary = prepare(&raw, &split, &d.join("prepared")).expect("prepares");
        assert_eq!((summary.train_rows, summary.test_rows), (1279, 320));
        let depth = TrainParams { max_depth: 4 };
        let train_csv = d.join("prepared/train.csv");
        train(&depth, &train_csv, &d.join("a/model.json")).expect("trains");
        train(&depth, &train_csv, &d.join("b/model.json")).expect("trains");
        let bytes = |p: &str| std::fs::read(d.join(p)).expect("written");
        assert_eq!(bytes("a/model.json"), bytes("b/model.json"));
        let test_csv = d.join("prepared/test.csv");
        let metrics = evaluate(
            &EvaluateParams { tolerance: 1 },
            &d.join("a/model.json"),
            &test_csv,
            &d.join("metrics.json"),
            &d.join("eval/predictions.csv"),
        )
        .expect("evaluates");
        assert_eq!(metrics.rows, 320);
        assert!(metrics.accuracy > 0.5, "{metrics:?}");
        let production = predict(&d.join("a/model.json"), &test_csv).expect("predicts");
        let research: Vec<usize> = String::from_utf8(bytes("eval/predictions.csv"))
            .expect("utf-8")
            .lines()
            .skip(1)
            .map(|l| {
                l.rsplit(',')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("p")
            })
            .collect();
        assert_eq!(production.predictions, research);
    }
}
