//! Metrics checks: the service's Prometheus exposition, read before and after
//! traffic the grader sends, must account for that traffic.
//!
//! A counter that matches what was sent cannot be faked by printing fixed
//! numbers: the grader reads it twice and judges the difference. The
//! exposition is parsed by prometheus-parse, as a scraper would read it; its
//! validity is judged separately, by the real `promtool check metrics`.

use super::http::send;
use super::{Env, Outcome, Problem};
use crate::spec::{MetricsSpec, RequestSpec, SampleExpect, Traffic};
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::Value as Json;

pub async fn check(env: &Env<'_>, spec: &MetricsSpec) -> Outcome {
    let before = scrape(env, &spec.path).await?;
    for traffic in &spec.traffic {
        send_traffic(env, traffic).await?;
    }
    let after = scrape(env, &spec.path).await?;
    for expect in &spec.expect {
        judge(expect, &before, &after, &spec.path)?;
    }
    Ok(())
}

/// The exposition's samples, as a scraper reads them.
async fn scrape(env: &Env<'_>, path: &str) -> Result<Vec<Sample>, Problem> {
    let answer = send(env, &RequestSpec::get(path)).await?;
    if answer.status != 200 {
        return Err(Problem::Fail(format!(
            "GET {path} answered {}{}, not 200",
            answer.status, answer.redirect
        )));
    }
    let text = String::from_utf8(answer.body)
        .map_err(|_| Problem::Fail(format!("GET {path} is not UTF-8 text")))?;
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    Scrape::parse(lines)
        .map(|scrape| scrape.samples)
        .map_err(|e| {
            Problem::Fail(format!(
                "GET {path} is not Prometheus text exposition: {}",
                super::clip(&e.to_string(), 200)
            ))
        })
}

/// Sends one item of traffic; the answers' statuses are not judged here.
async fn send_traffic(env: &Env<'_>, traffic: &Traffic) -> Result<(), Problem> {
    let Some(n) = traffic.sample else {
        for _ in 0..traffic.times {
            send(env, &traffic.request).await?;
        }
        return Ok(());
    };
    let rows = env
        .rows
        .ok_or_else(|| Problem::Error("the lab declares no [rows]".into()))?;
    let drawn = rows.sample(n, traffic.seed);
    for chunk in drawn.chunks(traffic.batch) {
        let mut body = rows.body(chunk);
        shift(&mut body, &rows.spec.list, traffic);
        let mut request = traffic.request.clone();
        request.json = Some(body);
        for _ in 0..traffic.times {
            send(env, &request).await?;
        }
    }
    Ok(())
}

/// Adds the traffic's shifts to the numeric fields of every row in `body`.
fn shift(body: &mut Json, list: &str, traffic: &Traffic) {
    let Some(rows) = body.get_mut(list).and_then(Json::as_array_mut) else {
        return;
    };
    for row in rows {
        for (field, by) in &traffic.shift {
            if let Some(x) = row.get(field).and_then(Json::as_f64) {
                row[field.as_str()] = serde_json::json!(x + by);
            }
        }
    }
}

/// The sum of the samples `expect` selects, `None` when there is none.
fn sum(samples: &[Sample], expect: &SampleExpect) -> Option<f64> {
    let values: Vec<f64> = samples
        .iter()
        .filter(|s| s.metric == expect.sample)
        .filter(|s| {
            expect
                .labels
                .iter()
                .all(|(k, v)| s.labels.get(k) == Some(v.as_str()))
        })
        .filter_map(|s| match s.value {
            Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => Some(x),
            Value::Histogram(_) | Value::Summary(_) => None,
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

fn judge(expect: &SampleExpect, before: &[Sample], after: &[Sample], path: &str) -> Outcome {
    let selector = expect.selector();
    let Some(now) = sum(after, expect) else {
        let names: Vec<&str> = {
            let mut names: Vec<&str> = after.iter().map(|s| s.metric.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            names
        };
        let known = if names.iter().any(|n| *n == expect.sample) {
            " (the name is there, with other labels)".to_string()
        } else {
            format!(
                " (it exposes {})",
                super::clip(&names.join(", "), 200).replace('\n', " ")
            )
        };
        return Err(Problem::Fail(format!(
            "GET {path} has no sample {selector} after the traffic{known}"
        )));
    };
    if let Some(want) = expect.increase {
        let was = sum(before, expect).unwrap_or(0.0);
        let got = now - was;
        if (got - want).abs() > 1e-9 {
            return Err(Problem::Fail(format!(
                "{selector} went up by {got} while the grader's traffic called for {want}"
            )));
        }
    }
    // NaN is neither above nor below anything.
    if let Some(low) = expect.above
        && (now.is_nan() || now <= low)
    {
        return Err(Problem::Fail(format!(
            "{selector} is {now} after the traffic, not above {low}"
        )));
    }
    if let Some(high) = expect.below
        && (now.is_nan() || now >= high)
    {
        return Err(Problem::Fail(format!(
            "{selector} is {now} after the traffic, not below {high}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const BEFORE: &str = "# TYPE wine_http_requests counter\n\
wine_http_requests_total{route=\"/predict\",method=\"POST\",status=\"200\"} 2\n\
# TYPE wine_input_drift_psi_max gauge\n\
wine_input_drift_psi_max 0.01\n";

    const AFTER: &str = "# TYPE wine_http_requests counter\n\
wine_http_requests_total{route=\"/predict\",method=\"POST\",status=\"200\"} 6\n\
wine_http_requests_total{route=\"/predict\",method=\"POST\",status=\"422\"} 2\n\
# TYPE wine_predictions counter\n\
wine_predictions_total{quality=\"5\"} 7\n\
wine_predictions_total{quality=\"6\"} 5\n\
# TYPE wine_input_drift_psi_max gauge\n\
wine_input_drift_psi_max 0.4\n";

    fn samples(text: &str) -> Vec<Sample> {
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .expect("parses")
            .samples
    }

    fn expect(sample: &str, labels: &[(&str, &str)]) -> SampleExpect {
        SampleExpect {
            sample: sample.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            increase: None,
            above: None,
            below: None,
        }
    }

    fn fails(o: Outcome) -> String {
        match o {
            Err(Problem::Fail(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_counter_is_judged_by_its_increase() {
        let (b, a) = (samples(BEFORE), samples(AFTER));
        let mut e = expect("wine_http_requests_total", &[("status", "200")]);
        e.increase = Some(4.0);
        assert!(judge(&e, &b, &a, "/metrics").is_ok());
        e.increase = Some(5.0);
        assert!(fails(judge(&e, &b, &a, "/metrics")).contains("went up by 4"));
        // Absent before: counted from 0.
        let mut e = expect("wine_http_requests_total", &[("status", "422")]);
        e.increase = Some(2.0);
        assert!(judge(&e, &b, &a, "/metrics").is_ok());
    }

    #[test]
    fn samples_without_the_labels_are_summed() {
        let (b, a) = (samples(BEFORE), samples(AFTER));
        let mut e = expect("wine_predictions_total", &[]);
        e.increase = Some(12.0);
        assert!(judge(&e, &b, &a, "/metrics").is_ok());
    }

    #[test]
    fn a_gauge_is_judged_by_its_value() {
        let a = samples(AFTER);
        let mut e = expect("wine_input_drift_psi_max", &[]);
        e.above = Some(0.25);
        assert!(judge(&e, &[], &a, "/metrics").is_ok());
        e.above = None;
        e.below = Some(0.1);
        assert!(
            fails(judge(&e, &[], &a, "/metrics"))
                .contains("is 0.4 after the traffic, not below 0.1")
        );
    }

    #[test]
    fn a_missing_sample_names_what_is_there() {
        let a = samples(AFTER);
        let mut e = expect("wine_requests_total", &[]);
        e.increase = Some(1.0);
        let m = fails(judge(&e, &[], &a, "/metrics"));
        assert!(m.contains("no sample wine_requests_total"), "{m}");
        assert!(m.contains("wine_http_requests_total"), "{m}");
        let mut e = expect("wine_http_requests_total", &[("route", "/health")]);
        e.increase = Some(1.0);
        assert!(fails(judge(&e, &[], &a, "/metrics")).contains("with other labels"));
    }

    #[test]
    fn shifted_rows_move_only_the_named_fields() {
        let mut body = serde_json::json!({"inputs": [{"alcohol": 9.5, "ph": 3.2}, {"alcohol": 10.0, "ph": 3.4}]});
        let traffic = Traffic {
            request: RequestSpec::get("/predict"),
            times: 1,
            sample: Some(2),
            seed: 0,
            batch: 100,
            shift: BTreeMap::from([("alcohol".to_string(), 3.0)]),
        };
        shift(&mut body, "inputs", &traffic);
        assert_eq!(body["inputs"][0]["alcohol"], 12.5);
        assert_eq!(body["inputs"][1]["alcohol"], 13.0);
        assert_eq!(body["inputs"][1]["ph"], 3.4);
    }
}
