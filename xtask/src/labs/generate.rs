//! A starter from its solution: which files it has, and their bytes.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::markers::{self, Style};
use crate::cmd;

/// A solution with a starter has this manifest at its root.
pub const MANIFEST: &str = ".lab.toml";
/// Starter-only files (and whole-file starter versions), copied to the
/// starter's root; the solution's Dockerfile copies named paths only, so this
/// folder never reaches its image.
pub const STARTER_DIR: &str = ".starter";

/// `solutions/<lab>/.lab.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Solution-only files and folders (`deny.toml`, `deploy/canary.toml`, `docs/`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Files of this solution that are copies of another solution's file.
    #[serde(default)]
    pub shared: Vec<Shared>,
    /// Drop mdBook's anchor lines (`ANCHOR: name`, `ANCHOR_END: name`) from
    /// the starter: the book quotes the solution by them, and the student
    /// has no use for them. A file the book quotes then needs no whole-file
    /// copy in `.starter/` when the starter differs only by its anchors.
    #[serde(default)]
    pub strip_anchors: bool,
}

/// `{ from = "../week08-model-service/src/api.rs", to = "src/api.rs" }`, both
/// relative to the solution's folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shared {
    pub from: String,
    pub to: String,
}

/// One solution that has a starter.
pub struct Lab {
    /// The folder's name, the same under `solutions/` and `labs/`.
    pub name: String,
    pub solution: PathBuf,
    pub manifest: Manifest,
}

impl Lab {
    pub fn starter_dir(&self, root: &Path) -> PathBuf {
        root.join("labs").join(&self.name)
    }
}

/// A file's bytes and whether it is executable (bootstrap.sh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    pub executable: bool,
}

impl File {
    pub fn read(path: &Path) -> Result<File> {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mode = fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode();
        Ok(File {
            bytes,
            executable: mode & 0o111 != 0,
        })
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(path, &self.bytes).with_context(|| format!("writing {}", path.display()))?;
        let mode = if self.executable { 0o755 } else { 0o644 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", path.display()))
    }
}

/// Every `solutions/<x>/` with a manifest, sorted by name.
pub fn labs(root: &Path) -> Result<Vec<Lab>> {
    let dir = root.join("solutions");
    let mut labs = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let solution = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let manifest_path = solution.join(MANIFEST);
        if !manifest_path.is_file() {
            continue;
        }
        let text = fs::read_to_string(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| {
            // toml's message spans several lines; its first says what is wrong.
            let message = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_owned();
            anyhow::anyhow!("{}: {message}", shown(root, &manifest_path))
        })?;
        let name = solution
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        labs.push(Lab {
            name,
            solution,
            manifest,
        });
    }
    labs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(labs)
}

/// `path` relative to the workspace root, for messages.
pub fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The files of `dir` that Git tracks or would track (not ignored), relative
/// and sorted: build output and other ignored files are never part of a lab.
pub fn files(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut command = Command::new("git");
    command.arg("-C").arg(dir).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        ".",
    ]);
    let out = cmd::output_raw(&mut command)?;
    if !out.status.success()
        && String::from_utf8_lossy(&out.stderr).contains("not a git repository")
    {
        // A folder outside the repository (the tests' temporary folder): every file.
        let mut found = Vec::new();
        crate::workspace::walk(dir, dir, &mut found)?;
        found.sort();
        return Ok(found);
    }
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            cmd::describe(&command),
            cmd::telling_line(&out.stderr)
        );
    }
    let mut files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty() && dir.join(p).is_file())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// The starter of `lab`: each file's path relative to the starter, and its contents.
pub fn starter(root: &Path, lab: &Lab) -> Result<BTreeMap<String, File>> {
    let mut out = BTreeMap::new();
    let all = files(&lab.solution)?;
    let prefix = format!("{STARTER_DIR}/");
    for entry in &lab.manifest.exclude {
        let dir = format!("{}/", entry.trim_end_matches('/'));
        if !all.iter().any(|f| f == entry || f.starts_with(&dir)) {
            bail!(
                "{}: exclude = \"{entry}\" names no file of the solution",
                shown(root, &lab.solution.join(MANIFEST))
            );
        }
    }
    let excluded = |rel: &str| {
        lab.manifest.exclude.iter().any(|e| {
            let dir = format!("{}/", e.trim_end_matches('/'));
            rel == e || rel.starts_with(&dir)
        })
    };
    for rel in &all {
        if let Some(own) = rel.strip_prefix(&prefix) {
            out.insert(own.to_owned(), File::read(&lab.solution.join(rel))?);
        }
    }
    for rel in &all {
        if rel == MANIFEST || rel.starts_with(&prefix) || excluded(rel) {
            continue;
        }
        let path = lab.solution.join(rel);
        let file = File::read(&path)?;
        let text =
            Style::for_path(rel).and_then(|s| Some((s, std::str::from_utf8(&file.bytes).ok()?)));
        if out.contains_key(rel.as_str()) {
            // The starter has its own version; markers here would be ignored.
            if let Some((style, text)) = text
                && markers::has_markers(text, style)
            {
                bail!(
                    "{}: has lab markers, but {prefix}{rel} replaces the whole file: keep one",
                    shown(root, &path)
                );
            }
            continue;
        }
        let file = match text {
            Some((style, text)) => {
                let starter = markers::starter_text(&shown(root, &path), text, style)?;
                let starter = if lab.manifest.strip_anchors {
                    without_anchors(&starter)
                } else {
                    starter
                };
                File {
                    bytes: starter.into_bytes(),
                    executable: file.executable,
                }
            }
            None => file,
        };
        out.insert(rel.clone(), file);
    }
    Ok(out)
}

/// A shared file as its solution compiles it (markers dropped).
pub fn solution_text(root: &Path, path: &Path) -> Result<String> {
    let text =
        fs::read_to_string(path).with_context(|| format!("reading {}", shown(root, path)))?;
    match Style::for_path(&path.to_string_lossy()) {
        Some(style) => markers::solution_text(&shown(root, path), &text, style),
        None => Ok(text),
    }
}

/// Whether a shared copy has lab markers of its own (then it is only checked,
/// never overwritten).
pub fn has_markers(path: &Path) -> bool {
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    Style::for_path(&path.to_string_lossy()).is_some_and(|s| markers::has_markers(&text, s))
}

/// The text without mdBook's anchor lines: a line holding `ANCHOR:` or
/// `ANCHOR_END:` (inside a comment, as the book's includes write them).
fn without_anchors(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::without_anchors;

    #[test]
    fn anchor_lines_go_and_nothing_else() {
        let text = "use x;\n// ANCHOR: train\nfn train() {}\n// ANCHOR_END: train\n# ANCHOR: stage\nFROM a\n";
        assert_eq!(without_anchors(text), "use x;\nfn train() {}\nFROM a\n");
        assert_eq!(without_anchors("no anchors\n"), "no anchors\n");
    }
}
