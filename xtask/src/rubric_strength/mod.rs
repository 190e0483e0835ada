//! `cargo xtask rubric-strength LAB`: how many of the mistakes cargo-mutants
//! makes in a lab's reference solution the lab's own rubric catches.
//!
//! Each mutant is applied to a copy of the solution, compiled with `cargo
//! check` (one that does not compile is unviable: no student submits it),
//! then built from the solution's real Dockerfile on the course's builder
//! image and graded by the real `grader` CLI, as an instructor grades. The
//! Docker layer cache keeps the dependency layers of the solution's own build,
//! so a mutant costs the compile of the lab's crate and the grade. A mutant
//! that scores below full marks is caught; one that scores full marks is
//! missed, unless the lab's `mutants.toml` marks it equivalent.

mod cleanup;
mod journal;
mod mutants;
mod recipe;
mod report;
mod table;
mod trial;

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use crate::base_images::{BUILDER_TAG, STATIC_TAG};
use crate::step::{fmt_duration, step};
use crate::{base_images, cmd, docker, workspace};
use journal::Journal;
use mutants::Mutant;
use recipe::Recipe;
use report::Report;
use trial::{Grading, Outcome, Trial};

#[derive(Args)]
pub struct Options {
    /// A lab id (grader/labs/<id>/) or a folder holding a lab.toml.
    #[arg(required_unless_present = "table")]
    lab: Option<String>,
    /// Print the Markdown table of the last run of every lab (from
    /// target/rubric-strength/*/report.json) instead of running one.
    #[arg(long, conflicts_with_all = ["sample", "jobs", "fresh", "out", "grader"])]
    table: bool,
    /// Try this many mutants, picked at random with --seed (all if unset).
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// The seed that picks the sample: the same seed picks the same mutants.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// How many mutants are tried at once (default: the machine's cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Forget the results of earlier runs (they are otherwise reused while
    /// the solution and the rubric are unchanged).
    #[arg(long)]
    fresh: bool,
    /// Where the journal and the reports go (default target/rubric-strength/<lab>/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Grade with this `grader` executable instead of building the workspace's.
    #[arg(long, value_name = "FILE")]
    grader: Option<PathBuf>,
}

/// The lab being measured.
struct Lab {
    id: String,
    dir: PathBuf,
    solution: PathBuf,
    recipe: Recipe,
}

pub fn run(opts: Options) -> Result<()> {
    let Some(lab_name) = &opts.lab else {
        print!(
            "{}",
            table::render(&workspace::root().join("target/rubric-strength"))?
        );
        return Ok(());
    };
    if opts.sample == Some(0) {
        bail!("--sample must be at least 1");
    }
    let jobs = opts.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let lab = find_lab(lab_name)?;
    let out = opts.out.clone().unwrap_or_else(|| {
        workspace::root()
            .join("target/rubric-strength")
            .join(&lab.id)
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // One run per output folder at a time: two would share a journal.
    let lock = File::create(out.join(".lock")).context("creating the run's lock file")?;
    lock.try_lock()
        .map_err(|_| anyhow!("another rubric-strength run is using {}", out.display()))?;

    let version = mutants::version()?;
    let work = work_folder(&out, &lab.id)?;
    let reference = work.path().join("reference");
    recipe::copy_submitted(&lab.solution, &reference)?;
    let listed = if reference.join("Cargo.toml").is_file() {
        mutants::list(&reference)?
    } else {
        Vec::new()
    };
    let tried = mutants::sample(listed.clone(), opts.sample, opts.seed);
    let solution_name = shown(&lab.solution);
    let inputs = report::Inputs {
        lab: &lab.id,
        solution: &solution_name,
        cargo_mutants: &version,
        listed: &listed,
        sample: opts.sample,
        seed: opts.seed,
        recipe: &lab.recipe,
    };
    if listed.is_empty() {
        println!(
            "{}'s reference solution ({solution_name}) has no Rust code: cargo-mutants has nothing to mutate",
            lab.id
        );
        return write_reports(&out, &Report::new(&inputs, &[]));
    }
    println!(
        "==> {}: cargo-mutants {version} lists {} mutants of {solution_name}; trying {}",
        lab.id,
        listed.len(),
        tried.len()
    );

    docker::check_daemon()?;
    if [BUILDER_TAG, STATIC_TAG]
        .iter()
        .any(|t| docker::inspect_image(t).ok().flatten().is_none())
    {
        base_images::run(false)?;
    }
    let grader = match &opts.grader {
        Some(path) => path.clone(),
        None => step("build the grader", build_grader)?,
    };
    let grading = Grading {
        grader,
        lab_dir: lab.dir.clone(),
        build_args: vec![
            format!("BUILDER_IMAGE={BUILDER_TAG}"),
            format!("RUNTIME_IMAGE={STATIC_TAG}"),
        ],
        check_targets: workspace::root().join("target/rubric-strength/check"),
    };
    let fingerprint = journal::fingerprint(&[&lab.solution, &lab.dir], &[recipe::FILE])?;
    let journal = Journal::open(&out, &fingerprint, opts.fresh)?;
    // Every grade's objects carry a run id under this prefix; an interrupted
    // run's images are removed before this one starts and this run's at its end.
    let run_prefix = format!("rubric-strength-{}-", lab.id);
    cleanup::remove_builds(|r| r.starts_with(&run_prefix))?;
    let run_id = format!("{run_prefix}{}", std::process::id());

    let outcome = measure(
        &lab,
        &grading,
        &journal,
        &reference,
        &tried,
        &run_id,
        jobs,
        work.path(),
    );
    let removed = cleanup::remove_builds(|r| r.starts_with(&run_prefix));
    outcome?;
    removed?;

    let finished: Vec<(Mutant, Trial)> = tried
        .into_iter()
        .filter_map(|m| journal.done(&m.name).map(|t| (m, t)))
        .collect();
    let report = Report::new(&inputs, &finished);
    write_reports(&out, &report)?;
    println!("{}", report.summary());
    Ok(())
}

/// Grades the reference (it must score full marks), then every mutant not
/// yet in the journal, `jobs` at a time.
#[allow(clippy::too_many_arguments)]
fn measure(
    lab: &Lab,
    grading: &Grading,
    journal: &Journal,
    reference: &Path,
    tried: &[Mutant],
    run_id: &str,
    jobs: usize,
    work: &Path,
) -> Result<()> {
    let todo: VecDeque<(usize, &Mutant)> = tried
        .iter()
        .enumerate()
        .filter(|(_, m)| journal.done(&m.name).is_none())
        .collect();
    if todo.len() < tried.len() {
        println!(
            "    {} of {} already tried by an earlier run (--fresh to start over)",
            tried.len() - todo.len(),
            tried.len()
        );
    }
    if todo.is_empty() {
        return Ok(());
    }
    step("grade the reference solution", || {
        lab.recipe.make_history(reference)?;
        // Its image stays until the end: the mutants' builds reuse its layers.
        let graded = grading.grade(reference, &format!("{run_id}-reference"), true)?;
        if graded.score.earned < graded.score.max {
            bail!(
                "the reference solution scores {} of {} (lost: {}): fix it, or the history in {}, first",
                graded.score.earned,
                graded.score.max,
                graded.lost.join(", "),
                lab.dir.join(recipe::FILE).display()
            );
        }
        Ok(())
    })?;

    let total = todo.len();
    let queue = Mutex::new(todo);
    let finished = AtomicUsize::new(0);
    let started = Instant::now();
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..jobs.min(total) {
            let (queue, finished, errors) = (&queue, &finished, &errors);
            let dir = work.join(format!("worker{worker}"));
            scope.spawn(move || {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some((index, mutant)) = next else { break };
                    let run = format!("{run_id}-m{index}");
                    let result = try_mutant(lab, grading, mutant, reference, &dir, worker, &run);
                    let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
                    let line = match result.and_then(|t| journal.record(&t).map(|()| t)) {
                        Ok(trial) => progress_line(&trial, lab),
                        Err(err) => {
                            let line = format!("error     {} ({err:#})", mutant.name);
                            if let Ok(mut e) = errors.lock() {
                                e.push(line.clone());
                            }
                            line
                        }
                    };
                    let eta = started.elapsed().mul_f64((total - n) as f64 / n as f64);
                    println!(
                        "[{n:>3}/{total}] {line}  (left about {})",
                        fmt_duration(eta)
                    );
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_default();
    if !errors.is_empty() {
        bail!(
            "{} mutants could not be graded (run again to retry them); the first: {}",
            errors.len(),
            errors[0]
        );
    }
    Ok(())
}

/// Applies one mutant to a fresh copy of the reference and grades it.
fn try_mutant(
    lab: &Lab,
    grading: &Grading,
    mutant: &Mutant,
    reference: &Path,
    dir: &Path,
    worker: usize,
    run: &str,
) -> Result<Trial> {
    let start = Instant::now();
    let sub = dir.join("submission");
    if sub.exists() {
        std::fs::remove_dir_all(&sub).with_context(|| format!("removing {}", sub.display()))?;
    }
    recipe::copy_submitted(reference, &sub)?;
    mutants::apply(mutant, &sub)?;
    let trial = |outcome, lost, score, error| Trial {
        mutant: mutant.name.clone(),
        outcome,
        lost,
        score,
        error,
        seconds: trial::seconds(start),
    };
    if let Err(error) = grading.compiles(&sub, worker)? {
        return Ok(trial(Outcome::Unviable, Vec::new(), None, Some(error)));
    }
    lab.recipe.make_history(&sub)?;
    let graded = grading.grade(&sub, run, false)?;
    let outcome = if graded.score.earned < graded.score.max {
        Outcome::Caught
    } else {
        Outcome::Missed
    };
    Ok(trial(
        outcome,
        graded.lost,
        Some(graded.score),
        graded.container,
    ))
}

fn progress_line(trial: &Trial, lab: &Lab) -> String {
    let what = match trial.outcome {
        Outcome::Missed if lab.recipe.equivalent(&trial.mutant).is_some() => "equivalent",
        Outcome::Missed if lab.recipe.outside(&trial.mutant).is_some() => "missed",
        Outcome::Missed => "MISSED",
        Outcome::Caught => "caught",
        Outcome::Unviable => "unviable",
        Outcome::Equivalent => "equivalent",
    };
    let lost = if trial.lost.is_empty() {
        String::new()
    } else {
        format!(" by {}", trial.lost.join(", "))
    };
    format!("{what:<10}{}{lost} in {:.0}s", trial.mutant, trial.seconds)
}

/// The lab `name` names: an id under grader/labs/, or a folder with a lab.toml.
fn find_lab(name: &str) -> Result<Lab> {
    let given = PathBuf::from(name);
    let dir = if given.join("lab.toml").is_file() {
        given
    } else {
        let dir = workspace::root().join("grader/labs").join(name);
        if !dir.join("lab.toml").is_file() || name.contains('/') {
            bail!(
                "unknown lab \"{name}\": give a lab id (a folder of grader/labs/) or a folder holding a lab.toml"
            );
        }
        dir
    };
    let spec_path = dir.join("lab.toml");
    let spec: toml::Table = std::fs::read_to_string(&spec_path)
        .with_context(|| format!("reading {}", spec_path.display()))?
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("{}: {}", spec_path.display(), e.message()))?;
    let id = spec
        .get("id")
        .and_then(toml::Value::as_str)
        .ok_or_else(|| anyhow!("{}: no `id`", spec_path.display()))?
        .to_owned();
    let recipe = Recipe::read(&dir)?;
    let solution = match &recipe.solution {
        Some(path) => dir.join(path),
        None => default_solution(&id)?,
    };
    if !solution.is_dir() {
        bail!(
            "the reference solution {} is not a folder",
            solution.display()
        );
    }
    Ok(Lab {
        id,
        dir,
        solution,
        recipe,
    })
}

/// `solutions/<id>-*`.
fn default_solution(id: &str) -> Result<PathBuf> {
    let solutions = workspace::root().join("solutions");
    let prefix = format!("{id}-");
    std::fs::read_dir(&solutions)
        .with_context(|| format!("reading {}", solutions.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .ok_or_else(|| anyhow!("no reference solution solutions/{prefix}* for lab {id}"))
}

/// `cargo build -p grader --bins`: the grader and its probe, beside each other.
fn build_grader() -> Result<PathBuf> {
    cmd::run(workspace::cargo().args(["build", "-q", "-p", "grader", "--bins"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace::root().join("target"), PathBuf::from);
    Ok(target.join("debug/grader"))
}

fn write_reports(out: &Path, report: &Report) -> Result<()> {
    let json = out.join("report.json");
    let md = out.join("report.md");
    std::fs::write(&json, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    std::fs::write(&md, report.markdown()).with_context(|| format!("writing {}", md.display()))?;
    println!("    reports: {} and {}", shown(&md), shown(&json));
    Ok(())
}

/// A path relative to the workspace when it is inside it.
fn shown(path: &Path) -> String {
    let root = workspace::root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A fresh folder in the system's temporary folder for the copies of the
/// reference and its mutants. It cannot live under `target/`: there cargo
/// would take a solution for a stray member of this workspace. Its path is
/// kept in `<out>/work-folder`, so that the next run (which holds the lock)
/// removes what a run stopped with Ctrl-C left behind.
fn work_folder(out: &Path, lab: &str) -> Result<tempfile::TempDir> {
    let prefix = format!("rubric-strength-{lab}-");
    let marker = out.join("work-folder");
    if let Ok(previous) = std::fs::read_to_string(&marker) {
        let previous = PathBuf::from(previous.trim());
        // Only a folder this task made: the marker is a file anyone can edit.
        let ours = previous.parent() == Some(std::env::temp_dir().as_path())
            && previous
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix));
        if ours && previous.exists() {
            std::fs::remove_dir_all(&previous)
                .with_context(|| format!("removing an interrupted run's {}", previous.display()))?;
        }
    }
    let work = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir()
        .context("creating a work folder")?;
    std::fs::write(&marker, work.path().as_os_str().as_encoded_bytes())
        .with_context(|| format!("writing {}", marker.display()))?;
    Ok(work)
}
