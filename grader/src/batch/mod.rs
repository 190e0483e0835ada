//! Grading a class: every submission of a roster, a few at a time, each
//! result written to a journal the moment it is known (see [`journal`]), the
//! reports and the gradebook written at the end.
//!
//! Two limits bound the work: `jobs` grades at once (their containers, probes
//! and judges), and `builds` image builds at once, the part that takes the
//! CPU and memory. An error of grading itself ([`GradeError`]: the engine
//! unreachable, a judge image missing) is retried with a growing pause; a
//! submission's own faults are verdicts in its report and are never retried.

pub mod git;
pub mod journal;
pub mod kubernetes;
pub mod outputs;
pub mod progress;
pub mod roster;

use crate::context;
use crate::course_key::CourseKey;
use crate::pipeline::{GradeError, GradeRequest, grade};
use crate::result::{Audience, ClassEntry, now_rfc3339};
use crate::spec::LabSpec;
use bollard::Docker;
use journal::{Journal, Record};
use roster::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub use progress::{BatchProgress, for_stderr as progress_for_stderr};

/// How a batch grades, beside what it grades.
#[derive(Clone)]
pub struct Options {
    /// Grades at once.
    pub jobs: usize,
    /// Image builds at once.
    pub builds: usize,
    /// How many times a grading error is retried before it is recorded.
    pub retries: u32,
    /// The first pause before a retry; each next one doubles it.
    pub retry_pause: Duration,
    pub audience: Audience,
    pub build_args: BTreeMap<String, String>,
    pub allow_images: Vec<String>,
    pub runtime: Option<String>,
    pub fetch_network: Option<String>,
    pub course_key: CourseKey,
    pub probe_exe: PathBuf,
}

/// What a batch did.
pub struct Outcome {
    /// Every student of the roster, in its order.
    pub entries: Vec<ClassEntry>,
    /// Graded in this run.
    pub graded: usize,
    /// Found graded in the journal under the same key, not graded again.
    pub reused: usize,
    /// Not graded: grading itself failed after every retry.
    pub errors: usize,
}

/// The roster's students, each with the grade already journalled under its
/// key or the key to grade it under.
pub struct Plan {
    entries: Vec<Option<ClassEntry>>,
    todo: Vec<(usize, Entry, String)>,
    reused: usize,
}

/// Hashes each submission (off the async threads) and finds its grade in
/// `done` (journalled grades by key).
pub async fn plan(
    lab: &LabSpec,
    roster: &[Entry],
    done: &HashMap<&str, &Record>,
    options: &Options,
) -> Plan {
    let mut plan = Plan {
        entries: vec![None; roster.len()],
        todo: Vec::new(),
        reused: 0,
    };
    for (i, entry) in roster.iter().enumerate() {
        if let Some(problem) = &entry.problem {
            plan.entries[i] = Some(ClassEntry {
                student: entry.student.clone(),
                path: entry.path.display().to_string(),
                report: None,
                error: Some(problem.clone()),
                attempts: 0,
            });
            continue;
        }
        let path = entry.path.clone();
        let limit = lab.build.context_limit_mb;
        let hashed = tokio::task::spawn_blocking(move || submission_sha256(&path, limit))
            .await
            .unwrap_or_else(|e| Err(format!("hashing failed: {e}")));
        let shown = entry.path.display().to_string();
        match hashed {
            Err(problem) => {
                // Nothing to grade: the roster names no readable folder.
                plan.entries[i] = Some(ClassEntry {
                    student: entry.student.clone(),
                    path: shown,
                    report: None,
                    error: Some(problem),
                    attempts: 0,
                });
            }
            Ok(sha) => {
                let key = journal::key(
                    &entry.student,
                    &lab.digest,
                    &sha,
                    &options.build_args,
                    options.audience,
                );
                match done.get(key.as_str()) {
                    Some(record) => {
                        let mut found = record.entry.clone();
                        found.student = entry.student.clone();
                        found.path = shown;
                        plan.entries[i] = Some(found);
                        plan.reused += 1;
                    }
                    None => plan.todo.push((i, entry.clone(), key)),
                }
            }
        }
    }
    plan
}

/// Grades every submission of `roster` that `journal` does not hold a grade
/// of under the same key, and gives back the whole class's entries.
pub async fn run(
    docker: &Docker,
    lab: &LabSpec,
    roster: &[Entry],
    journal: Arc<Journal>,
    options: &Options,
    progress: Arc<dyn BatchProgress>,
) -> Outcome {
    let Plan {
        mut entries,
        todo,
        reused,
    } = plan(lab, roster, &journal.graded(), options).await;
    progress.start(todo.len(), reused);
    let jobs = Arc::new(Semaphore::new(options.jobs.max(1)));
    let builds = Arc::new(Semaphore::new(options.builds.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, entry, key) in todo {
        let (docker, lab, options) = (docker.clone(), lab.clone(), options.clone());
        let (jobs, builds) = (jobs.clone(), builds.clone());
        let (journal, progress) = (journal.clone(), progress.clone());
        set.spawn(async move {
            let _slot = jobs.acquire_owned().await.ok();
            progress.begin(&entry.student);
            let entry = grade_one(&docker, lab, &entry, &options, builds).await;
            let record = Record {
                key,
                finished_at: now_rfc3339(),
                entry,
            };
            if let Err(e) = journal.append(&record) {
                // The grade stands in this run's outputs; a rerun grades it again.
                progress.warn(&e);
            }
            progress.end(&record.entry);
            (i, record.entry)
        });
    }
    let mut graded = 0;
    let mut errors = 0;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, entry)) => {
                if entry.report.is_some() {
                    graded += 1;
                } else {
                    errors += 1;
                }
                entries[i] = Some(entry);
            }
            Err(e) => progress.warn(&format!("a grading task failed: {e}")),
        }
    }
    progress.finish();
    let entries = entries
        .into_iter()
        .zip(roster)
        .map(|(entry, r)| {
            entry.unwrap_or_else(|| ClassEntry {
                student: r.student.clone(),
                path: r.path.display().to_string(),
                report: None,
                error: Some("not graded: its task failed".into()),
                attempts: 0,
            })
        })
        .collect::<Vec<_>>();
    let errors = errors + unreadable(&entries);
    Outcome {
        entries,
        graded,
        reused,
        errors,
    }
}

/// Entries no grade was even tried for: a folder that cannot be read.
fn unreadable(entries: &[ClassEntry]) -> usize {
    entries
        .iter()
        .filter(|e| e.attempts == 0 && e.report.is_none())
        .count()
}

/// The class as the journals of its shards hold it: each student's grade
/// under their submission's key as it is now, or, when no journal has one,
/// an entry saying so. Grades nothing.
pub async fn merge(
    lab: &LabSpec,
    roster: &[Entry],
    records: &[Record],
    options: &Options,
) -> Outcome {
    let done: HashMap<&str, &Record> = records
        .iter()
        .filter(|r| r.entry.report.is_some())
        .map(|r| (r.key.as_str(), r))
        .collect();
    let Plan {
        mut entries,
        todo,
        reused,
    } = plan(lab, roster, &done, options).await;
    for (i, entry, key) in todo {
        // The latest error a shard recorded for it, if any, says why.
        let error = records
            .iter()
            .rev()
            .find(|r| r.key == key)
            .and_then(|r| r.entry.error.clone())
            .unwrap_or_else(|| {
                "not graded: no journal holds a grade of this submission as it is now".into()
            });
        entries[i] = Some(ClassEntry {
            student: entry.student.clone(),
            path: entry.path.display().to_string(),
            report: None,
            error: Some(error),
            attempts: 0,
        });
    }
    let entries: Vec<ClassEntry> = entries.into_iter().flatten().collect();
    let errors = unreadable(&entries);
    Outcome {
        entries,
        graded: 0,
        reused,
        errors,
    }
}

/// Grades one submission, retrying a grading error (never a verdict).
async fn grade_one(
    docker: &Docker,
    lab: LabSpec,
    entry: &Entry,
    options: &Options,
    builds: Arc<Semaphore>,
) -> ClassEntry {
    let request = GradeRequest {
        lab,
        submission: entry.path.clone(),
        build_args: options.build_args.clone(),
        audience: options.audience,
        probe_exe: options.probe_exe.clone(),
        runtime: options.runtime.clone(),
        allow_images: options.allow_images.clone(),
        progress: Arc::new(crate::progress::Quiet),
        fetch_network: options.fetch_network.clone(),
        course_key: options.course_key.clone(),
        build_slots: Some(builds),
    };
    let mut attempts = 0;
    let mut pause = options.retry_pause;
    loop {
        attempts += 1;
        match grade(docker, &request).await {
            Ok(mut report) => {
                report.submission.student = Some(entry.student.clone());
                return ClassEntry {
                    student: entry.student.clone(),
                    path: entry.path.display().to_string(),
                    report: Some(report),
                    error: None,
                    attempts,
                };
            }
            Err(e) if attempts <= options.retries => {
                tracing::info!("{}: grading failed ({e}); retrying", entry.student);
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => {
                return ClassEntry {
                    student: entry.student.clone(),
                    path: entry.path.display().to_string(),
                    report: None,
                    error: Some(error_line(&e)),
                    attempts,
                };
            }
        }
    }
}

fn error_line(e: &GradeError) -> String {
    crate::report::safe::terminal_line(&e.to_string())
}

/// The SHA-256 of everything a grade may read of the submission: its files
/// as a judge sees them, `.git` included.
fn submission_sha256(dir: &Path, limit_mb: u64) -> Result<String, String> {
    if !dir.is_dir() {
        return Err(format!(
            "cannot read the submission {}: not a folder",
            dir.display()
        ));
    }
    // A folder too big or unsafe to pack still gets a verdict from its grade;
    // its key is then what makes it so, which changes when the student fixes it.
    Ok(
        match context::pack_tree(dir, limit_mb.saturating_mul(4), true) {
            Ok(ctx) => ctx.sha256,
            Err(e) => {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(format!("unpackable: {e}")))
            }
        },
    )
}

/// The lines a batch prints at its end: counts, the scores' spread and the
/// containers' verdicts.
pub fn summary(lab: &LabSpec, outcome: &Outcome) -> String {
    let mut text = format!(
        "{}: {} submission(s): {} graded now, {} found in the journal, {} not graded\n",
        lab.id,
        outcome.entries.len(),
        outcome.graded,
        outcome.reused,
        outcome.errors
    );
    let mut scores: Vec<u32> = outcome
        .entries
        .iter()
        .filter_map(|e| e.report.as_ref().map(|r| r.score.earned))
        .collect();
    if !scores.is_empty() {
        scores.sort_unstable();
        let mean = scores.iter().map(|&s| f64::from(s)).sum::<f64>() / scores.len() as f64;
        // What a report is out of: less the hidden checks' points for students.
        let max = outcome
            .entries
            .iter()
            .find_map(|e| e.report.as_ref().map(|r| r.score.max))
            .unwrap_or_else(|| lab.max_points());
        text.push_str(&format!(
            "scores out of {max}: mean {mean:.1}, median {}, lowest {}, highest {}\n",
            scores[scores.len() / 2],
            scores[0],
            scores[scores.len() - 1]
        ));
        let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in outcome.entries.iter().filter_map(|e| e.report.as_ref()) {
            *verdicts
                .entry(crate::report::container_word(r.container.verdict))
                .or_default() += 1;
        }
        let counted: Vec<String> = verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        text.push_str(&format!("containers: {}\n", counted.join(", ")));
    }
    text
}
