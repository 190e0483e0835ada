//! `cargo xtask bench grade`: how long the grader takes to grade the week-8
//! reference when its image is already built, against the least any grader
//! must do with that image (`bench/grade-baseline.sh`: run it, wait for
//! `/health`, remove it), both timed by hyperfine. The grader's own JSON
//! reports then say where its time goes, phase by phase and check by check.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Args;
use serde_json::{Value, json};

use super::{Verdict, bench_dir, cargo_target_dir, machine, markdown_table, median};
use crate::base_images::{self, BUILDER_TAG, STATIC_TAG};
use crate::docker::{self, Kind};
use crate::step::step;
use crate::{apt, cmd, workspace};

#[derive(Args)]
pub struct Options {
    /// Timed runs of each command.
    #[arg(long, default_value_t = 10)]
    runs: u32,
    /// Untimed runs of each command before the timed ones.
    #[arg(long, default_value_t = 1)]
    warmup: u32,
    /// The audience to grade for: `student` (as a lab's CI does) or
    /// `instructor` (the hidden checks run too).
    #[arg(long, default_value = "student", value_parser = ["student", "instructor"])]
    audience: String,
}

const LAB: &str = "week08";
const SUBMISSION: &str = "solutions/week08-model-service";
/// Everything the baseline makes carries it (see bench/grade-baseline.sh).
const BENCH_LABEL: &str = "dev.mlops-course.bench=true";
/// The grader may take at most this many times the baseline's time.
const GOAL_RATIO: f64 = 1.2;
/// The grader's phases, as its JSON report (mlops-grader/report/v3) names
/// them, and what each covers (grader/src/run.rs).
const PHASES: [(&str, &str); 5] = [
    (
        "build_ms",
        "build: pack and hash the context, find the cached image",
    ),
    (
        "start_ms",
        "start: submission container, probe image and container",
    ),
    ("ready_ms", "ready: until GET /health answers"),
    ("checks_ms", "checks"),
    ("teardown_ms", "teardown: remove both containers"),
];

pub fn run(options: &Options) -> Result<()> {
    ensure!(options.runs >= 2, "--runs must be at least 2");
    let hyperfine = apt::ensure_program("hyperfine", "hyperfine")?;
    apt::ensure_program("curl", "curl")?;
    base_images::run(false)?;
    step("build the grader's binaries (release)", || {
        cmd::run(workspace::cargo().args(["build", "-q", "--release", "-p", "grader", "--bins"]))
    })?;
    let grader = cargo_target_dir()?.join("release").join("grader");
    let dir = bench_dir()?.join("grade");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    let runs_dir = dir.join("runs");
    fs::create_dir_all(&runs_dir).with_context(|| format!("creating {}", runs_dir.display()))?;
    remove_leftovers()?;
    let measured = measure(options, &hyperfine, &grader, &dir, &runs_dir);
    // Whatever happened, nothing of the baseline's stays behind.
    let removed = remove_leftovers();
    let (image, timing) = measured?;
    if removed? > 0 {
        println!("    warning: removed containers or networks that the baseline left behind");
    }

    let reports = timed_reports(&runs_dir, options)?;
    let summary = summarize(&image, &timing, &reports, options)?;
    println!("\n{}", report(&summary));
    let out = bench_dir()?.join("grade.json");
    fs::write(&out, serde_json::to_string_pretty(&summary.json)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("results: {}", out.display());
    Ok(())
}

/// The warm-up grade, then hyperfine; returns the image and hyperfine's JSON.
fn measure(
    options: &Options,
    hyperfine: &Path,
    grader: &Path,
    dir: &Path,
    runs_dir: &Path,
) -> Result<(String, Value)> {
    let root = workspace::root();
    let image = step("grade once to warm the image cache", || {
        warm_up(grader, &dir.join("warmup.json"), &options.audience)
    })?;
    println!("    the grader's cached image: {image}");
    let export = dir.join("hyperfine.json");
    // Each timed grade writes its own report (mktemp), so the phases of
    // exactly the timed runs can be read afterwards; mktemp costs a millisecond.
    let grade = format!(
        "{} --json \"$(mktemp -p {} run-XXXXXX.json)\" >/dev/null",
        shell_words(&grade_args(grader, &options.audience)),
        shell_quote(&runs_dir.display().to_string()),
    );
    let baseline = shell_words(&[
        root.join("bench")
            .join("grade-baseline.sh")
            .display()
            .to_string(),
        image.clone(),
    ]);
    step("hyperfine: the grader against the baseline", || {
        cmd::run(
            Command::new(hyperfine)
                .current_dir(&root)
                .args(["--warmup", &options.warmup.to_string()])
                .args(["--runs", &options.runs.to_string()])
                .arg("--export-json")
                .arg(&export)
                .args(["--command-name", "grader", &grade])
                .args(["--command-name", "baseline", &baseline]),
        )
    })?;
    let text =
        fs::read_to_string(&export).with_context(|| format!("reading {}", export.display()))?;
    let timing = serde_json::from_str(&text).context("parsing hyperfine's JSON export")?;
    Ok((image, timing))
}

/// `grader grade week08 <reference> --audience .. --build-arg ..`, run from
/// the workspace root; the same build arguments as `cargo xtask demo`.
fn grade_args(grader: &Path, audience: &str) -> Vec<String> {
    [
        grader.display().to_string(),
        "grade".into(),
        LAB.into(),
        SUBMISSION.into(),
        "--audience".into(),
        audience.into(),
        "--build-arg".into(),
        format!("BUILDER_IMAGE={BUILDER_TAG}"),
        "--build-arg".into(),
        format!("RUNTIME_IMAGE={STATIC_TAG}"),
    ]
    .into()
}

/// Grades once (building the image if it is not cached) and finds the image
/// the grader ran: the report names the context's hash, the submission
/// container is named after it, and docker's event log says its image.
fn warm_up(grader: &Path, report_path: &Path, audience: &str) -> Result<String> {
    let since = unix_now();
    let args = grade_args(grader, audience);
    let mut command = Command::new(&args[0]);
    command
        .current_dir(workspace::root())
        .args(&args[1..])
        .arg("--json")
        .arg(report_path);
    cmd::run(&mut command)?;
    let until = unix_now();
    let report = read_json(report_path)?;
    let (earned, max) = (&report["score"]["earned"], &report["score"]["max"]);
    if earned != max {
        println!("    warning: the reference scored {earned}/{max}, not full marks");
    }
    let sha = report["submission"]["context_sha256"]
        .as_str()
        .filter(|s| s.len() >= 12)
        .ok_or_else(|| anyhow!("the grader's report names no context_sha256"))?;
    let prefix = format!("grader-{LAB}-{}-", &sha[..12]);
    let events = cmd::output(docker::docker().args([
        "events",
        "--since",
        &format!("{since:.3}"),
        "--until",
        &format!("{until:.3}"),
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--filter",
        "label=dev.mlops-course.grader.role=submission",
        "--format",
        "{{json .Actor.Attributes}}",
    ]))?;
    let image = events
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|a| a["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
        .and_then(|a| a["image"].as_str().map(str::to_owned))
        .ok_or_else(|| anyhow!("docker's events name no container {prefix}*: which image?"))?;
    let cached = docker::inspect_image(&image)?
        .ok_or_else(|| anyhow!("the grader's image {image} is gone already"))?;
    if cached.label("dev.mlops-course.grader.role") != Some("cache") {
        bail!("{image} is not one of the grader's cached images");
    }
    Ok(image)
}

/// Removes what carries the bench label; returns how many objects.
fn remove_leftovers() -> Result<usize> {
    let mut removed = 0;
    for kind in [Kind::Container, Kind::Network] {
        for id in docker::ids_with_label(kind, BENCH_LABEL)? {
            docker::remove(kind, &id)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The reports of the timed grades: hyperfine runs the warm-ups first, so
/// they are all but the oldest `warmup`.
fn timed_reports(runs_dir: &Path, options: &Options) -> Result<Vec<Value>> {
    let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
    for entry in
        fs::read_dir(runs_dir).with_context(|| format!("reading {}", runs_dir.display()))?
    {
        let path = entry?.path();
        let modified = fs::metadata(&path)?.modified()?;
        files.push((modified, path));
    }
    files.sort();
    let expected = (options.warmup + options.runs) as usize;
    ensure!(
        files.len() == expected,
        "{} grader reports in {}, expected {expected}",
        files.len(),
        runs_dir.display()
    );
    files
        .iter()
        .skip(options.warmup as usize)
        .map(|(_, path)| read_json(path))
        .collect()
}

fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// hyperfine's statistics of one command, in seconds.
struct Timing {
    mean: f64,
    stddev: f64,
    median: f64,
    min: f64,
    max: f64,
}

impl Timing {
    fn from_export(export: &Value, name: &str) -> Result<Self> {
        let result = export["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["command"] == name)
            .ok_or_else(|| anyhow!("hyperfine's export has no result for `{name}`"))?;
        let field = |key: &str| {
            result[key]
                .as_f64()
                .ok_or_else(|| anyhow!("hyperfine's result for `{name}` has no {key}"))
        };
        Ok(Self {
            mean: field("mean")?,
            stddev: field("stddev").unwrap_or(0.0),
            median: field("median")?,
            min: field("min")?,
            max: field("max")?,
        })
    }

    fn json(&self) -> Value {
        json!({
            "mean_s": self.mean, "stddev_s": self.stddev, "median_s": self.median,
            "min_s": self.min, "max_s": self.max,
        })
    }
}

struct Summary {
    grader: Timing,
    baseline: Timing,
    ratio: f64,
    /// (key, what, median ms): the grader's phases and what lies around them.
    phases: Vec<(&'static str, &'static str, f64)>,
    /// (check id, median ms), slowest first.
    checks: Vec<(String, f64)>,
    rebuilt: usize,
    json: Value,
}

/// Milliseconds of one timed grade, by row of the phase table: the report's
/// phases, the checks split into their own durations and the gaps between
/// them, the rest of the report's total, and what lies outside it.
fn phase_rows(report: &Value, wall_s: Option<f64>) -> Vec<(&'static str, &'static str, f64)> {
    let timing = |key: &str| report["timings"][key].as_f64().unwrap_or(0.0);
    let in_checks: f64 = report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["duration_ms"].as_f64())
        .sum();
    let mut rows = Vec::new();
    for (key, what) in PHASES {
        rows.push((key, what, timing(key)));
        if key == "checks_ms" {
            rows.push(("checks_own_ms", "checks: their own durations", in_checks));
            rows.push((
                "checks_between_ms",
                "checks: between them (is the container still up?)",
                timing(key) - in_checks,
            ));
        }
    }
    let phases: f64 = PHASES.iter().map(|(key, _)| timing(key)).sum();
    let total = timing("total_ms");
    rows.push((
        "rest_ms",
        "rest of the grade: orphan sweep, image inspect, scoring",
        total - phases,
    ));
    if let Some(wall) = wall_s {
        rows.push((
            "outside_ms",
            "outside the report's total: process, lab, Docker client, report",
            wall * 1000.0 - total,
        ));
        rows.push(("wall_ms", "wall time (hyperfine)", wall * 1000.0));
    }
    rows
}

fn summarize(image: &str, export: &Value, reports: &[Value], options: &Options) -> Result<Summary> {
    ensure!(!reports.is_empty(), "no grader reports to summarize");
    let grader = Timing::from_export(export, "grader")?;
    let baseline = Timing::from_export(export, "baseline")?;
    let ratio = grader.mean / baseline.mean;
    let median_of = |values: Vec<f64>| median(&values).unwrap_or(0.0);
    // hyperfine's per-run times are in run order, as are the reports.
    let walls: Vec<f64> = export["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["command"] == "grader")
        .and_then(|r| r["times"].as_array())
        .map(|times| times.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let walls_align = walls.len() == reports.len();
    let per_run: Vec<Vec<(&str, &str, f64)>> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| phase_rows(r, walls_align.then(|| walls[i])))
        .collect();
    let phases = per_run[0]
        .iter()
        .enumerate()
        .map(|(row, (key, what, _))| {
            let values = per_run.iter().filter_map(|rows| rows.get(row)).map(|r| r.2);
            (*key, *what, median_of(values.collect()))
        })
        .collect::<Vec<_>>();
    let mut checks: Vec<(String, f64)> = Vec::new();
    let ids = reports[0]["checks"].as_array().cloned().unwrap_or_default();
    for id in ids.iter().filter_map(|c| c["id"].as_str()) {
        let values = reports
            .iter()
            .flat_map(|r| r["checks"].as_array().into_iter().flatten())
            .filter(|c| c["id"] == id)
            .filter_map(|c| c["duration_ms"].as_f64())
            .collect();
        checks.push((id.to_owned(), median_of(values)));
    }
    checks.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rebuilt = reports
        .iter()
        .filter(|r| r["container"]["cached_image"] != true)
        .count();
    let scores: Vec<String> = reports
        .iter()
        .map(|r| format!("{}/{}", r["score"]["earned"], r["score"]["max"]))
        .collect();
    let json = json!({
        "schema": "mlops-course/bench-grade/v1",
        "machine": machine(),
        "lab": LAB,
        "submission": SUBMISSION,
        "audience": options.audience,
        "image": image,
        "runs": options.runs,
        "warmup": options.warmup,
        "grader": grader.json(),
        "baseline": baseline.json(),
        "ratio_of_means": ratio,
        "ratio_of_medians": grader.median / baseline.median,
        "goal": {
            "grader_over_baseline_at_most": GOAL_RATIO,
            "verdict": Verdict::of(ratio <= GOAL_RATIO).as_str(),
        },
        "phases_median_ms": phases.iter().map(|(key, _, ms)| ((*key).to_owned(), json!(ms))).collect::<serde_json::Map<_, _>>(),
        "checks_median_ms": checks.iter().map(|(id, ms)| json!({ "id": id, "median_ms": ms })).collect::<Vec<_>>(),
        "runs_that_rebuilt_the_image": rebuilt,
        "scores": scores,
    });
    Ok(Summary {
        grader,
        baseline,
        ratio,
        phases,
        checks,
        rebuilt,
        json,
    })
}

fn report(s: &Summary) -> String {
    let seconds = |t: &Timing| {
        vec![
            format!("{:.3} ± {:.3}", t.mean, t.stddev),
            format!("{:.3}", t.median),
            format!("{:.3}", t.min),
            format!("{:.3}", t.max),
        ]
    };
    let mut rows = Vec::new();
    for (name, timing) in [("grader", &s.grader), ("baseline", &s.baseline)] {
        let mut row = vec![name.to_owned()];
        row.extend(seconds(timing));
        rows.push(row);
    }
    let mut out = String::from("## Grading the week-8 reference, image cached\n\n");
    out.push_str(&markdown_table(
        &[
            "command",
            "mean ± σ (s)",
            "median (s)",
            "min (s)",
            "max (s)",
        ],
        &[false, true, true, true, true],
        &rows,
    ));
    out.push_str(&format!(
        "\n- grader / baseline: {:.2}× (means), {:.2}× (medians)\n- goal ≤ {GOAL_RATIO}×: **{}**\n",
        s.ratio,
        s.grader.median / s.baseline.median,
        Verdict::of(s.ratio <= GOAL_RATIO).as_str()
    ));
    if s.rebuilt > 0 {
        out.push_str(&format!(
            "- **warning**: {} timed runs rebuilt the image (its cache was removed meanwhile?)\n",
            s.rebuilt
        ));
    }
    let wall = s.grader.median * 1000.0;
    let share = |ms: f64| format!("{:.0}%", 100.0 * ms / wall);
    let phases: Vec<Vec<String>> = s
        .phases
        .iter()
        .map(|(key, what, ms)| {
            vec![
                (*what).to_owned(),
                (*key).to_owned(),
                format!("{ms:.0}"),
                share(*ms),
            ]
        })
        .collect();
    out.push_str("\nWhere the grader's time goes (medians over the timed runs):\n\n");
    out.push_str(&markdown_table(
        &["phase", "key", "ms", "of the wall time"],
        &[false, false, true, true],
        &phases,
    ));
    let checks: Vec<Vec<String>> = s
        .checks
        .iter()
        .map(|(id, ms)| vec![id.clone(), format!("{ms:.0}")])
        .collect();
    out.push_str("\nChecks, slowest first (median ms):\n\n");
    out.push_str(&markdown_table(&["check", "ms"], &[false, true], &checks));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_for_the_shell() {
        assert_eq!(
            shell_quote("BUILDER_IMAGE=a/b:1.95"),
            "BUILDER_IMAGE=a/b:1.95"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn reads_hyperfine_export() {
        let export = json!({ "results": [
            { "command": "grader", "mean": 3.0, "stddev": 0.1, "median": 2.9, "min": 2.8, "max": 3.4, "times": [] },
            { "command": "baseline", "mean": 0.6, "stddev": 0.02, "median": 0.6, "min": 0.55, "max": 0.7, "times": [] },
        ]});
        let grader = Timing::from_export(&export, "grader").expect("grader");
        assert!((grader.median - 2.9).abs() < 1e-9);
        assert!(Timing::from_export(&export, "other").is_err());
    }

    #[test]
    fn phases_and_checks_from_reports() {
        let grade_report = |build: u64, health: u64| {
            json!({
                "timings": { "build_ms": build, "start_ms": 100, "ready_ms": 50, "checks_ms": 600,
                             "teardown_ms": 40, "total_ms": 830 },
                "checks": [ { "id": "health", "duration_ms": health }, { "id": "openapi", "duration_ms": 5 } ],
                "container": { "cached_image": true },
                "score": { "earned": 90, "max": 90 },
            })
        };
        let export = json!({ "results": [
            { "command": "grader", "mean": 1.0, "stddev": 0.1, "median": 1.0, "min": 0.9, "max": 1.1,
              "times": [1.0, 0.9, 1.1] },
            { "command": "baseline", "mean": 0.5, "stddev": 0.0, "median": 0.5, "min": 0.5, "max": 0.5,
              "times": [0.5, 0.5, 0.5] },
        ]});
        let options = Options {
            runs: 3,
            warmup: 0,
            audience: "student".into(),
        };
        let reports = [
            grade_report(10, 30),
            grade_report(20, 10),
            grade_report(30, 20),
        ];
        let s = summarize("img", &export, &reports, &options).expect("summary");
        assert!((s.ratio - 2.0).abs() < 1e-9);
        let row = |key: &str| {
            s.phases
                .iter()
                .find(|p| p.0 == key)
                .map(|p| p.2)
                .expect(key)
        };
        assert_eq!(row("build_ms"), 20.0);
        assert_eq!(row("checks_own_ms"), 25.0);
        assert_eq!(row("checks_between_ms"), 575.0);
        assert_eq!(row("rest_ms"), 20.0);
        assert!((row("outside_ms") - 170.0).abs() < 1e-6);
        assert!((row("wall_ms") - 1000.0).abs() < 1e-6);
        assert_eq!(s.checks[0], ("health".to_owned(), 20.0));
        assert_eq!(s.rebuilt, 0);
        assert_eq!(s.json["goal"]["verdict"], "missed");
        assert!(report(&s).contains("| health | 20 |"));
    }
}
