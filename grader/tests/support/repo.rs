//! Git repositories made for the tests with the git CLI, in temporary folders:
//! a lab's submission with a history of its own (the course repository holds no
//! nested `.git`). The user's and the system's git configuration are ignored.

use std::path::Path;
use std::process::Command;

/// Runs `git <args>` in `dir`, isolated from any git configuration; panics on failure.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=Course Tester",
            "-c",
            "user.email=tester@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `git init` in `dir`.
pub fn init(dir: &Path) {
    git(dir, &["init", "-q"]);
}

/// Stages `paths` (forced past .gitignore: a defect is committed on purpose)
/// and commits them with `message`.
pub fn commit(dir: &Path, paths: &[&str], message: &str) {
    let mut add = vec!["add", "-f", "--"];
    add.extend_from_slice(paths);
    git(dir, &add);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
}

/// `text` committed as `file` (with `message`), then the file deleted in the
/// next commit: the tree is clean, the history is not.
pub fn commit_then_remove(dir: &Path, file: &str, text: &str, message: &str) {
    std::fs::write(dir.join(file), text).expect("write");
    commit(dir, &[file], message);
    std::fs::remove_file(dir.join(file)).expect("rm");
    commit(dir, &[file], &format!("chore: remove {file}"));
}

/// An annotated tag on HEAD.
pub fn tag(dir: &Path, name: &str) {
    git(dir, &["tag", "-a", name, "-m", name]);
}

/// Copies a folder's files (not `target/`), recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}
