//! The program's errors: one enum for the whole program, and the exit code
//! each deserves.
//!
//! Every message is one line that names the problem and where it is: the
//! file, the line, the flag. Causes are written into the message itself
//! rather than chained, so that what a user sees is exactly one line.

use std::path::PathBuf;

/// Why a split or a fit failed (`split.rs` is week 2's, and names these
/// variants).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("test_fraction must be strictly between 0 and 1, got {0}")]
    TestFraction(f64),
    #[error("the split left {train} training and {test} validation rows; both must be non-empty")]
    EmptySplit { train: usize, test: usize },
    #[error("the tree could not be fitted: {0}")]
    Fit(#[from] crate::tree::TreeError),
}

/// Why a whole input file was refused (a row-level problem is never an
/// error: the row is quarantined, or counted, and the run goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty: the header is wrong, expected `{expected}`")]
    Empty { expected: &'static str },
    #[error(
        "line 1: the header is wrong: column {column} is `{found}`, expected `{wanted}` (the header is `{expected}`)"
    )]
    Header {
        expected: &'static str,
        /// The first column that differs, from 1.
        column: usize,
        wanted: String,
        found: String,
    },
}

impl FileError {
    /// The header `found` is not `expected`: names the first column that
    /// differs (`end of line` where one header is shorter).
    pub fn header(expected: &'static str, found: &str) -> Self {
        let mut want = expected.split(',');
        let mut got = found.split(',').map(str::trim);
        let mut column = 1;
        loop {
            match (want.next(), got.next()) {
                (Some(w), Some(g)) if w == g => column += 1,
                (w, g) => {
                    let clip = |s: Option<&str>| {
                        s.map_or_else(
                            || "end of line".to_owned(),
                            |s| s.chars().take(40).collect(),
                        )
                    };
                    return FileError::Header {
                        expected,
                        column,
                        wanted: clip(w),
                        found: clip(g),
                    };
                }
            }
        }
    }
}

/// Every way the program can fail. `main` prints it on one line and exits
/// with [`AppError::exit_code`]; nothing else in the program exits.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A flag with a value the command cannot use (`--depths 0`).
    #[error("{flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    File { path: PathBuf, source: FileError },
    /// An input that validates but cannot be used: too few rows to split, or
    /// none at all.
    #[error("{path}: {reason}")]
    Unusable { path: PathBuf, reason: String },
    #[error("{path} is not a model file of this tool: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Train(#[from] TrainError),
    /// `validate --max-quarantined`: the files are written, but the batch is
    /// suspect.
    #[error(
        "{quarantined} of {rows} rows were quarantined ({percent:.1} %), more than --max-quarantined {limit} % allows; the files are written to {out}"
    )]
    TooMuchQuarantined {
        quarantined: usize,
        rows: usize,
        percent: f64,
        limit: f64,
        out: PathBuf,
    },
}

impl AppError {
    /// 2 when the caller can fix it (a flag, an input file, the model
    /// file), 1 when the fault is the program's or the machine's.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Flag { .. }
            | AppError::Read { .. }
            | AppError::File { .. }
            | AppError::Unusable { .. }
            | AppError::Model { .. } => 2,
            AppError::Write { .. } | AppError::Train(_) | AppError::TooMuchQuarantined { .. } => 1,
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
        let header = AppError::File {
            path: "x.csv".into(),
            source: FileError::header("a,b", "a"),
        };
        assert_eq!(header.exit_code(), 2);
        assert_eq!(
            header.to_string(),
            "x.csv: line 1: the header is wrong: column 2 is `end of line`, expected `b` (the header is `a,b`)"
        );
        let write = AppError::Write {
            path: "out".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(write.exit_code(), 1);
        assert_eq!(
            AppError::Train(TrainError::TestFraction(2.0)).exit_code(),
            1
        );
    }
}
