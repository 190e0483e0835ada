//! Week 14: the two halves of a retrieval chatbot that need no model.
//!
//! Retrieval: course notes cut into passages and ranked with BM25, the
//! lexical scoring function behind most search engines. Streaming: the
//! Server-Sent Events framing a chat service uses to send its answer to the
//! browser piece by piece, and a reader that parses it back.

use std::collections::HashMap;

// ANCHOR: chunk
/// A passage: the unit that is retrieved and shown to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// `source#n`: stable, so retrieval results can be compared with snapshots.
    pub id: String,
    pub text: String,
}

/// Cuts a document into passages: one per paragraph, and paragraphs longer
/// than `max_words` into windows of `max_words` words that share `overlap`
/// words with the window before, so a sentence cut at a border is whole in
/// one of the two.
pub fn chunk(source: &str, text: &str, max_words: usize, overlap: usize) -> Vec<Passage> {
    assert!(overlap < max_words, "the window must move forward");
    let mut passages = Vec::new();
    for paragraph in text.split("\n\n") {
        let words: Vec<&str> = paragraph.split_whitespace().collect();
        let mut start = 0;
        while start < words.len() {
            let end = (start + max_words).min(words.len());
            passages.push(Passage {
                id: format!("{source}#{}", passages.len()),
                text: words[start..end].join(" "),
            });
            if end == words.len() {
                break;
            }
            start = end - overlap;
        }
    }
    passages
}
// ANCHOR_END: chunk

// ANCHOR: tokenize
/// Words too common to tell passages apart.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "does", "for", "from", "how", "i", "in", "is",
    "it", "of", "on", "or", "that", "the", "this", "to", "what", "when", "which", "why", "with",
];

/// Lower-cases, splits on anything that is not a letter or a digit, and drops
/// stop words. Queries and passages go through the same function: a term
/// matches only if both sides spell it the same way.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}
// ANCHOR_END: tokenize

// ANCHOR: bm25
// ANCHOR: bm25_types
/// An in-memory BM25 index over a fixed set of passages.
#[derive(Debug)]
pub struct Bm25 {
    passages: Vec<Passage>,
    /// For each passage, how often each term occurs in it.
    term_counts: Vec<HashMap<String, u32>>,
    /// For each passage, its length in terms.
    lengths: Vec<f64>,
    /// For each term, how many passages contain it.
    doc_freq: HashMap<String, u32>,
    avg_len: f64,
    /// Saturation: how quickly repeating a term stops adding to the score.
    pub k1: f64,
    /// Length normalisation: 0 ignores length, 1 divides fully by it.
    pub b: f64,
}

/// One retrieved passage and its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub passage: &'a Passage,
    pub score: f64,
}
// ANCHOR_END: bm25_types

// ANCHOR: bm25_new
impl Bm25 {
    /// Indexes the passages with the usual defaults, k1 = 1.2 and b = 0.75.
    pub fn new(passages: Vec<Passage>) -> Self {
        let mut term_counts = Vec::with_capacity(passages.len());
        let mut lengths = Vec::with_capacity(passages.len());
        let mut doc_freq: HashMap<String, u32> = HashMap::new();
        for passage in &passages {
            let mut counts: HashMap<String, u32> = HashMap::new();
            let terms = tokenize(&passage.text);
            lengths.push(terms.len() as f64);
            for term in terms {
                *counts.entry(term).or_default() += 1;
            }
            for term in counts.keys() {
                *doc_freq.entry(term.clone()).or_default() += 1;
            }
            term_counts.push(counts);
        }
        let avg_len = if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().sum::<f64>() / lengths.len() as f64
        };
        Self {
            passages,
            term_counts,
            lengths,
            doc_freq,
            avg_len,
            k1: 1.2,
            b: 0.75,
        }
    }
    // ANCHOR_END: bm25_new

    // ANCHOR: bm25_score
    /// Inverse document frequency: high for rare terms, near 0 for terms in
    /// almost every passage. The `+ 1` inside the logarithm (as in Lucene)
    /// keeps it positive even for a term in more than half the passages.
    pub fn idf(&self, term: &str) -> f64 {
        let n = self.passages.len() as f64;
        let df = f64::from(self.doc_freq.get(term).copied().unwrap_or(0));
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// The BM25 score of passage `i` for a tokenized query.
    fn score(&self, i: usize, query: &[String]) -> f64 {
        let norm = 1.0 - self.b + self.b * self.lengths[i] / self.avg_len;
        query
            .iter()
            .map(|term| {
                let tf = f64::from(self.term_counts[i].get(term).copied().unwrap_or(0));
                self.idf(term) * tf * (self.k1 + 1.0) / (tf + self.k1 * norm)
            })
            .sum()
    }
    // ANCHOR_END: bm25_score

    // ANCHOR: bm25_search
    /// The `k` best passages for `query`, best first. Passages that share no
    /// term with the query are left out; equal scores keep the order of the
    /// index, so the same query always gives the same list.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit<'_>> {
        let mut terms = tokenize(query);
        terms.sort_unstable();
        terms.dedup();
        let mut hits: Vec<Hit<'_>> = (0..self.passages.len())
            .map(|i| Hit {
                passage: &self.passages[i],
                score: self.score(i, &terms),
            })
            .filter(|hit| hit.score > 0.0)
            .collect();
        // A stable sort: ties stay in index order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        hits
    }
}
// ANCHOR_END: bm25_search
// ANCHOR_END: bm25

// ANCHOR: sse
// ANCHOR: sse_types
/// One Server-Sent Event. Only `data` is required.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The event type; browsers dispatch it to `addEventListener(event, ...)`.
    pub event: Option<String>,
    /// The last id the client saw is sent back in `Last-Event-ID` on reconnect.
    pub id: Option<String>,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("the `{0}` field cannot hold a line break")]
    LineBreak(&'static str),
}
// ANCHOR_END: sse_types

// ANCHOR: sse_encode
impl SseEvent {
    pub fn data(data: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            ..Self::default()
        }
    }

    /// Frames the event for the wire: `event:` and `id:` lines if set, one
    /// `data:` line per line of the data, and a blank line that tells the
    /// client the event is complete.
    pub fn encode(&self) -> Result<String, SseError> {
        let mut out = String::new();
        if let Some(event) = &self.event {
            if event.contains(['\r', '\n']) {
                return Err(SseError::LineBreak("event"));
            }
            out.push_str(&format!("event: {event}\n"));
        }
        if let Some(id) = &self.id {
            if id.contains(['\r', '\n', '\0']) {
                return Err(SseError::LineBreak("id"));
            }
            out.push_str(&format!("id: {id}\n"));
        }
        // A line break inside the data would end the field early: split the
        // data into lines and send each as its own `data:` line. The client
        // joins them back with "\n".
        let normalised = self.data.replace("\r\n", "\n").replace('\r', "\n");
        for line in normalised.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Ok(out)
    }
}
// ANCHOR_END: sse_encode

// ANCHOR: sse_frames
/// The sentinel an OpenAI-compatible stream ends with.
pub const DONE: &str = "data: [DONE]\n\n";

/// A comment line: ignored by clients, but it keeps idle proxies from
/// closing a connection while the model is still thinking.
pub fn keep_alive() -> &'static str {
    ": keep-alive\n\n"
}
// ANCHOR_END: sse_frames
// ANCHOR_END: sse

// ANCHOR: sse_parse
/// Parses an event stream the way a browser's `EventSource` does: fields
/// accumulate until a blank line dispatches the event; comments, unknown
/// fields and an unfinished last event are dropped.
pub fn parse_events(stream: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut current = SseEvent::default();
    let mut data_lines: Vec<&str> = Vec::new();
    let normalised = stream.replace("\r\n", "\n").replace('\r', "\n");
    for raw in normalised.split_inclusive('\n') {
        // A last line without its line break is unfinished: stop there.
        let Some(line) = raw.strip_suffix('\n') else {
            break;
        };
        if line.is_empty() {
            if !data_lines.is_empty() {
                current.data = data_lines.join("\n");
                events.push(std::mem::take(&mut current));
            }
            data_lines.clear();
            current = SseEvent::default();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => data_lines.push(value),
            "event" => current.event = Some(value.to_owned()),
            "id" => current.id = Some(value.to_owned()),
            _ => {}
        }
    }
    events
}
// ANCHOR_END: sse_parse

#[cfg(test)]
mod tests {
    use super::*;

    /// A few of the course's own notes, the chatbot's knowledge base.
    const NOTES: &[(&str, &str)] = &[
        (
            "week08",
            "A multi-stage Dockerfile builds the service in a builder stage and copies only \
             the binary and the model into a small final image. The final image runs as a \
             non-root user.\n\nThe grader builds the image with the network off.",
        ),
        (
            "week09",
            "Kubernetes restarts a container whose liveness probe fails and stops sending \
             traffic to a pod whose readiness probe fails. On SIGTERM the service finishes \
             in-flight requests before it exits.",
        ),
        (
            "week11",
            "The service exposes Prometheus metrics: request counts, latency histograms and \
             a drift gauge. Drift compares live inputs with the training data using the \
             population stability index (PSI).",
        ),
        (
            "week13",
            "A serverless function pays a cold start when a new instance starts: the runtime \
             boots and the model loads before the first request is answered.",
        ),
    ];

    fn index() -> Bm25 {
        let passages = NOTES
            .iter()
            .flat_map(|(source, text)| chunk(source, text, 60, 10))
            .collect();
        Bm25::new(passages)
    }

    fn ids(hits: &[Hit<'_>]) -> Vec<String> {
        hits.iter().map(|h| h.passage.id.clone()).collect()
    }

    #[test]
    fn chunking_keeps_paragraphs_and_overlaps_long_ones() {
        let passages = chunk("week08", NOTES[0].1, 60, 10);
        assert_eq!(ids_of(&passages), ["week08#0", "week08#1"]);
        assert!(passages[1].text.starts_with("The grader builds"));

        let long = (1..=25)
            .map(|n| format!("w{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let windows = chunk("long", &long, 10, 3);
        let texts: Vec<&str> = windows.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10",
                "w8 w9 w10 w11 w12 w13 w14 w15 w16 w17",
                "w15 w16 w17 w18 w19 w20 w21 w22 w23 w24",
                "w22 w23 w24 w25",
            ]
        );
    }

    fn ids_of(passages: &[Passage]) -> Vec<&str> {
        passages.iter().map(|p| p.id.as_str()).collect()
    }

    #[test]
    fn tokenizing_lowercases_splits_and_drops_stop_words() {
        assert_eq!(
            tokenize("What is the multi-stage Dockerfile for? Port 8080!"),
            ["multi", "stage", "dockerfile", "port", "8080"]
        );
    }

    #[test]
    fn the_passage_that_answers_the_question_ranks_first() {
        let index = index();
        let cases = [
            ("How do I keep the final image small?", "week08#0"),
            ("what happens when the readiness probe fails", "week09#0"),
            ("How is drift measured? PSI", "week11#0"),
            (
                "why is the first request slow after a cold start",
                "week13#0",
            ),
        ];
        for (query, expected) in cases {
            let hits = index.search(query, 3);
            assert_eq!(
                hits.first().map(|h| h.passage.id.as_str()),
                Some(expected),
                "{query}"
            );
        }
    }

    #[test]
    fn results_are_sorted_limited_and_leave_out_non_matches() {
        let index = index();
        let hits = index.search("service image model", 10);
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(hits.iter().all(|h| h.score > 0.0));
        assert_eq!(index.search("service image model", 2).len(), 2);
        assert!(index.search("sommelier vintage", 5).is_empty());
        assert!(index.search("the of and", 5).is_empty(), "stop words only");
    }

    #[test]
    fn rare_terms_weigh_more_than_common_ones() {
        let index = index();
        // "image" is in two passages, "psi" in one, "sommelier" in none.
        assert!(index.idf("psi") > index.idf("image"));
        assert!(index.idf("image") > 0.0);
        assert!(index.idf("sommelier") > index.idf("psi"));
    }

    #[test]
    fn a_shorter_passage_wins_when_term_counts_are_equal() {
        let passages = vec![
            Passage {
                id: "long#0".into(),
                text: "drift alert with many other words about dashboards panels queries and \
                       alert rules"
                    .into(),
            },
            Passage {
                id: "short#0".into(),
                text: "drift alert".into(),
            },
        ];
        let index = Bm25::new(passages);
        assert_eq!(ids(&index.search("drift", 2)), ["short#0", "long#0"]);
    }

    #[test]
    fn repeating_a_term_saturates() {
        let passage = |id: &str, text: &str| Passage {
            id: id.into(),
            text: text.into(),
        };
        let index = Bm25::new(vec![
            passage("one", "drift x x x x x x x x x"),
            passage("two", "drift drift x x x x x x x x"),
            passage(
                "ten",
                "drift drift drift drift drift drift drift drift drift drift",
            ),
            passage("none", "y y y y y y y y y y"),
        ]);
        let hits = index.search("drift", 3);
        let score = |id: &str| {
            hits.iter()
                .find(|h| h.passage.id == id)
                .map(|h| h.score)
                .expect("retrieved")
        };
        assert!(score("two") > score("one"));
        assert!(score("ten") > score("two"));
        // Ten times the occurrences is far from ten times the score: the
        // score can never exceed idf * (k1 + 1).
        assert!(score("ten") < 2.0 * score("one"));
        assert!(score("ten") < index.idf("drift") * (index.k1 + 1.0));
    }

    #[test]
    fn ties_keep_index_order() {
        let same = |id: &str| Passage {
            id: id.into(),
            text: "grafana dashboard".into(),
        };
        let index = Bm25::new(vec![same("b"), same("a"), same("c")]);
        assert_eq!(ids(&index.search("dashboard", 3)), ["b", "a", "c"]);
    }

    #[test]
    fn an_event_is_data_lines_and_a_blank_line() {
        let frame = SseEvent::data(r#"{"delta":"Quality"}"#)
            .encode()
            .expect("valid");
        assert_eq!(frame, "data: {\"delta\":\"Quality\"}\n\n");
        assert!(frame.ends_with("\n\n"));
    }

    #[test]
    fn multi_line_data_becomes_several_data_lines() {
        let frame = SseEvent::data("line one\nline two\r\nline three")
            .encode()
            .expect("valid");
        assert_eq!(
            frame,
            "data: line one\ndata: line two\ndata: line three\n\n"
        );
        assert_eq!(
            parse_events(&frame),
            [SseEvent::data("line one\nline two\nline three")]
        );
    }

    #[test]
    fn event_and_id_fields_come_before_the_data() {
        let event = SseEvent {
            event: Some("sources".into()),
            id: Some("7".into()),
            data: r#"["week08#0"]"#.into(),
        };
        let frame = event.encode().expect("valid");
        assert_eq!(frame, "event: sources\nid: 7\ndata: [\"week08#0\"]\n\n");
        assert_eq!(parse_events(&frame), [event]);

        let bad = SseEvent {
            event: Some("two\nlines".into()),
            ..SseEvent::default()
        };
        assert_eq!(bad.encode(), Err(SseError::LineBreak("event")));
    }

    #[test]
    fn a_whole_answer_streams_and_ends_with_done() {
        let mut stream = String::from(keep_alive());
        for token in ["Alcohol ", "raises ", "quality."] {
            let json = serde_json::json!({ "delta": token }).to_string();
            stream.push_str(&SseEvent::data(json).encode().expect("valid"));
        }
        stream.push_str(DONE);

        assert!(stream.ends_with("data: [DONE]\n\n"));
        let events = parse_events(&stream);
        assert_eq!(
            events.len(),
            4,
            "three tokens and [DONE]; the comment is dropped"
        );
        assert_eq!(events[3].data, "[DONE]");
        let answer: String = events[..3]
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.data).expect("json");
                v["delta"].as_str().expect("a string").to_owned()
            })
            .collect();
        assert_eq!(answer, "Alcohol raises quality.");
    }

    #[test]
    fn an_unterminated_event_is_not_delivered() {
        assert!(parse_events("data: half an answer\n").is_empty());
        assert_eq!(
            parse_events("data: whole\n\ndata: half"),
            [SseEvent::data("whole")]
        );
    }
}
