//! Week 10 end to end: the starter built with its own Dockerfile and judged by
//! the real DVC in the `dvc` judge image, with the program copied out of its
//! image. The reference solution and each broken copy of it are the cases of
//! `cases/week10.toml` (run by `cases.rs`); here, the starter's score, and
//! the chapter's session as a real run.

mod support;

use grader::spec::LabSpec;
use support::week10::repository;
use support::{engine, lost};

fn week10() -> LabSpec {
    grader::spec::embedded_lab("week10")
        .expect("week10 is embedded")
        .expect("week10 is valid")
}

#[tokio::test]
async fn the_starter_earns_what_it_already_does_right() {
    let Some(docker) = engine().await else { return };
    let dir = repository("labs/week10-reproducible-pipelines", &[]);
    let report = support::grade_with(
        &docker,
        week10(),
        dir.path(),
        grader::Audience::Student,
        support::real_build_args(),
    )
    .await;
    // Its stages are stubs and its pipeline has one stage, no lock and no
    // DVC folder; its command line already refuses a missing input.
    assert_eq!(
        lost(&report),
        [
            "pipeline.stages",
            "pipeline.reproduces",
            "pipeline.params-rerun",
            "pipeline.declared-deps",
            "experiments.tracked",
            "research-vs-production",
            "metrics.honest",
            "readme",
        ],
        "{report:#?}"
    );
    assert_eq!(report.score.earned, 10, "{report:#?}");
}

/// The chapter's hands-on session, run for real with the judge's dvc in the
/// sandbox, on a clone of the reference repository (no stage runs: the
/// commands read the pipeline, the lock and the parameters).
const SESSION: &str = r##"
run() { printf '$ %s\n' "$1"; eval "$1" 2>&1; printf '[exit %s]\n\n' "$?"; }
export DVC_NO_ANALYTICS=1 DVC_STUDIO_OFFLINE=1 DVC_SITE_CACHE_DIR=/work/.dvc-site
cp -a /work/tree /work/repo && cd /work/repo
git config user.email student@example.org && git config user.name Student
{
run "dvc dag"
run "dvc params diff"
run "sed -i 's/max_depth: 4/max_depth: 6/' params.yaml && dvc params diff"
run "dvc status train"
run "dvc status -q train"
} | sed 's#/work/##g'
"##;

#[tokio::test]
async fn the_chapters_transcript_is_a_real_run() {
    let Some(docker) = engine().await else { return };
    let dir = repository(support::week10::SOLUTION, &[]);
    let tree = grader::context::pack_tree(dir.path(), 64, true).expect("the tree");
    let transcript = support::judge_session(
        &docker,
        &week10(),
        "dvc",
        SESSION,
        Some(&tree.tar),
        &Default::default(),
        None,
    )
    .await;
    support::assert_transcript(
        "week10-session.txt",
        &transcript,
        "--test week10 the_chapters_transcript_is_a_real_run",
    );
}
