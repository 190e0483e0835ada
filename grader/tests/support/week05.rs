//! Week 5's submissions: a copy of a dotfiles repository (the solution or the
//! starter), edited, as a git repository with one commit, and a defect of the
//! repository or none.

use std::path::Path;

use super::repo::{commit, commit_then_remove, copy_tree, init};

pub const SOLUTION: &str = "solutions/week05-dotfiles";

/// An edit of a file of the copy, by its path there: `from` becomes `to`
/// (its first occurrence, which must exist).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub path: String,
    pub from: String,
    pub to: String,
}

/// How a submission's repository differs from a good one.
#[derive(Clone, Copy, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repo {
    Good,
    /// A private key committed, then removed again: the tree is clean, the
    /// history is not.
    KeyInHistory,
    /// A 300 KiB binary file in the tree.
    LargeFile,
}

/// A copy of `source` (a folder of the workspace), edited, as a repository
/// with one commit and the defect `repo` names.
pub fn repository(source: &str, edits: &[Edit], repo: Repo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&super::workspace().join(source), dir.path());
    apply(dir.path(), edits);
    if repo == Repo::LargeFile {
        std::fs::write(dir.path().join("wallpaper.bin"), vec![7u8; 300 * 1024]).expect("ballast");
    }
    init(dir.path());
    commit(dir.path(), &["."], "feat: my dotfiles");
    if repo == Repo::KeyInHistory {
        leak_and_remove(dir.path());
    }
    dir
}

/// Applies `edits` to the files under `dir`.
pub fn apply(dir: &Path, edits: &[Edit]) {
    for edit in edits {
        let path = dir.join(&edit.path);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains(&edit.from),
            "{}: no {:?}",
            edit.path,
            edit.from
        );
        std::fs::write(&path, text.replacen(&edit.from, &edit.to, 1)).expect("write");
    }
}

/// A private key committed, then deleted: the tree is clean, the history not.
fn leak_and_remove(dir: &Path) {
    // Split so that this source file holds no key-shaped text itself.
    let key = format!(
        "-----BEGIN {} PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END {} PRIVATE KEY-----\n",
        "OPENSSH", "OPENSSH"
    );
    commit_then_remove(dir, "id_ed25519", &key, "chore: my ssh key");
}
