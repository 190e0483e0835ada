//! A grader killed with SIGKILL in the middle of a grade cannot tidy up; the
//! next run must sweep what it left and still grade correctly.

mod support;

use bollard::query_parameters::ListContainersOptionsBuilder;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::{Image, engine, submission};

/// Containers whose owner label names process `pid` on this host.
async fn owned_by(docker: &bollard::Docker, pid: u32) -> Vec<String> {
    let filters = HashMap::from([("label", vec![grader::docker::labels::OWNER.to_string()])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let prefix = format!("{}/{pid}/", host.trim());
    docker
        .list_containers(Some(opts))
        .await
        .expect("list containers")
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get(grader::docker::labels::OWNER))
                .is_some_and(|o| o.starts_with(&prefix))
        })
        .filter_map(|c| c.id)
        .collect()
}

#[tokio::test]
async fn a_grader_killed_mid_grade_is_swept_by_the_next_run() {
    let Some(docker) = engine().await else { return };
    let grader_exe = assert_cmd::cargo::cargo_bin("grader");
    // A submission that never becomes ready keeps the first grader waiting.
    let stuck = submission("sleep-forever", Image::Good, &[]);
    let mut first = std::process::Command::new(&grader_exe)
        .args(["grade", "week08"])
        .arg(stuck.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the grader");
    let pid = first.id();
    // Wait until its submission and probe containers exist, then SIGKILL it.
    let t = Instant::now();
    let mut left = Vec::new();
    while t.elapsed() < Duration::from_secs(120) {
        left = owned_by(&docker, pid).await;
        if left.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    first.kill().expect("SIGKILL the grader");
    first.wait().expect("reap it");
    assert!(
        left.len() >= 2,
        "the first grader made no containers in time"
    );
    assert_eq!(
        owned_by(&docker, pid).await.len(),
        left.len(),
        "a killed grader cannot tidy up: its containers are still there"
    );

    // A new run sweeps them at start and grades its own submission correctly.
    let good = submission("reference", Image::Good, &[]);
    let out = std::process::Command::new(&grader_exe)
        .args(["grade", "week08"])
        .arg(good.path())
        .args(["--audience", "instructor", "--print-json"])
        .output()
        .expect("run the grader");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["score"]["earned"], 100, "{report:#}");
    assert_eq!(
        owned_by(&docker, pid).await,
        Vec::<String>::new(),
        "the dead grader's containers were not swept"
    );
}
