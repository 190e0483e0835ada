//! The platforms' formats read by parsers no one on this team wrote: the JUnit
//! XML by Python's junitparser (pinned in `.ci/run`), the gradebook by
//! Python's csv module, Gradescope's results.json by Python's json module.

use grader::report;
use grader::result::{ClassEntry, Report};
use std::process::Command;

fn sample() -> Report {
    serde_json::from_str(include_str!("../src/report/testdata/sample.json")).expect("sample")
}

/// Runs a Python script with one file's path as its argument; it must exit 0.
fn python(script: &str, file: &std::path::Path) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 runs (Python 3.11 is on the machine)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'junitparser'"),
        "install junitparser 5.0.3 (`.ci/run` does): {stderr}"
    );
    assert!(output.status.success(), "{stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn junitparser_reads_a_case_per_check_with_its_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, report::junit(&sample())).expect("write");
    let out = python(
        r#"
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print("suite", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped)
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        message = case.result[0].message if case.result else ""
        print("case", case.name, ",".join(kinds) or "passed", repr(message)[:60])
"#,
        &file,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "suite week08: The model service in a container 6 2 1 1",
        "{out}"
    );
    assert!(lines[1].starts_with("case health passed"), "{out}");
    assert!(
        lines[2].starts_with("case predict Failure 'expected 200, got 500: </failure>]]><x>"),
        "{out}"
    );
    assert!(lines[3].starts_with("case metrics Failure"), "{out}");
    assert!(lines[4].starts_with("case sigterm Skipped"), "{out}");
    assert!(
        lines[6].contains("Error 'the judge image is missing'"),
        "{out}"
    );
}

#[test]
fn pythons_csv_reads_the_gradebook_as_a_spreadsheet_would() {
    let entries = [
        ClassEntry {
            student: "kim".into(),
            path: "class/kim".into(),
            report: Some(sample()),
            error: None,
            attempts: 1,
        },
        ClassEntry {
            student: "lee".into(),
            path: "class/lee".into(),
            report: None,
            error: Some("Docker: the engine, \"gone\"\nmid-grade".into()),
            attempts: 3,
        },
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("gradebook.csv");
    std::fs::write(&file, report::gradebook(&entries)).expect("write");
    let out = python(
        r#"
import csv, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f))
for row in rows:
    print(row["student"], row["score"], row["max"], row["container"], row["predict (10)"], repr(row["error"]))
"#,
        &file,
    );
    assert_eq!(
        out,
        "kim 15 40 crashed 0 ''\nlee   not graded  'Docker: the engine, \"gone\"\\\\nmid-grade'\n"
    );
}

#[test]
fn gradescope_results_read_back_with_pythons_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("results.json");
    std::fs::write(&file, report::gradescope(&sample())).expect("write");
    let out = python(
        r#"
import json, sys
r = json.load(open(sys.argv[1]))
assert sum(t["score"] for t in r["tests"]) == r["score"]
print(r["score"], sum(t["max_score"] for t in r["tests"]), [t["visibility"] for t in r["tests"]].count("after_published"))
"#,
        &file,
    );
    assert_eq!(out, "15 40 2\n");
}
