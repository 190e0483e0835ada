//! `cargo xtask bench build`: what the cooked builder image saves. The
//! week-8 reference is built from its real Dockerfile, with no network (as the
//! grader builds), three ways in one run:
//!
//! - **full**: with a builder whose cooked `/src/target` was removed, so every
//!   dependency compiles again (how every lab built before the cook), and no
//!   layer cache;
//! - **cooked**: with the course's builder, whose `/src/target` holds every
//!   lab's dependencies compiled, and no layer cache: a submission's first build;
//! - **rebuild**: after a one-line source change, `--runs` times, with the
//!   layer cache the builds before left (as the grader keeps it).
//!
//! Goal: a rebuild under 30 s on this machine.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Args;
use serde_json::json;

use super::{Verdict, bench_dir, machine, markdown_table, median};
use crate::base_images::{self, BUILDER_TAG, STATIC_TAG};
use crate::docker;
use crate::step::step;
use crate::{cmd, workspace};

#[derive(Args)]
pub struct Options {
    /// Timed rebuilds after a one-line change, each a different change.
    #[arg(long, default_value_t = 3)]
    runs: u32,
}

const SUBMISSION: &str = "solutions/week08-model-service";
/// Every image this benchmark makes carries it, and is removed at the end.
const BENCH_LABEL: &str = "dev.mlops-course.bench=true";
const UNCOOKED_TAG: &str = "mlops-bench/rust-builder-uncooked:1.95";
const IMAGE_TAG: &str = "mlops-bench/week08-build:latest";
const GOAL_SECS: f64 = 30.0;

pub fn run(options: &Options) -> Result<()> {
    ensure!(options.runs >= 1, "--runs must be at least 1");
    base_images::run(false)?;
    let before = docker::dangling().unwrap_or_default();
    let result = measure(options);
    // Whatever happened, leave no image of ours behind.
    for tag in [IMAGE_TAG, UNCOOKED_TAG] {
        let _ = docker::remove_image(tag);
    }
    remove_new_dangling(&before);
    result
}

/// Removes the images that became dangling during the run (the build stage's
/// layers carry no label: `--label` marks the final stage only), leaf by leaf:
/// removing a leaf makes its parent the next one.
fn remove_new_dangling(before: &[String]) {
    for _ in 0..20 {
        let made = docker::dangling().unwrap_or_default();
        let labelled = docker::dangling_with_label(BENCH_LABEL).unwrap_or_default();
        let mut removed = 0;
        for id in made
            .iter()
            .filter(|id| !before.contains(id))
            .chain(&labelled)
        {
            if docker::remove(docker::Kind::Image, id).is_ok() {
                removed += 1;
            }
        }
        if removed == 0 {
            break;
        }
    }
}

/// Whether a build may reuse the layers of the builds before it.
#[derive(Clone, Copy, PartialEq)]
enum Cache {
    On,
    Off,
}

fn measure(options: &Options) -> Result<()> {
    step("make a builder without the cooked dependencies", || {
        let dir = bench_dir()?.join("uncooked-builder");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let dockerfile = format!("FROM {BUILDER_TAG}\nRUN rm -rf /src/target\n");
        fs::write(dir.join("Dockerfile"), dockerfile).context("writing the Dockerfile")?;
        cmd::output(docker::docker().args([
            "build",
            "--quiet",
            "--network",
            "none",
            "--label",
            BENCH_LABEL,
            "-t",
            UNCOOKED_TAG,
            &dir.display().to_string(),
        ]))
        .map(drop)
    })?;
    let scratch = bench_dir()?.join("build-week08");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).with_context(|| format!("removing {}", scratch.display()))?;
    }
    copy_dir(&workspace::root().join(SUBMISSION), &scratch)?;

    let full = step("full build (every dependency compiled)", || {
        timed_build(&scratch, UNCOOKED_TAG, Cache::Off)
    })?;
    let cooked = step("build with the cooked builder", || {
        timed_build(&scratch, BUILDER_TAG, Cache::Off)
    })?;
    let mut rebuilds = Vec::new();
    for run in 1..=options.runs {
        let main = scratch.join("src/main.rs");
        let mut text = fs::read_to_string(&main).context("reading src/main.rs")?;
        text.push_str(&format!("// bench build: one-line change {run}\n"));
        fs::write(&main, text).context("writing src/main.rs")?;
        rebuilds.push(step(
            &format!("rebuild after a one-line change ({run})"),
            || timed_build(&scratch, BUILDER_TAG, Cache::On),
        )?);
    }
    let rebuild = median(&rebuilds).unwrap_or(f64::NAN);
    let verdict = Verdict::of(rebuild < GOAL_SECS);
    let report = json!({
        "machine": machine(),
        "submission": SUBMISSION,
        "full_secs": full,
        "cooked_secs": cooked,
        "rebuild_secs": rebuilds,
        "rebuild_median_secs": rebuild,
        "goal": { "rebuild_under_secs": GOAL_SECS, "verdict": verdict.as_str() },
    });
    let out = bench_dir()?.join("build.json");
    fs::write(&out, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    let rows = vec![
        vec![
            "full: every dependency compiled".to_owned(),
            format!("{full:.1}"),
        ],
        vec![
            "cooked builder, first build".to_owned(),
            format!("{cooked:.1}"),
        ],
        vec![
            format!(
                "cooked builder, one-line change (median of {})",
                rebuilds.len()
            ),
            format!("{rebuild:.1}"),
        ],
    ];
    println!("\n## Building the week-8 reference ({SUBMISSION})\n");
    print!(
        "{}",
        markdown_table(&["build", "seconds"], &[false, true], &rows)
    );
    println!(
        "\nGoal: a rebuild after a one-line change under {GOAL_SECS:.0} s: {} ({:.0}x faster than the full build).",
        verdict.as_str(),
        full / rebuild
    );
    println!("Results: {}", out.display());
    Ok(())
}

/// Builds the submission's Dockerfile as the grader does (no network) on
/// `builder`; returns the seconds it took. Its layers stay, as the grader keeps
/// them, until the run ends.
fn timed_build(dir: &Path, builder: &str, cache: Cache) -> Result<f64> {
    let start = Instant::now();
    let mut command = docker::docker();
    command.args(["build", "--quiet"]);
    if cache == Cache::Off {
        command.arg("--no-cache");
    }
    cmd::output(command.args([
        "--network",
        "none",
        "--label",
        BENCH_LABEL,
        "--build-arg",
        &format!("BUILDER_IMAGE={builder}"),
        "--build-arg",
        &format!("RUNTIME_IMAGE={STATIC_TAG}"),
        "-t",
        IMAGE_TAG,
        &dir.display().to_string(),
    ]))?;
    let secs = start.elapsed().as_secs_f64();
    println!("    {secs:.1} s");
    Ok(secs)
}

/// Copies a crate's folder (no `target/`) for the benchmark to edit.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
        }
    }
    Ok(())
}
