//! What a grade shows while it runs. A grade that builds Rust takes minutes;
//! the student or instructor watching it should see which phase it is in, for
//! how long, and the build step it is on. The JSON report never carries any of
//! this: progress goes to stderr only.
//!
//! - [`Live`]: on a terminal, one line per phase (indicatif), with its elapsed
//!   time and current step, which stays as the phase's summary when it ends;
//! - [`Lines`]: in CI or a pipe, plain phase lines stamped with the time since
//!   the grade began;
//! - [`Quiet`]: nothing (`--quiet`, and the tests).
//!
//! A step may be the submission's own text (a Dockerfile line), so every
//! writer shows it escaped and clipped, like the reports do.

use crate::checks::clip;
use crate::report::safe;
use crate::spec::Phase;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a grade reports its phases.
pub trait Progress: Send + Sync {
    /// A phase begins.
    fn begin(&self, phase: Phase);
    /// What the phase is doing now: a build step, the check it runs.
    fn step(&self, text: &str);
    /// The phase ended; `summary` says how ("image built; 2 passed").
    fn end(&self, phase: Phase, summary: &str);
    /// The grade is over, whatever its outcome: what comes next (the table,
    /// an error) starts on a line of its own.
    fn finish(&self) {}
}

/// Chooses the writer for this process: none when `quiet`, live lines on a
/// terminal (unless `CI` is set), plain lines otherwise.
pub fn for_stderr(quiet: bool) -> Arc<dyn Progress> {
    if quiet {
        Arc::new(Quiet)
    } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
        Arc::new(Live::new())
    } else {
        Arc::new(Lines::new(std::io::stderr()))
    }
}

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn begin(&self, _: Phase) {}
    fn step(&self, _: &str) {}
    fn end(&self, _: Phase, _: &str) {}
}

/// How long a step's text may be on one line.
const STEP_CHARS: usize = 72;

fn shown(text: &str) -> String {
    safe::terminal_line(&clip(text.trim(), STEP_CHARS))
}

/// Plain lines, `[  12.3s] build: ...`, for logs.
pub struct Lines<W> {
    started: Instant,
    state: Mutex<LinesState<W>>,
}

struct LinesState<W> {
    out: W,
    phase: Option<(Phase, Instant)>,
}

impl<W: Write + Send> Lines<W> {
    pub fn new(out: W) -> Self {
        Lines {
            started: Instant::now(),
            state: Mutex::new(LinesState { out, phase: None }),
        }
    }

    /// The writer back, for tests.
    pub fn into_inner(self) -> W {
        match self.state.into_inner() {
            Ok(state) => state.out,
            Err(poisoned) => poisoned.into_inner().out,
        }
    }

    fn line(&self, f: impl FnOnce(&mut LinesState<W>) -> String) {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let text = f(&mut state);
        let at = self.started.elapsed().as_secs_f64();
        // Progress is a courtesy: a closed stderr must not fail the grade.
        let _ = writeln!(state.out, "[{at:7.1}s] {text}");
    }
}

impl<W: Write + Send> Progress for Lines<W> {
    fn begin(&self, phase: Phase) {
        self.line(|s| {
            s.phase = Some((phase, Instant::now()));
            format!("{}: started", phase.name())
        });
    }

    fn step(&self, text: &str) {
        self.line(|s| {
            let name = s.phase.map_or("grade", |(p, _)| p.name());
            format!("{name}: {}", shown(text))
        });
    }

    fn end(&self, phase: Phase, summary: &str) {
        self.line(|s| {
            let took = s.phase.take().map(|(_, t)| t.elapsed()).unwrap_or_default();
            format!("{}: {summary} ({:.1} s)", phase.name(), took.as_secs_f64())
        });
    }
}

/// One live line per phase on a terminal.
pub struct Live {
    bars: MultiProgress,
    current: Mutex<Option<ProgressBar>>,
    drew: std::sync::atomic::AtomicBool,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    pub fn new() -> Self {
        Live {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            current: Mutex::new(None),
            drew: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        match self.current.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Progress for Live {
    fn begin(&self, phase: Phase) {
        let style = ProgressStyle::with_template("{spinner} {prefix:8} {elapsed:>4} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = self.bars.add(ProgressBar::new_spinner());
        bar.set_style(style);
        bar.set_prefix(phase.name());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.drew.store(true, std::sync::atomic::Ordering::Relaxed);
        *self.current() = Some(bar);
    }

    fn step(&self, text: &str) {
        if let Some(bar) = self.current().as_ref() {
            bar.set_message(shown(text));
        }
    }

    fn end(&self, _: Phase, summary: &str) {
        if let Some(bar) = self.current().take() {
            bar.finish_with_message(summary.to_string());
        }
    }

    fn finish(&self) {
        // A finished bar leaves the cursor at the end of its line.
        if let Some(bar) = self.current().take() {
            bar.abandon();
        }
        if self.drew.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_phase_and_escape_what_the_submission_wrote() {
        let lines = Lines::new(Vec::new());
        lines.begin(Phase::Build);
        lines.step("Step 2/9 : RUN echo \u{1b}[2J\nscore: 100/100");
        lines.end(Phase::Build, "image built");
        let out = String::from_utf8(lines.into_inner()).expect("utf-8");
        let got: Vec<&str> = out.lines().map(|l| &l[11..]).collect();
        assert_eq!(
            got,
            [
                "build: started",
                r"build: Step 2/9 : RUN echo \x1b[2J\nscore: 100/100",
                "build: image built (0.0 s)",
            ],
            "{out}"
        );
        assert!(
            out.lines()
                .all(|l| l.starts_with('[') && l[..11].ends_with("s] "))
        );
    }

    #[test]
    fn a_long_step_is_clipped_to_one_line() {
        let lines = Lines::new(Vec::new());
        lines.step(&"x".repeat(500));
        let out = String::from_utf8(lines.into_inner()).expect("utf-8");
        assert_eq!(out.lines().count(), 1);
        assert!(out.len() < 120, "{out}");
    }
}
