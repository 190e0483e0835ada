//! Training the wine-quality model, and saving and loading its artifact.
//!
//! The artifact is one JSON file holding the fitted decision tree plus the
//! facts needed to trace a prediction back to how it was made: the model
//! version, the training data's hash and the tree's own hash.

use std::path::Path;

use linfa::prelude::*;
use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::schema::{FEATURES, WineFeatures};
use crate::tree::{Tree, TreeError};

/// Depth limit of the tree. Deep enough to fit the training data well,
/// shallow enough to keep the artifact small (about 20 KB of JSON).
pub const DEFAULT_MAX_DEPTH: usize = 10;

/// Version of the artifact layout. Bump it when the layout changes, so an
/// old binary refuses a new artifact instead of misreading it.
pub const ARTIFACT_FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("training failed: {0}")]
    Training(#[from] TreeError),
    #[error("cannot read model artifact {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write model artifact {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("model artifact is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("model artifact is unusable: {0}")]
    Invalid(String),
}

/// What `train` writes and `serve` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelArtifact {
    pub format: u32,
    /// `tree-d<depth>-<first 12 hex chars of tree_sha256>`.
    pub model_version: String,
    /// See [`dataset_sha256`].
    pub data_sha256: String,
    /// SHA-256 of the tree serialized as JSON; checked on load.
    pub tree_sha256: String,
    pub max_depth: usize,
    /// Column order the tree was trained on; checked on load against
    /// [`FEATURES`] so a reordered schema cannot silently feed wrong columns.
    pub feature_names: Vec<String>,
    pub train_rows: usize,
    /// Share of training rows the tree predicts exactly. A sanity figure, not
    /// an estimate of quality on new wines.
    pub train_accuracy: f64,
    pub tree: Tree,
}

/// The loaded model, ready to predict.
#[derive(Debug, Clone)]
pub struct Model {
    tree: Tree,
    pub model_version: String,
    pub data_sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// SHA-256 (lowercase hex) of a data set: for each row in order, the eleven
/// feature values and then the quality label, each as an `f64` in
/// little-endian bytes. Hashing the numbers rather than a file makes the hash
/// depend only on the data, not on how it was stored.
pub fn dataset_sha256(records: ArrayView2<f64>, targets: ArrayView1<usize>) -> String {
    let mut hasher = Sha256::new();
    for (row, &target) in records.rows().into_iter().zip(targets.iter()) {
        for value in row {
            hasher.update(value.to_le_bytes());
        }
        // Quality labels are small integers, exactly representable as f64.
        hasher.update((target as f64).to_le_bytes());
    }
    format!("{:x}", hasher.finalize())
}

fn tree_sha256(tree: &Tree) -> Result<String, ModelError> {
    Ok(sha256_hex(&serde_json::to_vec(tree)?))
}

fn model_version(max_depth: usize, tree_sha256: &str) -> String {
    let short = tree_sha256.get(..12).unwrap_or(tree_sha256);
    format!("tree-d{max_depth}-{short}")
}

/// Trains a decision tree on the red wine quality data set shipped with
/// `linfa-datasets` (1599 wines) and returns the artifact.
///
/// Training is reproducible: the same data and depth give the same tree (see
/// [`crate::tree`]), so the same hash and model version. The version still
/// comes from the hash of the tree actually trained, not from the settings:
/// two different trees can never share a version.
pub fn train(max_depth: usize) -> Result<ModelArtifact, ModelError> {
    let dataset = linfa_datasets::winequality();
    let data_sha256 = dataset_sha256(dataset.records().view(), dataset.targets().view());

    let tree = Tree::fit(
        dataset.records().view(),
        dataset.targets().view(),
        max_depth,
    )?;

    let predictions = tree.predict(dataset.records().view());
    let correct = predictions
        .iter()
        .zip(dataset.targets().iter())
        .filter(|(predicted, actual)| predicted == actual)
        .count();
    let train_rows = dataset.nsamples();

    let tree_sha256 = tree_sha256(&tree)?;
    Ok(ModelArtifact {
        format: ARTIFACT_FORMAT,
        model_version: model_version(max_depth, &tree_sha256),
        data_sha256,
        tree_sha256,
        max_depth,
        feature_names: FEATURES.iter().map(|f| f.name.to_owned()).collect(),
        train_rows,
        train_accuracy: correct as f64 / train_rows as f64,
        tree,
    })
}

impl ModelArtifact {
    /// Writes the artifact as JSON, creating parent directories as needed.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let write_err = |source| ModelError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        let json = serde_json::to_vec(self)?;
        std::fs::write(path, json).map_err(write_err)
    }

    /// Reads an artifact without checking it; [`Model::from_artifact`] checks.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

impl Model {
    // ANCHOR: from_artifact
    /// Checks an artifact is one this binary can serve and wraps it.
    pub fn from_artifact(artifact: ModelArtifact) -> Result<Self, ModelError> {
        if artifact.format != ARTIFACT_FORMAT {
            return Err(ModelError::Invalid(format!(
                "artifact format {} is not the supported format {ARTIFACT_FORMAT}",
                artifact.format
            )));
        }
        let expected: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        if artifact.feature_names != expected {
            return Err(ModelError::Invalid(format!(
                "artifact features {:?} differ from the service's {expected:?}",
                artifact.feature_names
            )));
        }
        // Catches a truncated, hand-edited or mismatched file before it
        // serves a single prediction.
        artifact
            .tree
            .check(FEATURES.len())
            .map_err(|e| ModelError::Invalid(e.to_string()))?;
        let actual = tree_sha256(&artifact.tree)?;
        if actual != artifact.tree_sha256 {
            return Err(ModelError::Invalid(format!(
                "tree hash {actual} does not match the recorded {}",
                artifact.tree_sha256
            )));
        }
        Ok(Self {
            tree: artifact.tree,
            model_version: artifact.model_version,
            data_sha256: artifact.data_sha256,
        })
    }
    // ANCHOR_END: from_artifact

    /// Reads and checks the artifact at `path`, without a pin. The service
    /// uses [`Model::from_bytes`] on bytes checked by [`crate::pin`].
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Self::from_artifact(ModelArtifact::read(path)?)
    }

    /// Parses and checks an artifact from bytes already read (and pinned).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        Self::from_artifact(serde_json::from_slice(bytes)?)
    }

    /// Trains a fresh model in memory, for tests and tools that need no file.
    pub fn train_in_memory(max_depth: usize) -> Result<Self, ModelError> {
        Self::from_artifact(train(max_depth)?)
    }

    /// Predicts a quality score for each input, in order.
    pub fn predict(&self, inputs: &[WineFeatures]) -> Vec<usize> {
        if inputs.is_empty() {
            return Vec::new();
        }
        let rows: Vec<[f64; 11]> = inputs.iter().map(WineFeatures::to_array).collect();
        let records = Array2::from_shape_fn((rows.len(), FEATURES.len()), |(i, j)| rows[i][j]);
        self.tree.predict(records.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trained() -> ModelArtifact {
        train(DEFAULT_MAX_DEPTH).expect("training succeeds")
    }

    #[test]
    fn training_records_versions_and_hashes() {
        let a = trained();
        let b = trained();
        // The data hash depends only on the data; the tree, on the data and
        // the depth.
        assert_eq!(a.data_sha256, b.data_sha256);
        assert_eq!(a.tree_sha256, b.tree_sha256);
        assert_eq!(
            a.model_version,
            format!("tree-d10-{}", &a.tree_sha256[..12])
        );
        assert!(
            a.model_version.starts_with("tree-d10-"),
            "{}",
            a.model_version
        );
        assert_eq!(a.model_version.len(), "tree-d10-".len() + 12);
        assert_eq!(a.data_sha256.len(), 64);
        assert!(a.data_sha256.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.train_rows, 1599);
        assert!(a.train_accuracy >= 0.55, "{}", a.train_accuracy);
    }

    #[test]
    fn predicts_training_rows_well() {
        let model = Model::from_artifact(trained()).expect("valid artifact");
        let dataset = linfa_datasets::winequality();
        let inputs: Vec<WineFeatures> = dataset
            .records()
            .rows()
            .into_iter()
            .map(|row| {
                let mut values = [0.0; 11];
                values.iter_mut().zip(row.iter()).for_each(|(v, r)| *v = *r);
                WineFeatures::from_array(values)
            })
            .collect();
        let predictions = model.predict(&inputs);
        assert_eq!(predictions.len(), inputs.len());
        assert!(predictions.iter().all(|p| (3..=8).contains(p)));
        let correct = predictions
            .iter()
            .zip(dataset.targets().iter())
            .filter(|(p, t)| p == t)
            .count();
        let accuracy = correct as f64 / inputs.len() as f64;
        assert!(accuracy >= 0.55, "training accuracy {accuracy}");
    }

    #[test]
    fn empty_batch_predicts_nothing() {
        let model = Model::from_artifact(trained()).expect("valid artifact");
        assert!(model.predict(&[]).is_empty());
    }

    #[test]
    fn artifact_round_trips_through_a_file() {
        let artifact = trained();
        let path = std::env::temp_dir()
            .join(format!("wine-service-test-{}", std::process::id()))
            .join("model.json");
        artifact.save(&path).expect("save");
        let loaded = Model::load(&path).expect("load");
        let _ = std::fs::remove_dir_all(path.parent().expect("has a parent"));
        assert_eq!(loaded.model_version, artifact.model_version);
        assert_eq!(loaded.data_sha256, artifact.data_sha256);
    }

    #[test]
    fn tampered_artifact_is_refused() {
        let mut artifact = trained();
        artifact.tree_sha256 = "0".repeat(64);
        assert!(matches!(
            Model::from_artifact(artifact),
            Err(ModelError::Invalid(_))
        ));

        let mut artifact = trained();
        artifact.feature_names.swap(0, 1);
        assert!(matches!(
            Model::from_artifact(artifact),
            Err(ModelError::Invalid(_))
        ));
    }

    #[test]
    fn missing_artifact_is_an_error_not_a_panic() {
        let err = Model::load(Path::new("/nonexistent/model.json")).expect_err("no such file");
        assert!(matches!(err, ModelError::Read { .. }));
    }
}
