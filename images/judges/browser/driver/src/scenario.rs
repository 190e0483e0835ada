//! The scenario file: what to load and which steps to follow.
//!
//! Parsing is strict (unknown fields are errors) and every error is one line
//! that names the offending field, so the grader's author sees at once what is
//! wrong with a scenario.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

/// Default time a waiting step may take, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// Default port for chromedriver.
pub const DEFAULT_DRIVER_PORT: u16 = 9515;
/// Longest accepted `timeout_ms` (5 minutes): keeps the total run bounded.
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// Most steps a scenario may have.
pub const MAX_STEPS: usize = 100;

/// A scenario that parsed and passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub url: String,
    pub timeout_ms: u64,
    pub driver_port: u16,
    pub steps: Vec<Step>,
}

/// One step: its id and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub action: Action,
    /// Earlier steps that must have passed for this one to be judged: an
    /// `absent` check means nothing if the answer it looks into never came.
    pub after: Vec<String>,
}

/// What a step does (exactly one per step).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An element matching the selector appears within the timeout.
    Wait { selector: String },
    /// Send keys to the element.
    Type { selector: String, text: String },
    /// Click the element.
    Click { selector: String },
    /// The element's visible text contains `contains` within the timeout.
    WaitText {
        selector: String,
        contains: String,
        partial: bool,
    },
    /// The element's attribute equals `equals` within the timeout.
    WaitAttr {
        selector: String,
        name: String,
        equals: String,
    },
    /// Immediately: the element exists and (if given) its text contains `contains`.
    Text {
        selector: String,
        contains: Option<String>,
    },
    /// Immediately: no element matches the selector.
    Absent { selector: String },
}

impl Action {
    /// Whether the step polls until its timeout.
    pub fn is_waiting(&self) -> bool {
        matches!(
            self,
            Action::Wait { .. } | Action::WaitText { .. } | Action::WaitAttr { .. }
        )
    }

    /// The name of the step kind, as written in the scenario.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Wait { .. } => "wait",
            Action::Type { .. } => "type",
            Action::Click { .. } => "click",
            Action::WaitText { .. } => "wait_text",
            Action::WaitAttr { .. } => "wait_attr",
            Action::Text { .. } => "text",
            Action::Absent { .. } => "absent",
        }
    }
}

/// A scenario that could not be read, parsed or validated. Its message is one line.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError(pub String);

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ScenarioError> {
    Err(ScenarioError(msg.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    url: String,
    timeout_ms: Option<u64>,
    driver_port: Option<u16>,
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    #[serde(default)]
    after: Vec<String>,
    wait: Option<String>,
    #[serde(rename = "type")]
    type_: Option<RawType>,
    click: Option<String>,
    wait_text: Option<RawWaitText>,
    wait_attr: Option<RawWaitAttr>,
    text: Option<RawText>,
    absent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    selector: String,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaitText {
    selector: String,
    contains: String,
    #[serde(default)]
    partial: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaitAttr {
    selector: String,
    name: String,
    equals: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    selector: String,
    contains: Option<String>,
}

/// Parse and validate a scenario from its JSON text.
pub fn parse(json: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = match serde_json::from_str(json) {
        Ok(raw) => raw,
        Err(e) => return err(one_line(&e.to_string())),
    };
    validate(raw)
}

fn validate(raw: RawScenario) -> Result<Scenario, ScenarioError> {
    match url::Url::parse(&raw.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        Ok(_) => return err(format!("url: {:?} is not an http(s) URL", raw.url)),
        Err(e) => return err(format!("url: {:?} does not parse: {e}", raw.url)),
    }
    let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
        return err(format!(
            "timeout_ms: {timeout_ms} is out of range (1 to {MAX_TIMEOUT_MS})"
        ));
    }
    let driver_port = raw.driver_port.unwrap_or(DEFAULT_DRIVER_PORT);
    if driver_port == 0 {
        return err("driver_port: 0 is not a port (1 to 65535)");
    }
    if raw.steps.is_empty() {
        return err("steps: there must be at least one step");
    }
    if raw.steps.len() > MAX_STEPS {
        return err(format!(
            "steps: {} steps, at most {MAX_STEPS} are allowed",
            raw.steps.len()
        ));
    }
    let mut seen = HashSet::new();
    let mut steps = Vec::with_capacity(raw.steps.len());
    for (i, raw_step) in raw.steps.into_iter().enumerate() {
        let step = validate_step(i, raw_step)?;
        if let Some(unknown) = step.after.iter().find(|a| !seen.contains(*a)) {
            return err(format!(
                "steps[{i}].after: {unknown:?} is not an earlier step's id"
            ));
        }
        if !seen.insert(step.id.clone()) {
            return err(format!("steps[{i}].id: {:?} is used twice", step.id));
        }
        steps.push(step);
    }
    Ok(Scenario {
        url: raw.url,
        timeout_ms,
        driver_port,
        steps,
    })
}

fn validate_step(i: usize, raw: RawStep) -> Result<Step, ScenarioError> {
    let id = raw.id;
    if id.is_empty() || id.len() > 64 {
        return err(format!("steps[{i}].id: must be 1 to 64 characters"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return err(format!(
            "steps[{i}].id: {id:?} may only hold letters, digits, '_' and '-'"
        ));
    }
    let at = format!("steps[{i}] ({id:?})");
    let mut actions: Vec<Action> = Vec::new();
    if let Some(selector) = raw.wait {
        actions.push(Action::Wait { selector });
    }
    if let Some(t) = raw.type_ {
        actions.push(Action::Type {
            selector: t.selector,
            text: t.text,
        });
    }
    if let Some(selector) = raw.click {
        actions.push(Action::Click { selector });
    }
    if let Some(w) = raw.wait_text {
        if w.contains.is_empty() {
            return err(format!("{at}.wait_text.contains: must not be empty"));
        }
        actions.push(Action::WaitText {
            selector: w.selector,
            contains: w.contains,
            partial: w.partial,
        });
    }
    if let Some(w) = raw.wait_attr {
        if w.name.is_empty() {
            return err(format!("{at}.wait_attr.name: must not be empty"));
        }
        actions.push(Action::WaitAttr {
            selector: w.selector,
            name: w.name,
            equals: w.equals,
        });
    }
    if let Some(t) = raw.text {
        actions.push(Action::Text {
            selector: t.selector,
            contains: t.contains,
        });
    }
    if let Some(selector) = raw.absent {
        actions.push(Action::Absent { selector });
    }
    let action = match actions.len() {
        1 => actions.remove(0),
        0 => {
            return err(format!(
                "{at}: no step kind; give exactly one of wait, type, click, wait_text, wait_attr, text, absent"
            ));
        }
        _ => {
            let kinds: Vec<&str> = actions.iter().map(Action::kind).collect();
            return err(format!(
                "{at}: {} step kinds ({}); give exactly one",
                kinds.len(),
                kinds.join(", ")
            ));
        }
    };
    let selector = match &action {
        Action::Wait { selector }
        | Action::Type { selector, .. }
        | Action::Click { selector }
        | Action::WaitText { selector, .. }
        | Action::WaitAttr { selector, .. }
        | Action::Text { selector, .. }
        | Action::Absent { selector } => selector,
    };
    if selector.trim().is_empty() {
        return err(format!("{at}.{}: the selector is empty", action.kind()));
    }
    Ok(Step {
        id,
        action,
        after: raw.after,
    })
}

/// Replace line breaks and other control characters by spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_names_earlier_steps_only() {
        let with_after = |after: &str| {
            format!(
                r##"{{"url":"http://h/","steps":[{{"id":"a","wait":"#x"}},{{"id":"b","absent":"#y","after":[{after}]}}]}}"##
            )
        };
        let ok = parse(&with_after("\"a\"")).expect("after an earlier step");
        assert_eq!(ok.steps[1].after, ["a"]);
        let later = parse(&with_after("\"b\"")).expect_err("itself");
        assert!(later.to_string().contains("steps[1].after"), "{later}");
    }

    const EXAMPLE: &str = r##"{
      "url": "http://127.0.0.1:8080/",
      "timeout_ms": 20000,
      "driver_port": 9515,
      "steps": [
        {"id": "load", "wait": "#message"},
        {"id": "ask", "type": {"selector": "#message", "text": "What does dotdrop do?"}},
        {"id": "send", "click": "#send"},
        {"id": "answer", "wait_text": {"selector": "#answer", "contains": "Dotdrop installs", "partial": true}},
        {"id": "done", "wait_attr": {"selector": "#answer", "name": "data-state", "equals": "done"}},
        {"id": "sources", "text": {"selector": "#sources", "contains": "week05-dotfiles"}},
        {"id": "markup", "absent": "#injected"}
      ]
    }"##;

    fn parse_err(json: &str) -> String {
        match parse(json) {
            Ok(s) => panic!("expected an error, parsed {s:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn parses_the_example() {
        let s = parse(EXAMPLE).unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8080/");
        assert_eq!(s.timeout_ms, 20000);
        assert_eq!(s.driver_port, 9515);
        let kinds: Vec<&str> = s.steps.iter().map(|s| s.action.kind()).collect();
        assert_eq!(
            kinds,
            [
                "wait",
                "type",
                "click",
                "wait_text",
                "wait_attr",
                "text",
                "absent"
            ]
        );
        assert_eq!(
            s.steps[3].action,
            Action::WaitText {
                selector: "#answer".into(),
                contains: "Dotdrop installs".into(),
                partial: true
            }
        );
        assert!(s.steps[0].action.is_waiting());
        assert!(!s.steps[1].action.is_waiting());
    }

    #[test]
    fn defaults() {
        let s = parse(r##"{"url":"http://127.0.0.1:8080/","steps":[{"id":"a","wait":"#x"}]}"##)
            .unwrap();
        assert_eq!(s.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(s.driver_port, DEFAULT_DRIVER_PORT);
        let s = parse(
            r##"{"url":"http://h/","steps":[{"id":"a","wait_text":{"selector":"#x","contains":"y"}},{"id":"b","text":{"selector":"#x"}}]}"##,
        )
        .unwrap();
        assert_eq!(
            s.steps[0].action,
            Action::WaitText {
                selector: "#x".into(),
                contains: "y".into(),
                partial: false
            }
        );
        assert_eq!(
            s.steps[1].action,
            Action::Text {
                selector: "#x".into(),
                contains: None
            }
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let e = parse_err(r##"{"url":"http://h/","steps":[],"timeout":5}"##);
        assert!(e.contains("unknown field `timeout`"), "{e}");
        let e = parse_err(r##"{"url":"http://h/","steps":[{"id":"a","wiat":"#x"}]}"##);
        assert!(e.contains("unknown field `wiat`"), "{e}");
        let e = parse_err(
            r##"{"url":"http://h/","steps":[{"id":"a","wait_text":{"selector":"#x","contains":"y","partal":true}}]}"##,
        );
        assert!(e.contains("unknown field `partal`"), "{e}");
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let e = parse_err(r##"{"steps":[]}"##);
        assert!(e.contains("missing field `url`"), "{e}");
        let e = parse_err(r##"{"url":"http://h/","steps":[{"wait":"#x"}]}"##);
        assert!(e.contains("missing field `id`"), "{e}");
        let e = parse_err(r##"{"url":"http://h/","steps":[{"id":"a","type":{"selector":"#x"}}]}"##);
        assert!(e.contains("missing field `text`"), "{e}");
        let e = parse_err(r##"{"url":"http://h/","driver_port":70000,"steps":[]}"##);
        assert!(e.contains("70000"), "{e}");
        let e = parse_err(r##"{"url":"http://h/","timeout_ms":"5","steps":[]}"##);
        assert!(e.contains("invalid type"), "{e}");
    }

    #[test]
    fn step_kinds_exactly_one() {
        let e = parse_err(r##"{"url":"http://h/","steps":[{"id":"a"}]}"##);
        assert!(e.contains("steps[0] (\"a\"): no step kind"), "{e}");
        let e = parse_err(
            r##"{"url":"http://h/","steps":[{"id":"a","wait":"#x"},{"id":"b","click":"#y","absent":"#z"}]}"##,
        );
        assert!(
            e.contains("steps[1] (\"b\"): 2 step kinds (click, absent)"),
            "{e}"
        );
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (
                r##"{"url":"ftp://h/","steps":[{"id":"a","wait":"#x"}]}"##,
                "url:",
            ),
            (
                r##"{"url":"not a url","steps":[{"id":"a","wait":"#x"}]}"##,
                "url:",
            ),
            (
                r##"{"url":"http://h/","timeout_ms":0,"steps":[{"id":"a","wait":"#x"}]}"##,
                "timeout_ms:",
            ),
            (
                r##"{"url":"http://h/","timeout_ms":999999999,"steps":[{"id":"a","wait":"#x"}]}"##,
                "timeout_ms:",
            ),
            (
                r##"{"url":"http://h/","driver_port":0,"steps":[{"id":"a","wait":"#x"}]}"##,
                "driver_port:",
            ),
            (r##"{"url":"http://h/","steps":[]}"##, "steps:"),
            (
                r##"{"url":"http://h/","steps":[{"id":"","wait":"#x"}]}"##,
                "steps[0].id:",
            ),
            (
                r##"{"url":"http://h/","steps":[{"id":"a/b","wait":"#x"}]}"##,
                "steps[0].id:",
            ),
            (
                r##"{"url":"http://h/","steps":[{"id":"a","wait":"#x"},{"id":"a","wait":"#y"}]}"##,
                "steps[1].id: \"a\" is used twice",
            ),
            (
                r##"{"url":"http://h/","steps":[{"id":"a","click":"  "}]}"##,
                "steps[0] (\"a\").click: the selector is empty",
            ),
            (
                r##"{"url":"http://h/","steps":[{"id":"a","wait_text":{"selector":"#x","contains":""}}]}"##,
                "steps[0] (\"a\").wait_text.contains",
            ),
            (
                r##"{"url":"http://h/","steps":[{"id":"a","wait_attr":{"selector":"#x","name":"","equals":"y"}}]}"##,
                "steps[0] (\"a\").wait_attr.name",
            ),
        ];
        for (json, want) in cases {
            let e = parse_err(json);
            assert!(e.contains(want), "{json}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn errors_are_one_line() {
        let e = parse_err(
            "{\n\"url\": \"http://h/\",\n\"steps\": [\n{\"id\": \"a\", \"bogus\": 1}\n]\n}",
        );
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("line 4"), "{e}");
        let e = parse_err("not json");
        assert!(!e.contains('\n'), "{e}");
    }
}
