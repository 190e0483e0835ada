//! The real lab folders, built from their real multi-stage Dockerfiles: the
//! reference solution scores full marks and the starter scores low, not zero.
//!
//! No image can be pulled here, so the Dockerfiles' base images are given as
//! build arguments naming local stand-ins made by `cargo xtask base-images`
//! (GRADER_TEST_BUILD_ARGS); on a machine with a registry the defaults work.

mod support;

use grader::Audience;
use support::{engine, grade_with, lost, real_build_args, repo, week08, workspace};

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

/// Grades the lab folder `folder` with the embedded lab `lab`, built from its
/// real Dockerfile; `None` when there is no engine (outside CI).
async fn grade_real(lab: &str, folder: &str) -> Option<(grader::Report, u32)> {
    let docker = engine().await?;
    base_images_present(&docker).await;
    let spec = grader::spec::embedded_lab(lab)
        .expect("embedded")
        .expect("valid");
    let max = spec.max_points();
    let dir = workspace().join(folder);
    let report = grade_with(&docker, spec, &dir, Audience::Instructor, real_build_args()).await;
    Some((report, max))
}

/// A reference solution of a lab without a service: one real build per lab.
async fn reference_scores_full_marks(lab: &str, folder: &str) {
    let Some((report, _)) = grade_real(lab, folder).await else {
        return;
    };
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

/// Week 4's reference, in a git repository of its own as a student's is: its
/// history is scanned for secrets.
#[tokio::test]
async fn the_week04_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    base_images_present(&docker).await;
    let spec = grader::spec::embedded_lab("week04")
        .expect("embedded")
        .expect("valid");
    let dir = tempfile::tempdir().expect("tempdir");
    repo::copy_tree(&workspace().join("solutions/week04-devsecops"), dir.path());
    // How `cargo xtask labs` makes the starter: not part of a submission.
    std::fs::remove_dir_all(dir.path().join(".starter")).expect("rm .starter");
    std::fs::remove_file(dir.path().join(".lab.toml")).expect("rm .lab.toml");
    repo::init(dir.path());
    repo::commit(dir.path(), &["."], "feat: the hardened wine service");
    let report = grade_with(
        &docker,
        spec,
        dir.path(),
        Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100);
}

/// Grades a lab's starter, built from its real Dockerfile (as a student's
/// first push is): it must score something, so the student sees the grader
/// work, and not everything, so the lab is still to do.
async fn starter_scores_between_zero_and_full(lab: &str, folder: &str) {
    let Some((report, max)) = grade_real(lab, folder).await else {
        return;
    };
    assert!(
        report.score.earned > 0 && report.score.earned < max,
        "the {lab} starter scored {} of {max}: {report:#?}",
        report.score.earned
    );
}

#[tokio::test]
async fn the_week01_starter_scores_between_zero_and_full() {
    starter_scores_between_zero_and_full("week01", "labs/week01-baseline").await;
}

#[tokio::test]
async fn the_week02_starter_scores_between_zero_and_full() {
    starter_scores_between_zero_and_full("week02", "labs/week02-winequality").await;
}

#[tokio::test]
async fn the_week03_starter_scores_between_zero_and_full() {
    starter_scores_between_zero_and_full("week03", "labs/week03-gitops").await;
}

#[tokio::test]
async fn the_week04_starter_scores_between_zero_and_full() {
    starter_scores_between_zero_and_full("week04", "labs/week04-devsecops").await;
}
