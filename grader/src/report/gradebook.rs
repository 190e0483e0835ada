//! The class's gradebook: a CSV with one row per student and one column per
//! check (the points earned), after the totals. Spreadsheets and the
//! platforms' grade imports read it.

use crate::result::ClassEntry;

/// The gradebook of a class, in the roster's order.
pub fn gradebook(entries: &[ClassEntry]) -> String {
    // Every check any report holds, in the order the first report lists it
    // (one lab: the same order for all).
    let mut checks: Vec<(String, u32)> = Vec::new();
    for report in entries.iter().filter_map(|e| e.report.as_ref()) {
        for c in &report.checks {
            if !checks.iter().any(|(id, _)| *id == c.id) {
                checks.push((c.id.clone(), c.points));
            }
        }
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["student", "score", "max", "container", "error"]
        .map(String::from)
        .to_vec();
    header.extend(
        checks
            .iter()
            .map(|(id, points)| cell(&format!("{id} ({points})"))),
    );
    header.extend(["started_at", "submission_sha256"].map(String::from));
    let _ = out.write_record(&header);
    for entry in entries {
        let mut row = vec![cell(&entry.student)];
        match &entry.report {
            Some(r) => {
                row.push(r.score.earned.to_string());
                row.push(r.score.max.to_string());
                row.push(super::container_word(r.container.verdict).to_string());
                row.push(String::new());
                for (id, _) in &checks {
                    let earned = r.checks.iter().find(|c| c.id == *id).map(|c| c.earned);
                    row.push(earned.map(|e| e.to_string()).unwrap_or_default());
                }
                row.push(r.started_at.clone());
                row.push(r.submission.context_sha256.clone().unwrap_or_default());
            }
            None => {
                row.extend([String::new(), String::new(), "not graded".into()]);
                row.push(cell(entry.error.as_deref().unwrap_or("not graded yet")));
                row.extend(checks.iter().map(|_| String::new()));
                row.extend([String::new(), String::new()]);
            }
        }
        let _ = out.write_record(&row);
    }
    let bytes = out.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A text cell a spreadsheet will not run: one line, control characters
/// escaped, and a leading `=`, `+`, `-`, `@` or tab (which would start a
/// formula in Excel, LibreOffice or Google Sheets) behind a quote.
fn cell(text: &str) -> String {
    let line = super::safe::terminal_line(text);
    if line.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{line}")
    } else {
        line
    }
}
