//! The tool's errors, and the exit code each deserves.
//!
//! Every message is one line that names the problem and where it is: the
//! file and line, the flag, the variable, the HTTP status. Causes are written
//! into the message itself, so that what a user sees is exactly one line.

use std::path::PathBuf;

use crate::client::CallError;
use crate::ledger::UnknownModel;

/// Every way a command can fail. [`crate::cli`] prints it on one line and
/// exits with [`AppError::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file the user wrote that cannot be used as it is: the
    /// configuration, a prompt template, the evaluation set.
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    /// The environment is not set up for the command (no API key, an
    /// endpoint this build cannot reach).
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Price(#[from] UnknownModel),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Training or saving the model (its messages name the step and file).
    #[error("{0}")]
    Model(#[from] crate::model::ModelError),
}

impl AppError {
    /// 2 when the user can fix it (a flag, a file, the environment), 1 when
    /// the endpoint, the network or the machine failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Read { .. }
            | AppError::Input { .. }
            | AppError::Setup(_)
            | AppError::Price(_) => 2,
            AppError::Call(_) | AppError::Write { .. } | AppError::Model(_) => 1,
        }
    }

    /// A problem with the file at `path`.
    pub fn input(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        AppError::Input {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AppError::Read {
            path: path.into(),
            source,
        }
    }

    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AppError::Write {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_are_2_and_failures_are_1() {
        let read = AppError::read(
            "harness.toml",
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file"),
        );
        assert_eq!(read.exit_code(), 2);
        assert_eq!(read.to_string(), "cannot read harness.toml: No such file");
        assert_eq!(AppError::input("x", "bad").exit_code(), 2);
        assert_eq!(AppError::Setup("no key".into()).exit_code(), 2);
        assert_eq!(
            AppError::Price(UnknownModel("m".into())).exit_code(),
            2,
            "an unpriced model is a configuration mistake"
        );
        let call = AppError::Call(CallError::Status {
            status: 500,
            message: "boom".into(),
        });
        assert_eq!(call.exit_code(), 1);
        assert_eq!(
            AppError::write("out", std::io::Error::other("disk full")).exit_code(),
            1
        );
    }
}
