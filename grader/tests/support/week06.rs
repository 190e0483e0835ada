//! Week 6's submissions: a copy of the reference solution (the agebox crate
//! with its keys, configuration and sealed file), edited, as a git repository
//! with one commit and a release tag, signed or not as the case asks.
//!
//! The tags are signed with the host's GnuPG and the test keys beside this
//! file: Ada's, whose public key the solution publishes in
//! gpg/signing-key.asc, and Mallory's, an impostor's. Both are test keys made
//! for the course, not secret.

use std::path::Path;
use std::process::Command;

use super::repo::{commit, commit_then_remove, copy_tree, git, init};
use super::week05::Edit;

pub const SOLUTION: &str = "solutions/week06-secure-setup";
/// The tag the checks look for: v + the version in Cargo.toml.
pub const TAG: &str = "v0.1.0";

/// How a submission's repository differs from a good one.
#[derive(Clone, Copy, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repo {
    /// The tag is signed by the published key.
    Good,
    /// `git tag` without `-s`: nothing to verify.
    LightweightTag,
    /// Signed by a key that gpg/signing-key.asc does not hold.
    SignedByOther,
    /// An age identity committed, then removed: the tree is clean, the
    /// history is not. The tag is good.
    KeyInHistory,
}

/// A copy of the solution, edited, as a repository with one commit and the
/// tag `repo` asks for.
pub fn repository(edits: &[Edit], repo: Repo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&super::workspace().join(SOLUTION), dir.path());
    super::week05::apply(dir.path(), edits);
    init(dir.path());
    commit(
        dir.path(),
        &["."],
        "feat: agebox, my SSH, GnuPG and age setup",
    );
    if repo == Repo::KeyInHistory {
        leak_and_remove(dir.path());
    }
    match repo {
        Repo::Good | Repo::KeyInHistory => signed_tag(dir.path(), "ada.secret.asc"),
        Repo::SignedByOther => signed_tag(dir.path(), "mallory.secret.asc"),
        Repo::LightweightTag => git(dir.path(), &["tag", TAG]),
    }
    dir
}

/// The lab's starter as a student first commits it: no keys yet, no tag.
pub fn starter_repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(
        &super::workspace().join("labs/week06-secure-setup"),
        dir.path(),
    );
    init(dir.path());
    commit(dir.path(), &["."], "chore: the week 6 starter");
    dir
}

/// Signs [`TAG`] on HEAD with the test key in `key_file`, in a GnuPG home of
/// its own (its agent stopped afterwards).
fn signed_tag(dir: &Path, key_file: &str) {
    let home = tempfile::tempdir().expect("GNUPGHOME");
    let key = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/week06")
        .join(key_file);
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args(["--batch", "--quiet"])
            .args(args)
            .output()
            .expect("gpg runs (apt-get install gnupg)");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    gpg(&["--import", &key.to_string_lossy()]);
    let fingerprint = gpg(&["--with-colons", "--list-secret-keys"])
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .expect("the test key has a fingerprint");
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GNUPGHOME", home.path())
        .args([
            "-c",
            "user.name=Ada Lovelace",
            "-c",
            "user.email=ada@example.org",
        ])
        .args(["-c", &format!("user.signingkey={fingerprint}")])
        .args(["tag", "-s", TAG, "-m", "agebox 0.1.0"])
        .output()
        .expect("git runs");
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", home.path())
        .args(["--kill", "gpg-agent"])
        .output();
    assert!(
        out.status.success(),
        "git tag -s: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An age identity committed, then deleted.
fn leak_and_remove(dir: &Path) {
    // Split so that this source file holds no identity-shaped text itself.
    let identity = format!(
        "# public key: age1...\n{}{}\n",
        "AGE-SECRET-KEY-1", "QYZXW3N8KD4LT7SDVEZ0P3M5RH2GJXW9C6UEY8AQN5T0Z3F7LKDSQ2P9RM"
    );
    commit_then_remove(dir, "key.txt", &identity, "chore: my age key");
}
