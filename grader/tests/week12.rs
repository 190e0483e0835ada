//! Week 12 end to end: the reference solution and the starter built with their
//! own Dockerfiles on the local base images and graded in full. Each broken
//! submission is a case of `cases/week12.toml` (run by `cases.rs`, on the
//! fixture tool); here, the real builds, and the chapter's session as a real
//! run of the reference's command line on the lab's own damaged files.

mod support;

use std::path::Path;
use std::process::Command;

use grader::spec::{CheckKind, LabSpec};
use support::{engine, lost};

fn week12() -> LabSpec {
    grader::spec::embedded_lab("week12")
        .expect("week12 is embedded")
        .expect("week12 is valid")
}

#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let report = support::grade_copy(&docker, week12(), "solutions/week12-data-experiments").await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100, "{report:#?}");
}

#[tokio::test]
async fn the_starter_earns_what_it_already_does_right() {
    let Some(docker) = engine().await else { return };
    // The command line, the file formats and the throughput are given; the
    // row checks, the label problems, the selection rule and the importance
    // are todo!(), so those commands panic, and the README's sections are to
    // write. A wrong header is refused before any row is read: 5 points.
    support::starter_loses(
        &docker,
        week12(),
        "labs/week12-data-experiments",
        STARTER_LOSES,
    )
    .await;
}

const STARTER_LOSES: &[&str] = &[
    "validate.damaged",
    "validate.reasons",
    "validate.locations",
    "validate.limit",
    "validate.duplicates",
    "labels",
    "labels.problems",
    "labels.resolved",
    "sweep",
    "sweep.log",
    "sweep.best",
    "sweep.deterministic",
    "report",
    "report.constant-column",
    "report.importance",
    "report.throughput",
    "readme",
];

/// The chapter's session: the reference's command line (the fixture tool in
/// its reference mode is week 12's library behind `wine_experiments::cli`)
/// on the lab's damaged files and the wine data. The throughput's time is
/// the one thing that changes from run to run; the transcript shows it as
/// `…`.
#[test]
fn the_chapters_session_is_a_real_run() {
    let work = tempfile::tempdir().expect("tempdir");
    for check in week12().checks {
        if let CheckKind::Command(spec) = &check.kind {
            for (path, text) in &spec.files {
                let name = Path::new(path).file_name().expect("a file name");
                std::fs::write(work.path().join(name), text).expect("write a lab file");
            }
        }
    }
    let solution = support::workspace().join("solutions/week12-data-experiments");
    std::fs::create_dir_all(work.path().join("data")).expect("data/");
    std::fs::copy(
        solution.join("data/winequality-red.csv"),
        work.path().join("data/winequality-red.csv"),
    )
    .expect("the wine data");
    let tool = support::fixture("fixture-week12");
    let mut transcript = String::new();
    let mut run = |line: &str| {
        transcript.push_str(&format!("$ {line}\n"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let output = if words[0] == "cat" {
            let text = std::fs::read_to_string(work.path().join(words[1])).expect("cat");
            (text, String::new(), 0)
        } else {
            let out = Command::new(&tool)
                .args(["--mode", "reference"])
                .args(&words[1..])
                .current_dir(work.path())
                .output()
                .expect("run the tool");
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
                out.status.code().unwrap_or(-1),
            )
        };
        transcript.push_str(&output.0);
        transcript.push_str(&output.1);
        transcript.push_str(&format!("[exit {}]\n\n", output.2));
    };
    for line in SESSION {
        run(line);
    }
    let timing = regex::Regex::new(r"in [0-9.]+ s = [0-9]+ rows/s").expect("regex");
    let transcript = timing.replace_all(&transcript, "in … s = … rows/s");
    support::assert_transcript(
        "week12-session.txt",
        &transcript,
        "--test week12 the_chapters_session_is_a_real_run",
    );
}

const SESSION: &[&str] = &[
    "wine-experiments validate --input damaged.csv --out validated",
    "cat validated/quarantine.csv",
    "wine-experiments validate --input twins.csv --out twins --max-quarantined 10",
    "wine-experiments validate --input swapped.csv --out swapped",
    "wine-experiments labels --input annotations.csv --out labels",
    "cat labels/review.csv",
    "wine-experiments sweep --input data/winequality-red.csv --out sweep",
    "cat sweep/best.json",
    "wine-experiments report --model sweep/model.json --input data/winequality-red.csv --out report",
];
