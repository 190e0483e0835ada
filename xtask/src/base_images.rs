//! `cargo xtask base-images`: the two local base images that stand in for
//! the registry images the labs' Dockerfiles name, so they build offline:
//!
//! - `mlops-local/static:nonroot` for `gcr.io/distroless/static-debian12:nonroot`
//! - `mlops-local/rust-builder:1.95` for `ghcr.io/mlops-course/rust-builder:1.95`
//!   (whose real recipe is `images/rust-builder/Dockerfile`)
//!
//! Each image carries a hash of its inputs in a label; an image whose label
//! matches is kept as it is.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::docker::{self, LOCAL_LABEL};
use crate::rootfs_tar::{RootfsTar, TreeOptions};
use crate::step::{fmt_duration, step};
use crate::{cmd, debootstrap, workspace};

pub const STATIC_TAG: &str = "mlops-local/static:nonroot";
pub const BUILDER_TAG: &str = "mlops-local/rust-builder:1.95";
/// The Rust release series the builder image is named for.
const RUST_SERIES: &str = "1.95";
/// Bump when the way an image is made changes, to force a rebuild.
const STATIC_RECIPE: &str = "static-nonroot v1";
const BUILDER_RECIPE: &str = "rust-builder v2 (cooked)";
/// The imported root filesystem, before the labs' dependencies are cooked in.
const BUILDER_BASE_TAG: &str = "mlops-local/rust-builder-base:1.95";
/// The script that compiles the labs' dependencies into `/src/target`.
const COOK_SCRIPT: &str = "images/rust-builder/cook.sh";
/// The label holding the hash of an image's inputs.
const INPUTS_LABEL: &str = "dev.mlops-course.inputs";
const NONROOT: u64 = 65532;
const TARGET: &str = "x86_64-unknown-linux-gnu";
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Makes both images unless they are up to date (`rebuild`: regardless).
pub fn run(rebuild: bool) -> Result<()> {
    let start = Instant::now();
    let version = step("check docker", docker::check_daemon)?;
    println!("    Docker Engine {version}");
    // One run at a time on a machine: two would debootstrap into the same
    // directory. Held until this function returns.
    let _lock = lock("base-images.lock", "cargo xtask base-images")?;
    let static_built = ensure_static(rebuild)?;
    let builder_built = ensure_builder(rebuild)?;
    let built: Vec<&str> = [(static_built, STATIC_TAG), (builder_built, BUILDER_TAG)]
        .into_iter()
        .filter_map(|(built, tag)| built.then_some(tag))
        .collect();
    if !built.is_empty()
        && let Err(err) = step("verify the images (offline)", verify)
    {
        // Don't leave an image behind that the cache would trust next time.
        for tag in &built {
            let _ = docker::remove_image(tag);
        }
        return Err(err);
    }
    for tag in [STATIC_TAG, BUILDER_TAG] {
        if let Some(image) = docker::inspect_image(tag)? {
            println!("    {tag}: {}", docker::fmt_size(image.size));
        }
    }
    println!(
        "base images ready in {} ({})",
        fmt_duration(start.elapsed()),
        if built.is_empty() {
            "all cached".to_owned()
        } else {
            format!("built {}", built.join(", "))
        }
    );
    Ok(())
}

/// Takes the exclusive lock `target/xtask/<file>`, waiting for another run
/// (of `task`) that holds it.
pub(crate) fn lock(file: &str, task: &str) -> Result<File> {
    let path = workspace::scratch_dir()?.join(file);
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    if file.try_lock().is_err() {
        println!(
            "    waiting for another `{task}` to finish (lock: {})",
            path.display()
        );
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(file)
}

/// Hex SHA-256 over named parts (length-prefixed, so parts can't run together).
pub(crate) fn inputs_hash(parts: &[(&str, &[u8])]) -> String {
    let mut hasher = Sha256::new();
    for (name, bytes) in parts {
        for field in [name.as_bytes(), bytes] {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field);
        }
    }
    hex::encode(hasher.finalize())
}

/// Whether `tag` exists with inputs `hash`; prints the decision. Returns the
/// id of an existing outdated image, to drop once it is replaced.
pub(crate) fn cached(tag: &str, hash: &str, rebuild: bool) -> Result<(bool, Option<String>)> {
    let short = &hash[..12];
    match docker::inspect_image(tag)? {
        Some(image) if rebuild => {
            println!("    {tag}: rebuilding as asked (inputs {short})");
            Ok((false, Some(image.id)))
        }
        Some(image) if image.label(INPUTS_LABEL) == Some(hash) => {
            println!("    {tag}: up to date (inputs {short}), skipping");
            Ok((true, None))
        }
        Some(image) => {
            println!("    {tag}: inputs changed (now {short}), rebuilding");
            Ok((false, Some(image.id)))
        }
        None => {
            println!("    {tag}: not there yet (inputs {short}), building");
            Ok((false, None))
        }
    }
}

/// After re-tagging, the replaced image is dangling: remove it to save disk.
pub(crate) fn drop_replaced(old: Option<String>, new_id: &str) {
    if let Some(old) = old
        && old != new_id
        && docker::remove_image(&old).is_ok()
    {
        println!(
            "    removed the replaced image {}",
            &old[..old.len().min(19)]
        );
    }
}

pub(crate) fn labels(description: &str, hash: &str) -> Vec<String> {
    vec![
        format!("LABEL {LOCAL_LABEL}"),
        format!("LABEL {INPUTS_LABEL}={hash}"),
        format!("LABEL org.opencontainers.image.description=\"{description}\""),
    ]
}

// ---------------------------------------------------------------- static ---

fn ensure_static(rebuild: bool) -> Result<bool> {
    let ca_bundle = fs::read(HOST_CA_BUNDLE).unwrap_or_default();
    let hash = inputs_hash(&[("recipe", STATIC_RECIPE.as_bytes()), ("ca", &ca_bundle)]);
    let (up_to_date, old) = cached(STATIC_TAG, &hash, rebuild)?;
    if up_to_date {
        return Ok(false);
    }
    let changes = labels(
        "local stand-in for gcr.io/distroless/static-debian12:nonroot (cargo xtask base-images)",
        &hash,
    );
    let id = step(&format!("import {STATIC_TAG}"), || {
        docker::import(STATIC_TAG, &changes, |out| {
            write_static_rootfs(out, &ca_bundle)
        })
    })?;
    drop_replaced(old, &id);
    Ok(true)
}

/// The distroless-like root filesystem: users root and nonroot, /tmp, the
/// nonroot home, CA certificates; no shell, no libc.
fn write_static_rootfs(out: &mut dyn Write, ca_bundle: &[u8]) -> Result<()> {
    let mut tar = RootfsTar::new(out);
    for dir in ["etc", "etc/ssl", "etc/ssl/certs", "home", "usr", "var"] {
        tar.dir(dir, 0o755, 0, 0)?;
    }
    tar.dir("root", 0o700, 0, 0)?;
    tar.dir("home/nonroot", 0o700, NONROOT, NONROOT)?;
    tar.dir("tmp", 0o1777, 0, 0)?;
    tar.file(
        "etc/passwd",
        0o644,
        0,
        0,
        b"root:x:0:0:root:/root:/sbin/nologin\n\
          nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n\
          nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )?;
    tar.file(
        "etc/group",
        0o644,
        0,
        0,
        b"root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n",
    )?;
    tar.file("etc/nsswitch.conf", 0o644, 0, 0, b"hosts: files dns\n")?;
    tar.file(
        "etc/os-release",
        0o644,
        0,
        0,
        b"PRETTY_NAME=\"mlops-local static (distroless static-debian12 stand-in)\"\nID=mlops-local\nVERSION_ID=\"12\"\n",
    )?;
    if !ca_bundle.is_empty() {
        tar.file("etc/ssl/certs/ca-certificates.crt", 0o644, 0, 0, ca_bundle)?;
    }
    tar.finish()
}

// --------------------------------------------------------------- builder ---

struct Toolchain {
    sysroot: PathBuf,
    rustc_version: String,
    cargo_version: String,
    release: String,
}

fn host_toolchain() -> Result<Toolchain> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_version = cmd::output(Command::new(&rustc).arg("-vV"))?;
    let release = rustc_version
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .unwrap_or_default()
        .to_owned();
    if !release.starts_with(&format!("{RUST_SERIES}.")) {
        bail!(
            "the host's rustc is {release}, but {BUILDER_TAG} must carry Rust {RUST_SERIES}: \
             run with RUSTUP_TOOLCHAIN={RUST_SERIES}.0 (rustup toolchain install {RUST_SERIES}.0)"
        );
    }
    let sysroot = PathBuf::from(cmd::output(
        Command::new(&rustc).args(["--print", "sysroot"]),
    )?);
    let cargo = sysroot.join("bin/cargo");
    if !cargo.is_file() {
        bail!(
            "{} has no cargo: the builder image needs the toolchain's own cargo",
            sysroot.display()
        );
    }
    let cargo_version = cmd::output(Command::new(cargo).arg("-V"))?;
    Ok(Toolchain {
        sysroot,
        rustc_version,
        cargo_version,
        release,
    })
}

/// `cargo fetch` for the workspace and every lab, so the host registry holds
/// every crate the image must carry.
fn fetch_crates() -> Result<()> {
    workspace::cargo_fetch(None)?;
    for lab in workspace::labs()? {
        if lab.join("Cargo.lock").is_file() {
            workspace::cargo_fetch(Some(&lab))?;
        } else {
            println!(
                "    warning: {} has no Cargo.lock; its crates are not fetched",
                lab.display()
            );
        }
    }
    Ok(())
}

fn ensure_builder(rebuild: bool) -> Result<bool> {
    let toolchain = step("check the host toolchain", host_toolchain)?;
    println!(
        "    rustc {} at {}",
        toolchain.release,
        toolchain.sysroot.display()
    );
    step(
        "fetch the crates of the workspace and the labs",
        fetch_crates,
    )?;
    let lockfiles = workspace::lockfiles()?;
    let recipe = format!("{BUILDER_RECIPE}\n{}", debootstrap::recipe());
    let root = workspace::root();
    let cook =
        fs::read(root.join(COOK_SCRIPT)).with_context(|| format!("reading {COOK_SCRIPT}"))?;
    // What the cooked dependencies depend on: each crate's manifest and lockfile.
    let crates = workspace::cooked_crates()?;
    let manifests = workspace::read_all(
        crates
            .iter()
            .flat_map(|c| [c.join("Cargo.toml"), c.join("Cargo.lock")]),
    )?;
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("recipe", recipe.as_bytes()),
        ("rustc", toolchain.rustc_version.as_bytes()),
        ("cargo", toolchain.cargo_version.as_bytes()),
        ("cook", cook.as_slice()),
    ];
    parts.extend(lockfiles.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    parts.extend(manifests.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    let hash = inputs_hash(&parts);
    let (up_to_date, old) = cached(BUILDER_TAG, &hash, rebuild)?;
    if up_to_date {
        return Ok(false);
    }
    let scratch = workspace::scratch_dir()?;
    let rootfs = step("debootstrap the bookworm root filesystem", || {
        debootstrap::ensure_rootfs(&scratch)
    })?;
    let cargo_home = workspace::cargo_home()?;
    let with_git = lockfiles
        .iter()
        .any(|(_, b)| String::from_utf8_lossy(b).contains("source = \"git+"));
    let mut changes = labels(
        "local stand-in for ghcr.io/mlops-course/rust-builder:1.95 (cargo xtask base-images)",
        &hash,
    );
    changes.extend([
        "ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        "ENV CARGO_HOME=/usr/local/cargo".to_owned(),
        "ENV CARGO_NET_OFFLINE=true".to_owned(),
        format!("ENV RUST_VERSION={}", toolchain.release),
        "WORKDIR /usr/src".to_owned(),
        "CMD [\"bash\"]".to_owned(),
    ]);
    step(&format!("import {BUILDER_BASE_TAG}"), || {
        docker::import(BUILDER_BASE_TAG, &changes, |out| {
            write_builder_rootfs(out, &rootfs, &toolchain.sysroot, &cargo_home, with_git)
        })
    })?;
    let cooked = step(
        &format!("cook the dependencies of {} lab crates", crates.len()),
        || cook_into(&crates, &hash),
    );
    // The base is only a step on the way: the cooked image holds its layers.
    let _ = docker::remove_image(BUILDER_BASE_TAG);
    let id = cooked?;
    drop_replaced(old, &id);
    Ok(true)
}

/// Runs the cook script in a container of the base image, with no network
/// and each crate mounted read-only, and commits the result as the builder.
/// The same script cooks the real recipe (`images/rust-builder/Dockerfile`).
fn cook_into(crates: &[PathBuf], hash: &str) -> Result<String> {
    let root = workspace::root();
    let name = format!("mlops-cook-{}", std::process::id());
    let mut args: Vec<String> = vec![
        "create".into(),
        "--name".into(),
        name.clone(),
        "--label".into(),
        LOCAL_LABEL.into(),
        "--network".into(),
        "none".into(),
        "-v".into(),
        format!("{}:/ctx/cook.sh:ro", root.join(COOK_SCRIPT).display()),
    ];
    let mut inside = Vec::new();
    for krate in crates {
        let rel = krate
            .strip_prefix(&root)
            .unwrap_or(krate)
            .display()
            .to_string();
        args.extend(["-v".into(), format!("{}:/ctx/{rel}:ro", krate.display())]);
        inside.push(format!("/ctx/{rel}"));
    }
    args.extend([BUILDER_BASE_TAG.into(), "sh".into(), "/ctx/cook.sh".into()]);
    args.extend(inside);
    cmd::output(docker::docker().args(&args))?;
    let committed = cmd::run(docker::docker().args(["start", "-a", &name])).and_then(|()| {
        cmd::output(docker::docker().args([
            "commit",
            "--change",
            "CMD [\"bash\"]",
            "--change",
            &format!("LABEL {INPUTS_LABEL}={hash}"),
            &name,
            BUILDER_TAG,
        ]))
    });
    let _ = cmd::output(docker::docker().args(["rm", "-f", &name]));
    let id = committed?;
    Ok(id.trim().to_owned())
}

/// Whether a path of the debootstrap tree stays out of the image: device
/// nodes and kernel file systems, apt's downloaded packages and lists, docs.
pub(crate) fn rootfs_excluded(rel: &Path, is_dir: bool) -> bool {
    let rel = rel.to_string_lossy();
    let under = |dir: &str| rel.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
    [
        "dev",
        "proc",
        "sys",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
    ]
    .iter()
    .any(|d| under(d))
        || rel == "debootstrap"
        || (!is_dir && (under("var/lib/apt/lists") || under("var/cache/apt")))
}

/// Toolchain parts no build needs: sources (for rust-analyzer).
fn toolchain_excluded(rel: &Path, _is_dir: bool) -> bool {
    rel.starts_with("lib/rustlib/src") || rel.starts_with("lib/rustlib/rustc-src")
}

fn nothing_excluded(_: &Path, _: bool) -> bool {
    false
}

fn write_builder_rootfs(
    out: &mut dyn Write,
    rootfs: &Path,
    sysroot: &Path,
    cargo_home: &Path,
    with_git: bool,
) -> Result<()> {
    let mut tar = RootfsTar::new(out);
    tar.tree(
        rootfs,
        Path::new(""),
        &TreeOptions {
            exclude: &rootfs_excluded,
            root_owned: false,
            dir_mode_or: 0,
            file_mode_or: 0,
        },
    )?;
    // The toolchain: bin/ and lib/ of the host sysroot (no share/: docs, man).
    tar.dir("usr/local/rust", 0o755, 0, 0)?;
    let toolchain = TreeOptions {
        exclude: &toolchain_excluded,
        root_owned: true,
        dir_mode_or: 0,
        file_mode_or: 0,
    };
    for part in ["bin", "lib"] {
        tar.tree(
            &sysroot.join(part),
            &Path::new("usr/local/rust").join(part),
            &toolchain,
        )?;
    }
    // CARGO_HOME: the registry's index and downloaded .crate files (cargo
    // unpacks them offline); writable by all, like the official rust image.
    for dir in [
        "usr/local/cargo",
        "usr/local/cargo/bin",
        "usr/local/cargo/registry",
    ] {
        tar.dir(dir, 0o777, 0, 0)?;
    }
    let registry = TreeOptions {
        exclude: &nothing_excluded,
        root_owned: true,
        dir_mode_or: 0o777,
        file_mode_or: 0o666,
    };
    for part in ["index", "cache"] {
        let src = cargo_home.join("registry").join(part);
        if src.is_dir() {
            tar.tree(
                &src,
                &Path::new("usr/local/cargo/registry").join(part),
                &registry,
            )?;
        }
    }
    if with_git && cargo_home.join("git/db").is_dir() {
        tar.dir("usr/local/cargo/git", 0o777, 0, 0)?;
        tar.tree(
            &cargo_home.join("git/db"),
            Path::new("usr/local/cargo/git/db"),
            &registry,
        )?;
    }
    println!(
        "    {} files, {} (skipped {} device nodes and the like)",
        tar.files,
        docker::fmt_size(tar.bytes),
        tar.skipped_special
    );
    tar.finish()
}

// ---------------------------------------------------------------- verify ---

const HELLO_MANIFEST: &str = r#"[package]
name = "hello"
version = "0.1.0"
edition = "2021"

[dependencies]
anyhow = "1"
"#;

const HELLO_MAIN: &str = r#"fn main() -> anyhow::Result<()> {
    println!("hello from a static binary");
    Ok(())
}
"#;

/// Inside the builder, offline: `cargo --version`, then a static build of a
/// hello world that depends on a registry crate; the binary must then run in
/// the static image as nonroot (no libc there: it proves the linking).
fn verify() -> Result<()> {
    let version = docker::run_offline_output(&[BUILDER_TAG, "cargo", "--version"])?;
    println!("    {BUILDER_TAG}: {version}");
    let dir = workspace::scratch_dir()?.join("verify-hello");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir.join("src")).with_context(|| format!("creating {}", dir.display()))?;
    fs::write(dir.join("Cargo.toml"), HELLO_MANIFEST).context("writing the hello manifest")?;
    fs::write(dir.join("src/main.rs"), HELLO_MAIN).context("writing the hello source")?;
    let mount = format!("{}:/hello", dir.display());
    docker::run_offline(&[
        "-v",
        &mount,
        "-w",
        "/hello",
        "-e",
        "RUSTFLAGS=-C target-feature=+crt-static",
        BUILDER_TAG,
        "cargo",
        "build",
        "--quiet",
        "--release",
        "--target",
        TARGET,
    ])
    .context("static hello-world build in the builder")?;
    let ro_mount = format!("{}:/hello:ro", dir.display());
    let binary = format!("/hello/target/{TARGET}/release/hello");
    let said = docker::run_offline_output(&[
        "-v",
        &ro_mount,
        "--user",
        "65532:65532",
        STATIC_TAG,
        &binary,
    ])
    .context("running the hello world in the static image")?;
    println!("    {STATIC_TAG} ran it as nonroot: {said}");
    fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))
}
