//! The book's worked examples that run as containers, graded by the real
//! grader against a contract of their own (in `tests/book/`): the Dockerfile
//! a chapter prints builds, and the service it teaches from behaves as the
//! chapter says.

mod support;

use grader::Audience;
use grader::spec::LabSpec;
use support::{engine, grade_with, lost, real_build_args, workspace};

#[tokio::test]
async fn the_week8_iris_example_builds_and_keeps_its_contract() {
    let Some(docker) = engine().await else { return };
    let lab = LabSpec::from_dir(&workspace().join("grader/tests/book/iris-service"))
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = workspace().join("book/examples/iris-service");
    let report = grade_with(&docker, lab, &dir, Audience::Instructor, real_build_args()).await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, report.score.max);
}
