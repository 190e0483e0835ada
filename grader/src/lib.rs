//! The course's grader: builds a lab submission into a container image, runs it
//! in a sandbox, checks it from the outside and scores it.
//!
//! The flow of one grade is in [`run`]; the lab's rubric in [`spec`]; the Docker
//! side (build, sandbox, probe, sweep) in [`docker`]; the checks in [`checks`];
//! the command-line, file and repository checks, which run apart from the
//! service, in [`apart`]; the result model in [`result`] and its writers in
//! [`report`].

pub mod apart;
pub mod checks;
pub mod context;
pub mod docker;
pub mod report;
pub mod result;
pub mod run;
pub mod spec;
pub mod wine;

pub use result::{Audience, Report};
pub use run::{GradeError, GradeRequest, grade};
