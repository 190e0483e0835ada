//! Week 3 end to end: the reference solution, given a real history in a
//! temporary repository, scores full marks; each broken submission (a fixture
//! mode for a wrong plan, or a repository made with one defect) loses exactly
//! the rubric item it breaks.

mod support;

use std::path::Path;

use grader::result::ContainerVerdict;
use grader::spec::LabSpec;
use support::repo::{commit, copy_tree, init, tag};
use support::{engine, grade, grade_with, lost, real_build_args, workspace};

fn week03() -> LabSpec {
    grader::spec::embedded_lab("week03")
        .expect("week03 is embedded")
        .expect("week03 is valid")
}

fn solution_dir() -> std::path::PathBuf {
    workspace().join("solutions/week03-gitops")
}

/// How a submission's repository differs from a good one.
#[derive(Clone, Copy, PartialEq)]
enum Repo {
    Good,
    NoGitignore,
    CommittedTarget,
    LargeBinary,
    SloppyHistory,
    WrongTag,
    UnpinnedDeploy,
}

/// Makes the good history (or the `defect`'s) over the files already in `dir`.
fn history(dir: &Path, defect: Repo) {
    let messages: [&str; 3] = if defect == Repo::SloppyHistory {
        ["initial", "wip", "updated stuff"]
    } else {
        [
            "chore: start the planner",
            "feat(deploy): declare the production desired state",
            "build: package the planner in an image",
        ]
    };
    init(dir);
    let first: &[&str] = if defect == Repo::NoGitignore {
        &["Cargo.toml"]
    } else {
        &[".gitignore", "Cargo.toml"]
    };
    commit(dir, first, messages[0]);
    commit(dir, &["deploy"], messages[1]);
    let mut last = vec!["Dockerfile", "README.md"];
    // The solution's own sources; a fixture submission has none.
    last.extend(
        ["src", "Cargo.lock", ".dockerignore"]
            .into_iter()
            .filter(|p| dir.join(p).exists()),
    );
    commit(dir, &last, messages[2]);
    match defect {
        Repo::CommittedTarget => {
            std::fs::create_dir_all(dir.join("target/release")).expect("mkdir");
            std::fs::write(
                dir.join("target/release/wine-gitops.d"),
                "wine-gitops: src/main.rs\n",
            )
            .expect("write");
            commit(dir, &["target"], "chore: keep the build output");
        }
        Repo::LargeBinary => {
            std::fs::create_dir_all(dir.join("models")).expect("mkdir");
            std::fs::write(dir.join("models/model.bin"), vec![42u8; 600 * 1024]).expect("write");
            commit(dir, &["models"], "feat(model): ship the trained model");
        }
        _ => {}
    }
    tag(
        dir,
        if defect == Repo::WrongTag {
            "v0.0.9"
        } else {
            "v0.1.0"
        },
    );
}

/// The fixture planner in `mode`, with the solution's manifest, ignore file
/// and desired state, in a repository with the given defect.
fn fixture_submission(mode: &str, defect: Repo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let solution = solution_dir();
    for file in ["Cargo.toml", ".gitignore", "README.md"] {
        std::fs::copy(solution.join(file), p.join(file)).expect("copy");
    }
    copy_tree(&solution.join("deploy"), &p.join("deploy"));
    if defect == Repo::UnpinnedDeploy {
        let prod = p.join("deploy/production.toml");
        let text = std::fs::read_to_string(&prod).expect("read");
        std::fs::write(&prod, text.replace(":0.3.0\"", ":latest\"")).expect("write");
    }
    if defect == Repo::NoGitignore {
        std::fs::remove_file(p.join(".gitignore")).expect("rm");
    }
    std::fs::copy(support::fixture("fixture-week03"), p.join("fixture-week03"))
        .expect("copy fixture");
    std::fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY fixture-week03 /app/fixture-week03\nCOPY deploy /app/deploy\n\
             USER 65532:65532\nENTRYPOINT [\"/app/fixture-week03\", \"--mode\", \"{mode}\"]\n"
        ),
    )
    .expect("Dockerfile");
    history(p, defect);
    dir
}

async fn loses_exactly(mode: &str, defect: Repo, items: &[&str]) -> Option<grader::result::Report> {
    let docker = engine().await?;
    let dir = fixture_submission(mode, defect);
    let report = grade(&docker, week03(), dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    assert_eq!(lost(&report), items, "{report:#?}");
    assert_eq!(
        report.timings.start_ms, 0,
        "a lab with no service starts none"
    );
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
    no_gitignore: "reference", Repo::NoGitignore => "git.ignores";
    committed_target: "reference", Repo::CommittedTarget => "git.no-build-output";
    large_binary: "reference", Repo::LargeBinary => "git.no-large-files";
    sloppy_history: "reference", Repo::SloppyHistory => "git.conventional-commits";
    wrong_tag: "reference", Repo::WrongTag => "git.release-tag";
    unpinned_deploy: "reference", Repo::UnpinnedDeploy => "deploy.desired-state";
    all_fields: "all-fields", Repo::Good => "plan.mixed";
    silent_in_sync: "silent-in-sync", Repo::Good => "plan.in-sync";
    file_order: "file-order", Repo::Good => "plan.sorted";
    panic_on_missing: "panic-on-missing", Repo::Good => "bad-input.missing-file";
    malformed_exit_1: "malformed-exit-1", Repo::Good => "bad-input.malformed";
    accept_latest: "accept-latest", Repo::Good => "bad-input.unpinned-image";
    accept_duplicates: "accept-duplicates", Repo::Good => "bad-input.duplicate";
}

#[test]
fn every_rubric_item_has_a_broken_submission() {
    let covered = [
        "git.ignores",
        "git.no-build-output",
        "git.no-large-files",
        "git.conventional-commits",
        "git.release-tag",
        "deploy.desired-state",
        "plan.mixed",
        "plan.in-sync",
        "plan.sorted",
        "bad-input.missing-file",
        "bad-input.malformed",
        "bad-input.unpinned-image",
        "bad-input.duplicate",
    ];
    let lab = week03();
    let ids: Vec<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, covered);
    assert_eq!(lab.checks.iter().map(|c| c.points).sum::<u32>(), 100);
}

#[tokio::test]
async fn failing_checks_say_what_to_fix() {
    let Some(docker) = engine().await else { return };
    let dir = fixture_submission("panic-on-missing", Repo::WrongTag);
    let report = grade(&docker, week03(), dir.path()).await;
    let message = |id: &str| {
        support::verdict_of(&report, id)
            .message
            .clone()
            .unwrap_or_default()
    };
    let m = message("bad-input.missing-file");
    assert!(
        m.starts_with(
            "`fixture-week03 reconcile --desired desired.toml --live no-such-live.toml`: panicked"
        ),
        "{m}"
    );
    let m = message("git.release-tag");
    assert!(m.contains("0.1.0") && m.contains("v0.0.9"), "{m}");
    eprintln!(
        "bad-input.missing-file: {}",
        message("bad-input.missing-file")
    );
    eprintln!("git.release-tag: {}", message("git.release-tag"));
}

/// The one real build of this lab: the reference solution's own Dockerfile,
/// in a repository with a good history.
#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&solution_dir(), dir.path());
    history(dir.path(), Repo::Good);
    let report = grade_with(
        &docker,
        week03(),
        dir.path(),
        grader::Audience::Instructor,
        real_build_args(),
    )
    .await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100);
    eprintln!("build took {} ms", report.timings.build_ms);
}
