//! Startup checks: what the service said between its port opening and its
//! readiness path answering 200.
//!
//! An orchestrator asks two questions of a starting container. Is it alive
//! (or should it be restarted)? Is it ready (may it have traffic)? A service
//! that loads a model should answer "alive, not ready" while it loads: its
//! port open, the readiness path answering 503. The grader watches this while
//! it waits for the service to be ready (`pipeline::ready`), and records each
//! answer in a [`Trace`]; these checks judge the trace afterwards.

use super::{Outcome, Problem};
use crate::spec::StartupRule;
use std::time::Duration;

/// The answers seen while waiting for readiness, in order, once something
/// listened where the outside can reach it.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The readiness path asked.
    pub ready_path: String,
    pub polls: Vec<Poll>,
}

/// One round of questions.
#[derive(Debug, Clone)]
pub struct Poll {
    /// Since the first answer the service gave.
    pub at: Duration,
    /// The readiness path's status, or why there was none.
    pub ready: Result<u16, String>,
    /// The other paths watched (liveness), with their statuses, asked right
    /// after the readiness path.
    pub others: Vec<(String, Result<u16, String>)>,
}

impl Trace {
    /// The polls before the readiness path first answered 200.
    fn before_ready(&self) -> &[Poll] {
        let end = self
            .polls
            .iter()
            .position(|p| p.ready == Ok(200))
            .unwrap_or(self.polls.len());
        &self.polls[..end]
    }
}

/// Judges a startup rule against what was seen.
pub fn judge(rule: &StartupRule, trace: &Trace) -> Outcome {
    match rule {
        StartupRule::NotReadyWhileLoading { status, min_secs } => {
            not_ready_while_loading(trace, *status, Duration::from_secs(*min_secs))
        }
        StartupRule::AliveWhileLoading { path } => alive_while_loading(trace, path),
    }
}

fn not_ready_while_loading(trace: &Trace, status: u16, min: Duration) -> Outcome {
    let path = &trace.ready_path;
    let before = trace.before_ready();
    let Some(first) = before.first() else {
        return Err(Problem::Fail(format!(
            "GET {path} answered 200 the first time it was asked, as soon as the port opened: the service never said it was loading. Open the port first, then load the model, answering {status} until it is loaded"
        )));
    };
    if let Some(other) = before.iter().find_map(|p| match &p.ready {
        Ok(s) if *s != status => Some(format!("answered {s}")),
        Err(why) => Some(format!("got no answer ({why})")),
        Ok(_) => None,
    }) {
        return Err(Problem::Fail(format!(
            "while the service was loading, GET {path} {other}; answer {status} until the model is loaded"
        )));
    }
    // Until the first 200, which the next poll saw (or the last not-ready
    // answer, if the trace ends there).
    let until = trace
        .polls
        .get(before.len())
        .map_or_else(|| before[before.len() - 1].at, |p| p.at);
    let span = until.saturating_sub(first.at);
    if span < min {
        return Err(Problem::Fail(format!(
            "GET {path} answered {status} for {:.1} s only, then 200; with the warm-up the lab sets, the service should say it is loading for at least {} s",
            span.as_secs_f64(),
            min.as_secs()
        )));
    }
    Ok(())
}

fn alive_while_loading(trace: &Trace, path: &str) -> Outcome {
    let ready = &trace.ready_path;
    let before = trace.before_ready();
    // A service never seen loading (the startup check says so) is judged
    // by its answer once ready, so that one defect is not charged twice.
    let asked = if before.is_empty() {
        trace
            .polls
            .first()
            .map(std::slice::from_ref)
            .unwrap_or_default()
    } else {
        before
    };
    for poll in asked {
        for (asked, answer) in &poll.others {
            if asked != path {
                continue;
            }
            match answer {
                Ok(200) => {}
                Ok(s) if before.is_empty() => {
                    return Err(Problem::Fail(format!(
                        "GET {path} answered {s}; liveness answers 200 as long as the process runs"
                    )));
                }
                Ok(s) => {
                    return Err(Problem::Fail(format!(
                        "while the model loaded (GET {ready} not yet 200), GET {path} answered {s}: liveness must say yes while loading, or the orchestrator restarts a pod that is only slow to start"
                    )));
                }
                Err(why) => {
                    return Err(Problem::Fail(format!(
                        "while the model loaded, GET {path} got no answer ({why}); answer 200 as long as the process runs"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(ms: u64, ready: u16, live: u16) -> Poll {
        Poll {
            at: Duration::from_millis(ms),
            ready: Ok(ready),
            others: vec![("/live".into(), Ok(live))],
        }
    }

    fn trace(polls: Vec<Poll>) -> Trace {
        Trace {
            ready_path: "/health".into(),
            polls,
        }
    }

    const LOADING: StartupRule = StartupRule::NotReadyWhileLoading {
        status: 503,
        min_secs: 2,
    };

    fn alive() -> StartupRule {
        StartupRule::AliveWhileLoading {
            path: "/live".into(),
        }
    }

    fn fails(o: Outcome) -> String {
        match o {
            Err(Problem::Fail(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn three_seconds_of_loading_then_ready_passes_both() {
        let t = trace(vec![
            poll(0, 503, 200),
            poll(1000, 503, 200),
            poll(2500, 503, 200),
            poll(3000, 200, 200),
        ]);
        assert!(judge(&LOADING, &t).is_ok());
        assert!(judge(&alive(), &t).is_ok());
    }

    #[test]
    fn ready_at_once_fails_readiness_and_liveness_is_judged_once_ready() {
        let t = trace(vec![poll(0, 200, 200)]);
        assert!(fails(judge(&LOADING, &t)).contains("never said it was loading"));
        assert!(judge(&alive(), &t).is_ok());
        let t = trace(vec![poll(0, 200, 404)]);
        assert!(fails(judge(&alive(), &t)).contains("answered 404"));
    }

    #[test]
    fn a_short_loading_fails_with_its_length() {
        let t = trace(vec![poll(0, 503, 200), poll(400, 200, 200)]);
        assert!(fails(judge(&LOADING, &t)).contains("for 0.4 s only"));
    }

    #[test]
    fn another_status_while_loading_is_named() {
        let t = trace(vec![poll(0, 500, 200), poll(3000, 200, 200)]);
        assert!(fails(judge(&LOADING, &t)).contains("answered 500"));
    }

    #[test]
    fn a_liveness_that_waits_for_the_model_fails() {
        let t = trace(vec![
            poll(0, 503, 503),
            poll(3000, 503, 503),
            poll(3200, 200, 200),
        ]);
        assert!(judge(&LOADING, &t).is_ok());
        assert!(fails(judge(&alive(), &t)).contains("answered 503"));
    }

    #[test]
    fn only_answers_before_the_first_200_count() {
        // Readiness that flaps after it was ready is not a loading phase.
        let t = trace(vec![
            poll(0, 503, 200),
            poll(2500, 200, 200),
            poll(2700, 404, 404),
        ]);
        assert!(judge(&LOADING, &t).is_ok());
        assert!(judge(&alive(), &t).is_ok());
    }
}
