//! The real lab folders, built from their real multi-stage Dockerfiles: the
//! reference solution scores full marks and the starter scores low, not zero.
//!
//! No image can be pulled here, so the Dockerfiles' base images are given as
//! build arguments naming local stand-ins made by `cargo xtask base-images`
//! (GRADER_TEST_BUILD_ARGS); on a machine with a registry the defaults work.

mod support;

use grader::Audience;
use support::{engine, grade_with, lost, real_build_args, week08, workspace};

async fn base_images_present(docker: &bollard::Docker) {
    for (_, image) in real_build_args() {
        assert!(
            docker.inspect_image(&image).await.is_ok(),
            "the local base image {image} is missing: run `cargo xtask base-images`"
        );
    }
}

#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    base_images_present(&docker).await;
    let dir = workspace().join("solutions/week08-model-service");
    let report = grade_with(
        &docker,
        week08(),
        &dir,
        Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100);
    assert_golden!("solution-week08", &report);
}

#[tokio::test]
async fn the_starter_scores_low_but_not_zero() {
    let Some(docker) = engine().await else { return };
    base_images_present(&docker).await;
    let dir = workspace().join("labs/week08-model-service");
    let report = grade_with(
        &docker,
        week08(),
        &dir,
        Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert!(
        report.score.earned > 0 && report.score.earned <= 50,
        "starter scored {}: {report:#?}",
        report.score.earned
    );
    assert_golden!("starter-week08", &report);
}

/// Grades a reference solution of a lab without a service from its real
/// Dockerfile: one real build per lab, the only one in the suite.
async fn reference_scores_full_marks(lab: &str, folder: &str) {
    let Some(docker) = engine().await else { return };
    base_images_present(&docker).await;
    let spec = grader::spec::embedded_lab(lab)
        .expect("embedded")
        .expect("valid");
    let report = grade_with(
        &docker,
        spec,
        &workspace().join(folder),
        Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100);
}

#[tokio::test]
async fn the_week01_reference_solution_scores_full_marks() {
    reference_scores_full_marks("week01", "solutions/week01-baseline").await;
}

#[tokio::test]
async fn the_week02_reference_solution_scores_full_marks() {
    reference_scores_full_marks("week02", "solutions/week02-winequality").await;
}
