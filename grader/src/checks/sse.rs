//! Holding a server-sent-events answer (`text/event-stream`) to an
//! expectation: the events' order, what their data joins to, how many came,
//! and whether they came as they were made or all at once.
//!
//! The body is read whole first (as every HTTP answer is, up to the cap),
//! with the time each chunk arrived; it is then parsed with
//! `eventsource-stream` over those same chunks, so each event is dated by
//! the chunk that completed it.

use super::http::Answer;
use super::{Outcome, Problem, clip};
use crate::spec::SseExpect;
use eventsource_stream::Eventsource;
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;
use std::cell::Cell;
use std::convert::Infallible;

/// One event as the grader read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its `event:` field, `message` when it had none (as browsers name it).
    pub name: String,
    pub data: String,
    /// When the chunk that completed it arrived, in ms since the request was sent.
    pub at_ms: u64,
}

/// The answer's events, in order; a body that is not an event stream gives
/// a one-line reason. The chunks are all in hand, so the parser's stream is
/// always ready and is driven without a runtime.
pub fn events(answer: &Answer) -> Result<Vec<Event>, String> {
    let current = Cell::new(0u64);
    let chunks = futures_util::stream::iter(answer.chunks.iter().map(|(bytes, at)| {
        current.set(*at);
        Ok::<_, Infallible>(bytes.clone())
    }));
    let mut stream = chunks.eventsource();
    let mut out = Vec::new();
    while let Some(Some(event)) = stream.next().now_or_never() {
        let event = event.map_err(|e| format!("not an event stream: {e}"))?;
        out.push(Event {
            name: if event.event.is_empty() {
                "message".to_string()
            } else {
                event.event
            },
            data: event.data,
            at_ms: current.get(),
        });
    }
    Ok(out)
}

/// Holds the events to `want`; `what` names the request in messages.
pub fn judge(what: &str, want: &SseExpect, events: &[Event]) -> Outcome {
    let fail = |m: String| Err(Problem::Fail(format!("{what}: {m}")));
    if events.is_empty() {
        return fail("the answer holds no server-sent event".into());
    }
    let mut runs: Vec<&str> = Vec::new();
    for e in events {
        if runs.last() != Some(&e.name.as_str()) {
            runs.push(&e.name);
        }
    }
    if !want.events.is_empty() && runs != want.events {
        return fail(format!(
            "expected the events {} in that order, got {}",
            want.events.join(", "),
            clip(&runs.join(", "), 200)
        ));
    }
    let mut parsed = Vec::with_capacity(events.len());
    for e in events {
        match serde_json::from_str::<Value>(&e.data) {
            Ok(v) => parsed.push(v),
            Err(_) => {
                return fail(format!(
                    "the data of a \"{}\" event is not one line of JSON: {}",
                    clip(&e.name, 40),
                    clip(&e.data, 120)
                ));
            }
        }
    }
    for (name, min) in &want.min_count {
        let n = events.iter().filter(|e| &e.name == name).count();
        if n < *min {
            return fail(format!(
                "expected at least {min} \"{name}\" events (the answer streamed in pieces), got {n}"
            ));
        }
    }
    for (key, expected) in &want.at {
        let (name, pointer) = split_at_key(key);
        let Some(i) = events.iter().position(|e| e.name == name) else {
            return fail(format!("no \"{name}\" event to read {pointer} from"));
        };
        match parsed[i].pointer(pointer) {
            Some(got) if got == expected => {}
            got => {
                return fail(format!(
                    "expected {pointer} of the \"{name}\" event to be {expected}, got {}",
                    got.map_or("nothing".to_string(), |g| clip(&g.to_string(), 120))
                ));
            }
        }
    }
    if let Some(join) = &want.join {
        let mut text = String::new();
        for (e, v) in events.iter().zip(&parsed) {
            if e.name != join.event {
                continue;
            }
            match v.pointer(&join.pointer).and_then(Value::as_str) {
                Some(piece) => text.push_str(piece),
                None => {
                    return fail(format!(
                        "a \"{}\" event has no text at {}: {}",
                        join.event,
                        join.pointer,
                        clip(&e.data, 120)
                    ));
                }
            }
        }
        if text != join.equals {
            return fail(format!(
                "the \"{}\" events join to {:?}, expected {:?}",
                join.event,
                clip(&text, 200),
                join.equals
            ));
        }
    }
    if let Some(spread) = &want.spread {
        let mut times = events
            .iter()
            .filter(|e| e.name == spread.event)
            .map(|e| e.at_ms);
        let first = times.next().unwrap_or(0);
        let got = times
            .next_back()
            .map_or(0, |last| last.saturating_sub(first));
        if got < spread.min_ms {
            return fail(format!(
                "the \"{}\" events all came within {got} ms, expected them spread over at least {} ms as the upstream sent them (relayed, not buffered)",
                spread.event, spread.min_ms
            ));
        }
    }
    Ok(())
}

/// `"done/turns"` is the pointer `/turns` into the `done` event's data.
pub fn split_at_key(key: &str) -> (&str, &str) {
    match key.find('/') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{SseJoin, SseSpread};
    use bytes::Bytes;
    use std::collections::BTreeMap;

    fn answer(chunks: &[(&str, u64)]) -> Answer {
        Answer {
            status: 200,
            redirect: String::new(),
            content_type: Some("text/event-stream".into()),
            body: chunks.iter().flat_map(|(c, _)| c.bytes()).collect(),
            chunks: chunks
                .iter()
                .map(|(c, at)| (Bytes::from(c.to_string()), *at))
                .collect(),
        }
    }

    fn streamed() -> Answer {
        answer(&[
            ("event: sources\ndata: {\"sources\":[\"week05\"]}\n\n", 5),
            ("event: token\ndata: {\"text\":\"Dotdrop \"}\n\n", 10),
            ("event: token\ndata: {\"text\":\"installs.\"}", 300),
            ("\n\nevent: done\ndata: {\"turns\":1}\n\n", 400),
        ])
    }

    fn want() -> SseExpect {
        SseExpect {
            events: vec!["sources".into(), "token".into(), "done".into()],
            min_count: BTreeMap::from([("token".into(), 2)]),
            at: BTreeMap::from([
                ("sources/sources/0".into(), Value::from("week05")),
                ("done/turns".into(), Value::from(1)),
            ]),
            join: Some(SseJoin {
                event: "token".into(),
                pointer: "/text".into(),
                equals: "Dotdrop installs.".into(),
            }),
            spread: Some(SseSpread {
                event: "token".into(),
                min_ms: 200,
            }),
        }
    }

    fn verdict(a: &Answer, w: &SseExpect) -> Outcome {
        let events = events(a).expect("parses");
        judge("POST /chat", w, &events)
    }

    fn message(o: Outcome) -> String {
        match o {
            Err(Problem::Fail(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn events_are_dated_by_the_chunk_that_completed_them() {
        let events = events(&streamed()).expect("parses");
        let names: Vec<_> = events.iter().map(|e| (e.name.as_str(), e.at_ms)).collect();
        assert_eq!(
            names,
            [("sources", 5), ("token", 10), ("token", 400), ("done", 400)]
        );
        verdict(&streamed(), &want()).expect("a well-made stream passes");
    }

    #[test]
    fn each_part_of_the_expectation_fails_on_its_own() {
        let mut w = want();
        w.events = vec!["sources".into(), "done".into()];
        assert!(message(verdict(&streamed(), &w)).contains("in that order"));

        let mut w = want();
        w.min_count.insert("token".into(), 3);
        assert!(message(verdict(&streamed(), &w)).contains("at least 3"));

        let mut w = want();
        w.at.insert("done/turns".into(), Value::from(2));
        assert!(message(verdict(&streamed(), &w)).contains("/turns"));

        let mut w = want();
        if let Some(j) = w.join.as_mut() {
            j.equals = "Dotdrop renders.".into();
        }
        assert!(message(verdict(&streamed(), &w)).contains("join to"));

        let buffered = answer(&[(
            "event: sources\ndata: {\"sources\":[\"week05\"]}\n\nevent: token\ndata: {\"text\":\"Dotdrop \"}\n\nevent: token\ndata: {\"text\":\"installs.\"}\n\nevent: done\ndata: {\"turns\":1}\n\n",
            400,
        )]);
        assert!(message(verdict(&buffered, &want())).contains("relayed, not buffered"));
    }

    #[test]
    fn data_must_be_json_and_a_body_must_hold_events() {
        let bad = answer(&[("event: token\ndata: <b>hi</b>\n\n", 1)]);
        let any = SseExpect::default();
        assert!(message(verdict(&bad, &any)).contains("not one line of JSON"));
        let none = answer(&[("{\"error\":\"x\"}", 1)]);
        assert!(message(verdict(&none, &want())).contains("no server-sent event"));
    }
}
