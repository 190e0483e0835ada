//! The platforms' formats, read back: what each platform's reader looks at
//! adds up to the report's score, and nothing a submission wrote arrives raw.

use super::*;
use crate::result::{ClassEntry, Report};
use base64::Engine as _;

fn sample() -> Report {
    serde_json::from_str(include_str!("testdata/sample.json")).expect("the sample report")
}

/// No raw control character: nothing that would act on a terminal or an
/// XML or JSON reader.
fn no_raw_controls(text: &str) {
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "a raw control character in {text:?}"
    );
}

#[test]
fn the_report_reads_back_as_it_was_written() {
    let report = sample();
    let again: Report = serde_json::from_str(&json(&report)).expect("reads back");
    assert_eq!(json(&again), json(&report));
    assert_eq!(again.submission.student.as_deref(), Some("kim"));
}

#[test]
fn gradescope_scores_each_check_and_publishes_hidden_ones_later() {
    let text = gradescope(&sample());
    no_raw_controls(&text);
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["score"], 15);
    let tests = v["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 6);
    let sum: u64 = tests
        .iter()
        .map(|t| t["score"].as_u64().expect("score"))
        .sum();
    assert_eq!(sum, 15);
    let max: u64 = tests
        .iter()
        .map(|t| t["max_score"].as_u64().expect("max"))
        .sum();
    assert_eq!(max, 40);
    assert_eq!(tests[0]["status"], "passed");
    assert_eq!(tests[1]["status"], "failed");
    assert!(
        tests[1]["output"]
            .as_str()
            .expect("output")
            .contains("expected 200, got 500")
    );
    assert_eq!(tests[4]["visibility"], "after_published");
    assert_eq!(tests[0]["visibility"], "visible");
    assert_eq!(v["execution_time"], 7);
}

#[test]
fn classroom_adds_up_to_the_score_the_reporter_posts() {
    let line = classroom_output(&sample());
    let encoded = line
        .strip_prefix("result=")
        .and_then(|l| l.strip_suffix('\n'))
        .expect("result=<base64>");
    let json = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let v: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    // What the reporter adds up (notify-classroom.js): the tests' `score`
    // against `max_score`, when max_score is above 0.
    let total: u64 = v["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| t["score"].as_u64().expect("score"))
        .sum();
    assert_eq!((total, v["max_score"].as_u64()), (15, Some(40)));
    assert_eq!(v["version"], 1);
    assert_eq!(
        v["status"], "error",
        "an errored check makes the run an error"
    );
    assert_eq!(v["tests"][3]["status"], "fail");
    no_raw_controls(std::str::from_utf8(&json).expect("UTF-8"));
}

#[test]
fn junit_has_a_case_per_check_and_no_raw_controls() {
    let xml = junit(&sample());
    no_raw_controls(&xml);
    assert_eq!(xml.matches("<testcase ").count(), 6);
    assert_eq!(xml.matches("<failure").count(), 2, "failed and timed out");
    assert_eq!(xml.matches("<error").count(), 1);
    assert_eq!(xml.matches("<skipped").count(), 1);
    assert!(!xml.contains("]]><x>"), "the submission's text is escaped");
}

#[test]
fn the_gradebook_has_a_row_per_student_and_no_formulas() {
    let graded = ClassEntry {
        student: "kim".into(),
        path: "class/kim".into(),
        report: Some(sample()),
        error: None,
        attempts: 1,
    };
    let failed = ClassEntry {
        student: "-lee".into(),
        path: "class/-lee".into(),
        report: None,
        error: Some("Docker: the engine is unreachable".into()),
        attempts: 3,
    };
    let text = gradebook(&[graded, failed]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        &header[..5],
        ["student", "score", "max", "container", "error"]
    );
    assert_eq!(header[5], "health (10)");
    assert_eq!(header.len(), 5 + 6 + 2);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(&rows[0][0], "kim");
    assert_eq!(
        (&rows[0][1], &rows[0][2], &rows[0][3]),
        ("15", "40", "crashed")
    );
    assert_eq!(&rows[0][5], "10");
    assert_eq!(&rows[1][0], "'-lee", "a leading '-' would start a formula");
    assert_eq!(&rows[1][3], "not graded");
    assert!(rows[1][4].contains("unreachable"));
    assert!(header.iter().all(|h| !h.starts_with('=')));
}
