//! One hostile body in every field a submission controls (a check's message,
//! the container's detail and log, the submission's folder name), through every
//! writer: golden snapshots, and the properties that matter asserted directly.

use super::{json, markdown, safe, table};
use crate::checks::clip;
use crate::result::*;
use crate::spec::Visibility;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use unicode_width::UnicodeWidthStr;

/// What a hostile service answered: terminal escapes (clear screen, colour, an
/// OSC 8 hyperlink, a bell, a CR that overwrites the line with a fake score, a
/// bidi override, a C1 CSI), and Markdown and HTML that would render.
const HOSTILE: &str = concat!(
    "body\0:",
    "\x1b[2J\x1b[H",
    "\x1b[32mgreen\x1b[0m ",
    "\x1b]8;;http://127.0.0.1:9/x\x1b\\click\x1b]8;;\x1b\\",
    "\x07",
    "\rscore: 100/100\n",
    "\u{202e}txt.exe\u{202c} ",
    "\u{9b}31mred\n",
    "# heading\n",
    "| fake | row |\n",
    "|---|---|\n",
    "<img src=x onerror=alert(1)>\n",
    "[link](http://127.0.0.1:9) ",
    "![img](http://127.0.0.1:9/i.png)\n",
    "```rust\nfenced\n``` and a \\| escaped pipe",
);

fn check(id: &str, verdict: Verdict, earned: u32, message: Option<&str>) -> CheckResult {
    CheckResult {
        id: id.into(),
        title: "t".into(),
        points: 5,
        earned,
        visibility: Visibility::Visible,
        verdict,
        message: message.map(Into::into),
        duration_ms: 1,
    }
}

fn hostile_report() -> Report {
    Report {
        schema: SCHEMA.into(),
        grader_version: "0".into(),
        started_at: "2026-12-07T18:00:00Z".into(),
        audience: Audience::Instructor,
        lab: LabInfo {
            id: "week08".into(),
            title: "Lab".into(),
            week: 8,
            spec_sha256: "0".repeat(64),
        },
        submission: SubmissionInfo {
            student: None,
            path: HOSTILE.into(),
            context_sha256: None,
        },
        score: Score { earned: 5, max: 15 },
        withheld: None,
        container: ContainerResult {
            verdict: ContainerVerdict::BuildFailed,
            detail: Some(HOSTILE.into()),
            exit_code: Some(1),
            oom_killed: false,
            output_over_cap: false,
            cached_image: false,
            log_excerpt: vec!["Step 1/2".into(), HOSTILE.into(), "[…]".into()],
        },
        checks: vec![
            check("health", Verdict::Passed, 5, None),
            check("version", Verdict::Failed, 0, Some(HOSTILE)),
            check("wide", Verdict::Errored, 0, Some("wide 日本語 | ✓ text")),
        ],
        timings: Timings::default(),
    }
}

/// Raw characters that would act on a terminal or hide text.
const RAW: [char; 6] = ['\u{1b}', '\u{7}', '\r', '\0', '\u{9b}', '\u{202e}'];

#[test]
fn the_table_shows_a_hostile_body_escaped() {
    let t = table(&hostile_report(), false);
    insta::assert_snapshot!(t);
    assert!(!t.contains(RAW), "{t:?}");
    assert!(t.chars().all(|c| c == '\n' || !safe::is_unsafe(c)));
    assert!(t.contains("\\x1b[2J\\x1b[H"), "{t}");
    assert!(t.contains("\\u{202e}"), "{t}");
    let mut lines = t.lines();
    let head = lines.next().expect("a heading line");
    assert!(head.starts_with("Lab (week 8): body\\0:\\x1b[2J"), "{head}");
    assert!(
        lines.next().is_some_and(|l| l.starts_with('┌')),
        "the folder name stays on the heading line: {t}"
    );
    let scores: Vec<_> = t.lines().filter(|l| l.starts_with("score")).collect();
    assert_eq!(scores, ["score: 5/15"], "{t}");
    assert!(t.contains("\n  Step 1/2\n  body\\0:"), "{t}");
}

#[test]
fn the_table_lines_up_around_a_hostile_body() {
    let t = table(&hostile_report(), false);
    let box_drawing = '\u{2500}'..='\u{257f}';
    let widths: Vec<usize> = t
        .lines()
        .filter(|l| l.starts_with(|c| box_drawing.contains(&c)))
        .map(UnicodeWidthStr::width)
        .collect();
    assert!(widths.len() > 5, "{t}");
    assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}\n{t}");
}

#[test]
fn the_markdown_renders_nothing_a_submission_wrote() {
    let report = hostile_report();
    let m = markdown(&report);
    insta::assert_snapshot!(m);
    assert!(!m.contains(RAW), "{m:?}");
    assert!(m.starts_with("### Lab (week 8): 5/15\n"), "{m}");
    let events = parse(&m);
    let starts = |is: fn(&Tag) -> bool| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Start(tag) if is(tag)))
            .count()
    };
    assert_eq!(starts(|t| matches!(t, Tag::Heading { .. })), 1, "{m}");
    assert_eq!(starts(|t| matches!(t, Tag::Link { .. })), 0, "{m}");
    assert_eq!(starts(|t| matches!(t, Tag::Image { .. })), 0, "{m}");
    assert_eq!(starts(|t| matches!(t, Tag::HtmlBlock)), 0, "{m}");
    assert_eq!(starts(|t| matches!(t, Tag::CodeBlock(_))), 0, "{m}");
    assert_eq!(starts(|t| matches!(t, Tag::Table(_))), 1, "{m}");
    assert_eq!(starts(|t| matches!(t, Tag::TableRow)), report.checks.len());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Html(_) | Event::InlineHtml(_))),
        "{m}"
    );
    // The detail and the message each come back whole, as one code span.
    let shown = safe::terminal(&clip(HOSTILE, 500));
    let quoted = events
        .iter()
        .filter(|e| matches!(e, Event::Code(code) if code.replace(" ⏎ ", "\n") == shown))
        .count();
    assert_eq!(quoted, 2, "{events:#?}");
    assert_eq!(row_cells(&events), vec![4; report.checks.len()]);
}

#[test]
fn a_clipped_message_keeps_its_cell_and_its_code_span() {
    let mut report = hostile_report();
    let long = "`|\n\x1b".repeat(300);
    report.checks[1].message = Some(long.clone());
    let m = markdown(&report);
    let events = parse(&m);
    assert_eq!(row_cells(&events), vec![4; report.checks.len()]);
    let shown = safe::terminal(&clip(&long, 500));
    assert!(shown.ends_with("\\x1b…"), "{shown}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Code(code) if code.replace(" ⏎ ", "\n") == shown)),
        "{events:#?}"
    );
}

#[test]
fn the_json_gives_back_exactly_what_the_submission_wrote() {
    let text = json(&hostile_report());
    insta::assert_snapshot!(text);
    assert!(!text.contains(RAW), "{text:?}");
    assert!(!text.contains(['\u{7f}', '\u{202c}']), "{text:?}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    for field in [
        &v["checks"][1]["message"],
        &v["container"]["detail"],
        &v["container"]["log_excerpt"][1],
        &v["submission"]["path"],
    ] {
        assert_eq!(field.as_str(), Some(HOSTILE));
    }
}

/// The events of a Markdown text, parsed as GitHub does (tables on).
fn parse(markdown: &str) -> Vec<Event<'_>> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM;
    Parser::new_ext(markdown, options).collect()
}

/// How many cells each body row of the table has.
fn row_cells(events: &[Event]) -> Vec<usize> {
    let mut rows = Vec::new();
    for e in events {
        match e {
            Event::Start(Tag::TableRow) => rows.push(0),
            Event::End(TagEnd::TableCell) => {
                if let Some(n) = rows.last_mut() {
                    *n += 1;
                }
            }
            _ => {}
        }
    }
    rows
}
