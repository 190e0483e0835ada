//! Week 8 end to end, beyond the example submissions of `cases/week08.toml`
//! (run by `cases.rs`, each against its golden report): what a student's
//! report withholds, the image cache, and images that ask for more than the
//! sandbox gives.

mod support;

use support::{Image, engine, grade, lost, submission, week08};

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
