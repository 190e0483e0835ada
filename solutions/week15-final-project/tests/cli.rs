//! The pipeline's steps as DVC runs them, through the one `wine-service`
//! binary: the same bytes twice, production agreeing with research, and one
//! line on stderr with exit code 2 for an input a user can get wrong.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn raw_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/raw/winequality-red.csv")
}

fn tool(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("wine-service").expect("the binary");
    cmd.current_dir(dir);
    cmd
}

/// Runs `args` in `dir`; it must succeed.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = tool(dir).args(args).assert().success();
    String::from_utf8(out.get_output().stdout.clone()).expect("utf-8")
}

/// The committed params.yaml, so the test runs what DVC runs.
fn params() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("params.yaml"))
        .expect("params.yaml")
}

/// A folder with params.yaml and the raw data, ready for the pipeline.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("params.yaml"), params()).expect("params");
    std::fs::create_dir_all(dir.path().join("data/raw")).expect("mkdir");
    std::fs::copy(raw_data(), dir.path().join("data/raw/winequality-red.csv")).expect("copy");
    dir
}

/// The commands of dvc.yaml, read from it: what DVC runs is what is tested.
fn stage_commands() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dvc.yaml"))
        .expect("dvc.yaml");
    let dvc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    ["prepare", "train", "evaluate"]
        .iter()
        .map(|stage| {
            let cmd = dvc["stages"][stage]["cmd"].as_str().expect("a cmd");
            let words: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
            assert_eq!(
                words[0], "wine-service",
                "{stage} runs the service's binary"
            );
            assert_eq!(words[1], *stage);
            words[1..].to_vec()
        })
        .collect()
}

fn run_pipeline(dir: &Path) {
    for args in stage_commands() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(dir, &args);
    }
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).expect(file)
}

// lab:starter
// #[ignore = "TODO(week 15): passes once main runs the steps and train writes the artifact"]
// lab:end
#[test]
fn the_pipeline_gives_the_same_bytes_twice() {
    let (a, b) = (workspace(), workspace());
    run_pipeline(a.path());
    run_pipeline(b.path());
    for file in [
        "data/prepared/train.csv",
        "data/prepared/test.csv",
        "models/model.json",
        "models/drift-reference.json",
        "metrics.json",
        "eval/predictions.csv",
    ] {
        assert_eq!(read(a.path(), file), read(b.path(), file), "{file}");
    }
    // The model is the service's artifact, of the data set's version.
    let model: serde_json::Value =
        serde_json::from_slice(&read(a.path(), "models/model.json")).expect("json");
    assert_eq!(
        model["data_sha256"],
        "d4f6a6d672e0ee31d41fdd93b4b58985b45a31f2f971499c18137c42229278ac"
    );
    assert_eq!(model["train_rows"], 1279);
    // The metrics are those of the predictions file.
    let metrics: serde_json::Value =
        serde_json::from_slice(&read(a.path(), "metrics.json")).expect("json");
    let predictions = String::from_utf8(read(a.path(), "eval/predictions.csv")).expect("utf-8");
    let pairs: Vec<(u64, u64)> = predictions
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<u64> = l.split(',').map(|x| x.parse().expect("int")).collect();
            (v[1], v[2])
        })
        .collect();
    let hits = pairs.iter().filter(|(a, p)| a == p).count();
    assert_eq!(metrics["rows"], 320);
    assert_eq!(metrics["accuracy"], hits as f64 / 320.0);
}

// lab:starter
// #[ignore = "TODO(week 15): passes once main runs the steps and train writes the artifact"]
// lab:end
#[test]
fn production_predicts_what_evaluate_recorded() {
    let dir = workspace();
    let dir = dir.path();
    run_pipeline(dir);
    let out = ok(
        dir,
        &[
            "predict",
            "--model",
            "models/model.json",
            "--input",
            "data/prepared/test.csv",
        ],
    );
    let production: serde_json::Value = serde_json::from_str(&out).expect("json");
    let research: Vec<serde_json::Value> = String::from_utf8(read(dir, "eval/predictions.csv"))
        .expect("utf-8")
        .lines()
        .skip(1)
        .map(|l| {
            l.rsplit(',')
                .next()
                .and_then(|p| p.parse::<u64>().ok())
                .expect("predicted")
                .into()
        })
        .collect();
    assert_eq!(research.len(), 320);
    assert_eq!(
        production["predictions"],
        serde_json::Value::Array(research)
    );
}

// lab:starter
// #[ignore = "TODO(week 15): passes once main runs the steps"]
// lab:end
#[test]
fn train_names_a_missing_params_file_in_one_line() {
    let dir = workspace();
    let d = dir.path();
    tool(d)
        .args([
            "train",
            "--params",
            "in/missing.yaml",
            "--data",
            "data/raw/winequality-red.csv",
            "--train",
            "data/raw/winequality-red.csv",
            "--out",
            "out/model.json",
        ])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("in/missing.yaml"))
        .stderr(predicate::str::contains("panicked").not())
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    assert!(!d.join("out").exists());
}

#[test]
fn a_usage_error_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("dir");
    tool(dir.path())
        .args(["train", "--params", "params.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--train"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}
