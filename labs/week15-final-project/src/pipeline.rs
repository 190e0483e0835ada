//! The pipeline's steps, one function per DVC stage, and the production
//! entry:
//!
//! - [`prepare`]: the raw data split in two with the seeded shuffle
//!   (`prepare.seed`, `prepare.test_fraction`);
//! - [`train`]: the course's tree (`train.max_depth`) fitted on `train.csv`
//!   and saved as week 8's [`ModelArtifact`], the very file the service
//!   serves, with week 11's drift reference beside it;
//! - [`evaluate`]: the artifact on `test.csv`: `metrics.json` and one
//!   prediction per wine;
//! - [`predict`]: an artifact and a CSV of wines in, the predictions out.
//!
//! The final's own file. Week 10's `src/lib.rs` holds these stages, but it is
//! that crate's root, and its `train` writes week 10's own model format; here
//! `train` writes the service's artifact, and `evaluate` and `predict` load
//! it with [`Model::from_artifact`] and predict with [`Model::predict`]: the
//! code `POST /predict` runs. What the metrics say is what clients get.
//!
//! Everything a stage writes is a function of its inputs alone (no clock, no
//! randomness but the seeded split, no `HashMap` order): same inputs, same
//! bytes, so the hashes in `dvc.lock` hold from one run to the next.

use std::collections::BTreeSet;
use std::path::Path;

use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::cli::{EvaluateArgs, PredictArgs, PrepareArgs, Step, TrainArgs};
use crate::data::{FEATURES, Labels, Wines, parse_csv};
use crate::error::{AppError, TrainError};
use crate::model::{Model, ModelArtifact, dataset_sha256};
use crate::params::{EvaluateParams, PrepareParams, Section, TrainParams};
use crate::schema::WineFeatures;
use crate::split;
use crate::tree::Tree;

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
    pub data_sha256: String,
    pub drift_reference: String,
    pub max_depth: usize,
    pub model: String,
    pub model_version: String,
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

/// Runs one step and returns what it prints, as one line of JSON.
pub fn run(step: Step) -> Result<String, AppError> {
    let json = match step {
        Step::Prepare(args) => serde_json::to_string(&prepare(&args)?),
        Step::Train(args) => serde_json::to_string(&train(&args)?),
        Step::Evaluate(args) => serde_json::to_string(&evaluate(&args)?),
        Step::Predict(args) => serde_json::to_string(&predict(&args)?),
    };
    // Plain structs: serialising cannot fail.
    Ok(json.unwrap_or_default())
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

/// Pretty JSON with a final newline, for the files people read. Plain
/// structs with string keys: serialising cannot fail.
pub fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Compact JSON, as the service's own `save` functions write the model and
/// the drift reference.
pub fn to_compact_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Reads and parses a CSV file of wines.
pub fn load_wines(path: &Path, labels: Labels) -> Result<Wines, AppError> {
    parse_csv(&read(path)?, labels).map_err(|source| AppError::Data {
        path: path.to_owned(),
        source,
    })
}

/// Reads a model artifact and checks it as the service does (format,
/// features, tree, tree hash). The pin is the image's check, not this one's.
pub fn load_model(path: &Path) -> Result<Model, AppError> {
    let invalid = |reason: String| AppError::Model {
        path: path.to_owned(),
        reason,
    };
    let artifact: ModelArtifact =
        serde_json::from_str(&read(path)?).map_err(|e| invalid(e.to_string()))?;
    Model::from_artifact(artifact).map_err(|e| invalid(e.to_string()))
}

/// The wines' features as the model's input matrix, one row per wine.
fn matrix(wines: &Wines) -> Array2<f64> {
    let flat: Vec<f64> = wines.features.iter().flatten().copied().collect();
    // Eleven values per row by construction.
    Array2::from_shape_vec((wines.features.len(), FEATURES.len()), flat).unwrap_or_default()
}

/// The one prediction code path, shared by `evaluate`, `predict` and the
/// service's `POST /predict`: [`Model::predict`] on the service's input type.
pub fn predict_wines(model: &Model, wines: &Wines) -> Vec<usize> {
    let inputs: Vec<WineFeatures> = wines
        .features
        .iter()
        .map(|&row| WineFeatures::from_array(row))
        .collect();
    model.predict(&inputs)
}

/// SHA-256 (hex) of a data set's numbers, as week 1 defines the data hash.
pub fn wines_sha256(wines: &Wines) -> String {
    let targets = Array1::from(wines.qualities.clone());
    dataset_sha256(matrix(wines).view(), targets.view())
}

/// `prepare`: splits the raw data with the seeded shuffle into
/// `out/train.csv` and `out/test.csv`, the raw file's own lines under its
/// header.
pub fn prepare(args: &PrepareArgs) -> Result<PrepareSummary, AppError> {
    let params = PrepareParams::load(&args.params)?;
    let wines = load_wines(&args.data, Labels::Required)?;
    let rows = split::split(wines.features.len(), params.test_fraction, params.seed)?;
    let (train, test) = (args.out.join("train.csv"), args.out.join("test.csv"));
    write_file(&train, &wines.select(&rows.train).to_csv())?;
    write_file(&test, &wines.select(&rows.test).to_csv())?;
    Ok(PrepareSummary {
        test: test.display().to_string(),
        test_rows: rows.test.len(),
        train: train.display().to_string(),
        train_rows: rows.train.len(),
    })
}

/// The artifact of `tree`, fitted with `max_depth` on the wines `trained`,
/// which were split from `source`: the format the service reads.
///
/// `data_sha256` is the hash of `source`, the data version (what week 8's
/// `GET /version` reports and the drift reference is tied to); `train_rows`
/// and `train_accuracy` are those of the rows actually fitted. The tree hash
/// and version are computed as `crate::model::train` computes them (private
/// there): [`Model::from_artifact`] checks the hash, a test the version.
pub fn model_artifact(
    tree: Tree,
    max_depth: usize,
    source: &Wines,
    trained: &Wines,
) -> ModelArtifact {
    // TODO(week 15): the artifact week 8's service serves (see
    // src/model.rs, `train`): the tree, its SHA-256 (of the tree as compact
    // JSON) and version, the hash of `source` as `data_sha256` (the data
    // version GET /version reports), the rows fitted and their accuracy.
    let _ = (tree, max_depth, source, trained);
    todo!("week 15: the model artifact of a tree fitted by the pipeline")
}

/// `train`: fits the tree on `--train`, then writes the model artifact to
/// `--out` and, beside it, the drift reference of the very rows fitted.
pub fn train(args: &TrainArgs) -> Result<TrainSummary, AppError> {
    let params = TrainParams::load(&args.params)?;
    let source = load_wines(&args.data, Labels::Required)?;
    let wines = load_wines(&args.train, Labels::Required)?;
    let records = matrix(&wines);
    let targets = Array1::from(wines.qualities.clone());
    let tree =
        Tree::fit(records.view(), targets.view(), params.max_depth).map_err(TrainError::from)?;
    // TODO(week 15): write the artifact the service serves
    // (`model_artifact`) to `args.out`, and the drift reference of the
    // rows fitted (`DriftReference::from_records`, tied to the artifact's
    // data_sha256) to `args.reference_path()`, both as compact JSON.
    let _ = (tree, source, records);
    todo!("week 15: write the served model and its drift reference")
}

/// `evaluate`: scores the artifact on `--test`; writes the metrics and one
/// `row,actual,predicted` line per wine (`row` counts the test file's wines
/// from 0).
pub fn evaluate(args: &EvaluateArgs) -> Result<Metrics, AppError> {
    let params = EvaluateParams::load(&args.params)?;
    let model = load_model(&args.model)?;
    let wines = load_wines(&args.test, Labels::Required)?;
    let predicted = predict_wines(&model, &wines);
    let scores = Metrics::compute(&predicted, &wines.qualities, params.tolerance);
    let mut table = String::from("row,actual,predicted\n");
    for (row, (actual, predicted)) in wines.qualities.iter().zip(&predicted).enumerate() {
        table.push_str(&format!("{row},{actual},{predicted}\n"));
    }
    write_file(&args.predictions, &table)?;
    write_file(&args.metrics, &to_json(&scores))?;
    Ok(scores)
}

/// `predict`: the quality of each wine in `--input`, in file order (a
/// `quality` column, if the file has one, is ignored).
pub fn predict(args: &PredictArgs) -> Result<Predictions, AppError> {
    let model = load_model(&args.model)?;
    let wines = load_wines(&args.input, Labels::Ignored)?;
    Ok(Predictions {
        predictions: predict_wines(&model, &wines),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::DriftReference;
    use std::path::PathBuf;

    /// Week 1's data hash of the 1,599 wines, as week 8's grader checks it.
    const RAW_SHA256: &str = "d4f6a6d672e0ee31d41fdd93b4b58985b45a31f2f971499c18137c42229278ac";

    fn raw() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/raw/winequality-red.csv")
    }

    #[test]
    fn the_raw_data_hashes_as_week_1_and_linfa_datasets_do() {
        let wines = load_wines(&raw(), Labels::Required).expect("the raw data");
        assert_eq!(wines_sha256(&wines), RAW_SHA256);
        let dataset = linfa_datasets::winequality();
        assert_eq!(
            dataset_sha256(dataset.records().view(), dataset.targets().view()),
            RAW_SHA256
        );
    }

    #[test]
    fn the_pipelines_columns_are_the_services() {
        let names: Vec<&str> = crate::schema::FEATURES.iter().map(|f| f.name).collect();
        assert_eq!(names, FEATURES);
    }

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
    }

    #[test]
    fn a_file_that_is_not_an_artifact_is_input_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("model.json");
        std::fs::write(&path, "{\"features\": [], \"tree\": {}}").expect("w");
        let err = load_model(&path).expect_err("not an artifact");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.to_string().lines().count(), 1);
    }

    #[ignore = "TODO(week 15): passes once model_artifact is written"]
    #[test]
    fn the_artifact_is_one_the_service_serves() {
        let source = load_wines(&raw(), Labels::Required).expect("the raw data");
        let trained = source.select(&(0..400).collect::<Vec<_>>());
        let (records, targets) = (matrix(&trained), Array1::from(trained.qualities.clone()));
        let tree = Tree::fit(records.view(), targets.view(), 3).expect("fits");
        let artifact = model_artifact(tree, 3, &source, &trained);
        assert_eq!(artifact.data_sha256, RAW_SHA256);
        assert_eq!(artifact.train_rows, 400);
        assert!(artifact.model_version.starts_with("tree-d3-"));
        assert_eq!(artifact.model_version.len(), "tree-d3-".len() + 12);
        assert!(artifact.train_accuracy > 0.5, "{}", artifact.train_accuracy);
        let model = Model::from_bytes(to_compact_json(&artifact).as_bytes()).expect("served");
        assert_eq!(model.model_version, artifact.model_version);
        assert_eq!(predict_wines(&model, &trained).len(), 400);
    }

    #[ignore = "TODO(week 15): passes once train writes the artifact"]
    #[test]
    fn train_writes_the_artifact_and_a_reference_the_service_accepts() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        std::fs::write(
            d.join("params.yaml"),
            "prepare:\n  seed: 42\n  test_fraction: 0.2\ntrain:\n  max_depth: 5\n",
        )
        .expect("params");
        let prepared = prepare(&PrepareArgs {
            data: raw(),
            params: d.join("params.yaml"),
            out: d.join("prepared"),
        })
        .expect("prepares");
        assert_eq!((prepared.train_rows, prepared.test_rows), (1279, 320));
        let args = TrainArgs {
            params: d.join("params.yaml"),
            data: raw(),
            train: d.join("prepared/train.csv"),
            out: d.join("models/model.json"),
            reference_out: None,
        };
        let summary = train(&args).expect("trains");
        assert_eq!(summary.rows, 1279);
        assert_eq!(summary.data_sha256, RAW_SHA256);
        // The pin's check and the service's load, as `serve` does them.
        let bytes = std::fs::read(&args.out).expect("written");
        let pin = crate::pin::Sha256Digest::of(&bytes);
        let pinned = crate::pin::read_pinned(&args.out, &pin).expect("pinned");
        let model = Model::from_bytes(&pinned).expect("served");
        assert_eq!(model.model_version, summary.model_version);
        let reference =
            DriftReference::load(&d.join("models/drift-reference.json"), &model.data_sha256)
                .expect("the reference matches the model");
        assert_eq!(reference.rows, 1279);
    }
}
