//! Week 8 end to end: the reference scores full marks, and each broken example
//! submission loses exactly the rubric item it breaks, no more, no less.

mod support;

use grader::result::ContainerVerdict;
use support::{Image, engine, grade, lost, submission, week08};

/// Grades the fixture in `mode` packaged as `image` and checks what it lost.
async fn loses_exactly(mode: &str, image: Image, items: &[&str], golden: &str) {
    let Some(docker) = engine().await else { return };
    let dir = submission(mode, image, &[]);
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    assert_eq!(lost(&report), items, "{report:#?}");
    let expected: u32 = report.score.max
        - report
            .checks
            .iter()
            .filter(|c| items.contains(&c.id.as_str()))
            .map(|c| c.points)
            .sum::<u32>();
    assert_eq!(report.score.earned, expected);
    assert_golden!(golden, &report);
}

#[tokio::test]
async fn the_reference_fixture_scores_full_marks() {
    loses_exactly("reference", Image::Good, &[], "reference").await;
}

macro_rules! broken {
    ($($name:ident: $mode:expr, $image:expr => $item:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            loses_exactly($mode, $image, &[$item], concat!("broken-", stringify!($name))).await;
        }
    )*};
}

broken! {
    no_user: "reference", Image::NoUser => "image.non-root";
    root_user: "reference", Image::RootUser => "image.non-root";
    oversized_image: "reference", Image::Oversized => "image.size";
    no_expose: "reference", Image::NoExpose => "image.exposes-port";
    no_label: "reference", Image::NoLabel => "image.labels";
    health_body: "health-body", Image::Good => "health";
    no_model_version: "no-model-version", Image::Good => "predict.contract";
    batch_cap_100: "batch-cap-100", Image::Good => "predict.batch";
    constant_five: "constant-five", Image::Good => "predict.quality";
    accept_missing_field: "accept-missing-field", Image::Good => "validation.missing-field";
    accept_unknown_field: "accept-unknown-field", Image::Good => "validation.unknown-field";
    wrong_type_400: "wrong-type-400", Image::Good => "validation.wrong-type";
    no_range_check: "no-range-check", Image::Good => "validation.out-of-range";
    range_lower_only: "range-lower-only", Image::Good => "validation.out-of-range";
    range_alcohol_only: "range-alcohol-only", Image::Good => "validation.out-of-range";
    no_batch_limit: "no-batch-limit", Image::Good => "validation.batch-size";
    malformed_400: "malformed-400", Image::Good => "validation.malformed-json";
    body_limit_2mib: "body-limit-2mib", Image::Good => "validation.body-limit";
    body_limit_1088k: "body-limit-1088k", Image::Good => "validation.body-limit";
    no_version: "no-version", Image::Good => "version";
    no_openapi: "no-openapi", Image::Good => "openapi";
    die_on_sigterm: "die-on-sigterm", Image::Good => "shutdown.sigterm";
    quit_on_sigterm: "quit-on-sigterm", Image::Good => "shutdown.sigterm";
}

/// Wrong solutions that a rubric naming only the word would pass: the error
/// names the feature in its message, but `field` is null, or the feature
/// without the input it is in. The contract says `inputs[0].ph`.
#[tokio::test]
async fn a_field_of_null_loses_every_check_that_names_one() {
    let items = [
        "validation.missing-field",
        "validation.unknown-field",
        "validation.wrong-type",
        "validation.out-of-range",
        "validation.batch-size",
    ];
    loses_exactly("field-null", Image::Good, &items, "wrong-field_null").await;
}

#[tokio::test]
async fn a_field_without_its_input_loses_the_checks_of_one_input() {
    let items = [
        "validation.missing-field",
        "validation.unknown-field",
        "validation.wrong-type",
        "validation.out-of-range",
    ];
    loses_exactly(
        "field-unindexed",
        Image::Good,
        &items,
        "wrong-field_unindexed",
    )
    .await;
}

/// uvicorn's way of stopping: the request in flight is answered, the server
/// shuts down cleanly, then exits 143 by re-raising SIGTERM. That is graceful.
#[tokio::test]
async fn a_clean_shutdown_that_exits_143_scores_full_marks() {
    loses_exactly("reraise-sigterm", Image::Good, &[], "reraise-sigterm").await;
}

#[test]
fn every_rubric_item_has_a_broken_submission() {
    // The list above, kept in step with the rubric: a new check without a broken
    // example fails here.
    let covered = [
        "image.non-root",
        "image.size",
        "image.exposes-port",
        "image.labels",
        "health",
        "predict.contract",
        "predict.batch",
        "predict.quality",
        "validation.missing-field",
        "validation.unknown-field",
        "validation.wrong-type",
        "validation.out-of-range",
        "validation.batch-size",
        "validation.malformed-json",
        "validation.body-limit",
        "version",
        "openapi",
        "shutdown.sigterm",
    ];
    let lab = week08();
    let ids: Vec<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, covered);
}

#[tokio::test]
async fn a_student_report_runs_no_hidden_check_and_says_so() {
    let Some(docker) = engine().await else { return };
    let dir = submission("reference", Image::Good, &[]);
    let report = support::grade_with(
        &docker,
        week08(),
        dir.path(),
        grader::Audience::Student,
        Default::default(),
    )
    .await;
    assert!(report.checks.iter().all(|c| c.id != "predict.quality"));
    let withheld = report.withheld.as_ref().expect("withheld hidden checks");
    assert_eq!((withheld.checks, withheld.points), (1, 10));
    assert_eq!((report.score.earned, report.score.max), (90, 90));
    let json = grader::report::json(&report);
    assert!(!json.contains("predict.quality") && !json.contains("accuracy"));
}

#[tokio::test]
async fn a_regrade_uses_the_cached_image_and_gives_the_same_score() {
    let Some(docker) = engine().await else { return };
    let dir = submission("no-version", Image::Good, &[]);
    let first = grade(&docker, week08(), dir.path()).await;
    let second = grade(&docker, week08(), dir.path()).await;
    assert!(
        second.container.cached_image,
        "the second grade must not rebuild"
    );
    assert_eq!(first.score.earned, second.score.earned);
    assert_eq!(lost(&first), lost(&second));
}

#[tokio::test]
async fn the_sandbox_ignores_what_the_image_asks_for() {
    // A declared volume, SIGKILL as stop signal and a forged owner label change
    // nothing: full marks, and the container is swept like any other.
    let Some(docker) = engine().await else { return };
    let dir = submission("reference", Image::Tricky, &[]);
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
}

/// Builds `tag` FROM scratch holding the fixture binary and a marker file.
async fn base_image(docker: &bollard::Docker, tag: &str, marker: &str) {
    use futures_util::StreamExt;
    let mut tar = tar::Builder::new(Vec::new());
    let program = std::fs::read(support::fixture_bin()).expect("fixture");
    let mut header = tar::Header::new_gnu();
    header.set_size(program.len() as u64);
    header.set_mode(0o755);
    tar.append_data(&mut header, "fixture-week08", program.as_slice())
        .expect("append fixture");
    let files = [
        ("marker", marker.to_string()),
        (
            "Dockerfile",
            "FROM scratch\nCOPY fixture-week08 /app/fixture-week08\nCOPY marker /marker\n\
             LABEL dev.mlops-course.grader=true\n"
                .to_string(),
        ),
    ];
    for (name, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, body.as_bytes())
            .expect("append");
    }
    let body = tar.into_inner().expect("tar");
    let opts = bollard::query_parameters::BuildImageOptionsBuilder::default()
        .t(tag)
        .rm(true)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(body.into())));
    while let Some(item) = stream.next().await {
        let info = item.expect("build");
        assert!(info.error_detail.is_none(), "{info:?}");
    }
}

#[tokio::test]
async fn a_rebuilt_base_image_is_a_new_build_not_a_stale_cache_hit() {
    let Some(docker) = engine().await else { return };
    let tag = format!("grader-test/base:{}", std::process::id());
    base_image(&docker, &tag, "one").await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "ARG BASE=none\nFROM ${BASE}\nLABEL org.opencontainers.image.title=x\nUSER 65532\nEXPOSE 8080\n\
         ENTRYPOINT [\"/app/fixture-week08\", \"--mode\", \"reference\"]\n",
    )
    .expect("write");
    let args = std::collections::BTreeMap::from([("BASE".to_string(), tag.clone())]);
    let grade = |a| {
        support::grade_with(
            &docker,
            week08(),
            dir.path(),
            grader::Audience::Instructor,
            a,
        )
    };
    let first = grade(args.clone()).await;
    assert_eq!(first.score.earned, 100, "{first:#?}");
    assert!(
        grade(args.clone()).await.container.cached_image,
        "same base: cached"
    );
    base_image(&docker, &tag, "two").await;
    let third = grade(args.clone()).await;
    assert!(
        !third.container.cached_image,
        "a rebuilt base must not reuse the old image"
    );
    assert_eq!(third.score.earned, 100);
    let rm = bollard::query_parameters::RemoveImageOptionsBuilder::default()
        .force(true)
        .build();
    let _ = docker.remove_image(&tag, Some(rm), None).await;
}
