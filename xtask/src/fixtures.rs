//! `cargo xtask fixtures`: the static test-fixture binaries of every
//! `fixture-*` workspace package, built with the `fixture` profile.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::step::step;
use crate::{cmd, workspace};

pub const TARGET: &str = "x86_64-unknown-linux-gnu";
pub const PROFILE: &str = "fixture";

/// Builds the fixtures, prints their paths and returns the directory they
/// are in (`target/x86_64-unknown-linux-gnu/fixture`).
pub fn run() -> Result<PathBuf> {
    let metadata = step("read the workspace metadata", workspace::metadata)?;
    let target_dir = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` gave no target_directory")?;
    let out_dir = target_dir.join(TARGET).join(PROFILE);
    let packages: Vec<&serde_json::Value> = metadata["packages"]
        .as_array()
        .context("`cargo metadata` gave no packages")?
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("fixture-"))
        })
        .collect();
    if packages.is_empty() {
        println!("    no `fixture-*` package in the workspace: nothing to build");
        return Ok(out_dir);
    }
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let bins: Vec<&str> = packages
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str())
        .collect();
    step(
        &format!("build the fixtures ({})", names.join(", ")),
        || {
            let mut command = workspace::cargo();
            command
                .args(["build", "--profile", PROFILE, "--target", TARGET])
                .env("RUSTFLAGS", "-C target-feature=+crt-static")
                .env_remove("CARGO_ENCODED_RUSTFLAGS");
            for name in &names {
                command.args(["-p", name]);
            }
            cmd::run(&mut command)
        },
    )?;
    for bin in bins {
        let path = out_dir.join(bin);
        if !path.is_file() {
            bail!("the fixture build did not produce {}", path.display());
        }
        println!("{}", path.display());
    }
    Ok(out_dir)
}
