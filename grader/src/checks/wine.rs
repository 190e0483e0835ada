//! Checks that send real wines from the data set and read the predictions.

use super::http::send;
use super::{Env, Outcome, Problem};
use crate::spec::RequestSpec;
use crate::wine;

/// Sends the given rows and returns the predictions, each checked to be a quality.
async fn predict(env: &Env<'_>, rows: &[usize]) -> Result<Vec<u64>, Problem> {
    let req = RequestSpec::post_json("/predict", wine::body_for(rows));
    let answer = send(env, &req).await?;
    if answer.status != 200 {
        return Err(Problem::Fail(format!(
            "POST /predict with {} wines: expected status 200, got {}{}",
            rows.len(),
            answer.status,
            answer.redirect
        )));
    }
    parse_predictions(answer.json(), rows.len())
}

fn parse_predictions(body: Option<serde_json::Value>, n: usize) -> Result<Vec<u64>, Problem> {
    let Some(list) = body
        .as_ref()
        .and_then(|b| b.get("predictions"))
        .and_then(|p| p.as_array())
    else {
        return Err(Problem::Fail(
            "POST /predict: the body has no \"predictions\" array".into(),
        ));
    };
    if list.len() != n {
        return Err(Problem::Fail(format!(
            "POST /predict with {n} wines: expected {n} predictions, got {}",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| match v.as_u64() {
            Some(q) if (3..=8).contains(&q) => Ok(q),
            _ => Err(Problem::Fail(format!(
                "POST /predict: prediction {i} is {v}, not a quality from 3 to 8"
            ))),
        })
        .collect()
}

pub async fn batch(env: &Env<'_>, size: usize) -> Outcome {
    predict(env, &wine::first(size)).await.map(|_| ())
}

/// Wines per request in the accuracy check: small batches, so that a service
/// whose batch handling is broken loses the batch check, not this one too.
const ACCURACY_BATCH: usize = 10;

pub async fn accuracy(env: &Env<'_>, rows: usize, seed: u64, min: f64) -> Outcome {
    let sample = wine::sample(rows, seed);
    let mut predictions = Vec::with_capacity(sample.len());
    for chunk in sample.chunks(ACCURACY_BATCH) {
        predictions.extend(predict(env, chunk).await?);
    }
    let truth = &wine::wines().quality;
    let right = sample
        .iter()
        .zip(&predictions)
        .filter(|(i, p)| truth[**i] as u64 == **p)
        .count();
    let acc = right as f64 / sample.len() as f64;
    if acc >= min {
        Ok(())
    } else {
        Err(Problem::Fail(format!(
            "{right} of {} predictions were right ({acc:.2}), below {min:.2}",
            sample.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn predictions_must_be_one_quality_per_wine() {
        assert_eq!(
            parse_predictions(Some(json!({"predictions": [5, 6]})), 2).ok(),
            Some(vec![5, 6])
        );
        assert!(parse_predictions(Some(json!({"predictions": [5]})), 2).is_err());
        assert!(parse_predictions(Some(json!({"predictions": [5, 9]})), 2).is_err());
        assert!(parse_predictions(Some(json!({"predictions": [5, 5.5]})), 2).is_err());
        assert!(parse_predictions(Some(json!({"prediction": [5, 5]})), 2).is_err());
        assert!(parse_predictions(None, 2).is_err());
    }
}
