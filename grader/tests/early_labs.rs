//! Weeks 1 and 2 end to end on a static fixture (`fixture-early-labs`) that
//! plays each lab's program: the reference mode scores full marks, and each
//! broken mode (or broken DESIGN.md) loses exactly the rubric item it breaks.
//! The real reference solutions are graded in `labs.rs`.

mod support;

use grader::result::{ContainerVerdict, Verdict};
use grader::spec::LabSpec;
use support::{engine, grade, lost};

fn lab(id: &str) -> LabSpec {
    grader::spec::embedded_lab(id)
        .expect("embedded")
        .expect("valid")
}

const DESIGN: &str = "# Design\n\n\
## Problem\n\nPredict the quality a panel of tasters would give a red wine from eleven laboratory measurements, so that ordinary lots can be priced without a tasting and tasters see only the unusual ones.\n\n\
## Data\n\nThe 1,599 red wines of linfa-datasets, eleven physico-chemical measurements each and the median score of three tasters; qualities 5 and 6 dominate, 3 and 8 are rare; a seeded 80/20 split.\n\n\
## Metric\n\nExact accuracy on the held-out fifth, against the majority class which scores about 0.43; mean absolute error beside it, since predicting 6 for a 5 costs less than predicting 8.\n\n\
## Serving constraints\n\nOne prediction within 50 ms at the 99th percentile and batches of a thousand, in a container of 256 MB with one CPU and no network; the model file is trained offline and reproducible.\n\n\
## Risks\n\nScores are subjective and come from one region, so the model may silently misprice other wines; rare qualities are almost never predicted; bad inputs and a replaced model file would change every answer.\n";

/// A submission: the fixture in `lab:mode`, FROM scratch, with a stand-in
/// model at /app/model.json and `design` as DESIGN.md.
fn submission(lab_mode: &str, design: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = "fixture-early-labs";
    std::fs::copy(support::fixture(bin), dir.path().join(bin)).expect("copy fixture");
    std::fs::write(dir.path().join("model.json"), "{}\n").expect("model");
    std::fs::write(dir.path().join("DESIGN.md"), design).expect("DESIGN.md");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY {bin} /app/{bin}\nCOPY model.json /app/model.json\n\
             USER 65532:65532\nENTRYPOINT [\"/app/{bin}\", \"--mode\", \"{lab_mode}\"]\n"
        ),
    )
    .expect("Dockerfile");
    dir
}

/// Grades `lab_mode` against `lab_id` and checks it lost exactly `items`;
/// returns the failure messages of those items.
async fn loses_exactly(lab_id: &str, lab_mode: &str, design: &str, items: &[&str]) -> Vec<String> {
    let Some(docker) = engine().await else {
        return Vec::new();
    };
    let dir = submission(lab_mode, design);
    let report = grade(&docker, lab(lab_id), dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    assert_eq!(lost(&report), items, "{report:#?}");
    let expected: u32 = report.score.max
        - report
            .checks
            .iter()
            .filter(|c| items.contains(&c.id.as_str()))
            .map(|c| c.points)
            .sum::<u32>();
    assert_eq!(report.score.earned, expected);
    report
        .checks
        .iter()
        .filter(|c| items.contains(&c.id.as_str()))
        .map(|c| {
            assert_eq!(c.verdict, Verdict::Failed, "{c:?}");
            c.message.clone().unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn week01_reference_scores_full_marks() {
    loses_exactly("week01", "week01:reference", DESIGN, &[]).await;
}

#[tokio::test]
async fn week01_exit_code_1_loses_run() {
    let m = loses_exactly("week01", "week01:exit-1", DESIGN, &["run"]).await;
    if let Some(m) = m.first() {
        assert!(m.contains("expected exit code 0, got 1"), "{m}");
    }
}

#[tokio::test]
async fn week01_majority_only_loses_the_accuracy_floor() {
    let m = loses_exactly(
        "week01",
        "week01:majority-only",
        DESIGN,
        &["metrics.accuracy"],
    )
    .await;
    if let Some(m) = m.first() {
        assert_eq!(m, "metrics.json: /accuracy is 0.425, expected at least 0.5");
    }
}

#[tokio::test]
async fn week01_no_baseline_loses_the_baseline() {
    let m = loses_exactly(
        "week01",
        "week01:no-baseline",
        DESIGN,
        &["metrics.baseline"],
    )
    .await;
    if let Some(m) = m.first() {
        assert_eq!(m, "metrics.json has nothing at /baseline_accuracy");
    }
}

#[tokio::test]
async fn week01_timestamp_loses_determinism() {
    let m = loses_exactly(
        "week01",
        "week01:timestamp",
        DESIGN,
        &["outputs.deterministic"],
    )
    .await;
    if let Some(m) = m.first() {
        assert!(
            m.starts_with("metrics.json differs between two runs"),
            "{m}"
        );
    }
}

#[tokio::test]
async fn week01_thin_design_loses_the_design() {
    let thin = DESIGN.replace(
        "Scores are subjective and come from one region, so the model may silently misprice other wines; rare qualities are almost never predicted; bad inputs and a replaced model file would change every answer.",
        "TODO: risks.",
    );
    let m = loses_exactly("week01", "week01:reference", &thin, &["design.sections"]).await;
    if let Some(m) = m.first() {
        assert!(m.contains("too short: \"Risks\" (2 words)"), "{m}");
    }
}

#[tokio::test]
async fn week01_panic_on_a_bad_flag_loses_the_flag_check() {
    let m = loses_exactly("week01", "week01:panic-on-flag", DESIGN, &["cli.bad-flag"]).await;
    if let Some(m) = m.first() {
        assert!(m.contains("panicked instead of failing cleanly"), "{m}");
    }
}

#[tokio::test]
async fn week02_reference_scores_full_marks() {
    loses_exactly("week02", "week02:reference", "", &[]).await;
}

macro_rules! week02_broken {
    ($($name:ident: $mode:expr => $item:expr, $says:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let m = loses_exactly("week02", concat!("week02:", $mode), "", &[$item]).await;
            if let Some(m) = m.first() {
                assert!(m.contains($says), "{m}");
            }
        }
    )*};
}

week02_broken! {
    week02_train_extra_key: "train-extra-key" => "train", "+  \"seconds\": 0.2";
    week02_low_accuracy: "low-accuracy" => "train.metrics", "/accuracy is 0.4, expected at least 0.5";
    week02_no_logs: "no-logs" => "train.logs", "expected stderr to contain \"seed\"";
    week02_predict_extra_key: "predict-extra-key" => "predict", "the output differs from the expected snapshot";
    week02_always_log: "always-log" => "train.quiet", "expected stderr not to contain \"seed\"";
    week02_constant_predict: "constant-predict" => "predict.agrees", "7 of 30 predictions are right (0.23), expected at least 0.60 (every prediction is 5)";
    week02_hardcoded_metrics: "hardcoded-metrics" => "evaluate.recomputed", "accuracy is 1, but the program's own predictions for the same rows (from `predict.agrees`) give 0.6667";
    week02_accept_nan: "accept-nan" => "bad.nan", "expected exit code 2, got 0";
    week02_accept_inf: "accept-inf" => "bad.inf", "expected exit code 2, got 0";
    week02_evaluate_no_rows: "evaluate-no-rows" => "evaluate", "-  \"rows\": 4";
    week02_csv_panic: "csv-panic" => "bad.csv", "panicked instead of failing cleanly";
    week02_missing_exit_1: "missing-exit-1" => "bad.missing-file", "expected exit code 2, got 1";
    week02_lenient_config: "lenient-config" => "bad.config", "expected exit code 2, got 0";
    week02_no_deny_unknown: "no-deny-unknown" => "bad.config", "expected exit code 2, got 0";
    week02_flag_usage: "flag-usage" => "bad.flag", "expected exit code 2, got 0";
}

/// Plain text where the contract says JSON: the snapshot differs, and the
/// predictions cannot be scored nor the metrics recomputed from them.
#[tokio::test]
async fn week02_predict_text_loses_everything_that_reads_predictions() {
    let items = ["predict", "predict.agrees", "evaluate.recomputed"];
    let m = loses_exactly("week02", "week02:predict-text", "", &items).await;
    if let [snapshot, agrees, recomputed] = &m[..] {
        assert!(
            snapshot.contains("differs from the expected snapshot"),
            "{snapshot}"
        );
        assert!(agrees.contains("expected JSON on stdout"), "{agrees}");
        assert!(
            recomputed.contains("its predictions could not be read"),
            "{recomputed}"
        );
    }
}

#[test]
fn every_rubric_item_has_a_broken_submission() {
    // Kept in step with the tests above: a new check without a broken example
    // fails here.
    let ids = |id: &str| -> Vec<String> { lab(id).checks.iter().map(|c| c.id.clone()).collect() };
    assert_eq!(
        ids("week01"),
        [
            "run",
            "metrics.accuracy",
            "metrics.baseline",
            "outputs.deterministic",
            "design.sections",
            "cli.bad-flag"
        ]
    );
    assert_eq!(
        ids("week02"),
        [
            "train",
            "train.metrics",
            "train.logs",
            "train.quiet",
            "predict",
            "predict.agrees",
            "evaluate",
            "evaluate.recomputed",
            "bad.csv",
            "bad.nan",
            "bad.inf",
            "bad.missing-file",
            "bad.config",
            "bad.flag"
        ]
    );
}
