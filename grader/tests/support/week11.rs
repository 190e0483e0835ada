//! Week 11's submissions: the fixture service (`fixture-week11`) in a mode,
//! FROM scratch, beside copies of the reference's monitoring/ files and
//! README.md with `[[case.edit]]`s. The service makes its model and drift
//! reference in memory, so no case compiles anything.

use super::repo::copy_tree;
use super::week05::{Edit, apply};

/// The reference, relative to the workspace.
const SOLUTION: &str = "solutions/week11-monitoring";

pub fn submission(mode: &str, edits: &[Edit]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        super::fixture("fixture-week11"),
        dir.path().join("fixture-week11"),
    )
    .expect("copy the fixture");
    let dockerfile = format!(
        "FROM scratch\nCOPY fixture-week11 /app/fixture-week11\nUSER 65532:65532\nEXPOSE 8080\nENTRYPOINT [\"/app/fixture-week11\", \"--mode\", \"{mode}\"]\n"
    );
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
    let solution = super::workspace().join(SOLUTION);
    copy_tree(&solution.join("monitoring"), &dir.path().join("monitoring"));
    std::fs::copy(solution.join("README.md"), dir.path().join("README.md")).expect("README.md");
    apply(dir.path(), edits);
    dir
}
