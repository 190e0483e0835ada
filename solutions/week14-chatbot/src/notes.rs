//! The course's notes: every `*.md` file of one folder, read once at start.
//!
//! A note's id is its file stem (`week05-dotfiles.md` is `week05-dotfiles`),
//! stable across restarts, so that ids in answers, logs and snapshots keep
//! meaning the same note. The notes are sorted by id, which fixes the order
//! of everything built from them.

use std::path::Path;

use crate::AppError;

/// One note: its id and its whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: String,
    pub text: String,
}

/// Reads every `*.md` file directly in `dir`, sorted by id. A missing or
/// unreadable folder, a folder without notes, or a note that is not UTF-8 is
/// an error that names the path: a chatbot without its notes would answer
/// from nothing, so it must not start.
pub fn load(dir: &Path) -> Result<Vec<Note>, AppError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AppError::unreadable(dir, &e))?;
    let mut notes = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| AppError::unreadable(dir, &e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") || !path.is_file() {
            continue;
        }
        let Some(id) = path.file_stem().and_then(|s| s.to_str()) else {
            return Err(AppError::NoteBadName { path });
        };
        // Hidden files are editors' and tools' leftovers, not notes.
        if id.is_empty() || id.starts_with('.') {
            continue;
        }
        let id = id.to_owned();
        let bytes = std::fs::read(&path).map_err(|e| AppError::unreadable(&path, &e))?;
        let text = String::from_utf8(bytes).map_err(|_| AppError::NoteNotUtf8 { path })?;
        notes.push(Note { id, text });
    }
    if notes.is_empty() {
        return Err(AppError::NotesEmpty {
            path: dir.to_owned(),
        });
    }
    notes.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary folder, removed on drop.
    pub(crate) struct TempDir(pub std::path::PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "wine-chatbot-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("a temporary folder");
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_shipped_notes_load_sorted_by_id() {
        let notes = load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/notes"))).expect("notes");
        assert_eq!(notes.len(), 15);
        assert_eq!(notes[0].id, "week01-ml-system-design");
        assert_eq!(notes[14].id, "week15-final-project");
        for note in &notes {
            assert!(
                note.text.starts_with("# "),
                "{} starts with a title",
                note.id
            );
            let words = note.text.split_whitespace().count();
            assert!(
                (120..=220).contains(&words),
                "{} has {words} words",
                note.id
            );
            // The page shows notes' ids and answers built from them: no markup.
            assert!(!note.text.contains('<'), "{} holds no HTML", note.id);
        }
    }

    #[test]
    fn only_markdown_files_are_notes() {
        let dir = TempDir::new("only-md");
        std::fs::write(dir.0.join("b.md"), "# B\nbee").expect("write");
        std::fs::write(dir.0.join("a.md"), "# A\nant").expect("write");
        std::fs::write(dir.0.join("readme.txt"), "not a note").expect("write");
        std::fs::write(dir.0.join(".swap.md"), "a leftover").expect("write");
        std::fs::create_dir(dir.0.join("sub.md")).expect("a folder");
        let notes = load(&dir.0).expect("two notes");
        let ids: Vec<&str> = notes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(notes[0].text, "# A\nant");
    }

    #[test]
    fn a_missing_or_empty_folder_or_a_binary_note_is_refused_by_path() {
        let dir = TempDir::new("refused");
        let missing = dir.0.join("nowhere");
        let err = load(&missing).expect_err("missing");
        assert!(matches!(err, AppError::NotesUnreadable { .. }));
        assert!(err.to_string().contains(&missing.display().to_string()));

        let err = load(&dir.0).expect_err("empty");
        assert!(matches!(err, AppError::NotesEmpty { .. }), "{err}");

        std::fs::write(dir.0.join("bad.md"), [0x23, 0x20, 0xff, 0xfe]).expect("write");
        let err = load(&dir.0).expect_err("not UTF-8");
        assert!(err.to_string().contains("bad.md"), "{err}");
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }
}
