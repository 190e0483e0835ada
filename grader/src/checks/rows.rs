//! Checks that send the lab's rows and read the answers: a batch gets one
//! valid value per row; a seeded sample's answers match the rows' labels often
//! enough. What the rows are (wines, in week 8) is the lab's data; they go in
//! an HTTP request's body, or (week 13) as the event of a Lambda invocation.

use super::http::send;
use super::{Env, Outcome, Problem, clip};
use crate::spec::{Route, Rows, ValueRange, Via, first_rows};
use serde_json::Value;
use std::time::Duration;

/// What a check asks of each answer: its array at `pointer`, each value in range.
pub struct Answers<'a> {
    pub via: &'a Via,
    pub pointer: &'a str,
    pub values: &'a ValueRange,
    /// How long one invocation may take.
    pub limit: Duration,
}

impl Answers<'_> {
    /// The array's name in messages: the pointer's last segment.
    fn name(&self) -> &str {
        match self.pointer.rsplit('/').next() {
            Some(last) if !last.is_empty() => last,
            _ => "answers",
        }
    }

    /// Where the rows go, as messages name it: `POST /predict`, or the
    /// function behind a Lambda fake.
    fn target(&self) -> String {
        match self.via {
            Via::Http(request) => format!("{} {}", request.method, request.path),
            Via::Invoke(fake) => format!("the function (Lambda fake \"{fake}\")"),
        }
    }

    /// Sends the given rows and returns the answers, one per row, each in range.
    async fn get(
        &self,
        env: &Env<'_>,
        rows: &Rows,
        which: &[usize],
    ) -> Result<Vec<Value>, Problem> {
        let noun = &rows.spec.noun;
        let body = match self.via {
            Via::Http(request) => {
                let mut req = request.clone();
                (req.rows, req.json, req.raw) = (None, Some(rows.body(which)), None);
                let answer = send(env, &req).await?;
                if answer.status != 200 {
                    return Err(Problem::Fail(format!(
                        "{} with {} {noun}: expected status 200, got {}{}",
                        self.target(),
                        which.len(),
                        answer.status,
                        answer.redirect
                    )));
                }
                answer.json()
            }
            Via::Invoke(fake) => {
                let lambda = env.fakes.and_then(|f| f.lambda(fake)).ok_or_else(|| {
                    Problem::Error(format!("no Lambda fake \"{fake}\" in this grade"))
                })?;
                let answer = lambda
                    .invoke(rows.body(which), self.limit)
                    .await
                    .map_err(Problem::Fail)?;
                if answer.route != Route::Response {
                    return Err(Problem::Fail(format!(
                        "{} answered an event of {} {noun} through …/{}: {}",
                        self.target(),
                        which.len(),
                        answer.route.name(),
                        clip(&String::from_utf8_lossy(&answer.body), 200)
                    )));
                }
                serde_json::from_slice(&answer.body).ok()
            }
        };
        self.parse(body, which.len(), noun)
    }

    fn parse(&self, body: Option<Value>, n: usize, noun: &str) -> Result<Vec<Value>, Problem> {
        let (target, name) = (self.target(), self.name());
        let Some(list) = body
            .as_ref()
            .and_then(|b| b.pointer(self.pointer))
            .and_then(|p| p.as_array())
        else {
            return Err(Problem::Fail(format!(
                "{target}: the body has no \"{name}\" array"
            )));
        };
        if list.len() != n {
            return Err(Problem::Fail(format!(
                "{target} with {n} {noun}: expected {n} {name}, got {}",
                list.len()
            )));
        }
        for (i, v) in list.iter().enumerate() {
            if !self.values.holds(v) {
                return Err(Problem::Fail(format!(
                    "{target}: {name}[{i}] is {v}, not {}",
                    self.values.describe()
                )));
            }
        }
        Ok(list.clone())
    }
}

fn rows<'a>(env: &Env<'a>) -> Result<&'a Rows, Problem> {
    env.rows
        .ok_or_else(|| Problem::Error("the lab declares no [rows]".into()))
}

/// The request's rows get one valid answer each.
pub async fn batch(env: &Env<'_>, answers: &Answers<'_>) -> Outcome {
    let n = match answers.via {
        Via::Http(request) => request.rows.unwrap_or(1),
        Via::Invoke(_) => 1,
    };
    answers
        .get(env, rows(env)?, &first_rows(n))
        .await
        .map(|_| ())
}

/// The accuracy check's parameters beyond the request.
pub struct Sample {
    pub size: usize,
    pub seed: u64,
    pub batch: usize,
    pub min_accuracy: f64,
}

/// A seeded sample's answers equal its labels often enough.
pub async fn accuracy(env: &Env<'_>, answers: &Answers<'_>, sample: &Sample) -> Outcome {
    let rows = rows(env)?;
    let drawn = rows.sample(sample.size, sample.seed);
    let mut got = Vec::with_capacity(drawn.len());
    for chunk in drawn.chunks(sample.batch.max(1)) {
        got.extend(answers.get(env, rows, chunk).await?);
    }
    let right = drawn
        .iter()
        .zip(&got)
        .filter(|(i, v)| same(rows.label(**i), v))
        .count();
    let acc = right as f64 / drawn.len() as f64;
    if acc >= sample.min_accuracy {
        Ok(())
    } else {
        Err(Problem::Fail(format!(
            "{right} of {} {} were right ({acc:.2}), below {:.2}",
            drawn.len(),
            answers.name(),
            sample.min_accuracy
        )))
    }
}

/// A label and an answer agree: equal numbers (5 and 5.0), or equal values.
fn same(label: &Value, answer: &Value) -> bool {
    match (label.as_f64(), answer.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => label == answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_must_be_one_value_in_range_per_row() {
        let via = Via::Http(crate::spec::RequestSpec::get("/predict"));
        let values = ValueRange {
            min: Some(3.0),
            max: Some(8.0),
            integer: true,
        };
        let a = Answers {
            via: &via,
            pointer: "/predictions",
            values: &values,
            limit: Duration::from_secs(1),
        };
        let ok = a.parse(Some(json!({"predictions": [5, 6]})), 2, "rows");
        assert_eq!(ok.ok(), Some(vec![json!(5), json!(6)]));
        let fail = |body: Option<Value>| match a.parse(body, 2, "rows") {
            Err(Problem::Fail(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fail(Some(json!({"predictions": [5]}))),
            "GET /predict with 2 rows: expected 2 predictions, got 1"
        );
        assert_eq!(
            fail(Some(json!({"predictions": [5, 9]}))),
            "GET /predict: predictions[1] is 9, not an integer from 3 to 8"
        );
        assert!(fail(Some(json!({"predictions": [5, 5.5]}))).contains("5.5"));
        assert_eq!(
            fail(Some(json!({"prediction": [5, 5]}))),
            "GET /predict: the body has no \"predictions\" array"
        );
        fail(None);
        assert!(same(&json!(5.0), &json!(5)) && !same(&json!(5.0), &json!(6)));
        assert!(same(&json!("red"), &json!("red")));
    }
}
