//! What a submission cannot touch: another submission graded at the same time,
//! the host's files, the hidden checks, the score. Each test grades hostile
//! example submissions and looks for the effect they were after.

mod support;

use assert_cmd::Command;
use grader::result::{Audience, ContainerVerdict};
use predicates::prelude::*;
use std::path::Path;
use support::{Image, engine, grade_alongside, grade_with, lost, submission, week08};

#[tokio::test]
async fn submissions_graded_together_neither_meet_nor_disturb_each_other() {
    let Some(docker) = engine().await else { return };
    let good = submission("reference", Image::Good, &[]);
    let bomb = submission("fork-bomb", Image::Good, &[]);
    let hog = submission("memory-hog", Image::Good, &[]);
    // The reference listens on 0.0.0.0:8080 too; the canary looks for it, and
    // for anything else, on every address it could have.
    let gateway = support::bridge_gateway(&docker).await;
    let targets = format!("{gateway}:8080,172.17.0.2:8080,172.17.0.3:8080,172.17.0.4:8080");
    let canary = submission("canary", Image::Good, &[("CANARY_ADDRS", &targets)]);
    let (good, bomb, hog, canary) = tokio::join!(
        grade_alongside(&docker, week08(), good.path(), Audience::Instructor),
        grade_alongside(&docker, week08(), bomb.path(), Audience::Instructor),
        grade_alongside(&docker, week08(), hog.path(), Audience::Instructor),
        grade_alongside(&docker, week08(), canary.path(), Audience::Instructor),
    );
    let left = grader::docker::sweep::own_containers(&docker)
        .await
        .expect("list containers");
    assert_eq!(left, 0, "{left} container(s) left behind");

    assert_eq!(lost(&good), Vec::<String>::new(), "{good:#?}");
    assert_eq!(
        hog.container.verdict,
        ContainerVerdict::OutOfMemory,
        "{hog:#?}"
    );
    assert!(
        matches!(
            bomb.container.verdict,
            ContainerVerdict::Ran | ContainerVerdict::Crashed
        ),
        "{bomb:#?}"
    );
    // The canary's namespace has a loopback interface and nothing else, so no
    // address leads to another submission or to the host.
    let log = &canary.container.log_excerpt;
    assert!(log.iter().any(|l| l == "canary interfaces: lo"), "{log:?}");
    let tried = support::log_lines(&canary, "canary tcp ");
    assert_eq!(tried.len(), 4, "{log:?}");
    assert!(tried.iter().all(|l| l.contains(" failed: ")), "{log:?}");
    assert_eq!(lost(&canary), Vec::<String>::new(), "{canary:#?}");
}

/// The start of the first request body of the hidden accuracy check: its
/// first sampled wine, as the grader serialises it.
fn hidden_input_fragment() -> String {
    let lab = week08();
    let check = lab
        .checks
        .iter()
        .find(|c| c.id == "predict.quality")
        .expect("the hidden check");
    let grader::spec::CheckKind::Accuracy { sample, seed, .. } = &check.kind else {
        panic!("predict.quality is an accuracy check");
    };
    let rows = lab.rows.as_ref().expect("week 8's rows");
    let first = rows.sample(*sample, *seed)[0];
    let body = serde_json::to_string(&rows.body(&[first])).expect("json");
    // `{"inputs":[{...}` without the closing brackets: the start of the real body.
    body.trim_end_matches("]}").to_string()
}

#[tokio::test]
async fn a_students_report_holds_nothing_of_a_hidden_check_even_when_echoed() {
    let Some(docker) = engine().await else { return };
    let dir = submission("echo", Image::Good, &[]);
    let student = grade_with(
        &docker,
        week08(),
        dir.path(),
        Audience::Student,
        Default::default(),
    )
    .await;
    let instructor = grade_with(
        &docker,
        week08(),
        dir.path(),
        Audience::Instructor,
        Default::default(),
    )
    .await;
    let fragment = hidden_input_fragment();
    let outputs = [
        grader::report::json(&student),
        grader::report::markdown(&student),
        grader::report::table(&student, false),
    ];
    for out in &outputs {
        assert!(!out.contains("predict.quality"), "{out}");
        assert!(!out.contains(&fragment), "a hidden input leaked: {out}");
        assert!(
            !out.contains("known wines"),
            "the hidden title leaked: {out}"
        );
    }
    // The echo did happen: the student's log shows the visible checks' bodies.
    assert!(
        !support::log_lines(&student, "echo: POST /predict").is_empty(),
        "{:?}",
        student.container.log_excerpt
    );
    // The student learns that hidden checks exist and what they are worth.
    assert!(outputs[0].contains("\"withheld\""), "{}", outputs[0]);
    // The instructor's report has the hidden check, so the search above can
    // find what it looks for.
    assert!(grader::report::json(&instructor).contains("predict.quality"));
    assert_eq!(lost(&instructor), Vec::<String>::new(), "{instructor:#?}");
}

fn grader_cmd() -> Command {
    Command::cargo_bin("grader").expect("the grader binary")
}

/// Writes what a submission might ship to force a pass: results files, its
/// own tests and snapshots, a build script, insta variables in its image.
fn ship_tricks(dir: &Path) {
    let claim = r#"{"version":1,"status":"pass","max_score":100,"score":100,"tests":[]}"#;
    std::fs::write(dir.join("results.json"), claim).expect("write");
    std::fs::create_dir_all(dir.join("tests")).expect("mkdir");
    std::fs::write(
        dir.join("tests/grader.rs"),
        "#[test]\nfn everything_passes() { assert!(true); }\n",
    )
    .expect("write");
    std::fs::create_dir_all(dir.join("snapshots")).expect("mkdir");
    std::fs::write(
        dir.join("snapshots/predict-contract.snap"),
        "---\nsource: grader/labs/week08/lab.toml\nexpression: anything\n---\n{\"predictions\": [5]}\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("build.rs"),
        "fn main() { println!(\"cargo:rustc-env=INSTA_FORCE_PASS=1\"); }\n",
    )
    .expect("write");
    let mut dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).expect("read");
    dockerfile.push_str("ENV INSTA_FORCE_PASS=1 INSTA_UPDATE=always\n");
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("write");
}

#[tokio::test]
async fn shipped_tests_snapshots_build_scripts_and_insta_variables_force_nothing() {
    let Some(_docker) = engine().await else {
        return;
    };
    // A submission that loses the snapshot check (no model_version).
    let dir = submission("no-model-version", Image::Good, &[]);
    ship_tricks(dir.path());
    let before = support::tree_digest(dir.path());
    let work = tempfile::tempdir().expect("tempdir");
    let lab_before = support::tree_digest(&support::workspace().join("grader/labs"));
    let output = grader_cmd()
        .current_dir(work.path())
        .args(["grade", "week08"])
        .arg(dir.path())
        .args(["--audience", "instructor", "--print-json"])
        // Every insta switch that could turn a mismatch into a pass or a write.
        .env("INSTA_FORCE_PASS", "1")
        .env("INSTA_UPDATE", "always")
        .env("INSTA_FORCE_UPDATE", "1")
        .env("INSTA_WORKSPACE_ROOT", dir.path())
        .env("INSTA_PENDING_DIR", dir.path())
        .env("INSTA_OUTPUT", "none")
        .output()
        .expect("run the grader");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let lost: Vec<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["earned"] != c["points"])
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(lost, ["predict.contract"], "{report:#}");
    let contract = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "predict.contract"))
        .and_then(|c| c["points"].as_u64())
        .expect("predict.contract's points");
    assert_eq!(report["score"]["earned"].as_u64(), Some(100 - contract));
    // Nothing was written: not beside the submission, not in the work folder,
    // not into the lab's own snapshots.
    assert_eq!(support::tree_digest(dir.path()), before);
    assert_eq!(std::fs::read_dir(work.path()).expect("ls").count(), 0);
    assert_eq!(
        support::tree_digest(&support::workspace().join("grader/labs")),
        lab_before
    );
}

#[tokio::test]
async fn nothing_on_the_host_changes_outside_the_work_area() {
    let Some(_docker) = engine().await else {
        return;
    };
    // A submission that writes wherever it can, in its container.
    let dir = submission("write-root", Image::Good, &[]);
    let before = support::tree_digest(dir.path());
    let area = tempfile::tempdir().expect("tempdir");
    let (home, tmp, work) = (
        area.path().join("home"),
        area.path().join("tmp"),
        area.path().join("work"),
    );
    for d in [&home, &tmp, &work] {
        std::fs::create_dir(d).expect("mkdir");
    }
    grader_cmd()
        .current_dir(&work)
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .args(["grade", "week08"])
        .arg(dir.path())
        .args(["--json", "grade.json"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("score"));
    // The one file asked for, and nothing else anywhere.
    let written: Vec<String> = std::fs::read_dir(&work)
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["grade.json"]);
    assert_eq!(std::fs::read_dir(&home).expect("ls").count(), 0);
    assert_eq!(std::fs::read_dir(&tmp).expect("ls").count(), 0);
    assert_eq!(support::tree_digest(dir.path()), before);
}
