//! Predictions scored against true labels, and reported metrics held to the
//! values recomputed from the program's own predictions. Together they catch
//! the two wrong solutions a snapshot with redacted numbers lets through: a
//! model that answers the same for every input, and scores printed without
//! being computed.

use crate::spec::{MetricsExpect, PredictionsExpect};
use serde_json::Value;

/// How close a prediction must be to its label to count as right.
const TOLERANCE: f64 = 1e-6;

/// How far a reported metric may be from the recomputed one: printing it
/// rounded to three decimals is fine, a different number is not.
const METRIC_TOLERANCE: f64 = 0.005;

/// The predictions at the expectation's pointer in a JSON stdout, one number
/// per label.
pub fn predictions(expect: &PredictionsExpect, stdout: &[u8]) -> Result<Vec<f64>, String> {
    let json: Value = serde_json::from_slice(stdout)
        .map_err(|_| "expected JSON on stdout, with the predictions".to_string())?;
    let name = expect.pointer.rsplit('/').next().unwrap_or_default();
    let list = json
        .pointer(&expect.pointer)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("stdout has no \"{name}\" array at {}", expect.pointer))?;
    if list.len() != expect.labels.len() {
        return Err(format!(
            "expected {} {name} (one per input row), got {}",
            expect.labels.len(),
            list.len()
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{name}[{i}] is not a number"))
        })
        .collect()
}

/// The share of predictions equal to their label.
pub fn accuracy(predicted: &[f64], labels: &[f64]) -> f64 {
    let right = predicted
        .iter()
        .zip(labels)
        .filter(|(p, l)| (*p - *l).abs() < TOLERANCE)
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// The mean absolute difference between predictions and labels.
pub fn mae(predicted: &[f64], labels: &[f64]) -> f64 {
    let total: f64 = predicted
        .iter()
        .zip(labels)
        .map(|(p, l)| (p - l).abs())
        .sum();
    total / labels.len().max(1) as f64
}

/// Passes when enough predictions equal their label.
pub fn enough_right(expect: &PredictionsExpect, predicted: &[f64]) -> Result<(), String> {
    let got = accuracy(predicted, &expect.labels);
    if got + TOLERANCE >= expect.min_accuracy {
        return Ok(());
    }
    let distinct = {
        let mut v: Vec<u64> = predicted.iter().map(|p| p.to_bits()).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let same = if distinct == 1 {
        format!(" (every prediction is {})", predicted[0])
    } else {
        String::new()
    };
    Err(format!(
        "{} of {} predictions are right ({got:.2}), expected at least {:.2}{same}",
        (got * expect.labels.len() as f64).round(),
        expect.labels.len(),
        expect.min_accuracy
    ))
}

/// Passes when the metrics in a JSON stdout equal those of `predicted`
/// against `labels`.
pub fn metrics_agree(
    expect: &MetricsExpect,
    stdout: &[u8],
    predicted: &[f64],
    labels: &[f64],
) -> Result<(), String> {
    let json: Value = serde_json::from_slice(stdout)
        .map_err(|_| "expected JSON on stdout, with the metrics".to_string())?;
    let wanted = [
        ("accuracy", &expect.accuracy, accuracy(predicted, labels)),
        ("mae", &expect.mae, mae(predicted, labels)),
    ];
    for (name, pointer, recomputed) in wanted {
        let Some(pointer) = pointer else { continue };
        let reported = json
            .pointer(pointer)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("stdout has no number at {pointer}"))?;
        if (reported - recomputed).abs() > METRIC_TOLERANCE + TOLERANCE {
            return Err(format!(
                "{name} is {reported}, but the program's own predictions for the same rows (from `{}`) give {recomputed:.4}",
                expect.predictions_from
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(labels: &[f64], min_accuracy: f64) -> PredictionsExpect {
        PredictionsExpect {
            pointer: "/predictions".into(),
            labels: labels.to_vec(),
            min_accuracy,
        }
    }

    #[test]
    fn predictions_are_read_one_per_label() {
        let e = expect(&[5.0, 6.0], 0.5);
        assert_eq!(
            predictions(&e, br#"{"predictions":[5,6.0]}"#),
            Ok(vec![5.0, 6.0])
        );
        assert_eq!(
            predictions(&e, br#"{"predictions":[5]}"#),
            Err("expected 2 predictions (one per input row), got 1".into())
        );
        assert_eq!(
            predictions(&e, br#"{"predictions":[5,"6"]}"#),
            Err("predictions[1] is not a number".into())
        );
        assert_eq!(
            predictions(&e, b"5\n6\n"),
            Err("expected JSON on stdout, with the predictions".into())
        );
    }

    #[test]
    fn a_constant_answer_is_named() {
        let e = expect(&[5.0, 6.0, 7.0, 5.0], 0.75);
        assert_eq!(enough_right(&e, &[5.0, 6.0, 7.0, 6.0]), Ok(()));
        assert_eq!(
            enough_right(&e, &[5.0; 4]),
            Err("2 of 4 predictions are right (0.50), expected at least 0.75 (every prediction is 5)".into())
        );
    }

    #[test]
    fn reported_metrics_must_be_the_recomputed_ones() {
        let m = MetricsExpect {
            predictions_from: "predict.agrees".into(),
            accuracy: Some("/accuracy".into()),
            mae: Some("/mae".into()),
        };
        let (predicted, labels) = ([5.0, 6.0, 6.0, 8.0], [5.0, 6.0, 7.0, 5.0]);
        let honest = br#"{"accuracy":0.5,"mae":1.0,"rows":4}"#;
        assert_eq!(metrics_agree(&m, honest, &predicted, &labels), Ok(()));
        let rounded = br#"{"accuracy":0.667,"mae":0.333}"#;
        let thirds = ([5.0, 6.0, 7.0], [5.0, 6.0, 6.0]);
        assert_eq!(metrics_agree(&m, rounded, &thirds.0, &thirds.1), Ok(()));
        let made_up = br#"{"accuracy":1.0,"mae":0.0,"rows":4}"#;
        assert_eq!(
            metrics_agree(&m, made_up, &predicted, &labels),
            Err("accuracy is 1, but the program's own predictions for the same rows (from `predict.agrees`) give 0.5000".into())
        );
        let no_mae = br#"{"accuracy":0.5}"#;
        assert_eq!(
            metrics_agree(&m, no_mae, &predicted, &labels),
            Err("stdout has no number at /mae".into())
        );
    }
}
