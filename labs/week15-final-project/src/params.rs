//! The pipeline's parameters, read from `params.yaml`, the file DVC tracks.
//!
//! Each stage reads its own section and nothing else: `prepare` reads
//! `prepare:`, `train` reads `train:`, `evaluate` reads `evaluate:`. That is
//! what lets `dvc.yaml` declare, per stage, exactly the parameters the stage
//! depends on: a change to `train.max_depth` re-runs `train` (and what comes
//! after it), never `prepare`. Other top-level sections are left alone, for
//! other tools; unknown keys inside a stage's section are refused, so that a
//! misspelt `max_dept` cannot silently become a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::tree::MAX_DEPTH;

/// `prepare:`: how the raw data is split.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareParams {
    /// Seed of the shuffle: same seed, same split, on every machine.
    pub seed: u64,
    /// Share of the wines held out for testing, strictly between 0 and 1.
    pub test_fraction: f64,
}

/// `train:`: the decision tree.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// Levels of splits, 1 to 32 (the course's tree counts splits).
    pub max_depth: usize,
}

/// `evaluate:`: how predictions are scored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateParams {
    /// A prediction at most this many quality points away from the truth
    /// counts for `within_tolerance` (Cortez et al. report 0.5 and 1).
    pub tolerance: usize,
}

/// Why a parameters file was refused; each says where to look.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("cannot read parameters file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid YAML: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("{path}: no `{section}` section (a mapping of this stage's parameters)")]
    Missing {
        path: PathBuf,
        section: &'static str,
    },
    #[error("{path}: `{section}`: {message}")]
    Section {
        path: PathBuf,
        section: &'static str,
        message: String,
    },
    #[error("{path}: `{field}` {reason}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
}

/// One line of a serde_yaml_ng message (they may hold a newline).
fn one_line(message: impl std::fmt::Display) -> String {
    message
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A stage's section of a parameters file, checked.
pub trait Section: DeserializeOwned {
    /// The top-level key, e.g. `train`.
    const NAME: &'static str;

    /// Checks the values' ranges: (the parameter, why) on failure.
    fn check(&self) -> Result<(), (&'static str, String)>;

    /// Reads `path` and returns this section of it, checked.
    fn load(path: &Path) -> Result<Self, ParamsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ParamsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a parameters file; `path` is only for messages.
    fn parse(text: &str, path: &Path) -> Result<Self, ParamsError> {
        let yaml_error = |e: serde_yaml_ng::Error| ParamsError::Yaml {
            path: path.to_owned(),
            message: one_line(e),
        };
        let document: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(yaml_error)?;
        let section = document
            .get(Self::NAME)
            .filter(|v| !v.is_null())
            .ok_or_else(|| ParamsError::Missing {
                path: path.to_owned(),
                section: Self::NAME,
            })?;
        let params: Self =
            serde_yaml_ng::from_value(section.clone()).map_err(|e| ParamsError::Section {
                path: path.to_owned(),
                section: Self::NAME,
                message: one_line(e),
            })?;
        params
            .check()
            .map_err(|(field, reason)| ParamsError::Invalid {
                path: path.to_owned(),
                field,
                reason,
            })?;
        Ok(params)
    }
}

impl Section for PrepareParams {
    const NAME: &'static str = "prepare";

    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.test_fraction > 0.0 && self.test_fraction < 1.0 {
            Ok(())
        } else {
            Err((
                "prepare.test_fraction",
                format!(
                    "must be strictly between 0 and 1, got {}",
                    self.test_fraction
                ),
            ))
        }
    }
}

impl Section for TrainParams {
    const NAME: &'static str = "train";

    fn check(&self) -> Result<(), (&'static str, String)> {
        if (1..=MAX_DEPTH).contains(&self.max_depth) {
            Ok(())
        } else {
            Err((
                "train.max_depth",
                format!("must be from 1 to {MAX_DEPTH}, got {}", self.max_depth),
            ))
        }
    }
}

impl Section for EvaluateParams {
    const NAME: &'static str = "evaluate";

    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.tolerance <= 10 {
            Ok(())
        } else {
            Err((
                "evaluate.tolerance",
                format!(
                    "must be from 0 to 10 quality points, got {}",
                    self.tolerance
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "prepare:\n  seed: 42\n  test_fraction: 0.2\ntrain:\n  max_depth: 4\nevaluate:\n  tolerance: 1\n";

    fn parse<T: Section>(text: &str) -> Result<T, ParamsError> {
        T::parse(text, Path::new("params.yaml"))
    }

    #[test]
    fn each_stage_reads_its_own_section() {
        let p: PrepareParams = parse(GOOD).expect("prepare");
        assert_eq!((p.seed, p.test_fraction), (42, 0.2));
        let t: TrainParams = parse(GOOD).expect("train");
        assert_eq!(t.max_depth, 4);
        let e: EvaluateParams = parse(GOOD).expect("evaluate");
        assert_eq!(e.tolerance, 1);
        // A file with only the train section is enough for train.
        let t: TrainParams = parse("train:\n  max_depth: 3\n").expect("alone");
        assert_eq!(t.max_depth, 3);
    }

    #[test]
    fn the_committed_params_file_is_valid() {
        let text = include_str!("../params.yaml");
        parse::<PrepareParams>(text).expect("prepare");
        parse::<TrainParams>(text).expect("train");
        parse::<EvaluateParams>(text).expect("evaluate");
    }

    #[test]
    fn problems_name_the_file_and_the_parameter() {
        let err = parse::<TrainParams>("prepare:\n  seed: 1\n").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "params.yaml: no `train` section (a mapping of this stage's parameters)"
        );
        let err = parse::<TrainParams>(&GOOD.replace("max_depth", "max_dept")).expect_err("typo");
        let message = err.to_string();
        assert!(
            message.starts_with("params.yaml: `train`: unknown field `max_dept`"),
            "{message}"
        );
        let err =
            parse::<TrainParams>(&GOOD.replace("max_depth: 4", "max_depth: 0")).expect_err("range");
        assert_eq!(
            err.to_string(),
            "params.yaml: `train.max_depth` must be from 1 to 32, got 0"
        );
        let err = parse::<PrepareParams>(&GOOD.replace("0.2", "1.5")).expect_err("fraction");
        assert!(err.to_string().contains("`prepare.test_fraction`"), "{err}");
        let err = parse::<EvaluateParams>(&GOOD.replace("tolerance: 1", "tolerance: -1"))
            .expect_err("negative");
        assert!(err.to_string().contains("`evaluate`"), "{err}");
        let err = parse::<PrepareParams>("prepare: [\n").expect_err("yaml");
        assert!(err.to_string().starts_with("params.yaml: not valid YAML: "));
        for err in [
            parse::<PrepareParams>("prepare: [\n").expect_err("yaml"),
            parse::<TrainParams>(&GOOD.replace("max_depth", "max_dept")).expect_err("typo"),
        ] {
            assert_eq!(err.to_string().lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn a_missing_file_names_the_file() {
        let err = TrainParams::load(Path::new("nowhere.yaml")).expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("cannot read parameters file nowhere.yaml: "),
            "{err}"
        );
    }
}
