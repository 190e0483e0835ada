//! Grading a class (`grader batch`): each submission graded once, a rerun
//! after `kill -9` resuming without losing or repeating a grade, a changed
//! submission graded again alone, grading errors retried and recorded.

mod support;

use grader::batch::{self, journal::Journal, roster};
use grader::course_key::CourseKey;
use grader::result::{Audience, ClassEntry};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::{Image, engine, quick_lab, submission};

/// A class folder: one fixture submission per (student, mode).
fn class(students: &[(&str, &str)]) -> tempfile::TempDir {
    let class = tempfile::tempdir().expect("tempdir");
    for (student, mode) in students {
        let made = submission(mode, Image::Good, &[]);
        let dir = class.path().join(student);
        std::fs::create_dir(&dir).expect("mkdir");
        for file in ["Dockerfile", "fixture-week08"] {
            std::fs::copy(made.path().join(file), dir.join(file)).expect("copy");
        }
    }
    class
}

fn options(probe_exe: PathBuf) -> batch::Options {
    batch::Options {
        jobs: 2,
        builds: 1,
        retries: 1,
        retry_pause: Duration::from_millis(10),
        audience: Audience::Instructor,
        build_args: BTreeMap::new(),
        allow_images: Vec::new(),
        runtime: None,
        fetch_network: None,
        course_key: CourseKey::practice(),
        probe_exe,
    }
}

fn probe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_grader-probe"))
}

async fn run(
    docker: &bollard::Docker,
    class: &Path,
    journal: &Path,
    options: &batch::Options,
) -> batch::Outcome {
    let roster = roster::read(class).expect("roster");
    let journal = Arc::new(Journal::open(journal).expect("journal"));
    batch::run(
        docker,
        &quick_lab(),
        &roster,
        journal,
        options,
        Arc::new(batch::progress::Quiet),
    )
    .await
}

fn scores(entries: &[ClassEntry]) -> Vec<(String, Option<u32>)> {
    entries
        .iter()
        .map(|e| (e.student.clone(), e.report.as_ref().map(|r| r.score.earned)))
        .collect()
}

#[tokio::test]
async fn a_class_is_graded_once_and_a_changed_submission_alone_again() {
    let Some(docker) = engine().await else { return };
    let class = class(&[
        ("kim", "reference"),
        ("lee", "health-body"),
        ("park", "exit-early"),
    ]);
    let out = tempfile::tempdir().expect("tempdir");
    let journal = out.path().join("journal.jsonl");

    let first = run(&docker, class.path(), &journal, &options(probe())).await;
    assert_eq!((first.graded, first.reused, first.errors), (3, 0, 0));
    let max = quick_lab().max_points();
    let by = |name: &str| {
        first
            .entries
            .iter()
            .find(|e| e.student == name)
            .and_then(|e| e.report.clone())
            .expect("graded")
    };
    assert_eq!(
        by("kim").score.earned,
        max,
        "the fixture's reference scores full marks"
    );
    assert!(by("lee").score.earned < max);
    assert_eq!(
        by("park").container.verdict,
        grader::result::ContainerVerdict::Crashed
    );
    assert_eq!(by("kim").submission.student.as_deref(), Some("kim"));

    // A rerun grades nothing again, and gives the same class.
    let again = run(&docker, class.path(), &journal, &options(probe())).await;
    assert_eq!((again.graded, again.reused), (0, 3));
    assert_eq!(scores(&again.entries), scores(&first.entries));

    // One student pushes a change: that submission alone is graded again.
    let dockerfile = class.path().join("lee/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("read");
    std::fs::write(&dockerfile, format!("{text}# a new commit\n")).expect("write");
    let third = run(&docker, class.path(), &journal, &options(probe())).await;
    assert_eq!((third.graded, third.reused), (1, 2));

    let written = batch::outputs::write(out.path(), &quick_lab(), &third.entries).expect("outputs");
    assert!(written.contains(&out.path().join("gradebook.csv")));
    let gradebook = std::fs::read_to_string(out.path().join("gradebook.csv")).expect("gradebook");
    assert_eq!(gradebook.lines().count(), 4, "{gradebook}");
    let class_json: Vec<ClassEntry> =
        serde_json::from_slice(&std::fs::read(out.path().join("class.json")).expect("class.json"))
            .expect("class.json reads back");
    assert_eq!(scores(&class_json), scores(&third.entries));
    assert!(out.path().join("reports/kim.md").is_file());
}

#[tokio::test]
async fn a_grading_error_is_retried_recorded_and_graded_on_the_next_run() {
    let Some(docker) = engine().await else { return };
    let class = class(&[("kim", "reference")]);
    let out = tempfile::tempdir().expect("tempdir");
    let journal = out.path().join("journal.jsonl");

    // The probe is missing: the grader's fault, not the submission's.
    let broken = options(PathBuf::from("/no/such/grader-probe"));
    let failed = run(&docker, class.path(), &journal, &broken).await;
    assert_eq!((failed.graded, failed.errors), (0, 1));
    let entry = &failed.entries[0];
    assert_eq!(entry.attempts, 2, "tried once and retried once");
    assert!(
        entry
            .error
            .as_deref()
            .is_some_and(|e| e.contains("grader-probe")),
        "{:?}",
        entry.error
    );

    // The error is journalled but does not count as graded.
    let fixed = run(&docker, class.path(), &journal, &options(probe())).await;
    assert_eq!((fixed.graded, fixed.reused, fixed.errors), (1, 0, 0));
}

#[tokio::test]
async fn a_batch_killed_mid_way_resumes_without_losing_or_repeating_a_grade() {
    let Some(_docker) = engine().await else {
        return;
    };
    let students = ["ann", "bo", "cy", "di"];
    let class = class(&[
        ("ann", "reference"),
        ("bo", "health-body"),
        ("cy", "reference"),
        ("di", "exit-early"),
    ]);
    let out = tempfile::tempdir().expect("tempdir");
    let journal = out.path().join("journal.jsonl");
    let batch = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_grader"));
        command
            .args(["batch", "week08"])
            .arg(class.path())
            .arg("--out")
            .arg(out.path())
            .args(["--jobs", "1", "--quiet"]);
        command
    };
    let whole_lines = || {
        std::fs::read_to_string(&journal)
            .map(|t| t.matches('\n').count())
            .unwrap_or(0)
    };

    let mut first = batch()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the batch");
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while whole_lines() == 0 {
        assert!(
            first.try_wait().expect("wait").is_none(),
            "the batch ended before it was killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no grade journalled in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    let kept = whole_lines();
    assert!(
        kept < students.len(),
        "killed too late to prove anything: {kept} graded"
    );

    let second = batch().output().expect("rerun");
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let expected = format!(
        "{} graded now, {kept} found in the journal, 0 not graded",
        students.len() - kept
    );
    assert!(stdout.contains(&expected), "{stdout}");

    // Every student graded exactly once across both runs.
    let records = Journal::open(&journal).expect("journal").records().to_vec();
    let mut graded: Vec<&str> = records
        .iter()
        .filter(|r| r.entry.report.is_some())
        .map(|r| r.entry.student.as_str())
        .collect();
    graded.sort_unstable();
    assert_eq!(graded, students, "each student once, none lost");
    assert_eq!(records.len(), students.len(), "no error and no duplicate");

    let third = batch().output().expect("third run");
    let stdout = String::from_utf8_lossy(&third.stdout);
    assert!(
        stdout.contains("0 graded now, 4 found in the journal"),
        "{stdout}"
    );
}

/// `grader batch ...` with these arguments, quiet.
fn cli(args: &[&std::ffi::OsStr]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_grader"));
    command.arg("batch").args(args);
    command
}

/// Each student's score and verdicts, from a class.json.
fn class_results(out: &Path) -> Vec<(String, u32, Vec<String>)> {
    let entries: Vec<ClassEntry> =
        serde_json::from_slice(&std::fs::read(out.join("class.json")).expect("class.json"))
            .expect("reads back");
    entries
        .into_iter()
        .map(|e| {
            let r = e
                .report
                .unwrap_or_else(|| panic!("{} not graded: {:?}", e.student, e.error));
            let verdicts = r
                .checks
                .iter()
                .map(|c| format!("{}={:?}", c.id, c.verdict))
                .collect();
            (e.student, r.score.earned, verdicts)
        })
        .collect()
}

#[tokio::test]
async fn shards_graded_as_separate_processes_merge_into_the_single_batchs_results() {
    let Some(_docker) = engine().await else {
        return;
    };
    let class = class(&[
        ("ann", "reference"),
        ("bo", "health-body"),
        ("cy", "exit-early"),
    ]);
    let single = tempfile::tempdir().expect("tempdir");
    let sharded = tempfile::tempdir().expect("tempdir");
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            os("week08"),
            class.path().as_os_str(),
            os("--out"),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        args.push(os("--quiet"));
        cli(&args)
    };

    let whole = run(single.path(), &[]).output().expect("single batch");
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );

    // Two shards at once, as two pods of an Indexed Job would run them.
    let shards: Vec<std::process::Child> = ["1/2", "2/2"]
        .into_iter()
        .map(|s| {
            run(sharded.path(), &["--shard", s, "--jobs", "1"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("a shard")
        })
        .collect();
    for shard in shards {
        let done = shard.wait_with_output().expect("shard ends");
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    assert!(
        !sharded.path().join("class.json").exists(),
        "a shard writes no class files"
    );
    let merged = cli(&[
        os("merge"),
        os("week08"),
        class.path().as_os_str(),
        os("--out"),
        sharded.path().as_os_str(),
    ])
    .output()
    .expect("merge");
    let stdout = String::from_utf8_lossy(&merged.stdout);
    assert!(
        merged.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(
        stdout.contains("0 graded now, 3 found in the journal, 0 not graded"),
        "{stdout}"
    );
    assert_eq!(class_results(sharded.path()), class_results(single.path()));
    let joined = batch::journal::read(&sharded.path().join("journal.jsonl")).expect("joined");
    assert_eq!(joined.len(), 3);
}
