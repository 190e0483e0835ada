//! The events of a `/chat` answer, framed as Server-Sent Events.
//!
//! Every event is `event: <name>`, one `data:` line of compact JSON and the
//! blank line that delivers it. JSON keeps the data on one line whatever it
//! holds: a line break in the model's text is written `\n` inside a string,
//! so it can never end the field early or forge an event.

use serde_json::json;

/// One event, ready to send.
pub fn frame(event: &str, data: &serde_json::Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// First: the ids of the notes the answer is grounded in.
pub fn sources(ids: &[String]) -> String {
    frame("sources", &json!({ "sources": ids }))
}

/// One piece of the answer, as the model wrote it.
pub fn token(text: &str) -> String {
    frame("token", &json!({ "text": text }))
}

/// Last, after a whole answer: the session and its completed turns.
pub fn done(session_id: &str, turns: u64) -> String {
    frame("done", &json!({ "session_id": session_id, "turns": turns }))
}

/// Last, instead of `done`, when the answer broke off.
pub fn error(message: &str) -> String {
    frame("error", &json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventsource_stream::Eventsource;
    use futures_util::StreamExt;

    #[test]
    fn each_event_is_a_name_one_data_line_and_a_blank_line() {
        assert_eq!(
            sources(&["week05-dotfiles".into(), "week08-containers".into()]),
            "event: sources\ndata: {\"sources\":[\"week05-dotfiles\",\"week08-containers\"]}\n\n"
        );
        assert_eq!(
            token("Dotdrop "),
            "event: token\ndata: {\"text\":\"Dotdrop \"}\n\n"
        );
        assert_eq!(
            done("abc-1", 2),
            "event: done\ndata: {\"session_id\":\"abc-1\",\"turns\":2}\n\n"
        );
        assert_eq!(
            error("upstream closed"),
            "event: error\ndata: {\"error\":\"upstream closed\"}\n\n"
        );
    }

    #[test]
    fn line_breaks_and_markup_stay_inside_one_data_line() {
        let nasty = "two\nlines\r\n\ndata: forged\n\n<b>bold</b>";
        let framed = token(nasty);
        assert_eq!(framed.matches('\n').count(), 3, "{framed:?}");
        assert!(framed.ends_with("\n\n"));

        // Read back the way a client reads it: one event, the text intact.
        let stream = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(framed)]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let events: Vec<_> = runtime.block_on(stream.eventsource().collect());
        assert_eq!(events.len(), 1);
        let event = events[0].as_ref().expect("an event");
        assert_eq!(event.event, "token");
        let data: serde_json::Value = serde_json::from_str(&event.data).expect("json");
        assert_eq!(data["text"], nasty);
    }
}
