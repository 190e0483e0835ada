//! The scheduler's side of progress: which phase is open, and its summary
//! from the scorecard when it closes.

use super::scorecard::Scorecard;
use crate::progress::Progress;
use crate::result::ContainerVerdict;
use crate::spec::{CheckSpec, Phase};

pub struct Watch<'a> {
    progress: &'a dyn Progress,
    open: Option<Phase>,
}

impl<'a> Watch<'a> {
    pub fn new(progress: &'a dyn Progress) -> Self {
        Watch {
            progress,
            open: None,
        }
    }

    /// Closes the open phase and opens `phase`.
    pub fn enter(&mut self, phase: Phase, card: &Scorecard, checks: &[&CheckSpec]) {
        self.close(card, checks);
        self.progress.begin(phase);
        self.open = Some(phase);
    }

    /// What the open phase is doing now.
    pub fn step(&self, text: &str) {
        self.progress.step(text);
    }

    /// Closes the open phase, if any, with its summary.
    pub fn close(&mut self, card: &Scorecard, checks: &[&CheckSpec]) {
        let Some(phase) = self.open.take() else {
            return;
        };
        let counted = card.summary(checks, phase);
        let container = &card.report.container;
        let head = match phase {
            Phase::Build if container.verdict == ContainerVerdict::BuildFailed => {
                "the image did not build"
            }
            Phase::Build if container.cached_image => "image from the cache",
            Phase::Build => "image built",
            _ if counted.is_empty() => "done",
            _ => "",
        };
        let summary = match (head.is_empty(), counted.is_empty()) {
            (true, _) => counted,
            (false, true) => head.to_string(),
            (false, false) => format!("{head}; {counted}"),
        };
        self.progress.end(phase, &summary);
    }
}
