//! Installing a missing host tool from Debian's packages.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// Path of `program`; installs Debian package `package` first if it is missing.
pub fn ensure_program(program: &str, package: &str) -> Result<PathBuf> {
    if let Some(path) = cmd::find_on_path(program) {
        return Ok(path);
    }
    println!("    {program} not found: installing the Debian package {package}");
    if cmd::find_on_path("apt-get").is_none() {
        return Err(cmd::missing_tool(program));
    }
    let apt = || {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    cmd::output(apt().args(["update", "-qq"]))
        .with_context(|| format!("installing {package}: apt-get update"))?;
    cmd::output(apt().args(["install", "-y", "-qq", package]))
        .with_context(|| format!("installing {package}"))?;
    match cmd::find_on_path(program) {
        Some(path) => Ok(path),
        None => bail!("installed the Debian package {package} but `{program}` is still not found"),
    }
}
