//! `wine-gitops reconcile --desired deploy --live live.toml` prints the plan.
//! Bad input (a missing or malformed file) exits with code 2 and one line on
//! stderr, never a panic.

use std::process::ExitCode;

use clap::Parser;
use wine_gitops::cli::{Cli, Command, reconcile};

fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    match command {
        Command::Reconcile(args) => match reconcile(&args) {
            Ok(plan) => {
                print!("{plan}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                // lab:solution
                eprintln!("error: {err}");
                ExitCode::from(2)
                // lab:starter
                // // TODO(week 3): bad input is the user's to fix: print one line,
                // // `error: <what went wrong>`, and exit with code 2.
                // eprintln!("{err:?}");
                // ExitCode::FAILURE
                // lab:end
            }
        },
    }
}
