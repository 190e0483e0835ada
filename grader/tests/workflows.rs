//! The project's own workflows (its CI, the book's publishing, the release
//! of the grader's binaries) and the lab-repository template's, checked by
//! the tools week 7 teaches, in week 7's judge image: GitHub's workflow
//! schema (check-jsonschema) and zizmor's audits, offline.

mod support;

use std::collections::BTreeMap;
use support::engine;

const SCRIPT: &str = r#"
cd /work
status=0
for f in *.yml; do
  check-jsonschema --builtin-schema vendor.github-workflows "$f" || status=1
done
mkdir -p /tmp/audit/.github/workflows && cp *.yml /tmp/audit/.github/workflows/
zizmor --offline --no-progress --min-severity medium --format plain /tmp/audit/.github/workflows || status=1
exit $status
"#;

#[tokio::test]
async fn the_projects_workflows_pass_the_schema_and_zizmor() {
    let Some(docker) = engine().await else { return };
    let root = support::workspace().join(".github");
    let mut files = BTreeMap::new();
    for (folder, prefix) in [("workflows", "project-"), ("lab-template", "lab-")] {
        for entry in std::fs::read_dir(root.join(folder)).expect("the folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yml") {
                let name = path.file_name().expect("name").to_string_lossy();
                files.insert(
                    format!("{prefix}{name}"),
                    std::fs::read_to_string(&path).expect("read"),
                );
            }
        }
    }
    assert!(
        files.contains_key("project-release.yml"),
        "{:?}",
        files.keys()
    );
    let lab = grader::spec::embedded_lab("week07")
        .expect("known")
        .expect("valid");
    let out = support::judge_session(&docker, &lab, "workflows", SCRIPT, None, &files, None).await;
    assert!(out.contains("ok -- validation done"), "{out}");
}

/// The Indexed Job `grader batch manifest` prints is valid Kubernetes 1.33,
/// checked by kubernetes-validate --strict in week 9's judge.
#[tokio::test]
async fn the_batch_manifest_is_a_valid_indexed_job() {
    let Some(docker) = engine().await else { return };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_grader"))
        .args([
            "batch",
            "manifest",
            "week08",
            "--shards",
            "4",
            "--parallelism",
            "2",
        ])
        .args(["--image", "registry.example.edu/course/grader:2026-fall"])
        .output()
        .expect("grader runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest = String::from_utf8(output.stdout).expect("text");
    let job: serde_json::Value = serde_json::from_str(&manifest).expect("JSON");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 4);
    let files = BTreeMap::from([("job.yaml".to_string(), manifest)]);
    let lab = grader::spec::embedded_lab("week09")
        .expect("known")
        .expect("valid");
    let out = support::judge_session(
        &docker,
        &lab,
        "kubernetes",
        "cd /work && kubernetes-validate --strict -k 1.33.0 job.yaml 2>&1",
        None,
        &files,
        None,
    )
    .await;
    assert!(
        out.contains("job.yaml") && !out.contains("WARNING"),
        "{out}"
    );
}
