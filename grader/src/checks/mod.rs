//! The checks: each observes the submission in one way and says passed or why not.
//!
//! A check returns `Err(Problem::Fail)` for what the submission did wrong (shown
//! to the student) and `Err(Problem::Error)` when the grader could not run it.
//! Time limits, ordering and scoring are the scheduler's business
//! (`crate::pipeline`).

pub mod command;
pub mod files;
mod http;
mod image;
mod invoke;
mod json_lines;
mod metrics;
mod openapi;
pub mod repository;
mod rows;
pub mod scores;
pub mod secrets;
pub mod sigterm;
mod snapshot;
pub mod sse;
pub mod startup;

pub use image::{ImageFacts, check as image_check};

use crate::spec::{CheckKind, CheckSpec, Via};

/// What a failed check has to say.
#[derive(Debug)]
pub enum Problem {
    /// The submission's fault: the message tells the student what to fix.
    Fail(String),
    /// The grader could not run the check.
    Error(String),
}

pub type Outcome = Result<(), Problem>;

/// What checks may look at.
pub struct Env<'a> {
    pub http: &'a reqwest::Client,
    /// `http://localhost:PORT`; the client sends every request through the
    /// relay into the submission's namespace, whatever the URL's host.
    pub base: &'a str,
    pub image: &'a ImageFacts,
    pub snapshots: &'a std::collections::BTreeMap<String, String>,
    /// The lab's rows, for requests and checks made of them.
    pub rows: Option<&'a crate::spec::Rows>,
    /// The fakes the grader serves in this grade, if the lab has any.
    pub fakes: Option<&'a crate::fakes::Fakes>,
}

/// Runs one check (not `sigterm`, which the runner handles because it stops the
/// container).
pub async fn run(check: &CheckSpec, env: &Env<'_>) -> Outcome {
    match &check.kind {
        CheckKind::Image(rule) => image::check(rule, env.image),
        CheckKind::Http {
            request,
            also,
            expect,
            cases,
        } => {
            for req in std::iter::once(request).chain(also) {
                http::expect(env, req, expect).await?;
            }
            for case in cases {
                let answer = http::send(env, &case.request).await?;
                let (method, path) = (&case.request.method, &case.request.path);
                let what = match &case.name {
                    Some(name) => format!("{method} {path} with {name}"),
                    None => format!("{method} {path}"),
                };
                http::judge_as(&what, &case.expect, &answer)?;
            }
            Ok(())
        }
        CheckKind::Snapshot {
            request,
            snapshot,
            redact,
        } => snapshot::check(env, request, snapshot, redact).await,
        CheckKind::Batch {
            request,
            answer,
            values,
        } => {
            let answers = rows::Answers {
                via: &Via::Http(request.clone()),
                pointer: answer,
                values,
                limit: check.timeout,
            };
            rows::batch(env, &answers).await
        }
        CheckKind::Accuracy {
            via,
            answer,
            values,
            sample,
            seed,
            batch,
            min_accuracy,
        } => {
            let answers = rows::Answers {
                via,
                pointer: answer,
                values,
                limit: check.timeout,
            };
            let sample = rows::Sample {
                size: *sample,
                seed: *seed,
                batch: *batch,
                min_accuracy: *min_accuracy,
            };
            rows::accuracy(env, &answers, &sample).await
        }
        CheckKind::OpenApi { paths } => openapi::check(env, paths).await,
        CheckKind::Metrics(spec) => metrics::check(env, spec).await,
        CheckKind::Invoke {
            fake,
            event,
            route,
            expect,
        } => invoke::check(env, fake, event, *route, expect.as_ref(), check.timeout).await,
        CheckKind::Sigterm { .. } | CheckKind::Drain { .. } => Err(Problem::Error(
            "sigterm and drain checks are run by the scheduler, at the end".into(),
        )),
        CheckKind::Startup(_) => Err(Problem::Error(
            "startup checks are judged by the scheduler, from what it saw while waiting".into(),
        )),
        CheckKind::Command(_) | CheckKind::File(_) | CheckKind::Repository(_) => Err(
            Problem::Error("command, file and repository checks are run before the service".into()),
        ),
    }
}

/// Why a request got no answer, in a few words (refused, timed out, ...).
pub fn http_error(e: &reqwest::Error) -> String {
    http::describe(e)
}

/// " (a redirect to LOCATION, which the grader does not follow)" for a 3xx
/// answer, so a student sees why a redirect fails a check; empty otherwise.
pub fn redirect_note(status: u16, headers: &reqwest::header::HeaderMap) -> String {
    if !(300..400).contains(&status) {
        return String::new();
    }
    let location = headers
        .get(reqwest::header::LOCATION)
        .map(|v| clip(&String::from_utf8_lossy(v.as_bytes()), 200))
        .unwrap_or_else(|| "nowhere: no Location header".into());
    format!(" (a redirect to {location}, which the grader does not follow)")
}

/// Shortens text for a message: the start of a long body is what helps.
pub fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
