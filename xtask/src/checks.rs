//! The static checks and the book, run by `cargo xtask test` around the tests.

use anyhow::{Result, bail};

use crate::step::step;
use crate::{cmd, workspace};

/// `cargo fmt --check` and `cargo clippy -D warnings` over the workspace.
pub fn lint() -> Result<()> {
    step("cargo fmt --all -- --check", || {
        cmd::run(workspace::cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step(
        "cargo clippy --workspace --all-targets -- -D warnings",
        || {
            cmd::run(workspace::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        },
    )
}

/// `mdbook build` and `mdbook test`. mdBook reports a missing include as an
/// ERROR line but still exits 0, so any ERROR or WARN line fails the step.
pub fn book() -> Result<()> {
    for sub in ["build", "test"] {
        step(&format!("mdbook {sub}"), || {
            let mut command = std::process::Command::new("mdbook");
            command.arg(sub).current_dir(workspace::root());
            let out = cmd::output_raw(&mut command)?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            let bad: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                .collect();
            if !out.status.success() || !bad.is_empty() {
                eprint!("{stderr}");
                bail!(
                    "`mdbook {sub}` reported problems: {}",
                    bad.first().copied().unwrap_or("see above")
                );
            }
            Ok(())
        })?;
    }
    Ok(())
}
