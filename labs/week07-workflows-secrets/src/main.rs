//! `wine-config`: the command line over the library. `show` loads and checks
//! the settings, then prints them with the secrets redacted. Exit codes: 0 on
//! success, 1 when the settings cannot be loaded, 2 for a usage error
//! (clap's). Every failure is one line on stderr, `wine-config: <what went
//! wrong>`, and nothing on stdout.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wine_config::Settings;

#[derive(Parser)]
#[command(
    name = "wine-config",
    version,
    about = "Load and check the wine-quality service's settings (decrypted by SOPS)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load and check the settings, then print them with the secrets redacted.
    Show {
        /// The decrypted settings file (YAML): the `{}` of
        /// `sops exec-file secrets/service.yaml 'wine-config show --settings {}'`.
        #[arg(long, env = "SETTINGS_FILE", value_name = "FILE")]
        settings: PathBuf,
    },
}

fn main() -> ExitCode {
    // Usage errors exit 2 here, --help and --version 0 (clap's behaviour).
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Nothing more can be reported if stderr itself is gone.
            let _ = writeln!(io::stderr(), "wine-config: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Show { settings } => {
            let settings = Settings::load(&settings).map_err(|err| err.to_string())?;
            // writeln!, not println!: a closed stdout is an error to report,
            // where println! would panic.
            let mut stdout = io::stdout().lock();
            writeln!(stdout, "{settings}")
                .and_then(|()| stdout.flush())
                .map_err(|err| format!("cannot write to standard output: {err}"))
        }
    }
}
