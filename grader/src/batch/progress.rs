//! What a batch shows while it runs: on a terminal, one live bar (graded,
//! running, failed, time left); in CI or a pipe, a line per submission.

use crate::report::{container_line, safe};
use crate::result::ClassEntry;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub trait BatchProgress: Send + Sync {
    /// `total` submissions are to be graded; `reused` were found graded.
    fn start(&self, total: usize, reused: usize);
    /// A student's grade begins.
    fn begin(&self, student: &str);
    /// A student's grade ended, with a report or an error.
    fn end(&self, entry: &ClassEntry);
    /// Something the instructor should know that ends no grade.
    fn warn(&self, message: &str);
    /// The batch is over.
    fn finish(&self) {}
}

/// The writer for this process: none when `quiet`, a live bar on a terminal
/// (unless `CI` is set), lines otherwise.
pub fn for_stderr(quiet: bool) -> Arc<dyn BatchProgress> {
    if quiet {
        Arc::new(Quiet)
    } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
        Arc::new(Live::new())
    } else {
        Arc::new(Lines::default())
    }
}

/// Shows nothing.
pub struct Quiet;

impl BatchProgress for Quiet {
    fn start(&self, _: usize, _: usize) {}
    fn begin(&self, _: &str) {}
    fn end(&self, _: &ClassEntry) {}
    fn warn(&self, _: &str) {}
}

/// Counts shared by both writers.
#[derive(Default)]
struct Counts {
    total: AtomicUsize,
    done: AtomicUsize,
    running: AtomicUsize,
    failed: AtomicUsize,
}

impl Counts {
    fn end(&self, entry: &ClassEntry) -> usize {
        self.running.fetch_sub(1, Ordering::Relaxed);
        if entry.report.is_none() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.done.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// One line on what a finished grade gave: "kim: 87/100" or the error.
fn outcome(entry: &ClassEntry) -> String {
    let student = safe::terminal_line(&entry.student);
    match (&entry.report, &entry.error) {
        (Some(r), _) => {
            let mut line = format!("{student}: {}/{}", r.score.earned, r.score.max);
            if let Some(c) = container_line(r) {
                line.push_str(&format!(
                    " ({})",
                    safe::terminal_line(&crate::checks::clip(&c, 80))
                ));
            }
            line
        }
        (None, e) => format!(
            "{student}: not graded: {}",
            safe::terminal_line(e.as_deref().unwrap_or("unknown error"))
        ),
    }
}

/// Plain lines for logs: `[  12.3s] 3/40 kim: 87/100`.
pub struct Lines {
    started: Instant,
    counts: Counts,
}

impl Default for Lines {
    fn default() -> Self {
        Lines {
            started: Instant::now(),
            counts: Counts::default(),
        }
    }
}

impl Lines {
    fn line(&self, text: &str) {
        eprintln!("[{:7.1}s] {text}", self.started.elapsed().as_secs_f64());
    }
}

impl BatchProgress for Lines {
    fn start(&self, total: usize, reused: usize) {
        self.counts.total.store(total, Ordering::Relaxed);
        self.line(&format!(
            "{total} to grade, {reused} already graded (in the journal)"
        ));
    }
    fn begin(&self, _: &str) {
        self.counts.running.fetch_add(1, Ordering::Relaxed);
    }
    fn end(&self, entry: &ClassEntry) {
        let done = self.counts.end(entry);
        let total = self.counts.total.load(Ordering::Relaxed);
        self.line(&format!("{done}/{total} {}", outcome(entry)));
    }
    fn warn(&self, message: &str) {
        self.line(&format!("warning: {}", safe::terminal_line(message)));
    }
}

/// A live bar on a terminal.
pub struct Live {
    bar: ProgressBar,
    counts: Counts,
}

impl Live {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} graded · {msg} · {elapsed} elapsed, about {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Live {
            bar,
            counts: Counts::default(),
        }
    }

    fn show(&self) {
        self.bar.set_message(format!(
            "{} running, {} failed",
            self.counts.running.load(Ordering::Relaxed),
            self.counts.failed.load(Ordering::Relaxed)
        ));
    }
}

impl BatchProgress for Live {
    fn start(&self, total: usize, reused: usize) {
        self.bar.set_length(total as u64);
        if reused > 0 {
            self.bar
                .println(format!("{reused} already graded (in the journal)"));
        }
        self.show();
    }
    fn begin(&self, _: &str) {
        self.counts.running.fetch_add(1, Ordering::Relaxed);
        self.show();
    }
    fn end(&self, entry: &ClassEntry) {
        self.counts.end(entry);
        self.bar.println(outcome(entry));
        self.bar.inc(1);
        self.show();
    }
    fn warn(&self, message: &str) {
        self.bar
            .println(format!("warning: {}", safe::terminal_line(message)));
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
