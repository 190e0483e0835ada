//! Week 4 end to end, beyond the example submissions of `cases/week04.toml`
//! (run by `cases.rs`): the reference solution, built from its real Dockerfile
//! in a repository with a clean history, scores full marks, and failing checks
//! say what to fix without repeating a secret.

mod support;

use grader::spec::LabSpec;
use support::repo::{commit, copy_tree, init};
use support::week04::{Repo, fixture_submission, solution_dir};
use support::{engine, grade, grade_with, lost, real_build_args};

fn week04() -> LabSpec {
    grader::spec::embedded_lab("week04")
        .expect("week04 is embedded")
        .expect("week04 is valid")
}

#[tokio::test]
async fn failing_checks_say_what_to_fix() {
    let Some(docker) = engine().await else { return };
    let dir = fixture_submission("unpinned", Repo::LeakedKeyInHistory);
    let report = grade(&docker, week04(), dir.path()).await;
    let message = |id: &str| {
        support::verdict_of(&report, id)
            .message
            .clone()
            .unwrap_or_default()
    };
    let tampered = message("artifact.tampered");
    assert!(!tampered.is_empty(), "{report:#?}");
    let secrets = message("secrets.none");
    assert!(secrets.contains("deploy.env"), "{secrets}");
    assert!(
        !secrets.contains("Q3VZ7N2KD5XW4TLM"),
        "never the secret: {secrets}"
    );
    eprintln!("artifact.tampered: {tampered}");
    eprintln!("secrets.none: {secrets}");
}

/// The one real build of this lab: the reference solution's own Dockerfile,
/// in a repository with a clean history.
#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&solution_dir(), dir.path());
    init(dir.path());
    commit(dir.path(), &["."], "feat: the hardened wine service");
    let report = grade_with(
        &docker,
        week04(),
        dir.path(),
        grader::Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100);
    eprintln!("build took {} ms", report.timings.build_ms);
}
