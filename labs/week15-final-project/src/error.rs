//! The program's errors: one type per layer, one enum for the whole program,
//! and the exit code each deserves.
//!
//! Every message is one line that names the problem and where it is: the file,
//! the line, the column or the parameter. Causes are written into the message
//! itself rather than chained, so that what a user (or DVC's log) shows is
//! exactly one line.

use std::path::PathBuf;

pub use crate::data::DataError;
pub use crate::params::ParamsError;

/// Why fitting failed (`split.rs` is week 2's, and names these variants).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("test_fraction must be strictly between 0 and 1, got {0}")]
    TestFraction(f64),
    #[error("the split left {train} training and {test} test rows; both must be non-empty")]
    EmptySplit { train: usize, test: usize },
    #[error("the tree could not be fitted: {0}")]
    Fit(#[from] crate::tree::TreeError),
}

/// Every way the program can fail. `main` prints it on one line and exits
/// with [`AppError::exit_code`]; nothing else in the program exits.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Params(#[from] ParamsError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Data { path: PathBuf, source: DataError },
    #[error("{path} is not a model file of this tool: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Train(#[from] TrainError),
}

impl AppError {
    /// 2 when the caller can fix it (the parameters, an input file, the
    /// model file), 1 when the fault is the program's or the machine's.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Params(_)
            | AppError::Read { .. }
            | AppError::Data { .. }
            | AppError::Model { .. } => 2,
            AppError::Write { .. } | AppError::Train(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_are_2_and_our_own_are_1() {
        let read = AppError::Read {
            path: "in/x.csv".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file"),
        };
        assert_eq!(read.exit_code(), 2);
        assert_eq!(read.to_string(), "cannot read in/x.csv: No such file");
        let write = AppError::Write {
            path: "out".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(write.exit_code(), 1);
        assert_eq!(
            AppError::Train(TrainError::EmptySplit { train: 0, test: 2 }).exit_code(),
            1
        );
    }
}
