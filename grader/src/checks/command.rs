//! Command-line checks: a finished run (`docker::command`) becomes a
//! `std::process::Output` and is held to its expectations with assert_cmd's
//! `OutputAssertExt` and `predicates`.
//!
//! The first expectation that fails is the message, in one or two lines: what
//! was run, what was expected, what came instead (trimmed). A panic is looked
//! for first, since its message is what a student needs most.

use super::{Outcome, Problem, clip};
use crate::docker::command::Finished;
use crate::spec::{CommandExpect, StreamExpect};
use assert_cmd::assert::OutputAssertExt;
use predicates::BoxPredicate;
use predicates::prelude::*;
use std::collections::BTreeMap;
use std::process::{ExitStatus, Output};
use std::time::Duration;

/// The longest excerpt of an output stream quoted in a message.
const EXCERPT: usize = 160;

/// The run as the process output assert_cmd works on. A run killed at the
/// deadline shows 137, as a shell would.
pub fn to_output(run: &Finished) -> Output {
    use std::os::unix::process::ExitStatusExt;
    let code = run.code.unwrap_or(137).clamp(0, 255) as i32;
    Output {
        status: ExitStatus::from_raw(code << 8),
        stdout: run.stdout.clone(),
        stderr: run.stderr.clone(),
    }
}

/// Fails on a Rust panic message or a backtrace in a stream.
pub fn no_panic() -> impl Predicate<str> {
    predicate::str::contains("panicked at")
        .or(predicate::str::contains("stack backtrace:"))
        .not()
}

/// Which stream an expectation is about.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn of(self, out: &Output) -> &[u8] {
        match self {
            Stream::Stdout => &out.stdout,
            Stream::Stderr => &out.stderr,
        }
    }
}

/// One expectation on a stream: how it reads in a message, and its predicate.
struct Rule {
    stream: Stream,
    wanted: String,
    predicate: BoxPredicate<str>,
}

/// Holds a finished run to its expectations. `shown` is the command as a student
/// would type it; `snapshots` are the lab's expected snapshots.
pub fn assess(
    expect: &CommandExpect,
    shown: &str,
    run: &Finished,
    deadline: Duration,
    snapshots: &BTreeMap<String, String>,
) -> Outcome {
    let fail = |what: String| Err(Problem::Fail(format!("`{shown}`: {what}")));
    if run.timed_out {
        return fail(format!(
            "did not finish within {} s and was stopped",
            deadline.as_secs()
        ));
    }
    if run.oom_killed {
        return fail("ran out of memory and was killed".into());
    }
    let output = to_output(run);
    let mut assert = output.clone().assert();

    if expect.no_panic || expect.bad_input {
        for stream in [Stream::Stderr, Stream::Stdout] {
            let checked = match stream {
                Stream::Stdout => assert.try_stdout(no_panic()),
                Stream::Stderr => assert.try_stderr(no_panic()),
            };
            assert = match checked {
                Ok(a) => a,
                Err(_) => {
                    return fail(format!(
                        "panicked instead of failing cleanly: {}",
                        panic_excerpt(stream.of(&output))
                    ));
                }
            };
        }
    }

    let code = expect.code();
    assert = match assert.try_code(code) {
        Ok(a) => a,
        Err(_) => {
            let got = output.status.code().unwrap_or(-1);
            let said = if got == 0 {
                excerpt_of("stdout", &output.stdout)
            } else {
                excerpt_of("stderr", &output.stderr)
            };
            return fail(format!(
                "expected exit code {code}, got {got}{}; {said}",
                code_hint(got)
            ));
        }
    };

    let mut rules = Vec::new();
    if expect.bad_input {
        rules.push(Rule {
            stream: Stream::Stderr,
            wanted: "a message saying what is wrong with the input".into(),
            predicate: predicate::str::is_empty().trim().not().boxed(),
        });
    }
    rules.extend(stream_rules(Stream::Stderr, &expect.stderr)?);
    rules.extend(stream_rules(Stream::Stdout, &expect.stdout)?);
    for rule in rules {
        let checked = match rule.stream {
            Stream::Stdout => assert.try_stdout(rule.predicate),
            Stream::Stderr => assert.try_stderr(rule.predicate),
        };
        assert = match checked {
            Ok(a) => a,
            Err(_) => {
                return fail(format!(
                    "expected {} {}; {}",
                    rule.stream.name(),
                    rule.wanted,
                    excerpt_of(rule.stream.name(), rule.stream.of(&output))
                ));
            }
        };
    }
    drop(assert);

    if let Some(p) = &expect.predictions {
        let predicted = super::scores::predictions(p, &output.stdout)
            .map_err(|m| Problem::Fail(format!("`{shown}`: {m}")))?;
        super::scores::enough_right(p, &predicted)
            .map_err(|m| Problem::Fail(format!("`{shown}`: {m}")))?;
    }
    if let Some(name) = &expect.snapshot {
        let wanted = snapshots
            .get(name)
            .ok_or_else(|| Problem::Error(format!("the lab has no snapshot \"{name}\"")))?;
        let actual = render(
            &String::from_utf8_lossy(&output.stdout),
            &expect.redact,
            &expect.filters,
        )?;
        return super::snapshot::compare_as(
            super::snapshot::snapshot_body(wanted),
            &actual,
            ("the output", "your program"),
        )
        .map_err(|p| match p {
            Problem::Fail(m) => Problem::Fail(format!("`{shown}`: {m}")),
            other => other,
        });
    }
    Ok(())
}

fn stream_rules(stream: Stream, e: &StreamExpect) -> Result<Vec<Rule>, Problem> {
    let mut rules = Vec::new();
    if e.empty {
        rules.push(Rule {
            stream,
            wanted: "to be empty".into(),
            predicate: predicate::str::is_empty().trim().boxed(),
        });
    }
    if e.not_empty {
        rules.push(Rule {
            stream,
            wanted: "to hold a message".into(),
            predicate: predicate::str::is_empty().trim().not().boxed(),
        });
    }
    for needle in &e.contains {
        rules.push(Rule {
            stream,
            wanted: format!("to contain \"{}\"", clip(needle, 60)),
            predicate: predicate::str::contains(needle.as_str()).boxed(),
        });
    }
    for needle in &e.excludes {
        rules.push(Rule {
            stream,
            wanted: format!("not to contain \"{}\"", clip(needle, 60)),
            predicate: predicate::str::contains(needle.as_str()).not().boxed(),
        });
    }
    if let Some(pattern) = &e.matches {
        let predicate = predicate::str::is_match(pattern)
            .map_err(|err| Problem::Error(format!("regex /{pattern}/: {err}")))?;
        rules.push(Rule {
            stream,
            wanted: format!("to match /{}/", clip(pattern, 60)),
            predicate: predicate.boxed(),
        });
    }
    Ok(rules)
}

/// stdout as its snapshot holds it: pretty JSON with the pointers redacted when
/// it is JSON, the text as it is otherwise; then the filters.
pub fn render(stdout: &str, redact: &[String], filters: &[[String; 2]]) -> Result<String, Problem> {
    let mut text = match serde_json::from_str::<serde_json::Value>(stdout) {
        Ok(mut json) if stdout.trim_start().starts_with(['{', '[']) => {
            for pointer in redact {
                super::snapshot::apply_redaction(&mut json, pointer);
            }
            serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
        }
        _ => stdout.to_string(),
    };
    for [pattern, with] in filters {
        let re = regex::Regex::new(pattern)
            .map_err(|e| Problem::Error(format!("filter /{pattern}/: {e}")))?;
        text = re.replace_all(&text, with.as_str()).into_owned();
    }
    Ok(text)
}

/// "stderr was: «…»" or "stderr was empty", on one line.
fn excerpt_of(name: &str, bytes: &[u8]) -> String {
    let text = one_line(&String::from_utf8_lossy(bytes));
    if text.is_empty() {
        format!("{name} was empty")
    } else {
        format!("{name} was: «{}»", clip(&text, EXCERPT))
    }
}

/// The panic's own lines ("thread 'main' panicked at src/main.rs:4:5:" and its
/// message), not what came before.
fn panic_excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let from = text
        .find("panicked at")
        .map(|i| text[..i].rfind('\n').map_or(0, |n| n + 1))
        .unwrap_or(0);
    let lines: Vec<&str> = text[from..].lines().take(2).collect();
    format!("«{}»", clip(&one_line(&lines.join("\n")), EXCERPT))
}

/// Lines folded onto one, ⏎ between them.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ⏎ ")
}

fn code_hint(code: i32) -> &'static str {
    match code {
        101 => " (101: the program panicked)",
        126 => " (126: the program is not executable)",
        127 => " (127: the program was not found in the image)",
        137 => " (137: killed)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: i64, stdout: &str, stderr: &str) -> Finished {
        Finished {
            code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn message(outcome: Outcome) -> String {
        match outcome {
            Err(Problem::Fail(m)) => {
                assert!(m.lines().count() <= 2, "one or two lines: {m}");
                m
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    const SHOWN: &str = "winequality predict --input in/bad.csv";
    const SECS: Duration = Duration::from_secs(10);

    fn assess_(e: &CommandExpect, r: &Finished) -> Outcome {
        assess(e, SHOWN, r, SECS, &BTreeMap::new())
    }

    fn bad_input() -> CommandExpect {
        CommandExpect {
            bad_input: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_output_carries_the_exit_code() {
        assert_eq!(to_output(&run(2, "", "")).status.code(), Some(2));
        assert_eq!(to_output(&run(0, "", "")).status.code(), Some(0));
        let killed = Finished {
            timed_out: true,
            ..Default::default()
        };
        assert_eq!(to_output(&killed).status.code(), Some(137));
    }

    #[test]
    fn bad_input_passes_with_code_2_and_a_message() {
        let r = run(
            2,
            "",
            "error: in/bad.csv line 2: alcohol: \"x\" is not a number\n",
        );
        assert!(assess_(&bad_input(), &r).is_ok());
    }

    #[test]
    fn a_panic_fails_bad_input_with_the_panic_line() {
        let r = run(
            101,
            "",
            "starting\nthread 'main' panicked at src/main.rs:12:5:\ncalled `Result::unwrap()` on an `Err` value\nnote: run with `RUST_BACKTRACE=1`\n",
        );
        let m = message(assess_(&bad_input(), &r));
        assert!(m.starts_with(&format!("`{SHOWN}`: panicked")), "{m}");
        assert!(m.contains("src/main.rs:12:5"), "{m}");
        assert!(m.contains("unwrap()"), "{m}");
        assert!(!m.contains("starting"), "{m}");
        // A backtrace alone (a panic caught and printed) is refused too.
        let r = run(2, "", "stack backtrace:\n   0: main\n");
        assert!(message(assess_(&bad_input(), &r)).contains("panicked instead"));
    }

    #[test]
    fn a_wrong_exit_code_names_both_codes_and_quotes_stderr() {
        let r = run(1, "", "Error: bad csv\n");
        let m = message(assess_(&bad_input(), &r));
        assert!(m.contains("expected exit code 2, got 1"), "{m}");
        assert!(m.contains("stderr was: «Error: bad csv»"), "{m}");
        let r = run(0, "7\n", "");
        let m = message(assess_(&bad_input(), &r));
        assert!(m.contains("got 0"), "{m}");
        assert!(m.contains("stdout was: «7»"), "{m}");
    }

    #[test]
    fn bad_input_needs_a_message_on_stderr() {
        let m = message(assess_(&bad_input(), &run(2, "", "  \n")));
        assert!(
            m.contains("expected stderr a message saying what is wrong"),
            "{m}"
        );
        assert!(m.contains("stderr was empty"), "{m}");
    }

    #[test]
    fn stream_expectations_contains_matches_and_empty() {
        let e = CommandExpect {
            stdout: StreamExpect {
                contains: vec!["accuracy".into()],
                matches: Some(r"accuracy: 0\.\d+".into()),
                ..Default::default()
            },
            stderr: StreamExpect {
                empty: true,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(assess_(&e, &run(0, "accuracy: 0.61\n", "")).is_ok());
        let m = message(assess_(&e, &run(0, "acc: 0.61\n", "")));
        assert!(m.contains("expected stdout to contain \"accuracy\""), "{m}");
        assert!(m.contains("stdout was: «acc: 0.61»"), "{m}");
        let m = message(assess_(&e, &run(0, "accuracy: high\n", "")));
        assert!(m.contains(r"to match /accuracy: 0\.\d+/"), "{m}");
        let m = message(assess_(&e, &run(0, "accuracy: 0.6\n", "warning: slow\n")));
        assert!(m.contains("expected stderr to be empty"), "{m}");
        assert!(m.contains("«warning: slow»"), "{m}");
    }

    #[test]
    fn long_output_is_trimmed_to_one_line() {
        let noise = "line of noise\n".repeat(200);
        let m = message(assess_(&CommandExpect::default(), &run(3, "", &noise)));
        assert!(m.len() < 400, "{m}");
        assert!(m.contains('…'), "{m}");
    }

    #[test]
    fn a_run_that_timed_out_or_ran_out_of_memory_says_so() {
        let t = Finished {
            timed_out: true,
            ..Default::default()
        };
        assert!(message(assess_(&CommandExpect::default(), &t)).contains("within 10 s"));
        let o = Finished {
            oom_killed: true,
            code: Some(137),
            ..Default::default()
        };
        assert!(message(assess_(&CommandExpect::default(), &o)).contains("out of memory"));
    }

    #[test]
    fn stdout_snapshots_redact_json_and_filter_text() {
        let snaps = BTreeMap::from([(
            "plan".to_string(),
            "---\nsource: x\n---\n{\n  \"create\": [\n    \"web\"\n  ],\n  \"version\": \"[redacted]\"\n}\n"
                .to_string(),
        )]);
        let e = CommandExpect {
            snapshot: Some("plan".into()),
            redact: vec!["/version".into()],
            ..Default::default()
        };
        let good = run(0, r#"{"create":["web"],"version":"abc123"}"#, "");
        assert!(assess(&e, SHOWN, &good, SECS, &snaps).is_ok());
        let bad = run(0, r#"{"create":["db"],"version":"abc123"}"#, "");
        let m = match assess(&e, SHOWN, &bad, SECS, &snaps) {
            Err(Problem::Fail(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(m.contains("the output differs"), "{m}");
        assert!(
            m.contains("-    \"web\"") && m.contains("+    \"db\""),
            "{m}"
        );
        let text = render(
            "took 41 ms\n",
            &[],
            &[[r"\d+ ms".to_string(), "[ms]".to_string()]],
        )
        .expect("render");
        assert_eq!(text, "took [ms]\n");
    }
}
