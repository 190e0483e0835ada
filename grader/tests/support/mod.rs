//! Shared by the integration tests: the Docker connection (a missing engine fails
//! the suite when CI=true), the fixture binary, example submissions made in
//! temporary folders, and grading them.

#![allow(dead_code)]

pub mod early_labs;
pub mod repo;
pub mod week03;
pub mod week04;
pub mod week05;
pub mod week06;
pub mod week07;
pub mod week09;
pub mod week10;
pub mod week11;
pub mod week12;
pub mod week13;
pub mod week14;

use grader::result::{Audience, Report, Verdict};
use grader::spec::LabSpec;
use grader::{GradeRequest, docker};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The engine, or `None` to skip outside CI. With CI=true an unreachable engine
/// is a failure, never a skip.
pub async fn engine() -> Option<bollard::Docker> {
    match docker::connect().await {
        Ok(d) => Some(d),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the Docker engine is unreachable: {e}")
        }
        Err(e) => {
            eprintln!("skipped: no Docker engine ({e})");
            None
        }
    }
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader sits in the workspace")
        .to_path_buf()
}

/// The static fixture service, built by `cargo xtask fixtures`.
pub fn fixture_bin() -> PathBuf {
    fixture("fixture-week08")
}

/// A static fixture binary by name, built by `cargo xtask fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("FIXTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/x86_64-unknown-linux-gnu/fixture"));
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo xtask fixtures` (or `cargo xtask test`)",
        bin.display()
    );
    bin
}

/// How the example submission's Dockerfile differs from a good one.
#[derive(Clone, Copy, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Image {
    Good,
    NoUser,
    RootUser,
    NoExpose,
    NoLabel,
    Oversized,
    /// A good image that also declares a volume, a stop signal and forged labels.
    Tricky,
}

/// Writes an example submission: the fixture binary run in `mode`, packaged
/// `FROM scratch` as `image` says.
pub fn submission(mode: &str, image: Image, env: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture_bin(), dir.path().join("fixture-week08")).expect("copy fixture");
    let mut df = String::from("FROM scratch\nCOPY fixture-week08 /app/fixture-week08\n");
    if image == Image::Oversized {
        // Two copies of 40 MB: a 95 MB image from a context under the 64 MB cap.
        std::fs::write(dir.path().join("ballast"), vec![7u8; 40_000_000]).expect("ballast");
        df.push_str("COPY ballast /ballast-1\nCOPY ballast /ballast-2\n");
    }
    if image != Image::NoLabel {
        df.push_str("LABEL org.opencontainers.image.title=\"wine-service example\"\n");
    }
    match image {
        Image::NoUser => {}
        Image::RootUser => df.push_str("USER root\n"),
        _ => df.push_str("USER 65532:65532\n"),
    }
    if image != Image::NoExpose {
        df.push_str("EXPOSE 8080\n");
    }
    if image == Image::Tricky {
        df.push_str("VOLUME /data\nSTOPSIGNAL SIGKILL\nLABEL dev.mlops-course.grader.owner=\"forged/1/1\"\n");
    }
    for (k, v) in env {
        df.push_str(&format!("ENV {k}=\"{v}\"\n"));
    }
    df.push_str(&format!(
        "ENTRYPOINT [\"/app/fixture-week08\", \"--mode\", \"{mode}\"]\n"
    ));
    std::fs::write(dir.path().join("Dockerfile"), df).expect("Dockerfile");
    dir
}

/// The host-side address of Docker's default bridge: where a container on a
/// plain bridge network would reach the host.
pub async fn bridge_gateway(docker: &bollard::Docker) -> String {
    let bridge = docker
        .inspect_network(
            "bridge",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .expect("the default bridge");
    bridge
        .ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().find_map(|c| c.gateway))
        .unwrap_or_else(|| "172.17.0.1".to_string())
}

/// The week-8 lab with short deadlines, so that waiting cases finish quickly.
pub fn quick_lab() -> LabSpec {
    let mut lab = week08();
    lab.container.ready_timeout_secs = 6;
    lab.container.run_timeout_secs = 60;
    lab
}

/// `quick_lab` with every check's own deadline cut to `secs`.
pub fn quick_checks(secs: u64) -> LabSpec {
    let mut lab = quick_lab();
    for check in &mut lab.checks {
        check.timeout = std::time::Duration::from_secs(secs);
    }
    lab
}

/// The log lines of a report that start with `prefix`.
pub fn log_lines<'a>(report: &'a Report, prefix: &str) -> Vec<&'a str> {
    report
        .container
        .log_excerpt
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with(prefix))
        .collect()
}

pub fn week08() -> LabSpec {
    grader::spec::embedded_lab("week08")
        .expect("week08 is embedded")
        .expect("week08 is valid")
}

/// Build arguments for the real Dockerfiles: the local base images made by
/// `cargo xtask base-images`, named in GRADER_TEST_BUILD_ARGS.
pub fn real_build_args() -> BTreeMap<String, String> {
    std::env::var("GRADER_TEST_BUILD_ARGS")
        .unwrap_or_else(|_| {
            "BUILDER_IMAGE=mlops-local/rust-builder:1.95 RUNTIME_IMAGE=mlops-local/static:nonroot"
                .to_string()
        })
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Grades a copy of `source` (a folder of the workspace: a solution or a
/// starter) against `spec`, built with its own Dockerfile on the local base
/// images, as a student's push would be, with the hidden checks shown (as
/// an instructor sees them): a reference must earn those too.
pub async fn grade_copy(docker: &bollard::Docker, spec: LabSpec, source: &str) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    repo::copy_tree(&workspace().join(source), dir.path());
    grade_with(
        docker,
        spec,
        dir.path(),
        Audience::Instructor,
        real_build_args(),
    )
    .await
}

/// Grades a copy of the starter `source` and asserts that it loses exactly
/// `loses` (in the lab's order) and earns every other item's points.
pub async fn starter_loses(docker: &bollard::Docker, spec: LabSpec, source: &str, loses: &[&str]) {
    let lost_points: u32 = spec
        .checks
        .iter()
        .filter(|c| loses.contains(&c.id.as_str()))
        .map(|c| c.points)
        .sum();
    let max: u32 = spec.checks.iter().map(|c| c.points).sum();
    let report = grade_copy(docker, spec, source).await;
    assert_eq!(lost(&report), loses, "{report:#?}");
    assert_eq!(report.score.earned, max - lost_points, "{report:#?}");
}

/// Grades without the leftover check, for tests that grade several submissions
/// at once (the check counts every container of this process).
pub async fn grade_alongside(
    docker: &bollard::Docker,
    lab: LabSpec,
    dir: &Path,
    audience: Audience,
) -> Report {
    let request = GradeRequest {
        lab,
        submission: dir.to_path_buf(),
        build_args: BTreeMap::new(),
        audience,
        probe_exe: PathBuf::from(env!("CARGO_BIN_EXE_grader-probe")),
        runtime: None,
        allow_images: Vec::new(),
        progress: std::sync::Arc::new(grader::progress::Quiet),
        fetch_network: None,
        course_key: grader::course_key::CourseKey::practice(),
        build_slots: None,
    };
    grader::grade(docker, &request)
        .await
        .unwrap_or_else(|e| panic!("grading failed: {e}"))
}

/// Every file under `dir` with its SHA-256, to prove a folder unchanged.
pub fn tree_digest(dir: &Path) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    let mut out = BTreeMap::new();
    for entry in walk(dir) {
        let rel = entry
            .strip_prefix(dir)
            .unwrap_or(&entry)
            .display()
            .to_string();
        let digest = match std::fs::read(&entry) {
            Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
            Err(_) => "<dir or unreadable>".to_string(),
        };
        out.insert(rel, digest);
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for entry in rd.flatten() {
            let path = entry.path();
            out.push(path.clone());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&path));
            }
        }
    }
    out
}

pub async fn grade_with(
    docker: &bollard::Docker,
    lab: LabSpec,
    dir: &Path,
    audience: Audience,
    build_args: BTreeMap<String, String>,
) -> Report {
    let request = GradeRequest {
        lab,
        submission: dir.to_path_buf(),
        build_args,
        audience,
        probe_exe: PathBuf::from(env!("CARGO_BIN_EXE_grader-probe")),
        runtime: None,
        allow_images: Vec::new(),
        progress: std::sync::Arc::new(grader::progress::Quiet),
        fetch_network: None,
        course_key: grader::course_key::CourseKey::practice(),
        build_slots: None,
    };
    let report = grader::grade(docker, &request)
        .await
        .unwrap_or_else(|e| panic!("grading failed: {e}"));
    let left = grader::docker::sweep::own_containers(docker)
        .await
        .expect("list containers");
    assert_eq!(left, 0, "the grade left {left} container(s) behind");
    report
}

pub async fn grade(docker: &bollard::Docker, lab: LabSpec, dir: &Path) -> Report {
    grade_with(docker, lab, dir, Audience::Instructor, BTreeMap::new()).await
}

/// The ids of the checks that did not earn their points.
pub fn lost(report: &Report) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.earned < c.points)
        .map(|c| c.id.clone())
        .collect()
}

pub fn verdict_of<'a>(report: &'a Report, id: &str) -> &'a grader::result::CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

pub fn passed(report: &Report, id: &str) -> bool {
    verdict_of(report, id).verdict == Verdict::Passed
}

/// Filters for what varies between runs inside messages: the model's version and
/// its predictions quoted in a message (training breaks ties in hash order, so
/// each build's tree may differ a little), and image sizes (they follow the
/// compiler).
pub const GOLDEN_FILTERS: [(&str, &str); 3] = [
    (r"tree-d\d+-[0-9a-f]{12}", "[model_version]"),
    (
        r#"predictions\\":\[[0-9,]*[\]…]?"#,
        r#"predictions\":[predictions]"#,
    ),
    (r"\d+\.\d MB", "[size] MB"),
];

/// Asserts a report against its golden snapshot, with run-specific values redacted.
#[macro_export]
macro_rules! assert_golden {
    ($name:expr, $report:expr) => {
        insta::with_settings!({ filters => support::GOLDEN_FILTERS.to_vec() }, {
            insta::assert_json_snapshot!($name, support::golden($report));
        })
    };
}

/// The report as golden JSON: times, paths, hashes and logs redacted.
pub fn golden(report: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("serialise");
    // When it ran and the specification's hash change with every run or edit.
    if let Some(top) = v.as_object_mut() {
        top.remove("started_at");
    }
    if let Some(lab) = v["lab"].as_object_mut() {
        lab.remove("spec_sha256");
    }
    v["timings"] = serde_json::json!("[timings]");
    v["submission"]["path"] = serde_json::json!("[path]");
    if !v["submission"]["context_sha256"].is_null() {
        v["submission"]["context_sha256"] = serde_json::json!("[sha256]");
    }
    v["container"]["log_excerpt"] = serde_json::json!("[log]");
    v["container"]["cached_image"] = serde_json::json!("[cache]");
    if let Some(checks) = v["checks"].as_array_mut() {
        for c in checks {
            c["duration_ms"] = serde_json::json!("[ms]");
        }
    }
    v
}

/// Runs a chapter's hands-on `script` (sh) in `lab`'s `judge` image, in the
/// grader's sandbox, and returns what it printed; it must exit 0.
pub async fn judge_session(
    docker: &bollard::Docker,
    lab: &LabSpec,
    judge: &str,
    script: &str,
    tree: Option<&[u8]>,
    files: &BTreeMap<String, String>,
    output_dir: Option<&str>,
) -> String {
    use grader::docker::command::{self, Argv, Invocation, Step};
    let script = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
    let steps = [Step {
        image: &lab.judges[judge],
        argv: Argv::Command(&script),
        course_key: false,
    }];
    let run = command::run(
        docker,
        &Invocation {
            steps: &steps,
            lab: &lab.id,
            container: &lab.container,
            image_volumes: &[],
            env: &Default::default(),
            stdin: None,
            tree,
            course_key: None,
            files,
            program: None,
            output_dir,
            deadline: std::time::Duration::from_secs(120),
            beside: None,
        },
    )
    .await
    .expect("the session runs");
    assert_eq!(
        run.code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).expect("text")
}

/// Compares a session's transcript with the copy the book includes
/// (`book/src/generated/<name>`); `UPDATE_TRANSCRIPTS=1` writes it instead.
/// `test` is the nextest filter that reruns the test.
pub fn assert_transcript(name: &str, transcript: &str, test: &str) {
    let path = workspace().join("book/src/generated").join(name);
    if std::env::var_os("UPDATE_TRANSCRIPTS").is_some() {
        std::fs::write(&path, transcript).expect("write the transcript");
    }
    let book = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        book,
        transcript,
        "{} is stale: run `UPDATE_TRANSCRIPTS=1 cargo nextest run -p grader {test}`",
        path.display()
    );
}
