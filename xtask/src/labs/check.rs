//! What is stale: a starter that differs from what its solution generates,
//! and a shared copy that differs from its source.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::Result;

use super::generate::{self, File, Lab};

/// The advice every stale line ends with.
pub const FIX: &str = "run cargo xtask labs";

/// One line per file of `dir` that differs from `want` (missing, different
/// bytes or mode, or not part of the starter), its path shown from `root`.
pub fn starter_problems(
    root: &Path,
    dir: &Path,
    want: &BTreeMap<String, File>,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for (rel, file) in want {
        let path = dir.join(rel);
        let shown = generate::shown(root, &path);
        if !path.is_file() {
            problems.push(format!("{shown} is missing: {FIX}"));
        } else if &File::read(&path)? != file {
            problems.push(format!("{shown} is stale: {FIX}"));
        }
    }
    for rel in generate::files(dir)? {
        if !want.contains_key(&rel) {
            let shown = generate::shown(root, &dir.join(&rel));
            problems.push(format!("{shown} is not part of the starter: {FIX}"));
        }
    }
    Ok(problems)
}

/// Brings each shared copy of `lab` in line with its source when `write` is
/// set and the copy has no markers of its own; returns one line per copy
/// still different (all of them when `write` is off).
pub fn shared(root: &Path, lab: &Lab, write: bool) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for entry in &lab.manifest.shared {
        let from = lab.solution.join(&entry.from);
        let to = lab.solution.join(&entry.to);
        let source = generate::solution_text(root, &from)?;
        let copy = if to.is_file() {
            Some(generate::solution_text(root, &to)?)
        } else {
            None
        };
        if copy.as_deref() == Some(source.as_str()) {
            continue;
        }
        let (from_shown, to_shown) = (
            generate::shown(root, &normalize(&from)),
            generate::shown(root, &to),
        );
        if generate::has_markers(&to) {
            // Its markers make it more than a copy: the change must be made by hand.
            problems.push(format!(
                "{to_shown} is stale: apart from its lab markers it must equal {from_shown}; make the same change in both"
            ));
        } else if write {
            let executable = File::read(&from)?.executable;
            File {
                bytes: source.into_bytes(),
                executable,
            }
            .write(&to)?;
            println!("    copied {from_shown} to {to_shown}");
        } else {
            problems.push(format!(
                "{to_shown} is stale: it must equal {from_shown}: {FIX}"
            ));
        }
    }
    Ok(problems)
}

/// `a/b/../c` as `a/c`, for messages.
fn normalize(path: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Writes `want` into `dir`, touching only files that differ and removing
/// the files `dir` has beyond it; returns (written, removed).
pub fn write_starter(dir: &Path, want: &BTreeMap<String, File>) -> Result<(usize, usize)> {
    let mut written = 0;
    for (rel, file) in want {
        let path = dir.join(rel);
        if path.is_file() && &File::read(&path)? == file {
            continue;
        }
        file.write(&path)?;
        written += 1;
    }
    let mut removed = 0;
    for rel in generate::files(dir)? {
        if !want.contains_key(&rel) {
            let path = dir.join(&rel);
            fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("removing {}: {e}", path.display()))?;
            removed += 1;
        }
    }
    Ok((written, removed))
}
