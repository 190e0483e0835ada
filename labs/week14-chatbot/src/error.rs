//! Why the service cannot start. Each is logged as one line naming the
//! problem (and the path, for the notes) and ends the process with status 1.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("the notes folder {} cannot be read: {reason}", path.display())]
    NotesUnreadable { path: PathBuf, reason: String },
    #[error("the notes folder {} holds no markdown note (*.md)", path.display())]
    NotesEmpty { path: PathBuf },
    #[error("the note {} is not UTF-8 text", path.display())]
    NoteNotUtf8 { path: PathBuf },
    #[error("the note {} has a file name that is not UTF-8", path.display())]
    NoteBadName { path: PathBuf },
    #[error("cannot listen on port {port}: {reason}")]
    Listen { port: u16, reason: String },
    #[error("the server stopped with an error: {0}")]
    Serve(String),
}

impl AppError {
    pub(crate) fn unreadable(path: &Path, err: &std::io::Error) -> Self {
        AppError::NotesUnreadable {
            path: path.to_owned(),
            reason: crate::one_line(&err.to_string()),
        }
    }
}
