//! The command line as DVC and the grader run it: each stage's command, the
//! production `predict`, and one line on stderr with exit code 2 for every
//! input a user can get wrong, never a panic.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

const ROW: &str = "7.4,0.7,0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4";
const HEADER: &str = "fixed_acidity,volatile_acidity,citric_acid,residual_sugar,chlorides,free_sulfur_dioxide,total_sulfur_dioxide,density,ph,sulphates,alcohol";

fn raw_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/raw/winequality-red.csv")
}

fn tool(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("wine-pipeline").expect("the binary");
    cmd.current_dir(dir);
    cmd
}

/// Runs `args` in `dir`; it must succeed.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = tool(dir).args(args).assert().success();
    String::from_utf8(out.get_output().stdout.clone()).expect("utf-8")
}

/// Runs `args` in `dir`; it must exit `code` with one line on stderr that
/// contains `needle`, print nothing on stdout and not panic.
fn refused(dir: &Path, args: &[&str], code: i32, needle: &str) {
    tool(dir)
        .args(args)
        .assert()
        .code(code)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(needle))
        .stderr(predicate::str::contains("panicked").not())
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

const PARAMS: &str = "prepare:\n  seed: 42\n  test_fraction: 0.2\ntrain:\n  max_depth: 4\nevaluate:\n  tolerance: 1\n";

/// A folder with params.yaml and the raw data, ready for the pipeline.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("params.yaml"), PARAMS).expect("params");
    std::fs::create_dir_all(dir.path().join("data/raw")).expect("mkdir");
    std::fs::copy(raw_data(), dir.path().join("data/raw/winequality-red.csv")).expect("copy");
    dir
}

/// The pipeline's three commands, exactly as dvc.yaml runs them.
fn run_pipeline(dir: &Path) {
    ok(
        dir,
        &[
            "prepare",
            "--data",
            "data/raw/winequality-red.csv",
            "--params",
            "params.yaml",
            "--out",
            "data/prepared",
        ],
    );
    ok(
        dir,
        &[
            "train",
            "--params",
            "params.yaml",
            "--train",
            "data/prepared/train.csv",
            "--out",
            "models/model.json",
        ],
    );
    ok(
        dir,
        &[
            "evaluate",
            "--params",
            "params.yaml",
            "--model",
            "models/model.json",
            "--test",
            "data/prepared/test.csv",
            "--metrics",
            "metrics.json",
            "--predictions",
            "eval/predictions.csv",
        ],
    );
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).expect(file)
}

// lab:starter
// #[ignore = "TODO(week 10): passes once prepare, train and evaluate are written"]
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
        "metrics.json",
        "eval/predictions.csv",
    ] {
        assert_eq!(read(a.path(), file), read(b.path(), file), "{file}");
    }
    let dir = a.path();
    // The splits are the raw file's own lines under its header.
    let raw = read(dir, "data/raw/winequality-red.csv");
    let (train, test) = (
        read(dir, "data/prepared/train.csv"),
        read(dir, "data/prepared/test.csv"),
    );
    let header = raw.lines().next().expect("header");
    assert_eq!(train.lines().next(), Some(header));
    assert_eq!(test.lines().next(), Some(header));
    assert_eq!((train.lines().count(), test.lines().count()), (1280, 321));
    let mut rows: Vec<&str> = train.lines().skip(1).chain(test.lines().skip(1)).collect();
    let mut all: Vec<&str> = raw.lines().skip(1).collect();
    rows.sort_unstable();
    all.sort_unstable();
    assert_eq!(rows, all);
    // The metrics are those of the predictions file.
    let metrics: serde_json::Value =
        serde_json::from_str(&read(dir, "metrics.json")).expect("json");
    let predictions = read(dir, "eval/predictions.csv");
    let mut lines = predictions.lines();
    assert_eq!(lines.next(), Some("row,actual,predicted"));
    let pairs: Vec<(usize, usize)> = lines
        .map(|l| {
            let v: Vec<usize> = l.split(',').map(|x| x.parse().expect("int")).collect();
            (v[1], v[2])
        })
        .collect();
    let hits = pairs.iter().filter(|(a, p)| a == p).count();
    assert_eq!(metrics["rows"], 320);
    assert_eq!(metrics["accuracy"], hits as f64 / 320.0);
}

// lab:starter
// #[ignore = "TODO(week 10): passes once prepare, train and evaluate are written"]
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
    let research: Vec<serde_json::Value> = read(dir, "eval/predictions.csv")
        .lines()
        .skip(1)
        .map(|l| {
            l.rsplit(',')
                .next()
                .expect("predicted")
                .parse::<u64>()
                .expect("int")
                .into()
        })
        .collect();
    assert_eq!(
        production["predictions"],
        serde_json::Value::Array(research)
    );
}

// lab:starter
// #[ignore = "TODO(week 10): passes once prepare, train and evaluate are written"]
// lab:end
#[test]
fn a_deeper_tree_changes_only_the_model_and_what_follows() {
    let dir = workspace();
    let dir = dir.path();
    run_pipeline(dir);
    let before = (
        read(dir, "data/prepared/test.csv"),
        read(dir, "models/model.json"),
    );
    std::fs::write(
        dir.join("params.yaml"),
        PARAMS.replace("max_depth: 4", "max_depth: 6"),
    )
    .expect("params");
    run_pipeline(dir);
    assert_eq!(read(dir, "data/prepared/test.csv"), before.0);
    assert_ne!(read(dir, "models/model.json"), before.1);
}

// lab:starter
// #[ignore = "TODO(week 10): passes once prepare, train and evaluate are written"]
// lab:end
#[test]
fn each_stage_names_a_missing_input() {
    let dir = workspace();
    let d = dir.path();
    refused(
        d,
        &["prepare", "--data", "nowhere.csv", "--out", "data/prepared"],
        2,
        "cannot read nowhere.csv",
    );
    refused(
        d,
        &[
            "train",
            "--train",
            "nowhere.csv",
            "--out",
            "models/model.json",
        ],
        2,
        "cannot read nowhere.csv",
    );
    refused(
        d,
        &[
            "evaluate",
            "--model",
            "nowhere.json",
            "--test",
            "data/raw/winequality-red.csv",
            "--metrics",
            "metrics.json",
            "--predictions",
            "eval/predictions.csv",
        ],
        2,
        "cannot read nowhere.json",
    );
    // Training data without the quality column cannot be trained on.
    std::fs::write(d.join("plain.csv"), format!("{HEADER}\n{ROW}\n")).expect("w");
    refused(
        d,
        &["train", "--train", "plain.csv", "--out", "m.json"],
        2,
        "plain.csv: line 1: expected the header",
    );
    assert!(!d.join("m.json").exists());
}

#[test]
fn predict_takes_wines_with_or_without_quality() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/model.json");
    let model = model.to_str().expect("utf-8 path");
    std::fs::write(d.join("plain.csv"), format!("{HEADER}\n{ROW}\n{ROW}\n")).expect("w");
    std::fs::write(
        d.join("labelled.csv"),
        format!("{HEADER},quality\n{ROW},5\n"),
    )
    .expect("w");
    let plain = ok(d, &["predict", "--model", model, "--input", "plain.csv"]);
    let labelled = ok(d, &["predict", "--model", model, "--input", "labelled.csv"]);
    let plain: serde_json::Value = serde_json::from_str(&plain).expect("json");
    let labelled: serde_json::Value = serde_json::from_str(&labelled).expect("json");
    assert_eq!(plain["predictions"].as_array().map(Vec::len), Some(2));
    assert_eq!(labelled["predictions"][0], plain["predictions"][0]);
}

#[test]
fn bad_inputs_are_one_line_and_exit_2() {
    let dir = workspace();
    let d = dir.path();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/model.json");
    let model = model.to_str().expect("utf-8 path");
    // A missing file, named.
    refused(
        d,
        &["predict", "--model", model, "--input", "nowhere.csv"],
        2,
        "cannot read nowhere.csv",
    );
    refused(
        d,
        &["predict", "--model", "missing.json", "--input", "x.csv"],
        2,
        "missing.json",
    );
    // A malformed CSV: the file, the line and the column.
    std::fs::write(
        d.join("bad.csv"),
        format!("{HEADER}\n{ROW}\n{}\n", ROW.replace("3.51", "seven")),
    )
    .expect("w");
    refused(
        d,
        &["predict", "--model", model, "--input", "bad.csv"],
        2,
        "bad.csv: line 3, column `ph`",
    );
    std::fs::write(d.join("short.csv"), "alcohol,ph\n9.4,3.5\n").expect("w");
    refused(
        d,
        &["predict", "--model", model, "--input", "short.csv"],
        2,
        "expected the header",
    );
    // Not a model.
    std::fs::write(d.join("model.json"), "{\"weights\": []}").expect("w");
    refused(
        d,
        &["predict", "--model", "model.json", "--input", "bad.csv"],
        2,
        "model.json is not a model file",
    );
    // Bad parameters name the parameter.
    std::fs::write(
        d.join("deep.yaml"),
        PARAMS.replace("max_depth: 4", "max_depth: 99"),
    )
    .expect("w");
    refused(
        d,
        &[
            "train",
            "--params",
            "deep.yaml",
            "--train",
            "data/raw/winequality-red.csv",
            "--out",
            "m.json",
        ],
        2,
        "`train.max_depth` must be from 1 to 32, got 99",
    );
    std::fs::write(d.join("typo.yaml"), PARAMS.replace("seed", "sed")).expect("w");
    refused(
        d,
        &[
            "prepare",
            "--data",
            "data/raw/winequality-red.csv",
            "--params",
            "typo.yaml",
            "--out",
            "p",
        ],
        2,
        "unknown field `sed`",
    );
    std::fs::write(
        d.join("none.yaml"),
        "prepare:\n  seed: 1\n  test_fraction: 0.5\n",
    )
    .expect("w");
    refused(
        d,
        &[
            "evaluate",
            "--params",
            "none.yaml",
            "--model",
            model,
            "--test",
            "data/raw/winequality-red.csv",
            "--metrics",
            "m.json",
            "--predictions",
            "p.csv",
        ],
        2,
        "no `evaluate` section",
    );
    std::fs::write(d.join("broken.yaml"), "train: [max_depth\n").expect("w");
    refused(
        d,
        &[
            "train",
            "--params",
            "broken.yaml",
            "--train",
            "data/raw/winequality-red.csv",
            "--out",
            "m.json",
        ],
        2,
        "broken.yaml: not valid YAML",
    );
    // Usage errors: a missing flag, an unknown command.
    refused(d, &["train", "--params", "params.yaml"], 2, "--train");
    refused(d, &["serve"], 2, "serve");
}
