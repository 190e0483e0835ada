//! Week 3's submissions: the fixture planner (`fixture-week03`) or the reference
//! solution, with the solution's manifest and desired state, in a git
//! repository made with one defect or none.

use std::path::{Path, PathBuf};

use super::repo::{commit, copy_tree, init, tag};

pub fn solution_dir() -> PathBuf {
    super::workspace().join("solutions/week03-gitops")
}

/// How a submission's repository differs from a good one.
#[derive(Clone, Copy, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repo {
    Good,
    NoGitignore,
    CommittedTarget,
    LargeBinary,
    SloppyHistory,
    WrongTag,
    UnpinnedDeploy,
}

/// Makes the good history (or the `defect`'s) over the files already in `dir`.
pub fn history(dir: &Path, defect: Repo) {
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
pub fn fixture_submission(mode: &str, defect: Repo) -> tempfile::TempDir {
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
    std::fs::copy(super::fixture("fixture-week03"), p.join("fixture-week03"))
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
