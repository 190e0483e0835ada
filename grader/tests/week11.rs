//! Week 11 end to end: the reference solution and the starter built with their
//! own Dockerfiles on the local base images, their metrics read around the
//! grader's traffic, and their rules and dashboard judged by Debian's
//! promtool in the `prometheus` judge image. Each broken submission is a case
//! of `cases/week11.toml` (run by `cases.rs`, on the fixture service); here,
//! the real builds, and the chapter's session as a real run.

mod support;

use std::collections::BTreeMap;

use grader::spec::LabSpec;
use support::{engine, lost};

fn week11() -> LabSpec {
    grader::spec::embedded_lab("week11")
        .expect("week11 is embedded")
        .expect("week11 is valid")
}

#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let report = support::grade_copy(&docker, week11(), "solutions/week11-monitoring").await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100, "{report:#?}");
}

#[tokio::test]
async fn the_starter_earns_what_it_already_does_right() {
    let Some(docker) = engine().await else { return };
    let report = support::grade_copy(&docker, week11(), "labs/week11-monitoring").await;
    // Week 8's service with its metrics and drift stubbed (nothing counted,
    // no drift gauge), skeleton rules and tests, a one-panel dashboard, no
    // Metrics section: only week 8's graceful shutdown earns its points.
    assert_eq!(
        lost(&report),
        [
            "metrics.counters",
            "metrics.exposition",
            "metrics.contract",
            "drift.in-distribution",
            "drift.shifted",
            "alerts.valid",
            "alerts.student-tests",
            "alerts.grader-test",
            "dashboard.queries",
            "readme",
        ],
        "{report:#?}"
    );
    assert_eq!(report.score.earned, 5, "{report:#?}");
}

/// The chapter's hands-on session, run for real with the judge's promtool in
/// the sandbox: the reference rules checked and unit-tested, a test that
/// expects the wrong thing, and an exposition that the linter refuses.
const SESSION: &str = r##"
run() { printf '$ %s\n' "$1"; eval "$1" 2>&1; printf '[exit %s]\n\n' "$?"; }
cd /work/monitoring
sed 's/eval_time: 19m$/eval_time: 21m/' alerts.test.yml > wrong.test.yml
printf '# HELP wine_cache_hits Cache hits.\n# TYPE wine_cache_hits counter\nwine_cache_hits 0\n' > /work/cache.txt
{
run "promtool check rules alerts.yml"
run "promtool test rules alerts.test.yml"
run "promtool test rules wrong.test.yml"
run "cat /work/cache.txt"
run "promtool check metrics < /work/cache.txt"
} | sed 's#/work/##g'
"##;

#[tokio::test]
async fn the_chapters_transcript_is_a_real_run() {
    let Some(docker) = engine().await else { return };
    let monitoring = support::workspace().join("solutions/week11-monitoring/monitoring");
    let files: BTreeMap<String, String> = ["alerts.yml", "alerts.test.yml"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(monitoring.join(name)).expect("a reference file");
            (format!("monitoring/{name}"), text)
        })
        .collect();
    let transcript = support::judge_session(
        &docker,
        &week11(),
        "prometheus",
        SESSION,
        None,
        &files,
        None,
    )
    .await;
    support::assert_transcript(
        "week11-session.txt",
        &transcript,
        "--test week11 the_chapters_transcript_is_a_real_run",
    );
}
