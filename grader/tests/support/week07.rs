//! Week 7's submissions: a copy of the reference solution (the wine-config
//! crate, its workflow and its SOPS-encrypted settings), edited, as a git
//! repository with one commit, and a secret left in its history or none.

use super::repo::{commit, commit_then_remove, copy_tree, init};
use super::week05::Edit;

pub const SOLUTION: &str = "solutions/week07-workflows-secrets";

/// How a submission's repository differs from a good one.
#[derive(Clone, Copy, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repo {
    Good,
    /// A password assignment committed, then removed: the course's patterns
    /// see it; kingfisher's rules do not take it for a secret.
    PasswordInHistory,
    /// A Slack webhook committed, then removed: kingfisher sees it; the
    /// course's patterns do not know webhooks.
    WebhookInHistory,
}

/// A copy of `source`, edited, as a repository with one commit and the
/// defect `repo` names.
pub fn repository(source: &str, edits: &[Edit], repo: Repo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&super::workspace().join(source), dir.path());
    super::week05::apply(dir.path(), edits);
    init(dir.path());
    // Split so that this source file holds no secret-shaped text itself.
    let leak = match repo {
        Repo::Good => None,
        Repo::PasswordInHistory => Some(format!("{} = \"{}\"\n", "password", "Vq8-rosebud-Lw3z")),
        Repo::WebhookInHistory => Some(format!(
            "notify: https://hooks.{}.com/services/{}/{}/{}\n",
            "slack", "T0A1B2C3D", "B0E1F2G3H", "Xy7kQ2mN9pL4wR8sT1vZ3bC6"
        )),
    };
    if let Some(text) = leak {
        commit_then_remove(dir.path(), "local.env", &text, "chore: my local settings");
    }
    commit(
        dir.path(),
        &["."],
        "feat: wine-config, its workflow and its settings",
    );
    dir
}
