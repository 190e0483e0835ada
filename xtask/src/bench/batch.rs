//! `cargo xtask bench batch`: how much faster a class is graded with more
//! grades at once. A class of prebuilt fixture submissions (week 8's fixture
//! service FROM scratch, in a few modes, each with its own files so each has
//! its own cached image) is graded once to build their images, then timed
//! with `--jobs 1`, `2` and `4`, each run with an empty journal. The scores
//! of every run must be identical; the goal is 1.7 times the serial
//! throughput.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use serde_json::{Value, json};

use super::{Verdict, bench_dir, cargo_target_dir, machine, markdown_table};
use crate::step::step;
use crate::{cmd, fixtures, workspace};

#[derive(Args)]
pub struct Options {
    /// Submissions in the class.
    #[arg(long, default_value_t = 40)]
    submissions: usize,
    /// The concurrency levels to time (the first is the baseline).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    jobs: Vec<u16>,
}

/// A parallel run must reach this multiple of the serial throughput.
const GOAL: f64 = 1.7;
/// The fixture's modes the class is made of: most pass, some lose checks,
/// one in ten crashes.
const MODES: [&str; 5] = [
    "reference",
    "reference",
    "health-body",
    "no-model-version",
    "exit-early",
];

pub fn run(options: &Options) -> Result<()> {
    ensure!(options.submissions >= 2, "--submissions must be at least 2");
    ensure!(!options.jobs.is_empty(), "--jobs needs at least one level");
    let fixture_dir = fixtures::run()?;
    step("build the grader's binaries (release)", || {
        cmd::run(workspace::cargo().args(["build", "-q", "--release", "-p", "grader", "--bins"]))
    })?;
    let grader = cargo_target_dir()?.join("release").join("grader");
    let dir = bench_dir()?.join("batch");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    let class = dir.join("class");
    step("write the class's submissions", || {
        make_class(
            &class,
            &fixture_dir.join("fixture-week08"),
            options.submissions,
        )
    })?;
    // Untimed: builds every image, so the timed runs grade, not build.
    step("grade once to build the images (untimed)", || {
        batch(&grader, &class, &dir.join("warm-up"), 4).map(drop)
    })?;
    let mut runs = Vec::new();
    for &jobs in &options.jobs {
        let (seconds, scores) = step(&format!("grade the class with --jobs {jobs}"), || {
            batch(&grader, &class, &dir.join(format!("jobs-{jobs}")), jobs)
        })?;
        runs.push((jobs, seconds, scores));
    }
    let (_, serial, baseline) = &runs[0];
    let identical = runs.iter().all(|(_, _, s)| s == baseline);
    let best = runs
        .iter()
        .map(|(_, seconds, _)| serial / seconds)
        .fold(0.0, f64::max);
    let verdict = if identical {
        Verdict::of(best >= GOAL)
    } else {
        Verdict::Missed
    };
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|(jobs, seconds, scores)| {
            vec![
                format!("--jobs {jobs}"),
                format!("{seconds:.1}"),
                format!("{:.1}", options.submissions as f64 / seconds * 60.0),
                format!("{:.2}", serial / seconds),
                if scores == baseline { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    println!(
        "\n{} submissions of week 8 (images cached), on {} CPUs:\n\n{}\ngoal: {GOAL} times the serial throughput with identical scores: {}",
        options.submissions,
        std::thread::available_parallelism().map_or(0, usize::from),
        markdown_table(
            &["run", "seconds", "per minute", "speed-up", "same scores"],
            &[false, true, true, true, false],
            &rows
        ),
        verdict.as_str()
    );
    let summary = json!({
        "machine": machine(),
        "submissions": options.submissions,
        "runs": runs.iter().map(|(jobs, seconds, _)| json!({
            "jobs": jobs, "seconds": seconds, "speed_up": serial / seconds,
        })).collect::<Vec<_>>(),
        "identical_scores": identical,
        "goal": GOAL,
        "verdict": verdict.as_str(),
    });
    let out = bench_dir()?.join("batch.json");
    fs::write(&out, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("results: {}", out.display());
    Ok(())
}

/// `count` submissions: the fixture in one of [`MODES`], each with a file of
/// its own so that each is a distinct image.
fn make_class(class: &Path, fixture: &Path, count: usize) -> Result<()> {
    for i in 0..count {
        let dir = class.join(format!("s{i:03}"));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        fs::copy(fixture, dir.join("fixture-week08"))
            .with_context(|| format!("copying {}", fixture.display()))?;
        fs::write(dir.join("student.txt"), format!("{i}\n"))?;
        let mode = MODES[i % MODES.len()];
        fs::write(
            dir.join("Dockerfile"),
            format!(
                "FROM scratch\nCOPY fixture-week08 /app/fixture-week08\nCOPY student.txt /app/student.txt\n\
                 LABEL org.opencontainers.image.title=\"wine-service example\"\nUSER 65532:65532\nEXPOSE 8080\n\
                 ENTRYPOINT [\"/app/fixture-week08\", \"--mode\", \"{mode}\"]\n"
            ),
        )?;
    }
    Ok(())
}

/// Grades the class with `jobs` at once into a fresh folder; returns the
/// wall time and each student's score and verdicts.
fn batch(grader: &Path, class: &Path, out: &Path, jobs: u16) -> Result<(f64, Vec<Value>)> {
    let started = Instant::now();
    let status = cmd::status(
        Command::new(grader)
            .args(["batch", "week08"])
            .arg(class)
            .arg("--out")
            .arg(out)
            .args(["--audience", "instructor", "--builds", "1", "--quiet"])
            .args(["--jobs", &jobs.to_string()]),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("grader batch --jobs {jobs} failed ({status})");
    }
    let class_json: Vec<Value> =
        serde_json::from_slice(&fs::read(out.join("class.json"))?).context("reading class.json")?;
    let scores = class_json
        .iter()
        .map(|e| {
            json!({
                "student": e["student"],
                "score": e["report"]["score"]["earned"],
                "verdicts": e["report"]["checks"].as_array().map(|c| c.iter().map(|c| c["verdict"].clone()).collect::<Vec<_>>()),
            })
        })
        .collect();
    Ok((seconds, scores))
}
