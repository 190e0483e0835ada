//! The AWS Lambda Runtime API, as a function's runtime client sees it:
//!
//! - `GET  /2018-06-01/runtime/invocation/next` waits for an event and hands
//!   it over with its request id, deadline, function ARN and trace id;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error`
//!   answer it (202);
//! - `POST /2018-06-01/runtime/init/error` reports that the function could
//!   not start.
//!
//! The grader hands events in with [`Lambda::invoke`] (the `invoke` check);
//! readiness can wait for the function's first `next` ([`Lambda::asked`]).

use super::{Body, KEPT_CALLS, json, kept, read_body};
use crate::spec::Route;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, oneshot, watch};

const PREFIX: &str = "/2018-06-01/runtime/";

/// What the function answered to one event.
#[derive(Debug)]
pub struct Answer {
    pub route: Route,
    pub body: Vec<u8>,
    /// `Lambda-Runtime-Function-Error-Type`, for an error.
    pub error_type: Option<String>,
}

/// How the function has been doing, for readiness.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Calls to `next` so far.
    pub asked: u64,
    /// The first init error it reported, as "TYPE: body".
    pub init_error: Option<String>,
}

pub struct Lambda {
    arn: String,
    timeout_ms: u64,
    state: Mutex<State>,
    queued: Notify,
    progress: watch::Sender<Progress>,
}

struct Event {
    id: String,
    payload: Value,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Event>,
    /// Invocations handed over and not answered yet.
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    /// Index in `invocations` by request id.
    index: HashMap<String, usize>,
    invocations: Vec<Value>,
    init_errors: Vec<Value>,
    /// Calls to routes the API does not have, or answers to unknown ids.
    stray: Vec<Value>,
}

impl Lambda {
    pub fn new(function: &str, timeout_ms: u64) -> Self {
        Lambda {
            arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
            timeout_ms,
            state: Mutex::new(State::default()),
            queued: Notify::new(),
            progress: watch::Sender::new(Progress::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the function's calls to `next` and its init errors.
    pub fn asked(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Hands `payload` to the function and waits up to `limit` for its answer.
    /// The error says whether the function never took the event or took it and
    /// never answered.
    pub async fn invoke(&self, payload: Value, limit: Duration) -> Result<Answer, String> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state();
            state.waiting.insert(id.clone(), tx);
            let record =
                json!({ "request_id": id, "event": payload, "taken": false, "route": null });
            if state.invocations.len() < KEPT_CALLS {
                let i = state.invocations.len();
                state.index.insert(id.clone(), i);
                state.invocations.push(record);
            }
            state.queue.push_back(Event {
                id: id.clone(),
                payload,
            });
        }
        self.queued.notify_one();
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            // The sender is never dropped unanswered while waiting holds it.
            Ok(Err(_)) => Err("the invocation was dropped".into()),
            Err(_) => {
                let mut state = self.state();
                state.waiting.remove(&id);
                let before = state.queue.len();
                state.queue.retain(|e| e.id != id);
                let secs = limit.as_secs_f64();
                Err(if state.queue.len() < before {
                    format!(
                        "the function did not ask for the event within {secs:.0} s (no GET …/invocation/next)"
                    )
                } else {
                    format!(
                        "the function took the event but answered neither …/response nor …/error within {secs:.0} s"
                    )
                })
            }
        }
    }

    /// `{"kind": "lambda", "asked": N, "count": N, "invocations": […],
    /// "init_error_count": N, "init_errors": […], "stray": […]}`; each invocation holds its request
    /// id, event, whether it was taken, the route of its answer and the body.
    pub fn transcript(&self) -> Value {
        let state = self.state();
        json!({
            "kind": "lambda",
            "asked": self.progress.borrow().asked,
            "count": state.invocations.len(),
            "invocations": state.invocations,
            "init_error_count": state.init_errors.len(),
            "init_errors": state.init_errors,
            "stray": state.stray,
        })
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let route = path.strip_prefix(PREFIX).unwrap_or("");
        match (method, route) {
            (Method::GET, "invocation/next") => self.next().await,
            (Method::POST, "init/error") => {
                let error_type = header(&req, "lambda-runtime-function-error-type");
                let body = read_body(req).await.unwrap_or_default();
                let text = kept(&String::from_utf8_lossy(&body));
                self.state()
                    .init_errors
                    .push(json!({ "error_type": error_type, "body": text }));
                self.progress.send_modify(|p| {
                    p.init_error.get_or_insert_with(|| {
                        format!("{}: {text}", error_type.as_deref().unwrap_or("unknown"))
                    });
                });
                accepted()
            }
            (Method::POST, rest) => match rest
                .strip_prefix("invocation/")
                .and_then(|r| r.rsplit_once('/'))
            {
                Some((id, "response")) => self.answer(req, id.to_string(), Route::Response).await,
                Some((id, "error")) => self.answer(req, id.to_string(), Route::Error).await,
                _ => self.stray(&path, StatusCode::NOT_FOUND),
            },
            _ => self.stray(&path, StatusCode::NOT_FOUND),
        }
    }

    /// Waits for the next event and hands it over with the runtime's headers.
    async fn next(&self) -> Response<Body> {
        self.progress.send_modify(|p| p.asked += 1);
        let event = loop {
            let queued = self.queued.notified();
            if let Some(event) = self.state().queue.pop_front() {
                break event;
            }
            queued.await;
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            + self.timeout_ms;
        {
            let mut state = self.state();
            if let Some(&i) = state.index.get(&event.id) {
                state.invocations[i]["taken"] = json!(true);
            }
        }
        let mut answer = json(StatusCode::OK, &event.payload);
        let headers = answer.headers_mut();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", event.id.clone()),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", self.arn.clone()),
            (
                "lambda-runtime-trace-id",
                format!("Root=1-00000000-{}", &event.id.replace('-', "")[..24]),
            ),
        ] {
            if let Ok(v) = value.parse() {
                headers.insert(name, v);
            }
        }
        answer
    }

    /// Takes the function's answer to the invocation `id`.
    async fn answer(&self, req: Request<Incoming>, id: String, route: Route) -> Response<Body> {
        let error_type = header(&req, "lambda-runtime-function-error-type");
        let Some(body) = read_body(req).await else {
            return self.stray(
                &format!("invocation/{id}/{}", route.name()),
                StatusCode::PAYLOAD_TOO_LARGE,
            );
        };
        let mut state = self.state();
        let Some(waiter) = state.waiting.remove(&id) else {
            drop(state);
            return self.stray(
                &format!("invocation/{}/{}", kept_id(&id), route.name()),
                StatusCode::BAD_REQUEST,
            );
        };
        if let Some(&i) = state.index.get(&id) {
            let shown = serde_json::from_slice::<Value>(&body)
                .unwrap_or_else(|_| json!(kept(&String::from_utf8_lossy(&body))));
            let record = &mut state.invocations[i];
            record["route"] = json!(route.name());
            record["body"] = shown;
            record["error_type"] = json!(error_type);
        }
        drop(state);
        let _ = waiter.send(Answer {
            route,
            body: body.to_vec(),
            error_type,
        });
        accepted()
    }

    fn stray(&self, path: &str, status: StatusCode) -> Response<Body> {
        let mut state = self.state();
        if state.stray.len() < KEPT_CALLS {
            state
                .stray
                .push(json!({ "path": kept(path), "status": status.as_u16() }));
        }
        json(
            status,
            &json!({ "errorType": "InvalidRequest", "errorMessage": "no such route or request id" }),
        )
    }
}

fn accepted() -> Response<Body> {
    json(StatusCode::ACCEPTED, &json!({ "status": "OK" }))
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| kept(v).chars().take(200).collect())
}

fn kept_id(id: &str) -> String {
    id.chars().take(80).collect()
}
