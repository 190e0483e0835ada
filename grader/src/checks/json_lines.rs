//! The `json-lines` file rule: a run log, one JSON object per line, as a sweep
//! writes it. The grader reads the log itself: every run is there with the
//! fields a run must record, the settings asked for were all tried, and the
//! run another file chooses is the best of the log by the stated metric.

use super::{Outcome, Problem, clip};
use crate::spec::{Best, Covers, Goal};
use serde_json::Value;

/// One record of the log (a JSON object), with the line it is on.
pub struct Record {
    line: usize,
    value: Value,
}

impl Record {
    /// The value at `pointer`, or a failure naming the line.
    fn needs(&self, name: &str, pointer: &str) -> Result<&Value, Problem> {
        self.value.pointer(pointer).ok_or_else(|| {
            Problem::Fail(format!("{name} line {}: nothing at {pointer}", self.line))
        })
    }

    fn number(&self, name: &str, pointer: &str) -> Result<f64, Problem> {
        let value = self.needs(name, pointer)?;
        value.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
            Problem::Fail(format!(
                "{name} line {}: {pointer} is {}, not a number",
                self.line,
                clip(&value.to_string(), 40)
            ))
        })
    }
}

/// Every non-blank line of the file, each a JSON object.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Vec<Record>, Problem> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Problem::Fail(format!("{name} is not UTF-8 text")))?;
    let mut log = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            Problem::Fail(format!(
                "{name} line {} is not JSON ({e}): one JSON object per line",
                i + 1
            ))
        })?;
        if !value.is_object() {
            return Err(Problem::Fail(format!(
                "{name} line {} is {}, not a JSON object",
                i + 1,
                clip(line, 40)
            )));
        }
        log.push(Record { line: i + 1, value });
    }
    Ok(log)
}

/// Exactly `want` records, when given; at least one in any case.
pub fn count(name: &str, log: &[Record], want: Option<usize>) -> Outcome {
    match want {
        Some(want) if log.len() != want => Err(Problem::Fail(format!(
            "{name} holds {} record{}, expected {want}: one line per run",
            log.len(),
            if log.len() == 1 { "" } else { "s" }
        ))),
        _ if log.is_empty() => Err(Problem::Fail(format!("{name} holds no record"))),
        _ => Ok(()),
    }
}

/// Every record has something at each pointer.
pub fn fields(name: &str, log: &[Record], pointers: &[String]) -> Outcome {
    for record in log {
        for pointer in pointers {
            record.needs(name, pointer)?;
        }
    }
    Ok(())
}

/// Equal as JSON, numbers by value: a log may write depth 4 as `4` or `4.0`.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Each wanted value is found at the pointer in some record.
pub fn covers(name: &str, log: &[Record], covers: &Covers) -> Outcome {
    let mut seen = Vec::new();
    for record in log {
        seen.push(record.needs(name, &covers.pointer)?);
    }
    let missing: Vec<String> = covers
        .values
        .iter()
        .filter(|want| !seen.iter().any(|v| same(v, want)))
        .map(|v| clip(&v.to_string(), 20))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut had: Vec<String> = seen.iter().map(|v| clip(&v.to_string(), 20)).collect();
    had.dedup();
    Err(Problem::Fail(format!(
        "{name} has no run with {} = {} (its runs have {})",
        covers.pointer,
        missing.join(", "),
        clip(&had.join(", "), 120)
    )))
}

/// The record `chosen` names is no worse by `best.by` than any other.
pub fn best(name: &str, log: &[Record], best: &Best, chosen: &[u8]) -> Outcome {
    let choice: Value = serde_json::from_slice(chosen)
        .map_err(|e| Problem::Fail(format!("{} is not valid JSON ({e})", best.chosen)))?;
    let key = choice
        .pointer(&best.at)
        .ok_or_else(|| Problem::Fail(format!("{} has nothing at {}", best.chosen, best.at)))?;
    let mut scores = Vec::with_capacity(log.len());
    for record in log {
        scores.push((record, record.number(name, &best.by)?));
    }
    let mut named = Vec::new();
    for (record, score) in &scores {
        if same(record.needs(name, &best.key)?, key) {
            named.push((*record, *score));
        }
    }
    let &[(chosen_record, chosen_score)] = named.as_slice() else {
        let how = if named.is_empty() {
            "no run"
        } else {
            "more than one run"
        };
        return Err(Problem::Fail(format!(
            "{} chooses {} = {}, and {name} has {how} with {} = {}",
            best.chosen,
            best.at,
            clip(&key.to_string(), 40),
            best.key,
            clip(&key.to_string(), 40)
        )));
    };
    let better = |a: f64, b: f64| match best.goal {
        Goal::Max => a > b,
        Goal::Min => a < b,
    };
    let top = scores
        .iter()
        .copied()
        .reduce(|top, next| if better(next.1, top.1) { next } else { top });
    match top {
        Some((record, score)) if better(score, chosen_score) => Err(Problem::Fail(format!(
            "{} chooses the run on line {} ({} {chosen_score}), but the run on line {} has {score}: the best by {} is the {} ",
            best.chosen,
            chosen_record.line,
            best.by,
            record.line,
            best.by,
            match best.goal {
                Goal::Max => "highest",
                Goal::Min => "lowest",
            }
        )
        .trim_end()
        .to_string())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"{"run":1,"params":{"max_depth":2},"metrics":{"acc":0.55}}
{"run":2,"params":{"max_depth":4},"metrics":{"acc":0.61}}

{"run":3,"params":{"max_depth":8.0},"metrics":{"acc":0.58}}
"#;

    fn log() -> Vec<Record> {
        parse("runs.jsonl", LOG.as_bytes()).expect("parses")
    }

    fn best_by(goal: Goal) -> Best {
        Best {
            by: "/metrics/acc".into(),
            goal,
            key: "/run".into(),
            chosen: "best.json".into(),
            at: "/run".into(),
        }
    }

    fn message(outcome: Outcome) -> String {
        match outcome {
            Err(Problem::Fail(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn blank_lines_are_skipped_and_a_bad_line_is_named() {
        assert_eq!(log().len(), 3);
        let bad = parse("runs.jsonl", b"{\"run\":1}\n[1,2]\n").err();
        assert!(
            matches!(bad, Some(Problem::Fail(m)) if m.contains("line 2") && m.contains("not a JSON object"))
        );
        let broken = parse("runs.jsonl", b"{\"run\":1}\n{\"run\":\n").err();
        assert!(matches!(broken, Some(Problem::Fail(m)) if m.contains("line 2 is not JSON")));
    }

    #[test]
    fn count_and_fields_name_what_is_missing() {
        assert!(count("runs.jsonl", &log(), Some(3)).is_ok());
        assert!(
            message(count("runs.jsonl", &log(), Some(4))).contains("holds 3 records, expected 4")
        );
        assert!(count("runs.jsonl", &[], None).is_err());
        assert!(fields("runs.jsonl", &log(), &["/params/max_depth".into()]).is_ok());
        assert!(
            message(fields("runs.jsonl", &log(), &["/seed".into()]))
                .contains("line 1: nothing at /seed")
        );
    }

    #[test]
    fn covers_compares_numbers_by_value() {
        let want = |values: Vec<Value>| Covers {
            pointer: "/params/max_depth".into(),
            values,
        };
        assert!(
            covers(
                "runs.jsonl",
                &log(),
                &want(vec![2.into(), 4.into(), 8.into()])
            )
            .is_ok()
        );
        let m = message(covers(
            "runs.jsonl",
            &log(),
            &want(vec![2.into(), 6.into()]),
        ));
        assert!(m.contains("no run with /params/max_depth = 6"), "{m}");
    }

    #[test]
    fn the_chosen_run_must_be_the_best_ties_pass() {
        let pick = |run: u32| format!("{{\"run\":{run}}}").into_bytes();
        assert!(best("runs.jsonl", &log(), &best_by(Goal::Max), &pick(2)).is_ok());
        let m = message(best("runs.jsonl", &log(), &best_by(Goal::Max), &pick(3)));
        assert!(m.contains("line 4") && m.contains("line 2 has 0.61"), "{m}");
        assert!(best("runs.jsonl", &log(), &best_by(Goal::Min), &pick(1)).is_ok());
        let m = message(best("runs.jsonl", &log(), &best_by(Goal::Max), &pick(9)));
        assert!(m.contains("has no run with /run = 9"), "{m}");
        let tie = "{\"run\":1,\"metrics\":{\"acc\":0.6}}\n{\"run\":2,\"metrics\":{\"acc\":0.6}}\n";
        let tied = parse("runs.jsonl", tie.as_bytes()).expect("parses");
        assert!(best("runs.jsonl", &tied, &best_by(Goal::Max), &pick(1)).is_ok());
        assert!(best("runs.jsonl", &tied, &best_by(Goal::Max), &pick(2)).is_ok());
    }

    #[test]
    fn a_metric_that_is_not_a_number_fails() {
        let text = "{\"run\":1,\"metrics\":{\"acc\":\"high\"}}\n";
        let log = parse("runs.jsonl", text.as_bytes()).expect("parses");
        let m = message(best(
            "runs.jsonl",
            &log,
            &best_by(Goal::Max),
            b"{\"run\":1}",
        ));
        assert!(m.contains("not a number"), "{m}");
    }
}
