//! The command line: `wine-gitops reconcile --desired deploy/ --live live.toml`.
//!
//! Every failure is an [`Error`] whose message is one line naming the file
//! and the problem; `main` prints it and exits with code 2.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::plan::{Plan, plan};
use crate::state::{State, StateError, add_state};

#[derive(Debug, Parser)]
#[command(
    name = "wine-gitops",
    version,
    about = "Plans the changes that make the live deployments match the desired state"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the plan from the live state to the desired state.
    Reconcile(ReconcileArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReconcileArgs {
    /// A desired-state file, or a folder whose `*.toml` files together hold it.
    #[arg(long, default_value = "deploy")]
    pub desired: PathBuf,
    /// The live-state file, as the platform reports it.
    #[arg(long)]
    pub live: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    State { path: String, source: StateError },
}

/// Reads a state file, or every `*.toml` file of a folder in name order.
pub fn read_state(path: &Path) -> Result<State, Error> {
    let read_err = |source| Error::Read {
        path: path.display().to_string(),
        source,
    };
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut state = State::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Read {
            path: file.display().to_string(),
            source,
        })?;
        add_state(&mut state, &text).map_err(|source| Error::State {
            path: file.display().to_string(),
            source,
        })?;
    }
    Ok(state)
}

/// The plan for `reconcile`'s arguments.
pub fn reconcile(args: &ReconcileArgs) -> Result<Plan, Error> {
    let desired = read_state(&args.desired)?;
    let live = read_state(&args.live)?;
    Ok(plan(&desired, &live))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // lab:starter
    // // Fails until deploy/production.toml declares wine-service (TODO(week 3)).
    // lab:end
    fn the_deploy_folder_is_a_valid_desired_state() {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
        let state = read_state(&deploy).expect("deploy/ is valid");
        assert!(state.contains_key("wine-service"), "{state:?}");
    }

    #[test]
    fn a_missing_file_is_one_line_naming_it() {
        let err = read_state(Path::new("no/such.toml")).expect_err("refused");
        let text = err.to_string();
        assert!(text.starts_with("cannot read no/such.toml: "), "{text}");
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
