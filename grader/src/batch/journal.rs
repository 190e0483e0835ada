//! The batch's journal: one JSON line per graded submission, appended and
//! flushed to disk before the next, so that a batch killed at any moment
//! (`kill -9`, a power cut, the engine restarting) loses at most the grades
//! running then. A rerun reads it and skips every submission already graded
//! under the same key; it never grades one twice.
//!
//! A line is keyed by whose grade it is and what decides it ([`key`]): the
//! student, the specification's digest, the grader's version, the
//! submission's content, the build arguments and the audience. Change any of them and the key changes, so a
//! rerun after a specification change regrades the lab's submissions and
//! nothing else, and a student's new commit is graded again.

use crate::result::{Audience, ClassEntry};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub key: String,
    pub finished_at: String,
    #[serde(flatten)]
    pub entry: ClassEntry,
}

/// What a grade depends on, as one hex SHA-256. The student is part of it:
/// two students who hand in the same files get a grade each.
pub fn key(
    student: &str,
    spec_digest: &str,
    submission_sha256: &str,
    build_args: &BTreeMap<String, String>,
    audience: Audience,
) -> String {
    let facts = serde_json::json!({
        "student": student,
        "spec": spec_digest,
        "grader": env!("CARGO_PKG_VERSION"),
        "submission": submission_sha256,
        "build_args": build_args,
        "audience": audience,
    });
    hex::encode(Sha256::digest(facts.to_string()))
}

/// Reads a journal without opening it for writing (a shard's, to merge): a
/// last line cut short is left out, and the file is left as it is.
pub fn read(path: &Path) -> Result<Vec<Record>, String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the journal {shown}: {e}"))?;
    Ok(parse(&text, &shown)?.0)
}

/// The records of a journal's text, and the length of its whole lines.
fn parse(text: &str, shown: &str) -> Result<(Vec<Record>, usize), String> {
    let mut records = Vec::new();
    let mut whole = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            // The write a kill interrupted: it never counted.
            break;
        }
        if !line.trim().is_empty() {
            let record: Record = serde_json::from_str(line)
                .map_err(|e| format!("the journal {shown}: line {} is not a record: {e}", i + 1))?;
            records.push(record);
        }
        whole += line.len();
    }
    Ok((records, whole))
}

/// An open journal: what it held when opened, and the file new lines go to.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    records: Vec<Record>,
}

impl Journal {
    /// Opens (or creates) the journal at `path`. A last line cut short by a
    /// kill is dropped (the file is truncated back to the last whole line); a
    /// damaged line before it is an error, since dropping it would lose a grade.
    pub fn open(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the journal {shown}: {e}"))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| format!("cannot read the journal {shown}: {e}"))?;
        let (records, whole) = parse(&text, &shown.to_string())?;
        if whole < text.len() {
            file.set_len(whole as u64)
                .and_then(|()| file.seek(std::io::SeekFrom::End(0)).map(drop))
                .map_err(|e| format!("cannot repair the journal {shown}: {e}"))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            records,
        })
    }

    /// The file this journal appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records read when the journal was opened, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The latest graded record under `key`, if any.
    pub fn graded(&self) -> HashMap<&str, &Record> {
        self.records
            .iter()
            .filter(|r| r.entry.report.is_some())
            .map(|r| (r.key.as_str(), r))
            .collect()
    }

    /// Appends one record and flushes it to the disk before returning.
    pub fn append(&self, record: &Record) -> Result<(), String> {
        let mut line = serde_json::to_string(record)
            .map_err(|e| format!("cannot write to the journal: {e}"))?;
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| "the journal's lock is poisoned".to_string())?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot write to the journal {}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, student: &str, graded: bool) -> Record {
        Record {
            key: key.into(),
            finished_at: "2026-12-07T18:00:00Z".into(),
            entry: ClassEntry {
                student: student.into(),
                path: format!("subs/{student}"),
                report: graded.then(|| {
                    serde_json::from_str(include_str!("../report/testdata/sample.json"))
                        .expect("report")
                }),
                error: (!graded).then(|| "Docker: engine gone".into()),
                attempts: 1,
            },
        }
    }

    #[test]
    fn records_read_back_and_errors_are_not_graded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let journal = Journal::open(&path).expect("open");
        journal.append(&record("a", "kim", true)).expect("append");
        journal.append(&record("b", "lee", false)).expect("append");
        drop(journal);
        let journal = Journal::open(&path).expect("reopen");
        assert_eq!(journal.records().len(), 2);
        let graded = journal.graded();
        assert!(graded.contains_key("a"));
        assert!(!graded.contains_key("b"), "an error is graded again");
    }

    #[test]
    fn a_line_cut_short_by_a_kill_is_dropped_and_the_file_repaired() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        Journal::open(&path)
            .expect("open")
            .append(&record("a", "kim", true))
            .expect("append");
        let whole = std::fs::read_to_string(&path).expect("read");
        let mut torn = whole.clone();
        torn.push_str(&whole[..whole.len() / 2]);
        std::fs::write(&path, &torn).expect("write");
        let journal = Journal::open(&path).expect("reopen");
        assert_eq!(journal.records().len(), 1);
        journal.append(&record("b", "lee", true)).expect("append");
        drop(journal);
        assert_eq!(Journal::open(&path).expect("again").records().len(), 2);
    }

    #[test]
    fn a_damaged_line_before_the_end_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "{not json}\n{}\n").expect("write");
        let e = Journal::open(&path).err().expect("refused");
        assert!(e.contains("line 1 is not a record"), "{e}");
    }

    #[test]
    fn the_key_changes_with_each_thing_a_grade_depends_on() {
        let args = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let none = BTreeMap::new();
        let teacher = Audience::Instructor;
        let base = key("kim", "spec", "sub", &args, teacher);
        assert_eq!(base, key("kim", "spec", "sub", &args, teacher));
        assert_ne!(base, key("lee", "spec", "sub", &args, teacher));
        assert_ne!(base, key("kim", "spec2", "sub", &args, teacher));
        assert_ne!(base, key("kim", "spec", "sub2", &args, teacher));
        assert_ne!(base, key("kim", "spec", "sub", &none, teacher));
        assert_ne!(base, key("kim", "spec", "sub", &args, Audience::Student));
    }
}
