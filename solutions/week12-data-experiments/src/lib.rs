//! The wine data and the experiments run on it, behind the `wine-experiments`
//! tool:
//!
//! - [`validate`]: every row of a wine CSV checked in layers (shape, type,
//!   finiteness, range, cross-field, label), then identical wines grouped:
//!   rows that fail are quarantined with their line, reason and column, never
//!   dropped silently;
//! - [`labels`]: annotators' grades combined into one quality per wine (the
//!   median of at least three agreeing grades), the problems counted and the
//!   wines that need a human listed for review;
//! - [`sweep`]: one tree per depth on the validated rows, every run logged
//!   with its data's and model's hashes, the best chosen by a stated rule;
//! - [`report`]: permutation feature importance and throughput of a model.
//!
//! Everything these write, but the throughput, is a function of the inputs
//! alone: no clock, no `HashMap` order, a seeded ChaCha8 generator wherever
//! chance takes part, floats printed the shortest way that reads back
//! exactly. Same inputs, same bytes.

pub mod cli;
pub mod error;
pub mod labels;
pub mod model;
pub mod report;
pub mod split;
pub mod sweep;
pub mod tree;
pub mod validate;

use std::path::Path;

use ndarray::Array2;
use serde::Serialize;
use serde::ser::SerializeMap;
use sha2::{Digest, Sha256};

pub use error::{AppError, FileError, TrainError};
pub use model::TreeModel;
pub use validate::{FEATURES, HEADER};

/// Reads a whole text file; a missing or unreadable one names its path.
pub fn read(path: &Path) -> Result<String, AppError> {
    std::fs::read_to_string(path).map_err(|source| AppError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes each `(name, text)` into the folder `dir`, made first if missing.
pub fn write_files(dir: &Path, files: &[(&str, String)]) -> Result<(), AppError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| AppError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(failed(&path))?;
    }
    Ok(())
}

/// Pretty JSON with a final newline, as the tool writes its files. Plain
/// structs with string keys and finite numbers: serialising cannot fail.
pub fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// One field of a CSV line, quoted when it must be (RFC 4180): when it holds
/// a comma, a double quote or a line break, it is wrapped in double quotes
/// and each double quote inside is doubled.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The SHA-256 of `bytes`, as 64 lowercase hexadecimal digits (what
/// `sha256sum` prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A JSON object whose keys keep the order given (serde_json's own map
/// sorts them): the reasons in the order of the checks, the features in
/// column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(&'static str, T)>);

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Wines' features as a model's input matrix, one row per wine.
pub fn matrix(rows: &[[f64; 11]]) -> Array2<f64> {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    // Eleven values per row by construction.
    Array2::from_shape_vec((rows.len(), FEATURES.len()), flat).unwrap_or_default()
}

/// Share of predictions equal to the truth (0 for no rows).
pub fn accuracy(predicted: &[usize], actual: &[usize]) -> f64 {
    let hits = predicted.iter().zip(actual).filter(|(p, a)| p == a).count();
    hits as f64 / actual.len().max(1) as f64
}

/// Mean absolute difference between predicted and true quality (0 for no
/// rows).
pub fn mean_absolute_error(predicted: &[usize], actual: &[usize]) -> f64 {
    let error: usize = predicted
        .iter()
        .zip(actual)
        .map(|(p, a)| p.abs_diff(*a))
        .sum();
    error as f64 / actual.len().max(1) as f64
}

/// Reads a model file in week 1's format and checks it is one: the eleven
/// wine features, in order, and a tree that only uses them, with finite
/// thresholds.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("7.4,0.7"), "\"7.4,0.7\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn sha256_is_the_usual_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ordered_maps_keep_their_order() {
        let map = Ordered(vec![("b", 1), ("a", 2)]);
        assert_eq!(
            serde_json::to_string(&map).expect("json"),
            "{\"b\":1,\"a\":2}"
        );
    }

    #[test]
    fn metrics_follow_their_formulas() {
        assert_eq!(accuracy(&[5, 6, 6, 7], &[5, 6, 5, 5]), 0.5);
        assert_eq!(mean_absolute_error(&[5, 6, 6, 7], &[5, 6, 5, 5]), 0.75);
        assert_eq!(
            (accuracy(&[], &[]), mean_absolute_error(&[], &[])),
            (0.0, 0.0)
        );
    }

    #[test]
    fn a_file_that_is_not_a_model_is_an_input_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("model.json");
        std::fs::write(&path, "{\"weights\": []}").expect("w");
        let err = load_model(&path).expect_err("not a model");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.to_string().lines().count(), 1);
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("model.json");
        load_model(&committed).expect("the committed model loads");
    }
}
