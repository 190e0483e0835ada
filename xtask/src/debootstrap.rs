//! Debian root filesystems made with debootstrap from the machine's own apt
//! mirror and kept in `target/xtask/`: the local builder image's (bookworm,
//! gcc, libc6-dev, ca-certificates) and each judge image's (its recipe's
//! packages, see `judge_images.rs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{apt, cmd};

pub const SUITE: &str = "bookworm";
const VARIANT: &str = "minbase";
const INCLUDE: &str = "gcc,libc6-dev,ca-certificates";
/// Set this to use another Debian mirror than the one in apt's sources.
const MIRROR_ENV: &str = "XTASK_DEBIAN_MIRROR";

/// What the builder's root filesystem is made of (part of its input hash).
pub fn recipe() -> String {
    recipe_for(SUITE, &INCLUDE.split(',').collect::<Vec<_>>())
}

/// `debootstrap --variant=minbase --include=a,b suite`, as a description.
pub fn recipe_for(suite: &str, include: &[&str]) -> String {
    format!(
        "debootstrap --variant={VARIANT} --include={} {suite}",
        include.join(",")
    )
}

/// One root filesystem to make: what goes in, where, and how to tell that a
/// directory left by an earlier run is complete.
pub struct Spec<'a> {
    pub suite: &'a str,
    /// Debian package names for `--include` (no versions: debootstrap takes
    /// the suite's; the caller checks pins against the result).
    pub include: &'a [&'a str],
    pub dir: PathBuf,
    /// Written once debootstrap succeeded; holds `stamp`.
    pub marker: PathBuf,
    /// What the marker must hold for `dir` to be reused (the recipe, and
    /// anything else that should force a fresh debootstrap when it changes).
    pub stamp: String,
    pub log: PathBuf,
    /// Paths (relative to `dir`) that a complete tree has.
    pub required: &'a [&'a str],
}

/// The builder's root filesystem directory, made (or remade) if it is not
/// complete.
pub fn ensure_rootfs(scratch: &Path) -> Result<PathBuf> {
    let include: Vec<&str> = INCLUDE.split(',').collect();
    ensure(&Spec {
        suite: SUITE,
        include: &include,
        dir: scratch.join(format!("rootfs-{SUITE}")),
        marker: scratch.join(format!("rootfs-{SUITE}.complete")),
        stamp: recipe(),
        log: scratch.join("debootstrap.log"),
        required: &["usr/bin/gcc", "usr/lib/x86_64-linux-gnu/libc.a"],
    })
}

/// The root filesystem `spec` describes, made (or remade) if it is not
/// complete. Returns its directory.
pub fn ensure(spec: &Spec) -> Result<PathBuf> {
    let Spec {
        suite,
        include,
        dir,
        marker,
        stamp,
        log: log_path,
        required,
    } = spec;
    let recipe = recipe_for(suite, include);
    let complete = fs::read_to_string(marker).is_ok_and(|m| m.trim() == stamp.trim())
        && required.iter().all(|p| dir.join(p).exists());
    if complete {
        println!("    reusing {} (complete)", dir.display());
        return Ok(dir.clone());
    }
    if dir.exists() {
        println!("    removing the incomplete or outdated {}", dir.display());
        remove_rootfs(dir)?;
    }
    let _ = fs::remove_file(marker);
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let debootstrap = apt::ensure_program("debootstrap", "debootstrap")?;
    let mirror = debian_mirror(suite)?;
    let log =
        fs::File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let err_log = log.try_clone().context("opening the debootstrap log")?;
    println!(
        "    {recipe} {} {mirror}  (log: {})",
        dir.display(),
        log_path.display()
    );
    let mut command = Command::new(debootstrap);
    command
        .arg(format!("--variant={VARIANT}"))
        .arg(format!("--include={}", include.join(",")))
        .arg(suite)
        .arg(dir)
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log);
    let status = cmd::status(&mut command)?;
    if !status.success() {
        let text = fs::read_to_string(log_path).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| l.starts_with("E:") || l.contains("rror"))
            .or_else(|| text.lines().last())
            .unwrap_or("(empty log)");
        bail!(
            "debootstrap failed ({status}): {last} (full log: {})",
            log_path.display()
        );
    }
    if let Some(missing) = required.iter().find(|p| !dir.join(p).exists()) {
        bail!(
            "debootstrap succeeded but {} has no /{missing} (log: {})",
            dir.display(),
            log_path.display()
        );
    }
    fs::write(marker, stamp).with_context(|| format!("writing {}", marker.display()))?;
    Ok(dir.clone())
}

/// Removes a root filesystem, first unmounting anything an interrupted
/// debootstrap left mounted inside it (never deleting through a mount).
fn remove_rootfs(dir: &Path) -> Result<()> {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounted = mounts_under(&canonical)?;
    for mount in mounted.iter().rev() {
        println!("    unmounting {}", mount.display());
        let _ = cmd::output(Command::new("umount").arg("-l").arg(mount));
    }
    let left = mounts_under(&canonical)?;
    if let Some(mount) = left.first() {
        bail!(
            "{} is still mounted inside {}: unmount it, then run again",
            mount.display(),
            dir.display()
        );
    }
    fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

/// Mount points at or under `dir`, from /proc/self/mounts.
fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mounts = fs::read_to_string("/proc/self/mounts").context("reading /proc/self/mounts")?;
    Ok(mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect())
}

/// The Debian mirror for `suite`, read from the machine's apt sources
/// (`/etc/apt/sources.list`, `/etc/apt/sources.list.d/*.list` and `*.sources`).
pub fn debian_mirror(suite: &str) -> Result<String> {
    if let Ok(mirror) = std::env::var(MIRROR_ENV)
        && !mirror.trim().is_empty()
    {
        return Ok(mirror.trim().to_owned());
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let found = match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => mirror_in_deb822(&text, suite),
            _ => mirror_in_one_line(&text, suite),
        };
        if let Some(mirror) = found {
            return Ok(mirror);
        }
    }
    bail!(
        "no apt source for Debian {suite} `main` found in /etc/apt/sources.list*: set {MIRROR_ENV} to a Debian mirror URL"
    )
}

/// `deb [options] URI SUITE COMPONENT...` lines.
fn mirror_in_one_line(text: &str, suite: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        let rest = line.strip_prefix("deb ")?.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(opts) => opts.split_once(']')?.1,
            None => rest,
        };
        let mut words = rest.split_whitespace();
        let uri = words.next()?;
        let found = words.next()?;
        let components: Vec<&str> = words.collect();
        (found == suite && components.contains(&"main")).then(|| uri.to_owned())
    })
}

/// deb822 stanzas: `Types:`, `URIs:`, `Suites:`, `Components:`, `Enabled:`.
fn mirror_in_deb822(text: &str, suite: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (key, value) = l.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let types = field("Types")?;
        let suites = field("Suites")?;
        let components = field("Components")?;
        let enabled = field("Enabled").is_none_or(|e| e != "no");
        let wanted = enabled
            && types.split_whitespace().any(|t| t == "deb")
            && suites.split_whitespace().any(|s| s == suite)
            && components.split_whitespace().any(|c| c == "main");
        wanted
            .then(|| field("URIs"))
            .flatten()
            .and_then(|uris| uris.split_whitespace().next().map(str::to_owned))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_deb822_sources() {
        let text = "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n";
        assert_eq!(
            mirror_in_deb822(text, SUITE).as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(
            mirror_in_deb822(
                "Types: deb\nURIs: https://x/apt\nSuites: nodistro\nComponents: main\n",
                SUITE
            ),
            None
        );
    }

    #[test]
    fn the_builders_recipe_is_unchanged() {
        // The builder image's input hash and its rootfs marker hold this text:
        // a change rebuilds both.
        assert_eq!(
            recipe(),
            "debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm"
        );
        assert_eq!(
            recipe_for("trixie", &["dotdrop", "git"]),
            "debootstrap --variant=minbase --include=dotdrop,git trixie"
        );
    }

    #[test]
    fn reads_one_line_sources() {
        let text = "# deb http://old bookworm main\ndeb https://packages.example/apt cloud-sdk-bookworm main\ndeb [signed-by=/k.gpg] http://m.example/debian bookworm main contrib\n";
        assert_eq!(
            mirror_in_one_line(text, SUITE).as_deref(),
            Some("http://m.example/debian")
        );
    }
}
