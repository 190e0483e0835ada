//! `cargo xtask bench`: performance measured by benchmarks, never by timed
//! tests. Each command runs the project beside a peer or a baseline on this
//! machine, prints a Markdown report and writes JSON to `target/bench/`.
//!
//! - `serve`: the week-8 reference service under wrk, beside a FastAPI peer
//!   and a no-op axum server ([`serve`]);
//! - `grade`: the grader's time to grade the reference, beside a bare
//!   `docker run` + health check of the same image, under hyperfine ([`grade`]);
//! - `build`: the reference's real Dockerfile built on the cooked builder,
//!   beside a full build of every dependency ([`build`]);
//! - `batch`: a class of prebuilt submissions graded with one, two and four
//!   grades at once ([`batch`]).

mod batch;
mod build;
mod grade;
mod serve;
mod server;
mod wrk;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::{cmd, workspace};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Load the week-8 reference service, a FastAPI + scikit-learn peer and a
    /// no-op axum server with wrk; report throughput, latency and memory.
    Serve(serve::Options),
    /// Time the grader grading the week-8 reference (image cached) against a
    /// bare docker run + health check of the same image, with hyperfine.
    Grade(grade::Options),
    /// Build the week-8 reference from its Dockerfile with the cooked builder
    /// (first, then after one-line changes) against a full build.
    Build(build::Options),
    /// Grade a class of prebuilt fixture submissions with `grader batch`,
    /// serially and with more grades at once; compare throughput and scores.
    Batch(batch::Options),
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Serve(options) => serve::run(&options),
        BenchCommand::Grade(options) => grade::run(&options),
        BenchCommand::Build(options) => build::run(&options),
        BenchCommand::Batch(options) => batch::run(&options),
    }
}

/// Results and scratch space: `target/bench/` in the workspace.
fn bench_dir() -> Result<PathBuf> {
    let dir = workspace::root().join("target").join("bench");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Where cargo puts build output (`CARGO_TARGET_DIR` or `target/`), so the
/// binaries built here are found wherever that is.
fn cargo_target_dir() -> Result<PathBuf> {
    let metadata = workspace::metadata()?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` names no target_directory")
}

/// What the figures were measured on, for the reports.
fn machine() -> serde_json::Value {
    let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map_or(0, usize::from),
        "cpu_model": cpu_model,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "date": now_utc(),
    })
}

/// The current time, ISO 8601 in UTC (`date` saves a date crate).
fn now_utc() -> String {
    cmd::output(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])).unwrap_or_default()
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Whether a goal was reached, for the reports.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Verdict {
    Met,
    Missed,
    /// The run the goal needs was not made (or failed).
    NotMeasured,
}

impl Verdict {
    fn of(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::NotMeasured => "not measured",
        }
    }
}

/// A Markdown table: a header row, the alignment row, the rows.
fn markdown_table(header: &[&str], align_right: &[bool], rows: &[Vec<String>]) -> String {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    let mut out = line(&header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    let rule: Vec<String> = (0..header.len())
        .map(|i| {
            if align_right.get(i).copied().unwrap_or(false) {
                "---:".to_owned()
            } else {
                "---".to_owned()
            }
        })
        .collect();
    out.push_str(&line(&rule));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// `1234567.8` as `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
    }

    #[test]
    fn table_layout() {
        let table = markdown_table(
            &["a", "b"],
            &[false, true],
            &[vec!["x".to_owned(), "1".to_owned()]],
        );
        assert_eq!(table, "| a | b |\n| --- | ---: |\n| x | 1 |\n");
    }
}
