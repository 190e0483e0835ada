//! A lab's `mutants.toml` (beside its `lab.toml`): where its reference
//! solution is, how to make a submission of it as a student's repository, and
//! the missed mutants an instructor has looked at: equivalent ones, and ones
//! that change only what the lab's contract leaves free.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cmd;

/// The file's name in a lab's folder.
pub const FILE: &str = "mutants.toml";

/// Files of a solution that are the course's, not a submission's.
const NOT_SUBMITTED: &[&str] = &[".lab.toml", ".starter", "target", ".git"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The reference solution's folder, relative to the lab's folder;
    /// `solutions/<id>-*` of the workspace when not given.
    pub solution: Option<PathBuf>,
    /// The submission's git history, oldest first; no repository when empty.
    #[serde(default)]
    pub commit: Vec<Commit>,
    /// A tag on the last commit.
    pub tag: Option<String>,
    /// Mutants that behave exactly as the solution does, as graded: no rubric
    /// can catch them. They are counted apart.
    #[serde(default)]
    pub equivalent: Vec<Mark>,
    /// Missed mutants that change only what the lab's contract leaves free (a
    /// message's wording, a flag the contract does not name): no check should
    /// catch them. They still count as missed; the report says why.
    #[serde(default)]
    pub outside: Vec<Mark>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    pub message: String,
    /// What `git add` adds for this commit (`.` for everything left).
    pub paths: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// The mutant's name as cargo-mutants gives it.
    pub mutant: String,
    /// One line: why it behaves as the solution does, or why the contract
    /// leaves what it changes free.
    pub reason: String,
}

impl Recipe {
    /// The recipe in `lab_dir`, or the default one when the lab has none.
    pub fn read(lab_dir: &Path) -> Result<Recipe> {
        let path = lab_dir.join(FILE);
        if !path.is_file() {
            return Ok(Recipe::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let recipe: Recipe = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        if let Some(blank) = recipe.marks().find(|e| e.reason.trim().is_empty()) {
            bail!(
                "{}: the mark of `{}` needs a reason",
                path.display(),
                blank.mutant
            );
        }
        if let Some(twice) = recipe
            .equivalent
            .iter()
            .find(|e| recipe.outside.iter().any(|o| o.mutant == e.mutant))
        {
            bail!(
                "{}: `{}` is marked both equivalent and outside the contract",
                path.display(),
                twice.mutant
            );
        }
        Ok(recipe)
    }

    /// Every mark, equivalent or outside the contract.
    pub fn marks(&self) -> impl Iterator<Item = &Mark> {
        self.equivalent.iter().chain(&self.outside)
    }

    /// Why `mutant` is equivalent, if it is marked so.
    pub fn equivalent(&self, mutant: &str) -> Option<&str> {
        find(&self.equivalent, mutant)
    }

    /// Why what `mutant` changes is outside the contract, if it is marked so.
    pub fn outside(&self, mutant: &str) -> Option<&str> {
        find(&self.outside, mutant)
    }

    /// Commits the files in `dir` as the recipe's history says (nothing when
    /// it has none).
    pub fn make_history(&self, to: &Path) -> Result<()> {
        if self.commit.is_empty() {
            return Ok(());
        }
        git(to, &["init", "-q", "-b", "main"])?;
        for commit in &self.commit {
            let mut add = vec!["add", "-A", "--"];
            add.extend(commit.paths.iter().map(String::as_str));
            git(to, &add)?;
            git(
                to,
                &["commit", "-q", "--allow-empty", "-m", &commit.message],
            )?;
        }
        if let Some(tag) = &self.tag {
            git(to, &["tag", tag])?;
        }
        Ok(())
    }
}

fn find<'a>(marks: &'a [Mark], mutant: &str) -> Option<&'a str> {
    marks
        .iter()
        .find(|m| m.mutant == mutant)
        .map(|m| m.reason.as_str())
}

/// Copies the solution's files, less the course's own, from `from` to `to`.
pub fn copy_submitted(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let name = entry.file_name();
        if NOT_SUBMITTED.iter().any(|n| name == **n) {
            continue;
        }
        copy_tree(&entry.path(), &to.join(&name))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta =
        std::fs::symlink_metadata(from).with_context(|| format!("reading {}", from.display()))?;
    if meta.is_dir() {
        std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        for entry in
            std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?
        {
            let entry = entry.with_context(|| format!("reading {}", from.display()))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        std::fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// git in `dir`, as a fixed author, with no user or system configuration.
fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Rubric Strength",
            "-c",
            "user.email=rubric@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd::output(&mut command).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_makes_the_history_it_describes_and_leaves_the_course_files_out() {
        let solution = tempfile::tempdir().expect("tempdir");
        let s = solution.path();
        for (path, text) in [
            ("Cargo.toml", "[package]\n"),
            (".gitignore", "target/\n"),
            ("deploy/prod.toml", "replicas = 2\n"),
            (".lab.toml", "exclude = []\n"),
            (".starter/Cargo.toml", "x\n"),
        ] {
            std::fs::create_dir_all(s.join(path).parent().expect("parent")).expect("mkdir");
            std::fs::write(s.join(path), text).expect("write");
        }
        let recipe: Recipe = toml::from_str(
            r#"
            tag = "v0.1.0"
            [[commit]]
            message = "chore: start"
            paths = [".gitignore", "Cargo.toml"]
            [[commit]]
            message = "feat: deploy"
            paths = ["."]
            [[equivalent]]
            mutant = "src/lib.rs:3:5: replace f -> bool with true"
            reason = "f is only logged"
            [[outside]]
            mutant = "src/lib.rs:7:5: replace g -> &str with \"\""
            reason = "the message's wording is free"
            "#,
        )
        .expect("parses");
        let out = tempfile::tempdir().expect("tempdir");
        let sub = out.path().join("sub");
        copy_submitted(s, &sub).expect("copied");
        recipe.make_history(&sub).expect("committed");
        assert!(!sub.join(".lab.toml").exists() && !sub.join(".starter").exists());
        let log = cmd::output(Command::new("git").arg("-C").arg(&sub).args([
            "log",
            "--format=%s",
            "--name-only",
            "--decorate=short",
        ]))
        .expect("git log");
        assert!(log.starts_with("feat: deploy\n\ndeploy/prod.toml"), "{log}");
        assert!(
            log.ends_with("chore: start\n\n.gitignore\nCargo.toml"),
            "{log}"
        );
        let tags = cmd::output(Command::new("git").arg("-C").arg(&sub).arg("tag")).expect("tag");
        assert_eq!(tags, "v0.1.0");
        assert_eq!(
            recipe.equivalent("src/lib.rs:3:5: replace f -> bool with true"),
            Some("f is only logged")
        );
        assert_eq!(recipe.equivalent("src/lib.rs:9:5: other"), None);
        assert_eq!(
            recipe.outside("src/lib.rs:7:5: replace g -> &str with \"\""),
            Some("the message's wording is free")
        );
    }

    #[test]
    fn a_mutant_marked_twice_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mark = "mutant = \"m\"\nreason = \"r\"\n";
        std::fs::write(
            dir.path().join(FILE),
            format!("[[equivalent]]\n{mark}[[outside]]\n{mark}"),
        )
        .expect("write");
        let err = Recipe::read(dir.path()).expect_err("refused");
        assert!(format!("{err:#}").contains("both"), "{err:#}");
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE), "solutoin = \"x\"\n").expect("write");
        let err = Recipe::read(dir.path()).expect_err("refused");
        assert!(format!("{err:#}").contains("solutoin"), "{err:#}");
    }
}
