//! The markers that turn a solution file into its starter (see `README.md`).
//!
//! Rust (`//`) and `#` files mark a block with comment lines that keep the
//! code's indentation; the starter's own lines are comments too, so the
//! solution never compiles them:
//!
//! ```text
//!     // lab:solution
//!     let limit = 1024 * 1024;
//!     // lab:starter
//!     // let limit = todo!("TODO(week 4)");
//!     // lab:end
//! ```
//!
//! Markdown hides the starter's lines in one HTML comment:
//!
//! ```text
//! <!-- lab:solution -->
//! The solution's prose.
//! <!-- lab:starter
//! The starter's prose, verbatim.
//! lab:end -->
//! ```
//!
//! Either part may be left out: `lab:solution` ... `lab:end` drops lines from
//! the starter, `lab:starter` ... `lab:end` adds lines to it.

use anyhow::{Result, bail};

/// How a file writes comments, chosen from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Every marker and starter line is a line comment with this prefix.
    Line(&'static str),
    /// Markdown: `<!-- lab:... -->` markers, the starter's lines in one comment.
    Html,
}

impl Style {
    /// The style for a file, or `None` for a file copied byte for byte
    /// (Cargo.lock, data, anything not UTF-8).
    pub fn for_path(path: &str) -> Option<Style> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let ext = name.rsplit_once('.').map(|(_, e)| e);
        match ext {
            Some("rs") => Some(Style::Line("//")),
            Some("md") => Some(Style::Html),
            Some("lock" | "csv" | "json" | "png") => None,
            // TOML, YAML, shell, Dockerfile, ignore files, dotfiles.
            _ => Some(Style::Line("#")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Solution,
    Starter,
    End,
    /// Markdown's `lab:end -->`, which closes the starter's comment.
    EndComment,
}

/// Where the parser is between markers.
enum State {
    /// Outside any block: the line is in both the solution and the starter.
    Both,
    /// Solution-only lines, since the marker on line `opened`.
    Solution { opened: usize },
    /// Starter lines, since the marker on line `opened`, indented by `indent`.
    Starter { opened: usize, indent: String },
}

/// The starter's text of a solution file; `file` names it in errors.
pub fn starter_text(file: &str, text: &str, style: Style) -> Result<String> {
    split(file, text, style).map(|(_, starter)| starter)
}

/// What the solution compiles: its text without markers and starter lines.
pub fn solution_text(file: &str, text: &str, style: Style) -> Result<String> {
    split(file, text, style).map(|(solution, _)| solution)
}

/// A marked file as (the solution's text, the starter's text).
fn split(file: &str, text: &str, style: Style) -> Result<(String, String)> {
    let mut out = String::with_capacity(text.len());
    let mut solution = String::with_capacity(text.len());
    let mut state = State::Both;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        let (line, newline) = match raw.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (raw, ""),
        };
        let at = |msg: String| anyhow::anyhow!("{file}:{line_no}: {msg}");
        let marker = marker(line, style).map_err(at)?;
        state = match (state, marker) {
            (State::Both, None) => {
                out.push_str(raw);
                solution.push_str(raw);
                State::Both
            }
            (State::Both, Some(Marker::Solution)) => State::Solution { opened: line_no },
            (State::Both | State::Solution { .. }, Some(Marker::Starter)) => {
                let indent = line[..line.len() - line.trim_start().len()].to_owned();
                State::Starter {
                    opened: line_no,
                    indent,
                }
            }
            (State::Both, Some(Marker::End | Marker::EndComment)) => {
                return Err(at("`lab:end` without an open block".into()));
            }
            (state @ State::Solution { .. }, None) => {
                solution.push_str(raw);
                state
            }
            (State::Solution { .. }, Some(Marker::End)) => State::Both,
            (State::Starter { opened, indent }, None) => {
                out.push_str(&starter_line(line, &indent, style).map_err(|msg| {
                    at(format!(
                        "{msg} (in the starter block opened at line {opened})"
                    ))
                })?);
                out.push_str(newline);
                State::Starter { opened, indent }
            }
            (State::Starter { .. }, Some(Marker::End)) if style == Style::Html => {
                return Err(at(
                    "close a Markdown starter block with `lab:end -->`".into()
                ));
            }
            (State::Starter { .. }, Some(Marker::End | Marker::EndComment)) => State::Both,
            (State::Solution { .. }, Some(Marker::EndComment)) => {
                return Err(at(
                    "`lab:end -->` closes a starter block; this one is closed by `<!-- lab:end -->`"
                        .into(),
                ));
            }
            (State::Solution { opened } | State::Starter { opened, .. }, Some(m)) => {
                let name = match m {
                    Marker::Solution => "lab:solution",
                    Marker::Starter => "lab:starter",
                    Marker::End | Marker::EndComment => "lab:end",
                };
                return Err(at(format!(
                    "`{name}` inside the block opened at line {opened}: blocks do not nest"
                )));
            }
        };
    }
    match state {
        State::Both => Ok((solution, out)),
        State::Solution { opened } | State::Starter { opened, .. } => {
            bail!("{file}:{opened}: block not closed: no `lab:end` after it")
        }
    }
}

/// Whether `text` has any marker (a file with markers cannot be shared as is).
pub fn has_markers(text: &str, style: Style) -> bool {
    text.lines().any(|l| !matches!(marker(l, style), Ok(None)))
}

/// The marker on `line`, if it is one; an error for an unknown `lab:` word.
fn marker(line: &str, style: Style) -> Result<Option<Marker>, String> {
    let trimmed = line.trim();
    let word = match style {
        Style::Line(prefix) => match trimmed
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(" lab:"))
        {
            Some(word) => word,
            None => return Ok(None),
        },
        Style::Html => {
            if let Some(rest) = trimmed.strip_prefix("<!-- lab:") {
                match rest.strip_suffix(" -->") {
                    Some("solution") => return Ok(Some(Marker::Solution)),
                    Some("end") => return Ok(Some(Marker::End)),
                    Some(other) => other,
                    // `<!-- lab:starter` opens the comment holding the starter's lines.
                    None if rest == "starter" => return Ok(Some(Marker::Starter)),
                    None => rest,
                }
            } else if trimmed == "lab:end -->" {
                return Ok(Some(Marker::EndComment));
            } else {
                return Ok(None);
            }
        }
    };
    match (style, word) {
        (Style::Line(_), "solution") => Ok(Some(Marker::Solution)),
        (Style::Line(_), "starter") => Ok(Some(Marker::Starter)),
        (Style::Line(_), "end") => Ok(Some(Marker::End)),
        (Style::Html, "starter") => Err(
            "write `<!-- lab:starter` alone on its line: the starter's lines follow inside the comment, up to `lab:end -->`".into(),
        ),
        _ => Err(format!(
            "unknown marker `lab:{word}` (the markers are lab:solution, lab:starter and lab:end)"
        )),
    }
}

/// One line of a starter block as the starter has it.
fn starter_line(line: &str, indent: &str, style: Style) -> Result<String, String> {
    let Style::Line(prefix) = style else {
        // Markdown: verbatim, but it must not end the comment early.
        if line.contains("-->") {
            return Err("a starter line inside `<!-- lab:starter` cannot hold `-->`".into());
        }
        return Ok(line.to_owned());
    };
    if line.trim().is_empty() {
        return Ok(String::new());
    }
    // `<indent>// text` is `<indent>text`; a bare `<indent>//` is an empty line.
    let rest = line
        .strip_prefix(indent)
        .and_then(|l| l.strip_prefix(prefix))
        .ok_or_else(|| {
            format!(
                "a starter line must start with the marker's indentation and `{prefix} ` (found `{}`)",
                line.trim()
            )
        })?;
    match rest.strip_prefix(' ') {
        Some(text) => Ok(format!("{indent}{text}")),
        None if rest.is_empty() => Ok(String::new()),
        None => Err(format!(
            "a starter line must start with `{prefix} ` (found `{}`)",
            line.trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUST: Style = Style::Line("//");
    const HASH: Style = Style::Line("#");

    fn err(text: &str, style: Style) -> String {
        format!(
            "{:#}",
            starter_text("f.rs", text, style).expect_err("an error")
        )
    }

    #[test]
    fn rust_blocks_keep_the_codes_indentation() {
        let text = "fn f() {\n    // lab:solution\n    let x = 1;\n    // lab:starter\n    \
                    // let x = todo!();\n    //\n    //     // nested comment\n    // lab:end\n    x\n}\n";
        assert_eq!(
            starter_text("f.rs", text, RUST).expect("parsed"),
            "fn f() {\n    let x = todo!();\n\n        // nested comment\n    x\n}\n"
        );
    }

    #[test]
    fn either_part_may_be_empty() {
        let text = "a\n# lab:solution\nonly solution\n# lab:end\nb\n# lab:starter\n# only starter\n# lab:end\nc";
        assert_eq!(
            starter_text("f.toml", text, HASH).expect("parsed"),
            "a\nb\nonly starter\nc"
        );
    }

    #[test]
    fn markdown_hides_the_starter_in_one_comment() {
        let text = "# T\n<!-- lab:solution -->\nSolution.\n<!-- lab:starter\nStarter, `verbatim`.\n\nlab:end -->\nEnd.\n\
                    <!-- lab:solution -->\ngone\n<!-- lab:end -->\n";
        assert_eq!(
            starter_text("f.md", text, Style::Html).expect("parsed"),
            "# T\nStarter, `verbatim`.\n\nEnd.\n"
        );
    }

    #[test]
    fn text_without_markers_is_unchanged_and_lookalikes_are_not_markers() {
        let text = "description = \"Week 2 lab: the tool\"\n// lab:starter is written so\n";
        assert_eq!(starter_text("f.toml", text, HASH).expect("parsed"), text);
        assert!(!has_markers(text, HASH));
        assert!(has_markers("  # lab:end\n", HASH));
    }

    #[test]
    fn nesting_is_refused() {
        let text = "// lab:solution\n// lab:solution\n// lab:end\n";
        assert_eq!(
            err(text, RUST),
            "f.rs:2: `lab:solution` inside the block opened at line 1: blocks do not nest"
        );
        let text = "// lab:starter\n// x\n// lab:starter\n// lab:end\n";
        assert_eq!(
            err(text, RUST),
            "f.rs:3: `lab:starter` inside the block opened at line 1: blocks do not nest"
        );
    }

    #[test]
    fn an_unclosed_block_names_its_line() {
        assert_eq!(
            err("a\n    // lab:solution\nb\n", RUST),
            "f.rs:2: block not closed: no `lab:end` after it"
        );
        assert_eq!(
            err("<!-- lab:starter\ntext\n", Style::Html),
            "f.rs:1: block not closed: no `lab:end` after it"
        );
    }

    #[test]
    fn unknown_markers_and_stray_ends_are_refused() {
        assert_eq!(
            err("x\n// lab:soluton\n", RUST),
            "f.rs:2: unknown marker `lab:soluton` (the markers are lab:solution, lab:starter and lab:end)"
        );
        assert_eq!(
            err("<!-- lab:todo -->\n", Style::Html),
            "f.rs:1: unknown marker `lab:todo` (the markers are lab:solution, lab:starter and lab:end)"
        );
        assert_eq!(
            err("# lab:end\n", HASH),
            "f.rs:1: `lab:end` without an open block"
        );
    }

    #[test]
    fn starter_lines_must_be_comments() {
        assert_eq!(
            err("  # lab:starter\n  code\n  # lab:end\n", HASH),
            "f.rs:2: a starter line must start with the marker's indentation and `# ` \
             (found `code`) (in the starter block opened at line 1)"
        );
        assert_eq!(
            err("<!-- lab:starter\na --> b\nlab:end -->\n", Style::Html),
            "f.rs:2: a starter line inside `<!-- lab:starter` cannot hold `-->` \
             (in the starter block opened at line 1)"
        );
    }
}
