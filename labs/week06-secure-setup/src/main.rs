//! `agebox`: the command line over the library. Exit codes: 0 on success, 1
//! when sealing or unsealing fails, 2 for a usage error (clap's, no
//! recipient, a malformed recipient). Every failure is one line on stderr,
//! `agebox: <what went wrong>`, and nothing on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use agebox::{Error, KeyRing};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "agebox",
    version,
    about = "Seal and unseal secrets with age (X25519 keys, ASCII armor)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encrypt INPUT to every recipient, ASCII-armored as `age -a` writes it.
    Seal {
        /// A recipient: an age X25519 public key (age1...). Repeatable.
        #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
        recipients: Vec<String>,
        /// A file of recipients, one per line; blank lines and `#` comments
        /// are skipped. Repeatable.
        #[arg(short = 'R', long = "recipients-file", value_name = "RECIPIENTS_FILE")]
        recipients_files: Vec<PathBuf>,
        /// Where to write the sealed file (atomically); standard output by default.
        #[arg(short, long, value_name = "OUTPUT")]
        output: Option<PathBuf>,
        /// The file to seal; standard input when absent or `-`.
        input: Option<PathBuf>,
    },
    /// Decrypt INPUT, armored or binary; nothing is written unless the whole
    /// file is authentic.
    Unseal {
        /// A key file as age-keygen writes it (AGE-SECRET-KEY-1...). Repeatable.
        #[arg(
            short = 'i',
            long = "identity",
            value_name = "IDENTITY_FILE",
            required = true
        )]
        identities: Vec<PathBuf>,
        /// Where to write the plaintext (atomically); standard output by default.
        #[arg(short, long, value_name = "OUTPUT")]
        output: Option<PathBuf>,
        /// The file to unseal; standard input when absent or `-`.
        input: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // Usage errors exit 2 here, --help and --version 0 (clap's behaviour).
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("agebox: {}", agebox::single_line(&err.to_string()));
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Seal {
            recipients,
            recipients_files,
            output,
            input,
        } => {
            // All recipients are checked before any input is read: a typo
            // fails at once, not after stdin has been consumed.
            let mut parsed = recipients
                .iter()
                .map(|value| agebox::parse_recipient("-r", value))
                .collect::<Result<Vec<_>, _>>()?;
            for path in &recipients_files {
                let text = agebox::read_text(path)?;
                parsed.extend(agebox::parse_recipients_file(
                    &path.display().to_string(),
                    &text,
                )?);
            }
            if parsed.is_empty() {
                return Err(Error::NoRecipients);
            }
            let plaintext = agebox::read_input(input.as_deref())?;
            let sealed = agebox::seal(&plaintext, &parsed)?;
            agebox::write_output(output.as_deref(), &sealed)
        }
        Command::Unseal {
            identities,
            output,
            input,
        } => {
            let mut keys = KeyRing::new();
            for path in &identities {
                let text = agebox::read_text(path)?;
                keys.add_key_file(&path.display().to_string(), &text)?;
            }
            let sealed = agebox::read_input(input.as_deref())?;
            // unseal returns only after authenticating every chunk, so this
            // is the first byte of plaintext that leaves the process.
            let plaintext = agebox::unseal(&sealed, &keys)?;
            agebox::write_output(output.as_deref(), &plaintext)
        }
    }
}
