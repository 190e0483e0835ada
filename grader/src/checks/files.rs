//! File checks on bytes already read: a number in a JSON file within bounds, two
//! runs writing identical files, a Markdown document's required sections. Where
//! the bytes come from (a command's output folder, the submission's tree) is the
//! caller's business (`crate::pipeline`).

use super::{Outcome, Problem, clip, json_lines};
use crate::spec::FileRule;
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use std::collections::BTreeMap;
use std::path::Path;

/// The largest file a file check reads from the submission's tree.
pub const TREE_FILE_CAP: u64 = 4 << 20;

/// Judges a rule that reads files of one place (json, json-lines,
/// markdown-sections, toml-keys), wherever `read` finds them: the
/// submission's tree, a command's output, a fake's transcript. Other rules are
/// the caller's.
pub fn judge_one_file(rule: &FileRule, read: impl Fn(&str) -> Result<Vec<u8>, Problem>) -> Outcome {
    match rule {
        FileRule::Json {
            path,
            pointer,
            min,
            max,
            equals,
            contains,
            ..
        } => {
            let bytes = read(path)?;
            match equals {
                Some(want) => json_equals(path, &bytes, pointer, want),
                None if !contains.is_empty() => json_contains(path, &bytes, pointer, contains),
                None => json_threshold(path, &bytes, pointer, *min, *max),
            }
        }
        FileRule::TomlKeys { path, tables, .. } => toml_tables(path, &read(path)?, tables),
        FileRule::JsonLines {
            path,
            records,
            fields,
            covers,
            best,
            ..
        } => {
            let log = json_lines::parse(path, &read(path)?)?;
            json_lines::count(path, &log, *records)?;
            json_lines::fields(path, &log, fields)?;
            if let Some(covers) = covers {
                json_lines::covers(path, &log, covers)?;
            }
            match best {
                Some(best) => json_lines::best(path, &log, best, &read(&best.chosen)?),
                None => Ok(()),
            }
        }
        FileRule::MarkdownSections {
            path,
            sections,
            min_words,
            ..
        } => {
            let bytes = read(path)?;
            markdown_sections(path, &String::from_utf8_lossy(&bytes), sections, *min_words)
        }
        FileRule::Deterministic { .. } | FileRule::Differs { .. } | FileRule::SecretScan { .. } => {
            Err(Problem::Error(
                "this rule does not read a single file".into(),
            ))
        }
    }
}

/// The JSON file `name` parsed, and the value at `pointer` in it, with the
/// pointer as messages show it.
fn json_at(
    name: &str,
    bytes: &[u8],
    pointer: &str,
) -> Result<(serde_json::Value, String), Problem> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::Fail(format!("{name} is not valid JSON ({e})")))?;
    let at = if pointer.is_empty() {
        "the top".to_string()
    } else {
        pointer.to_string()
    };
    let value = json
        .pointer(pointer)
        .cloned()
        .ok_or_else(|| Problem::Fail(format!("{name} has nothing at {at}")))?;
    Ok((value, at))
}

/// The value at `pointer` in the JSON file `name` equals `want`. A member
/// whose value is `null` counts as absent: a specification in TOML has no
/// null to write, and "no column" is as well said either way.
pub fn json_equals(name: &str, bytes: &[u8], pointer: &str, want: &serde_json::Value) -> Outcome {
    let (mut value, at) = json_at(name, bytes, pointer)?;
    drop_nulls(&mut value);
    if &value == want {
        return Ok(());
    }
    Err(Problem::Fail(format!(
        "{name}: {at} is {}, expected {}",
        clip(&value.to_string(), 120),
        clip(&want.to_string(), 120)
    )))
}

/// The string at `pointer` in the JSON file `name` holds each of `texts`.
pub fn json_contains(name: &str, bytes: &[u8], pointer: &str, texts: &[String]) -> Outcome {
    let (value, at) = json_at(name, bytes, pointer)?;
    let Some(text) = value.as_str() else {
        return Err(Problem::Fail(format!(
            "{name} has {} at {at}, not a string",
            clip(&value.to_string(), 60)
        )));
    };
    match texts.iter().find(|t| !text.contains(t.as_str())) {
        None => Ok(()),
        Some(missing) => Err(Problem::Fail(format!(
            "{name}: {at} does not hold {:?}; it is {}",
            clip(missing, 80),
            clip(&format!("{text:?}"), 160)
        ))),
    }
}

/// Removes the members whose value is `null` from every object within.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// `min <= value <= max` for the number at `pointer` in the JSON file `name`.
pub fn json_threshold(
    name: &str,
    bytes: &[u8],
    pointer: &str,
    min: Option<f64>,
    max: Option<f64>,
) -> Outcome {
    let (value, at) = json_at(name, bytes, pointer)?;
    let number = value.as_f64().ok_or_else(|| {
        Problem::Fail(format!(
            "{name} has {} at {at}, not a number",
            clip(&value.to_string(), 40)
        ))
    })?;
    let bounds = match (min, max) {
        (Some(lo), Some(hi)) => format!("from {lo} to {hi}"),
        (Some(lo), None) => format!("at least {lo}"),
        (None, Some(hi)) => format!("at most {hi}"),
        (None, None) => return Ok(()),
    };
    if min.is_some_and(|lo| number < lo) || max.is_some_and(|hi| number > hi) {
        return Err(Problem::Fail(format!(
            "{name}: {at} is {number}, expected {bounds}"
        )));
    }
    Ok(())
}

/// A TOML file parses and holds each of `tables` (a key or a dotted path) as a
/// table.
pub fn toml_tables(name: &str, bytes: &[u8], tables: &[String]) -> Outcome {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Problem::Fail(format!("{name} is not UTF-8 text")))?;
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |span| text[..span.start].matches('\n').count() + 1);
        Problem::Fail(format!(
            "{name} is not valid TOML (line {line}: {})",
            e.message().trim()
        ))
    })?;
    let missing: Vec<&str> = tables
        .iter()
        .filter(|path| {
            let mut at: Option<&toml::Table> = Some(&doc);
            for key in path.split('.') {
                at = at.and_then(|t| t.get(key)).and_then(toml::Value::as_table);
            }
            at.is_none()
        })
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing
        .iter()
        .map(|t| format!("[{t}]"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Problem::Fail(format!(
        "{name} lacks the table{} {list}",
        if missing.len() == 1 { "" } else { "s" }
    )))
}

/// The named files are in both runs' outputs and byte-identical.
pub fn deterministic(
    first: &BTreeMap<String, Vec<u8>>,
    second: &BTreeMap<String, Vec<u8>>,
    paths: &[String],
) -> Outcome {
    for path in paths {
        let (Some(a), Some(b)) = (first.get(path), second.get(path)) else {
            return Err(Problem::Fail(format!(
                "{path} was not written (files written: {})",
                listing(first)
            )));
        };
        if a != b {
            let at = a.iter().zip(b.iter()).position(|(x, y)| x != y);
            let line = at.unwrap_or_else(|| a.len().min(b.len()));
            let line_no = a[..line.min(a.len())]
                .iter()
                .filter(|c| **c == b'\n')
                .count()
                + 1;
            return Err(Problem::Fail(format!(
                "{path} differs between two runs of the same command (first at line {line_no}; {} and {} bytes): seed every random choice and avoid timestamps",
                a.len(),
                b.len()
            )));
        }
    }
    Ok(())
}

/// At least one of `paths` differs between the files of two commands; both
/// wrote every one of them. `shown` names the two commands.
pub fn differs(
    ours: &BTreeMap<String, Vec<u8>>,
    theirs: &BTreeMap<String, Vec<u8>>,
    paths: &[String],
    shown: (&str, &str),
) -> Outcome {
    for (files, command) in [(ours, shown.0), (theirs, shown.1)] {
        if let Some(path) = paths.iter().find(|p| !files.contains_key(*p)) {
            return Err(Problem::Fail(format!(
                "`{command}` did not write {path} (files written: {})",
                listing(files)
            )));
        }
    }
    if paths.iter().any(|p| ours.get(p) != theirs.get(p)) {
        return Ok(());
    }
    Err(Problem::Fail(format!(
        "`{}` wrote the same {} as `{}`: the setting that differs between them changes nothing",
        shown.0,
        paths.join(" and "),
        shown.1
    )))
}

fn listing(files: &BTreeMap<String, Vec<u8>>) -> String {
    if files.is_empty() {
        "none".into()
    } else {
        clip(&files.keys().cloned().collect::<Vec<_>>().join(", "), 120)
    }
}

/// A `##` section: its heading's text and the words of its body (its
/// subsections' text included, headings not).
#[derive(Debug, PartialEq)]
struct Section {
    heading: String,
    words: usize,
}

fn sections_of(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    // The section that body text counts for, while inside one.
    let mut current: Option<usize> = None;
    // A heading being read: its level and text so far.
    let mut heading: Option<(HeadingLevel, String)> = None;
    let mut in_code_block = false;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, String::new())),
            Event::End(TagEnd::Heading(_)) => match heading.take() {
                Some((HeadingLevel::H2, text)) => {
                    sections.push(Section {
                        heading: text.split_whitespace().collect::<Vec<_>>().join(" "),
                        words: 0,
                    });
                    current = Some(sections.len() - 1);
                }
                // A title above `##` ends the section; a subsection is part of it.
                Some((HeadingLevel::H1, _)) => current = None,
                _ => {}
            },
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Text(t) | Event::Code(t) => match (heading.as_mut(), current) {
                (Some((_, h)), _) => h.push_str(&t),
                (None, Some(i)) if !in_code_block => {
                    sections[i].words += t.split_whitespace().count();
                }
                _ => {}
            },
            _ => {}
        }
    }
    sections
}

/// Each required `##` section is there (case and spacing aside), with at least
/// `min_words` words of its own.
pub fn markdown_sections(name: &str, text: &str, required: &[String], min_words: usize) -> Outcome {
    let found = sections_of(text);
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let mut missing = Vec::new();
    let mut thin = Vec::new();
    for want in required {
        match found.iter().find(|s| norm(&s.heading) == norm(want)) {
            None => missing.push(format!("\"## {want}\"")),
            Some(s) if s.words < min_words => thin.push(format!("\"{want}\" ({} words)", s.words)),
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        let has: Vec<String> = found.iter().map(|s| format!("\"{}\"", s.heading)).collect();
        return Err(Problem::Fail(format!(
            "{name} lacks the section{} {}; its ## sections are: {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if has.is_empty() {
                "none".into()
            } else {
                clip(&has.join(", "), 160)
            }
        )));
    }
    if !thin.is_empty() {
        return Err(Problem::Fail(format!(
            "{name}: each section needs at least {min_words} words of its own; too short: {}",
            thin.join(", ")
        )));
    }
    Ok(())
}

/// Reads a file of the submission's tree, refusing links (which could lead
/// anywhere on the grading machine) and files over the cap.
pub fn read_tree_file(root: &Path, rel: &str) -> Result<Vec<u8>, Problem> {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Problem::Fail(format!(
                    "{rel} is (or lies under) a link; commit the file itself"
                )));
            }
            Ok(_) => {}
            Err(_) => return Err(Problem::Fail(format!("{rel} is not in the submission"))),
        }
    }
    let meta =
        std::fs::metadata(&path).map_err(|e| Problem::Error(format!("cannot read {rel}: {e}")))?;
    if !meta.is_file() {
        return Err(Problem::Fail(format!("{rel} is not a file")));
    }
    if meta.len() > TREE_FILE_CAP {
        return Err(Problem::Fail(format!(
            "{rel} is over the grader's {} MiB cap for a file it reads",
            TREE_FILE_CAP >> 20
        )));
    }
    std::fs::read(&path).map_err(|e| Problem::Error(format!("cannot read {rel}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(o: Outcome) -> String {
        match o {
            Err(Problem::Fail(m)) => {
                assert!(!m.contains('\n'), "one line: {m}");
                m
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn json_contains_wants_every_text_in_a_string() {
        let t = br#"{"calls":[{"messages":[{"content":"[week05] Dotdrop renders"}]}]}"#;
        let at = "/calls/0/messages/0/content";
        let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(json_contains("t.json", t, at, &texts(&["[week05]", "Dotdrop"])).is_ok());
        assert!(
            fail(json_contains("t.json", t, at, &texts(&["[week06]"]))).contains("does not hold")
        );
        assert!(
            fail(json_contains("t.json", t, "/calls/0", &texts(&["x"]))).contains("not a string")
        );
    }

    #[test]
    fn json_equals_reads_a_null_member_as_absent() {
        let v = br#"{"q": [{"line": 8, "reason": "field_count", "column": null}]}"#;
        let want = serde_json::json!([{"line": 8, "reason": "field_count"}]);
        assert!(json_equals("v.json", v, "/q", &want).is_ok());
        let named = br#"{"q": [{"line": 8, "reason": "field_count", "column": "ph"}]}"#;
        assert!(fail(json_equals("v.json", named, "/q", &want)).contains("expected"));
    }

    #[test]
    fn json_thresholds() {
        let m = br#"{"accuracy": 0.61, "per_class": {"5": 0.7}, "name": "tree"}"#;
        assert!(json_threshold("metrics.json", m, "/accuracy", Some(0.55), None).is_ok());
        assert!(json_threshold("metrics.json", m, "/accuracy", Some(0.55), Some(0.61)).is_ok());
        assert!(json_threshold("metrics.json", m, "/per_class/5", None, Some(0.8)).is_ok());
        let low = fail(json_threshold(
            "metrics.json",
            m,
            "/accuracy",
            Some(0.65),
            None,
        ));
        assert_eq!(
            low,
            "metrics.json: /accuracy is 0.61, expected at least 0.65"
        );
        let high = fail(json_threshold(
            "metrics.json",
            m,
            "/accuracy",
            Some(0.1),
            Some(0.5),
        ));
        assert!(high.contains("expected from 0.1 to 0.5"), "{high}");
        let missing = fail(json_threshold("metrics.json", m, "/f1", Some(0.5), None));
        assert_eq!(missing, "metrics.json has nothing at /f1");
        let text = fail(json_threshold("metrics.json", m, "/name", Some(0.5), None));
        assert!(text.contains("\"tree\" at /name, not a number"), "{text}");
        let broken = fail(json_threshold(
            "metrics.json",
            b"{accuracy: 1}",
            "/accuracy",
            Some(0.5),
            None,
        ));
        assert!(
            broken.starts_with("metrics.json is not valid JSON"),
            "{broken}"
        );
    }

    #[test]
    fn deterministic_outputs() {
        let a = BTreeMap::from([
            (
                "metrics.json".to_string(),
                b"{\"accuracy\": 0.6}\n".to_vec(),
            ),
            ("model.bin".to_string(), vec![1, 2, 3]),
        ]);
        let paths = vec!["metrics.json".to_string(), "model.bin".to_string()];
        assert!(deterministic(&a, &a.clone(), &paths).is_ok());
        let mut b = a.clone();
        b.insert(
            "metrics.json".into(),
            b"{\"accuracy\": 0.6}\n{\"t\": 1}".to_vec(),
        );
        let m = fail(deterministic(&a, &b, &paths));
        assert!(
            m.starts_with("metrics.json differs between two runs"),
            "{m}"
        );
        assert!(m.contains("line 2"), "{m}");
        let m = fail(deterministic(&a, &a, &["model.onnx".to_string()]));
        assert!(
            m.contains("model.onnx was not written (files written: metrics.json, model.bin)"),
            "{m}"
        );
    }

    #[test]
    fn a_setting_must_change_some_output() {
        let file = |s: &str| s.as_bytes().to_vec();
        let default = BTreeMap::from([
            ("metrics.json".to_string(), file("{\"seed\": 42}")),
            ("model.json".to_string(), file("{}")),
        ]);
        let paths = vec!["metrics.json".to_string(), "model.json".to_string()];
        let shown = ("baseline --seed 7", "baseline");
        let mut seven = default.clone();
        seven.insert("metrics.json".into(), file("{\"seed\": 7}"));
        assert!(differs(&seven, &default, &paths, shown).is_ok());
        assert_eq!(
            fail(differs(&default, &default, &paths, shown)),
            "`baseline --seed 7` wrote the same metrics.json and model.json as `baseline`: the setting that differs between them changes nothing"
        );
        let mut partial = seven.clone();
        partial.remove("model.json");
        assert_eq!(
            fail(differs(&partial, &default, &paths, shown)),
            "`baseline --seed 7` did not write model.json (files written: metrics.json)"
        );
    }

    const DESIGN: &str = "# Wine quality\n\nIntro words here.\n\n## Problem\n\nPredict the quality of a red wine from eleven measurements so that a shop can price it.\n\n## Data\n\nThe red-wine data set: 1599 rows.\n\n```text\nnot counted words in a code block here\n```\n\n## Metric\n\n### Why accuracy\n\nAccuracy because classes are quality grades and errors cost the same.\n";

    #[test]
    fn markdown_sections_present_and_long_enough() {
        let s = sections_of(DESIGN);
        assert_eq!(
            s.iter()
                .map(|s| (s.heading.as_str(), s.words))
                .collect::<Vec<_>>(),
            vec![("Problem", 17), ("Data", 6), ("Metric", 11)]
        );
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(markdown_sections("DESIGN.md", DESIGN, &want(&["problem", "Metric"]), 10).is_ok());
        let m = fail(markdown_sections(
            "DESIGN.md",
            DESIGN,
            &want(&["Problem", "Risks", "Serving constraints"]),
            1,
        ));
        assert!(
            m.starts_with("DESIGN.md lacks the sections \"## Risks\", \"## Serving constraints\""),
            "{m}"
        );
        assert!(
            m.contains("its ## sections are: \"Problem\", \"Data\", \"Metric\""),
            "{m}"
        );
        let m = fail(markdown_sections(
            "DESIGN.md",
            DESIGN,
            &want(&["Problem", "Data"]),
            10,
        ));
        assert!(m.contains("too short: \"Data\" (6 words)"), "{m}");
        let m = fail(markdown_sections(
            "DESIGN.md",
            "no headings at all",
            &want(&["Risks"]),
            1,
        ));
        assert!(m.ends_with("sections are: none"), "{m}");
    }

    #[test]
    fn tree_files_refuse_links_and_missing_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("docs")).expect("mkdir");
        std::fs::write(dir.path().join("docs/DESIGN.md"), "# x").expect("write");
        assert_eq!(
            read_tree_file(dir.path(), "docs/DESIGN.md").expect("read"),
            b"# x"
        );
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("metrics.json")).expect("link");
        assert!(fail(read_tree_file(dir.path(), "metrics.json").map(|_| ())).contains("link"));
        assert!(
            fail(read_tree_file(dir.path(), "nope.md").map(|_| ()))
                .contains("not in the submission")
        );
    }

    #[test]
    fn toml_tables_present_missing_or_malformed() {
        let policy =
            b"[advisories]\nversion = 2\n\n[licenses]\nallow = [\"MIT\"]\n\n[bans.build]\n";
        let want = |ts: &[&str]| ts.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert!(
            toml_tables(
                "deny.toml",
                policy,
                &want(&["advisories", "licenses", "bans"])
            )
            .is_ok()
        );
        assert!(toml_tables("deny.toml", policy, &want(&["bans.build"])).is_ok());
        let m = match toml_tables(
            "deny.toml",
            policy,
            &want(&["advisories", "sources", "graph.targets"]),
        ) {
            Err(Problem::Fail(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(m, "deny.toml lacks the tables [sources], [graph.targets]");
        // A key that is not a table does not count.
        let m = match toml_tables("deny.toml", b"licenses = 3\n", &want(&["licenses"])) {
            Err(Problem::Fail(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(m, "deny.toml lacks the table [licenses]");
        let m = match toml_tables(
            "deny.toml",
            b"[bans]\nmultiple-versions = \n",
            &want(&["bans"]),
        ) {
            Err(Problem::Fail(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            m.starts_with("deny.toml is not valid TOML (line 2: "),
            "{m}"
        );
        assert_eq!(m.lines().count(), 1, "{m}");
    }
}
