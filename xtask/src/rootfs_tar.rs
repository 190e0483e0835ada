//! Writing root filesystems as tar streams (for `docker import`): single
//! entries made in memory, and whole host directory trees placed at a path.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tar::{EntryType, Header, HeaderMode};

/// A fixed mtime for entries made in memory, so the same inputs give the
/// same archive.
const EPOCH: u64 = 1_700_000_000;

/// How a host tree is copied into the archive.
pub struct TreeOptions<'a> {
    /// Skip this path (relative to the tree's root) and, for a directory,
    /// everything under it.
    pub exclude: &'a dyn Fn(&Path, bool) -> bool,
    /// Store everything as owned by root (0:0) instead of the host owner.
    pub root_owned: bool,
    /// Bits or-ed into directories' and files' modes.
    pub dir_mode_or: u32,
    pub file_mode_or: u32,
}

pub struct RootfsTar<W: Write> {
    builder: tar::Builder<W>,
    /// (device, inode) of files with several links -> where the first went.
    hardlinks: HashMap<(u64, u64), PathBuf>,
    pub skipped_special: usize,
    pub files: u64,
    pub bytes: u64,
}

impl<W: Write> RootfsTar<W> {
    pub fn new(out: W) -> Self {
        Self {
            builder: tar::Builder::new(out),
            hardlinks: HashMap::new(),
            skipped_special: 0,
            files: 0,
            bytes: 0,
        }
    }

    fn header(kind: EntryType, mode: u32, uid: u64, gid: u64, size: u64) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_size(size);
        header.set_mtime(EPOCH);
        header
    }

    /// A directory entry made in memory.
    pub fn dir(&mut self, path: &str, mode: u32, uid: u64, gid: u64) -> Result<()> {
        let mut header = Self::header(EntryType::Directory, mode, uid, gid, 0);
        self.builder
            .append_data(&mut header, path, io::empty())
            .with_context(|| format!("adding {path}/"))
    }

    /// A regular file made in memory.
    pub fn file(&mut self, path: &str, mode: u32, uid: u64, gid: u64, data: &[u8]) -> Result<()> {
        let mut header = Self::header(EntryType::Regular, mode, uid, gid, data.len() as u64);
        self.files += 1;
        self.bytes += data.len() as u64;
        self.builder
            .append_data(&mut header, path, data)
            .with_context(|| format!("adding {path}"))
    }

    /// The host tree `src` placed at `dest` in the archive (`dest` empty for
    /// the archive's root). `src` itself gets an entry unless `dest` is empty.
    /// Symlinks stay symlinks, hard links stay hard links, device nodes,
    /// fifos and sockets are skipped.
    pub fn tree(&mut self, src: &Path, dest: &Path, opts: &TreeOptions) -> Result<()> {
        if !dest.as_os_str().is_empty() {
            let meta =
                fs::symlink_metadata(src).with_context(|| format!("reading {}", src.display()))?;
            self.entry(src, dest, &meta, opts)?;
        }
        self.walk(src, Path::new(""), dest, opts)
    }

    fn walk(&mut self, src: &Path, rel: &Path, dest: &Path, opts: &TreeOptions) -> Result<()> {
        let dir = src.join(rel);
        let mut entries = fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()
            .with_context(|| format!("reading {}", dir.display()))?;
        entries.sort();
        for name in entries {
            let rel = rel.join(&name);
            let path = src.join(&rel);
            let meta = fs::symlink_metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if (opts.exclude)(&rel, meta.is_dir()) {
                continue;
            }
            self.entry(&path, &dest.join(&rel), &meta, opts)?;
            if meta.is_dir() {
                self.walk(src, &rel, dest, opts)?;
            }
        }
        Ok(())
    }

    fn entry(
        &mut self,
        path: &Path,
        dest: &Path,
        meta: &fs::Metadata,
        opts: &TreeOptions,
    ) -> Result<()> {
        let kind = meta.file_type();
        if !(kind.is_dir() || kind.is_file() || kind.is_symlink()) {
            self.skipped_special += 1;
            return Ok(());
        }
        let mut header = Header::new_gnu();
        header.set_metadata_in_mode(meta, HeaderMode::Complete);
        if opts.root_owned {
            header.set_uid(0);
            header.set_gid(0);
        }
        let mode = meta.mode() & 0o7777;
        let context = || format!("adding {}", path.display());
        if kind.is_dir() {
            header.set_mode(mode | opts.dir_mode_or);
            self.builder
                .append_data(&mut header, dest, io::empty())
                .with_context(context)
        } else if kind.is_symlink() {
            let target = fs::read_link(path).with_context(context)?;
            self.builder
                .append_link(&mut header, dest, target)
                .with_context(context)
        } else {
            header.set_mode(mode | opts.file_mode_or);
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.hardlinks.get(&key) {
                    header.set_entry_type(EntryType::Link);
                    header.set_size(0);
                    let first = first.clone();
                    return self
                        .builder
                        .append_link(&mut header, dest, first)
                        .with_context(context);
                }
                self.hardlinks.insert(key, dest.to_path_buf());
            }
            let file = File::open(path).with_context(context)?;
            self.files += 1;
            self.bytes += meta.len();
            self.builder
                .append_data(&mut header, dest, file)
                .with_context(context)
        }
    }

    /// Writes the end-of-archive marker.
    pub fn finish(mut self) -> Result<()> {
        self.builder.finish().context("finishing the tar stream")
    }
}
