//! Following a scenario in the browser.

use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::result::{Outcome, StepResult, page_text, quote};
use crate::scenario::{Action, Scenario, Step};

/// Pause between two polls of a waiting step.
const POLL: Duration = Duration::from_millis(5);
/// Bound on a step that does not wait (type, click, text, absent).
pub const IMMEDIATE: Duration = Duration::from_secs(10);
/// Extra time a step may take past its own bound before it is cut off (a
/// WebDriver command that hangs, e.g. on a page whose script never yields).
const GRACE: Duration = Duration::from_secs(3);

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The time a step may take at most.
pub fn step_bound(action: &Action, timeout: Duration) -> Duration {
    if action.is_waiting() {
        timeout + GRACE
    } else {
        IMMEDIATE + GRACE
    }
}

/// A WebDriver error as one short line.
fn describe(e: &CmdError) -> String {
    let s = match e {
        CmdError::Standard(w) => {
            let kind = w.error.to_string();
            if w.message.starts_with(&kind) {
                w.message.to_string()
            } else {
                format!("{kind}: {}", w.message)
            }
        }
        other => other.to_string(),
    };
    // chromedriver appends a multi-line "(Session info: …)" block: keep the first line.
    let first = s.lines().next().unwrap_or("").trim().to_string();
    crate::result::truncate(&first, 300)
}

/// Follow the scenario and record what happened. Never fails: every problem
/// becomes a step's `detail`.
pub async fn run(client: &Client, scenario: &Scenario, browser: String) -> Outcome {
    let timeout = Duration::from_millis(scenario.timeout_ms);
    let mut outcome = Outcome {
        url: scenario.url.clone(),
        browser,
        ..Outcome::default()
    };

    // The first step's clock includes loading the page.
    let first_started = Instant::now();
    match load(client, &scenario.url, timeout).await {
        Ok(()) => outcome.loaded = true,
        Err(why) => {
            let mut steps = scenario.steps.iter();
            if let Some(first) = steps.next() {
                outcome.results.0.push((
                    first.id.clone(),
                    StepResult::failed(
                        ms(first_started),
                        format!("the page at {} did not load: {why}", scenario.url),
                    ),
                ));
            }
            for step in steps {
                outcome.results.0.push((
                    step.id.clone(),
                    StepResult::failed(0, "not run: the page did not load"),
                ));
            }
            collect_console_errors(client, &mut outcome).await;
            return outcome;
        }
    }

    // Once a WebDriver command hangs (a page whose script never yields), the
    // session answers nothing more: the steps after it are not run.
    let mut stalled_at: Option<&str> = None;
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Some(at) = stalled_at {
            outcome.results.0.push((
                step.id.clone(),
                StepResult::failed(
                    0,
                    format!("not run: the browser stopped answering during step {at}"),
                ),
            ));
            continue;
        }
        let started = if i == 0 {
            first_started
        } else {
            Instant::now()
        };
        let failed_before = step.after.iter().find(|id| {
            !outcome
                .results
                .0
                .iter()
                .any(|(done, r)| done == *id && r.ok)
        });
        if let Some(id) = failed_before {
            outcome.results.0.push((
                step.id.clone(),
                StepResult::failed(0, format!("not judged: step {id} did not pass")),
            ));
            continue;
        }
        let bound = step_bound(&step.action, timeout);
        let result =
            match tokio::time::timeout(bound, run_step(client, step, timeout, started)).await {
                Ok(r) => r,
                Err(_) => {
                    stalled_at = Some(&step.id);
                    StepResult::failed(
                        ms(started),
                        format!("the browser did not answer within {} ms", bound.as_millis()),
                    )
                }
            };
        outcome.results.0.push((step.id.clone(), result));
    }
    if stalled_at.is_some() {
        return outcome;
    }
    collect_console_errors(client, &mut outcome).await;
    outcome
}

/// Navigate to the page. A refused connection is retried until the timeout
/// (the service may still be starting); a page whose load event never comes
/// counts as loaded if its document was parsed.
async fn load(client: &Client, url: &str, timeout: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let remaining = timeout.saturating_sub(started.elapsed());
        let attempt = tokio::time::timeout(remaining + GRACE, client.goto(url)).await;
        let why = match attempt {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) if e.is_timeout() => {
                if document_parsed(client).await {
                    return Ok(());
                }
                describe(&e)
            }
            Ok(Err(e)) => describe(&e),
            Err(_) => format!(
                "the browser did not answer within {} ms",
                (remaining + GRACE).as_millis()
            ),
        };
        if started.elapsed() + Duration::from_millis(250) >= timeout {
            return Err(why);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn document_parsed(client: &Client) -> bool {
    let state = tokio::time::timeout(
        Duration::from_secs(2),
        client.execute(
            "return [document.readyState, String(location.protocol)];",
            vec![],
        ),
    )
    .await;
    match state {
        Ok(Ok(Value::Array(v))) => {
            matches!(
                v.first().and_then(Value::as_str),
                Some("interactive" | "complete")
            ) && matches!(v.get(1).and_then(Value::as_str), Some("http:" | "https:"))
        }
        _ => false,
    }
}

async fn run_step(client: &Client, step: &Step, timeout: Duration, started: Instant) -> StepResult {
    let deadline = started + timeout;
    match &step.action {
        Action::Wait { selector } => wait(client, selector, deadline, started).await,
        // The field is cleared first: what a page left in it after the last
        // send is not part of this step's text.
        Action::Type { selector, text } => match find(client, selector).await {
            Ok(el) => match async {
                el.clear().await?;
                el.send_keys(text).await
            }
            .await
            {
                Ok(()) => StepResult::ok(ms(started)),
                Err(e) => StepResult::failed(
                    ms(started),
                    format!("typing into {selector} failed: {}", describe(&e)),
                ),
            },
            Err(detail) => StepResult::failed(ms(started), detail),
        },
        Action::Click { selector } => match find(client, selector).await {
            Ok(el) => match el.click().await {
                Ok(()) => StepResult::ok(ms(started)),
                Err(e) => StepResult::failed(
                    ms(started),
                    format!("clicking {selector} failed: {}", describe(&e)),
                ),
            },
            Err(detail) => StepResult::failed(ms(started), detail),
        },
        Action::WaitText {
            selector,
            contains,
            partial,
        } => wait_text(client, selector, contains, *partial, deadline, started).await,
        Action::WaitAttr {
            selector,
            name,
            equals,
        } => wait_attr(client, selector, name, equals, deadline, started).await,
        Action::Text { selector, contains } => match find(client, selector).await {
            Ok(el) => match el.text().await {
                Ok(text) => {
                    let r = match contains {
                        Some(want) if !text.contains(want.as_str()) => StepResult::failed(
                            ms(started),
                            format!(
                                "expected the text of {selector} to contain {want:?}, saw {}",
                                quote(&text)
                            ),
                        ),
                        _ => StepResult::ok(ms(started)),
                    };
                    r.with_text(&text)
                }
                Err(e) => StepResult::failed(
                    ms(started),
                    format!("reading the text of {selector} failed: {}", describe(&e)),
                ),
            },
            Err(detail) => StepResult::failed(ms(started), detail),
        },
        Action::Absent { selector } => match client.find_all(Locator::Css(selector)).await {
            Ok(found) if found.is_empty() => StepResult::ok(ms(started)),
            Ok(found) => {
                let what = if found.len() == 1 {
                    "an element matches".to_string()
                } else {
                    format!("{} elements match", found.len())
                };
                StepResult::failed(
                    ms(started),
                    format!("expected no element to match {selector}, but {what} {selector}"),
                )
            }
            Err(e) => StepResult::failed(
                ms(started),
                format!("looking for {selector} failed: {}", describe(&e)),
            ),
        },
    }
}

/// The first element matching `selector`, now.
async fn find(client: &Client, selector: &str) -> Result<Element, String> {
    match client.find(Locator::Css(selector)).await {
        Ok(el) => Ok(el),
        Err(e) if e.is_no_such_element() => Err(format!("no element matches {selector}")),
        Err(e) => Err(format!("looking for {selector} failed: {}", describe(&e))),
    }
}

/// Poll for the first element matching `selector` until the deadline.
/// `Ok(None)` means the deadline passed; `Err` an error that polling cannot cure.
async fn poll_find(
    client: &Client,
    selector: &str,
    deadline: Instant,
) -> Result<Option<Element>, String> {
    loop {
        match client.find_all(Locator::Css(selector)).await {
            Ok(mut found) if !found.is_empty() => return Ok(Some(found.swap_remove(0))),
            Ok(_) => {}
            Err(e) if e.is_invalid_selector() => {
                return Err(format!(
                    "{selector} is not a valid selector: {}",
                    describe(&e)
                ));
            }
            Err(e) if e.is_invalid_session_id() => {
                return Err(format!("the browser session ended: {}", describe(&e)));
            }
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn wait(client: &Client, selector: &str, deadline: Instant, started: Instant) -> StepResult {
    match poll_find(client, selector, deadline).await {
        Ok(Some(_)) => StepResult::ok(ms(started)),
        Ok(None) => StepResult::failed(
            ms(started),
            format!(
                "expected an element matching {selector}, none appeared within {} ms",
                ms(started)
            ),
        ),
        Err(detail) => StepResult::failed(ms(started), detail),
    }
}

/// What polling an element's text or attribute saw last.
enum Seen {
    Nothing,
    Value(Option<String>),
    Error(String),
}

async fn wait_text(
    client: &Client,
    selector: &str,
    contains: &str,
    partial: bool,
    deadline: Instant,
    started: Instant,
) -> StepResult {
    let mut element: Option<Element> = None;
    // The distinct texts seen before the wanted one (a few, each clipped):
    // the text grew if one of them begins the final text.
    let mut earlier: Vec<String> = Vec::new();
    let mut seen = Seen::Nothing;
    loop {
        if element.is_none() {
            match poll_find(client, selector, deadline).await {
                Ok(found) => element = found,
                Err(detail) => return StepResult::failed(ms(started), detail),
            }
        }
        if let Some(el) = &element {
            match el.text().await {
                Ok(text) => {
                    if text.contains(contains) {
                        let mut r = StepResult::ok(ms(started)).with_text(&text);
                        if partial {
                            r.partial_seen = Some(grew(&earlier, &text));
                        }
                        return r;
                    }
                    let part = text.trim_end();
                    if !part.is_empty()
                        && earlier.len() < MAX_EARLIER
                        && earlier.last().map(String::as_str) != Some(part)
                    {
                        earlier.push(part.chars().take(MAX_EARLIER_CHARS).collect());
                    }
                    seen = Seen::Value(Some(text));
                }
                Err(e) => {
                    // The element was replaced: find it again.
                    seen = Seen::Error(describe(&e));
                    element = None;
                }
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let saw = match &seen {
        Seen::Nothing => "no element matched".to_string(),
        Seen::Value(Some(t)) if t.is_empty() => "an empty text".to_string(),
        Seen::Value(t) => quote(t.as_deref().unwrap_or("")),
        Seen::Error(e) => format!("an error: {e}"),
    };
    let mut r = StepResult::failed(
        ms(started),
        format!(
            "expected the text of {selector} to contain {contains:?} within {} ms, saw {saw}",
            ms(started)
        ),
    );
    if let Seen::Value(Some(t)) = &seen {
        r.text = Some(page_text(t));
    }
    if partial {
        // The wanted text never came: nothing grew into it.
        r.partial_seen = Some(false);
    }
    r
}

/// Texts kept while waiting, at most, and characters of each.
const MAX_EARLIER: usize = 256;
const MAX_EARLIER_CHARS: usize = 4000;

/// Whether the element's text grew into `last`: some text seen before it
/// was a part of it, from its start (an answer streamed in). A placeholder
/// replaced by the answer, or an error message, is not.
fn grew(earlier: &[String], last: &str) -> bool {
    let last = last.trim_end();
    earlier
        .iter()
        .any(|part| part.len() < last.len() && last.starts_with(part.as_str()))
}

async fn wait_attr(
    client: &Client,
    selector: &str,
    name: &str,
    equals: &str,
    deadline: Instant,
    started: Instant,
) -> StepResult {
    let mut element: Option<Element> = None;
    let mut seen = Seen::Nothing;
    loop {
        if element.is_none() {
            match poll_find(client, selector, deadline).await {
                Ok(found) => element = found,
                Err(detail) => return StepResult::failed(ms(started), detail),
            }
        }
        if let Some(el) = &element {
            match el.attr(name).await {
                Ok(value) => {
                    if value.as_deref() == Some(equals) {
                        return StepResult::ok(ms(started));
                    }
                    seen = Seen::Value(value);
                }
                Err(e) => {
                    seen = Seen::Error(describe(&e));
                    element = None;
                }
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let saw = match &seen {
        Seen::Nothing => "no element matched".to_string(),
        Seen::Value(None) => "no such attribute".to_string(),
        Seen::Value(Some(v)) => quote(v),
        Seen::Error(e) => format!("an error: {e}"),
    };
    StepResult::failed(
        ms(started),
        format!(
            "expected attribute {name} of {selector} to equal {equals:?} within {} ms, saw {saw}",
            ms(started)
        ),
    )
}

/// chromedriver's `POST /session/{id}/se/log`: the browser's console log.
#[derive(Debug)]
struct GetLog;

impl fantoccini::wd::WebDriverCompatibleCommand for GetLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// Add the console's errors (level SEVERE) to the outcome; best effort.
async fn collect_console_errors(client: &Client, outcome: &mut Outcome) {
    let log = tokio::time::timeout(Duration::from_secs(3), client.issue_cmd(GetLog)).await;
    if let Ok(Ok(Value::Array(entries))) = log {
        for entry in entries {
            if entry.get("level").and_then(Value::as_str) != Some("SEVERE") {
                continue;
            }
            let Some(message) = entry.get("message").and_then(Value::as_str) else {
                continue;
            };
            // The browser asks for /favicon.ico by itself; a page without one
            // has no error of its own.
            let network = entry.get("source").and_then(Value::as_str) == Some("network");
            if network && message.contains("/favicon.ico") {
                continue;
            }
            outcome.push_console_error(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_grew_when_an_earlier_one_begins_it() {
        let seen = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(grew(
            &seen(&["Dotdrop", "Dotdrop installs"]),
            "Dotdrop installs it."
        ));
        assert!(!grew(&seen(&[]), "Dotdrop installs it."), "all at once");
        assert!(
            !grew(&seen(&["Thinking…"]), "Dotdrop installs it."),
            "a placeholder"
        );
        assert!(
            !grew(&seen(&["Dotdrop installs it."]), "Dotdrop installs it. "),
            "the same text"
        );
    }

    #[test]
    fn bounds() {
        let t = Duration::from_millis(2000);
        let wait = Action::Wait {
            selector: "#x".into(),
        };
        let click = Action::Click {
            selector: "#x".into(),
        };
        assert_eq!(step_bound(&wait, t), t + GRACE);
        assert_eq!(step_bound(&click, t), IMMEDIATE + GRACE);
    }

    #[test]
    fn webdriver_errors_are_one_short_line() {
        let e = CmdError::Standard(fantoccini::error::WebDriver::new(
            fantoccini::error::ErrorStatus::NoSuchElement,
            "no such element: Unable to locate element\n  (Session info: chrome=120)",
        ));
        let d = describe(&e);
        assert!(!d.contains('\n'));
        assert!(d.contains("Unable to locate element"), "{d}");
        assert!(!d.contains("Session info"), "{d}");
    }
}
