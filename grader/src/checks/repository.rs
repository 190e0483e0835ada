//! Repository checks: the submission's git repository, read with gix and
//! nothing else. Nothing of the repository runs: gix runs no hooks, no filters
//! and no configured commands on reads, and the repository is opened isolated
//! (no system, global or environment configuration) and with reduced trust, so
//! that its own `.git/config` is not taken into account either.
//!
//! What counts is what is committed: the tree at HEAD, the commits reachable
//! from HEAD (or every ref, for the secret scan), the tags.

use super::secrets::{self, Finding};
use super::{Outcome, Problem, clip};
use crate::spec::RepoRule;
use gix::bstr::ByteSlice;
use std::collections::HashSet;
use std::path::Path;

/// Commits read at most from a history (a lab's history has dozens).
pub const MAX_COMMITS: usize = 10_000;
/// Blobs scanned at most in a history's secret scan.
pub const MAX_BLOBS: usize = 50_000;

/// Opens the submission's repository for reading.
pub fn open(dir: &Path) -> Result<gix::Repository, Problem> {
    let dot_git = dir.join(".git");
    match std::fs::symlink_metadata(&dot_git) {
        Ok(m) if m.is_dir() => {}
        // A `.git` file or link could point anywhere on the grading machine.
        Ok(_) => {
            return Err(Problem::Fail(
                "the submission's .git is not a folder; grade a plain clone of the repository"
                    .into(),
            ));
        }
        Err(_) => {
            return Err(Problem::Fail(
                "the submission is not a git repository (no .git folder); grade a clone, not a copy".into(),
            ));
        }
    }
    let opts = gix::open::Options::isolated().with(gix::sec::Trust::Reduced);
    gix::open_opts(&dot_git, opts).map_err(|e| {
        Problem::Fail(format!(
            "the submission's git repository cannot be read: {e}"
        ))
    })
}

fn git_error(e: impl std::fmt::Display) -> Problem {
    Problem::Fail(format!(
        "the git repository cannot be read: {}",
        clip(&e.to_string(), 200)
    ))
}

/// The commit HEAD points at.
fn head(repo: &gix::Repository) -> Result<gix::Commit<'_>, Problem> {
    repo.head_commit()
        .map_err(|_| Problem::Fail("the repository has no commit at HEAD".into()))
}

/// Judges one repository rule.
pub fn check(rule: &RepoRule, dir: &Path) -> Outcome {
    let repo = open(dir)?;
    match rule {
        RepoRule::ConventionalCommits { min_percent, types } => {
            conventional(&messages(&repo)?, *min_percent, types)
        }
        RepoRule::VersionTag { manifest } => {
            let text = committed_text(&repo, manifest)?;
            let version = manifest_version(manifest, &text)?;
            version_tag(&version, &tags(&repo)?)
        }
        RepoRule::AbsentPaths { globs } => {
            let files: Vec<String> = tracked(&repo)?.into_iter().map(|(p, _)| p).collect();
            absent(&files, globs)
        }
        RepoRule::MaxFileSize { max_kb } => {
            let mut sizes = Vec::new();
            for (path, id) in tracked(&repo)? {
                let header = repo.find_header(id).map_err(git_error)?;
                sizes.push((path, header.size()));
            }
            max_size(&sizes, *max_kb)
        }
        RepoRule::Ignores { paths } => ignores(&repo, paths),
    }
}

/// The first line and short id of every non-merge commit reachable from HEAD.
fn messages(repo: &gix::Repository) -> Result<Vec<(String, String)>, Problem> {
    let head = head(repo)?;
    let walk = repo.rev_walk([head.id]).all().map_err(git_error)?;
    let mut out = Vec::new();
    for info in walk.take(MAX_COMMITS) {
        let info = info.map_err(git_error)?;
        if info.parent_ids.len() > 1 {
            continue;
        }
        let commit = info.object().map_err(git_error)?;
        let message = commit.message_raw_sloppy().to_str_lossy().into_owned();
        out.push((short(&info.id), message));
    }
    Ok(out)
}

fn short(id: &gix::ObjectId) -> String {
    id.to_hex_with_len(8).to_string()
}

/// At least `min_percent` of the messages follow Conventional Commits with one
/// of `types`.
pub fn conventional(messages: &[(String, String)], min_percent: u8, types: &[String]) -> Outcome {
    if messages.is_empty() {
        return Err(Problem::Fail(
            "the repository has no commits to judge".into(),
        ));
    }
    let bad: Vec<&(String, String)> = messages
        .iter()
        .filter(|(_, m)| match git_conventional::Commit::parse(m.trim()) {
            Ok(c) => !types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(c.type_().as_str())),
            Err(_) => true,
        })
        .collect();
    let good = messages.len() - bad.len();
    let percent = good * 100 / messages.len();
    if percent >= min_percent as usize {
        return Ok(());
    }
    let examples: Vec<String> = bad
        .iter()
        .take(3)
        .map(|(id, m)| format!("{id} \"{}\"", clip(m.lines().next().unwrap_or(""), 50)))
        .collect();
    Err(Problem::Fail(format!(
        "{good} of {} commits ({percent}%) follow Conventional Commits, expected at least {min_percent}%; for example {} (write \"type(scope): summary\", type one of {})",
        messages.len(),
        examples.join(", "),
        types.join(", ")
    )))
}

/// A file's text as committed at HEAD.
fn committed_text(repo: &gix::Repository, path: &str) -> Result<String, Problem> {
    let tree = head(repo)?.tree().map_err(git_error)?;
    let entry = tree
        .lookup_entry_by_path(path)
        .map_err(git_error)?
        .ok_or_else(|| Problem::Fail(format!("{path} is not committed at HEAD")))?;
    let object = entry.object().map_err(git_error)?;
    Ok(String::from_utf8_lossy(&object.data).into_owned())
}

/// `package.version` (or `workspace.package.version`) of a Cargo manifest.
pub fn manifest_version(name: &str, text: &str) -> Result<semver::Version, Problem> {
    let manifest: toml::Table = toml::from_str(text)
        .map_err(|e| Problem::Fail(format!("{name} is not valid TOML: {}", e.message())))?;
    let version = manifest
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .or_else(|| {
            manifest
                .get("workspace")
                .and_then(|w| w.get("package"))
                .and_then(|p| p.get("version"))
                .and_then(|v| v.as_str())
        })
        .ok_or_else(|| Problem::Fail(format!("{name} has no package.version")))?;
    semver::Version::parse(version).map_err(|e| {
        Problem::Fail(format!(
            "{name}: version \"{version}\" is not semantic ({e})"
        ))
    })
}

/// The names of the repository's tags.
fn tags(repo: &gix::Repository) -> Result<Vec<String>, Problem> {
    let refs = repo.references().map_err(git_error)?;
    let mut out = Vec::new();
    for r in refs.tags().map_err(git_error)? {
        let r = r.map_err(git_error)?;
        out.push(r.name().shorten().to_str_lossy().into_owned());
    }
    Ok(out)
}

/// A tag `vX.Y.Z` names the manifest's version.
pub fn version_tag(version: &semver::Version, tags: &[String]) -> Outcome {
    let want = format!("v{version}");
    if tags.contains(&want) {
        return Ok(());
    }
    let releases: Vec<&String> = tags
        .iter()
        .filter(|t| {
            t.strip_prefix('v')
                .is_some_and(|v| semver::Version::parse(v).is_ok())
        })
        .collect();
    let has = if releases.is_empty() {
        "it has no vX.Y.Z tag".to_string()
    } else {
        format!(
            "its release tags are {}",
            clip(
                &releases
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                80
            )
        )
    };
    Err(Problem::Fail(format!(
        "no tag {want} for Cargo.toml's version {version}; {has} (tag the release: git tag {want}, then push the tag)"
    )))
}

/// Every file tracked at HEAD, with its blob id.
fn tracked(repo: &gix::Repository) -> Result<Vec<(String, gix::ObjectId)>, Problem> {
    let tree = head(repo)?.tree().map_err(git_error)?;
    tree_files(&tree)
}

fn tree_files(tree: &gix::Tree<'_>) -> Result<Vec<(String, gix::ObjectId)>, Problem> {
    let entries = tree.traverse().breadthfirst.files().map_err(git_error)?;
    Ok(entries
        .into_iter()
        .filter(|e| e.mode.is_blob() || e.mode.is_link())
        .map(|e| (e.filepath.to_str_lossy().into_owned(), e.oid))
        .collect())
}

/// No tracked path matches a glob (`*` crosses folders: `*.onnx` matches at any
/// depth, `target/**` everything under a top-level `target`).
pub fn absent(files: &[String], globs: &[String]) -> Outcome {
    let mut set = globset::GlobSetBuilder::new();
    for g in globs {
        set.add(globset::Glob::new(g).map_err(|e| Problem::Error(format!("glob {g}: {e}")))?);
    }
    let set = set
        .build()
        .map_err(|e| Problem::Error(format!("globs: {e}")))?;
    let found: Vec<&String> = files.iter().filter(|f| set.is_match(f.as_str())).collect();
    if found.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = found.iter().take(5).map(|f| f.as_str()).collect();
    Err(Problem::Fail(format!(
        "{} tracked file{} should not be committed: {}{} (git rm --cached them and add them to .gitignore)",
        found.len(),
        if found.len() > 1 { "s" } else { "" },
        shown.join(", "),
        if found.len() > 5 { ", …" } else { "" }
    )))
}

/// No tracked file is over `max_kb` KiB.
pub fn max_size(sizes: &[(String, u64)], max_kb: u64) -> Outcome {
    let mut over: Vec<&(String, u64)> = sizes.iter().filter(|(_, s)| *s > max_kb * 1024).collect();
    if over.is_empty() {
        return Ok(());
    }
    over.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    let shown: Vec<String> = over
        .iter()
        .take(3)
        .map(|(p, s)| format!("{p} ({} KiB)", s.div_ceil(1024)))
        .collect();
    Err(Problem::Fail(format!(
        "{} tracked file{} over {max_kb} KiB: {}; keep data and models out of git (DVC, releases)",
        over.len(),
        if over.len() > 1 { "s are" } else { " is" },
        shown.join(", ")
    )))
}

/// The ignore files committed at HEAD make git ignore each path (a trailing `/`
/// marks a folder).
fn ignores(repo: &gix::Repository, paths: &[String]) -> Outcome {
    let tree = head(repo)?.tree().map_err(git_error)?;
    let index = repo.index_from_tree(&tree.id).map_err(git_error)?;
    let mut stack = repo
        .excludes(
            &index,
            None,
            gix::worktree::stack::state::ignore::Source::IdMapping,
        )
        .map_err(git_error)?;
    let mut not_ignored = Vec::new();
    for path in paths {
        let (rel, mode) = match path.strip_suffix('/') {
            Some(dir) => (dir, Some(gix::index::entry::Mode::DIR)),
            None => (path.as_str(), Some(gix::index::entry::Mode::FILE)),
        };
        let platform = stack.at_path(rel, mode).map_err(git_error)?;
        if !platform.is_excluded() {
            not_ignored.push(path.as_str());
        }
    }
    if not_ignored.is_empty() {
        Ok(())
    } else {
        Err(Problem::Fail(format!(
            "the committed .gitignore does not ignore {}; add a pattern for {}",
            not_ignored.join(", "),
            if not_ignored.len() > 1 { "them" } else { "it" }
        )))
    }
}

/// Secrets in any commit reachable from any ref: each blob is scanned once, and
/// a finding names the first commit (newest first) found holding it.
pub fn scan_history(dir: &Path) -> Result<Vec<Finding>, Problem> {
    let repo = open(dir)?;
    let mut tips = Vec::new();
    let refs = repo.references().map_err(git_error)?;
    for r in refs.all().map_err(git_error)? {
        let mut r = r.map_err(git_error)?;
        if let Ok(id) = r.peel_to_id()
            && let Ok(object) = id.object()
            && object.kind == gix::object::Kind::Commit
        {
            tips.push(id.detach());
        }
    }
    if let Ok(head) = repo.head_commit() {
        tips.push(head.id);
    }
    let mut seen_blobs = HashSet::new();
    let mut found = Vec::new();
    let walk = repo.rev_walk(tips).all().map_err(git_error)?;
    for info in walk.take(MAX_COMMITS) {
        let info = info.map_err(git_error)?;
        let commit = info.object().map_err(git_error)?;
        let tree = commit.tree().map_err(git_error)?;
        for (path, id) in tree_files(&tree)? {
            if !seen_blobs.insert(id) {
                continue;
            }
            if seen_blobs.len() > MAX_BLOBS {
                return Err(Problem::Fail(format!(
                    "the history has over {MAX_BLOBS} file versions; too many to scan"
                )));
            }
            let Ok(header) = repo.find_header(id) else {
                continue;
            };
            if header.size() > secrets::SCAN_FILE_CAP {
                continue;
            }
            let Ok(blob) = repo.find_object(id) else {
                continue;
            };
            for mut f in secrets::scan_text(&path, &blob.data) {
                f.commit = Some(short(&info.id));
                found.push(f);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A repository made with the git CLI, isolated from the machine's config.
    struct TestRepo {
        dir: tempfile::TempDir,
    }

    impl TestRepo {
        fn new() -> Self {
            let repo = TestRepo {
                dir: tempfile::tempdir().expect("tempdir"),
            };
            repo.git(&["init", "-q", "-b", "main"]);
            repo
        }

        fn git(&self, args: &[&str]) {
            let status = Command::new("git")
                .args(args)
                .current_dir(self.dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("HOME", self.dir.path())
                .env("GIT_AUTHOR_NAME", "Student")
                .env("GIT_AUTHOR_EMAIL", "student@example.org")
                .env("GIT_COMMITTER_NAME", "Student")
                .env("GIT_COMMITTER_EMAIL", "student@example.org")
                .status()
                .expect("git runs");
            assert!(status.success(), "git {args:?}");
        }

        fn write(&self, path: &str, content: &[u8]) {
            let p = self.dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, content).expect("write");
        }

        fn commit(&self, message: &str) {
            self.git(&["add", "-A"]);
            self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        }

        fn check(&self, rule: RepoRule) -> Outcome {
            check(&rule, self.dir.path())
        }
    }

    fn fail(o: Outcome) -> String {
        match o {
            Err(Problem::Fail(m)) => {
                assert!(!m.contains('\n'), "one line: {m}");
                m
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn types() -> Vec<String> {
        crate::spec::DEFAULT_TYPES
            .iter()
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn conventional_commits_are_counted_on_messages() {
        let m = |v: &[&str]| -> Vec<(String, String)> {
            v.iter()
                .enumerate()
                .map(|(i, s)| (format!("{i:08x}"), s.to_string()))
                .collect()
        };
        let good = m(&[
            "feat: train a baseline",
            "fix(cli)!: exit 2 on bad input",
            "docs: design",
        ]);
        assert!(conventional(&good, 100, &types()).is_ok());
        let mixed = m(&[
            "feat: train",
            "wip",
            "Update README.md",
            "chore: fmt",
            "ci: cache",
        ]);
        assert!(conventional(&mixed, 60, &types()).is_ok());
        let msg = fail(conventional(&mixed, 80, &types()));
        assert!(
            msg.starts_with(
                "3 of 5 commits (60%) follow Conventional Commits, expected at least 80%"
            ),
            "{msg}"
        );
        assert!(msg.contains("00000001 \"wip\""), "{msg}");
        // A well-formed message with a type outside the list does not count.
        assert!(conventional(&m(&["yolo: ship it"]), 50, &types()).is_err());
        assert!(conventional(&[], 50, &types()).is_err());
    }

    #[test]
    fn version_tags_match_the_manifest() {
        let v = manifest_version(
            "Cargo.toml",
            "[package]\nname = \"w\"\nversion = \"0.3.1\"\n",
        )
        .expect("version");
        assert!(version_tag(&v, &["v0.3.0".into(), "v0.3.1".into()]).is_ok());
        let m = fail(version_tag(&v, &["v0.3.0".into(), "nightly".into()]));
        assert!(
            m.starts_with(
                "no tag v0.3.1 for Cargo.toml's version 0.3.1; its release tags are v0.3.0"
            ),
            "{m}"
        );
        assert!(fail(version_tag(&v, &[])).contains("it has no vX.Y.Z tag"));
        let w = manifest_version("Cargo.toml", "[workspace.package]\nversion = \"1.0.0\"\n")
            .expect("workspace version");
        assert_eq!(w.to_string(), "1.0.0");
        assert!(
            fail(manifest_version("Cargo.toml", "[package]\nname = \"w\"\n").map(|_| ()))
                .contains("no package.version")
        );
        assert!(
            fail(manifest_version("Cargo.toml", "[package]\nversion = \"one\"\n").map(|_| ()))
                .contains("not semantic")
        );
    }

    #[test]
    fn absent_paths_and_sizes_on_lists() {
        let files: Vec<String> = [
            "src/main.rs",
            "target/debug/w",
            "models/tree.onnx",
            "README.md",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(absent(&files, &["*.pt".into(), "data/**".into()]).is_ok());
        let m = fail(absent(&files, &["target/**".into(), "*.onnx".into()]));
        assert!(
            m.starts_with(
                "2 tracked files should not be committed: target/debug/w, models/tree.onnx"
            ),
            "{m}"
        );
        let sizes = vec![
            ("src/main.rs".to_string(), 2_000),
            ("data/wine.csv".to_string(), 3_000_000),
        ];
        assert!(max_size(&sizes, 4096).is_ok());
        let m = fail(max_size(&sizes, 1024));
        assert!(
            m.starts_with("1 tracked file is over 1024 KiB: data/wine.csv (2930 KiB)"),
            "{m}"
        );
    }

    #[test]
    fn a_real_repository_graded_rule_by_rule() {
        let r = TestRepo::new();
        assert!(fail(r.check(RepoRule::MaxFileSize { max_kb: 1 })).contains("no commit at HEAD"));
        r.write(
            "Cargo.toml",
            b"[package]\nname = \"w\"\nversion = \"0.2.0\"\nedition = \"2024\"\n",
        );
        r.write(".gitignore", b"/target\n*.onnx\n");
        r.write("src/main.rs", b"fn main() {}\n");
        r.write("deploy/.gitignore", b"live/\n");
        r.commit("feat: a first version");
        r.write("models/big.bin", &vec![7u8; 3000]);
        r.commit("add model");
        r.git(&["tag", "v0.1.0"]);

        assert!(
            r.check(RepoRule::ConventionalCommits {
                min_percent: 50,
                types: types()
            })
            .is_ok()
        );
        assert!(
            fail(r.check(RepoRule::ConventionalCommits {
                min_percent: 90,
                types: types()
            }))
            .contains("1 of 2 commits")
        );
        let m = fail(r.check(RepoRule::VersionTag {
            manifest: "Cargo.toml".into(),
        }));
        assert!(m.contains("no tag v0.2.0") && m.contains("v0.1.0"), "{m}");
        r.git(&["tag", "-a", "v0.2.0", "-m", "release 0.2.0"]);
        assert!(
            r.check(RepoRule::VersionTag {
                manifest: "Cargo.toml".into()
            })
            .is_ok()
        );
        assert!(
            fail(r.check(RepoRule::VersionTag {
                manifest: "sub/Cargo.toml".into()
            }))
            .contains("not committed")
        );

        assert!(
            r.check(RepoRule::AbsentPaths {
                globs: vec!["target/**".into(), "*.onnx".into()]
            })
            .is_ok()
        );
        assert!(
            fail(r.check(RepoRule::AbsentPaths {
                globs: vec!["models/**".into()]
            }))
            .contains("models/big.bin")
        );
        assert!(r.check(RepoRule::MaxFileSize { max_kb: 4 }).is_ok());
        assert!(
            fail(r.check(RepoRule::MaxFileSize { max_kb: 2 })).contains("models/big.bin (3 KiB)")
        );

        let ignores = |p: &[&str]| RepoRule::Ignores {
            paths: p.iter().map(|s| s.to_string()).collect(),
        };
        assert!(
            r.check(ignores(&["target/", "models/tree.onnx", "deploy/live/"]))
                .is_ok()
        );
        let m = fail(r.check(ignores(&["target/", ".env", "live/"])));
        assert!(m.contains("does not ignore .env, live/"), "{m}");
        // What is not committed does not count: an uncommitted .gitignore line.
        r.write(".gitignore", b"/target\n*.onnx\n.env\n");
        assert!(r.check(ignores(&[".env"])).is_err());
    }

    #[test]
    fn history_keeps_a_secret_that_a_later_commit_removed() {
        let r = TestRepo::new();
        let key = format!("aws = {}{}\n", "AKIA", "IOSFODNN7ABCDEFG");
        r.write("config.env", key.as_bytes());
        r.commit("feat: config");
        r.write("config.env", b"aws = from the environment\n");
        r.commit("fix: no key in the repo");
        let found = scan_history(r.dir.path()).expect("scan");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "config.env");
        assert_eq!(found[0].line, 1);
        assert!(found[0].commit.as_ref().is_some_and(|c| c.len() == 8));
        assert!(secrets::scan_tree(r.dir.path()).expect("tree").is_empty());
    }

    #[test]
    fn a_folder_without_git_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(
            fail(check(&RepoRule::MaxFileSize { max_kb: 1 }, dir.path()))
                .contains("not a git repository")
        );
        std::fs::write(dir.path().join(".git"), "gitdir: /etc\n").expect("write");
        assert!(
            fail(check(&RepoRule::MaxFileSize { max_kb: 1 }, dir.path())).contains("not a folder")
        );
    }
}
