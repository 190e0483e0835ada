//! `inputs = ["program"]`: the submission's program, copied out of its image,
//! handed to a judge that runs it (as dvc runs a pipeline's stages), in the
//! judge's sandbox; and the one-line reasons when it cannot be copied.

mod support;

use grader::spec::LabSpec;
use support::{Image, engine, grade, submission, verdict_of};

fn lab() -> LabSpec {
    let text = r#"
id = "program"
title = "A judge runs the submission's program"
week = 10

[container]
port = 8080
ready_path = "/health"
ready_timeout_secs = 10
run_timeout_secs = 60

[judges]
dotdrop = "mlops-judge/dotdrop:1.12.9"

[[checks]]
id = "judge.runs-program"
title = "the judge finds the program at bin/ and runs it"
points = 1
kind = "command"
timeout_secs = 30
inputs = ["program"]
steps = [{ image = "judge:dotdrop", args = ["sh", "-c", "ls -l bin | tail -n 1 && bin/fixture-week08 --help"] }]
expect = { stdout = { contains = ["-rwxr-xr-x", "fixture-week08", "--mode"] } }
"#;
    LabSpec::parse(text, "program.rs", Default::default()).expect("the test lab is valid")
}

#[tokio::test]
async fn a_judge_runs_the_program_copied_out_of_the_image() {
    let Some(docker) = engine().await else { return };
    let dir = submission("reference", Image::Good, &[]);
    let report = grade(&docker, lab(), dir.path()).await;
    let ran = verdict_of(&report, "judge.runs-program");
    assert_eq!(ran.earned, 1, "{ran:?}");
}

#[tokio::test]
async fn a_program_named_by_a_relative_path_is_refused_in_one_line() {
    let Some(docker) = engine().await else { return };
    let dir = submission("reference", Image::Good, &[]);
    let dockerfile = dir.path().join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("Dockerfile");
    let text = text.replace(
        "ENTRYPOINT [\"/app/fixture-week08\"",
        "WORKDIR /app\nENTRYPOINT [\"./fixture-week08\"",
    );
    std::fs::write(&dockerfile, text).expect("Dockerfile");
    let report = grade(&docker, lab(), dir.path()).await;
    let ran = verdict_of(&report, "judge.runs-program");
    assert_eq!(ran.earned, 0, "{ran:?}");
    let said = ran.message.as_deref().unwrap_or_default();
    assert!(said.contains("give the absolute path"), "{said}");
    assert!(!said.contains('\n'), "{said}");
}
