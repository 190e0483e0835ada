//! Command-line checks, end to end: a tiny static program (`fixture-cli`)
//! packaged `FROM scratch` is graded by a lab with no service. Each kind of
//! expectation is shown passing and failing with the message a student reads,
//! the files a command writes are judged, no service container is started, and
//! no container or volume is left behind.

mod support;

use grader::result::{Audience, ContainerVerdict, Verdict};
use grader::spec::LabSpec;
use std::collections::BTreeMap;

const LAB: &str = r#"
id = "cli-test"
title = "Command checks"
week = 2

[container]
memory_mb = 64

[[checks]]
id = "greet"
title = "greet says hello on stdout, nothing on stderr"
points = 1
kind = "command"
args = ["greet", "ada"]
expect = { stdout = { contains = ["hello ada"], matches = "^hello \\w+\\n$" }, stderr = { empty = true } }

[[checks]]
id = "greet.contains"
title = "stdout contains: failing"
points = 1
kind = "command"
args = ["greet", "ada"]
expect = { stdout = { contains = ["bonjour"] } }

[[checks]]
id = "greet.matches"
title = "stdout matches: failing"
points = 1
kind = "command"
args = ["greet", "ada"]
expect = { stdout = { matches = "^\\d+$" } }

[[checks]]
id = "greet.stderr-not-empty"
title = "stderr not empty: failing"
points = 1
kind = "command"
args = ["greet", "ada"]
expect = { stderr = { not_empty = true } }

[[checks]]
id = "bad-input"
title = "a bad CSV gets exit code 2 and a message naming the file"
points = 1
kind = "command"
args = ["predict", "--input", "in/bad.csv"]
files = { "in/bad.csv" = "alcohol,ph\n9.4,seven\n" }
expect = { bad_input = true, stderr = { contains = ["in/bad.csv line 2"] } }

[[checks]]
id = "bad-input.panic"
title = "bad input: a panic fails"
points = 1
kind = "command"
args = ["panic"]
expect = { bad_input = true }

[[checks]]
id = "bad-input.code"
title = "bad input: exit code 1 fails"
points = 1
kind = "command"
args = ["exit", "1"]
expect = { bad_input = true }

[[checks]]
id = "stdin"
title = "stdin reaches the program"
points = 1
kind = "command"
args = ["echo-stdin"]
stdin = "7.4,0.7\n"
expect = { stdout = { matches = "^7\\.4,0\\.7\\n$" } }

[[checks]]
id = "read-only-root"
title = "the root is read-only: failing"
points = 1
kind = "command"
args = ["write", "/etc/grader-was-here"]

[[checks]]
id = "deadline"
title = "a command past its deadline: failing"
points = 1
kind = "command"
timeout_secs = 2
args = ["sleep"]

[[checks]]
id = "plan"
title = "the plan matches its snapshot, revision redacted"
points = 1
kind = "command"
args = ["plan"]
expect = { snapshot = "plan", redact = ["/revision"] }

[[checks]]
id = "plan.snapshot"
title = "a snapshot mismatch: failing"
points = 1
kind = "command"
args = ["plan"]
expect = { snapshot = "plan-db", redact = ["/revision"] }

[[checks]]
id = "train"
title = "train writes its metrics"
points = 1
kind = "command"
args = ["train", "--out", "out"]
output_dir = "out"
expect = { stdout = { contains = ["accuracy"] } }

[[checks]]
id = "metrics.floor"
title = "accuracy of at least 0.55"
points = 1
kind = "file"
rule = "json"
from = "train"
path = "metrics.json"
pointer = "/accuracy"
min = 0.55

[[checks]]
id = "metrics.high-floor"
title = "accuracy of at least 0.9: failing"
points = 1
kind = "file"
rule = "json"
from = "train"
path = "metrics.json"
pointer = "/accuracy"
min = 0.9

[[checks]]
id = "metrics.missing"
title = "a file never written: failing"
points = 1
kind = "file"
rule = "json"
from = "train"
path = "scores.json"
pointer = "/f1"
min = 0.5

[[checks]]
id = "train.deterministic"
title = "two runs write identical files"
points = 1
kind = "file"
rule = "deterministic"
from = "train"
paths = ["metrics.json", "model.bin"]

[[checks]]
id = "train-unseeded"
title = "an unseeded run"
points = 1
kind = "command"
args = ["train", "--out", "out", "--unseeded"]
output_dir = "out"

[[checks]]
id = "train-unseeded.deterministic"
title = "two unseeded runs: failing"
points = 1
kind = "file"
rule = "deterministic"
from = "train-unseeded"
paths = ["metrics.json", "model.bin"]

[[checks]]
id = "design"
title = "DESIGN.md has its sections"
points = 1
kind = "file"
rule = "markdown-sections"
path = "DESIGN.md"
sections = ["Problem", "Risks"]
min_words = 1

[[checks]]
id = "design.thin"
title = "DESIGN.md sections of 3 words at least: failing"
points = 1
kind = "file"
rule = "markdown-sections"
path = "DESIGN.md"
sections = ["Problem", "Risks", "Metric"]
min_words = 3
"#;

const PLAN: &str = "---\nsource: grader/tests/commands.rs\n---\n{\n  \"create\": [\n    \"web\"\n  ],\n  \"delete\": [],\n  \"revision\": \"[redacted]\"\n}\n";

fn lab() -> LabSpec {
    let snapshots = BTreeMap::from([
        ("plan".to_string(), PLAN.to_string()),
        ("plan-db".to_string(), PLAN.replace("web", "db")),
    ]);
    LabSpec::parse(LAB, "commands.rs", snapshots).expect("the test lab is valid")
}

fn submission() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        support::fixture("fixture-cli"),
        dir.path().join("fixture-cli"),
    )
    .expect("copy fixture");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY fixture-cli /app/fixture-cli\nUSER 65532:65532\nENTRYPOINT [\"/app/fixture-cli\"]\n",
    )
    .expect("Dockerfile");
    std::fs::write(
        dir.path().join("DESIGN.md"),
        "# Design\n\n## Problem\n\nPredict a wine's quality.\n\n## Risks\n\nDrift.\n",
    )
    .expect("DESIGN.md");
    dir
}

#[tokio::test]
async fn each_command_expectation_passes_or_fails_with_its_message() {
    let Some(docker) = support::engine().await else {
        return;
    };
    let dir = submission();
    let report = support::grade_with(
        &docker,
        lab(),
        dir.path(),
        Audience::Instructor,
        BTreeMap::new(),
    )
    .await;
    let volumes = grader::docker::sweep::own_volumes(&docker)
        .await
        .expect("list volumes");
    assert_eq!(volumes, 0, "the grade left {volumes} volume(s) behind");

    // No service: nothing was started but the commands, and nothing waited.
    assert_eq!(report.container.verdict, ContainerVerdict::Ran);
    assert_eq!(report.timings.start_ms, 0);
    assert_eq!(report.timings.ready_ms, 0);

    let message = |id: &str| {
        let c = support::verdict_of(&report, id);
        assert_eq!(c.verdict, Verdict::Failed, "{id} must fail: {c:?}");
        let m = c.message.clone().unwrap_or_default();
        // The message is short, except a snapshot's diff.
        if !id.contains("snapshot") {
            assert!(m.lines().count() <= 2, "{id}: {m}");
        }
        m
    };
    for id in [
        "greet",
        "bad-input",
        "stdin",
        "plan",
        "train",
        "metrics.floor",
        "train.deterministic",
        "train-unseeded",
        "design",
    ] {
        let c = support::verdict_of(&report, id);
        assert_eq!(c.verdict, Verdict::Passed, "{id}: {:?}", c.message);
    }

    let m = message("greet.contains");
    assert_eq!(
        m,
        "`fixture-cli greet ada`: expected stdout to contain \"bonjour\"; stdout was: «hello ada»"
    );
    let m = message("greet.matches");
    assert!(
        m.contains(r"expected stdout to match /^\d+$/; stdout was: «hello ada»"),
        "{m}"
    );
    let m = message("greet.stderr-not-empty");
    assert!(
        m.ends_with("expected stderr to hold a message; stderr was empty"),
        "{m}"
    );
    let m = message("bad-input.panic");
    assert!(
        m.starts_with("`fixture-cli panic`: panicked instead of failing cleanly: «thread 'main'"),
        "{m}"
    );
    assert!(
        m.contains("panicked at") && m.contains("src/main.rs"),
        "{m}"
    );
    let m = message("bad-input.code");
    assert_eq!(
        m,
        "`fixture-cli exit 1`: expected exit code 2, got 1; stderr was: «leaving with 1»"
    );
    let m = message("read-only-root");
    assert!(m.contains("expected exit code 0, got 1"), "{m}");
    assert!(m.contains("Read-only file system"), "{m}");
    let m = message("deadline");
    assert_eq!(
        m,
        "`fixture-cli sleep`: did not finish within 2 s and was stopped"
    );
    let m = message("plan.snapshot");
    assert!(
        m.starts_with("`fixture-cli plan`: the output differs from the expected snapshot"),
        "{m}"
    );
    assert!(
        m.contains("-    \"db\"") && m.contains("+    \"web\""),
        "{m}"
    );
    let m = message("metrics.high-floor");
    assert_eq!(m, "metrics.json: /accuracy is 0.61, expected at least 0.9");
    let m = message("metrics.missing");
    assert_eq!(
        m,
        "`fixture-cli train --out out` did not write out/scores.json (it wrote: metrics.json, model.bin)"
    );
    let m = message("train-unseeded.deterministic");
    assert!(
        m.starts_with("model.bin differs between two runs of the same command"),
        "{m}"
    );
    let m = message("design.thin");
    assert!(
        m.starts_with("DESIGN.md lacks the section \"## Metric\""),
        "{m}"
    );
    assert_eq!(report.score.max, 21);
    assert_eq!(report.score.earned, 9);
}
