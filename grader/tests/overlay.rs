//! An instructor's private overlay (`--overlay`): its hidden checks run in an
//! instructor's grade, and a student's grade shows only how many checks and
//! points were withheld, nothing of what they are.

mod support;

use support::{Image, engine, submission};

fn grade(dir: &std::path::Path, overlay: &std::path::Path, audience: &str) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(["grade", "week08"])
        .arg(dir)
        .arg("--overlay")
        .arg(overlay)
        .args(["--audience", audience, "--print-json", "--quiet"])
        .output()
        .expect("grader runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the JSON report")
}

#[tokio::test]
async fn overlay_checks_run_for_instructors_and_are_only_counted_for_students() {
    let Some(_docker) = engine().await else {
        return;
    };
    let private = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(private.path().join("week08")).expect("mkdir");
    std::fs::write(
        private.path().join("week08/overlay.toml"),
        r#"
# Replaces the public hidden accuracy check with a bar no tree reaches.
[[checks]]
id = "predict.quality"
title = "Right on the instructor's own wines"
points = 12
kind = "accuracy"
visibility = "hidden"
request = { method = "POST", path = "/predict" }
answer = "/predictions"
values = { integer = true, min = 3, max = 8 }
sample = 100
seed = 4242
min_accuracy = 0.999

[[checks]]
id = "private.health-secret-route"
title = "A private probe of /health"
points = 3
kind = "http"
visibility = "hidden"
request = { path = "/health" }
expect = { status = 200 }
"#,
    )
    .expect("overlay");
    let dir = submission("reference", Image::Good, &[]);

    let instructor = grade(dir.path(), private.path(), "instructor");
    let checks = instructor["checks"].as_array().expect("checks");
    let find = |id: &str| checks.iter().find(|c| c["id"] == id).expect(id);
    assert_eq!(find("private.health-secret-route")["verdict"], "passed");
    assert_eq!(find("predict.quality")["points"], 12);
    assert_eq!(
        find("predict.quality")["verdict"],
        "failed",
        "the overlay's bar"
    );
    assert_eq!(instructor["score"]["max"], 105);

    let student = grade(dir.path(), private.path(), "student");
    assert_eq!(
        student["withheld"],
        serde_json::json!({ "checks": 2, "points": 15 })
    );
    let text = student.to_string();
    for secret in [
        "private.health-secret-route",
        "instructor's own wines",
        "4242",
    ] {
        assert!(!text.contains(secret), "a student's report names {secret}");
    }
}
