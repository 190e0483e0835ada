//! `cargo xtask labs [--check]`: every starter in `labs/` generated from its
//! reference solution in `solutions/`, so the two cannot drift apart.
//!
//! A solution with a starter has a manifest, `solutions/<lab>/.lab.toml`:
//!
//! ```toml
//! # Solution-only files and folders, left out of the starter.
//! exclude = ["THREATS.md", "deny.toml"]
//! # Files copied from another solution: `cargo xtask labs` refreshes the copy
//! # (unless it has lab markers of its own), `--check` fails while they differ.
//! shared = [{ from = "../week08-model-service/src/api.rs", to = "src/api.rs" }]
//! ```
//!
//! The starter is the solution's files (those Git tracks or would track) with:
//!
//! - each marked region replaced by the starter's text (the markers are in
//!   [`markers`]: `lab:solution`, `lab:starter`, `lab:end` in the file's own
//!   comment syntax);
//! - the files in `solutions/<lab>/.starter/` added at the starter's root:
//!   starter-only files (its README.md, .gitignore) and the starter's own
//!   version of a file the student rewrites nearly whole (a file there
//!   replaces the solution's, which must then have no markers);
//! - the `exclude`d files, `.lab.toml` and `.starter/` left out.
//!
//! Cargo.lock is copied as it is: a starter lists the solution's dependencies
//! (a student has no network in the grader's build), so the lockfile is the
//! same; markers in Cargo.toml change comments, the description and the
//! `[workspace]` table only. The starter's `cargo build --locked` proves it.

mod check;
mod generate;
mod markers;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::step::step;
use crate::workspace;

/// `cargo xtask labs`: refresh the shared copies, then regenerate every
/// starter; with `check`, change nothing and print one line per stale file.
pub fn run(check: bool) -> Result<ExitCode> {
    let root = workspace::root();
    if check {
        let problems = problems(&root)?;
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        return Ok(if problems.is_empty() {
            println!("labs/ is up to date with solutions/");
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    for lab in generate::labs(&root)? {
        let problems = check::shared(&root, &lab, true)?;
        if let Some(first) = problems.first() {
            bail!("{first}");
        }
        let want = generate::starter(&root, &lab)?;
        let dir = lab.starter_dir(&root);
        let (written, removed) = check::write_starter(&dir, &want)?;
        println!(
            "{}: {} files, {written} written, {removed} removed",
            generate::shown(&root, &dir),
            want.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The step `cargo xtask test` runs: `labs --check`.
pub fn check_step() -> Result<()> {
    step("cargo xtask labs --check", || {
        let problems = problems(&workspace::root())?;
        for problem in &problems {
            eprintln!("{problem}");
        }
        match problems.first() {
            Some(first) => bail!("{} stale file(s), the first: {first}", problems.len()),
            None => Ok(()),
        }
    })
}

/// Every stale shared copy and starter file, one line each; writes nothing.
fn problems(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for lab in generate::labs(root)? {
        problems.extend(check::shared(root, &lab, false)?);
        let want = generate::starter(root, &lab)?;
        problems.extend(check::starter_problems(
            root,
            &lab.starter_dir(root),
            &want,
        )?);
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The staleness test: every starter generated into a temporary folder
    /// equals the committed one, file for file.
    #[test]
    fn committed_starters_are_generated_from_their_solutions() {
        let root = workspace::root();
        let tmp = tempfile::tempdir().expect("tempdir");
        let labs = generate::labs(&root).expect("the manifests");
        assert!(!labs.is_empty(), "no solutions/*/.lab.toml");
        let mut problems = Vec::new();
        for lab in &labs {
            let want = generate::starter(&root, lab).expect("a starter");
            let out = tmp.path().join(&lab.name);
            check::write_starter(&out, &want).expect("written");
            let generated: std::collections::BTreeMap<_, _> = generate::files(&out)
                .expect("listed")
                .into_iter()
                .map(|rel| {
                    let file = generate::File::read(&out.join(&rel)).expect("read back");
                    (rel, file)
                })
                .collect();
            assert_eq!(generated, want, "{} written as generated", lab.name);
            problems.extend(
                check::starter_problems(&root, &lab.starter_dir(&root), &generated)
                    .expect("compared"),
            );
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// Every shared copy equals its source, as the solutions compile them.
    #[test]
    fn shared_copies_equal_their_sources() {
        let root = workspace::root();
        let labs = generate::labs(&root).expect("the manifests");
        let mut problems = Vec::new();
        let mut copies = 0;
        for lab in &labs {
            copies += lab.manifest.shared.len();
            problems.extend(check::shared(&root, lab, false).expect("compared"));
        }
        assert!(copies > 0, "no shared = [...] in any solutions/*/.lab.toml");
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// A stale starter file is reported with the command that fixes it.
    #[test]
    fn a_changed_file_is_reported_stale() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = |text: &str| generate::File {
            bytes: text.as_bytes().to_vec(),
            executable: false,
        };
        let mut want = std::collections::BTreeMap::new();
        want.insert("a.rs".to_owned(), file("fn a() {}\n"));
        want.insert("b.rs".to_owned(), file("fn b() {}\n"));
        check::write_starter(tmp.path(), &want).expect("written");
        want.insert("a.rs".to_owned(), file("fn a() { todo!() }\n"));
        std::fs::write(tmp.path().join("extra.md"), "x").expect("write");
        let problems = check::starter_problems(tmp.path(), tmp.path(), &want).expect("compared");
        assert_eq!(
            problems,
            [
                "a.rs is stale: run cargo xtask labs",
                "extra.md is not part of the starter: run cargo xtask labs",
            ]
        );
    }
}
