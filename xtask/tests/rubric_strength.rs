//! `cargo xtask rubric-strength` on a tiny lab (`tests/tiny-lab/`): a crate
//! whose four mutants the lab's one check catches twice, misses once, and one
//! of which does not compile. Each mutant is really built and graded by the
//! workspace's grader, so this needs Docker, the local base images and
//! cargo-mutants; with CI=true their absence fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use predicates::prelude::*;

/// Whether the tools this test needs are here; panics under CI=true when not.
fn tools_present() -> bool {
    let missing: Vec<&str> = [
        ("docker", &["info"][..]),
        ("cargo-mutants", &["mutants", "--version"]),
    ]
    .into_iter()
    .filter(|(tool, args)| {
        !Command::new(tool)
            .args(*args)
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .map(|(tool, _)| tool)
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true and these are missing or not working: {missing:?}"
    );
    eprintln!("skipped: {missing:?} missing");
    false
}

/// The grader the suite built, beside this test's executable.
fn grader() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let grader = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("grader");
    assert!(
        grader.is_file(),
        "{} is not built: build the workspace (cargo build -p grader --bins)",
        grader.display()
    );
    grader
}

fn xtask(out: &Path) -> Command {
    let mut command = Command::cargo_bin("xtask").expect("xtask binary");
    command
        .arg("rubric-strength")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tiny-lab"))
        .arg("--out")
        .arg(out)
        .arg("--grader")
        .arg(grader());
    command
}

#[test]
fn the_tiny_labs_mutants_are_caught_missed_and_unviable_and_a_second_run_resumes() {
    if !tools_present() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    xtask(out.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("MISSED    src/main.rs:16:5: replace log_banner with ()"))
        .stdout(predicate::str::contains(
            "tiny: 4 tried of 4 listed: 2 caught, 1 missed (0 outside the contract), 0 equivalent, 1 unviable; strength 66.7 %, 66.7 % within the contract",
        ));

    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    let outcome = |function: &str| {
        report["mutants"]
            .as_array()
            .expect("mutants")
            .iter()
            .find(|m| m["function"] == function)
            .map(|m| {
                (
                    m["outcome"].as_str().unwrap_or_default().to_owned(),
                    m["lost"].clone(),
                )
            })
            .expect("mutant of that function")
    };
    assert_eq!(outcome("print_answer").0, "caught");
    assert_eq!(outcome("print_answer").1, serde_json::json!(["answer"]));
    assert_eq!(outcome("main").0, "caught");
    assert_eq!(outcome("log_banner").0, "missed");
    assert_eq!(outcome("answer").0, "unviable");
    assert_eq!(
        report["strength"].as_f64().map(|s| (s * 1000.0).round()),
        Some(667.0)
    );
    let md = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(
        md.contains("### `src/main.rs:16:5: replace log_banner with ()`"),
        "{md}"
    );
    assert!(md.contains("-    eprintln!(\"tiny 0.1.0\");"), "{md}");

    // Nothing the run's grades built is left (an image of the tiny lab that
    // another grade made, outside any rubric-strength run, is not ours).
    let images = Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            "label=dev.mlops-course.grader.lab=tiny",
        ])
        .output()
        .expect("docker images");
    let ours: Vec<String> = String::from_utf8_lossy(&images.stdout)
        .split_whitespace()
        .filter(|id| {
            let run = Command::new("docker")
                .args(["image", "inspect", "-f"])
                .arg("{{index .Config.Labels \"dev.mlops-course.grader.run\"}}")
                .arg(id)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            run.starts_with("rubric-strength-tiny-")
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(ours, Vec::<String>::new(), "images left behind");
    let work = std::path::PathBuf::from(
        std::fs::read_to_string(out.path().join("work-folder")).expect("work-folder"),
    );
    assert!(!work.exists(), "the mutants' copies are left in {work:?}");

    // A second run finds every mutant in the journal and grades nothing; the
    // copies an interrupted run left (Ctrl-C) are removed.
    std::fs::create_dir_all(work.join("m3")).expect("a leftover copy");
    xtask(out.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "4 of 4 already tried by an earlier run",
        ))
        .stdout(predicate::str::contains("grade the reference").not())
        .stdout(predicate::str::contains("2 caught, 1 missed (0 outside"));
    assert!(
        !work.exists(),
        "an interrupted run's copies are left in {work:?}"
    );
}

#[test]
fn an_unknown_lab_is_one_line_that_names_it() {
    let out = tempfile::tempdir().expect("tempdir");
    Command::cargo_bin("xtask")
        .expect("xtask binary")
        .args(["rubric-strength", "week99", "--out"])
        .arg(out.path())
        .assert()
        .failure()
        .stderr(predicate::str::starts_with("error: unknown lab \"week99\""))
        .stderr(predicate::str::contains("\n").count(1));
}
