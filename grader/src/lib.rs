//! The course's grader: builds a lab submission into a container image, runs it
//! in a sandbox, checks it from the outside and scores it.
//!
//! The flow of one grade, phase by phase, is in [`pipeline`]; the lab's rubric
//! in [`spec`]; the Docker side (build, sandbox, probe, relay, sweep) in
//! [`docker`]; what each check observes in [`checks`]; the result model in
//! [`result`] and its writers in [`report`]; what a grade shows while it runs
//! in [`progress`]; a whole class's grades, journalled, in [`batch`].

pub mod batch;
pub mod checks;
pub mod context;
pub mod course_key;
pub mod crates;
pub mod docker;
pub mod fakes;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod result;
pub mod spec;

pub use pipeline::{GradeError, GradeRequest, grade};
pub use result::{Audience, Report};
