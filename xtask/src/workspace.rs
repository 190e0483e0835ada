//! Where things are in the workspace, and running cargo in it.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

/// The workspace root (the parent of the xtask package).
pub fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// xtask's own scratch space: `target/xtask/` (gitignored, kept between runs).
pub fn scratch_dir() -> Result<PathBuf> {
    let dir = root().join("target").join("xtask");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The cargo that runs this xtask (`$CARGO`), else `cargo` from PATH,
/// started in the workspace root.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(root());
    command
}

/// `cargo metadata --format-version 1 --no-deps`, parsed.
pub fn metadata() -> Result<serde_json::Value> {
    let json = cmd::output(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    serde_json::from_str(&json).context("parsing `cargo metadata` output")
}

/// The crates a lab's Dockerfile builds, starters and reference solutions:
/// every `labs/<x>/` and `solutions/<x>/` with a Cargo.toml, a Cargo.lock
/// and a Dockerfile, sorted. The builder image carries their dependencies
/// compiled (`images/rust-builder/cook.sh`).
pub fn cooked_crates() -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for parent in ["labs", "solutions"] {
        let dir = root().join(parent);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry
                .with_context(|| format!("reading {}", dir.display()))?
                .path();
            if ["Cargo.toml", "Cargo.lock", "Dockerfile"]
                .iter()
                .all(|f| path.join(f).is_file())
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The lab starters: every `labs/<x>/` with a Cargo.toml, sorted.
pub fn labs() -> Result<Vec<PathBuf>> {
    let labs = root().join("labs");
    if !labs.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(&labs).with_context(|| format!("reading {}", labs.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", labs.display()))?
            .path();
        if path.join("Cargo.toml").is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// The lockfiles whose crates the builder image must hold: the workspace's
/// and each lab's, as (path relative to the root, contents), sorted.
pub fn lockfiles() -> Result<Vec<(String, Vec<u8>)>> {
    let root = root();
    let mut paths = vec![root.join("Cargo.lock")];
    paths.extend(labs()?.into_iter().map(|lab| lab.join("Cargo.lock")));
    read_all(paths.into_iter().filter(|p| p.is_file()))
}

/// Each file's path relative to the workspace root, with its bytes.
pub fn read_all(paths: impl IntoIterator<Item = PathBuf>) -> Result<Vec<(String, Vec<u8>)>> {
    let root = root();
    let mut out = Vec::new();
    for path in paths {
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        out.push((rel, bytes));
    }
    Ok(out)
}

/// `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// `cargo fetch` for the workspace (`None`) or a lab's own lockfile
/// (`--locked`: a lab's Cargo.lock is what the student gets).
pub fn cargo_fetch(lab: Option<&Path>) -> Result<()> {
    let mut command = cargo();
    command.arg("fetch");
    if let Some(lab) = lab {
        command
            .arg("--locked")
            .arg("--manifest-path")
            .arg(lab.join("Cargo.toml"));
    }
    println!("    {}", cmd::describe(&command));
    cmd::output(&mut command).map(drop)
}

/// Every file under `dir`, as a path relative to `base`, into `out`.
pub fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.is_dir() {
            walk(base, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}
