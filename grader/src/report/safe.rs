//! Text that came from a submission, made safe for each report.
//!
//! A submission writes HTTP bodies and headers, logs, command output and file
//! and folder names, and all of them reach the reports. Raw, a control
//! character would drive the instructor's terminal (clear the screen, recolour
//! it, plant a hyperlink, overwrite a line after a CR) and Markdown would
//! render a student's headings, links, images and HTML in the CI summary.
//! Nothing is stripped: every such character is shown escaped, so an
//! instructor sees what the submission sent. Clip text before escaping it, so
//! that a clip never cuts an escape or a code span in half.

use std::fmt::Write as _;

/// Text for a table cell in a terminal: every control character escaped but
/// the newline, which the table keeps inside its cell.
pub fn terminal(s: &str) -> String {
    escape(s, "\n", "|")
}

/// Text for one line of a terminal, outside a table: a newline is escaped too,
/// so that a submission cannot start a line of its own (a fake score).
pub fn terminal_line(s: &str) -> String {
    escape(s, "\\n", "|")
}

/// Text quoted in a Markdown paragraph: an inline code span, so that nothing in
/// it renders, on one line. Empty text gives nothing, not an empty span.
pub fn markdown_code(s: &str) -> String {
    code_span(&escape(s, NEWLINE_MARK, "|"))
}

/// Text quoted in a cell of a GFM table: as [`markdown_code`], and a `|` is
/// escaped, since GFM splits a row on pipes before it sees code spans (and
/// removes the backslash of `\|` again, inside them too).
pub fn markdown_cell(s: &str) -> String {
    code_span(&escape(s, NEWLINE_MARK, "\\|"))
}

/// Escapes, as `\uXXXX`, what serde_json leaves raw but a terminal or an editor
/// acts on: DEL, C1 controls and invisible format characters. Only for
/// serde_json's output: it escapes every other control character in a string,
/// so a raw tab, CR or newline is the JSON's own whitespace, and any other
/// unsafe character sits in a string, where the escape decodes back to it.
pub fn json_text(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii_whitespace() || !is_unsafe(c) {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// What a newline becomes in Markdown, where a table cell is one line.
const NEWLINE_MARK: &str = " ⏎ ";

/// Whether `c` must never reach a report raw: C0 and C1 controls and DEL, and
/// the invisible format characters that reorder or hide text.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Format characters a reader cannot see: bidirectional marks, embeddings,
/// overrides and isolates ("Trojan Source"), zero-width characters, line and
/// paragraph separators, and tags (invisible ASCII, smuggled past a reader).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// Shows every unsafe character escaped, with `newline` for `\n` and `pipe`
/// for `|`.
fn escape(s: &str, newline: &str, pipe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str(newline),
            '|' => out.push_str(pipe),
            c if is_unsafe(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// `\0`, `\t`, `\r`, `\x1b` for ASCII as a shell would write them, `\u{202e}`
/// beyond as Rust would.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\0' => out.push_str("\\0"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        c if c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c => out.extend(c.escape_unicode()),
    }
}

/// Wraps one line in a code span whose fence is longer than any run of
/// backticks in it, padded with a space where CommonMark strips one (a text
/// that starts or ends with a backtick or a space).
fn code_span(line: &str) -> String {
    if line.is_empty() {
        return String::new();
    }
    let fence = "`".repeat(longest_run(line, '`') + 1);
    let edge = ['`', ' '];
    let pad =
        if line.bytes().all(|b| b == b' ') || !(line.starts_with(edge) || line.ends_with(edge)) {
            ""
        } else {
            " "
        };
    format!("{fence}{pad}{line}{pad}{fence}")
}

/// The length of the longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_sees_every_control_character_escaped() {
        let raw = "a\0b\x1b[2J\x07\x08\t\x0b\x0c\rc\x7f\u{9b}\u{85}\u{202e}\u{2066}\u{200b}\u{feff}\u{2028}\u{e0041}\nd";
        assert_eq!(
            terminal(raw),
            "a\\0b\\x1b[2J\\x07\\x08\\t\\x0b\\x0c\\rc\\x7f\\u{9b}\\u{85}\\u{202e}\\u{2066}\\u{200b}\\u{feff}\\u{2028}\\u{e0041}\nd"
        );
        assert_eq!(terminal_line("a\nb\rc"), "a\\nb\\rc");
        assert_eq!(
            terminal("plain text, ünïcödé, 日本, | and \\"),
            "plain text, ünïcödé, 日本, | and \\"
        );
    }

    #[test]
    fn no_unsafe_character_survives_any_escape() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let s = format!("x{c}y");
            for out in [terminal(&s), terminal_line(&s), markdown_cell(&s)] {
                assert!(
                    out.chars().all(|o| o == '\n' || !is_unsafe(o)),
                    "{c:?} survived in {out:?}"
                );
            }
            assert!(!terminal_line(&s).contains('\n'));
            assert!(!markdown_code(&s).contains(['\n', '\r']));
        }
    }

    #[test]
    fn a_code_span_fence_is_longer_than_any_backtick_run() {
        assert_eq!(markdown_code("a ``` b ` c"), "````a ``` b ` c````");
        assert_eq!(markdown_code("`x`"), "`` `x` ``");
        assert_eq!(markdown_code(" x"), "`  x `");
        assert_eq!(markdown_code("   "), "`   `");
        assert_eq!(markdown_code("plain"), "`plain`");
        assert_eq!(markdown_code(""), "");
    }

    #[test]
    fn a_cell_is_one_line_and_escapes_its_pipes() {
        assert_eq!(markdown_cell("a | b\nc"), "`a \\| b ⏎ c`");
        assert_eq!(markdown_code("a | b\nc"), "`a | b ⏎ c`");
        assert_eq!(markdown_cell("\x1b[31m"), "`\\x1b[31m`");
    }

    #[test]
    fn json_text_escapes_what_serde_json_leaves_raw_and_round_trips() {
        let raw = "a\x7f\u{9b}\u{202e}\u{e0041}é\n\"";
        let json = json_text(&serde_json::to_string(raw).expect("a string serialises"));
        assert_eq!(json, r#""a\u007f\u009b\u202e\udb40\udc41é\n\"""#, "{json}");
        let back: String = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(back, raw);
    }
}
