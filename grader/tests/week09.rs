//! Week 9 end to end: the reference solution and the starter built with their
//! own Dockerfiles on the local base images, judged by kubernetes-validate and
//! the course's policy in the `kubernetes` judge image, and run as a pod would
//! be (warm-up, drain). Each broken submission is a case of `cases/week09.toml`
//! (run by `cases.rs`, on the fixture pod); here, the real builds, and the
//! chapter's session as a real run.

mod support;

use std::collections::BTreeMap;

use grader::spec::LabSpec;
use support::{engine, lost};

fn week09() -> LabSpec {
    grader::spec::embedded_lab("week09")
        .expect("week09 is embedded")
        .expect("week09 is valid")
}

/// A copy of a folder of the workspace, without its build output.
fn copy_of(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    support::repo::copy_tree(&support::workspace().join(source), dir.path());
    dir
}

#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let dir = copy_of("solutions/week09-orchestration");
    let report = support::grade_with(
        &docker,
        week09(),
        dir.path(),
        grader::Audience::Student,
        support::real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100, "{report:#?}");
}

#[tokio::test]
async fn the_starter_earns_what_it_already_does_right() {
    let Some(docker) = engine().await else { return };
    let dir = copy_of("labs/week09-orchestration");
    let report = support::grade_with(
        &docker,
        week09(),
        dir.path(),
        grader::Audience::Student,
        support::real_build_args(),
    )
    .await;
    // A bare Deployment, valid but with nothing else; week 8's order of
    // events (ready the first time it is asked) and no drain. Liveness is
    // judged once ready, as the service is never seen loading; the request
    // in flight at SIGTERM is answered.
    assert_eq!(
        lost(&report),
        [
            "manifests.probes",
            "manifests.resources",
            "manifests.security",
            "manifests.image",
            "manifests.service",
            "manifests.autoscaling",
            "manifests.config",
            "readiness.loading",
            "shutdown.drain",
        ],
        "{report:#?}"
    );
    assert_eq!(report.score.earned, 30, "{report:#?}");
}

/// The chapter's hands-on session, run for real with the judge's
/// kubernetes-validate in the sandbox: the reference manifests, a misspelt
/// field with and without --strict, and an API that a later Kubernetes
/// removed.
const SESSION: &str = r##"
run() { printf '$ %s\n' "$1"; eval "$1" 2>&1; printf '[exit %s]\n\n' "$?"; }
cd /work/k8s
sed 's/readinessProbe:/readinesProbe:/' deployment.yaml > /work/typo.yaml
sed 's#autoscaling/v2$#autoscaling/v2beta2#' hpa.yaml > /work/hpa-beta.yaml
{
run "kubernetes-validate --strict -k 1.33.0 *.yaml"
run "grep -n 'readinesProbe' /work/typo.yaml"
run "kubernetes-validate -k 1.33.0 /work/typo.yaml"
run "kubernetes-validate --strict -k 1.33.0 /work/typo.yaml"
run "grep -n 'apiVersion: autoscaling' /work/hpa-beta.yaml"
run "kubernetes-validate --strict -k 1.25.0 /work/hpa-beta.yaml"
run "kubernetes-validate --strict -k 1.33.0 /work/hpa-beta.yaml"
} | sed 's#/work/##g'
"##;

#[tokio::test]
async fn the_chapters_transcript_is_a_real_run() {
    let Some(docker) = engine().await else { return };
    let k8s = support::workspace().join("solutions/week09-orchestration/k8s");
    let files: BTreeMap<String, String> = ["configmap", "deployment", "hpa", "service"]
        .iter()
        .map(|name| {
            let path = k8s.join(format!("{name}.yaml"));
            let text = std::fs::read_to_string(&path).expect("a reference manifest");
            (format!("k8s/{name}.yaml"), text)
        })
        .collect();
    let transcript = support::judge_session(
        &docker,
        &week09(),
        "kubernetes",
        SESSION,
        None,
        &files,
        None,
    )
    .await;
    support::assert_transcript(
        "week09-session.txt",
        &transcript,
        "--test week09 the_chapters_transcript_is_a_real_run",
    );
}
