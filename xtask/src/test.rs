//! `cargo xtask test`: the project's one test command.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::base_images::{BUILDER_TAG, STATIC_TAG};
use crate::step::step;
use crate::{base_images, checks, clean, cmd, docker, fixtures, judge_images, labs, workspace};

pub fn run(nextest_args: &[String]) -> Result<ExitCode> {
    // Before the lint: a stale starter is linted in its stale form otherwise.
    labs::check_step()?;
    checks::lint()?;
    let fixture_dir = fixtures::run()?;
    base_images::run(false)?;
    // The grader's tests run real tools in the judge images.
    judge_images::run(false, &[])?;
    let probe = cmd::output_raw(workspace::cargo().args(["nextest", "--version"]))?;
    if !probe.status.success() {
        bail!("cargo-nextest not found: install it with `cargo install cargo-nextest --locked`");
    }
    let build_args = format!("BUILDER_IMAGE={BUILDER_TAG} RUNTIME_IMAGE={STATIC_TAG}");
    // Every object the grader makes during the run carries this id, so the
    // leak check can tell the suite's objects from a grade running beside it.
    let run_id = format!(
        "xtask-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    );
    let before = docker::Objects::now()?;
    let status = step("cargo nextest run --workspace", || {
        let mut command = workspace::cargo();
        command
            .args(["nextest", "run", "--workspace", "--no-fail-fast"])
            .args(nextest_args)
            .env("GRADER_TEST_BUILD_ARGS", &build_args)
            .env(docker::RUN_ENV, &run_id)
            .env("FIXTURE_DIR", &fixture_dir);
        cmd::status(&mut command)
    })?;
    let removed = step("remove what the grader left", clean::grader_leftovers)?;
    println!(
        "    removed {} containers, {} networks, {} images labelled dev.mlops-course.grader=true \
         and {} untagged build-stage images",
        removed.containers, removed.networks, removed.images, removed.build_stages
    );
    // Anything new after the clean-up is a leak, labelled or not, unless the
    // grader made it for another run.
    let left = docker::Objects::now()?
        .since(&before)
        .made_by_run(&run_id)?;
    println!(
        "    leak check: {} containers, {} volumes, {} networks left that were not there before the tests",
        left.containers.len(),
        left.volumes.len(),
        left.networks.len()
    );
    if !status.success() {
        return Ok(cmd::exit_code(status));
    }
    if removed.containers + removed.networks > 0 || left.count() > 0 {
        eprintln!(
            "leak: the tests left {} containers and {} networks labelled dev.mlops-course.grader=true behind, \
             and {} objects in all that were not there before ({left:?})",
            removed.containers,
            removed.networks,
            left.count()
        );
        return Ok(ExitCode::FAILURE);
    }
    checks::book(false)?;
    Ok(ExitCode::SUCCESS)
}
