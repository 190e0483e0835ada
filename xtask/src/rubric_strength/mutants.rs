//! The mutants of a reference solution, as cargo-mutants lists them
//! (`--list --json --diff`): listing, sampling, applying one to a copy.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::cmd;

/// The cargo-mutants release the task is written against (`.ci/run` installs it).
pub const CARGO_MUTANTS: &str = "27.1.0";

/// One mutant: a small change cargo-mutants makes to one function.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Mutant {
    /// cargo-mutants' name for it, `src/api.rs:128:5: replace f -> bool with true`:
    /// unique within a listing, and how `mutants.toml` marks an equivalent one.
    pub name: String,
    pub file: String,
    /// The function it changes; `None` for a change outside any function.
    pub function: Option<Function>,
    /// What kind of change (`FnValue`, `BinaryOperator`, ...).
    pub genre: String,
    /// The unified diff that makes the mutant from the solution.
    pub diff: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Function {
    pub function_name: String,
    pub return_type: String,
}

impl Mutant {
    /// `name` in the report: the function, then the change.
    pub fn function_name(&self) -> &str {
        self.function
            .as_ref()
            .map_or("(outside a function)", |f| f.function_name.as_str())
    }
}

/// The installed cargo-mutants' version, or an error that says how to install it.
pub fn version() -> Result<String> {
    let out = Command::new("cargo-mutants")
        .args(["mutants", "--version"])
        .output();
    let hint = format!("install it with `cargo install --locked cargo-mutants@{CARGO_MUTANTS}`");
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => bail!(
            "`cargo-mutants --version` failed ({}): {hint}",
            cmd::telling_line(&out.stderr)
        ),
        Err(_) => bail!("cargo-mutants is not installed: {hint}"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    if version != CARGO_MUTANTS {
        println!(
            "    note: cargo-mutants {version} is installed; this task is written against {CARGO_MUTANTS}"
        );
    }
    Ok(version)
}

/// Every mutant cargo-mutants makes of the crate in `dir`, in its order
/// (by file, then position). Nothing is built.
pub fn list(dir: &Path) -> Result<Vec<Mutant>> {
    let mut command = Command::new("cargo-mutants");
    command
        .args(["mutants", "--list", "--json", "--diff", "--dir"])
        .arg(dir);
    let json = cmd::output(&mut command)?;
    serde_json::from_str(&json).context("reading the mutant list of `cargo mutants --list --json`")
}

/// `sample` of `mutants` picked with `seed` (all of them when `sample` is
/// `None` or not smaller), kept in listing order. The same seed picks the same
/// ones from the same listing, so a run can be resumed or repeated.
pub fn sample(mutants: Vec<Mutant>, sample: Option<usize>, seed: u64) -> Vec<Mutant> {
    let Some(n) = sample.filter(|n| *n < mutants.len()) else {
        return mutants;
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut picked = rand::seq::index::sample(&mut rng, mutants.len(), n).into_vec();
    picked.sort_unstable();
    let mut mutants: Vec<Option<Mutant>> = mutants.into_iter().map(Some).collect();
    picked
        .into_iter()
        .filter_map(|i| mutants[i].take())
        .collect()
}

/// Applies `mutant` to the copy of the solution in `dir`.
pub fn apply(mutant: &Mutant, dir: &Path) -> Result<()> {
    let path = dir.join(&mutant.file);
    let original =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let diff = plain_headers(&mutant.diff, &mutant.file);
    let patch = diffy::Patch::from_str(&diff)
        .with_context(|| format!("reading the diff of `{}`", mutant.name))?;
    let mutated = diffy::apply(&original, &patch)
        .with_context(|| format!("applying `{}` to {}", mutant.name, path.display()))?;
    std::fs::write(&path, mutated).with_context(|| format!("writing {}", path.display()))
}

/// The diff with plain `---`/`+++` header lines: cargo-mutants names the
/// mutant in the `+++` line (`replace f -> &str with "xyzzy"`), which is not a
/// file name a patch parser accepts.
fn plain_headers(diff: &str, file: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    let mut headers = 0;
    for line in diff.split_inclusive('\n') {
        if headers < 2 && (line.starts_with("--- ") || line.starts_with("+++ ")) {
            out.push_str(&line[..4]);
            out.push_str(file);
            out.push('\n');
            headers += 1;
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutant(i: usize) -> Mutant {
        Mutant {
            name: format!("src/lib.rs:{i}:5: replace f{i} -> bool with true"),
            file: "src/lib.rs".into(),
            function: None,
            genre: "FnValue".into(),
            diff: String::new(),
        }
    }

    #[test]
    fn a_sample_is_repeatable_ordered_and_of_the_size_asked() {
        let all: Vec<Mutant> = (0..50).map(mutant).collect();
        let names = |v: Vec<Mutant>| v.into_iter().map(|m| m.name).collect::<Vec<_>>();
        let a = names(sample(all.clone(), Some(10), 7));
        assert_eq!(a.len(), 10);
        assert_eq!(a, names(sample(all.clone(), Some(10), 7)));
        assert_ne!(a, names(sample(all.clone(), Some(10), 8)));
        let mut sorted = a.clone();
        sorted.sort_by_key(|n| n.split(':').nth(1).and_then(|l| l.parse::<u32>().ok()));
        assert_eq!(a, sorted, "listing order is kept");
        assert_eq!(names(sample(all.clone(), Some(80), 7)).len(), 50);
        assert_eq!(names(sample(all, None, 7)).len(), 50);
    }

    #[test]
    fn a_mutant_applies_its_diff_to_the_file_it_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("src")).expect("mkdir");
        let source = "fn a() -> bool {\n    x > 1\n}\n";
        std::fs::write(dir.path().join("src/lib.rs"), source).expect("write");
        let m = Mutant {
            diff: "--- src/lib.rs\n+++ replace a -> &str with \"xyzzy\".into()\n@@ -1,3 +1,3 @@\n fn a() -> bool {\n-    x > 1\n+    x < 1\n }\n".into(),
            ..mutant(2)
        };
        apply(&m, dir.path()).expect("applies");
        let mutated = std::fs::read_to_string(dir.path().join("src/lib.rs")).expect("read");
        assert_eq!(mutated, "fn a() -> bool {\n    x < 1\n}\n");
        // The same diff no longer applies: it is an error, not a silent no-op.
        assert!(apply(&m, dir.path()).is_err());
    }
}
