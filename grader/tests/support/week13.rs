//! Week 13's submissions: the fixture tool (`fixture-week13`, week 13's
//! library behind its own command line) in a mode, FROM scratch with a model
//! and its SHA-256 pin where the lab's contract puts them, beside the
//! reference's README.md with `[[case.edit]]`s. The model is trained here by
//! the fixture itself (the reference's `train`, a second or so); no case
//! compiles anything.

use super::week05::{Edit, apply};
use std::process::Command;

/// The reference, relative to the workspace.
const SOLUTION: &str = "solutions/week13-serverless-llmops";

pub fn submission(mode: &str, edits: &[Edit]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let tool = super::fixture("fixture-week13");
    std::fs::copy(&tool, dir.path().join("fixture-week13")).expect("copy the fixture");
    let readme = super::workspace().join(SOLUTION).join("README.md");
    std::fs::copy(&readme, dir.path().join("README.md")).expect("copy README.md");
    let model = dir.path().join("model.json");
    let trained = Command::new(&tool)
        .args(["--mode", "reference", "train", "--out"])
        .arg(&model)
        .output()
        .expect("run fixture-week13 train");
    assert!(
        trained.status.success(),
        "fixture-week13 train: {}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let bytes = std::fs::read(&model).expect("read model.json");
    let pin = format!("{}\n", grader_sha256(&bytes));
    std::fs::write(dir.path().join("model.sha256"), pin).expect("model.sha256");
    let dockerfile = format!(
        "FROM scratch\n\
         COPY fixture-week13 /app/wine-serverless\n\
         COPY model.json model.sha256 /app/\n\
         ENV MODEL_PATH=/app/model.json MODEL_PIN_PATH=/app/model.sha256\n\
         USER 65532:65532\n\
         WORKDIR /app\n\
         ENTRYPOINT [\"/app/wine-serverless\", \"--mode\", \"{mode}\"]\n\
         CMD [\"lambda\"]\n"
    );
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
    apply(dir.path(), edits);
    dir
}

/// SHA-256 in lowercase hex, as `sha256sum` prints it.
fn grader_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
