//! Week 4 end to end, beyond the example submissions of `cases/week04.toml`
//! (run by `cases.rs`): the reference solution, built from its real Dockerfile
//! in a repository with a clean history, scores full marks, and failing checks
//! say what to fix without repeating a secret, and the chapter's `cargo deny`
//! transcript is a real run.

mod support;

use grader::spec::LabSpec;
use support::repo::{commit, copy_tree, init};
use support::week04::{Repo, fixture_submission, solution_dir};
use support::{engine, grade, grade_with, lost, real_build_args};

fn week04() -> LabSpec {
    grader::spec::embedded_lab("week04")
        .expect("week04 is embedded")
        .expect("week04 is valid")
}

#[tokio::test]
async fn failing_checks_say_what_to_fix() {
    let Some(docker) = engine().await else { return };
    let dir = fixture_submission("unpinned", Repo::LeakedKeyInHistory);
    let report = grade(&docker, week04(), dir.path()).await;
    let message = |id: &str| {
        support::verdict_of(&report, id)
            .message
            .clone()
            .unwrap_or_default()
    };
    let tampered = message("artifact.tampered");
    assert!(!tampered.is_empty(), "{report:#?}");
    let secrets = message("secrets.none");
    assert!(secrets.contains("deploy.env"), "{secrets}");
    assert!(
        !secrets.contains("Q3VZ7N2KD5XW4TLM"),
        "never the secret: {secrets}"
    );
    eprintln!("artifact.tampered: {tampered}");
    eprintln!("secrets.none: {secrets}");
}

/// The one real build of this lab: the reference solution's own Dockerfile,
/// in a repository with a clean history.
#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&solution_dir(), dir.path());
    init(dir.path());
    commit(dir.path(), &["."], "feat: the hardened wine service");
    let report = grade_with(
        &docker,
        week04(),
        dir.path(),
        grader::Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100);
    eprintln!("build took {} ms", report.timings.build_ms);
}

/// The chapter's hands-on `cargo deny` session, run for real with the judge's
/// cargo-deny in the sandbox, offline: the chapter's policy
/// (`book/examples/deny.toml`) against the week-4 starter's crates, then the
/// same policy with one licence taken out of `allow`.
const DENY_SESSION: &str = r#"
run() { printf '$ %s\n' "$*"; "$@" > /tmp/out 2>&1; code=$?; cat /tmp/out; printf '[exit %s]\n\n' "$code"; }
cd /work/tree
run cargo-deny --version
run cargo-deny --offline --locked --color never --config ../deny.toml check --hide-inclusion-graph bans licenses sources
sed 's/ "Unicode-3.0",//' ../deny.toml > /tmp/strict.toml
run grep -n '^allow' /tmp/strict.toml
run cargo-deny --offline --locked --color never --config /tmp/strict.toml check --hide-inclusion-graph licenses
"#;

#[tokio::test]
async fn the_chapters_cargo_deny_session_is_a_real_run() {
    let Some(docker) = engine().await else { return };
    let lab = week04();
    let starter = support::workspace().join("labs/week04-devsecops");
    let tree = grader::context::pack_tree(&starter, lab.build.context_limit_mb, false)
        .expect("the starter packs")
        .tar;
    let policy = std::fs::read_to_string(support::workspace().join("book/examples/deny.toml"))
        .expect("the chapter's deny.toml");
    let files = [("deny.toml".to_string(), policy)].into_iter().collect();
    let transcript = support::judge_session(
        &docker,
        &lab,
        "cargo-deny",
        DENY_SESSION,
        Some(&tree),
        &files,
        None,
    )
    .await;
    // The session shows what the chapter says it shows: the policy passes,
    // and without Unicode-3.0 the one crate under that licence fails it.
    for step in [
        "bans ok, licenses ok, sources ok\n[exit 0]",
        "unicode-ident",
        "licenses FAILED\n[exit 4]",
    ] {
        assert!(transcript.contains(step), "no {step:?} in:\n{transcript}");
    }
    support::assert_transcript(
        "week04-cargo-deny.txt",
        &transcript,
        "--test week04 cargo_deny_session",
    );
}
