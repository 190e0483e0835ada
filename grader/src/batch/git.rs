//! Submissions named in a roster by repository and commit: cloned into the
//! batch's output folder with the `git` program and checked out at that
//! commit, `.git` kept (the repository checks read it). A rerun fetches into
//! the clone it made before. Nothing of the repository runs: a fresh clone
//! has no hooks, submodules are not fetched, the `ext::` transport is off and
//! git never asks for a password.

use super::roster::Entry;
use std::path::Path;
use std::process::Command;

/// Clones each repository entry into `clones/<student>` and points the entry
/// there; an entry whose clone or commit fails gets a `problem` instead.
/// Fails only when `git` itself cannot be run.
pub fn fetch(entries: &mut [Entry], clones: &Path) -> Result<(), String> {
    if !entries.iter().any(|e| e.git.is_some()) {
        return Ok(());
    }
    Command::new("git")
        .arg("--version")
        .output()
        .map_err(|e| format!("the roster names repositories, and git cannot be run: {e}"))?;
    std::fs::create_dir_all(clones)
        .map_err(|e| format!("cannot make {}: {e}", clones.display()))?;
    for entry in entries.iter_mut() {
        let Some(source) = entry.git.clone() else {
            continue;
        };
        let dir = clones.join(&entry.student);
        entry.path = dir.clone();
        let fetched = if dir.join(".git").is_dir() {
            git(
                &dir,
                &["fetch", "--quiet", "--no-recurse-submodules", "origin"],
            )
        } else {
            let _ = std::fs::remove_dir_all(&dir);
            git(
                clones,
                &[
                    "clone",
                    "--quiet",
                    "--no-checkout",
                    "--",
                    &source.url,
                    &entry.student,
                ],
            )
        };
        let checked_out = fetched.and_then(|()| {
            git(
                &dir,
                &["checkout", "--quiet", "--force", "--detach", &source.commit],
            )?;
            // What an earlier grade's checkout left, gone.
            git(&dir, &["clean", "-ffdxq"])
        });
        if let Err(why) = checked_out {
            entry.problem = Some(format!(
                "cannot fetch {} at {}: {why}",
                source.url, source.commit
            ));
        }
    }
    Ok(())
}

/// Runs git in `dir`; the last line of its stderr when it fails.
fn git(dir: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "protocol.ext.allow=never",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(["-c", "advice.detachedHead=false"])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("SSH_ASKPASS", "/bin/false")
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(crate::report::safe::terminal_line(last.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::roster;

    fn run(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.edu"])
            .args(args)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn a_roster_of_repositories_is_cloned_at_each_commit() {
        let root = tempfile::tempdir().expect("tempdir");
        let repo = root.path().join("kim.git");
        std::fs::create_dir(&repo).expect("mkdir");
        run(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("Dockerfile"), "FROM scratch\n").expect("write");
        run(&repo, &["add", "."]);
        run(&repo, &["commit", "-q", "-m", "at the deadline"]);
        let deadline = run(&repo, &["rev-parse", "HEAD"]);
        std::fs::write(repo.join("late.txt"), "after the deadline\n").expect("write");
        run(&repo, &["add", "."]);
        run(&repo, &["commit", "-q", "-m", "too late"]);

        let csv = root.path().join("roster.csv");
        std::fs::write(
            &csv,
            format!(
                "student,repository,commit\nkim,file://{},{}\nlee,file://{}/none.git,abcdef0\n",
                repo.display(),
                &deadline[..12],
                root.path().display()
            ),
        )
        .expect("roster");
        let mut entries = roster::read(&csv).expect("roster");
        let clones = root.path().join("out/clones");
        fetch(&mut entries, &clones).expect("git runs");
        assert_eq!(entries[0].path, clones.join("kim"));
        assert_eq!(entries[0].problem, None);
        assert!(clones.join("kim/Dockerfile").is_file());
        assert!(
            !clones.join("kim/late.txt").exists(),
            "graded at the commit given"
        );
        assert_eq!(run(&clones.join("kim"), &["rev-parse", "HEAD"]), deadline);
        let problem = entries[1].problem.as_deref().expect("lee's clone fails");
        assert!(problem.starts_with("cannot fetch file://"), "{problem}");
        assert_eq!(problem.lines().count(), 1);

        // A rerun fetches into the clone it made.
        fetch(&mut entries, &clones).expect("again");
        assert_eq!(entries[0].problem, None);
    }
}
