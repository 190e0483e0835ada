//! The book's diagrams, drawn for real: every built page with a Mermaid
//! diagram is opened in headless Chromium at 1280 px wide, and a diagram that
//! does not render, shows a syntax error, has text smaller than
//! [`MIN_TEXT_PX`] on screen, or a label or note wider than its box fails.
//! mdBook knows nothing of Mermaid: a broken diagram builds fine and shows
//! an error box, or labels too small to read, only in a browser.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::{cmd, workspace};

/// The checker, injected into a copy of each page.
const CHECKER: &str = include_str!("book_diagrams.js");
/// The window width the book is checked at (a laptop; mdBook's content
/// column is then about 750 px).
const WIDTH: u32 = 1280;
/// The smallest text a diagram may show, in CSS pixels. The body text is
/// 16 px; below 12 a label needs zooming. Half a pixel of slack absorbs
/// font-metric differences between machines.
const MIN_TEXT_PX: f64 = 11.5;

/// What the checker reports for one diagram.
#[derive(Debug, Deserialize)]
struct Diagram {
    index: usize,
    rendered: bool,
    #[serde(default)]
    source: String,
    #[serde(default)]
    syntax_error: bool,
    smallest_px: Option<f64>,
    #[serde(default)]
    overflows: Vec<String>,
}

/// Checks every page of the built book in `build_dir` that has a diagram.
/// Returns how many diagrams were checked.
pub fn check(build_dir: &Path) -> Result<usize> {
    let chromium = chromium()?;
    let copy = tempfile::tempdir().context("creating a folder for a copy of the book")?;
    copy_tree(build_dir, copy.path())?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages_with_diagrams(copy.path())? {
        let name = page
            .strip_prefix(copy.path())
            .unwrap_or(&page)
            .display()
            .to_string();
        let diagrams = render(&chromium, &page)
            .with_context(|| format!("{name}: the diagram check did not run"))?;
        checked += diagrams.len();
        problems.extend(
            diagrams
                .iter()
                .flat_map(diagram_problems)
                .map(|p| format!("{name}: {p}")),
        );
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    if let Some(first) = problems.first() {
        bail!("{} diagram problem(s) in the book: {first}", problems.len());
    }
    Ok(checked)
}

/// The headless browser the book is checked in.
pub fn chromium() -> Result<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(cmd::find_on_path)
        .ok_or_else(|| cmd::missing_tool("chromium"))
}

/// The built pages that hold a diagram; `print.html` repeats them all.
fn pages_with_diagrams(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut pages = Vec::new();
    for entry in files(dir)? {
        let is_page = entry.extension().is_some_and(|e| e == "html")
            && entry.file_name().is_some_and(|n| n != "print.html");
        if is_page && fs::read_to_string(&entry)?.contains("<pre class=\"mermaid\"") {
            pages.push(entry);
        }
    }
    pages.sort();
    Ok(pages)
}

/// Injects the checker into `page`, opens it in Chromium, and reads back its report.
fn render(chromium: &Path, page: &Path) -> Result<Vec<Diagram>> {
    let html = fs::read_to_string(page)?;
    let Some(end) = html.rfind("</body>") else {
        bail!("no </body> in the page");
    };
    let injected = format!("{}<script>{CHECKER}</script>{}", &html[..end], &html[end..]);
    fs::write(page, injected)?;
    let mut command = Command::new(chromium);
    command.args([
        "--headless=new",
        // Root in a container has no user namespaces to sandbox with; the
        // page is the book's own, read from disk.
        "--no-sandbox",
        "--disable-gpu",
        &format!("--window-size={WIDTH},1000"),
        "--virtual-time-budget=20000",
        "--dump-dom",
    ]);
    command.arg(format!("file://{}", page.display()));
    let dom = cmd::output(&mut command)?;
    parse_report(&dom)
}

/// The `<pre id="diagram-report">` the checker appended: one JSON object per line.
fn parse_report(dom: &str) -> Result<Vec<Diagram>> {
    // The last one: the checker's own source is in the page too.
    let start = dom
        .rfind("<pre id=\"diagram-report\">")
        .context("the page gave no diagram report (did Mermaid load?)")?;
    let body = &dom[start + "<pre id=\"diagram-report\">".len()..];
    let body = &body[..body
        .find("</pre>")
        .context("an unfinished diagram report")?];
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let json = l
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            serde_json::from_str(&json).with_context(|| format!("a report line: {l}"))
        })
        .collect()
}

/// What is wrong with one diagram, one line each.
fn diagram_problems(d: &Diagram) -> Vec<String> {
    let n = d.index + 1;
    if !d.rendered {
        return vec![format!("diagram {n} did not render: {}", d.source)];
    }
    let mut problems = Vec::new();
    if d.syntax_error {
        problems.push(format!("diagram {n} shows a Mermaid syntax error"));
    }
    if let Some(px) = d.smallest_px.filter(|px| *px < MIN_TEXT_PX) {
        problems.push(format!(
            "diagram {n}'s smallest text is {px:.1} px at {WIDTH} px wide (at least {MIN_TEXT_PX}): draw it top-down or shorten its labels"
        ));
    }
    for text in &d.overflows {
        problems.push(format!("diagram {n}: \"{text}\" is wider than its box"));
    }
    problems
}

/// Every file under `dir`, as full paths.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut relative = Vec::new();
    workspace::walk(dir, dir, &mut relative)?;
    Ok(relative.into_iter().map(|r| dir.join(r)).collect())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for file in files(from)? {
        let target = to.join(file.strip_prefix(from)?);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(&file, &target).with_context(|| format!("copying {}", file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_with_its_escapes() {
        let dom = "<body><pre id=\"diagram-report\">{&quot;index&quot;:0,&quot;rendered&quot;:true,&quot;syntax_error&quot;:false,&quot;smallest_px&quot;:9.5,&quot;overflows&quot;:[&quot;a &amp; b&quot;]}\n{&quot;index&quot;:1,&quot;rendered&quot;:false,&quot;source&quot;:&quot;flowchart TD&quot;}</pre></body>";
        let diagrams = parse_report(dom).expect("a report");
        assert_eq!(diagrams.len(), 2);
        let problems: Vec<String> = diagrams.iter().flat_map(diagram_problems).collect();
        assert_eq!(
            problems,
            [
                "diagram 1's smallest text is 9.5 px at 1280 px wide (at least 11.5): draw it top-down or shorten its labels",
                "diagram 1: \"a & b\" is wider than its box",
                "diagram 2 did not render: flowchart TD",
            ]
        );
    }

    #[test]
    fn a_page_without_a_report_is_an_error() {
        let err = parse_report("<body></body>").expect_err("no report");
        assert!(err.to_string().contains("no diagram report"), "{err}");
    }

    #[test]
    fn a_readable_diagram_has_no_problems() {
        let d = Diagram {
            index: 0,
            rendered: true,
            source: String::new(),
            syntax_error: false,
            smallest_px: Some(14.0),
            overflows: vec![],
        };
        assert!(diagram_problems(&d).is_empty());
    }
}
