//! Training the classifier, and writing and reading its artifact.
//!
//! Training happens once, when the image is built; serving only reads the
//! result. The artifact (`model.json`) therefore carries what a running
//! service needs to trust it and to say which model answered: a format
//! number, the model version, hashes of the training data and of the tree,
//! and the feature order, next to the course's [`Tree`] itself.

use std::path::Path;

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::flowers::{FEATURES, Measurements, Species};
use crate::tree::{Node, Tree, TreeError};

/// Depth of the tree. Three levels of splits separate the three species of
/// the iris data almost perfectly; more would only memorise single flowers.
pub const DEFAULT_MAX_DEPTH: usize = 3;

/// Layout version of the artifact. Bumped when the layout changes, so that an
/// old binary refuses a newer file instead of misreading it.
pub const ARTIFACT_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("training failed: {0}")]
    Training(#[from] TreeError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the artifact is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("refusing the artifact: {0}")]
    Refused(String),
}

/// What `iris-service train` writes and `iris-service serve` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Artifact {
    pub format: u32,
    /// `tree-d<depth>-<first 12 hex digits of tree_sha256>`.
    pub model_version: String,
    /// See [`data_sha256`].
    pub data_sha256: String,
    /// SHA-256 of the tree as JSON; recomputed and compared on load.
    pub tree_sha256: String,
    /// Column order the tree was trained on; compared with [`FEATURES`].
    pub feature_names: Vec<String>,
    pub tree: Tree,
}

/// A loaded, checked model, ready to classify.
#[derive(Debug, Clone)]
pub struct Model {
    tree: Tree,
    pub version: String,
    pub data_sha256: String,
}

/// SHA-256 (lowercase hex) of a data set: for each row in order, its values
/// and then its class, as little-endian bytes. Hashing the numbers rather
/// than a file makes the hash depend on the data, not on how it was stored.
pub fn data_sha256(records: ArrayView2<f64>, classes: ArrayView1<usize>) -> String {
    let mut hasher = Sha256::new();
    for (row, &class) in records.rows().into_iter().zip(classes) {
        row.iter()
            .for_each(|value| hasher.update(value.to_le_bytes()));
        hasher.update((class as u64).to_le_bytes());
    }
    format!("{:x}", hasher.finalize())
}

fn tree_sha256(tree: &Tree) -> Result<String, ModelError> {
    Ok(format!("{:x}", Sha256::digest(serde_json::to_vec(tree)?)))
}

fn version_of(max_depth: usize, tree_sha256: &str) -> String {
    format!("tree-d{max_depth}-{}", &tree_sha256[..12])
}

/// Fits the course's tree on the 150 flowers of the iris data set shipped
/// with `linfa-datasets`. Nothing random takes part, so every build makes the
/// same tree. The version still comes from the hash of the tree actually
/// fitted, not from the settings: two different trees never share a version.
pub fn train(max_depth: usize) -> Result<Artifact, ModelError> {
    let iris = linfa_datasets::iris();
    let (records, classes) = (iris.records.view(), iris.targets.view());
    let tree = Tree::fit(records, classes, max_depth)?;
    let tree_sha256 = tree_sha256(&tree)?;
    Ok(Artifact {
        format: ARTIFACT_FORMAT,
        model_version: version_of(max_depth, &tree_sha256),
        data_sha256: data_sha256(records, classes),
        tree_sha256,
        feature_names: FEATURES.map(str::to_owned).to_vec(),
        tree,
    })
}

impl Artifact {
    /// Writes the artifact as JSON, creating parent directories as needed.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let failed = |source| ModelError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(path, serde_json::to_vec(self)?).map_err(failed)
    }
}

/// Every class a leaf of `tree` can answer.
fn leaf_classes(tree: &Tree) -> Vec<usize> {
    let (mut classes, mut stack) = (Vec::new(), vec![&tree.root]);
    while let Some(node) = stack.pop() {
        match node {
            Node::Leaf { quality } => classes.push(*quality),
            Node::Split { below, above, .. } => stack.extend([below.as_ref(), above.as_ref()]),
        }
    }
    classes
}

impl Model {
    /// Reads the artifact at `path` and checks it with [`Model::from_artifact`].
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_artifact(serde_json::from_slice(&bytes)?)
    }

    // ANCHOR: load
    /// Checks an artifact before anything is served from it: one this binary
    /// cannot serve exactly as trained stops the start-up instead.
    pub fn from_artifact(artifact: Artifact) -> Result<Self, ModelError> {
        let Artifact {
            format,
            model_version,
            data_sha256,
            tree_sha256: recorded,
            feature_names,
            tree,
        } = artifact;
        let sha256 = tree_sha256(&tree)?;
        let stray = leaf_classes(&tree)
            .into_iter()
            .find(|&c| Species::from_class(c).is_none());
        let refusal = if format != ARTIFACT_FORMAT {
            format!("format {format} is not {ARTIFACT_FORMAT}")
        } else if feature_names != FEATURES {
            format!("features {feature_names:?} are not {FEATURES:?}")
        } else if let Err(err) = tree.check(FEATURES.len()) {
            // A split on a fifth feature, a NaN threshold: a damaged file.
            err.to_string()
        } else if sha256 != recorded {
            // An edited tree: what was tested is not what would serve.
            format!("the tree hashes to {sha256}, not {recorded}")
        } else if model_version != version_of(tree.max_depth, &sha256) {
            format!("version {model_version} does not name this tree")
        } else if let Some(class) = stray {
            format!("a leaf answers class {class}, which is no species")
        } else {
            let version = model_version;
            return Ok(Self {
                tree,
                version,
                data_sha256,
            });
        };
        Err(ModelError::Refused(refusal))
    }
    // ANCHOR_END: load

    /// Trains in memory, for tests that need a model but no file.
    pub fn train_in_memory() -> Result<Self, ModelError> {
        Self::from_artifact(train(DEFAULT_MAX_DEPTH)?)
    }

    /// The species of each flower, in order.
    pub fn classify(&self, flowers: &[Measurements]) -> Vec<Species> {
        let rows = Array2::from_shape_fn((flowers.len(), FEATURES.len()), |(i, j)| {
            flowers[i].row()[j]
        });
        self.tree
            .predict(rows.view())
            .into_iter()
            .map(|class| Species::from_class(class).expect("load checked every leaf"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact() -> Artifact {
        train(DEFAULT_MAX_DEPTH).expect("training succeeds")
    }

    fn refused(artifact: Artifact) -> String {
        match Model::from_artifact(artifact) {
            Err(ModelError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn training_is_reproducible_and_versioned() {
        let (a, b) = (artifact(), artifact());
        assert_eq!(a.tree, b.tree);
        assert_eq!(a.data_sha256, b.data_sha256);
        assert_eq!(a.data_sha256.len(), 64);
        assert_eq!(a.model_version, format!("tree-d3-{}", &a.tree_sha256[..12]));
        assert_eq!(a.feature_names, FEATURES);
    }

    #[test]
    fn the_tree_fits_the_training_flowers() {
        let model = Model::from_artifact(artifact()).expect("valid");
        let iris = linfa_datasets::iris();
        let flowers: Vec<Measurements> = iris
            .records
            .rows()
            .into_iter()
            .map(|r| Measurements {
                sepal_length_cm: r[0],
                sepal_width_cm: r[1],
                petal_length_cm: r[2],
                petal_width_cm: r[3],
            })
            .collect();
        let species = model.classify(&flowers);
        let right = species
            .iter()
            .zip(&iris.targets)
            .filter(|&(s, &class)| Species::from_class(class) == Some(*s))
            .count();
        // A depth-3 tree gets about 97% of the 150 training flowers right.
        assert!(right >= 140, "{right} of {} right", flowers.len());
        assert!(model.classify(&[]).is_empty());
    }

    #[test]
    fn the_artifact_round_trips_through_a_file() {
        let artifact = artifact();
        let dir = std::env::temp_dir().join(format!("iris-service-{}", std::process::id()));
        let path = dir.join("nested").join("model.json");
        artifact.save(&path).expect("save");
        let loaded = Model::load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        let loaded = loaded.expect("load");
        assert_eq!(loaded.version, artifact.model_version);
        assert_eq!(loaded.data_sha256, artifact.data_sha256);
        assert_eq!(loaded.tree, artifact.tree);
    }

    #[test]
    fn a_tampered_artifact_is_refused() {
        let mut edited = artifact();
        edited.tree_sha256 = "0".repeat(64);
        assert!(refused(edited).contains("hashes to"));

        // Edit the tree itself: its hash no longer matches the recorded one.
        let mut edited = artifact();
        if let Node::Split { threshold, .. } = &mut edited.tree.root {
            *threshold += 0.5;
        }
        assert!(refused(edited).contains("hashes to"));

        let mut edited = artifact();
        edited.model_version = "tree-d3-000000000000".to_owned();
        assert!(refused(edited).contains("version"));
    }

    #[test]
    fn a_foreign_artifact_is_refused() {
        let mut other = artifact();
        other.format += 1;
        assert!(refused(other).contains("format"));

        let mut other = artifact();
        other.feature_names.swap(2, 3);
        assert!(refused(other).contains("features"));

        // A leaf answering a fourth class, with hashes made to match.
        let mut other = artifact();
        other.tree.root = Node::Leaf { quality: 3 };
        other.tree_sha256 = tree_sha256(&other.tree).expect("hash");
        other.model_version = version_of(other.tree.max_depth, &other.tree_sha256);
        assert!(refused(other).contains("class 3"));
    }

    #[test]
    fn a_missing_file_is_an_error_not_a_panic() {
        let err = Model::load(Path::new("/nonexistent/model.json")).expect_err("no file");
        assert!(matches!(err, ModelError::Read { .. }), "{err}");
    }

    #[test]
    fn the_data_hash_covers_values_and_classes() {
        let iris = linfa_datasets::iris();
        let base = data_sha256(iris.records.view(), iris.targets.view());
        let mut classes = iris.targets.clone();
        classes[0] = 1;
        assert_ne!(base, data_sha256(iris.records.view(), classes.view()));
    }
}
