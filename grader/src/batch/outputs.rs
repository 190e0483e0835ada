//! What a batch leaves in its output folder, each file written whole or not
//! at all (a temporary file beside it, flushed, then renamed over it):
//!
//! - `reports/<student>.json` and `.md`: each graded student's report;
//! - `class.json`: every student's entry (report or error), in roster order;
//! - `gradebook.csv`: a row per student, a column per check;
//! - `class.html`: the class report, one page with no outside asset.

use super::journal::Record;
use crate::report;
use crate::result::ClassEntry;
use crate::spec::LabSpec;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes the class's outputs into `out`, and gives back the files written.
pub fn write(out: &Path, lab: &LabSpec, entries: &[ClassEntry]) -> Result<Vec<PathBuf>, String> {
    let mut written = write_reports(out, entries)?;
    let class = serde_json::to_string_pretty(entries)
        .map_err(|e| format!("cannot write class.json: {e}"))?;
    written.push(atomic(
        &out.join("class.json"),
        &report::safe::json_text(&class),
    )?);
    written.push(atomic(
        &out.join("gradebook.csv"),
        &report::gradebook(entries),
    )?);
    let html = report::class_html(lab, entries, &crate::result::now_rfc3339());
    written.push(atomic(&out.join("class.html"), &html)?);
    Ok(written)
}

/// Writes each graded student's reports into `out/reports/`.
pub fn write_reports(out: &Path, entries: &[ClassEntry]) -> Result<Vec<PathBuf>, String> {
    let reports = out.join("reports");
    std::fs::create_dir_all(&reports)
        .map_err(|e| format!("cannot make {}: {e}", reports.display()))?;
    let mut written = Vec::new();
    for entry in entries {
        if let Some(r) = &entry.report {
            // Student ids are checked by the roster: safe as file names.
            let file = |ext: &str| reports.join(format!("{}.{ext}", entry.student));
            written.push(atomic(&file("json"), &report::json(r))?);
            written.push(atomic(&file("md"), &report::markdown(r))?);
        }
    }
    Ok(written)
}

/// Writes the journals' records as one journal: for each key, its latest
/// record, in the order they finished.
pub fn write_journal(path: &Path, records: &[Record]) -> Result<PathBuf, String> {
    let mut latest: Vec<&Record> = Vec::new();
    for record in records {
        match latest.iter_mut().find(|r| r.key == record.key) {
            Some(kept) if kept.finished_at <= record.finished_at => *kept = record,
            Some(_) => {}
            None => latest.push(record),
        }
    }
    latest.sort_by(|a, b| a.finished_at.cmp(&b.finished_at));
    let mut text = String::new();
    for record in latest {
        let line =
            serde_json::to_string(record).map_err(|e| format!("cannot write the journal: {e}"))?;
        text.push_str(&line);
        text.push('\n');
    }
    atomic(path, &text)
}

/// Writes `text` to `path` through a temporary file in the same folder.
pub fn atomic(path: &Path, text: &str) -> Result<PathBuf, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(path.to_path_buf())
}
