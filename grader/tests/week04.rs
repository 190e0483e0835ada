//! Week 4 end to end: the reference solution, built from its real Dockerfile in
//! a repository with a clean history, scores full marks; each broken submission
//! (a fixture mode, or a file or commit of the repository) loses exactly the
//! rubric item it breaks.

mod support;

use std::path::Path;

use grader::result::ContainerVerdict;
use grader::spec::LabSpec;
use support::repo::{commit, copy_tree, init};
use support::{Image, engine, grade, grade_with, lost, real_build_args, submission, workspace};

fn week04() -> LabSpec {
    grader::spec::embedded_lab("week04")
        .expect("week04 is embedded")
        .expect("week04 is valid")
}

fn solution_dir() -> std::path::PathBuf {
    workspace().join("solutions/week04-devsecops")
}

/// How a submission's repository differs from a good one.
#[derive(Clone, Copy, PartialEq)]
enum Repo {
    Good,
    /// deny.toml has no `[bans]` table.
    DenyWithoutBans,
    /// An AWS access key was committed, then deleted in a later commit: the
    /// tree is clean, the history is not.
    LeakedKeyInHistory,
}

/// The reference policy, or the variant `repo` asks for.
fn deny_toml(repo: Repo) -> String {
    let policy = std::fs::read_to_string(solution_dir().join("deny.toml")).expect("deny.toml");
    if repo != Repo::DenyWithoutBans {
        return policy;
    }
    let start = policy.find("[bans]").expect("[bans] in the reference");
    let end = policy.find("[sources]").expect("[sources] after it");
    format!("{}{}", &policy[..start], &policy[end..])
}

/// Writes deny.toml and makes the folder a git repository with a history.
fn history(dir: &Path, repo: Repo) {
    std::fs::write(dir.join("deny.toml"), deny_toml(repo)).expect("deny.toml");
    init(dir);
    commit(dir, &["."], "feat: the hardened wine service");
    if repo == Repo::LeakedKeyInHistory {
        // Split so that this source file holds no key-shaped string itself.
        let key = format!("AWS_ACCESS_KEY_ID={}{}\n", "AKIA", "Q3VZ7N2KD5XW4TLM");
        std::fs::write(dir.join("deploy.env"), key).expect("deploy.env");
        commit(dir, &["deploy.env"], "chore: deployment settings");
        std::fs::remove_file(dir.join("deploy.env")).expect("rm");
        commit(dir, &["deploy.env"], "chore: remove deployment settings");
    }
}

/// The fixture service in `mode`, with a pin file in the image (the digest of
/// bytes no test model has) and a repository as `repo` says.
fn fixture_submission(mode: &str, repo: Repo) -> tempfile::TempDir {
    let dir = submission(mode, Image::Good, &[]);
    let pin = "0".repeat(63) + "1";
    std::fs::write(dir.path().join("model.sha256"), format!("{pin}\n")).expect("pin");
    let dockerfile = dir.path().join("Dockerfile");
    let df = std::fs::read_to_string(&dockerfile).expect("Dockerfile");
    let df = df.replacen(
        "COPY fixture-week08 /app/fixture-week08\n",
        "COPY fixture-week08 /app/fixture-week08\nCOPY model.sha256 /app/model.sha256\n",
        1,
    );
    std::fs::write(&dockerfile, df).expect("Dockerfile");
    history(dir.path(), repo);
    dir
}

async fn loses_exactly(mode: &str, repo: Repo, items: &[&str]) -> Option<grader::result::Report> {
    let docker = engine().await?;
    let dir = fixture_submission(mode, repo);
    let report = grade(&docker, week04(), dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    assert_eq!(lost(&report), items, "{report:#?}");
    Some(report)
}

#[tokio::test]
async fn the_reference_fixture_scores_full_marks() {
    if let Some(report) = loses_exactly("reference", Repo::Good, &[]).await {
        assert_eq!((report.score.earned, report.score.max), (100, 100));
    }
}

macro_rules! broken {
    ($($name:ident: $mode:expr, $repo:expr => $item:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            loses_exactly($mode, $repo, &[$item]).await;
        }
    )*};
}

broken! {
    wrong_type_400: "wrong-type-400", Repo::Good => "hostile.wrong-types";
    huge_number_500: "huge-number-500", Repo::Good => "hostile.huge-number";
    body_limit_2mib: "body-limit-2mib", Repo::Good => "hostile.oversized";
    nesting_500: "nesting-500", Repo::Good => "hostile.deep-nesting";
    unhealthy_after_nesting: "unhealthy-after-nesting", Repo::Good => "hostile.still-up";
    unpinned: "unpinned", Repo::Good => "artifact.tampered";
    deny_without_bans: "reference", Repo::DenyWithoutBans => "policy.deny-toml";
    leaked_key_in_history: "reference", Repo::LeakedKeyInHistory => "secrets.none";
}

#[test]
fn every_rubric_item_has_a_broken_submission() {
    let covered = [
        "hostile.wrong-types",
        "hostile.huge-number",
        "hostile.oversized",
        "hostile.deep-nesting",
        "hostile.still-up",
        "artifact.tampered",
        "policy.deny-toml",
        "secrets.none",
    ];
    let lab = week04();
    let ids: Vec<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, covered);
    assert_eq!(lab.checks.iter().map(|c| c.points).sum::<u32>(), 100);
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
