//! Week 10: a tiny content-addressed pipeline runner in the spirit of DVC.
//!
//! Each stage declares the files it reads (`deps`), the parameters it uses
//! (`params`) and the files it writes (`outs`). After a stage runs, the
//! SHA-256 of every dep and out, and the value of every param, go into a lock
//! file. The next `repro` re-runs a stage only when one of those changed, and
//! the wine-quality pipeline (prepare, train, evaluate) shows it working.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use linfa::prelude::*;
use ndarray::{Array1, Array2, Ix1};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::tree::Tree;

/// Any error a stage's own code returns.
pub type StageResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("lock or params file: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("parameter {0} is not in params.yaml")]
    MissingParam(String),
    #[error("stage {stage} failed: {source}")]
    Stage {
        stage: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("stage {stage} did not produce {path}")]
    OutputNotProduced { stage: String, path: String },
    #[error("stage {stage} depends on {dep}, which a later stage produces")]
    DependsOnLaterStage { stage: String, dep: String },
    #[error("{path} is an output of two stages")]
    DuplicateOutput { path: String },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Io {
        path: path.display().to_string(),
        source,
    }
}

// ANCHOR: lock
// ANCHOR: lock_types
/// SHA-256 of a file's bytes, as lowercase hex. `None` when it does not exist.
pub fn sha256_file(path: &Path) -> Result<Option<String>, PipelineError> {
    match fs::File::open(path) {
        Ok(mut file) => {
            let mut hasher = Sha256::new();
            io::copy(&mut file, &mut hasher).map_err(io_error(path))?;
            Ok(Some(hex::encode(hasher.finalize())))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub path: String,
    pub sha256: String,
}

/// What one stage's last successful run saw and produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageLock {
    pub cmd: String,
    pub deps: Vec<FileHash>,
    pub params: BTreeMap<String, Value>,
    pub outs: Vec<FileHash>,
}

/// The whole lock file, like `dvc.lock`: committed to git next to the code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    pub stages: BTreeMap<String, StageLock>,
}
// ANCHOR_END: lock_types

// ANCHOR: lock_io
impl Lock {
    /// Reads a lock file; a missing file is an empty lock (nothing ran yet).
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(serde_yaml_ng::from_str(&text)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(io_error(path)(e)),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), PipelineError> {
        fs::write(path, serde_yaml_ng::to_string(self)?).map_err(io_error(path))
    }
}

/// Looks up a dotted key such as `train.max_depth` in the params tree.
pub fn param<'a>(params: &'a Value, key: &str) -> Result<&'a Value, PipelineError> {
    key.split('.')
        .try_fold(params, |node, part| node.get(part))
        .ok_or_else(|| PipelineError::MissingParam(key.to_owned()))
}
// ANCHOR_END: lock_io
// ANCHOR_END: lock

// ANCHOR: stage
// ANCHOR: stage_types
/// The code a stage runs: given the workspace root and the params tree.
pub type StageFn = Box<dyn Fn(&Path, &Value) -> StageResult>;

pub struct Stage {
    pub name: String,
    /// Recorded in the lock; changing it re-runs the stage.
    pub cmd: String,
    pub deps: Vec<String>,
    pub params: Vec<String>,
    pub outs: Vec<String>,
    pub run: StageFn,
}

/// Why a stage must run. `None` from [`Pipeline::status`] means up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    NeverRan,
    CommandChanged,
    DepChanged(String),
    ParamChanged(String),
    OutMissing(String),
    OutChanged(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Skipped,
    Ran(Stale),
}

pub struct Pipeline {
    stages: Vec<Stage>,
}
// ANCHOR_END: stage_types

// ANCHOR: stage_new
impl Pipeline {
    /// Accepts stages in an order where every stage comes after the stages
    /// that produce its deps (a topological order of the DAG).
    pub fn new(stages: Vec<Stage>) -> Result<Self, PipelineError> {
        let mut producer: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, stage) in stages.iter().enumerate() {
            for out in &stage.outs {
                if producer.insert(out, i).is_some() {
                    return Err(PipelineError::DuplicateOutput { path: out.clone() });
                }
            }
        }
        for (i, stage) in stages.iter().enumerate() {
            for dep in &stage.deps {
                if producer.get(dep.as_str()).is_some_and(|&p| p >= i) {
                    return Err(PipelineError::DependsOnLaterStage {
                        stage: stage.name.clone(),
                        dep: dep.clone(),
                    });
                }
            }
        }
        Ok(Self { stages })
    }

    fn hashes(
        root: &Path,
        paths: &[String],
    ) -> Result<Vec<(String, Option<String>)>, PipelineError> {
        paths
            .iter()
            .map(|p| Ok((p.clone(), sha256_file(&root.join(p))?)))
            .collect()
    }
    // ANCHOR_END: stage_new

    // ANCHOR: stage_stale
    /// Compares one stage with its lock entry, in the order DVC reports.
    fn stale(
        stage: &Stage,
        root: &Path,
        params: &Value,
        locked: Option<&StageLock>,
    ) -> Result<Option<Stale>, PipelineError> {
        let Some(locked) = locked else {
            return Ok(Some(Stale::NeverRan));
        };
        if locked.cmd != stage.cmd {
            return Ok(Some(Stale::CommandChanged));
        }
        for (path, hash) in Self::hashes(root, &stage.deps)? {
            let was = locked.deps.iter().find(|d| d.path == path);
            if hash.is_none() || was.map(|d| &d.sha256) != hash.as_ref() {
                return Ok(Some(Stale::DepChanged(path)));
            }
        }
        for key in &stage.params {
            if locked.params.get(key) != Some(param(params, key)?) {
                return Ok(Some(Stale::ParamChanged(key.clone())));
            }
        }
        for (path, hash) in Self::hashes(root, &stage.outs)? {
            let was = locked.outs.iter().find(|o| o.path == path);
            match hash {
                None => return Ok(Some(Stale::OutMissing(path))),
                Some(h) if was.map(|o| &o.sha256) != Some(&h) => {
                    return Ok(Some(Stale::OutChanged(path)));
                }
                Some(_) => {}
            }
        }
        Ok(None)
    }
    // ANCHOR_END: stage_stale

    // ANCHOR: stage_status
    /// Like `dvc status`: which stages are stale, without running anything.
    pub fn status(
        &self,
        root: &Path,
        params: &Value,
        lock: &Lock,
    ) -> Result<Vec<(String, Option<Stale>)>, PipelineError> {
        self.stages
            .iter()
            .map(|s| {
                Ok((
                    s.name.clone(),
                    Self::stale(s, root, params, lock.stages.get(&s.name))?,
                ))
            })
            .collect()
    }

    /// Like `dvc repro`: runs the stale stages in order and updates the lock.
    pub fn repro(
        &self,
        root: &Path,
        params: &Value,
        lock: &mut Lock,
    ) -> Result<Vec<(String, Outcome)>, PipelineError> {
        let mut report = Vec::new();
        for stage in &self.stages {
            // Checked only now, so it sees what the stages before it just wrote.
            let Some(reason) = Self::stale(stage, root, params, lock.stages.get(&stage.name))?
            else {
                report.push((stage.name.clone(), Outcome::Skipped));
                continue;
            };
            // ANCHOR_END: stage_status
            // ANCHOR: stage_record
            // A declared param that is missing fails before the stage runs.
            let used = stage
                .params
                .iter()
                .map(|k| Ok((k.clone(), param(params, k)?.clone())))
                .collect::<Result<_, PipelineError>>()?;
            (stage.run)(root, params).map_err(|source| PipelineError::Stage {
                stage: stage.name.clone(),
                source,
            })?;
            let hashed = |paths: &[String]| -> Result<Vec<FileHash>, PipelineError> {
                Self::hashes(root, paths)?
                    .into_iter()
                    .map(|(path, hash)| match hash {
                        Some(sha256) => Ok(FileHash { path, sha256 }),
                        None => Err(PipelineError::OutputNotProduced {
                            stage: stage.name.clone(),
                            path,
                        }),
                    })
                    .collect()
            };
            let entry = StageLock {
                cmd: stage.cmd.clone(),
                deps: hashed(&stage.deps)?,
                params: used,
                outs: hashed(&stage.outs)?,
            };
            lock.stages.insert(stage.name.clone(), entry);
            report.push((stage.name.clone(), Outcome::Ran(reason)));
        }
        Ok(report)
    }
}
// ANCHOR_END: stage_record
// ANCHOR_END: stage

// ANCHOR: wine_stages
// ANCHOR: wine_stages_data
pub const RAW: &str = "data/wine.csv";
pub const TRAIN: &str = "data/train.csv";
pub const TEST: &str = "data/test.csv";
pub const MODEL: &str = "model.json";
pub const METRICS: &str = "metrics.json";
const HEADER: &str = "fixed_acidity,volatile_acidity,citric_acid,residual_sugar,chlorides,\
free_sulfur_dioxide,total_sulfur_dioxide,density,ph,sulphates,alcohol,quality";

/// Writes the red-wine data shipped with linfa-datasets as the raw CSV.
pub fn write_raw_data(root: &Path) -> io::Result<()> {
    let data = linfa_datasets::winequality();
    let rows = data
        .records()
        .rows()
        .into_iter()
        .zip(data.targets())
        .map(|(row, quality)| {
            let mut fields: Vec<String> = row.iter().map(f64::to_string).collect();
            fields.push(quality.to_string());
            fields.join(",")
        });
    write_lines(&root.join(RAW), rows)
}

fn write_lines(path: &Path, rows: impl Iterator<Item = String>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut text = format!("{HEADER}\n");
    for row in rows {
        text.push_str(&row);
        text.push('\n');
    }
    fs::write(path, text)
}
// ANCHOR_END: wine_stages_data

// ANCHOR: wine_stages_read
/// Data lines of a CSV file: no header, no blank lines, no `#` comments.
fn data_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

fn read_dataset(
    path: &Path,
) -> Result<Dataset<f64, usize, Ix1>, Box<dyn std::error::Error + Send + Sync>> {
    let text = fs::read_to_string(path)?;
    let (mut records, mut targets, mut rows) = (Vec::new(), Vec::new(), 0);
    for line in data_lines(&text) {
        let fields: Vec<&str> = line.split(',').collect();
        let (quality, features) = fields.split_last().ok_or("empty line")?;
        for f in features {
            records.push(f.parse::<f64>()?);
        }
        targets.push(quality.parse::<usize>()?);
        rows += 1;
    }
    let records = Array2::from_shape_vec((rows, records.len() / rows.max(1)), records)?;
    Ok(Dataset::new(records, Array1::from(targets)))
}

fn as_u64(params: &Value, key: &str) -> Result<u64, PipelineError> {
    param(params, key)?
        .as_u64()
        .ok_or_else(|| PipelineError::MissingParam(format!("{key} (an unsigned integer)")))
}
// ANCHOR_END: wine_stages_read

// ANCHOR: wine_stages_fit
/// prepare: a seeded shuffle, then a train/test split.
fn prepare(root: &Path, params: &Value) -> StageResult {
    let text = fs::read_to_string(root.join(RAW))?;
    let mut rows: Vec<&str> = data_lines(&text).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(as_u64(
        params,
        "prepare.seed",
    )?));
    let test_rows = rows.len() * as_u64(params, "prepare.test_percent")? as usize / 100;
    let (test, train) = rows.split_at(test_rows);
    write_lines(&root.join(TRAIN), train.iter().map(|r| r.to_string()))?;
    write_lines(&root.join(TEST), test.iter().map(|r| r.to_string()))?;
    Ok(())
}

/// train: fits the course's tree with the configured depth: the same rows
/// and depth give the same model bytes, so the same hash in `dvc.lock`.
fn train(root: &Path, params: &Value) -> StageResult {
    let data = read_dataset(&root.join(TRAIN))?;
    let depth = as_u64(params, "train.max_depth")? as usize;
    let (x, y) = (data.records().view(), data.targets().view());
    let tree = Tree::fit(x, y, depth)?;
    fs::write(root.join(MODEL), serde_json::to_vec(&tree)?)?;
    Ok(())
}
// ANCHOR_END: wine_stages_fit

// ANCHOR: wine_stages_evaluate
/// The model as production loads it: from the artifact the pipeline wrote.
pub fn load_model(root: &Path) -> Result<Tree, Box<dyn std::error::Error + Send + Sync>> {
    let tree: Tree = serde_json::from_slice(&fs::read(root.join(MODEL))?)?;
    tree.check(11)?; // the eleven features of the wine data
    Ok(tree)
}

/// evaluate: accuracy and mean absolute error on the held-out wines.
fn evaluate(root: &Path, _params: &Value) -> StageResult {
    let tree = load_model(root)?;
    let test = read_dataset(&root.join(TEST))?;
    let predicted = tree.predict(test.records().view());
    let n = test.nsamples() as f64;
    let pairs = predicted.iter().zip(test.targets());
    let correct = pairs.clone().filter(|(p, t)| p == t).count() as f64;
    let abs_error: f64 = pairs.map(|(&p, &t)| (p as f64 - t as f64).abs()).sum();
    let metrics = serde_json::json!({ "accuracy": correct / n, "mae": abs_error / n });
    fs::write(root.join(METRICS), serde_json::to_vec_pretty(&metrics)?)?;
    Ok(())
}
// ANCHOR_END: wine_stages_evaluate

// ANCHOR: wine_stages_pipeline
fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The three stages of the wine-quality pipeline, as `dvc.yaml` would list them.
pub fn wine_pipeline() -> Result<Pipeline, PipelineError> {
    Pipeline::new(vec![
        Stage {
            name: "prepare".into(),
            cmd: "wine prepare".into(),
            deps: strings(&[RAW]),
            params: strings(&["prepare.seed", "prepare.test_percent"]),
            outs: strings(&[TRAIN, TEST]),
            run: Box::new(prepare),
        },
        Stage {
            name: "train".into(),
            cmd: "wine train".into(),
            deps: strings(&[TRAIN]),
            params: strings(&["train.max_depth"]),
            outs: strings(&[MODEL]),
            run: Box::new(train),
        },
        Stage {
            name: "evaluate".into(),
            cmd: "wine evaluate".into(),
            deps: strings(&[MODEL, TEST]),
            params: vec![],
            outs: strings(&[METRICS]),
            run: Box::new(evaluate),
        },
    ])
}
// ANCHOR_END: wine_stages_pipeline
// ANCHOR_END: wine_stages

#[cfg(test)]
mod tests {
    use super::*;

    fn params(max_depth: u64) -> Value {
        let yaml = format!(
            "prepare:\n  seed: 20240901\n  test_percent: 20\ntrain:\n  max_depth: {max_depth}\n"
        );
        serde_yaml_ng::from_str(&yaml).expect("valid params.yaml")
    }

    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        write_raw_data(dir.path()).expect("raw data written");
        dir
    }

    fn outcomes(report: &[(String, Outcome)]) -> Vec<(&str, Outcome)> {
        report
            .iter()
            .map(|(s, o)| (s.as_str(), o.clone()))
            .collect()
    }

    // ANCHOR: tests
    // ANCHOR: tests_rerun
    #[test]
    fn first_run_runs_everything_and_second_run_skips_everything() {
        let dir = workspace();
        let (pipeline, p) = (wine_pipeline().expect("valid"), params(5));
        let mut lock = Lock::default();

        let first = pipeline.repro(dir.path(), &p, &mut lock).expect("runs");
        assert!(
            first
                .iter()
                .all(|(_, o)| *o == Outcome::Ran(Stale::NeverRan))
        );

        let lock_path = dir.path().join("pipeline.lock");
        lock.save(&lock_path).expect("saved");
        let mut reloaded = Lock::load(&lock_path).expect("loaded");
        assert_eq!(reloaded, lock);

        let second = pipeline.repro(dir.path(), &p, &mut reloaded).expect("runs");
        assert!(second.iter().all(|(_, o)| *o == Outcome::Skipped));
    }
    // ANCHOR_END: tests_rerun

    // ANCHOR: tests_param
    #[test]
    fn a_changed_param_reruns_its_stage_and_everything_downstream() {
        let dir = workspace();
        let pipeline = wine_pipeline().expect("valid");
        let mut lock = Lock::default();
        pipeline
            .repro(dir.path(), &params(3), &mut lock)
            .expect("runs");

        let report = pipeline
            .repro(dir.path(), &params(8), &mut lock)
            .expect("runs");
        assert_eq!(
            outcomes(&report),
            vec![
                ("prepare", Outcome::Skipped),
                (
                    "train",
                    Outcome::Ran(Stale::ParamChanged("train.max_depth".into()))
                ),
                ("evaluate", Outcome::Ran(Stale::DepChanged(MODEL.into()))),
            ]
        );
    }
    // ANCHOR_END: tests_param

    // ANCHOR: tests_cascade
    #[test]
    fn identical_outputs_stop_the_cascade() {
        let dir = workspace();
        let (pipeline, p) = (wine_pipeline().expect("valid"), params(5));
        let mut lock = Lock::default();
        pipeline.repro(dir.path(), &p, &mut lock).expect("runs");

        // The raw file changes, but not in a way `prepare` reads.
        let raw = dir.path().join(RAW);
        let text = fs::read_to_string(&raw).expect("raw data");
        fs::write(&raw, format!("{text}# re-exported 2024-09-01\n")).expect("written");

        let report = pipeline.repro(dir.path(), &p, &mut lock).expect("runs");
        assert_eq!(
            outcomes(&report),
            vec![
                ("prepare", Outcome::Ran(Stale::DepChanged(RAW.into()))),
                ("train", Outcome::Skipped),
                ("evaluate", Outcome::Skipped),
            ]
        );
    }
    // ANCHOR_END: tests_cascade

    // ANCHOR: tests_tamper
    #[test]
    fn a_tampered_output_is_detected_and_rebuilt() {
        let dir = workspace();
        let (pipeline, p) = (wine_pipeline().expect("valid"), params(5));
        let mut lock = Lock::default();
        pipeline.repro(dir.path(), &p, &mut lock).expect("runs");

        fs::write(dir.path().join(METRICS), r#"{"accuracy": 0.99}"#).expect("written");
        let status = pipeline.status(dir.path(), &p, &lock).expect("status");
        assert_eq!(
            status[2],
            ("evaluate".into(), Some(Stale::OutChanged(METRICS.into())))
        );

        let report = pipeline.repro(dir.path(), &p, &mut lock).expect("runs");
        assert_eq!(report[2].1, Outcome::Ran(Stale::OutChanged(METRICS.into())));
        assert!(
            pipeline
                .status(dir.path(), &p, &lock)
                .expect("status")
                .iter()
                .all(|(_, s)| s.is_none())
        );
    }
    // ANCHOR_END: tests_tamper
    // ANCHOR_END: tests

    #[test]
    fn status_reports_without_running_anything() {
        let dir = workspace();
        let pipeline = wine_pipeline().expect("valid");
        let mut lock = Lock::default();
        pipeline
            .repro(dir.path(), &params(4), &mut lock)
            .expect("runs");
        let model_before = sha256_file(&dir.path().join(MODEL)).expect("hash");

        let status = pipeline
            .status(dir.path(), &params(6), &lock)
            .expect("status");
        assert_eq!(status[0], ("prepare".into(), None));
        assert_eq!(
            status[1],
            (
                "train".into(),
                Some(Stale::ParamChanged("train.max_depth".into()))
            )
        );
        assert_eq!(
            sha256_file(&dir.path().join(MODEL)).expect("hash"),
            model_before
        );
    }

    #[test]
    fn the_lock_records_the_hashes_of_the_files_on_disk() {
        let dir = workspace();
        let mut lock = Lock::default();
        wine_pipeline()
            .expect("valid")
            .repro(dir.path(), &params(5), &mut lock)
            .expect("runs");
        for entry in lock.stages.values() {
            for file in entry.deps.iter().chain(&entry.outs) {
                let on_disk = sha256_file(&dir.path().join(&file.path)).expect("hash");
                assert_eq!(
                    on_disk.as_deref(),
                    Some(file.sha256.as_str()),
                    "{}",
                    file.path
                );
            }
        }
        assert_eq!(
            lock.stages["train"].params["train.max_depth"],
            Value::from(5)
        );
    }

    #[test]
    fn the_seeded_split_is_the_same_in_every_workspace() {
        let (a, b) = (workspace(), workspace());
        let (mut lock_a, mut lock_b) = (Lock::default(), Lock::default());
        let pipeline = wine_pipeline().expect("valid");
        pipeline
            .repro(a.path(), &params(5), &mut lock_a)
            .expect("runs");
        pipeline
            .repro(b.path(), &params(5), &mut lock_b)
            .expect("runs");
        assert_eq!(lock_a.stages["prepare"], lock_b.stages["prepare"]);
    }

    #[test]
    fn the_served_artifact_reproduces_the_evaluated_metrics() {
        let dir = workspace();
        let mut lock = Lock::default();
        wine_pipeline()
            .expect("valid")
            .repro(dir.path(), &params(6), &mut lock)
            .expect("runs");
        let metrics: Value =
            serde_json::from_slice(&fs::read(dir.path().join(METRICS)).expect("metrics"))
                .expect("json");

        // Production: the service loads the artifact, not a retrained model.
        let served = load_model(dir.path()).expect("model");
        let test = read_dataset(&dir.path().join(TEST)).expect("test data");
        let predicted = served.predict(test.records().view());
        let correct = predicted
            .iter()
            .zip(test.targets())
            .filter(|(p, t)| p == t)
            .count();
        let accuracy = correct as f64 / test.nsamples() as f64;
        assert_eq!(Some(accuracy), metrics["accuracy"].as_f64());
    }

    #[test]
    fn stages_must_come_after_the_stages_they_depend_on() {
        let mut stages = wine_pipeline().expect("valid").stages;
        stages.swap(0, 1);
        let err = Pipeline::new(stages).err().expect("rejected");
        assert!(matches!(err, PipelineError::DependsOnLaterStage { ref dep, .. } if dep == TRAIN));
    }

    #[test]
    fn a_missing_param_is_a_clear_error() {
        let dir = workspace();
        let p: Value = serde_yaml_ng::from_str("prepare:\n  seed: 1\n").expect("yaml");
        let err = wine_pipeline()
            .expect("valid")
            .repro(dir.path(), &p, &mut Lock::default())
            .expect_err("fails");
        assert_eq!(
            err.to_string(),
            "parameter prepare.test_percent is not in params.yaml"
        );
    }
}
