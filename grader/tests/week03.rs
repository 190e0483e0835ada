//! Week 3 end to end, beyond the example submissions of `cases/week03.toml`
//! (run by `cases.rs`): the real reference solution, given a real history in a
//! temporary repository, scores full marks, and failing checks say what to fix.

mod support;

use grader::spec::LabSpec;
use support::repo::copy_tree;
use support::week03::{Repo, fixture_submission, history, solution_dir};
use support::{engine, grade, grade_with, lost, real_build_args};

fn week03() -> LabSpec {
    grader::spec::embedded_lab("week03")
        .expect("week03 is embedded")
        .expect("week03 is valid")
}

#[tokio::test]
async fn failing_checks_say_what_to_fix() {
    let Some(docker) = engine().await else { return };
    let dir = fixture_submission("panic-on-missing", Repo::WrongTag);
    let report = grade(&docker, week03(), dir.path()).await;
    let message = |id: &str| {
        support::verdict_of(&report, id)
            .message
            .clone()
            .unwrap_or_default()
    };
    let m = message("bad-input.missing-file");
    assert!(
        m.starts_with(
            "`fixture-week03 reconcile --desired desired.toml --live no-such-live.toml`: panicked"
        ),
        "{m}"
    );
    let m = message("git.release-tag");
    assert!(m.contains("0.1.0") && m.contains("v0.0.9"), "{m}");
    eprintln!(
        "bad-input.missing-file: {}",
        message("bad-input.missing-file")
    );
    eprintln!("git.release-tag: {}", message("git.release-tag"));
}

/// The one real build of this lab: the reference solution's own Dockerfile,
/// in a repository with a good history.
#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&solution_dir(), dir.path());
    history(dir.path(), Repo::Good);
    let report = grade_with(
        &docker,
        week03(),
        dir.path(),
        grader::Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100);
    eprintln!("build took {} ms", report.timings.build_ms);
}
