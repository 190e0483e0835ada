//! The fakes the grader serves: services a lab declares under `[fakes]` (an
//! OpenAI-compatible endpoint, the AWS Lambda Runtime API) that the
//! submission reaches at 127.0.0.1 inside its own network namespace.
//!
//! The probe holds each fake's port there; a connection it accepts becomes a
//! yamux stream to the grader, headed by the port (see `docker::relay`), and
//! the grader answers it here with hyper. So the submission reaches these
//! services as local ones and still nothing else, and every byte it sends
//! them is read by code that trusts none of it: bodies and transcripts are
//! capped, slow headers time out.

mod lambda;
mod openai;

pub use lambda::{Answer, Lambda};

use crate::spec::FakeSpec;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body a fake reads; a larger one is answered 413.
const BODY_CAP: usize = 256 << 10;
/// Connections the fakes serve at once; more wait their turn. With the body
/// cap, this bounds what a flood of connections costs the grader's memory.
const SERVED_AT_ONCE: usize = 64;
/// The most calls a transcript keeps (each clipped); later ones are counted.
const KEPT_CALLS: usize = 1000;
/// The longest text a transcript keeps of one message or answer.
const KEPT_TEXT: usize = 4000;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The lab's fakes, by port and by name, for one grade.
pub struct Fakes {
    by_name: BTreeMap<String, Fake>,
    /// Each port's fake, by name.
    ports: BTreeMap<u16, String>,
    slots: tokio::sync::Semaphore,
}

#[derive(Clone)]
enum Fake {
    OpenAi(Arc<openai::OpenAi>),
    Lambda(Arc<Lambda>),
}

impl Fakes {
    /// Fresh fakes for a grade (empty transcripts), from the lab's
    /// declarations; `lab` names the function a Lambda fake plays.
    pub fn new(specs: &BTreeMap<String, FakeSpec>, lab: &str) -> Arc<Fakes> {
        let mut fakes = Fakes {
            by_name: BTreeMap::new(),
            ports: BTreeMap::new(),
            slots: tokio::sync::Semaphore::new(SERVED_AT_ONCE),
        };
        for (name, spec) in specs {
            let fake = match spec {
                FakeSpec::OpenAi {
                    reply,
                    replies,
                    rate_limit,
                    retry_after_secs,
                    chunk_delay_ms,
                    ..
                } => Fake::OpenAi(Arc::new(openai::OpenAi::new(
                    reply,
                    replies,
                    rate_limit,
                    *retry_after_secs,
                    *chunk_delay_ms,
                ))),
                FakeSpec::Lambda { timeout_ms, .. } => {
                    Fake::Lambda(Arc::new(Lambda::new(lab, *timeout_ms)))
                }
            };
            fakes.by_name.insert(name.clone(), fake);
            fakes.ports.insert(spec.port(), name.clone());
        }
        Arc::new(fakes)
    }

    /// The ports the probe listens on for the fakes.
    pub fn ports(&self) -> Vec<u16> {
        self.ports.keys().copied().collect()
    }

    /// The Lambda fake of this name.
    pub fn lambda(&self, name: &str) -> Option<Arc<Lambda>> {
        match self.by_name.get(name) {
            Some(Fake::Lambda(l)) => Some(l.clone()),
            _ => None,
        }
    }

    /// The fake's transcript as `transcript.json` holds it.
    pub fn transcript(&self, name: &str) -> Option<Vec<u8>> {
        let doc = match self.by_name.get(name)? {
            Fake::OpenAi(f) => f.transcript(),
            Fake::Lambda(f) => f.transcript(),
        };
        serde_json::to_vec_pretty(&doc).ok()
    }

    /// Answers one connection the submission made to a fake's port, as
    /// HTTP/1.1, until either side ends it.
    pub async fn serve<IO>(self: Arc<Self>, port: u16, io: IO)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Some(fake) = self
            .ports
            .get(&port)
            .and_then(|name| self.by_name.get(name))
            .cloned()
        else {
            return;
        };
        let Ok(_slot) = self.slots.acquire().await else {
            return;
        };
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let fake = fake.clone();
            async move {
                Ok::<_, Infallible>(match fake {
                    Fake::OpenAi(f) => f.handle(req).await,
                    Fake::Lambda(f) => f.handle(req).await,
                })
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(hyper_util::rt::TokioIo::new(io), service);
        if let Err(e) = conn.await {
            tracing::debug!("a fake's connection ended: {e}");
        }
    }
}

/// Reads a request's body up to the cap; `None` when it is larger.
async fn read_body(req: Request<Incoming>) -> Option<Bytes> {
    http_body_util::Limited::new(req.into_body(), BODY_CAP)
        .collect()
        .await
        .ok()
        .map(|b| b.to_bytes())
}

/// A whole answer with a JSON body.
fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(value.to_string()))
        .unwrap_or_else(|_| Response::new(full(String::new())))
}

fn full(text: String) -> Body {
    http_body_util::Full::new(Bytes::from(text)).boxed_unsync()
}

/// Text as a transcript keeps it: at most `KEPT_TEXT` characters.
fn kept(text: &str) -> String {
    match text.char_indices().nth(KEPT_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
