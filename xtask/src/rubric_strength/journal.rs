//! The run's journal, `journal.jsonl` in its output folder: one line per
//! finished trial, written as each finishes, so an interrupted run resumes
//! where it stopped. It holds only for the solution and rubric it was made
//! with (their fingerprint, in `fingerprint`); when either changes it starts
//! over.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::trial::Trial;

pub struct Journal {
    file: Mutex<File>,
    /// The finished trials, by mutant name.
    done: Mutex<HashMap<String, Trial>>,
}

impl Journal {
    /// Opens the journal in `dir`: kept if it was made for `fingerprint`
    /// (and `fresh` is not asked), else emptied.
    pub fn open(dir: &Path, fingerprint: &str, fresh: bool) -> Result<Journal> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("journal.jsonl");
        let print_path = dir.join("fingerprint");
        let same = std::fs::read_to_string(&print_path).is_ok_and(|f| f.trim() == fingerprint);
        let mut done = HashMap::new();
        if same && !fresh {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // A line cut short by an interruption is left out: its mutant runs again.
            let mut kept = String::new();
            for line in text.lines() {
                if let Ok(trial) = serde_json::from_str::<Trial>(line) {
                    kept.push_str(line);
                    kept.push('\n');
                    done.insert(trial.mutant.clone(), trial);
                }
            }
            // Rewritten with whole lines only, so the next one starts on its own.
            std::fs::write(&path, kept).with_context(|| format!("writing {}", path.display()))?;
        } else {
            remove_if_there(&path)?;
            std::fs::write(&print_path, format!("{fingerprint}\n"))
                .with_context(|| format!("writing {}", print_path.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Journal {
            file: Mutex::new(file),
            done: Mutex::new(done),
        })
    }

    /// Appends a finished trial.
    pub fn record(&self, trial: &Trial) -> Result<()> {
        let line = serde_json::to_string(trial)?;
        let mut file = self
            .file
            .lock()
            .map_err(|_| anyhow::anyhow!("the journal's lock is poisoned"))?;
        writeln!(file, "{line}").context("writing the journal")?;
        file.flush().context("writing the journal")?;
        if let Ok(mut done) = self.done.lock() {
            done.insert(trial.mutant.clone(), trial.clone());
        }
        Ok(())
    }

    /// The finished trial of the mutant `name`, from this run or an earlier one.
    pub fn done(&self, name: &str) -> Option<Trial> {
        self.done.lock().ok()?.get(name).cloned()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.done.lock().map_or(0, |d| d.len())
    }
}

fn remove_if_there(path: &PathBuf) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// A fingerprint of the files under each of `dirs` (paths and contents),
/// leaving out files named in `skip`.
pub fn fingerprint(dirs: &[&Path], skip: &[&str]) -> Result<String> {
    let mut hash = Sha256::new();
    for dir in dirs {
        let mut files = Vec::new();
        crate::workspace::walk(dir, dir, &mut files)?;
        files.sort();
        for rel in files.iter().filter(|r| !skip.contains(&r.as_str())) {
            let bytes = std::fs::read(dir.join(rel)).with_context(|| format!("reading {rel}"))?;
            hash.update(rel.as_bytes());
            hash.update([0]);
            hash.update(Sha256::digest(&bytes));
        }
        hash.update([1]);
    }
    Ok(hex::encode(hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rubric_strength::trial::Outcome;

    fn trial(name: &str) -> Trial {
        Trial {
            mutant: name.into(),
            outcome: Outcome::Caught,
            lost: vec!["a".into()],
            score: None,
            error: None,
            seconds: 1.0,
        }
    }

    #[test]
    fn a_journal_resumes_for_the_same_fingerprint_and_starts_over_for_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(dir.path(), "one", false).expect("open");
        j.record(&trial("m1")).expect("record");
        j.record(&trial("m2")).expect("record");
        drop(j);
        // An interrupted write leaves half a line.
        let path = dir.path().join("journal.jsonl");
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"mutant\":\"m3\",\"outc");
        std::fs::write(&path, text).expect("write");
        let again = Journal::open(dir.path(), "one", false).expect("open");
        assert_eq!(again.len(), 2);
        assert!(again.done("m1").is_some() && again.done("m3").is_none());
        again.record(&trial("m3")).expect("record");
        drop(again);
        assert_eq!(
            Journal::open(dir.path(), "one", false).expect("open").len(),
            3
        );
        assert_eq!(
            Journal::open(dir.path(), "one", true).expect("open").len(),
            0
        );
        assert_eq!(
            Journal::open(dir.path(), "two", false).expect("open").len(),
            0
        );
    }
}
