//! Judge images made on the course's builder image, for tools that are crates
//! (week 4's cargo-deny): `cargo-deny` runs `cargo metadata`, which needs
//! cargo and every crate of the graph, offline, as the builder has them.
//!
//! Each crate of the recipe is installed on the host with `cargo install
//! --locked` at its pinned version, linked statically (so the host's C
//! library version does not matter), into `target/xtask/judges/<name>/root`;
//! the binaries are then copied onto the builder image with the judge user,
//! HOME and working folder every judge has. The recipe's own Dockerfile does
//! the same on a machine with a registry.

use std::fs;

use anyhow::{Context, Result};

use crate::base_images::{self, BUILDER_TAG};
use crate::judge_images::{HOME, JUDGE_ID, JUDGE_LABEL_KEY, JUDGES_DIR, Recipe};
use crate::step::step;
use crate::{cmd, docker, workspace};

/// The id of the builder image a judge is made on (`cargo xtask
/// base-images` makes it).
pub fn builder_id() -> Result<String> {
    match docker::inspect_image(BUILDER_TAG)? {
        Some(image) => Ok(image.id),
        None => anyhow::bail!("{BUILDER_TAG} is missing: run `cargo xtask base-images` first"),
    }
}

/// Installs the recipe's crates and makes the image; returns its id.
pub fn build(recipe: &Recipe, hash: &str) -> Result<String> {
    let work = workspace::scratch_dir()?.join("judges").join(&recipe.name);
    let root = work.join("root");
    for krate in &recipe.crates {
        step(
            &format!("{}: cargo install --locked {}", recipe.name, krate.spec()),
            || {
                cmd::run(
                    workspace::cargo()
                        .args(["install", "--locked", "--quiet", "--root"])
                        .arg(&root)
                        .args(["--target", "x86_64-unknown-linux-gnu", "--version"])
                        .arg(&krate.version)
                        .arg(&krate.name)
                        .env("CARGO_TARGET_DIR", work.join("target"))
                        .env("RUSTFLAGS", "-C target-feature=+crt-static")
                        .env_remove("CARGO_ENCODED_RUSTFLAGS"),
                )
            },
        )?;
    }
    let context = work.join("context");
    if context.exists() {
        fs::remove_dir_all(&context).with_context(|| format!("removing {}", context.display()))?;
    }
    fs::create_dir_all(context.join("bin"))
        .with_context(|| format!("creating {}", context.display()))?;
    let mut installed = Vec::new();
    for entry in fs::read_dir(root.join("bin")).context("reading the installed binaries")? {
        let entry = entry?;
        fs::copy(entry.path(), context.join("bin").join(entry.file_name()))
            .with_context(|| format!("copying {}", entry.path().display()))?;
        installed.push(entry.file_name().to_string_lossy().into_owned());
    }
    let description = format!(
        "judge image {} on {BUILDER_TAG} (cargo xtask judge-images, recipe {JUDGES_DIR}/{}/)",
        recipe.name, recipe.name
    );
    let labels = base_images::labels(&description, hash).join("\n");
    let dockerfile = format!(
        "FROM {BUILDER_TAG}\n\
         COPY bin/ /usr/local/bin/\n\
         RUN groupadd --gid {JUDGE_ID} judge \\\n \
         && useradd --uid {JUDGE_ID} --gid {JUDGE_ID} --home-dir {HOME} --no-create-home --shell /usr/sbin/nologin judge \\\n \
         && mkdir -p {HOME} && chown {JUDGE_ID}:{JUDGE_ID} /work {HOME} && chmod 0700 {HOME}\n\
         {labels}\n\
         LABEL {JUDGE_LABEL_KEY}={name}\n\
         ENV HOME={HOME} LANG=C.UTF-8\n\
         WORKDIR /work\n\
         USER {JUDGE_ID}:{JUDGE_ID}\n\
         CMD [\"bash\"]\n",
        name = recipe.name
    );
    fs::write(context.join("Dockerfile"), dockerfile).context("writing the Dockerfile")?;
    step(
        &format!("build {} ({})", recipe.tag, installed.join(", ")),
        || {
            cmd::output(
                docker::docker()
                    .args(["build", "--quiet", "--network", "none", "-t"])
                    .arg(&recipe.tag)
                    .arg(&context),
            )
            .map(drop)
        },
    )?;
    match docker::inspect_image(&recipe.tag)? {
        Some(image) => Ok(image.id),
        None => anyhow::bail!("{} was built but is not there", recipe.tag),
    }
}
