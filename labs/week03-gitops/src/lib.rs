//! A GitOps planner for the wine-quality deployments: it reads the desired
//! state (the `deploy/` folder, kept in Git) and the live state (what the
//! platform reports) and prints the plan that makes live equal to desired.
//!
//! - [`state`]: state files, parsed and checked.
//! - [`plan`]: the plan, computed and printed.
//! - [`cli`]: the `reconcile` command and its errors.

pub mod cli;
pub mod plan;
pub mod state;

pub use plan::{Action, FieldChange, Plan, plan};
pub use state::{Deployment, State, StateError, parse_state};
