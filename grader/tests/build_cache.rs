//! The layer cache of the grader's builds: a rebuild after a change re-runs
//! only the instructions from the changed one on, an earlier stage stays
//! cached under a tag of its own, and removing the build removes it all.

mod support;

use grader::context;
use grader::docker::{build, sweep};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use support::engine;

/// A two-stage build whose first stage writes 16 random bytes: a second build
/// has the same bytes only if it reused the first one's layer.
const DOCKERFILE: &str = "ARG BUILDER_IMAGE\nARG RUNTIME_IMAGE\n\
FROM ${BUILDER_IMAGE} AS build\n\
RUN head -c 16 /dev/urandom | od -An -tx1 > /stamp\n\
FROM ${RUNTIME_IMAGE}\n\
COPY --from=build /stamp /stamp\n\
COPY note.txt /note.txt\n";

fn limits() -> build::BuildLimits {
    build::BuildLimits {
        timeout: Duration::from_secs(300),
        memory_mb: 1024,
        cpus: 1.0,
    }
}

/// Builds `dir` as the grader does; returns the tag and the image's layers.
async fn build_folder(docker: &bollard::Docker, dir: &Path) -> (String, Vec<String>) {
    let args: BTreeMap<String, String> = support::real_build_args();
    let ctx = context::pack(dir, 10).expect("pack");
    let tag = build::cache_tag("cache-test", &ctx, &args, &[]);
    let built = build::build(docker, "cache-test", &ctx, &tag, &args, &limits(), &|_| {})
        .await
        .expect("engine");
    if let Err(failure) = built {
        panic!("the build failed: {failure:?}");
    }
    let image = docker.inspect_image(&tag).await.expect("inspect");
    let layers = image.root_fs.and_then(|r| r.layers).unwrap_or_default();
    (tag, layers)
}

#[tokio::test]
async fn a_rebuild_reuses_the_earlier_stage_and_removing_the_build_removes_it() {
    let Some(docker) = engine().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE).expect("write");
    // Unique per run, so that no earlier run's cache answers the first build.
    let nonce = format!("{:?}\n", std::time::SystemTime::now());
    std::fs::write(dir.path().join("note.txt"), &nonce).expect("write");
    let (first, first_layers) = build_folder(&docker, dir.path()).await;
    let stage = format!("{first}-stage1");
    let stage_id = docker
        .inspect_image(&stage)
        .await
        .expect("the build stage is kept under its own tag")
        .id
        .expect("id");

    std::fs::write(dir.path().join("note.txt"), format!("{nonce}changed\n")).expect("write");
    let (second, second_layers) = build_folder(&docker, dir.path()).await;
    assert_ne!(first, second, "a changed file is a new build");
    // Layers: the runtime base's, /stamp's, /note.txt's.
    let stamp = |layers: &[String]| layers[layers.len() - 2].clone();
    assert_eq!(
        stamp(&first_layers),
        stamp(&second_layers),
        "the random stamp changed: the RUN of the build stage ran again"
    );
    assert_ne!(first_layers.last(), second_layers.last());

    for tag in [&first, &second] {
        assert_eq!(sweep::remove_build(&docker, tag).await.expect("remove"), 2);
    }
    assert!(docker.inspect_image(&stage).await.is_err());
    assert!(
        docker.inspect_image(&stage_id).await.is_err(),
        "the stage's layers outlived its tag"
    );
}
