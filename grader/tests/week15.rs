//! Week 15 end to end: the starter, built with its own Dockerfile, graded by
//! the checks week 15 composes from weeks 4, 8, 9, 10 and 11 and by its own.
//! The reference project and each broken copy of it are the cases of
//! `cases/week15.toml` (run by `cases.rs`); here, what the starter loses, and
//! its report as the chapter shows it: a student's first run.

mod support;

use grader::spec::LabSpec;
use support::week10::repository;
use support::{engine, lost};

fn week15() -> LabSpec {
    grader::spec::embedded_lab("week15")
        .expect("week15 is embedded")
        .expect("week15 is valid")
}

#[tokio::test]
async fn the_starter_shows_the_whole_backlog_and_the_chapter_its_report() {
    let Some(docker) = engine().await else { return };
    let spec = week15();
    let dir = repository("labs/week15-final-project", &[]);
    let report = support::grade_with(
        &docker,
        spec.clone(),
        dir.path(),
        grader::Audience::Student,
        support::real_build_args(),
    )
    .await;
    // The image's build runs the pipeline's steps to train the model it
    // ships, and they stop at the dispatch's todo!: no image, so every check
    // of the image, the service or a pipeline run is lost, and the report has
    // headings only. What the earlier weeks' files are judged on alone (the
    // policy, the manifests, the rules) passes.
    let kept = [
        "week04.policy.deny-toml",
        "week04.policy.cargo-deny",
        "week04.secrets.none",
        "week09.manifests.valid",
        "week09.manifests.probes",
        "week09.manifests.resources",
        "week09.manifests.security",
        "week09.manifests.image",
        "week09.manifests.service",
        "week09.manifests.autoscaling",
        "week09.manifests.config",
        "week11.alerts.valid",
        "week11.alerts.student-tests",
        "week11.alerts.grader-test",
    ];
    let visible = |id: &str| {
        spec.checks
            .iter()
            .any(|c| c.id == id && c.visibility == grader::spec::Visibility::Visible)
    };
    let loses: Vec<&str> = spec
        .checks
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| !kept.contains(id) && visible(id))
        .collect();
    assert_eq!(lost(&report), loses, "{report:#?}");
    support::assert_transcript(
        "week15-starter.md",
        &grader::report::markdown(&report),
        "--test week15 the_starter_shows_the_whole_backlog",
    );
}
