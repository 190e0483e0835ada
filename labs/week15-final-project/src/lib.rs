//! The final project: the wine-quality model as one system, from the raw
//! data to a monitored service on Kubernetes. One program, `wine-service`,
//! is both the DVC pipeline's stages and the service the image runs, so the
//! model the pipeline trains is the very file the service serves.
//!
//! - [`pipeline`]: `prepare`, `train`, `evaluate`, `predict` (week 10's
//!   stages), writing week 8's model artifact and week 11's drift reference.
//! - [`service`]: week 8's API behind week 9's probes and drain, measured by
//!   week 11's metrics, on a model pinned by week 4's SHA-256.
//! - [`cli`]: the command line of both.
//!
//! The rest are earlier weeks' files, unchanged (shared copies):
//! [`api`], [`schema`] (week 8), [`model`], [`pin`] (week 4), [`tree`]
//! (week 1), [`lifecycle`] (week 9), [`metrics`], [`drift`] (week 11),
//! [`data`], [`params`], [`error`] (week 10) and [`split`] (week 2).

pub mod api;
pub mod cli;
pub mod data;
pub mod drift;
pub mod error;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod params;
pub mod pin;
pub mod pipeline;
pub mod schema;
pub mod service;
pub mod split;
pub mod tree;

pub use error::AppError;
pub use model::{Model, ModelArtifact};
pub use service::Error;
