//! Week 4's submissions: the fixture service (`fixture-week08`) in a mode, with
//! a pin file in the image, the solution's deny.toml (or a variant) and a git
//! repository with a clean history or a leaked key in it.

use std::path::{Path, PathBuf};

use super::repo::{commit, init};
use super::{Image, submission};

pub fn solution_dir() -> PathBuf {
    super::workspace().join("solutions/week04-devsecops")
}

/// How a submission's repository differs from a good one.
#[derive(Clone, Copy, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repo {
    Good,
    /// deny.toml has no `[bans]` table.
    DenyWithoutBans,
    /// deny.toml misspells a key (`multiple-version`): cargo-deny cannot read it.
    DenyMisspelt,
    /// deny.toml allows no MIT licence, which most of the project's crates use.
    DenyWithoutMit,
    /// An AWS access key was committed, then deleted in a later commit: the
    /// tree is clean, the history is not.
    LeakedKeyInHistory,
}

/// The reference policy, or the variant `repo` asks for.
fn deny_toml(repo: Repo) -> String {
    let policy = std::fs::read_to_string(solution_dir().join("deny.toml")).expect("deny.toml");
    let changed = |from: &str, to: &str| {
        assert!(policy.contains(from), "`{from}` in the reference deny.toml");
        policy.replacen(from, to, 1)
    };
    match repo {
        Repo::DenyWithoutBans => {
            let start = policy.find("[bans]").expect("[bans] in the reference");
            let end = policy.find("[sources]").expect("[sources] after it");
            format!("{}{}", &policy[..start], &policy[end..])
        }
        Repo::DenyMisspelt => changed("multiple-versions =", "multiple-version ="),
        Repo::DenyWithoutMit => changed("\"MIT\", ", ""),
        Repo::Good | Repo::LeakedKeyInHistory => policy,
    }
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
pub fn fixture_submission(mode: &str, repo: Repo) -> tempfile::TempDir {
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
    // The crate the policy is checked against: the reference's manifests
    // and source (cargo metadata needs the targets the manifest names).
    for file in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(solution_dir().join(file), dir.path().join(file)).expect("copy");
    }
    super::repo::copy_tree(&solution_dir().join("src"), &dir.path().join("src"));
    history(dir.path(), repo);
    dir
}
