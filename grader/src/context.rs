//! The build context: the submission folder packed as an in-memory tar.
//!
//! The tar is made deterministic (sorted paths, zero timestamps and owners, only
//! the executable bit kept from modes) so that its SHA-256 names the content: a
//! regrade of an unchanged submission finds its image in the cache. What cannot be
//! trusted is refused here, before Docker sees anything: a context over its size
//! cap, and links that lead outside the folder.

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

/// A packed build context.
#[derive(Debug)]
pub struct BuildContext {
    pub tar: Vec<u8>,
    /// SHA-256 of the tar, hex.
    pub sha256: String,
    pub files: usize,
}

impl BuildContext {
    /// The paths of the context's regular files called `file_name`, in any
    /// folder.
    pub fn paths_named(&self, file_name: &str) -> Vec<String> {
        let mut archive = tar::Archive::new(self.tar.as_slice());
        let Ok(entries) = archive.entries() else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.header().entry_type().is_file())
            .filter_map(|e| e.path().ok().map(|p| p.to_string_lossy().into_owned()))
            .filter(|p| Path::new(p).file_name().is_some_and(|n| n == file_name))
            .collect()
    }

    /// A regular file of the packed context, as the engine will read it: the
    /// Dockerfile is judged from here, never read again from the folder.
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        use std::io::Read;
        let mut archive = tar::Archive::new(self.tar.as_slice());
        for entry in archive.entries().ok()? {
            let mut entry = entry.ok()?;
            if entry.header().entry_type().is_file()
                && entry.path().ok().is_some_and(|p| p == Path::new(name))
            {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).ok()?;
                return Some(data);
            }
        }
        None
    }
}

/// Why a submission folder could not be packed. Each is the submission's fault
/// and becomes a "build failed" verdict with this message.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("no Dockerfile at the top of the submission ({0})")]
    NoDockerfile(PathBuf),
    #[error("the build context is over its {limit_mb} MB cap (reached at {at})")]
    TooLarge { limit_mb: u64, at: String },
    #[error(
        "the build context has over {MAX_ENTRIES} files and folders (reached at {at}); leave build output out with .dockerignore"
    )]
    TooManyEntries { at: String },
    #[error("{path} is a link that leads outside the submission ({target})")]
    LinkOutside { path: String, target: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(".dockerignore: {0}")]
    Ignore(String),
}

/// The most files and folders a context may hold: a lab's source is a few dozen;
/// past this it is build output or an attack, and walking further costs time.
pub const MAX_ENTRIES: usize = 10_000;

/// Packs `dir` into a tar, honouring `.dockerignore`, refusing what is unsafe.
pub fn pack(dir: &Path, limit_mb: u64) -> Result<BuildContext, ContextError> {
    if !dir.join("Dockerfile").is_file() {
        return Err(ContextError::NoDockerfile(dir.join("Dockerfile")));
    }
    pack_with(dir, limit_mb, &dockerignore(dir)?)
}

/// Packs the submission's files as a judge sees them (`/work/tree`): no
/// Dockerfile needed, `.dockerignore` not applied, and `.git` left out unless
/// `with_git`; the same caps and the same refusal of links leading outside.
pub fn pack_tree(dir: &Path, limit_mb: u64, with_git: bool) -> Result<BuildContext, ContextError> {
    let mut builder = GitignoreBuilder::new(dir);
    if !with_git {
        builder
            .add_line(None, "/.git")
            .map_err(|e| ContextError::Ignore(e.to_string()))?;
    }
    let ignore = builder
        .build()
        .map_err(|e| ContextError::Ignore(e.to_string()))?;
    pack_with(dir, limit_mb, &ignore)
}

fn pack_with(dir: &Path, limit_mb: u64, ignore: &Gitignore) -> Result<BuildContext, ContextError> {
    let limit = limit_mb.saturating_mul(1 << 20);
    let mut entries = Vec::new();
    collect(dir, dir, ignore, &mut entries)?;
    entries.sort();

    let mut builder = tar::Builder::new(Vec::new());
    let mut total: u64 = 0;
    let mut files = 0;
    for rel in &entries {
        let path = dir.join(rel);
        let name = rel.to_string_lossy().replace('\\', "/");
        let meta = std::fs::symlink_metadata(&path).map_err(|source| io(&name, source))?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|source| io(&name, source))?;
            check_link(rel, &target)?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder
                .append_link(&mut header, &name, &target)
                .map_err(|source| io(&name, source))?;
        } else if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, &name, std::io::empty())
                .map_err(|source| io(&name, source))?;
        } else if meta.is_file() {
            total += meta.len();
            if total > limit {
                return Err(ContextError::TooLarge { limit_mb, at: name });
            }
            let data = std::fs::read(&path).map_err(|source| io(&name, source))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if is_executable(&meta) { 0o755 } else { 0o644 });
            header.set_size(data.len() as u64);
            builder
                .append_data(&mut header, &name, data.as_slice())
                .map_err(|source| io(&name, source))?;
            files += 1;
        }
        // Sockets, FIFOs and devices are not sent; Docker could not use them.
    }
    let tar = builder.into_inner().map_err(|source| io("<tar>", source))?;
    let sha256 = hex::encode(Sha256::digest(&tar));
    Ok(BuildContext { tar, sha256, files })
}

fn io(path: &str, source: std::io::Error) -> ContextError {
    ContextError::Io {
        path: path.to_string(),
        source,
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// Walks `dir`, recording paths relative to `root` that `.dockerignore` keeps.
/// Links are recorded, never followed.
fn collect(
    root: &Path,
    dir: &Path,
    ignore: &Gitignore,
    out: &mut Vec<PathBuf>,
) -> Result<(), ContextError> {
    let rd = std::fs::read_dir(dir).map_err(|source| io(&dir.display().to_string(), source))?;
    for entry in rd {
        let entry = entry.map_err(|source| io(&dir.display().to_string(), source))?;
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let ft = entry
            .file_type()
            .map_err(|source| io(&rel.display().to_string(), source))?;
        let is_dir = ft.is_dir();
        if is_ignored(ignore, &rel, is_dir) {
            continue;
        }
        if out.len() >= MAX_ENTRIES {
            return Err(ContextError::TooManyEntries {
                at: rel.display().to_string(),
            });
        }
        out.push(rel);
        if is_dir {
            collect(root, &path, ignore, out)?;
        }
    }
    Ok(())
}

/// Docker always sends the Dockerfile and `.dockerignore`, whatever the patterns say.
fn is_ignored(ignore: &Gitignore, rel: &Path, is_dir: bool) -> bool {
    if rel == Path::new("Dockerfile") || rel == Path::new(".dockerignore") {
        return false;
    }
    ignore.matched_path_or_any_parents(rel, is_dir).is_ignore()
}

/// Reads `.dockerignore` into gitignore matchers. Docker's patterns are anchored at
/// the context's root (`*.md` matches only top-level files, `**/*.md` any depth), so
/// each pattern is given a leading `/` to carry the same meaning in gitignore syntax.
fn dockerignore(dir: &Path) -> Result<Gitignore, ContextError> {
    let mut builder = GitignoreBuilder::new(dir);
    let file = dir.join(".dockerignore");
    if let Ok(text) = std::fs::read_to_string(&file) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (neg, pat) = match line.strip_prefix('!') {
                Some(rest) => ("!", rest.trim()),
                None => ("", line),
            };
            let pat = pat.trim_start_matches("./").trim_start_matches('/');
            builder
                .add_line(None, &format!("{neg}/{pat}"))
                .map_err(|e| ContextError::Ignore(e.to_string()))?;
        }
    }
    builder
        .build()
        .map_err(|e| ContextError::Ignore(e.to_string()))
}

/// A link is allowed when its target, taken relative to the link's own folder,
/// stays inside the context. Absolute targets always leave it.
fn check_link(rel: &Path, target: &Path) -> Result<(), ContextError> {
    let outside = || ContextError::LinkOutside {
        path: rel.display().to_string(),
        target: target.display().to_string(),
    };
    if target.is_absolute() {
        return Err(outside());
    }
    // Depth of the link's folder below the root, then walk the target lexically.
    let mut depth: i64 = rel.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
        if depth < 0 {
            return Err(outside());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn submission() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
        dir
    }

    #[test]
    fn a_tree_needs_no_dockerfile_and_leaves_git_out_unless_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("config.yaml"), "x").expect("write");
        fs::write(dir.path().join(".dockerignore"), "config.yaml\n").expect("write");
        fs::create_dir(dir.path().join(".git")).expect("mkdir");
        fs::write(dir.path().join(".git/HEAD"), "ref").expect("write");
        let tree = pack_tree(dir.path(), 64, false).expect("pack");
        let n = names(&tree);
        assert!(n.contains(&"config.yaml".to_string()), "{n:?}");
        assert!(
            !n.iter().any(|p| p.starts_with(".git/") || p == ".git"),
            "{n:?}"
        );
        let with_git = names(&pack_tree(dir.path(), 64, true).expect("pack"));
        assert!(with_git.contains(&".git/HEAD".to_string()), "{with_git:?}");
    }

    #[test]
    fn the_dockerfile_is_read_back_from_the_packed_context() {
        let dir = submission();
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        fs::write(dir.path().join("sub/Dockerfile"), "FROM other\n").expect("write");
        let ctx = pack(dir.path(), 64).expect("pack");
        assert_eq!(
            ctx.file("Dockerfile").as_deref(),
            Some(&b"FROM scratch\n"[..])
        );
        assert_eq!(
            ctx.file("sub/Dockerfile").as_deref(),
            Some(&b"FROM other\n"[..])
        );
        assert_eq!(ctx.file("missing"), None);
        assert_eq!(ctx.file("sub"), None, "a folder is not a file");
    }

    fn names(ctx: &BuildContext) -> Vec<String> {
        let mut ar = tar::Archive::new(ctx.tar.as_slice());
        ar.entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn dockerignore_is_anchored_at_the_root_and_honours_exceptions() {
        let dir = submission();
        let p = dir.path();
        fs::create_dir_all(p.join("target/release")).expect("mkdir");
        fs::create_dir_all(p.join("docs")).expect("mkdir");
        fs::write(p.join("target/release/big"), "x").expect("write");
        fs::write(p.join("README.md"), "x").expect("write");
        fs::write(p.join("KEEP.md"), "x").expect("write");
        fs::write(p.join("docs/guide.md"), "x").expect("write");
        fs::write(
            p.join(".dockerignore"),
            "target\n*.md\n!KEEP.md\nDockerfile\n",
        )
        .expect("write");
        let ctx = pack(p, 1).expect("pack");
        let n = names(&ctx);
        assert!(n.contains(&"KEEP.md".to_string()), "{n:?}");
        assert!(
            n.contains(&"docs/guide.md".to_string()),
            "only top-level *.md is ignored: {n:?}"
        );
        assert!(
            n.contains(&"Dockerfile".to_string()),
            "Dockerfile is always sent: {n:?}"
        );
        assert!(!n.iter().any(|x| x.starts_with("target")), "{n:?}");
        assert!(!n.contains(&"README.md".to_string()), "{n:?}");
    }

    #[test]
    fn same_content_gives_same_hash_whatever_the_timestamps() {
        let a = submission();
        fs::write(a.path().join("x"), "same").expect("write");
        let first = pack(a.path(), 1).expect("pack").sha256;
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(a.path().join("x"), "same").expect("rewrite");
        assert_eq!(first, pack(a.path(), 1).expect("pack").sha256);
        fs::write(a.path().join("x"), "changed").expect("write");
        assert_ne!(first, pack(a.path(), 1).expect("pack").sha256);
    }

    #[test]
    fn refuses_a_context_with_too_many_entries() {
        let dir = submission();
        let many = dir.path().join("many");
        fs::create_dir(&many).expect("mkdir");
        for i in 0..MAX_ENTRIES {
            fs::write(many.join(i.to_string()), "").expect("write");
        }
        let err = pack(dir.path(), 64).expect_err("too many");
        assert!(matches!(err, ContextError::TooManyEntries { .. }), "{err}");
        assert!(err.to_string().contains(".dockerignore"), "{err}");
    }

    #[test]
    fn refuses_a_context_over_its_cap() {
        let dir = submission();
        fs::write(dir.path().join("blob"), vec![0u8; 2 << 20]).expect("write");
        let err = pack(dir.path(), 1).expect_err("must fail");
        assert!(
            matches!(err, ContextError::TooLarge { limit_mb: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn refuses_links_that_leave_the_context_and_keeps_those_inside() {
        let dir = submission();
        let p = dir.path();
        fs::create_dir(p.join("sub")).expect("mkdir");
        fs::write(p.join("data"), "x").expect("write");
        std::os::unix::fs::symlink("../data", p.join("sub/inside")).expect("link");
        assert!(pack(p, 1).is_ok());
        std::os::unix::fs::symlink("../../etc/passwd", p.join("sub/out")).expect("link");
        let err = pack(p, 1).expect_err("must fail");
        assert!(matches!(err, ContextError::LinkOutside { .. }), "{err}");
        fs::remove_file(p.join("sub/out")).expect("rm");
        std::os::unix::fs::symlink("/etc/passwd", p.join("abs")).expect("link");
        assert!(matches!(pack(p, 1), Err(ContextError::LinkOutside { .. })));
    }

    #[test]
    fn a_missing_dockerfile_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = pack(dir.path(), 1).expect_err("must fail");
        assert!(err.to_string().contains("no Dockerfile"), "{err}");
    }
}
